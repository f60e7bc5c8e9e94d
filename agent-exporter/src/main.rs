//! agent-exporter: runs in a secondary (pulling) zone and serves that zone's replication
//! state — sync status, sync errors, lagging buckets — as Prometheus metrics.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use rgw_multisite::agent::{Agent, AgentConfig};
use rgw_multisite::collect::Telemetry;
use rgw_multisite::config::CommonArgs;
use rgw_multisite::runner::{ceph_timeout_args, split_command, ProcessRunner, RadosgwAdmin};

/// Prometheus exporter for a Ceph RGW multisite secondary zone.
///
/// Runs `radosgw-admin sync status`, `sync error list`, `data sync status` and
/// `bucket sync status` in the background every --collection.interval and serves the latest
/// results; a scrape never waits on radosgw-admin.
#[derive(Parser, Debug)]
#[command(name = "rgw-multisite-agent-exporter", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,

    #[command(flatten)]
    common: CommonArgs,

    /// Address to listen on for HTTP (`:9240` is every interface).
    #[arg(
        long = "web.listen-address",
        env = "RGW_MULTISITE_WEB_LISTEN_ADDRESS",
        default_value = ":9240",
        value_name = "ADDRESS"
    )]
    listen: String,

    /// The local (pulling) zone; adds --rgw-zone=ZONE to every call. Default: the zone in
    /// the `sync status` header, i.e. the one radosgw-admin's configuration selects.
    #[arg(long = "zone", env = "RGW_MULTISITE_ZONE", value_name = "ZONE")]
    zone: Option<String>,

    /// Collect `sync error list` (32 shard reads per cycle).
    #[arg(long = "collector.sync-errors", env = "RGW_MULTISITE_COLLECTOR_SYNC_ERRORS",
          default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    sync_errors: bool,

    /// Collect per-bucket `bucket sync status` for lagging buckets and the sweep.
    #[arg(long = "collector.bucket-sync", env = "RGW_MULTISITE_COLLECTOR_BUCKET_SYNC",
          default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    bucket_sync: bool,

    /// Concurrent radosgw-admin calls within one collector.
    #[arg(long = "radosgw-admin.concurrency", env = "RGW_MULTISITE_RADOSGW_ADMIN_CONCURRENCY",
          default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,

    /// Buckets the background sweep checks per cycle. Every bucket is re-read at least once
    /// every ceil(buckets / this) cycles; 0 turns the sweep off.
    #[arg(
        long = "bucket-sync.sweep-per-cycle",
        env = "RGW_MULTISITE_BUCKET_SYNC_SWEEP_PER_CYCLE",
        default_value_t = 50
    )]
    sweep_per_cycle: usize,

    /// Export per-bucket series for every checked bucket, not only those behind or erroring.
    #[arg(
        long = "metrics.all-buckets",
        env = "RGW_MULTISITE_METRICS_ALL_BUCKETS"
    )]
    all_buckets: bool,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Pre-flight checks: binary found, cluster reachable, zone detected, each command parses.
    Check,
}

/// The agent's cycle is cheap (a few hundred calls at any bucket count), so it runs every 30 s
/// rather than the shared 60 s default: a bucket that starts lagging just after a cycle's
/// `sync status` is then reported within one interval plus one cycle (~40 s at 100k buckets,
/// BENCHMARKS.md) instead of ~70 s. Half the sweep per cycle keeps the sweep's rate (100
/// buckets a minute) and so its load and its staleness bound unchanged.
const AGENT_COLLECTION_INTERVAL: &str = "30s";

fn main() -> ExitCode {
    let matches = Cli::command()
        .mut_arg("collection_interval", |a| {
            a.default_value(AGENT_COLLECTION_INTERVAL)
        })
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    rgw_multisite::config::init_logging(&cli.common.log_level, &cli.common.log_format);
    // The web configuration file is checked before the runtime starts or a port is bound.
    let http = if cli.mode.is_none() && !cli.common.once {
        match rgw_multisite::serve::HttpOptions::from_common(&cli.common) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        rgw_multisite::serve::HttpOptions::default()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli, http)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, http: rgw_multisite::serve::HttpOptions) -> anyhow::Result<ExitCode> {
    let base = split_command(&cli.common.radosgw_admin_command)
        .map_err(|e| anyhow::anyhow!("--radosgw-admin.command: {e}"))?;
    let timeout = cli.common.radosgw_admin_timeout;
    let runner = Arc::new(ProcessRunner::new(timeout));
    let rgw =
        RadosgwAdmin::new(base, ceph_timeout_args(timeout), runner).with_zone(cli.zone.clone());
    let telemetry = Telemetry::new(env!("CARGO_PKG_VERSION"), "agent", "sync_status");
    // A timed-out call is followed by a liveness probe within min(timeout, 10 s).
    telemetry.set_call_timeout(timeout);
    let cfg = AgentConfig {
        sync_errors: cli.sync_errors,
        bucket_sync: cli.bucket_sync,
        concurrency: cli.concurrency.into(),
        sweep_per_cycle: cli.sweep_per_cycle,
        all_buckets: cli.all_buckets,
        ..AgentConfig::default()
    };
    let agent = Arc::new(Agent::new(rgw.clone(), telemetry.clone(), cfg));

    if let Some(Mode::Check) = cli.mode {
        let ok = rgw_multisite::check::run_checks(&rgw, cli.zone.as_deref(), true).await;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if cli.common.once {
        let ok = agent.cycle().await;
        print!("{}", telemetry.exposition());
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }

    // Bind before collecting, so a port in use fails at once.
    let listener = rgw_multisite::serve::bind(&cli.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cli.listen))?;
    tracing::info!(address = %cli.listen, path = %cli.common.web_telemetry_path, "listening");
    rgw_multisite::serve::run_until_signal(
        listener,
        telemetry,
        &cli.common.web_telemetry_path,
        "RGW multisite agent exporter",
        cli.common.collection_interval,
        http,
        move || {
            let agent = agent.clone();
            async move { agent.cycle().await }
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
