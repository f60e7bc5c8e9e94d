//! End-to-end: the master exporter's settings (flag > env > file > default), configuration
//! errors before serving, `init`, `check` and `--help`, on a synthetic replay scenario.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

mod exporter_support;

use std::time::Duration;

use e2e_tests::value;
use exporter_support::{run_exporter, text, Scenario};

const LIMIT: Duration = Duration::from_secs(30);

/// `half` is at 62 %: HIGH by default, and the thresholds below move it between classes.
fn half_scenario(name: &str) -> Scenario {
    Scenario::new(
        name,
        &[("full", 10, 1000), ("half", 100, 10_000)],
        &[("full", 10, 1000), ("half", 62, 6_200)],
    )
}

fn priority(out: &str) -> Option<f64> {
    value(
        out,
        r#"rgw_multisite_bucket_sync_priority{zone="us-west",bucket="half"}"#,
    )
}

#[test]
fn thresholds_follow_flag_over_env_over_file_over_default() {
    let s = half_scenario("precedence");
    let file = s.path("exporter.yml");
    std::fs::write(
        &file,
        "class:\n  synced_min_ratio: 0.6\n  low_min_ratio: 0.6\n  medium_min_ratio: 0.6\n",
    )
    .unwrap();
    let cfg = format!("--config.file={}", file.display());
    let base = ["--once", "--zone=us-east", "--collector.sync-errors=false"];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        let out = run_exporter(&s.dir, &args, env, LIMIT);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };

    // Default: 0.62 is HIGH, with its deltas.
    let out = run(&[], &[]);
    assert_eq!(priority(&out), Some(3.0), "{out}");
    assert_eq!(
        value(
            &out,
            r#"rgw_multisite_bucket_objects_behind{zone="us-west",bucket="half"}"#
        ),
        Some(38.0)
    );
    assert_eq!(
        value(
            &out,
            r#"rgw_multisite_bucket_bytes_behind{zone="us-west",bucket="half"}"#
        ),
        Some(3800.0)
    );
    assert_eq!(
        value(
            &out,
            r#"rgw_multisite_bucket_sync_ratio{zone="us-west",bucket="half"}"#
        ),
        Some(0.62)
    );
    // File: everything from 0.6 up is SYNCED, so no per-bucket series at all.
    let out = run(&[&cfg], &[]);
    assert_eq!(priority(&out), None, "{out}");
    assert_eq!(
        value(
            &out,
            r#"rgw_multisite_buckets{zone="us-west",priority="synced"}"#
        ),
        Some(2.0)
    );
    // Environment over the file: SYNCED needs 0.7, LOW still starts at the file's 0.6.
    let env = [("RGW_MULTISITE_CLASS_SYNCED_MIN_RATIO", "0.7")];
    let out = run(&[&cfg], &env);
    assert_eq!(priority(&out), Some(1.0), "{out}");
    // Flag over the environment.
    let out = run(&[&cfg, "--class.synced-min-ratio=0.62"], &env);
    assert_eq!(priority(&out), None, "{out}");
    // --metrics.all-buckets exports the synced ones too.
    let out = run(&["--metrics.all-buckets"], &[]);
    assert_eq!(
        value(
            &out,
            r#"rgw_multisite_bucket_sync_priority{zone="us-west",bucket="full"}"#
        ),
        Some(0.0),
        "{out}"
    );
}

#[test]
fn configuration_errors_fail_before_serving_and_name_the_problem() {
    let s = half_scenario("errors");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "unknown key",
            "collection:\n  intervall: 30s\n".into(),
            vec!["unknown field `intervall`".into(), "line 2".into()],
        ),
        (
            "bad duration",
            "radosgw_admin:\n  timeout: soon\n".into(),
            vec!["radosgw_admin.timeout".into(), "\"soon\"".into()],
        ),
        (
            "bad thresholds",
            "class:\n  synced_min_ratio: 0.5\n".into(),
            vec!["low_min_ratio <= synced_min_ratio".into()],
        ),
        (
            "missing key file",
            format!(
                "bucket_stats:\n  mode: rest\nrest:\n  access_key_file: {}\n  secret_key_file: {}\n",
                s.path("no-such-ak").display(),
                s.path("no-such-sk").display()
            ),
            vec![
                "rest.access_key_file".into(),
                s.path("no-such-ak").display().to_string(),
                "No such file".into(),
            ],
        ),
    ];
    for (what, yaml, expect) in cases {
        let file = s.path("bad.yml");
        std::fs::write(&file, yaml).unwrap();
        let cfg = format!("--config.file={}", file.display());
        // Without --once: a valid configuration would serve until killed (and fail the
        // time limit); an invalid one must exit at once.
        let out = run_exporter(
            &s.dir,
            &[&cfg, &listen, "--zone=us-east"],
            &[
                ("RGW_MULTISITE_ACCESS_KEY", ""),
                ("RGW_MULTISITE_SECRET_KEY", ""),
            ],
            LIMIT,
        );
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{what}: exited 0; {err}");
        for e in &expect {
            assert!(err.contains(e.as_str()), "{what}: {e:?} not in:\n{err}");
        }
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "{what}: the port was bound"
        );
    }
    // A missing config file, and a bad flag value, are just as clear.
    let out = run_exporter(
        &s.dir,
        &["--config.file=/nonexistent/exporter.yml", "--once"],
        &[],
        LIMIT,
    );
    assert!(text(&out.stderr).contains("/nonexistent/exporter.yml: cannot read"));
    assert_eq!(out.status.code(), Some(2));
    let out = run_exporter(&s.dir, &["--class.low-min-ratio=1.5", "--once"], &[], LIMIT);
    assert!(
        text(&out.stderr).contains("a ratio must be between 0 and 1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn init_writes_a_skeleton_that_loads_and_refuses_to_overwrite() {
    let s = half_scenario("init");
    let path = s.path("exporter.yml");
    let p = path.display().to_string();
    let out = run_exporter(&s.dir, &["--zone=us-east", "init", &p], &[], LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("zones us-east, us-west"),
        "{}",
        text(&out.stdout)
    );
    let yaml = std::fs::read_to_string(&path).unwrap();
    for want in [
        "zone: \"us-east\"",
        "  \"us-west\":\n    endpoint: \"http://127.0.0.1:8002\"",
        "  \"us-east\":\n    endpoint: \"http://127.0.0.1:8001\"",
        "synced_min_ratio: 0.99",
        "# access_key_file:",
    ] {
        assert!(yaml.contains(want), "{want:?} not in:\n{yaml}");
    }
    // Not again without --force; with it, yes.
    let out = run_exporter(&s.dir, &["--zone=us-east", "init", &p], &[], LIMIT);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("exists; pass --force"),
        "{}",
        text(&out.stderr)
    );
    let out = run_exporter(
        &s.dir,
        &["--zone=us-east", "init", "--force", &p],
        &[],
        LIMIT,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The skeleton is a working configuration.
    let cfg = format!("--config.file={p}");
    let out = run_exporter(
        &s.dir,
        &[&cfg, "--once", "--collector.sync-errors=false"],
        &[],
        LIMIT,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(priority(&text(&out.stdout)), Some(3.0));
    // A cluster that cannot be read: a clear error and no file.
    let other = s.path("other.yml");
    let o = other.display().to_string();
    let out = run_exporter(&s.dir, &["--zone=us-nowhere", "init", &o], &[], LIMIT);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("period get --rgw-zone=us-nowhere"),
        "{}",
        text(&out.stderr)
    );
    assert!(!other.exists());
}

#[test]
fn check_reports_each_zone() {
    let s = half_scenario("check");
    let out = run_exporter(&s.dir, &["--zone=us-east", "check"], &[], LIMIT);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for want in [
        "[ OK ] cluster reachable (period get)",
        "[ OK ] bucket stats of us-east (radosgw-admin): 2 bucket(s)",
        "[ OK ] bucket stats of us-west (radosgw-admin): 2 bucket(s)",
        "[ OK ] bucket sync info / sync info parse: bucket full replicates to: us-west",
        "all exporter checks passed",
    ] {
        assert!(stdout.contains(want), "{want:?} not in:\n{stdout}");
    }
    // A replica whose stats cannot be read fails the check, by name.
    let mut s = half_scenario("check-fail");
    s.add("bucket stats --rgw-zone=us-west", 5, "");
    let out = run_exporter(&s.dir, &["--zone=us-east", "check"], &[], LIMIT);
    let stdout = text(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("[FAIL] bucket stats of us-west (radosgw-admin)"),
        "{stdout}"
    );
}

#[test]
fn help_explains_the_exporter() {
    let s = half_scenario("help");
    let out = run_exporter(&s.dir, &["--help"], &[], LIMIT);
    let help = text(&out.stdout);
    for want in [
        "RGW multisite master zone",
        "SYNCED (>= 0.99)",
        "--bucket-stats.mode",
        "--config.file",
        "--class.synced-min-ratio",
        "--metrics.all-buckets",
        "--web.listen-address",
        "[default: :9241]",
        "init",
        "check",
        "RGW_MULTISITE_ACCESS_KEY",
    ] {
        assert!(help.contains(want), "{want:?} not in --help:\n{help}");
    }
}
