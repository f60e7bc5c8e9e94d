//! Flags shared by both binaries, Prometheus-style durations, and logging setup.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Flags both exporters take. Each binary adds its own listen address default and collectors.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// The radosgw-admin command line, split like a shell would (never run through a shell),
    /// e.g. "radosgw-admin -c /etc/ceph/site-b.conf --id rgw-exporter" or
    /// "cephadm shell -- radosgw-admin".
    #[arg(
        long = "radosgw-admin.command",
        env = "RGW_MULTISITE_RADOSGW_ADMIN_COMMAND",
        default_value = "radosgw-admin",
        value_name = "COMMAND"
    )]
    pub radosgw_admin_command: String,

    /// Timeout for one radosgw-admin call. The process group is killed when it expires, and
    /// Ceph's own client_mount/mon/osd timeouts are set to the same value.
    #[arg(
        long = "radosgw-admin.timeout",
        env = "RGW_MULTISITE_RADOSGW_ADMIN_TIMEOUT",
        default_value = "30s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub radosgw_admin_timeout: Duration,

    /// Path under which metrics are served.
    #[arg(
        long = "web.telemetry-path",
        env = "RGW_MULTISITE_WEB_TELEMETRY_PATH",
        default_value = "/metrics",
        value_parser = parse_telemetry_path,
        value_name = "PATH"
    )]
    pub web_telemetry_path: String,

    /// Web configuration file of Prometheus's exporter-toolkit format: TLS
    /// (tls_server_config), basic auth (basic_auth_users, bcrypt hashes) and response
    /// headers (http_server_config). Checked at start-up; re-read for every request and
    /// TLS connection, so rotated certificates and changed passwords apply without a
    /// restart.
    #[arg(
        long = "web.config.file",
        env = "RGW_MULTISITE_WEB_CONFIG_FILE",
        value_name = "PATH"
    )]
    pub web_config_file: Option<PathBuf>,

    /// Maximum number of HTTP connections served at once; more wait in the listen backlog.
    #[arg(
        long = "web.max-connections",
        env = "RGW_MULTISITE_WEB_MAX_CONNECTIONS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..=65536),
        value_name = "N"
    )]
    pub web_max_connections: u32,

    /// Time between collection cycles; the first cycle starts at once.
    #[arg(
        long = "collection.interval",
        env = "RGW_MULTISITE_COLLECTION_INTERVAL",
        default_value = "60s",
        value_parser = parse_duration,
        value_name = "DURATION"
    )]
    pub collection_interval: Duration,

    /// Print one collection's exposition to stdout and exit (non-zero if a collector failed).
    #[arg(long = "once")]
    pub once: bool,

    /// Log level: error, warn, info or debug.
    #[arg(long = "log.level", env = "RGW_MULTISITE_LOG_LEVEL", default_value = "info",
          value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,

    /// Log format: logfmt-like text or json (one object per line), always on stderr.
    #[arg(long = "log.format", env = "RGW_MULTISITE_LOG_FORMAT", default_value = "text",
          value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Parses Prometheus-style durations: `500ms`, `30s`, `1m30s`, `2h`, `1d`; a bare number is
/// seconds. Zero is refused: an interval or timeout of zero is always a mistake.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return positive(secs, s);
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?}: a unit (ms, s, m, h, d) must follow {rest:?}"))?;
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 30s, 1m or 500ms"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let mult = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {unit:?} (use ms, s, m, h or d)"
                ))
            }
        };
        total += n * mult;
        rest = next;
    }
    positive(total, s)
}

fn positive(secs: f64, s: &str) -> Result<Duration, String> {
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("{s:?}: the duration must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.contains(char::is_whitespace) {
        return Err(format!(
            "{s:?}: the telemetry path must start with / and contain no spaces"
        ));
    }
    if s == "/-/healthy" || s == "/-/ready" {
        return Err(format!("{s:?} is reserved"));
    }
    Ok(s.to_string())
}

/// Logging to stderr; `RUST_LOG` overrides `--log.level` when set.
pub fn init_logging(level: &str, format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.with_ansi(false).try_init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "0s", "-1s", "5x", "s", "1m30", "abc", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn telemetry_path_must_be_absolute() {
        assert_eq!(parse_telemetry_path("/metrics"), Ok("/metrics".into()));
        assert!(parse_telemetry_path("metrics").is_err());
        assert!(parse_telemetry_path("/-/ready").is_err());
    }
}
