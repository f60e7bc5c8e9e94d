//! Shared by `odd_names.rs` and `labels_lab.rs`: a strict parser of the Prometheus text format
//! (0.0.4) and `promtool check metrics` with lint findings told apart from format errors.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

// --- a strict parser of the classic text format (0.0.4) ---------------------------------

/// One sample: metric name, label pairs in order, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Parses an exposition; any deviation from the format is an error naming the line.
/// Checks: HELP/TYPE before a family's samples and at most once, samples of one family
/// contiguous, label values quoted with only `\\`, `\"` and `\n` escapes, no duplicate
/// label names or series, values that parse, a final newline.
pub fn parse_strict(text: &str) -> Result<Vec<Sample>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    let mut out: Vec<Sample> = Vec::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut seen: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let err = |m: &str| format!("line {}: {m}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(err("empty line"));
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let (kw, rest) = rest.split_once(' ').ok_or_else(|| err("bare comment"))?;
            let (name, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            if !is_metric_name(name) {
                return Err(err("bad metric name"));
            }
            if finished.contains(name) || current.as_deref() == Some(name) {
                return Err(err("metadata after the family's samples"));
            }
            match kw {
                "HELP" => {
                    if !helped.insert(name.to_string()) {
                        return Err(err("second HELP"));
                    }
                }
                "TYPE" => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg) {
                        return Err(err("bad TYPE"));
                    }
                    if typed.insert(name.to_string(), arg.to_string()).is_some() {
                        return Err(err("second TYPE"));
                    }
                }
                _ => return Err(err("unknown comment keyword")),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| err("no value"))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(err("bad metric name"));
        }
        if current.as_deref() != Some(name) {
            if let Some(c) = current.take() {
                finished.insert(c);
            }
            if finished.contains(name) {
                return Err(err("family's samples are not contiguous"));
            }
            current = Some(name.to_string());
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let consumed: usize;
            loop {
                // label name
                let start = chars
                    .peek()
                    .map(|(i, _)| *i)
                    .ok_or_else(|| err("unterminated labels"))?;
                if r[start..].starts_with('}') {
                    consumed = start + 1;
                    break;
                }
                let eq = r[start..]
                    .find('=')
                    .ok_or_else(|| err("label without '='"))?
                    + start;
                let lname = &r[start..eq];
                if !is_label_name(lname) {
                    return Err(err(&format!("bad label name {lname:?}")));
                }
                if labels.iter().any(|(k, _): &(String, String)| k == lname) {
                    return Err(err("duplicate label name"));
                }
                while chars.peek().is_some_and(|(i, _)| *i <= eq) {
                    chars.next();
                }
                if chars.next().map(|(_, c)| c) != Some('"') {
                    return Err(err("label value not quoted"));
                }
                let mut v = String::new();
                loop {
                    match chars.next().map(|(_, c)| c) {
                        None => return Err(err("unterminated label value")),
                        Some('"') => break,
                        Some('\\') => match chars.next().map(|(_, c)| c) {
                            Some('\\') => v.push('\\'),
                            Some('"') => v.push('"'),
                            Some('n') => v.push('\n'),
                            other => return Err(err(&format!("bad escape \\{other:?}"))),
                        },
                        Some(c) => v.push(c),
                    }
                }
                labels.push((lname.to_string(), v));
                match chars.next().map(|(_, c)| c) {
                    Some(',') => {}
                    Some('}') => {
                        consumed = chars.peek().map(|(i, _)| *i).unwrap_or(r.len());
                        break;
                    }
                    _ => return Err(err("expected ',' or '}' after a label value")),
                }
            }
            rest = &r[consumed..];
        }
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("no space before the value"))?;
        let mut parts = rest.split(' ');
        let value = match parts.next().unwrap_or("") {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse::<f64>().map_err(|_| err("bad value"))?,
        };
        if let Some(ts) = parts.next() {
            ts.parse::<i64>().map_err(|_| err("bad timestamp"))?;
        }
        if parts.next().is_some() {
            return Err(err("trailing fields"));
        }
        if !seen.insert((name.to_string(), labels.clone())) {
            return Err(err("duplicate series"));
        }
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(out)
}

// --- promtool ------------------------------------------------------------------------------

/// Lint findings DESIGN.md's fixed names cause (`promtool check metrics` 2.42 has no
/// `--lint=none`): anything else, and every format error, fails.
pub const ALLOWED_LINT: &[&str] = &[
    "rgw_multisite_bucket_shard_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "rgw_multisite_data_sync_shard_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    "rgw_multisite_metadata_sync_shard_count non-histogram and non-summary metrics should not have \"_count\" suffix",
];

/// `promtool check metrics`: exit 0 (clean), 3 (lint findings only) or 1 (a format error,
/// "error while linting: text format parsing error ..."). Returns the lint lines.
pub fn promtool_check(exposition: &str) -> Result<Vec<String>, String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool not found: apt-get install --no-install-recommends prometheus \
             (Debian's package ships promtool)",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<String> = stderr.lines().map(str::to_string).collect();
    match out.status.code() {
        Some(0) => Ok(lines),
        Some(3) if lines.iter().all(|l| !l.contains("error while linting")) => Ok(lines),
        c => Err(format!("promtool check metrics exit {c:?}:\n{stderr}")),
    }
}

/// promtool accepts the exposition as a format, with only the allowed lint findings.
pub fn assert_promtool_ok(what: &str, exposition: &str) {
    let lint = promtool_check(exposition).unwrap_or_else(|e| panic!("{what}: {e}"));
    let unexpected: Vec<&String> = lint
        .iter()
        .filter(|l| !ALLOWED_LINT.contains(&l.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{what}: promtool lint findings besides the contract's *_shard_count names: {unexpected:#?}"
    );
}

pub fn label<'a>(s: &'a Sample, k: &str) -> Option<&'a str> {
    s.labels
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

pub fn values_of(samples: &[Sample], family: &str, k: &str) -> BTreeSet<String> {
    samples
        .iter()
        .filter(|s| s.name == family)
        .filter_map(|s| label(s, k).map(str::to_string))
        .collect()
}

pub fn all_values_of(samples: &[Sample], k: &str) -> BTreeSet<String> {
    samples
        .iter()
        .filter_map(|s| label(s, k).map(str::to_string))
        .collect()
}
