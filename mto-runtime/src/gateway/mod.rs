//! The API gateway: a REST API under `/api/v1` for tenant members and
//! platform admins, served by `mto run` beside the controllers
//! (`--gateway-address`, with an OpenID Connect issuer to trust).
//!
//! It reads from the operator's own view — no apiserver round trip per
//! request — and shows each caller what [`mto_model::access`] lets them
//! see. Every write is made as the caller (impersonation), so Kubernetes
//! RBAC and mto's admission rules decide it, and is recorded in the audit
//! log with who, what, on what and the outcome.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::operator::Shared;
use crate::operator::journal::Journal;
use crate::store::AnyStore;

pub mod api;
pub mod auth;

pub use auth::{OidcConfig, Verifier};

/// The field manager of writes made through the gateway.
pub const FIELD_MANAGER: &str = "mto-gateway";

/// What the gateway serves from.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
    pub(crate) verifier: Arc<Verifier>,
    kube: kube::Config,
    pub(crate) journal: Option<Arc<Journal>>,
    pub(crate) store: Option<Arc<AnyStore>>,
    pub(crate) admin_groups: Arc<Vec<String>>,
    /// The console's browser sessions.
    pub(crate) sessions: Arc<crate::console::session::Sessions>,
    /// The console's public base URL, when not the request's host.
    pub(crate) console_url: Option<String>,
}

impl Gateway {
    /// A gateway over the operator's view; `kube` is the operator's own
    /// client configuration, which writes impersonate callers with; the
    /// history comes from `journal`, the audit log goes to `store`.
    #[must_use]
    pub fn new(
        shared: Arc<Shared>,
        oidc: OidcConfig,
        kube: kube::Config,
        journal: Option<Arc<Journal>>,
        store: Option<Arc<AnyStore>>,
        admin_groups: Vec<String>,
    ) -> Gateway {
        Gateway {
            shared,
            verifier: Arc::new(Verifier::new(oidc)),
            kube,
            journal,
            admin_groups: Arc::new(admin_groups),
            sessions: Arc::new(crate::console::session::Sessions::new(store.clone())),
            store,
            console_url: None,
        }
    }

    /// The console's public base URL (`https://mto.example.com`): where
    /// the identity provider sends browsers back to, and whether cookies
    /// are Secure. Without it, the request's host.
    #[must_use]
    pub fn with_console_url(mut self, url: Option<String>) -> Gateway {
        self.console_url = url;
        self
    }

    /// The routes, at the root and again under `/gateway` (where the
    /// console's Ingress sends the API when both share one host).
    pub fn router(self) -> Router {
        let routes = Gateway::routes();
        Router::new()
            .nest("/gateway", routes.clone())
            .merge(routes)
            .fallback(api::no_such_path)
            .with_state(self)
    }

    fn routes() -> Router<Gateway> {
        Router::new()
            .route("/api/v1/openapi.json", get(api::openapi))
            .route("/api/v1/me", get(api::me))
            .route(
                "/api/v1/tenants",
                get(api::tenants).post(api::create_tenant),
            )
            .route(
                "/api/v1/tenants/{name}",
                get(api::tenant)
                    .put(api::update_tenant)
                    .delete(api::delete_tenant),
            )
            .route("/api/v1/tenants/{name}/history", get(api::history))
            .route("/api/v1/quotas", get(api::quotas).post(api::create_quota))
            .route(
                "/api/v1/quotas/{name}",
                axum::routing::put(api::update_quota),
            )
            .route("/api/v1/supervisors", get(api::supervisors))
            .route(
                "/api/v1/supervisors/{namespace}/{name}/{action}",
                post(api::override_supervisor),
            )
            .route("/api/v1/templates", get(api::templates))
            .route("/api/v1/templateinstances", get(api::instances))
            .route("/api/v1/audit", get(api::audit))
            .route("/api/v1/allocation", get(api::allocation))
            .route("/allocation", get(api::allocation))
            .merge(crate::console::routes())
    }
}

/// Serves the gateway until `shutdown` resolves.
pub async fn serve(
    address: SocketAddr,
    gateway: Gateway,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    tracing::info!(%address, issuer = %gateway.verifier.config().issuer, "serving the API gateway");
    axum::serve(listener, gateway.router())
        .with_graceful_shutdown(shutdown)
        .await
}
