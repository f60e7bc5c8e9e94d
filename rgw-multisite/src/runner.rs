//! Runs `radosgw-admin`: argv building, timeouts, output limits and error kinds.
//!
//! The command line is split like a shell would (`cephadm shell -- radosgw-admin`, `-c`,
//! `--id` …) and never run through a shell. Every call gets its own timeout; on expiry the
//! whole process group is killed, so wrappers such as `cephadm shell` leave nothing behind.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

/// What one finished call produced. Non-zero exits are not errors here: `bucket stats` on a
/// bucket the replica does not have yet exits 210 and that is an answer, not a failure.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
    /// Exit code; `128 + signal` when killed by a signal.
    pub code: i32,
    pub duration: Duration,
}

impl CommandOutput {
    /// The first non-empty stderr line that is not a Ceph log line, for messages.
    pub fn stderr_summary(&self) -> String {
        let line = self
            .stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !crate::parse::is_log_line(l))
            .or_else(|| self.stderr.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("");
        truncate(line, 300)
    }
}

/// Why a call failed. `kind()` is the closed set used as a metric label.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RunError {
    #[error("timed out after {0:?} (process group killed)")]
    Timeout(Duration),
    #[error("could not start {program}: {reason}")]
    Spawn { program: String, reason: String },
    #[error("exited with code {code}: {stderr}")]
    Exit { code: i32, stderr: String },
    #[error("output larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cannot parse output: {0}")]
    Parse(String),
    /// Not run: earlier in this cycle a call timed out and the liveness probe failed too.
    #[error("skipped: the cluster did not answer ({0})")]
    Skipped(String),
}

impl RunError {
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Timeout(_) => "timeout",
            RunError::Spawn { .. } => "spawn",
            RunError::Exit { .. } => "exit",
            RunError::TooLarge { .. } | RunError::Parse(_) => "parse",
            // Never counted in `command_errors_total` (no command ran); logs only.
            RunError::Skipped(_) => "skipped",
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one command given as a full argv. Tests use a fake keyed by argv.
pub trait CommandRunner: Send + Sync {
    fn run<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, Result<CommandOutput, RunError>>;

    /// As [`run`](Self::run) with a per-call timeout no longer than the runner's own (the
    /// liveness probe's). Runners without timeouts (fakes) ignore it.
    fn run_with_timeout<'a>(
        &'a self,
        argv: &'a [String],
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<CommandOutput, RunError>> {
        self.run(argv)
    }
}

/// The real runner: `tokio::process`, stdout and stderr kept apart, a timeout per call.
#[derive(Debug, Clone)]
pub struct ProcessRunner {
    pub timeout: Duration,
    /// Output beyond this many bytes (stdout or stderr) fails the call instead of eating memory.
    pub max_output_bytes: usize,
}

impl ProcessRunner {
    pub fn new(timeout: Duration) -> Self {
        ProcessRunner {
            timeout,
            max_output_bytes: 1 << 30,
        }
    }
}

impl CommandRunner for ProcessRunner {
    fn run<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, Result<CommandOutput, RunError>> {
        Box::pin(run_process(argv, self.timeout, self.max_output_bytes))
    }

    fn run_with_timeout<'a>(
        &'a self,
        argv: &'a [String],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<CommandOutput, RunError>> {
        Box::pin(run_process(
            argv,
            timeout.min(self.timeout),
            self.max_output_bytes,
        ))
    }
}

async fn read_capped<R: tokio::io::AsyncRead + Unpin>(
    mut r: R,
    limit: usize,
) -> Result<Vec<u8>, RunError> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = r
            .read(&mut chunk)
            .await
            .map_err(|e| RunError::Parse(e.to_string()))?;
        if n == 0 {
            return Ok(buf);
        }
        if buf.len() + n > limit {
            return Err(RunError::TooLarge { limit });
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

async fn run_process(
    argv: &[String],
    timeout: Duration,
    limit: usize,
) -> Result<CommandOutput, RunError> {
    let (program, args) = argv.split_first().ok_or_else(|| RunError::Spawn {
        program: String::new(),
        reason: "empty command line".into(),
    })?;
    let start = Instant::now();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Own process group, so a timeout can kill wrappers and their children together.
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| RunError::Spawn {
        program: program.clone(),
        reason: e.to_string(),
    })?;
    let pid = child.id();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let out = async {
            match stdout {
                Some(s) => read_capped(s, limit).await,
                None => Ok(Vec::new()),
            }
        };
        let err = async {
            match stderr {
                Some(s) => read_capped(s, limit).await,
                None => Ok(Vec::new()),
            }
        };
        let (out, err) = tokio::join!(out, err);
        let status = child
            .wait()
            .await
            .map_err(|e| RunError::Parse(e.to_string()))?;
        Ok::<_, RunError>((out?, err?, status))
    };
    let result = tokio::time::timeout(timeout, work).await;
    let (out, err, status) = match result {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            kill_group(pid);
            return Err(e);
        }
        Err(_) => {
            kill_group(pid);
            return Err(RunError::Timeout(timeout));
        }
    };
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    Ok(CommandOutput {
        stdout: utf8_lossy(out),
        stderr: utf8_lossy(err),
        code,
        duration: start.elapsed(),
    })
}

/// Bytes to text without a copy when they are valid UTF-8 (a zone's `bucket stats` is
/// ~150 MB at 100k buckets; a lossy copy would double it), replacing bad bytes otherwise.
fn utf8_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// SIGKILL to the child's process group; the child itself is reaped by tokio (`kill_on_drop`).
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s.get(..end).unwrap_or(""))
}

/// Options every call gets so that a dead monitor fails within our timeout instead of
/// Ceph's 300 s default (formats reference §8).
pub fn ceph_timeout_args(timeout: Duration) -> Vec<String> {
    let secs = timeout.as_secs().max(1);
    vec![
        format!("--client_mount_timeout={secs}"),
        format!("--rados_mon_op_timeout={secs}"),
        format!("--rados_osd_op_timeout={secs}"),
    ]
}

/// `radosgw-admin` as configured: base argv, the local zone, and a runner.
#[derive(Clone)]
pub struct RadosgwAdmin {
    base: Vec<String>,
    zone: Option<String>,
    extra: Vec<String>,
    runner: Arc<dyn CommandRunner>,
}

impl std::fmt::Debug for RadosgwAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadosgwAdmin")
            .field("base", &self.base)
            .field("zone", &self.zone)
            .finish()
    }
}

/// Splits a `--radosgw-admin.command` value like a POSIX shell would.
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    let words =
        shell_words::split(command).map_err(|e| format!("cannot split {command:?}: {e}"))?;
    if words.is_empty() {
        return Err("the radosgw-admin command is empty".into());
    }
    Ok(words)
}

impl RadosgwAdmin {
    pub fn new(base: Vec<String>, extra: Vec<String>, runner: Arc<dyn CommandRunner>) -> Self {
        RadosgwAdmin {
            base,
            zone: None,
            extra,
            runner,
        }
    }

    /// Every later call carries `--rgw-zone=<zone>`.
    pub fn with_zone(mut self, zone: Option<String>) -> Self {
        self.zone = zone;
        self
    }

    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The full argv for `args` (subcommand words and `--opt=value` options).
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        self.argv_in_zone(args, self.zone.as_deref())
    }

    /// As [`argv`](Self::argv) but for another zone (the master exporter reads every zone).
    pub fn argv_in_zone(&self, args: &[&str], zone: Option<&str>) -> Vec<String> {
        let mut v = self.base.clone();
        v.extend(args.iter().map(|s| s.to_string()));
        if let Some(z) = zone {
            v.push(format!("--rgw-zone={z}"));
        }
        v.extend(self.extra.iter().cloned());
        v
    }

    /// Runs `args` with the base command only: no zone, no Ceph timeouts (`--version`).
    pub async fn run_bare(&self, args: &[&str]) -> Result<CommandOutput, RunError> {
        let mut argv = self.base.clone();
        argv.extend(args.iter().map(|s| s.to_string()));
        self.runner.run(&argv).await
    }

    pub async fn run(&self, args: &[&str]) -> Result<CommandOutput, RunError> {
        let argv = self.argv(args);
        self.runner.run(&argv).await
    }

    pub async fn run_in_zone(
        &self,
        args: &[&str],
        zone: Option<&str>,
    ) -> Result<CommandOutput, RunError> {
        let argv = self.argv_in_zone(args, zone);
        self.runner.run(&argv).await
    }

    /// As [`run_in_zone`](Self::run_in_zone) within `timeout`, Ceph's own timeouts set to
    /// match instead of the configured ones, so a dead monitor fails it within `timeout`.
    pub async fn run_in_zone_within(
        &self,
        args: &[&str],
        zone: Option<&str>,
        timeout: Duration,
    ) -> Result<CommandOutput, RunError> {
        let ceph = ceph_timeout_args(timeout);
        let mut argv = self.base.clone();
        argv.extend(args.iter().map(|s| s.to_string()));
        if let Some(z) = zone {
            argv.push(format!("--rgw-zone={z}"));
        }
        let is_ceph_timeout = |a: &String| {
            ceph.iter()
                .any(|c| c.split('=').next().is_some_and(|k| a.starts_with(k)))
        };
        argv.extend(self.extra.iter().filter(|a| !is_ceph_timeout(a)).cloned());
        argv.extend(ceph.iter().cloned());
        self.runner.run_with_timeout(&argv, timeout).await
    }

    /// Name of a command for labels: its subcommand words (`bucket sync status`).
    pub fn command_label(args: &[&str]) -> String {
        args.iter()
            .take_while(|a| !a.starts_with('-'))
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn captures_stdout_stderr_and_code_separately() {
        let r = ProcessRunner::new(Duration::from_secs(5));
        let out = r.run(&sh("echo out; echo err >&2; exit 210")).await;
        let out = out.map(|o| (o.stdout, o.stderr, o.code));
        assert_eq!(out, Ok(("out\n".into(), "err\n".into(), 210)));
    }

    #[tokio::test]
    async fn missing_binary_is_a_spawn_error() {
        let r = ProcessRunner::new(Duration::from_secs(5));
        let err = r
            .run(&["/nonexistent/radosgw-admin".to_string()])
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.kind(), "spawn");
    }

    #[tokio::test]
    async fn hung_command_is_killed_with_its_children() {
        let r = ProcessRunner::new(Duration::from_millis(300));
        let marker = format!("rgwms-hang-{}", std::process::id());
        // A wrapper that forks a long sleeper, like `cephadm shell` would.
        let script = format!("sleep 30 & exec -a {marker} sleep 31");
        let start = Instant::now();
        let err = r.run(&sh(&script)).await.map(|_| ()).unwrap_err();
        assert_eq!(err, RunError::Timeout(Duration::from_millis(300)));
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ps = std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        assert_eq!(ps.trim(), "", "process group survived the timeout");
    }

    #[tokio::test]
    async fn output_over_the_limit_fails() {
        let r = ProcessRunner {
            timeout: Duration::from_secs(5),
            max_output_bytes: 1000,
        };
        let err = r
            .run(&sh("head -c 5000 /dev/zero"))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err, RunError::TooLarge { limit: 1000 });
    }

    #[tokio::test]
    async fn non_utf8_output_is_kept_lossily() {
        let r = ProcessRunner::new(Duration::from_secs(5));
        let out = r.run(&sh("printf 'a\\377b'")).await.map(|o| o.stdout);
        assert_eq!(out, Ok("a\u{FFFD}b".to_string()));
    }

    #[tokio::test]
    async fn a_shorter_timeout_replaces_the_ceph_timeouts_and_bounds_the_call() {
        let fake = FakeRunner::new();
        let rgw = RadosgwAdmin::new(
            vec!["radosgw-admin".into()],
            ceph_timeout_args(Duration::from_secs(30)),
            fake.clone(),
        );
        let _ = rgw
            .run_in_zone_within(&["period", "get"], Some("z"), Duration::from_secs(10))
            .await;
        assert_eq!(
            fake.calls(),
            vec![vec![
                "radosgw-admin",
                "period",
                "get",
                "--rgw-zone=z",
                "--client_mount_timeout=10",
                "--rados_mon_op_timeout=10",
                "--rados_osd_op_timeout=10"
            ]]
        );
        let r = ProcessRunner::new(Duration::from_secs(5));
        let err = r
            .run_with_timeout(&sh("sleep 5"), Duration::from_millis(200))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err, RunError::Timeout(Duration::from_millis(200)));
    }

    #[test]
    fn command_is_split_like_a_shell() {
        assert_eq!(
            split_command("cephadm shell -- radosgw-admin -c '/etc/ceph/my conf'"),
            Ok(vec![
                "cephadm".to_string(),
                "shell".into(),
                "--".into(),
                "radosgw-admin".into(),
                "-c".into(),
                "/etc/ceph/my conf".into()
            ])
        );
        assert!(split_command("   ").is_err());
        assert!(split_command("radosgw-admin 'unterminated").is_err());
    }

    #[test]
    fn argv_appends_zone_and_extra_options() {
        struct Never;
        impl CommandRunner for Never {
            fn run<'a>(
                &'a self,
                _: &'a [String],
            ) -> BoxFuture<'a, Result<CommandOutput, RunError>> {
                Box::pin(async { Err(RunError::Parse("unused".into())) })
            }
        }
        let rgw = RadosgwAdmin::new(
            vec!["radosgw-admin".into(), "-c".into(), "/x.conf".into()],
            vec!["--client_mount_timeout=5".into()],
            Arc::new(Never),
        )
        .with_zone(Some("us-west".into()));
        assert_eq!(
            rgw.argv(&["sync", "status"]),
            vec![
                "radosgw-admin",
                "-c",
                "/x.conf",
                "sync",
                "status",
                "--rgw-zone=us-west",
                "--client_mount_timeout=5"
            ]
        );
        assert_eq!(
            RadosgwAdmin::command_label(&["bucket", "sync", "status", "--bucket=x"]),
            "bucket sync status"
        );
    }
}

/// A runner for tests: answers keyed by the exact argv, records every call.
#[derive(Debug, Default)]
pub struct FakeRunner {
    answers:
        std::sync::Mutex<std::collections::HashMap<Vec<String>, Result<CommandOutput, RunError>>>,
    calls: std::sync::Mutex<Vec<Vec<String>>>,
}

impl FakeRunner {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Answers `argv` with `stdout` and exit code `code`.
    pub fn on(&self, argv: Vec<String>, code: i32, stdout: &str, stderr: &str) {
        self.set(
            argv,
            Ok(CommandOutput {
                stdout: stdout.to_string(),
                stderr: stderr.to_string(),
                code,
                duration: Duration::ZERO,
            }),
        );
    }

    pub fn set(&self, argv: Vec<String>, answer: Result<CommandOutput, RunError>) {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(argv, answer);
    }

    /// Every argv run so far, in order.
    pub fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl CommandRunner for FakeRunner {
    fn run<'a>(&'a self, argv: &'a [String]) -> BoxFuture<'a, Result<CommandOutput, RunError>> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(argv.to_vec());
        let answer = self
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(argv)
            .cloned()
            .unwrap_or_else(|| {
                Err(RunError::Spawn {
                    program: "fake".into(),
                    reason: format!("no answer for {argv:?}"),
                })
            });
        Box::pin(async move { answer })
    }
}
