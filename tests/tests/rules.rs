//! Alerting and dashboards: promtool/amtool checks and unit tests of `alerts/`, a lint of every
//! Grafana dashboard in `grafana/dashboards/`, and a check that every metric named in rules,
//! rule tests and dashboards is in the metric contract (`alerts/metrics-contract.txt`).
//!
//! promtool is required: without it these tests fail and say how to install it. amtool and
//! Alertmanager are used when installed (Debian's `prometheus-alertmanager` ships both).
//!
//! The contract file lists the `rgw_multisite_*` names of DESIGN.md's "Metric contract", one per
//! line. It is kept in the repository rather than read from DESIGN.md so that these tests run
//! where the design notes are absent; it is meant to be checked against the exporters' golden
//! outputs as well.

// A failed expectation in a test is the test failing, with the message given. Indexing is
// into serde_json/serde_yaml values, where a missing key or index reads as null; no panic.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

/// Every alert's `runbook_url` is this base plus the alert name in lower case.
const RUNBOOK_BASE: &str =
    "https://github.com/rgw-multisite-exporter/rgw-multisite-exporter/blob/main/alerts/runbook.md#";
/// Fixed uid of the provisioned Prometheus datasource.
const DATASOURCE_UID: &str = "rgw-multisite-prometheus";
/// What every dashboard panel and query must use as datasource uid.
const DATASOURCE_VAR: &str = "${datasource}";
/// Oldest acceptable dashboard schema (Grafana 9.x); the dashboards are written at 39.
const MIN_SCHEMA_VERSION: u64 = 36;
/// The lab's webhook receiver, which the example Alertmanager config notifies.
const LAB_WEBHOOK: &str = "http://127.0.0.1:9095/";

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// Files of `dir` whose name ends with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    out.sort();
    out
}

/// Rule files: `alerts/*.rules.yml` and `alerts/*.alerts.yml` (alerts/ also holds
/// alertmanager.yml, which is not a rule file).
fn rule_files() -> Vec<PathBuf> {
    let dir = repo().join("alerts");
    let mut v = files(&dir, ".rules.yml");
    v.extend(files(&dir, ".alerts.yml"));
    assert!(
        v.len() >= 2,
        "expected recording and alerting rule files in {}",
        dir.display()
    );
    v
}

fn rule_test_files() -> Vec<PathBuf> {
    let v = files(&repo().join("alerts/tests"), ".test.yml");
    assert!(!v.is_empty(), "no alerts/tests/*.test.yml");
    v
}

fn dashboard_files() -> Vec<PathBuf> {
    let v = files(&repo().join("grafana/dashboards"), ".json");
    assert!(!v.is_empty(), "no grafana/dashboards/*.json");
    v
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Yaml {
    serde_yaml::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()))
}

fn json(path: &Path) -> Json {
    serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()))
}

/// A fresh scratch directory under Cargo's per-test-target tmp dir.
fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rules-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// None, empty or only whitespace.
fn blank(v: Option<&str>) -> bool {
    v.unwrap_or_default().trim().is_empty()
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// External tools
// ---------------------------------------------------------------------------------------------

/// `$ENV` if set, else the first of `names` found on PATH.
fn find_tool(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

fn promtool() -> PathBuf {
    find_tool("PROMTOOL", &["promtool"]).unwrap_or_else(|| {
        panic!(
            "promtool not found on PATH (or in $PROMTOOL). These tests check the alerting rules \
             with it and cannot pass without it. Install it with the Debian package `prometheus`: \
             apt-get install --no-install-recommends prometheus"
        )
    })
}

fn amtool() -> Option<PathBuf> {
    let t = find_tool("AMTOOL", &["amtool"]);
    if t.is_none() {
        eprintln!(
            "SKIPPED: amtool not found (Debian package `prometheus-alertmanager`); \
             alerts/alertmanager.yml not checked"
        );
    }
    t
}

/// Runs the command; Ok(stdout + stderr) on exit 0, Err(the same, with the command) otherwise.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}):\n{text}", out.status))
    }
}

fn promtool_check_rules(files: &[PathBuf]) -> Result<String, String> {
    run(Command::new(promtool())
        .arg("check")
        .arg("rules")
        .args(files))
}

fn promtool_test_rules(files: &[PathBuf]) -> Result<String, String> {
    run(Command::new(promtool())
        .arg("test")
        .arg("rules")
        .args(files))
}

// ---------------------------------------------------------------------------------------------
// promtool and amtool
// ---------------------------------------------------------------------------------------------

#[test]
fn promtool_check_rules_accepts_the_rule_files() {
    if let Err(e) = promtool_check_rules(&rule_files()) {
        panic!("{e}");
    }
}

#[test]
fn promtool_unit_tests_pass() {
    if let Err(e) = promtool_test_rules(&rule_test_files()) {
        panic!("{e}");
    }
}

/// The two checks above must be able to fail.
#[test]
fn promtool_rejects_a_broken_rule_and_a_wrong_expectation() {
    let dir = scratch("negative");
    let bad = dir.join("bad.rules.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: x\n    rules:\n      - record: x:y:z\n        expr: sum(rate(up[5m])\n",
    )
    .expect("write bad rules");
    let err = promtool_check_rules(&[bad]).expect_err("promtool accepted an unparsable expression");
    assert!(err.contains("parse"), "unexpected promtool output: {err}");

    let alerts = repo().join("alerts/rgw-multisite.alerts.yml");
    let rules = repo().join("alerts/rgw-multisite.rules.yml");
    let test = dir.join("wrong.test.yml");
    let doc = format!(
        r#"rule_files: ["{}", "{}"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{{job="rgw-multisite-exporter",instance="e:9241"}}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: RGWMultisiteExporterDown
        exp_alerts: []
"#,
        rules.display(),
        alerts.display()
    );
    std::fs::write(&test, doc).expect("write test");
    let err = promtool_test_rules(&[test]).expect_err("promtool accepted a wrong expectation");
    assert!(
        err.contains("RGWMultisiteExporterDown"),
        "unexpected promtool output: {err}"
    );
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    let Some(amtool) = amtool() else { return };
    let cfg = repo().join("alerts/alertmanager.yml");
    if let Err(e) = run(Command::new(amtool).arg("check-config").arg(&cfg)) {
        panic!("{e}");
    }
}

#[test]
fn alertmanager_routes_critical_to_the_pager_and_the_rest_to_default() {
    let Some(amtool) = amtool() else { return };
    let cfg = repo().join("alerts/alertmanager.yml");
    let route = |labels: &[&str]| -> String {
        let out = run(Command::new(&amtool)
            .args(["config", "routes", "test", "--config.file"])
            .arg(&cfg)
            .args(labels))
        .unwrap_or_else(|e| panic!("{e}"));
        // stdout is the receiver; a warning about --alertmanager.url may follow on stderr.
        out.lines().next().unwrap_or_default().trim().to_string()
    };
    assert_eq!(
        route(&[
            "severity=critical",
            "zone=us-west",
            "alertname=RGWMultisiteBucketHighPriority"
        ]),
        "pager"
    );
    assert_eq!(
        route(&[
            "severity=warning",
            "zone=us-west",
            "alertname=RGWMultisiteDataSyncLagging"
        ]),
        "default"
    );
    assert_eq!(route(&["alertname=Other"]), "default");

    let doc = yaml(&cfg);
    let group_by: Vec<&str> = doc["route"]["group_by"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(
        group_by.contains(&"zone") && group_by.contains(&"source_zone"),
        "route.group_by must hold zone and source_zone, has {group_by:?}"
    );
    let receivers = doc["receivers"].as_sequence().expect("receivers");
    for r in receivers {
        let url = r["webhook_configs"][0]["url"].as_str();
        assert_eq!(
            url,
            Some(LAB_WEBHOOK),
            "receiver {:?} must notify the lab webhook",
            r["name"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Alertmanager inhibition, against a real Alertmanager
// ---------------------------------------------------------------------------------------------

/// Kills the child on drop, so a failing test does not leave Alertmanager running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 exchange (no chunked encoding, the server closes the connection).
fn http(port: u16, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header in {resp:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

#[test]
fn alertmanager_inhibits_bucket_alerts_of_a_zone_whose_agent_is_down_or_unreadable() {
    let Some(bin) = find_tool("ALERTMANAGER", &["prometheus-alertmanager", "alertmanager"]) else {
        eprintln!("SKIPPED: Alertmanager not found (Debian package `prometheus-alertmanager`)");
        return;
    };
    let dir = scratch("alertmanager");
    // Never notify the lab's receiver from a test: point the webhooks at the discard port.
    let cfg_text = read(&repo().join("alerts/alertmanager.yml"));
    assert!(cfg_text.contains(LAB_WEBHOOK));
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(&cfg, cfg_text.replace(LAB_WEBHOOK, "http://127.0.0.1:9/"))
        .expect("write config");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let _am = Reaped(
        Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(port, "GET", "/-/ready", "").map(|r| r.0) != Ok(200) {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let alert = |name: &str, severity: &str, labels: &[(&str, &str)]| {
        let mut l = serde_json::Map::new();
        l.insert("alertname".into(), name.into());
        l.insert("severity".into(), severity.into());
        for (k, v) in labels {
            l.insert((*k).into(), (*v).into());
        }
        serde_json::json!({ "labels": l })
    };
    let alerts = serde_json::json!([
        // us-west: agent down. us-central: data sync unreadable. us-south: neither.
        alert(
            "RGWMultisiteAgentDown",
            "critical",
            &[("zone", "us-west"), ("instance", "w:9240")]
        ),
        alert(
            "RGWMultisiteDataSyncStatusUnreadable",
            "critical",
            &[("zone", "us-central"), ("source_zone", "us-east")]
        ),
        alert(
            "RGWMultisiteBucketHighPriority",
            "critical",
            &[("zone", "us-west"), ("bucket", "photos")]
        ),
        alert(
            "RGWMultisiteSilentReplicaGap",
            "warning",
            &[("zone", "us-west"), ("bucket", "docs")]
        ),
        alert(
            "RGWMultisiteBucketMediumPriority",
            "warning",
            &[("zone", "us-central"), ("bucket", "logs")]
        ),
        alert(
            "RGWMultisiteBucketHighPriority",
            "critical",
            &[("zone", "us-south"), ("bucket", "photos")]
        ),
        alert(
            "RGWMultisiteDataSyncLagging",
            "warning",
            &[("zone", "us-west"), ("source_zone", "us-east")]
        ),
    ]);
    let (status, body) =
        http(port, "POST", "/api/v2/alerts", &alerts.to_string()).expect("post alerts");
    assert_eq!(status, 200, "posting alerts: {body}");

    let expected: BTreeMap<(String, String), &str> = [
        (("RGWMultisiteAgentDown", "us-west"), "active"),
        (
            ("RGWMultisiteDataSyncStatusUnreadable", "us-central"),
            "active",
        ),
        (("RGWMultisiteBucketHighPriority", "us-west"), "suppressed"),
        (("RGWMultisiteSilentReplicaGap", "us-west"), "suppressed"),
        (
            ("RGWMultisiteBucketMediumPriority", "us-central"),
            "suppressed",
        ),
        (("RGWMultisiteBucketHighPriority", "us-south"), "active"),
        (("RGWMultisiteDataSyncLagging", "us-west"), "active"),
    ]
    .into_iter()
    .map(|((a, z), s)| ((a.to_string(), z.to_string()), s))
    .collect();
    // Inhibition is computed as alerts arrive; poll until it settles.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http(port, "GET", "/api/v2/alerts", "").expect("get alerts");
        let got: BTreeMap<(String, String), String> = serde_json::from_str::<Json>(&body)
            .expect("alerts JSON")
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let l = &a["labels"];
                let key = (
                    l["alertname"].as_str().unwrap_or_default().to_string(),
                    l["zone"].as_str().unwrap_or_default().to_string(),
                );
                (
                    key,
                    a["status"]["state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        let got_ref: BTreeMap<(String, String), &str> =
            got.iter().map(|(k, v)| (k.clone(), v.as_str())).collect();
        if got_ref == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inhibition: expected {expected:#?}\ngot {got_ref:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// Alert rules: annotations, runbook, tests
// ---------------------------------------------------------------------------------------------

/// Every rule of the given files as (file name, rule mapping).
fn rules(files: &[PathBuf]) -> Vec<(String, Yaml)> {
    let mut out = vec![];
    for f in files {
        let doc = yaml(f);
        for g in doc["groups"].as_sequence().into_iter().flatten() {
            for r in g["rules"].as_sequence().into_iter().flatten() {
                out.push((name(f), r.clone()));
            }
        }
    }
    out
}

fn alert_rules() -> Vec<Yaml> {
    rules(&rule_files())
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r["alert"].is_string())
        .collect()
}

fn alert_names() -> BTreeSet<String> {
    alert_rules()
        .iter()
        .filter_map(|r| r["alert"].as_str().map(String::from))
        .collect()
}

fn recorded_names() -> BTreeSet<String> {
    rules(&rule_files())
        .iter()
        .filter_map(|(_, r)| r["record"].as_str().map(String::from))
        .collect()
}

#[test]
fn every_alert_has_for_severity_summary_description_and_a_runbook_section() {
    let runbook = read(&repo().join("alerts/runbook.md"));
    let headings: BTreeSet<&str> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(str::trim)
        .collect();
    let mut problems = vec![];
    let alerts = alert_rules();
    assert!(
        alerts.len() >= 10,
        "expected the full set of alerts, found {}",
        alerts.len()
    );
    for r in &alerts {
        let a = r["alert"].as_str().unwrap_or_default();
        if blank(r["for"].as_str()) {
            problems.push(format!("{a}: no `for:`"));
        }
        match r["labels"]["severity"].as_str() {
            Some("critical" | "warning") => {}
            other => problems.push(format!(
                "{a}: severity must be critical or warning, is {other:?}"
            )),
        }
        let ann = &r["annotations"];
        if blank(ann["summary"].as_str()) {
            problems.push(format!("{a}: no summary"));
        }
        if !ann["description"]
            .as_str()
            .is_some_and(|d| d.contains("{{"))
        {
            problems.push(format!("{a}: description missing or not templated"));
        }
        let want = format!("{RUNBOOK_BASE}{}", a.to_lowercase());
        if ann["runbook_url"].as_str() != Some(want.as_str()) {
            problems.push(format!(
                "{a}: runbook_url must be {want}, is {:?}",
                ann["runbook_url"]
            ));
        }
        if !headings.contains(a) {
            problems.push(format!("{a}: no `## {a}` section in alerts/runbook.md"));
        }
    }
    let names = alert_names();
    for h in headings.iter().filter(|h| h.starts_with("RGWMultisite")) {
        if !names.contains(*h) {
            problems.push(format!("runbook.md documents {h}, which is not an alert"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn high_class_pages_and_medium_warns() {
    let by_name: BTreeMap<String, Yaml> = alert_rules()
        .into_iter()
        .map(|r| (r["alert"].as_str().unwrap_or_default().to_string(), r))
        .collect();
    let check = |alert: &str, severity: &str, class: &str| {
        let r = by_name
            .get(alert)
            .unwrap_or_else(|| panic!("no alert {alert}"));
        assert_eq!(r["labels"]["severity"].as_str(), Some(severity), "{alert}");
        let expr = r["expr"].as_str().unwrap_or_default();
        assert!(
            expr.contains(&format!("rgw_multisite_bucket_sync_priority == {class}")),
            "{alert}: {expr}"
        );
    };
    check("RGWMultisiteBucketHighPriority", "critical", "3");
    check("RGWMultisiteBucketMediumPriority", "warning", "2");
}

/// Per alert name: (has a firing case, has a quiet case) across all promtool test files.
fn alert_test_cases(files: &[PathBuf]) -> BTreeMap<String, (bool, bool)> {
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for f in files {
        let doc = yaml(f);
        for t in doc["tests"].as_sequence().into_iter().flatten() {
            for c in t["alert_rule_test"].as_sequence().into_iter().flatten() {
                let Some(a) = c["alertname"].as_str() else {
                    continue;
                };
                let firing = c["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty());
                let e = cases.entry(a.to_string()).or_default();
                if firing {
                    e.0 = true;
                } else {
                    e.1 = true;
                }
            }
        }
    }
    cases
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_test_case() {
    let cases = alert_test_cases(&rule_test_files());
    let names = alert_names();
    let mut problems = vec![];
    for a in &names {
        match cases.get(a) {
            None => problems.push(format!("{a}: no promtool test case")),
            Some((false, _)) => problems.push(format!("{a}: no firing test case")),
            Some((_, false)) => problems.push(format!("{a}: no quiet test case")),
            Some(_) => {}
        }
    }
    // A quiet case for a misspelt alert name would pass without testing anything.
    for a in cases.keys().filter(|a| !names.contains(*a)) {
        problems.push(format!("tests name alert {a}, which does not exist"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_recording_rule_is_tested() {
    let mut tested = BTreeSet::new();
    for f in rule_test_files() {
        let doc = yaml(&f);
        for t in doc["tests"].as_sequence().into_iter().flatten() {
            for c in t["promql_expr_test"].as_sequence().into_iter().flatten() {
                let expr = c["expr"].as_str().unwrap_or_default();
                tested
                    .extend(metric_names(expr).unwrap_or_else(|e| panic!("{}: {e}", f.display())));
            }
        }
    }
    let untested: Vec<_> = recorded_names()
        .into_iter()
        .filter(|r| !tested.contains(r))
        .collect();
    assert!(
        untested.is_empty(),
        "recording rules without a promql_expr_test: {untested:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Metric names
// ---------------------------------------------------------------------------------------------

fn contract() -> BTreeSet<String> {
    read(&repo().join("alerts/metrics-contract.txt"))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn contract_file_is_one_sorted_name_per_line() {
    let text = read(&repo().join("alerts/metrics-contract.txt"));
    let lines: Vec<&str> = text.lines().collect();
    let ok = |l: &str| {
        l.strip_prefix("rgw_multisite_")
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    };
    let bad: Vec<_> = lines.iter().filter(|l| !ok(l)).collect();
    assert!(bad.is_empty(), "not metric names: {bad:?}");
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        lines, sorted,
        "metrics-contract.txt must be sorted and free of duplicates"
    );
    assert!(
        lines.len() >= 30,
        "metrics-contract.txt looks truncated: {} names",
        lines.len()
    );
}

/// Names a rule or dashboard may use besides the contract: recording-rule outputs (with `:`),
/// Ceph's own metrics, and the series Prometheus itself writes per target and for alerts.
fn allowed_outside_contract(name: &str) -> bool {
    name.contains(':')
        || name.starts_with("ceph_")
        || matches!(
            name,
            "up" | "ALERTS"
                | "ALERTS_FOR_STATE"
                | "scrape_duration_seconds"
                | "scrape_samples_scraped"
        )
}

fn unknown_names<'a>(
    names: impl IntoIterator<Item = &'a String>,
    contract: &BTreeSet<String>,
) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| !contract.contains(*n) && !allowed_outside_contract(n))
        .cloned()
        .collect()
}

/// Every PromQL expression of the rule files and of the promtool tests (alert and expression
/// tests, and the names of input series), as (where, expr).
fn rule_exprs() -> Vec<(String, String)> {
    let mut out = vec![];
    for (file, r) in rules(&rule_files()) {
        let what = r["record"]
            .as_str()
            .or(r["alert"].as_str())
            .unwrap_or("?")
            .to_string();
        out.push((
            format!("{file}: {what}"),
            r["expr"].as_str().unwrap_or_default().to_string(),
        ));
    }
    for f in rule_test_files() {
        let doc = yaml(&f);
        for t in doc["tests"].as_sequence().into_iter().flatten() {
            for s in t["input_series"].as_sequence().into_iter().flatten() {
                let series = s["series"].as_str().unwrap_or_default();
                out.push((format!("{}: input series", name(&f)), series.to_string()));
            }
            for c in t["promql_expr_test"].as_sequence().into_iter().flatten() {
                out.push((
                    format!("{}: promql_expr_test", name(&f)),
                    c["expr"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn rules_and_rule_tests_use_only_contract_metrics() {
    let contract = contract();
    let mut problems = vec![];
    for (what, expr) in rule_exprs() {
        match metric_names(&expr) {
            Ok(names) => {
                for n in unknown_names(&names, &contract) {
                    problems.push(format!(
                        "{what}: `{n}` is not in alerts/metrics-contract.txt"
                    ));
                }
            }
            Err(e) => problems.push(format!("{what}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn dashboards_use_only_contract_metrics_and_defined_recording_rules() {
    let contract = contract();
    let recorded = recorded_names();
    let mut problems = vec![];
    for f in dashboard_files() {
        for q in dashboard_queries(&json(&f)) {
            let names = match metric_names(&q.expr) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(format!("{} / {}: {e}", name(&f), q.source));
                    continue;
                }
            };
            for n in unknown_names(&names, &contract) {
                problems.push(format!(
                    "{} / {}: `{n}` is not in alerts/metrics-contract.txt",
                    name(&f),
                    q.source
                ));
            }
            for n in names
                .iter()
                .filter(|n| n.contains(':') && !recorded.contains(*n))
            {
                problems.push(format!(
                    "{} / {}: recording rule `{n}` is not defined in alerts/",
                    name(&f),
                    q.source
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn alerts_use_only_defined_recording_rules() {
    let recorded = recorded_names();
    let mut problems = vec![];
    for (what, expr) in rule_exprs() {
        for n in metric_names(&expr).unwrap_or_default() {
            if n.contains(':') && !recorded.contains(&n) {
                problems.push(format!("{what}: recording rule `{n}` is not defined"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "inf",
    "nan",
    "group_left",
    "group_right",
];
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects. A small tokenizer, not a parser: it skips
/// strings, label matchers `{...}`, ranges `[...]`, comments, numbers and durations, Grafana
/// variables, function and aggregation names, keywords and label lists of by/without/on/
/// ignoring/group_left/group_right. Whatever identifier remains names a metric. Whether the
/// expression parses at all is promtool's job (see `dashboard_queries_parse`).
fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let is_ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    // Index just past the closing `close` matching an opening at `i`, honouring strings.
    let skip_group = |mut i: usize, open: char, close: char| -> Result<usize, String> {
        let mut depth = 0;
        let mut quote: Option<char> = None;
        while let Some(c) = chars.get(i).copied() {
            match quote {
                Some(q) if c == '\\' && q != '`' => i += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
                None if c == open => depth += 1,
                None if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
                None => {}
            }
            i += 1;
        }
        Err(format!("unbalanced `{open}` in `{expr}`"))
    };
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while let Some(d) = at(i) {
                if d == '\\' && c != '`' {
                    i += 1;
                } else if d == c {
                    break;
                }
                i += 1;
            }
            if at(i).is_none() {
                return Err(format!("unterminated string in `{expr}`"));
            }
            i += 1;
        } else if c == '{' {
            i = skip_group(i, '{', '}')?;
        } else if c == '[' {
            i = skip_group(i, '[', ']')?;
        } else if c == '$' {
            // A Grafana variable: $name, ${name} or ${name:format}.
            i += 1;
            if at(i) == Some('{') {
                i = skip_group(i, '{', '}')?;
            } else {
                while at(i).is_some_and(is_ident) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // Numbers (1, 0.5, 1e3, 0x1f) and durations (5m, 1h30m).
            while at(i).is_some_and(|d| d.is_ascii_alphanumeric() || d == '.' || d == '_') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while at(i).is_some_and(is_ident) {
                i += 1;
            }
            let word: String = chars.get(start..i).unwrap_or_default().iter().collect();
            let mut j = i;
            while at(j).is_some_and(char::is_whitespace) {
                j += 1;
            }
            let lower = word.to_ascii_lowercase();
            if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                if at(j) == Some('(') {
                    i = skip_group(j, '(', ')')?;
                }
            } else if KEYWORDS.contains(&lower.as_str()) || AGGREGATIONS.contains(&lower.as_str()) {
                // not a metric
            } else if at(j) == Some('(') {
                // a function call
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    Ok(names)
}

#[test]
fn metric_name_extraction() {
    let names = |e: &str| {
        metric_names(e)
            .expect("tokenizes")
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            r#"sum by (zone, source_zone) (rate(rgw_multisite_sync_errors_observed_total{zone=~"$zone", error_code!="5"}[$__rate_interval])) > 0"#
        ),
        ["rgw_multisite_sync_errors_observed_total"]
    );
    assert_eq!(
        names(
            r#"(instance_zone:x:last1d and on (job, instance) (up{job="a"} == 0)) or on (job, instance) (rgw_multisite_up offset 5m == bool 0)"#
        ),
        ["instance_zone:x:last1d", "rgw_multisite_up", "up"]
    );
    assert_eq!(
        names(
            r#"label_replace(max by (zone) (foo) == 3, "class", "high", "", "") * on (zone) group_left (bucket) bar"#
        ),
        ["bar", "foo"]
    );
    assert_eq!(
        names(r#"topk(20, count_values without () ("p", baz{a="}"}[1h:5m]))"#),
        ["baz"]
    );
    assert_eq!(
        names(r#"time() - 1e3 * vector(1) # comment naming not_a_metric"#),
        Vec::<String>::new()
    );
    assert_eq!(
        names(r#"absent(up{job="x"}) or absent(ALERTS)"#),
        ["ALERTS", "up"]
    );
    assert!(
        metric_names(r#"sum(rate(x{a="b"[5m]))"#).is_err(),
        "unbalanced braces must be reported"
    );

    let contract: BTreeSet<String> = ["rgw_multisite_up".to_string()].into();
    let used = metric_names("rgw_multisite_up + rgw_multisite_typo + ceph_x + a:b:c + up")
        .expect("tokenizes");
    assert_eq!(unknown_names(&used, &contract), ["rgw_multisite_typo"]);
}

// ---------------------------------------------------------------------------------------------
// Dashboards
// ---------------------------------------------------------------------------------------------

/// A PromQL query of a dashboard and where it is.
struct Query {
    source: String,
    expr: String,
}

/// All panels, including those nested in collapsed rows.
fn panels(d: &Json) -> Vec<&Json> {
    let mut out = vec![];
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// The PromQL inside a templating query: `label_values(EXPR, label)` or `query_result(EXPR)`.
fn variable_expr(q: &str) -> Option<String> {
    let q = q.trim();
    if let Some(inner) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        // The label is after the last comma outside braces and strings.
        let mut depth = 0i32;
        let mut quote = false;
        let mut split = None;
        for (i, c) in inner.char_indices() {
            match c {
                '"' => quote = !quote,
                '{' | '(' if !quote => depth += 1,
                '}' | ')' if !quote => depth -= 1,
                ',' if !quote && depth == 0 => split = Some(i),
                _ => {}
            }
        }
        return split.map(|i| inner.get(..i).unwrap_or_default().trim().to_string());
    }
    q.strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
        .map(|e| e.trim().to_string())
}

fn dashboard_queries(d: &Json) -> Vec<Query> {
    let mut out = vec![];
    for p in panels(d) {
        let title = p["title"].as_str().unwrap_or("?");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                let r = t["refId"].as_str().unwrap_or("?");
                out.push(Query {
                    source: format!("panel {title:?} query {r}"),
                    expr: e.to_string(),
                });
            }
        }
    }
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap_or_default();
        if let Some(e) = variable_expr(q) {
            out.push(Query {
                source: format!("variable {}", v["name"]),
                expr: e,
            });
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(e) = a["expr"].as_str() {
            out.push(Query {
                source: format!("annotation {}", a["name"]),
                expr: e.to_string(),
            });
        }
    }
    out
}

/// Replaces Grafana variables with values PromQL accepts, so that promtool can parse a query:
/// interval variables become durations, every other variable `1` (valid in a label matcher
/// string and as a number).
fn substitute_variables(expr: &str) -> String {
    let mut s = expr.to_string();
    for (var, value) in [
        ("__rate_interval", "5m"),
        ("__interval_ms", "60000"),
        ("__interval", "1m"),
        ("__range_ms", "3600000"),
        ("__range_s", "3600"),
        ("__range", "1h"),
    ] {
        s = s
            .replace(&format!("${{{var}}}"), value)
            .replace(&format!("${var}"), value);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(pos) = rest.find('$') {
        out.push_str(rest.get(..pos).unwrap_or_default());
        let after = rest.get(pos + 1..).unwrap_or_default();
        let skip = if after.starts_with('{') {
            after.find('}').map_or(after.len(), |e| e + 1)
        } else {
            after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len())
        };
        out.push('1');
        rest = after.get(skip..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Functions whose range must adapt to the scrape interval and the zoom level.
const RATE_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "delta", "idelta", "deriv"];

/// Ranges `[...]` in an expression with the function they are an argument of.
fn ranges(expr: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut stack: Vec<String> = vec![];
    let mut word = String::new();
    let mut last_word = String::new();
    let mut chars = expr.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            last_word = std::mem::take(&mut word);
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' => stack.push(std::mem::take(&mut last_word)),
            ')' => {
                stack.pop();
                last_word.clear();
            }
            '[' => {
                let mut range = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    range.push(d);
                }
                out.push((
                    stack.last().cloned().unwrap_or_default(),
                    range.trim().to_string(),
                ));
            }
            c if c.is_whitespace() => {}
            _ => last_word.clear(),
        }
    }
    out
}

/// Problems of one dashboard; empty when it passes.
fn lint_dashboard(d: &Json) -> Vec<String> {
    let mut problems = vec![];
    let Some(top) = d.as_object() else {
        return vec!["not a JSON object".into()];
    };
    match top.get("uid").and_then(Json::as_str) {
        Some(u) if !u.is_empty() && u.len() <= 40 => {}
        other => problems.push(format!(
            "uid must be a string of 1..=40 characters, is {other:?}"
        )),
    }
    if top.contains_key("id") {
        problems.push(
            "has a top-level `id` (Grafana assigns it; provisioned dashboards must not carry one)"
                .into(),
        );
    }
    if blank(top.get("title").and_then(Json::as_str)) {
        problems.push("no title".into());
    }
    match top.get("schemaVersion").and_then(Json::as_u64) {
        Some(v) if v >= MIN_SCHEMA_VERSION => {}
        other => problems.push(format!(
            "schemaVersion must be >= {MIN_SCHEMA_VERSION}, is {other:?}"
        )),
    }

    let vars: Vec<&Json> = d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let ds_var = vars.iter().find(|v| v["name"] == "datasource");
    match ds_var {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        Some(v) => problems.push(format!(
            "variable `datasource` must be of type datasource for prometheus, is {v}"
        )),
        None => problems.push("no `datasource` template variable".into()),
    }
    for v in &vars {
        if v["type"] == "query" && v["datasource"]["uid"] != DATASOURCE_VAR {
            problems.push(format!(
                "variable {} does not use {DATASOURCE_VAR}",
                v["name"]
            ));
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if a["datasource"]["type"] == "prometheus" && a["datasource"]["uid"] != DATASOURCE_VAR {
            problems.push(format!(
                "annotation {} does not use {DATASOURCE_VAR}",
                a["name"]
            ));
        }
    }

    let all = panels(d);
    if all.is_empty() {
        problems.push("no panels".into());
    }
    for p in all {
        let title = p["title"].as_str().unwrap_or("?");
        let kind = p["type"].as_str().unwrap_or_default();
        let here = format!("panel {title:?}");
        if p.get("id").is_some() {
            problems.push(format!("{here}: has an `id`"));
        }
        if !p["gridPos"]["w"].is_u64() || !p["gridPos"]["h"].is_u64() {
            problems.push(format!("{here}: no gridPos"));
        }
        if kind == "row" || kind == "text" {
            continue;
        }
        if p["datasource"]["uid"] != DATASOURCE_VAR {
            problems.push(format!(
                "{here}: datasource must be {DATASOURCE_VAR}, is {}",
                p["datasource"]
            ));
        }
        if blank(p["fieldConfig"]["defaults"]["unit"].as_str()) {
            problems.push(format!("{here}: no unit (fieldConfig.defaults.unit)"));
        }
        let targets = p["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{here}: no queries"));
        }
        for t in targets {
            let r = t["refId"].as_str().unwrap_or("?");
            if t["datasource"]["uid"] != DATASOURCE_VAR {
                problems.push(format!(
                    "{here} query {r}: datasource must be {DATASOURCE_VAR}, is {}",
                    t["datasource"]
                ));
            }
            let expr = t["expr"].as_str().unwrap_or_default();
            if expr.trim().is_empty() {
                problems.push(format!("{here} query {r}: no expr"));
            }
            for (func, range) in ranges(expr) {
                if RATE_FUNCTIONS.contains(&func.as_str()) && range != "$__rate_interval" {
                    problems.push(format!(
                        "{here} query {r}: {func}() over [{range}]: use [$__rate_interval]"
                    ));
                } else if !range.starts_with('$') {
                    problems.push(format!(
                        "{here} query {r}: fixed range [{range}]: use a Grafana interval variable"
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn dashboards_pass_the_lint() {
    let mut problems = vec![];
    let mut uids = BTreeMap::new();
    for f in dashboard_files() {
        let d = json(&f);
        problems.extend(
            lint_dashboard(&d)
                .into_iter()
                .map(|p| format!("{}: {p}", name(&f))),
        );
        if let Some(prev) = uids.insert(d["uid"].to_string(), name(&f)) {
            problems.push(format!("{} and {prev} share uid {}", name(&f), d["uid"]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_lint_catches_bad_dashboards() {
    let ok = serde_json::json!({
        "uid": "x", "title": "X", "schemaVersion": 39,
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": [{
            "type": "timeseries", "title": "p", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": "s"}},
            "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
                         "expr": "sum(rate(up[$__rate_interval])) + max_over_time(up[$__range])"}]
        }]
    });
    assert_eq!(lint_dashboard(&ok), Vec::<String>::new());

    let bad = serde_json::json!({
        "id": 7, "uid": "", "title": "X", "schemaVersion": 27,
        "templating": {"list": [{"name": "zone", "type": "query", "datasource": {"uid": "P1809F7CD0C75ACF3"}}]},
        "panels": [{
            "id": 3, "type": "timeseries", "title": "p", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
            "datasource": {"type": "prometheus", "uid": "rgw-multisite-prometheus"},
            "fieldConfig": {"defaults": {}},
            "targets": [{"refId": "A", "expr": "rate(up[5m]) + increase(up[$__interval]) + max_over_time(up[1h])"}]
        }]
    });
    let problems = lint_dashboard(&bad).join("\n");
    for want in [
        "uid must be",
        "top-level `id`",
        "schemaVersion must be",
        "no `datasource` template variable",
        "variable \"zone\" does not use",
        "panel \"p\": has an `id`",
        "panel \"p\": datasource must be",
        "panel \"p\": no unit",
        "query A: datasource must be",
        "rate() over [5m]",
        "increase() over [$__interval]",
        "fixed range [1h]",
    ] {
        assert!(
            problems.contains(want),
            "lint did not report {want:?}; it said:\n{problems}"
        );
    }
}

#[test]
fn variable_substitution_and_extraction() {
    assert_eq!(
        substitute_variables(
            r#"rate(x{zone=~"$zone",b=~"${bucket:regex}"}[$__rate_interval]) > ${__range_s}"#
        ),
        r#"rate(x{zone=~"1",b=~"1"}[5m]) > 3600"#
    );
    assert_eq!(
        variable_expr(r#"label_values(rgw_multisite_buckets{priority="synced", a=~"x,y"}, zone)"#)
            .as_deref(),
        Some(r#"rgw_multisite_buckets{priority="synced", a=~"x,y"}"#)
    );
    assert_eq!(variable_expr("label_values(zone)"), None);
    assert_eq!(
        variable_expr("query_result(topk(5, up))").as_deref(),
        Some("topk(5, up)")
    );
}

/// promtool parses every dashboard query (variables replaced), as a throwaway rule file.
#[test]
fn dashboard_queries_parse() {
    let mut rules = vec![];
    let mut index = vec![];
    for f in dashboard_files() {
        for q in dashboard_queries(&json(&f)) {
            let record = format!("dashboard_query_{}", rules.len());
            index.push(format!("{record}: {} / {}: {}", name(&f), q.source, q.expr));
            let mut rule = serde_yaml::Mapping::new();
            rule.insert("record".into(), record.into());
            rule.insert("expr".into(), substitute_variables(&q.expr).into());
            rules.push(Yaml::Mapping(rule));
        }
    }
    assert!(
        rules.len() > 40,
        "suspiciously few dashboard queries: {}",
        rules.len()
    );
    let mut group = serde_yaml::Mapping::new();
    group.insert("name".into(), "dashboard-queries".into());
    group.insert("rules".into(), Yaml::Sequence(rules));
    let mut doc = serde_yaml::Mapping::new();
    doc.insert("groups".into(), Yaml::Sequence(vec![Yaml::Mapping(group)]));
    let dir = scratch("dashboard-queries");
    let file = dir.join("dashboard-queries.rules.yml");
    std::fs::write(&file, serde_yaml::to_string(&doc).expect("serialise")).expect("write rules");
    if let Err(e) = promtool_check_rules(&[file]) {
        panic!("{e}\nqueries:\n{}", index.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// Grafana provisioning
// ---------------------------------------------------------------------------------------------

#[test]
fn grafana_provisioning_names_the_datasource_and_the_dashboards_folder() {
    let ds = yaml(&repo().join("grafana/provisioning/datasources/prometheus.yml"));
    let d = &ds["datasources"][0];
    assert_eq!(d["uid"].as_str(), Some(DATASOURCE_UID));
    assert_eq!(d["type"].as_str(), Some("prometheus"));
    assert_eq!(
        d["isDefault"].as_bool(),
        Some(true),
        "the dashboards' datasource variable defaults to the default"
    );
    assert!(
        d["url"].as_str().is_some_and(|u| u.starts_with("http")),
        "datasource url: {:?}",
        d["url"]
    );

    let prov = yaml(&repo().join("grafana/provisioning/dashboards/dashboards.yml"));
    let p = &prov["providers"][0];
    assert_eq!(p["type"].as_str(), Some("file"));
    assert!(
        p["options"]["path"]
            .as_str()
            .is_some_and(|s| s.starts_with('/')),
        "provider path: {:?}",
        p["options"]
    );

    // The dashboards reach the datasource only through their variable, never by its uid.
    for f in dashboard_files() {
        assert!(
            !read(&f).contains(DATASOURCE_UID),
            "{} hard-codes the datasource uid",
            f.display()
        );
    }
}

/// Metric family names in the exporters' golden expositions (`tests/golden/{agent,exporter}`).
fn emitted_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in ["agent", "exporter"] {
        for f in files(&repo().join("tests/golden").join(dir), ".prom") {
            for l in read(&f).lines() {
                if let Some(rest) = l.strip_prefix("# TYPE ") {
                    if let Some(n) = rest.split_whitespace().next() {
                        names.insert(n.to_string());
                    }
                }
            }
        }
    }
    names
}

/// Rules and dashboards use only contract names (tests above); every contract name must be
/// one the exporters really emit on some lab capture, so rules and dashboards query real
/// series, not just agreed names.
#[test]
fn every_contract_metric_is_emitted_by_an_exporter_on_a_lab_capture() {
    let emitted = emitted_names();
    assert!(emitted.len() > 20, "golden files missing: {emitted:?}");
    let missing: Vec<String> = contract().difference(&emitted).cloned().collect();
    assert!(
        missing.is_empty(),
        "in alerts/metrics-contract.txt but in no golden exposition under tests/golden: {missing:?}"
    );
}
