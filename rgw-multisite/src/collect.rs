//! Collection bookkeeping: per-collector success, duration and last success; error counters;
//! and the pre-rendered exposition that scrapes serve without waiting on `radosgw-admin`.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

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
}

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
        let result = fut.await;
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
    let res = rgw.run_in_zone(args, zone).await;
    let res = match res {
        Ok(out) if out.code == 0 || accept.contains(&out.code) => Ok(out),
        Ok(out) => Err(RunError::Exit {
            code: out.code,
            stderr: out.stderr_summary(),
        }),
        Err(e) => Err(e),
    };
    res.map_err(|error| {
        telemetry.count_command_error(&command, error.kind());
        CollectError { command, error }
    })
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
