//! The README's metrics reference and the code agree, name for name.
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `rgw_multisite_*` names quoted as string literals in Rust sources under `dir`.
fn names_in_code(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            names_in_code(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, _) in text.match_indices("\"rgw_multisite_") {
                let rest = &text[i + 1..];
                let end = rest.find('"').unwrap_or(0);
                let name = &rest[..end];
                if name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    out.insert(name.to_string());
                }
            }
        }
    }
}

fn names_in_readme() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- metrics-reference:start -->")
        .expect("start marker");
    let end = readme
        .find("<!-- metrics-reference:end -->")
        .expect("end marker");
    readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_metric_in_the_code_is_documented_and_vice_versa() {
    let mut code = BTreeSet::new();
    for dir in ["rgw-multisite/src", "agent-exporter/src", "exporter/src"] {
        names_in_code(&repo().join(dir), &mut code);
    }
    // Test-only names in the library's unit tests are not metrics.
    code.retain(|n| !n.is_empty());
    let readme = names_in_readme();
    let undocumented: Vec<_> = code.difference(&readme).collect();
    let stale: Vec<_> = readme.difference(&code).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "metrics in the code but not in README.md: {undocumented:?}\n\
         metrics in README.md but not in the code: {stale:?}"
    );
    assert!(readme.len() > 30, "the reference lost its rows: {readme:?}");
}
