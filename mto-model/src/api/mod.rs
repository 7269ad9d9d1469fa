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
mod tenant_v1beta2;

pub use extensions::{
    AppProjectConfig, ArgoCdExtension, ArgoCdStatus, Extensions, ExtensionsSpec, ExtensionsStatus,
    GroupKind,
};
pub use hibernation::{
    ArgoCdProjects, ClusterResourceSupervisor, ClusterResourceSupervisorSpec, ManualOverride,
    NamespaceSelection, ResourceSupervisor, ResourceSupervisorSpec, ResourceSupervisorStatus,
    SleepSchedule, SupervisedApplication,
};
pub use integration_config::{
    ConsoleStatus, CustomTenantRoles, DenyPolicy, IntegrationAccessControl, IntegrationConfig,
    IntegrationConfigSpec, IntegrationConfigStatus, IntegrationMetadata, NamespaceAccessPolicy,
    NetworkTenantPolicies, Privileged, Rbac, RoleClusterRoles, SubjectList, TenantPolicies,
    TenantRoleSet, TenantRoles, VaultStatus,
};
pub use quota::{Quota, QuotaSpec, QuotaStatus, Sharing};
pub use template::{
    ClusterTemplateInstance, ClusterTemplateInstanceSpec, EmptySpec, Template,
    TemplateGroupInstance, TemplateGroupInstanceSpec, TemplateInstance, TemplateInstanceSpec,
    TemplateInstanceStatus, TemplateParameter, TemplateResources, TemplateSpec, TemplateStatus,
};
pub use tenant::{
    AccessControl, AllowList, HostValidationConfig, ImageRegistries, Metadata, NamespaceMetadata,
    Namespaces, Sandboxes, ServiceAccounts, SpecificMetadata, Subjects, Tenant, TenantHibernation,
    TenantSpec, TenantStatus, TenantTemplateInstance,
};
pub use tenant_v1beta2::{NamespacesV1beta2, OnDelete, TenantV1beta2, TenantV1beta2Spec};

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
        tenant_crd(),
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

/// Where the apiserver sends Tenants to convert between versions: the
/// operator's webhook Service (`deploy/operator/webhook.yaml`).
pub const CONVERSION_SERVICE: (&str, &str, &str) = ("mto-system", "mto-webhook", "/convert");

/// The Tenant CRD: `v1beta3` stored, `v1beta2` served beside it and
/// converted by mto's webhook.
fn tenant_crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceConversion, ServiceReference, WebhookClientConfig, WebhookConversion,
    };
    use kube::CustomResourceExt;
    let mut crd = Tenant::crd();
    // cert-manager puts the webhook's CA here when it makes the certificate (helm webhook.certManager); else mto writes it.
    let (namespace, name, path) = CONVERSION_SERVICE;
    crd.metadata.annotations = Some(
        [(
            "cert-manager.io/inject-ca-from".to_owned(),
            format!("{namespace}/{name}"),
        )]
        .into(),
    );
    let mut older = TenantV1beta2::crd().spec.versions;
    for v in &mut older {
        v.storage = false;
        v.additional_printer_columns = crd.spec.versions[0].additional_printer_columns.clone();
    }
    crd.spec.versions.splice(0..0, older);
    crd.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".into(),
        webhook: Some(WebhookConversion {
            client_config: Some(WebhookClientConfig {
                service: Some(ServiceReference {
                    namespace: namespace.into(),
                    name: name.into(),
                    path: Some(path.into()),
                    port: Some(443),
                }),
                ..Default::default()
            }),
            conversion_review_versions: vec!["v1".into()],
        }),
    });
    crd
}

/// Status conditions shared by every kind; a thin alias so status types read
/// the same everywhere.
pub type Conditions = Vec<Condition>;
