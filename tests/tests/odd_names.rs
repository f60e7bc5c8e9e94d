//! Label safety: bucket, tenant, zone, zonegroup and realm names with every character RGW
//! accepts come out of both exporters as correct, correctly escaped label values.
//!
//! Each exposition must pass `promtool check metrics` (format errors fail; the only lint
//! findings allowed are the `*_shard_count` names DESIGN.md fixes), and must round-trip:
//! a strict parser of the text format (`odd_names_support`) reads the label values back, and they must
//! equal the names that went in. Fixture: `tests/fixtures/radosgw-admin/labels/` (README).
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod odd_names_support;

use std::collections::{BTreeMap, BTreeSet};

use e2e_tests::{capture_dir, run_once_against};
use odd_names_support::{
    all_values_of, assert_promtool_ok, label, parse_strict, promtool_check, values_of, Sample,
};
use rgw_multisite::metrics::MetricSet;

const AGENT: &str = "rgw-multisite-agent-exporter";
const EXPORTER: &str = "rgw-multisite-exporter";
const SCENARIO: &str = "labels/odd-names";
const MASTER: &str = "us-east.dc_1";
const REPLICA: &str = "us-west_2.b-x";
const ZONEGROUP: &str = "zg_1.eu-x";
const REALM: &str = "lab.realm_1-x";
/// A bucket only Swift can create (RGW's Swift API takes any UTF-8 but `/`).
const SWIFT: &str = r#"sw:ift "q" \b\s [x] y"#;

/// `[tenant/]name` of every bucket in a `bucket stats` / `bucket list` fixture output.
fn fixture_json(slug: &str) -> serde_json::Value {
    let p = capture_dir(SCENARIO).join(format!("{slug}.stdout"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn stats_keys(zone_slug: &str) -> BTreeSet<String> {
    fixture_json(&format!("bucket-stats--rgw-zone={zone_slug}"))
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let (t, n) = (b["tenant"].as_str().unwrap(), b["bucket"].as_str().unwrap());
            if t.is_empty() {
                n.to_string()
            } else {
                format!("{t}/{n}")
            }
        })
        .collect()
}

// --- the tests -----------------------------------------------------------------------------

/// The parser itself: it must reject what promtool rejects, or the round trip proves nothing.
#[test]
fn strict_parser_accepts_the_format_and_rejects_broken_escapes() {
    let ok = "# HELP a_b h\n# TYPE a_b gauge\na_b{x=\"q\\\"b\\\\s\\nn\",y=\"\"} 1\na_b 2.5\n";
    let s = parse_strict(ok).unwrap();
    assert_eq!(s[0].labels[0].1, "q\"b\\s\nn");
    assert_eq!(s[0].labels[1].1, "");
    assert_eq!(s[1].value, 2.5);
    for bad in [
        "a{x=\"b\"} 1",           // no final newline
        "a{x=\"b\\t\"} 1\n",      // unknown escape
        "a{x=\"b} 1\n",           // unterminated value
        "a{x=b} 1\n",             // unquoted value
        "a{x=\"1\",x=\"2\"} 1\n", // duplicate label
        "a{1x=\"1\"} 1\n",        // bad label name
        "a{x=\"1\"} 1\na{x=\"1\"} 2\n",
        "a 1\nb 1\na 2\n",
        "a one\n",
    ] {
        assert!(parse_strict(bad).is_err(), "accepted {bad:?}");
    }
    // promtool agrees on the two that matter most for label values.
    assert!(promtool_check("a{x=\"b\\t\"} 1\n").is_err());
    assert!(promtool_check("a{x=\"b\nc\"} 1\n").is_err());
}

/// The encoder alone, over every ASCII character and some non-ASCII ones, one per label value
/// and all in one: promtool accepts it and the values come back byte for byte.
#[test]
fn encoder_round_trips_every_character() {
    let mut values: Vec<String> = (0u8..128).map(|b| format!("v{}v", b as char)).collect();
    values.push((0u8..128).map(|b| b as char).collect());
    values.extend(
        [
            "",
            "\\",
            "\"",
            "\n",
            "\\n",
            "\\\"",
            "ü€𝄞",
            "tenant/na:me[1]",
            "a=\"b\",c=\"d\"}",
        ]
        .map(String::from),
    );
    let mut m = MetricSet::new();
    let g = m.gauge("rgw_multisite_test_label", "Help with \\ and \n in it.");
    for (i, v) in values.iter().enumerate() {
        g.set(&[("bucket", v.as_str()), ("zone", "z")], i as f64);
    }
    let text = m.render();
    assert_promtool_ok("encoder", &text);
    let back: BTreeMap<String, f64> = parse_strict(&text)
        .unwrap()
        .into_iter()
        .map(|s| (label(&s, "bucket").unwrap().to_string(), s.value))
        .collect();
    assert_eq!(back.len(), values.len());
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            back.get(v),
            Some(&(i as f64)),
            "value {v:?} did not round-trip"
        );
    }
}

/// The agent on the odd-names fixture: every bucket of `bucket list` (tenants, dots, `_`,
/// uppercase, digits only, an IP-like name, 63 and 255 characters, Swift's `"`, `\`, `:`,
/// `[`) comes back as its own label value; zones keep their `-`, `_` and `.`.
#[test]
fn agent_labels_round_trip() {
    let run = run_once_against(
        AGENT,
        SCENARIO,
        &[
            &format!("--zone={REPLICA}"),
            "--metrics.all-buckets",
            "--bucket-sync.sweep-per-cycle=100",
        ],
    );
    assert!(run.success, "agent failed:\n{}\n{}", run.stderr, run.stdout);
    assert!(
        !run.stderr.contains("WARN") && !run.stderr.contains("ERROR"),
        "{}",
        run.stderr
    );
    assert_promtool_ok("agent", &run.stdout);
    let s = parse_strict(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));

    let listed: BTreeSet<String> = fixture_json("bucket-list--rgw-zone=us-west")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(listed.contains(SWIFT) && listed.contains("acme/acme-data.v1"));
    assert_eq!(listed.len(), 9);
    assert_eq!(all_values_of(&s, "bucket"), listed);
    // Every bucket has its shard count under exactly that label (none merged, none split);
    // acme/acme-data.v1 has none: Pacific's `bucket sync status` cannot read a tenant
    // bucket's source (README), so it is counted unknown, under the right name.
    let mut counted = values_of(&s, "rgw_multisite_bucket_shard_count", "bucket");
    assert!(counted.insert("acme/acme-data.v1".into()));
    assert_eq!(counted, listed);
    assert_eq!(
        values_of(&s, "rgw_multisite_bucket_sync_status_age_seconds", "bucket"),
        listed
    );
    // Sync errors name buckets as `[tenant/]name:instance[:shard][gen][/object]`.
    let erroring = values_of(&s, "rgw_multisite_bucket_sync_errors", "bucket");
    let want: BTreeSet<String> = [
        "acme/acme-data.v1",
        "odd.name-with.dots-1",
        SWIFT,
        "Tenant_2/Relaxed_Bucket.B",
    ]
    .map(String::from)
    .into();
    assert_eq!(erroring, want);
    assert_eq!(
        all_values_of(&s, "zone"),
        BTreeSet::from([REPLICA.to_string()])
    );
    assert_eq!(
        all_values_of(&s, "source_zone"),
        BTreeSet::from([MASTER.to_string()])
    );
}

/// The exporter on the same fixture: bucket labels are exactly the `[tenant/]name` keys of
/// `bucket stats` (including a name with a newline), zone/zonegroup/realm names intact.
#[test]
fn exporter_labels_round_trip() {
    let run = run_once_against(
        EXPORTER,
        SCENARIO,
        &[&format!("--zone={MASTER}"), "--metrics.all-buckets"],
    );
    assert!(
        run.success,
        "exporter failed:\n{}\n{}",
        run.stderr, run.stdout
    );
    assert_promtool_ok("exporter", &run.stdout);
    let s = parse_strict(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));

    let master = stats_keys("us-east");
    assert_eq!(master, stats_keys("us-west"));
    assert!(master.contains("new\nline") && master.contains("Tenant_2/Relaxed_Bucket.B"));
    assert_eq!(master.len(), 10);
    for fam in [
        "rgw_multisite_bucket_objects",
        "rgw_multisite_bucket_sync_ratio",
        "rgw_multisite_bucket_sync_priority",
    ] {
        assert_eq!(values_of(&s, fam, "bucket"), master, "{fam}");
    }
    let info: Vec<&Sample> = s
        .iter()
        .filter(|x| x.name == "rgw_multisite_zone_info")
        .collect();
    let zones: BTreeSet<&str> = info.iter().filter_map(|x| label(x, "zone")).collect();
    assert_eq!(zones, BTreeSet::from([MASTER, REPLICA]));
    assert!(info
        .iter()
        .all(|x| label(x, "zonegroup") == Some(ZONEGROUP) && label(x, "realm") == Some(REALM)));
    assert_eq!(
        values_of(&s, "rgw_multisite_period_epoch", "realm"),
        BTreeSet::from([REALM.to_string()])
    );
    assert_eq!(
        all_values_of(&s, "zone"),
        BTreeSet::from([MASTER.to_string(), REPLICA.to_string()])
    );
}

/// Both binaries name the tenant bucket the same way (`tenant/name`), from different
/// commands (`bucket list`/`bucket sync status` vs `bucket stats`).
#[test]
fn agent_and_exporter_agree_on_tenant_bucket_labels() {
    let agent = run_once_against(
        AGENT,
        SCENARIO,
        &[
            &format!("--zone={REPLICA}"),
            "--metrics.all-buckets",
            "--bucket-sync.sweep-per-cycle=100",
        ],
    );
    let exporter = run_once_against(
        EXPORTER,
        SCENARIO,
        &[&format!("--zone={MASTER}"), "--metrics.all-buckets"],
    );
    let a = all_values_of(&parse_strict(&agent.stdout).unwrap(), "bucket");
    let e = all_values_of(&parse_strict(&exporter.stdout).unwrap(), "bucket");
    for t in ["acme/acme-data.v1", "Tenant_2/Relaxed_Bucket.B"] {
        assert!(
            a.contains(t) && e.contains(t),
            "{t}: agent {a:?}, exporter {e:?}"
        );
    }
    // The exporter sees one bucket more: the newline one is only in `bucket stats`.
    let only_exporter: Vec<&String> = e.difference(&a).collect();
    assert_eq!(only_exporter, vec!["new\nline"]);
}
