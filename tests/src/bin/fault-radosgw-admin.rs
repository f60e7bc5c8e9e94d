//! A `radosgw-admin` stand-in that misbehaves on purpose, for the fault tests
//! (`tests/tests/faults.rs`): `fault-radosgw-admin MODE [radosgw-admin args...]`.
//!
//! MODE (`name` or `name=param`):
//! - `replay`: answer like `stub-radosgw-admin` (the replay stub next to this binary) does.
//! - `hang[=TOKEN]`: start a child (`sleep-child=TOKEN`, as a wrapper such as `cephadm
//!   shell` would) and never answer; TOKEN lets a test find leftovers with `/proc`.
//! - `exit=N`: exit N with stderr as radosgw-admin prints it for that code.
//! - `noise`: the replayed answer, plus a lot of harmless stderr (log lines, warnings).
//! - `big=MB`: MB megabytes of stdout (text that is not the command's output), exit 0.
//! - `nonutf8`: the replayed answer with invalid UTF-8 bytes in its middle.
//! - `truncated`: the first half of the replayed answer, exit 0.
//! - `interleave`: the replayed answer with Ceph log lines between its lines (what a
//!   wrapper that merges stderr into stdout produces).
//!
//! `FAULT_ONLY=<prefix>` applies the fault only to calls whose replay key starts with the
//! prefix (e.g. `sync status`); every other call is replayed unchanged.
//! `FAULT_LOG=<file>` gets one line per call: `<mode> <key>`.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::Write;
use std::process::{Command, ExitCode};

/// A Ceph log line as radosgw-admin prints it on stderr.
fn log_line(level: i32, msg: &str) -> String {
    format!("2026-03-02T10:15:42.123+0000 7f3a9c2d4f40 {level:>2} {msg}")
}

/// stderr radosgw-admin prints for an exit code (the code is `-ret & 0xff`).
fn stderr_for(code: u8) -> String {
    let lines: Vec<String> = match code {
        2 => vec![
            log_line(
                0,
                "ERROR: failed to read sync status: (2) No such file or directory",
            ),
            "failed to read sync status: (2) No such file or directory".into(),
        ],
        5 => vec![
            log_line(
                -1,
                "RGW-SYNC:meta: ERROR: failed to fetch mdlog info: (5) Input/output error",
            ),
            "failed to fetch master sync status: (5) Input/output error".into(),
        ],
        22 => vec![
            log_line(0, "WARNING: unknown option --frobnicate"),
            "ERROR: invalid argument: (22) Invalid argument".into(),
        ],
        210 => vec![
            "failure: (2002) Unknown error 2002:".into(),
            "could not get bucket info for bucket=bucket-1".into(),
        ],
        110 => vec![
            log_line(-1, "monclient(hunting): authenticate timed out after 5"),
            "failed to fetch mon config (--no-mon-config to skip)".into(),
        ],
        n => vec![format!("ERROR: something failed: ({n}) Unknown error {n}")],
    };
    lines.join("\n") + "\n"
}

/// stderr noise a healthy call can print (exit 0).
fn noise() -> String {
    let mut s = String::new();
    s.push_str(&log_line(
        -1,
        "WARNING: the following dangerous and experimental features are enabled: *",
    ));
    s.push('\n');
    s.push_str("ignoring --setuser ceph since I am not root\n");
    s.push_str("ignoring --setgroup ceph since I am not root\n");
    for i in 0..2000 {
        s.push_str(&log_line(
            0,
            &format!("RGW-SYNC:data:sync:shard[{}]: incremental sync on bucket-{i}: retrying in 30s (errors: {i})", i % 128),
        ));
        s.push('\n');
    }
    s.push_str("2026-03-02T10:15:42.124+0000 7f3a9c2d4f40 -1 auth: unable to find a keyring on /etc/ceph/ceph.client.admin.keyring: (2) No such file or directory\n");
    s
}

/// The replay key (same rules as `stub-radosgw-admin`), for FAULT_ONLY and the log.
fn key_of(args: &[String]) -> String {
    let mut words = Vec::new();
    let mut opts = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if [
            "-c",
            "--conf",
            "--cluster",
            "--id",
            "-n",
            "--name",
            "--keyring",
            "-k",
        ]
        .contains(&a.as_str())
        {
            it.next();
        } else if a.starts_with("--client_mount_timeout=")
            || a.starts_with("--rados_mon_op_timeout=")
            || a.starts_with("--rados_osd_op_timeout=")
        {
        } else if a.starts_with('-') {
            opts.push(a.clone());
        } else {
            words.push(a.clone());
        }
    }
    opts.sort();
    words.extend(opts);
    words.join(" ")
}

/// The replay stub's answer: (stdout, stderr, code).
fn replay(args: &[String]) -> (Vec<u8>, Vec<u8>, u8) {
    let exe = std::env::current_exe().expect("current exe");
    let stub = exe.with_file_name("stub-radosgw-admin");
    let out = Command::new(stub)
        .args(args)
        .output()
        .expect("run stub-radosgw-admin");
    let code = out.status.code().unwrap_or(1) as u8;
    (out.stdout, out.stderr, code)
}

fn emit(stdout: &[u8], stderr: &[u8], code: u8) -> ExitCode {
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr);
    ExitCode::from(code)
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    let (name, param) = mode.split_once('=').unwrap_or((mode.as_str(), ""));
    if name == "sleep-child" {
        sleep_forever();
    }
    let key = key_of(&args);
    let faulty = std::env::var("FAULT_ONLY").map_or(true, |p| key.starts_with(&p));
    if let Ok(log) = std::env::var("FAULT_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let m = if faulty { name } else { "replay" };
            let _ = f.write_all(format!("{m} {key}\n").as_bytes());
        }
    }
    if !faulty {
        let (o, e, c) = replay(&args);
        return emit(&o, &e, c);
    }
    match name {
        "replay" => {
            let (o, e, c) = replay(&args);
            emit(&o, &e, c)
        }
        "hang" => {
            let exe = std::env::current_exe().expect("current exe");
            let mut child = Command::new(exe)
                .arg(format!("sleep-child={param}"))
                .spawn()
                .expect("spawn the child");
            // The child never exits: this waits until the process group is killed.
            let _ = child.wait();
            sleep_forever();
        }
        "exit" => {
            let code: u8 = param.parse().expect("exit=N");
            emit(b"", stderr_for(code).as_bytes(), code)
        }
        "noise" => {
            let (o, mut e, c) = replay(&args);
            e.extend_from_slice(noise().as_bytes());
            emit(&o, &e, c)
        }
        "big" => {
            let mb: usize = param.parse().expect("big=MB");
            let line =
                b"{\"bucket\": \"filler\", \"shard\": 0, \"marker\": \"00000000001.1.5\"},\n";
            let mut block = Vec::with_capacity(1 << 20);
            while block.len() + line.len() <= 1 << 20 {
                block.extend_from_slice(line);
            }
            block.resize(1 << 20, b'\n');
            let mut out = std::io::stdout().lock();
            for _ in 0..mb {
                if out.write_all(&block).is_err() {
                    return ExitCode::from(141);
                }
            }
            ExitCode::SUCCESS
        }
        "nonutf8" => {
            let (mut o, e, c) = replay(&args);
            let mid = o.len() / 2;
            o.splice(mid..mid, [0xff, 0xfe, 0xc3, 0x28, 0x80]);
            emit(&o, &e, c)
        }
        "truncated" => {
            let (o, e, c) = replay(&args);
            emit(&o[..o.len() / 2], &e, c)
        }
        "interleave" => {
            let (o, e, c) = replay(&args);
            let text = String::from_utf8_lossy(&o);
            let mut out = String::new();
            for (i, l) in text.lines().enumerate() {
                if i % 3 == 1 {
                    out.push_str(&log_line(0, "ERROR: failed to fetch datalog info"));
                    out.push('\n');
                }
                out.push_str(l);
                out.push('\n');
            }
            emit(out.as_bytes(), &e, c)
        }
        other => {
            eprintln!("fault-radosgw-admin: unknown mode {other:?}");
            ExitCode::from(64)
        }
    }
}
