//! Cluster faults against the real lab (run by `.ci/lab-stage` with `--ignored`, lab up):
//! the monitor stopped and one zone's radosgw stopped, with both exporters served.
//!
//! `LAB_STATE=... cargo test -p e2e-tests --test faults_lab -- --ignored --test-threads=1`
//!
//! Durations are measured and printed, not asserted: the waits below only bound how long a
//! test may take before it is declared stuck. One bound is the requirement itself, kept
//! generous: with the mon stopped, `up` must reach 0 within timeout + probe + interval
//! (+ slack), not after the rest of the cycle's calls each waited out the timeout.
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{samples, value};

/// Per-call timeout and interval the exporters run with here.
const TIMEOUT_S: u64 = 8;
const INTERVAL_S: u64 = 5;
/// The liveness probe's timeout after a timed-out call: min(timeout, 10 s).
const PROBE_S: u64 = if TIMEOUT_S < 10 { TIMEOUT_S } else { 10 };
/// Allowance on top of timeout + probe + interval for a loaded 2-core CI machine (Reef and
/// Tentacle run radosgw-admin in a chroot); measured on Pacific with a loaded host: see the
/// printed figures.
const SLACK_S: u64 = 40;

/// Families an exporter serves about itself; everything else is a claim about the cluster.
const SELF_FAMILIES: &[&str] = &[
    "rgw_multisite_up",
    "rgw_multisite_collector_success",
    "rgw_multisite_collector_duration_seconds",
    "rgw_multisite_collector_last_success_timestamp_seconds",
    "rgw_multisite_command_errors_total",
    "rgw_multisite_parse_skipped_lines_total",
    "rgw_multisite_exporter_build_info",
];

struct Exporter {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Exporter {
    fn start(name: &'static str, bin: &str, env: &HashMap<String, String>, zone: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log =
            std::env::temp_dir().join(format!("faults-lab-{name}-{}.log", std::process::id()));
        let child = Command::new(e2e_tests::binary(bin))
            .arg(format!("--radosgw-admin.command={}", env["RADOSGW_ADMIN"]))
            .arg(format!("--zone={zone}"))
            .arg(format!("--radosgw-admin.timeout={TIMEOUT_S}s"))
            .arg(format!("--collection.interval={INTERVAL_S}s"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Exporter {
            name,
            child,
            port,
            log,
        }
    }

    /// `/metrics`; panics when the exporter died or does not answer (a hang is a failure).
    fn metrics(&mut self) -> String {
        if let Some(st) = self.child.try_wait().unwrap() {
            panic!("{} exited ({st}); log:\n{}", self.name, self.stderr());
        }
        // Not listening yet right after the start: retry for a while.
        let start = Instant::now();
        let mut s = loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(s) => break s,
                Err(e) if start.elapsed() > Duration::from_secs(30) => {
                    panic!("{}: cannot connect: {e}", self.name)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out)
            .unwrap_or_else(|e| panic!("{}: /metrics did not answer: {e}", self.name));
        assert!(out.starts_with("HTTP/1.1 200"), "{}: {out}", self.name);
        out.split_once("\r\n\r\n").unwrap().1.to_string()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

/// Polls every exporter each second until `cond` holds for each; returns the seconds each
/// took (from `since`) and its exposition at that moment.
fn wait_all(
    what: &str,
    exporters: &mut [&mut Exporter],
    since: Instant,
    limit: Duration,
    cond: impl Fn(&str, &str) -> bool,
) -> Vec<(f64, String)> {
    let mut seen: Vec<Option<(f64, String)>> = vec![None; exporters.len()];
    loop {
        for (i, e) in exporters.iter_mut().enumerate() {
            if seen[i].is_none() {
                let m = e.metrics();
                if cond(e.name, &m) {
                    let secs = since.elapsed().as_secs_f64();
                    eprintln!("[faults-lab] {what}: {} after {secs:.1}s", e.name);
                    seen[i] = Some((secs, m));
                }
            }
        }
        if seen.iter().all(Option::is_some) {
            return seen.into_iter().map(Option::unwrap).collect();
        }
        if since.elapsed() > limit {
            let names: Vec<_> = exporters
                .iter()
                .zip(&seen)
                .filter(|(_, s)| s.is_none())
                .map(|(e, _)| format!("{}:\n{}", e.name, e.stderr()))
                .collect();
            panic!("[faults-lab] {what}: not seen within {limit:?} for {names:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn lab(args: &[&str]) -> f64 {
    let t = Instant::now();
    e2e_tests::lab::run(args);
    let s = t.elapsed().as_secs_f64();
    eprintln!("[faults-lab] lab/{} took {s:.1}s", args.join(" "));
    s
}

/// Heals on drop, so a failed assertion does not leave the lab broken for the next test.
struct Healer(&'static [&'static str]);

impl Drop for Healer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut args = vec!["heal"];
            args.extend_from_slice(self.0);
            let _ = Command::new("bash")
                .arg(e2e_tests::lab::repo().join("lab/heal"))
                .args(&args[1..])
                .status();
        }
    }
}

fn up(m: &str) -> f64 {
    value(m, "rgw_multisite_up").unwrap_or(f64::NAN)
}

fn cluster_series(m: &str) -> Vec<(String, f64)> {
    samples(m)
        .into_iter()
        .filter(|(s, _)| !SELF_FAMILIES.contains(&s.split('{').next().unwrap_or("")))
        .collect()
}

fn failed_kinds(m: &str) -> Vec<String> {
    samples(m)
        .into_iter()
        .filter(|(s, v)| s.starts_with("rgw_multisite_command_errors_total{") && *v > 0.0)
        .map(|(s, v)| format!("{s} {v}"))
        .collect()
}

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test faults_lab -- --ignored"]
fn mon_down_sets_up_to_0_without_hanging_and_back_to_1() {
    let env = e2e_tests::lab::env();
    let mut agent = Exporter::start("agent", "rgw-multisite-agent-exporter", &env, "us-west");
    let mut exporter = Exporter::start("exporter", "rgw-multisite-exporter", &env, "us-east");
    let start = Instant::now();
    wait_all(
        "up=1 at start",
        &mut [&mut agent, &mut exporter],
        start,
        Duration::from_secs(180),
        |_, m| up(m) == 1.0,
    );

    let _heal = Healer(&["mon-down"]);
    lab(&["fault", "mon-down"]);
    let down = Instant::now();
    let seen = wait_all(
        "up=0 with the mon stopped",
        &mut [&mut agent, &mut exporter],
        down,
        // The call in flight when the mon stops times out, the probe fails too and `up`
        // drops at once: not after every remaining call of the cycle waited its timeout.
        Duration::from_secs(TIMEOUT_S + PROBE_S + INTERVAL_S + SLACK_S),
        |_, m| up(m) == 0.0,
    );
    for ((secs, m), name) in seen.iter().zip(["agent", "exporter"]) {
        let kinds = failed_kinds(m);
        assert!(
            kinds
                .iter()
                .all(|k| k.contains("kind=\"timeout\"") || k.contains("kind=\"exit\"")),
            "{name}: mon down failed as {kinds:?}"
        );
        assert!(
            !kinds.is_empty(),
            "{name}: up=0 without a counted error\n{m}"
        );
        eprintln!(
            "[faults-lab] mon down: {name} up=0 after {secs:.1}s (timeout {TIMEOUT_S}s + probe {PROBE_S}s + interval {INTERVAL_S}s = {}s); errors {kinds:?}",
            TIMEOUT_S + PROBE_S + INTERVAL_S
        );
    }
    // Once a whole cycle has failed, nothing about the cluster is served any more.
    let seen = wait_all(
        "every collector failed",
        &mut [&mut agent, &mut exporter],
        down,
        Duration::from_secs(20 * (TIMEOUT_S + INTERVAL_S) + 120),
        |_, m| {
            let s = samples(m);
            let ok = s
                .iter()
                .filter(|(n, _)| n.starts_with("rgw_multisite_collector_success{"))
                .all(|(_, v)| *v == 0.0);
            ok && up(m) == 0.0
        },
    );
    for ((secs, m), name) in seen.iter().zip(["agent", "exporter"]) {
        let claims = cluster_series(m);
        assert!(
            claims.is_empty(),
            "{name}: with the mon down it still serves {claims:?}"
        );
        let longest = samples(m)
            .into_iter()
            .filter(|(n, _)| n.starts_with("rgw_multisite_collector_duration_seconds{"))
            .map(|(_, v)| v)
            .fold(0.0, f64::max);
        eprintln!(
            "[faults-lab] mon down: {name}: every collector failed after {secs:.1}s; longest collector {longest:.1}s (timeout {TIMEOUT_S}s)"
        );
    }
    for e in [&agent, &exporter] {
        let log = e.stderr();
        assert!(!log.contains("panicked"), "{}: {log}", e.name);
        assert!(
            log.contains("collector failed"),
            "{}: no log message:\n{log}",
            e.name
        );
        assert!(
            log.contains("the cluster did not answer"),
            "{}: no liveness probe failed:\n{log}",
            e.name
        );
    }

    lab(&["heal", "mon-down"]);
    let healed = Instant::now();
    let seen = wait_all(
        "up=1 after the mon is back",
        &mut [&mut agent, &mut exporter],
        healed,
        Duration::from_secs(10 * (TIMEOUT_S + INTERVAL_S) + 120),
        |_, m| up(m) == 1.0,
    );
    for ((secs, _), name) in seen.iter().zip(["agent", "exporter"]) {
        eprintln!("[faults-lab] mon back: {name} up=1 after {secs:.1}s");
    }
    let seen = wait_all(
        "every collector back",
        &mut [&mut agent, &mut exporter],
        healed,
        Duration::from_secs(20 * (TIMEOUT_S + INTERVAL_S) + 120),
        |_, m| {
            samples(m)
                .iter()
                .filter(|(n, _)| n.starts_with("rgw_multisite_collector_success{"))
                .all(|(_, v)| *v == 1.0)
        },
    );
    for ((secs, _), name) in seen.iter().zip(["agent", "exporter"]) {
        eprintln!("[faults-lab] mon back: {name} every collector succeeded after {secs:.1}s");
    }
}

const SRC: &str = r#"zone="us-west",source_zone="us-east""#;

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test faults_lab -- --ignored"]
fn zone_down_is_reported_not_hidden() {
    let env = e2e_tests::lab::env();
    let mut agent = Exporter::start("agent", "rgw-multisite-agent-exporter", &env, "us-west");
    let mut exporter = Exporter::start("exporter", "rgw-multisite-exporter", &env, "us-east");
    let start = Instant::now();
    let ok = |m: &str| value(m, &format!("rgw_multisite_data_sync_ok{{{SRC}}}"));
    wait_all(
        "caught up at start",
        &mut [&mut agent, &mut exporter],
        start,
        Duration::from_secs(240),
        |name, m| up(m) == 1.0 && (name != "agent" || ok(m) == Some(1.0)),
    );

    // The source zone's radosgw stopped: us-west cannot ask it for its datalog, so the agent
    // must not claim the data is caught up (nor behind by a number it cannot know).
    let _heal = Healer(&["zone-down", "us-east"]);
    lab(&["fault", "zone-down", "us-east"]);
    let t = Instant::now();
    let seen = wait_all(
        "us-east down",
        &mut [&mut agent, &mut exporter],
        t,
        Duration::from_secs(10 * (TIMEOUT_S + INTERVAL_S) + 60),
        |name, m| match name {
            "agent" => ok(m) != Some(1.0),
            // The exporter reads RADOS, not radosgw: it sees a cycle through.
            _ => t.elapsed() > Duration::from_secs(2 * INTERVAL_S + 2 * TIMEOUT_S),
        },
    );
    let (secs, m) = &seen[0];
    assert_eq!(up(m), 1.0, "agent: radosgw-admin still works\n{m}");
    assert_eq!(ok(m), Some(0.0), "agent: data_sync_ok should be 0\n{m}");
    let behind = value(
        m,
        &format!("rgw_multisite_data_sync_shards_behind{{{SRC}}}"),
    );
    assert_ne!(
        behind,
        Some(0.0),
        "agent: shards_behind 0 while the source is unreachable\n{m}"
    );
    eprintln!(
        "[faults-lab] us-east radosgw down: agent data_sync_ok=0 after {secs:.1}s, shards_behind={behind:?}, up=1"
    );
    let (_, m) = &seen[1];
    assert_eq!(up(m), 1.0, "exporter: radosgw-admin still works\n{m}");
    eprintln!(
        "[faults-lab] us-east radosgw down: exporter up=1, failing: {:?}",
        failed_kinds(m)
    );
    lab(&["heal", "zone-down", "us-east"]);
    let t = Instant::now();
    wait_all(
        "caught up after heal",
        &mut [&mut agent],
        t,
        Duration::from_secs(300),
        |_, m| ok(m) == Some(1.0) && up(m) == 1.0,
    );

    // The replica's own radosgw stopped: nothing on us-west applies changes any more, but
    // radosgw-admin still reads its sync state, so both keep reporting (up=1).
    let _heal = Healer(&["zone-down", "us-west"]);
    lab(&["fault", "zone-down", "us-west"]);
    let t = Instant::now();
    let seen = wait_all(
        "us-west down",
        &mut [&mut agent, &mut exporter],
        t,
        Duration::from_secs(10 * (TIMEOUT_S + INTERVAL_S) + 60),
        |_, _| t.elapsed() > Duration::from_secs(2 * INTERVAL_S + 2 * TIMEOUT_S),
    );
    for ((_, m), name) in seen.iter().zip(["agent", "exporter"]) {
        assert_eq!(up(m), 1.0, "{name}: up with us-west's radosgw down\n{m}");
        eprintln!(
            "[faults-lab] us-west radosgw down: {name} up=1, data_sync_ok={:?}, failing: {:?}",
            ok(m),
            failed_kinds(m)
        );
    }
    lab(&["heal", "zone-down", "us-west"]);
}
