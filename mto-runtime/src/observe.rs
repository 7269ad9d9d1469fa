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
        s.put_quota(q);
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
    s.set_integration(
        Integration::compile(configs.first())
            .map_err(|e| ObserveError::IntegrationConfig(e.to_string()))?,
    );
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
    s.replace_all(list::<RoleBinding>(client).await?);
    s.replace_all(list::<ResourceQuota>(client).await?);
    s.replace_all(list::<LimitRange>(client).await?);
    Ok(s)
}

/// Every object of a namespaced kind.
async fn list<K>(client: &Client) -> Result<Vec<K>, ObserveError>
where
    K: k8s_openapi::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
    <K as kube::Resource>::DynamicType: Default,
{
    let kind = K::KIND;
    Ok(Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|source| ObserveError::List { kind, source })?
        .items)
}
