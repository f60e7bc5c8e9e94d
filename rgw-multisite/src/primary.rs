//! The master exporter's collectors: the topology from `period get`, and the bucket stats of
//! every zone compared with its zonegroup's master zone (sync ratio, deltas, class).
//!
//! One cycle runs `topology`, then `bucket_stats` (read every zone's stats: `radosgw-admin
//! bucket stats --rgw-zone=Z`, or the RGW admin API for zones in other clusters), then
//! `bucket_compare` (classify each bucket of each replica against its zonegroup's master).
//! The two bucket collectors are separate so that one unreadable replica fails
//! `bucket_stats` without dropping the comparison of every other zone.
//!
//! Buckets that are not meant to replicate must not page anyone. The period rules out whole
//! zones (a tier type that stores no data, a zone that does not pull from the master); for
//! single buckets only the ones that would otherwise be lagging are checked, on the
//! zonegroup master (`bucket sync info` for "Sync is disabled", `sync info` for the zones
//! the bucket is replicated to), with the answer cached for a TTL and a bound per cycle.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::agent::{Agent, RealmNames};
use crate::collect::{parse_failure, run_counted, CollectError, Telemetry};
use crate::metrics::MetricSet;
use crate::parse::bucket_stats::{parse_bucket_stats, BucketStats};
use crate::parse::period::{parse_period, Period, Zone};
use crate::parse::sync_info::{parse_bucket_sync_info_disabled, parse_sync_info};
use crate::rest::{AdminClient, RestError};
use crate::runner::{RadosgwAdmin, RunError};

/// Label of REST bucket stats calls in `rgw_multisite_command_errors_total{command}`.
pub const REST_BUCKET_STATS: &str = "GET /admin/bucket";

// ---------------------------------------------------------------------------------------
// Classification (pure)
// ---------------------------------------------------------------------------------------

/// Lowest sync ratio of each class; below `medium` is HIGH.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub synced: f64,
    pub low: f64,
    pub medium: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            synced: 0.99,
            low: 0.95,
            medium: 0.85,
        }
    }
}

impl Thresholds {
    /// Each within 0..1 and `medium <= low <= synced`.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("synced_min_ratio", self.synced),
            ("low_min_ratio", self.low),
            ("medium_min_ratio", self.medium),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(format!("class {name} = {v}: must be between 0 and 1"));
            }
        }
        if !(self.medium <= self.low && self.low <= self.synced) {
            return Err(format!(
                "class thresholds must satisfy medium_min_ratio <= low_min_ratio <= \
                 synced_min_ratio; got {} / {} / {}",
                self.medium, self.low, self.synced
            ));
        }
        Ok(())
    }

    pub fn classify(&self, ratio: f64) -> Class {
        if ratio >= self.synced {
            Class::Synced
        } else if ratio >= self.low {
            Class::Low
        } else if ratio >= self.medium {
            Class::Medium
        } else {
            Class::High
        }
    }
}

/// A bucket's class in one zone; the priority is its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Synced,
    Low,
    Medium,
    High,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Synced, Class::Low, Class::Medium, Class::High];

    pub fn label(self) -> &'static str {
        match self {
            Class::Synced => "synced",
            Class::Low => "low",
            Class::Medium => "medium",
            Class::High => "high",
        }
    }

    /// 0 synced, 1 low, 2 medium, 3 high.
    pub fn priority(self) -> u8 {
        match self {
            Class::Synced => 0,
            Class::Low => 1,
            Class::Medium => 2,
            Class::High => 3,
        }
    }
}

/// Objects and logical bytes of one bucket in one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub objects: u64,
    pub bytes: u64,
}

impl From<&BucketStats> for Counts {
    fn from(b: &BucketStats) -> Self {
        Counts {
            objects: b.objects,
            bytes: b.size_bytes,
        }
    }
}

/// A replica's copy of a bucket against the master's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Replica objects / master objects, clamped to 0..1; 1 when the master has none.
    pub ratio: f64,
    pub objects_behind: u64,
    pub bytes_behind: u64,
    pub class: Class,
}

/// Compares one bucket. A replica that does not have the bucket yet (`None`) holds 0.
pub fn compare(master: Counts, replica: Option<Counts>, t: &Thresholds) -> Comparison {
    let r = replica.unwrap_or_default();
    // Both empty is in sync; an empty master with a non-empty replica (deletes not yet
    // applied) is not "behind" either, so it clamps to 1 as well.
    let ratio = if master.objects == 0 {
        1.0
    } else {
        (r.objects as f64 / master.objects as f64).clamp(0.0, 1.0)
    };
    Comparison {
        ratio,
        objects_behind: master.objects.saturating_sub(r.objects),
        bytes_behind: master.bytes.saturating_sub(r.bytes),
        class: t.classify(ratio),
    }
}

// ---------------------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------------------

/// A zone by name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRef {
    pub name: String,
    pub id: String,
}

/// A zone compared with its zonegroup's master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaPlan {
    pub zone: ZoneRef,
    /// Why the period says this zone takes no data from the master (`tier_type`,
    /// `sync_from`); `None` when it does.
    pub excluded: Option<&'static str>,
}

/// One zonegroup: its master zone and the zones compared with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub id: String,
    pub name: String,
    /// The realm's master zonegroup also owns buckets whose `zonegroup` field is empty.
    pub is_master_zonegroup: bool,
    pub master: ZoneRef,
    pub replicas: Vec<ReplicaPlan>,
}

impl GroupPlan {
    fn owns(&self, b: &BucketStats) -> bool {
        b.zonegroup == self.id || (b.zonegroup.is_empty() && self.is_master_zonegroup)
    }
}

/// What `period get` says, prepared for the bucket collectors.
#[derive(Debug, Clone, Default)]
pub struct TopologyView {
    pub period: Period,
    pub groups: Vec<GroupPlan>,
    /// Zone name -> endpoints from the period.
    pub endpoints: HashMap<String, Vec<String>>,
    /// Zone id -> name.
    pub names: HashMap<String, String>,
    /// Zonegroups left out (no master zone in the period), for logs and `check`.
    pub warnings: Vec<String>,
}

/// Whether a zone of this tier type holds the objects it syncs: normal and archive zones
/// do; cloud, elasticsearch, pubsub and log zones forward or index them elsewhere.
pub fn tier_takes_data(tier_type: &str) -> bool {
    matches!(tier_type, "" | "rgw" | "archive")
}

/// Why `replica` takes no data from `master` according to the period alone.
pub fn replica_exclusion(master: &Zone, replica: &Zone) -> Option<&'static str> {
    if !tier_takes_data(&replica.tier_type) {
        Some("tier_type")
    } else if !replica.sync_from_all && !replica.sync_from.contains(&master.name) {
        Some("sync_from")
    } else {
        None
    }
}

impl TopologyView {
    pub fn from_period(period: Period) -> TopologyView {
        let mut v = TopologyView::default();
        for (_, z) in period.zones() {
            v.names.insert(z.id.clone(), z.name.clone());
            v.endpoints.insert(z.name.clone(), z.endpoints.clone());
        }
        for zg in &period.zonegroups {
            let Some(master) = zg.zones.iter().find(|z| z.id == zg.master_zone) else {
                if !zg.zones.is_empty() {
                    v.warnings.push(format!(
                        "zonegroup {} has no master zone in the period; its buckets are not compared",
                        zg.name
                    ));
                }
                continue;
            };
            v.groups.push(GroupPlan {
                id: zg.id.clone(),
                name: zg.name.clone(),
                is_master_zonegroup: zg.is_master || zg.id == period.master_zonegroup,
                master: ZoneRef {
                    name: master.name.clone(),
                    id: master.id.clone(),
                },
                replicas: zg
                    .zones
                    .iter()
                    .filter(|z| z.id != master.id)
                    .map(|z| ReplicaPlan {
                        zone: ZoneRef {
                            name: z.name.clone(),
                            id: z.id.clone(),
                        },
                        excluded: replica_exclusion(master, z),
                    })
                    .collect(),
            });
        }
        v.period = period;
        v
    }

    /// Name of the realm's metadata master zone.
    pub fn metadata_master(&self) -> Option<&str> {
        self.period.zone_name(&self.period.master_zone)
    }

    /// Zones whose stats a cycle reads: every zonegroup master and every replica that
    /// takes data, in a stable order.
    pub fn zones_to_read(&self) -> Vec<String> {
        let mut v = Vec::new();
        for g in &self.groups {
            v.push(g.master.name.clone());
            for r in &g.replicas {
                if r.excluded.is_none() {
                    v.push(r.zone.name.clone());
                }
            }
        }
        v
    }
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// Where a zone's bucket stats come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsMode {
    /// `radosgw-admin bucket stats --rgw-zone=Z` (the zone's pools are in this cluster).
    #[default]
    Cli,
    /// The zone's RGW admin API (`GET /admin/bucket?stats=true`), signed with SigV4.
    Rest,
}

impl StatsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StatsMode::Cli => "cli",
            StatsMode::Rest => "rest",
        }
    }
}

/// Per-zone settings from the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneOverride {
    /// Admin API endpoint to use instead of the period's first endpoint.
    pub endpoint: Option<String>,
    /// Overrides the global mode for this zone.
    pub mode: Option<StatsMode>,
}

#[derive(Debug, Clone)]
pub struct PrimaryConfig {
    /// The zone this exporter runs in (`--zone`); REST mode reads every other zone over
    /// HTTP. Default: the realm's metadata master.
    pub local_zone: Option<String>,
    pub mode: StatsMode,
    pub zones: BTreeMap<String, ZoneOverride>,
    pub thresholds: Thresholds,
    /// Per-bucket series for every bucket, not only those not in sync.
    pub all_buckets: bool,
    /// Concurrent calls (zones read, buckets checked).
    pub concurrency: usize,
    /// How long a bucket's replication setting is trusted.
    pub sync_info_ttl: Duration,
    /// Bound on replication checks per cycle; buckets beyond it count as replicating
    /// (lagging) until checked.
    pub sync_info_max_per_cycle: usize,
}

impl Default for PrimaryConfig {
    fn default() -> Self {
        PrimaryConfig {
            local_zone: None,
            mode: StatsMode::Cli,
            zones: BTreeMap::new(),
            thresholds: Thresholds::default(),
            all_buckets: false,
            concurrency: 4,
            sync_info_ttl: Duration::from_secs(600),
            sync_info_max_per_cycle: 200,
        }
    }
}

impl PrimaryConfig {
    /// True when some zone may be read over REST (keys are then required).
    pub fn uses_rest(&self) -> bool {
        self.mode == StatsMode::Rest || self.zones.values().any(|z| z.mode == Some(StatsMode::Rest))
    }
}

// ---------------------------------------------------------------------------------------
// The collectors
// ---------------------------------------------------------------------------------------

/// `bucket stats` exits 0 even when it could not read some buckets' index (a missing cephx
/// cap on the index pool, a broken shard): it prints `error getting bucket stats bucket=B
/// ret=-1` on stderr and lists those buckets with wrong counts. Such a listing must not be
/// compared: every bucket in it could page or hide a gap.
fn check_bucket_stats_stderr(stderr: &str) -> Result<(), String> {
    const MARK: &str = "error getting bucket stats";
    let mut bad = stderr.lines().filter(|l| l.contains(MARK));
    let Some(first) = bad.next() else {
        return Ok(());
    };
    let n = 1 + bad.count();
    Err(format!(
        "radosgw-admin could not read {n} bucket(s) and would report wrong counts ({}); \
         check the cephx caps on the bucket index pool (README: Permissions)",
        crate::runner::truncate(first.trim(), 200)
    ))
}

/// Bucket stats of one zone, keyed by `tenant/name`.
#[derive(Debug, Default)]
pub struct ZoneStats {
    pub buckets: HashMap<String, BucketStats>,
    pub duration: f64,
    pub source: String,
}

/// Where to read a zone: the CLI, or an endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Cli,
    Rest(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Cli => f.write_str("radosgw-admin"),
            Source::Rest(e) => write!(f, "admin API {e}"),
        }
    }
}

/// Whether a bucket is replicated from its zonegroup master, as last checked.
#[derive(Debug, Clone)]
struct Replication {
    /// Bucket instance the answer is for: a recreated bucket is checked again.
    instance: String,
    /// `Sync is disabled for bucket`.
    disabled: bool,
    /// Zones (names or ids) the master's `sync info` has pipes to.
    dests: BTreeSet<String>,
    at: Instant,
}

impl Replication {
    fn replicates_to(&self, zone: &ZoneRef) -> bool {
        !self.disabled && (self.dests.contains(&zone.name) || self.dests.contains(&zone.id))
    }
}

#[derive(Debug, Default)]
struct PrimaryState {
    topology: Option<Arc<TopologyView>>,
    /// (zonegroup master zone, bucket key) -> last answer.
    replication: HashMap<(String, String), Replication>,
    rest_errors: BTreeMap<(String, String), u64>,
    warned: HashSet<String>,
}

pub struct Primary {
    rgw: RadosgwAdmin,
    telemetry: Arc<Telemetry>,
    cfg: PrimaryConfig,
    rest: Option<AdminClient>,
    state: Mutex<PrimaryState>,
    /// Used when the cycle runs without an agent.
    realm_names: Arc<RealmNames>,
}

type ZoneResult = Result<Arc<ZoneStats>, CollectError>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A REST failure as the runner error the collector bookkeeping expects.
fn rest_to_run_error(e: &RestError, endpoint: &str) -> RunError {
    match e {
        RestError::Timeout(d) => RunError::Timeout(*d),
        RestError::Auth { status, .. } | RestError::Http { status, .. } => RunError::Exit {
            code: i32::from(*status),
            stderr: e.to_string(),
        },
        RestError::TooLarge { limit } => RunError::TooLarge { limit: *limit },
        _ => RunError::Spawn {
            program: endpoint.to_string(),
            reason: e.to_string(),
        },
    }
}

impl Primary {
    /// `rgw` carries the local zone (`--zone`) if one was given. `rest` is required when
    /// some zone is read over REST.
    pub fn new(
        rgw: RadosgwAdmin,
        telemetry: Arc<Telemetry>,
        cfg: PrimaryConfig,
        rest: Option<AdminClient>,
    ) -> Self {
        Primary {
            rgw,
            telemetry,
            cfg,
            rest,
            state: Mutex::new(PrimaryState::default()),
            realm_names: Arc::default(),
        }
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// One full cycle: topology, bucket stats and comparison, then the master's own sync
    /// view through `agent` (built with topology, zone_info and bucket_sync off). Returns
    /// true when every collector succeeded.
    pub async fn cycle(&self, agent: Option<&Agent>) -> bool {
        let t = &self.telemetry;
        t.begin_cycle();
        // The agent's `sync status` headers keep the realm's name current (Tentacle's
        // `period get` lacks it).
        let realm = agent.map_or_else(|| self.realm_names.clone(), |a| a.realm_names().clone());
        let topo = t
            .run_collector("topology", self.collect_topology(&realm))
            .await;
        let mut ok = topo.is_some();
        if let Some(v) = topo {
            if let Some(a) = agent {
                a.set_zone_names(v.names.clone());
            }
            lock(&self.state).topology = Some(v);
        }
        ok &= self.collect_buckets().await;
        if let Some(a) = agent {
            ok &= a.run_collectors().await;
        }
        t.set_ready();
        ok
    }

    async fn collect_topology(
        &self,
        realm_names: &RealmNames,
    ) -> Result<(MetricSet, Arc<TopologyView>), CollectError> {
        let args = ["period", "get"];
        let out = run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[]).await?;
        let period = parse_period(&out.stdout)
            .map_err(|e| parse_failure(&self.telemetry, "period get", e.to_string()))?;
        let view = TopologyView::from_period(period);
        self.warn_once_about(&view);
        let realm = realm_names
            .label(&view.period, &self.rgw, &self.telemetry)
            .await;
        let realm = realm.as_str();
        let mut m = MetricSet::new();
        m.gauge(
            "rgw_multisite_period_epoch",
            "Epoch of the realm's current period, from `period get`.",
        )
        .set(&[("realm", realm)], view.period.epoch as f64);
        let info = m.gauge(
            "rgw_multisite_zone_info",
            "Every zone of the period (`period get`); master=\"true\" for its zonegroup's master zone. Always 1.",
        );
        for (zg, z) in view.period.zones() {
            info.set(
                &[
                    ("zone", &z.name),
                    ("zone_id", &z.id),
                    ("zonegroup", &zg.name),
                    ("realm", realm),
                    (
                        "master",
                        if zg.master_zone == z.id {
                            "true"
                        } else {
                            "false"
                        },
                    ),
                ],
                1.0,
            );
        }
        Ok((m, Arc::new(view)))
    }

    fn warn_once_about(&self, view: &TopologyView) {
        let mut st = lock(&self.state);
        let mut msgs = view.warnings.clone();
        for name in self.cfg.zones.keys() {
            if !view.endpoints.contains_key(name) {
                msgs.push(format!(
                    "zones.{name} in the configuration is not a zone of the period"
                ));
            }
        }
        for g in &view.groups {
            for r in &g.replicas {
                if let Some(why) = r.excluded {
                    msgs.push(format!(
                        "zone {} takes no data from {} ({why}): its buckets count as not replicating",
                        r.zone.name, g.master.name
                    ));
                }
            }
        }
        for msg in msgs {
            if st.warned.insert(msg.clone()) {
                tracing::info!(collector = "topology", "{msg}");
            }
        }
    }

    /// The zone REST mode treats as local: `--zone`, else the metadata master.
    fn local_zone<'a>(&'a self, topo: &'a TopologyView) -> Option<&'a str> {
        self.cfg.local_zone.as_deref().or(topo.metadata_master())
    }

    /// How `zone` is read, or why it cannot be.
    pub fn source_of(&self, zone: &str, topo: &TopologyView) -> Result<Source, String> {
        let over = self.cfg.zones.get(zone);
        let default = if self.local_zone(topo) == Some(zone) {
            StatsMode::Cli
        } else {
            self.cfg.mode
        };
        match over.and_then(|o| o.mode).unwrap_or(default) {
            StatsMode::Cli => Ok(Source::Cli),
            StatsMode::Rest => {
                let endpoint = over
                    .and_then(|o| o.endpoint.clone())
                    .or_else(|| topo.endpoints.get(zone).and_then(|e| e.first().cloned()))
                    .ok_or_else(|| {
                        format!(
                            "zone {zone} has no endpoint in the period; set zones.{zone}.endpoint"
                        )
                    })?;
                Ok(Source::Rest(endpoint))
            }
        }
    }

    /// Reads one zone's bucket stats, counting failures.
    pub async fn fetch_zone(&self, zone: &str, topo: &TopologyView) -> ZoneResult {
        let start = Instant::now();
        let source = self.source_of(zone, topo).map_err(|msg| CollectError {
            command: "bucket stats".into(),
            error: RunError::Spawn {
                program: zone.to_string(),
                reason: msg,
            },
        })?;
        let (stdout, command) = match &source {
            Source::Cli => {
                let args = ["bucket", "stats"];
                let out = run_counted(&self.telemetry, &self.rgw, &args, Some(zone), &[]).await?;
                check_bucket_stats_stderr(&out.stderr).map_err(|msg| {
                    parse_failure(
                        &self.telemetry,
                        "bucket stats",
                        format!("zone {zone}: {msg}"),
                    )
                })?;
                (out.stdout, "bucket stats")
            }
            Source::Rest(endpoint) => {
                let Some(client) = &self.rest else {
                    return Err(CollectError {
                        command: REST_BUCKET_STATS.into(),
                        error: RunError::Spawn {
                            program: endpoint.clone(),
                            reason: "REST mode without keys".into(),
                        },
                    });
                };
                match client.bucket_stats(endpoint).await {
                    Ok(r) => (r.body, REST_BUCKET_STATS),
                    Err(e) => {
                        self.telemetry
                            .count_command_error(REST_BUCKET_STATS, e.command_kind());
                        *lock(&self.state)
                            .rest_errors
                            .entry((zone.to_string(), e.kind().to_string()))
                            .or_insert(0) += 1;
                        return Err(CollectError {
                            command: format!("{REST_BUCKET_STATS} on {zone}"),
                            error: rest_to_run_error(&e, endpoint),
                        });
                    }
                }
            }
        };
        let parsed = parse_bucket_stats(&stdout)
            .map_err(|e| parse_failure(&self.telemetry, command, format!("zone {zone}: {e}")))?;
        drop(stdout);
        let mut buckets = HashMap::with_capacity(parsed.len());
        for b in parsed {
            buckets.insert(b.key(), b);
        }
        Ok(Arc::new(ZoneStats {
            buckets,
            duration: start.elapsed().as_secs_f64(),
            source: source.to_string(),
        }))
    }

    /// Zones are read one after the other, not `--radosgw-admin.concurrency` at a time: one
    /// zone's listing is ~150 MB of JSON at 100k buckets, so reading three at once would hold
    /// three of them in memory (818 MiB peak in the benchmark) where one at a time keeps only
    /// one listing plus the compact parsed stats of the zones already read.
    async fn fetch_all(&self, topo: &TopologyView) -> BTreeMap<String, ZoneResult> {
        let mut out = BTreeMap::new();
        for z in topo.zones_to_read() {
            let r = self.fetch_zone(&z, topo).await;
            if let Err(e) = &r {
                tracing::warn!(collector = "bucket_stats", zone = %z, command = %e.command, kind = e.error.kind(), error = %e.error, "cannot read the zone's bucket stats");
            }
            out.insert(z, r);
        }
        out
    }

    /// `bucket_stats` then `bucket_compare`; true when both succeeded.
    pub async fn collect_buckets(&self) -> bool {
        let t = &self.telemetry;
        let topo = lock(&self.state).topology.clone();
        let mut fetched: BTreeMap<String, ZoneResult> = BTreeMap::new();
        let read_ok = t
            .run_collector("bucket_stats", async {
                let Some(topo) = &topo else {
                    return Err(CollectError {
                        command: "period get".into(),
                        error: RunError::Parse("no topology yet".into()),
                    });
                };
                fetched = self.fetch_all(topo).await;
                match fetched.values().find_map(|r| r.as_ref().err()) {
                    Some(e) => Err(e.clone()),
                    None => Ok((MetricSet::new(), ())),
                }
            })
            .await
            .is_some();
        let compare_ok = t
            .run_collector(
                "bucket_compare",
                self.compare_all(topo.as_deref(), &fetched),
            )
            .await
            .is_some();
        read_ok && compare_ok
    }

    async fn compare_all(
        &self,
        topo: Option<&TopologyView>,
        fetched: &BTreeMap<String, ZoneResult>,
    ) -> Result<(MetricSet, ()), CollectError> {
        let Some(topo) = topo else {
            return Err(CollectError {
                command: "period get".into(),
                error: RunError::Parse("no topology yet".into()),
            });
        };
        let mut m = MetricSet::new();
        for (zone, r) in fetched {
            let z = [("zone", zone.as_str())];
            m.gauge(
                "rgw_multisite_bucket_stats_ok",
                "1 when this cycle read the zone's bucket stats (`radosgw-admin bucket stats` or the admin API), 0 when it could not.",
            )
            .set(&z, if r.is_ok() { 1.0 } else { 0.0 });
            if let Ok(s) = r {
                m.gauge(
                    "rgw_multisite_bucket_stats_duration_seconds",
                    "Wall time of reading the zone's bucket stats.",
                )
                .set(&z, s.duration);
                m.gauge(
                    "rgw_multisite_bucket_stats_buckets",
                    "Buckets listed in the zone's bucket stats (every zonegroup).",
                )
                .set(&z, s.buckets.len() as f64);
            }
        }
        let mut compared_any = false;
        let mut first_error: Option<CollectError> = None;
        let mut in_scope_all: HashSet<(String, String)> = HashSet::new();
        for g in &topo.groups {
            match fetched.get(&g.master.name) {
                Some(Ok(master)) => {
                    compared_any = true;
                    self.compare_group(g, master, fetched, &mut m, &mut in_scope_all)
                        .await;
                }
                Some(Err(e)) => {
                    first_error.get_or_insert_with(|| e.clone());
                }
                None => {}
            }
        }
        // Buckets gone from every master leave the cache.
        lock(&self.state)
            .replication
            .retain(|k, _| in_scope_all.contains(k));
        {
            let st = lock(&self.state);
            let c = m.counter(
                "rgw_multisite_rest_errors_total",
                "Failed admin API calls per zone and kind (config, connect, tls, timeout, auth, http, parse).",
            );
            for ((zone, kind), n) in &st.rest_errors {
                c.set(&[("zone", zone), ("kind", kind)], *n as f64);
            }
        }
        if !compared_any {
            return Err(first_error.unwrap_or_else(|| CollectError {
                command: "bucket stats".into(),
                error: RunError::Parse("no zonegroup master in the period".into()),
            }));
        }
        Ok((m, ()))
    }

    async fn compare_group(
        &self,
        g: &GroupPlan,
        master: &ZoneStats,
        fetched: &BTreeMap<String, ZoneResult>,
        m: &mut MetricSet,
        in_scope_all: &mut HashSet<(String, String)>,
    ) {
        let t = &self.cfg.thresholds;
        // The zonegroup's own buckets as the master counts them; buckets whose stats carry
        // no usage (indexless, or another zonegroup's on Tentacle) cannot be compared.
        let mut scope: Vec<(&String, &BucketStats)> = master
            .buckets
            .iter()
            .filter(|(_, b)| g.owns(b) && b.has_usage)
            .collect();
        scope.sort_by(|a, b| a.0.cmp(b.0));
        for (k, _) in &scope {
            in_scope_all.insert((g.master.name.clone(), (*k).clone()));
        }
        let mzone = g.master.name.as_str();
        let (mut zone_objects, mut zone_bytes) = (0u64, 0u64);
        for (_, b) in &scope {
            zone_objects += b.objects;
            zone_bytes += b.size_bytes;
        }
        zone_totals(m, mzone, zone_objects, zone_bytes);

        // Pass 1: compare every replica; collect the buckets that would be lagging.
        struct Row<'a> {
            key: &'a str,
            replica: Option<Counts>,
            cmp: Comparison,
        }
        let mut rows: Vec<(&ReplicaPlan, Vec<Row<'_>>)> = Vec::new();
        let mut lagging: BTreeMap<&str, (&str, Class, u64)> = BTreeMap::new();
        for r in &g.replicas {
            let rz = r.zone.name.as_str();
            if r.excluded.is_some() {
                m.gauge(
                    "rgw_multisite_zone_replication_enabled",
                    "0 when the period says the zone takes no data from its zonegroup's master (tier type without data, or the master not in sync_from).",
                )
                .set(&[("zone", rz)], 0.0);
                class_counts(m, rz, &BTreeMap::new());
                not_replicating(m, rz, scope.len() as u64);
                continue;
            }
            m.gauge(
                "rgw_multisite_zone_replication_enabled",
                "0 when the period says the zone takes no data from its zonegroup's master (tier type without data, or the master not in sync_from).",
            )
            .set(&[("zone", rz)], 1.0);
            let Some(Ok(rs)) = fetched.get(rz) else {
                continue;
            };
            let mut v = Vec::with_capacity(scope.len());
            for (key, b) in &scope {
                let replica = rs.buckets.get(*key).map(Counts::from);
                let cmp = compare(Counts::from(*b), replica, t);
                if cmp.class != Class::Synced {
                    let e = lagging.entry(key.as_str()).or_insert((
                        b.id.as_str(),
                        cmp.class,
                        cmp.objects_behind,
                    ));
                    e.1 = e.1.max(cmp.class);
                    e.2 = e.2.max(cmp.objects_behind);
                }
                v.push(Row {
                    key: key.as_str(),
                    replica,
                    cmp,
                });
            }
            rows.push((r, v));
        }

        // Pass 2: is each lagging bucket meant to replicate at all?
        let replication = self.replication_of(&g.master.name, &lagging).await;

        // Pass 3: metrics.
        let mut master_series: BTreeSet<&str> = BTreeSet::new();
        for (r, v) in &rows {
            let rz = r.zone.name.as_str();
            let mut classes: BTreeMap<Class, u64> = BTreeMap::new();
            let (mut n_not, mut n_unverified) = (0u64, 0u64);
            let (mut objs, mut bytes, mut behind_o, mut behind_b) = (0u64, 0u64, 0u64, 0u64);
            for row in v {
                let rc = row.replica.unwrap_or_default();
                objs += rc.objects;
                bytes += rc.bytes;
                let verdict = if row.cmp.class == Class::Synced {
                    Some(true)
                } else {
                    replication
                        .get(row.key)
                        .map(|rep| rep.replicates_to(&r.zone))
                };
                let l = [("zone", rz), ("bucket", row.key)];
                if verdict == Some(false) {
                    n_not += 1;
                    master_series.insert(row.key);
                    m.gauge(
                        "rgw_multisite_bucket_replication_enabled",
                        "0 for a bucket whose counts differ from the master's but that is not meant to replicate into this zone (bucket sync disabled, or excluded by sync policy); 1 for exported buckets that are.",
                    )
                    .set(&l, 0.0);
                    bucket_counts(m, &l, rc);
                    continue;
                }
                if verdict.is_none() {
                    n_unverified += 1;
                }
                *classes.entry(row.cmp.class).or_insert(0) += 1;
                behind_o += row.cmp.objects_behind;
                behind_b += row.cmp.bytes_behind;
                if !(self.cfg.all_buckets || row.cmp.class != Class::Synced) {
                    continue;
                }
                master_series.insert(row.key);
                m.gauge(
                    "rgw_multisite_bucket_replication_enabled",
                    "0 for a bucket whose counts differ from the master's but that is not meant to replicate into this zone (bucket sync disabled, or excluded by sync policy); 1 for exported buckets that are.",
                )
                .set(&l, 1.0);
                bucket_counts(m, &l, rc);
                m.gauge(
                    "rgw_multisite_bucket_sync_ratio",
                    "Objects in this zone's copy / objects in the master's (`bucket stats`), clamped to 0..1; 1 when the master's bucket is empty.",
                )
                .set(&l, row.cmp.ratio);
                m.gauge(
                    "rgw_multisite_bucket_objects_behind",
                    "Master objects minus this zone's objects (`bucket stats`), floored at 0.",
                )
                .set(&l, row.cmp.objects_behind as f64);
                m.gauge(
                    "rgw_multisite_bucket_bytes_behind",
                    "Master logical bytes minus this zone's (`usage.\"rgw.main\".size`), floored at 0.",
                )
                .set(&l, row.cmp.bytes_behind as f64);
                m.gauge(
                    "rgw_multisite_bucket_sync_priority",
                    "Class of the bucket in this zone by sync ratio: 0 synced, 1 low, 2 medium, 3 high; only buckets meant to replicate.",
                )
                .set(&l, f64::from(row.cmp.class.priority()));
            }
            class_counts(m, rz, &classes);
            not_replicating(m, rz, n_not);
            m.gauge(
                "rgw_multisite_buckets_replication_unverified",
                "Buckets counted as lagging whose replication setting could not be checked yet (check failed, or over --bucket-sync-info.max-per-cycle).",
            )
            .set(&[("zone", rz)], n_unverified as f64);
            zone_totals(m, rz, objs, bytes);
            m.gauge(
                "rgw_multisite_zone_objects_behind",
                "Sum of objects behind the master over the zone's replicating buckets; exact whatever the per-bucket series limit.",
            )
            .set(&[("zone", rz)], behind_o as f64);
            m.gauge(
                "rgw_multisite_zone_bytes_behind",
                "Sum of logical bytes behind the master over the zone's replicating buckets.",
            )
            .set(&[("zone", rz)], behind_b as f64);
        }
        for (key, b) in &scope {
            if self.cfg.all_buckets || master_series.contains(key.as_str()) {
                bucket_counts(m, &[("zone", mzone), ("bucket", key)], Counts::from(*b));
            }
        }
    }

    /// The replication setting of each lagging bucket: from the cache when fresh, else
    /// checked (worst first, bounded per cycle). Missing entries are unverified.
    async fn replication_of(
        &self,
        master: &str,
        lagging: &BTreeMap<&str, (&str, Class, u64)>,
    ) -> HashMap<String, Replication> {
        let ttl = self.cfg.sync_info_ttl;
        let mut known = HashMap::new();
        // Owned items: futures over borrowed iterator items trip rustc's `Send` inference
        // for spawned tasks (rust-lang/rust#102211).
        let mut stale: Vec<(String, String, Class, u64)> = Vec::new();
        {
            let st = lock(&self.state);
            for (key, (instance, class, behind)) in lagging {
                match st.replication.get(&(master.to_string(), key.to_string())) {
                    Some(r) if r.instance == *instance && r.at.elapsed() < ttl => {
                        known.insert(key.to_string(), r.clone());
                    }
                    _ => stale.push((key.to_string(), instance.to_string(), *class, *behind)),
                }
            }
        }
        stale.sort_by(|a, b| b.2.cmp(&a.2).then(b.3.cmp(&a.3)).then(a.0.cmp(&b.0)));
        stale.truncate(self.cfg.sync_info_max_per_cycle);
        let master_owned = master.to_string();
        let checked = stream::iter(stale)
            .map(|(key, instance, _, _)| {
                let master = master_owned.clone();
                async move {
                    let r = self.check_replication(&master, &key, &instance).await;
                    (key, r)
                }
            })
            .buffer_unordered(self.cfg.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut st = lock(&self.state);
        for (key, r) in checked {
            if let Some(r) = r {
                st.replication
                    .insert((master.to_string(), key.clone()), r.clone());
                known.insert(key, r);
            }
        }
        known
    }

    /// `bucket sync info` (disabled?) then `sync info` (to which zones) on the master.
    /// `None` when either call fails: the bucket then counts as replicating.
    async fn check_replication(
        &self,
        master: &str,
        key: &str,
        instance: &str,
    ) -> Option<Replication> {
        let b = format!("--bucket={key}");
        let t = &self.telemetry;
        let args = ["bucket", "sync", "info", b.as_str()];
        // Exit 2: the bucket went away since the stats were read.
        let out = run_counted(t, &self.rgw, &args, Some(master), &[2])
            .await
            .map_err(|e| tracing::debug!(bucket = key, error = %e, "bucket sync info failed"))
            .ok()?;
        if out.code == 2 {
            return None;
        }
        if parse_bucket_sync_info_disabled(&out.stdout) {
            return Some(Replication {
                instance: instance.to_string(),
                disabled: true,
                dests: BTreeSet::new(),
                at: Instant::now(),
            });
        }
        let args = ["sync", "info", b.as_str()];
        let out = run_counted(t, &self.rgw, &args, Some(master), &[])
            .await
            .map_err(|e| tracing::debug!(bucket = key, error = %e, "sync info failed"))
            .ok()?;
        let info = parse_sync_info(&out.stdout)
            .map_err(|e| parse_failure(t, "sync info", e.to_string()))
            .ok()?;
        Some(Replication {
            instance: instance.to_string(),
            disabled: false,
            dests: info
                .dests
                .into_iter()
                .map(|p| p.dest_zone)
                .filter(|z| !z.is_empty())
                .collect(),
            at: Instant::now(),
        })
    }

    /// Pre-flight checks of the exporter's own calls, printed like `check`'s lines.
    pub async fn run_checks(&self) -> bool {
        let mut failures = 0usize;
        let mut report = |what: &str, r: Result<String, String>| match r {
            Ok(d) => println!("[ OK ] {what}: {d}"),
            Err(e) => {
                failures += 1;
                println!("[FAIL] {what}: {e}");
            }
        };
        let topo = match self.collect_topology(&self.realm_names).await {
            Ok((_, v)) => v,
            Err(e) => {
                report("topology (period get)", Err(e.to_string()));
                println!("1 exporter check(s) failed");
                return false;
            }
        };
        report(
            "topology (period get)",
            Ok(format!(
                "{} zonegroup(s) with a master, zones: {}",
                topo.groups.len(),
                topo.endpoints
                    .keys()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
        for w in &topo.warnings {
            report("topology", Err(w.clone()));
        }
        for g in &topo.groups {
            for r in &g.replicas {
                if let Some(why) = r.excluded {
                    report(
                        &format!("zone {}", r.zone.name),
                        Ok(format!(
                            "takes no data from {} ({why}); its buckets count as not replicating",
                            g.master.name
                        )),
                    );
                }
            }
        }
        let mut first_bucket: Option<(String, String)> = None;
        for zone in topo.zones_to_read() {
            let source = self
                .source_of(&zone, &topo)
                .map_or_else(|e| e, |s| s.to_string());
            let r = self.fetch_zone(&zone, &topo).await;
            if let Ok(s) = &r {
                if first_bucket.is_none() && topo.groups.iter().any(|g| g.master.name == zone) {
                    let mut keys: Vec<&String> = s.buckets.keys().collect();
                    keys.sort();
                    first_bucket = keys.first().map(|k| (zone.clone(), (*k).clone()));
                }
            }
            report(
                &format!("bucket stats of {zone} ({source})"),
                r.map(|s| format!("{} bucket(s)", s.buckets.len()))
                    .map_err(|e| e.to_string()),
            );
        }
        if let Some((master, key)) = first_bucket {
            let r = self.check_replication(&master, &key, "").await;
            report(
                "bucket sync info / sync info parse",
                r.map(|rep| {
                    if rep.disabled {
                        format!("bucket {key}: sync disabled")
                    } else {
                        format!(
                            "bucket {key} replicates to: {}",
                            rep.dests.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    }
                })
                .ok_or_else(|| format!("bucket {key}: `bucket sync info` or `sync info` failed")),
            );
        }
        if failures == 0 {
            println!("all exporter checks passed");
            true
        } else {
            println!("{failures} exporter check(s) failed");
            false
        }
    }
}

fn bucket_counts(m: &mut MetricSet, l: &[(&str, &str)], c: Counts) {
    m.gauge(
        "rgw_multisite_bucket_objects",
        "Objects in the bucket as this zone counts them (`bucket stats` usage.\"rgw.main\".num_objects; 0 when the zone does not have the bucket yet).",
    )
    .set(l, c.objects as f64);
    m.gauge(
        "rgw_multisite_bucket_size_bytes",
        "Logical bytes of the bucket as this zone counts them (`bucket stats` usage.\"rgw.main\".size).",
    )
    .set(l, c.bytes as f64);
}

fn class_counts(m: &mut MetricSet, zone: &str, classes: &BTreeMap<Class, u64>) {
    let g = m.gauge(
        "rgw_multisite_buckets",
        "Buckets of the zone's zonegroup per class by sync ratio against the master (synced, low, medium, high); exact whatever the per-bucket series limit; buckets not meant to replicate are not counted.",
    );
    for c in Class::ALL {
        g.set(
            &[("zone", zone), ("priority", c.label())],
            classes.get(&c).copied().unwrap_or(0) as f64,
        );
    }
}

fn not_replicating(m: &mut MetricSet, zone: &str, n: u64) {
    m.gauge(
        "rgw_multisite_buckets_not_replicating",
        "Buckets of the master not meant to replicate into this zone (zone excluded by the period, or a lagging bucket with sync disabled or excluded by policy); kept out of the classes.",
    )
    .set(&[("zone", zone)], n as f64);
}

fn zone_totals(m: &mut MetricSet, zone: &str, objects: u64, bytes: u64) {
    m.gauge(
        "rgw_multisite_zone_objects",
        "Objects over the zonegroup's buckets as this zone counts them (`bucket stats`).",
    )
    .set(&[("zone", zone)], objects as f64);
    m.gauge(
        "rgw_multisite_zone_size_bytes",
        "Logical bytes over the zonegroup's buckets as this zone counts them (`bucket stats`).",
    )
    .set(&[("zone", zone)], bytes as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(objects: u64, bytes: u64) -> Counts {
        Counts { objects, bytes }
    }

    #[test]
    fn class_boundaries() {
        let t = Thresholds::default();
        let class = |replica: u64| compare(c(100, 0), Some(c(replica, 0)), &t).class;
        assert_eq!(class(100), Class::Synced);
        assert_eq!(class(99), Class::Synced);
        assert_eq!(class(98), Class::Low);
        assert_eq!(class(95), Class::Low);
        assert_eq!(class(94), Class::Medium);
        assert_eq!(class(85), Class::Medium);
        assert_eq!(class(84), Class::High);
        assert_eq!(class(0), Class::High);
        // Exact boundaries on other denominators (0.99 = 198/200, 0.95 = 19/20, 0.85 = 17/20).
        assert_eq!(compare(c(200, 0), Some(c(198, 0)), &t).class, Class::Synced);
        assert_eq!(compare(c(200, 0), Some(c(197, 0)), &t).class, Class::Low);
        assert_eq!(compare(c(20, 0), Some(c(19, 0)), &t).class, Class::Low);
        assert_eq!(compare(c(20, 0), Some(c(17, 0)), &t).class, Class::Medium);
        assert_eq!(compare(c(20, 0), Some(c(16, 0)), &t).class, Class::High);
        assert_eq!(
            Class::ALL.map(Class::priority),
            [0, 1, 2, 3],
            "priority is the class index"
        );
        assert_eq!(
            Class::ALL.map(Class::label),
            ["synced", "low", "medium", "high"]
        );
    }

    #[test]
    fn empty_missing_and_ahead_replicas() {
        let t = Thresholds::default();
        // Both empty: in sync.
        assert_eq!(
            compare(c(0, 0), Some(c(0, 0)), &t),
            Comparison {
                ratio: 1.0,
                objects_behind: 0,
                bytes_behind: 0,
                class: Class::Synced
            }
        );
        // Master empty, replica not (deletes not applied yet): clamped, nothing behind.
        assert_eq!(
            compare(c(0, 0), Some(c(5, 500)), &t),
            Comparison {
                ratio: 1.0,
                objects_behind: 0,
                bytes_behind: 0,
                class: Class::Synced
            }
        );
        // Replica ahead: clamped to 1, behind floored at 0.
        assert_eq!(
            compare(c(10, 100), Some(c(12, 90)), &t),
            Comparison {
                ratio: 1.0,
                objects_behind: 0,
                bytes_behind: 10,
                class: Class::Synced
            }
        );
        // Bucket not on the replica yet: 0 objects there.
        assert_eq!(
            compare(c(20, 2048), None, &t),
            Comparison {
                ratio: 0.0,
                objects_behind: 20,
                bytes_behind: 2048,
                class: Class::High
            }
        );
        assert_eq!(compare(c(0, 0), None, &t).class, Class::Synced);
        // The silent gap of the lab: 15 of 20.
        assert_eq!(
            compare(c(20, 40_000), Some(c(15, 30_000)), &t),
            Comparison {
                ratio: 0.75,
                objects_behind: 5,
                bytes_behind: 10_000,
                class: Class::High
            }
        );
    }

    #[test]
    fn thresholds_are_validated_and_configurable() {
        assert_eq!(Thresholds::default().validate(), Ok(()));
        let t = Thresholds {
            synced: 1.0,
            low: 0.5,
            medium: 0.25,
        };
        assert_eq!(t.validate(), Ok(()));
        assert_eq!(t.classify(0.99), Class::Low);
        assert_eq!(t.classify(0.3), Class::Medium);
        assert_eq!(t.classify(0.2), Class::High);
        let bad = Thresholds {
            synced: 0.9,
            low: 0.95,
            medium: 0.85,
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("medium_min_ratio <= low_min_ratio"));
        let bad = Thresholds {
            synced: 1.5,
            ..Thresholds::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("synced_min_ratio = 1.5"));
        let bad = Thresholds {
            medium: f64::NAN,
            ..Thresholds::default()
        };
        assert!(bad.validate().is_err());
    }

    fn zone(name: &str, tier: &str, sync_from_all: bool, sync_from: &[&str]) -> Zone {
        Zone {
            id: format!("id-{name}"),
            name: name.into(),
            endpoints: vec![format!("http://{name}:80")],
            tier_type: tier.into(),
            sync_from_all,
            sync_from: sync_from.iter().map(|s| s.to_string()).collect(),
            read_only: false,
        }
    }

    #[test]
    fn zones_that_take_no_data_are_excluded() {
        let m = zone("east", "", true, &[]);
        assert_eq!(replica_exclusion(&m, &zone("west", "", true, &[])), None);
        assert_eq!(
            replica_exclusion(&m, &zone("arch", "archive", true, &[])),
            None
        );
        assert_eq!(
            replica_exclusion(&m, &zone("es", "elasticsearch", true, &[])),
            Some("tier_type")
        );
        assert_eq!(
            replica_exclusion(&m, &zone("cloud", "cloud", true, &[])),
            Some("tier_type")
        );
        assert_eq!(
            replica_exclusion(&m, &zone("west", "", false, &["other"])),
            Some("sync_from")
        );
        assert_eq!(
            replica_exclusion(&m, &zone("west", "", false, &["east"])),
            None
        );
    }

    #[test]
    fn topology_plans_each_zonegroup_against_its_master() {
        use crate::parse::period::ZoneGroup;
        let period = Period {
            id: "p".into(),
            epoch: 3,
            realm_id: "r".into(),
            realm_name: Some("lab".into()),
            master_zonegroup: "zg-a".into(),
            master_zone: "id-east".into(),
            zonegroups: vec![
                ZoneGroup {
                    id: "zg-a".into(),
                    name: "a".into(),
                    is_master: true,
                    master_zone: "id-east".into(),
                    endpoints: vec![],
                    zones: vec![
                        zone("west", "", true, &[]),
                        zone("east", "", true, &[]),
                        zone("es", "elasticsearch", true, &[]),
                    ],
                },
                ZoneGroup {
                    id: "zg-b".into(),
                    name: "b".into(),
                    is_master: false,
                    master_zone: "id-north".into(),
                    endpoints: vec![],
                    zones: vec![zone("north", "", true, &[]), zone("south", "", true, &[])],
                },
            ],
        };
        let v = TopologyView::from_period(period);
        assert_eq!(v.metadata_master(), Some("east"));
        assert_eq!(
            v.groups
                .iter()
                .map(|g| (
                    g.name.as_str(),
                    g.master.name.as_str(),
                    g.is_master_zonegroup
                ))
                .collect::<Vec<_>>(),
            vec![("a", "east", true), ("b", "north", false)]
        );
        assert_eq!(
            v.groups[0]
                .replicas
                .iter()
                .map(|r| (r.zone.name.as_str(), r.excluded))
                .collect::<Vec<_>>(),
            vec![("west", None), ("es", Some("tier_type"))]
        );
        assert_eq!(v.zones_to_read(), vec!["east", "west", "north", "south"]);
        let owned = BucketStats {
            zonegroup: String::new(),
            ..BucketStats::default()
        };
        assert!(
            v.groups[0].owns(&owned),
            "an empty zonegroup belongs to the master zonegroup"
        );
        assert!(!v.groups[1].owns(&owned));
    }

    // -----------------------------------------------------------------------------------
    // The collectors against a fake radosgw-admin keyed by argv.
    // -----------------------------------------------------------------------------------

    use crate::runner::{BoxFuture, CommandOutput, CommandRunner};

    #[derive(Default)]
    struct Fake {
        answers: HashMap<String, (i32, String)>,
        stderrs: HashMap<String, String>,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        /// Stderr for a call, whatever its exit code (radosgw-admin warns with exit 0).
        fn stderr(mut self, args: &str, stderr: &str) -> Self {
            self.stderrs.insert(args.to_string(), stderr.to_string());
            self
        }

        fn on(mut self, args: &str, code: i32, stdout: &str) -> Self {
            self.answers
                .insert(args.to_string(), (code, stdout.to_string()));
            self
        }

        fn calls(&self) -> Vec<String> {
            lock(&self.calls).clone()
        }
    }

    impl CommandRunner for Fake {
        fn run<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, Result<CommandOutput, RunError>> {
            // argv[0] is the program; the key is the rest.
            let key = argv.iter().skip(1).cloned().collect::<Vec<_>>().join(" ");
            lock(&self.calls).push(key.clone());
            let out = match self.answers.get(&key) {
                Some((code, stdout)) => Ok(CommandOutput {
                    stdout: stdout.clone(),
                    stderr: match self.stderrs.get(&key) {
                        Some(e) => e.clone(),
                        None if *code == 0 => String::new(),
                        None => "failure".into(),
                    },
                    code: *code,
                    duration: Duration::from_millis(1),
                }),
                None => Ok(CommandOutput {
                    stdout: String::new(),
                    stderr: format!("no fake answer for {key}"),
                    code: 22,
                    duration: Duration::from_millis(1),
                }),
            };
            Box::pin(async move { out })
        }
    }

    const PERIOD: &str = r#"{
        "id": "p1", "epoch": 7, "realm_id": "r1", "realm_name": "lab",
        "master_zonegroup": "zg1", "master_zone": "id-east",
        "period_map": {"zonegroups": [{
            "id": "zg1", "name": "zg1", "is_master": "true", "master_zone": "id-east",
            "zones": [
                {"id": "id-east", "name": "us-east", "endpoints": ["http://e:80"], "tier_type": ""},
                {"id": "id-west", "name": "us-west", "endpoints": ["http://w:80"], "tier_type": ""},
                {"id": "id-es", "name": "search", "endpoints": ["http://s:80"], "tier_type": "elasticsearch"}
            ]}]}
    }"#;

    fn stats(buckets: &[(&str, u64)]) -> String {
        let items: Vec<String> = buckets
            .iter()
            .map(|(name, n)| {
                format!(
                    r#"{{"bucket": "{name}", "tenant": "", "zonegroup": "zg1", "id": "id-east.{name}", "marker": "m", "usage": {{"rgw.main": {{"num_objects": {n}, "size": {}}}}}}}"#,
                    n * 100
                )
            })
            .collect();
        format!("[{}]", items.join(","))
    }

    const DISABLED: &str = "         bucket :b[id-east.b])\n\nSync is disabled for bucket b\n";
    const ENABLED: &str =
        "         bucket :x[id])\n\n    source zone id-west\n         bucket :x[id])\n";

    fn sync_info(dests: &[&str]) -> String {
        let pipes: Vec<String> = dests
            .iter()
            .map(|d| {
                format!(
                    r#"{{"id": "all", "source": {{"zone": "us-east"}}, "dest": {{"zone": "{d}"}}}}"#
                )
            })
            .collect();
        format!(r#"{{"sources": [], "dests": [{}]}}"#, pipes.join(","))
    }

    fn fake_cluster() -> Fake {
        Fake::default()
            .on("period get --rgw-zone=us-east", 0, PERIOD)
            .on(
                "bucket stats --rgw-zone=us-east",
                0,
                &stats(&[("a", 10), ("b", 10), ("c", 10), ("d", 10)]),
            )
            .on(
                "bucket stats --rgw-zone=us-west",
                0,
                &stats(&[("a", 10), ("b", 5), ("c", 0)]),
            )
            .on(
                "bucket sync info --bucket=b --rgw-zone=us-east",
                0,
                DISABLED,
            )
            .on("bucket sync info --bucket=c --rgw-zone=us-east", 0, ENABLED)
            .on("bucket sync info --bucket=d --rgw-zone=us-east", 0, ENABLED)
            .on(
                "sync info --bucket=c --rgw-zone=us-east",
                0,
                &sync_info(&["other"]),
            )
            .on(
                "sync info --bucket=d --rgw-zone=us-east",
                0,
                &sync_info(&["us-west"]),
            )
    }

    fn primary(fake: Arc<Fake>, cfg: PrimaryConfig) -> Primary {
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake)
            .with_zone(Some("us-east".into()));
        let t = Telemetry::new("t", "primary", "topology");
        Primary::new(rgw, t, cfg, None)
    }

    #[tokio::test]
    async fn a_dead_cluster_mid_cycle_sets_up_0_at_once_and_the_next_good_cycle_brings_it_back() {
        use crate::runner::FakeRunner;
        let argv = |args: &str, zone: &str| -> Vec<String> {
            let mut v = vec!["radosgw-admin".to_string()];
            v.extend(args.split(' ').map(str::to_string));
            v.push(format!("--rgw-zone={zone}"));
            v
        };
        let mut probe = argv("period get", "us-east");
        probe.extend(crate::runner::ceph_timeout_args(Duration::from_secs(8)));
        let fake = FakeRunner::new();
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake.clone())
            .with_zone(Some("us-east".into()));
        let t = Telemetry::new("t", "primary", "topology");
        t.set_call_timeout(Duration::from_secs(8));
        let p = Primary::new(rgw, t.clone(), PrimaryConfig::default(), None);
        fake.on(argv("period get", "us-east"), 0, PERIOD, "");
        let timeout = |s| Err(RunError::Timeout(Duration::from_secs(s)));
        fake.set(argv("bucket stats", "us-east"), timeout(8));
        fake.set(probe.clone(), timeout(8));
        fake.on(argv("bucket stats", "us-west"), 0, &stats(&[("a", 10)]), "");
        assert!(!p.cycle(None).await);
        // The topology collector (up's) succeeded, yet up is 0; us-west was never asked.
        assert_eq!(
            fake.calls(),
            vec![
                argv("period get", "us-east"),
                argv("bucket stats", "us-east"),
                probe.clone()
            ]
        );
        let text = t.exposition();
        assert!(text.contains("rgw_multisite_up 0\n"), "{text}");
        assert!(text.contains("rgw_multisite_collector_success{collector=\"topology\"} 1\n"));
        assert!(text.contains("rgw_multisite_collector_success{collector=\"bucket_stats\"} 0\n"));

        fake.on(argv("bucket stats", "us-east"), 0, &stats(&[("a", 10)]), "");
        assert!(p.cycle(None).await);
        let text = t.exposition();
        assert!(text.contains("rgw_multisite_up 1\n"), "{text}");
        assert!(fake.calls().contains(&argv("bucket stats", "us-west")));
    }

    fn lines(text: &str, prefix: &str) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn buckets_not_meant_to_replicate_stay_out_of_the_classes() {
        let fake = Arc::new(fake_cluster());
        let p = primary(fake.clone(), PrimaryConfig::default());
        assert!(p.cycle(None).await);
        let text = p.telemetry().exposition();
        assert_eq!(
            lines(&text, "rgw_multisite_buckets{"),
            vec![
                r#"rgw_multisite_buckets{zone="search",priority="high"} 0"#,
                r#"rgw_multisite_buckets{zone="search",priority="low"} 0"#,
                r#"rgw_multisite_buckets{zone="search",priority="medium"} 0"#,
                r#"rgw_multisite_buckets{zone="search",priority="synced"} 0"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="high"} 1"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="low"} 0"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="medium"} 0"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="synced"} 1"#,
            ]
        );
        assert_eq!(
            lines(&text, "rgw_multisite_buckets_not_replicating"),
            vec![
                r#"rgw_multisite_buckets_not_replicating{zone="search"} 4"#,
                r#"rgw_multisite_buckets_not_replicating{zone="us-west"} 2"#,
            ]
        );
        assert_eq!(
            lines(&text, "rgw_multisite_bucket_replication_enabled"),
            vec![
                r#"rgw_multisite_bucket_replication_enabled{zone="us-west",bucket="b"} 0"#,
                r#"rgw_multisite_bucket_replication_enabled{zone="us-west",bucket="c"} 0"#,
                r#"rgw_multisite_bucket_replication_enabled{zone="us-west",bucket="d"} 1"#,
            ]
        );
        // Only the replicating lagging bucket has a ratio and a priority: nothing pages for
        // b (sync disabled) or c (policy sends it elsewhere).
        assert_eq!(
            lines(&text, "rgw_multisite_bucket_sync_priority"),
            vec![r#"rgw_multisite_bucket_sync_priority{zone="us-west",bucket="d"} 3"#]
        );
        assert_eq!(
            lines(&text, "rgw_multisite_bucket_sync_ratio"),
            vec![r#"rgw_multisite_bucket_sync_ratio{zone="us-west",bucket="d"} 0"#]
        );
        assert_eq!(
            lines(&text, "rgw_multisite_zone_replication_enabled"),
            vec![
                r#"rgw_multisite_zone_replication_enabled{zone="search"} 0"#,
                r#"rgw_multisite_zone_replication_enabled{zone="us-west"} 1"#,
            ]
        );
        assert!(text.contains(
            "rgw_multisite_zone_info{zone=\"search\",zone_id=\"id-es\",zonegroup=\"zg1\",realm=\"lab\",master=\"false\"} 1\n"
        ));
        // The zone that takes no data is never read; synced bucket a is never checked.
        let calls = fake.calls();
        assert!(
            !calls.iter().any(|c| c.contains("--rgw-zone=search")),
            "{calls:?}"
        );
        assert!(!calls.iter().any(|c| c.contains("--bucket=a")), "{calls:?}");
        assert!(
            !calls.contains(&"sync info --bucket=b --rgw-zone=us-east".to_string()),
            "a disabled bucket needs no sync info: {calls:?}"
        );

        // The second cycle answers from the cache.
        assert!(p.cycle(None).await);
        let again = fake.calls();
        let checks = |c: &[String]| c.iter().filter(|x| x.contains("sync info")).count();
        assert_eq!(checks(&again), checks(&calls), "{again:?}");
    }

    #[tokio::test]
    async fn checks_per_cycle_are_bounded_worst_first() {
        let fake = Arc::new(fake_cluster());
        let p = primary(
            fake.clone(),
            PrimaryConfig {
                sync_info_max_per_cycle: 1,
                ..PrimaryConfig::default()
            },
        );
        assert!(p.cycle(None).await);
        let text = p.telemetry().exposition();
        let checked: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("bucket sync info"))
            .collect();
        // All three are HIGH; c and d are 10 objects behind, b only 5; ties go by name.
        assert_eq!(
            checked,
            vec!["bucket sync info --bucket=c --rgw-zone=us-east"]
        );
        assert!(
            text.contains("rgw_multisite_buckets_replication_unverified{zone=\"us-west\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("rgw_multisite_buckets{zone=\"us-west\",priority=\"high\"} 2\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_replica_fails_bucket_stats_but_keeps_the_rest() {
        let fake = Arc::new(fake_cluster().on("bucket stats --rgw-zone=us-west", 1, ""));
        let p = primary(fake, PrimaryConfig::default());
        assert!(!p.cycle(None).await);
        let text = p.telemetry().exposition();
        for want in [
            "rgw_multisite_collector_success{collector=\"bucket_stats\"} 0\n",
            "rgw_multisite_collector_success{collector=\"bucket_compare\"} 1\n",
            "rgw_multisite_bucket_stats_ok{zone=\"us-west\"} 0\n",
            "rgw_multisite_bucket_stats_ok{zone=\"us-east\"} 1\n",
            "rgw_multisite_command_errors_total{command=\"bucket stats\",kind=\"exit\"} 1\n",
            "rgw_multisite_zone_objects{zone=\"us-east\"} 40\n",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        // No classes for a zone that could not be read: absent, not wrong.
        assert!(
            !text.contains("rgw_multisite_buckets{zone=\"us-west\""),
            "{text}"
        );
    }

    #[tokio::test]
    async fn bucket_stats_with_unreadable_buckets_is_a_failure_not_wrong_counts() {
        // Seen on 16.2.15 with a cephx user lacking the index pool: exit 0, the buckets
        // listed with zero usage, one stderr line per bucket.
        let fake = Arc::new(fake_cluster().stderr(
            "bucket stats --rgw-zone=us-west",
            "error getting bucket stats bucket=a ret=-1\nerror getting bucket stats bucket=b ret=-1\n",
        ));
        let p = primary(fake, PrimaryConfig::default());
        assert!(!p.cycle(None).await);
        let text = p.telemetry().exposition();
        for want in [
            "rgw_multisite_collector_success{collector=\"bucket_stats\"} 0\n",
            "rgw_multisite_bucket_stats_ok{zone=\"us-west\"} 0\n",
            "rgw_multisite_command_errors_total{command=\"bucket stats\",kind=\"parse\"} 1\n",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert!(
            !text.contains("rgw_multisite_buckets{zone=\"us-west\""),
            "{text}"
        );
        assert_eq!(
            check_bucket_stats_stderr("error getting bucket stats bucket=x ret=-1\n"),
            Err(
                "radosgw-admin could not read 1 bucket(s) and would report wrong counts \
                 (error getting bucket stats bucket=x ret=-1); check the cephx caps on the \
                 bucket index pool (README: Permissions)"
                    .into()
            )
        );
        assert_eq!(
            check_bucket_stats_stderr("2024-01-01T00:00:00 7f 0 noise\n"),
            Ok(())
        );
    }

    #[tokio::test]
    async fn all_buckets_exports_synced_ones_too() {
        let fake = Arc::new(fake_cluster());
        let p = primary(
            fake,
            PrimaryConfig {
                all_buckets: true,
                ..PrimaryConfig::default()
            },
        );
        assert!(p.cycle(None).await);
        let text = p.telemetry().exposition();
        assert!(
            text.contains("rgw_multisite_bucket_sync_priority{zone=\"us-west\",bucket=\"a\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("rgw_multisite_bucket_objects{zone=\"us-east\",bucket=\"a\"} 10\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn each_zonegroup_is_compared_with_its_own_master() {
        let period = r#"{
            "id": "p1", "epoch": 9, "realm_id": "r1", "realm_name": "lab",
            "master_zonegroup": "zg1", "master_zone": "id-east",
            "period_map": {"zonegroups": [
                {"id": "zg1", "name": "zg1", "is_master": "true", "master_zone": "id-east",
                 "zones": [{"id": "id-east", "name": "us-east", "endpoints": ["http://e:80"]},
                           {"id": "id-west", "name": "us-west", "endpoints": ["http://w:80"]}]},
                {"id": "zg2", "name": "zg2", "is_master": "false", "master_zone": "id-north",
                 "zones": [{"id": "id-north", "name": "north", "endpoints": ["http://n:80"]},
                           {"id": "id-south", "name": "south", "endpoints": ["http://s:80"]}]}
            ]}
        }"#;
        // Bucket metadata is realm-wide: every zone lists both zonegroups' buckets.
        let listing = |a: u64, n: u64| {
            format!(
                r#"[{{"bucket": "a", "zonegroup": "zg1", "id": "i.a", "usage": {{"rgw.main": {{"num_objects": {a}, "size": {a}}}}}}},
                    {{"bucket": "n", "zonegroup": "zg2", "id": "i.n", "usage": {{"rgw.main": {{"num_objects": {n}, "size": {n}}}}}}}]"#
            )
        };
        let fake = Arc::new(
            Fake::default()
                .on("period get --rgw-zone=us-east", 0, period)
                .on("bucket stats --rgw-zone=us-east", 0, &listing(10, 0))
                .on("bucket stats --rgw-zone=us-west", 0, &listing(5, 0))
                .on("bucket stats --rgw-zone=north", 0, &listing(0, 10))
                .on("bucket stats --rgw-zone=south", 0, &listing(0, 10))
                .on("bucket sync info --bucket=a --rgw-zone=us-east", 0, ENABLED)
                .on(
                    "sync info --bucket=a --rgw-zone=us-east",
                    0,
                    &sync_info(&["us-west"]),
                ),
        );
        let p = primary(fake.clone(), PrimaryConfig::default());
        assert!(p.cycle(None).await);
        let text = p.telemetry().exposition();
        // us-west: only bucket a (half there); south: only bucket n (all there), although
        // each zone's listing shows the other zonegroup's bucket with other counts.
        assert_eq!(
            lines(&text, "rgw_multisite_buckets{"),
            vec![
                r#"rgw_multisite_buckets{zone="south",priority="high"} 0"#,
                r#"rgw_multisite_buckets{zone="south",priority="low"} 0"#,
                r#"rgw_multisite_buckets{zone="south",priority="medium"} 0"#,
                r#"rgw_multisite_buckets{zone="south",priority="synced"} 1"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="high"} 1"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="low"} 0"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="medium"} 0"#,
                r#"rgw_multisite_buckets{zone="us-west",priority="synced"} 0"#,
            ]
        );
        assert_eq!(
            lines(&text, "rgw_multisite_zone_info{"),
            vec![
                r#"rgw_multisite_zone_info{zone="north",zone_id="id-north",zonegroup="zg2",realm="lab",master="true"} 1"#,
                r#"rgw_multisite_zone_info{zone="south",zone_id="id-south",zonegroup="zg2",realm="lab",master="false"} 1"#,
                r#"rgw_multisite_zone_info{zone="us-east",zone_id="id-east",zonegroup="zg1",realm="lab",master="true"} 1"#,
                r#"rgw_multisite_zone_info{zone="us-west",zone_id="id-west",zonegroup="zg1",realm="lab",master="false"} 1"#,
            ]
        );
        assert!(
            text.contains("rgw_multisite_zone_objects{zone=\"north\"} 10\n"),
            "{text}"
        );
        assert!(
            text.contains("rgw_multisite_zone_objects{zone=\"us-east\"} 10\n"),
            "{text}"
        );
        assert!(
            text.contains("rgw_multisite_period_epoch{realm=\"lab\"} 9\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn tentacle_realm_label_is_the_name_from_the_sync_status_header() {
        // Real Tentacle `period get` (no realm_name) and the master's `sync status`.
        let cap = |f: &str| {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/radosgw-admin/tentacle-caught-up")
                .join(f);
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let period = cap("period-get--rgw-zone=us-east.stdout");
        assert!(!period.contains("realm_name"));
        let fake = Arc::new(
            Fake::default()
                .on("period get --rgw-zone=us-east", 0, &period)
                .on(
                    "sync status --rgw-zone=us-east",
                    0,
                    &cap("sync-status--rgw-zone=us-east.stdout"),
                ),
        );
        let p = primary(fake.clone(), PrimaryConfig::default());
        p.cycle(None).await;
        let text = p.telemetry().exposition();
        assert_eq!(
            lines(&text, "rgw_multisite_zone_info{")
                .iter()
                .map(|l| l.contains(r#"realm="lab""#))
                .collect::<Vec<_>>(),
            vec![true, true],
            "{text}"
        );
        assert!(
            text.contains("rgw_multisite_period_epoch{realm=\"lab\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("rgw_multisite_collector_success{collector=\"topology\"} 1\n"));
        // Remembered: the next cycle asks no more.
        p.cycle(None).await;
        let asked = fake
            .calls()
            .iter()
            .filter(|c| c.starts_with("sync status"))
            .count();
        assert_eq!(asked, 1);
    }
}
