//! `check` mode: pre-flight checks with one clear line per check, for operators setting up.

use crate::parse::bucket_list::parse_bucket_list;
use crate::parse::bucket_sync_status::parse_bucket_sync_status;
use crate::parse::data_sync_status::parse_data_sync_shard;
use crate::parse::period::parse_period;
use crate::parse::sync_errors::parse_sync_error_list;
use crate::parse::sync_status::parse_sync_status;
use crate::runner::{CommandOutput, RadosgwAdmin, RunError};

struct Checker<'a> {
    rgw: &'a RadosgwAdmin,
    failures: usize,
}

impl Checker<'_> {
    fn report(&mut self, what: &str, result: Result<String, String>) -> bool {
        match result {
            Ok(detail) => {
                println!("[ OK ] {what}: {detail}");
                true
            }
            Err(msg) => {
                println!("[FAIL] {what}: {msg}");
                self.failures += 1;
                false
            }
        }
    }

    async fn call(&self, args: &[&str]) -> Result<CommandOutput, String> {
        let argv = self.rgw.argv(args);
        let res = if args == ["--version"] {
            self.rgw.run_bare(args).await
        } else {
            self.rgw.run(args).await
        };
        match res {
            Ok(out) if out.code == 0 => Ok(out),
            Ok(out) => Err(format!(
                "`{}` exited with {}: {}",
                argv.join(" "),
                out.code,
                out.stderr_summary()
            )),
            Err(e @ RunError::Spawn { .. }) => Err(format!(
                "{e}; is radosgw-admin installed and --radosgw-admin.command right?"
            )),
            Err(e @ RunError::Timeout(_)) => Err(format!(
                "`{}` {e}; is the cluster reachable (monitors up, keyring readable)?",
                argv.join(" ")
            )),
            Err(e) => Err(format!("`{}`: {e}", argv.join(" "))),
        }
    }
}

/// Runs the checks, printing one line each. `agent` adds the pulling zone's commands.
/// Returns true when all passed.
pub async fn run_checks(rgw: &RadosgwAdmin, zone: Option<&str>, agent: bool) -> bool {
    let mut c = Checker { rgw, failures: 0 };
    let version = c.call(&["--version"]).await.map(|o| {
        let v = o.stdout.trim();
        if v.is_empty() {
            o.stderr.trim().to_string()
        } else {
            v.to_string()
        }
    });
    if !c.report("radosgw-admin runs", version) {
        println!("stopping: nothing else can work without radosgw-admin");
        return false;
    }
    let period = c.call(&["period", "get"]).await.and_then(|o| {
        parse_period(&o.stdout).map_err(|e| format!("cannot parse `period get`: {e}"))
    });
    let period_ok = period.as_ref().map(|p| {
        format!(
            "realm {} epoch {}, {} zone(s)",
            p.realm_name.as_deref().unwrap_or(&p.realm_id),
            p.epoch,
            p.zonegroups.iter().map(|g| g.zones.len()).sum::<usize>()
        )
    });
    if !c.report(
        "cluster reachable (period get)",
        period_ok.map_err(|e| e.clone()),
    ) {
        println!("stopping: the cluster cannot be read");
        return false;
    }
    let status = c.call(&["sync", "status"]).await.and_then(|o| {
        parse_sync_status(&o.stdout).map_err(|e| format!("cannot parse `sync status`: {e}"))
    });
    let zone_found = match (&status, zone) {
        (Ok(s), Some(z)) => match &s.zone {
            Some(h) if h.name == z => Ok(format!("{z} ({})", h.id)),
            Some(h) => Err(format!(
                "--zone {z} but sync status reports zone {}",
                h.name
            )),
            None => Err("sync status printed no zone header".into()),
        },
        (Ok(s), None) => match &s.zone {
            Some(h) if !h.name.is_empty() => Ok(format!(
                "{} ({}), from the sync status header",
                h.name, h.id
            )),
            _ => Err("no zone in the sync status header; pass --zone".into()),
        },
        (Err(e), _) => Err(e.clone()),
    };
    c.report("zone detected", zone_found);
    if let Ok(s) = &status {
        c.report(
            "sync status parses",
            Ok(format!(
                "{} source zone(s), {} unknown line(s) skipped",
                s.sources.len(),
                s.skipped.len()
            )),
        );
    }
    if agent {
        let errs = c
            .call(&[
                "sync",
                "error",
                "list",
                "--shard-id=0",
                "--max-entries=1000",
            ])
            .await
            .and_then(|o| {
                parse_sync_error_list(&o.stdout)
                    .map(|v| format!("{} shard(s) read", v.len()))
                    .map_err(|e| format!("cannot parse `sync error list`: {e}"))
            });
        c.report("sync error list parses", errs);
        if let Some(src) = status.as_ref().ok().and_then(|s| s.sources.first()) {
            let name = src.name.clone().unwrap_or_else(|| src.id.clone());
            let sz = format!("--source-zone={name}");
            let r = c
                .call(&["data", "sync", "status", &sz, "--shard-id=0"])
                .await
                .and_then(|o| {
                    parse_data_sync_shard(&o.stdout)
                        .map(|d| {
                            format!(
                                "shard 0 from {name}: {} pending bucket(s)",
                                d.pending_buckets.len()
                            )
                        })
                        .map_err(|e| format!("cannot parse `data sync status`: {e}"))
                });
            c.report("data sync status parses", r);
        }
        let buckets = c.call(&["bucket", "list"]).await.and_then(|o| {
            parse_bucket_list(&o.stdout).map_err(|e| format!("cannot parse `bucket list`: {e}"))
        });
        let first = buckets.as_ref().ok().and_then(|b| b.first().cloned());
        c.report(
            "bucket list parses",
            buckets.map(|b| format!("{} bucket(s)", b.len())),
        );
        let source = status
            .as_ref()
            .ok()
            .and_then(|s| s.sources.first())
            .map(|s| s.name.clone().unwrap_or_else(|| s.id.clone()));
        if let (Some(b), Some(src)) = (first, source) {
            let arg = format!("--bucket={b}");
            let sz = format!("--source-zone={src}");
            let r = c
                .call(&["bucket", "sync", "status", &arg, &sz])
                .await
                .and_then(|o| {
                    parse_bucket_sync_status(&o.stdout)
                        .map(|s| format!("bucket {b}: {} source(s)", s.sources.len()))
                        .map_err(|e| format!("cannot parse `bucket sync status`: {e}"))
                });
            c.report("bucket sync status parses", r);
        }
    }
    if c.failures == 0 {
        println!("all checks passed");
        true
    } else {
        println!("{} check(s) failed", c.failures);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::FakeRunner;

    fn capture(file: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/radosgw-admin/pacific-caught-up")
            .join(file);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[tokio::test]
    async fn bucket_list_with_interleaved_log_lines_passes() {
        let fake = FakeRunner::new();
        let rgw = RadosgwAdmin::new(vec!["radosgw-admin".into()], vec![], fake.clone())
            .with_zone(Some("us-west".into()));
        fake.on(
            vec!["radosgw-admin".into(), "--version".into()],
            0,
            "ceph version 16.2.15\n",
            "",
        );
        let on = |args: &[&str], stdout: &str| {
            let argv = rgw.argv(args);
            fake.on(argv, 0, stdout, "");
        };
        on(
            &["period", "get"],
            &capture("period-get--rgw-zone=us-west.stdout"),
        );
        on(
            &["sync", "status"],
            &capture("sync-status--rgw-zone=us-west.stdout"),
        );
        on(
            &[
                "sync",
                "error",
                "list",
                "--shard-id=0",
                "--max-entries=1000",
            ],
            &capture("sync-error-list--max-entries=1000--rgw-zone=us-west--shard-id=0.stdout"),
        );
        on(
            &[
                "data",
                "sync",
                "status",
                "--source-zone=us-east",
                "--shard-id=0",
            ],
            &capture("data-sync-status--rgw-zone=us-west--shard-id=0--source-zone=us-east.stdout"),
        );
        let list = capture("bucket-list--rgw-zone=us-west.stdout");
        on(
            &["bucket", "list"],
            &format!("2024-04-18T13:15:16.957+0000 7ffb3d16f880  0 WARNING: unrelated\n{list}"),
        );
        on(
            &[
                "bucket",
                "sync",
                "status",
                "--bucket=bucket-3",
                "--source-zone=us-east",
            ],
            &capture(
                "bucket-sync-status--bucket=bucket-3--rgw-zone=us-west--source-zone=us-east.stdout",
            ),
        );
        assert!(
            run_checks(&rgw, Some("us-west"), true).await,
            "{:?}",
            fake.calls()
        );
        assert_eq!(fake.calls().len(), 7);
    }
}
