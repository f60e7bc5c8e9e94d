//! End-to-end: the master exporter binary `--once` against the replay stub and every lab
//! capture, compared with `tests/golden/exporter/<scenario>.prom` (`UPDATE_GOLDEN=1`
//! rewrites them).
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use e2e_tests::{assert_golden, capture_scenarios, normalize, run_once_against, value};

const EXPORTER: &str = "rgw-multisite-exporter";

/// Every lab capture gives a stable exposition for us-east (the master zone).
#[test]
fn golden_exposition_per_scenario() {
    let scenarios = capture_scenarios();
    assert!(!scenarios.is_empty(), "no lab captures found");
    for s in scenarios {
        let run = run_once_against(EXPORTER, &s, &["--zone=us-east"]);
        // A capture that lacks a command the exporter issues shows up here by key.
        let missing: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("no fixture for"))
            .collect();
        assert!(missing.is_empty(), "{s}: capture lacks {missing:#?}");
        assert!(
            !run.stdout.is_empty(),
            "{s}: no output; stderr:\n{}",
            run.stderr
        );
        assert_eq!(
            value(&run.stdout, "rgw_multisite_up"),
            Some(1.0),
            "{s}: {}",
            run.stderr
        );
        assert_golden(&format!("exporter/{s}.prom"), &normalize(&run.stdout));
    }
}

/// The calls the exporter makes: each zone's stats once, replication checks only for
/// buckets that lag, everything with an explicit zone.
#[test]
fn calls_name_the_zone_and_check_only_lagging_buckets() {
    let scenarios = capture_scenarios();
    let Some(s) = scenarios.iter().find(|s| s.as_str() == "pacific-behind") else {
        eprintln!("no pacific-behind capture; skipped");
        return;
    };
    let run = run_once_against(EXPORTER, s, &["--zone=us-east"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.calls.iter().all(|c| c.contains("--rgw-zone=")),
        "{:?}",
        run.calls
    );
    for zone in ["us-east", "us-west"] {
        let n = run
            .calls
            .iter()
            .filter(|c| *c == &format!("bucket stats --rgw-zone={zone}"))
            .count();
        assert_eq!(n, 1, "bucket stats of {zone}: {:?}", run.calls);
    }
    // Replication is checked on the master, and only for buckets with a priority (lagging
    // and replicating) or marked not replicating.
    let checked: std::collections::BTreeSet<String> = run
        .calls
        .iter()
        .filter_map(|c| c.strip_prefix("bucket sync info --bucket="))
        .map(|c| c.trim_end_matches(" --rgw-zone=us-east").to_string())
        .collect();
    let lagging: std::collections::BTreeSet<String> = e2e_tests::samples(&run.stdout)
        .into_iter()
        .filter(|(series, _)| series.starts_with("rgw_multisite_bucket_replication_enabled{"))
        .filter_map(|(series, _)| {
            series
                .split("bucket=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        })
        .collect();
    assert!(!checked.is_empty(), "{:?}", run.calls);
    assert_eq!(checked, lagging, "{:?}", run.calls);
    // Every class is present for the replica and they add up to its buckets.
    let total: f64 = ["synced", "low", "medium", "high"]
        .iter()
        .map(|c| {
            value(
                &run.stdout,
                &format!("rgw_multisite_buckets{{zone=\"us-west\",priority=\"{c}\"}}"),
            )
            .unwrap_or_else(|| panic!("class {c} missing:\n{}", run.stdout))
        })
        .sum();
    let not_replicating = value(
        &run.stdout,
        "rgw_multisite_buckets_not_replicating{zone=\"us-west\"}",
    )
    .unwrap();
    // One zonegroup on the lab and Pacific always prints `usage`: every bucket the master
    // lists is either in a class or not replicating.
    let master_buckets = value(
        &run.stdout,
        "rgw_multisite_bucket_stats_buckets{zone=\"us-east\"}",
    )
    .unwrap();
    assert_eq!(total + not_replicating, master_buckets, "{}", run.stdout);
}
