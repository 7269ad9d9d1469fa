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
    /// The tenant's total; mto divides it over the tenant's namespaces so the
    /// namespaces' quotas sum to exactly it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resourcequota: Option<ResourceQuotaSpec>,
    /// Copied as a LimitRange into every namespace of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limitrange: Option<LimitRangeSpec>,
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
