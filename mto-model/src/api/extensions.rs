use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Integrations of a tenant with the tools around the cluster: its Argo
/// CD AppProject (and Vault settings, kept as written).
///
/// Cluster-scoped, `tenantoperator.stakater.com/v1alpha1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tenantoperator.stakater.com",
    version = "v1alpha1",
    kind = "Extensions",
    doc = "Integrations of a tenant with external systems: its Argo CD AppProject.",
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
    /// The tenant's Argo CD AppProject.
    #[serde(default, rename = "argoCD", skip_serializing_if = "Option::is_none")]
    pub argo_cd: Option<ArgoCdExtension>,
    /// Vault settings; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub vault: Option<serde_json::Value>,
}

/// The tenant's Argo CD AppProject.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdExtension {
    /// Delete the AppProject when this Extensions object is deleted
    /// (otherwise it is left in place).
    #[serde(default)]
    pub on_delete_purge_app_project: bool,
    /// What the AppProject allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_project: Option<AppProjectConfig>,
}

/// What a tenant's AppProject allows.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectConfig {
    /// Repositories applications may be deployed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_repos: Vec<String>,
    /// Cluster-scoped kinds the tenant's applications may manage
    /// (instead of the IntegrationConfig's, when given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Namespaced kinds the tenant's applications may not manage (instead
    /// of the IntegrationConfig's, when given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
}

/// An API group and kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct GroupKind {
    /// The group (`""` for the core group, `*` for any).
    #[serde(default)]
    pub group: String,
    /// The kind (`*` for any).
    #[serde(default)]
    pub kind: String,
}

/// Status of an `Extensions` object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionsStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation last decided on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The tenant's AppProject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argocd: Option<ArgoCdStatus>,
}

/// Where a tenant's AppProject stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArgoCdStatus {
    /// `Pending`, `Synced`, `Failed` or `Removing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_project_state: Option<String>,
    /// The namespace the AppProject is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argo_namespace: Option<String>,
    /// `AppProjectReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
