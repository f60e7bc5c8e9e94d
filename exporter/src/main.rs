//! rgw-multisite-exporter: runs in the master zone and serves, as Prometheus metrics, how
//! far every other zone's copy of each bucket is behind the master's, plus the master's own
//! sync state.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use rgw_multisite::agent::{Agent, AgentConfig};
use rgw_multisite::collect::Telemetry;
use rgw_multisite::config::CommonArgs;
use rgw_multisite::file_config::{resolve, skeleton, ExporterArgs, FileConfig, Settings};
use rgw_multisite::parse::period::parse_period;
use rgw_multisite::primary::Primary;
use rgw_multisite::rest::AdminClient;
use rgw_multisite::runner::{ceph_timeout_args, split_command, ProcessRunner, RadosgwAdmin};

/// Prometheus exporter for a Ceph RGW multisite master zone.
///
/// Every --collection.interval it reads the realm's topology (`radosgw-admin period get`),
/// the bucket stats of each zonegroup's master zone and of every other zone (`radosgw-admin
/// bucket stats --rgw-zone=Z`, or each zone's RGW admin API with --bucket-stats.mode=rest),
/// and classifies every bucket of every zone by its sync ratio, replica objects / master
/// objects: SYNCED (>= 0.99), LOW (>= 0.95), MEDIUM (>= 0.85) or HIGH. Buckets not meant to
/// replicate (bucket sync disabled, excluded by sync policy, or a zone that takes no data
/// from the master) are shown as not replicating instead. It also runs the master zone's
/// own `sync status` and `sync error list`. Scrapes serve the last results and never wait
/// on the cluster.
///
/// Settings come from flags, then RGW_MULTISITE_* environment variables, then the YAML file
/// of --config.file (`init` writes a commented one), then defaults. Admin API keys are read
/// from files or the environment only.
#[derive(Parser, Debug)]
#[command(name = "rgw-multisite-exporter", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,

    #[command(flatten)]
    common: CommonArgs,

    #[command(flatten)]
    args: ExporterArgs,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Pre-flight checks: radosgw-admin runs, the cluster answers, every zone's bucket stats
    /// can be read and parsed (CLI or admin API), replication info parses.
    Check,
    /// Check cluster access (`period get`) and write a commented configuration file with the
    /// realm's zones and their endpoints filled in.
    Init {
        /// Where to write the configuration.
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Replace PATH if it exists.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // Every setting is checked before the runtime starts or a port is bound.
    let file = match &cli.args.config_file {
        Some(p) => match FileConfig::load(p) {
            Ok(f) => f,
            Err(e) => return fail(&e),
        },
        None => FileConfig::default(),
    };
    let settings = match resolve(&matches, &cli.common, &cli.args, &file) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    rgw_multisite::config::init_logging(&settings.log_level, &settings.log_format);
    // Keys and TLS are checked now too, so a bad key file fails before the port is bound.
    let rest = if matches!(cli.mode, Some(Mode::Init { .. })) {
        None
    } else {
        match settings.credentials() {
            Ok(Some(creds)) => match AdminClient::new(creds, settings.rest.clone()) {
                Ok(c) => Some(c),
                Err(e) => return fail(&format!("admin API client: {e}")),
            },
            Ok(None) => None,
            Err(e) => return fail(&e),
        }
    };
    // So is the web configuration file (TLS, basic auth), when serving.
    let http = if cli.mode.is_none() && !cli.common.once {
        match rgw_multisite::serve::HttpOptions::from_common(&cli.common) {
            Ok(h) => h,
            Err(e) => return fail(&e),
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
    match rt.block_on(run(cli, settings, rest, http)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

async fn run(
    cli: Cli,
    settings: Settings,
    rest: Option<AdminClient>,
    http: rgw_multisite::serve::HttpOptions,
) -> anyhow::Result<ExitCode> {
    let base = split_command(&settings.radosgw_admin_command)
        .map_err(|e| anyhow::anyhow!("--radosgw-admin.command: {e}"))?;
    let timeout = settings.radosgw_admin_timeout;
    let runner = Arc::new(ProcessRunner::new(timeout));
    let rgw = RadosgwAdmin::new(base, ceph_timeout_args(timeout), runner)
        .with_zone(settings.primary.local_zone.clone());

    if let Some(Mode::Init { path, force }) = &cli.mode {
        return init(&rgw, &settings, path, *force).await;
    }

    let telemetry = Telemetry::new(env!("CARGO_PKG_VERSION"), "primary", "topology");
    // A timed-out call is followed by a liveness probe within min(timeout, 10 s).
    telemetry.set_call_timeout(timeout);
    let agent = Agent::new(
        rgw.clone(),
        telemetry.clone(),
        AgentConfig {
            sync_errors: settings.sync_errors,
            bucket_sync: false,
            concurrency: settings.primary.concurrency,
            topology: false,
            zone_info: false,
            ..AgentConfig::default()
        },
    );
    let primary = Arc::new(Primary::new(
        rgw.clone(),
        telemetry.clone(),
        settings.primary.clone(),
        rest,
    ));

    if let Some(Mode::Check) = cli.mode {
        let base_ok =
            rgw_multisite::check::run_checks(&rgw, settings.primary.local_zone.as_deref(), false)
                .await;
        println!();
        let own_ok = primary.run_checks().await;
        return Ok(if base_ok && own_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if cli.common.once {
        let ok = primary.cycle(Some(&agent)).await;
        print!("{}", telemetry.exposition());
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }

    // Bind before collecting, so a port in use fails at once.
    let listener = rgw_multisite::serve::bind(&settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    tracing::info!(address = %settings.listen, path = %settings.telemetry_path, mode = settings.primary.mode.as_str(), "listening");
    let agent = Arc::new(agent);
    rgw_multisite::serve::run_until_signal(
        listener,
        telemetry,
        &settings.telemetry_path,
        "RGW multisite exporter",
        settings.collection_interval,
        http,
        move || {
            let (primary, agent) = (primary.clone(), agent.clone());
            async move { primary.cycle(Some(&agent)).await }
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// `init`: read the period and write a commented configuration for it.
async fn init(
    rgw: &RadosgwAdmin,
    settings: &Settings,
    path: &Path,
    force: bool,
) -> anyhow::Result<ExitCode> {
    if path.exists() && !force {
        anyhow::bail!("{} exists; pass --force to replace it", path.display());
    }
    let argv = rgw.argv(&["period", "get"]).join(" ");
    let out = rgw
        .run(&["period", "get"])
        .await
        .map_err(|e| anyhow::anyhow!("`{argv}`: {e}"))?;
    if out.code != 0 {
        anyhow::bail!(
            "`{argv}` exited with {}: {}",
            out.code,
            out.stderr_summary()
        );
    }
    let period =
        parse_period(&out.stdout).map_err(|e| anyhow::anyhow!("cannot parse `period get`: {e}"))?;
    let text = skeleton(&period, settings, "rgw-multisite-exporter init");
    let write = if force {
        std::fs::write(path, &text)
    } else {
        // create_new: never replace a file that appeared since the check above.
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
    };
    write.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let zones: Vec<&str> = period.zones().map(|(_, z)| z.name.as_str()).collect();
    println!(
        "wrote {}: realm {}, epoch {}, zones {}",
        path.display(),
        period.realm_name.as_deref().unwrap_or(&period.realm_id),
        period.epoch,
        zones.join(", ")
    );
    println!(
        "check it with: rgw-multisite-exporter --config.file={} check",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
