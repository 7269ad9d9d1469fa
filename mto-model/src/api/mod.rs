//! The custom resources mto serves.
//!
//! The types accept the manifests of the Multi-Tenant Operator (API groups
//! `tenantoperator.stakater.com`, `templates.stakater.com` and
//! `hibernation.stakater.com`) so a team moving over keeps its YAML. Field
//! names, versions and scopes follow those manifests; anything mto adds is
//! optional.

mod extensions;
mod hibernation;
mod integration_config;
mod quota;
mod schema;
mod template;
mod tenant;

pub use extensions::{Extensions, ExtensionsSpec, ExtensionsStatus};
pub use hibernation::{
    ArgoCdProjects, ClusterResourceSupervisor, ClusterResourceSupervisorSpec, ManualOverride,
    NamespaceSelection, ResourceSupervisor, ResourceSupervisorSpec, ResourceSupervisorStatus,
    SleepSchedule, SupervisedApplication,
};
pub use integration_config::{
    CustomTenantRoles, DenyPolicy, IntegrationAccessControl, IntegrationConfig,
    IntegrationConfigSpec, IntegrationMetadata, NamespaceAccessPolicy, NetworkTenantPolicies,
    Privileged, Rbac, RoleClusterRoles, SubjectList, TenantPolicies, TenantRoleSet, TenantRoles,
};
pub use quota::{Quota, QuotaSpec, QuotaStatus};
pub use template::{
    ClusterTemplateInstance, ClusterTemplateInstanceSpec, EmptySpec, Template,
    TemplateGroupInstance, TemplateGroupInstanceSpec, TemplateInstance, TemplateInstanceSpec,
    TemplateInstanceStatus, TemplateParameter, TemplateResources, TemplateSpec,
};
pub use tenant::{
    AccessControl, AllowList, HostValidationConfig, ImageRegistries, Metadata, NamespaceMetadata,
    Namespaces, Sandboxes, ServiceAccounts, SpecificMetadata, Subjects, Tenant, TenantHibernation,
    TenantSpec, TenantStatus, TenantTemplateInstance,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// The API group of tenants, quotas and the integration config.
pub const TENANT_GROUP: &str = "tenantoperator.stakater.com";
/// The API group of templates and their instances.
pub const TEMPLATE_GROUP: &str = "templates.stakater.com";
/// The API group of resource supervisors (hibernation).
pub const HIBERNATION_GROUP: &str = "hibernation.stakater.com";

/// Every CustomResourceDefinition mto serves, in a stable order.
#[must_use]
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![
        Tenant::crd(),
        Quota::crd(),
        IntegrationConfig::crd(),
        Template::crd(),
        TemplateInstance::crd(),
        ClusterTemplateInstance::crd(),
        TemplateGroupInstance::crd(),
        ResourceSupervisor::crd(),
        ClusterResourceSupervisor::crd(),
        Extensions::crd(),
    ]
}

/// Status conditions shared by every kind; a thin alias so status types read
/// the same everywhere.
pub type Conditions = Vec<Condition>;
