use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Metadata;

/// Cluster-wide settings of mto: tenant roles, privileged namespaces and
/// users, and metadata for every tenant namespace.
///
/// Namespaced (in the operator's namespace), `tenantoperator.stakater.com/v1beta1`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "tenantoperator.stakater.com",
    version = "v1beta1",
    kind = "IntegrationConfig",
    doc = "Cluster-wide settings of mto: tenant roles, privileged namespaces and subjects, namespace metadata.",
    namespaced,
    status = "IntegrationConfigStatus",
    category = "mto",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationConfigSpec {
    /// Tenant roles and privileged subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control: Option<IntegrationAccessControl>,
    /// Metadata applied to tenant groups, namespaces and sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<IntegrationMetadata>,
    /// Optional components (console, showback, ingress); kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub components: Option<serde_json::Value>,
    /// Integrations with other systems (Argo CD, Vault, Keycloak); kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::free_form_object")]
    pub integrations: Option<serde_json::Value>,
    /// Policies every tenant gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_policies: Option<TenantPolicies>,
}

/// What mto reports about the IntegrationConfig: the components it
/// deploys of its own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationConfigStatus {
    /// The generation last decided on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `ConsoleReady`, `VaultReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    /// The console, when asked for or still being removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<ConsoleStatus>,
    /// mto's objects in Vault, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultStatus>,
}

impl IntegrationConfigStatus {
    /// Clears what is left once neither the console nor Vault has a part
    /// in it: a status with no part says nothing at all.
    pub fn clear_if_unused(&mut self) {
        if self.console.is_none() && self.vault.is_none() && self.conditions.is_empty() {
            *self = IntegrationConfigStatus::default();
        }
    }
}

/// Where mto's objects in Vault stand.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultStatus {
    /// `Synced`, `Unreachable` or `Misconfigured`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The mounts of tenants gone that mto keeps, with their secrets (the
    /// tenant was not deleted with `onDeletePurgeNamespaces`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_mounts: Vec<String>,
}

/// Where the console mto deploys stands.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleStatus {
    /// `Off`, `Deploying`, `Running`, `Misconfigured` or `Removing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Where people reach it, when an ingress host is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Policies every tenant gets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantPolicies {
    /// Network policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkTenantPolicies>,
}

/// Network policies every tenant gets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkTenantPolicies {
    /// Refuse traffic into a tenant's namespaces from other tenants'
    /// namespaces: mto keeps a NetworkPolicy in each (DNS and traffic from
    /// namespaces of no tenant still pass).
    #[serde(default)]
    pub disable_intra_tenant_networking: bool,
    /// Refuse NodePort (and node-port-allocating LoadBalancer) Services to
    /// tenant members at admission.
    #[serde(default)]
    pub disable_node_port_services: bool,
    /// Refuse host ports and the host's network to tenant members' pods
    /// at admission.
    #[serde(default)]
    pub disable_host_ports: bool,
}

/// Access control settings of the integration config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationAccessControl {
    /// Which cluster roles each tenant role binds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<Rbac>,
    /// Namespaces, service accounts, users and groups mto leaves alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<Privileged>,
    /// Who is denied access to privileged namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_access_policy: Option<NamespaceAccessPolicy>,
}

/// RBAC settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rbac {
    /// Cluster roles bound for owners, editors and viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_roles: Option<TenantRoles>,
}

/// The cluster roles of the tenant roles, by default and per namespace label.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantRoles {
    /// Used where no custom entry matches. Absent: owner→admin, editor→edit, viewer→view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<TenantRoleSet>,
    /// The first entry whose label selector matches a namespace wins there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom: Vec<CustomTenantRoles>,
}

/// Cluster roles for each tenant role.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantRoleSet {
    /// Cluster roles bound for owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RoleClusterRoles>,
    /// Cluster roles bound for editors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editor: Option<RoleClusterRoles>,
    /// Cluster roles bound for viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<RoleClusterRoles>,
}

/// A list of cluster role names.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleClusterRoles {
    /// Cluster role names.
    #[serde(default)]
    pub cluster_roles: Vec<String>,
}

/// Tenant roles for namespaces matching a label selector.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomTenantRoles {
    /// Which namespaces this entry applies to.
    #[serde(default)]
    pub label_selector: LabelSelector,
    /// Cluster roles bound for owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RoleClusterRoles>,
    /// Cluster roles bound for editors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editor: Option<RoleClusterRoles>,
    /// Cluster roles bound for viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<RoleClusterRoles>,
}

/// Subjects and namespaces mto leaves alone, as regular expressions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Privileged {
    /// Namespaces no tenant may claim and mto never touches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Service accounts (`system:serviceaccount:<ns>:<name>`) the webhook lets through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<String>,
    /// Users the webhook lets through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Groups the webhook lets through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Access policy for privileged namespaces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceAccessPolicy {
    /// Who is denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<DenyPolicy>,
}

/// Subjects denied access to privileged namespaces.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DenyPolicy {
    /// Denied subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged_namespaces: Option<SubjectList>,
}

/// Users and groups.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectList {
    /// User names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Metadata applied cluster-wide; a tenant's own metadata wins over these.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationMetadata {
    /// For tenant groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Metadata>,
    /// For every tenant namespace except sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Metadata>,
    /// For sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandboxes: Option<Metadata>,
}
