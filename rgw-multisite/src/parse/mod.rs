//! Pure parsers for `radosgw-admin` output, one module per command.
//!
//! Every parser takes stdout as `&str` and returns a typed value in base units (unix seconds,
//! bytes). They never panic on outside data: lines they do not understand are kept in a
//! `skipped` field, interleaved Ceph log lines are counted in `log_lines`, and the formats of
//! Ceph 16 (Pacific) through 20 (Tentacle) are accepted side by side
//! (`/work/shared/radosgw-admin-formats.md` is the reference for every branch below).

pub mod bucket_list;
pub mod bucket_stats;
pub mod bucket_sync_status;
pub mod common;
pub mod data_sync_status;
pub mod period;
pub mod sync_errors;
pub mod sync_info;
pub mod sync_status;

#[cfg(test)]
mod captures;

pub use bucket_list::parse_bucket_list;
pub use bucket_stats::{parse_bucket_stats, BucketStats};
pub use bucket_sync_status::{
    parse_bucket_sync_status, BucketRef, BucketSource, BucketSourceState, BucketSyncStatus,
};
pub use common::{is_log_line, json_bool, parse_ceph_time, parse_shard_set, NamedId};
pub use data_sync_status::{
    parse_data_sync_shard, parse_data_sync_status, BucketShardRef, DataSyncMarker, DataSyncShard,
    DataSyncStatus,
};
pub use period::{parse_period, parse_zonegroup, Period, Zone, ZoneGroup};
pub use sync_errors::{
    bucket_of_error_name, parse_sync_error_list, SyncErrorEntry, SyncErrorShard,
};
pub use sync_info::{parse_bucket_sync_info_disabled, parse_sync_info, SyncInfo, SyncPipe};
pub use sync_status::{
    parse_sync_status, DataSource, Health, MetadataSync, ShardProgress, SyncStatus,
};

/// Why a `radosgw-admin` output could not be turned into a value.
///
/// All variants map to the `parse` error kind at the collector boundary; the message is for
/// logs only (it may quote part of the output, so it must never become a label).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// stdout was empty or only whitespace (some failure paths print nothing and exit 0).
    #[error("empty output")]
    Empty,
    /// The output should have been JSON and was not (or not of the expected shape).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The output was text but none of it was recognised, or a required part was missing.
    #[error("malformed output: {0}")]
    Malformed(String),
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError::Json(e.to_string())
    }
}

/// Hand-written fixtures (quoted public sources, see their README) shared by the unit tests.
#[cfg(test)]
macro_rules! hand_fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/radosgw-admin/hand/",
            $path
        ))
    };
}
#[cfg(test)]
pub(crate) use hand_fixture;

/// Inputs cut short at every line boundary and at a few byte offsets: what a killed or
/// timed-out command leaves behind. Used by every module's "must not panic" sweep.
#[cfg(test)]
pub(crate) fn truncations(input: &str) -> Vec<&str> {
    let mut cuts: Vec<usize> = input.match_indices('\n').map(|(i, _)| i).collect();
    cuts.extend(
        [1usize, 2, 3, 5, 7, 11, 13, 17, 31, 64, 100, 257]
            .iter()
            .map(|n| input.len() * n / 263),
    );
    cuts.push(input.len());
    cuts.into_iter()
        .filter(|&i| input.is_char_boundary(i))
        .filter_map(|i| input.get(..i))
        .collect()
}

/// Garbage every parser must survive without panicking.
#[cfg(test)]
pub(crate) const GARBAGE: &[&str] = &[
    "",
    " ",
    "\n\n",
    "{",
    "}",
    "[",
    "[]",
    "{}",
    "null",
    "42",
    "\"string\"",
    "[{}]",
    "[null, 1, \"x\"]",
    "{\"shard_id\": -1}",
    "{\"id\": 7, \"epoch\": \"x\"}",
    "not json at all",
    "\u{0}\u{1}\u{7f}",
    "ünïcödé ✓ ( ) [ ] : /",
    "          realm",
    "  metadata sync",
    "      data sync source:",
    "source zone",
    "full sync: /",
    "full sync: 4294967296/1 shards",
    "behind shards: [1,,2",
    "oldest incremental change not applied: [",
    "bucket :[",
    "bucket ])",
    "2024-04-18T13:12:53.953+0000 7fbd8c6ba880  0 ERROR: failed to fetch mdlog info",
];
