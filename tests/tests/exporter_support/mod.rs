//! Support for the exporter's end-to-end tests: a synthetic replay scenario (hand-written
//! stats around the lab's period) and running the binary with a time limit.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const EXPORTER: &str = "rgw-multisite-exporter";
/// Zone group id of the hand-written period fixture.
pub const ZONEGROUP: &str = "ab22bcdf-acaf-4585-bf56-c4a51dc12665";

fn hand(path: &str) -> String {
    std::fs::read_to_string(
        e2e_tests::fixtures_dir()
            .join("radosgw-admin/hand")
            .join(path),
    )
    .unwrap()
}

/// `bucket stats` JSON (list mode) for `(name, objects, bytes)`.
pub fn stats_json(buckets: &[(&str, u64, u64)]) -> String {
    let items: Vec<String> = buckets
        .iter()
        .map(|(name, n, bytes)| {
            format!(
                r#"    {{
        "bucket": "{name}",
        "num_shards": 11,
        "tenant": "",
        "zonegroup": "{ZONEGROUP}",
        "id": "d91e8247-e7d0-4011-8972-3546d935f2b9.{name}",
        "marker": "d91e8247-e7d0-4011-8972-3546d935f2b9.{name}",
        "usage": {{
            "rgw.main": {{
                "size": {bytes},
                "size_actual": {bytes},
                "num_objects": {n}
            }}
        }}
    }}"#
            )
        })
        .collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// A replay directory for the stub, deleted on drop.
pub struct Scenario {
    pub dir: PathBuf,
    index: Vec<String>,
}

impl Scenario {
    /// The lab's period and master `sync status` (hand fixtures), with these stats.
    pub fn new(name: &str, master: &[(&str, u64, u64)], replica: &[(&str, u64, u64)]) -> Scenario {
        let dir = std::env::temp_dir().join(format!(
            "rgwms-exporter-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Scenario {
            dir,
            index: Vec::new(),
        };
        s.add(
            "period get --rgw-zone=us-east",
            0,
            &hand("period/pacific-lab-composed.json"),
        );
        s.add("period get", 0, &hand("period/pacific-lab-composed.json"));
        s.add(
            "sync status --rgw-zone=us-east",
            0,
            &hand("sync-status/pacific-lab-master.stdout"),
        );
        s.add("bucket stats --rgw-zone=us-east", 0, &stats_json(master));
        s.add("bucket stats --rgw-zone=us-west", 0, &stats_json(replica));
        for (b, ..) in master {
            s.replicating(b);
        }
        s
    }

    /// `bucket sync info` and `sync info` answers on the master: `b` replicates to us-west.
    pub fn replicating(&mut self, b: &str) {
        self.add(
            &format!("bucket sync info --bucket={b} --rgw-zone=us-east"),
            0,
            &format!(
                "         bucket :{b}[x])\n\n    source zone e9bfab5d-a530-4a65-af46-832ad0a0f78e\n         bucket :{b}[x])\n"
            ),
        );
        self.add(
            &format!("sync info --bucket={b} --rgw-zone=us-east"),
            0,
            r#"{"sources": [], "dests": [{"id": "all", "source": {"zone": "us-east", "bucket": "b"}, "dest": {"zone": "us-west", "bucket": "b"}}]}"#,
        );
    }

    /// Adds (or replaces) the answer for a stub key.
    pub fn add(&mut self, key: &str, rc: i32, stdout: &str) {
        let slug = format!("c{}", self.index.len());
        std::fs::write(self.dir.join(format!("{slug}.stdout")), stdout).unwrap();
        std::fs::write(self.dir.join(format!("{slug}.stderr")), "").unwrap();
        std::fs::write(self.dir.join(format!("{slug}.rc")), rc.to_string()).unwrap();
        // Newest first, so a later answer for the same key wins.
        self.index.insert(0, format!("{slug}\t{key}"));
        std::fs::write(self.dir.join("commands.tsv"), self.index.join("\n") + "\n").unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the exporter with the stub as radosgw-admin replaying `fixtures`; fails the test if
/// it runs longer than `limit` (a config error must not start serving).
pub fn run_exporter(
    fixtures: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> Output {
    let stub = e2e_tests::binary("stub-radosgw-admin");
    let mut cmd = Command::new(e2e_tests::binary(EXPORTER));
    cmd.arg(format!("--radosgw-admin.command={}", stub.display()))
        .args(args)
        .env("STUB_RGW_FIXTURES", fixtures)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the exporter still ran after {limit:?} with {args:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
