//! The benchmark, small enough for every `cargo test`: 200 buckets, 10 ms per call, 1 s
//! cycles. It runs the real command (both exporters, the naive poller, the simulator) so
//! that the benchmark cannot rot, and asserts what it found, never how fast.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rgw-multisite-bench"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The exporters are other packages' binaries: build them (a no-op when they are fresh)
/// with the profile of this test, as `tests/` does.
fn build_exporters() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "agent-exporter", "-p", "exporter"]);
    if bin_dir().ends_with("release") {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().unwrap().success(),
        "cargo build of the exporters failed"
    );
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rgw-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_simulator_answers_like_radosgw_admin_and_logs_every_call() {
    let dir = temp("sim");
    let conf = dir.join("state.conf");
    std::fs::write(
        &conf,
        "buckets=300\ndatalog_shards=16\nzones=us-east,us-west\nlagging_buckets=bucket-000123\nlatency_ms=0\n",
    )
    .unwrap();
    let log = dir.join("calls.log");
    let sim = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sim-radosgw-admin"))
            .args(["-c", "/etc/ceph/ceph.conf", "--id", "rgw-exporter"])
            .args(args)
            .arg("--client_mount_timeout=30")
            .env("SIM_RGW_CONFIG", &conf)
            .env("SIM_RGW_LOG", &log)
            .env("SIM_RGW_CACHE_DIR", dir.join("cache"))
            .output()
            .unwrap();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
            out.status.code(),
        )
    };
    let (status, _, rc) = sim(&["sync", "status", "--rgw-zone=us-west"]);
    assert_eq!(rc, Some(0));
    assert!(status.contains("data is behind on"), "{status}");
    let (b, _, _) = sim(&[
        "bucket",
        "sync",
        "status",
        "--bucket=bucket-000123",
        "--source-zone=us-east",
        "--rgw-zone=us-west",
    ]);
    assert!(b.contains("bucket is behind on"), "{b}");
    let (_, err, rc) = sim(&[
        "bucket",
        "sync",
        "status",
        "--bucket=nope",
        "--rgw-zone=us-west",
    ]);
    assert_eq!(
        (err.as_str(), rc),
        ("could not get bucket info for bucket=nope\n", Some(2))
    );
    let (stats, _, _) = sim(&["bucket", "stats", "--rgw-zone=us-east"]);
    assert_eq!(
        rgw_multisite::parse::bucket_stats::parse_bucket_stats(&stats)
            .unwrap()
            .len(),
        300
    );
    let (v, _, _) = sim(&["--version"]);
    assert!(v.starts_with("ceph version 16.2.15"), "{v}");
    // One line per call, connection options left out of the key.
    let keys: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').nth(3).unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "sync status --rgw-zone=us-west",
            "bucket sync status --bucket=bucket-000123 --rgw-zone=us-west --source-zone=us-east",
            "bucket sync status --bucket=nope --rgw-zone=us-west",
            "bucket stats --rgw-zone=us-east",
            "--version",
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

fn run_bench(dir: &Path) -> Value {
    build_exporters();
    let json = dir.join("result.json");
    let out = Command::new(env!("CARGO_BIN_EXE_rgw-multisite-bench"))
        .args([
            "run",
            "--buckets=200",
            "--latency-ms=10",
            "--interval=1s",
            "--steady-cycles=2",
            "--trials=1",
            "--scrapes=10",
            "--naive-cap=50",
            "--lagging=3",
            "--errors=5",
            // No sweep: with 200 buckets it would read every bucket within two cycles, and
            // the agent must be seen finding the probes through the datalog alone.
            "--agent-arg=--bucket-sync.sweep-per-cycle=0",
        ])
        .arg(format!("--bin-dir={}", bin_dir().display()))
        .arg(format!("--workdir={}", dir.join("work").display()))
        .arg(format!("--json={}", json.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("### 200 buckets"), "{md}");
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

#[test]
fn the_benchmark_finds_the_lagging_buckets_and_counts_the_calls() {
    let dir = temp("run");
    let r = run_bench(&dir);
    let size = get(&r, "sizes.0");
    assert_eq!(get(size, "buckets"), 200);
    // One trial at a random point of the cycle, two at the worst points.
    let trials = get(size, "trials").as_array().unwrap();
    assert_eq!(trials.len(), 3, "{trials:?}");
    for trial in trials {
        // The probes: one among the naive poller's first 50 buckets, one beyond.
        let early = get(trial, "early_bucket").as_str().unwrap();
        let late = get(trial, "late_bucket").as_str().unwrap();
        let index = |b: &str| b.trim_start_matches("bucket-").parse::<usize>().unwrap();
        assert!(index(early) < 50 && index(late) >= 50, "{early} {late}");
        // Ours find both through the datalog (agent) and the object counts (exporter).
        for k in [
            "agent_early",
            "agent_late",
            "exporter_early",
            "exporter_late",
        ] {
            assert!(get(trial, k).is_number(), "{k} not detected: {trial}");
        }
        // The naive poller finds the one it polls, never the other.
        assert!(get(trial, "naive_early").is_number(), "{trial}");
        assert!(get(trial, "naive_late").is_null(), "{trial}");
    }
    // Calls were counted from the simulator's log: the naive poller's cycle is exactly
    // `bucket list` and its 50 buckets.
    assert_eq!(get(size, "naive.calls_per_cycle").as_f64(), Some(51.0));
    for who in ["agent", "exporter"] {
        let e = get(size, who);
        assert!(get(e, "calls_per_cycle").as_f64().unwrap() > 0.0, "{e}");
        assert!(get(e, "metrics_series").as_u64().unwrap() > 0, "{e}");
        assert!(get(e, "peak_rss_mib").as_f64().unwrap() > 0.0, "{e}");
        assert_eq!(get(e, "failed_calls"), 0, "{e}");
    }
    let agent_cmds = get(size, "agent.calls_by_command_per_cycle");
    for c in [
        "sync status",
        "sync error list",
        "data sync status",
        "bucket sync status",
    ] {
        assert!(
            agent_cmds[c].is_number(),
            "agent never ran `{c}`: {agent_cmds}"
        );
    }
    let exporter_cmds = get(size, "exporter.calls_by_command_per_cycle");
    for c in ["period get", "bucket stats", "sync status"] {
        assert!(
            exporter_cmds[c].is_number(),
            "exporter never ran `{c}`: {exporter_cmds}"
        );
    }
    // Without the sweep, the agent read the late probe because the datalog named it.
    let agent_log = std::fs::read_to_string(dir.join("work/n200/agent-calls.log")).unwrap();
    assert!(
        agent_log.contains("data sync status --rgw-zone=us-west --shard-id="),
        "{agent_log}"
    );
    assert!(
        !agent_log.contains("bucket list"),
        "the sweep ran: {agent_log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
