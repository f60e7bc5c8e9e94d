//! What the benchmark measures and how: CPU time and peak RSS of a process from `/proc`,
//! `/metrics` over plain HTTP/1.1, the expositions' series, and the simulator's call log.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux).
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU seconds of a process: its own user+system time, and that of its waited-for
/// children (here: the simulated `radosgw-admin` calls).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    pub user: f64,
    pub system: f64,
    pub children: f64,
}

impl Cpu {
    pub fn own(&self) -> f64 {
        self.user + self.system
    }

    pub fn since(&self, earlier: &Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
            children: self.children - earlier.children,
        }
    }
}

/// Fields of `/proc/<pid>/stat` after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("/proc/{pid}/stat"))?;
    let after = text
        .rfind(')')
        .and_then(|i| text.get(i + 2..))
        .ok_or_else(|| anyhow!("/proc/{pid}/stat: no command field"))?;
    Ok(after.split_whitespace().map(str::to_string).collect())
}

pub fn cpu_of(pid: u32, tck: f64) -> Result<Cpu> {
    let f = stat_fields(pid)?;
    // After "(comm)": state is field 3 of proc(5), so utime (14) is index 11 here.
    let tick = |i: usize| -> Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v / tck)
            .ok_or_else(|| anyhow!("/proc/{pid}/stat: field {}", i + 3))
    };
    Ok(Cpu {
        user: tick(11)?,
        system: tick(12)?,
        children: tick(13)? + tick(14)?,
    })
}

/// A `/proc/<pid>/status` value in KiB (`VmHWM`: peak RSS; `VmRSS`: now).
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("/proc/{pid}/status: no {field}"))
}

/// Busy and total jiffies of the whole machine (`/proc/stat`), to tell what else ran.
pub fn machine_jiffies() -> Result<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/stat")?;
    let line = text
        .lines()
        .next()
        .ok_or_else(|| anyhow!("/proc/stat is empty"))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    Ok((total - idle, total))
}

/// `GET path` over HTTP/1.1 with `Connection: close`; the body and how long it took.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Result<(u16, String, Duration)> {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let took = start.elapsed();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("GET {path}: no end of headers"))?;
    let head = String::from_utf8_lossy(raw.get(..split).unwrap_or_default()).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("GET {path}: bad status line"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned(), took))
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("chunked body: no chunk size"))?;
        let size_text = String::from_utf8_lossy(b.get(..eol).unwrap_or_default()).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        b = b.get(eol + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(
            b.get(..size)
                .ok_or_else(|| anyhow!("chunked body: short chunk"))?,
        );
        b = b.get(size + 2..).unwrap_or_default();
    }
}

/// Samples of an exposition: lines that are neither comments nor blank.
pub fn series_count(exposition: &str) -> usize {
    exposition
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// The value of the first sample of `name` whose labels include every pair of `labels`.
pub fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let (lbl, value) = match rest.strip_prefix('{') {
            Some(r) => {
                let end = r.rfind('}')?;
                (r.get(..end)?, r.get(end + 1..)?)
            }
            None => ("", rest),
        };
        if !value.starts_with(' ') {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| lbl.split(',').any(|p| p == format!("{k}=\"{v}\"")));
        all.then(|| value.trim().parse().ok()).flatten()
    })
}

/// One line of the simulator's call log.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub start: f64,
    pub duration: f64,
    pub rc: i32,
    pub key: String,
}

impl CallRecord {
    pub fn end(&self) -> f64 {
        self.start + self.duration
    }

    /// The command without its options: `bucket sync status`.
    pub fn command(&self) -> String {
        self.key
            .split(' ')
            .take_while(|w| !w.starts_with('-'))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub fn read_calls(path: &Path) -> Result<Vec<CallRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| path.display().to_string()),
    };
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.splitn(4, '\t');
            let mut next = || {
                f.next()
                    .ok_or_else(|| anyhow!("{}: short line {l:?}", path.display()))
            };
            Ok(CallRecord {
                start: next()?.parse()?,
                duration: next()?.parse()?,
                rc: next()?.parse()?,
                key: next()?.to_string(),
            })
        })
        .collect()
}

/// Calls per command.
pub fn by_command(calls: &[&CallRecord]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in calls {
        *m.entry(c.command()).or_insert(0) += 1;
    }
    m
}

/// The q-quantile (0..=1) by nearest rank of a sample.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s.get(rank - 1).copied()
}

/// A free TCP port on 127.0.0.1 (bound, then released for the exporter to take).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The machine: what BENCHMARKS.md must say it ran on.
pub fn machine() -> BTreeMap<String, String> {
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let mut m = BTreeMap::new();
    m.insert("nproc".into(), run("nproc", &[]));
    m.insert("free -h".into(), run("free", &["-h"]));
    m.insert("cpu".into(), cpu);
    m.insert("kernel".into(), run("uname", &["-sr"]));
    m.insert(
        "loadavg".into(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    );
    m
}

/// Waits until `f` returns `Some` or `timeout` passes, polling every `every`.
pub fn wait_for<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("timed out after {:.0?}", timeout);
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_name_and_labels() {
        let text = "# HELP x y\n# TYPE x gauge\n\
            rgw_multisite_bucket_sync_caught_up{zone=\"us-west\",source_zone=\"us-east\",bucket=\"b-1\"} 0\n\
            rgw_multisite_bucket_sync_caught_up{zone=\"us-west\",source_zone=\"us-east\",bucket=\"b-10\"} 1\n\
            rgw_multisite_up 1\n";
        assert_eq!(
            sample(
                text,
                "rgw_multisite_bucket_sync_caught_up",
                &[("bucket", "b-10")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                text,
                "rgw_multisite_bucket_sync_caught_up",
                &[("bucket", "b-1")]
            ),
            Some(0.0)
        );
        assert_eq!(sample(text, "rgw_multisite_up", &[]), Some(1.0));
        assert_eq!(sample(text, "rgw_multisite_u", &[]), None);
        assert_eq!(series_count(text), 3);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&[3.0], 0.99), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
    }

    #[test]
    fn call_log_lines_parse() {
        let dir = std::env::temp_dir().join(format!("calls-{}.log", std::process::id()));
        std::fs::write(
            &dir,
            "1795305600.000000\t0.100000\t0\tbucket sync status --bucket=b --rgw-zone=us-west\n",
        )
        .unwrap();
        let c = read_calls(&dir).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].command(), "bucket sync status");
        assert!((c[0].end() - 1_795_305_600.1).abs() < 1e-6);
        let _ = std::fs::remove_file(&dir);
    }

    #[test]
    fn own_cpu_and_peak_rss_are_readable() {
        let pid = std::process::id();
        let c = cpu_of(pid, clk_tck()).unwrap();
        assert!(c.own() >= 0.0);
        assert!(status_kib(pid, "VmHWM").unwrap() > 0);
    }
}
