//! Parsers for `radosgw-admin data sync status --source-zone=Z [--shard-id=N]` (JSON).
//!
//! The per-shard form names the buckets behind on a datalog shard; it is how the agent finds
//! lagging buckets without polling all of them (DESIGN.md, "Scale").

use std::collections::BTreeMap;

use serde::Deserialize;

use super::common::{de_string_lenient, de_u32_lenient, expect_object, json_body, parse_ceph_time};
use super::ParseError;

/// `data sync status --shard-id=N`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSyncShard {
    pub shard_id: u32,
    /// `marker.status`: `full-sync` | `incremental-sync` | `unknown`.
    pub marker_status: Option<String>,
    /// `marker.timestamp`, unix seconds (`0.0` for a never-set marker).
    pub marker_timestamp: Option<f64>,
    /// Buckets with datalog entries not yet applied.
    pub pending_buckets: Vec<BucketShardRef>,
    /// Buckets whose sync failed and will be retried.
    pub recovering_buckets: Vec<BucketShardRef>,
    /// `current_time` (Reef+).
    pub current_time: Option<f64>,
}

/// A bucket shard as listed in `pending_buckets`/`recovering_buckets`:
/// `[tenant/]bucket:instance[:shard]` with Reef+'s `[gen]` or `[full]` suffix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketShardRef {
    pub tenant: String,
    pub bucket: String,
    pub instance_id: String,
    pub shard: Option<u32>,
    /// The bracketed suffix: a generation number or `full` (Reef+).
    pub generation: Option<String>,
    /// The string as printed (kept because pre-#51019 builds could print raw binary keys).
    pub raw: String,
}

impl BucketShardRef {
    /// Never fails: what cannot be split stays in `raw` (and in `bucket`).
    ///
    /// Split from the right: instance ids (`<zone id>.<n>.<n>`) and shard numbers never hold
    /// a `:`, but bucket names created through Swift may (RGW's Swift API accepts any UTF-8
    /// but `/`), so `a:b:<instance>:3` is bucket `a:b`. Tenants (alphanumerics and `_`) and
    /// bucket names never hold a `/`, so the first `/` ends the tenant.
    pub fn parse(raw: &str) -> BucketShardRef {
        let mut head = raw.trim();
        let mut generation = None;
        if let Some((h, gen)) = head.strip_suffix(']').and_then(|h| h.rsplit_once('[')) {
            head = h;
            generation = Some(gen.to_string());
        }
        let (rest, shard) = match head.rsplit_once(':') {
            Some((rest, s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                (rest, s.parse().ok())
            }
            _ => (head, None),
        };
        let (bucket_part, instance_id) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let (tenant, bucket) = bucket_part.split_once('/').unwrap_or(("", bucket_part));
        BucketShardRef {
            tenant: tenant.to_string(),
            bucket: bucket.to_string(),
            instance_id: instance_id.to_string(),
            shard,
            generation,
            raw: raw.to_string(),
        }
    }

    /// The `bucket` label value: `tenant/bucket`, or `bucket` without a tenant.
    pub fn key(&self) -> String {
        if self.tenant.is_empty() {
            self.bucket.clone()
        } else {
            format!("{}/{}", self.tenant, self.bucket)
        }
    }
}

/// `data sync status --source-zone=Z` (no shard): overall state and per-shard markers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSyncStatus {
    /// `sync_status.info.status`: `init` | `building-full-sync-maps` | `sync` | `unknown`.
    pub status: Option<String>,
    /// `sync_status.info.num_shards` (0 when not initialised: `-ENOENT` is tolerated).
    pub num_shards: u32,
    pub markers: Vec<DataSyncMarker>,
    /// Number of shards per marker status (`full-sync`, `incremental-sync`, ...).
    pub marker_status_counts: BTreeMap<String, u32>,
    /// `full_sync.total` / `full_sync.complete`.
    pub full_sync_total: Option<u64>,
    pub full_sync_complete: Option<u64>,
    /// `current_time` (Reef+).
    pub current_time: Option<f64>,
}

/// One `sync_status.markers[]` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSyncMarker {
    pub shard_id: u32,
    pub status: Option<String>,
    pub marker: String,
    pub timestamp: Option<f64>,
}

#[derive(Deserialize, Default)]
struct RawMarker {
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "de_string_lenient")]
    marker: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    timestamp: String,
}

#[derive(Deserialize)]
struct RawShard {
    #[serde(deserialize_with = "de_u32_lenient")]
    shard_id: u32,
    #[serde(default)]
    marker: Option<RawMarker>,
    #[serde(default)]
    pending_buckets: Vec<String>,
    #[serde(default)]
    recovering_buckets: Vec<String>,
    #[serde(default)]
    current_time: Option<String>,
}

/// Parses `data sync status --source-zone=Z --shard-id=N` stdout.
pub fn parse_data_sync_shard(stdout: &str) -> Result<DataSyncShard, ParseError> {
    let (body, _) = json_body(stdout)?;
    expect_object(&body, "data sync shard status")?;
    let raw: RawShard = serde_json::from_str(&body)?;
    let marker = raw.marker.unwrap_or_default();
    Ok(DataSyncShard {
        shard_id: raw.shard_id,
        marker_status: marker.status,
        marker_timestamp: parse_ceph_time(&marker.timestamp),
        pending_buckets: raw
            .pending_buckets
            .iter()
            .map(|s| BucketShardRef::parse(s))
            .collect(),
        recovering_buckets: raw
            .recovering_buckets
            .iter()
            .map(|s| BucketShardRef::parse(s))
            .collect(),
        current_time: raw.current_time.as_deref().and_then(parse_ceph_time),
    })
}

#[derive(Deserialize)]
struct RawStatus {
    sync_status: RawSyncStatus,
    #[serde(default)]
    full_sync: Option<RawFullSync>,
    #[serde(default)]
    current_time: Option<String>,
}

#[derive(Deserialize)]
struct RawSyncStatus {
    #[serde(default)]
    info: Option<RawInfo>,
    #[serde(default)]
    markers: Vec<RawKeyedMarker>,
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "de_u32_lenient")]
    num_shards: u32,
}

#[derive(Deserialize)]
struct RawKeyedMarker {
    #[serde(deserialize_with = "de_u32_lenient")]
    key: u32,
    #[serde(default)]
    val: RawMarker,
}

#[derive(Deserialize)]
struct RawFullSync {
    #[serde(default)]
    total: Option<u64>,
    #[serde(default)]
    complete: Option<u64>,
}

/// Parses `data sync status --source-zone=Z` stdout (16.2.15 and Reef+ with `current_time`).
pub fn parse_data_sync_status(stdout: &str) -> Result<DataSyncStatus, ParseError> {
    let (body, _) = json_body(stdout)?;
    expect_object(&body, "data sync status")?;
    let raw: RawStatus = serde_json::from_str(&body)?;
    let info = raw.sync_status.info;
    let mut counts = BTreeMap::new();
    let markers: Vec<DataSyncMarker> = raw
        .sync_status
        .markers
        .into_iter()
        .map(|m| DataSyncMarker {
            shard_id: m.key,
            timestamp: parse_ceph_time(&m.val.timestamp),
            status: m.val.status,
            marker: m.val.marker,
        })
        .collect();
    for m in &markers {
        let key = m.status.clone().unwrap_or_else(|| "unknown".into());
        *counts.entry(key).or_insert(0) += 1;
    }
    let (status, num_shards) = match info {
        Some(i) => (i.status, i.num_shards),
        None => (None, 0),
    };
    let full = raw.full_sync;
    Ok(DataSyncStatus {
        status,
        num_shards,
        markers,
        marker_status_counts: counts,
        full_sync_total: full.as_ref().and_then(|f| f.total),
        full_sync_complete: full.as_ref().and_then(|f| f.complete),
        current_time: raw.current_time.as_deref().and_then(parse_ceph_time),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{hand_fixture, truncations, GARBAGE};
    use super::*;

    /// The real 16.2.15 marker of formats doc §5.
    const MARKER: &str = hand_fixture!("data-sync-status/pacific-lab-marker.json");

    fn bsr(
        tenant: &str,
        bucket: &str,
        inst: &str,
        shard: Option<u32>,
        gen: Option<&str>,
        raw: &str,
    ) -> BucketShardRef {
        BucketShardRef {
            tenant: tenant.into(),
            bucket: bucket.into(),
            instance_id: inst.into(),
            shard,
            generation: gen.map(String::from),
            raw: raw.into(),
        }
    }

    #[test]
    fn bucket_shard_refs() {
        // Pacific (IBM docs example quoted in formats doc §5).
        let r = "pro-registry:4ed07bb2-a80b-4c69-aa15-fdc9e3f4c4e7.314303.1:26";
        assert_eq!(
            BucketShardRef::parse(r),
            bsr(
                "",
                "pro-registry",
                "4ed07bb2-a80b-4c69-aa15-fdc9e3f4c4e7.314303.1",
                Some(26),
                None,
                r
            )
        );
        // Reef+: generation or `full` suffix, optional tenant, no shard.
        assert_eq!(
            BucketShardRef::parse("acme/b:z.1.2:3[4]"),
            bsr(
                "acme",
                "b",
                "z.1.2",
                Some(3),
                Some("4"),
                "acme/b:z.1.2:3[4]"
            )
        );
        assert_eq!(
            BucketShardRef::parse("b:z.1.2[full]"),
            bsr("", "b", "z.1.2", None, Some("full"), "b:z.1.2[full]")
        );
        assert_eq!(BucketShardRef::parse("b:z.1.2:x").shard, None);
        assert_eq!(
            BucketShardRef::parse("\u{1}\u{2}binary"),
            bsr("", "\u{1}\u{2}binary", "", None, None, "\u{1}\u{2}binary")
        );
        assert_eq!(BucketShardRef::parse("acme/b:i:1").key(), "acme/b");
        // Real 16.2.15 tenant bucket (lab, tests/fixtures/radosgw-admin/labels/README.md).
        let r = "acme/acme-data.v1:5492baeb-1aea-48c1-b5bb-1aa7367aca3c.4167.4:9";
        assert_eq!(
            BucketShardRef::parse(r),
            bsr(
                "acme",
                "acme-data.v1",
                "5492baeb-1aea-48c1-b5bb-1aa7367aca3c.4167.4",
                Some(9),
                None,
                r
            )
        );
        // Swift-created names may hold `:` (and `[`): split from the right.
        assert_eq!(
            BucketShardRef::parse("sw:ift:z.1.2:3[4]"),
            bsr(
                "",
                "sw:ift",
                "z.1.2",
                Some(3),
                Some("4"),
                "sw:ift:z.1.2:3[4]"
            )
        );
        assert_eq!(
            BucketShardRef::parse("acme/a[1]:b:z.1.2[full]").key(),
            "acme/a[1]:b"
        );
        assert_eq!(BucketShardRef::parse("123:z.1.2").key(), "123");
        assert_eq!(BucketShardRef::parse("123:z.1.2:7").shard, Some(7));
        assert_eq!(BucketShardRef::parse("b:i:1").key(), "b");
    }

    #[test]
    fn shard_form_pacific() {
        // The marker of §5 inside the envelope of the 16.2.15 shard output quoted there.
        let val = serde_json::from_str::<serde_json::Value>(MARKER)
            .ok()
            .and_then(|m| m.get("val").cloned())
            .unwrap_or_default();
        let out = format!(
            "{{\"shard_id\": 0, \"marker\": {val}, \"pending_buckets\": [], \"recovering_buckets\": []}}"
        );
        assert_eq!(
            parse_data_sync_shard(&out),
            Ok(DataSyncShard {
                shard_id: 0,
                marker_status: Some("incremental-sync".into()),
                marker_timestamp: Some(1_795_300_717.229_077),
                ..DataSyncShard::default()
            })
        );
    }

    #[test]
    fn shard_form_reef_with_buckets() {
        let out = r#"{
            "shard_id": 71,
            "marker": {"status": "incremental-sync", "marker": "1_1576611788.864287_69.1",
                       "next_step_marker": "", "total_entries": 0, "pos": 0,
                       "timestamp": "2024-04-18T13:09:04.446175Z"},
            "pending_buckets": ["b1:z.1.1:3[0]", "acme/b2:z.2.2:0[1]"],
            "recovering_buckets": ["b3:z.3.3[full]"],
            "current_time": "2024-04-18T13:15:00Z"
        }"#;
        assert_eq!(
            parse_data_sync_shard(out),
            Ok(DataSyncShard {
                shard_id: 71,
                marker_status: Some("incremental-sync".into()),
                marker_timestamp: Some(1_713_445_744.446_175),
                pending_buckets: vec![
                    bsr("", "b1", "z.1.1", Some(3), Some("0"), "b1:z.1.1:3[0]"),
                    bsr(
                        "acme",
                        "b2",
                        "z.2.2",
                        Some(0),
                        Some("1"),
                        "acme/b2:z.2.2:0[1]"
                    ),
                ],
                recovering_buckets: vec![bsr(
                    "",
                    "b3",
                    "z.3.3",
                    None,
                    Some("full"),
                    "b3:z.3.3[full]"
                )],
                current_time: Some(1_713_446_100.0),
            })
        );
    }

    #[test]
    fn status_form() {
        let out = format!(
            r#"{{
    "sync_status": {{
        "info": {{"status": "sync", "num_shards": 3, "instance_id": 1234567890123}},
        "markers": [
            {MARKER},
            {{"key": 1, "val": {{"status": "full-sync", "marker": "", "timestamp": "0.000000"}}}},
            {{"key": 2, "val": {{"status": "incremental-sync", "marker": "m", "timestamp": "2024-03-20T07:03:00Z"}}}}
        ]
    }},
    "full_sync": {{"total": 10, "complete": 7}},
    "current_time": "2024-03-20T07:03:00Z"
}}"#
        );
        assert_eq!(
            parse_data_sync_status(&out),
            Ok(DataSyncStatus {
                status: Some("sync".into()),
                num_shards: 3,
                markers: vec![
                    DataSyncMarker {
                        shard_id: 0,
                        status: Some("incremental-sync".into()),
                        marker: "00000000000000000000:00000000000000004756".into(),
                        timestamp: Some(1_795_300_717.229_077),
                    },
                    DataSyncMarker {
                        shard_id: 1,
                        status: Some("full-sync".into()),
                        marker: String::new(),
                        timestamp: Some(0.0),
                    },
                    DataSyncMarker {
                        shard_id: 2,
                        status: Some("incremental-sync".into()),
                        marker: "m".into(),
                        timestamp: Some(1_710_918_180.0),
                    },
                ],
                marker_status_counts: BTreeMap::from([
                    ("full-sync".to_string(), 1),
                    ("incremental-sync".to_string(), 2),
                ]),
                full_sync_total: Some(10),
                full_sync_complete: Some(7),
                current_time: Some(1_710_918_180.0),
            })
        );
    }

    #[test]
    fn status_form_uninitialised() {
        // `-ENOENT` tolerated: init with no shards (same shape as the 16.2.15 master output).
        let out = r#"{"sync_status":{"info":{"status":"init","num_shards":0,"instance_id":0},"markers":[]},"full_sync":{"total":0,"complete":0}}"#;
        assert_eq!(
            parse_data_sync_status(out),
            Ok(DataSyncStatus {
                status: Some("init".into()),
                num_shards: 0,
                full_sync_total: Some(0),
                full_sync_complete: Some(0),
                ..DataSyncStatus::default()
            })
        );
        assert_eq!(parse_data_sync_status(""), Err(ParseError::Empty));
        assert!(matches!(
            parse_data_sync_status("{}"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_data_sync_shard("{}"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_data_sync_shard("[0]"),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        let shard = r#"{"shard_id": 1, "marker": {"status": "incremental-sync", "timestamp": "0.000000"},
            "pending_buckets": ["b:i:1[2]"], "recovering_buckets": ["b:i[full]"]}"#;
        for input in truncations(shard)
            .into_iter()
            .chain(truncations(MARKER))
            .chain(GARBAGE.iter().copied())
        {
            let _ = parse_data_sync_shard(input);
            let _ = parse_data_sync_status(input);
        }
    }
}
