//! Property-based fuzzing of every `radosgw-admin` output parser (issue 8, "Hardening").
//!
//! Seeds are every real capture under `tests/fixtures/radosgw-admin/<release>-<scenario>/`
//! (the parser is picked from `commands.tsv`, as the replay stub does) plus the hand fixtures
//! in `hand/`. Each case mutates one seed (truncation, byte flips/insertions/deletions, lines
//! duplicated/dropped/swapped, interleaved Ceph log lines, huge and negative numbers,
//! overlong lines, deep JSON nesting, non-UTF-8 bytes decoded lossily as the runner does)
//! and checks:
//!
//! - no parser panics, on its own seeds' mutants and on every other parser's;
//! - interleaved log lines change nothing but the log-line count;
//! - a truncated output never parses to something the full output did not say: JSON is an
//!   error (or, cut in trailing whitespace, the same value); text blocks are `Unknown`
//!   where the full block had a verdict, never a different verdict;
//! - skipped lines are lines of the input, verbatim.
//!
//! Bounded for CI: 256 cases per parser and property by default (the whole file runs in
//! seconds in a debug `cargo test`). For a long run, raise `PROPTEST_CASES`:
//!
//! ```text
//! PROPTEST_CASES=100000 nice -n 19 cargo test --release -p rgw-multisite --test fuzz -- --nocapture
//! ```
//!
//! A failure prints the minimal input; fix the parser and add that input as a regression
//! test next to the parser. Parse time on 1-4 MB inputs is measured (and printed with
//! `--nocapture`) by `large_inputs`, never asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use rgw_multisite::parse::{
    self, BucketSourceState, BucketSyncStatus, Health, ParseError, SyncStatus,
};

/// Default cases per parser and property; `PROPTEST_CASES` overrides it.
const DEFAULT_CASES: u32 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Parser {
    SyncStatus,
    BucketSyncStatus,
    BucketSyncInfo,
    SyncErrorList,
    DataSyncShard,
    DataSyncStatus,
    BucketStats,
    BucketList,
    Period,
    Zonegroup,
    SyncInfo,
}

const ALL: [Parser; 11] = [
    Parser::SyncStatus,
    Parser::BucketSyncStatus,
    Parser::BucketSyncInfo,
    Parser::SyncErrorList,
    Parser::DataSyncShard,
    Parser::DataSyncStatus,
    Parser::BucketStats,
    Parser::BucketList,
    Parser::Period,
    Parser::Zonegroup,
    Parser::SyncInfo,
];

impl Parser {
    /// The parser the exporters run for a `commands.tsv` key; `None` for unparsed commands.
    fn for_key(key: &str) -> Option<Parser> {
        let words: Vec<&str> = key
            .split_whitespace()
            .take_while(|w| !w.starts_with("--"))
            .collect();
        let shard = key.split_whitespace().any(|w| w.starts_with("--shard-id"));
        Some(match words.as_slice() {
            ["sync", "status"] => Parser::SyncStatus,
            ["bucket", "sync", "status"] => Parser::BucketSyncStatus,
            ["bucket", "sync", "info"] => Parser::BucketSyncInfo,
            ["sync", "error", "list"] => Parser::SyncErrorList,
            ["data", "sync", "status"] if shard => Parser::DataSyncShard,
            ["data", "sync", "status"] => Parser::DataSyncStatus,
            ["bucket", "stats"] => Parser::BucketStats,
            ["bucket", "list"] => Parser::BucketList,
            ["period", "get"] => Parser::Period,
            ["zonegroup", "get"] => Parser::Zonegroup,
            ["sync", "info"] => Parser::SyncInfo,
            _ => return None,
        })
    }

    fn for_hand_dir(dir: &str) -> Option<Parser> {
        Some(match dir {
            "sync-status" => Parser::SyncStatus,
            "bucket-sync-status" => Parser::BucketSyncStatus,
            "bucket-sync-info" => Parser::BucketSyncInfo,
            "sync-error-list" => Parser::SyncErrorList,
            "data-sync-status" => Parser::DataSyncStatus,
            "bucket-stats" => Parser::BucketStats,
            "period" => Parser::Period,
            _ => return None,
        })
    }

    fn is_json(self) -> bool {
        !matches!(
            self,
            Parser::SyncStatus | Parser::BucketSyncStatus | Parser::BucketSyncInfo
        )
    }
}

/// What a parser made of an input, comparable across inputs: the value's `Debug` with the
/// log-line count taken out (it is compared separately), or the error variant.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok {
        value: String,
        log_lines: Option<usize>,
    },
    Err(&'static str),
}

fn err_kind(e: &ParseError) -> &'static str {
    match e {
        ParseError::Empty => "Empty",
        ParseError::Json(_) => "Json",
        ParseError::Malformed(_) => "Malformed",
    }
}

fn outcome<T: std::fmt::Debug>(r: Result<T, ParseError>) -> Outcome {
    match r {
        Ok(v) => Outcome::Ok {
            value: format!("{v:?}"),
            log_lines: None,
        },
        Err(e) => Outcome::Err(err_kind(&e)),
    }
}

fn run(p: Parser, s: &str) -> Outcome {
    match p {
        Parser::SyncStatus => match parse::parse_sync_status(s) {
            Ok(mut v) => {
                let logs = std::mem::take(&mut v.log_lines);
                Outcome::Ok {
                    value: format!("{v:?}"),
                    log_lines: Some(logs),
                }
            }
            Err(e) => Outcome::Err(err_kind(&e)),
        },
        Parser::BucketSyncStatus => match parse::parse_bucket_sync_status(s) {
            Ok(mut v) => {
                let logs = std::mem::take(&mut v.log_lines);
                Outcome::Ok {
                    value: format!("{v:?}"),
                    log_lines: Some(logs),
                }
            }
            Err(e) => Outcome::Err(err_kind(&e)),
        },
        Parser::BucketSyncInfo => Outcome::Ok {
            value: parse::parse_bucket_sync_info_disabled(s).to_string(),
            log_lines: None,
        },
        Parser::SyncErrorList => outcome(parse::parse_sync_error_list(s)),
        Parser::DataSyncShard => outcome(parse::parse_data_sync_shard(s)),
        Parser::DataSyncStatus => outcome(parse::parse_data_sync_status(s)),
        Parser::BucketStats => outcome(parse::parse_bucket_stats(s)),
        Parser::BucketList => outcome(parse::parse_bucket_list(s)),
        Parser::Period => outcome(parse::parse_period(s)),
        Parser::Zonegroup => outcome(parse::parse_zonegroup(s)),
        Parser::SyncInfo => outcome(parse::parse_sync_info(s)),
    }
}

/// The helpers the parsers and collectors call on fragments of output.
fn run_helpers(s: &str) {
    let _ = parse::parse_ceph_time(s);
    let _ = parse::parse_shard_set(s);
    let _ = parse::is_log_line(s);
    let _ = parse::NamedId::parse(s);
    let _ = parse::BucketRef::parse(s);
    let _ = parse::BucketShardRef::parse(s).key();
    let _ = parse::bucket_of_error_name(s);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
        let _ = parse::json_bool(&v);
    }
}

struct Seed {
    parser: Parser,
    name: String,
    text: String,
}

/// A failure names the fixture; the mutated input itself is in the failure message.
impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} seed {}", self.parser, self.name)
    }
}

/// Runs `f`, turning a panic into a test failure that quotes the input.
fn no_panic(what: &str, input: &str, f: impl FnOnce()) -> Result<(), TestCaseError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let shown: String = input.chars().take(2000).collect();
            Err(TestCaseError::fail(format!(
                "{what} panicked: {msg}\ninput ({} bytes): {shown:?}",
                input.len()
            )))
        }
    }
}

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/radosgw-admin")
}

fn read_lossy(p: &Path) -> Option<String> {
    fs::read(p)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Every distinct (parser, stdout) pair of the captures and the hand fixtures.
fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut push = |parser: Parser, name: String, text: String| {
            if seen.insert((parser, text.clone())) {
                out.push(Seed { parser, name, text });
            }
        };
        let mut dirs: Vec<PathBuf> = fs::read_dir(fixture_root())
            .expect("fixture root")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let dname = dir.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(tsv) = read_lossy(&dir.join("commands.tsv")) {
                for line in tsv.lines() {
                    let Some((slug, key)) = line.split_once('\t') else {
                        continue;
                    };
                    let (Some(p), Some(text)) = (
                        Parser::for_key(key),
                        read_lossy(&dir.join(format!("{slug}.stdout"))),
                    ) else {
                        continue;
                    };
                    push(p, format!("{dname}/{slug}"), text);
                }
            } else if dname == "hand" {
                let mut subs: Vec<PathBuf> = fs::read_dir(&dir)
                    .unwrap()
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect();
                subs.sort();
                for sub in subs {
                    let sname = sub.file_name().unwrap().to_string_lossy().into_owned();
                    let Some(p) = Parser::for_hand_dir(&sname) else {
                        continue;
                    };
                    let mut files: Vec<PathBuf> = fs::read_dir(&sub)
                        .unwrap()
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .collect();
                    files.sort();
                    for f in files {
                        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
                        if let Some(text) = read_lossy(&f) {
                            push(p, format!("hand/{sname}/{fname}"), text);
                        }
                    }
                }
            }
        }
        out
    })
}

fn seeds_for(p: Parser) -> Vec<&'static Seed> {
    seeds().iter().filter(|s| s.parser == p).collect()
}

fn config() -> Config {
    let mut c = Config {
        // Regressions are kept as named tests next to the parsers, not in a seed file.
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = DEFAULT_CASES;
    }
    c
}

/// Runs one property over the seeds of `p`; panics with the minimal failing input.
fn check<S, F>(p: Parser, what: &str, strategy: S, test: F)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: Fn(S::Value) -> Result<(), TestCaseError>,
{
    let cfg = config();
    let cases = cfg.cases;
    let mut runner = TestRunner::new(cfg);
    let start = Instant::now();
    match runner.run(&strategy, test) {
        Ok(()) => eprintln!(
            "fuzz {p:?} {what}: {cases} cases in {:.2?}, no finding",
            start.elapsed()
        ),
        Err(TestError::Fail(why, value)) => {
            panic!("fuzz {p:?} {what}: {why}\nminimal input: {value:#?}")
        }
        Err(TestError::Abort(why)) => panic!("fuzz {p:?} {what}: aborted: {why}"),
    }
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

/// Ceph log lines as they reach stdout when stderr is merged, some worded to look like the
/// parsed lines (they must still be skipped, not read).
const LOG_LINES: &[&str] = &[
    "2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 ERROR: failed to fetch mdlog info",
    "2024-04-18T13:12:53.953+0000 7fbd8c6ba880  0 WARNING: detected a version of libcurl which contains a bug in curl_multi_wait()",
    "2026-11-21T22:38:33.555+0000 7f0000000001 -1 data is caught up with source",
    "2026-11-21T22:38:33.555+0000 7f0000000001 20 full sync: 0/128 shards",
    "2026-11-21T22:38:33.555+0000 7f0000000001  1 { \"id\": \"x\", \"epoch\": 9 }",
    "2026-11-21T22:38:33.555+0000 7f0000000001  0 ]",
    "2026-11-21T22:38:33.555+0000 7f0000000001  0 source zone 0cf9c633-477d-4604-b6e6-afa354b4fd19 (us-east)",
    "2026-11-21T22:38:33.555+0000 7f0000000001  0 Sync is disabled for bucket b",
];

/// Replacement numbers: huge, negative, fractional, exponent, zero-padded, not-a-number.
const NUMBERS: &[&str] = &[
    "-1",
    "-0",
    "0",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "99999999999999999999999999999999999999999",
    "1e308",
    "1e999",
    "-1e999",
    "0.5",
    "00000000000000000000000001",
    "NaN",
    "\"12\"",
    "\"-12\"",
    "null",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Cut at a byte offset (per mille of the length).
    TruncateAt(u16),
    /// Cut just after the nth line.
    TruncateLines(usize),
    FlipByte(usize, u8),
    InsertBytes(usize, Vec<u8>),
    DeleteRange(usize, usize),
    DuplicateLine(usize),
    DropLine(usize),
    SwapLines(usize, usize),
    InterleaveLog(usize, usize),
    /// Replace the nth digit run with a `NUMBERS` entry.
    ReplaceNumber(usize, usize),
    /// Insert a line of `len` copies of a byte.
    OverlongLine(usize, u8, usize),
    /// Insert `depth` unclosed or balanced brackets.
    DeepNest(usize, usize, bool),
    WhitespaceOnly(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<usize>();
    prop_oneof![
        (0u16..1000).prop_map(Mutation::TruncateAt),
        idx.prop_map(Mutation::TruncateLines),
        (idx, 1u8..=255).prop_map(|(i, x)| Mutation::FlipByte(i, x)),
        (idx, prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        (
            idx,
            prop::collection::vec(
                prop::sample::select(&b"{}[]\",:\n\r\t 0-9.eE\\\xff\xc3\x80"[..]),
                1..6
            )
        )
            .prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        (idx, 1usize..64).prop_map(|(i, n)| Mutation::DeleteRange(i, n)),
        idx.prop_map(Mutation::DuplicateLine),
        idx.prop_map(Mutation::DropLine),
        (idx, idx).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (idx, 0..LOG_LINES.len()).prop_map(|(i, l)| Mutation::InterleaveLog(i, l)),
        (idx, 0..NUMBERS.len()).prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
        (
            idx,
            prop::sample::select(&b"a9[{ ,\"\xff"[..]),
            prop_oneof![1usize..300, 10_000usize..70_000]
        )
            .prop_map(|(i, b, n)| Mutation::OverlongLine(i, b, n)),
        (idx, 1usize..3000, any::<bool>()).prop_map(|(i, d, c)| Mutation::DeepNest(i, d, c)),
        (0usize..100).prop_map(Mutation::WhitespaceOnly),
    ]
}

fn line_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

fn insert_line(b: &mut Vec<u8>, at_line: usize, line: &[u8]) {
    let spans = line_spans(b);
    let pos = if spans.is_empty() {
        0
    } else {
        spans[at_line % (spans.len() + 1)..]
            .first()
            .map_or(b.len(), |s| s.0)
    };
    let mut ins = line.to_vec();
    ins.push(b'\n');
    if pos == b.len() && !b.is_empty() && !b.ends_with(b"\n") {
        ins.insert(0, b'\n');
    }
    b.splice(pos..pos, ins);
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    let len = b.len();
    let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::TruncateAt(pm) => b.truncate(len * usize::from(*pm) / 1000),
        Mutation::TruncateLines(n) => {
            let spans = line_spans(b);
            if !spans.is_empty() {
                b.truncate(spans[n % spans.len()].1);
            }
        }
        Mutation::FlipByte(i, x) => {
            if len > 0 {
                b[i % len] ^= x;
            }
        }
        Mutation::InsertBytes(i, bytes) => {
            let p = at(*i);
            b.splice(p..p, bytes.iter().copied());
        }
        Mutation::DeleteRange(i, n) => {
            let p = at(*i);
            let e = (p + n).min(len);
            b.drain(p..e);
        }
        Mutation::DuplicateLine(i) => {
            let spans = line_spans(b);
            if let Some(&(s, e)) = spans.get(i % spans.len().max(1)) {
                let line = b[s..e].to_vec();
                b.splice(e..e, line);
            }
        }
        Mutation::DropLine(i) => {
            let spans = line_spans(b);
            if let Some(&(s, e)) = spans.get(i % spans.len().max(1)) {
                b.drain(s..e);
            }
        }
        Mutation::SwapLines(i, j) => {
            let spans = line_spans(b);
            if spans.len() >= 2 {
                let mut lines: Vec<Vec<u8>> =
                    spans.iter().map(|&(s, e)| b[s..e].to_vec()).collect();
                let n = lines.len();
                lines.swap(i % n, j % n);
                *b = lines.concat();
            }
        }
        Mutation::InterleaveLog(i, l) => insert_line(b, *i, LOG_LINES[*l].as_bytes()),
        Mutation::ReplaceNumber(i, n) => {
            let mut runs = Vec::new();
            let mut k = 0;
            while k < len {
                if b[k].is_ascii_digit() {
                    let s = k;
                    while k < len && b[k].is_ascii_digit() {
                        k += 1;
                    }
                    runs.push((s, k));
                } else {
                    k += 1;
                }
            }
            if let Some(&(s, e)) = runs.get(i % runs.len().max(1)) {
                b.splice(s..e, NUMBERS[*n].bytes());
            }
        }
        Mutation::OverlongLine(i, c, n) => insert_line(b, *i, &vec![*c; *n]),
        Mutation::DeepNest(i, depth, closed) => {
            let p = at(*i);
            let mut ins = Vec::with_capacity(depth * 6);
            for d in 0..*depth {
                ins.extend_from_slice(if d % 2 == 0 { b"[" } else { b"{\"a\":" });
            }
            if *closed {
                for d in (0..*depth).rev() {
                    ins.push(if d % 2 == 0 { b']' } else { b'}' });
                }
            }
            b.splice(p..p, ins);
        }
        Mutation::WhitespaceOnly(n) => {
            *b = b" \n\t\r".iter().copied().cycle().take(*n).collect();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// Mutants of this parser's seeds: no parser panics on them (the seed's own parser, every
/// other parser, the helpers), and skipped lines are input lines.
fn prop_no_panic(p: Parser) {
    let own = seeds_for(p);
    assert!(!own.is_empty(), "no seed for {p:?}");
    let all = seeds();
    // Mostly this parser's seeds, sometimes any seed (a wrong command's output).
    let pick = prop_oneof![
        4 => (0..own.len()).prop_map(move |i| own[i]),
        1 => (0..all.len()).prop_map(move |i| &all[i]),
    ];
    let strategy = (pick, prop::collection::vec(mutation(), 1..5));
    check(p, "mutants never panic", strategy, |(seed, muts)| {
        let mut b = seed.text.as_bytes().to_vec();
        for m in &muts {
            apply(&mut b, m);
        }
        let input = String::from_utf8_lossy(&b);
        let lines: BTreeSet<&str> = input.lines().map(str::trim).collect();
        no_panic(&format!("{p:?}"), &input, || {
            let _ = run(p, &input);
        })?;
        match p {
            Parser::SyncStatus => {
                if let Ok(st) = parse::parse_sync_status(&input) {
                    for s in &st.skipped {
                        prop_assert!(lines.contains(s.as_str()), "invented skipped line {s:?}");
                    }
                }
            }
            Parser::BucketSyncStatus if !input.trim_start().starts_with('{') => {
                if let Ok(st) = parse::parse_bucket_sync_status(&input) {
                    for s in &st.skipped {
                        prop_assert!(lines.contains(s.as_str()), "invented skipped line {s:?}");
                    }
                }
            }
            _ => {}
        }
        // Every other parser and helper on the same bytes: none may panic either.
        for q in ALL {
            if q != p {
                no_panic(&format!("{q:?}"), &input, || {
                    let _ = run(q, &input);
                })?;
            }
        }
        for l in input.lines().take(50) {
            no_panic("helpers", l, || run_helpers(l))?;
            if let Some((_, rest)) = l.split_once(": ") {
                no_panic("helpers", rest, || run_helpers(rest))?;
            }
        }
        Ok(())
    });
}

/// Log lines inserted between any lines change nothing but the log-line count.
fn prop_log_lines_ignored(p: Parser) {
    let own = seeds_for(p);
    let strategy = (
        (0..own.len()).prop_map(move |i| own[i]),
        prop::collection::vec((any::<usize>(), 0..LOG_LINES.len()), 1..6),
    );
    check(p, "interleaved log lines", strategy, |(seed, logs)| {
        let clean = run(p, &seed.text);
        let mut b = seed.text.as_bytes().to_vec();
        for (at, l) in &logs {
            insert_line(&mut b, *at, LOG_LINES[*l].as_bytes());
        }
        let noisy = run(p, &String::from_utf8_lossy(&b));
        match (&clean, &noisy) {
            (
                Outcome::Ok {
                    value: a,
                    log_lines: la,
                },
                Outcome::Ok {
                    value: b,
                    log_lines: lb,
                },
            ) => {
                prop_assert_eq!(a, b, "log lines changed the parse of {}", seed.name);
                if let (Some(la), Some(lb)) = (la, lb) {
                    prop_assert_eq!(la + logs.len(), *lb, "log lines miscounted");
                }
            }
            // Only log lines around an empty output: `Malformed` instead of `Empty` is fine.
            (Outcome::Err(_), Outcome::Err(_)) => {}
            _ => prop_assert!(
                false,
                "log lines turned {clean:?} into {noisy:?} for {}",
                seed.name
            ),
        }
        Ok(())
    });
}

fn health_ok(full: Health, cut: Health) -> bool {
    cut == full || matches!(cut, Health::Unknown(_))
}

fn check_text_prefix(p: Parser, full: &str, cut: &str) -> Result<(), TestCaseError> {
    match p {
        Parser::SyncStatus => {
            let (Ok(f), Ok(c)) = (
                parse::parse_sync_status(full),
                parse::parse_sync_status(cut),
            ) else {
                return Ok(());
            };
            check_sync_status_prefix(&f, &c)
        }
        Parser::BucketSyncStatus => {
            let f = parse::parse_bucket_sync_status(full);
            let c = parse::parse_bucket_sync_status(cut);
            match (f, c) {
                (Ok(f), Ok(c)) => check_bucket_prefix(&f, &c),
                _ => Ok(()),
            }
        }
        Parser::BucketSyncInfo => {
            // A cut output may lose the "disabled" line, never gain it.
            if parse::parse_bucket_sync_info_disabled(cut) {
                prop_assert!(parse::parse_bucket_sync_info_disabled(full));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_sync_status_prefix(f: &SyncStatus, c: &SyncStatus) -> Result<(), TestCaseError> {
    prop_assert!(c.sources.len() <= f.sources.len());
    for (cs, fs) in c.sources.iter().zip(&f.sources) {
        prop_assert!(fs.id.starts_with(&cs.id), "source id {:?} invented", cs.id);
        prop_assert!(
            health_ok(fs.health(), cs.health()),
            "cut source {} is {:?}, full is {:?}",
            cs.id,
            cs.health(),
            fs.health()
        );
    }
    if let Some(cm) = &c.metadata {
        let fm = f.metadata.as_ref();
        prop_assert!(fm.is_some(), "metadata block invented");
        if let Some(fm) = fm {
            prop_assert!(
                health_ok(fm.health(), cm.health()),
                "cut metadata is {:?}, full is {:?}",
                cm.health(),
                fm.health()
            );
        }
    }
    Ok(())
}

fn check_bucket_prefix(f: &BucketSyncStatus, c: &BucketSyncStatus) -> Result<(), TestCaseError> {
    prop_assert!(c.sources.len() <= f.sources.len());
    prop_assert!(
        !c.sync_disabled || f.sync_disabled,
        "sync disabled invented"
    );
    for (cs, fs) in c.sources.iter().zip(&f.sources) {
        prop_assert!(fs.zone_id.starts_with(&cs.zone_id));
        let (fc, cc) = (fs.caught_up(), cs.caught_up());
        prop_assert!(
            cc.is_none() || cc == fc,
            "cut source {} says caught_up={cc:?} ({:?}), full says {fc:?} ({:?})",
            cs.zone_id,
            cs.state,
            fs.state
        );
        if cs.state != BucketSourceState::Unknown && fs.state != BucketSourceState::Unknown {
            prop_assert_eq!(cs.state, fs.state, "state of a cut block differs");
        }
    }
    Ok(())
}

/// Outputs cut at any byte (and at every line end): never a success the full output did
/// not support.
fn prop_truncation(p: Parser) {
    let own = seeds_for(p);
    let strategy = (
        (0..own.len()).prop_map(move |i| own[i]),
        any::<usize>(),
        any::<bool>(),
    );
    check(p, "truncation", strategy, |(seed, at, on_line)| {
        let text = seed.text.as_str();
        let cut_at = if on_line {
            let ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
            if ends.is_empty() {
                return Ok(());
            }
            ends[at % ends.len()]
        } else {
            at % (text.len() + 1)
        };
        // Cut bytes, then decode lossily (a cut inside a multi-byte char is a U+FFFD).
        let cut = String::from_utf8_lossy(&text.as_bytes()[..cut_at]);
        let full = run(p, text);
        let part = run(p, &cut);
        let json_doc =
            p.is_json() || (p == Parser::BucketSyncStatus && text.trim_start().starts_with('{'));
        if json_doc {
            if let Outcome::Ok { .. } = part {
                prop_assert_eq!(
                    &part,
                    &full,
                    "{} cut at {}/{} parsed to a different success: {:?}",
                    seed.name,
                    cut_at,
                    text.len(),
                    cut
                );
            }
            Ok(())
        } else {
            check_text_prefix(p, text, &cut).map_err(|e| {
                TestCaseError::fail(format!("{e}\ncut at {cut_at}/{}: {cut:?}", text.len()))
            })
        }
    });
}

fn fuzz(p: Parser) {
    prop_no_panic(p);
    prop_log_lines_ignored(p);
    prop_truncation(p);
}

#[test]
fn fuzz_sync_status() {
    fuzz(Parser::SyncStatus);
}

#[test]
fn fuzz_bucket_sync_status() {
    fuzz(Parser::BucketSyncStatus);
}

#[test]
fn fuzz_bucket_sync_info() {
    fuzz(Parser::BucketSyncInfo);
}

#[test]
fn fuzz_sync_error_list() {
    fuzz(Parser::SyncErrorList);
}

#[test]
fn fuzz_data_sync_shard() {
    fuzz(Parser::DataSyncShard);
}

#[test]
fn fuzz_data_sync_status() {
    fuzz(Parser::DataSyncStatus);
}

#[test]
fn fuzz_bucket_stats() {
    fuzz(Parser::BucketStats);
}

#[test]
fn fuzz_bucket_list() {
    fuzz(Parser::BucketList);
}

#[test]
fn fuzz_period() {
    fuzz(Parser::Period);
}

#[test]
fn fuzz_zonegroup() {
    fuzz(Parser::Zonegroup);
}

#[test]
fn fuzz_sync_info() {
    fuzz(Parser::SyncInfo);
}

/// Free-form strings (not seeded) through every parser and helper.
#[test]
fn fuzz_arbitrary_strings() {
    let strategy = prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[ \\[\\]{}\":,0-9a-z./()\\n-]{0,200}",
    ];
    check(
        Parser::SyncStatus,
        "arbitrary strings, all parsers",
        strategy,
        |s| {
            for p in ALL {
                no_panic(&format!("{p:?}"), &s, || {
                    let _ = run(p, &s);
                })?;
            }
            no_panic("helpers", &s, || run_helpers(&s))
        },
    );
}

#[test]
fn seeds_cover_every_parser_and_parse() {
    // Every parser has real seeds, and the seeds mostly parse: a fuzz run over outputs that
    // all fail early would prove little.
    for p in ALL {
        let own = seeds_for(p);
        let ok = own
            .iter()
            .filter(|s| matches!(run(p, &s.text), Outcome::Ok { .. }))
            .count();
        eprintln!("seeds {p:?}: {} ({ok} parse)", own.len());
        assert!(!own.is_empty(), "{p:?} has no seed");
        assert!(
            ok * 2 >= own.len(),
            "{p:?}: only {ok} of {} seeds parse",
            own.len()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Large inputs: parse time is measured and printed, never asserted.
// ---------------------------------------------------------------------------------------

fn repeat_to(unit: &str, size: usize) -> String {
    let n = size / unit.len().max(1) + 1;
    unit.repeat(n)
}

fn big_inputs(size: usize) -> Vec<(&'static str, String)> {
    let bucket = r#"{"bucket": "b", "tenant": "", "zonegroup": "z", "id": "i.1", "marker": "i.1", "num_shards": 11, "usage": {"rgw.main": {"size": 1024, "num_objects": 1}}}"#;
    let n = size / (bucket.len() + 2) + 1;
    let stats = format!("[{}]", vec![bucket; n].join(",\n"));
    let errors_entry = r#"{"id": "1", "section": "data", "name": "b:i.1:3", "timestamp": "2026-11-21T22:37:41.518646Z", "info": {"source_zone": "z", "error_code": 5, "message": "failed"}}"#;
    let n = size / (errors_entry.len() + 2) + 1;
    let errors = format!(
        "[{{\"shard_id\": 0, \"entries\": [{}]}}]",
        vec![errors_entry; n].join(",")
    );
    let names = format!("[{}]", vec!["\"bucket-000001\""; size / 16 + 1].join(","));
    let log = "2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 ERROR: failed to fetch mdlog info\n";
    let behind = format!(
        "data sync source: z (us-east)\nbehind shards: [{}]\n",
        vec!["1"; size / 2].join(",")
    );
    let bucket_block = "source zone z (us-east)\nfull sync: 0/11 shards\nincremental sync: 11/11 shards\nbucket is caught up with source\n";
    vec![
        ("bucket stats array", stats),
        ("sync error list", errors),
        ("bucket list", names),
        ("log lines only", repeat_to(log, size)),
        (
            "log lines around a JSON doc",
            format!(
                "{}{{\"id\": \"p\", \"epoch\": 1}}\n{}",
                repeat_to(log, size / 2),
                repeat_to(log, size / 2)
            ),
        ),
        ("one long line", "a".repeat(size)),
        ("newlines", "\n".repeat(size)),
        ("open brackets", "[".repeat(size)),
        ("open objects", repeat_to("{\"a\":", size)),
        (
            "long JSON string",
            format!("{{\"id\": \"{}\"}}", "x".repeat(size)),
        ),
        (
            "long number",
            format!("{{\"id\": \"p\", \"epoch\": {}}}", "9".repeat(size)),
        ),
        (
            "sync status error lines",
            repeat_to("failed to read sync status: (5) EIO\n", size),
        ),
        (
            "sync status source blocks",
            repeat_to("data sync source: z (us-east)\nsyncing\n", size),
        ),
        ("one huge shard set", behind),
        ("bucket sync status blocks", repeat_to(bucket_block, size)),
        ("unknown lines", repeat_to("zzz unknown line\n", size)),
        (
            "long timestamp digits",
            format!("current time 2024-01-01T00:00:00.{}Z\n", "1".repeat(size)),
        ),
    ]
}

/// Parse time of every parser on ~1 MB and ~4 MB inputs (256 KiB and 1 MiB in a debug
/// build, to keep `cargo test` short); the large/small ratio stays near 4 when parsing is
/// linear. Printed (`--nocapture`), not asserted: timings on a shared CI machine prove
/// nothing. The results are checked.
#[test]
fn large_inputs() {
    const MB: usize = 1 << 20;
    let base = if cfg!(debug_assertions) { MB / 4 } else { MB };
    let small = big_inputs(base);
    let large = big_inputs(4 * base);
    let mut worst = (0.0f64, "");
    for ((name, s1), (_, s4)) in small.iter().zip(&large) {
        let mut t = [Duration::ZERO; 2];
        for (k, s) in [s1, s4].into_iter().enumerate() {
            let start = Instant::now();
            for p in ALL {
                let _ = run(p, s);
            }
            t[k] = start.elapsed();
        }
        let ratio = t[1].as_secs_f64() / t[0].as_secs_f64().max(1e-9);
        if ratio > worst.0 {
            worst = (ratio, name);
        }
        eprintln!(
            "large {name:28} all 11 parsers: {:>5} KiB {:>9.2?}  {:>5} KiB {:>9.2?}  ratio {ratio:.1}",
            s1.len() / 1024,
            t[0],
            s4.len() / 1024,
            t[1]
        );
    }
    eprintln!(
        "large: worst 4x-size time ratio {:.1} ({})",
        worst.0, worst.1
    );
    // Results on the big inputs are right, not just fast.
    let (_, stats) = &small[0];
    let parsed = parse::parse_bucket_stats(stats).unwrap();
    assert_eq!(parsed.len(), stats.matches("\"bucket\"").count());
    assert!(parsed
        .iter()
        .all(|b| b.objects == 1 && b.size_bytes == 1024));
    let (_, names) = &small[2];
    assert_eq!(
        parse::parse_bucket_list(names).unwrap().len(),
        names.matches("bucket-000001").count()
    );
    assert_eq!(
        parse::parse_period(&small[3].1),
        Err(ParseError::Malformed(format!(
            "no JSON, only {} log lines",
            small[3].1.lines().count()
        )))
    );
    let p = parse::parse_period(&small[4].1).unwrap();
    assert_eq!((p.id.as_str(), p.epoch), ("p", 1));
    assert!(parse::parse_period(&small[7].1).is_err());
    assert!(parse::parse_period(&small[8].1).is_err());
    let st = parse::parse_sync_status(&small[13].1).unwrap();
    assert_eq!(st.sources.len(), 1);
    assert_eq!(st.sources[0].progress.behind_shards.len(), base / 2);
    assert_eq!(st.sources[0].health(), Health::Behind);
}
