//! Parser for `radosgw-admin bucket stats` (JSON): one bucket or an array of all of them.
//!
//! A zone may hold 100,000 buckets (~100 MB of pretty JSON), so this deserializes straight
//! into small structs that name only the fields used; serde skips the rest without building
//! a `serde_json::Value`.

use serde::Deserialize;

use super::common::{excerpt, first_char, json_body};
use super::ParseError;

/// The parts of one bucket's stats the exporters use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketStats {
    pub bucket: String,
    pub tenant: String,
    pub id: String,
    pub marker: String,
    pub zonegroup: String,
    /// Absent on Tentacle for buckets of another zonegroup or indexless buckets.
    pub num_shards: Option<u32>,
    /// `usage."rgw.main".num_objects`; 0 when the bucket is empty (no `rgw.main`).
    pub objects: u64,
    /// `usage."rgw.main".size`: logical bytes (not `size_actual`).
    pub size_bytes: u64,
    /// False when there is no `usage` key at all (Tentacle, foreign zonegroup): the counts
    /// are unknown, not zero. An empty bucket has `"usage": {}`, which is true here.
    pub has_usage: bool,
}

impl BucketStats {
    /// The `bucket` label value: `tenant/name`, or `name` without a tenant.
    pub fn key(&self) -> String {
        if self.tenant.is_empty() {
            self.bucket.clone()
        } else {
            format!("{}/{}", self.tenant, self.bucket)
        }
    }
}

#[derive(Deserialize)]
struct RawBucket {
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    marker: String,
    #[serde(default)]
    zonegroup: String,
    #[serde(default)]
    num_shards: Option<u32>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

/// Only `rgw.main` counts as the bucket's objects (DESIGN.md); the other categories
/// (`rgw.multimeta`, `rgw.shadow`, ...) are skipped by serde without being stored.
#[derive(Deserialize)]
struct RawUsage {
    #[serde(rename = "rgw.main", default)]
    main: Option<RawCategory>,
}

#[derive(Deserialize)]
struct RawCategory {
    #[serde(default)]
    num_objects: u64,
    #[serde(default)]
    size: u64,
}

impl From<RawBucket> for BucketStats {
    fn from(r: RawBucket) -> Self {
        let main = r.usage.as_ref().and_then(|u| u.main.as_ref());
        BucketStats {
            objects: main.map_or(0, |m| m.num_objects),
            size_bytes: main.map_or(0, |m| m.size),
            has_usage: r.usage.is_some(),
            bucket: r.bucket,
            tenant: r.tenant,
            id: r.id,
            marker: r.marker,
            zonegroup: r.zonegroup,
            num_shards: r.num_shards,
        }
    }
}

/// Parses `bucket stats [--bucket=B]` stdout: one object (`--bucket`) or an array (list mode).
pub fn parse_bucket_stats(stdout: &str) -> Result<Vec<BucketStats>, ParseError> {
    let (body, _log_lines) = json_body(stdout)?;
    match first_char(&body) {
        Some('[') => {
            let raw: Vec<RawBucket> = serde_json::from_str(&body)?;
            Ok(raw.into_iter().map(BucketStats::from).collect())
        }
        Some('{') => {
            let raw: RawBucket = serde_json::from_str(&body)?;
            Ok(vec![raw.into()])
        }
        _ => Err(ParseError::Json(format!(
            "expected a bucket object or array, got {:?}",
            excerpt(body.trim())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::super::{hand_fixture, truncations, GARBAGE};
    use super::*;

    const PACIFIC: &str = hand_fixture!("bucket-stats/pacific-lab-bucket-002.json");

    fn bucket_002() -> BucketStats {
        BucketStats {
            bucket: "bucket-002".into(),
            tenant: String::new(),
            id: "d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3".into(),
            marker: "d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3".into(),
            zonegroup: "ab22bcdf-acaf-4585-bf56-c4a51dc12665".into(),
            num_shards: Some(11),
            objects: 200,
            size_bytes: 204_800,
            has_usage: true,
        }
    }

    #[test]
    fn pacific_single_bucket() {
        assert_eq!(parse_bucket_stats(PACIFIC), Ok(vec![bucket_002()]));
        assert_eq!(bucket_002().key(), "bucket-002");
    }

    #[test]
    fn array_with_empty_multipart_and_foreign_buckets() {
        // Tentacle-era key set (formats doc §6.2, PR #66501 excerpt) and a foreign-zonegroup
        // bucket without usage/num_shards.
        let out = format!(
            r#"[
{PACIFIC},
{{
    "bucket": "empty", "tenant": "acme", "zonegroup": "zg", "id": "z.1.1", "marker": "z.1.1",
    "index_type": "Normal", "num_shards": 11, "usage": {{}}
}},
{{
    "bucket": "mp",
    "tenant": "",
    "zonegroup": "zg",
    "placement_rule": "default-placement",
    "id": "7a225e48-9469-492b-b400-8d2e7f17bac7.14132.1",
    "marker": "7a225e48-9469-492b-b400-8d2e7f17bac7.14132.1",
    "index_type": "Normal",
    "index_generation": 0,
    "num_shards": 11,
    "reshard_status": "None",
    "judge_reshard_lock_time": "0.000000",
    "object_lock_enabled": false,
    "mfa_enabled": false,
    "owner": "testid",
    "usage": {{
        "rgw.multimeta": {{"size": 0, "size_actual": 0, "num_objects": 3}},
        "rgw.main": {{"size": 10, "size_actual": 4096, "num_objects": 1}}
    }}
}},
{{"bucket": "foreign", "tenant": "", "zonegroup": "other", "id": "y.2.2", "marker": "y.2.2"}}
]"#
        );
        assert_eq!(
            parse_bucket_stats(&out),
            Ok(vec![
                bucket_002(),
                BucketStats {
                    bucket: "empty".into(),
                    tenant: "acme".into(),
                    id: "z.1.1".into(),
                    marker: "z.1.1".into(),
                    zonegroup: "zg".into(),
                    num_shards: Some(11),
                    objects: 0,
                    size_bytes: 0,
                    has_usage: true,
                },
                BucketStats {
                    bucket: "mp".into(),
                    tenant: String::new(),
                    id: "7a225e48-9469-492b-b400-8d2e7f17bac7.14132.1".into(),
                    marker: "7a225e48-9469-492b-b400-8d2e7f17bac7.14132.1".into(),
                    zonegroup: "zg".into(),
                    num_shards: Some(11),
                    objects: 1,
                    size_bytes: 10,
                    has_usage: true,
                },
                BucketStats {
                    bucket: "foreign".into(),
                    tenant: String::new(),
                    id: "y.2.2".into(),
                    marker: "y.2.2".into(),
                    zonegroup: "other".into(),
                    num_shards: None,
                    objects: 0,
                    size_bytes: 0,
                    has_usage: false,
                },
            ])
        );
        assert_eq!(
            BucketStats {
                tenant: "acme".into(),
                bucket: "empty".into(),
                ..BucketStats::default()
            }
            .key(),
            "acme/empty"
        );
    }

    /// A list-mode array of `n` buckets shaped like the 16.2.15 output.
    fn synth(n: usize) -> String {
        let mut s = String::from("[\n");
        for i in 0..n {
            if i > 0 {
                s.push_str(",\n");
            }
            let _ = write!(
                s,
                r#"    {{
        "bucket": "bucket-{i:06}",
        "num_shards": 11,
        "tenant": "{tenant}",
        "zonegroup": "ab22bcdf-acaf-4585-bf56-c4a51dc12665",
        "placement_rule": "default-placement",
        "explicit_placement": {{"data_pool": "", "data_extra_pool": "", "index_pool": ""}},
        "id": "d91e8247-e7d0-4011-8972-3546d935f2b9.{i}.3",
        "marker": "d91e8247-e7d0-4011-8972-3546d935f2b9.{i}.3",
        "index_type": "Normal",
        "owner": "tester",
        "ver": "0#26,1#25,2#32,3#33,4#28,5#30,6#27,7#28,8#27,9#30,10#25",
        "master_ver": "0#0,1#0,2#0,3#0,4#0,5#0,6#0,7#0,8#0,9#0,10#0",
        "mtime": "2026-11-21T22:30:08.228750Z",
        "creation_time": "2026-11-21T22:30:08.225215Z",
        "max_marker": "0#00000000025.1380.6,1#00000000024.1085.6,2#00000000031.1091.6,3#00000000032.1381.6,4#00000000027.1092.6,5#00000000029.1382.6,6#00000000026.1093.6,7#00000000027.1383.6,8#00000000026.1094.6,9#00000000029.1384.6,10#00000000024.1095.6",
        "usage": {{
            "rgw.main": {{
                "size": {size},
                "size_actual": {size},
                "size_utilized": {size},
                "size_kb": 1,
                "size_kb_actual": 4,
                "size_kb_utilized": 1,
                "num_objects": {i}
            }}
        }},
        "bucket_quota": {{"enabled": false, "check_on_raw": false, "max_size": -1, "max_size_kb": 0, "max_objects": -1}}
    }}"#,
                tenant = if i % 10 == 0 { "t" } else { "" },
                size = i * 1024,
            );
        }
        s.push_str("\n]\n");
        s
    }

    #[test]
    fn two_thousand_buckets() {
        let input = synth(2000);
        let got = match parse_bucket_stats(&input) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(got.len(), 2000);
        assert_eq!(
            got.get(1999),
            Some(&BucketStats {
                bucket: "bucket-001999".into(),
                tenant: String::new(),
                id: "d91e8247-e7d0-4011-8972-3546d935f2b9.1999.3".into(),
                marker: "d91e8247-e7d0-4011-8972-3546d935f2b9.1999.3".into(),
                zonegroup: "ab22bcdf-acaf-4585-bf56-c4a51dc12665".into(),
                num_shards: Some(11),
                objects: 1999,
                size_bytes: 1999 * 1024,
                has_usage: true,
            })
        );
        assert_eq!(
            got.get(10).map(BucketStats::key),
            Some("t/bucket-000010".into())
        );
        assert_eq!(got.iter().map(|b| b.objects).sum::<u64>(), 1999 * 2000 / 2);
    }

    /// `cargo test --release -p rgw-multisite -- --ignored hundred_thousand` for the budget:
    /// 100,000 buckets (~100 MB) must parse well under 2 s.
    #[test]
    #[ignore = "timing check; run in release"]
    fn hundred_thousand_buckets_timing() {
        let input = synth(100_000);
        let start = std::time::Instant::now();
        let got = parse_bucket_stats(&input).map(|v| v.len());
        let took = start.elapsed();
        eprintln!("{} MB in {took:?}", input.len() / 1_000_000);
        assert_eq!(got, Ok(100_000));
        assert!(took.as_secs_f64() < 2.0, "{took:?}");
    }

    #[test]
    fn errors() {
        assert_eq!(parse_bucket_stats(""), Err(ParseError::Empty));
        assert_eq!(parse_bucket_stats("[]"), Ok(vec![]));
        assert!(matches!(
            parse_bucket_stats("nope"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_bucket_stats(r#"{"bucket": "b", "usage": {"rgw.main": {"num_objects": -1}}}"#),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        let two = synth(2);
        for input in truncations(PACIFIC)
            .into_iter()
            .chain(truncations(&two))
            .chain(GARBAGE.iter().copied())
        {
            let _ = parse_bucket_stats(input);
        }
    }
}
