//! Parser for `radosgw-admin period get` (and `zonegroup get`): the multisite topology.
//!
//! Zone labels carry names, never ids, so this is also where ids are mapped to names.

use serde::Deserialize;

use super::common::{de_bool_lenient, de_string_lenient, de_u64_lenient, expect_object, json_body};
use super::ParseError;

/// The current period: realm, zonegroups and their zones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Period {
    pub id: String,
    pub epoch: u64,
    pub realm_id: String,
    /// Present on 16.2.15 and 18; removed from `RGWPeriod::dump` in 20.
    pub realm_name: Option<String>,
    /// Id of the master zonegroup.
    pub master_zonegroup: String,
    /// Id of the metadata master zone.
    pub master_zone: String,
    pub zonegroups: Vec<ZoneGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ZoneGroup {
    #[serde(default, deserialize_with = "de_string_lenient")]
    pub id: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    pub name: String,
    #[serde(default, deserialize_with = "de_bool_lenient")]
    pub is_master: bool,
    #[serde(default, deserialize_with = "de_string_lenient")]
    pub master_zone: String,
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub zones: Vec<Zone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Zone {
    #[serde(default, deserialize_with = "de_string_lenient")]
    pub id: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    pub name: String,
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// `""` for a normal zone; `archive`, `cloud`, `pubsub`, `elasticsearch`, ...
    #[serde(default, deserialize_with = "de_string_lenient")]
    pub tier_type: String,
    /// Ceph's default is true; only an explicit `false` restricts sources to `sync_from`.
    #[serde(default = "yes", deserialize_with = "de_bool_lenient")]
    pub sync_from_all: bool,
    /// Zone *names* this zone pulls from when `sync_from_all` is false.
    #[serde(default)]
    pub sync_from: Vec<String>,
    #[serde(default, deserialize_with = "de_bool_lenient")]
    pub read_only: bool,
}

impl Default for Zone {
    fn default() -> Self {
        Zone {
            id: String::new(),
            name: String::new(),
            endpoints: Vec::new(),
            tier_type: String::new(),
            sync_from_all: true,
            sync_from: Vec::new(),
            read_only: false,
        }
    }
}

fn yes() -> bool {
    true
}

impl Zone {
    /// Whether other zones can pull data from this one: the archive, log, elasticsearch and
    /// cloud sync modules do not export data (`supports_data_export()`, formats doc §2.4).
    pub fn exports_data(&self) -> bool {
        !matches!(
            self.tier_type.as_str(),
            "archive" | "log" | "elasticsearch" | "cloud" | "aws" | "cloud-s3"
        )
    }
}

impl Period {
    /// The name of a zone id, in any zonegroup.
    pub fn zone_name(&self, id: &str) -> Option<&str> {
        self.zones()
            .find(|(_, z)| z.id == id)
            .map(|(_, z)| z.name.as_str())
    }

    /// The id of a zone name, in any zonegroup.
    pub fn zone_id(&self, name: &str) -> Option<&str> {
        self.zones()
            .find(|(_, z)| z.name == name)
            .map(|(_, z)| z.id.as_str())
    }

    /// Every zone with its zonegroup.
    pub fn zones(&self) -> impl Iterator<Item = (&ZoneGroup, &Zone)> + '_ {
        self.zonegroups
            .iter()
            .flat_map(|zg| zg.zones.iter().map(move |z| (zg, z)))
    }

    /// The zonegroup holding a zone id.
    pub fn zonegroup_of(&self, zone_id: &str) -> Option<&ZoneGroup> {
        self.zones()
            .find(|(_, z)| z.id == zone_id)
            .map(|(zg, _)| zg)
    }

    /// True for the metadata master zone (the period's `master_zone`).
    pub fn is_master_zone(&self, id: &str) -> bool {
        !id.is_empty() && self.master_zone == id
    }

    /// The zones `zone_id` pulls data from according to the period alone: the other zones
    /// of its zonegroup that have endpoints, export data, and pass `sync_from_all`/
    /// `sync_from`. Sync policies can narrow this further; `sync status` has the last word.
    pub fn data_sync_sources(&self, zone_id: &str) -> Vec<&Zone> {
        let Some(zg) = self.zonegroup_of(zone_id) else {
            return Vec::new();
        };
        let Some(me) = zg.zones.iter().find(|z| z.id == zone_id) else {
            return Vec::new();
        };
        zg.zones
            .iter()
            .filter(|z| z.id != zone_id && !z.endpoints.is_empty() && z.exports_data())
            .filter(|z| me.sync_from_all || me.sync_from.contains(&z.name))
            .collect()
    }
}

#[derive(Deserialize)]
struct RawPeriod {
    #[serde(deserialize_with = "de_string_lenient")]
    id: String,
    #[serde(default, deserialize_with = "de_u64_lenient")]
    epoch: u64,
    #[serde(default)]
    period_map: Option<RawPeriodMap>,
    #[serde(default, deserialize_with = "de_string_lenient")]
    master_zonegroup: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    master_zone: String,
    #[serde(default, deserialize_with = "de_string_lenient")]
    realm_id: String,
    #[serde(default)]
    realm_name: Option<String>,
}

#[derive(Deserialize)]
struct RawPeriodMap {
    #[serde(default)]
    zonegroups: Vec<ZoneGroup>,
}

/// Parses `period get` stdout.
pub fn parse_period(stdout: &str) -> Result<Period, ParseError> {
    let (body, _) = json_body(stdout)?;
    expect_object(&body, "period")?;
    let raw: RawPeriod = serde_json::from_str(&body)?;
    if raw.id.is_empty() {
        return Err(ParseError::Malformed("period without id".into()));
    }
    Ok(Period {
        id: raw.id,
        epoch: raw.epoch,
        realm_id: raw.realm_id,
        realm_name: raw.realm_name,
        master_zonegroup: raw.master_zonegroup,
        master_zone: raw.master_zone,
        zonegroups: raw.period_map.map(|m| m.zonegroups).unwrap_or_default(),
    })
}

/// Parses `zonegroup get` stdout (one zonegroup, same fields as in the period map).
pub fn parse_zonegroup(stdout: &str) -> Result<ZoneGroup, ParseError> {
    let (body, _) = json_body(stdout)?;
    expect_object(&body, "zonegroup")?;
    let zg: ZoneGroup = serde_json::from_str(&body)?;
    if zg.id.is_empty() {
        return Err(ParseError::Malformed("zonegroup without id".into()));
    }
    Ok(zg)
}

#[cfg(test)]
mod tests {
    use super::super::{hand_fixture, truncations, GARBAGE};
    use super::*;

    const PACIFIC: &str = hand_fixture!("period/pacific-lab-composed.json");

    fn lab() -> Period {
        let east = "d91e8247-e7d0-4011-8972-3546d935f2b9";
        let west = "e9bfab5d-a530-4a65-af46-832ad0a0f78e";
        Period {
            id: "5a0c4bd4-aed2-4d4f-9d3a-2b7b8c7f1a11".into(),
            epoch: 2,
            realm_id: "89cb53b0-e12e-4a1a-8215-5f72eb02bc9f".into(),
            realm_name: Some("lab".into()),
            master_zonegroup: "ab22bcdf-acaf-4585-bf56-c4a51dc12665".into(),
            master_zone: east.into(),
            zonegroups: vec![ZoneGroup {
                id: "ab22bcdf-acaf-4585-bf56-c4a51dc12665".into(),
                name: "zg1".into(),
                is_master: true,
                master_zone: east.into(),
                endpoints: vec!["http://127.0.0.1:8001".into()],
                zones: vec![
                    Zone {
                        id: east.into(),
                        name: "us-east".into(),
                        endpoints: vec!["http://127.0.0.1:8001".into()],
                        ..Zone::default()
                    },
                    Zone {
                        id: west.into(),
                        name: "us-west".into(),
                        endpoints: vec!["http://127.0.0.1:8002".into()],
                        ..Zone::default()
                    },
                ],
            }],
        }
    }

    #[test]
    fn pacific_quoted_booleans() {
        let p = parse_period(PACIFIC);
        assert_eq!(p, Ok(lab()));
        let p = lab();
        assert_eq!(
            p.zone_name("e9bfab5d-a530-4a65-af46-832ad0a0f78e"),
            Some("us-west")
        );
        assert_eq!(p.zone_name("nope"), None);
        assert_eq!(
            p.zone_id("us-east"),
            Some("d91e8247-e7d0-4011-8972-3546d935f2b9")
        );
        assert!(p.is_master_zone("d91e8247-e7d0-4011-8972-3546d935f2b9"));
        assert!(!p.is_master_zone("e9bfab5d-a530-4a65-af46-832ad0a0f78e"));
        assert!(!p.is_master_zone(""));
        assert_eq!(
            p.zones()
                .map(|(zg, z)| (zg.name.as_str(), z.name.as_str()))
                .collect::<Vec<_>>(),
            vec![("zg1", "us-east"), ("zg1", "us-west")]
        );
        assert_eq!(
            p.data_sync_sources("e9bfab5d-a530-4a65-af46-832ad0a0f78e")
                .iter()
                .map(|z| z.name.as_str())
                .collect::<Vec<_>>(),
            vec!["us-east"]
        );
    }

    #[test]
    fn tentacle_real_booleans_no_realm_name_archive_and_sync_from() {
        let out = r#"{"id":"p","epoch":7,"predecessor_uuid":"q","sync_status":[],
          "period_map":{"id":"p","zonegroups":[{"id":"g","name":"zg","api_name":"zg",
            "is_master":true,"endpoints":[],"hostnames":[],"master_zone":"a",
            "zones":[
              {"id":"a","name":"za","endpoints":["http://a"],"log_meta":false,"log_data":true,
               "bucket_index_max_shards":11,"read_only":false,"tier_type":"","sync_from_all":true,
               "sync_from":[],"redirect_zone":"","supported_features":["resharding"]},
              {"id":"b","name":"zb","endpoints":["http://b"],"read_only":true,"tier_type":"archive",
               "sync_from_all":true,"sync_from":[]},
              {"id":"c","name":"zc","endpoints":["http://c"],"tier_type":"","sync_from_all":false,
               "sync_from":["zb"]},
              {"id":"d","name":"zd","endpoints":[],"tier_type":""}
            ],"enabled_features":["notification_v2","resharding"]}],
          "short_zone_ids":[{"key":"a","val":1}]},
          "master_zonegroup":"g","master_zone":"a","period_config":{},"realm_id":"r","realm_epoch":2}"#;
        let p = parse_period(out);
        let zone = |id: &str, eps: &[&str]| Zone {
            id: id.into(),
            name: format!("z{id}"),
            endpoints: eps.iter().map(|e| e.to_string()).collect(),
            ..Zone::default()
        };
        assert_eq!(
            p,
            Ok(Period {
                id: "p".into(),
                epoch: 7,
                realm_id: "r".into(),
                realm_name: None,
                master_zonegroup: "g".into(),
                master_zone: "a".into(),
                zonegroups: vec![ZoneGroup {
                    id: "g".into(),
                    name: "zg".into(),
                    is_master: true,
                    master_zone: "a".into(),
                    endpoints: vec![],
                    zones: vec![
                        zone("a", &["http://a"]),
                        Zone {
                            read_only: true,
                            tier_type: "archive".into(),
                            ..zone("b", &["http://b"])
                        },
                        Zone {
                            sync_from_all: false,
                            sync_from: vec!["zb".into()],
                            ..zone("c", &["http://c"])
                        },
                        zone("d", &[]),
                    ],
                }],
            })
        );
        let p = p.unwrap_or_default();
        let names = |id: &str| {
            p.data_sync_sources(id)
                .iter()
                .map(|z| z.name.clone())
                .collect::<Vec<_>>()
        };
        // Nobody pulls from the archive zone or the endpoint-less zone; c only wants zb,
        // which does not export: nothing.
        assert_eq!(names("a"), vec!["zc".to_string()]);
        assert_eq!(names("b"), vec!["za".to_string(), "zc".to_string()]);
        assert_eq!(names("c"), Vec::<String>::new());
        assert_eq!(names("x"), Vec::<String>::new());
    }

    #[test]
    fn zonegroup_get() {
        let out = r#"{"id":"g","name":"zg","is_master":"false","master_zone":"a","endpoints":["http://a"],"zones":[]}"#;
        assert_eq!(
            parse_zonegroup(out),
            Ok(ZoneGroup {
                id: "g".into(),
                name: "zg".into(),
                is_master: false,
                master_zone: "a".into(),
                endpoints: vec!["http://a".into()],
                zones: vec![],
            })
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse_period(""), Err(ParseError::Empty));
        assert!(matches!(parse_period("{}"), Err(ParseError::Json(_))));
        assert_eq!(
            parse_period(r#"{"id": ""}"#),
            Err(ParseError::Malformed("period without id".into()))
        );
        assert!(matches!(
            parse_period(r#"{"id": "p", "period_map": {"zonegroups": [{"is_master": "maybe"}]}}"#),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(parse_zonegroup("[]"), Err(ParseError::Json(_))));
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        for input in truncations(PACIFIC)
            .into_iter()
            .chain(GARBAGE.iter().copied())
        {
            let _ = parse_period(input);
            let _ = parse_zonegroup(input);
        }
    }
}
