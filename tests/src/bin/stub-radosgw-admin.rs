//! A `radosgw-admin` stand-in that replays output captured from the lab (`lab/capture`).
//!
//! `STUB_RGW_FIXTURES` names a capture directory: `commands.tsv` maps a normalised key
//! (positional words in order, then `--opt=value` options sorted, connection options
//! dropped) to `<slug>.stdout`, `.stderr` and `.rc`. `STUB_RGW_LOG`, if set, gets one line
//! per call with the key, so tests can assert which calls were made. `STUB_RGW_DELAY_MS`
//! adds latency. An unknown key exits 22 with a message, like radosgw-admin's EINVAL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options that select the cluster or identity, not the view: not part of the key.
const CONNECTION_OPTS_WITH_VALUE: &[&str] = &[
    "-c",
    "--conf",
    "--cluster",
    "--id",
    "-n",
    "--name",
    "--keyring",
    "-k",
];
const CONNECTION_OPT_PREFIXES: &[&str] = &[
    "--conf=",
    "--cluster=",
    "--id=",
    "--name=",
    "--keyring=",
    "--client_mount_timeout=",
    "--rados_mon_op_timeout=",
    "--rados_osd_op_timeout=",
];

/// The replay key of an argv (without the program name).
pub fn key_of(args: &[String]) -> String {
    let mut words = Vec::new();
    let mut opts = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if CONNECTION_OPTS_WITH_VALUE.contains(&a.as_str()) {
            it.next();
        } else if CONNECTION_OPT_PREFIXES.iter().any(|p| a.starts_with(p)) {
        } else if a.starts_with('-') {
            opts.push(a.clone());
        } else {
            words.push(a.clone());
        }
    }
    opts.sort();
    words.extend(opts);
    words.join(" ")
}

fn lookup(dir: &Path, key: &str) -> Option<String> {
    let index = std::fs::read_to_string(dir.join("commands.tsv")).ok()?;
    index.lines().find_map(|l| {
        let (slug, k) = l.split_once('\t')?;
        (k.trim() == key).then(|| slug.to_string())
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let key = key_of(&args);
    if let Ok(log) = std::env::var("STUB_RGW_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            // One write per line: concurrent stubs append to the same log.
            let _ = f.write_all(format!("{key}\n").as_bytes());
        }
    }
    if let Some(ms) = std::env::var("STUB_RGW_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if key == "--version" {
        println!("ceph version 16.2.15 (stub-radosgw-admin replaying lab fixtures)");
        return ExitCode::SUCCESS;
    }
    let Some(dir) = std::env::var_os("STUB_RGW_FIXTURES").map(PathBuf::from) else {
        eprintln!("stub-radosgw-admin: STUB_RGW_FIXTURES is not set");
        return ExitCode::from(1);
    };
    let Some(slug) = lookup(&dir, &key) else {
        eprintln!(
            "stub-radosgw-admin: no fixture for '{key}' in {}",
            dir.display()
        );
        return ExitCode::from(22);
    };
    let read = |ext: &str| std::fs::read(dir.join(format!("{slug}.{ext}"))).unwrap_or_default();
    let _ = std::io::stdout().write_all(&read("stdout"));
    let _ = std::io::stderr().write_all(&read("stderr"));
    let rc: u8 = String::from_utf8_lossy(&read("rc"))
        .trim()
        .parse()
        .unwrap_or(0);
    ExitCode::from(rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_drops_connection_options_and_sorts_options() {
        let args: Vec<String> = [
            "-c",
            "/lab/ceph.conf",
            "bucket",
            "sync",
            "status",
            "--source-zone=us-east",
            "--bucket=b1",
            "--rgw-zone=us-west",
            "--client_mount_timeout=30",
            "--id",
            "admin",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            key_of(&args),
            "bucket sync status --bucket=b1 --rgw-zone=us-west --source-zone=us-east"
        );
    }
}
