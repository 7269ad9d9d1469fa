//! A one-shot observation of a real cluster: everything the tenant
//! controller reads, listed into the model's [`Snapshot`].

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Client;
use kube::api::{Api, ListParams};
use mto_model::api::{IntegrationConfig, Quota, Tenant};
use mto_model::integration::Integration;
use mto_model::snapshot::Snapshot;

/// Why the cluster could not be observed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A list call failed.
    #[error("listing {kind}: {source}")]
    List {
        /// The kind.
        kind: &'static str,
        /// The client error.
        source: kube::Error,
    },
    /// More than one IntegrationConfig, or an invalid one.
    #[error("IntegrationConfig: {0}")]
    IntegrationConfig(String),
}

/// Lists the cluster into a snapshot.
pub async fn observe(client: &Client) -> Result<Snapshot, ObserveError> {
    let lp = ListParams::default();
    let list_err = |kind| move |source| ObserveError::List { kind, source };
    let mut s = Snapshot::default();
    for q in Api::<Quota>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("Quota"))?
    {
        s.quotas
            .insert(q.metadata.name.clone().unwrap_or_default(), q);
    }
    let configs = Api::<IntegrationConfig>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("IntegrationConfig"))?
        .items;
    if configs.len() > 1 {
        return Err(ObserveError::IntegrationConfig(format!(
            "{} found; mto uses exactly one",
            configs.len()
        )));
    }
    s.integration = Integration::compile(configs.first())
        .map_err(|e| ObserveError::IntegrationConfig(e.to_string()))?;
    for t in Api::<Tenant>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("Tenant"))?
    {
        s.put_tenant(t);
    }
    for ns in Api::<Namespace>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("Namespace"))?
    {
        s.put_namespace(ns);
    }
    for rb in Api::<RoleBinding>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("RoleBinding"))?
    {
        let (ns, name) = (
            rb.metadata.namespace.clone().unwrap_or_default(),
            rb.metadata.name.clone().unwrap_or_default(),
        );
        s.role_bindings.entry(ns).or_default().insert(name, rb);
    }
    for rq in Api::<ResourceQuota>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("ResourceQuota"))?
    {
        let (ns, name) = (
            rq.metadata.namespace.clone().unwrap_or_default(),
            rq.metadata.name.clone().unwrap_or_default(),
        );
        s.resource_quotas.entry(ns).or_default().insert(name, rq);
    }
    for lr in Api::<LimitRange>::all(client.clone())
        .list(&lp)
        .await
        .map_err(list_err("LimitRange"))?
    {
        let (ns, name) = (
            lr.metadata.namespace.clone().unwrap_or_default(),
            lr.metadata.name.clone().unwrap_or_default(),
        );
        s.limit_ranges.entry(ns).or_default().insert(name, lr);
    }
    Ok(s)
}
