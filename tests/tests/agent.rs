//! End-to-end tests of the agent binary against the replay stub and lab captures.
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use e2e_tests::{assert_golden, capture_scenarios, normalize, run_once_against, value};

const AGENT: &str = "rgw-multisite-agent-exporter";

/// Every lab capture gives a stable exposition for us-west (the pulling zone).
#[test]
fn golden_exposition_per_scenario() {
    let scenarios = capture_scenarios();
    assert!(!scenarios.is_empty(), "no lab captures found");
    for s in scenarios {
        let run = run_once_against(AGENT, &s, &["--zone=us-west"]);
        assert!(
            !run.stdout.is_empty(),
            "{s}: no output; stderr:\n{}",
            run.stderr
        );
        assert_golden(&format!("agent/{s}.prom"), &normalize(&run.stdout));
    }
}

#[test]
fn behind_scenario_reports_shards_lag_and_buckets() {
    let run = run_once_against(AGENT, "pacific-behind", &["--zone=us-west"]);
    let m = &run.stdout;
    let l = r#"{zone="us-west",source_zone="us-east"}"#;
    assert_eq!(value(m, "rgw_multisite_up"), Some(1.0));
    assert_eq!(
        value(m, &format!("rgw_multisite_data_sync_ok{l}")),
        Some(1.0)
    );
    assert_eq!(
        value(m, &format!("rgw_multisite_data_sync_shards_behind{l}")),
        Some(8.0)
    );
    assert!(value(m, &format!("rgw_multisite_data_sync_lag_seconds{l}")).unwrap_or(0.0) > 0.0);
    assert_eq!(
        value(
            m,
            r#"rgw_multisite_metadata_sync_shards_behind{zone="us-west"}"#
        ),
        Some(2.0)
    );
    assert!(
        value(m, &format!("rgw_multisite_buckets_behind{l}")).unwrap_or(0.0) >= 1.0,
        "{m}"
    );
    // Discovery went through the datalog shards sync status named.
    let shard_reads = run
        .calls
        .iter()
        .filter(|c| c.starts_with("data sync status --rgw-zone=us-west --shard-id="))
        .count();
    assert_eq!(shard_reads, 8, "{:?}", run.calls);
    // Every call names the zone, and sync error list is read shard by shard.
    assert!(
        run.calls.iter().all(|c| c.contains("--rgw-zone=us-west")),
        "{:?}",
        run.calls
    );
    let error_calls = run
        .calls
        .iter()
        .filter(|c| c.starts_with("sync error list"))
        .count();
    assert_eq!(error_calls, 32, "{:?}", run.calls);
}

#[test]
fn missing_binary_fails_once_with_a_clear_message_and_metrics() {
    let exe = e2e_tests::binary(AGENT);
    let out = std::process::Command::new(exe)
        .args([
            "--radosgw-admin.command=/nonexistent/radosgw-admin",
            "--once",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(value(&stdout, "rgw_multisite_up"), Some(0.0));
    assert_eq!(
        value(
            &stdout,
            r#"rgw_multisite_command_errors_total{command="sync status",kind="spawn"}"#
        ),
        Some(1.0),
        "{stdout}"
    );
    assert_golden("agent/no-radosgw-admin.prom", &normalize(&stdout));
    assert!(
        stderr.contains("could not start /nonexistent/radosgw-admin"),
        "{stderr}"
    );
}
