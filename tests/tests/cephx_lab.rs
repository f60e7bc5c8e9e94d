//! Both exporters with the least-privilege cephx users of the README's "Permissions" section,
//! against the real lab (run by the lab stage with `--ignored`, lab up, on every release):
//! every `ceph auth get-or-create client.rgw-exporter ...` documented there is created as is,
//! and with it every radosgw-admin command the exporters run prints what it prints for
//! client.admin, both exporters' `--once` succeed with the same numbers as with client.admin,
//! and their `check` passes. With less (no osd cap; no write of the notify objects) the
//! collectors fail with radosgw-admin's own message, without reaching the runner's timeout.
//!
//! `LAB_STATE=... cargo test -p e2e-tests --test cephx_lab -- --ignored --test-threads=1`
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Instant;

use e2e_tests::value;

const AGENT: &str = "rgw-multisite-agent-exporter";
const EXPORTER: &str = "rgw-multisite-exporter";
/// The cephx user the README documents.
const DOC_CLIENT: &str = "client.rgw-exporter";

struct Lab {
    env: HashMap<String, String>,
    /// The lab's radosgw-admin command line (`chroot ROOT radosgw-admin -c CONF` on Reef+).
    rgwa: Vec<String>,
    /// The same with `ceph` instead of `radosgw-admin`.
    ceph: Vec<String>,
    /// Keyrings go here: below the state dir, which the chroot sees at the same path.
    dir: PathBuf,
    master: String,
    secondary: String,
}

impl Lab {
    fn new() -> Lab {
        let env = e2e_tests::lab::env();
        let rgwa: Vec<String> = env["RADOSGW_ADMIN"]
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert!(
            rgwa.iter().any(|w| w == "radosgw-admin"),
            "RADOSGW_ADMIN={:?}",
            env["RADOSGW_ADMIN"]
        );
        let ceph = rgwa
            .iter()
            .map(|w| {
                if w == "radosgw-admin" {
                    "ceph".to_string()
                } else {
                    w.clone()
                }
            })
            .chain(["--connect-timeout=30".to_string()])
            .collect();
        let dir =
            PathBuf::from(&env["LAB_STATE"]).join(format!("cephx-lab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            master: env["LAB_MASTER_ZONE"].clone(),
            secondary: env["LAB_SECONDARY_ZONE"].clone(),
            env,
            rgwa,
            ceph,
            dir,
        }
    }

    fn ceph(&self, args: &[&str]) -> Output {
        Command::new(&self.ceph[0])
            .args(&self.ceph[1..])
            .args(args)
            .output()
            .unwrap()
    }

    /// radosgw-admin as client.admin (`None`) or as a test client.
    fn rgwa(&self, client: Option<&Client>, args: &[String]) -> Output {
        let mut cmd = Command::new(&self.rgwa[0]);
        cmd.args(&self.rgwa[1..]);
        if let Some(c) = client {
            cmd.args(c.auth_args());
        }
        cmd.args(args).output().unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A cephx user made for the test with `ceph auth get-or-create`, removed again on drop.
struct Client<'a> {
    lab: &'a Lab,
    name: String,
    keyring: PathBuf,
}

impl<'a> Client<'a> {
    fn create(lab: &'a Lab, name: &str, caps: &[(String, String)]) -> Client<'a> {
        let _ = lab.ceph(&["auth", "rm", name]);
        let mut args = vec!["auth", "get-or-create", name];
        for (service, cap) in caps {
            args.push(service);
            args.push(cap);
        }
        let out = lab.ceph(&args);
        assert!(
            out.status.success(),
            "ceph {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        let keyring = lab.dir.join(format!("ceph.{name}.keyring")).to_path_buf();
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&keyring)
                .unwrap();
            f.write_all(&out.stdout).unwrap();
        }
        eprintln!("[cephx-lab] created {name}: {caps:?}");
        Client {
            lab,
            name: name.to_string(),
            keyring,
        }
    }

    fn auth_args(&self) -> Vec<String> {
        let id = self.name.trim_start_matches("client.");
        vec![
            "--id".into(),
            id.into(),
            "--keyring".into(),
            self.keyring.display().to_string(),
        ]
    }

    /// `--radosgw-admin.command` for the exporters: the lab's command as this user.
    fn command(&self) -> String {
        format!(
            "{} {}",
            self.lab.env["RADOSGW_ADMIN"],
            self.auth_args().join(" ")
        )
    }
}

impl Drop for Client<'_> {
    fn drop(&mut self) {
        let _ = self.lab.ceph(&["auth", "rm", &self.name]);
        let _ = std::fs::remove_file(&self.keyring);
    }
}

/// The `ceph auth get-or-create client.rgw-exporter ...` commands of the README's
/// "Permissions" section, as (service, cap) pairs.
fn documented_caps() -> Vec<Vec<(String, String)>> {
    let readme = std::fs::read_to_string(e2e_tests::lab::repo().join("README.md")).unwrap();
    let start = readme
        .find("\n## Permissions")
        .expect("README has a Permissions section");
    let section = &readme[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let joined = section.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let words = shell_words(line.trim());
        if words.len() < 3 || words[..3] != ["ceph", "auth", "get-or-create"] {
            continue;
        }
        assert_eq!(words[3], DOC_CLIENT, "{line}");
        let mut caps = Vec::new();
        let mut i = 4;
        while i + 1 < words.len() && !words[i].starts_with('-') {
            caps.push((words[i].clone(), words[i + 1].clone()));
            i += 2;
        }
        assert!(!caps.is_empty(), "no caps in {line}");
        found.push(caps);
    }
    assert!(
        !found.is_empty(),
        "no `ceph auth get-or-create {DOC_CLIENT}` in the README's Permissions section"
    );
    found
}

/// Words of a shell line with single quotes (enough for the README's commands).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut in_word) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                }
                in_word = false;
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

struct Run {
    stdout: String,
    stderr: String,
    ok: bool,
}

/// One of the exporters with `--radosgw-admin.command=COMMAND` and `args`.
fn exporter(bin: &str, command: &str, args: &[&str]) -> Run {
    exporter_with_timeout(bin, command, "60s", args)
}

fn exporter_with_timeout(bin: &str, command: &str, timeout: &str, args: &[&str]) -> Run {
    let t = Instant::now();
    let out = Command::new(e2e_tests::binary(bin))
        .arg(format!("--radosgw-admin.command={command}"))
        .arg(format!("--radosgw-admin.timeout={timeout}"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    eprintln!(
        "[cephx-lab] {bin} {args:?} as {}: exit {:?} in {:.1}s",
        command
            .split_once("--id ")
            .map_or("client.admin", |(_, id)| id.split(' ').next().unwrap_or(id)),
        out.status.code(),
        t.elapsed().as_secs_f64()
    );
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

/// The samples of an exposition whose value does not depend on when it was taken: every
/// `*_seconds` series (durations, timestamps, lags, ages) is left out.
fn stable(m: &str) -> BTreeMap<String, f64> {
    e2e_tests::samples(m)
        .into_iter()
        .filter(|(s, _)| {
            let name = s.split('{').next().unwrap_or(s);
            !name.ends_with("_seconds")
        })
        .collect()
}

fn differences(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: client.admin {:?}, restricted {:?}",
                a.get(k),
                b.get(k)
            )
        })
        .collect()
}

fn assert_all_collectors_succeeded(what: &str, run: &Run) {
    assert!(run.ok, "{what}: failed\n{}\n{}", run.stderr, run.stdout);
    let collectors: Vec<(String, f64)> = e2e_tests::samples(&run.stdout)
        .into_iter()
        .filter(|(s, _)| s.starts_with("rgw_multisite_collector_success{"))
        .collect();
    assert!(collectors.len() >= 3, "{what}: {}", run.stdout);
    for (s, v) in &collectors {
        assert_eq!(*v, 1.0, "{what}: {s}\n{}", run.stderr);
    }
    assert_eq!(value(&run.stdout, "rgw_multisite_up"), Some(1.0), "{what}");
}

/// `--once` of `bin` as client.admin and as `client`: every collector succeeds, and the
/// time-independent samples are equal. The cluster may move between two runs (a sync
/// round), so a difference is retried twice with fresh runs of both.
fn assert_once_same_as_admin(lab: &Lab, client: &Client, bin: &str, args: &[&str]) {
    let mut diff = Vec::new();
    for attempt in 1..=3 {
        let admin = exporter(bin, &lab.env["RADOSGW_ADMIN"], args);
        assert_all_collectors_succeeded(&format!("{bin} as client.admin"), &admin);
        let user = exporter(bin, &client.command(), args);
        assert_all_collectors_succeeded(&format!("{bin} as {}", client.name), &user);
        diff = differences(&stable(&admin.stdout), &stable(&user.stdout));
        if diff.is_empty() {
            eprintln!(
                "[cephx-lab] {bin} as {}: {} samples equal to client.admin's (attempt {attempt})",
                client.name,
                stable(&user.stdout).len()
            );
            return;
        }
        eprintln!("[cephx-lab] {bin}: attempt {attempt} differs: {diff:#?}");
    }
    panic!(
        "{bin} as {}: the exposition differs from client.admin's: {diff:#?}",
        client.name
    );
}

/// Every radosgw-admin command line the exporters run (agent.rs, primary.rs, check.rs),
/// including those run only when something is behind (per-shard `data sync status`,
/// `bucket sync info`, `sync info`, `sync error list --marker`). `master_too`: also the
/// master exporter's commands, which read every zone.
fn commands(lab: &Lab, bucket: &str, master_too: bool) -> Vec<Vec<String>> {
    let (m, s) = (lab.master.as_str(), lab.secondary.as_str());
    let on_s = format!("--rgw-zone={s}");
    let from_m = format!("--source-zone={m}");
    let b = format!("--bucket={bucket}");
    let mut cmds: Vec<Vec<&str>> = vec![
        vec!["period", "get", &on_s],
        vec!["sync", "status", &on_s],
        vec![
            "sync",
            "error",
            "list",
            "--shard-id=0",
            "--max-entries=1000",
            &on_s,
        ],
        vec![
            "sync",
            "error",
            "list",
            "--shard-id=0",
            "--max-entries=1000",
            "--marker=1_1700000000.000000_1.1",
            &on_s,
        ],
        vec!["data", "sync", "status", &from_m, &on_s],
        vec!["data", "sync", "status", &from_m, "--shard-id=0", &on_s],
        vec!["bucket", "list", &on_s],
        vec!["bucket", "sync", "status", &b, &from_m, &on_s],
        vec!["bucket", "sync", "status", &b, &on_s],
    ];
    let on_m = format!("--rgw-zone={m}");
    if master_too {
        cmds.extend([
            vec!["period", "get"],
            vec!["sync", "status"],
            vec![
                "sync",
                "error",
                "list",
                "--shard-id=0",
                "--max-entries=1000",
            ],
            vec!["period", "get", &on_m],
            vec!["sync", "status", &on_m],
            vec![
                "sync",
                "error",
                "list",
                "--shard-id=0",
                "--max-entries=1000",
                &on_m,
            ],
            vec!["bucket", "stats", &on_m],
            vec!["bucket", "stats", &on_s],
            vec!["bucket", "sync", "info", &b, &on_m],
            vec!["sync", "info", &b, &on_m],
        ]);
    }
    cmds.into_iter()
        .map(|c| c.into_iter().map(str::to_string).collect())
        .collect()
}

/// Each command exits 0 with the same stdout as client.admin's (retried twice on a
/// difference, as the cluster may move between two runs).
fn assert_commands_same_as_admin(lab: &Lab, client: &Client, cmds: &[Vec<String>]) {
    let t = Instant::now();
    for args in cmds {
        let line = args.join(" ");
        let mut last = String::new();
        let same = (1..=3).any(|_| {
            let admin = lab.rgwa(None, args);
            assert!(
                admin.status.success(),
                "client.admin: radosgw-admin {line}: {}",
                String::from_utf8_lossy(&admin.stderr)
            );
            let user = lab.rgwa(Some(client), args);
            assert!(
                user.status.success(),
                "{}: radosgw-admin {line}: exit {:?}: {}",
                client.name,
                user.status.code(),
                String::from_utf8_lossy(&user.stderr)
            );
            last = format!(
                "client.admin:\n{}\n{}:\n{}",
                String::from_utf8_lossy(&admin.stdout),
                client.name,
                String::from_utf8_lossy(&user.stdout)
            );
            timeless(&admin.stdout) == timeless(&user.stdout)
        });
        assert!(same, "radosgw-admin {line}: stdout differs\n{last}");
    }
    eprintln!(
        "[cephx-lab] {}: {} radosgw-admin commands, stdout equal to client.admin's ({:.0}s)",
        client.name,
        cmds.len(),
        t.elapsed().as_secs_f64()
    );
}

/// stdout without the clock lines Reef and later print (`current time ...` in `sync
/// status`, `"current_time"` in `data sync status`).
fn timeless(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.contains("current time") && !l.contains("\"current_time\""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn first_bucket(lab: &Lab) -> String {
    let out = lab.rgwa(None, &["bucket".into(), "list".into()]);
    assert!(out.status.success());
    let buckets: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    buckets
        .into_iter()
        .min()
        .expect("the lab has buckets (lab/up creates them)")
}

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test cephx_lab -- --ignored"]
fn documented_cephx_caps_are_enough_for_both_exporters() {
    let lab = Lab::new();
    let (master, secondary) = (lab.master.clone(), lab.secondary.clone());
    // The README's commands name the lab's zones.
    assert_eq!(
        (master.as_str(), secondary.as_str()),
        ("us-east", "us-west")
    );
    let bucket = first_bucket(&lab);
    let agent_args = ["--zone", secondary.as_str(), "--once"];
    let mut master_covered = false;
    for caps in documented_caps() {
        let osd = &caps.iter().find(|(s, _)| s == "osd").unwrap().1;
        // A key for the master exporter in CLI mode writes both zones' notify objects.
        let master_too = osd.contains(&format!("{master}.rgw.control"));
        let client = Client::create(&lab, DOC_CLIENT, &caps);
        assert_commands_same_as_admin(&lab, &client, &commands(&lab, &bucket, master_too));

        assert_once_same_as_admin(&lab, &client, AGENT, &agent_args);
        let chk = exporter(AGENT, &client.command(), &["--zone", &secondary, "check"]);
        assert!(chk.ok, "agent check:\n{}\n{}", chk.stdout, chk.stderr);
        assert!(!chk.stdout.contains("[FAIL]"), "{}", chk.stdout);

        if master_too {
            master_covered = true;
            assert_once_same_as_admin(&lab, &client, EXPORTER, &["--once"]);
            let chk = exporter(EXPORTER, &client.command(), &["check"]);
            assert!(chk.ok, "exporter check:\n{}\n{}", chk.stdout, chk.stderr);
            assert!(
                chk.stdout.contains(&format!(
                    "[ OK ] bucket stats of {secondary} (radosgw-admin)"
                )),
                "{}",
                chk.stdout
            );
        }
    }
    assert!(
        master_covered,
        "no documented caps cover the master exporter (both zones' control pools)"
    );
}

/// The exposition and stderr of a run with insufficient caps: `collectors` failed, stderr
/// says why, and (unless `may_time_out`) no command timed out: radosgw-admin failed by
/// itself.
fn assert_fails_clearly(
    what: &str,
    run: &Run,
    collectors: &[&str],
    why: &[&str],
    may_time_out: bool,
) {
    assert!(!run.ok, "{what}: succeeded\n{}", run.stdout);
    for c in collectors {
        assert_eq!(
            value(
                &run.stdout,
                &format!("rgw_multisite_collector_success{{collector=\"{c}\"}}")
            ),
            Some(0.0),
            "{what}: {c}\n{}",
            run.stdout
        );
    }
    assert!(
        may_time_out || !run.stdout.contains("kind=\"timeout\""),
        "{what}: radosgw-admin hung until the timeout\n{}",
        run.stdout
    );
    assert!(
        why.iter().any(|w| run.stderr.contains(w)),
        "{what}: none of {why:?} in stderr:\n{}",
        run.stderr
    );
}

/// What radosgw-admin says without an osd cap: Pacific gets EPERM at once; on Reef the
/// first OSD read waits until `rados_osd_op_timeout` (which the runner sets to its own
/// timeout; without it, forever), so either radosgw-admin's `(110) Connection timed out`
/// or the runner's timeout comes first.
const NO_OSD_CAP_ERRORS: &[&str] = &[
    "Operation not permitted",
    "couldn't init storage provider",
    "timed out",
];

#[test]
#[ignore = "needs the real lab: lab/up, then cargo test -p e2e-tests --test cephx_lab -- --ignored"]
fn less_than_the_documented_caps_fails_clearly() {
    let lab = Lab::new();
    let secondary = lab.secondary.clone();
    let agent_args = ["--zone", secondary.as_str(), "--once"];

    // No osd cap: not even the period can be read. Only Pacific fails at once.
    let pacific = lab.env.get("LAB_RELEASE").map(String::as_str) == Some("pacific");
    let none = Client::create(
        &lab,
        "client.rgw-exporter-no-osd",
        &[("mon".into(), "allow r".into())],
    );
    let run = exporter_with_timeout(AGENT, &none.command(), "20s", &agent_args);
    assert_fails_clearly(
        "agent without osd caps",
        &run,
        &["topology", "sync_status"],
        NO_OSD_CAP_ERRORS,
        !pacific,
    );
    assert_eq!(value(&run.stdout, "rgw_multisite_up"), Some(0.0));
    let run = exporter_with_timeout(EXPORTER, &none.command(), "20s", &["--once"]);
    assert_fails_clearly(
        "exporter without osd caps",
        &run,
        &["topology", "sync_status", "bucket_stats"],
        NO_OSD_CAP_ERRORS,
        !pacific,
    );
    let chk = exporter_with_timeout(
        AGENT,
        &none.command(),
        "20s",
        &["--zone", &secondary, "check"],
    );
    assert!(!chk.ok, "{}", chk.stdout);
    assert!(
        chk.stdout.contains("[FAIL] cluster reachable"),
        "{}",
        chk.stdout
    );
    let chk = exporter_with_timeout(EXPORTER, &none.command(), "20s", &["check"]);
    assert!(!chk.ok, "{}", chk.stdout);
    assert!(chk.stdout.contains("[FAIL]"), "{}", chk.stdout);
    drop(none);

    // Read-only osd caps, no write of the control pool's notify objects: radosgw-admin
    // reads the period but cannot start its watch, so every zone command fails (Pacific and
    // Reef: a segmentation fault, exit 139; Tentacle: exit 5).
    let ro = Client::create(
        &lab,
        "client.rgw-exporter-no-notify",
        &[
            ("mon".into(), "allow r".into()),
            ("osd".into(), "allow r class-read tag rgw *=*".into()),
        ],
    );
    let run = exporter(AGENT, &ro.command(), &agent_args);
    assert_fails_clearly(
        "agent without notify write",
        &run,
        &["sync_status"],
        &["exited with code", "killed by signal"],
        false,
    );
    assert_eq!(value(&run.stdout, "rgw_multisite_up"), Some(0.0));
    let run = exporter(EXPORTER, &ro.command(), &["--once"]);
    assert_fails_clearly(
        "exporter without notify write",
        &run,
        &["sync_status", "bucket_stats"],
        &["exited with code", "killed by signal"],
        false,
    );
    let chk = exporter(AGENT, &ro.command(), &["--zone", &secondary, "check"]);
    assert!(!chk.ok, "{}", chk.stdout);
    assert!(
        chk.stdout.contains("[FAIL] zone detected"),
        "{}",
        chk.stdout
    );
}
