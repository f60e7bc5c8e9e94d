//! Parsers for `radosgw-admin sync info --bucket=B` (JSON) and `bucket sync info` (text):
//! whether a bucket replicates into or out of this zone.

use serde_json::Value;

use super::common::json_body;
use super::ParseError;

/// The resolved sync pipes of a bucket (or of the zone, without `--bucket`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncInfo {
    /// Pipes that replicate *into* this zone.
    pub sources: Vec<SyncPipe>,
    /// Pipes that replicate *out of* this zone.
    pub dests: Vec<SyncPipe>,
}

/// One pipe. Zones may be names (16.2.15 without a policy) or ids; buckets are `name:id`.
/// Fields Ceph left unset are empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncPipe {
    pub id: String,
    pub source_zone: String,
    pub source_bucket: String,
    pub dest_zone: String,
    pub dest_bucket: String,
}

/// A scalar as text; anything else (absent, object, array) as empty.
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn pipes(v: Option<&Value>) -> Result<Vec<SyncPipe>, ParseError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ParseError::Json("pipe list is not an array".into())),
    };
    Ok(items
        .iter()
        .map(|p| SyncPipe {
            id: text(p.get("id")),
            source_zone: text(p.get("source").and_then(|s| s.get("zone"))),
            source_bucket: text(p.get("source").and_then(|s| s.get("bucket"))),
            dest_zone: text(p.get("dest").and_then(|s| s.get("zone"))),
            dest_bucket: text(p.get("dest").and_then(|s| s.get("bucket"))),
        })
        .collect())
}

/// Parses `sync info [--bucket=B]` stdout. The document is small, so a `Value` walk keeps
/// it tolerant of the per-release differences (T20 omits unset `user`, hints vary).
pub fn parse_sync_info(stdout: &str) -> Result<SyncInfo, ParseError> {
    let (body, _) = json_body(stdout)?;
    let doc: Value = serde_json::from_str(&body)?;
    if !doc.is_object() {
        return Err(ParseError::Json("sync info is not an object".into()));
    }
    Ok(SyncInfo {
        sources: pipes(doc.get("sources"))?,
        dests: pipes(doc.get("dests"))?,
    })
}

/// True when `bucket sync info` (or `bucket sync status`, or `bucket sync checkpoint`) says
/// `Sync is disabled for bucket B`.
pub fn parse_bucket_sync_info_disabled(stdout: &str) -> bool {
    stdout
        .lines()
        .any(|l| l.trim_start().starts_with("Sync is disabled for bucket"))
}

#[cfg(test)]
mod tests {
    use super::super::{hand_fixture, truncations, GARBAGE};
    use super::*;

    /// Shape of 16.2.15 without a policy (formats doc §3.5): zone names, `name:id` buckets.
    const PACIFIC_SHAPE: &str = r#"{
    "sources": [
        {
            "id": "all",
            "source": {
                "zone": "us-east",
                "bucket": "bucket-002:d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"
            },
            "dest": {
                "zone": "us-west",
                "bucket": "bucket-002:d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"
            },
            "params": {
                "source": {
                    "filter": {
                        "tags": []
                    }
                },
                "dest": {},
                "priority": 0,
                "mode": "system",
                "user": ""
            }
        }
    ],
    "dests": [],
    "hints": {
        "sources": [],
        "dests": []
    },
    "resolved-hints-1": {
        "sources": [],
        "dests": []
    },
    "resolved-hints": {
        "sources": [],
        "dests": []
    }
}"#;

    #[test]
    fn pacific_shape() {
        assert_eq!(
            parse_sync_info(PACIFIC_SHAPE),
            Ok(SyncInfo {
                sources: vec![SyncPipe {
                    id: "all".into(),
                    source_zone: "us-east".into(),
                    source_bucket: "bucket-002:d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3".into(),
                    dest_zone: "us-west".into(),
                    dest_bucket: "bucket-002:d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3".into(),
                }],
                dests: vec![],
            })
        );
    }

    #[test]
    fn missing_parts_and_errors() {
        assert_eq!(
            parse_sync_info(r#"{"sources":[{"id":"p","source":{"zone":"z"},"dest":{}}]}"#),
            Ok(SyncInfo {
                sources: vec![SyncPipe {
                    id: "p".into(),
                    source_zone: "z".into(),
                    ..SyncPipe::default()
                }],
                dests: vec![],
            })
        );
        assert_eq!(parse_sync_info(""), Err(ParseError::Empty));
        assert!(matches!(parse_sync_info("[]"), Err(ParseError::Json(_))));
        assert!(matches!(
            parse_sync_info(r#"{"sources": 1}"#),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn bucket_sync_info_text() {
        let fragment = hand_fixture!("bucket-sync-info/pacific-lab-fragment.stdout");
        assert!(!parse_bucket_sync_info_disabled(fragment));
        let disabled = "         bucket :b11[z.1.1])\n\nSync is disabled for bucket b11\n";
        assert!(parse_bucket_sync_info_disabled(disabled));
        assert!(parse_bucket_sync_info_disabled(hand_fixture!(
            "bucket-sync-status/reef-code-sync-disabled.stdout"
        )));
        assert!(!parse_bucket_sync_info_disabled(""));
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        for input in truncations(PACIFIC_SHAPE)
            .into_iter()
            .chain(GARBAGE.iter().copied())
        {
            let _ = parse_sync_info(input);
            let _ = parse_bucket_sync_info_disabled(input);
        }
    }
}
