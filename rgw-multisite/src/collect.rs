//! Collection bookkeeping: per-collector success, duration and last success; error counters;
//! and the pre-rendered exposition that scrapes serve without waiting on `radosgw-admin`.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::metrics::{now_unix, MetricSet};
use crate::runner::{CommandOutput, RadosgwAdmin, RunError};

/// Why a collector failed: a runner error or a parse error, with the command it came from.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{command}: {error}")]
pub struct CollectError {
    pub command: String,
    pub error: RunError,
}

#[derive(Debug, Clone, Default)]
struct CollectorState {
    metrics: MetricSet,
    success: bool,
    duration: f64,
    last_success: Option<f64>,
}

#[derive(Debug, Default)]
struct State {
    /// Families that never change (build info).
    constant: MetricSet,
    collectors: BTreeMap<String, CollectorState>,
    command_errors: BTreeMap<(String, String), u64>,
    skipped_lines: BTreeMap<String, u64>,
    /// Distinct skipped lines already logged, so each is logged once.
    logged_lines: HashSet<String>,
    up: Option<bool>,
}

/// Shared between the collection loop and the HTTP server.
#[derive(Debug)]
pub struct Telemetry {
    state: Mutex<State>,
    rendered: RwLock<Arc<String>>,
    ready: AtomicBool,
    /// The collector whose success sets `rgw_multisite_up`.
    up_collector: String,
    /// This cycle's liveness probe: run by the first call that times out, shared by every
    /// concurrent one; `Some(reason)` when the cluster did not answer it. Reset each cycle.
    probe: Mutex<Arc<OnceCell<Option<String>>>>,
    /// Timeouts in milliseconds: the calls' (0: unknown) and the probe's.
    call_timeout_ms: AtomicU64,
    probe_timeout_ms: AtomicU64,
    /// Calls skipped so far (all cycles) and the latest, so that a collector that swallows
    /// failed calls (per-bucket checks) still fails when some of its calls never ran.
    skipped_calls: AtomicU64,
    last_skipped: Mutex<Option<CollectError>>,
}

/// Upper bound on the liveness probe's timeout. `period get` needs a monitor session and
/// one small RADOS read (0.07 s measured on the Pacific lab); 10 s is two orders of magnitude
/// of headroom for a loaded host, and caps how long a dead cluster takes to show as
/// `rgw_multisite_up 0` at the call timeout plus 10 s.
pub const MAX_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Cap on remembered distinct skipped lines: enough to log each once in practice, bounded
/// so that garbage output cannot grow memory.
const MAX_LOGGED_LINES: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Telemetry {
    pub fn new(version: &str, role: &str, up_collector: &str) -> Arc<Self> {
        let mut constant = MetricSet::new();
        constant
            .gauge(
                "rgw_multisite_exporter_build_info",
                "Version and role of this exporter; always 1.",
            )
            .set(&[("version", version), ("role", role)], 1.0);
        let t = Telemetry {
            state: Mutex::new(State {
                constant,
                ..State::default()
            }),
            rendered: RwLock::new(Arc::new(String::new())),
            ready: AtomicBool::new(false),
            up_collector: up_collector.to_string(),
            probe: Mutex::default(),
            call_timeout_ms: 0.into(),
            probe_timeout_ms: (MAX_PROBE_TIMEOUT.as_millis() as u64).into(),
            skipped_calls: 0.into(),
            last_skipped: Mutex::default(),
        };
        t.publish();
        Arc::new(t)
    }

    /// The latest exposition; cheap (an `Arc` clone).
    pub fn exposition(&self) -> Arc<String> {
        self.rendered
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// True once the first full collection cycle has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// The calls' timeout (`--radosgw-admin.timeout`): the probe gets min(timeout, 10 s),
    /// and a failed call that ran that long is treated like a timeout (Ceph's own timeouts,
    /// set to the same value, may expire first with exit 1).
    pub fn set_call_timeout(&self, timeout: Duration) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.call_timeout_ms.store(ms(timeout), Ordering::Relaxed);
        self.probe_timeout_ms
            .store(ms(timeout.min(MAX_PROBE_TIMEOUT)), Ordering::Relaxed);
    }

    fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.probe_timeout_ms.load(Ordering::Relaxed))
    }

    /// A failed call this slow may be Ceph's timeout expiring on an unreachable cluster.
    fn ran_out_the_timeout(&self, took: Duration) -> bool {
        let ms = self.call_timeout_ms.load(Ordering::Relaxed);
        // 90%: Ceph's timers start after the process did, a little later than ours.
        ms > 0 && took >= Duration::from_millis(ms).mul_f64(0.9)
    }

    /// Starts a collection cycle: the cluster is tried again, whatever the last cycle found.
    pub fn begin_cycle(&self) {
        *lock(&self.probe) = Arc::default();
    }

    fn cycle_probe(&self) -> Arc<OnceCell<Option<String>>> {
        lock(&self.probe).clone()
    }

    /// Why the rest of this cycle is skipped, if the liveness probe failed.
    pub fn unreachable(&self) -> Option<String> {
        self.cycle_probe().get().cloned().flatten()
    }

    /// A call timed out: is the cluster there at all, or was that call just slow? Asks once
    /// per cycle (`period get` in `zone`, within the probe timeout); concurrent callers wait
    /// for the same answer. On failure `rgw_multisite_up` goes to 0 at once and every later
    /// call of the cycle is skipped.
    async fn probe_liveness(
        &self,
        cell: &OnceCell<Option<String>>,
        rgw: &RadosgwAdmin,
        zone: Option<&str>,
        after: &str,
    ) {
        cell.get_or_init(|| async {
            let timeout = self.probe_timeout();
            let args = ["period", "get"];
            let error = match rgw.run_in_zone_within(&args, zone, timeout).await {
                Ok(out) if out.code == 0 => {
                    tracing::info!(after, took_seconds = out.duration.as_secs_f64(), "a call timed out but the cluster answers period get; carrying on");
                    return None;
                }
                Ok(out) => RunError::Exit {
                    code: out.code,
                    stderr: out.stderr_summary(),
                },
                Err(e) => e,
            };
            self.count_command_error("period get", error.kind());
            let reason = match &error {
                RunError::Timeout(d) => format!("period get timed out after {d:?}"),
                e => format!("period get: {e}"),
            };
            tracing::warn!(after, probe = %reason, "the cluster did not answer; skipping the rest of this cycle");
            lock(&self.state).up = Some(false);
            self.publish();
            Some(reason)
        })
        .await;
    }

    pub fn count_command_error(&self, command: &str, kind: &str) {
        let mut s = lock(&self.state);
        *s.command_errors
            .entry((command.to_string(), kind.to_string()))
            .or_insert(0) += 1;
    }

    /// Counts lines a parser did not understand and logs each distinct line once.
    pub fn count_skipped_lines(&self, command: &str, lines: &[String]) {
        if lines.is_empty() {
            return;
        }
        let mut s = lock(&self.state);
        *s.skipped_lines.entry(command.to_string()).or_insert(0) += lines.len() as u64;
        for l in lines {
            if s.logged_lines.len() < MAX_LOGGED_LINES && s.logged_lines.insert(l.clone()) {
                tracing::warn!(command, line = %l, "skipped an output line this version does not know");
            }
        }
    }

    /// Runs one collector, records its outcome and republishes the exposition. A failed
    /// collector's series are dropped, never served stale.
    pub async fn run_collector<T, F>(&self, name: &str, fut: F) -> Option<T>
    where
        F: Future<Output = Result<(MetricSet, T), CollectError>>,
    {
        let start = Instant::now();
        let skipped_before = self.skipped_calls.load(Ordering::Relaxed);
        let result = match fut.await {
            Ok(_) if self.skipped_calls.load(Ordering::Relaxed) != skipped_before => {
                Err(lock(&self.last_skipped)
                    .clone()
                    .unwrap_or_else(|| CollectError {
                        command: "radosgw-admin".into(),
                        error: RunError::Skipped("the cluster did not answer".into()),
                    }))
            }
            r => r,
        };
        let duration = start.elapsed().as_secs_f64();
        let mut s = lock(&self.state);
        let prev_last = s.collectors.get(name).and_then(|c| c.last_success);
        let (state, value) = match result {
            Ok((metrics, value)) => (
                CollectorState {
                    metrics,
                    success: true,
                    duration,
                    last_success: Some(now_unix()),
                },
                Some(value),
            ),
            Err(e) => {
                tracing::warn!(collector = name, command = %e.command, kind = e.error.kind(), duration_seconds = duration, error = %e.error, "collector failed");
                (
                    CollectorState {
                        metrics: MetricSet::new(),
                        success: false,
                        duration,
                        last_success: prev_last,
                    },
                    None,
                )
            }
        };
        if name == self.up_collector {
            s.up = Some(state.success);
        }
        s.collectors.insert(name.to_string(), state);
        drop(s);
        self.publish();
        value
    }

    /// Marks a collector that could not run (its input failed): success 0, series dropped,
    /// last success kept. Nothing is counted in `command_errors_total`: no command ran.
    pub fn skip_collector(&self, name: &str, reason: &str) {
        tracing::debug!(collector = name, reason, "collector skipped");
        let mut s = lock(&self.state);
        let last_success = s.collectors.get(name).and_then(|c| c.last_success);
        s.collectors.insert(
            name.to_string(),
            CollectorState {
                last_success,
                ..CollectorState::default()
            },
        );
        drop(s);
        self.publish();
    }

    /// Rebuilds the exposition from the latest state of every collector.
    pub fn publish(&self) {
        let s = lock(&self.state);
        let mut all = s.constant.clone();
        all.gauge(
            "rgw_multisite_up",
            "1 if the last radosgw-admin call of the main collector succeeded.",
        )
        .set(&[], if s.up == Some(true) { 1.0 } else { 0.0 });
        for (name, c) in &s.collectors {
            let l = [("collector", name.as_str())];
            all.gauge(
                "rgw_multisite_collector_success",
                "1 if the collector's last run succeeded.",
            )
            .set(&l, if c.success { 1.0 } else { 0.0 });
            all.gauge(
                "rgw_multisite_collector_duration_seconds",
                "Wall time of the collector's last run.",
            )
            .set(&l, c.duration);
            if let Some(ts) = c.last_success {
                all.gauge(
                    "rgw_multisite_collector_last_success_timestamp_seconds",
                    "Unix time of the collector's last successful run.",
                )
                .set(&l, ts);
            }
        }
        let errs = all.counter(
            "rgw_multisite_command_errors_total",
            "radosgw-admin calls that failed, by command and kind (timeout, spawn, exit, parse).",
        );
        for ((cmd, kind), n) in &s.command_errors {
            errs.set(&[("command", cmd), ("kind", kind)], *n as f64);
        }
        let skipped = all.counter(
            "rgw_multisite_parse_skipped_lines_total",
            "Output lines the parser did not recognise and skipped, by command.",
        );
        for (cmd, n) in &s.skipped_lines {
            skipped.set(&[("command", cmd)], *n as f64);
        }
        for c in s.collectors.values() {
            all.merge(&c.metrics);
        }
        drop(s);
        let text = Arc::new(all.render());
        match self.rendered.write() {
            Ok(mut g) => *g = text,
            Err(p) => *p.into_inner() = text,
        }
    }
}

/// Runs a command, counting failures under its command label. Non-zero exits come back as
/// `Ok` when `accept` says the code is an answer (e.g. 210: bucket not on this zone yet).
pub async fn run_counted(
    telemetry: &Telemetry,
    rgw: &RadosgwAdmin,
    args: &[&str],
    zone: Option<&str>,
    accept: &[i32],
) -> Result<CommandOutput, CollectError> {
    let command = RadosgwAdmin::command_label(args);
    let probe = telemetry.cycle_probe();
    if let Some(Some(reason)) = probe.get() {
        let e = CollectError {
            command,
            error: RunError::Skipped(reason.clone()),
        };
        telemetry.skipped_calls.fetch_add(1, Ordering::Relaxed);
        *lock(&telemetry.last_skipped) = Some(e.clone());
        return Err(e);
    }
    let res = rgw.run_in_zone(args, zone).await;
    let mut slow = matches!(res, Err(RunError::Timeout(_)));
    let res = match res {
        Ok(out) if out.code == 0 || accept.contains(&out.code) => Ok(out),
        Ok(out) => {
            slow = telemetry.ran_out_the_timeout(out.duration);
            Err(RunError::Exit {
                code: out.code,
                stderr: out.stderr_summary(),
            })
        }
        Err(e) => Err(e),
    };
    let error = match res {
        Ok(out) => return Ok(out),
        Err(e) => e,
    };
    telemetry.count_command_error(&command, error.kind());
    if slow {
        telemetry.probe_liveness(&probe, rgw, zone, &command).await;
    }
    Err(CollectError { command, error })
}

/// Records a parse failure for `command` and returns the collector error.
pub fn parse_failure(telemetry: &Telemetry, command: &str, msg: String) -> CollectError {
    telemetry.count_command_error(command, "parse");
    CollectError {
        command: command.to_string(),
        error: RunError::Parse(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failed_collector_drops_its_series_and_keeps_last_success() {
        let t = Telemetry::new("1.2.3", "agent", "sync_status");
        let mut m = MetricSet::new();
        m.gauge("rgw_multisite_data_sync_ok", "h")
            .set(&[("zone", "w")], 1.0);
        let ok = t.run_collector("sync_status", async { Ok((m, 7)) }).await;
        assert_eq!(ok, Some(7));
        let text = t.exposition();
        assert!(text.contains("rgw_multisite_data_sync_ok{zone=\"w\"} 1\n"));
        assert!(text.contains("rgw_multisite_up 1\n"));
        assert!(text.contains("rgw_multisite_collector_success{collector=\"sync_status\"} 1\n"));

        let failed: Option<()> = t
            .run_collector("sync_status", async {
                Err(parse_failure(&t, "sync status", "garbage".into()))
            })
            .await;
        assert_eq!(failed, None);
        let text = t.exposition();
        assert!(!text.contains("rgw_multisite_data_sync_ok"), "{text}");
        assert!(text.contains("rgw_multisite_up 0\n"));
        assert!(text.contains("rgw_multisite_collector_success{collector=\"sync_status\"} 0\n"));
        assert!(text.contains(
            "rgw_multisite_command_errors_total{command=\"sync status\",kind=\"parse\"} 1\n"
        ));
        assert!(text.contains(
            "rgw_multisite_collector_last_success_timestamp_seconds{collector=\"sync_status\"} "
        ));
        assert!(text
            .contains("rgw_multisite_exporter_build_info{version=\"1.2.3\",role=\"agent\"} 1\n"));
    }

    fn probe_argv(secs: u64) -> Vec<String> {
        [
            "radosgw-admin".to_string(),
            "period".into(),
            "get".into(),
            "--rgw-zone=w".into(),
            format!("--client_mount_timeout={secs}"),
            format!("--rados_mon_op_timeout={secs}"),
            format!("--rados_osd_op_timeout={secs}"),
        ]
        .to_vec()
    }

    fn call(args: &[&str]) -> Vec<String> {
        let mut v = vec!["radosgw-admin".to_string()];
        v.extend(args.iter().map(|a| a.to_string()));
        v.push("--rgw-zone=w".into());
        v
    }

    #[tokio::test]
    async fn a_timeout_the_probe_confirms_sets_up_0_at_once_and_skips_the_rest_of_the_cycle() {
        use crate::runner::FakeRunner;
        let fake = FakeRunner::new();
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake.clone())
            .with_zone(Some("w".into()));
        let t = Telemetry::new("v", "agent", "sync_status");
        t.set_call_timeout(std::time::Duration::from_secs(30));
        fake.on(call(&["sync", "status"]), 0, "ok\n", "");
        let timeout = Err(RunError::Timeout(std::time::Duration::from_secs(30)));
        fake.set(call(&["bucket", "list"]), timeout.clone());
        fake.set(
            probe_argv(10),
            Err(RunError::Timeout(std::time::Duration::from_secs(10))),
        );
        t.begin_cycle();
        let ok = t
            .run_collector("sync_status", async {
                run_counted(&t, &rgw, &["sync", "status"], Some("w"), &[]).await?;
                Ok((MetricSet::new(), ()))
            })
            .await;
        assert_eq!(ok, Some(()));
        assert!(t.exposition().contains("rgw_multisite_up 1\n"));

        // Outside any collector: nothing but the probe republishes.
        let err = run_counted(&t, &rgw, &["bucket", "list"], Some("w"), &[]).await;
        assert_eq!(err.map(|_| ()).unwrap_err().error.kind(), "timeout");
        assert_eq!(
            t.unreachable().as_deref(),
            Some("period get timed out after 10s")
        );
        let text = t.exposition();
        assert!(text.contains("rgw_multisite_up 0\n"), "{text}");
        assert!(text.contains(
            "rgw_multisite_command_errors_total{command=\"period get\",kind=\"timeout\"} 1\n"
        ));
        // The rest of the cycle runs nothing and counts nothing.
        let skipped: Option<()> = t
            .run_collector("sync_errors", async {
                run_counted(&t, &rgw, &["sync", "status"], Some("w"), &[]).await?;
                Ok((MetricSet::new(), ()))
            })
            .await;
        assert_eq!(skipped, None);
        assert_eq!(
            fake.calls(),
            vec![
                call(&["sync", "status"]),
                call(&["bucket", "list"]),
                probe_argv(10)
            ]
        );
        t.publish();
        let text = t.exposition();
        assert!(text.contains("rgw_multisite_collector_success{collector=\"sync_errors\"} 0\n"));
        assert!(!text.contains("command=\"sync status\""), "{text}");
        assert!(!text.contains("kind=\"skipped\""), "{text}");

        // The next cycle tries the cluster again; the first success brings up back.
        t.begin_cycle();
        assert_eq!(t.unreachable(), None);
        t.run_collector("sync_status", async {
            run_counted(&t, &rgw, &["sync", "status"], Some("w"), &[]).await?;
            Ok((MetricSet::new(), ()))
        })
        .await;
        assert!(t.exposition().contains("rgw_multisite_up 1\n"));
        assert_eq!(fake.calls().len(), 4);
    }

    #[tokio::test]
    async fn a_slow_call_on_a_live_cluster_is_probed_once_and_changes_nothing_else() {
        use crate::runner::{CommandOutput, FakeRunner};
        let fake = FakeRunner::new();
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake.clone())
            .with_zone(Some("w".into()));
        let t = Telemetry::new("v", "agent", "sync_status");
        t.set_call_timeout(std::time::Duration::from_secs(8));
        fake.on(call(&["sync", "status"]), 0, "ok\n", "");
        fake.set(
            call(&["bucket", "list"]),
            Err(RunError::Timeout(std::time::Duration::from_secs(8))),
        );
        // Ceph's own timeout expiring first: exit 1 after the whole timeout.
        fake.set(
            call(&["bucket", "stats"]),
            Ok(CommandOutput {
                stdout: String::new(),
                stderr: "failed to fetch mon config".into(),
                code: 1,
                duration: std::time::Duration::from_millis(7990),
            }),
        );
        fake.on(probe_argv(8), 0, "{}", "");
        t.begin_cycle();
        t.run_collector("sync_status", async {
            run_counted(&t, &rgw, &["sync", "status"], Some("w"), &[]).await?;
            Ok((MetricSet::new(), ()))
        })
        .await;
        for _ in 0..2 {
            let r = run_counted(&t, &rgw, &["bucket", "list"], Some("w"), &[]).await;
            assert_eq!(r.map(|_| ()).unwrap_err().error.kind(), "timeout");
        }
        assert_eq!(t.unreachable(), None);
        let r = run_counted(&t, &rgw, &["sync", "status"], Some("w"), &[]).await;
        assert!(r.is_ok());
        t.publish();
        let text = t.exposition();
        assert!(text.contains("rgw_multisite_up 1\n"), "{text}");
        assert!(!text.contains("command=\"period get\""), "{text}");
        // One probe per cycle, however many calls time out.
        let probes = |f: &FakeRunner| f.calls().iter().filter(|c| **c == probe_argv(8)).count();
        assert_eq!(probes(&fake), 1);
        // Next cycle: a slow failed exit is probed like a timeout.
        t.begin_cycle();
        let r = run_counted(&t, &rgw, &["bucket", "stats"], Some("w"), &[]).await;
        assert_eq!(r.map(|_| ()).unwrap_err().error.kind(), "exit");
        assert_eq!(probes(&fake), 2);
    }

    #[test]
    fn skipped_lines_are_counted_per_command() {
        let t = Telemetry::new("v", "agent", "x");
        t.count_skipped_lines("sync status", &["a".into(), "b".into()]);
        t.count_skipped_lines("sync status", &["a".into()]);
        t.publish();
        assert!(t
            .exposition()
            .contains("rgw_multisite_parse_skipped_lines_total{command=\"sync status\"} 3\n"));
    }
}
