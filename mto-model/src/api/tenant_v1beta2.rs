//! The `v1beta2` Tenant, served beside `v1beta3` so that manifests in Git
//! keep applying: the apiserver converts between the two through mto's
//! conversion webhook ([`crate::migrate::convert_tenant`]).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Metadata, Sandboxes, SpecificMetadata, Subjects, TenantHibernation, TenantStatus,
    TenantTemplateInstance,
};

/// A tenant as `tenantoperator.stakater.com/v1beta2` wrote it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tenantoperator.stakater.com",
    version = "v1beta2",
    kind = "Tenant",
    root = "TenantV1beta2",
    doc = "A tenant as v1beta2 wrote it; stored as v1beta3.",
    status = "TenantStatus",
    shortname = "tenant",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct TenantV1beta2Spec {
    /// Full control of the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Subjects>,
    /// Read and write workloads and configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editors: Option<Subjects>,
    /// Read-only access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewers: Option<Subjects>,
    /// Name of the `Quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
    /// Sandbox namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_config: Option<Sandboxes>,
    /// What happens when the tenant is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<OnDelete>,
    /// Argo CD settings; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub argocd: Option<serde_json::Value>,
    /// Sleep and wake schedules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hibernation: Option<TenantHibernation>,
    /// The tenant's namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<NamespacesV1beta2>,
    /// Labels and annotations for every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<Metadata>,
    /// Labels and annotations for sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_metadata: Option<Metadata>,
    /// Labels and annotations for named namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specific_metadata: Vec<SpecificMetadata>,
    /// Templates instantiated into the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_instances: Vec<TenantTemplateInstance>,
}

/// What happens when a v1beta2 tenant is deleted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnDelete {
    /// Delete the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_namespaces: Option<bool>,
    /// Delete the tenant's Argo CD AppProject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_app_project: Option<bool>,
}

/// The namespaces of a v1beta2 tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacesV1beta2 {
    /// Names created as `<tenant>-<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with_tenant_prefix: Vec<String>,
    /// Names created as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_tenant_prefix: Vec<String>,
}
