//! Tests over every real capture in `tests/fixtures/radosgw-admin/<release>-<scenario>/`.
//!
//! Directories are discovered at run time, so a new capture (another release or fault) is
//! covered without editing this file. Layout (written by `lab/capture`): `<slug>.stdout`,
//! `<slug>.stderr`, `<slug>.rc` and `commands.tsv` with `<slug>\t<argv key>` lines; the key
//! picks the parser.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

pub(super) fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/radosgw-admin")
}

pub(super) struct Capture {
    pub dir: String,
    pub slug: String,
    pub key: String,
    pub rc: Option<i32>,
    pub stdout: String,
}

/// Every capture of every `<release>-<scenario>` directory (not `hand/`).
pub(super) fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(fixture_root()) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("commands.tsv").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tsv = fs::read_to_string(dir.join("commands.tsv")).unwrap_or_default();
        for line in tsv.lines() {
            let Some((slug, key)) = line.split_once('\t') else {
                continue;
            };
            let read = |ext: &str| fs::read(dir.join(format!("{slug}.{ext}"))).ok();
            let Some(stdout) = read("stdout") else {
                continue;
            };
            out.push(Capture {
                dir: name.clone(),
                slug: slug.to_string(),
                key: key.to_string(),
                rc: read("rc").and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok()),
                // The runner decodes lossily too; invalid UTF-8 must not abort the sweep.
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
            });
        }
    }
    out
}

/// Runs the parser for a command key; `None` for commands no parser covers. `Ok` holds the
/// lines the parser skipped (always empty for the JSON parsers).
pub(super) fn parse_for(key: &str, stdout: &str) -> Option<Result<Vec<String>, ParseError>> {
    let words: Vec<&str> = key
        .split_whitespace()
        .take_while(|w| !w.starts_with("--"))
        .collect();
    let has = |opt: &str| key.split_whitespace().any(|w| w.starts_with(opt));
    let none = |r: Result<(), ParseError>| r.map(|()| Vec::new());
    Some(match words.as_slice() {
        ["sync", "status"] => parse_sync_status(stdout).map(|s| s.skipped),
        ["bucket", "sync", "status"] => parse_bucket_sync_status(stdout).map(|s| s.skipped),
        ["sync", "error", "list"] => none(parse_sync_error_list(stdout).map(|_| ())),
        ["data", "sync", "status"] if has("--shard-id") => {
            none(parse_data_sync_shard(stdout).map(|_| ()))
        }
        ["data", "sync", "status"] => none(parse_data_sync_status(stdout).map(|_| ())),
        ["bucket", "stats"] => none(parse_bucket_stats(stdout).map(|_| ())),
        ["period", "get"] => none(parse_period(stdout).map(|_| ())),
        ["zonegroup", "get"] => none(parse_zonegroup(stdout).map(|_| ())),
        ["sync", "info"] => none(parse_sync_info(stdout).map(|_| ())),
        ["bucket", "sync", "info"] => {
            let _ = parse_bucket_sync_info_disabled(stdout);
            Ok(Vec::new())
        }
        _ => return None,
    })
}

#[test]
fn every_capture_parses_without_skipped_lines() {
    let mut problems = Vec::new();
    let all = captures();
    // A renamed file or a new key spelling must not turn this test into a no-op.
    let covered = all
        .iter()
        .filter(|c| parse_for(&c.key, "").is_some())
        .count();
    assert!(
        all.is_empty() || covered > 0,
        "captures found but none has a parser"
    );
    for c in all {
        let Some(result) = parse_for(&c.key, &c.stdout) else {
            continue;
        };
        // Failing commands print nothing (or a partial text) on stdout; only a successful
        // command's non-empty output has to parse, and completely.
        if c.rc != Some(0) || c.stdout.trim().is_empty() {
            continue;
        }
        match result {
            Ok(skipped) if skipped.is_empty() => {}
            Ok(skipped) => problems.push(format!("{}/{}: skipped {skipped:?}", c.dir, c.slug)),
            Err(e) => problems.push(format!("{}/{}: {e}", c.dir, c.slug)),
        }
    }
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn truncated_captures_never_panic() {
    for c in captures() {
        for cut in truncations(&c.stdout) {
            let _ = parse_for(&c.key, cut);
        }
    }
}

// Whole values of a few captures, one per behaviour the exporters depend on. All come from
// the one lab run documented in tests/fixtures/radosgw-admin/README.md (shared ids below).

macro_rules! capture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/radosgw-admin/",
            $path
        ))
    };
}

const EAST: &str = "0cf9c633-477d-4604-b6e6-afa354b4fd19";
const WEST: &str = "18177aa5-52f4-485e-a31f-327924966407";

fn lab_header(zone_id: &str, zone: &str) -> SyncStatus {
    SyncStatus {
        realm: Some(NamedId {
            id: "c9bb48ae-7003-467c-b2c3-433cc562c3ad".into(),
            name: "lab".into(),
        }),
        zonegroup: Some(NamedId {
            id: "4427692b-b054-43ff-9be9-2c626e17d0e9".into(),
            name: "zg1".into(),
        }),
        zone: Some(NamedId {
            id: zone_id.into(),
            name: zone.into(),
        }),
        ..SyncStatus::default()
    }
}

fn ok<T>(r: Result<T, ParseError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("parse failed: {e}"),
    }
}

#[test]
fn capture_sync_status_behind() {
    let st = ok(parse_sync_status(capture!(
        "pacific-behind/sync-status--rgw-zone=us-west.stdout"
    )));
    assert_eq!(
        st,
        SyncStatus {
            metadata: Some(MetadataSync {
                is_master: false,
                progress: ShardProgress {
                    status: Some("syncing".into()),
                    full: Some((0, 8)),
                    incremental: Some((8, 8)),
                    behind_count: Some(2),
                    behind_shards: vec![6, 7],
                    oldest_change: Some((1_795_306_375.023_686, 6)),
                    ..ShardProgress::default()
                },
            }),
            sources: vec![DataSource {
                id: EAST.into(),
                name: Some("us-east".into()),
                progress: ShardProgress {
                    status: Some("syncing".into()),
                    full: Some((0, 8)),
                    incremental: Some((8, 8)),
                    behind_count: Some(8),
                    behind_shards: vec![0, 1, 2, 3, 4, 5, 6, 7],
                    oldest_change: Some((1_795_306_374.256_515, 3)),
                    ..ShardProgress::default()
                },
            }],
            ..lab_header(WEST, "us-west")
        }
    );
    assert_eq!(st.metadata.map(|m| m.health()), Some(Health::Behind));
    assert_eq!(
        st.sources.first().map(DataSource::health),
        Some(Health::Behind)
    );
}

#[test]
fn capture_sync_status_master_unreachable_drops_incremental_line() {
    let st = ok(parse_sync_status(capture!(
        "pacific-master-view/sync-status--rgw-zone=us-west.stdout"
    )));
    assert_eq!(
        st,
        SyncStatus {
            metadata: Some(MetadataSync {
                is_master: false,
                progress: ShardProgress {
                    status: Some("syncing".into()),
                    full: Some((0, 8)),
                    error: Some(
                        "failed to fetch master sync status: (5) Input/output error".into()
                    ),
                    ..ShardProgress::default()
                },
            }),
            sources: vec![DataSource {
                id: EAST.into(),
                name: Some("us-east".into()),
                progress: ShardProgress {
                    error: Some("failed to retrieve sync info: (5) Input/output error".into()),
                    ..ShardProgress::default()
                },
            }],
            ..lab_header(WEST, "us-west")
        }
    );
}

#[test]
fn capture_sync_status_master_without_status_object_is_not_caught_up() {
    let st = ok(parse_sync_status(capture!(
        "pacific-caught-up/sync-status--rgw-zone=us-east.stdout"
    )));
    assert_eq!(
        st,
        SyncStatus {
            metadata: Some(MetadataSync {
                is_master: true,
                progress: ShardProgress::default(),
            }),
            sources: vec![DataSource {
                id: WEST.into(),
                name: Some("us-west".into()),
                progress: ShardProgress {
                    status: Some("init".into()),
                    full: Some((0, 0)),
                    incremental: Some((0, 0)),
                    caught_up_line: true,
                    ..ShardProgress::default()
                },
            }],
            ..lab_header(EAST, "us-east")
        }
    );
    assert_eq!(
        st.sources.first().map(DataSource::health),
        Some(Health::Unknown("caught-up line without status syncing"))
    );
}

#[test]
fn capture_sync_status_recovering_only() {
    let st = ok(parse_sync_status(capture!(
        "pacific-recovering/sync-status--rgw-zone=us-west.stdout"
    )));
    let source = st.sources.first().cloned().unwrap_or_default();
    assert_eq!(
        source,
        DataSource {
            id: EAST.into(),
            name: Some("us-east".into()),
            progress: ShardProgress {
                status: Some("syncing".into()),
                full: Some((0, 8)),
                incremental: Some((8, 8)),
                recovering_count: Some(5),
                recovering_shards: vec![1, 3, 5, 6, 7],
                ..ShardProgress::default()
            },
        }
    );
    assert_eq!(source.health(), Health::Behind);
    assert_eq!(st.metadata.map(|m| m.health()), Some(Health::CaughtUp));
}

fn lab_bucket(name: &str, instance: &str) -> Option<BucketRef> {
    Some(BucketRef {
        tenant: String::new(),
        name: name.into(),
        instance_id: format!("{EAST}.{instance}"),
    })
}

fn lab_bucket_status(zone_id: &str, zone: &str, bucket: Option<BucketRef>) -> BucketSyncStatus {
    let h = lab_header(zone_id, zone);
    BucketSyncStatus {
        realm: h.realm,
        zonegroup: h.zonegroup,
        zone: h.zone,
        bucket,
        ..BucketSyncStatus::default()
    }
}

#[test]
fn capture_bucket_full_sync() {
    let st = ok(parse_bucket_sync_status(capture!(
        "pacific-full-sync/bucket-sync-status--bucket=bigbucket--rgw-zone=us-west--source-zone=us-east.stdout"
    )));
    let bigbucket = lab_bucket("bigbucket", "5514.4");
    assert_eq!(
        st,
        BucketSyncStatus {
            sources: vec![BucketSource {
                zone_id: EAST.into(),
                zone_name: Some("us-east".into()),
                source_bucket: bigbucket.clone(),
                state: BucketSourceState::FullSync,
                full_shards: Some((11, 11)),
                incremental_shards: Some((0, 11)),
                total_shards: Some(11),
                full_objects_completed: Some(1009),
                behind_count: Some(11),
                behind_shards: (0..11).collect(),
                ..BucketSource::default()
            }],
            ..lab_bucket_status(WEST, "us-west", bigbucket)
        }
    );
    assert_eq!(
        st.sources.first().and_then(BucketSource::caught_up),
        Some(false)
    );
}

#[test]
fn capture_bucket_caught_up_line_with_init_shards() {
    // Healthy bucket (10 = 10 objects): two index shards never got a write and stay init.
    let healthy = ok(parse_bucket_sync_status(capture!(
        "pacific-caught-up/bucket-sync-status--bucket=bucket-1--rgw-zone=us-west--source-zone=us-east.stdout"
    )));
    // Same text while the replica misses 5 of 20 objects (silent gap).
    let gap = ok(parse_bucket_sync_status(capture!(
        "pacific-silent-gap/bucket-sync-status--bucket=gapbucket--rgw-zone=us-west--source-zone=us-east.stdout"
    )));
    let source = |b: Option<BucketRef>| BucketSource {
        zone_id: EAST.into(),
        zone_name: Some("us-east".into()),
        source_bucket: b,
        state: BucketSourceState::Incremental,
        full_shards: Some((0, 11)),
        incremental_shards: Some((9, 11)),
        total_shards: Some(11),
        caught_up_line: true,
        ..BucketSource::default()
    };
    let bucket_1 = lab_bucket("bucket-1", "4167.1");
    let gapbucket = lab_bucket("gapbucket", "5514.5");
    assert_eq!(
        healthy,
        BucketSyncStatus {
            sources: vec![source(bucket_1.clone())],
            ..lab_bucket_status(WEST, "us-west", bucket_1)
        }
    );
    assert_eq!(
        gap,
        BucketSyncStatus {
            sources: vec![source(gapbucket.clone())],
            ..lab_bucket_status(WEST, "us-west", gapbucket)
        }
    );
    // The text cannot tell them apart: both read as caught up here, and the master's
    // object-count comparison (exporter) is what catches the gap.
    for st in [&healthy, &gap] {
        let src = st.sources.first();
        assert_eq!(src.and_then(BucketSource::caught_up), Some(true));
        assert_eq!(src.and_then(BucketSource::init_shards), Some(2));
    }
}

#[test]
fn capture_bucket_block_cut_short_by_unreachable_source() {
    // us-east pulling from the stopped us-west: local counts, then nothing.
    let st = ok(parse_bucket_sync_status(capture!(
        "pacific-behind/bucket-sync-status--bucket=bucket-1--rgw-zone=us-east--source-zone=us-west.stdout"
    )));
    let bucket_1 = lab_bucket("bucket-1", "4167.1");
    assert_eq!(
        st,
        BucketSyncStatus {
            sources: vec![BucketSource {
                zone_id: WEST.into(),
                zone_name: Some("us-west".into()),
                source_bucket: bucket_1.clone(),
                state: BucketSourceState::Incremental,
                full_shards: Some((0, 11)),
                incremental_shards: Some((11, 11)),
                total_shards: Some(11),
                ..BucketSource::default()
            }],
            ..lab_bucket_status(EAST, "us-east", bucket_1)
        }
    );
    assert_eq!(st.sources.first().and_then(BucketSource::caught_up), None);
}

#[test]
fn capture_data_sync_shard_recovering_buckets() {
    let shard = ok(parse_data_sync_shard(capture!(
        "pacific-recovering/data-sync-status--rgw-zone=us-west--shard-id=5--source-zone=us-east.stdout"
    )));
    let errbucket = |shard: u32| BucketShardRef {
        tenant: String::new(),
        bucket: "errbucket".into(),
        instance_id: format!("{EAST}.5514.6"),
        shard: Some(shard),
        generation: None,
        raw: format!("errbucket:{EAST}.5514.6:{shard}"),
    };
    assert_eq!(
        shard,
        DataSyncShard {
            shard_id: 5,
            marker_status: Some("incremental-sync".into()),
            marker_timestamp: Some(1_795_306_597.084_162),
            pending_buckets: vec![],
            recovering_buckets: vec![errbucket(1), errbucket(9)],
            current_time: None,
        }
    );
}

#[test]
fn capture_sync_error_object_entry() {
    let shards = ok(parse_sync_error_list(capture!(
        "pacific-recovering/sync-error-list--max-entries=1000--rgw-zone=us-west--shard-id=1.stdout"
    )));
    let entry = SyncErrorEntry {
        id: "1_1795306608.436500_448.1".into(),
        section: "data".into(),
        name: format!("errbucket:{EAST}.5514.6:10/inj-001626-014"),
        timestamp: Some(1_795_306_608.436_5),
        source_zone: EAST.into(),
        error_code: 5,
        message: "failed to sync object(5) Input/output error".into(),
    };
    assert_eq!(entry.bucket(), Some("errbucket".into()));
    assert_eq!(
        shards,
        vec![SyncErrorShard {
            shard_id: 1,
            entries: vec![entry],
        }]
    );
}

#[test]
fn capture_bucket_stats_silent_gap() {
    let gap = |objects, size_bytes| BucketStats {
        bucket: "gapbucket".into(),
        tenant: String::new(),
        id: format!("{EAST}.5514.5"),
        marker: format!("{EAST}.5514.5"),
        zonegroup: "4427692b-b054-43ff-9be9-2c626e17d0e9".into(),
        num_shards: Some(11),
        objects,
        size_bytes,
        has_usage: true,
    };
    assert_eq!(
        parse_bucket_stats(capture!(
            "pacific-silent-gap/bucket-stats--bucket=gapbucket--rgw-zone=us-east.stdout"
        )),
        Ok(vec![gap(20, 45_355)])
    );
    assert_eq!(
        parse_bucket_stats(capture!(
            "pacific-silent-gap/bucket-stats--bucket=gapbucket--rgw-zone=us-west.stdout"
        )),
        Ok(vec![gap(15, 32_804)])
    );
}

#[test]
fn capture_period() {
    let p = ok(parse_period(capture!(
        "pacific-caught-up/period-get--rgw-zone=us-west.stdout"
    )));
    let zone = |id: &str, name: &str, endpoint: &str| Zone {
        id: id.into(),
        name: name.into(),
        endpoints: vec![endpoint.into()],
        tier_type: String::new(),
        sync_from_all: true,
        sync_from: vec![],
        read_only: false,
    };
    assert_eq!(
        p,
        Period {
            id: "ddac349d-2d10-4ad0-9a8a-c3176b3b86f3".into(),
            epoch: 2,
            realm_id: "c9bb48ae-7003-467c-b2c3-433cc562c3ad".into(),
            realm_name: Some("lab".into()),
            master_zonegroup: "4427692b-b054-43ff-9be9-2c626e17d0e9".into(),
            master_zone: EAST.into(),
            zonegroups: vec![ZoneGroup {
                id: "4427692b-b054-43ff-9be9-2c626e17d0e9".into(),
                name: "zg1".into(),
                is_master: true,
                master_zone: EAST.into(),
                endpoints: vec!["http://127.0.0.1:8001".into()],
                zones: vec![
                    zone(EAST, "us-east", "http://127.0.0.1:8001"),
                    zone(WEST, "us-west", "http://127.0.0.1:8002"),
                ],
            }],
        }
    );
    assert_eq!(p.zone_name(WEST), Some("us-west"));
    assert_eq!(
        p.data_sync_sources(WEST)
            .iter()
            .map(|z| z.name.as_str())
            .collect::<Vec<_>>(),
        vec!["us-east"]
    );
}
