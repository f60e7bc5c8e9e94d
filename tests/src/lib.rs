//! Helpers shared by the end-to-end tests: binaries, the replay stub, golden files.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Root of `tests/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A lab capture directory, e.g. `pacific-behind`.
pub fn capture_dir(scenario: &str) -> PathBuf {
    fixtures_dir().join("radosgw-admin").join(scenario)
}

/// Every lab capture directory (`<release>-<scenario>`), sorted.
pub fn capture_scenarios() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures_dir().join("radosgw-admin"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join("commands.tsv").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `target/<profile>`, found from this test executable (`target/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path to a workspace binary, built once per test process so it is never stale.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "-q",
            "-p",
            "agent-exporter",
            "-p",
            "exporter",
            "-p",
            "e2e-tests",
        ]);
        if target_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo build of the binaries");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    let p = target_dir().join(name);
    assert!(p.is_file(), "{} was not built", p.display());
    p
}

/// The output of one `--once` run.
#[derive(Debug)]
pub struct OnceRun {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    /// Replay keys of the radosgw-admin calls made, in order.
    pub calls: Vec<String>,
}

/// Runs `bin --once` against the replay stub serving `scenario`'s capture.
pub fn run_once_against(bin: &str, scenario: &str, extra_args: &[&str]) -> OnceRun {
    let stub = binary("stub-radosgw-admin");
    let exe = binary(bin);
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = std::env::temp_dir().join(format!(
        "stub-calls-{}-{n}-{bin}-{scenario}.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&log);
    let out = Command::new(exe)
        .arg(format!("--radosgw-admin.command={}", stub.display()))
        .arg("--once")
        .args(extra_args)
        .env("STUB_RGW_FIXTURES", capture_dir(scenario))
        .env("STUB_RGW_LOG", &log)
        .env_remove("RUST_LOG")
        .output()
        .expect("run exporter");
    let calls = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let _ = std::fs::remove_file(&log);
    OnceRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
        calls,
    }
}

/// Families whose values depend on the wall clock or the machine: replaced by `<dynamic>`.
const DYNAMIC_SUFFIXES: &[&str] = &[
    "_duration_seconds",
    "_last_success_timestamp_seconds",
    "_lag_seconds",
    "_age_seconds",
    "_last_pass_seconds",
];

/// Makes an exposition comparable across runs: time-dependent values become `<dynamic>`.
pub fn normalize(exposition: &str) -> String {
    exposition
        .lines()
        .map(|l| {
            if l.starts_with('#') {
                return l.to_string();
            }
            let name = l.split(['{', ' ']).next().unwrap_or("");
            if DYNAMIC_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                if let Some((series, _)) = l.rsplit_once(' ') {
                    return format!("{series} <dynamic>");
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Compares `actual` with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
pub fn assert_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create golden dir");
        }
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let mut diff = String::new();
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        for l in &e {
            if !a.contains(l) {
                diff.push_str(&format!("-{l}\n"));
            }
        }
        for l in &a {
            if !e.contains(l) {
                diff.push_str(&format!("+{l}\n"));
            }
        }
        panic!(
            "{} differs from the golden file (UPDATE_GOLDEN=1 to accept):\n{diff}",
            path.display()
        );
    }
}

/// Parses an exposition into (series, value) pairs for targeted assertions.
pub fn samples(exposition: &str) -> Vec<(String, f64)> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            Some((series.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The value of one exact series, if present.
pub fn value(exposition: &str, series: &str) -> Option<f64> {
    samples(exposition)
        .into_iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| v)
}

/// The running lab (`lab/up`): its env file and its scripts.
pub mod lab {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::process::Command;

    pub fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// `KEY=VALUE` lines of the lab's env file (`$LAB_STATE/env`, default `lab/state/env`).
    pub fn env() -> HashMap<String, String> {
        let state = std::env::var("LAB_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join("lab/state"));
        let text = std::fs::read_to_string(state.join("env"))
            .unwrap_or_else(|e| panic!("the lab is not up ({e}); run lab/up first"));
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| !k.contains(' ') && !k.is_empty())
            .map(|(k, v)| (k.to_string(), v.trim().trim_matches('\'').to_string()))
            .collect()
    }

    /// Runs `lab/<script> args...`, panicking if it fails.
    pub fn run(args: &[&str]) {
        let (script, rest) = args.split_first().expect("a lab script");
        let st = Command::new("bash")
            .arg(repo().join("lab").join(script))
            .args(rest)
            .status()
            .expect("run a lab script");
        assert!(st.success(), "lab/{} failed", args.join(" "));
    }
}
