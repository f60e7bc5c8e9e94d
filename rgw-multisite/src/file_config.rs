//! The master exporter's settings: its flags, the optional YAML file (`--config.file`), the
//! precedence between them (flag > environment > file > default) and the REST keys.
//!
//! YAML keys mirror the flags: `--a.b-c` is `a: {b_c: ...}` (`--collection.interval` is
//! `collection.interval`, `--class.synced-min-ratio` is `class.synced_min_ratio`); per-zone
//! endpoints exist only in the file. Unknown keys are errors naming the key. Keys (secrets)
//! come from files or the environment, never from argv.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use serde::Deserialize;

use crate::config::{parse_duration, CommonArgs};
use crate::parse::period::Period;
use crate::primary::{PrimaryConfig, StatsMode, Thresholds, ZoneOverride};
use crate::rest::{Credentials, RestOptions};

/// Environment variables holding the admin API keys themselves.
pub const ACCESS_KEY_ENV: &str = "RGW_MULTISITE_ACCESS_KEY";
pub const SECRET_KEY_ENV: &str = "RGW_MULTISITE_SECRET_KEY";

fn parse_ratio(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number like 0.95"))?;
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        return Err(format!("{s:?}: a ratio must be between 0 and 1"));
    }
    Ok(v)
}

/// Flags of the master exporter beyond [`CommonArgs`].
#[derive(Args, Debug, Clone)]
pub struct ExporterArgs {
    /// YAML configuration file (see `init`). Flags and environment variables override it.
    #[arg(
        long = "config.file",
        env = "RGW_MULTISITE_CONFIG_FILE",
        value_name = "PATH"
    )]
    pub config_file: Option<PathBuf>,

    /// Address to listen on for HTTP (`:9241` is every interface).
    #[arg(
        long = "web.listen-address",
        env = "RGW_MULTISITE_WEB_LISTEN_ADDRESS",
        default_value = ":9241",
        value_name = "ADDRESS"
    )]
    pub listen: String,

    /// The zone this exporter runs in (normally the metadata master); adds --rgw-zone=ZONE
    /// to `period get`, `sync status` and `sync error list`. Default: radosgw-admin's own.
    #[arg(long = "zone", env = "RGW_MULTISITE_ZONE", value_name = "ZONE")]
    pub zone: Option<String>,

    /// Where other zones' bucket stats come from: `cli` runs `radosgw-admin bucket stats
    /// --rgw-zone=Z` (every zone's pools reachable from here); `rest` calls each zone's RGW
    /// admin API (`GET /admin/bucket?stats=true`) at its period endpoint or the
    /// `zones.<name>.endpoint` of the config file. The local zone always uses the CLI
    /// unless the file says otherwise.
    #[arg(
        long = "bucket-stats.mode",
        env = "RGW_MULTISITE_BUCKET_STATS_MODE",
        default_value = "cli",
        value_parser = ["cli", "rest"],
        value_name = "MODE"
    )]
    pub mode: String,

    /// File holding the admin API access key (REST mode). Else RGW_MULTISITE_ACCESS_KEY.
    #[arg(
        long = "rest.access-key-file",
        env = "RGW_MULTISITE_ACCESS_KEY_FILE",
        value_name = "PATH"
    )]
    pub access_key_file: Option<PathBuf>,

    /// File holding the admin API secret key (REST mode). Else RGW_MULTISITE_SECRET_KEY.
    #[arg(
        long = "rest.secret-key-file",
        env = "RGW_MULTISITE_SECRET_KEY_FILE",
        value_name = "PATH"
    )]
    pub secret_key_file: Option<PathBuf>,

    /// SigV4 region of the admin API requests.
    #[arg(
        long = "rest.region",
        env = "RGW_MULTISITE_REST_REGION",
        default_value = "us-east-1",
        value_name = "REGION"
    )]
    pub region: String,

    /// Timeout of one admin API request.
    #[arg(long = "rest.timeout", env = "RGW_MULTISITE_REST_TIMEOUT", default_value = "60s",
          value_parser = parse_duration, value_name = "DURATION")]
    pub rest_timeout: Duration,

    /// Extra CA certificates (PEM) to trust for https endpoints, besides the system store.
    #[arg(
        long = "rest.ca-file",
        env = "RGW_MULTISITE_REST_CA_FILE",
        value_name = "PATH"
    )]
    pub ca_file: Option<PathBuf>,

    /// Do not verify the admin API's TLS certificates (labs only; logged as a warning).
    #[arg(long = "rest.tls-insecure-skip-verify", env = "RGW_MULTISITE_REST_TLS_INSECURE_SKIP_VERIFY",
          default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_insecure_skip_verify: bool,

    /// Lowest sync ratio (replica objects / master objects) of the SYNCED class.
    #[arg(long = "class.synced-min-ratio", env = "RGW_MULTISITE_CLASS_SYNCED_MIN_RATIO",
          default_value = "0.99", value_parser = parse_ratio, value_name = "RATIO")]
    pub synced_min_ratio: f64,

    /// Lowest sync ratio of the LOW class (below SYNCED).
    #[arg(long = "class.low-min-ratio", env = "RGW_MULTISITE_CLASS_LOW_MIN_RATIO",
          default_value = "0.95", value_parser = parse_ratio, value_name = "RATIO")]
    pub low_min_ratio: f64,

    /// Lowest sync ratio of the MEDIUM class; below it a bucket is HIGH.
    #[arg(long = "class.medium-min-ratio", env = "RGW_MULTISITE_CLASS_MEDIUM_MIN_RATIO",
          default_value = "0.85", value_parser = parse_ratio, value_name = "RATIO")]
    pub medium_min_ratio: f64,

    /// Export per-bucket series for every bucket, not only those not SYNCED (the counts
    /// per class are exact either way).
    #[arg(long = "metrics.all-buckets", env = "RGW_MULTISITE_METRICS_ALL_BUCKETS",
          default_value_t = false, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub all_buckets: bool,

    /// Concurrent calls within a collector (bucket sync info checks). Zones' bucket stats are
    /// read one at a time whatever this says: each can be ~150 MB at 100k buckets.
    #[arg(long = "radosgw-admin.concurrency", env = "RGW_MULTISITE_RADOSGW_ADMIN_CONCURRENCY",
          default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Collect the master zone's own `sync error list` (32 shard reads per cycle).
    #[arg(long = "collector.sync-errors", env = "RGW_MULTISITE_COLLECTOR_SYNC_ERRORS",
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sync_errors: bool,

    /// How long a lagging bucket's replication setting (`bucket sync info`, `sync info`)
    /// is trusted before it is checked again.
    #[arg(long = "bucket-sync-info.ttl", env = "RGW_MULTISITE_BUCKET_SYNC_INFO_TTL",
          default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub sync_info_ttl: Duration,

    /// Lagging buckets whose replication setting is checked per cycle, worst first; the
    /// rest count as replicating until their turn.
    #[arg(
        long = "bucket-sync-info.max-per-cycle",
        env = "RGW_MULTISITE_BUCKET_SYNC_INFO_MAX_PER_CYCLE",
        default_value_t = 200,
        value_name = "N"
    )]
    pub sync_info_max_per_cycle: usize,
}

// ---------------------------------------------------------------------------------------
// The YAML file
// ---------------------------------------------------------------------------------------

/// A duration written like a flag value (`30s`, `1m30s`, or a number of seconds). Checked
/// in [`FileConfig::parse`], where the key is known, so the message can name it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDuration(pub String);

impl FileDuration {
    /// The value; only valid after [`FileConfig::parse`] checked it.
    pub fn get(&self) -> Option<Duration> {
        parse_duration(&self.0).ok()
    }
}

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Seconds(f64),
        }
        Ok(FileDuration(match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Seconds(n) => n.to_string(),
        }))
    }
}

/// A ratio; checked to be within 0..1 in [`FileConfig::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct FileRatio(pub f64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileMode {
    Cli,
    Rest,
}

impl From<FileMode> for StatsMode {
    fn from(m: FileMode) -> Self {
        match m {
            FileMode::Cli => StatsMode::Cli,
            FileMode::Rest => StatsMode::Rest,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSection {
    pub interval: Option<FileDuration>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadosgwAdminSection {
    pub command: Option<String>,
    pub timeout: Option<FileDuration>,
    pub concurrency: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    pub listen_address: Option<String>,
    pub telemetry_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketStatsSection {
    pub mode: Option<FileMode>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSection {
    pub access_key_file: Option<PathBuf>,
    pub secret_key_file: Option<PathBuf>,
    pub region: Option<String>,
    pub timeout: Option<FileDuration>,
    pub ca_file: Option<PathBuf>,
    pub tls_insecure_skip_verify: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSection {
    pub endpoint: Option<String>,
    pub mode: Option<FileMode>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSection {
    pub synced_min_ratio: Option<FileRatio>,
    pub low_min_ratio: Option<FileRatio>,
    pub medium_min_ratio: Option<FileRatio>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub all_buckets: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorSection {
    pub sync_errors: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSyncInfoSection {
    pub ttl: Option<FileDuration>,
    pub max_per_cycle: Option<usize>,
}

/// The YAML file. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub zone: Option<String>,
    #[serde(default)]
    pub collection: CollectionSection,
    #[serde(default)]
    pub radosgw_admin: RadosgwAdminSection,
    #[serde(default)]
    pub web: WebSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub bucket_stats: BucketStatsSection,
    #[serde(default)]
    pub rest: RestSection,
    #[serde(default)]
    pub zones: BTreeMap<String, ZoneSection>,
    #[serde(default)]
    pub class: ClassSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub collector: CollectorSection,
    #[serde(default)]
    pub bucket_sync_info: BucketSyncInfoSection,
}

/// Why the configuration cannot be used. Each message names the file, key or flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {msg}")]
    File { path: String, msg: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {msg}")]
    Key { what: String, msg: String },
}

impl FileConfig {
    /// Parses the file's text; `path` is for messages. An empty file is all defaults.
    pub fn parse(text: &str, path: &str) -> Result<FileConfig, ConfigError> {
        let file = |msg: String| ConfigError::File {
            path: path.to_string(),
            msg,
        };
        let cfg: Option<FileConfig> =
            serde_yaml::from_str(text).map_err(|e| file(e.to_string()))?;
        let cfg = cfg.unwrap_or_default();
        for (key, d) in [
            ("collection.interval", &cfg.collection.interval),
            ("radosgw_admin.timeout", &cfg.radosgw_admin.timeout),
            ("rest.timeout", &cfg.rest.timeout),
            ("bucket_sync_info.ttl", &cfg.bucket_sync_info.ttl),
        ] {
            if let Some(d) = d {
                parse_duration(&d.0).map_err(|e| file(format!("{key}: {e}")))?;
            }
        }
        for (key, r) in [
            ("class.synced_min_ratio", &cfg.class.synced_min_ratio),
            ("class.low_min_ratio", &cfg.class.low_min_ratio),
            ("class.medium_min_ratio", &cfg.class.medium_min_ratio),
        ] {
            if let Some(r) = r {
                parse_ratio(&r.0.to_string()).map_err(|e| file(format!("{key}: {e}")))?;
            }
        }
        for (name, z) in &cfg.zones {
            if let Some(e) = &z.endpoint {
                crate::rest::validate_endpoint(e)
                    .map_err(|err| file(format!("zones.{name}.endpoint: {err}")))?;
            }
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            msg: format!("cannot read: {e}"),
        })?;
        FileConfig::parse(&text, &path.display().to_string())
    }
}

// ---------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------

/// Everything the exporter runs with, after precedence.
#[derive(Debug, Clone)]
pub struct Settings {
    pub radosgw_admin_command: String,
    pub radosgw_admin_timeout: Duration,
    pub collection_interval: Duration,
    pub listen: String,
    pub telemetry_path: String,
    pub log_level: String,
    pub log_format: String,
    pub sync_errors: bool,
    pub primary: PrimaryConfig,
    pub rest: RestOptions,
    /// Where the keys come from, resolved but not yet read.
    pub access_key: KeySource,
    pub secret_key: KeySource,
}

/// Where one key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// From a file; `what` names the flag or key that gave the path.
    File {
        path: PathBuf,
        what: String,
    },
    /// From an environment variable (the value is read when needed, never stored here).
    Env(&'static str),
    Missing,
}

/// True when the value of `id` came from the command line or the environment.
fn explicit(m: &ArgMatches, id: &str) -> bool {
    !matches!(m.value_source(id), None | Some(ValueSource::DefaultValue))
}

/// Flag (or its env) if given explicitly, else the file's value, else the flag's default.
fn pick<T>(m: &ArgMatches, id: &str, flag: T, file: Option<T>) -> T {
    if explicit(m, id) {
        flag
    } else {
        file.unwrap_or(flag)
    }
}

fn key_source(
    m: &ArgMatches,
    id: &str,
    flag_path: &Option<PathBuf>,
    env: &'static str,
    file_path: &Option<PathBuf>,
    file_key: &str,
) -> KeySource {
    let flag_name = match id {
        "access_key_file" => "--rest.access-key-file",
        _ => "--rest.secret-key-file",
    };
    if let (true, Some(p)) = (explicit(m, id), flag_path) {
        return KeySource::File {
            path: p.clone(),
            what: flag_name.to_string(),
        };
    }
    if std::env::var_os(env).is_some_and(|v| !v.is_empty()) {
        return KeySource::Env(env);
    }
    match file_path {
        Some(p) => KeySource::File {
            path: p.clone(),
            what: format!("rest.{file_key}"),
        },
        None => KeySource::Missing,
    }
}

/// Applies flag > environment > file > default. `m` must be the matches `common` and
/// `args` were parsed from (it tells which values were given explicitly).
pub fn resolve(
    m: &ArgMatches,
    common: &CommonArgs,
    args: &ExporterArgs,
    file: &FileConfig,
) -> Result<Settings, ConfigError> {
    let f = file;
    let mode_flag = if args.mode == "rest" {
        StatsMode::Rest
    } else {
        StatsMode::Cli
    };
    let mode = pick(m, "mode", mode_flag, f.bucket_stats.mode.map(Into::into));
    let thresholds = Thresholds {
        synced: pick(
            m,
            "synced_min_ratio",
            args.synced_min_ratio,
            f.class.synced_min_ratio.map(|r| r.0),
        ),
        low: pick(
            m,
            "low_min_ratio",
            args.low_min_ratio,
            f.class.low_min_ratio.map(|r| r.0),
        ),
        medium: pick(
            m,
            "medium_min_ratio",
            args.medium_min_ratio,
            f.class.medium_min_ratio.map(|r| r.0),
        ),
    };
    thresholds.validate().map_err(ConfigError::Invalid)?;
    let concurrency = pick(
        m,
        "concurrency",
        args.concurrency,
        f.radosgw_admin.concurrency,
    );
    if !(1..=64).contains(&concurrency) {
        return Err(ConfigError::Invalid(format!(
            "radosgw_admin.concurrency = {concurrency}: must be 1..64"
        )));
    }
    let zones: BTreeMap<String, ZoneOverride> = f
        .zones
        .iter()
        .map(|(k, z)| {
            (
                k.clone(),
                ZoneOverride {
                    endpoint: z.endpoint.clone(),
                    mode: z.mode.map(Into::into),
                },
            )
        })
        .collect();
    let telemetry_path = pick(
        m,
        "web_telemetry_path",
        common.web_telemetry_path.clone(),
        f.web.telemetry_path.clone(),
    );
    if !telemetry_path.starts_with('/') || telemetry_path.starts_with("/-/") {
        return Err(ConfigError::Invalid(format!(
            "web.telemetry_path {telemetry_path:?}: must start with / and not with /-/"
        )));
    }
    let log_level = pick(
        m,
        "log_level",
        common.log_level.clone(),
        f.log.level.clone(),
    );
    if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
        return Err(ConfigError::Invalid(format!(
            "log.level {log_level:?}: use error, warn, info, debug or trace"
        )));
    }
    let log_format = pick(
        m,
        "log_format",
        common.log_format.clone(),
        f.log.format.clone(),
    );
    if !["text", "json"].contains(&log_format.as_str()) {
        return Err(ConfigError::Invalid(format!(
            "log.format {log_format:?}: use text or json"
        )));
    }
    let radosgw_admin_command = pick(
        m,
        "radosgw_admin_command",
        common.radosgw_admin_command.clone(),
        f.radosgw_admin.command.clone(),
    );
    crate::runner::split_command(&radosgw_admin_command)
        .map_err(|e| ConfigError::Invalid(format!("radosgw-admin command: {e}")))?;
    let primary = PrimaryConfig {
        local_zone: pick(m, "zone", args.zone.clone(), f.zone.clone().map(Some)),
        mode,
        zones,
        thresholds,
        all_buckets: pick(m, "all_buckets", args.all_buckets, f.metrics.all_buckets),
        concurrency: usize::from(concurrency),
        sync_info_ttl: pick(
            m,
            "sync_info_ttl",
            args.sync_info_ttl,
            f.bucket_sync_info.ttl.as_ref().and_then(FileDuration::get),
        ),
        sync_info_max_per_cycle: pick(
            m,
            "sync_info_max_per_cycle",
            args.sync_info_max_per_cycle,
            f.bucket_sync_info.max_per_cycle,
        ),
    };
    let rest = RestOptions {
        region: pick(m, "region", args.region.clone(), f.rest.region.clone()),
        timeout: pick(
            m,
            "rest_timeout",
            args.rest_timeout,
            f.rest.timeout.as_ref().and_then(FileDuration::get),
        ),
        tls_insecure_skip_verify: pick(
            m,
            "tls_insecure_skip_verify",
            args.tls_insecure_skip_verify,
            f.rest.tls_insecure_skip_verify,
        ),
        ca_file: pick(
            m,
            "ca_file",
            args.ca_file.clone(),
            f.rest.ca_file.clone().map(Some),
        ),
        ..RestOptions::default()
    };
    Ok(Settings {
        radosgw_admin_timeout: pick(
            m,
            "radosgw_admin_timeout",
            common.radosgw_admin_timeout,
            f.radosgw_admin.timeout.as_ref().and_then(FileDuration::get),
        ),
        radosgw_admin_command,
        collection_interval: pick(
            m,
            "collection_interval",
            common.collection_interval,
            f.collection.interval.as_ref().and_then(FileDuration::get),
        ),
        listen: pick(
            m,
            "listen",
            args.listen.clone(),
            f.web.listen_address.clone(),
        ),
        telemetry_path,
        log_level,
        log_format,
        sync_errors: pick(m, "sync_errors", args.sync_errors, f.collector.sync_errors),
        access_key: key_source(
            m,
            "access_key_file",
            &args.access_key_file,
            ACCESS_KEY_ENV,
            &f.rest.access_key_file,
            "access_key_file",
        ),
        secret_key: key_source(
            m,
            "secret_key_file",
            &args.secret_key_file,
            SECRET_KEY_ENV,
            &f.rest.secret_key_file,
            "secret_key_file",
        ),
        primary,
        rest,
    })
}

fn read_key(src: &KeySource, name: &str) -> Result<String, ConfigError> {
    let (value, what) = match src {
        KeySource::File { path, what } => {
            let v = std::fs::read_to_string(path).map_err(|e| ConfigError::Key {
                what: format!("{what} {}", path.display()),
                msg: format!("cannot read the {name}: {e}"),
            })?;
            (v, format!("{what} {}", path.display()))
        }
        KeySource::Env(var) => (std::env::var(var).unwrap_or_default(), (*var).to_string()),
        KeySource::Missing => {
            let (flag, env) = if name == "access key" {
                ("--rest.access-key-file", ACCESS_KEY_ENV)
            } else {
                ("--rest.secret-key-file", SECRET_KEY_ENV)
            };
            return Err(ConfigError::Key {
                what: format!("REST mode needs the {name}"),
                msg: format!(
                    "set {flag} (or rest.{}_file in the config file) or {env}",
                    name.replace(' ', "_")
                ),
            });
        }
    };
    let v = value.trim().to_string();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return Err(ConfigError::Key {
            what,
            msg: format!("the {name} is empty or not a single word"),
        });
    }
    Ok(v)
}

impl Settings {
    /// The admin API keys, read now; `None` when no zone is read over REST.
    pub fn credentials(&self) -> Result<Option<Credentials>, ConfigError> {
        if !self.primary.uses_rest() {
            return Ok(None);
        }
        let access = read_key(&self.access_key, "access key")?;
        let secret = read_key(&self.secret_key, "secret key")?;
        Ok(Some(Credentials::new(access, secret)))
    }
}

// ---------------------------------------------------------------------------------------
// `init`: a commented skeleton
// ---------------------------------------------------------------------------------------

fn yaml_str(s: &str) -> String {
    // JSON strings are valid YAML scalars and quote whatever needs quoting.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A commented configuration for this realm, every zone of the period listed. `settings`
/// gives the values written (normally the defaults plus the flags `init` was given).
pub fn skeleton(period: &Period, settings: &Settings, generated_by: &str) -> String {
    let local = settings
        .primary
        .local_zone
        .clone()
        .or_else(|| period.zone_name(&period.master_zone).map(str::to_string));
    let realm = period
        .realm_name
        .clone()
        .unwrap_or_else(|| period.realm_id.clone());
    let mut s = String::new();
    let mut line = |l: &str| {
        s.push_str(l);
        s.push('\n');
    };
    line("# rgw-multisite-exporter configuration.");
    line(&format!(
        "# Written by `{generated_by}` from the period of realm {realm} (epoch {}).",
        period.epoch
    ));
    line("# Flags and RGW_MULTISITE_* environment variables override every key here; keys");
    line("# mirror the flags (--collection.interval is collection.interval). Unknown keys are");
    line("# errors. Check with: rgw-multisite-exporter --config.file=THIS check");
    line("");
    line("# The zone this exporter runs in (normally the metadata master). Adds --rgw-zone to");
    line("# period get, sync status and sync error list; in REST mode it is read with the CLI.");
    match &local {
        Some(z) => line(&format!("zone: {}", yaml_str(z))),
        None => line("# zone: us-east"),
    }
    line("");
    line("collection:");
    line("  # Time between collection cycles; scrapes never wait for one.");
    line(&format!(
        "  interval: {}",
        fmt_duration(settings.collection_interval)
    ));
    line("");
    line("radosgw_admin:");
    line("  # Split like a shell would, never run through one.");
    line(&format!(
        "  command: {}",
        yaml_str(&settings.radosgw_admin_command)
    ));
    line(&format!(
        "  timeout: {}",
        fmt_duration(settings.radosgw_admin_timeout)
    ));
    line(&format!("  concurrency: {}", settings.primary.concurrency));
    line("");
    line("web:");
    line(&format!("  listen_address: {}", yaml_str(&settings.listen)));
    line(&format!(
        "  telemetry_path: {}",
        yaml_str(&settings.telemetry_path)
    ));
    line("");
    line("log:");
    line(&format!("  level: {}", settings.log_level));
    line(&format!("  format: {}", settings.log_format));
    line("");
    line("bucket_stats:");
    line("  # cli: radosgw-admin bucket stats --rgw-zone=Z for every zone (their pools are");
    line("  #      reachable from here). rest: each other zone's RGW admin API,");
    line("  #      GET /admin/bucket?stats=true, signed with the keys below.");
    line(&format!("  mode: {}", settings.primary.mode.as_str()));
    line("");
    line("rest:");
    line("  # A read-only admin user is enough:");
    line("  #   radosgw-admin user create --uid=rgw-exporter-ro --display-name=\"RGW multisite exporter\"");
    line("  #   radosgw-admin caps add --uid=rgw-exporter-ro --caps=\"buckets=read;metadata=read;usage=read;zone=read\"");
    line("  # Keys come from these files, or RGW_MULTISITE_ACCESS_KEY / RGW_MULTISITE_SECRET_KEY;");
    line("  # never from the command line.");
    line("  # access_key_file: /etc/rgw-multisite-exporter/access_key");
    line("  # secret_key_file: /etc/rgw-multisite-exporter/secret_key");
    line(&format!("  region: {}", yaml_str(&settings.rest.region)));
    line(&format!(
        "  timeout: {}",
        fmt_duration(settings.rest.timeout)
    ));
    line("  # Extra CA certificates (PEM) for https endpoints, besides the system store.");
    line("  # ca_file: /etc/ssl/private-ca.pem");
    line("  # Only for labs: accept any certificate.");
    line(&format!(
        "  tls_insecure_skip_verify: {}",
        settings.rest.tls_insecure_skip_verify
    ));
    line("");
    line("# Per zone: the admin API endpoint when the period's is not reachable from here,");
    line("# and optionally the mode for this zone alone (cli or rest).");
    line("zones:");
    let mut any = false;
    for (zg, z) in period.zones() {
        any = true;
        let role = if zg.master_zone == z.id {
            "master of"
        } else {
            "in"
        };
        line(&format!(
            "  # {} ({role} zonegroup {}{}), period endpoints: {}",
            z.name,
            zg.name,
            if z.tier_type.is_empty() {
                String::new()
            } else {
                format!(", tier type {}", z.tier_type)
            },
            if z.endpoints.is_empty() {
                "none".to_string()
            } else {
                z.endpoints.join(" ")
            }
        ));
        line(&format!("  {}:", yaml_str(&z.name)));
        match z.endpoints.first() {
            Some(e) => line(&format!("    endpoint: {}", yaml_str(e))),
            None => line("    # endpoint: https://rgw.example.com"),
        }
        if local.as_deref() == Some(z.name.as_str()) {
            line("    # mode: cli");
        } else {
            line("    # mode: rest");
        }
    }
    if !any {
        line("  {}");
    }
    line("");
    line("# Classes by sync ratio (replica objects / master objects): SYNCED >= synced,");
    line("# LOW >= low, MEDIUM >= medium, else HIGH.");
    line("class:");
    let t = settings.primary.thresholds;
    line(&format!("  synced_min_ratio: {}", t.synced));
    line(&format!("  low_min_ratio: {}", t.low));
    line(&format!("  medium_min_ratio: {}", t.medium));
    line("");
    line("metrics:");
    line("  # Per-bucket series for every bucket, not only those not SYNCED.");
    line(&format!("  all_buckets: {}", settings.primary.all_buckets));
    line("");
    line("collector:");
    line("  # The master zone's own sync error log (32 shard reads per cycle).");
    line(&format!("  sync_errors: {}", settings.sync_errors));
    line("");
    line("bucket_sync_info:");
    line("  # Lagging buckets are checked for disabled sync or a policy that excludes them;");
    line("  # the answer is trusted this long, and at most max_per_cycle are checked a cycle.");
    line(&format!(
        "  ttl: {}",
        fmt_duration(settings.primary.sync_info_ttl)
    ));
    line(&format!(
        "  max_per_cycle: {}",
        settings.primary.sync_info_max_per_cycle
    ));
    s
}

/// `90s` -> `1m30s`-style text that `parse_duration` reads back.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, n) in [("h", 3600), ("m", 60)] {
        if secs >= n {
            out.push_str(&format!("{}{unit}", secs / n));
            secs %= n;
        }
    }
    if secs > 0 || out.is_empty() {
        out.push_str(&format!("{secs}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        args: ExporterArgs,
    }

    /// Tests that resolve settings read the environment; the one that sets variables holds
    /// this lock so no other test sees them.
    static ENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn settings(argv: &[&str], file: &str) -> Result<Settings, ConfigError> {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        settings_unlocked(argv, file)
    }

    fn settings_unlocked(argv: &[&str], file: &str) -> Result<Settings, ConfigError> {
        let m = TestCli::command()
            .try_get_matches_from(std::iter::once("x").chain(argv.iter().copied()))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let cli = TestCli::from_arg_matches(&m).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let f = FileConfig::parse(file, "test.yml")?;
        resolve(&m, &cli.common, &cli.args, &f)
    }

    const FILE: &str = "
collection:
  interval: 2m
class:
  synced_min_ratio: 0.98
  low_min_ratio: 0.9
bucket_stats:
  mode: rest
zones:
  us-west:
    endpoint: https://rgw-west.example.com:8443
";

    #[test]
    fn defaults_without_file_or_flags() {
        let s = settings(&[], "").unwrap();
        assert_eq!(s.collection_interval, Duration::from_secs(60));
        assert_eq!(s.listen, ":9241");
        assert_eq!(s.primary.thresholds, Thresholds::default());
        assert_eq!(s.primary.mode, StatsMode::Cli);
        assert_eq!(s.rest.region, "us-east-1");
        assert!(!s.rest.tls_insecure_skip_verify);
        assert!(s.sync_errors);
        assert_eq!(s.credentials(), Ok(None), "CLI mode needs no keys");
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_the_file() {
        let s = settings(&[], FILE).unwrap();
        assert_eq!(s.collection_interval, Duration::from_secs(120));
        assert_eq!(s.primary.thresholds.synced, 0.98);
        assert_eq!(s.primary.thresholds.low, 0.9);
        assert_eq!(s.primary.thresholds.medium, 0.85, "default kept");
        assert_eq!(s.primary.mode, StatsMode::Rest);
        assert_eq!(
            s.primary
                .zones
                .get("us-west")
                .and_then(|z| z.endpoint.as_deref()),
            Some("https://rgw-west.example.com:8443")
        );
        let s = settings(
            &[
                "--collection.interval=15s",
                "--class.synced-min-ratio=0.97",
                "--bucket-stats.mode=cli",
            ],
            FILE,
        )
        .unwrap();
        assert_eq!(s.collection_interval, Duration::from_secs(15));
        assert_eq!(s.primary.thresholds.synced, 0.97);
        assert_eq!(s.primary.thresholds.low, 0.9, "still from the file");
        assert_eq!(s.primary.mode, StatsMode::Cli);
        // A flag equal to its default still wins over the file: it was given.
        let s = settings(&["--collection.interval=60s"], FILE).unwrap();
        assert_eq!(s.collection_interval, Duration::from_secs(60));
    }

    /// Environment variables sit between flags and the file.
    #[test]
    fn environment_between_file_and_flags() {
        let guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        std::env::set_var("RGW_MULTISITE_CLASS_LOW_MIN_RATIO", "0.93");
        std::env::set_var("RGW_MULTISITE_REST_REGION", "eu-central");
        let from_env = settings_unlocked(&[], FILE);
        let from_flag = settings_unlocked(&["--class.low-min-ratio=0.92"], FILE);
        std::env::remove_var("RGW_MULTISITE_CLASS_LOW_MIN_RATIO");
        std::env::remove_var("RGW_MULTISITE_REST_REGION");
        drop(guard);
        let s = from_env.unwrap();
        assert_eq!(s.primary.thresholds.low, 0.93, "env beats the file's 0.9");
        assert_eq!(s.rest.region, "eu-central");
        assert_eq!(
            s.primary.thresholds.synced, 0.98,
            "the file beats the default"
        );
        assert_eq!(
            from_flag.unwrap().primary.thresholds.low,
            0.92,
            "the flag beats env"
        );
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let e = FileConfig::parse("collection:\n  intervall: 30s\n", "/etc/x.yml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("config file /etc/x.yml: "), "{msg}");
        assert!(msg.contains("unknown field `intervall`"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let e = FileConfig::parse("mode: rest\n", "x.yml").unwrap_err();
        assert!(e.to_string().contains("unknown field `mode`"), "{e}");
        let e =
            FileConfig::parse("zones:\n  us-west:\n    endpiont: http://x\n", "x.yml").unwrap_err();
        assert!(e.to_string().contains("unknown field `endpiont`"), "{e}");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let e = FileConfig::parse("collection:\n  interval: 5x\n", "x.yml").unwrap_err();
        assert!(e.to_string().contains("unknown unit \"x\""), "{e}");
        assert!(e.to_string().contains("collection.interval"), "{e}");
        let e = FileConfig::parse("class:\n  low_min_ratio: 1.5\n", "x.yml").unwrap_err();
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
        let e = FileConfig::parse("bucket_stats:\n  mode: ftp\n", "x.yml").unwrap_err();
        assert!(e.to_string().contains("unknown variant `ftp`"), "{e}");
        let e = FileConfig::parse("zones:\n  w:\n    endpoint: rgw:8080\n", "x.yml").unwrap_err();
        assert!(e.to_string().contains("zones.w.endpoint"), "{e}");
        let e = settings(
            &[],
            "class:\n  synced_min_ratio: 0.9\n  low_min_ratio: 0.95\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("medium_min_ratio <= low_min_ratio"),
            "{e}"
        );
        assert!(settings(&["--collection.interval=0s"], "").is_err());
        assert!(settings(&["--class.medium-min-ratio=2"], "").is_err());
        // Comments only, or an empty document, is all defaults.
        assert_eq!(
            FileConfig::parse("# nothing\n", "x.yml"),
            Ok(FileConfig::default())
        );
        let e = FileConfig::load(Path::new("/nonexistent/exporter.yml")).unwrap_err();
        assert!(
            e.to_string()
                .contains("/nonexistent/exporter.yml: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn rest_keys_from_files_with_clear_errors() {
        let dir = std::env::temp_dir().join(format!("rgwms-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ak = dir.join("ak");
        let sk = dir.join("sk");
        std::fs::write(&ak, "AKID123\n").unwrap();
        std::fs::write(&sk, "s3cr3t\n").unwrap();
        let file = format!(
            "bucket_stats:\n  mode: rest\nrest:\n  access_key_file: {}\n  secret_key_file: {}\n",
            ak.display(),
            sk.display()
        );
        let s = settings(&[], &file).unwrap();
        let creds = s.credentials().unwrap().unwrap();
        assert_eq!(creds, Credentials::new("AKID123", "s3cr3t"));
        // A missing key file names the key and the path.
        let missing = dir.join("nope");
        let flag = format!("--rest.secret-key-file={}", missing.display());
        let e = settings(&[&flag], &file)
            .unwrap()
            .credentials()
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("--rest.secret-key-file"), "{msg}");
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("No such file"), "{msg}");
        // No key at all in REST mode.
        let e = settings(&["--bucket-stats.mode=rest"], "")
            .unwrap()
            .credentials();
        if std::env::var_os(ACCESS_KEY_ENV).is_none() {
            let msg = e.unwrap_err().to_string();
            assert!(msg.contains("REST mode needs the access key"), "{msg}");
            assert!(msg.contains(ACCESS_KEY_ENV), "{msg}");
        }
        std::fs::write(&sk, "\n").unwrap();
        let e = settings(&[], &file).unwrap().credentials().unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn durations_print_back() {
        for (d, s) in [
            (60, "1m"),
            (90, "1m30s"),
            (3600, "1h"),
            (5, "5s"),
            (3661, "1h1m1s"),
        ] {
            assert_eq!(fmt_duration(Duration::from_secs(d)), s);
            assert_eq!(parse_duration(s), Ok(Duration::from_secs(d)));
        }
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn skeleton_lists_every_zone_and_parses_back() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/radosgw-admin/hand/period/pacific-lab-composed.json"
        ));
        let period = crate::parse::period::parse_period(text).unwrap();
        let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let s = settings_unlocked(&[], "").unwrap();
        let out = skeleton(&period, &s, "rgw-multisite-exporter init");
        for (_, z) in period.zones() {
            assert!(out.contains(&format!("  \"{}\":\n", z.name)), "{out}");
        }
        let back = FileConfig::parse(&out, "skeleton").unwrap();
        let again = resolve(
            &TestCli::command().get_matches_from(["x"]),
            &s_common(),
            &s_args(),
            &back,
        )
        .unwrap();
        assert_eq!(again.collection_interval, s.collection_interval);
        assert_eq!(again.primary.thresholds, s.primary.thresholds);
        assert_eq!(
            again.primary.local_zone,
            period.zone_name(&period.master_zone).map(str::to_string)
        );
        assert_eq!(back.zones.len(), period.zones().count());
    }

    fn s_common() -> CommonArgs {
        TestCli::parse_from(["x"]).common
    }

    fn s_args() -> ExporterArgs {
        TestCli::parse_from(["x"]).args
    }
}
