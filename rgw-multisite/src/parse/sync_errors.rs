//! Parser for `radosgw-admin sync error list` (JSON, same shape in every release 16..20).

use serde::Deserialize;

use super::common::{
    de_i64_lenient, de_string_lenient, de_u32_lenient, first_char, json_body, parse_ceph_time,
};
use super::ParseError;

/// One error-log shard (`sync.error-log.<N>`) and the entries listed from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncErrorShard {
    pub shard_id: u32,
    pub entries: Vec<SyncErrorEntry>,
}

/// One entry of the sync error log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncErrorEntry {
    /// Time-prefixed id (`1_<sec>.<usec>_<n>.1`); the paging marker and the dedup key.
    pub id: String,
    /// `data`, `data.init`, or a metadata section (`bucket.instance`, `user`, ...).
    pub section: String,
    /// `[tenant/]bucket:instance:shard[gen][/object]` for `data`, the metadata key otherwise.
    pub name: String,
    pub timestamp: Option<f64>,
    /// The source zone *id* (`info.source_zone`); empty when `info` is missing.
    pub source_zone: String,
    /// Positive errno (`info.error_code`); 0 when `info` is missing.
    pub error_code: i64,
    pub message: String,
}

impl SyncErrorEntry {
    /// The bucket (`tenant/bucket` or `bucket`) a `data` entry is about.
    pub fn bucket(&self) -> Option<String> {
        if self.section == "data" {
            bucket_of_error_name(&self.name)
        } else {
            None
        }
    }
}

/// The bucket of a data error name, as the `bucket` label wants it: `tenant/bucket` or
/// `bucket`.
///
/// Names are `[tenant/]bucket:instance[:shard][gen][/object]`. Object names may hold `:` and
/// `/`; bucket names never hold `/` but may hold `:` (RGW's Swift API accepts any UTF-8 but
/// `/`); tenants hold neither. So a `/` before the first `:` ends the tenant, the next `/`
/// starts the object, and what is left splits from the right like a datalog bucket shard.
pub fn bucket_of_error_name(name: &str) -> Option<String> {
    let name = name.trim();
    let (tenant, rest) = match (name.find('/'), name.find(':')) {
        (Some(slash), Some(colon)) if slash < colon => {
            let (t, r) = name.split_at(slash);
            (t, r.get(1..).unwrap_or_default())
        }
        _ => ("", name),
    };
    let shard_key = rest.split_once('/').map_or(rest, |(k, _)| k);
    if !shard_key.contains(':') {
        return None;
    }
    let r = super::data_sync_status::BucketShardRef::parse(shard_key);
    if r.bucket.trim().is_empty() || r.bucket.contains('/') {
        return None;
    }
    Some(if tenant.is_empty() {
        r.bucket
    } else {
        format!("{tenant}/{}", r.bucket)
    })
}

#[derive(Deserialize)]
struct RawShard {
    #[serde(deserialize_with = "de_u32_lenient")]
    shard_id: u32,
    #[serde(default)]
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default, deserialize_with = "de_string_lenient")]
    id: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    section: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    name: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    timestamp: String,
    #[serde(default)]
    info: Option<RawInfo>,
}

#[derive(Deserialize, Default)]
struct RawInfo {
    #[serde(default, deserialize_with = "de_string_lenient")]
    source_zone: String,
    #[serde(default, deserialize_with = "de_i64_lenient")]
    error_code: i64,
    #[serde(default, deserialize_with = "de_string_lenient")]
    message: String,
}

/// Parses `sync error list [--shard-id=N]` stdout: an array of shard objects (one object
/// without the array is accepted too). Unknown keys are ignored, a missing `info` gives an
/// empty zone, code 0 and an empty message.
pub fn parse_sync_error_list(stdout: &str) -> Result<Vec<SyncErrorShard>, ParseError> {
    let (body, _log_lines) = json_body(stdout)?;
    let raw: Vec<RawShard> = match first_char(&body) {
        Some('[') => serde_json::from_str(&body)?,
        Some('{') => vec![serde_json::from_str(&body)?],
        _ => {
            return Err(ParseError::Json(format!(
                "expected an array of shards, got {:?}",
                super::common::excerpt(body.trim())
            )))
        }
    };
    Ok(raw
        .into_iter()
        .map(|s| SyncErrorShard {
            shard_id: s.shard_id,
            entries: s
                .entries
                .into_iter()
                .map(|e| {
                    let info = e.info.unwrap_or_default();
                    SyncErrorEntry {
                        timestamp: parse_ceph_time(&e.timestamp),
                        id: e.id,
                        section: e.section,
                        name: e.name,
                        source_zone: info.source_zone,
                        error_code: info.error_code,
                        message: info.message,
                    }
                })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::{hand_fixture, truncations, GARBAGE};
    use super::*;

    #[test]
    fn pacific_shard_zero() {
        let got = parse_sync_error_list(hand_fixture!("sync-error-list/pacific-lab-shard0.json"));
        assert_eq!(
            got,
            Ok(vec![SyncErrorShard {
                shard_id: 0,
                entries: vec![SyncErrorEntry {
                    id: "1_1795300661.518646_862.1".into(),
                    section: "data".into(),
                    name: "injbucket:d91e8247-e7d0-4011-8972-3546d935f2b9.4335.3:9".into(),
                    timestamp: Some(1_795_300_661.518_646),
                    source_zone: "d91e8247-e7d0-4011-8972-3546d935f2b9".into(),
                    error_code: 5,
                    message: "failed to sync bucket instance: (5) Input/output error".into(),
                }],
            }])
        );
        let bucket = got.ok().and_then(|s| {
            s.first()
                .and_then(|s| s.entries.first().and_then(|e| e.bucket()))
        });
        assert_eq!(bucket, Some("injbucket".into()));
    }

    #[test]
    fn many_shards_unknown_keys_missing_info() {
        let out = r#"[
            {"shard_id": 0, "entries": []},
            {"shard_id": "1", "entries": [
                {"id": "1_1.0_1.1", "section": "data.init", "name": "", "timestamp": "0.000000",
                 "new_key": {"x": 1}},
                {"id": "1_2.0_1.1", "section": "data", "name": "t1/b:inst:3[2]/dir/obj:v2",
                 "timestamp": "2024-03-20T07:03:00.5Z",
                 "info": {"source_zone": "z", "error_code": "13",
                          "message": "failed to sync object(13) Permission denied"}}
            ]},
            {"shard_id": 2}
        ]"#;
        assert_eq!(
            parse_sync_error_list(out),
            Ok(vec![
                SyncErrorShard {
                    shard_id: 0,
                    entries: vec![],
                },
                SyncErrorShard {
                    shard_id: 1,
                    entries: vec![
                        SyncErrorEntry {
                            id: "1_1.0_1.1".into(),
                            section: "data.init".into(),
                            timestamp: Some(0.0),
                            ..SyncErrorEntry::default()
                        },
                        SyncErrorEntry {
                            id: "1_2.0_1.1".into(),
                            section: "data".into(),
                            name: "t1/b:inst:3[2]/dir/obj:v2".into(),
                            timestamp: Some(1_710_918_180.5),
                            source_zone: "z".into(),
                            error_code: 13,
                            message: "failed to sync object(13) Permission denied".into(),
                        },
                    ],
                },
                SyncErrorShard {
                    shard_id: 2,
                    entries: vec![],
                },
            ])
        );
    }

    #[test]
    fn single_object_and_errors() {
        assert_eq!(
            parse_sync_error_list(r#"{"shard_id": 7, "entries": []}"#),
            Ok(vec![SyncErrorShard {
                shard_id: 7,
                entries: vec![]
            }])
        );
        assert_eq!(parse_sync_error_list(""), Err(ParseError::Empty));
        assert_eq!(parse_sync_error_list("[]"), Ok(vec![]));
        assert!(matches!(
            parse_sync_error_list("[{}]"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_sync_error_list("oops"),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn bucket_names() {
        assert_eq!(
            bucket_of_error_name("injbucket:d91e8247-e7d0-4011-8972-3546d935f2b9.4335.3:9"),
            Some("injbucket".into())
        );
        assert_eq!(bucket_of_error_name("b:i:3[2]"), Some("b".into()));
        assert_eq!(
            bucket_of_error_name("acme/b:i:3/a/b:c"),
            Some("acme/b".into())
        );
        assert_eq!(bucket_of_error_name("b:i/obj"), Some("b".into()));
        assert_eq!(bucket_of_error_name(""), None);
        assert_eq!(bucket_of_error_name("user1"), None);
        assert_eq!(bucket_of_error_name(":i:3"), None);
        assert_eq!(bucket_of_error_name("acme/:i"), None);
        // Odd but valid S3 names, relaxed names, and Swift names holding `:` (and `"`, `\`).
        assert_eq!(
            bucket_of_error_name("odd.name-with.dots-1:z.4167.5:3/e/e-1"),
            Some("odd.name-with.dots-1".into())
        );
        assert_eq!(
            bucket_of_error_name("acme/acme-data.v1:z.4167.4:9"),
            Some("acme/acme-data.v1".into())
        );
        assert_eq!(
            bucket_of_error_name("T_1/_Up.per_:z.1.2:0[3]/o"),
            Some("T_1/_Up.per_".into())
        );
        assert_eq!(
            bucket_of_error_name("sw:ift:z.1.2:3/dir/ob:j"),
            Some("sw:ift".into())
        );
        assert_eq!(
            bucket_of_error_name("acme/sw:ift:z.1.2:3"),
            Some("acme/sw:ift".into())
        );
        assert_eq!(
            bucket_of_error_name("q\"b\\s:z.1.2/o/p"),
            Some("q\"b\\s".into())
        );
        assert_eq!(bucket_of_error_name("sw:ift:z.1.2"), Some("sw:ift".into()));
        let meta = SyncErrorEntry {
            section: "bucket.instance".into(),
            name: "b:i".into(),
            ..SyncErrorEntry::default()
        };
        assert_eq!(meta.bucket(), None);
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        let full = hand_fixture!("sync-error-list/pacific-lab-shard0.json");
        for input in truncations(full).into_iter().chain(GARBAGE.iter().copied()) {
            let _ = parse_sync_error_list(input);
        }
    }
}
