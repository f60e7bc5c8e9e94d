//! rgw-multisite-bench: runs both exporters against `sim-radosgw-admin` for zones of N
//! buckets, beside the predecessor's naive poller, and reports side by side what issue 7
//! asks: time to detect a bucket that starts lagging, `radosgw-admin` calls per minute, CPU
//! time, peak RSS, and the size, series and render time of `/metrics`.
//!
//! `run` is the benchmark; `parse-stats` times the exporter's `bucket stats` parser alone.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use rgw_multisite::config::parse_duration;
use rgw_multisite::parse::bucket_stats::{parse_bucket_stats, BucketStats};
use rgw_multisite::parse::bucket_sync_status::parse_bucket_sync_status;
use rgw_multisite_bench::measure::{
    by_command, clk_tck, cpu_of, free_port, http_get, machine, machine_jiffies, quantile,
    read_calls, sample, series_count, status_kib, wait_for, CallRecord, Cpu,
};
use rgw_multisite_bench::sim::{bucket_name, datalog_shard, mix, write_config, SimConfig};

/// Scale benchmark of the RGW multisite exporters against a simulated radosgw-admin.
#[derive(Parser, Debug)]
#[command(name = "rgw-multisite-bench", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the agent, the exporter and the naive poller against the simulator, for each
    /// bucket count, and report the figures (Markdown on stdout, JSON with --json).
    Run(RunArgs),
    /// Time the exporter's `bucket stats` parser alone: a fresh process reads and parses
    /// the simulator's output of every zone, one zone after the other, as the exporter does.
    ParseStats(ParseArgs),
    #[command(hide = true)]
    ParseStatsChild {
        #[arg(long)]
        mode: String,
        files: Vec<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Bucket counts to run, one after the other.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    buckets: Vec<usize>,
    /// Datalog shards (`rgw_data_log_num_shards`).
    #[arg(long, default_value_t = 128)]
    datalog_shards: u32,
    /// Latency of every simulated radosgw-admin call.
    #[arg(long, default_value_t = 100.0)]
    latency_ms: f64,
    /// --collection.interval of both exporters and the naive poller's period. Default: each
    /// binary's own default (agent 30 s, exporter 60 s) and 60 s for the naive poller (the
    /// predecessor's period).
    #[arg(long, value_parser = parse_duration)]
    interval: Option<Duration>,
    /// Steady-state cycles measured (after the first).
    #[arg(long, default_value_t = 3)]
    steady_cycles: u32,
    /// Lagging-bucket injections, each at a random point of the cycle.
    #[arg(long, default_value_t = 3)]
    trials: u32,
    /// Two more injections at the worst point: just after the agent's `sync status`, and
    /// just after the exporter's (whose bucket stats are read by then).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    worst_case_trials: bool,
    /// Buckets lagging all along (the steady state is not all green).
    #[arg(long, default_value_t = 10)]
    lagging: usize,
    /// Sync error log entries in each secondary zone.
    #[arg(long, default_value_t = 20)]
    errors: usize,
    /// Zones of the zonegroup: the master (the exporter's zone), then the secondaries (the
    /// agent runs in the first).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east,us-west,us-central"
    )]
    zones: Vec<String>,
    /// `/metrics` fetches per exporter for the render time.
    #[arg(long, default_value_t = 200)]
    scrapes: usize,
    /// Buckets the naive poller reads per cycle (the predecessor: the first 500).
    #[arg(long, default_value_t = 500)]
    naive_cap: usize,
    /// Concurrent calls of the naive poller (the exporters' default concurrency is 4).
    #[arg(long, default_value_t = 4)]
    naive_concurrency: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Working directory (state, call logs, exporter logs, caches); default: a new one in
    /// $TMPDIR, removed at the end unless --keep.
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Where the exporters and sim-radosgw-admin are; default: beside this binary.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the working directory.
    #[arg(long)]
    keep: bool,
    /// Extra argument for the agent (repeatable), e.g. --agent-arg=--bucket-sync.sweep-per-cycle=200.
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    agent_args: Vec<String>,
    /// Extra argument for the exporter (repeatable).
    #[arg(long = "exporter-arg", allow_hyphen_values = true)]
    exporter_args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
struct ParseArgs {
    #[arg(long, default_value_t = 100_000)]
    buckets: usize,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east,us-west,us-central"
    )]
    zones: Vec<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// How the output reaches the parser. `runner-concurrent`: as the exporter did up to
    /// c852716 (64 KiB reads into a growing buffer, a lossy UTF-8 copy, every zone's text
    /// held at once as concurrent fetches do); `runner-sequential`: the same, one zone at a
    /// time; `no-copy-sequential`: one read to the end, no UTF-8 copy, one zone at a time
    /// (what the exporter does since c852716); `stream-sequential`: deserialized while
    /// reading, no text kept (not in the exporter yet).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "runner-concurrent,runner-sequential,no-copy-sequential,stream-sequential"
    )]
    modes: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Default)]
struct Report {
    command: String,
    machine: BTreeMap<String, String>,
    settings: BTreeMap<String, String>,
    sizes: Vec<SizeResult>,
}

#[derive(Debug, Serialize, Default)]
struct SizeResult {
    buckets: usize,
    /// Seconds the simulator took to generate one zone's `bucket stats` (then cached).
    sim_stats_generation_seconds: f64,
    sim_stats_bytes: u64,
    agent: ExporterResult,
    exporter: ExporterResult,
    naive: NaiveResult,
    trials: Vec<Trial>,
    /// Machine CPU (all cores, seconds per second) used by everything else during the
    /// steady window: not the exporters, not their radosgw-admin calls.
    other_load_cores: f64,
}

#[derive(Debug, Serialize, Default)]
struct ExporterResult {
    /// Start to `/-/ready` (the first cycle, cold).
    first_cycle_seconds: f64,
    steady_cycles: u32,
    calls_per_cycle: f64,
    calls_per_minute: f64,
    calls_by_command_per_cycle: BTreeMap<String, f64>,
    failed_calls: usize,
    /// Own user+system CPU per cycle.
    cpu_seconds_per_cycle: f64,
    cpu_user_seconds_per_cycle: f64,
    cpu_system_seconds_per_cycle: f64,
    cpu_seconds_per_minute: f64,
    /// CPU of the simulated radosgw-admin calls it ran (not the exporter's).
    sim_cpu_seconds_per_cycle: f64,
    /// Sum of the wall time of its radosgw-admin calls, per cycle.
    call_wall_seconds_per_cycle: f64,
    /// First call to last answer of a cycle.
    cycle_wall_seconds: f64,
    /// Time in a cycle with at least one radosgw-admin call outstanding.
    waiting_seconds_per_cycle: f64,
    /// Own CPU per cycle over that time: the "CPU under 1 % of the wait" target.
    cpu_percent_of_waiting: f64,
    cpu_percent_of_call_wall: f64,
    cpu_percent_of_cycle_wall: f64,
    peak_rss_mib: f64,
    metrics_bytes: usize,
    metrics_series: usize,
    render_ms_median: f64,
    render_ms_p99: f64,
    render_ms_max: f64,
    /// The window did not hold whole cycles (a cycle longer than the interval).
    warning: Option<String>,
}

#[derive(Debug, Serialize, Default)]
struct NaiveResult {
    cycles: usize,
    calls_per_cycle: f64,
    calls_per_minute: f64,
    cycle_wall_seconds: f64,
    buckets_per_cycle: usize,
}

#[derive(Debug, Serialize, Default)]
struct Trial {
    /// When the probes started lagging: `random` or `after <who>'s sync status`.
    phase: String,
    early_bucket: String,
    late_bucket: String,
    agent_early: Option<f64>,
    agent_late: Option<f64>,
    exporter_early: Option<f64>,
    exporter_late: Option<f64>,
    naive_early: Option<f64>,
    naive_late: Option<f64>,
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn sleep_until(t: f64) {
    let d = t - now_unix();
    if d > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(d));
    }
}

/// A clean environment for what we start: no inherited simulator or exporter settings.
fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("SIM_RGW_") || k.starts_with("RGW_MULTISITE_") || k == "RUST_LOG" {
            cmd.env_remove(k.as_ref());
        }
    }
}

struct Bins {
    sim: PathBuf,
    agent: PathBuf,
    exporter: PathBuf,
}

impl Bins {
    fn find(dir: Option<&Path>) -> Result<Bins> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => std::env::current_exe()?
                .parent()
                .ok_or_else(|| anyhow!("no directory of the benchmark binary"))?
                .to_path_buf(),
        };
        let b = Bins {
            sim: dir.join("sim-radosgw-admin"),
            agent: dir.join("rgw-multisite-agent-exporter"),
            exporter: dir.join("rgw-multisite-exporter"),
        };
        for p in [&b.sim, &b.agent, &b.exporter] {
            if !p.is_file() {
                bail!(
                    "{} not found: cargo build --release -p agent-exporter -p exporter -p rgw-multisite-bench",
                    p.display()
                );
            }
        }
        Ok(b)
    }
}

/// An exporter we started; killed (by its pid) when dropped.
struct Exporter {
    child: Child,
    port: u16,
    calls: PathBuf,
    spawned: Instant,
}

impl Exporter {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn metrics(&self) -> Result<String> {
        let (status, body, _) = http_get(self.port, "/metrics", Duration::from_secs(10))?;
        if status != 200 {
            bail!("/metrics: HTTP {status}");
        }
        Ok(body)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every process of one run shares: the simulator, its state file, the directory for
/// logs, and the collection interval.
struct Ctx<'a> {
    sim: &'a Path,
    state: &'a Path,
    dir: &'a Path,
}

/// The agent's and the exporter's default `--collection.interval`.
const AGENT_INTERVAL: Duration = Duration::from_secs(30);
const EXPORTER_INTERVAL: Duration = Duration::from_secs(60);
const NAIVE_INTERVAL: Duration = Duration::from_secs(60);

impl RunArgs {
    fn agent_interval(&self) -> Duration {
        self.interval.unwrap_or(AGENT_INTERVAL)
    }
    fn exporter_interval(&self) -> Duration {
        self.interval.unwrap_or(EXPORTER_INTERVAL)
    }
    fn naive_interval(&self) -> Duration {
        self.interval.unwrap_or(NAIVE_INTERVAL)
    }
    /// The longest of the three: bounds waits and places the random injections.
    fn longest_interval(&self) -> f64 {
        [
            self.agent_interval(),
            self.exporter_interval(),
            self.naive_interval(),
        ]
        .into_iter()
        .max()
        .unwrap_or(NAIVE_INTERVAL)
        .as_secs_f64()
    }
}

fn spawn_exporter(
    ctx: &Ctx<'_>,
    bin: &Path,
    name: &str,
    zone: &str,
    interval: Duration,
    extra: &[String],
) -> Result<Exporter> {
    let (sim, state, dir) = (ctx.sim, ctx.state, ctx.dir);
    let port = free_port()?;
    let calls = dir.join(format!("{name}-calls.log"));
    let _ = std::fs::remove_file(&calls);
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let mut cmd = Command::new(bin);
    clean_env(&mut cmd);
    cmd.arg(format!("--radosgw-admin.command={}", sim.display()))
        .arg(format!("--zone={zone}"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--collection.interval={}ms", interval.as_millis()))
        .arg("--log.level=warn")
        .args(extra)
        .env("SIM_RGW_CONFIG", state)
        .env("SIM_RGW_LOG", &calls)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = cmd
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    Ok(Exporter {
        child,
        port,
        calls,
        spawned: Instant::now(),
    })
}

// ---------------------------------------------------------------------------------------
// The naive poller: the predecessor's approach
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct NaiveState {
    /// Bucket -> unix time a `bucket sync status` first showed it behind.
    behind_since: HashMap<String, f64>,
    /// (start, end) of each finished cycle.
    cycles: Vec<(f64, f64)>,
    buckets_per_cycle: usize,
    error: Option<String>,
}

struct Naive {
    stop: AtomicBool,
    state: Mutex<NaiveState>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn sim_call(sim: &Path, state: &Path, log: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(sim);
    clean_env(&mut cmd);
    let out = cmd
        .args(args)
        .env("SIM_RGW_CONFIG", state)
        .env("SIM_RGW_LOG", log)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!(
            "{}: exit {:?}: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every `interval`: `bucket list`, then `bucket sync status --bucket=B` for the first
/// `cap` buckets (all sources in one call), `concurrency` at a time.
struct NaiveCfg {
    sim: PathBuf,
    state: PathBuf,
    log: PathBuf,
    zone: String,
    cap: usize,
    concurrency: usize,
    interval: Duration,
}

fn naive_loop(naive: Arc<Naive>, c: NaiveCfg) {
    let NaiveCfg {
        sim,
        state,
        log,
        zone,
        cap,
        concurrency,
        interval,
    } = c;
    let zone_arg = format!("--rgw-zone={zone}");
    let mut next = now_unix();
    while !naive.stop.load(Ordering::Relaxed) {
        if now_unix() < next {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let start = now_unix();
        let list = sim_call(&sim, &state, &log, &["bucket", "list", &zone_arg])
            .and_then(|o| serde_json::from_str::<Vec<String>>(&o).map_err(Into::into));
        let buckets: Vec<String> = match list {
            Ok(l) => l.into_iter().take(cap).collect(),
            Err(e) => {
                lock(&naive.state).error = Some(e.to_string());
                Vec::new()
            }
        };
        let at = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..concurrency.max(1) {
                s.spawn(|| {
                    while let Some(b) = buckets.get(at.fetch_add(1, Ordering::Relaxed)) {
                        if naive.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let arg = format!("--bucket={b}");
                        let out = sim_call(
                            &sim,
                            &state,
                            &log,
                            &["bucket", "sync", "status", &arg, &zone_arg],
                        );
                        let behind = out
                            .ok()
                            .and_then(|o| parse_bucket_sync_status(&o).ok())
                            .map(|p| p.sources.iter().any(|s| s.caught_up() == Some(false)));
                        let mut st = lock(&naive.state);
                        match behind {
                            Some(true) => {
                                st.behind_since.entry(b.clone()).or_insert_with(now_unix);
                            }
                            Some(false) => {
                                st.behind_since.remove(b);
                            }
                            None => {}
                        }
                    }
                });
            }
        });
        let mut st = lock(&naive.state);
        st.cycles.push((start, now_unix()));
        st.buckets_per_cycle = buckets.len();
        drop(st);
        next += interval.as_secs_f64();
        if next < now_unix() {
            next = now_unix();
        }
    }
}

// ---------------------------------------------------------------------------------------
// One bucket count
// ---------------------------------------------------------------------------------------

fn pick(n: usize, lo: usize, hi: usize, h: u64, taken: &dyn Fn(&str) -> bool) -> Option<String> {
    if hi <= lo {
        return None;
    }
    (0..1000u64)
        .map(|k| bucket_name(lo + (mix(h ^ k) % (hi - lo) as u64) as usize))
        .find(|b| !taken(b))
        .filter(|_| hi <= n)
}

/// Seconds since `t0` when `f` first held, polled every 100 ms, or None at `deadline`.
struct Watch {
    t0: f64,
    found: Option<f64>,
}

impl Watch {
    fn new(t0: f64) -> Watch {
        Watch { t0, found: None }
    }
    fn check(&mut self, hit: bool, at: f64) {
        if self.found.is_none() && hit {
            self.found = Some(at - self.t0);
        }
    }
}

fn per_cycle_stats(
    calls: &[CallRecord],
    t_first: f64,
    interval: f64,
    from_cycle: u32,
    cycles: u32,
) -> (Vec<&CallRecord>, f64, f64, f64) {
    let ws = t_first + f64::from(from_cycle) * interval;
    let we = ws + f64::from(cycles) * interval;
    let in_window: Vec<&CallRecord> = calls
        .iter()
        .filter(|c| c.start >= ws - 0.05 && c.start < we - 0.05)
        .collect();
    let wall_sum: f64 = in_window.iter().map(|c| c.duration).sum();
    let mut walls = Vec::new();
    let mut waits = Vec::new();
    for k in 0..cycles {
        let cs = ws + f64::from(k) * interval - 0.05;
        let ce = cs + interval;
        let mine: Vec<&&CallRecord> = in_window
            .iter()
            .filter(|c| c.start >= cs && c.start < ce)
            .collect();
        let first = mine.iter().map(|c| c.start).fold(f64::INFINITY, f64::min);
        let last = mine
            .iter()
            .map(|c| c.end())
            .fold(f64::NEG_INFINITY, f64::max);
        if first.is_finite() && last.is_finite() {
            walls.push(last - first);
        }
        // Time with at least one call outstanding: the union of the calls' intervals.
        let mut iv: Vec<(f64, f64)> = mine.iter().map(|c| (c.start, c.end())).collect();
        iv.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut total, mut cur) = (0.0, None::<(f64, f64)>);
        for (s, e) in iv {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            total += ce - cs;
            waits.push(total);
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    (in_window, wall_sum, mean(&walls), mean(&waits))
}

fn run_size(a: &RunArgs, bins: &Bins, n: usize, root: &Path) -> Result<SizeResult> {
    let dir = root.join(format!("n{n}"));
    std::fs::create_dir_all(&dir)?;
    let state = dir.join("state.conf");
    let master = a.zones.first().cloned().unwrap_or_default();
    let agent_zone = a
        .zones
        .get(1)
        .cloned()
        .ok_or_else(|| anyhow!("--zones needs a master and at least one secondary"))?;
    let interval = a.longest_interval();
    let base = SimConfig {
        buckets: n,
        datalog_shards: a.datalog_shards,
        zones: a.zones.clone(),
        lagging: a.lagging,
        // The background lagging buckets have lagged for ten minutes.
        lagging_since: now_unix() - 600.0,
        errors: a.errors,
        latency_ms: a.latency_ms,
        seed: a.seed,
        cache_dir: Some(dir.join("cache")),
        ..SimConfig::default()
    };
    write_config(&state, &base)?;
    let background = rgw_multisite_bench::sim::Sim::new(base.clone());
    let mut taken: Vec<String> = background.lagging().keys().cloned().collect();
    // A probe must be found by its own datalog shards: not one the background lagging
    // buckets already keep behind (read every cycle anyway), nor a bucket with sync errors
    // (rechecked every cycle), or an injection at the worst point would be seen at once.
    let datalog = |b: &str| -> Vec<u32> {
        background
            .behind_shards(b)
            .into_iter()
            .map(|s| datalog_shard(b, s, a.datalog_shards))
            .collect()
    };
    let (busy_shards, _) = background.behind_datalog_shards(&agent_zone, &master);
    let error_buckets: Vec<String> = background
        .errors(&agent_zone)
        .into_iter()
        .filter_map(|e| e.name.split(':').next().map(str::to_string))
        .collect();
    let unfit = |b: &str| {
        error_buckets.iter().any(|x| x == b) || datalog(b).iter().any(|s| busy_shards.contains(s))
    };

    // Probe buckets: one among the first `naive_cap` of `bucket list`, one beyond.
    let mut probes = Vec::new();
    let worst = if a.worst_case_trials { 2 } else { 0 };
    for t in 0..a.trials + worst {
        let h = mix(a.seed ^ 0x9e0b ^ (u64::from(t) << 20));
        let cap = a.naive_cap.min(n);
        let tk = taken.clone();
        let is_taken = |b: &str| tk.iter().any(|x| x == b) || unfit(b);
        let early = pick(n, 0, cap, h, &is_taken)
            .ok_or_else(|| anyhow!("no probe bucket among the first {cap}"))?;
        taken.push(early.clone());
        let tk = taken.clone();
        let is_taken = |b: &str| tk.iter().any(|x| x == b) || unfit(b);
        let late = pick(n, cap, n, h ^ 1, &is_taken).unwrap_or_default();
        if !late.is_empty() {
            taken.push(late.clone());
        }
        probes.push((early, late));
    }
    let with_probes = |early: &str, late: &str, since: f64| {
        let mut c = base.clone();
        c.lagging_buckets = [early, late]
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| (b.to_string(), Some(since)))
            .collect();
        c
    };

    // Generate every state's `bucket stats` now, so the simulator's one-off generation
    // never counts as the exporter's time.
    let mut result = SizeResult {
        buckets: n,
        ..SizeResult::default()
    };
    let warm = dir.join("warm.conf");
    let mut states = vec![base.clone()];
    states.extend(probes.iter().map(|(e, l)| with_probes(e, l, 0.0)));
    for (k, st) in states.iter().enumerate() {
        write_config(
            &warm,
            &SimConfig {
                latency_ms: 0.0,
                ..st.clone()
            },
        )?;
        for z in &a.zones {
            let t = Instant::now();
            let mut cmd = Command::new(&bins.sim);
            clean_env(&mut cmd);
            let out = cmd
                .args(["bucket", "stats", &format!("--rgw-zone={z}")])
                .env("SIM_RGW_CONFIG", &warm)
                .stdin(Stdio::null())
                .output()?;
            if !out.status.success() {
                bail!("sim bucket stats: {}", String::from_utf8_lossy(&out.stderr));
            }
            if k == 0 && z == &master {
                result.sim_stats_generation_seconds = t.elapsed().as_secs_f64();
                result.sim_stats_bytes = out.stdout.len() as u64;
            }
        }
    }
    eprintln!(
        "[n={n}] bucket stats: {:.1} MB per zone, {:.2} s to generate; starting the exporters",
        result.sim_stats_bytes as f64 / 1e6,
        result.sim_stats_generation_seconds
    );

    let ctx = Ctx {
        sim: &bins.sim,
        state: &state,
        dir: &dir,
    };
    let agent = spawn_exporter(
        &ctx,
        &bins.agent,
        "agent",
        &agent_zone,
        a.agent_interval(),
        &a.agent_args,
    )?;
    let exporter = spawn_exporter(
        &ctx,
        &bins.exporter,
        "exporter",
        &master,
        a.exporter_interval(),
        &a.exporter_args,
    )?;
    let naive = Arc::new(Naive {
        stop: AtomicBool::new(false),
        state: Mutex::new(NaiveState::default()),
    });
    let naive_log = dir.join("naive-calls.log");
    let _ = std::fs::remove_file(&naive_log);
    let naive_thread = {
        let nv = naive.clone();
        let c = NaiveCfg {
            sim: bins.sim.clone(),
            state: state.clone(),
            log: naive_log.clone(),
            zone: agent_zone.clone(),
            cap: a.naive_cap,
            concurrency: a.naive_concurrency,
            interval: a.naive_interval(),
        };
        std::thread::spawn(move || naive_loop(nv, c))
    };
    let finish = |naive: &Arc<Naive>| naive.stop.store(true, Ordering::Relaxed);

    let outcome = (|| -> Result<()> {
        // The first cycle, cold: both polled together, each timed from its own start.
        let ready_timeout = Duration::from_secs_f64(600.0 + 3.0 * interval);
        let mut ready: [Option<f64>; 2] = [None, None];
        wait_for(ready_timeout, Duration::from_millis(50), || {
            for (k, e) in [&agent, &exporter].into_iter().enumerate() {
                let up = http_get(e.port, "/-/ready", Duration::from_secs(5))
                    .is_ok_and(|(s, _, _)| s == 200);
                if let Some(slot) = ready.get_mut(k).filter(|r| r.is_none() && up) {
                    *slot = Some(e.spawned.elapsed().as_secs_f64());
                }
            }
            ready.iter().all(Option::is_some).then_some(())
        })
        .context("the exporters never became ready (see agent.log, exporter.log)")?;
        result.agent.first_cycle_seconds = ready[0].unwrap_or_default();
        result.exporter.first_cycle_seconds = ready[1].unwrap_or_default();
        eprintln!(
            "[n={n}] ready: agent {:.1} s, exporter {:.1} s; measuring {} steady cycles",
            result.agent.first_cycle_seconds, result.exporter.first_cycle_seconds, a.steady_cycles
        );

        // The steady window: whole cycles, CPU sampled between cycles.
        let tck = clk_tck();
        let mut plans = Vec::new();
        for (name, e, iv) in [
            ("agent", &agent, a.agent_interval().as_secs_f64()),
            ("exporter", &exporter, a.exporter_interval().as_secs_f64()),
        ] {
            let calls = read_calls(&e.calls)?;
            let t_first = calls.iter().map(|c| c.start).fold(f64::INFINITY, f64::min);
            if !t_first.is_finite() {
                bail!("{name}: no radosgw-admin call was logged");
            }
            let now = now_unix();
            let mut from = 1u32;
            while t_first + f64::from(from) * iv - 0.5 < now {
                from += 1;
            }
            plans.push((name, e.pid(), t_first, from, iv));
        }
        let mut events: Vec<(f64, usize, bool)> = Vec::new();
        for (k, (_, _, t_first, from, iv)) in plans.iter().enumerate() {
            let ws = t_first + f64::from(*from) * iv - 0.5;
            events.push((ws, k, true));
            events.push((ws + f64::from(a.steady_cycles) * iv, k, false));
        }
        events.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut cpu: Vec<(Cpu, Cpu)> = vec![(Cpu::default(), Cpu::default()); plans.len()];
        let mut machine_start = None;
        let mut machine_end = ((0.0, 0.0), Cpu::default(), 0.0);
        for (t, k, start) in &events {
            sleep_until(*t);
            let pid = plans.get(*k).map_or(0, |p| p.1);
            let c = cpu_of(pid, tck)?;
            if let Some(slot) = cpu.get_mut(*k) {
                if *start {
                    slot.0 = c;
                } else {
                    slot.1 = c;
                }
            }
            if *start && machine_start.is_none() {
                machine_start = Some((
                    machine_jiffies()?,
                    cpu_of(std::process::id(), tck)?,
                    now_unix(),
                ));
            }
            if !*start {
                machine_end = (
                    machine_jiffies()?,
                    cpu_of(std::process::id(), tck)?,
                    now_unix(),
                );
            }
        }
        let mut ours_total = 0.0;
        for (k, (name, _pid, t_first, from, iv)) in plans.iter().enumerate() {
            let interval = *iv;
            let e = if k == 0 { &agent } else { &exporter };
            let r = if k == 0 {
                &mut result.agent
            } else {
                &mut result.exporter
            };
            let calls = read_calls(&e.calls)?;
            let (win, wall_sum, cycle_wall, waiting) =
                per_cycle_stats(&calls, *t_first, interval, *from, a.steady_cycles);
            let (c0, c1) = cpu.get(k).copied().unwrap_or_default();
            let d = c1.since(&c0);
            ours_total += d.own() + d.children;
            // Both binaries run `sync status` exactly once per cycle: count cycles by it, so
            // a cycle that overran the interval is not counted twice.
            let seen = win.iter().filter(|c| c.command() == "sync status").count() as u32;
            r.steady_cycles = if seen > 0 {
                seen
            } else {
                a.steady_cycles.max(1)
            };
            let cycles = f64::from(r.steady_cycles);
            r.calls_per_cycle = win.len() as f64 / cycles;
            r.calls_per_minute = r.calls_per_cycle * 60.0 / interval;
            r.calls_by_command_per_cycle = by_command(&win)
                .into_iter()
                .map(|(k, v)| (k, v as f64 / cycles))
                .collect();
            r.failed_calls = win.iter().filter(|c| c.rc != 0).count();
            r.cpu_seconds_per_cycle = d.own() / cycles;
            r.cpu_user_seconds_per_cycle = d.user / cycles;
            r.cpu_system_seconds_per_cycle = d.system / cycles;
            r.cpu_seconds_per_minute = r.cpu_seconds_per_cycle * 60.0 / interval;
            r.sim_cpu_seconds_per_cycle = d.children / cycles;
            r.call_wall_seconds_per_cycle = wall_sum / cycles;
            r.cycle_wall_seconds = cycle_wall;
            r.waiting_seconds_per_cycle = waiting;
            if waiting > 0.0 {
                r.cpu_percent_of_waiting = 100.0 * r.cpu_seconds_per_cycle / waiting;
            }
            if wall_sum > 0.0 {
                r.cpu_percent_of_call_wall = 100.0 * d.own() / wall_sum;
            }
            if cycle_wall > 0.0 {
                r.cpu_percent_of_cycle_wall = 100.0 * r.cpu_seconds_per_cycle / cycle_wall;
            }
            if cycle_wall > interval - 0.6 {
                r.warning = Some(format!(
                    "{name}: a cycle ({cycle_wall:.1} s) nearly fills the interval; CPU per cycle may be off"
                ));
            }
        }
        // Everything else: the machine's busy time minus the exporters, their calls, and
        // this process with the naive poller's calls.
        if let Some(((b0, _), me0, s0)) = machine_start {
            let ((b1, _), me1, s1) = machine_end;
            let me = me1.since(&me0);
            let elapsed = s1 - s0;
            let busy = (b1 - b0) / tck;
            if elapsed > 0.0 {
                result.other_load_cores =
                    ((busy - ours_total - me.own() - me.children) / elapsed).max(0.0);
            }
        }

        // /metrics: size, series, and the time to fetch it.
        for (e, r) in [
            (&agent, &mut result.agent),
            (&exporter, &mut result.exporter),
        ] {
            let mut times = Vec::with_capacity(a.scrapes);
            let mut body = String::new();
            for _ in 0..a.scrapes.max(1) {
                let (status, b, took) = http_get(e.port, "/metrics", Duration::from_secs(10))?;
                if status != 200 {
                    bail!("/metrics: HTTP {status}");
                }
                times.push(took.as_secs_f64() * 1000.0);
                body = b;
            }
            r.metrics_bytes = body.len();
            r.metrics_series = series_count(&body);
            r.render_ms_median = quantile(&times, 0.5).unwrap_or(0.0);
            r.render_ms_p99 = quantile(&times, 0.99).unwrap_or(0.0);
            r.render_ms_max = quantile(&times, 1.0).unwrap_or(0.0);
        }

        // Detection: the probes start lagging at a random point of the cycle, then at the
        // worst points.
        for (t, (early, late)) in probes.iter().enumerate() {
            let phase = match t.checked_sub(a.trials as usize) {
                None => {
                    let p = (mix(a.seed ^ 0x7a5e ^ t as u64) % 1000) as f64 / 1000.0 * interval;
                    std::thread::sleep(Duration::from_secs_f64(p));
                    "random".to_string()
                }
                Some(k) => {
                    let (who, e) = if k == 0 {
                        ("agent", &agent)
                    } else {
                        ("exporter", &exporter)
                    };
                    let count = || {
                        read_calls(&e.calls).map_or(0, |c| {
                            c.iter().filter(|c| c.command() == "sync status").count()
                        })
                    };
                    let before = count();
                    wait_for(
                        Duration::from_secs_f64(3.0 * interval + 60.0),
                        Duration::from_millis(20),
                        || (count() > before).then_some(()),
                    )
                    .with_context(|| format!("{who}: no `sync status` call"))?;
                    format!("after the {who}'s sync status")
                }
            };
            let t0 = now_unix();
            write_config(&state, &with_probes(early, late, t0))?;
            eprintln!("[n={n}] trial {}: {early} and {late} lag from now", t + 1);
            let mut w: Vec<Watch> = (0..6).map(|_| Watch::new(t0)).collect();
            let deadline = t0 + 3.0 * interval + 120.0;
            loop {
                let at = now_unix();
                let agent_text = agent.metrics().unwrap_or_default();
                let exporter_text = exporter.metrics().unwrap_or_default();
                for (k, b) in [early, late].iter().enumerate() {
                    if b.is_empty() {
                        continue;
                    }
                    let behind = sample(
                        &agent_text,
                        "rgw_multisite_bucket_sync_caught_up",
                        &[
                            ("zone", &agent_zone),
                            ("source_zone", &master),
                            ("bucket", b),
                        ],
                    ) == Some(0.0);
                    let lagging_class = sample(
                        &exporter_text,
                        "rgw_multisite_bucket_sync_priority",
                        &[("zone", &agent_zone), ("bucket", b)],
                    )
                    .is_some_and(|p| p >= 1.0);
                    let naive_at = lock(&naive.state).behind_since.get(*b).copied();
                    if let Some(w) = w.get_mut(k) {
                        w.check(behind, at);
                    }
                    if let Some(w) = w.get_mut(2 + k) {
                        w.check(lagging_class, at);
                    }
                    if let (Some(w), Some(nt)) = (w.get_mut(4 + k), naive_at) {
                        if nt >= t0 {
                            w.check(true, nt);
                        }
                    }
                }
                let ours_done = w
                    .iter()
                    .take(4)
                    .enumerate()
                    .all(|(k, x)| x.found.is_some() || (k % 2 == 1 && late.is_empty()));
                // The naive poller had its chance once a whole cycle ran after t0.
                let naive_done = lock(&naive.state).cycles.iter().any(|(s, _)| *s > t0);
                if (ours_done && naive_done) || at > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let f = |k: usize| w.get(k).and_then(|x| x.found);
            result.trials.push(Trial {
                phase,
                early_bucket: early.clone(),
                late_bucket: late.clone(),
                agent_early: f(0),
                agent_late: f(1),
                exporter_early: f(2),
                exporter_late: f(3),
                naive_early: f(4),
                naive_late: f(5),
            });
            write_config(&state, &base)?;
        }
        for (e, r) in [
            (&agent, &mut result.agent),
            (&exporter, &mut result.exporter),
        ] {
            r.peak_rss_mib = status_kib(e.pid(), "VmHWM")? as f64 / 1024.0;
        }
        Ok(())
    })();
    finish(&naive);
    let _ = naive_thread.join();
    drop(agent);
    drop(exporter);
    outcome?;

    let st = lock(&naive.state);
    if let Some(e) = &st.error {
        bail!("naive poller: {e}");
    }
    let calls = read_calls(&naive_log)?;
    let done = st.cycles.len();
    if done > 0 {
        let last_end = st.cycles.last().map_or(0.0, |c| c.1);
        let in_done = calls.iter().filter(|c| c.start <= last_end).count();
        result.naive = NaiveResult {
            cycles: done,
            calls_per_cycle: in_done as f64 / done as f64,
            calls_per_minute: in_done as f64 / done as f64 * 60.0
                / a.naive_interval().as_secs_f64(),
            cycle_wall_seconds: st.cycles.iter().map(|(s, e)| e - s).sum::<f64>() / done as f64,
            buckets_per_cycle: st.buckets_per_cycle,
        };
    }
    drop(st);
    let _ = std::fs::remove_dir_all(dir.join("cache"));
    Ok(result)
}

// ---------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------

fn secs(v: Option<f64>) -> String {
    v.map_or("never".into(), |s| format!("{s:.1} s"))
}

fn worst(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut m: Option<f64> = Some(0.0);
    let mut any = false;
    for x in v {
        any = true;
        m = match (m, x) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    if any {
        m
    } else {
        None
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "–".into()
    }
}

fn markdown(r: &Report, cap: usize) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "Command: `{}`\n", r.command);
    for x in &r.sizes {
        let n = x.buckets;
        let (ag, ex, nv) = (&x.agent, &x.exporter, &x.naive);
        let _ = writeln!(
            s,
            "### {n} buckets\n\n| | agent (ours) | exporter (ours) | naive (first {cap}) | naive ÷ agent |\n|---|---|---|---|---|"
        );
        let _ = writeln!(
            s,
            "| radosgw-admin calls per cycle | {:.0} | {:.0} | {:.0} | {} |",
            ag.calls_per_cycle,
            ex.calls_per_cycle,
            nv.calls_per_cycle,
            ratio(nv.calls_per_cycle, ag.calls_per_cycle)
        );
        let _ = writeln!(
            s,
            "| calls per minute | {:.0} | {:.0} | {:.0} | {} |",
            ag.calls_per_minute,
            ex.calls_per_minute,
            nv.calls_per_minute,
            ratio(nv.calls_per_minute, ag.calls_per_minute)
        );
        let _ = writeln!(
            s,
            "| calls per cycle to read every bucket each cycle (naive without the cap; computed) | | | {} | {} |",
            n + 1,
            ratio((n + 1) as f64, ag.calls_per_cycle)
        );
        let det = |f: &dyn Fn(&Trial) -> Option<f64>| secs(worst(x.trials.iter().map(f)));
        let all = |f: &dyn Fn(&Trial) -> Option<f64>| {
            x.trials
                .iter()
                .map(|t| {
                    if t.phase == "random" {
                        secs(f(t))
                    } else {
                        format!("{} {}", secs(f(t)), t.phase)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "| detect a bucket beyond the first {cap}, worst (trials) | {} ({}) | {} ({}) | {} ({}) | {} |",
            det(&|t| t.agent_late),
            all(&|t| t.agent_late),
            det(&|t| t.exporter_late),
            all(&|t| t.exporter_late),
            det(&|t| t.naive_late),
            all(&|t| t.naive_late),
            if worst(x.trials.iter().map(|t| t.naive_late)).is_none() { "never vs found" } else { "" }
        );
        let _ = writeln!(
            s,
            "| detect a bucket within the first {cap}, worst (trials) | {} ({}) | {} ({}) | {} ({}) | |",
            det(&|t| t.agent_early),
            all(&|t| t.agent_early),
            det(&|t| t.exporter_early),
            all(&|t| t.exporter_early),
            det(&|t| t.naive_early),
            all(&|t| t.naive_early),
        );
        let _ = writeln!(
            s,
            "| CPU per cycle, user+sys | {:.3} s | {:.3} s | | |",
            ag.cpu_seconds_per_cycle, ex.cpu_seconds_per_cycle
        );
        let _ = writeln!(
            s,
            "| CPU per minute | {:.3} s | {:.3} s | | |",
            ag.cpu_seconds_per_minute, ex.cpu_seconds_per_minute
        );
        let _ = writeln!(
            s,
            "| time waiting on radosgw-admin per cycle (a call outstanding) / sum of call times / cycle span | {:.1} s / {:.1} s / {:.1} s | {:.1} s / {:.1} s / {:.1} s | – / – / {:.1} s | |",
            ag.waiting_seconds_per_cycle,
            ag.call_wall_seconds_per_cycle,
            ag.cycle_wall_seconds,
            ex.waiting_seconds_per_cycle,
            ex.call_wall_seconds_per_cycle,
            ex.cycle_wall_seconds,
            nv.cycle_wall_seconds
        );
        let _ = writeln!(
            s,
            "| own CPU ÷ time waiting (a call outstanding / sum of call times) | {:.2} % / {:.2} % | {:.2} % / {:.2} % | | |",
            ag.cpu_percent_of_waiting,
            ag.cpu_percent_of_call_wall,
            ex.cpu_percent_of_waiting,
            ex.cpu_percent_of_call_wall
        );
        let _ = writeln!(
            s,
            "| peak RSS (VmHWM) | {:.1} MiB | {:.1} MiB | | |",
            ag.peak_rss_mib, ex.peak_rss_mib
        );
        let _ = writeln!(
            s,
            "| first cycle (start to ready) | {:.1} s | {:.1} s | | |",
            ag.first_cycle_seconds, ex.first_cycle_seconds
        );
        let _ = writeln!(
            s,
            "| /metrics: bytes, series | {} B, {} | {} B, {} | | |",
            ag.metrics_bytes, ag.metrics_series, ex.metrics_bytes, ex.metrics_series
        );
        let _ = writeln!(
            s,
            "| /metrics fetch: median / p99 / max | {:.2} / {:.2} / {:.2} ms | {:.2} / {:.2} / {:.2} ms | | |",
            ag.render_ms_median,
            ag.render_ms_p99,
            ag.render_ms_max,
            ex.render_ms_median,
            ex.render_ms_p99,
            ex.render_ms_max
        );
        let _ = writeln!(
            s,
            "\nCalls per cycle by command: agent {}; exporter {}. Simulator: bucket stats {:.0} MB per zone, {:.2} s to generate (once, before the run). Other load on the machine during the steady window: {:.2} cores.",
            fmt_cmds(&ag.calls_by_command_per_cycle),
            fmt_cmds(&ex.calls_by_command_per_cycle),
            x.sim_stats_bytes as f64 / 1e6,
            x.sim_stats_generation_seconds,
            x.other_load_cores
        );
        for w in [&ag.warning, &ex.warning].into_iter().flatten() {
            let _ = writeln!(s, "\nWarning: {w}");
        }
        let _ = writeln!(s);
    }
    s
}

fn fmt_cmds(m: &BTreeMap<String, f64>) -> String {
    m.iter()
        .map(|(k, v)| format!("`{k}` {v:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// parse-stats
// ---------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct ParseResult {
    mode: String,
    buckets: usize,
    zones: usize,
    bytes: u64,
    cpu_seconds: f64,
    cpu_user_seconds: f64,
    cpu_system_seconds: f64,
    wall_seconds: f64,
    peak_rss_mib: f64,
}

fn parse_stats(p: &ParseArgs) -> Result<()> {
    let bins = Bins::find(p.bin_dir.as_deref())?;
    let dir = p.workdir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rgw-bench-parse-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let cfg = SimConfig {
        buckets: p.buckets,
        zones: p.zones.clone(),
        latency_ms: 0.0,
        seed: p.seed,
        cache_dir: Some(dir.join("cache")),
        ..SimConfig::default()
    };
    let state = dir.join("state.conf");
    write_config(&state, &cfg)?;
    let mut files = Vec::new();
    for z in &p.zones {
        let f = dir.join(format!("bucket-stats-{z}.json"));
        let mut cmd = Command::new(&bins.sim);
        clean_env(&mut cmd);
        let status = cmd
            .args(["bucket", "stats", &format!("--rgw-zone={z}")])
            .env("SIM_RGW_CONFIG", &state)
            .stdout(std::fs::File::create(&f)?)
            .status()?;
        if !status.success() {
            bail!("sim bucket stats --rgw-zone={z} failed");
        }
        files.push(f);
    }
    let me = std::env::current_exe()?;
    for mode in &p.modes {
        let out = Command::new(&me)
            .args(["parse-stats-child", "--mode", mode])
            .args(&files)
            .output()?;
        if !out.status.success() {
            bail!(
                "parse-stats-child: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `runner::read_capped` and `run_process` of the exporter: 64 KiB reads appended to a
/// growing buffer, then `String::from_utf8_lossy(..).into_owned()`.
fn read_like_runner(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn read_no_copy(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The fields `parse_bucket_stats` keeps, deserialized one bucket at a time straight from
/// the output (no text buffer): what a streaming `fetch_zone` would cost.
fn stream_parse(path: &Path) -> Result<HashMap<String, BucketStats>> {
    use serde::de::{Deserializer as _, SeqAccess, Visitor};
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Cat {
        #[serde(default)]
        num_objects: u64,
        #[serde(default)]
        size: u64,
    }
    #[derive(Deserialize)]
    struct Usage {
        #[serde(rename = "rgw.main", default)]
        main: Option<Cat>,
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        bucket: String,
        #[serde(default)]
        tenant: String,
        #[serde(default)]
        id: String,
        #[serde(default)]
        marker: String,
        #[serde(default)]
        zonegroup: String,
        #[serde(default)]
        num_shards: Option<u32>,
        #[serde(default)]
        usage: Option<Usage>,
    }
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = HashMap<String, BucketStats>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of bucket stats")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut m = HashMap::new();
            while let Some(r) = seq.next_element::<Raw>()? {
                let main = r.usage.as_ref().and_then(|u| u.main.as_ref());
                let b = BucketStats {
                    objects: main.map_or(0, |c| c.num_objects),
                    size_bytes: main.map_or(0, |c| c.size),
                    has_usage: r.usage.is_some(),
                    bucket: r.bucket,
                    tenant: r.tenant,
                    id: r.id,
                    marker: r.marker,
                    zonegroup: r.zonegroup,
                    num_shards: r.num_shards,
                };
                m.insert(b.key(), b);
            }
            Ok(m)
        }
    }
    let reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let mut de = serde_json::Deserializer::from_reader(reader);
    Ok((&mut de).deserialize_seq(V)?)
}

/// In a fresh process: read and parse each zone's output as `Primary::fetch_zone` does
/// (text, `parse_bucket_stats`, a map by bucket key), keeping every zone's map.
fn parse_stats_child(mode: &str, files: &[PathBuf]) -> Result<()> {
    let tck = clk_tck();
    let pid = std::process::id();
    let c0 = cpu_of(pid, tck)?;
    let t = Instant::now();
    let mut maps = Vec::new();
    let mut bytes = 0u64;
    let parse = |text: &str, f: &Path| -> Result<HashMap<String, _>> {
        let parsed = parse_bucket_stats(text).map_err(|e| anyhow!("{}: {e}", f.display()))?;
        let mut m = HashMap::with_capacity(parsed.len());
        for b in parsed {
            m.insert(b.key(), b);
        }
        Ok(m)
    };
    match mode {
        "runner-concurrent" => {
            let texts: Vec<String> = files
                .iter()
                .map(|f| read_like_runner(f))
                .collect::<Result<_>>()?;
            for (text, f) in texts.into_iter().zip(files) {
                bytes += text.len() as u64;
                maps.push(parse(&text, f)?);
            }
        }
        "runner-sequential" | "no-copy-sequential" => {
            for f in files {
                let text = if mode == "runner-sequential" {
                    read_like_runner(f)?
                } else {
                    read_no_copy(f)?
                };
                bytes += text.len() as u64;
                maps.push(parse(&text, f)?);
            }
        }
        "stream-sequential" => {
            for f in files {
                bytes += std::fs::metadata(f)?.len();
                maps.push(stream_parse(f)?);
            }
        }
        _ => bail!("unknown mode {mode:?}"),
    }
    let buckets = maps.last().map_or(0, HashMap::len);
    let wall = t.elapsed().as_secs_f64();
    let d = cpu_of(pid, tck)?.since(&c0);
    let r = ParseResult {
        mode: mode.to_string(),
        buckets,
        zones: maps.len(),
        bytes,
        cpu_seconds: d.own(),
        cpu_user_seconds: d.user,
        cpu_system_seconds: d.system,
        wall_seconds: wall,
        peak_rss_mib: status_kib(pid, "VmHWM")? as f64 / 1024.0,
    };
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

// ---------------------------------------------------------------------------------------

fn run(a: &RunArgs) -> Result<()> {
    if a.zones.len() < 2 {
        bail!("--zones needs a master and at least one secondary");
    }
    let bins = Bins::find(a.bin_dir.as_deref())?;
    let (root, temp) = match &a.workdir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("rgw-multisite-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&root)?;
    let mut report = Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: machine(),
        ..Report::default()
    };
    for (k, v) in [
        ("datalog_shards", a.datalog_shards.to_string()),
        ("latency_ms", a.latency_ms.to_string()),
        (
            "agent_interval_seconds",
            a.agent_interval().as_secs_f64().to_string(),
        ),
        (
            "exporter_interval_seconds",
            a.exporter_interval().as_secs_f64().to_string(),
        ),
        (
            "naive_interval_seconds",
            a.naive_interval().as_secs_f64().to_string(),
        ),
        ("steady_cycles", a.steady_cycles.to_string()),
        ("trials", a.trials.to_string()),
        ("lagging", a.lagging.to_string()),
        ("errors", a.errors.to_string()),
        ("zones", a.zones.join(",")),
        ("naive_cap", a.naive_cap.to_string()),
        ("naive_concurrency", a.naive_concurrency.to_string()),
        ("agent_args", a.agent_args.join(" ")),
        ("exporter_args", a.exporter_args.join(" ")),
    ] {
        report.settings.insert(k.into(), v);
    }
    let mut failure = None;
    for &n in &a.buckets {
        match run_size(a, &bins, n, &root) {
            Ok(r) => report.sizes.push(r),
            Err(e) => {
                failure = Some(e.context(format!("{n} buckets")));
                break;
            }
        }
    }
    report.machine.insert(
        "loadavg at the end".into(),
        machine().get("loadavg").cloned().unwrap_or_default(),
    );
    print!("{}", markdown(&report, a.naive_cap));
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&report)?)?;
    }
    if temp && !a.keep && failure.is_none() {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        eprintln!("working directory: {}", root.display());
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let r = match &cli.cmd {
        Cmd::Run(a) => run(a),
        Cmd::ParseStats(p) => parse_stats(p),
        Cmd::ParseStatsChild { mode, files } => parse_stats_child(mode, files),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
