//! Tests over every real capture in `tests/fixtures/radosgw-admin/<release>-<scenario>/`.
//!
//! Directories are discovered at run time, so a new capture (another release or fault) is
//! covered without editing this file. Layout (written by `lab/capture`): `<slug>.stdout`,
//! `<slug>.stderr`, `<slug>.rc` and `commands.tsv` with `<slug>\t<argv key>` lines; the key
//! picks the parser.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

pub(super) fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/radosgw-admin")
}

pub(super) struct Capture {
    pub dir: String,
    pub slug: String,
    pub key: String,
    pub rc: Option<i32>,
    pub stdout: String,
}

/// Every capture of every `<release>-<scenario>` directory (not `hand/`).
pub(super) fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(fixture_root()) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("commands.tsv").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tsv = fs::read_to_string(dir.join("commands.tsv")).unwrap_or_default();
        for line in tsv.lines() {
            let Some((slug, key)) = line.split_once('\t') else {
                continue;
            };
            let read = |ext: &str| fs::read(dir.join(format!("{slug}.{ext}"))).ok();
            let Some(stdout) = read("stdout") else {
                continue;
            };
            out.push(Capture {
                dir: name.clone(),
                slug: slug.to_string(),
                key: key.to_string(),
                rc: read("rc").and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok()),
                // The runner decodes lossily too; invalid UTF-8 must not abort the sweep.
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
            });
        }
    }
    out
}

/// Runs the parser for a command key; `None` for commands no parser covers. `Ok` holds the
/// lines the parser skipped (always empty for the JSON parsers).
pub(super) fn parse_for(key: &str, stdout: &str) -> Option<Result<Vec<String>, ParseError>> {
    let words: Vec<&str> = key
        .split_whitespace()
        .take_while(|w| !w.starts_with("--"))
        .collect();
    let has = |opt: &str| key.split_whitespace().any(|w| w.starts_with(opt));
    let none = |r: Result<(), ParseError>| r.map(|()| Vec::new());
    Some(match words.as_slice() {
        ["sync", "status"] => parse_sync_status(stdout).map(|s| s.skipped),
        ["bucket", "sync", "status"] => parse_bucket_sync_status(stdout).map(|s| s.skipped),
        ["sync", "error", "list"] => none(parse_sync_error_list(stdout).map(|_| ())),
        ["data", "sync", "status"] if has("--shard-id") => {
            none(parse_data_sync_shard(stdout).map(|_| ()))
        }
        ["data", "sync", "status"] => none(parse_data_sync_status(stdout).map(|_| ())),
        ["bucket", "stats"] => none(parse_bucket_stats(stdout).map(|_| ())),
        ["period", "get"] => none(parse_period(stdout).map(|_| ())),
        ["zonegroup", "get"] => none(parse_zonegroup(stdout).map(|_| ())),
        ["sync", "info"] => none(parse_sync_info(stdout).map(|_| ())),
        ["bucket", "sync", "info"] => {
            let _ = parse_bucket_sync_info_disabled(stdout);
            Ok(Vec::new())
        }
        _ => return None,
    })
}

#[test]
fn every_capture_parses_without_skipped_lines() {
    let mut problems = Vec::new();
    let all = captures();
    // A renamed file or a new key spelling must not turn this test into a no-op.
    let covered = all
        .iter()
        .filter(|c| parse_for(&c.key, "").is_some())
        .count();
    assert!(
        all.is_empty() || covered > 0,
        "captures found but none has a parser"
    );
    for c in all {
        let Some(result) = parse_for(&c.key, &c.stdout) else {
            continue;
        };
        // Failing commands print nothing (or a partial text) on stdout; only a successful
        // command's non-empty output has to parse, and completely.
        if c.rc != Some(0) || c.stdout.trim().is_empty() {
            continue;
        }
        match result {
            Ok(skipped) if skipped.is_empty() => {}
            Ok(skipped) => problems.push(format!("{}/{}: skipped {skipped:?}", c.dir, c.slug)),
            Err(e) => problems.push(format!("{}/{}: {e}", c.dir, c.slug)),
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn truncated_captures_never_panic() {
    for c in captures() {
        for cut in truncations(&c.stdout) {
            let _ = parse_for(&c.key, cut);
        }
    }
}
