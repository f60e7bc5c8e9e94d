//! RGW admin API client: `GET /admin/bucket?stats=true` on a zone's endpoint, signed with
//! AWS Signature Version 4, over rustls.
//!
//! For zones whose cluster the master's `radosgw-admin` cannot reach (each zone its own
//! cluster). The response body is the same JSON as `radosgw-admin bucket stats`, so it goes
//! through the same parser. Keys never appear in argv, logs or `Debug` output; TLS
//! verification is on unless explicitly turned off.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// SHA-256 of the empty payload: every request here is a GET without a body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An S3 access key pair. `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    secret_key: String,
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

// ---------------------------------------------------------------------------------------
// Signature Version 4 (pure; tested against AWS's published examples)
// ---------------------------------------------------------------------------------------

/// What SigV4 signs of a request. `path` is the already-encoded absolute path (S3 and RGW
/// do not encode it twice); `query` pairs are raw and get encoded and sorted here; `headers`
/// must include `host` and `x-amz-date`.
#[derive(Debug, Clone)]
pub struct SigningRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub payload_sha256: &'a str,
}

/// Percent-encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` as `%XX` (upper case).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The canonical query string: encoded pairs sorted by key, then value.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The canonical request (step 1 of SigV4) and the signed-headers list.
pub fn canonical_request(req: &SigningRequest<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    headers.sort();
    let mut canonical_headers = String::new();
    for (k, v) in &headers {
        let _ = writeln!(canonical_headers, "{k}:{v}");
    }
    let signed = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let path = if req.path.is_empty() { "/" } else { req.path };
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        path,
        canonical_query(req.query),
        canonical_headers,
        signed,
        req.payload_sha256
    );
    (creq, signed)
}

/// The `Authorization` header value. `amz_date` is `YYYYMMDDTHHMMSSZ` and must equal the
/// signed `x-amz-date` header.
pub fn authorization(
    req: &SigningRequest<'_>,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let (creq, signed) = canonical_request(req);
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(creq.as_bytes())
    );
    let k_date = hmac_sha256(
        format!("AWS4{}", creds.secret_key).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let signature = hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key
    )
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC), as `x-amz-date` wants it.
pub fn amz_date(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------------------

/// Why an admin API call failed. `kind()` is a closed set for labels; messages never hold
/// keys or signatures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}: check the access key, the secret key and the user's caps (buckets=read)", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Auth { status: u16, code: Option<String> },
    #[error("HTTP {status}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Http { status: u16, code: Option<String> },
    #[error("response larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Request(String),
    #[error("TLS setup: {0}")]
    TlsSetup(String),
}

impl RestError {
    /// Label for `rgw_multisite_rest_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            RestError::Endpoint { .. } | RestError::TlsSetup(_) => "config",
            RestError::Timeout(_) => "timeout",
            RestError::Tls(_) => "tls",
            RestError::Connect(_) | RestError::Request(_) => "connect",
            RestError::Auth { .. } => "auth",
            RestError::Http { .. } => "http",
            RestError::TooLarge { .. } => "parse",
        }
    }

    /// The same failure in the closed set of `rgw_multisite_command_errors_total{kind}`
    /// (timeout, spawn, exit, parse): a call that could not be made is `spawn`, an error
    /// answer is `exit`.
    pub fn command_kind(&self) -> &'static str {
        match self {
            RestError::Timeout(_) => "timeout",
            RestError::Endpoint { .. }
            | RestError::TlsSetup(_)
            | RestError::Tls(_)
            | RestError::Connect(_)
            | RestError::Request(_) => "spawn",
            RestError::Auth { .. } | RestError::Http { .. } => "exit",
            RestError::TooLarge { .. } => "parse",
        }
    }
}

/// TLS and transport options of the admin API client.
#[derive(Debug, Clone)]
pub struct RestOptions {
    /// SigV4 region (RGW takes it from the request's credential scope).
    pub region: String,
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// Accept any server certificate. Only for labs; says so loudly in the log.
    pub tls_insecure_skip_verify: bool,
    /// Extra CA certificates (PEM) trusted besides the system store.
    pub ca_file: Option<PathBuf>,
    /// A response body above this fails the call instead of eating memory.
    pub max_body_bytes: usize,
}

impl Default for RestOptions {
    fn default() -> Self {
        RestOptions {
            region: "us-east-1".into(),
            timeout: Duration::from_secs(60),
            tls_insecure_skip_verify: false,
            ca_file: None,
            max_body_bytes: 1 << 30,
        }
    }
}

/// A body read from the admin API, with the time it took.
#[derive(Debug, Clone)]
pub struct RestResponse {
    pub body: String,
    pub duration: Duration,
}

/// Client of one realm's admin APIs: one key pair, any number of zone endpoints.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    creds: Arc<Credentials>,
    opts: RestOptions,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("access_key", &self.creds.access_key)
            .field("opts", &self.opts)
            .finish()
    }
}

impl AdminClient {
    /// Builds the client; fails on an unreadable CA file (config errors surface at start).
    pub fn new(creds: Credentials, opts: RestOptions) -> Result<Self, RestError> {
        let tls = tls_config(&opts)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            // Never send a signed request on to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "rgw-multisite-exporter/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| RestError::TlsSetup(error_chain(&e)))?;
        Ok(AdminClient {
            http,
            creds: Arc::new(creds),
            opts,
        })
    }

    pub fn access_key(&self) -> &str {
        &self.creds.access_key
    }

    /// `GET <endpoint>/admin/bucket?format=json&stats=true`: every bucket's stats as the
    /// zone at `endpoint` counts them (the same JSON as `radosgw-admin bucket stats`).
    pub async fn bucket_stats(&self, endpoint: &str) -> Result<RestResponse, RestError> {
        self.get(
            endpoint,
            "/admin/bucket",
            &[("format", "json"), ("stats", "true")],
        )
        .await
    }

    /// A signed GET of `path` (below the endpoint's own path) with `query`; a non-2xx
    /// answer is an error carrying RGW's error code.
    pub async fn get(
        &self,
        endpoint: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<RestResponse, RestError> {
        let start = Instant::now();
        let (status, body) = self.get_raw(endpoint, path, query).await?;
        if !(200..300).contains(&status) {
            let code = error_code(&body);
            return Err(if status == 401 || status == 403 {
                RestError::Auth { status, code }
            } else {
                RestError::Http { status, code }
            });
        }
        Ok(RestResponse {
            body,
            duration: start.elapsed(),
        })
    }

    /// A signed GET returning the status and body whatever the status (for captures).
    pub async fn get_raw(
        &self,
        endpoint: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(u16, String), RestError> {
        let (url, host, full_path) = admin_url(endpoint, path, query)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let date = amz_date(now);
        let headers = [
            ("host", host.as_str()),
            ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
            ("x-amz-date", date.as_str()),
        ];
        let auth = authorization(
            &SigningRequest {
                method: "GET",
                path: &full_path,
                query,
                headers: &headers,
                payload_sha256: EMPTY_PAYLOAD_SHA256,
            },
            &self.creds,
            &self.opts.region,
            "s3",
            &date,
        );
        let resp = self
            .http
            .get(url)
            .header("host", host.as_str())
            .header("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256)
            .header("x-amz-date", date.as_str())
            .header("authorization", auth)
            .send()
            .await
            .map_err(|e| self.classify(&e))?;
        let status = resp.status().as_u16();
        let body = self.read_body(resp).await?;
        Ok((status, body))
    }

    async fn read_body(&self, mut resp: reqwest::Response) -> Result<String, RestError> {
        let limit = self.opts.max_body_bytes;
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e))? {
            if buf.len() + chunk.len() > limit {
                return Err(RestError::TooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn classify(&self, e: &reqwest::Error) -> RestError {
        if e.is_timeout() {
            return RestError::Timeout(self.opts.timeout);
        }
        let msg = error_chain(e);
        if is_tls_error(e) {
            RestError::Tls(msg)
        } else if e.is_connect() {
            RestError::Connect(msg)
        } else {
            RestError::Request(msg)
        }
    }
}

/// Checks that `endpoint` can be used (http or https URL with a host, no credentials).
pub fn validate_endpoint(endpoint: &str) -> Result<(), RestError> {
    admin_url(endpoint, "/admin/bucket", &[]).map(|_| ())
}

/// The URL to request, the `host` header value, and the encoded path that gets signed.
fn admin_url(
    endpoint: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<(reqwest::Url, String, String), RestError> {
    let bad = |reason: &str| RestError::Endpoint {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let mut url = reqwest::Url::parse(endpoint.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials do not belong in the endpoint URL"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bad("no host"))?
        .to_ascii_lowercase();
    let host = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    let base = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{base}{path}"));
    // The query is sent exactly as it is signed (sorted and encoded), so they cannot differ.
    url.set_query(Some(&canonical_query(query)));
    url.set_fragment(None);
    let full_path = url.path().to_string();
    Ok((url, host, full_path))
}

/// `Code` of an S3-style error body (JSON from RGW's admin API, or XML).
fn error_code(body: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(c) = v.get("Code").and_then(|c| c.as_str()) {
            return Some(sanitize_code(c));
        }
    }
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body.get(start..)?.find("</Code>")? + start;
    body.get(start..end).map(sanitize_code)
}

/// Error codes are short identifiers; anything else is cut, so logs stay one line.
fn sanitize_code(c: &str) -> String {
    c.chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '_' || *ch == '-')
        .take(64)
        .collect()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    has_rustls_error(e, 0)
}

/// Walks `source()` and into `io::Error`s (hyper and tokio-rustls nest them, and an
/// `io::Error`'s `source()` skips the error it wraps) looking for a `rustls::Error`.
fn has_rustls_error(e: &(dyn std::error::Error + 'static), depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
    {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if has_rustls_error(inner, depth + 1) {
            return true;
        }
    }
    e.source().is_some_and(|s| has_rustls_error(s, depth + 1))
}

// ---------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------

/// rustls with ring, the system roots plus `ca_file`, or no verification when asked.
fn tls_config(opts: &RestOptions) -> Result<rustls::ClientConfig, RestError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| RestError::TlsSetup(e.to_string()))?;
    if opts.tls_insecure_skip_verify {
        tracing::warn!(
            "TLS certificate verification of the RGW admin API is OFF (tls_insecure_skip_verify)"
        );
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        system_roots = added,
        "loaded the system's CA certificates for the admin API"
    );
    if let Some(path) = &opts.ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| RestError::TlsSetup(format!("CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(RestError::TlsSetup(format!(
                "CA file {} holds no PEM certificate",
                path.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| RestError::TlsSetup(format!("CA file {}: {e}", path.display())))?;
        }
    }
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if roots.is_empty() {
        // Plain-http endpoints still work; https ones fail with this explanation.
        Arc::new(NoRoots(provider))
    } else {
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| RestError::TlsSetup(e.to_string()))?
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `tls_insecure_skip_verify`: any certificate, but handshake signatures still checked.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

/// No CA certificate at all: refuse with a message that says what to do.
#[derive(Debug)]
struct NoRoots(Arc<rustls::crypto::CryptoProvider>);

macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    };
}

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    signature_checks!();
}

impl rustls::client::danger::ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(
            "no trusted CA certificate: install the system CA bundle or set rest.ca_file".into(),
        ))
    }

    signature_checks!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS SigV4 test suite, `get-vanilla` (service "service", no payload header).
    #[test]
    fn sigv4_get_vanilla() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: &[],
            headers: &[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        let (creq, signed) = canonical_request(&req);
        assert_eq!(
            creq,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(signed, "host;x-amz-date");
        assert_eq!(
            authorization(&req, &creds, "us-east-1", "service", "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// AWS SigV4 test suite, `get-vanilla-query-order-key-case`: query pairs get sorted.
    #[test]
    fn sigv4_query_order() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: &[("Param2", "value2"), ("Param1", "value1")],
            headers: &[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        assert!(
            authorization(&req, &creds, "us-east-1", "service", "20150830T123600Z").ends_with(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            )
        );
    }

    /// The S3 documentation's "GET Bucket (List Objects)" example: service `s3`, the
    /// `x-amz-content-sha256` header and a query, as the admin API requests are signed.
    #[test]
    fn sigv4_s3_list_objects_example() {
        let creds = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: &[("max-keys", "2"), ("prefix", "J")],
            headers: &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            payload_sha256: EMPTY_PAYLOAD_SHA256,
        };
        assert_eq!(
            authorization(&req, &creds, "us-east-1", "s3", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn encoding_and_dates() {
        assert_eq!(uri_encode("a b/c~d_e.f-g*"), "a%20b%2Fc~d_e.f-g%2A");
        assert_eq!(uri_encode("ü"), "%C3%BC");
        assert_eq!(
            canonical_query(&[("stats", "true"), ("format", "json")]),
            "format=json&stats=true"
        );
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_795_300_713), "20261121T223833Z");
    }

    #[test]
    fn admin_urls() {
        let (url, host, path) = admin_url(
            "http://127.0.0.1:8002",
            "/admin/bucket",
            &[("stats", "true"), ("format", "json")],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8002/admin/bucket?format=json&stats=true"
        );
        assert_eq!(host, "127.0.0.1:8002");
        assert_eq!(path, "/admin/bucket");
        // Default ports are not part of the host header; a path prefix is kept.
        let (url, host, path) =
            admin_url("https://RGW.example.com:443/rgw/", "/admin/bucket", &[]).unwrap();
        assert_eq!(url.as_str(), "https://rgw.example.com/rgw/admin/bucket?");
        assert_eq!(host, "rgw.example.com");
        assert_eq!(path, "/rgw/admin/bucket");
        for bad in ["", "ftp://x", "127.0.0.1:8002", "http://u:p@h/"] {
            assert!(admin_url(bad, "/admin/bucket", &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn error_codes_from_bodies() {
        assert_eq!(
            error_code(r#"{"Code":"SignatureDoesNotMatch","RequestId":"tx0","HostId":"x"}"#),
            Some("SignatureDoesNotMatch".into())
        );
        assert_eq!(
            error_code("<Error><Code>AccessDenied</Code></Error>"),
            Some("AccessDenied".into())
        );
        assert_eq!(error_code("garbage"), None);
        assert_eq!(
            RestError::Auth {
                status: 403,
                code: Some("InvalidAccessKeyId".into())
            }
            .to_string(),
            "HTTP 403 InvalidAccessKeyId: check the access key, the secret key and the user's caps (buckets=read)"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Credentials::new("AKID", "very-secret");
        assert!(!format!("{c:?}").contains("very-secret"));
        let client = AdminClient::new(c, RestOptions::default()).unwrap();
        assert!(!format!("{client:?}").contains("very-secret"));
        assert_eq!(client.access_key(), "AKID");
    }

    #[test]
    fn unreadable_ca_file_is_a_setup_error() {
        let err = AdminClient::new(
            Credentials::new("a", "b"),
            RestOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..RestOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), "config");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
