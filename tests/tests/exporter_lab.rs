//! The master exporter against the real lab cluster (run by the lab stage with `--ignored`,
//! lab up): REST mode with a read-only admin user, a wrong secret, a silent replica gap and
//! a bucket created while the replica was down.
//!
//! `cargo test -p e2e-tests --test exporter_lab -- --ignored --test-threads=1`
//! `CAPTURE_REST_FIXTURES=1` also rewrites `tests/fixtures/rest/` from the lab (keys scrubbed).
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e_tests::value;

const EXPORTER: &str = "rgw-multisite-exporter";
const RO_USER: &str = "rgw-exporter-ro";

fn lab(args: &[&str]) {
    let t = Instant::now();
    let st = Command::new("bash")
        .arg(e2e_tests::lab::repo().join("lab").join(args[0]))
        .args(&args[1..])
        .status()
        .unwrap();
    assert!(st.success(), "lab/{} failed", args.join(" "));
    eprintln!(
        "[exporter-lab] lab/{} took {:.0}s",
        args.join(" "),
        t.elapsed().as_secs_f64()
    );
}

/// radosgw-admin as the lab configures it.
fn rgwa(env: &HashMap<String, String>, args: &[&str]) -> Output {
    let words = shell_split(&env["RADOSGW_ADMIN"]);
    Command::new(&words[0])
        .args(&words[1..])
        .args(args)
        .output()
        .unwrap()
}

fn shell_split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "radosgw-admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The read-only admin user's keys, creating the user (and caps) if needed.
fn ro_user(env: &HashMap<String, String>) -> (String, String) {
    let info = rgwa(
        env,
        &[
            "user",
            "info",
            &format!("--uid={RO_USER}"),
            "--rgw-zone=us-east",
        ],
    );
    let info = if info.status.success() {
        serde_json::from_slice(&info.stdout).unwrap()
    } else {
        json(&rgwa(
            env,
            &[
                "user",
                "create",
                &format!("--uid={RO_USER}"),
                "--display-name=RGW multisite exporter (read-only)",
                "--rgw-zone=us-east",
            ],
        ))
    };
    let caps = info["caps"].to_string();
    if !caps.contains("buckets") {
        json(&rgwa(
            env,
            &[
                "caps",
                "add",
                &format!("--uid={RO_USER}"),
                "--caps=buckets=read;metadata=read;usage=read;zone=read",
                "--rgw-zone=us-east",
            ],
        ));
    }
    let key = &info["keys"][0];
    (
        key["access_key"].as_str().unwrap().to_string(),
        key["secret_key"].as_str().unwrap().to_string(),
    )
}

/// A temp dir with key files and a REST-mode configuration.
struct RestSetup {
    dir: PathBuf,
    config: PathBuf,
}

impl RestSetup {
    fn new(name: &str, access: &str, secret: &str) -> RestSetup {
        let dir = std::env::temp_dir().join(format!("rgwms-lab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (ak, sk) = (dir.join("access_key"), dir.join("secret_key"));
        write_private(&ak, access);
        write_private(&sk, secret);
        let config = dir.join("exporter.yml");
        std::fs::write(
            &config,
            format!(
                "zone: us-east\nbucket_stats:\n  mode: rest\nrest:\n  access_key_file: {}\n  secret_key_file: {}\n  timeout: 20s\ncollector:\n  sync_errors: false\n",
                ak.display(),
                sk.display()
            ),
        )
        .unwrap();
        RestSetup { dir, config }
    }
}

impl Drop for RestSetup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_private(p: &Path, content: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .unwrap();
    writeln!(f, "{content}").unwrap();
}

struct Run {
    stdout: String,
    stderr: String,
    ok: bool,
}

/// `rgw-multisite-exporter --once` (or another mode) against the lab.
fn exporter(env: &HashMap<String, String>, args: &[&str]) -> Run {
    let exe = e2e_tests::binary(EXPORTER);
    let t = Instant::now();
    let out = Command::new(exe)
        .arg(format!("--radosgw-admin.command={}", env["RADOSGW_ADMIN"]))
        .arg("--radosgw-admin.timeout=60s")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("RGW_MULTISITE_ACCESS_KEY")
        .env_remove("RGW_MULTISITE_SECRET_KEY")
        .output()
        .unwrap();
    eprintln!(
        "[exporter-lab] exporter {:?}: exit {:?} in {:.1}s",
        args,
        out.status.code(),
        t.elapsed().as_secs_f64()
    );
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

fn bucket_usage(env: &HashMap<String, String>, zone: &str, bucket: &str) -> (f64, f64) {
    let out = rgwa(
        env,
        &[
            "bucket",
            "stats",
            &format!("--bucket={bucket}"),
            &format!("--rgw-zone={zone}"),
        ],
    );
    if !out.status.success() {
        return (0.0, 0.0);
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let main = &v["usage"]["rgw.main"];
    (
        main["num_objects"].as_f64().unwrap_or(0.0),
        main["size"].as_f64().unwrap_or(0.0),
    )
}

fn series(metric: &str, bucket: &str) -> String {
    format!("{metric}{{zone=\"us-west\",bucket=\"{bucket}\"}}")
}

fn assert_no_active_faults() {
    let faults = std::env::var("LAB_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| e2e_tests::lab::repo().join("lab/state"))
        .join("faults");
    let active: Vec<String> = std::fs::read_dir(&faults)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        active.is_empty(),
        "faults already active in the lab ({active:?}): someone else is using it"
    );
}

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test exporter_lab -- --ignored"]
fn exporter_in_rest_mode_against_the_lab() {
    let env = e2e_tests::lab::env();
    assert_no_active_faults();
    let (access, secret) = ro_user(&env);
    let good = RestSetup::new("good", &access, &secret);
    let cfg = format!("--config.file={}", good.config.display());

    // The user's metadata reaches us-west by metadata sync: wait until its admin API
    // accepts the keys.
    let start = Instant::now();
    let run = loop {
        let run = exporter(&env, &[&cfg, "--once"]);
        if run.ok || start.elapsed() > Duration::from_secs(120) {
            break run;
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    assert!(run.ok, "{}\n{}", run.stderr, run.stdout);
    let m = &run.stdout;
    assert_eq!(
        value(m, "rgw_multisite_bucket_stats_ok{zone=\"us-west\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(
            m,
            "rgw_multisite_collector_success{collector=\"bucket_stats\"}"
        ),
        Some(1.0)
    );
    let classes: f64 = ["synced", "low", "medium", "high"]
        .iter()
        .map(|c| {
            value(
                m,
                &format!("rgw_multisite_buckets{{zone=\"us-west\",priority=\"{c}\"}}"),
            )
            .unwrap()
        })
        .sum();
    assert!(classes >= 3.0, "{m}");
    // `check` says the replica is read over the admin API.
    let chk = exporter(&env, &[&cfg, "check"]);
    assert!(chk.ok, "{}\n{}", chk.stdout, chk.stderr);
    assert!(
        chk.stdout.contains(&format!(
            "[ OK ] bucket stats of us-west (admin API {})",
            env["RGW_US_WEST_ENDPOINT"]
        )),
        "{}",
        chk.stdout
    );

    // A wrong secret: a clear error, failed collector and error counters, no crash.
    let bad = RestSetup::new("bad", &access, "0000000000wrong0secret0000000000000000000");
    let bad_cfg = format!("--config.file={}", bad.config.display());
    let run = exporter(&env, &[&bad_cfg, "--once"]);
    assert!(!run.ok);
    let m = &run.stdout;
    for want in [
        "rgw_multisite_collector_success{collector=\"bucket_stats\"} 0",
        "rgw_multisite_collector_success{collector=\"bucket_compare\"} 1",
        "rgw_multisite_bucket_stats_ok{zone=\"us-west\"} 0",
        "rgw_multisite_rest_errors_total{zone=\"us-west\",kind=\"auth\"} 1",
        "rgw_multisite_command_errors_total{command=\"GET /admin/bucket\",kind=\"exit\"} 1",
        "rgw_multisite_up 1",
    ] {
        assert!(m.contains(want), "{want} missing:\n{m}\n{}", run.stderr);
    }
    assert!(
        run.stderr.contains("HTTP 403 SignatureDoesNotMatch"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&secret) && !run.stdout.contains(&secret));

    // A silent gap: heads of every 4th of 20 new objects deleted on the master before
    // us-west pulled them; shard status says caught up, the counts do not.
    let gap = format!("xgap-{}", std::process::id());
    lab(&["fault", "silent-gap", &gap]);
    let (me, mb) = bucket_usage(&env, "us-east", &gap);
    let (we, wb) = bucket_usage(&env, "us-west", &gap);
    eprintln!("[exporter-lab] {gap}: us-east {me} objects {mb} B, us-west {we} objects {wb} B");
    assert_eq!(
        (me, we),
        (20.0, 15.0),
        "the fault did not leave the expected gap"
    );
    let run = exporter(&env, &[&cfg, "--once"]);
    assert!(run.ok, "{}", run.stderr);
    let m = &run.stdout;
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_sync_priority", &gap)),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_sync_ratio", &gap)),
        Some(0.75)
    );
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_objects_behind", &gap)),
        Some(5.0)
    );
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_bytes_behind", &gap)),
        Some(mb - wb),
        "{m}"
    );
    assert!(mb - wb > 0.0);
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_replication_enabled", &gap)),
        Some(1.0)
    );
    // The REST fixtures are taken now, so they hold a lagging bucket.
    if std::env::var("CAPTURE_REST_FIXTURES").as_deref() == Ok("1") {
        capture_rest_fixtures(&env, &access, &secret);
    }
    lab(&["heal", "silent-gap", &gap]);
    let run = exporter(&env, &[&cfg, "--once", "--metrics.all-buckets"]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        value(
            &run.stdout,
            &series("rgw_multisite_bucket_sync_priority", &gap)
        ),
        Some(0.0),
        "{}",
        run.stdout
    );

    // A bucket created while us-west's radosgw is down: HIGH until it catches up. The
    // admin API of the stopped zone cannot answer, so this part reads it with the CLI
    // (both zones' pools are in the lab's one cluster); the REST run shows the outage.
    let newb = format!("xnew-{}", std::process::id());
    lab(&["fault", "bucket-while-down", &newb]);
    let cli = [
        "--zone=us-east",
        "--bucket-stats.mode=cli",
        "--collector.sync-errors=false",
        "--once",
    ];
    let run = exporter(&env, &cli);
    let m = &run.stdout;
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_sync_priority", &newb)),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_objects_behind", &newb)),
        Some(20.0)
    );
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_objects", &newb)),
        Some(0.0)
    );
    let (_, nb) = bucket_usage(&env, "us-east", &newb);
    assert_eq!(
        value(m, &series("rgw_multisite_bucket_bytes_behind", &newb)),
        Some(nb)
    );
    let run = exporter(&env, &[&cfg, "--once"]);
    assert!(!run.ok);
    assert!(
        run.stdout
            .contains("rgw_multisite_rest_errors_total{zone=\"us-west\",kind=\"connect\"} 1"),
        "{}",
        run.stdout
    );
    lab(&["heal", "bucket-while-down", &newb]);
    let run = exporter(&env, &cli);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        value(
            &run.stdout,
            &series("rgw_multisite_bucket_sync_priority", &newb)
        ),
        None,
        "SYNCED buckets have no per-bucket series by default:\n{}",
        run.stdout
    );
    let run = exporter(&env, &[&cfg, "--once", "--metrics.all-buckets"]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        value(
            &run.stdout,
            &series("rgw_multisite_bucket_sync_priority", &newb)
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&run.stdout, &series("rgw_multisite_bucket_objects", &newb)),
        Some(20.0)
    );
}

/// Rewrites `tests/fixtures/rest/` from the lab: the period, the master's CLI stats, each
/// zone's admin API answer, and the 403s of a wrong secret and an unknown key. The files
/// are checked not to contain the keys used.
fn capture_rest_fixtures(env: &HashMap<String, String>, access: &str, secret: &str) {
    use rgw_multisite::rest::{AdminClient, Credentials, RestOptions};
    let dir = e2e_tests::fixtures_dir().join("rest");
    std::fs::create_dir_all(&dir).unwrap();
    let save = |name: &str, body: &str| {
        assert!(
            !body.contains(secret) && !body.contains(access),
            "{name} holds a key"
        );
        std::fs::write(dir.join(name), body).unwrap();
    };
    let out = rgwa(env, &["period", "get", "--rgw-zone=us-east"]);
    save(
        "pacific-period-get.json",
        &String::from_utf8_lossy(&out.stdout),
    );
    let out = rgwa(env, &["bucket", "stats", "--rgw-zone=us-east"]);
    save(
        "pacific-cli-bucket-stats-us-east.json",
        &String::from_utf8_lossy(&out.stdout),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = |a: &str, s: &str| {
        AdminClient::new(Credentials::new(a, s), RestOptions::default()).unwrap()
    };
    let good = client(access, secret);
    for (zone, ep) in [
        ("us-east", &env["RGW_US_EAST_ENDPOINT"]),
        ("us-west", &env["RGW_US_WEST_ENDPOINT"]),
    ] {
        let r = rt.block_on(good.bucket_stats(ep)).unwrap();
        save(&format!("pacific-admin-bucket-stats-{zone}.json"), &r.body);
    }
    // Error bodies: fetched raw, since the client keeps only the code.
    let raw = |a: &str, s: &str| -> String {
        let c = client(a, s);
        match rt.block_on(c.get_raw(
            &env["RGW_US_WEST_ENDPOINT"],
            "/admin/bucket",
            &[("format", "json"), ("stats", "true")],
        )) {
            Ok((status, body)) => {
                assert_eq!(status, 403, "{body}");
                body
            }
            Err(e) => panic!("{e}"),
        }
    };
    save(
        "pacific-403-signature-does-not-match.json",
        &raw(access, "0000000000wrong0secret0000000000000000000"),
    );
    save(
        "pacific-403-invalid-access-key.json",
        &raw("NOSUCHACCESSKEY00000", secret),
    );
    eprintln!(
        "[exporter-lab] captured REST fixtures into {}",
        dir.display()
    );
}
