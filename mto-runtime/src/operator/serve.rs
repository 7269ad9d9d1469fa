//! The operator's HTTP endpoints: `/metrics` (Prometheus text format),
//! `/healthz` (the process answers) and `/readyz` (it can do its job: its
//! view has listed every kind, so it can answer admission reviews and, as
//! leader or after taking over, reconcile)
//! and `/history/{tenant}` (the journal, which the running operator holds
//! open: `mto history --server` reads it here).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::Shared;
use super::journal::{Entry, Journal};
use super::metrics::Metrics;

/// What the endpoints read.
#[derive(Clone)]
pub struct Endpoints {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The operator's view (for readiness and the tenant gauge).
    pub shared: Arc<Shared>,
    /// Whether this replica leads.
    pub leading: Arc<AtomicBool>,
    /// The decision journal, when one is kept.
    pub journal: Option<Arc<Journal>>,
}

/// The router, for serving and for tests.
pub fn router(endpoints: Endpoints) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/history/{tenant}", get(history))
        .with_state(endpoints)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    address: SocketAddr,
    endpoints: Endpoints,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    tracing::info!(%address, "serving /metrics, /healthz, /readyz");
    axum::serve(listener, router(endpoints))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(e): State<Endpoints>) -> impl IntoResponse {
    let phases = super::phases(&e.shared.view());
    e.metrics
        .set_phases(phases.iter().map(|(p, n)| (p.as_str(), *n)));
    e.metrics
        .leader
        .set(i64::from(e.leading.load(Ordering::Relaxed)));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        e.metrics.encode(),
    )
}

async fn ready(State(e): State<Endpoints>) -> (StatusCode, &'static str) {
    match (e.shared.view().synced(), e.leading.load(Ordering::Relaxed)) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "listing the cluster"),
        (true, true) => (StatusCode::OK, "ok"),
        (true, false) => (StatusCode::OK, "standby"),
    }
}

async fn history(
    State(e): State<Endpoints>,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<Entry>>, (StatusCode, String)> {
    let Some(journal) = e.journal else {
        return Err((
            StatusCode::NOT_FOUND,
            "this operator keeps no journal (--no-journal)".into(),
        ));
    };
    tokio::task::spawn_blocking(move || journal.history(&tenant))
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map(Json)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A plain HTTP/1.0 GET of `path` from `server` (`http://host:port`),
/// enough to ask a running operator on its own pod or port-forward;
/// returns the body of a 200 answer.
pub fn http_get(server: &str, path: &str) -> Result<String, String> {
    use std::io::{Read as _, Write as _};
    let authority = server
        .strip_prefix("http://")
        .ok_or_else(|| {
            format!("{server}: only http:// addresses are served (fix: http://HOST:PORT)")
        })?
        .trim_end_matches('/');
    let mut stream =
        std::net::TcpStream::connect(authority).map_err(|e| format!("{server}: {e}"))?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .map_err(|e| format!("{server}: {e}"))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n")
        .map_err(|e| format!("{server}: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("{server}: {e}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{server}: not an HTTP answer"))?;
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if status == "200" {
        Ok(body.to_owned())
    } else {
        Err(format!("{server}{path}: {status} {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_endpoints_answer_and_readiness_follows_the_view() {
        let shared = super::super::offline_shared();
        let metrics = shared.metrics.clone();
        let endpoints = Endpoints {
            metrics,
            shared: shared.clone(),
            leading: Arc::new(AtomicBool::new(true)),
            journal: None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(axum::serve(listener, router(endpoints.clone())).into_future());
        let server = format!("http://{address}");
        let ask = move |path: &'static str| {
            let server = server.clone();
            async move {
                tokio::task::spawn_blocking(move || http_get(&server, path))
                    .await
                    .expect("join")
            }
        };
        assert_eq!(ask("/healthz").await, Ok("ok".into()));
        let not_ready = ask("/readyz").await.expect_err("not synced");
        assert!(not_ready.contains("503"), "{not_ready}");
        for kind in mto_model::view::Kind::watched_kinds() {
            shared.fold(mto_model::view::WatchEvent::InitDone(kind.clone()));
        }
        assert_eq!(ask("/readyz").await, Ok("ok".into()));
        let metrics = ask("/metrics").await.expect("metrics");
        assert!(metrics.contains("mto_leader 1"), "{metrics}");
        let history = ask("/history/alpha").await.expect_err("no journal");
        assert!(
            history.contains("404") && history.contains("--no-journal"),
            "{history}"
        );
        endpoints.leading.store(false, Ordering::Relaxed);
        assert_eq!(ask("/readyz").await, Ok("standby".into()));
    }
}
