//! Parser for `radosgw-admin bucket sync status`: Pacific/Quincy and Reef+ text, Tentacle JSON.
//!
//! Three generations (formats doc §3): 16/17 print per-shard counts (`full sync: X/Y shards`),
//! 18+ print one state line per source (`init:`, `stopped:`, `full sync: N objects
//! completed`, `incremental sync on N shards`), and 20 can print the same as JSON.

use serde::Deserialize;

use super::common::{
    excerpt, first_char, is_log_line, json_body, parse_ceph_time, parse_fraction, parse_shard_set,
    set_if, split_id_name, NamedId,
};
use super::ParseError;

/// Everything `bucket sync status` printed, as far as it was understood.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BucketSyncStatus {
    pub realm: Option<NamedId>,
    pub zonegroup: Option<NamedId>,
    pub zone: Option<NamedId>,
    pub bucket: Option<BucketRef>,
    /// `current time` (Reef+), unix seconds.
    pub current_time: Option<f64>,
    /// `Sync is disabled for bucket B or bucket has no sync sources`: nothing to pull.
    pub sync_disabled: bool,
    /// A bucket-level error printed on stdout (Tentacle: `Source zone not found in zonegroup
    /// ...`, `No connection to zone ...`, `ERROR: failed to get policy handler ...`).
    pub error: Option<String>,
    pub sources: Vec<BucketSource>,
    pub skipped: Vec<String>,
    pub log_lines: usize,
}

/// A bucket as printed by Ceph: `tenant:name[instance_id])` or `[tenant/]name:instance_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketRef {
    pub tenant: String,
    pub name: String,
    pub instance_id: String,
}

impl BucketRef {
    /// Parses `operator<<(rgw_bucket)` (`tenant:name[id])`, with Ceph's stray `)`, in every
    /// release) or `rgw_bucket::get_key()` (`[tenant/]name[:id]`, Pacific's `source bucket`).
    pub fn parse(s: &str) -> Option<BucketRef> {
        let s = s.trim();
        let bracketed = s.strip_suffix(')').unwrap_or(s);
        let (tenant, name, instance_id) =
            // Split from the right: instance ids hold neither `[` nor `:`, Swift-created
            // bucket names may hold both; tenants hold neither.
            match bracketed.strip_suffix(']').and_then(|b| b.rsplit_once('[')) {
                Some((head, id)) => match head.split_once(':') {
                    Some((tenant, name)) => (tenant, name, id),
                    None => ("", head, id),
                },
                None => {
                    let (tn, id) = s.rsplit_once(':').unwrap_or((s, ""));
                    let (tenant, name) = tn.split_once('/').unwrap_or(("", tn));
                    (tenant, name, id)
                }
            };
        if name.is_empty() {
            return None;
        }
        Some(BucketRef {
            tenant: tenant.to_string(),
            name: name.to_string(),
            instance_id: instance_id.to_string(),
        })
    }

    /// The `bucket` label value: `tenant/name`, or `name` without a tenant.
    pub fn key(&self) -> String {
        if self.tenant.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.tenant, self.name)
        }
    }
}

/// Where sync of one bucket from one source zone stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BucketSourceState {
    /// `init: bucket sync has not started`, or (16/17) every shard still in init.
    Init,
    /// `stopped: bucket sync is disabled`.
    Stopped,
    /// `full sync: N objects completed` (18+), or (16/17) a shard in full sync.
    FullSync,
    /// `incremental sync on N shards` (18+), or (16/17) shards in incremental sync.
    Incremental,
    /// `does not sync from zone`.
    DoesNotSync,
    /// An error line in the block (inline on Tentacle).
    Error,
    /// The block stopped before any state line (errors went to stderr on 16-19).
    #[default]
    Unknown,
}

/// One `source zone` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BucketSource {
    pub zone_id: String,
    pub zone_name: Option<String>,
    pub source_bucket: Option<BucketRef>,
    pub state: BucketSourceState,
    /// `full sync: X/Y shards` (16/17).
    pub full_shards: Option<(u32, u32)>,
    /// `incremental sync: X/Y shards` (16/17).
    pub incremental_shards: Option<(u32, u32)>,
    /// Y of the 16/17 lines, N of `incremental sync on N shards`, or JSON `total_shards`.
    pub total_shards: Option<u32>,
    /// `full sync: N objects completed`.
    pub full_objects_completed: Option<u64>,
    /// `bucket is behind on N shards` (JSON: length of `behind_shards`).
    pub behind_count: Option<u32>,
    pub behind_shards: Vec<u32>,
    /// `bucket is caught up with source` (JSON: `total_shards` with no behind shard).
    pub caught_up_line: bool,
    pub error: Option<String>,
}

impl BucketSource {
    /// `Some(true)` caught up, `Some(false)` not, `None` unknown or not applicable
    /// (`does not sync from zone`, `stopped`, an error, a block cut short).
    ///
    /// 16.2.15 prints "caught up" while a shard is still in init (`incremental sync: 10/11`
    /// with no shard in full sync, DESIGN.md): that is not caught up.
    ///
    /// Lag seen in the local status (a shard behind, in full sync or still in init) gives
    /// `Some(false)` even when the block was cut short: Ceph prints the local counts before
    /// it reads the source's log, and a failed read (source down) only hides whether the
    /// *rest* is caught up. `Some(true)` needs the caught-up line itself.
    pub fn caught_up(&self) -> Option<bool> {
        match self.state {
            BucketSourceState::Error
            | BucketSourceState::Unknown
            | BucketSourceState::DoesNotSync
            | BucketSourceState::Stopped => None,
            BucketSourceState::Init | BucketSourceState::FullSync => Some(false),
            BucketSourceState::Incremental => {
                if self.behind_count.is_some_and(|n| n > 0) || !self.behind_shards.is_empty() {
                    return Some(false);
                }
                // Shards still in `init` (incremental X/Y with X < Y) are NOT counted as
                // behind: on the lab's healthy cluster every small bucket shows them (index
                // shards that never took a write stay in init), with equal object counts. The
                // silent-gap case prints the same text, so only the master's object-count
                // comparison can tell the two apart; `init_shards()` is exported for that.
                if self.full_shards.is_some_and(|(n, _)| n > 0) {
                    return Some(false);
                }
                self.caught_up_line.then_some(true)
            }
        }
    }

    /// Shards counted in neither full nor incremental sync, i.e. still in `init` (16/17
    /// only; 18+ has no per-shard counts). The lab's healthy capture shows 2 of 11 such
    /// shards with the caught-up line and equal object counts: empty index shards stay in
    /// `init`, so callers may want to weigh this against object counts before alerting.
    pub fn init_shards(&self) -> Option<u32> {
        let (full, total) = self.full_shards?;
        let (inc, _) = self.incremental_shards?;
        Some(total.saturating_sub(full).saturating_sub(inc))
    }

    /// Applies one line of a source block (also used for Tentacle JSON `status`/`error`).
    fn apply(&mut self, line: &str) -> bool {
        match line {
            "does not sync from zone" => {
                self.state = BucketSourceState::DoesNotSync;
                return true;
            }
            "bucket is caught up with source" => {
                self.caught_up_line = true;
                return true;
            }
            _ => {}
        }
        if line.starts_with("init:") {
            self.state = BucketSourceState::Init;
            return true;
        }
        if line.starts_with("stopped:") {
            self.state = BucketSourceState::Stopped;
            return true;
        }
        if let Some(rest) = line.strip_prefix("source bucket ") {
            self.source_bucket = BucketRef::parse(rest);
            return self.source_bucket.is_some();
        }
        if let Some(rest) = line.strip_prefix("full sync: ") {
            if let Some(f) = rest.strip_suffix(" shards").and_then(parse_fraction) {
                self.full_shards = Some(f);
                self.total_shards = Some(f.1);
                return true;
            }
            if let Some(n) = rest
                .strip_suffix(" objects completed")
                .and_then(|n| n.trim().parse().ok())
            {
                self.full_objects_completed = Some(n);
                self.state = BucketSourceState::FullSync;
                return true;
            }
            return false;
        }
        if let Some(rest) = line.strip_prefix("incremental sync: ") {
            return match rest.strip_suffix(" shards").and_then(parse_fraction) {
                Some(f) => {
                    self.incremental_shards = Some(f);
                    self.total_shards = Some(f.1);
                    true
                }
                None => false,
            };
        }
        if let Some(rest) = line.strip_prefix("incremental sync on ") {
            return match rest
                .strip_suffix(" shards")
                .and_then(|n| n.trim().parse().ok())
            {
                Some(n) => {
                    self.total_shards = Some(n);
                    self.state = BucketSourceState::Incremental;
                    true
                }
                None => false,
            };
        }
        if let Some(rest) = line.strip_prefix("bucket is behind on ") {
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
        // Tentacle prints per-source errors inline (T20 bucket_source_sync_status):
        // `failed to read ...`, `bucket_source_sync_status (): missing source bucket`,
        // `unrecognized log layout type ...`.
        if line.starts_with("failed")
            || line.starts_with("ERROR")
            || line.starts_with("unrecognized log layout")
            || line.contains("missing source bucket")
        {
            self.state = BucketSourceState::Error;
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

    /// 16/17 have no state line: derive the state from the shard counts.
    fn finish(&mut self) {
        if self.state != BucketSourceState::Unknown {
            return;
        }
        let full = self.full_shards.map_or(0, |(n, _)| n);
        let inc = self.incremental_shards.map_or(0, |(n, _)| n);
        let total = self.total_shards.unwrap_or(0);
        self.state = if full > 0 {
            BucketSourceState::FullSync
        } else if inc > 0 {
            BucketSourceState::Incremental
        } else if total > 0 && self.full_shards.is_some() && self.incremental_shards.is_some() {
            // Shards counted but neither full nor incremental: all still in init. Both lines
            // are needed: a block cut after `full sync: 0/11 shards` says nothing about the
            // incremental count, and reading its absence as 0 would invent an all-init bucket.
            BucketSourceState::Init
        } else {
            BucketSourceState::Unknown
        };
    }
}

const SYNC_DISABLED: &str = "Sync is disabled for bucket";

/// Parses `bucket sync status` stdout, text or (Tentacle `--format=json`) JSON.
pub fn parse_bucket_sync_status(stdout: &str) -> Result<BucketSyncStatus, ParseError> {
    if stdout.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let json_start = stdout
        .lines()
        .find(|l| !l.trim().is_empty() && !is_log_line(l))
        .and_then(first_char);
    if json_start == Some('{') {
        parse_json(stdout)
    } else {
        parse_text(stdout)
    }
}

fn parse_text(stdout: &str) -> Result<BucketSyncStatus, ParseError> {
    let mut st = BucketSyncStatus::default();
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
        if parse_text_line(&mut st, line) {
            recognised += 1;
        } else {
            st.skipped.push(line.to_string());
        }
    }
    for src in &mut st.sources {
        src.finish();
    }
    if recognised == 0 {
        return Err(ParseError::Malformed(format!(
            "no bucket sync status line recognised ({} skipped, {} log lines); first: {:?}",
            st.skipped.len(),
            st.log_lines,
            excerpt(st.skipped.first().map(String::as_str).unwrap_or(""))
        )));
    }
    Ok(st)
}

fn parse_text_line(st: &mut BucketSyncStatus, line: &str) -> bool {
    if line.starts_with(SYNC_DISABLED) {
        st.sync_disabled = true;
        return true;
    }
    if let Some(rest) = line.strip_prefix("source zone ") {
        return match split_id_name(rest) {
            Some((id, name)) if !id.is_empty() => {
                st.sources.push(BucketSource {
                    zone_id: id.to_string(),
                    zone_name: name.map(String::from),
                    ..BucketSource::default()
                });
                true
            }
            _ => false,
        };
    }
    if let Some(src) = st.sources.last_mut() {
        return src.apply(line);
    }
    // Header: `bucket is ...` lines only occur inside a source, so `bucket ` is safe here.
    if let Some(rest) = line.strip_prefix("current time ") {
        return match parse_ceph_time(rest) {
            Some(t) => {
                st.current_time = Some(t);
                true
            }
            None => false,
        };
    }
    if let Some(rest) = line.strip_prefix("bucket ") {
        st.bucket = BucketRef::parse(rest);
        return st.bucket.is_some();
    }
    let slots = [
        ("realm ", &mut st.realm),
        ("zonegroup ", &mut st.zonegroup),
        ("zone ", &mut st.zone),
    ];
    for (prefix, slot) in slots {
        if let Some(rest) = line.strip_prefix(prefix) {
            *slot = NamedId::parse(rest);
            return slot.is_some();
        }
    }
    // Tentacle bucket-level errors, printed on stdout after the header.
    if line.starts_with("Source zone not found")
        || line.starts_with("No connection to zone")
        || line.starts_with("ERROR")
    {
        st.error = Some(line.to_string());
        return true;
    }
    false
}

#[derive(Deserialize)]
struct JsonStatus {
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    realm_name: Option<String>,
    #[serde(default)]
    zonegroup: Option<String>,
    #[serde(default)]
    zonegroup_name: Option<String>,
    #[serde(default)]
    zone: Option<String>,
    #[serde(default)]
    zone_name: Option<String>,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    bucket_instance_id: Option<String>,
    #[serde(default)]
    current_time: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    sources: Vec<JsonSource>,
}

#[derive(Deserialize)]
struct JsonSource {
    #[serde(default)]
    source_zone: String,
    #[serde(default)]
    source_name: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    source_bucket: Option<String>,
    #[serde(default)]
    source_bucket_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    total_shards: Option<u32>,
    #[serde(default)]
    behind_shards: Vec<JsonBehind>,
}

#[derive(Deserialize)]
struct JsonBehind {
    shard_id: u32,
}

fn named(id: Option<String>, name: Option<String>) -> Option<NamedId> {
    match (id, name) {
        (None, None) => None,
        (id, name) => Some(NamedId {
            id: id.unwrap_or_default(),
            name: name.unwrap_or_default(),
        }),
    }
}

/// Tentacle `--format=json` (T20 `_print_formatter`): one document, possibly with uneven
/// whitespace from the formatter's intermediate flushes.
fn parse_json(stdout: &str) -> Result<BucketSyncStatus, ParseError> {
    let (body, log_lines) = json_body(stdout)?;
    let doc: JsonStatus = serde_json::from_str(&body)?;
    let mut st = BucketSyncStatus {
        realm: named(doc.realm, doc.realm_name),
        zonegroup: named(doc.zonegroup, doc.zonegroup_name),
        zone: named(doc.zone, doc.zone_name),
        bucket: doc.bucket.filter(|b| !b.is_empty()).map(|name| BucketRef {
            tenant: String::new(),
            name,
            instance_id: doc.bucket_instance_id.unwrap_or_default(),
        }),
        current_time: doc.current_time.as_deref().and_then(parse_ceph_time),
        log_lines,
        ..BucketSyncStatus::default()
    };
    match doc.error {
        Some(e) if e.starts_with(SYNC_DISABLED) => st.sync_disabled = true,
        Some(e) => st.error = Some(e),
        None => {}
    }
    for js in doc.sources {
        let mut src = BucketSource {
            zone_id: js.source_zone,
            zone_name: js.source_name,
            source_bucket: js
                .source_bucket
                .filter(|b| !b.is_empty())
                .map(|name| BucketRef {
                    tenant: String::new(),
                    name,
                    instance_id: js.source_bucket_id.unwrap_or_default(),
                }),
            ..BucketSource::default()
        };
        // `error` and `status` hold the same strings the text prints on their own line.
        for line in [js.error, js.status].into_iter().flatten() {
            if !src.apply(line.trim()) {
                st.skipped.push(line);
            }
        }
        if let (Some(total), BucketSourceState::Unknown) = (js.total_shards, src.state) {
            src.state = BucketSourceState::Incremental;
            src.total_shards = Some(total);
            src.behind_shards = js.behind_shards.iter().map(|b| b.shard_id).collect();
            src.behind_count = u32::try_from(src.behind_shards.len()).ok();
            src.caught_up_line = src.behind_shards.is_empty();
        }
        st.sources.push(src);
    }
    Ok(st)
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

    fn bref(tenant: &str, name: &str, id: &str) -> Option<BucketRef> {
        Some(BucketRef {
            tenant: tenant.into(),
            name: name.into(),
            instance_id: id.into(),
        })
    }

    fn parse(s: &str) -> BucketSyncStatus {
        match parse_bucket_sync_status(s) {
            Ok(v) => v,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    const PACIFIC_HEADER: &str = "          realm 89cb53b0-e12e-4a1a-8215-5f72eb02bc9f (lab)
      zonegroup ab22bcdf-acaf-4585-bf56-c4a51dc12665 (zg1)
           zone e9bfab5d-a530-4a65-af46-832ad0a0f78e (us-west)
";

    #[test]
    fn bucket_refs() {
        assert_eq!(
            BucketRef::parse(":bucket-002[d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3])"),
            bref(
                "",
                "bucket-002",
                "d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"
            )
        );
        assert_eq!(
            BucketRef::parse("bucket-002:d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"),
            bref(
                "",
                "bucket-002",
                "d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"
            )
        );
        assert_eq!(
            BucketRef::parse("acme:b1[z.1.2])"),
            bref("acme", "b1", "z.1.2")
        );
        assert_eq!(
            BucketRef::parse("acme:b1[z.1.2]"),
            bref("acme", "b1", "z.1.2")
        );
        assert_eq!(
            BucketRef::parse("acme/b1:z.1.2"),
            bref("acme", "b1", "z.1.2")
        );
        assert_eq!(BucketRef::parse("b1"), bref("", "b1", ""));
        // Real 16.2.15 tenant bucket (lab, tests/fixtures/radosgw-admin/labels/README.md).
        assert_eq!(
            BucketRef::parse("acme:acme-data.v1[5492baeb-1aea-48c1-b5bb-1aa7367aca3c.4167.4])"),
            bref(
                "acme",
                "acme-data.v1",
                "5492baeb-1aea-48c1-b5bb-1aa7367aca3c.4167.4"
            )
        );
        // Swift-created names may hold `:`, `[` and `]`; the instance id is the last part.
        assert_eq!(
            BucketRef::parse(":a:b[c][z.1.2])"),
            bref("", "a:b[c]", "z.1.2")
        );
        assert_eq!(
            BucketRef::parse("acme:a:b[z.1.2])"),
            bref("acme", "a:b", "z.1.2")
        );
        assert_eq!(BucketRef::parse("a:b:z.1.2"), bref("", "a:b", "z.1.2"));
        assert_eq!(
            BucketRef::parse("acme/a:b:z.1.2"),
            bref("acme", "a:b", "z.1.2")
        );
        assert_eq!(BucketRef::parse(":[x])"), None);
        assert_eq!(BucketRef::parse(""), None);
        assert_eq!(
            bref("acme", "b1", "").map(|b| b.key()),
            Some("acme/b1".into())
        );
        assert_eq!(bref("", "b1", "").map(|b| b.key()), Some("b1".into()));
    }

    #[test]
    fn pacific_caught_up() {
        let st = parse(hand_fixture!(
            "bucket-sync-status/pacific-lab-caught-up.stdout"
        ));
        assert_eq!(
            st,
            BucketSyncStatus {
                realm: nid("89cb53b0-e12e-4a1a-8215-5f72eb02bc9f", "lab"),
                zonegroup: nid("ab22bcdf-acaf-4585-bf56-c4a51dc12665", "zg1"),
                zone: nid("e9bfab5d-a530-4a65-af46-832ad0a0f78e", "us-west"),
                bucket: bref(
                    "",
                    "bucket-002",
                    "d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"
                ),
                sources: vec![BucketSource {
                    zone_id: "d91e8247-e7d0-4011-8972-3546d935f2b9".into(),
                    zone_name: Some("us-east".into()),
                    source_bucket: bref(
                        "",
                        "bucket-002",
                        "d91e8247-e7d0-4011-8972-3546d935f2b9.4157.3"
                    ),
                    state: BucketSourceState::Incremental,
                    full_shards: Some((0, 11)),
                    incremental_shards: Some((11, 11)),
                    total_shards: Some(11),
                    caught_up_line: true,
                    ..BucketSource::default()
                }],
                ..BucketSyncStatus::default()
            }
        );
        assert_eq!(
            st.sources.first().and_then(BucketSource::caught_up),
            Some(true)
        );
        assert_eq!(
            st.sources.first().and_then(BucketSource::init_shards),
            Some(0)
        );
    }

    #[test]
    fn pacific_shard_in_init_with_caught_up_line_is_caught_up() {
        // §3.1 "misleading output" body, under the header of the same lab.
        let out = format!(
            "{PACIFIC_HEADER}         bucket :errbucket[d91e8247-e7d0-4011-8972-3546d935f2b9.4335.1])

    source zone d91e8247-e7d0-4011-8972-3546d935f2b9 (us-east)
  source bucket errbucket:d91e8247-e7d0-4011-8972-3546d935f2b9.4335.1
                full sync: 0/11 shards
                incremental sync: 10/11 shards
                bucket is caught up with source
"
        );
        let st = parse(&out);
        let src = st.sources.first().cloned().unwrap_or_default();
        assert_eq!(
            src,
            BucketSource {
                zone_id: "d91e8247-e7d0-4011-8972-3546d935f2b9".into(),
                zone_name: Some("us-east".into()),
                source_bucket: bref(
                    "",
                    "errbucket",
                    "d91e8247-e7d0-4011-8972-3546d935f2b9.4335.1"
                ),
                state: BucketSourceState::Incremental,
                full_shards: Some((0, 11)),
                incremental_shards: Some((10, 11)),
                total_shards: Some(11),
                caught_up_line: true,
                ..BucketSource::default()
            }
        );
        // Healthy buckets print the same (empty index shards stay in init), so the text
        // alone says caught up; the object counts on the master tell the gap apart.
        assert_eq!(src.caught_up(), Some(true));
        assert_eq!(src.init_shards(), Some(1));
    }

    #[test]
    fn pacific_full_sync_and_behind() {
        let out = format!(
            "{PACIFIC_HEADER}         bucket acme:b1[z.1.2])

    source zone z (us-east)
  source bucket acme/b1:z.1.2
                full sync: 2/11 shards
                full sync: 500 objects completed
                incremental sync: 9/11 shards
                bucket is behind on 3 shards
                behind shards: [0,4,9]
    source zone y (us-south)
                does not sync from zone
"
        );
        let st = parse(&out);
        assert_eq!(
            st.sources,
            vec![
                BucketSource {
                    zone_id: "z".into(),
                    zone_name: Some("us-east".into()),
                    source_bucket: bref("acme", "b1", "z.1.2"),
                    state: BucketSourceState::FullSync,
                    full_shards: Some((2, 11)),
                    incremental_shards: Some((9, 11)),
                    total_shards: Some(11),
                    full_objects_completed: Some(500),
                    behind_count: Some(3),
                    behind_shards: vec![0, 4, 9],
                    ..BucketSource::default()
                },
                BucketSource {
                    zone_id: "y".into(),
                    zone_name: Some("us-south".into()),
                    state: BucketSourceState::DoesNotSync,
                    ..BucketSource::default()
                },
            ]
        );
        assert_eq!(st.bucket, bref("acme", "b1", "z.1.2"));
        assert_eq!(
            st.sources
                .iter()
                .map(BucketSource::caught_up)
                .collect::<Vec<_>>(),
            vec![Some(false), None]
        );
    }

    #[test]
    fn pacific_block_cut_short_is_unknown() {
        // Errors go to stderr on 16-19 and leave only the first lines (§3.1).
        let out = format!(
            "{PACIFIC_HEADER}         bucket :b[i])\n\n    source zone z (us-east)\n  source bucket b:i\n"
        );
        let st = parse(&out);
        assert_eq!(
            st.sources,
            vec![BucketSource {
                zone_id: "z".into(),
                zone_name: Some("us-east".into()),
                source_bucket: bref("", "b", "i"),
                ..BucketSource::default()
            }]
        );
        assert_eq!(st.sources.first().and_then(BucketSource::caught_up), None);
        // Counts present but the caught-up/behind line missing: still unknown.
        let out = format!("{out}                full sync: 0/3 shards\n                incremental sync: 3/3 shards\n");
        let st = parse(&out);
        assert_eq!(
            st.sources.first().map(|s| s.state),
            Some(BucketSourceState::Incremental)
        );
        assert_eq!(st.sources.first().and_then(BucketSource::caught_up), None);
    }

    #[test]
    fn pacific_cut_short_is_unknown_unless_every_shard_is_in_init() {
        // As captured on the lab with the source zone's gateway down (pacific-behind): the
        // local counts are printed, the remote log read fails, nothing follows.
        let out = format!(
            "{PACIFIC_HEADER}         bucket :b[i])\n\n    source zone z (us-east)\n  source bucket b:i\n\
             \x20               full sync: 0/11 shards\n                incremental sync: 9/11 shards\n"
        );
        let st = parse(&out);
        assert_eq!(
            st.sources,
            vec![BucketSource {
                zone_id: "z".into(),
                zone_name: Some("us-east".into()),
                source_bucket: bref("", "b", "i"),
                state: BucketSourceState::Incremental,
                full_shards: Some((0, 11)),
                incremental_shards: Some((9, 11)),
                total_shards: Some(11),
                ..BucketSource::default()
            }]
        );
        // Cut short before any verdict: unknown, not caught up and not behind.
        assert_eq!(st.sources.first().and_then(BucketSource::caught_up), None);
        // Every shard still in init: state Init, not caught up.
        let out = out.replace("incremental sync: 9/11", "incremental sync: 0/11");
        let st = parse(&out);
        assert_eq!(
            st.sources.first().map(|s| s.state),
            Some(BucketSourceState::Init)
        );
        assert_eq!(
            st.sources.first().and_then(BucketSource::caught_up),
            Some(false)
        );
    }

    #[test]
    fn reef_sync_disabled() {
        let st = parse(hand_fixture!(
            "bucket-sync-status/reef-code-sync-disabled.stdout"
        ));
        assert_eq!(
            st,
            BucketSyncStatus {
                realm: nid("<realm-id>", "<realm>"),
                zonegroup: nid("<zg-id>", "<zg>"),
                zone: nid("<zone-id>", "<zone>"),
                bucket: bref("", "b11", "<bucket-id>"),
                current_time: Some(1_770_715_333.0),
                sync_disabled: true,
                ..BucketSyncStatus::default()
            }
        );
    }

    #[test]
    fn reef_state_lines() {
        let out = "          realm r (earth)
      zonegroup g (zg1)
           zone z2 (zg1-2)
         bucket :test[z1.4244.1])
   current time 2024-11-08T20:54:39Z

    source zone a (zg1-1)
  source bucket :test[z1.4244.1])
                incremental sync on 11 shards
                bucket is behind on 1 shards
                behind shards: [4]
    source zone b (zg1-3)
  source bucket :test[z1.4244.1])
                incremental sync on 11 shards
                bucket is caught up with source
    source zone c (zg1-4)
  source bucket :test[z1.4244.1])
                full sync: 1234 objects completed
    source zone d (zg1-5)
  source bucket :test[z1.4244.1])
                init: bucket sync has not started
    source zone e (zg1-6)
  source bucket :test[z1.4244.1])
                stopped: bucket sync is disabled
";
        let st = parse(out);
        let test = bref("", "test", "z1.4244.1");
        let src = |id: &str, name: &str| BucketSource {
            zone_id: id.into(),
            zone_name: Some(name.into()),
            source_bucket: test.clone(),
            ..BucketSource::default()
        };
        assert_eq!(
            st,
            BucketSyncStatus {
                realm: nid("r", "earth"),
                zonegroup: nid("g", "zg1"),
                zone: nid("z2", "zg1-2"),
                bucket: test.clone(),
                current_time: Some(1_731_099_279.0),
                sources: vec![
                    BucketSource {
                        state: BucketSourceState::Incremental,
                        total_shards: Some(11),
                        behind_count: Some(1),
                        behind_shards: vec![4],
                        ..src("a", "zg1-1")
                    },
                    BucketSource {
                        state: BucketSourceState::Incremental,
                        total_shards: Some(11),
                        caught_up_line: true,
                        ..src("b", "zg1-3")
                    },
                    BucketSource {
                        state: BucketSourceState::FullSync,
                        full_objects_completed: Some(1234),
                        ..src("c", "zg1-4")
                    },
                    BucketSource {
                        state: BucketSourceState::Init,
                        ..src("d", "zg1-5")
                    },
                    BucketSource {
                        state: BucketSourceState::Stopped,
                        ..src("e", "zg1-6")
                    },
                ],
                ..BucketSyncStatus::default()
            }
        );
        assert_eq!(
            st.sources
                .iter()
                .map(BucketSource::caught_up)
                .collect::<Vec<_>>(),
            vec![Some(false), Some(true), Some(false), Some(false), None]
        );
        // No per-shard counts from Reef on.
        assert!(st.sources.iter().all(|s| s.init_shards().is_none()));
    }

    #[test]
    fn tentacle_inline_errors() {
        let out = "          realm r (earth)
      zonegroup g (zg1)
           zone z2 (zg1-2)
         bucket :test[z1.4244.1])
   current time 2024-11-08T20:54:39Z

Source zone not found in zonegroup zg1
    source zone a (zg1-1)
                failed to read remote log: (5) Input/output error
";
        let st = parse(out);
        assert_eq!(
            st.error,
            Some("Source zone not found in zonegroup zg1".into())
        );
        assert_eq!(
            st.sources,
            vec![BucketSource {
                zone_id: "a".into(),
                zone_name: Some("zg1-1".into()),
                state: BucketSourceState::Error,
                error: Some("failed to read remote log: (5) Input/output error".into()),
                ..BucketSource::default()
            }]
        );
        assert_eq!(st.sources.first().and_then(BucketSource::caught_up), None);
    }

    #[test]
    fn tentacle_json_from_pr() {
        let st = parse(hand_fixture!("bucket-sync-status/tentacle-pr60676.json"));
        assert_eq!(
            st,
            BucketSyncStatus {
                realm: nid("11dfb207-7990-4b54-b06c-86e6c361352e", "earth"),
                zonegroup: nid("390c4922-2772-4fb8-a5df-15aa1c755fc4", "zg1"),
                zone: nid("703ace20-2cdf-4edc-8aeb-1841781f8c3b", "zg1-2"),
                bucket: bref("", "test", "e6de5e2d-7ff3-4c76-8698-22a2b5887c7a.4244.1"),
                current_time: Some(1_731_099_279.0),
                sources: vec![BucketSource {
                    zone_id: "e6de5e2d-7ff3-4c76-8698-22a2b5887c7a".into(),
                    zone_name: Some("zg1-1".into()),
                    source_bucket: bref("", "test", "e6de5e2d-7ff3-4c76-8698-22a2b5887c7a.4244.1"),
                    state: BucketSourceState::Incremental,
                    total_shards: Some(11),
                    behind_count: Some(1),
                    behind_shards: vec![4],
                    ..BucketSource::default()
                }],
                ..BucketSyncStatus::default()
            }
        );
        assert_eq!(
            st.sources.first().and_then(BucketSource::caught_up),
            Some(false)
        );
    }

    #[test]
    fn tentacle_json_states_and_compact_form() {
        // Compact (`--format=json` on 20 is single-line) with a log line ahead of it and the
        // formatter's mid-document flush newlines.
        let out = "2025-01-01T00:00:00.000+0000 7f00 0 note\n\
            {\"realm\":\"r\",\"realm_name\":\"earth\",\"zonegroup\":\"g\",\"zonegroup_name\":\"zg1\",\
            \"zone\":\"z\",\"zone_name\":\"zn\",\"bucket\":\"b\",\"bucket_instance_id\":\"i\",\
            \"current_time\":\"2024-11-08T20:54:39Z\",\"sources\":[{\"source_zone\":\"a\",\
            \"source_name\":\"an\",\"source_bucket\":\"b\",\"source_bucket_id\":\"i\",\
            \"total_shards\":3,\"behind_shards\":[]}\n,{\"source_zone\":\"c\",\"source_name\":\"cn\",\
            \"source_bucket\":\"b\",\"source_bucket_id\":\"i\",\"status\":\"full sync: 7 objects completed\"}\n\
            ,{\"source_zone\":\"d\",\"source_name\":\"dn\",\"error\":\"does not sync from zone\"}\n\
            ,{\"source_zone\":\"e\",\"source_name\":\"en\",\"error\":\"failed to read source bucket info: (2) No such file or directory\"}]}\n";
        let st = parse(out);
        let b = bref("", "b", "i");
        assert_eq!(
            st.sources,
            vec![
                BucketSource {
                    zone_id: "a".into(),
                    zone_name: Some("an".into()),
                    source_bucket: b.clone(),
                    state: BucketSourceState::Incremental,
                    total_shards: Some(3),
                    behind_count: Some(0),
                    caught_up_line: true,
                    ..BucketSource::default()
                },
                BucketSource {
                    zone_id: "c".into(),
                    zone_name: Some("cn".into()),
                    source_bucket: b,
                    state: BucketSourceState::FullSync,
                    full_objects_completed: Some(7),
                    ..BucketSource::default()
                },
                BucketSource {
                    zone_id: "d".into(),
                    zone_name: Some("dn".into()),
                    state: BucketSourceState::DoesNotSync,
                    ..BucketSource::default()
                },
                BucketSource {
                    zone_id: "e".into(),
                    zone_name: Some("en".into()),
                    state: BucketSourceState::Error,
                    error: Some(
                        "failed to read source bucket info: (2) No such file or directory".into()
                    ),
                    ..BucketSource::default()
                },
            ]
        );
        assert_eq!(st.log_lines, 1);
        assert_eq!(
            st.sources
                .iter()
                .map(BucketSource::caught_up)
                .collect::<Vec<_>>(),
            vec![Some(true), Some(false), None, None]
        );
        let disabled = parse(
            "{\"bucket\":\"b11\",\"error\":\"Sync is disabled for bucket b11 or bucket has no sync sources\",\"sources\":[]}",
        );
        assert_eq!(
            disabled,
            BucketSyncStatus {
                bucket: bref("", "b11", ""),
                sync_disabled: true,
                ..BucketSyncStatus::default()
            }
        );
    }

    #[test]
    fn header_only_and_empty() {
        // 16.2.15 `--source-zone=nosuchzone`: only the header on stdout, rc 0.
        let st = parse(&format!("{PACIFIC_HEADER}         bucket :b[i])\n\n"));
        assert_eq!(st.sources, vec![]);
        assert_eq!(st.bucket, bref("", "b", "i"));
        // Tentacle when bucket_sync_status() fails: nothing on stdout.
        assert_eq!(parse_bucket_sync_status(""), Err(ParseError::Empty));
        assert!(matches!(
            parse_bucket_sync_status("{\"sources\": 5}"),
            Err(ParseError::Json(_))
        ));
        assert_eq!(
            parse_bucket_sync_status("what\n"),
            Err(ParseError::Malformed(
                "no bucket sync status line recognised (1 skipped, 0 log lines); first: \"what\""
                    .into()
            ))
        );
    }

    /// Fuzz finding (tests/fuzz.rs, truncation): a 16.2.15 caught-up block cut right after
    /// its `full sync: 0/11 shards` line was read as "all shards in init", i.e. "not caught
    /// up", while the full output said caught up. A missing incremental line is unknown.
    #[test]
    fn block_cut_after_full_sync_line_is_unknown_not_init() {
        let cut = format!(
            "{PACIFIC_HEADER}         bucket :load-1[z.1])\n\n    source zone z (us-east)\n  \
             source bucket load-1:z.1\n                full sync: 0/11 shards\n"
        );
        let st = parse(&cut);
        assert_eq!(st.sources.len(), 1);
        assert_eq!(st.sources[0].state, BucketSourceState::Unknown);
        assert_eq!(st.sources[0].caught_up(), None);
        // Both counts printed and both zero: that is all-init, not caught up.
        let init = format!("{cut}                incremental sync: 0/11 shards\n");
        let st = parse(&init);
        assert_eq!(st.sources[0].state, BucketSourceState::Init);
        assert_eq!(st.sources[0].caught_up(), Some(false));
        // Shards in full sync are lag even without the incremental line.
        let full = cut.replace("full sync: 0/11", "full sync: 3/11");
        assert_eq!(parse(&full).sources[0].caught_up(), Some(false));
    }

    #[test]
    fn truncated_and_garbage_inputs_never_panic() {
        let all = [
            hand_fixture!("bucket-sync-status/pacific-lab-caught-up.stdout"),
            hand_fixture!("bucket-sync-status/reef-code-sync-disabled.stdout"),
            hand_fixture!("bucket-sync-status/tentacle-pr60676.json"),
        ];
        for input in all
            .iter()
            .flat_map(|s| truncations(s))
            .chain(GARBAGE.iter().copied())
        {
            if let Ok(st) = parse_bucket_sync_status(input) {
                for s in &st.sources {
                    let _ = s.caught_up();
                }
            }
        }
        // A cut text never claims "caught up" unless the caught-up line itself survived.
        let full = hand_fixture!("bucket-sync-status/pacific-lab-caught-up.stdout");
        for cut in truncations(full) {
            if let Ok(st) = parse_bucket_sync_status(cut) {
                if !cut.contains("bucket is caught up with source") {
                    assert!(
                        st.sources.iter().all(|s| s.caught_up() != Some(true)),
                        "{cut:?}"
                    );
                }
            }
        }
    }
}
