//! Parser for the text of `radosgw-admin sync status` (no release up to 20 has JSON for it).
//!
//! Lines are matched on their text, not their indentation: downstream tools and fixtures
//! re-indent the output, and every line that matters has a unique wording (formats doc §2.7).

use super::common::{
    excerpt, is_log_line, parse_ceph_time, parse_fraction, parse_shard_set, set_if, split_id_name,
    NamedId,
};
use super::ParseError;

/// Everything `sync status` printed, as far as it was understood.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncStatus {
    pub realm: Option<NamedId>,
    pub zonegroup: Option<NamedId>,
    pub zone: Option<NamedId>,
    /// `current time` header (Reef+ and some downstream builds), unix seconds.
    pub current_time: Option<f64>,
    /// `zonegroup features enabled:` (Reef+); `Some(vec![])` when the line is there but empty.
    pub features_enabled: Option<Vec<String>>,
    /// The `disabled:` line under the features line, when printed.
    pub features_disabled: Option<Vec<String>>,
    pub metadata: Option<MetadataSync>,
    /// One entry per `data sync source:` / `source:` line, in output order.
    pub sources: Vec<DataSource>,
    /// Lines that were not understood (kept as printed, trimmed).
    pub skipped: Vec<String>,
    /// Interleaved Ceph log lines (stderr merged into stdout), skipped.
    pub log_lines: usize,
}

impl SyncStatus {
    /// The data source with this zone id.
    pub fn source(&self, id: &str) -> Option<&DataSource> {
        self.sources.iter().find(|s| s.id == id)
    }
}

/// The `metadata sync` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetadataSync {
    /// `metadata sync no sync (zone is master)`: this zone is the metadata master.
    pub is_master: bool,
    pub progress: ShardProgress,
}

impl MetadataSync {
    /// Health of metadata sync; the master does not sync metadata, so it is `NotSyncing`.
    pub fn health(&self) -> Health {
        if self.is_master {
            Health::NotSyncing
        } else {
            self.progress.health()
        }
    }
}

/// One `data sync source:` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataSource {
    /// The source zone id.
    pub id: String,
    /// The zone name; `None` when the line had no ` (name)` (zone lookup failed).
    pub name: Option<String>,
    pub progress: ShardProgress,
}

impl DataSource {
    pub fn health(&self) -> Health {
        self.progress.health()
    }
}

/// What a metadata or data block said about its shards.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShardProgress {
    /// `syncing` | `init` | `preparing for full sync` | `unknown`, as printed.
    pub status: Option<String>,
    /// `full sync: X/Y shards`.
    pub full: Option<(u32, u32)>,
    /// `full sync: N entries to sync` (metadata) / `N buckets to sync` (data).
    pub full_remaining: Option<u64>,
    /// `incremental sync: X/Y shards`.
    pub incremental: Option<(u32, u32)>,
    /// `metadata is caught up with master` / `data is caught up with source` was printed.
    pub caught_up_line: bool,
    /// `... is behind on N shards`.
    pub behind_count: Option<u32>,
    /// `behind shards: [...]`.
    pub behind_shards: Vec<u32>,
    /// `oldest incremental change not applied: <time> [<shard>]` as (unix seconds, shard).
    pub oldest_change: Option<(f64, u32)>,
    /// `N shards are recovering`.
    pub recovering_count: Option<u32>,
    /// `recovering shards: [...]`.
    pub recovering_shards: Vec<u32>,
    /// `not syncing from zone` (sync_from, policy, or a source tier that does not export).
    pub not_syncing: bool,
    /// `zone not found`.
    pub zone_not_found: bool,
    /// The first error line (`failed to retrieve sync info: ...`, `failed to read sync
    /// status: ...`, `failed to fetch master sync status: ...`, `master is on a different
    /// period: ...`); later ones are appended after `; `.
    pub error: Option<String>,
}

/// Verdict on a block, applying the quirks of formats doc §2.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    CaughtUp,
    Behind,
    /// `not syncing from zone`, or the metadata master (nothing to pull).
    NotSyncing,
    /// The output does not allow a verdict; the reason is a fixed text fit for logs.
    Unknown(&'static str),
}

impl ShardProgress {
    /// Total shards as printed in `full sync: X/Y` or `incremental sync: X/Y`.
    pub fn total_shards(&self) -> Option<u32> {
        self.incremental.or(self.full).map(|(_, total)| total)
    }

    fn is_behind(&self) -> bool {
        self.behind_count.is_some_and(|n| n > 0)
            || !self.behind_shards.is_empty()
            || self.recovering_count.is_some_and(|n| n > 0)
            || !self.recovering_shards.is_empty()
    }

    /// Caught up only when every sign agrees: an explicit caught-up line, no error, status
    /// `syncing`, more than zero shards, all of them incremental. Anything printed as behind
    /// or recovering is `Behind`; a block that stops before its caught-up/behind line (the
    /// dropped-line quirk) or that is `init` with `0/0 shards` (no status object yet, which
    /// Ceph reports as "caught up") is `Unknown`.
    pub fn health(&self) -> Health {
        if self.error.is_some() {
            return Health::Unknown("error reported");
        }
        if self.zone_not_found {
            return Health::Unknown("zone not found");
        }
        if self.not_syncing {
            return Health::NotSyncing;
        }
        if self.is_behind() {
            return Health::Behind;
        }
        if !self.caught_up_line {
            return Health::Unknown("block ended without a caught-up or behind line");
        }
        if self.status.as_deref() != Some("syncing") {
            return Health::Unknown("caught-up line without status syncing");
        }
        let total = self.total_shards().unwrap_or(0);
        if total == 0 {
            return Health::Unknown("caught-up line with zero shards");
        }
        // Ceph counts shards not yet incremental as behind, so these only disagree with the
        // caught-up line if the text was edited or the code changes; believe the counts.
        if self.full.is_some_and(|(n, _)| n > 0) || self.incremental.is_some_and(|(n, t)| n < t) {
            return Health::Behind;
        }
        Health::CaughtUp
    }

    /// Applies one line of a block; false when the line was not understood.
    fn apply(&mut self, line: &str) -> bool {
        match line {
            "syncing" | "init" | "preparing for full sync" | "unknown" => {
                self.status = Some(line.to_string());
                return true;
            }
            "metadata is caught up with master" | "data is caught up with source" => {
                self.caught_up_line = true;
                return true;
            }
            "not syncing from zone" => {
                self.not_syncing = true;
                return true;
            }
            "zone not found" => {
                self.zone_not_found = true;
                return true;
            }
            _ => {}
        }
        if let Some(rest) = line.strip_prefix("full sync: ") {
            if let Some(f) = rest.strip_suffix(" shards").and_then(parse_fraction) {
                self.full = Some(f);
                return true;
            }
            let count = rest
                .strip_suffix(" entries to sync")
                .or_else(|| rest.strip_suffix(" buckets to sync"))
                .and_then(|n| n.trim().parse().ok());
            if let Some(n) = count {
                self.full_remaining = Some(n);
                return true;
            }
            return false;
        }
        if let Some(rest) = line.strip_prefix("incremental sync: ") {
            return set_if(
                &mut self.incremental,
                rest.strip_suffix(" shards")
                    .and_then(parse_fraction)
                    .map(Some),
            );
        }
        let behind = line
            .strip_prefix("metadata is behind on ")
            .or_else(|| line.strip_prefix("data is behind on "));
        if let Some(rest) = behind {
            return set_if(
                &mut self.behind_count,
                rest.strip_suffix(" shards")
                    .and_then(|n| n.parse().ok())
                    .map(Some),
            );
        }
        if let Some(rest) = line.strip_prefix("behind shards: ") {
            return set_if(&mut self.behind_shards, parse_shard_set(rest));
        }
        if let Some(rest) = line.strip_prefix("recovering shards: ") {
            return set_if(&mut self.recovering_shards, parse_shard_set(rest));
        }
        if let Some(rest) = line.strip_prefix("oldest incremental change not applied: ") {
            return set_if(&mut self.oldest_change, parse_oldest(rest).map(Some));
        }
        if let Some(n) = line
            .strip_suffix(" shards are recovering")
            .and_then(|n| n.parse().ok())
        {
            self.recovering_count = Some(n);
            return true;
        }
        // Every error Ceph prints here starts with "failed" (`failed to ...`, `failed read
        // ...`), plus the period mismatch; a new "failed ..." wording is still an error.
        if line.starts_with("failed") || line.starts_with("master is on a different period") {
            match &mut self.error {
                Some(e) => {
                    e.push_str("; ");
                    e.push_str(line);
                }
                None => self.error = Some(line.to_string()),
            }
            return true;
        }
        false
    }
}

/// `<time> [<shard>]`.
fn parse_oldest(s: &str) -> Option<(f64, u32)> {
    let (time, shard) = s.trim().rsplit_once(' ')?;
    let shard = shard.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?;
    Some((parse_ceph_time(time)?, shard))
}

fn features(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

enum Block {
    Header,
    Metadata,
    Source,
}

/// Parses `radosgw-admin sync status` stdout.
///
/// Empty stdout is `Err(Empty)`; stdout in which not a single line was recognised is
/// `Err(Malformed)`. Everything else is `Ok`, with what was not understood in `skipped`.
pub fn parse_sync_status(stdout: &str) -> Result<SyncStatus, ParseError> {
    if stdout.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut st = SyncStatus::default();
    let mut block = Block::Header;
    let mut recognised = 0usize;
    for raw in stdout.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if is_log_line(line) {
            st.log_lines += 1;
            continue;
        }
        let ok = parse_line(&mut st, &mut block, line);
        if ok {
            recognised += 1;
        } else {
            st.skipped.push(line.to_string());
        }
    }
    if recognised == 0 {
        return Err(ParseError::Malformed(format!(
            "no sync status line recognised ({} skipped, {} log lines); first: {:?}",
            st.skipped.len(),
            st.log_lines,
            excerpt(st.skipped.first().map(String::as_str).unwrap_or(""))
        )));
    }
    Ok(st)
}

fn parse_line(st: &mut SyncStatus, block: &mut Block, line: &str) -> bool {
    // Block starts are recognised anywhere: a source block can follow any other block.
    if let Some(rest) = line
        .strip_prefix("metadata sync")
        .filter(|r| r.is_empty() || r.starts_with(' '))
    {
        *block = Block::Metadata;
        let md = st.metadata.insert(MetadataSync::default());
        let rest = rest.trim();
        // The first entry of the block shares the `metadata sync` line (tab_dump).
        return match rest {
            "" => true,
            "no sync (zone is master)" => {
                md.is_master = true;
                true
            }
            _ => md.progress.apply(rest),
        };
    }
    let source = line
        .strip_prefix("data sync source:")
        .or_else(|| line.strip_prefix("source:"));
    if let Some(rest) = source {
        return match split_id_name(rest) {
            Some((id, name)) if !id.is_empty() => {
                *block = Block::Source;
                st.sources.push(DataSource {
                    id: id.to_string(),
                    name: name.map(String::from),
                    progress: ShardProgress::default(),
                });
                true
            }
            _ => false,
        };
    }
    match block {
        Block::Header => parse_header(st, line),
        Block::Metadata => match &mut st.metadata {
            Some(md) if line == "no sync (zone is master)" => {
                md.is_master = true;
                true
            }
            Some(md) => md.progress.apply(line),
            None => false,
        },
        Block::Source => match st.sources.last_mut() {
            Some(src) => src.progress.apply(line),
            None => false,
        },
    }
}

fn parse_header(st: &mut SyncStatus, line: &str) -> bool {
    // Before `zonegroup `: this line starts with the same word.
    if let Some(rest) = line.strip_prefix("zonegroup features enabled:") {
        st.features_enabled = Some(features(rest));
        return true;
    }
    if let Some(rest) = line.strip_prefix("disabled:") {
        st.features_disabled = Some(features(rest));
        return true;
    }
    if let Some(rest) = line.strip_prefix("current time ") {
        return match parse_ceph_time(rest) {
            Some(t) => {
                st.current_time = Some(t);
                true
            }
            None => false,
        };
    }
    let slots = [
        ("realm ", &mut st.realm),
        ("zonegroup ", &mut st.zonegroup),
        ("zone ", &mut st.zone),
    ];
    for (prefix, slot) in slots {
        if let Some(rest) = line.strip_prefix(prefix).or_else(|| {
            // `realm  ()` trims to `realm  ()`; a bare `realm` is a truncated header.
            (line == prefix.trim_end()).then_some("")
        }) {
            return match NamedId::parse(rest) {
                Some(id) => {
                    *slot = Some(id);
                    true
                }
                None => false,
            };
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::{hand_fixture, truncations, GARBAGE};
    use super::*;

    fn nid(id: &str, name: &str) -> Option<NamedId> {
        Some(NamedId {
            id: id.into(),
            name: name.into(),
        })
    }

    fn caught_up(total: u32) -> ShardProgress {
        ShardProgress {
            status: Some("syncing".into()),
            full: Some((0, total)),
            incremental: Some((total, total)),
            caught_up_line: true,
            ..ShardProgress::default()
        }
    }

    fn parse(s: &str) -> SyncStatus {
        match parse_sync_status(s) {
            Ok(v) => v,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    #[test]
    fn pacific_secondary() {
        let st = parse(hand_fixture!("sync-status/pacific-lab-secondary.stdout"));
        assert_eq!(
            st,
            SyncStatus {
                realm: nid("89cb53b0-e12e-4a1a-8215-5f72eb02bc9f", "lab"),
                zonegroup: nid("ab22bcdf-acaf-4585-bf56-c4a51dc12665", "zg1"),
                zone: nid("e9bfab5d-a530-4a65-af46-832ad0a0f78e", "us-west"),
                metadata: Some(MetadataSync {
                    is_master: false,
                    progress: caught_up(8),
                }),
                sources: vec![DataSource {
                    id: "d91e8247-e7d0-4011-8972-3546d935f2b9".into(),
                    name: Some("us-east".into()),
                    progress: caught_up(8),
                }],
                ..SyncStatus::default()
            }
        );
        assert_eq!(st.metadata.map(|m| m.health()), Some(Health::CaughtUp));
        assert_eq!(
            st.sources
                .iter()
                .map(DataSource::health)
                .collect::<Vec<_>>(),
            vec![Health::CaughtUp]
        );
    }

    #[test]
    fn pacific_master() {
        let st = parse(hand_fixture!("sync-status/pacific-lab-master.stdout"));
        assert_eq!(
            st,
            SyncStatus {
                realm: nid("89cb53b0-e12e-4a1a-8215-5f72eb02bc9f", "lab"),
                zonegroup: nid("ab22bcdf-acaf-4585-bf56-c4a51dc12665", "zg1"),
                zone: nid("d91e8247-e7d0-4011-8972-3546d935f2b9", "us-east"),
                metadata: Some(MetadataSync {
                    is_master: true,
                    progress: ShardProgress::default(),
                }),
                sources: vec![DataSource {
                    id: "e9bfab5d-a530-4a65-af46-832ad0a0f78e".into(),
                    name: Some("us-west".into()),
                    progress: caught_up(8),
                }],
                ..SyncStatus::default()
            }
        );
        assert_eq!(st.metadata.map(|m| m.health()), Some(Health::NotSyncing));
    }

    #[test]
    fn reef_master_with_current_time_and_features() {
        let st = parse(hand_fixture!("sync-status/reef-blog-master.stdout"));
        assert_eq!(
            st,
            SyncStatus {
                realm: nid("beeea955-8341-41cc-a046-46de2d5ddeb9", "multisite"),
                zonegroup: nid("2761ad42-fd71-4170-87c6-74c20dd1e334", "multizg"),
                zone: nid("66df8c0a-c67d-4bd7-9975-bc02a549f13e", "zone1"),
                current_time: Some(1_704_495_077.0),
                features_enabled: Some(vec!["resharding".into()]),
                features_disabled: Some(vec!["compress-encrypted".into()]),
                metadata: Some(MetadataSync {
                    is_master: true,
                    progress: ShardProgress::default(),
                }),
                sources: vec![DataSource {
                    id: "7b9273a9-eb59-413d-a465-3029664c73d7".into(),
                    name: Some("zone2".into()),
                    progress: caught_up(128),
                }],
                ..SyncStatus::default()
            }
        );
    }

    #[test]
    fn reef_archive_zone_not_syncing_from_sources() {
        let st = parse(hand_fixture!("sync-status/reef-blog-archive.stdout"));
        let not_syncing = ShardProgress {
            not_syncing: true,
            ..ShardProgress::default()
        };
        assert_eq!(
            st,
            SyncStatus {
                realm: nid("beeea955-8341-41cc-a046-46de2d5ddeb9", "multisite"),
                zonegroup: nid("2761ad42-fd71-4170-87c6-74c20dd1e334", "multizg"),
                zone: nid("bac4e4d7-c568-4676-a64c-f375014620ae", "archive"),
                current_time: Some(1_707_758_364.0),
                features_enabled: Some(vec!["resharding".into()]),
                features_disabled: Some(vec!["compress-encrypted".into()]),
                metadata: Some(MetadataSync {
                    is_master: false,
                    progress: caught_up(64),
                }),
                sources: vec![
                    DataSource {
                        id: "66df8c0a-c67d-4bd7-9975-bc02a549f13e".into(),
                        name: Some("zone1".into()),
                        progress: not_syncing.clone(),
                    },
                    DataSource {
                        id: "7b9273a9-eb59-413d-a465-3029664c73d7".into(),
                        name: Some("zone2".into()),
                        progress: not_syncing,
                    },
                ],
                ..SyncStatus::default()
            }
        );
        assert!(st.sources.iter().all(|s| s.health() == Health::NotSyncing));
    }

    #[test]
    fn behind_with_oldest_change_and_no_header() {
        let st = parse(hand_fixture!("sync-status/reef-gofixture-behind.stdout"));
        assert_eq!(
            st,
            SyncStatus {
                metadata: Some(MetadataSync {
                    is_master: true,
                    progress: ShardProgress::default(),
                }),
                sources: vec![DataSource {
                    id: "362d9d90-1151-41a0-80aa-e8aa6d036730".into(),
                    name: Some("openstack-store-backup".into()),
                    progress: ShardProgress {
                        full: Some((0, 128)),
                        incremental: Some((128, 128)),
                        behind_count: Some(1),
                        behind_shards: vec![71],
                        oldest_change: Some((1_713_445_744.446_175, 71)),
                        ..ShardProgress::default()
                    },
                }],
                ..SyncStatus::default()
            }
        );
        assert_eq!(
            st.sources.first().map(DataSource::health),
            Some(Health::Behind)
        );
    }

    #[test]
    fn errors_dropped_lines_and_log_lines() {
        let st = parse(hand_fixture!("sync-status/reef-gofixture-errors.stdout"));
        assert_eq!(
            st,
            SyncStatus {
                features_enabled: Some(vec!["resharding".into()]),
                features_disabled: Some(vec!["compress-encrypted".into()]),
                metadata: Some(MetadataSync {
                    is_master: false,
                    progress: ShardProgress {
                        status: Some("syncing".into()),
                        full: Some((0, 64)),
                        error: Some(
                            "failed to fetch master sync status: (5) Input/output error".into()
                        ),
                        ..ShardProgress::default()
                    },
                }),
                sources: vec![DataSource {
                    id: "4abcf593-157b-46bb-8209-0f8f7f5a7e8e".into(),
                    name: Some("openstack-store".into()),
                    progress: ShardProgress {
                        error: Some("failed to retrieve sync info: (5) Input/output error".into()),
                        ..ShardProgress::default()
                    },
                }],
                log_lines: 2,
                ..SyncStatus::default()
            }
        );
        assert_eq!(
            st.metadata.map(|m| m.health()),
            Some(Health::Unknown("error reported"))
        );
    }

    #[test]
    fn source_without_name_and_header_without_realm() {
        // Downstream output quoted in formats doc §2.4, under a single-site header (§2.2).
        let out = "          realm  ()\n\
                   \x20     zonegroup 1 (default)\n\
                   \x20          zone 2 (default)\n\
                   zonegroup features enabled: \n\
                   \x20 metadata sync no sync (zone is master)\n\
                   \x20     data sync source: 54b35f32-9a02-4af9-8af4-b3bbc2072a19\n\
                   \x20                       not syncing from zone\n";
        assert_eq!(
            parse(out),
            SyncStatus {
                realm: nid("", ""),
                zonegroup: nid("1", "default"),
                zone: nid("2", "default"),
                features_enabled: Some(vec![]),
                metadata: Some(MetadataSync {
                    is_master: true,
                    progress: ShardProgress::default(),
                }),
                sources: vec![DataSource {
                    id: "54b35f32-9a02-4af9-8af4-b3bbc2072a19".into(),
                    name: None,
                    progress: ShardProgress {
                        not_syncing: true,
                        ..ShardProgress::default()
                    },
                }],
                ..SyncStatus::default()
            }
        );
    }

    #[test]
    fn init_with_zero_shards_is_not_caught_up() {
        // §2.5(c): no status object yet prints "caught up".
        let out = "      data sync source: z1 (a)\n\
                   \x20                       init\n\
                   \x20                       full sync: 0/0 shards\n\
                   \x20                       incremental sync: 0/0 shards\n\
                   \x20                       data is caught up with source\n";
        let st = parse(out);
        let progress = ShardProgress {
            status: Some("init".into()),
            full: Some((0, 0)),
            incremental: Some((0, 0)),
            caught_up_line: true,
            ..ShardProgress::default()
        };
        assert_eq!(
            st.sources,
            vec![DataSource {
                id: "z1".into(),
                name: Some("a".into()),
                progress: progress.clone(),
            }]
        );
        assert_eq!(
            progress.health(),
            Health::Unknown("caught-up line without status syncing")
        );
        let zero = ShardProgress {
            status: Some("syncing".into()),
            ..progress
        };
        assert_eq!(
            zero.health(),
            Health::Unknown("caught-up line with zero shards")
        );
    }

    #[test]
    fn block_cut_short_is_unknown() {
        // §2.5(a): `failed to fetch source sync status` is never printed; the block ends
        // after `incremental sync`.
        let out = "      data sync source: z1 (a)\n\
                   \x20                       syncing\n\
                   \x20                       full sync: 0/8 shards\n\
                   \x20                       incremental sync: 8/8 shards\n\
                   \x20               source: z2 (b)\n";
        let st = parse(out);
        assert_eq!(
            st.sources
                .iter()
                .map(|s| (s.id.as_str(), s.health()))
                .collect::<Vec<_>>(),
            vec![
                (
                    "z1",
                    Health::Unknown("block ended without a caught-up or behind line")
                ),
                (
                    "z2",
                    Health::Unknown("block ended without a caught-up or behind line")
                ),
            ]
        );
    }

    #[test]
    fn full_sync_recovering_and_period_mismatch() {
        let out = "  metadata sync preparing for full sync\n\
                   \x20               full sync: 3/8 shards\n\
                   \x20               full sync: 120 entries to sync\n\
                   \x20               master is on a different period: master_period=p2 local_period=p1\n\
                   \x20               incremental sync: 5/8 shards\n\
                   \x20               metadata is behind on 3 shards\n\
                   \x20               behind shards: [0,1,2]\n\
                   \x20     data sync source: z1 (a)\n\
                   \x20                       syncing\n\
                   \x20                       full sync: 1/4 shards\n\
                   \x20                       full sync: 17 buckets to sync\n\
                   \x20                       incremental sync: 3/4 shards\n\
                   \x20                       data is behind on 2 shards\n\
                   \x20                       behind shards: [0,3]\n\
                   \x20                       oldest incremental change not applied: 2024-04-18T15:09:04.446175+0200 [3]\n\
                   \x20                       3 shards are recovering\n\
                   \x20                       recovering shards: [0,1,2]\n";
        let st = parse(out);
        assert_eq!(
            st,
            SyncStatus {
                metadata: Some(MetadataSync {
                    is_master: false,
                    progress: ShardProgress {
                        status: Some("preparing for full sync".into()),
                        full: Some((3, 8)),
                        full_remaining: Some(120),
                        incremental: Some((5, 8)),
                        behind_count: Some(3),
                        behind_shards: vec![0, 1, 2],
                        error: Some(
                            "master is on a different period: master_period=p2 local_period=p1"
                                .into()
                        ),
                        ..ShardProgress::default()
                    },
                }),
                sources: vec![DataSource {
                    id: "z1".into(),
                    name: Some("a".into()),
                    progress: ShardProgress {
                        status: Some("syncing".into()),
                        full: Some((1, 4)),
                        full_remaining: Some(17),
                        incremental: Some((3, 4)),
                        behind_count: Some(2),
                        behind_shards: vec![0, 3],
                        oldest_change: Some((1_713_445_744.446_175, 3)),
                        recovering_count: Some(3),
                        recovering_shards: vec![0, 1, 2],
                        ..ShardProgress::default()
                    },
                }],
                ..SyncStatus::default()
            }
        );
        assert_eq!(
            st.sources.first().map(DataSource::health),
            Some(Health::Behind)
        );
    }

    #[test]
    fn recovering_only_is_behind() {
        let p = ShardProgress {
            recovering_count: Some(1),
            recovering_shards: vec![5],
            ..caught_up(8)
        };
        assert_eq!(p.health(), Health::Behind);
    }

    #[test]
    fn metadata_errors_on_first_line() {
        let out = "  metadata sync failed to read sync status: (2) No such file or directory\n";
        assert_eq!(
            parse(out).metadata,
            Some(MetadataSync {
                is_master: false,
                progress: ShardProgress {
                    error: Some("failed to read sync status: (2) No such file or directory".into()),
                    ..ShardProgress::default()
                },
            })
        );
    }

    #[test]
    fn unknown_lines_are_kept() {
        let out = "           zone z (n)\n  something new in Ceph 21\n  metadata sync syncing\n\
                   \x20               brand new metric: 4\n";
        let st = parse(out);
        assert_eq!(
            st.skipped,
            vec![
                "something new in Ceph 21".to_string(),
                "brand new metric: 4".into()
            ]
        );
    }

    #[test]
    fn empty_and_unrecognised() {
        assert_eq!(parse_sync_status(""), Err(ParseError::Empty));
        assert_eq!(parse_sync_status("  \n\n"), Err(ParseError::Empty));
        assert_eq!(
            parse_sync_status("2024-04-18T13:12:53.953+0000 7fbd8c6ba880  0 ERROR: x\n"),
            Err(ParseError::Malformed(
                "no sync status line recognised (0 skipped, 1 log lines); first: \"\"".into()
            ))
        );
        assert_eq!(
            parse_sync_status("hello\n"),
            Err(ParseError::Malformed(
                "no sync status line recognised (1 skipped, 0 log lines); first: \"hello\"".into()
            ))
        );
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        let all = [
            hand_fixture!("sync-status/pacific-lab-secondary.stdout"),
            hand_fixture!("sync-status/pacific-lab-master.stdout"),
            hand_fixture!("sync-status/reef-blog-master.stdout"),
            hand_fixture!("sync-status/reef-blog-archive.stdout"),
            hand_fixture!("sync-status/reef-gofixture-behind.stdout"),
            hand_fixture!("sync-status/reef-gofixture-errors.stdout"),
        ];
        for input in all
            .iter()
            .flat_map(|s| truncations(s))
            .chain(GARBAGE.iter().copied())
        {
            if let Ok(st) = parse_sync_status(input) {
                let _ = st.metadata.map(|m| m.health());
                for s in &st.sources {
                    let _ = s.health();
                }
            }
        }
        // A cut mid-block never turns into "caught up".
        let full = hand_fixture!("sync-status/pacific-lab-secondary.stdout");
        for cut in truncations(full) {
            if cut.len() < full.trim_end().len() {
                if let Ok(st) = parse_sync_status(cut) {
                    assert!(
                        st.sources.iter().all(|s| s.health() != Health::CaughtUp),
                        "{cut:?}"
                    );
                }
            }
        }
    }
}
