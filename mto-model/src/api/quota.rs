use k8s_openapi::api::core::v1::{LimitRangeSpec, ResourceQuotaSpec};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The resource budget of a tenant, shared by all its namespaces, and the
/// default limits for their containers.
///
/// Cluster-scoped, `tenantoperator.stakater.com/v1beta1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tenantoperator.stakater.com",
    version = "v1beta1",
    kind = "Quota",
    doc = "The resource budget of a tenant and the default limits of its containers.",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct QuotaSpec {
    /// The tenant's total; mto divides it over the tenant's namespaces so the
    /// namespaces' quotas never sum above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resourcequota: Option<ResourceQuotaSpec>,
    /// Copied as a LimitRange into every namespace of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limitrange: Option<LimitRangeSpec>,
}
