//! The webhook's certificate when mto manages it (`mto run
//! --webhook-secret NAME`): a CA and a serving certificate for mto's
//! Service, kept in a Secret of mto's namespace that every replica reads,
//! made by whichever replica finds none and renewed a month before it
//! expires (compare-and-swap, so two replicas never both do). The CA goes
//! into the webhook configuration and the Tenant CRD as their caBundle
//! ([`super::webhooks`]).

use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::{SignedDuration, Timestamp, tz::TimeZone};
use kube::api::PostParams;
use kube::{Api, Client};
use rustls::sign::CertifiedKey;

/// The annotation holding when the serving certificate expires: read to
/// decide a renewal without parsing the certificate.
pub const NOT_AFTER_ANNOTATION: &str = "tenantoperator.stakater.com/not-after";

/// A serving certificate this close to expiring is renewed.
const RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(30 * 24);

/// The CA's common name: renewals sign with the same name and key.
const CA_NAME: &str = "mto-webhook-ca";

/// Where the certificate lives and whom it names.
#[derive(Clone, Debug)]
pub struct CertSetup {
    /// mto's namespace.
    pub namespace: String,
    /// The Secret.
    pub secret: String,
    /// The Service the apiserver calls (`mto-webhook`).
    pub service: String,
}

/// Why the certificate could not be made, read or renewed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The apiserver refused.
    #[error("the webhook's Secret {namespace}/{secret}: {source}")]
    Api {
        /// mto's namespace.
        namespace: String,
        /// The Secret.
        secret: String,
        /// The client error.
        source: kube::Error,
    },
    /// A certificate could not be made.
    #[error("making the webhook's certificate: {0}")]
    Make(#[from] rcgen::Error),
    /// The Secret does not hold a usable certificate.
    #[error(
        "the webhook's Secret {namespace}/{secret}: {problem} (fix: delete the Secret; mto makes a new CA and certificate)"
    )]
    Unusable {
        /// mto's namespace.
        namespace: String,
        /// The Secret.
        secret: String,
        /// What is wrong.
        problem: String,
    },
}

/// The certificate in force, for the TLS server and the caBundle.
#[derive(Debug, Default)]
pub struct Served {
    current: RwLock<Option<InForce>>,
}

/// A certificate served: the Secret's version it came from, the key
/// pair, and the CA that signed it (PEM).
#[derive(Debug)]
struct InForce {
    version: String,
    key: Arc<CertifiedKey>,
    ca: Vec<u8>,
}

impl Served {
    /// The CA that signed the certificate served (PEM), once there is one.
    #[must_use]
    pub fn ca_bundle(&self) -> Option<Vec<u8>> {
        self.current.read().ok()?.as_ref().map(|f| f.ca.clone())
    }

    fn install(&self, version: &str, key: Arc<CertifiedKey>, ca: Vec<u8>) {
        if let Ok(mut current) = self.current.write() {
            *current = Some(InForce {
                version: version.to_owned(),
                key,
                ca,
            });
        }
    }

    fn version(&self) -> Option<String> {
        self.current
            .read()
            .ok()?
            .as_ref()
            .map(|f| f.version.clone())
    }
}

impl rustls::server::ResolvesServerCert for Served {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // None until the Secret is read: the handshake fails, the
        // apiserver reports it, and the webhook fails closed.
        self.current.read().ok()?.as_ref().map(|f| f.key.clone())
    }
}

/// A TLS configuration serving whatever [`Served`] holds.
pub fn tls_config(served: Arc<Served>) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(served))
}

/// Whether a serving certificate expiring at `not_after` is renewed at `now`.
#[must_use]
pub fn due_for_renewal(not_after: Option<Timestamp>, now: Timestamp) -> bool {
    not_after.is_none_or(|at| now >= at - RENEW_BEFORE)
}

/// The UTC day of `t`, `years` later, as rcgen takes a date.
fn ymd(t: Timestamp, years: i16) -> (i32, u8, u8) {
    let day = t.to_zoned(TimeZone::UTC).date();
    // The 28th at the latest: every month has one, every year a February.
    (
        i32::from(day.year() + years),
        u8::try_from(day.month()).unwrap_or(1),
        u8::try_from(day.day().min(28)).unwrap_or(1),
    )
}

/// Valid from `now`'s day for `years` years.
fn validity(params: &mut rcgen::CertificateParams, now: Timestamp, years: i16) {
    let (y, m, d) = ymd(now, 0);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(now, years);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// The CA's parameters: the same for the first signing and every renewal.
fn ca_params(now: Timestamp) -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CA_NAME);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    validity(&mut params, now, 10);
    Ok(params)
}

/// What the Secret holds, PEM.
struct Pems {
    ca_cert: String,
    ca_key: String,
    cert: String,
    key: String,
    not_after: Timestamp,
}

/// A serving certificate for `setup`'s Service, signed by the CA whose key
/// is `ca_key` (a new CA when `None`).
fn make(setup: &CertSetup, ca: Option<(&str, &str)>, now: Timestamp) -> Result<Pems, CertError> {
    let (ca_cert, ca_key) = match ca {
        Some((cert, key)) => (cert.to_owned(), rcgen::KeyPair::from_pem(key)?),
        None => {
            let key = rcgen::KeyPair::generate()?;
            (ca_params(now)?.self_signed(&key)?.pem(), key)
        }
    };
    let ca_params = ca_params(now)?;
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let (service, namespace) = (&setup.service, &setup.namespace);
    let mut params = rcgen::CertificateParams::new(vec![
        service.clone(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ])?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("{service}.{namespace}.svc"),
    );
    validity(&mut params, now, 1);
    let key = rcgen::KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let not_after = Timestamp::from_second(params.not_after.unix_timestamp()).unwrap_or(now);
    Ok(Pems {
        ca_cert,
        ca_key: ca_key.serialize_pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
        not_after,
    })
}

fn secret_of(setup: &CertSetup, pems: &Pems, read: Option<&Secret>) -> Secret {
    let data = [
        ("ca.crt", &pems.ca_cert),
        ("ca.key", &pems.ca_key),
        ("tls.crt", &pems.cert),
        ("tls.key", &pems.key),
    ]
    .into_iter()
    .map(|(k, v)| {
        (
            k.to_owned(),
            k8s_openapi::ByteString(v.clone().into_bytes()),
        )
    })
    .collect();
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(setup.secret.clone()),
            namespace: Some(setup.namespace.clone()),
            // The compare-and-swap of a renewal: the version read.
            resource_version: read.and_then(|s| s.metadata.resource_version.clone()),
            labels: Some(
                [(
                    mto_model::labels::MANAGED_BY_LABEL.to_owned(),
                    mto_model::labels::MANAGED_BY_VALUE.to_owned(),
                )]
                .into(),
            ),
            annotations: Some(
                [(NOT_AFTER_ANNOTATION.to_owned(), pems.not_after.to_string())].into(),
            ),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data),
        ..Default::default()
    }
}

fn field<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret
        .data
        .as_ref()?
        .get(key)
        .and_then(|b| std::str::from_utf8(&b.0).ok())
}

fn not_after(secret: &Secret) -> Option<Timestamp> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(NOT_AFTER_ANNOTATION)?
        .parse()
        .ok()
}

/// Makes, renews and reads the webhook's certificate.
pub struct Certificates {
    api: Api<Secret>,
    setup: CertSetup,
    /// The certificate in force.
    pub served: Arc<Served>,
}

impl Certificates {
    /// The certificate of `setup`, none read yet.
    #[must_use]
    pub fn new(client: Client, setup: CertSetup) -> Certificates {
        Certificates {
            api: Api::namespaced(client, &setup.namespace),
            setup,
            served: Arc::default(),
        }
    }

    fn api_error(&self, source: kube::Error) -> CertError {
        CertError::Api {
            namespace: self.setup.namespace.clone(),
            secret: self.setup.secret.clone(),
            source,
        }
    }

    fn unusable(&self, problem: &str) -> CertError {
        CertError::Unusable {
            namespace: self.setup.namespace.clone(),
            secret: self.setup.secret.clone(),
            problem: problem.to_owned(),
        }
    }

    /// One round: the Secret made if missing, renewed if due, and what it
    /// holds served. Whether it wrote the Secret.
    pub async fn keep(&self, now: Timestamp) -> Result<bool, CertError> {
        let read = self
            .api
            .get_opt(&self.setup.secret)
            .await
            .map_err(|e| self.api_error(e))?;
        // What to serve: what this round wrote (the apiserver answers
        // with it), else what another replica wrote first, else what was read.
        let (current, wrote) = match read {
            None => {
                let pems = make(&self.setup, None, now)?;
                let made = self
                    .api
                    .create(&PostParams::default(), &secret_of(&self.setup, &pems, None))
                    .await;
                if made.is_ok() {
                    tracing::info!(secret = %self.setup.secret, not_after = %pems.not_after, "made the webhook's CA and certificate");
                }
                self.written_or_theirs(made).await?
            }
            Some(secret) if due_for_renewal(not_after(&secret), now) => {
                let (Some(ca_cert), Some(ca_key)) =
                    (field(&secret, "ca.crt"), field(&secret, "ca.key"))
                else {
                    return Err(self.unusable("it holds no ca.crt and ca.key to renew with"));
                };
                let pems = make(&self.setup, Some((ca_cert, ca_key)), now)?;
                let renewed = self
                    .api
                    .replace(
                        &self.setup.secret,
                        &PostParams::default(),
                        &secret_of(&self.setup, &pems, Some(&secret)),
                    )
                    .await;
                if renewed.is_ok() {
                    tracing::info!(secret = %self.setup.secret, not_after = %pems.not_after, "renewed the webhook's certificate");
                }
                self.written_or_theirs(renewed).await?
            }
            Some(secret) => (secret, false),
        };
        self.serve(&current)?;
        Ok(wrote)
    }

    /// The Secret a write returned, or, when another replica wrote first
    /// (409), theirs as it is now; and whether this replica wrote.
    async fn written_or_theirs(
        &self,
        written: Result<Secret, kube::Error>,
    ) -> Result<(Secret, bool), CertError> {
        match written {
            Ok(secret) => Ok((secret, true)),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let theirs = self
                    .api
                    .get(&self.setup.secret)
                    .await
                    .map_err(|e| self.api_error(e))?;
                Ok((theirs, false))
            }
            Err(e) => Err(self.api_error(e)),
        }
    }

    fn serve(&self, secret: &Secret) -> Result<(), CertError> {
        let version = secret.metadata.resource_version.clone().unwrap_or_default();
        if self.served.version().as_deref() == Some(version.as_str()) {
            return Ok(());
        }
        let (Some(cert), Some(key), Some(ca)) = (
            field(secret, "tls.crt"),
            field(secret, "tls.key"),
            field(secret, "ca.crt"),
        ) else {
            return Err(self.unusable("it lacks tls.crt, tls.key or ca.crt"));
        };
        let certified = super::webhook::certified_key(cert.as_bytes(), key.as_bytes())
            .map_err(|e| self.unusable(&e))?;
        self.served
            .install(&version, Arc::new(certified), ca.as_bytes().to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_certificate_is_renewed_a_month_before_it_expires() {
        let expires = now() + SignedDuration::from_hours(365 * 24);
        assert!(!due_for_renewal(Some(expires), now()));
        assert!(!due_for_renewal(
            Some(expires),
            expires - SignedDuration::from_hours(31 * 24)
        ));
        assert!(due_for_renewal(
            Some(expires),
            expires - SignedDuration::from_hours(29 * 24)
        ));
        assert!(due_for_renewal(None, now()), "unknown: renew");
    }

    #[test]
    fn a_renewed_certificate_is_signed_by_the_same_ca_and_names_the_service() {
        let setup = CertSetup {
            namespace: "mto-system".into(),
            secret: "mto-webhook-tls".into(),
            service: "mto-webhook".into(),
        };
        let first = make(&setup, None, now()).unwrap_or_else(|e| panic!("{e}"));
        let later = now() + SignedDuration::from_hours(340 * 24);
        let renewed = make(&setup, Some((&first.ca_cert, &first.ca_key)), later)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(renewed.ca_cert, first.ca_cert);
        assert!(renewed.not_after > first.not_after);
        // rustls, as the apiserver would, verifies the renewed certificate
        // for the Service's name against the first CA.
        use rustls::pki_types::pem::PemObject as _;
        let ca = rustls::pki_types::CertificateDer::from_pem_slice(first.ca_cert.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap_or_else(|e| panic!("{e}"));
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
        let leaf = rustls::pki_types::CertificateDer::from_pem_slice(renewed.cert.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let name = rustls::pki_types::ServerName::try_from("mto-webhook.mto-system.svc")
            .unwrap_or_else(|e| panic!("{e}"));
        let at = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(later.as_second()).unwrap_or(0) + 86_400,
        ));
        use rustls::client::danger::ServerCertVerifier as _;
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], at)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
