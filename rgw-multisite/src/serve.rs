//! HTTP: `/metrics` (the latest pre-rendered exposition), `/-/healthy`, `/-/ready` and a
//! landing page. A scrape never runs `radosgw-admin`.
//!
//! The server is our own accept loop on hyper (HTTP/1.1), so that every resource a client
//! can hold is bounded: connections (`--web.max-connections`), idle keep-alive time, the
//! time to send a request's headers, stalled response writes, header size and count.
//! `--web.config.file` (see [`crate::webconfig`]) adds TLS, client certificates, basic
//! auth and response headers, as Prometheus's exporter-toolkit does: authentication covers
//! every path, `/-/healthy` included.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::collect::Telemetry;
use crate::config::CommonArgs;
use crate::webconfig::{basic_credentials, AuthCache, WebConfig, WebConfigError, WebConfigSource};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct AppState {
    telemetry: Arc<Telemetry>,
    landing: Arc<String>,
}

/// The router for `telemetry_path` (e.g. `/metrics`).
pub fn router(telemetry: Arc<Telemetry>, telemetry_path: &str, title: &str) -> Router {
    let landing = format!(
        "<html><head><title>{title}</title></head><body><h1>{title}</h1>\
         <p><a href=\"{path}\">Metrics</a></p><p><a href=\"/-/healthy\">Health</a> · \
         <a href=\"/-/ready\">Readiness</a></p></body></html>",
        title = html_escape(title),
        path = html_escape(telemetry_path),
    );
    let state = AppState {
        telemetry,
        landing: Arc::new(landing),
    };
    let mut r = Router::new()
        .route(telemetry_path, get(metrics))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready));
    if telemetry_path != "/" {
        r = r.route("/", get(landing_page));
    }
    r.with_state(state)
}

async fn metrics(State(s): State<AppState>) -> Response {
    let body = s.telemetry.exposition();
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.as_str().to_owned(),
    )
        .into_response()
}

async fn ready(State(s): State<AppState>) -> Response {
    if s.telemetry.is_ready() {
        (StatusCode::OK, "Ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: the first collection has not finished\n",
        )
            .into_response()
    }
}

async fn landing_page(State(s): State<AppState>) -> Html<String> {
    Html(s.landing.as_str().to_owned())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Binds `addr` (`:9240` means all interfaces) and serves until `shutdown` resolves.
pub async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let addr = if let Some(port) = addr.strip_prefix(':') {
        format!("[::]:{port}")
    } else {
        addr.to_string()
    };
    match listen(&addr).await {
        Ok(l) => Ok(l),
        // Hosts without IPv6 still get the wildcard address.
        Err(_) if addr.starts_with("[::]:") => listen(&addr.replacen("[::]", "0.0.0.0", 1)).await,
        Err(e) => Err(e),
    }
}

/// Connections the kernel queues before they are accepted. std's (and so tokio's) bind uses
/// 128, which overflows when a few hundred scrapers connect at once: the overflow is dropped
/// and retried by the client a second later.
const LISTEN_BACKLOG: u32 = 1024;

async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for sa in tokio::net::lookup_host(addr).await? {
        let socket = if sa.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(sa).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    }))
}

/// Limits of the HTTP server. Scrapes are served from memory, so these only bound what a
/// misbehaving or hostile client can hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// A connection with no request under way is closed after this (keep-alive idle).
    pub idle_timeout: Duration,
    /// A request's headers must be complete this long after its first byte (slowloris);
    /// for TLS the handshake counts too.
    pub header_timeout: Duration,
    /// A response write that makes no progress for this long closes the connection.
    pub write_timeout: Duration,
    /// Request line plus headers, in bytes (431 beyond).
    pub max_header_bytes: usize,
    /// Number of request headers (431 beyond).
    pub max_headers: usize,
    /// On shutdown, how long open connections may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            idle_timeout: Duration::from_secs(120),
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The HTTP side: the web configuration file (TLS, basic auth, headers) and the limits.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub web: Arc<WebConfigSource>,
    pub limits: Limits,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            web: Arc::new(WebConfigSource::none()),
            limits: Limits::default(),
        }
    }
}

impl HttpOptions {
    /// From `--web.config.file` and `--web.max-connections`; the file is read and checked
    /// now, so a bad file fails before the port is bound.
    pub fn from_common(common: &CommonArgs) -> Result<Self, WebConfigError> {
        Ok(HttpOptions {
            web: Arc::new(WebConfigSource::from_option(
                common.web_config_file.as_deref(),
            )?),
            limits: Limits {
                max_connections: usize::try_from(common.web_max_connections)
                    .unwrap_or(usize::MAX)
                    .max(1),
                ..Limits::default()
            },
        })
    }
}

/// Serves `router` on `listener` with no web configuration and the default limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, HttpOptions::default(), shutdown).await
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections
/// finish for up to `limits.shutdown_grace`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    opts: HttpOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = opts.limits;
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let auth = Arc::new(AuthCache::new());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        // A slot first: past max_connections, new connections wait in the backlog.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        if slots.available_permits() == 0 && !warned_full {
            tracing::warn!(
                max_connections = limits.max_connections,
                "all HTTP connection slots in use; new connections wait (--web.max-connections)"
            );
            warned_full = true;
        } else if slots.available_permits() > limits.max_connections / 2 {
            warned_full = false;
        }
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and the like: do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            router: router.clone(),
            web: opts.web.clone(),
            auth: auth.clone(),
            limits,
            close: close_rx.clone(),
        };
        tokio::spawn(async move {
            conn.run(stream, peer).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::info!("closing HTTP connections still open after the shutdown grace period");
    }
    Ok(())
}

/// One accepted connection.
struct Connection {
    router: Router,
    web: Arc<WebConfigSource>,
    auth: Arc<AuthCache>,
    limits: Limits,
    close: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    async fn run(self, stream: tokio::net::TcpStream, peer: std::net::SocketAddr) {
        let requests = Arc::new(AtomicU64::new(0));
        let io = Guarded::new(stream, requests.clone(), self.limits);
        if self.web.tls() {
            let tls = match self.web.current() {
                Ok(cfg) => cfg.tls.clone(),
                Err(_) => None, // logged by current(); fail closed
            };
            let Some(tls) = tls else { return };
            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(io);
            match tokio::time::timeout(self.limits.header_timeout, accept).await {
                Ok(Ok(s)) => self.http(s, peer, requests).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        } else {
            self.http(io, peer, requests).await;
        }
    }

    async fn http<IO>(self, io: IO, peer: std::net::SocketAddr, requests: Arc<AtomicU64>)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            web,
            auth,
            limits,
            mut close,
        } = self;
        let svc = hyper::service::service_fn(move |req| {
            requests.fetch_add(1, Ordering::Relaxed);
            handle(req, router.clone(), web.clone(), auth.clone())
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            // Runs from the moment the connection is idle until a request's headers are in:
            // the keep-alive idle limit. The tighter per-request bound is Guarded's.
            .header_read_timeout(limits.idle_timeout)
            .max_headers(limits.max_headers)
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .keep_alive(true);
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), svc);
        let mut conn = std::pin::pin!(conn);
        let r = tokio::select! {
            r = conn.as_mut() => r,
            _ = close.changed() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = r {
            tracing::debug!(%peer, error = %e, "HTTP connection closed");
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// What the toolkit does around the exporter's own handler, plus the request limits:
/// a body (the exporter takes none) is 413 and closes the connection; methods other than
/// GET and HEAD are 405; then basic auth (401 with `WWW-Authenticate: Basic`); the file's
/// headers go on every response.
async fn handle(
    req: axum::http::Request<hyper::body::Incoming>,
    router: Router,
    web: Arc<WebConfigSource>,
    auth: Arc<AuthCache>,
) -> Result<Response, std::convert::Infallible> {
    let cfg = match web.current() {
        Ok(c) => c,
        Err(_) => {
            return Ok(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the web configuration file is unusable (see the log)\n",
            ))
        }
    };
    let mut resp = gate(&req, &cfg, &auth).await;
    if resp.is_none() {
        let r = tower::ServiceExt::oneshot(router, req.map(axum::body::Body::new)).await;
        resp = Some(match r {
            Ok(r) => r,
            Err(never) => match never {},
        });
    }
    let mut resp = resp.unwrap_or_else(|| plain(StatusCode::INTERNAL_SERVER_ERROR, "\n"));
    for (k, v) in &cfg.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    Ok(resp)
}

/// The response that stops `req` before the router, if any.
async fn gate<B>(
    req: &axum::http::Request<B>,
    cfg: &WebConfig,
    auth: &AuthCache,
) -> Option<Response> {
    let h = req.headers();
    let has_body = h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        let mut r = plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large: this endpoint takes no request body\n",
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(r);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(r);
    }
    if cfg.users.is_empty() {
        return None;
    }
    if let Some((user, pass)) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| basic_credentials(v.as_bytes()))
    {
        if auth.check(&cfg.users, &user, &pass).await {
            return None;
        }
    }
    let mut r = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    Some(r)
}

/// A connection's socket with the per-request deadlines hyper does not have: the headers
/// of a request must be in `header_timeout` after its first byte (a request is "in" when
/// the service counted it), and a write may stall at most `write_timeout`.
struct Guarded<T> {
    inner: T,
    requests: Arc<AtomicU64>,
    header_timeout: Duration,
    write_timeout: Duration,
    /// Armed on a read while no request is being parsed: (deadline, requests seen then).
    head: Option<(Pin<Box<tokio::time::Sleep>>, u64)>,
    write: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Guarded<T> {
    fn new(inner: T, requests: Arc<AtomicU64>, limits: Limits) -> Self {
        Guarded {
            inner,
            requests,
            header_timeout: limits.header_timeout,
            write_timeout: limits.write_timeout,
            head: None,
            write: None,
        }
    }
}

fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, what.to_string())
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let seen = self.requests.load(Ordering::Relaxed);
        if matches!(&self.head, Some((_, at)) if *at != seen) {
            self.head = None; // that request's headers were parsed
        }
        if let Some((sleep, _)) = self.head.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(timed_out("request headers not complete in time")));
            }
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before && self.head.is_none() {
            let t = self.header_timeout;
            self.head = Some((Box::pin(tokio::time::sleep(t)), seen));
        }
        r
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> Guarded<T> {
    fn stalled(&mut self, cx: &mut Context<'_>) -> bool {
        let t = self.write_timeout;
        let sleep = self
            .write
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(t)));
        sleep.as_mut().poll(cx).is_ready()
    }

    fn track<R>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        match r {
            Poll::Pending => {
                if self.stalled(cx) {
                    Poll::Ready(Err(timed_out("response write stalled")))
                } else {
                    Poll::Pending
                }
            }
            done => {
                self.write = None;
                done
            }
        }
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.track(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.track(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.track(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.track(cx, r)
    }
}

/// Runs `cycle` every `interval` in the background (the first at once) and serves the
/// latest exposition on `listener` until SIGTERM or Ctrl-C.
pub async fn run_until_signal<F, Fut>(
    listener: tokio::net::TcpListener,
    telemetry: Arc<Telemetry>,
    telemetry_path: &str,
    title: &str,
    interval: std::time::Duration,
    http: HttpOptions,
    cycle: F,
) -> std::io::Result<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let start = std::time::Instant::now();
            let ok = cycle().await;
            tracing::info!(
                ok,
                duration_seconds = start.elapsed().as_secs_f64(),
                "collection cycle finished"
            );
        }
    });
    serve_with(
        listener,
        router(telemetry, telemetry_path, title),
        http,
        shutdown_signal(),
    )
    .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn request(addr: std::net::SocketAddr, raw: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        s.write_all(raw.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = String::new();
        s.read_to_string(&mut out)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[tokio::test]
    async fn serves_metrics_health_and_readiness() {
        let t = Telemetry::new("v1", "agent", "sync_status");
        let listener = bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let app = router(t.clone(), "/metrics", "Test exporter");
        tokio::spawn(serve(listener, app, std::future::pending()));

        let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let r = request(addr, &get("/metrics")).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(
            r.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{r}"
        );
        assert!(r.contains("rgw_multisite_exporter_build_info{version=\"v1\",role=\"agent\"} 1"));

        let r = request(addr, &get("/-/ready")).await;
        assert!(r.starts_with("HTTP/1.1 503"), "{r}");
        t.set_ready();
        let r = request(addr, &get("/-/ready")).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");

        let r = request(addr, &get("/-/healthy")).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let r = request(addr, &get("/nope")).await;
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");
        let r = request(
            addr,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");
        let r = request(addr, &get("/")).await;
        assert!(r.contains("<a href=\"/metrics\">Metrics</a>"), "{r}");
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rgwms-serve-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    /// A server with `opts`, its address.
    async fn start(opts: HttpOptions) -> std::net::SocketAddr {
        let t = Telemetry::new("v1", "agent", "sync_status");
        t.set_ready();
        let listener = bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let app = router(t, "/metrics", "Test exporter");
        tokio::spawn(serve_with(listener, app, opts, std::future::pending()));
        addr
    }

    /// Idle connections are closed after `idle`; headers must be in 300 ms after their first
    /// byte.
    fn limits(idle: Duration) -> Limits {
        Limits {
            max_connections: 2,
            idle_timeout: idle,
            header_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_secs(5),
            ..Limits::default()
        }
    }

    /// Reads until EOF or `within`; `None` if the server neither answered nor closed.
    async fn read_all(s: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
        let mut out = Vec::new();
        match tokio::time::timeout(within, s.read_to_end(&mut out)).await {
            Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn limits_methods_bodies_and_headers() {
        let addr = start(HttpOptions {
            limits: limits(Duration::from_secs(60)),
            ..HttpOptions::default()
        })
        .await;
        let r = request(
            addr,
            "DELETE /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");
        assert!(r.contains("allow: GET, HEAD"), "{r}");
        let r = request(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 413"), "{r}");
        assert!(r.contains("connection: close"), "{r}");
        let big = format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(20_000)
        );
        let r = request(addr, &big).await;
        assert!(r.starts_with("HTTP/1.1 431"), "{r}");
        let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
        let r = request(
            addr,
            &format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n"),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 431"), "{r}");
        let r = request(
            addr,
            "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(!r.contains("build_info"), "HEAD has no body: {r}");
    }

    #[tokio::test]
    async fn slow_headers_idle_connections_and_the_connection_cap() {
        // Idle connections live 60 s here, so only the header deadline can drop these.
        let addr = start(HttpOptions {
            limits: limits(Duration::from_secs(60)),
            ..HttpOptions::default()
        })
        .await;
        // Slowloris: half a request line, then nothing. Dropped after header_timeout.
        let mut slow = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let r = read_all(&mut slow, Duration::from_secs(5)).await;
        assert!(
            r.is_some(),
            "a client that never finished its headers was kept"
        );
        // Trickling a byte at a time does not reset the deadline.
        let mut trickle = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut closed = false;
        for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*b]).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = read_all(&mut trickle, Duration::from_secs(5)).await;
        assert!(closed || r.is_some(), "a trickling client was kept");

        // Two idle connections fill the cap (2): a third waits, and is served once they
        // are closed for idleness (idle_timeout 1.5 s).
        let addr = start(HttpOptions {
            limits: limits(Duration::from_millis(1500)),
            ..HttpOptions::default()
        })
        .await;
        let mut a = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut b = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut c = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            read_all(&mut c, Duration::from_millis(700)).await.is_none(),
            "a third connection was served past max_connections = 2"
        );
        let r = read_all(&mut c, Duration::from_secs(10))
            .await
            .unwrap_or_default();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        // The idle ones were closed by the server.
        assert_eq!(
            read_all(&mut a, Duration::from_secs(5)).await.as_deref(),
            Some("")
        );
        assert_eq!(
            read_all(&mut b, Duration::from_secs(5)).await.as_deref(),
            Some("")
        );
    }

    #[tokio::test]
    async fn basic_auth_and_headers_from_the_web_config_file() {
        let dir = scratch("auth");
        let hash = bcrypt::hash("s3cret", 4).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("web.yml");
        std::fs::write(
            &file,
            format!(
                "basic_auth_users:\n  alice: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let web = Arc::new(WebConfigSource::open(&file).unwrap_or_else(|e| panic!("{e}")));
        let addr = start(HttpOptions {
            web,
            limits: Limits::default(),
        })
        .await;
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let req = |path: &str, auth: Option<&str>| {
            let a = auth
                .map(|a| format!("Authorization: Basic {}\r\n", b64(a)))
                .unwrap_or_default();
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{a}Connection: close\r\n\r\n")
        };
        for (auth, path) in [
            (None, "/metrics"),
            (None, "/-/healthy"),
            (Some("alice:wrong"), "/metrics"),
            (Some("bob:s3cret"), "/metrics"),
            (Some("alice:s3cret "), "/metrics"),
            (Some("alice"), "/metrics"),
        ] {
            let r = request(addr, &req(path, auth)).await;
            assert!(r.starts_with("HTTP/1.1 401"), "{auth:?} {path}: {r}");
            assert!(r.contains("www-authenticate: Basic"), "{r}");
            assert!(r.contains("x-frame-options: deny"), "{r}");
        }
        // Twice: the second answer comes from the cache of successful checks.
        for _ in 0..2 {
            let r = request(addr, &req("/metrics", Some("alice:s3cret"))).await;
            assert!(r.starts_with("HTTP/1.1 200"), "{r}");
            assert!(r.contains("x-frame-options: deny"), "{r}");
        }
        // A wrong password after a good one still fails (only successes are cached).
        let r = request(addr, &req("/metrics", Some("alice:s3cre"))).await;
        assert!(r.starts_with("HTTP/1.1 401"), "{r}");

        // Re-read per request: a new password applies at once, the old one stops working.
        let hash2 = bcrypt::hash("n3w", 4).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&file, format!("basic_auth_users:\n  alice: '{hash2}'\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let r = request(addr, &req("/metrics", Some("alice:s3cret"))).await;
        assert!(r.starts_with("HTTP/1.1 401"), "{r}");
        let r = request(addr, &req("/metrics", Some("alice:n3w"))).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(!r.contains("x-frame-options"), "{r}");
        // A file broken later fails closed, and recovers when fixed.
        std::fs::write(&file, "basic_auth_users: [\n").unwrap_or_else(|e| panic!("{e}"));
        let r = request(addr, &req("/metrics", Some("alice:n3w"))).await;
        assert!(r.starts_with("HTTP/1.1 500"), "{r}");
        std::fs::write(&file, format!("basic_auth_users:\n  alice: '{hash2}'\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let r = request(addr, &req("/metrics", Some("alice:n3w"))).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
