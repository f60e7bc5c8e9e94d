//! The admin API client's TLS options against a real TLS server (`openssl s_server -www`
//! with a throw-away self-signed certificate): verification on by default, a CA file makes
//! the certificate trusted, and skipping verification is explicit.
// Test support: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rgw_multisite::rest::{AdminClient, Credentials, RestError, RestOptions};

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(args: &[&str], dir: &Path) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `openssl s_server` on 127.0.0.1 with a certificate from a throw-away CA, or
/// `None` when openssl is not installed.
fn start() -> Option<Server> {
    let dir = std::env::temp_dir().join(format!("rgwms-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A CA, and a server certificate for IP 127.0.0.1 signed by it (webpki refuses a CA
    // certificate used as the server's own).
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=rgw-test-ca",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ],
    ];
    if !steps.iter().all(|args| openssl(args, &dir)) {
        eprintln!("openssl not usable; skipped");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server", "-quiet", "-www", "-cert", "cert.pem", "-key", "key.pem",
        ])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Server { child, port, dir })
}

fn get(opts: RestOptions, port: u16) -> Result<u16, RestError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = AdminClient::new(Credentials::new("AK", "SK"), opts)?;
    rt.block_on(client.get_raw(&format!("https://127.0.0.1:{port}"), "/admin/bucket", &[]))
        .map(|(status, _)| status)
}

#[test]
fn tls_is_verified_unless_told_otherwise() {
    let Some(server) = start() else {
        return;
    };
    let opts = RestOptions {
        timeout: Duration::from_secs(10),
        ..RestOptions::default()
    };
    // Verification on: a certificate from an unknown CA is refused, as a TLS error.
    let err = get(opts.clone(), server.port).unwrap_err();
    assert_eq!(err.kind(), "tls", "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
    // Trusting it through the CA file.
    let status = get(
        RestOptions {
            ca_file: Some(server.dir.join("ca.pem")),
            ..opts.clone()
        },
        server.port,
    )
    .unwrap();
    assert_eq!(status, 200);
    // Or by turning verification off.
    let status = get(
        RestOptions {
            tls_insecure_skip_verify: true,
            ..opts.clone()
        },
        server.port,
    )
    .unwrap();
    assert_eq!(status, 200);
    // A CA file without a certificate is a setup error at start.
    let empty = server.dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = AdminClient::new(
        Credentials::new("AK", "SK"),
        RestOptions {
            ca_file: Some(empty),
            ..opts
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
}
