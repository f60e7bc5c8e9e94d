//! Label safety on the real lab (run by the lab stage with `--ignored`, lab up): a tenant
//! user's bucket and a bucket with dots, hyphens and digits, written on the master, come
//! out of the agent (us-west) and the exporter (us-east) under the right `bucket` label
//! (`tenant/name` for the tenant's), the same in both, in expositions promtool accepts.
//!
//! `cargo test -p e2e-tests --test labels_lab -- --ignored --test-threads=1`
//! The lab's own defaults are not changed (no relaxed bucket names: the fixture test
//! `odd_names.rs` covers those); the user, the buckets and their objects are left in place
//! (synced), and a second run reuses them.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

mod odd_names_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use odd_names_support::{assert_promtool_ok, label, parse_strict, values_of, Sample};

const TENANT: &str = "labtenant";
const TENANT_UID: &str = "labeluser";
const TENANT_BUCKET: &str = "tenant-data.v1";
/// Valid under the strict S3 rules the lab keeps: dots, hyphens, digits, 3..63 characters.
const ODD_BUCKET: &str = "odd.dots-and-hyphens.0-9";
const OBJECTS: usize = 3;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// radosgw-admin as the lab configures it (`RADOSGW_ADMIN`, chroot included on Reef+).
fn rgwa(env: &HashMap<String, String>, args: &[&str]) -> Output {
    let w = words(&env["RADOSGW_ADMIN"]);
    Command::new(&w[0])
        .args(&w[1..])
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "radosgw-admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("labels-lab-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The tenant user's S3 keys, creating `labtenant$labeluser` on the master if needed.
fn tenant_user(env: &HashMap<String, String>) -> (String, String) {
    let uid = format!("--uid={TENANT}${TENANT_UID}");
    let info = rgwa(env, &["user", "info", &uid, "--rgw-zone=us-east"]);
    let info = if info.status.success() {
        serde_json::from_slice(&info.stdout).unwrap()
    } else {
        json(&rgwa(
            env,
            &[
                "user",
                "create",
                &format!("--tenant={TENANT}"),
                &format!("--uid={TENANT_UID}"),
                "--display-name=labels lab test (tenant user)",
                "--rgw-zone=us-east",
            ],
        ))
    };
    let key = &info["keys"][0];
    (
        key["access_key"].as_str().unwrap().to_string(),
        key["secret_key"].as_str().unwrap().to_string(),
    )
}

/// An s3cmd config for the tenant user against the master's endpoint (path-style).
fn s3cfg(
    env: &HashMap<String, String>,
    dir: &std::path::Path,
    access: &str,
    secret: &str,
) -> PathBuf {
    let host = env["RGW_US_EAST_ENDPOINT"]
        .trim_start_matches("http://")
        .to_string();
    let p = dir.join("s3cfg-tenant");
    std::fs::write(
        &p,
        format!(
            "[default]\naccess_key = {access}\nsecret_key = {secret}\nhost_base = {host}\n\
             host_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn s3cmd(cfg: &std::path::Path, args: &[&str]) -> Output {
    Command::new("s3cmd")
        .arg("-c")
        .arg(cfg)
        .args(args)
        .output()
        .expect("s3cmd (apt-get install s3cmd)")
}

/// Creates the bucket if missing and writes OBJECTS objects to it (overwriting).
fn fill(cfg: &std::path::Path, dir: &std::path::Path, bucket: &str) {
    let url = format!("s3://{bucket}");
    if !s3cmd(cfg, &["info", &url]).status.success() {
        let out = s3cmd(cfg, &["mb", &url]);
        assert!(
            out.status.success(),
            "s3cmd mb {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let src = dir.join(format!("objs-{bucket}"));
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..OBJECTS {
        std::fs::write(src.join(format!("obj-{i}")), format!("{bucket} {i}\n")).unwrap();
    }
    let out = s3cmd(
        cfg,
        &[
            "put",
            "--recursive",
            &format!("{}/", src.display()),
            &format!("{url}/"),
        ],
    );
    assert!(
        out.status.success(),
        "s3cmd put: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn objects(env: &HashMap<String, String>, zone: &str, key: &str) -> Option<u64> {
    let out = rgwa(
        env,
        &[
            "bucket",
            "stats",
            &format!("--bucket={key}"),
            &format!("--rgw-zone={zone}"),
        ],
    );
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(v["usage"]["rgw.main"]["num_objects"].as_u64().unwrap_or(0))
}

fn run_bin(env: &HashMap<String, String>, bin: &str, args: &[&str]) -> (bool, String, String) {
    let exe = e2e_tests::binary(bin);
    let t = Instant::now();
    let out = Command::new(exe)
        .arg(format!("--radosgw-admin.command={}", env["RADOSGW_ADMIN"]))
        .arg("--radosgw-admin.timeout=60s")
        .arg("--once")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    eprintln!(
        "[labels-lab] {bin} {args:?}: exit {:?} in {:.1}s",
        out.status.code(),
        t.elapsed().as_secs_f64()
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn find<'a>(s: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.iter()
        .find(|x| x.name == name && labels.iter().all(|(k, v)| label(x, k) == Some(v)))
}

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test labels_lab -- --ignored"]
fn tenant_and_odd_buckets_are_labelled_alike_by_agent_and_exporter() {
    let env = e2e_tests::lab::env();
    let dir = scratch();
    let (access, secret) = tenant_user(&env);
    let tenant_cfg = s3cfg(&env, &dir, &access, &secret);
    fill(&tenant_cfg, &dir, TENANT_BUCKET);
    fill(
        std::path::Path::new(&env["S3CFG_US_EAST"]),
        &dir,
        ODD_BUCKET,
    );
    let tenant_key = format!("{TENANT}/{TENANT_BUCKET}");

    // `bucket list` on the master names the tenant's bucket `tenant/name`.
    let listed = json(&rgwa(&env, &["bucket", "list", "--rgw-zone=us-east"]));
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        listed.contains(&tenant_key.as_str()) && listed.contains(&ODD_BUCKET),
        "{listed:?}"
    );

    // Wait until us-west holds every object of both buckets.
    let start = Instant::now();
    for key in [tenant_key.as_str(), ODD_BUCKET] {
        loop {
            let (m, r) = (objects(&env, "us-east", key), objects(&env, "us-west", key));
            if m == Some(OBJECTS as u64) && r == m {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "{key} not replicated after 240 s: us-east {m:?}, us-west {r:?}"
            );
            std::thread::sleep(Duration::from_secs(3));
        }
    }
    eprintln!(
        "[labels-lab] replicated after {:.0}s",
        start.elapsed().as_secs_f64()
    );

    // The agent on us-west: every bucket is swept; both names come back exactly.
    let (ok, agent, err) = run_bin(
        &env,
        "rgw-multisite-agent-exporter",
        &[
            "--zone=us-west",
            "--metrics.all-buckets",
            "--bucket-sync.sweep-per-cycle=100000",
        ],
    );
    assert!(ok, "agent --once failed:\n{err}\n{agent}");
    assert_promtool_ok("agent (lab)", &agent);
    let a = parse_strict(&agent).unwrap_or_else(|e| panic!("{e}\n{agent}"));
    let agent_buckets = values_of(&a, "rgw_multisite_bucket_sync_status_age_seconds", "bucket");
    for key in [tenant_key.as_str(), ODD_BUCKET] {
        assert!(
            agent_buckets.contains(key),
            "agent: no {key:?} in {agent_buckets:?}"
        );
    }
    // The odd bucket's status is read in full; the tenant's is, from Reef on (Pacific's
    // `bucket sync status` cannot read a tenant bucket's source: counted unknown instead).
    let base = [("zone", "us-west"), ("source_zone", "us-east")];
    assert!(
        find(
            &a,
            "rgw_multisite_bucket_shard_count",
            &[base[0], base[1], ("bucket", ODD_BUCKET)]
        )
        .is_some(),
        "{agent}"
    );
    if env.get("LAB_RELEASE").map(String::as_str) != Some("pacific") {
        assert!(
            find(
                &a,
                "rgw_multisite_bucket_shard_count",
                &[base[0], base[1], ("bucket", &tenant_key)]
            )
            .is_some(),
            "{agent}"
        );
    }

    // The exporter on us-east: both zones' counts under the same names.
    let (ok, exporter, err) = run_bin(&env, "rgw-multisite-exporter", &["--metrics.all-buckets"]);
    assert!(ok, "exporter --once failed:\n{err}\n{exporter}");
    assert_promtool_ok("exporter (lab)", &exporter);
    let e = parse_strict(&exporter).unwrap_or_else(|e| panic!("{e}\n{exporter}"));
    for zone in ["us-east", "us-west"] {
        for key in [tenant_key.as_str(), ODD_BUCKET] {
            let s = find(
                &e,
                "rgw_multisite_bucket_objects",
                &[("zone", zone), ("bucket", key)],
            )
            .unwrap_or_else(|| panic!("exporter: no objects of {key:?} in {zone}:\n{exporter}"));
            assert_eq!(s.value, OBJECTS as f64, "{zone} {key}");
        }
    }
    // Same label value in both binaries for the tenant bucket, never `tenant:name` or the
    // bare name.
    let exporter_buckets = values_of(&e, "rgw_multisite_bucket_objects", "bucket");
    for set in [&agent_buckets, &exporter_buckets] {
        assert!(set.contains(&tenant_key));
        assert!(
            !set.contains(TENANT_BUCKET) && !set.contains(&format!("{TENANT}:{TENANT_BUCKET}"))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
