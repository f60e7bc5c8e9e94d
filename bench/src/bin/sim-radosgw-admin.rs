//! sim-radosgw-admin: a `radosgw-admin` stand-in for a realm of any size (see
//! `rgw_multisite_bench::sim`). Configuration: `SIM_RGW_CONFIG` (a `key=value` file, reread
//! at every call so a benchmark can change the state between calls) and `SIM_RGW_<KEY>`
//! variables. Every call sleeps `latency_ms` (100 ms by default: process start and cluster
//! connect of the real command), answers, and appends a line to `log` / `SIM_RGW_LOG`:
//! start (unix seconds), duration (seconds), exit code and the call's key, tab-separated.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rgw_multisite_bench::sim::{parse_call, Sim, SimConfig, Stdout};

fn main() -> ExitCode {
    let started = Instant::now();
    let start_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let call = parse_call(&args);
    let cfg = match SimConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sim-radosgw-admin: {e}");
            return ExitCode::from(1);
        }
    };
    let log = cfg.log.clone();
    let latency = Duration::from_secs_f64(cfg.latency_ms / 1000.0);
    let sim = Sim::new(cfg);
    let answer = sim.answer(&call);
    // The real command spends this connecting before it prints anything.
    std::thread::sleep(latency.saturating_sub(started.elapsed()));
    {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        // A reader that went away (a timeout killed it) is not our problem.
        let _ = match &answer.stdout {
            Stdout::Text(t) => out.write_all(t.as_bytes()),
            Stdout::File(p) => {
                std::fs::File::open(p).and_then(|mut f| std::io::copy(&mut f, &mut out).map(|_| ()))
            }
        };
        let _ = out.flush();
    }
    if !answer.stderr.is_empty() {
        let _ = std::io::stderr().write_all(answer.stderr.as_bytes());
    }
    if let Some(path) = log {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // One write per line: concurrent calls append to the same file (O_APPEND).
            let line = format!(
                "{start_unix:.6}\t{:.6}\t{}\t{}\n",
                started.elapsed().as_secs_f64(),
                answer.rc,
                call.key
            );
            let _ = f.write_all(line.as_bytes());
        }
    }
    ExitCode::from(answer.rc)
}
