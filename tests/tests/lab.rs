//! Against the real lab cluster (run by `.ci/lab-stage` with `--ignored`, lab up): the agent
//! sees a stopped zone as behind, recovers to zero after healing, and counts injected sync
//! errors under the right source zone.
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{samples, value};

struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(bin: &str, args: &[String]) -> Exporter {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(e2e_tests::binary(bin))
            .args(args)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Exporter { child, port }
    }

    fn metrics(&self) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        );
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// Polls /metrics until `cond` holds, or fails with the last exposition.
    fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let m = self.metrics();
            if cond(&m) {
                eprintln!("[lab] {what}: after {:.0}s", start.elapsed().as_secs_f64());
                return m;
            }
            if start.elapsed() > timeout {
                panic!("[lab] {what}: not seen within {timeout:?}; last metrics:\n{m}");
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

fn put_objects(env: &HashMap<String, String>, bucket: &str, n: usize, prefix: &str) {
    let dir = std::env::temp_dir().join(format!("lab-put-{}-{prefix}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("{prefix}-{i:03}")), vec![b'x'; 1000 + i]).unwrap();
    }
    let st = Command::new("s3cmd")
        .args(["-q", "-c", &env["S3CFG_US_EAST"], "put", "--recursive"])
        .arg(format!("{}/", dir.display()))
        .arg(format!("s3://{bucket}/"))
        .status()
        .unwrap();
    assert!(st.success(), "s3cmd put to {bucket} failed");
    let _ = std::fs::remove_dir_all(&dir);
}

const SRC: &str = r#"zone="us-west",source_zone="us-east""#;

fn num(m: &str, series: &str) -> f64 {
    value(m, series).unwrap_or(f64::NAN)
}

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test lab -- --ignored"]
fn agent_reports_a_stopped_zone_recovery_and_injected_errors() {
    let env = e2e_tests::lab::env();
    let agent = Exporter::start(
        "rgw-multisite-agent-exporter",
        &[
            format!("--radosgw-admin.command={}", env["RADOSGW_ADMIN"]),
            "--zone=us-west".into(),
            "--collection.interval=5s".into(),
            "--radosgw-admin.timeout=60s".into(),
        ],
    );
    let minutes = |n: u64| Duration::from_secs(60 * n);
    agent.wait_for("caught up at start", minutes(4), |m| {
        num(
            m,
            &format!("rgw_multisite_data_sync_shards_behind{{{SRC}}}"),
        ) == 0.0
            && num(m, &format!("rgw_multisite_data_sync_ok{{{SRC}}}")) == 1.0
    });

    // us-west stops pulling while us-east takes writes.
    e2e_tests::lab::run(&["fault", "zone-down", "us-west"]);
    put_objects(&env, "bucket-1", 30, "behind-a");
    put_objects(&env, "bucket-2", 30, "behind-b");
    let m = agent.wait_for("behind with lag and lagging buckets", minutes(4), |m| {
        num(
            m,
            &format!("rgw_multisite_data_sync_shards_behind{{{SRC}}}"),
        ) > 0.0
            && num(m, &format!("rgw_multisite_data_sync_lag_seconds{{{SRC}}}")) > 0.0
            && num(
                m,
                &format!("rgw_multisite_bucket_sync_caught_up{{{SRC},bucket=\"bucket-1\"}}"),
            ) == 0.0
            && num(
                m,
                &format!("rgw_multisite_bucket_sync_caught_up{{{SRC},bucket=\"bucket-2\"}}"),
            ) == 0.0
    });
    assert!(num(&m, &format!("rgw_multisite_buckets_behind{{{SRC}}}")) >= 2.0);
    assert_eq!(num(&m, "rgw_multisite_up"), 1.0);

    e2e_tests::lab::run(&["heal", "zone-down", "us-west"]);
    agent.wait_for("back to zero after healing", minutes(5), |m| {
        num(
            m,
            &format!("rgw_multisite_data_sync_shards_behind{{{SRC}}}"),
        ) == 0.0
            && num(m, &format!("rgw_multisite_data_sync_lag_seconds{{{SRC}}}")) == 0.0
            && num(m, &format!("rgw_multisite_buckets_behind{{{SRC}}}")) == 0.0
    });

    // Injected fetch errors land in the error log under the source zone's name.
    e2e_tests::lab::run(&["fault", "inject-errors"]);
    let m = agent.wait_for("sync errors counted", minutes(4), |m| {
        samples(m).iter().any(|(s, v)| {
            s.starts_with("rgw_multisite_sync_errors{") && s.contains(SRC) && *v > 0.0
        })
    });
    assert!(
        samples(&m).iter().any(
            |(s, v)| s.starts_with("rgw_multisite_sync_errors_observed_total{")
                && s.contains(SRC)
                && *v > 0.0
        ),
        "{m}"
    );
    assert!(!m.contains("source_zone=\"unknown\""), "{m}");
    e2e_tests::lab::run(&["heal", "inject-errors"]);
}
