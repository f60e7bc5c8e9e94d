//! HTTP: `/metrics` (the latest pre-rendered exposition), `/-/healthy`, `/-/ready` and a
//! landing page. A scrape never runs `radosgw-admin`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::collect::Telemetry;

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
    match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => Ok(l),
        // Hosts without IPv6 still get the wildcard address.
        Err(_) if addr.starts_with("[::]:") => {
            tokio::net::TcpListener::bind(addr.replacen("[::]", "0.0.0.0", 1)).await
        }
        Err(e) => Err(e),
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs `cycle` every `interval` in the background (the first at once) and serves the
/// latest exposition on `listener` until SIGTERM or Ctrl-C.
pub async fn run_until_signal<F, Fut>(
    listener: tokio::net::TcpListener,
    telemetry: Arc<Telemetry>,
    telemetry_path: &str,
    title: &str,
    interval: std::time::Duration,
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
    serve(
        listener,
        router(telemetry, telemetry_path, title),
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
}
