//! The operator's HTTP endpoints: `/metrics` (Prometheus text format),
//! `/healthz` (the process answers) and `/readyz` (it can do its job: the
//! leader has listed every kind; a standby replica is ready to take over).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::cache::Cache;
use crate::metrics::Metrics;

/// What the endpoints read.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The observed cluster (for readiness and the tenant gauge).
    pub cache: Arc<Cache>,
    /// Whether this replica leads (standbys are ready without a cache).
    pub leading: Arc<AtomicBool>,
}

/// The router, for serving and for tests.
pub fn router(endpoints: Endpoints) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
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
    let phases = crate::operator::phases(&e.cache);
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
    match (e.leading.load(Ordering::Relaxed), e.cache.synced()) {
        (false, _) => (StatusCode::OK, "standby"),
        (true, true) => (StatusCode::OK, "ok"),
        (true, false) => (StatusCode::SERVICE_UNAVAILABLE, "listing the cluster"),
    }
}
