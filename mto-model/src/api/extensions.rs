use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Integrations of a tenant with external systems (Argo CD projects, Vault).
/// Accepted and stored so existing manifests load; mto does not act on them yet.
///
/// Cluster-scoped, `tenantoperator.stakater.com/v1alpha1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tenantoperator.stakater.com",
    version = "v1alpha1",
    kind = "Extensions",
    doc = "Integrations of tenants with external systems, kept as written.",
    plural = "extensions",
    status = "ExtensionsStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionsSpec {
    /// The tenant these integrations are for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
    /// Argo CD settings; kept as written.
    #[serde(default, rename = "argoCD", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub argo_cd: Option<serde_json::Value>,
    /// Vault settings; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub vault: Option<serde_json::Value>,
}

/// Status of an `Extensions` object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionsStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
