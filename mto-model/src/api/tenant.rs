use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A tenant: a team with its namespaces, access control and quota.
///
/// Cluster-scoped, `tenantoperator.stakater.com/v1beta3`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tenantoperator.stakater.com",
    version = "v1beta3",
    kind = "Tenant",
    doc = "A tenant: a team with its namespaces, access control and quota.",
    status = "TenantStatus",
    shortname = "tenant",
    category = "mto",
    derive = "PartialEq",
    derive = "Default",
    printcolumn = r#"{"name":"Quota","type":"string","jsonPath":".spec.quota"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// Name of the `Quota` whose limits apply to the tenant as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<String>,
    /// Who may do what in the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control: Option<AccessControl>,
    /// The namespaces the tenant owns and how they are labelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Namespaces>,
    /// A free-text description of the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// Storage classes the tenant may use. Absent: the check is off; empty: all allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_classes: Option<AllowList>,
    /// Ingress classes the tenant may use. Absent: the check is off; empty: all allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_classes: Option<AllowList>,
    /// Pod priority classes the tenant may use. Absent: the check is off; empty: all allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_priority_classes: Option<AllowList>,
    /// Service accounts the tenant may not bind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts: Option<ServiceAccounts>,
    /// Image registries the tenant's pods may pull from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registries: Option<ImageRegistries>,
    /// Which ingress hosts the tenant may claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_validation_config: Option<HostValidationConfig>,
    /// Sleep schedule of the tenant's workloads. Kept so existing manifests
    /// load; new configurations use a `ClusterResourceSupervisor` selecting
    /// `stakater.com/tenant: <name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hibernation: Option<TenantHibernation>,
    /// Templates instantiated into the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub template_instances: Vec<TenantTemplateInstance>,
}

/// Owners, editors and viewers of a tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessControl {
    /// Full control of the tenant's namespaces, including RBAC inside them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Subjects>,
    /// Read and write workloads and configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editors: Option<Subjects>,
    /// Read-only access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewers: Option<Subjects>,
}

/// Users and groups holding one tenant role.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subjects {
    /// User names as the cluster's authenticator reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Group names as the cluster's authenticator reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The namespaces of a tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Namespaces {
    /// Names created as `<tenant>-<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with_tenant_prefix: Vec<String>,
    /// Names created as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_tenant_prefix: Vec<String>,
    /// One sandbox namespace per owner and editor user: `<tenant>-<user>-sandbox`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandboxes: Option<Sandboxes>,
    /// Delete the tenant's namespaces when the tenant is deleted. Off by
    /// default: namespaces are released (unlabelled) and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete_purge_namespaces: Option<bool>,
    /// Labels and annotations for the tenant's namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<NamespaceMetadata>,
}

/// Sandbox namespaces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sandboxes {
    /// Create a sandbox for every owner and editor user.
    #[serde(default)]
    pub enabled: bool,
    /// Only the sandbox's user gets access to it.
    #[serde(default)]
    pub private: bool,
}

/// Labels and annotations applied to the tenant's namespaces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceMetadata {
    /// For every namespace of the tenant except sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common: Option<Metadata>,
    /// For sandboxes; values may use `{{ TENANT.USERNAME }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Metadata>,
    /// For named namespaces; wins over `common` and `sandbox`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specific: Vec<SpecificMetadata>,
}

/// Labels and annotations.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Labels to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Labels and annotations for specific namespaces (full names).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecificMetadata {
    /// Full namespace names (with the tenant prefix where it applies).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Labels to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An allow list of class names. Absent on the tenant: the check is off.
/// Present and empty: everything is allowed. Otherwise: only these.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowList {
    /// Allowed names.
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// Service accounts a tenant may not use in role bindings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccounts {
    /// Denied service account names.
    #[serde(default)]
    pub denied: Vec<String>,
}

/// Image registries a tenant's pods may pull from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistries {
    /// Allowed registry hosts (with optional path prefix).
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// Which ingress hosts a tenant may use.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostValidationConfig {
    /// Exact host names allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// A regular expression hosts may match instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_regex: Option<String>,
    /// Refuse wildcard hosts (`*.example.com`).
    #[serde(default)]
    pub deny_wildcards: bool,
}

/// Sleep and wake schedules of a tenant (standard 5-field cron, UTC).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantHibernation {
    /// When the tenant's workloads go to sleep.
    #[serde(default)]
    pub sleep_schedule: String,
    /// When they wake up.
    #[serde(default)]
    pub wake_schedule: String,
}

/// A template to instantiate into the tenant's namespaces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantTemplateInstance {
    /// The template and how to keep it in sync.
    pub spec: super::TemplateInstanceSpec,
    /// Which of the tenant's namespaces receive it; absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
}

/// What mto last observed and did for a tenant.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// The tenant's lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `SpecValid`, `QuotaResolved`, `NamespacesClaimed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Namespaces that exist and carry the tenant's label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}
