//! The agent binary as a server: readiness, content type, and scrapes that never run
//! radosgw-admin.
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn scrapes_serve_the_cached_collection_and_cause_no_calls() {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("agent-http-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let child = Command::new(e2e_tests::binary("rgw-multisite-agent-exporter"))
        .arg(format!(
            "--radosgw-admin.command={}",
            e2e_tests::binary("stub-radosgw-admin").display()
        ))
        .args(["--zone=us-west", "--collection.interval=1h"])
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env(
            "STUB_RGW_FIXTURES",
            e2e_tests::capture_dir("pacific-behind"),
        )
        .env("STUB_RGW_LOG", &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Killed(child);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = TcpStream::connect(("127.0.0.1", port)).map(|_| get(port, "/-/ready"));
        if matches!(&r, Ok(s) if s.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "never became ready: {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let calls_before = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(
        calls_before > 30,
        "the first cycle made {calls_before} calls"
    );

    let first = get(port, "/metrics");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("content-type: text/plain; version=0.0.4; charset=utf-8"));
    assert!(first.contains(
        "rgw_multisite_data_sync_shards_behind{zone=\"us-west\",source_zone=\"us-east\"} 8"
    ));

    let threads: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || get(port, "/metrics")))
        .collect();
    for t in threads {
        let r = t.join().unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    }
    let calls_after = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(calls_before, calls_after, "scrapes ran radosgw-admin");
    assert!(get(port, "/-/healthy").starts_with("HTTP/1.1 200"));
    let _ = std::fs::remove_file(&log);
}

#[test]
fn port_in_use_fails_before_collecting() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(e2e_tests::binary("rgw-multisite-agent-exporter"))
        .arg("--radosgw-admin.command=/nonexistent/radosgw-admin")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    for (flag, needle) in [
        ("--collection.interval=0s", "must be positive"),
        ("--radosgw-admin.timeout=soon", "not a duration"),
        ("--web.telemetry-path=metrics", "must start with /"),
    ] {
        let out = Command::new(e2e_tests::binary("rgw-multisite-agent-exporter"))
            .arg(flag)
            .arg("--once")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{flag}: {err}");
    }
    let out = Command::new(e2e_tests::binary("rgw-multisite-agent-exporter"))
        .args([
            "--radosgw-admin.command=radosgw-admin 'unterminated",
            "--once",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--radosgw-admin.command"));
}
