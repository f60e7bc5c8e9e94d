//! The HTTP side of both binaries: `--web.config.file` (TLS with a throw-away CA made by
//! openssl, client certificates, bcrypt basic auth), bad files refused before the port is
//! bound, secrets kept out of every output, and scrape latency at 1 vs 200 concurrent
//! clients (printed, not asserted: `cargo test -p e2e-tests --test web -- --nocapture`).
// Test code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AGENT: &str = "rgw-multisite-agent-exporter";
const EXPORTER: &str = "rgw-multisite-exporter";

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rgwms-web-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed (CI installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In `dir`: `ca.pem`, a server certificate for 127.0.0.1 (`server.pem`/`server-key.pem`), a
/// client certificate from the same CA (`client.pem`/`client-key.pem`) and one from another
/// CA (`rogue.pem`/`rogue-key.pem`).
fn make_pki(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for ca in ["ca", "rogue-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                &format!("/CN={ca}"),
                "-keyout",
                &format!("{ca}-key.pem"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    for (name, ca, ext) in [
        ("server", "ca", "server.ext"),
        ("client", "ca", "client.ext"),
        ("rogue", "rogue-ca", "client.ext"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}-key.pem"),
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                ext,
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
}

/// Starts `bin` serving on a free port (radosgw-admin is /bin/false: collections fail, the
/// server runs) and waits until it accepts connections.
fn serve(bin: &str, args: &[String], envs: &[(&str, &str)]) -> (Killed, u16, PathBuf) {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("rgwms-web-{}-{port}.stderr", std::process::id()));
    let child = Command::new(e2e_tests::binary(bin))
        .arg("--radosgw-admin.command=/bin/false")
        .arg("--collection.interval=1h")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!(
                "{bin} exited {st}: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        assert!(Instant::now() < deadline, "{bin} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port, log)
}

fn http(port: u16, path: &str, extra: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn basic(user: &str, pass: &str) -> String {
    // Tiny base64 for the test's ASCII credentials.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = format!("{user}:{pass}").into_bytes();
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    format!("Authorization: Basic {s}\r\n")
}

/// A GET over TLS trusting `ca`, presenting `client` (cert, key) if given.
fn https(
    port: u16,
    ca: &Path,
    client: Option<(&Path, &Path)>,
    path: &str,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => b
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .map_err(|e| format!("write: {e}"))?;
        let mut out = Vec::new();
        match tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if out.is_empty() => return Err(format!("read: {e}")),
            Ok(Err(_)) => {}
            Err(_) => return Err("read timed out".into()),
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    })
}

#[test]
fn tls_with_client_certificates_on_both_binaries() {
    let dir = scratch("tls");
    make_pki(&dir);
    // Relative paths: relative to the web config file's directory.
    std::fs::write(
        dir.join("web.yml"),
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  \
         min_version: TLS12\n",
    )
    .unwrap();
    let ca = dir.join("ca.pem");
    let good = (dir.join("client.pem"), dir.join("client-key.pem"));
    let rogue = (dir.join("rogue.pem"), dir.join("rogue-key.pem"));
    for bin in [AGENT, EXPORTER] {
        let (_c, port, _) = serve(
            bin,
            &[format!(
                "--web.config.file={}",
                dir.join("web.yml").display()
            )],
            &[],
        );
        let r = https(port, &ca, Some((&good.0, &good.1)), "/metrics").unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{bin}: {r}");
        assert!(
            r.contains("rgw_multisite_exporter_build_info"),
            "{bin}: {r}"
        );
        for (what, client) in [
            ("no client certificate", None),
            ("another CA's", Some((&rogue.0, &rogue.1))),
        ] {
            let r = https(
                port,
                &ca,
                client.map(|(c, k)| (c.as_path(), k.as_path())),
                "/metrics",
            );
            assert!(
                !matches!(&r, Ok(s) if s.starts_with("HTTP/1.1 200")),
                "{bin}: {what} was served: {r:?}"
            );
        }
        // Plain HTTP on the TLS port is not served.
        let r = http(port, "/metrics", "");
        assert!(!r.starts_with("HTTP/1.1 200"), "{bin}: {r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn basic_auth_on_both_binaries() {
    let dir = scratch("auth");
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    for bin in [AGENT, EXPORTER] {
        let (_c, port, _) = serve(
            bin,
            &[],
            &[(
                "RGW_MULTISITE_WEB_CONFIG_FILE",
                dir.join("web.yml").to_str().unwrap(),
            )],
        );
        for (what, auth) in [
            ("missing", String::new()),
            ("wrong password", basic("prometheus", "wrong horse")),
            ("unknown user", basic("grafana", "correct horse")),
        ] {
            let r = http(port, "/metrics", &auth);
            assert!(r.starts_with("HTTP/1.1 401"), "{bin} {what}: {r}");
            assert!(r.contains("www-authenticate: Basic"), "{bin} {what}: {r}");
        }
        // As in exporter-toolkit, every path is behind the authentication.
        assert!(http(port, "/-/healthy", "").starts_with("HTTP/1.1 401"));
        let r = http(port, "/metrics", &basic("prometheus", "correct horse"));
        assert!(r.starts_with("HTTP/1.1 200"), "{bin}: {r}");
        assert!(
            r.contains("rgw_multisite_exporter_build_info"),
            "{bin}: {r}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_web_config_files_exit_2_before_binding() {
    let dir = scratch("bad");
    make_pki(&dir);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown key",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  client_ca_flie: ca.pem\n".into(),
            "unknown field `client_ca_flie`",
        ),
        (
            "missing cert",
            "tls_server_config:\n  cert_file: nowhere.pem\n  key_file: server-key.pem\n".into(),
            "tls_server_config.cert_file: cannot read",
        ),
        (
            "key of another certificate",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: client-key.pem\n".into(),
            "cert_file/key_file",
        ),
        (
            "bad hash",
            "basic_auth_users:\n  alice: not-a-bcrypt-hash\n".into(),
            "basic_auth_users.alice: the password hash is not a bcrypt hash",
        ),
        (
            "TLS 1.0",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  min_version: TLS10\n".into(),
            "TLS10 is not supported",
        ),
        (
            "unverified client certificates",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  client_auth_type: RequireAnyClientCert\n".into(),
            "RequireAndVerifyClientCert",
        ),
        ("no file", String::new(), "cannot read"),
    ];
    for (what, text, needle) in cases {
        let file = dir.join(format!("{}.yml", what.replace(' ', "-")));
        if what != "no file" {
            std::fs::write(&file, text).unwrap();
        }
        for bin in [AGENT, EXPORTER] {
            // The port is taken by us: had the binary bound it first, it would say so.
            let taken = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = taken.local_addr().unwrap().port();
            let out = Command::new(e2e_tests::binary(bin))
                .arg("--radosgw-admin.command=/bin/false")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg(format!("--web.config.file={}", file.display()))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{bin} {what}: {err}");
            assert!(err.contains(needle), "{bin} {what}: {err}");
            assert!(
                err.contains(&file.display().to_string()),
                "{bin} {what}: {err}"
            );
            assert!(!err.contains("cannot listen"), "{bin} {what}: {err}");
            assert!(
                !err.contains("not-a-bcrypt-hash"),
                "{bin} {what} shows the hash: {err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Distinctive secrets, then every output channel of both binaries is searched for them:
/// argv (/proc/PID/cmdline), stdout, stderr at debug level, /metrics, 401 bodies, --help,
/// error messages and `check`'s report.
#[test]
fn secrets_appear_in_no_output() {
    let dir = scratch("secrets");
    let password = "PASSWD-q7w8e9r0";
    let secret_key = "SECRETKEY-z1x2c3v4b5";
    let hash = bcrypt::hash(password, 4).unwrap();
    let web = dir.join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  scraper: '{hash}'\n")).unwrap();
    let key_file = dir.join("secret-key");
    std::fs::write(&key_file, format!("{secret_key}\n")).unwrap();
    let access_file = dir.join("access-key");
    std::fs::write(&access_file, "ACCESSKEY-visible-is-fine\n").unwrap();
    // Everything except the hash's algorithm prefix, and the hash's salt+digest alone.
    let needles = [
        password.to_string(),
        secret_key.to_string(),
        hash.clone(),
        hash[7..].to_string(),
    ];
    let mut seen: Vec<(String, String)> = Vec::new();

    let web_flag = format!("--web.config.file={}", web.display());
    let rest_env = [
        ("RGW_MULTISITE_SECRET_KEY", secret_key),
        ("RGW_MULTISITE_ACCESS_KEY", "ACCESSKEY-visible-is-fine"),
        ("RGW_MULTISITE_BUCKET_STATS_MODE", "rest"),
    ];
    for bin in [AGENT, EXPORTER] {
        let mut args = vec![web_flag.clone(), "--log.level=debug".to_string()];
        let envs: &[(&str, &str)] = if bin == EXPORTER { &rest_env } else { &[] };
        if bin == EXPORTER {
            args.push("--rest.timeout=2s".into());
        }
        let (child, port, log) = serve(bin, &args, envs);
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.0.id())).unwrap();
        seen.push((
            format!("{bin} argv"),
            String::from_utf8_lossy(&cmdline).into_owned(),
        ));
        let environ = format!("{bin} /metrics");
        seen.push((environ, http(port, "/metrics", &basic("scraper", password))));
        seen.push((
            format!("{bin} 401"),
            http(port, "/metrics", &basic("scraper", "nope")),
        ));
        seen.push((
            format!("{bin} landing"),
            http(port, "/", &basic("scraper", password)),
        ));
        std::thread::sleep(Duration::from_millis(500));
        drop(child);
        seen.push((
            format!("{bin} stderr"),
            std::fs::read_to_string(&log).unwrap(),
        ));
        let _ = std::fs::remove_file(&log);

        let help = Command::new(e2e_tests::binary(bin))
            .arg("--help")
            .envs(envs.iter().copied())
            .env("RGW_MULTISITE_WEB_CONFIG_FILE", &web)
            .output()
            .unwrap();
        seen.push((format!("{bin} --help"), out_text(&help)));
        let check = Command::new(e2e_tests::binary(bin))
            .args([
                "--radosgw-admin.command=/bin/false",
                "--log.level=debug",
                &web_flag,
                "check",
            ])
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        seen.push((format!("{bin} check"), out_text(&check)));
    }
    // The exporter's key from a file, and a key file that is refused.
    let once = Command::new(e2e_tests::binary(EXPORTER))
        .args([
            "--radosgw-admin.command=/bin/false",
            "--log.level=debug",
            "--once",
            "--bucket-stats.mode=rest",
        ])
        .arg(format!("--rest.secret-key-file={}", key_file.display()))
        .arg(format!("--rest.access-key-file={}", access_file.display()))
        .output()
        .unwrap();
    seen.push(("exporter --once with key files".into(), out_text(&once)));
    let bad_key = dir.join("bad-key");
    std::fs::write(&bad_key, format!("{secret_key} {password}\n")).unwrap();
    let refused = Command::new(e2e_tests::binary(EXPORTER))
        .args([
            "--radosgw-admin.command=/bin/false",
            "--once",
            "--bucket-stats.mode=rest",
        ])
        .arg(format!("--rest.secret-key-file={}", bad_key.display()))
        .arg(format!("--rest.access-key-file={}", access_file.display()))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", out_text(&refused));
    seen.push(("exporter refused key file".into(), out_text(&refused)));
    // A web config whose hash is refused.
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  scraper: '{password}'\n"),
    )
    .unwrap();
    for bin in [AGENT, EXPORTER] {
        let out = Command::new(e2e_tests::binary(bin))
            .args([
                "--radosgw-admin.command=/bin/false",
                "--web.listen-address=127.0.0.1:0",
                &web_flag,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
        seen.push((format!("{bin} refused web config"), out_text(&out)));
    }

    // The channels were really captured (the test can fail).
    assert!(seen
        .iter()
        .any(|(w, t)| w.ends_with("/metrics") && t.contains("build_info")));
    assert!(
        seen.iter()
            .any(|(w, t)| w.ends_with("stderr") && t.contains("DEBUG")),
        "no debug log captured"
    );
    for (what, text) in &seen {
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "{what} contains a secret ({n}):\n{text}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn out_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// 200 concurrent scrapes run no radosgw-admin and all succeed; latency at 1 vs 200
/// concurrent clients is printed (run with --nocapture), never asserted.
#[test]
fn concurrent_scrapes_cause_no_calls_and_latency_is_reported() {
    let log = std::env::temp_dir().join(format!("rgwms-web-{}-calls.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let stub = e2e_tests::binary("stub-radosgw-admin");
    let port = free_port();
    let child = Command::new(e2e_tests::binary(AGENT))
        .arg(format!("--radosgw-admin.command={}", stub.display()))
        .args(["--zone=us-west", "--collection.interval=1h"])
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env(
            "STUB_RGW_FIXTURES",
            e2e_tests::capture_dir("pacific-behind"),
        )
        .env("STUB_RGW_LOG", &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = TcpStream::connect(("127.0.0.1", port)).map(|_| http(port, "/-/ready", ""));
        if matches!(&r, Ok(s) if s.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(Instant::now() < deadline, "never became ready: {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let calls = || std::fs::read_to_string(&log).unwrap().lines().count();
    let before = calls();
    let scrape = move || {
        let t = Instant::now();
        let r = http(port, "/metrics", "");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("rgw_multisite_data_sync_shards_behind"));
        t.elapsed()
    };
    // Warm-up, then 1 client x 200 sequential scrapes.
    for _ in 0..10 {
        scrape();
    }
    let mut one: Vec<Duration> = (0..200).map(|_| scrape()).collect();
    // 200 clients x 5 scrapes each, released together.
    let barrier = Arc::new(std::sync::Barrier::new(200));
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                (0..5).map(|_| scrape()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut many: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(many.len(), 1000);
    assert_eq!(calls(), before, "scrapes ran radosgw-admin");
    one.sort();
    many.sort();
    let size = http(port, "/metrics", "").len();
    println!(
        "scrape latency ({size} byte response, new connection per scrape): \
         1 client: p50 {:?} p99 {:?}; 200 concurrent clients: p50 {:?} p99 {:?} max {:?}",
        percentile(&one, 0.5),
        percentile(&one, 0.99),
        percentile(&many, 0.5),
        percentile(&many, 0.99),
        many[many.len() - 1],
    );
    let _ = std::fs::remove_file(&log);
}
