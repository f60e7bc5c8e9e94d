//! The alert path on the real lab cluster (run by `.ci/lab-stage` with `--ignored`): both
//! exporters, a Prometheus loading `alerts/` and an Alertmanager with
//! `alerts/alertmanager.yml`, started here on free ports. A bucket created while the replica
//! is down must page: HIGH class -> `RGWMultisiteBucketHighPriority` (critical) -> the pager
//! receiver's webhook, with the bucket and zone in its labels.
//!
//! Only the `for:` durations are shortened (to 10s) and the webhook port rewritten, so the
//! test fits in minutes; the expressions, labels, routes and inhibitions are the shipped ones.

// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(name: &'static str, cmd: &mut Command) -> Proc {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Proc(child)
}

/// A webhook receiver: every POST body, in order.
fn webhook(port: u16) -> Arc<Mutex<Vec<String>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            sink.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = r
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    got
}

/// The shipped rule files with every `for:` shortened to 10s.
fn shortened_rules(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(e2e_tests::lab::repo().join("alerts"))
        .unwrap()
        .flatten()
    {
        let p = e.path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.ends_with(".rules.yml") || name.ends_with(".alerts.yml")) {
            continue;
        }
        let text: String = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(|l| match l.trim_start().strip_prefix("for:") {
                Some(_) => format!("{}for: 10s", &l[..l.len() - l.trim_start().len()]),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dst = dir.join(&name);
        std::fs::write(&dst, text).unwrap();
        out.push(dst);
    }
    assert!(!out.is_empty(), "no rule files in alerts/");
    out
}

fn http_get(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test alerts_lab -- --ignored"]
fn a_bucket_created_while_the_replica_is_down_pages_through_alertmanager() {
    let env = e2e_tests::lab::env();
    let work = std::env::temp_dir().join(format!("alerts-lab-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let [agent_port, exporter_port, prom_port, am_port, am_cluster, hook_port] =
        [0; 6].map(|_| free_port());
    let notifications = webhook(hook_port);

    let rgw = format!("--radosgw-admin.command={}", env["RADOSGW_ADMIN"]);
    let _agent = spawn(
        "agent",
        Command::new(e2e_tests::binary("rgw-multisite-agent-exporter")).args([
            rgw.as_str(),
            "--zone=us-west",
            "--collection.interval=5s",
            &format!("--web.listen-address=127.0.0.1:{agent_port}"),
        ]),
    );
    let _exporter = spawn(
        "exporter",
        Command::new(e2e_tests::binary("rgw-multisite-exporter")).args([
            rgw.as_str(),
            "--collection.interval=5s",
            &format!("--web.listen-address=127.0.0.1:{exporter_port}"),
        ]),
    );

    let am_config = std::fs::read_to_string(e2e_tests::lab::repo().join("alerts/alertmanager.yml"))
        .unwrap()
        .replace("127.0.0.1:9095", &format!("127.0.0.1:{hook_port}"))
        .replace("group_wait: 30s", "group_wait: 2s");
    std::fs::write(work.join("alertmanager.yml"), am_config).unwrap();
    let _am = spawn(
        "alertmanager",
        Command::new("prometheus-alertmanager").args([
            format!("--config.file={}", work.join("alertmanager.yml").display()),
            format!("--storage.path={}", work.join("am").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            format!("--cluster.listen-address=127.0.0.1:{am_cluster}"),
        ]),
    );
    let rules = shortened_rules(&work);
    let rule_list: Vec<String> = rules
        .iter()
        .map(|p| format!("  - {}", p.display()))
        .collect();
    let prom_config = format!(
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n\
         rule_files:\n{}\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
         scrape_configs:\n\
         \x20 - job_name: rgw-multisite-agent\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n\
         \x20 - job_name: rgw-multisite-exporter\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n",
        rule_list.join("\n")
    );
    std::fs::write(work.join("prometheus.yml"), prom_config).unwrap();
    let _prom = spawn(
        "prometheus",
        Command::new("prometheus").args([
            format!("--config.file={}", work.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", work.join("prom").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ]),
    );

    let bucket = format!("alert-{}", std::process::id());
    e2e_tests::lab::run(&["fault", "bucket-while-down", &bucket]);
    let start = Instant::now();
    let page = loop {
        let found = notifications.lock().unwrap().iter().find_map(|n| {
            let v: serde_json::Value = serde_json::from_str(n).ok()?;
            let alerts = v["alerts"].as_array()?;
            alerts
                .iter()
                .any(|a| {
                    a["labels"]["alertname"] == "RGWMultisiteBucketHighPriority"
                        && a["labels"]["bucket"] == bucket.as_str()
                        && a["status"] == "firing"
                })
                .then(|| v.clone())
        });
        if let Some(v) = found {
            break v;
        }
        if start.elapsed() > Duration::from_secs(360) {
            let alerts = http_get(prom_port, "/api/v1/alerts");
            let exp = http_get(exporter_port, "/metrics");
            let lines: Vec<&str> = exp.lines().filter(|l| l.contains(&bucket)).collect();
            e2e_tests::lab::run(&["heal", "bucket-while-down", &bucket]);
            panic!(
                "no page for {bucket} within 6 minutes.\nPrometheus alerts: {alerts}\n\
                 exporter lines for the bucket: {lines:#?}\nnotifications: {:#?}",
                notifications.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    eprintln!(
        "[lab] page for {bucket} after {:.0}s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(page["receiver"], "pager", "{page:#}");
    let alert = page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["bucket"] == bucket.as_str())
        .unwrap();
    assert_eq!(alert["labels"]["severity"], "critical", "{alert:#}");
    assert_eq!(alert["labels"]["zone"], "us-west", "{alert:#}");
    assert!(
        alert["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.contains("runbook.md#")),
        "{alert:#}"
    );
    e2e_tests::lab::run(&["heal", "bucket-while-down", &bucket]);
    let _ = std::fs::remove_dir_all(&work);
}
