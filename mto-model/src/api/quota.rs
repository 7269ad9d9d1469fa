use std::sync::Arc;

use k8s_openapi::api::core::v1::{LimitRangeSpec, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
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
    status = "QuotaStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct QuotaSpec {
    /// The tenant's total, across all its namespaces (see `sharing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resourcequota: Option<Arc<ResourceQuotaSpec>>,
    /// How the tenant's namespaces share the total: `Pooled` (the default)
    /// lets them use any mix while the tenant's sum stays within it, held
    /// exactly by mto's admission webhook; `EvenSplit` gives every
    /// namespace a fixed equal share, summing to exactly the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
    /// Copied as a LimitRange into every namespace of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limitrange: Option<Arc<LimitRangeSpec>>,
}

/// How a tenant's namespaces share its Quota.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Sharing {
    /// Any mix across the namespaces; the tenant's total is held at
    /// admission. Every namespace's ResourceQuota carries the whole total.
    #[default]
    Pooled,
    /// Fixed equal shares per namespace, summing to the total.
    EvenSplit,
}

/// Status of a quota: a status subresource, so an object exported with its
/// status applies again (the apiserver ignores status on create and update).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
