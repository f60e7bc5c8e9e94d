//! The agent's collectors: what a secondary (pulling) zone knows about its replication.
//!
//! One cycle runs `topology` (period get: zone ids to names), `sync_status`, `sync_errors`
//! and `bucket_sync`, in that order, because each feeds the next: the behind and recovering
//! datalog shards of `sync status` name the shards whose pending buckets get a
//! `bucket sync status`; buckets with sync errors are checked too; and a slow sweep over
//! `bucket list` covers every other bucket at a bounded rate (DESIGN.md "Scale").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};

use crate::collect::{parse_failure, run_counted, CollectError, Telemetry};
use crate::metrics::{now_unix, MetricSet};
use crate::parse::bucket_list::parse_bucket_list;
use crate::parse::bucket_sync_status::{parse_bucket_sync_status, BucketSource, BucketSourceState};
use crate::parse::common::NamedId;
use crate::parse::data_sync_status::parse_data_sync_shard;
use crate::parse::period::{parse_period, Period};
use crate::parse::sync_errors::parse_sync_error_list;
use crate::parse::sync_status::{parse_sync_status, Health, ShardProgress, SyncStatus};
use crate::runner::RadosgwAdmin;

/// Error-log shards RGW keeps (`ERROR_LOGGER_SHARDS`); `sync error list` without
/// `--shard-id` under-reports, so each is read on its own.
pub const ERROR_LOG_SHARDS: u32 = 32;

/// Realm id -> name, for the `realm` label. `period get` prints `realm_name` up to Reef but
/// not in Tentacle (formats doc §7), while the `sync status` header prints
/// `realm <id> (<name>)` on every release. The `sync_status` collector records the header's
/// pair every cycle; the topology collectors, which run before it, run `sync status`
/// themselves only for a realm id they have no name for: once per process on Tentacle,
/// never on Pacific or Reef.
#[derive(Debug, Default)]
pub struct RealmNames(Mutex<HashMap<String, String>>);

impl RealmNames {
    /// Records a `realm <id> (<name>)` header; single-site `realm  ()` records nothing.
    pub fn remember(&self, realm: Option<&NamedId>) {
        if let Some(r) = realm.filter(|r| !r.id.is_empty() && !r.name.is_empty()) {
            lock(&self.0).insert(r.id.clone(), r.name.clone());
        }
    }

    pub fn get(&self, id: &str) -> Option<String> {
        lock(&self.0).get(id).cloned()
    }

    /// The `realm` label of `period`: its `realm_name`, else the name a `sync status` header
    /// gave for its realm id (read now if none has yet), else the realm id itself. A failed
    /// lookup is counted under `sync status` and never fails the caller's collector.
    pub async fn label(
        &self,
        period: &Period,
        rgw: &RadosgwAdmin,
        telemetry: &Telemetry,
    ) -> String {
        if let Some(n) = period.realm_name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_string();
        }
        let id = period.realm_id.as_str();
        if id.is_empty() {
            return String::new();
        }
        if let Some(n) = self.get(id) {
            return n;
        }
        match run_counted(telemetry, rgw, &["sync", "status"], rgw.zone(), &[]).await {
            Ok(out) => match parse_sync_status(&out.stdout) {
                Ok(st) => self.remember(st.realm.as_ref()),
                Err(e) => {
                    telemetry.count_command_error("sync status", "parse");
                    tracing::warn!(command = "sync status", error = %e, "cannot read the realm name from the sync status header");
                }
            },
            Err(e) => {
                tracing::warn!(command = %e.command, kind = e.error.kind(), error = %e.error, "cannot read the realm name from the sync status header");
            }
        }
        self.get(id).unwrap_or_else(|| {
            tracing::warn!(
                realm_id = id,
                "no name known for the realm; labelling it by id"
            );
            id.to_string()
        })
    }
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Collect `sync error list`.
    pub sync_errors: bool,
    /// Collect per-bucket `bucket sync status`.
    pub bucket_sync: bool,
    /// Concurrent radosgw-admin calls within a collector.
    pub concurrency: usize,
    /// Buckets the background sweep checks per cycle.
    pub sweep_per_cycle: usize,
    /// Export per-bucket series for every checked bucket, not only those behind or erroring.
    pub all_buckets: bool,
    /// `--max-entries` per `sync error list` page.
    pub error_page_size: usize,
    /// Run `period get` each cycle for zone names. The master's exporter turns this off and
    /// hands over the names from its own topology collector ([`Agent::set_zone_names`]).
    pub topology: bool,
    /// Export `rgw_multisite_zone_info` for the local zone (the exporter exports it for all).
    pub zone_info: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            sync_errors: true,
            bucket_sync: true,
            concurrency: 4,
            sweep_per_cycle: 50,
            all_buckets: false,
            error_page_size: 1000,
            topology: true,
            zone_info: true,
        }
    }
}

/// What the agent last saw of one bucket from one source zone.
#[derive(Debug, Clone, PartialEq)]
struct BucketObs {
    full: Option<u32>,
    incremental: Option<u32>,
    total: Option<u32>,
    behind_shards: Vec<u32>,
    /// None when the status gives no shard counts (Reef+ bucket-wide full sync or init, a
    /// bucket this zone does not know yet): no shard series rather than a made-up 0.
    behind_count: Option<u32>,
    /// `full sync: N objects completed`: objects the bucket's full sync has copied so far.
    full_objects: Option<u64>,
    /// The datalog names the bucket as pending but `bucket sync status` cannot find it here.
    missing: bool,
    /// Shards still in `init` (Pacific/Quincy): normal for index shards that never took a
    /// write, so not counted as behind; a hint to compare object counts.
    init_shards: Option<u32>,
    /// None: the status could not be told (cut short, error, unknown format).
    caught_up: Option<bool>,
    disabled: bool,
    observed_at: f64,
}

#[derive(Debug, Default)]
struct SweepState {
    buckets: Vec<String>,
    pos: usize,
    /// Unix time the current pass started, to report how long a full pass takes.
    pass_started: f64,
    last_pass_seconds: Option<f64>,
}

#[derive(Debug, Default)]
struct AgentState {
    id_names: HashMap<String, String>,
    seen_error_ids: HashSet<String>,
    observed: BTreeMap<(String, String), u64>,
    /// (source zone name, bucket key) -> last observation.
    buckets: BTreeMap<(String, String), BucketObs>,
    sweep: SweepState,
}

pub struct Agent {
    rgw: RadosgwAdmin,
    telemetry: Arc<Telemetry>,
    cfg: AgentConfig,
    state: Mutex<AgentState>,
    realm_names: Arc<RealmNames>,
}

/// What `sync status` told the later collectors.
#[derive(Debug, Clone, Default)]
pub struct SyncView {
    pub zone: String,
    /// Source zone name -> datalog shards behind or recovering.
    pub shards_to_check: BTreeMap<String, BTreeSet<u32>>,
    pub sources: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Now minus the oldest change not applied; 0 when nothing is behind. `None` when shards
/// are behind but the oldest-change line is missing or unreadable: the lag is unknown, and
/// 0 would claim it is nil.
fn lag_seconds(p: &ShardProgress, now: f64) -> Option<f64> {
    match p.oldest_change {
        Some((ts, _)) => Some((now - ts).max(0.0)),
        None if p.behind_count.is_some_and(|n| n > 0) || !p.behind_shards.is_empty() => None,
        None => Some(0.0),
    }
}

impl Agent {
    pub fn new(rgw: RadosgwAdmin, telemetry: Arc<Telemetry>, cfg: AgentConfig) -> Self {
        Agent {
            rgw,
            telemetry,
            cfg,
            state: Mutex::new(AgentState::default()),
            realm_names: Arc::default(),
        }
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Realm names learnt from this agent's `sync status` headers, for the exporter's labels.
    pub fn realm_names(&self) -> &Arc<RealmNames> {
        &self.realm_names
    }

    /// Runs one full cycle. Returns true when every collector succeeded.
    pub async fn cycle(&self) -> bool {
        self.telemetry.begin_cycle();
        self.run_collectors().await
    }

    /// The collectors of a cycle, within a cycle the caller began (the master's exporter
    /// runs them after its own, on the same telemetry).
    pub async fn run_collectors(&self) -> bool {
        let t = &self.telemetry;
        // The master's exporter runs its own topology collector and hands over the names.
        let topo = if self.cfg.topology {
            t.run_collector("topology", self.collect_topology()).await
        } else {
            Some(())
        };
        let view = t
            .run_collector("sync_status", self.collect_sync_status())
            .await;
        let mut ok = topo.is_some() && view.is_some();
        let Some(view) = view else {
            // Without the zone's own view nothing else can be labelled correctly; the
            // dependent collectors' old series must not be served stale.
            for (on, name) in [
                (self.cfg.sync_errors, "sync_errors"),
                (self.cfg.bucket_sync, "bucket_sync"),
            ] {
                if on {
                    t.skip_collector(name, "sync status failed");
                }
            }
            t.set_ready();
            return false;
        };
        let mut error_buckets = BTreeSet::new();
        if self.cfg.sync_errors {
            match t
                .run_collector("sync_errors", self.collect_sync_errors(&view))
                .await
            {
                Some(b) => error_buckets = b,
                None => ok = false,
            }
        }
        if self.cfg.bucket_sync {
            ok &= t
                .run_collector(
                    "bucket_sync",
                    self.collect_bucket_sync(&view, &error_buckets),
                )
                .await
                .is_some();
        }
        t.set_ready();
        ok
    }

    /// Zone id -> name, for labels (zone ids never appear in labels but `zone_info`).
    pub fn set_zone_names(&self, names: HashMap<String, String>) {
        lock(&self.state).id_names = names;
    }

    fn name_of(&self, id: &str) -> Option<String> {
        lock(&self.state).id_names.get(id).cloned()
    }

    async fn collect_topology(&self) -> Result<(MetricSet, ()), CollectError> {
        let args = ["period", "get"];
        let out = run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[]).await?;
        let period = parse_period(&out.stdout)
            .map_err(|e| parse_failure(&self.telemetry, "period get", e.to_string()))?;
        let mut names = HashMap::new();
        for zg in &period.zonegroups {
            for z in &zg.zones {
                names.insert(z.id.clone(), z.name.clone());
            }
        }
        let realm = self
            .realm_names
            .label(&period, &self.rgw, &self.telemetry)
            .await;
        let mut m = MetricSet::new();
        m.gauge(
            "rgw_multisite_period_epoch",
            "Epoch of the realm's current period, from `period get`.",
        )
        .set(&[("realm", realm.as_str())], period.epoch as f64);
        lock(&self.state).id_names = names;
        Ok((m, ()))
    }

    async fn collect_sync_status(&self) -> Result<(MetricSet, SyncView), CollectError> {
        let args = ["sync", "status"];
        let out = run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[]).await?;
        // radosgw-admin ends every line with a newline: text that stops mid-line was cut short
        // and would read as a status with whole sections (sources, lag lines) missing.
        if !out.stdout.is_empty() && !out.stdout.ends_with('\n') {
            return Err(parse_failure(
                &self.telemetry,
                "sync status",
                format!("output cut short mid-line after {} bytes", out.stdout.len()),
            ));
        }
        let st = parse_sync_status(&out.stdout).map_err(|e| {
            let hint = out.stderr_summary();
            parse_failure(
                &self.telemetry,
                "sync status",
                format!("{e}; stderr: {hint}"),
            )
        })?;
        self.telemetry
            .count_skipped_lines("sync status", &st.skipped);
        self.realm_names.remember(st.realm.as_ref());
        let now = st.current_time.unwrap_or_else(now_unix);
        self.sync_status_metrics(&st, now)
    }

    fn sync_status_metrics(
        &self,
        st: &SyncStatus,
        now: f64,
    ) -> Result<(MetricSet, SyncView), CollectError> {
        let zone = match (&st.zone, self.rgw.zone()) {
            (_, Some(z)) => z.to_string(),
            (Some(z), None) if !z.name.is_empty() => z.name.clone(),
            _ => {
                return Err(parse_failure(
                    &self.telemetry,
                    "sync status",
                    "no zone in the header and no --zone given".into(),
                ))
            }
        };
        let z = zone.as_str();
        let mut m = MetricSet::new();
        if let Some(id) = st.zone.as_ref().filter(|_| self.cfg.zone_info) {
            m.gauge(
                "rgw_multisite_zone_info",
                "The zone this exporter reads, from the `sync status` header; always 1.",
            )
            .set(
                &[
                    ("zone", z),
                    ("zone_id", &id.id),
                    (
                        "zonegroup",
                        st.zonegroup.as_ref().map_or("", |g| g.name.as_str()),
                    ),
                    ("realm", st.realm.as_ref().map_or("", |r| r.name.as_str())),
                ],
                1.0,
            );
        }
        if let Some(md) = &st.metadata {
            m.gauge(
                "rgw_multisite_metadata_sync_master",
                "1 when this zone is the metadata master (`metadata sync no sync (zone is master)`).",
            )
            .set(&[("zone", z)], if md.is_master { 1.0 } else { 0.0 });
            let health = if md.is_master {
                Health::CaughtUp
            } else {
                md.progress.health()
            };
            let ok = !matches!(health, Health::Unknown(_));
            m.gauge(
                "rgw_multisite_metadata_sync_ok",
                "1 when `sync status` could read the metadata sync state, 0 on failures such as `failed to read sync status`.",
            )
            .set(&[("zone", z)], if ok { 1.0 } else { 0.0 });
            if !md.is_master && ok {
                let p = &md.progress;
                let shards = m.gauge(
                    "rgw_multisite_metadata_sync_shards",
                    "Metadata log shards in each sync phase, from `full sync: X/Y` and `incremental sync: X/Y`.",
                );
                if let Some((x, _)) = p.full {
                    shards.set(&[("zone", z), ("phase", "full")], x.into());
                }
                if let Some((x, _)) = p.incremental {
                    shards.set(&[("zone", z), ("phase", "incremental")], x.into());
                }
                if let Some(total) = p.incremental.or(p.full).map(|(_, y)| y) {
                    m.gauge(
                        "rgw_multisite_metadata_sync_shard_count",
                        "Metadata log shards in total.",
                    )
                    .set(&[("zone", z)], total.into());
                }
                m.gauge(
                    "rgw_multisite_metadata_sync_shards_behind",
                    "Metadata log shards behind the master (`metadata is behind on N shards`).",
                )
                .set(&[("zone", z)], p.behind_count.unwrap_or(0).into());
                if let Some(lag) = lag_seconds(p, now) {
                    m.gauge(
                        "rgw_multisite_metadata_sync_lag_seconds",
                        "Now minus the oldest metadata change not applied; 0 when caught up.",
                    )
                    .set(&[("zone", z)], lag);
                }
            } else if md.is_master {
                m.gauge(
                    "rgw_multisite_metadata_sync_shards_behind",
                    "Metadata log shards behind the master (`metadata is behind on N shards`).",
                )
                .set(&[("zone", z)], 0.0);
                m.gauge(
                    "rgw_multisite_metadata_sync_lag_seconds",
                    "Now minus the oldest metadata change not applied; 0 when caught up.",
                )
                .set(&[("zone", z)], 0.0);
            }
        }
        let mut view = SyncView {
            zone: zone.clone(),
            ..SyncView::default()
        };
        for src in &st.sources {
            let name = src
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .or_else(|| self.name_of(&src.id))
                .unwrap_or_else(|| "unknown".to_string());
            let s = name.as_str();
            let p = &src.progress;
            let health = p.health();
            let state = match health {
                Health::CaughtUp => "caught_up",
                Health::Behind => "behind",
                Health::NotSyncing => "not_syncing",
                Health::Unknown(_) => "unknown",
            };
            let l = [("zone", z), ("source_zone", s)];
            m.gauge(
                "rgw_multisite_data_sync_state",
                "Data sync state per source zone (caught_up, behind, not_syncing, unknown); 1 for the current state.",
            )
            .set(&[("zone", z), ("source_zone", s), ("state", state)], 1.0);
            let ok = !matches!(health, Health::Unknown(_));
            m.gauge(
                "rgw_multisite_data_sync_ok",
                "1 when `sync status` could read data sync from this source, 0 on `failed to retrieve sync info` or a block cut short.",
            )
            .set(&l, if ok { 1.0 } else { 0.0 });
            if let Health::Unknown(why) = health {
                tracing::debug!(
                    zone = z,
                    source_zone = s,
                    reason = why,
                    "data sync state unknown"
                );
            }
            if !ok || matches!(health, Health::NotSyncing) {
                continue;
            }
            view.sources.push(name.clone());
            let shards = m.gauge(
                "rgw_multisite_data_sync_shards",
                "Datalog shards in each sync phase, from `full sync: X/Y` and `incremental sync: X/Y`.",
            );
            if let Some((x, _)) = p.full {
                shards.set(
                    &[("zone", z), ("source_zone", s), ("phase", "full")],
                    x.into(),
                );
            }
            if let Some((x, _)) = p.incremental {
                shards.set(
                    &[("zone", z), ("source_zone", s), ("phase", "incremental")],
                    x.into(),
                );
            }
            if let Some(total) = p.incremental.or(p.full).map(|(_, y)| y) {
                m.gauge(
                    "rgw_multisite_data_sync_shard_count",
                    "Datalog shards of the source in total.",
                )
                .set(&l, total.into());
            }
            m.gauge(
                "rgw_multisite_data_sync_shards_behind",
                "Datalog shards behind the source (`data is behind on N shards`).",
            )
            .set(&l, p.behind_count.unwrap_or(0).into());
            m.gauge(
                "rgw_multisite_data_sync_shards_recovering",
                "Datalog shards with buckets being retried (`N shards are recovering`).",
            )
            .set(&l, p.recovering_count.unwrap_or(0).into());
            for shard in &p.behind_shards {
                m.gauge(
                    "rgw_multisite_data_sync_shard_behind",
                    "1 for each datalog shard listed in `behind shards`.",
                )
                .set(
                    &[
                        ("zone", z),
                        ("source_zone", s),
                        ("shard", &shard.to_string()),
                    ],
                    1.0,
                );
            }
            for shard in &p.recovering_shards {
                m.gauge(
                    "rgw_multisite_data_sync_shard_recovering",
                    "1 for each datalog shard listed in `recovering shards`.",
                )
                .set(
                    &[
                        ("zone", z),
                        ("source_zone", s),
                        ("shard", &shard.to_string()),
                    ],
                    1.0,
                );
            }
            if let Some(lag) = lag_seconds(p, now) {
                m.gauge(
                    "rgw_multisite_data_sync_lag_seconds",
                    "Now minus `oldest incremental change not applied`; 0 when caught up.",
                )
                .set(&l, lag);
            }
            let check: BTreeSet<u32> = p
                .behind_shards
                .iter()
                .chain(p.recovering_shards.iter())
                .copied()
                .collect();
            if !check.is_empty() {
                view.shards_to_check.insert(name.clone(), check);
            }
        }
        Ok((m, view))
    }

    async fn collect_sync_errors(
        &self,
        view: &SyncView,
    ) -> Result<(MetricSet, BTreeSet<(String, String)>), CollectError> {
        let page = self.cfg.error_page_size.max(1);
        let shards = stream::iter(0..ERROR_LOG_SHARDS)
            .map(|shard| self.read_error_shard(shard, page))
            .buffer_unordered(self.cfg.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut entries = Vec::new();
        for s in shards {
            entries.extend(s?);
        }
        let z = view.zone.as_str();
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut per_bucket: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut last: BTreeMap<String, f64> = BTreeMap::new();
        let mut error_buckets = BTreeSet::new();
        let mut st = lock(&self.state);
        let mut current_ids = HashSet::with_capacity(entries.len());
        for e in &entries {
            let src = st
                .id_names
                .get(&e.source_zone)
                .cloned()
                .unwrap_or_else(|| "unknown".to_string());
            let code = e.error_code.to_string();
            *counts.entry((src.clone(), code.clone())).or_insert(0) += 1;
            if let Some(b) = e.bucket() {
                *per_bucket.entry((src.clone(), b.clone())).or_insert(0) += 1;
                error_buckets.insert((src.clone(), b));
            }
            if let Some(ts) = e.timestamp {
                let l = last.entry(src.clone()).or_insert(ts);
                *l = l.max(ts);
            }
            if !st.seen_error_ids.contains(&e.id) {
                *st.observed.entry((src, code)).or_insert(0) += 1;
            }
            current_ids.insert(e.id.clone());
        }
        // Remember only ids still in the log: trimmed entries cannot come back.
        st.seen_error_ids = current_ids;
        let mut m = MetricSet::new();
        let g = m.gauge(
            "rgw_multisite_sync_errors",
            "Entries currently in the sync error log (`sync error list`, every shard), by source zone and error code.",
        );
        for ((src, code), n) in &counts {
            g.set(
                &[("zone", z), ("source_zone", src), ("error_code", code)],
                *n as f64,
            );
        }
        let c = m.counter(
            "rgw_multisite_sync_errors_observed_total",
            "Sync error log entries first seen since the exporter started (deduplicated by id).",
        );
        for ((src, code), n) in &st.observed {
            c.set(
                &[("zone", z), ("source_zone", src), ("error_code", code)],
                *n as f64,
            );
        }
        drop(st);
        let g = m.gauge(
            "rgw_multisite_bucket_sync_errors",
            "Sync error log entries per bucket; only buckets with entries.",
        );
        for ((src, b), n) in &per_bucket {
            g.set(
                &[("zone", z), ("source_zone", src), ("bucket", b)],
                *n as f64,
            );
        }
        let g = m.gauge(
            "rgw_multisite_sync_error_last_timestamp_seconds",
            "Unix time of the newest sync error log entry, by source zone.",
        );
        for (src, ts) in &last {
            g.set(&[("zone", z), ("source_zone", src)], *ts);
        }
        Ok((m, error_buckets))
    }

    async fn read_error_shard(
        &self,
        shard: u32,
        page: usize,
    ) -> Result<Vec<crate::parse::sync_errors::SyncErrorEntry>, CollectError> {
        let shard_arg = format!("--shard-id={shard}");
        let max_arg = format!("--max-entries={page}");
        let mut marker: Option<String> = None;
        let mut all = Vec::new();
        // A bound on pages so a log that never ends (or a marker that does not advance)
        // cannot loop forever.
        for _ in 0..1000 {
            let marker_arg = marker.as_ref().map(|m| format!("--marker={m}"));
            let mut args = vec![
                "sync",
                "error",
                "list",
                shard_arg.as_str(),
                max_arg.as_str(),
            ];
            if let Some(m) = &marker_arg {
                args.push(m.as_str());
            }
            let out = run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[]).await?;
            let shards = parse_sync_error_list(&out.stdout)
                .map_err(|e| parse_failure(&self.telemetry, "sync error list", e.to_string()))?;
            let entries: Vec<_> = shards.into_iter().flat_map(|s| s.entries).collect();
            let n = entries.len();
            let next = entries.last().map(|e| e.id.clone());
            all.extend(entries);
            if n < page || next.is_none() || next == marker {
                break;
            }
            marker = next;
        }
        Ok(all)
    }

    async fn collect_bucket_sync(
        &self,
        view: &SyncView,
        error_buckets: &BTreeSet<(String, String)>,
    ) -> Result<(MetricSet, ()), CollectError> {
        // 1. Buckets pending or recovering on the datalog shards sync status named.
        let shard_jobs: Vec<(String, u32)> = view
            .shards_to_check
            .iter()
            .flat_map(|(src, shards)| shards.iter().map(move |s| (src.clone(), *s)))
            .collect();
        let discovered = stream::iter(shard_jobs)
            .map(|(src, shard)| async move {
                let sz = format!("--source-zone={src}");
                let sh = format!("--shard-id={shard}");
                let args = ["data", "sync", "status", sz.as_str(), sh.as_str()];
                let out =
                    run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[]).await?;
                let parsed = parse_data_sync_shard(&out.stdout).map_err(|e| {
                    parse_failure(&self.telemetry, "data sync status", e.to_string())
                })?;
                Ok::<_, CollectError>(
                    parsed
                        .pending_buckets
                        .iter()
                        .chain(parsed.recovering_buckets.iter())
                        .map(|b| (src.clone(), bucket_key(&b.tenant, &b.bucket)))
                        .collect::<Vec<_>>(),
                )
            })
            .buffer_unordered(self.cfg.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut from_datalog: BTreeSet<(String, String)> = BTreeSet::new();
        for d in discovered {
            from_datalog.extend(d?);
        }
        let mut targeted = from_datalog.clone();
        targeted.extend(
            error_buckets
                .iter()
                .filter(|(src, _)| view.sources.contains(src))
                .cloned(),
        );
        // Buckets last seen behind are rechecked every cycle, so recovery shows up quickly.
        {
            let st = lock(&self.state);
            targeted.extend(
                st.buckets
                    .iter()
                    .filter(|(_, o)| o.caught_up != Some(true) && !o.disabled)
                    .map(|(k, _)| k.clone()),
            );
        }
        // 2. The sweep's share of this cycle, read from every syncing source. One call per
        // bucket and source, like the targeted reads (and the lab captures) use.
        let sweep = self.next_sweep_slice().await?;
        let jobs: BTreeSet<(String, String)> = sweep
            .iter()
            .flat_map(|b| view.sources.iter().map(move |s| (s.clone(), b.clone())))
            .chain(targeted)
            .collect();
        let attempted = jobs.len();
        let results = stream::iter(jobs)
            .map(|(src, bucket)| async move {
                let res = self.check_bucket(&bucket, Some(&src)).await;
                (bucket, Some(src), res)
            })
            .buffer_unordered(self.cfg.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let now = now_unix();
        let mut failures = 0usize;
        let mut first_error = None;
        {
            let mut st = lock(&self.state);
            for (bucket, src, res) in results {
                match res {
                    // Unknown here. A bucket the source's datalog has pending changes for is
                    // one whose metadata has not reached this zone yet (created while the
                    // zone was down or behind on metadata; the lab's `behind` and
                    // `bucket-missing-on-replica` captures): none of those changes are
                    // applied, so it is behind. Any other is gone (deleted) and forgotten.
                    Ok(BucketCheck::Gone) => {
                        match src.filter(|s| from_datalog.contains(&(s.clone(), bucket.clone()))) {
                            Some(s) => {
                                st.buckets.insert((s, bucket), missing_bucket(now));
                            }
                            None => st
                                .buckets
                                .retain(|k, _| k.1 != bucket || from_datalog.contains(k)),
                        }
                    }
                    Ok(BucketCheck::Sources(sources, disabled)) => {
                        if disabled {
                            st.buckets.retain(|(_, b), _| b != &bucket);
                        }
                        for s in sources {
                            let name = s
                                .zone_name
                                .clone()
                                .filter(|n| !n.is_empty())
                                .or_else(|| st.id_names.get(&s.zone_id).cloned())
                                .unwrap_or_else(|| s.zone_id.clone());
                            if let Some(want) = &src {
                                if want != &name {
                                    continue;
                                }
                            }
                            if matches!(s.state, BucketSourceState::DoesNotSync) {
                                st.buckets.remove(&(name, bucket.clone()));
                                continue;
                            }
                            st.buckets.insert((name, bucket.clone()), observe(&s, now));
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        if let Some(s) = &src {
                            if let Some(o) = st.buckets.get_mut(&(s.clone(), bucket.clone())) {
                                o.caught_up = None;
                            }
                        }
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        if attempted > 0 && failures == attempted {
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok((self.bucket_metrics(view, now, error_buckets), ()))
    }

    /// The next slice of the sweep; refreshes `bucket list` when a pass is complete.
    async fn next_sweep_slice(&self) -> Result<Vec<String>, CollectError> {
        let n = self.cfg.sweep_per_cycle;
        if n == 0 {
            return Ok(Vec::new());
        }
        let needs_list = {
            let st = lock(&self.state);
            st.sweep.pos >= st.sweep.buckets.len()
        };
        if needs_list {
            let args = ["bucket", "list"];
            let out = run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[]).await?;
            let list = parse_bucket_list(&out.stdout)
                .map_err(|e| parse_failure(&self.telemetry, "bucket list", e.to_string()))?;
            let now = now_unix();
            let mut st = lock(&self.state);
            if st.sweep.pass_started > 0.0 && !st.sweep.buckets.is_empty() {
                st.sweep.last_pass_seconds = Some(now - st.sweep.pass_started);
            }
            st.sweep.pass_started = now;
            let known: HashSet<&String> = list.iter().collect();
            // Buckets deleted since the last pass leave the cache with their series.
            st.buckets.retain(|(_, b), _| known.contains(b));
            drop(known);
            st.sweep.buckets = list;
            st.sweep.pos = 0;
        }
        let mut st = lock(&self.state);
        let start = st.sweep.pos;
        let end = (start + n).min(st.sweep.buckets.len());
        st.sweep.pos = end;
        Ok(st
            .sweep
            .buckets
            .get(start..end)
            .map(<[String]>::to_vec)
            .unwrap_or_default())
    }

    async fn check_bucket(
        &self,
        bucket: &str,
        source: Option<&str>,
    ) -> Result<BucketCheck, CollectError> {
        let b = format!("--bucket={bucket}");
        let s = source.map(|s| format!("--source-zone={s}"));
        let mut args = vec!["bucket", "sync", "status", b.as_str()];
        if let Some(s) = &s {
            args.push(s.as_str());
        }
        // Exit 2: the bucket is gone (deleted, or not yet known here).
        let out = run_counted(&self.telemetry, &self.rgw, &args, self.rgw.zone(), &[2]).await?;
        if out.code == 2 {
            return Ok(BucketCheck::Gone);
        }
        let parsed = parse_bucket_sync_status(&out.stdout)
            .map_err(|e| parse_failure(&self.telemetry, "bucket sync status", e.to_string()))?;
        self.telemetry
            .count_skipped_lines("bucket sync status", &parsed.skipped);
        Ok(BucketCheck::Sources(parsed.sources, parsed.sync_disabled))
    }

    fn bucket_metrics(
        &self,
        view: &SyncView,
        now: f64,
        error_buckets: &BTreeSet<(String, String)>,
    ) -> MetricSet {
        let z = view.zone.as_str();
        let st = lock(&self.state);
        let mut m = MetricSet::new();
        let mut behind: BTreeMap<&str, u64> =
            view.sources.iter().map(|s| (s.as_str(), 0)).collect();
        let mut unknown: BTreeMap<&str, u64> = behind.clone();
        let mut checked: BTreeMap<&str, u64> = behind.clone();
        let mut oldest: BTreeMap<&str, f64> = BTreeMap::new();
        for ((src, bucket), o) in &st.buckets {
            let s = src.as_str();
            *checked.entry(s).or_insert(0) += 1;
            let age = (now - o.observed_at).max(0.0);
            let e = oldest.entry(s).or_insert(age);
            *e = e.max(age);
            match o.caught_up {
                Some(false) => *behind.entry(s).or_insert(0) += 1,
                None => *unknown.entry(s).or_insert(0) += 1,
                Some(true) => {}
            }
            // Per-bucket series: lagging, unknown or erroring buckets (all with the flag).
            let key = (src.clone(), bucket.clone());
            if !(self.cfg.all_buckets || o.caught_up != Some(true) || error_buckets.contains(&key))
            {
                continue;
            }
            let l = [("zone", z), ("source_zone", s), ("bucket", bucket.as_str())];
            let shards = m.gauge(
                "rgw_multisite_bucket_sync_shards",
                "Bucket index shards in each sync phase, from `bucket sync status`.",
            );
            if let Some(f) = o.full {
                shards.set(&[l[0], l[1], l[2], ("phase", "full")], f.into());
            }
            if let Some(i) = o.incremental {
                shards.set(&[l[0], l[1], l[2], ("phase", "incremental")], i.into());
            }
            if let Some(t) = o.total {
                m.gauge(
                    "rgw_multisite_bucket_shard_count",
                    "Bucket index shards of the source bucket.",
                )
                .set(&l, t.into());
            }
            if let Some(n) = o.behind_count {
                m.gauge(
                    "rgw_multisite_bucket_sync_shards_behind",
                    "Bucket index shards behind the source (`bucket is behind on N shards`).",
                )
                .set(&l, n.into());
            }
            if let Some(n) = o.full_objects {
                m.gauge(
                    "rgw_multisite_bucket_sync_full_objects_completed",
                    "Objects the bucket's full sync has copied so far (`full sync: N objects completed`); only while in full sync.",
                )
                .set(&l, n as f64);
            }
            if o.missing {
                m.gauge(
                    "rgw_multisite_bucket_sync_missing",
                    "1 when the source's datalog names the bucket as pending but `bucket sync status` cannot find it in this zone (exit 2): its metadata has not synced yet.",
                )
                .set(&l, 1.0);
            }
            for shard in &o.behind_shards {
                m.gauge(
                    "rgw_multisite_bucket_sync_shard_behind",
                    "1 for each bucket index shard listed in `behind shards`.",
                )
                .set(&[l[0], l[1], l[2], ("shard", &shard.to_string())], 1.0);
            }
            if let Some(n) = o.init_shards {
                m.gauge(
                    "rgw_multisite_bucket_sync_init_shards",
                    "Bucket index shards still in init (Pacific/Quincy): normal for shards that never took a write.",
                )
                .set(&l, n.into());
            }
            if let Some(c) = o.caught_up {
                m.gauge(
                    "rgw_multisite_bucket_sync_caught_up",
                    "1 when `bucket sync status` says caught up with no shard behind or in full sync; 0 when behind.",
                )
                .set(&l, if c { 1.0 } else { 0.0 });
            }
            m.gauge(
                "rgw_multisite_bucket_sync_status_age_seconds",
                "Seconds since this bucket's `bucket sync status` was last read.",
            )
            .set(&l, age);
        }
        let g = m.gauge(
            "rgw_multisite_buckets_behind",
            "Buckets behind the source, per source zone: the last `bucket sync status` was behind, or the datalog has changes pending for a bucket not yet in this zone. Exact whatever the per-bucket series limit.",
        );
        for (s, n) in &behind {
            g.set(&[("zone", z), ("source_zone", s)], *n as f64);
        }
        let g = m.gauge(
            "rgw_multisite_buckets_sync_unknown",
            "Buckets whose last `bucket sync status` could not be told apart (cut short, failed, or unknown format).",
        );
        for (s, n) in &unknown {
            g.set(&[("zone", z), ("source_zone", s)], *n as f64);
        }
        let g = m.gauge(
            "rgw_multisite_buckets_checked",
            "Buckets with a known `bucket sync status` per source zone.",
        );
        for (s, n) in &checked {
            g.set(&[("zone", z), ("source_zone", s)], *n as f64);
        }
        let g = m.gauge(
            "rgw_multisite_bucket_sync_oldest_status_age_seconds",
            "Age of the oldest cached `bucket sync status`: how stale the sweep lets a bucket get.",
        );
        for (s, a) in &oldest {
            g.set(&[("zone", z), ("source_zone", s)], *a);
        }
        m.gauge(
            "rgw_multisite_bucket_sweep_buckets",
            "Buckets in the current sweep pass (from `bucket list`).",
        )
        .set(&[("zone", z)], st.sweep.buckets.len() as f64);
        if let Some(p) = st.sweep.last_pass_seconds {
            m.gauge(
                "rgw_multisite_bucket_sweep_last_pass_seconds",
                "Wall time of the last complete sweep over every bucket.",
            )
            .set(&[("zone", z)], p);
        }
        m
    }
}

enum BucketCheck {
    Gone,
    /// Sources, and whether sync is disabled for the bucket.
    Sources(Vec<BucketSource>, bool),
}

pub fn bucket_key(tenant: &str, name: &str) -> String {
    if tenant.is_empty() {
        name.to_string()
    } else {
        format!("{tenant}/{name}")
    }
}

/// A bucket the datalog names but this zone cannot find: behind, with no shard counts.
fn missing_bucket(now: f64) -> BucketObs {
    BucketObs {
        full: None,
        incremental: None,
        total: None,
        behind_shards: Vec::new(),
        behind_count: None,
        full_objects: None,
        missing: true,
        init_shards: None,
        caught_up: Some(false),
        disabled: false,
        observed_at: now,
    }
}

fn observe(s: &BucketSource, now: f64) -> BucketObs {
    let (full, incremental, total) = match (s.full_shards, s.incremental_shards) {
        (f, i) if f.is_some() || i.is_some() => (
            f.map(|(x, _)| x),
            i.map(|(x, _)| x),
            i.or(f).map(|(_, y)| y),
        ),
        // Reef+: incremental on N shards, or bucket-wide full sync. Full sync prints no
        // shard counts at all (`full sync: N objects completed`; Tentacle's JSON may give
        // `total_shards`), so without a total no phase is given a count.
        _ => match (s.state, s.total_shards) {
            (BucketSourceState::Incremental, t) => (Some(0), t, t),
            (BucketSourceState::FullSync, Some(t)) => (Some(t), Some(0), Some(t)),
            (_, t) => (None, None, t),
        },
    };
    let behind_count = s
        .behind_count
        .or_else(|| total.map(|_| s.behind_shards.len() as u32));
    BucketObs {
        full,
        incremental,
        total,
        behind_count,
        full_objects: s.full_objects_completed,
        missing: false,
        behind_shards: s.behind_shards.clone(),
        init_shards: s.init_shards(),
        caught_up: s.caught_up(),
        disabled: matches!(s.state, BucketSourceState::Stopped),
        observed_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{FakeRunner, RunError};

    const PERIOD: &str = r#"{"id":"p1","epoch":3,"realm_id":"r1","realm_name":"lab",
      "master_zonegroup":"zg","master_zone":"E",
      "period_map":{"zonegroups":[{"id":"zg","name":"zg1","is_master":"true","master_zone":"E",
        "endpoints":[],"zones":[
          {"id":"E","name":"us-east","endpoints":["http://127.0.0.1:8001"],"tier_type":"","sync_from_all":"true","sync_from":[],"read_only":"false"},
          {"id":"W","name":"us-west","endpoints":["http://127.0.0.1:8002"],"tier_type":"","sync_from_all":"true","sync_from":[],"read_only":"false"}]}]}}"#;

    const BEHIND: &str = "          realm r1 (lab)
      zonegroup zg (zg1)
           zone W (us-west)
  metadata sync syncing
                full sync: 0/8 shards
                incremental sync: 8/8 shards
                metadata is caught up with master
      data sync source: E (us-east)
                        syncing
                        full sync: 0/8 shards
                        incremental sync: 8/8 shards
                        data is behind on 1 shards
                        behind shards: [3]
                        oldest incremental change not applied: 2026-11-21T22:00:00.000000+0000 [3]
";

    fn argv(args: &[&str]) -> Vec<String> {
        let mut v = vec!["radosgw-admin".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        v.push("--rgw-zone=us-west".into());
        v
    }

    fn agent(fake: &Arc<FakeRunner>, cfg: AgentConfig) -> Agent {
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake.clone())
            .with_zone(Some("us-west".into()));
        Agent::new(rgw, Telemetry::new("t", "agent", "sync_status"), cfg)
    }

    fn error_shard(shard: u32, entries: &[(&str, &str)]) -> String {
        let e: Vec<String> = entries
            .iter()
            .map(|(id, name)| {
                format!(
                    r#"{{"id":"{id}","section":"data","name":"{name}","timestamp":"2026-11-21T22:37:41.518646Z",
                    "info":{{"source_zone":"E","error_code":5,"message":"failed to sync object(5) Input/output error"}}}}"#
                )
            })
            .collect();
        format!(r#"[{{"shard_id":{shard},"entries":[{}]}}]"#, e.join(","))
    }

    fn answer_errors(fake: &FakeRunner, shard0: &[(&str, &str)]) {
        for s in 0..ERROR_LOG_SHARDS {
            let entries = if s == 0 { shard0 } else { &[] };
            fake.on(
                argv(&[
                    "sync",
                    "error",
                    "list",
                    &format!("--shard-id={s}"),
                    "--max-entries=1000",
                ]),
                0,
                &error_shard(s, entries),
                "",
            );
        }
    }

    #[test]
    fn lag_is_now_minus_the_oldest_change() {
        let fake = FakeRunner::new();
        let a = agent(&fake, AgentConfig::default());
        let st = parse_sync_status(BEHIND).unwrap();
        let oldest = crate::parse::parse_ceph_time("2026-11-21T22:00:00.000000+0000").unwrap();
        let (m, view) = a.sync_status_metrics(&st, oldest + 42.5).unwrap();
        let text = m.render();
        assert!(text.contains(
            "rgw_multisite_data_sync_lag_seconds{zone=\"us-west\",source_zone=\"us-east\"} 42.5\n"
        ), "{text}");
        assert!(text.contains("rgw_multisite_metadata_sync_lag_seconds{zone=\"us-west\"} 0\n"));
        assert!(text.contains(
            "rgw_multisite_data_sync_shard_behind{zone=\"us-west\",source_zone=\"us-east\",shard=\"3\"} 1\n"
        ));
        assert_eq!(
            view.shards_to_check.get("us-east"),
            Some(&BTreeSet::from([3]))
        );
    }

    #[test]
    fn behind_without_an_oldest_change_has_no_lag_rather_than_zero() {
        let fake = FakeRunner::new();
        let a = agent(&fake, AgentConfig::default());
        // The oldest-change line garbled (non-UTF-8 bytes), so skipped by the parser.
        let garbled = BEHIND.replace(
            "oldest incremental change not applied: 2026-11-21",
            "oldest incremental change not applied: 2026-\u{FFFD}(",
        );
        let st = parse_sync_status(&garbled).unwrap();
        let (m, _) = a.sync_status_metrics(&st, 1e9).unwrap();
        let text = m.render();
        assert!(text.contains(
            "rgw_multisite_data_sync_shards_behind{zone=\"us-west\",source_zone=\"us-east\"} 1\n"
        ), "{text}");
        assert!(
            !text.contains("rgw_multisite_data_sync_lag_seconds{"),
            "{text}"
        );
        // Caught up, the lag is known: 0.
        assert!(text.contains("rgw_multisite_metadata_sync_lag_seconds{zone=\"us-west\"} 0\n"));
    }

    #[tokio::test]
    async fn sync_status_cut_short_mid_line_is_a_parse_error() {
        let fake = FakeRunner::new();
        let a = agent(&fake, AgentConfig::default());
        // Cut in the metadata section: no data source block at all.
        let cut = BEHIND
            .get(..BEHIND.find("metadata is caught").unwrap() + 8)
            .unwrap();
        fake.on(argv(&["sync", "status"]), 0, cut, "");
        let r = a.collect_sync_status().await;
        assert_eq!(r.map(|_| ()).unwrap_err().error.kind(), "parse");
        a.telemetry.publish();
        let text = a.telemetry.exposition();
        assert!(
            text.contains(
                "rgw_multisite_command_errors_total{command=\"sync status\",kind=\"parse\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_source_block_cut_short_is_not_ok_and_has_no_shard_series() {
        let fake = FakeRunner::new();
        let a = agent(&fake, AgentConfig::default());
        let cut = "          realm r1 (lab)
      zonegroup zg (zg1)
           zone W (us-west)
  metadata sync syncing
                full sync: 0/8 shards
                incremental sync: 8/8 shards
                metadata is caught up with master
      data sync source: E (us-east)
                        failed to retrieve sync info: (5) Input/output error
";
        let st = parse_sync_status(cut).unwrap();
        let (m, view) = a.sync_status_metrics(&st, 0.0).unwrap();
        let text = m.render();
        assert!(
            text.contains(
                "rgw_multisite_data_sync_ok{zone=\"us-west\",source_zone=\"us-east\"} 0\n"
            ),
            "{text}"
        );
        assert!(text.contains("state=\"unknown\"} 1\n"), "{text}");
        assert!(
            !text.contains("rgw_multisite_data_sync_shards_behind"),
            "{text}"
        );
        assert!(view.sources.is_empty());
    }

    #[tokio::test]
    async fn errors_are_counted_once_and_lagging_buckets_found_and_forgotten() {
        let fake = FakeRunner::new();
        let cfg = AgentConfig {
            sweep_per_cycle: 10,
            ..AgentConfig::default()
        };
        let a = agent(&fake, cfg);
        fake.on(argv(&["period", "get"]), 0, PERIOD, "");
        fake.on(argv(&["sync", "status"]), 0, BEHIND, "");
        answer_errors(&fake, &[("1_1.1_1.1", "errbucket:E.1.1:3/obj1")]);
        fake.on(
            argv(&["data", "sync", "status", "--source-zone=us-east", "--shard-id=3"]),
            0,
            r#"{"shard_id":3,"marker":{"status":"incremental-sync","marker":"","next_step_marker":"","total_entries":0,"pos":0,"timestamp":"0.000000"},
               "pending_buckets":["lagging:E.2.1:0"],"recovering_buckets":[]}"#,
            "",
        );
        let behind_bucket = |b: &str| {
            format!(
                "          realm r1 (lab)\n      zonegroup zg (zg1)\n           zone W (us-west)\n         bucket :{b}[E.2.1])\n\n    source zone E (us-east)\n  source bucket {b}:E.2.1\n                full sync: 0/11 shards\n                incremental sync: 11/11 shards\n                bucket is behind on 1 shards\n                behind shards: [0]\n"
            )
        };
        for b in ["lagging", "errbucket"] {
            fake.on(
                argv(&[
                    "bucket",
                    "sync",
                    "status",
                    &format!("--bucket={b}"),
                    "--source-zone=us-east",
                ]),
                0,
                &behind_bucket(b),
                "",
            );
        }
        fake.on(
            argv(&["bucket", "list"]),
            0,
            r#"["errbucket","lagging"]"#,
            "",
        );
        for b in ["lagging", "errbucket"] {
            fake.on(
                argv(&["bucket", "sync", "status", &format!("--bucket={b}")]),
                0,
                &behind_bucket(b),
                "",
            );
        }

        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        let l = "zone=\"us-west\",source_zone=\"us-east\"";
        assert!(
            text.contains(&format!(
                "rgw_multisite_sync_errors{{{l},error_code=\"5\"}} 1\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "rgw_multisite_sync_errors_observed_total{{{l},error_code=\"5\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "rgw_multisite_bucket_sync_errors{{{l},bucket=\"errbucket\"}} 1\n"
        )));
        assert!(
            text.contains(&format!("rgw_multisite_buckets_behind{{{l}}} 2\n")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "rgw_multisite_bucket_sync_caught_up{{{l},bucket=\"lagging\"}} 0\n"
        )));

        // Next cycle: one more error, the same old one; `lagging` was deleted.
        answer_errors(
            &fake,
            &[
                ("1_1.1_1.1", "errbucket:E.1.1:3/obj1"),
                ("1_2.1_1.1", "errbucket:E.1.1:3/obj2"),
            ],
        );
        fake.on(
            argv(&[
                "data",
                "sync",
                "status",
                "--source-zone=us-east",
                "--shard-id=3",
            ]),
            0,
            r#"{"shard_id":3,"marker":{},"pending_buckets":[],"recovering_buckets":[]}"#,
            "",
        );
        fake.on(
            argv(&[
                "bucket",
                "sync",
                "status",
                "--bucket=lagging",
                "--source-zone=us-east",
            ]),
            2,
            "",
            "could not get bucket info for bucket=lagging",
        );
        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        assert!(
            text.contains(&format!(
                "rgw_multisite_sync_errors{{{l},error_code=\"5\"}} 2\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "rgw_multisite_sync_errors_observed_total{{{l},error_code=\"5\"}} 2\n"
        )));
        assert!(!text.contains("bucket=\"lagging\""), "{text}");
        assert!(
            text.contains(&format!("rgw_multisite_buckets_behind{{{l}}} 1\n")),
            "{text}"
        );

        // sync status fails: nothing that depends on it is served stale.
        fake.on(
            argv(&["sync", "status"]),
            1,
            "",
            "failed to fetch mon config",
        );
        assert!(!a.cycle().await);
        let text = a.telemetry().exposition();
        assert!(!text.contains("rgw_multisite_sync_errors{"), "{text}");
        assert!(!text.contains("rgw_multisite_buckets_behind"), "{text}");
        assert!(text.contains("rgw_multisite_collector_success{collector=\"sync_errors\"} 0\n"));
        assert!(text.contains("rgw_multisite_collector_success{collector=\"bucket_sync\"} 0\n"));
        assert!(text.contains("rgw_multisite_up 0\n"));
    }

    fn probe_argv() -> Vec<String> {
        let mut v = argv(&["period", "get"]);
        v.extend(crate::runner::ceph_timeout_args(
            std::time::Duration::from_secs(10),
        ));
        v
    }

    fn shard_argv(s: u32) -> Vec<String> {
        argv(&[
            "sync",
            "error",
            "list",
            &format!("--shard-id={s}"),
            "--max-entries=1000",
        ])
    }

    /// A cycle whose `sync error list` shard 0 times out, every other call answered.
    fn timing_out_cluster() -> (Arc<FakeRunner>, Agent) {
        let fake = FakeRunner::new();
        let a = agent(
            &fake,
            AgentConfig {
                topology: false,
                concurrency: 1,
                sweep_per_cycle: 10,
                ..AgentConfig::default()
            },
        );
        a.telemetry()
            .set_call_timeout(std::time::Duration::from_secs(30));
        fake.on(argv(&["sync", "status"]), 0, BEHIND, "");
        answer_errors(&fake, &[]);
        fake.set(
            shard_argv(0),
            Err(RunError::Timeout(std::time::Duration::from_secs(30))),
        );
        fake.on(
            argv(&[
                "data",
                "sync",
                "status",
                "--source-zone=us-east",
                "--shard-id=3",
            ]),
            0,
            r#"{"shard_id":3,"marker":{},"pending_buckets":[],"recovering_buckets":[]}"#,
            "",
        );
        fake.on(argv(&["bucket", "list"]), 0, "[]\n", "");
        (fake, a)
    }

    #[tokio::test]
    async fn a_dead_cluster_mid_cycle_sets_up_0_and_runs_no_further_call_until_the_next_cycle() {
        let (fake, a) = timing_out_cluster();
        fake.set(
            probe_argv(),
            Err(RunError::Timeout(std::time::Duration::from_secs(10))),
        );
        assert!(!a.cycle().await);
        // Not 31 more shards, `data sync status` and `bucket list`, each waiting its timeout.
        assert_eq!(
            fake.calls(),
            vec![argv(&["sync", "status"]), shard_argv(0), probe_argv()]
        );
        let text = a.telemetry().exposition();
        assert!(text.contains("rgw_multisite_up 0\n"), "{text}");
        for c in ["sync_errors", "bucket_sync"] {
            assert!(
                text.contains(&format!(
                    "rgw_multisite_collector_success{{collector=\"{c}\"}} 0\n"
                )),
                "{text}"
            );
        }
        assert!(!text.contains("rgw_multisite_buckets_behind"), "{text}");
        assert!(text.contains(
            "rgw_multisite_command_errors_total{command=\"period get\",kind=\"timeout\"} 1\n"
        ));
        assert!(text.contains(
            "rgw_multisite_command_errors_total{command=\"sync error list\",kind=\"timeout\"} 1\n"
        ));
        assert!(!text.contains("command=\"bucket list\""), "{text}");

        // The monitor is back: the next cycle asks again and up returns with its success.
        answer_errors(&fake, &[]);
        fake.on(probe_argv(), 0, PERIOD, "");
        let before = fake.calls().len();
        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        assert!(text.contains("rgw_multisite_up 1\n"), "{text}");
        assert!(text.contains("rgw_multisite_collector_success{collector=\"bucket_sync\"} 1\n"));
        let calls = fake.calls();
        assert_eq!(calls.len() - before, 1 + 32 + 2, "{calls:?}");
        assert!(!calls[before..].contains(&probe_argv()));
    }

    #[tokio::test]
    async fn a_slow_call_on_a_live_cluster_fails_its_collector_only() {
        let (fake, a) = timing_out_cluster();
        fake.on(probe_argv(), 0, PERIOD, "");
        assert!(!a.cycle().await);
        let calls = fake.calls();
        assert_eq!(calls.iter().filter(|c| **c == probe_argv()).count(), 1);
        assert!(calls.contains(&shard_argv(31)), "{calls:?}");
        assert!(calls.contains(&argv(&["bucket", "list"])), "{calls:?}");
        let text = a.telemetry().exposition();
        assert!(text.contains("rgw_multisite_up 1\n"), "{text}");
        assert!(text.contains("rgw_multisite_collector_success{collector=\"sync_errors\"} 0\n"));
        assert!(text.contains("rgw_multisite_collector_success{collector=\"bucket_sync\"} 1\n"));
        assert!(!text.contains("command=\"period get\""), "{text}");
    }

    #[tokio::test]
    async fn bucket_list_with_interleaved_log_lines_feeds_the_sweep() {
        let (fake, a) = timing_out_cluster();
        answer_errors(&fake, &[]);
        fake.on(
            argv(&["bucket", "list"]),
            0,
            "2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 WARNING: unrelated\n[\n    \"b1\"\n]\n",
            "",
        );
        fake.on(
            argv(&[
                "bucket",
                "sync",
                "status",
                "--bucket=b1",
                "--source-zone=us-east",
            ]),
            0,
            "          realm r1 (lab)\n      zonegroup zg (zg1)\n           zone W (us-west)\n         bucket :b1[E.2.1])\n\n    source zone E (us-east)\n  source bucket b1:E.2.1\n                full sync: 0/11 shards\n                incremental sync: 11/11 shards\n                bucket is caught up with source\n",
            "",
        );
        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        assert!(!text.contains("command=\"bucket list\""), "{text}");
        assert!(text.contains("rgw_multisite_collector_success{collector=\"bucket_sync\"} 1\n"));
        assert!(fake.calls().contains(&argv(&[
            "bucket",
            "sync",
            "status",
            "--bucket=b1",
            "--source-zone=us-east"
        ])));
    }

    /// One file of a real lab capture (tests/fixtures/radosgw-admin/<dir>/<file>).
    fn capture(dir: &str, file: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/radosgw-admin")
            .join(dir)
            .join(file);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn topology_only() -> AgentConfig {
        AgentConfig {
            sync_errors: false,
            bucket_sync: false,
            ..AgentConfig::default()
        }
    }

    #[tokio::test]
    async fn tentacle_period_without_realm_name_is_labelled_from_the_sync_status_header() {
        let dir = "tentacle-caught-up";
        let period = capture(dir, "period-get--rgw-zone=us-west.stdout");
        assert!(!period.contains("realm_name"), "the capture is Tentacle's");
        let fake = FakeRunner::new();
        fake.on(argv(&["period", "get"]), 0, &period, "");
        fake.on(
            argv(&["sync", "status"]),
            0,
            &capture(dir, "sync-status--rgw-zone=us-west.stdout"),
            "",
        );
        let a = agent(&fake, topology_only());
        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        assert!(
            text.contains("rgw_multisite_period_epoch{realm=\"lab\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("realm=\"lab\"} 1\n"), "{text}");
        // The first cycle's topology asked `sync status` for the name; later cycles use
        // the name the sync_status collector keeps current.
        let sync_calls = |f: &FakeRunner| {
            f.calls()
                .iter()
                .filter(|c| c == &&argv(&["sync", "status"]))
                .count()
        };
        assert_eq!(sync_calls(&fake), 2);
        assert!(a.cycle().await);
        assert_eq!(sync_calls(&fake), 3);
        assert!(a
            .telemetry()
            .exposition()
            .contains("rgw_multisite_period_epoch{realm=\"lab\"} 2\n"));
    }

    #[tokio::test]
    async fn realm_names_from_the_period_need_no_lookup_and_a_failed_lookup_falls_back_to_the_id() {
        // Reef still prints realm_name: no extra call.
        let fake = FakeRunner::new();
        fake.on(
            argv(&["period", "get"]),
            0,
            &capture("reef-caught-up", "period-get--rgw-zone=us-west.stdout"),
            "",
        );
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake.clone())
            .with_zone(Some("us-west".into()));
        let t = Telemetry::new("t", "agent", "topology");
        let names = RealmNames::default();
        let reef = parse_period(&capture(
            "reef-caught-up",
            "period-get--rgw-zone=us-west.stdout",
        ))
        .unwrap();
        assert_eq!(names.label(&reef, &rgw, &t).await, "lab");
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());

        // Tentacle with `sync status` failing: the id, counted, and asked again next time.
        let tentacle = parse_period(&capture(
            "tentacle-caught-up",
            "period-get--rgw-zone=us-west.stdout",
        ))
        .unwrap();
        fake.on(
            argv(&["sync", "status"]),
            1,
            "",
            "failed to fetch mon config (--no-mon-config to skip)",
        );
        assert_eq!(
            names.label(&tentacle, &rgw, &t).await,
            "e62c909e-6b7f-4402-b4c4-aed70b4cc568"
        );
        t.publish();
        assert!(
            t.exposition().contains(
                "rgw_multisite_command_errors_total{command=\"sync status\",kind=\"exit\"} 1\n"
            ),
            "{}",
            t.exposition()
        );
        fake.on(
            argv(&["sync", "status"]),
            0,
            &capture("tentacle-caught-up", "sync-status--rgw-zone=us-west.stdout"),
            "",
        );
        assert_eq!(names.label(&tentacle, &rgw, &t).await, "lab");
        // A header of another realm does not name this one.
        let other = RealmNames::default();
        other.remember(Some(&NamedId {
            id: "other".into(),
            name: "x".into(),
        }));
        other.remember(Some(&NamedId {
            id: String::new(),
            name: String::new(),
        }));
        assert_eq!(other.get("e62c909e-6b7f-4402-b4c4-aed70b4cc568"), None);
        assert_eq!(other.get(""), None);
    }

    fn bigbucket(dir: &str) -> BucketSource {
        let out = capture(
            dir,
            "bucket-sync-status--bucket=bigbucket--rgw-zone=us-west--source-zone=us-east.stdout",
        );
        let parsed = parse_bucket_sync_status(&out).unwrap();
        assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
        parsed.sources.into_iter().next().unwrap()
    }

    #[test]
    fn reef_bucket_wide_full_sync_has_objects_completed_and_no_shard_counts() {
        for (dir, objects) in [("reef-full-sync", 61), ("tentacle-full-sync", 64)] {
            assert_eq!(
                observe(&bigbucket(dir), 5.0),
                BucketObs {
                    full: None,
                    incremental: None,
                    total: None,
                    behind_shards: vec![],
                    behind_count: None,
                    full_objects: Some(objects),
                    missing: false,
                    init_shards: None,
                    caught_up: Some(false),
                    disabled: false,
                    observed_at: 5.0,
                },
                "{dir}"
            );
        }
        // Pacific prints both the shard counts and the objects completed.
        assert_eq!(
            observe(&bigbucket("pacific-full-sync"), 5.0),
            BucketObs {
                full: Some(11),
                incremental: Some(0),
                total: Some(11),
                behind_shards: (0..11).collect(),
                behind_count: Some(11),
                full_objects: Some(1009),
                missing: false,
                init_shards: Some(0),
                caught_up: Some(false),
                disabled: false,
                observed_at: 5.0,
            }
        );
    }

    #[test]
    fn full_sync_series_are_the_real_ones_not_zeros() {
        let fake = FakeRunner::new();
        let a = agent(&fake, AgentConfig::default());
        lock(&a.state).buckets.insert(
            ("us-east".into(), "bigbucket".into()),
            observe(&bigbucket("reef-full-sync"), 10.0),
        );
        let view = SyncView {
            zone: "us-west".into(),
            sources: vec!["us-east".into()],
            ..SyncView::default()
        };
        let text = a.bucket_metrics(&view, 10.0, &BTreeSet::new()).render();
        let l = "zone=\"us-west\",source_zone=\"us-east\",bucket=\"bigbucket\"";
        assert!(
            text.contains(&format!(
                "rgw_multisite_bucket_sync_full_objects_completed{{{l}}} 61\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("rgw_multisite_bucket_sync_caught_up{{{l}}} 0\n")));
        for absent in [
            "rgw_multisite_bucket_sync_shards{",
            "rgw_multisite_bucket_sync_shards_behind{",
            "rgw_multisite_bucket_shard_count{",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert!(text.contains(
            "rgw_multisite_buckets_behind{zone=\"us-west\",source_zone=\"us-east\"} 1\n"
        ));
    }

    #[tokio::test]
    async fn a_bucket_pending_in_the_datalog_but_unknown_here_is_behind_until_the_datalog_drops_it()
    {
        // Real Pacific `behind` outputs: load-1 is pending on datalog shard 5 of us-east,
        // and us-west's `bucket sync status --bucket=load-1` exits 2.
        let dir = "pacific-behind";
        let fake = FakeRunner::new();
        let cfg = AgentConfig {
            sync_errors: false,
            sweep_per_cycle: 0,
            ..AgentConfig::default()
        };
        let a = agent(&fake, cfg);
        fake.on(
            argv(&["period", "get"]),
            0,
            &capture(dir, "period-get--rgw-zone=us-west.stdout"),
            "",
        );
        // Only shard 5 is behind here, so only its pending buckets are read.
        let sync = capture(dir, "sync-status--rgw-zone=us-west.stdout")
            .replace("behind shards: [0,1,2,3,4,5,6,7]", "behind shards: [5]");
        assert!(sync.contains("behind shards: [5]"));
        fake.on(argv(&["sync", "status"]), 0, &sync, "");
        let shard5 = capture(
            dir,
            "data-sync-status--rgw-zone=us-west--shard-id=5--source-zone=us-east.stdout",
        );
        assert!(shard5.contains("\"load-1:"), "{shard5}");
        fake.on(
            argv(&[
                "data",
                "sync",
                "status",
                "--source-zone=us-east",
                "--shard-id=5",
            ]),
            0,
            &shard5,
            "",
        );
        for b in ["load-1", "load-2", "bucket-1", "bucket-2", "bucket-3"] {
            let f =
                format!("bucket-sync-status--bucket={b}--rgw-zone=us-west--source-zone=us-east");
            let rc: i32 = capture(dir, &format!("{f}.rc")).trim().parse().unwrap();
            fake.on(
                argv(&[
                    "bucket",
                    "sync",
                    "status",
                    &format!("--bucket={b}"),
                    "--source-zone=us-east",
                ]),
                rc,
                &capture(dir, &format!("{f}.stdout")),
                &capture(dir, &format!("{f}.stderr")),
            );
        }
        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        let src = "zone=\"us-west\",source_zone=\"us-east\"";
        let l = format!("{src},bucket=\"load-1\"");
        assert!(
            text.contains(&format!("rgw_multisite_bucket_sync_missing{{{l}}} 1\n")),
            "{text}"
        );
        assert!(text.contains(&format!("rgw_multisite_bucket_sync_caught_up{{{l}}} 0\n")));
        assert!(!text.contains(&format!("rgw_multisite_bucket_sync_shards_behind{{{l}}}")));
        // bucket-1 (behind on a shard), load-1 and load-2 (not in this zone yet).
        assert!(
            text.contains(&format!("rgw_multisite_buckets_behind{{{src}}} 3\n")),
            "{text}"
        );
        assert!(text.contains(&format!("rgw_multisite_buckets_sync_unknown{{{src}}} 0\n")));

        // The datalog moves on (the shard is no longer behind) and the bucket is still
        // unknown here: it was deleted, so it is forgotten rather than kept behind.
        fake.on(
            argv(&["sync", "status"]),
            0,
            &capture("pacific-caught-up", "sync-status--rgw-zone=us-west.stdout"),
            "",
        );
        assert!(a.cycle().await);
        let text = a.telemetry().exposition();
        assert!(!text.contains("bucket=\"load-1\""), "{text}");
        assert!(
            !text.contains("rgw_multisite_bucket_sync_missing"),
            "{text}"
        );
    }
}
