//! Fault tests: both binaries, in `--once` and served mode, against a `radosgw-admin` that is
//! missing, not executable, hangs, fails, prints noise, floods, garbles or truncates its
//! output (`fault-radosgw-admin`, see tests/src/bin). Each time the process must stay up,
//! keep serving `/metrics`, say what failed (`rgw_multisite_up`,
//! `rgw_multisite_collector_success`, `rgw_multisite_command_errors_total{command,kind}`),
//! log a clear message, and never serve a number it could not read.
//!
//! Figures (durations, memory, /proc counts) are printed with `--nocapture`; assertions are
//! on outcomes and on growth, never on time.
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{binary, capture_dir, normalize, samples, value};

/// One binary under test and what it reads.
#[derive(Clone, Copy, Debug)]
struct Target {
    bin: &'static str,
    zone_arg: &'static str,
    scenario: &'static str,
    /// The collector whose success is `rgw_multisite_up`.
    up_collector: &'static str,
    /// The command that collector runs.
    up_command: &'static str,
}

const AGENT: Target = Target {
    bin: "rgw-multisite-agent-exporter",
    zone_arg: "--zone=us-west",
    scenario: "pacific-behind",
    up_collector: "sync_status",
    up_command: "sync status",
};

const EXPORTER: Target = Target {
    bin: "rgw-multisite-exporter",
    zone_arg: "--zone=us-east",
    scenario: "pacific-master-view",
    up_collector: "topology",
    up_command: "period get",
};

const BOTH: [Target; 2] = [AGENT, EXPORTER];

/// Families an exporter may serve about itself when it could read nothing at all.
const SELF_FAMILIES: &[&str] = &[
    "rgw_multisite_up",
    "rgw_multisite_collector_success",
    "rgw_multisite_collector_duration_seconds",
    "rgw_multisite_collector_last_success_timestamp_seconds",
    "rgw_multisite_command_errors_total",
    "rgw_multisite_parse_skipped_lines_total",
    "rgw_multisite_exporter_build_info",
];

fn family(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

/// Series that claim something about the cluster, when nothing could be read: must be none.
fn cluster_series(m: &str) -> Vec<String> {
    samples(m)
        .into_iter()
        .map(|(s, v)| format!("{s} {v}"))
        .filter(|s| !SELF_FAMILIES.contains(&family(s.split(' ').next().unwrap_or(""))))
        .collect()
}

fn fault_stub(mode: &str) -> String {
    format!("{} {mode}", binary("fault-radosgw-admin").display())
}

/// A unique word for this test process and call site, to find leftover processes.
fn token(what: &str) -> String {
    format!("{what}{}x{}", std::process::id(), now_nanos() % 1_000_000)
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Live and zombie processes whose command line contains `needle`.
fn procs_with(needle: &str) -> (Vec<u32>, Vec<u32>) {
    let (mut live, mut zombies) = (Vec::new(), Vec::new());
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
        if state == Some(Some('Z')) {
            // A zombie's cmdline is empty: match it by its comm and parent instead.
            if stat.contains("(fault-radosgw-a") && zombie_of_token(pid, needle) {
                zombies.push(pid);
            }
            continue;
        }
        if String::from_utf8_lossy(&cmd).contains(needle) {
            live.push(pid);
        }
    }
    (live, zombies)
}

/// Zombies keep no cmdline; count a zombie stub as ours when its parent is ours too.
fn zombie_of_token(pid: u32, needle: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ppid = stat
        .rsplit_once(") ")
        .and_then(|(_, r)| r.split(' ').nth(1))
        .unwrap_or("0");
    let pcmd = std::fs::read(format!("/proc/{ppid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&pcmd).contains(needle)
}

/// The children of `pid` (any state) and how many of them are zombies.
fn children(pid: u32) -> (usize, usize) {
    let (mut n, mut z) = (0, 0);
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut f = rest.split(' ');
        let state = f.next().unwrap_or("");
        if f.next() == Some(pid.to_string().as_str()) {
            n += 1;
            z += usize::from(state == "Z");
        }
    }
    (n, z)
}

/// The result of one `--once` run.
#[derive(Debug)]
struct Once {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    elapsed: Duration,
}

fn run_once(t: Target, command: &str, env: &[(&str, &str)], args: &[&str]) -> Once {
    let start = Instant::now();
    let out = Command::new(binary(t.bin))
        .arg(format!("--radosgw-admin.command={command}"))
        .arg("--once")
        .arg(t.zone_arg)
        .args(args)
        .env("STUB_RGW_FIXTURES", capture_dir(t.scenario))
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .output()
        .expect("run the exporter");
    Once {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        elapsed: start.elapsed(),
    }
}

/// A served exporter, killed on drop; its stderr goes to a file.
struct Served {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Served {
    fn start(t: Target, command: &str, env: &[(&str, &str)], args: &[&str]) -> Served {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!(
            "faults-{}-{}-{port}.log",
            t.bin,
            std::process::id()
        ));
        let child = Command::new(binary(t.bin))
            .arg(format!("--radosgw-admin.command={command}"))
            .arg(t.zone_arg)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .env("STUB_RGW_FIXTURES", capture_dir(t.scenario))
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the exporter");
        Served { child, port, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let (head, body) = out.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    }

    /// `/metrics`, which must answer 200 whenever it is asked.
    fn metrics(&mut self) -> String {
        self.assert_alive();
        let (status, body) = self.get("/metrics").expect("/metrics did not answer");
        assert_eq!(status, 200, "{body}");
        body
    }

    fn assert_alive(&mut self) {
        if let Some(st) = self.child.try_wait().unwrap() {
            panic!("the exporter exited ({st}); log:\n{}", self.stderr());
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// Polls `/metrics` until `cond` holds (or panics after `limit` with the last one).
    fn wait_for(&mut self, what: &str, limit: Duration, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            self.assert_alive();
            // Not listening yet right after the start.
            let m = match self.get("/metrics") {
                Some((200, m)) => m,
                Some((code, body)) => panic!("{what}: /metrics answered {code}: {body}"),
                None if start.elapsed() < Duration::from_secs(30) => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                None => self.metrics(),
            };
            if cond(&m) {
                return m;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: not seen within {limit:?}; metrics:\n{m}\nlog:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn errors(m: &str, command: &str, kind: &str) -> f64 {
    value(
        m,
        &format!("rgw_multisite_command_errors_total{{command=\"{command}\",kind=\"{kind}\"}}"),
    )
    .unwrap_or(0.0)
}

fn success(m: &str, collector: &str) -> Option<f64> {
    value(
        m,
        &format!("rgw_multisite_collector_success{{collector=\"{collector}\"}}"),
    )
}

/// What every "nothing could be read" outcome looks like, in one exposition.
/// The command a failed cycle counts its errors under. After a timeout the liveness probe
/// (`period get`) fails too and the rest of the cycle is skipped uncounted, so a hanging
/// radosgw-admin is counted under the cycle's first call, `period get` in both binaries.
fn counted_command(t: Target, kind: &str) -> &'static str {
    if kind == "timeout" {
        "period get"
    } else {
        t.up_command
    }
}

fn assert_nothing_read(t: Target, m: &str, kind: &str, ctx: &str) {
    assert_eq!(value(m, "rgw_multisite_up"), Some(0.0), "{ctx}: up\n{m}");
    let command = counted_command(t, kind);
    assert_eq!(
        success(m, t.up_collector),
        Some(0.0),
        "{ctx}: collector_success{{{}}}\n{m}",
        t.up_collector
    );
    assert!(
        errors(m, command, kind) >= 1.0,
        "{ctx}: no command_errors_total{{command=\"{command}\",kind=\"{kind}\"}}\n{m}"
    );
    let other_kinds: Vec<_> = samples(m)
        .into_iter()
        .filter(|(s, _)| {
            s.starts_with("rgw_multisite_command_errors_total{")
                && !s.contains(&format!("kind=\"{kind}\""))
        })
        .collect();
    assert!(other_kinds.is_empty(), "{ctx}: wrong kinds {other_kinds:?}");
    let claims = cluster_series(m);
    assert!(
        claims.is_empty(),
        "{ctx}: series served although nothing could be read: {claims:?}"
    );
}

/// `--once` prints the exposition, exits 1 and logs `needle` as the reason.
fn check_once(
    t: Target,
    command: &str,
    env: &[(&str, &str)],
    args: &[&str],
    kind: &str,
    needle: &str,
) -> Once {
    let r = run_once(t, command, env, args);
    let ctx = format!("{} --once, {command}", t.bin);
    assert_eq!(r.code, Some(1), "{ctx}: exit code; stderr:\n{}", r.stderr);
    assert_nothing_read(t, &r.stdout, kind, &ctx);
    assert!(
        r.stderr.contains("collector failed") && r.stderr.contains(needle),
        "{ctx}: log does not say {needle:?}:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{ctx}: {}", r.stderr);
    eprintln!(
        "[faults] {ctx}: exit {:?} after {:.2}s, up=0, kind={kind}",
        r.code,
        r.elapsed.as_secs_f64()
    );
    r
}

/// Served mode: two cycles fail the same way, `/metrics` keeps answering, the log says why.
fn check_served(
    t: Target,
    command: &str,
    env: &[(&str, &str)],
    args: &[&str],
    kind: &str,
    needle: &str,
) -> Served {
    let mut s = Served::start(
        t,
        command,
        env,
        &[&["--collection.interval=100ms"], args].concat(),
    );
    let ctx = format!("{} served, {command}", t.bin);
    // Two failed cycles; a timed-out one counts its call and the failed probe.
    let per_cycle = if kind == "timeout" { 2.0 } else { 1.0 };
    let m = s.wait_for(&ctx, Duration::from_secs(60), |m| {
        errors(m, counted_command(t, kind), kind) >= 2.0 * per_cycle
    });
    assert_nothing_read(t, &m, kind, &ctx);
    let (status, body) = s.get("/-/healthy").unwrap();
    assert_eq!((status, body.as_str()), (200, "OK\n"));
    let log = s.stderr();
    assert!(
        log.contains("collector failed") && log.contains(needle),
        "{ctx}: log does not say {needle:?}:\n{log}"
    );
    assert!(!log.contains("panicked"), "{ctx}: {log}");
    eprintln!("[faults] {ctx}: served /metrics through 2 failed cycles, up=0, kind={kind}");
    s
}

#[test]
fn missing_radosgw_admin_is_a_spawn_error() {
    for t in BOTH {
        let cmd = "/nonexistent/radosgw-admin";
        let needle = "could not start /nonexistent/radosgw-admin";
        check_once(t, cmd, &[], &[], "spawn", needle);
        check_served(t, cmd, &[], &[], "spawn", needle);
    }
}

#[test]
fn radosgw_admin_not_executable_is_a_spawn_error() {
    let path = std::env::temp_dir().join(format!("faults-noexec-{}", std::process::id()));
    std::fs::write(&path, "#!/bin/sh\necho never\n").unwrap();
    let cmd = path.display().to_string();
    for t in BOTH {
        check_once(t, &cmd, &[], &[], "spawn", "Permission denied");
        check_served(t, &cmd, &[], &[], "spawn", "Permission denied");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn hanging_radosgw_admin_is_killed_at_the_timeout_with_its_children() {
    for t in BOTH {
        let tok = token("hang");
        let cmd = fault_stub(&format!("hang={tok}"));
        let r = check_once(
            t,
            &cmd,
            &[],
            &["--radosgw-admin.timeout=1s"],
            "timeout",
            "timed out after 1s (process group killed)",
        );
        eprintln!(
            "[faults] {} --once with every call hanging, timeout 1s: done in {:.2}s",
            t.bin,
            r.elapsed.as_secs_f64()
        );
        let (live, zombies) = settle(&tok);
        assert!(
            live.is_empty() && zombies.is_empty(),
            "{}: left behind live {live:?}, zombies {zombies:?}",
            t.bin
        );

        let tok = token("hangs");
        let cmd = fault_stub(&format!("hang={tok}"));
        let mut s = check_served(
            t,
            &cmd,
            &[],
            &["--radosgw-admin.timeout=300ms"],
            "timeout",
            "timed out after 300ms (process group killed)",
        );
        // At any moment at most the call in flight (the stub and its child) is alive.
        for _ in 0..10 {
            let (live, _) = procs_with(&tok);
            // The call in flight (stub and child), and one killed an instant ago.
            assert!(
                live.len() <= 4,
                "{}: {} stub processes alive",
                t.bin,
                live.len()
            );
            std::thread::sleep(Duration::from_millis(37));
        }
        s.assert_alive();
        let (_, zombies) = children(s.pid());
        assert!(zombies <= 1, "{}: {zombies} zombie children", t.bin);
        drop(s);
        let (live, zombies) = settle(&tok);
        // Killing the exporter (SIGKILL, no clean-up) may orphan the call in flight; a clean
        // run must not, so only a leftover of one call is tolerated here.
        assert!(
            live.len() <= 2 && zombies.is_empty(),
            "{}: left behind live {live:?}, zombies {zombies:?}",
            t.bin
        );
        for p in live {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
    }
}

/// Waits (up to 5 s) for processes matching `tok` to disappear; returns what is left.
fn settle(tok: &str) -> (Vec<u32>, Vec<u32>) {
    let start = Instant::now();
    loop {
        let (live, zombies) = procs_with(tok);
        if (live.is_empty() && zombies.is_empty()) || start.elapsed() > Duration::from_secs(5) {
            return (live, zombies);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn failing_radosgw_admin_is_an_exit_error_with_its_stderr() {
    let expect = [
        (
            2,
            "failed to read sync status: (2) No such file or directory",
        ),
        (
            5,
            "failed to fetch master sync status: (5) Input/output error",
        ),
        (22, "ERROR: invalid argument: (22) Invalid argument"),
        (210, "failure: (2002) Unknown error 2002:"),
    ];
    for t in BOTH {
        for (code, line) in expect {
            let cmd = fault_stub(&format!("exit={code}"));
            let needle = format!("exited with code {code}: {line}");
            check_once(t, &cmd, &[], &[], "exit", &needle);
            check_served(t, &cmd, &[], &[], "exit", &needle);
        }
    }
}

/// The exposition of a clean run, normalised (time-dependent values masked).
fn clean(t: Target) -> String {
    let r = run_once(t, &fault_stub("replay"), &[], &[]);
    assert_eq!(
        r.code,
        Some(0),
        "{}: clean replay failed:\n{}",
        t.bin,
        r.stderr
    );
    normalize(&r.stdout)
}

#[test]
fn stderr_noise_with_exit_0_changes_nothing() {
    for t in BOTH {
        let want = clean(t);
        let r = run_once(t, &fault_stub("noise"), &[], &[]);
        assert_eq!(r.code, Some(0), "{}: {}", t.bin, r.stderr);
        assert_eq!(
            normalize(&r.stdout),
            want,
            "{}: noise changed the exposition",
            t.bin
        );
        assert!(
            !r.stderr.contains("WARN"),
            "{}: warned about noise:\n{}",
            t.bin,
            r.stderr
        );

        let mut s = Served::start(
            t,
            &fault_stub("noise"),
            &[],
            &["--collection.interval=100ms"],
        );
        // Once a whole cycle has run, the same numbers as the --once run (bar the clock).
        s.wait_for(
            "noise: served, same as --once",
            Duration::from_secs(60),
            |m| normalize(m) == want,
        );
        eprintln!(
            "[faults] {}: stderr noise (2000 log lines per call): exposition unchanged, up=1",
            t.bin
        );
    }
}

/// Peak and current resident memory of a process, in MiB, from /proc/<pid>/status.
fn memory_mib(pid: u32) -> (f64, f64) {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        st.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / 1024.0
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

#[test]
fn hundred_megabytes_of_output_is_a_parse_error_and_memory_stays_bounded() {
    for t in BOTH {
        let cmd = fault_stub("big=100");
        let r = check_once(t, &cmd, &[], &[], "parse", "cannot parse output");
        eprintln!(
            "[faults] {} --once, 100 MB of stdout per call: {:.1}s",
            t.bin,
            r.elapsed.as_secs_f64()
        );

        let mut s = Served::start(t, &cmd, &[], &["--collection.interval=100ms"]);
        let ctx = format!("{} served, 100 MB per call", t.bin);
        let m = s.wait_for(&ctx, Duration::from_secs(120), |m| {
            errors(m, t.up_command, "parse") >= 2.0
        });
        assert_nothing_read(t, &m, "parse", &ctx);
        let (peak2, rss2) = memory_mib(s.pid());
        let m = s.wait_for(&ctx, Duration::from_secs(240), |m| {
            errors(m, t.up_command, "parse") >= 6.0
        });
        assert_nothing_read(t, &m, "parse", &ctx);
        let (peak6, rss6) = memory_mib(s.pid());
        let m = s.wait_for(&ctx, Duration::from_secs(240), |m| {
            errors(m, t.up_command, "parse") >= 10.0
        });
        assert_nothing_read(t, &m, "parse", &ctx);
        let (peak10, rss10) = memory_mib(s.pid());
        eprintln!(
            "[faults] {ctx}: peak/rss MiB after 2 failed cycles {peak2:.0}/{rss2:.0}, after 6 {peak6:.0}/{rss6:.0}, after 10 {peak10:.0}/{rss10:.0}"
        );
        // Bounded: the allocator keeps what one call needed (a plateau within a few cycles),
        // not one output per cycle (that would add 400 MiB per 4 cycles).
        assert!(
            rss10 < rss6 + 64.0,
            "{ctx}: RSS grew from {rss6:.0} to {rss10:.0} MiB"
        );
        assert!(peak10 < 800.0, "{ctx}: peak RSS {peak10:.0} MiB");
        assert!(!s.stderr().contains("panicked"));
    }
}

/// Every cluster series of `m` is in the clean run with the same value (masked values
/// only need to be present), and every counted error is of `kind`.
fn assert_no_wrong_number(t: Target, m: &str, want: &str, kind: &str, ctx: &str) {
    let m = normalize(m);
    for l in m.lines().filter(|l| !l.starts_with('#')) {
        let fam = family(l.split(' ').next().unwrap_or(""));
        if SELF_FAMILIES.contains(&fam) {
            continue;
        }
        assert!(
            want.lines().any(|w| w == l),
            "{ctx}: {l:?} is not what the clean run says"
        );
    }
    for (s, _) in samples(&m) {
        if s.starts_with("rgw_multisite_command_errors_total{") {
            assert!(s.contains(&format!("kind=\"{kind}\"")), "{ctx}: {s}");
        }
    }
    eprintln!(
        "[faults] {ctx}: up={:?}; failed collectors {:?}; every number served matches the clean run",
        value(&m, "rgw_multisite_up"),
        samples(&m)
            .into_iter()
            .filter(|(s, v)| s.starts_with("rgw_multisite_collector_success{") && *v == 0.0)
            .map(|(s, _)| s)
            .collect::<Vec<_>>()
    );
    let _ = t;
}

#[test]
fn non_utf8_output_fails_json_and_garbles_no_number() {
    for t in BOTH {
        let want = clean(t);
        let cmd = fault_stub("nonutf8");
        // JSON with bad bytes does not parse at all.
        let env = [("FAULT_ONLY", "period get")];
        let r = run_once(t, &cmd, &env, &[]);
        assert_eq!(
            success(&r.stdout, "topology"),
            Some(0.0),
            "{}:\n{}",
            t.bin,
            r.stdout
        );
        assert!(errors(&r.stdout, "period get", "parse") >= 1.0);
        assert!(r.stderr.contains("cannot parse output"), "{}", r.stderr);
        // Everywhere: text lines with bad bytes are skipped, JSON fails; nothing wrong served.
        let r = run_once(t, &cmd, &[], &[]);
        assert_no_wrong_number(
            t,
            &r.stdout,
            &want,
            "parse",
            &format!("{} --once nonutf8", t.bin),
        );
        let mut s = Served::start(t, &cmd, &[], &["--collection.interval=100ms"]);
        let m = s.wait_for("nonutf8 served", Duration::from_secs(60), |m| {
            errors(m, "period get", "parse") >= 2.0
        });
        assert_no_wrong_number(t, &m, &want, "parse", &format!("{} served nonutf8", t.bin));
    }
}

#[test]
fn truncated_output_is_a_parse_error() {
    for t in BOTH {
        let cmd = fault_stub("truncated");
        check_once(t, &cmd, &[], &[], "parse", "cannot parse output");
        check_served(t, &cmd, &[], &[], "parse", "cannot parse output");
    }
}

#[test]
fn log_lines_interleaved_in_output_change_no_number() {
    for t in BOTH {
        let want = clean(t);
        let cmd = fault_stub("interleave");
        // In `sync status` text the log lines are skipped: the same numbers as the clean run.
        let env = [("FAULT_ONLY", "sync status")];
        let r = run_once(t, &cmd, &env, &[]);
        assert_eq!(r.code, Some(0), "{}: {}", t.bin, r.stderr);
        assert_eq!(
            normalize(&r.stdout),
            want,
            "{}: log lines changed a number",
            t.bin
        );
        // In every output: parsers that do not skip them fail (kind=parse), none misreads.
        let r = run_once(t, &cmd, &[], &[]);
        assert_no_wrong_number(
            t,
            &r.stdout,
            &want,
            "parse",
            &format!("{} --once interleave", t.bin),
        );
        let mut s = Served::start(t, &cmd, &[], &["--collection.interval=100ms"]);
        let m = s.wait_for("interleave served", Duration::from_secs(60), |m| {
            value(m, "rgw_multisite_up").is_some()
                && samples(m)
                    .iter()
                    .any(|(s, _)| s.starts_with("rgw_multisite_collector_success{"))
        });
        assert_no_wrong_number(
            t,
            &m,
            &want,
            "parse",
            &format!("{} served interleave", t.bin),
        );
    }
}

/// What /proc says about a process, each the minimum of a few samples (a call in flight
/// briefly holds two pipes and a child).
#[derive(Debug, Clone, Copy)]
struct ProcSample {
    rss_kib: u64,
    fds: usize,
    threads: u64,
    children: usize,
    zombie_children: usize,
}

fn proc_sample(pid: u32) -> ProcSample {
    let one = || {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |k: &str| {
            st.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap()
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count();
        let (children, zombie_children) = children(pid);
        ProcSample {
            rss_kib: field("VmRSS:"),
            fds,
            threads: field("Threads:"),
            children,
            zombie_children,
        }
    };
    let mut s = one();
    for _ in 0..39 {
        std::thread::sleep(Duration::from_millis(3));
        let n = one();
        s = ProcSample {
            rss_kib: s.rss_kib.min(n.rss_kib),
            fds: s.fds.min(n.fds),
            threads: s.threads.min(n.threads),
            children: s.children.min(n.children),
            zombie_children: s.zombie_children.min(n.zombie_children),
        };
    }
    s
}

/// 1,000 cycles in which every call hangs and is killed at a 20 ms timeout: nothing grows.
fn thousand_cycles(t: Target) -> String {
    let tok = token("leak");
    let mut s = Served::start(
        t,
        &fault_stub(&format!("hang={tok}")),
        &[],
        &[
            "--radosgw-admin.timeout=20ms",
            "--collection.interval=1ms",
            "--log.level=error",
        ],
    );
    // Each cycle: its first call (`period get`) times out, the liveness probe too, and the
    // rest of the cycle is skipped.
    let cycles = |m: &str| errors(m, "period get", "timeout") / 2.0;
    let limit = Duration::from_secs(600);
    let m = s.wait_for("50 cycles", limit, |m| cycles(m) >= 50.0);
    let (c0, t0) = (cycles(&m), Instant::now());
    let before = proc_sample(s.pid());
    let m = s.wait_for("1050 cycles", limit, |m| cycles(m) >= 1050.0);
    let (c1, secs) = (cycles(&m), t0.elapsed().as_secs_f64());
    let after = proc_sample(s.pid());
    assert_nothing_read(t, &m, "timeout", t.bin);
    let (live, zombies) = procs_with(&tok);
    let report = format!(
        "{}: {} cycles in {secs:.1}s ({:.1} ms/cycle); RSS {} -> {} KiB ({:+} KiB), fds {} -> {}, threads {} -> {}, children {} -> {} (zombies {} -> {}); stub processes alive now {}, orphaned zombies {}",
        t.bin,
        c1 - c0,
        secs * 1000.0 / (c1 - c0),
        before.rss_kib,
        after.rss_kib,
        after.rss_kib as i64 - before.rss_kib as i64,
        before.fds,
        after.fds,
        before.threads,
        after.threads,
        before.children,
        after.children,
        before.zombie_children,
        after.zombie_children,
        live.len(),
        zombies.len(),
    );
    eprintln!("[faults] {report}");
    // A call in flight holds up to 3 fds (two pipes, a pidfd); a leak would be ~1,000.
    assert!(after.fds <= before.fds + 3, "fds grew: {report}");
    assert!(
        after.threads <= before.threads + 1,
        "threads grew: {report}"
    );
    assert!(
        after.children <= 1 && after.zombie_children == 0,
        "children left: {report}"
    );
    assert!(live.len() <= 4, "stub processes pile up: {report}");
    assert!(zombies.is_empty(), "orphaned zombies: {report}");
    // A leak of 1 KiB a cycle would show as 1,000 KiB.
    assert!(
        after.rss_kib <= before.rss_kib + 1024,
        "RSS grew by more than 1 MiB: {report}"
    );
    report
}

#[test]
fn thousand_hung_cycles_leak_no_memory_fds_threads_or_processes() {
    let handles: Vec<_> = BOTH
        .into_iter()
        .map(|t| std::thread::spawn(move || thousand_cycles(t)))
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
    for r in results {
        r.unwrap();
    }
}
