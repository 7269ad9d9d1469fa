//! The operator's HTTPS webhook.
//!
//! - `/convert`: the apiserver sends Tenants here to convert them between
//!   `v1beta2` and `v1beta3`; the conversion is the model's
//!   ([`mto_model::migrate::convert_tenant`]), lossless both ways.
//! - `/validate`: every validating webhook of mto; the verdict is the
//!   model's ([`mto_model::admission::admit`]) against this replica's view.
//!
//! Every replica serves both, leader or not: each keeps its own view, and
//! is ready only once that view has listed every kind.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use mto_model::admission::pooled::{self, Judgement, StatusUpdate, TenantPool};
use mto_model::admission::review::{answer, read_review, refuse};
use mto_model::admission::{Rule, Verdict, admit};
use mto_model::migrate::convert_tenant;
use serde_json::Value;

use super::Shared;
use super::ledgers::Ledgers;

/// What the webhook decides with.
pub struct Admission {
    /// The operator's state: its view, its metrics.
    pub shared: Arc<Shared>,
    /// The tenants' quota ledgers.
    pub ledgers: Ledgers,
}

impl Admission {
    /// The webhook of the operator `shared`, keeping tenants' ledgers in
    /// mto's `namespace`.
    #[must_use]
    pub fn new(shared: Arc<Shared>, namespace: String) -> Arc<Admission> {
        let ledgers = Ledgers::new(shared.client.clone(), namespace);
        Arc::new(Admission { shared, ledgers })
    }
}

/// The webhook's routes, for serving and for tests.
pub fn router(admission: Arc<Admission>) -> Router {
    Router::new()
        .route("/convert", post(convert))
        .route("/validate", post(validate))
        .with_state(admission)
}

/// What one review needs beyond the view.
enum Asked {
    /// Decided from the view alone.
    Decided(Verdict),
    /// A pooled quota's update: judged with fresh reads and the ledger.
    Pooled(TenantPool, StatusUpdate),
}

/// One admission review, decided against this replica's view (and, for a
/// pooled tenant quota, the apiserver's current state).
async fn validate(
    State(admission): State<Arc<Admission>>,
    Json(review): Json<Value>,
) -> Json<Value> {
    let started = std::time::Instant::now();
    let shared = &admission.shared;
    let review = match read_review(&review) {
        Ok(review) => review,
        Err(e) => {
            let uid = review["request"]["uid"].as_str().unwrap_or_default();
            tracing::warn!(error = %e, "unreadable review");
            shared.metrics.reviewed("", "Unreadable");
            return Json(refuse(uid, "Unreadable", &e.to_string()));
        }
    };
    let request = &review.request;
    // A view not listed yet refuses: deciding from a partial view could
    // let through what a tenant's policy refuses. The apiserver reports
    // it; the replica turns ready (and gets traffic) once listed.
    let asked = {
        let view = shared.view();
        if view.synced() {
            Some(match pooled::asked(request, view.snapshot()) {
                pooled::Asked::Judge(pool, update) => Asked::Pooled(pool, update),
                pooled::Asked::Unknown(why) => Asked::Decided(Verdict::Denied {
                    rule: Rule::TenantQuota,
                    message: why,
                }),
                pooled::Asked::Nothing => Asked::Decided(admit(request, view.snapshot())),
            })
        } else {
            None
        }
    };
    let decided = match asked {
        None => Err((
            "NotReady",
            "mto's webhook has not listed the cluster yet; try again in a moment".to_owned(),
        )),
        Some(Asked::Decided(verdict)) => Ok(verdict),
        Some(Asked::Pooled(pool, update)) => match admission.ledgers.judge(&pool, &update).await {
            Ok(Judgement::Allow(_)) => Ok(Verdict::Allowed),
            Ok(Judgement::Deny(message)) => Ok(Verdict::Denied {
                rule: Rule::TenantQuota,
                message,
            }),
            Err(e) => Err(("LedgerUnavailable", e.to_string())),
        },
    };
    let (reply, label) = match &decided {
        Ok(verdict @ Verdict::Allowed) => (answer(&review.uid, verdict), "allowed"),
        Ok(verdict @ Verdict::Denied { rule, message }) => {
            tracing::debug!(kind = %request.kind.kind, name = %request.name, rule = rule.name(), %message, "denied");
            (answer(&review.uid, verdict), rule.name())
        }
        Err((reason, message)) => {
            tracing::warn!(kind = %request.kind.kind, name = %request.name, %message, "refused undecided");
            (refuse(&review.uid, reason, message), *reason)
        }
    };
    shared.metrics.reviewed(&request.kind.kind, label);
    shared
        .metrics
        .admission_duration
        .observe(started.elapsed().as_secs_f64());
    Json(reply)
}

async fn convert(Json(review): Json<ConversionReview>) -> Json<ConversionReview> {
    let Ok(request) = ConversionRequest::from_review(review) else {
        return Json(
            ConversionResponse::invalid(Status::failure(
                "the ConversionReview has no request",
                "BadRequest",
            ))
            .into_review(),
        );
    };
    let desired = request.desired_api_version.clone();
    let converted: Result<Vec<_>, _> = request
        .objects
        .iter()
        .map(|object| {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            convert_tenant(object.clone(), &desired).map_err(|e| format!("Tenant/{name}: {e}"))
        })
        .collect();
    let response = ConversionResponse::for_request(request);
    let response = match converted {
        Ok(objects) => response.success(objects),
        Err(message) => {
            tracing::warn!(%message, "conversion refused");
            response.failure(Status::failure(&message, "Invalid"))
        }
    };
    Json(response.into_review())
}

/// Why the webhook cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The certificate or key could not be read.
    #[error(
        "{path}: {problem} (fix: mount the webhook's TLS Secret, or point --webhook-cert and --webhook-key at PEM files)"
    )]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the pair.
    #[error("the webhook's certificate and key do not make a TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The TLS configuration from a PEM certificate chain and private key,
/// read again whenever the certificate file changes: cert-manager renews
/// the Secret in place, and the kubelet updates the mounted files.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, WebhookError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = ReloadingCert::load(cert, key, provider.clone())?;
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver)))
}

/// The webhook's certificate, as last read, and when its file last changed.
#[derive(Debug)]
struct ReloadingCert {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: std::sync::RwLock<(
        Option<std::time::SystemTime>,
        Arc<rustls::sign::CertifiedKey>,
    )>,
}

impl ReloadingCert {
    fn load(
        cert: &Path,
        key: &Path,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<ReloadingCert, WebhookError> {
        let certified = read_certified_key(cert, key, &provider)?;
        Ok(ReloadingCert {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current: std::sync::RwLock::new((modified(cert), Arc::new(certified))),
        })
    }

    /// The certificate to present: read again if its file changed since;
    /// a renewal that does not load keeps the last good one, and says so.
    fn current(&self) -> Arc<rustls::sign::CertifiedKey> {
        let changed = modified(&self.cert);
        if let Ok(current) = self.current.read()
            && current.0 == changed
        {
            return current.1.clone();
        }
        let Ok(mut current) = self.current.write() else {
            // A writer panicked: serving the old certificate is all there is.
            return self
                .current
                .read()
                .map_or_else(|e| e.into_inner().1.clone(), |c| c.1.clone());
        };
        match read_certified_key(&self.cert, &self.key, &self.provider) {
            Ok(certified) => {
                tracing::info!(cert = %self.cert.display(), "the webhook's certificate was renewed");
                *current = (changed, Arc::new(certified));
            }
            Err(e) => {
                tracing::warn!(error = %e, "the renewed webhook certificate does not load; serving the last good one");
                current.0 = changed;
            }
        }
        current.1.clone()
    }
}

impl rustls::server::ResolvesServerCert for ReloadingCert {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.current())
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn read_certified_key(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<rustls::sign::CertifiedKey, WebhookError> {
    let pem = |path: &Path, problem: String| WebhookError::Pem {
        path: path.display().to_string(),
        problem,
    };
    let cert_pem = std::fs::read(cert).map_err(|e| pem(cert, e.to_string()))?;
    let key_pem = std::fs::read(key).map_err(|e| pem(key, e.to_string()))?;
    certified_key_with(&cert_pem, &key_pem, provider)
        .map_err(|(is_key, problem)| pem(if is_key { key } else { cert }, problem))
}

/// A certificate chain and its key, from PEM, as rustls serves them.
pub fn certified_key(cert: &[u8], key: &[u8]) -> Result<rustls::sign::CertifiedKey, String> {
    let provider = rustls::crypto::ring::default_provider();
    certified_key_with(cert, key, &provider).map_err(|(is_key, problem)| {
        format!("{}: {problem}", if is_key { "tls.key" } else { "tls.crt" })
    })
}

/// The pair, or which of the two is at fault (`true`: the key) and why.
fn certified_key_with(
    cert: &[u8],
    key: &[u8],
    provider: &rustls::crypto::CryptoProvider,
) -> Result<rustls::sign::CertifiedKey, (bool, String)> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| (false, e.to_string()))?;
    if chain.is_empty() {
        return Err((false, "holds no certificate".into()));
    }
    let key_der = PrivateKeyDer::from_pem_slice(key).map_err(|e| (true, e.to_string()))?;
    rustls::sign::CertifiedKey::from_der(chain, key_der, provider)
        .map_err(|e| (true, e.to_string()))
}

/// Serves the webhook over HTTPS until `shutdown` resolves.
pub async fn serve(
    address: SocketAddr,
    tls: rustls::ServerConfig,
    admission: Arc<Admission>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    tracing::info!(%address, "serving the conversion and admission webhooks over HTTPS");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let app = router(admission);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let served =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "webhook connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn call(review: serde_json::Value) -> serde_json::Value {
        post(super::super::offline_shared(), "/convert", review).await
    }

    async fn post(shared: Arc<Shared>, path: &str, review: serde_json::Value) -> serde_json::Value {
        use tower::ServiceExt as _;
        let request = http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(review.to_string()))
            .unwrap_or_else(|e| panic!("{e}"));
        let response = router(Admission::new(shared, "mto-system".into()))
            .oneshot(request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn review(desired: &str, objects: serde_json::Value) -> serde_json::Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "desiredAPIVersion": desired, "objects": objects}
        })
    }

    #[tokio::test]
    async fn tenants_are_converted_in_order_and_answered_with_the_request_uid() {
        let answer = call(review(
            "tenantoperator.stakater.com/v1beta3",
            json!([
                {"apiVersion": "tenantoperator.stakater.com/v1beta2", "kind": "Tenant", "metadata": {"name": "a"}, "spec": {"owners": {"users": ["anna"]}}},
                {"apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "b"}, "spec": {"quota": "small"}}
            ]),
        ))
        .await;
        let response = &answer["response"];
        assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(response["result"]["status"], "Success", "{answer}");
        let converted = &response["convertedObjects"];
        assert_eq!(
            converted[0]["spec"]["accessControl"]["owners"]["users"][0],
            "anna"
        );
        assert_eq!(converted[1]["spec"]["quota"], "small");
        assert!(converted.as_array().is_some_and(|o| {
            o.iter()
                .all(|o| o["apiVersion"] == "tenantoperator.stakater.com/v1beta3")
        }));
    }

    #[tokio::test]
    async fn a_tenant_that_cannot_be_converted_fails_the_review_naming_it() {
        let answer = call(review(
            "tenantoperator.stakater.com/v1beta2",
            json!([{"apiVersion": "tenantoperator.stakater.com/v1alpha1", "kind": "Tenant", "metadata": {"name": "old"}, "spec": {}}]),
        ))
        .await;
        let result = &answer["response"]["result"];
        assert_eq!(result["status"], "Failure", "{answer}");
        assert!(
            result["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Tenant/old: apiVersion")),
            "{answer}"
        );
    }

    /// A Namespace CREATE by `user`, labelled into tenant `alpha`.
    fn namespace_review(user: &str) -> serde_json::Value {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alpha-new", "labels": {"stakater.com/tenant": "alpha"}}});
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "0d6f1c4e-1b2a-4c3d-9e8f-7a6b5c4d3e2f",
                "kind": {"group": "", "version": "v1", "kind": "Namespace"},
                "resource": {"group": "", "version": "v1", "resource": "namespaces"},
                "name": "alpha-new", "operation": "CREATE",
                "userInfo": {"username": user, "groups": ["system:authenticated"]},
                "object": namespace, "dryRun": false
            }
        })
    }

    /// A replica whose view has listed tenant `alpha` (owner anna).
    fn listed() -> Arc<Shared> {
        use mto_model::view::{Kind, Object, WatchEvent};
        let shared = super::super::offline_shared();
        let tenant = Object::from_json(json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "alpha"},
            "spec": {"quota": "small", "accessControl": {"owners": {"users": ["anna"]}}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        for kind in Kind::watched_kinds() {
            shared.fold(WatchEvent::Init(kind.clone()));
        }
        shared.fold(WatchEvent::InitApply(tenant.into()));
        for kind in Kind::watched_kinds() {
            shared.fold(WatchEvent::InitDone(kind.clone()));
        }
        shared
    }

    #[tokio::test]
    async fn reviews_are_decided_by_the_model_and_counted_by_verdict() {
        let shared = listed();
        let owner = post(shared.clone(), "/validate", namespace_review("anna")).await;
        assert_eq!(owner["response"]["allowed"], true, "{owner}");
        assert_eq!(
            owner["response"]["uid"],
            "0d6f1c4e-1b2a-4c3d-9e8f-7a6b5c4d3e2f"
        );
        let outsider = post(shared.clone(), "/validate", namespace_review("olga")).await;
        let response = &outsider["response"];
        assert_eq!(response["allowed"], false, "{outsider}");
        assert_eq!(response["status"]["reason"], "vnamespace", "{outsider}");
        let message = response["status"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("alpha-new") && message.contains("olga"),
            "{message}"
        );
        let metrics = shared.metrics.encode();
        for line in [
            "mto_admission_reviews_total{kind=\"Namespace\",verdict=\"allowed\"} 1",
            "mto_admission_reviews_total{kind=\"Namespace\",verdict=\"vnamespace\"} 1",
            "mto_admission_duration_seconds_count 2",
        ] {
            assert!(metrics.contains(line), "{line} in {metrics}");
        }
    }

    #[tokio::test]
    async fn a_replica_that_has_not_listed_the_cluster_refuses_and_says_why() {
        let answer = post(
            super::super::offline_shared(),
            "/validate",
            namespace_review("anna"),
        )
        .await;
        let response = &answer["response"];
        assert_eq!(response["allowed"], false, "{answer}");
        assert_eq!(response["status"]["reason"], "NotReady", "{answer}");
    }

    #[tokio::test]
    async fn a_review_without_a_request_is_answered_not_dropped() {
        let answer = post(
            listed(),
            "/validate",
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
        )
        .await;
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
    }

    fn write_pair(dir: &Path, name: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .and_then(|p| p.self_signed(&key))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap_or_else(|e| panic!("{e}"));
        cert.der().to_vec()
    }

    #[test]
    fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
        let dir = std::env::temp_dir().join(format!("mto-webhook-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let first = write_pair(&dir, "first.example");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = ReloadingCert::load(&dir.join("tls.crt"), &dir.join("tls.key"), provider)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(certs.current().cert[0].as_ref(), first.as_slice());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let second = write_pair(&dir, "second.example");
        assert_eq!(
            certs.current().cert[0].as_ref(),
            second.as_slice(),
            "renewed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("tls.crt"), "not a certificate").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            certs.current().cert[0].as_ref(),
            second.as_slice(),
            "the last good one"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_certificate_names_the_file_and_the_fix() {
        let e = tls_config(
            Path::new("/nonexistent/tls.crt"),
            Path::new("/nonexistent/tls.key"),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.starts_with("/nonexistent/tls.crt: "), "{e}");
        assert!(e.contains("fix: mount the webhook's TLS Secret"), "{e}");
    }
}
