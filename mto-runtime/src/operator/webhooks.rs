//! The webhook configuration kept by the leader (`mto run
//! --manage-webhooks`): the ValidatingWebhookConfiguration as
//! [`crate::cli::webhooks`] renders it, with the IntegrationConfig's
//! privileged users, groups and namespaces left out of every rule (so
//! they never wait for mto) and, when mto manages its certificate, its CA
//! as the caBundle, also of the Tenant CRD's conversion webhook.
//!
//! Written only when what it would write changed: the configuration
//! carries a hash of itself, so a steady state costs reads only.

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use mto_model::integration::Integration;

use crate::cli::webhooks::{Endpoint, NAME, configuration_for};

/// The annotation holding the hash of the configuration mto wrote.
pub const HASH_ANNOTATION: &str = "tenantoperator.stakater.com/configuration-hash";

/// The Tenant CRD, whose conversion webhook shares the certificate.
const TENANT_CRD: &str = "tenants.tenantoperator.stakater.com";

/// Keeps the webhook configuration.
pub struct WebhookKeeper {
    client: Client,
    namespace: String,
    service: String,
}

impl WebhookKeeper {
    /// The keeper of mto's configuration, mto running in `namespace`
    /// behind `service`.
    #[must_use]
    pub fn new(client: Client, namespace: String, service: String) -> WebhookKeeper {
        WebhookKeeper {
            client,
            namespace,
            service,
        }
    }

    /// Writes the configuration for `integration` and `ca_bundle` if it
    /// changed, and the CA into the Tenant CRD; how many writes it made.
    pub async fn keep(
        &self,
        integration: &Integration,
        ca_bundle: Option<Vec<u8>>,
    ) -> Result<usize, kube::Error> {
        let mut writes = 0;
        let mut desired = configuration_for(
            &Endpoint::Service {
                namespace: self.namespace.clone(),
                service: self.service.clone(),
                ca_bundle: ca_bundle.clone(),
            },
            integration,
        );
        let hash = mto_model::digest::digest(&desired);
        let configurations: Api<ValidatingWebhookConfiguration> = Api::all(self.client.clone());
        let current = configurations.get_opt(NAME).await?;
        let written = current
            .as_ref()
            .and_then(|c| c.metadata.annotations.as_ref()?.get(HASH_ANNOTATION))
            .is_some_and(|h| *h == hash);
        if !written {
            desired
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(HASH_ANNOTATION.to_owned(), hash);
            configurations
                .patch(
                    NAME,
                    &PatchParams::apply(mto_model::labels::FIELD_MANAGER).force(),
                    &Patch::Apply(&desired),
                )
                .await?;
            tracing::info!(configuration = NAME, "wrote the webhook configuration");
            writes += 1;
        }
        if let Some(ca) = ca_bundle {
            let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
            let crd = crds.get_opt(TENANT_CRD).await?;
            let has = crd
                .as_ref()
                .and_then(|c| {
                    c.spec
                        .conversion
                        .as_ref()?
                        .webhook
                        .as_ref()?
                        .client_config
                        .as_ref()?
                        .ca_bundle
                        .as_ref()
                })
                .is_some_and(|b| b.0 == ca);
            if crd.is_some() && !has {
                let patch = serde_json::json!({"spec": {"conversion": {"webhook": {"clientConfig": {
                    "caBundle": k8s_openapi::ByteString(ca)
                }}}}});
                crds.patch(TENANT_CRD, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                tracing::info!(crd = TENANT_CRD, "wrote the CA into the conversion webhook");
                writes += 1;
            }
        }
        Ok(writes)
    }
}
