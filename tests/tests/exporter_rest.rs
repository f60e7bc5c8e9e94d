//! End-to-end: the exporter in REST mode against a local stand-in for the RGW admin API
//! that checks each request's SigV4 signature and answers with responses captured from the
//! lab's radosgw (`tests/fixtures/rest/`), including the 403 a wrong secret gets.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

mod exporter_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_tests::value;
use exporter_support::{run_exporter, text, Scenario};
use rgw_multisite::rest::{authorization, Credentials, SigningRequest};

const ACCESS: &str = "EXPORTERTESTKEY00001";
const SECRET: &str = "test-secret-not-a-real-key-0123456789abc";

fn rest_fixture(name: &str) -> String {
    let p: PathBuf = e2e_tests::fixtures_dir().join("rest").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
struct Seen {
    path_and_query: String,
    headers: HashMap<String, String>,
    signature_ok: bool,
}

/// A minimal HTTP/1.1 server: verifies SigV4 with the known secret and answers with the
/// captured body, or RGW's 403 for a bad signature.
struct FakeAdminApi {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeAdminApi {
    fn start(ok_body: String) -> FakeAdminApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let denied = rest_fixture("pacific-403-signature-does-not-match.json");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = handle(stream, &ok_body, &denied);
                if let Some(s) = s {
                    log.lock().unwrap().push(s);
                }
            }
        });
        FakeAdminApi { port, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(stream: TcpStream, ok_body: &str, denied: &str) -> Option<Seen> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = HashMap::new();
    loop {
        let mut l = String::new();
        reader.read_line(&mut l).ok()?;
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let signed = |name: &str| headers.get(name).map(String::as_str).unwrap_or("");
    let expected = authorization(
        &SigningRequest {
            method: &method,
            path,
            query: &pairs,
            headers: &[
                ("host", signed("host")),
                ("x-amz-content-sha256", signed("x-amz-content-sha256")),
                ("x-amz-date", signed("x-amz-date")),
            ],
            payload_sha256: signed("x-amz-content-sha256"),
        },
        &Credentials::new(ACCESS, SECRET),
        "us-east-1",
        "s3",
        signed("x-amz-date"),
    );
    let signature_ok = signed("authorization") == expected;
    let (status, body) = if signature_ok && path == "/admin/bucket" {
        ("200 OK", ok_body)
    } else {
        ("403 Forbidden", denied)
    };
    let mut w = stream;
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = w.flush();
    // Drain anything left so the client sees a clean close.
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    Some(Seen {
        path_and_query: target,
        headers,
        signature_ok,
    })
}

/// The lab capture's period and master stats, the replica read over REST from `api`.
fn rest_scenario(name: &str, api: &FakeAdminApi, secret: &str) -> (Scenario, String) {
    let mut s = Scenario::new(name, &[], &[]);
    s.add(
        "period get --rgw-zone=us-east",
        0,
        &rest_fixture("pacific-period-get.json"),
    );
    let master = rest_fixture("pacific-cli-bucket-stats-us-east.json");
    s.add("bucket stats --rgw-zone=us-east", 0, &master);
    let buckets: Vec<serde_json::Value> = serde_json::from_str(&master).unwrap();
    for b in &buckets {
        s.replicating(b["bucket"].as_str().unwrap());
    }
    let ak = s.path("access_key");
    let sk = s.path("secret_key");
    std::fs::write(&ak, format!("{ACCESS}\n")).unwrap();
    std::fs::write(&sk, format!("{secret}\n")).unwrap();
    let cfg = s.path("exporter.yml");
    std::fs::write(
        &cfg,
        format!(
            "zone: us-east\nbucket_stats:\n  mode: rest\nrest:\n  access_key_file: {}\n  secret_key_file: {}\n  timeout: 10s\nzones:\n  us-west:\n    endpoint: {}\ncollector:\n  sync_errors: false\n",
            ak.display(),
            sk.display(),
            api.endpoint()
        ),
    )
    .unwrap();
    let arg = format!("--config.file={}", cfg.display());
    (s, arg)
}

#[test]
fn rest_mode_reads_the_replica_through_the_signed_admin_api() {
    let api = FakeAdminApi::start(rest_fixture("pacific-admin-bucket-stats-us-west.json"));
    let (s, cfg) = rest_scenario("rest-ok", &api, SECRET);
    let out = run_exporter(&s.dir, &[&cfg, "--once"], &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let req = &seen[0];
    assert!(req.signature_ok, "{req:?}");
    assert_eq!(req.path_and_query, "/admin/bucket?format=json&stats=true");
    let auth = &req.headers["authorization"];
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS}/")),
        "{auth}"
    );
    assert!(auth.contains("/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="), "{auth}");
    // The replica's counts came from the admin API and were compared.
    for want in [
        "rgw_multisite_collector_success{collector=\"bucket_stats\"} 1",
        "rgw_multisite_bucket_stats_ok{zone=\"us-west\"} 1",
    ] {
        assert!(stdout.contains(want), "{want} missing:\n{stdout}");
    }
    let classes: f64 = ["synced", "low", "medium", "high"]
        .iter()
        .filter_map(|c| {
            value(
                &stdout,
                &format!("rgw_multisite_buckets{{zone=\"us-west\",priority=\"{c}\"}}"),
            )
        })
        .sum();
    assert_eq!(
        Some(classes),
        value(
            &stdout,
            "rgw_multisite_bucket_stats_buckets{zone=\"us-east\"}"
        ),
        "{stdout}"
    );
    // The capture was taken during the lab's silent-gap fault: the gap bucket holds 15 of
    // 20 objects on us-west, as the admin API reported it.
    let high: Vec<(String, f64)> = e2e_tests::samples(&stdout)
        .into_iter()
        .filter(|(s, v)| s.starts_with("rgw_multisite_bucket_sync_priority{") && *v == 3.0)
        .collect();
    assert_eq!(high.len(), 1, "{stdout}");
    let gap = high[0].0.replace("rgw_multisite_bucket_sync_priority", "");
    assert_eq!(
        value(
            &stdout,
            &format!("rgw_multisite_bucket_objects_behind{gap}")
        ),
        Some(5.0)
    );
    assert_eq!(
        value(&stdout, &format!("rgw_multisite_bucket_sync_ratio{gap}")),
        Some(0.75)
    );
    assert!(
        !stdout.contains("rgw_multisite_command_errors_total{"),
        "{stdout}"
    );
    assert!(!stderr.contains(SECRET) && !stdout.contains(SECRET));
}

#[test]
fn a_wrong_secret_is_a_clear_error_and_metrics_not_a_crash() {
    let api = FakeAdminApi::start(rest_fixture("pacific-admin-bucket-stats-us-west.json"));
    let wrong = "wrong-secret-wrong-secret-wrong-secret-00";
    let (s, cfg) = rest_scenario("rest-wrong", &api, wrong);
    let out = run_exporter(&s.dir, &[&cfg, "--once"], &[], Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "a failed collector makes --once fail"
    );
    assert!(!api.seen().is_empty());
    for want in [
        "rgw_multisite_collector_success{collector=\"bucket_stats\"} 0",
        "rgw_multisite_collector_success{collector=\"bucket_compare\"} 1",
        "rgw_multisite_bucket_stats_ok{zone=\"us-west\"} 0",
        "rgw_multisite_bucket_stats_ok{zone=\"us-east\"} 1",
        "rgw_multisite_rest_errors_total{zone=\"us-west\",kind=\"auth\"} 1",
        "rgw_multisite_command_errors_total{command=\"GET /admin/bucket\",kind=\"exit\"} 1",
        "rgw_multisite_up 1",
    ] {
        assert!(stdout.contains(want), "{want} missing:\n{stdout}");
    }
    assert!(
        stderr.contains("HTTP 403 SignatureDoesNotMatch"),
        "{stderr}"
    );
    assert!(
        stderr.contains("check the access key, the secret key"),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong) && !stdout.contains(wrong));
}

#[test]
fn an_unreachable_endpoint_counts_a_connect_error() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = FakeAdminApi {
        port,
        seen: Arc::default(),
    };
    let (s, cfg) = rest_scenario("rest-down", &api, SECRET);
    let out = run_exporter(&s.dir, &[&cfg, "--once"], &[], Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(!out.status.success());
    for want in [
        "rgw_multisite_rest_errors_total{zone=\"us-west\",kind=\"connect\"} 1",
        "rgw_multisite_command_errors_total{command=\"GET /admin/bucket\",kind=\"spawn\"} 1",
        "rgw_multisite_collector_success{collector=\"bucket_stats\"} 0",
    ] {
        assert!(stdout.contains(want), "{want} missing:\n{stdout}");
    }
}
