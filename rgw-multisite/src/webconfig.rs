//! `--web.config.file`: the web configuration file of Prometheus's exporter-toolkit (TLS,
//! client certificates, basic auth, response headers), read with the toolkit's semantics.
//!
//! * Unknown keys are errors naming the key; settings this server cannot honour
//!   (`rate_limit`, `client_allowed_sans`, `RequestClientCert`/`RequireAnyClientCert`, TLS
//!   1.0/1.1, cipher suites or curves rustls does not implement) are refused by name rather
//!   than ignored.
//! * Relative paths are relative to the file's own directory.
//! * The file (and the certificate, key and CA files it names) is checked at start-up, and
//!   looked at again for every request and every new TLS connection, like the toolkit does:
//!   a rotated certificate, a new CA or a changed password applies without a restart. A
//!   file that turns invalid later fails closed (500 for requests, refused handshakes) and
//!   the error is logged once per change. Switching TLS on or off needs a restart.
//! * Secrets (bcrypt hashes, inline keys, passwords) never appear in errors, logs or
//!   `Debug` output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderName, HeaderValue};
use rustls::crypto::ring as ring_provider;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, RootCertStore, ServerConfig, SupportedCipherSuite};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Why a web configuration cannot be used. Messages name the file and key, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("web config file {path}: {msg}")]
pub struct WebConfigError {
    pub path: String,
    pub msg: String,
}

/// A string that must not be shown: `Debug` prints `<secret>`, and a value of the wrong
/// type is refused without echoing it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through Value, so that serde's "invalid type: integer `123`" never quotes it.
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Ok(Secret(s)),
            _ => Err(serde::de::Error::custom("a secret must be a string")),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<Users>,
    /// Known to the toolkit but not implemented here: refused by name.
    #[serde(default)]
    rate_limit: Option<serde_yaml::Value>,
}

/// `basic_auth_users`: read through Value so a malformed entry is never quoted.
#[derive(Debug, Default)]
struct Users(BTreeMap<String, Secret>);

impl<'de> Deserialize<'de> for Users {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let serde_yaml::Value::Mapping(m) = serde_yaml::Value::deserialize(d)? else {
            return Err(D::Error::custom(
                "basic_auth_users must be a map of user name: bcrypt hash",
            ));
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let serde_yaml::Value::String(user) = k else {
                return Err(D::Error::custom(
                    "basic_auth_users: a user name must be a string",
                ));
            };
            let serde_yaml::Value::String(hash) = v else {
                return Err(D::Error::custom(format!(
                    "basic_auth_users.{user}: the password hash must be a string"
                )));
            };
            out.insert(user, Secret(hash));
        }
        Ok(Users(out))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<Secret>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Response headers the toolkit lets a file set, with their allowed values (none: any).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// TLS 1.2 suites by their Go (IANA) names; TLS 1.3 suites are accepted and have no effect,
/// as in Go.
const TLS12_SUITES: &[(&str, CipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];
const TLS13_SUITE_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// A parsed, checked configuration.
#[derive(Debug)]
pub struct WebConfig {
    /// `None`: plain HTTP.
    pub tls: Option<Arc<ServerConfig>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// User name -> bcrypt hash. Empty: no authentication.
    pub users: BTreeMap<String, Secret>,
    /// `http_server_config.http2`: accepted; this server speaks HTTP/1.1 only.
    pub http2: bool,
}

impl WebConfig {
    /// No file: plain HTTP, no authentication, no extra headers.
    pub fn plain() -> Self {
        WebConfig {
            tls: None,
            headers: Vec::new(),
            users: BTreeMap::new(),
            http2: false,
        }
    }
}

fn err(path: &Path, msg: impl Into<String>) -> WebConfigError {
    WebConfigError {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Reads `path`, or `None` when the setting is unset. Relative paths are taken from `dir`.
fn resolve_path(dir: &Path, p: &Option<String>) -> Option<PathBuf> {
    p.as_deref().filter(|s| !s.is_empty()).map(|s| dir.join(s))
}

/// The bytes a configuration was built from: the file and every file it names. Equal
/// fingerprints mean an identical configuration.
fn fingerprint(config: &[u8], named: &[(PathBuf, Vec<u8>)]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((config.len() as u64).to_le_bytes());
    h.update(config);
    for (p, b) in named {
        h.update(p.as_os_str().as_encoded_bytes());
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    h.finalize().into()
}

/// The configuration file parsed, and the files it names read.
struct Parsed {
    raw: RawConfig,
    dir: PathBuf,
    named: Vec<(PathBuf, Vec<u8>)>,
}

fn parse(path: &Path, text: &[u8]) -> Result<Parsed, WebConfigError> {
    let text = std::str::from_utf8(text).map_err(|_| err(path, "not UTF-8 text"))?;
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| err(path, e.to_string()))?
    };
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut named = Vec::new();
    if let Some(t) = &raw.tls_server_config {
        for (key, p) in [
            ("cert_file", &t.cert_file),
            ("key_file", &t.key_file),
            ("client_ca_file", &t.client_ca_file),
        ] {
            if let Some(full) = resolve_path(&dir, p) {
                let bytes = std::fs::read(&full).map_err(|e| {
                    err(
                        path,
                        format!(
                            "tls_server_config.{key}: cannot read {}: {e}",
                            full.display()
                        ),
                    )
                })?;
                named.push((full, bytes));
            }
        }
    }
    Ok(Parsed { raw, dir, named })
}

fn named_bytes<'a>(p: &'a Parsed, file: &Option<PathBuf>) -> Option<&'a [u8]> {
    let file = file.as_ref()?;
    p.named
        .iter()
        .find(|(q, _)| q == file)
        .map(|(_, b)| b.as_slice())
}

fn inline(v: &Option<String>) -> Option<&[u8]> {
    v.as_deref().filter(|s| !s.is_empty()).map(str::as_bytes)
}

fn tls_version(
    path: &Path,
    key: &str,
    v: &Option<String>,
    default: u8,
) -> Result<u8, WebConfigError> {
    match v.as_deref() {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(s @ ("TLS10" | "TLS11")) => Err(err(
            path,
            format!(
                "tls_server_config.{key}: {s} is not supported (this server implements TLS12 and TLS13 only)"
            ),
        )),
        Some(s) => Err(err(
            path,
            format!("tls_server_config.{key}: unknown TLS version {s:?} (use TLS12 or TLS13)"),
        )),
    }
}

fn build_tls(path: &Path, p: &Parsed, t: &RawTls) -> Result<Arc<ServerConfig>, WebConfigError> {
    let e = |m: String| err(path, format!("tls_server_config.{m}"));
    if t.client_allowed_sans.is_some() {
        return Err(e(
            "client_allowed_sans is not supported by this exporter; restrict clients with client_ca_file".into(),
        ));
    }
    let cert_file = resolve_path(&p.dir, &t.cert_file);
    let key_file = resolve_path(&p.dir, &t.key_file);
    let ca_file = resolve_path(&p.dir, &t.client_ca_file);
    let cert_pem = match (named_bytes(p, &cert_file), inline(&t.cert)) {
        (Some(_), Some(_)) => return Err(e("cert and cert_file are both set; use one".into())),
        (Some(b), None) | (None, Some(b)) => b,
        (None, None) => return Err(e("cert_file (or cert) is missing".into())),
    };
    let inline_key = t
        .key
        .as_ref()
        .map(Secret::expose)
        .filter(|s| !s.is_empty())
        .map(str::as_bytes);
    let key_pem = match (named_bytes(p, &key_file), inline_key) {
        (Some(_), Some(_)) => return Err(e("key and key_file are both set; use one".into())),
        (Some(b), None) | (None, Some(b)) => b,
        (None, None) => return Err(e("key_file (or key) is missing".into())),
    };
    let ca_pem = match (named_bytes(p, &ca_file), inline(&t.client_ca)) {
        (Some(_), Some(_)) => {
            return Err(e(
                "client_ca and client_ca_file are both set; use one".into()
            ))
        }
        (Some(b), None) | (None, Some(b)) => Some(b),
        (None, None) => None,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|x| e(format!("cert_file: not a PEM certificate: {x}")))?;
    if certs.is_empty() {
        return Err(e("cert_file: no PEM certificate found".into()));
    }
    // The key's parse error is not shown: it could quote key material.
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|_| e("key_file: no PEM private key (PKCS#8, PKCS#1 or SEC1) found".into()))?;

    let min = tls_version(path, "min_version", &t.min_version, 12)?;
    let max = tls_version(path, "max_version", &t.max_version, 13)?;
    if min > max {
        return Err(e(format!(
            "min_version TLS{min} is above max_version TLS{max}"
        )));
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (12u8, &rustls::version::TLS12),
        (13u8, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (min..=max).contains(v))
    .map(|(_, p)| p)
    .collect();

    let mut provider: CryptoProvider = ring_provider::default_provider();
    if let Some(names) = t.cipher_suites.as_ref().filter(|v| !v.is_empty()) {
        let mut wanted: Vec<CipherSuite> = Vec::new();
        for n in names {
            if let Some((_, s)) = TLS12_SUITES.iter().find(|(name, _)| name == n) {
                wanted.push(*s);
            } else if !TLS13_SUITE_NAMES.contains(&n.as_str()) {
                let known: Vec<&str> = TLS12_SUITES.iter().map(|(n, _)| *n).collect();
                return Err(e(format!(
                    "cipher_suites: {n:?} is not supported (supported: {})",
                    known.join(", ")
                )));
            }
        }
        if wanted.is_empty() && min <= 12 {
            return Err(e(
                "cipher_suites lists no TLS 1.2 suite, so TLS 1.2 clients could not connect; set min_version: TLS13 instead".into(),
            ));
        }
        // TLS 1.3 suites always, then the listed TLS 1.2 suites in the file's order.
        let all: Vec<SupportedCipherSuite> = provider.cipher_suites.clone();
        let mut suites: Vec<SupportedCipherSuite> = all
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
            .copied()
            .collect();
        for w in &wanted {
            suites.extend(all.iter().filter(|s| s.suite() == *w).copied());
        }
        provider.cipher_suites = suites;
    }
    if let Some(curves) = t.curve_preferences.as_ref().filter(|v| !v.is_empty()) {
        let mut groups = Vec::new();
        for c in curves {
            groups.push(match c.as_str() {
                "X25519" => ring_provider::kx_group::X25519,
                "CurveP256" => ring_provider::kx_group::SECP256R1,
                "CurveP384" => ring_provider::kx_group::SECP384R1,
                other => {
                    return Err(e(format!(
                        "curve_preferences: {other:?} is not supported (use X25519, CurveP256 or CurveP384)"
                    )))
                }
            });
        }
        provider.kx_groups = groups;
    }
    let provider = Arc::new(provider);

    let client_auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let roots = match ca_pem {
        None => None,
        Some(pem) => {
            let mut store = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|x| e(format!("client_ca_file: not a PEM certificate: {x}")))?;
                store
                    .add(c)
                    .map_err(|x| e(format!("client_ca_file: unusable CA certificate: {x}")))?;
            }
            if store.is_empty() {
                return Err(e("client_ca_file: no PEM certificate found".into()));
            }
            Some(Arc::new(store))
        }
    };
    let verifier = match (client_auth, roots) {
        ("" | "NoClientCert", None) => WebPkiClientVerifier::no_client_auth(),
        ("" | "NoClientCert", Some(_)) => {
            return Err(e(
                "client_ca_file is set but client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert".into(),
            ))
        }
        ("RequireAndVerifyClientCert" | "VerifyClientCertIfGiven", None) => {
            return Err(e(format!(
                "client_auth_type {client_auth} needs client_ca_file (or client_ca)"
            )))
        }
        ("RequireAndVerifyClientCert", Some(roots)) => {
            WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|x| e(format!("client_ca_file: {x}")))?
        }
        ("VerifyClientCertIfGiven", Some(roots)) => {
            WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|x| e(format!("client_ca_file: {x}")))?
        }
        (s @ ("RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert"), _) => {
            return Err(e(format!(
                "client_auth_type {s} (a client certificate that is not verified) is not supported; use RequireAndVerifyClientCert"
            )))
        }
        (other, _) => {
            return Err(e(format!(
                "client_auth_type: unknown value {other:?} (use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
            )))
        }
    };
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|x| e(format!("cipher_suites/min_version/max_version: {x}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|x| e(format!("cert_file/key_file: {x}")))?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

fn build(path: &Path, p: &Parsed) -> Result<WebConfig, WebConfigError> {
    if p.raw.rate_limit.is_some() {
        return Err(err(
            path,
            "rate_limit is not supported by this exporter (scrapes are served from memory; use --web.max-connections)",
        ));
    }
    let tls = match &p.raw.tls_server_config {
        Some(t) => Some(build_tls(path, p, t)?),
        None => None,
    };
    let http = p.raw.http_server_config.as_ref();
    let mut headers = Vec::new();
    for (k, v) in http.map(|h| &h.headers).into_iter().flatten() {
        let Some((name, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == k) else {
            let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(err(
                path,
                format!(
                    "http_server_config.headers: {k:?} can not be configured (allowed: {})",
                    names.join(", ")
                ),
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&v.as_str()) {
            return Err(err(
                path,
                format!("http_server_config.headers.{name}: {v:?} is not one of {allowed:?}"),
            ));
        }
        if v.is_empty() {
            continue;
        }
        let value = HeaderValue::from_str(v).map_err(|_| {
            err(
                path,
                format!("http_server_config.headers.{name}: not a valid header value"),
            )
        })?;
        headers.push((HeaderName::from_static(header_static(name)), value));
    }
    let mut users = BTreeMap::new();
    for (user, hash) in p.raw.basic_auth_users.iter().flat_map(|u| u.0.iter()) {
        if user.contains(':') || user.is_empty() {
            return Err(err(
                path,
                format!("basic_auth_users: {user:?} is not a valid user name"),
            ));
        }
        if hash.expose().parse::<bcrypt::HashParts>().is_err() {
            return Err(err(
                path,
                format!("basic_auth_users.{user}: the password hash is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"),
            ));
        }
        users.insert(user.clone(), hash.clone());
    }
    Ok(WebConfig {
        tls,
        headers,
        users,
        http2: http.and_then(|h| h.http2).unwrap_or(true),
    })
}

/// Header names as `HeaderName::from_static` wants them (lower case).
fn header_static(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

/// Reads and checks `path` and every file it names.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = std::fs::read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    build(path, &parse(path, &text)?)
}

/// What the last look at the file found.
enum Cached {
    Good([u8; 32], Arc<WebConfig>),
    /// The error is kept so a broken file is rebuilt (and logged) once per change.
    Bad([u8; 32], WebConfigError),
}

/// The web configuration in force: the file is looked at again on every [`current`] call
/// and rebuilt only when it or a file it names changed.
///
/// [`current`]: WebConfigSource::current
pub struct WebConfigSource {
    path: Option<PathBuf>,
    tls: bool,
    cached: Mutex<Cached>,
}

impl std::fmt::Debug for WebConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfigSource")
            .field("path", &self.path)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl WebConfigSource {
    /// No file: plain HTTP, nothing checked per request.
    pub fn none() -> Self {
        WebConfigSource {
            path: None,
            tls: false,
            cached: Mutex::new(Cached::Good([0; 32], Arc::new(WebConfig::plain()))),
        }
    }

    /// Loads and checks `path` now (before the port is bound).
    pub fn open(path: &Path) -> Result<Self, WebConfigError> {
        let text = std::fs::read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
        let parsed = parse(path, &text)?;
        let cfg = build(path, &parsed)?;
        Ok(WebConfigSource {
            path: Some(path.to_path_buf()),
            tls: cfg.tls.is_some(),
            cached: Mutex::new(Cached::Good(
                fingerprint(&text, &parsed.named),
                Arc::new(cfg),
            )),
        })
    }

    pub fn from_option(path: Option<&Path>) -> Result<Self, WebConfigError> {
        match path {
            Some(p) => Self::open(p),
            None => Ok(Self::none()),
        }
    }

    /// Whether the server speaks TLS (fixed at start-up).
    pub fn tls(&self) -> bool {
        self.tls
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The configuration now in force, re-reading the file. An error means "fail closed".
    pub fn current(&self) -> Result<Arc<WebConfig>, WebConfigError> {
        let Some(path) = &self.path else {
            return match &*self.lock() {
                Cached::Good(_, c) => Ok(c.clone()),
                Cached::Bad(_, e) => Err(e.clone()),
            };
        };
        let read = std::fs::read(path)
            .map_err(|e| err(path, format!("cannot read: {e}")))
            .and_then(|text| {
                let parsed = parse(path, &text)?;
                Ok((fingerprint(&text, &parsed.named), parsed))
            });
        let (fp, parsed) = match read {
            Ok(x) => x,
            Err(e) => {
                // Not cached: a missing file may come back at any time.
                let mut c = self.lock();
                let fp = fingerprint(e.msg.as_bytes(), &[]);
                if !matches!(&*c, Cached::Bad(f, _) if *f == fp) {
                    tracing::error!(error = %e, "web config file unusable; refusing requests until it is fixed");
                    *c = Cached::Bad(fp, e.clone());
                }
                return Err(e);
            }
        };
        {
            let c = self.lock();
            match &*c {
                Cached::Good(f, cfg) if *f == fp => return Ok(cfg.clone()),
                Cached::Bad(f, e) if *f == fp => return Err(e.clone()),
                _ => {}
            }
        }
        let built = build(path, &parsed).and_then(|cfg| {
            if cfg.tls.is_some() != self.tls {
                Err(err(
                    path,
                    "tls_server_config was added or removed; switching TLS on or off needs a restart",
                ))
            } else {
                Ok(Arc::new(cfg))
            }
        });
        let mut c = self.lock();
        match built {
            Ok(cfg) => {
                tracing::info!(path = %path.display(), "web config file reloaded");
                *c = Cached::Good(fp, cfg.clone());
                Ok(cfg)
            }
            Err(e) => {
                tracing::error!(error = %e, "web config file unusable; refusing requests until it is fixed");
                *c = Cached::Bad(fp, e.clone());
                Err(e)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(|p| p.into_inner())
    }
}

// ---------------------------------------------------------------------------------------
// Basic auth
// ---------------------------------------------------------------------------------------

/// A bcrypt hash of "fakepassword" for unknown users, so that their check costs as much as
/// a known user's (no user enumeration by timing).
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Remembers successful bcrypt checks (a check costs tens of milliseconds) by a keyed hash
/// of user, stored hash and password: a wrong password, or a changed hash, never matches an
/// entry. Failures are not remembered. One bcrypt check runs at a time.
pub struct AuthCache {
    key: [u8; 32],
    ok: Mutex<std::collections::HashSet<[u8; 32]>>,
    bcrypt: tokio::sync::Semaphore,
}

const AUTH_CACHE_MAX: usize = 256;

impl Default for AuthCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthCache {
    pub fn new() -> Self {
        // A per-process key: entries mean nothing outside this process.
        let mut key = [0u8; 32];
        let seed = format!(
            "{:?}{:?}{}",
            std::time::SystemTime::now(),
            std::time::Instant::now(),
            std::process::id()
        );
        let salt = bcrypt::hash_with_result(seed.as_bytes(), 4)
            .map(|h| h.to_string())
            .unwrap_or(seed);
        key.copy_from_slice(&Sha256::digest(salt.as_bytes()));
        AuthCache {
            key,
            ok: Mutex::new(std::collections::HashSet::new()),
            bcrypt: tokio::sync::Semaphore::new(1),
        }
    }

    fn entry(&self, user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        for part in [user.as_bytes(), hash.as_bytes(), password] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(self.key);
        h.finalize().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<[u8; 32]>> {
        self.ok.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user`/`password` may pass under `users`.
    pub async fn check(
        &self,
        users: &BTreeMap<String, Secret>,
        user: &str,
        password: &[u8],
    ) -> bool {
        let (known, hash) = match users.get(user) {
            Some(h) => (true, h.expose().to_string()),
            None => (false, DUMMY_HASH.to_string()),
        };
        let entry = self.entry(user, &hash, password);
        if known && self.lock().contains(&entry) {
            return true;
        }
        let Ok(_permit) = self.bcrypt.acquire().await else {
            return false;
        };
        let pw = password.to_vec();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok && known {
            let mut set = self.lock();
            if set.len() >= AUTH_CACHE_MAX {
                set.clear();
            }
            set.insert(entry);
        }
        ok && known
    }
}

/// The user and password of an `Authorization: Basic ...` header.
pub fn basic_credentials(header: &[u8]) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    let s = std::str::from_utf8(header).ok()?;
    let (scheme, rest) = s.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|&b| b == b':')?;
    let (user, pass) = raw.split_at(colon);
    let user = String::from_utf8(user.to_vec()).ok()?;
    Some((user, pass.get(1..).unwrap_or_default().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rgwms-webcfg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        let p = d.join("web.yml");
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        p
    }

    fn error(name: &str, text: &str) -> String {
        match load(&file(name, text)) {
            Ok(c) => panic!("{name}: accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepts_users_and_headers() {
        let hash = bcrypt::hash("x", 4).unwrap_or_else(|e| panic!("{e}"));
        let c = load(&file(
            "ok",
            &format!("basic_auth_users:\n  alice: '{hash}'\nhttp_server_config:\n  http2: false\n  headers:\n    X-Content-Type-Options: nosniff\n"),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.tls.is_none());
        assert_eq!(c.users.len(), 1);
        assert!(!c.http2);
        assert_eq!(c.headers.len(), 1);
        assert!(!format!("{c:?}").contains(&hash), "Debug shows the hash");
        // An empty file is a valid, empty configuration.
        assert!(load(&file("empty", "")).is_ok_and(|c| c.users.is_empty()));
    }

    #[test]
    fn refuses_what_it_cannot_honour_by_name() {
        for (name, text, needle) in [
            ("unknown", "tls_server_config:\n  cert_fil: x\n", "cert_fil"),
            ("top", "basic_auth: {}\n", "basic_auth"),
            ("rate", "rate_limit:\n  interval: 1s\n  burst: 2\n", "rate_limit is not supported"),
            ("header", "http_server_config:\n  headers:\n    X-Foo: bar\n", "\"X-Foo\" can not be configured"),
            ("hvalue", "http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "X-Frame-Options"),
            ("nocert", "tls_server_config:\n  key_file: k.pem\n", "key_file: cannot read"),
            ("nokey", "tls_server_config:\n  cert: abc\n", "key_file (or key) is missing"),
            ("missing", "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n", "cert_file: cannot read /nonexistent/c.pem"),
        ] {
            let e = error(name, text);
            assert!(e.contains(needle), "{name}: {e}");
            assert!(e.contains("web.yml"), "{name}: {e}");
        }
    }

    #[test]
    fn bad_hashes_are_refused_without_being_shown() {
        for (name, text) in [
            ("plain", "basic_auth_users:\n  alice: hunter2-not-a-hash\n"),
            ("number", "basic_auth_users:\n  alice: 123456789\n"),
            ("list", "basic_auth_users: [hunter2-not-a-hash]\n"),
        ] {
            let e = error(name, text);
            assert!(e.contains("basic_auth_users"), "{name}: {e}");
            assert!(
                !e.contains("hunter2") && !e.contains("123456789"),
                "{name}: {e}"
            );
        }
        let key = "tls_server_config:\n  cert: x\n  key: 424242-inline-key\n";
        let e = error("inlinekey", key);
        assert!(!e.contains("424242"), "{e}");
    }

    #[tokio::test]
    async fn the_cache_never_lets_a_wrong_password_pass() {
        let cache = AuthCache::new();
        let hash = bcrypt::hash("right", 4).unwrap_or_else(|e| panic!("{e}"));
        let mut users = BTreeMap::new();
        users.insert("alice".to_string(), Secret(hash));
        assert!(cache.check(&users, "alice", b"right").await);
        assert!(cache.check(&users, "alice", b"right").await);
        assert!(!cache.check(&users, "alice", b"wrong").await);
        assert!(!cache.check(&users, "bob", b"right").await);
        assert!(!cache.check(&users, "alice", b"").await);
        // A changed hash invalidates the cached success.
        users.insert(
            "alice".to_string(),
            Secret(bcrypt::hash("other", 4).unwrap_or_else(|e| panic!("{e}"))),
        );
        assert!(!cache.check(&users, "alice", b"right").await);
    }

    #[test]
    fn basic_header_parsing() {
        assert_eq!(
            basic_credentials(b"Basic YWxpY2U6czNjOnJldA=="),
            Some(("alice".to_string(), b"s3c:ret".to_vec()))
        );
        assert_eq!(basic_credentials(b"Bearer abc"), None);
        assert_eq!(basic_credentials(b"Basic !!!"), None);
        assert_eq!(basic_credentials(b"Basic YWxpY2U="), None);
    }
}
