//! Labels, annotations and names mto writes. One place, so the runtime, the
//! simulator and the webhook agree on them.

/// The tenant a namespace (or an object mto manages) belongs to.
pub const TENANT_LABEL: &str = "stakater.com/tenant";
/// What kind of tenant namespace this is: the name given in the tenant
/// (`dev`, `build`) or `sandbox`.
pub const KIND_LABEL: &str = "stakater.com/kind";
/// Marks every object mto manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "mto";
/// Set on a namespace that existed before its tenant claimed it; such a
/// namespace is released, never deleted, when the tenant goes.
pub const ADOPTED_ANNOTATION: &str = "tenantoperator.stakater.com/adopted";
/// Sandbox owner, kept on sandbox namespaces so they can be traced to a user.
pub const SANDBOX_USER_ANNOTATION: &str = "tenantoperator.stakater.com/sandbox-user";
/// Finalizer mto puts on tenants so their namespaces are released or purged first.
pub const TENANT_FINALIZER: &str = "tenantoperator.stakater.com/tenant";
/// The one field manager of every server-side apply mto issues.
pub const FIELD_MANAGER: &str = "mto";
/// Name of the ResourceQuota mto keeps in each tenant namespace.
pub const RESOURCE_QUOTA_NAME: &str = "tenant-quota";
/// Name of the LimitRange mto keeps in each tenant namespace.
pub const LIMIT_RANGE_NAME: &str = "tenant-limit-range";
/// Name of the NetworkPolicy mto keeps in each tenant namespace when
/// tenants are kept apart.
pub const NETWORK_POLICY_NAME: &str = "tenant-network-isolation";
/// Workloads, and namespaces, carrying this annotation with value `"true"` never sleep.
pub const HIBERNATION_EXCLUDE_ANNOTATION: &str = "hibernation.stakater.com/exclude";
/// The label every namespace gets from Kubernetes itself.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Set on a namespace a tenant let go, naming that tenant.
pub const RELEASED_FROM_ANNOTATION: &str = "tenantoperator.stakater.com/released-from";
/// On a sleeping workload: the replica count it gets back when it wakes,
/// written in the same write that scales it to zero.
pub const SAVED_REPLICAS_ANNOTATION: &str = "hibernation.stakater.com/replicas";
/// On a sleeping workload: the supervisor that put it to sleep
/// (`ResourceSupervisor/<namespace>/<name>` or `ClusterResourceSupervisor/<name>`).
pub const SLEPT_BY_ANNOTATION: &str = "hibernation.stakater.com/slept-by";
/// On a supervisor: `wake` or `sleep` now, until the next scheduled transition.
pub const OVERRIDE_ANNOTATION: &str = "hibernation.stakater.com/override";
/// Finalizer mto puts on supervisors so their workloads wake before they go.
pub const SUPERVISOR_FINALIZER: &str = "hibernation.stakater.com/supervisor";
/// On a tenant's Argo CD AppProject: the Extensions object it is kept for.
pub const EXTENSIONS_ANNOTATION: &str = "tenantoperator.stakater.com/extensions";
/// Finalizer mto puts on Extensions objects so their AppProject is purged
/// (when asked) before they go.
pub const EXTENSIONS_FINALIZER: &str = "tenantoperator.stakater.com/extensions";
/// On what the operator deploys of its own (the console): which component.
pub const COMPONENT_LABEL: &str = "tenantoperator.stakater.com/component";
/// On what the operator deploys of its own: the digest of what it wrote.
pub const COMPONENT_DIGEST_ANNOTATION: &str = "tenantoperator.stakater.com/component-digest";

use crate::view::MetaRef;

/// Whether an object carries mto's managed-by label.
#[must_use]
pub fn is_managed<'a>(meta: impl Into<MetaRef<'a>>) -> bool {
    meta.into()
        .labels()
        .is_some_and(|l| l.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE))
}

/// Whether an object was put there by mto for `tenant`.
#[must_use]
pub fn is_managed_for<'a>(meta: impl Into<MetaRef<'a>>, tenant: &str) -> bool {
    meta.into().labels().is_some_and(|l| {
        l.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && l.get(TENANT_LABEL).map(String::as_str) == Some(tenant)
    })
}

/// The tenant an object is labelled for.
#[must_use]
pub fn tenant_of<'a>(meta: impl Into<MetaRef<'a>>) -> Option<&'a str> {
    meta.into().labels()?.get(TENANT_LABEL).map(String::as_str)
}

/// On every object a template instance deployed: the instance, by its key
/// (`TemplateInstance/<namespace>/<name>`, `ClusterTemplateInstance/<name>`
/// or `TemplateGroupInstance/<name>`). An object without it, or naming
/// another instance, is never written by that instance.
pub const TEMPLATE_INSTANCE_ANNOTATION: &str = "tenantoperator.stakater.com/template-instance";
/// On every object a template instance deployed: the digest of its
/// rendered form, so a Template edit re-applies only what it changed.
pub const TEMPLATE_DIGEST_ANNOTATION: &str = "tenantoperator.stakater.com/template-digest";
/// On a deployed object: a synced instance leaves the object's edits alone
/// (MTO's label; any value).
pub const IGNORE_RESOURCE_UPDATES_LABEL: &str = "multi-tenant-operator/ignore-resource-updates";
/// Finalizer mto puts on template instances so what they deployed goes first.
pub const TEMPLATE_INSTANCE_FINALIZER: &str = "tenantoperator.stakater.com/template-instance";

/// mto's finalizer on a Template its instances use: its deletion waits
/// until none does.
pub const TEMPLATE_IN_USE_FINALIZER: &str = "tenantoperator.stakater.com/template-in-use";

/// The template instance key an object names as the one that deployed it.
#[must_use]
pub fn deployed_by<'a>(meta: impl Into<MetaRef<'a>>) -> Option<&'a str> {
    meta.into()
        .annotations()?
        .get(TEMPLATE_INSTANCE_ANNOTATION)
        .map(String::as_str)
}

/// The component of mto's own an object is part of (`console`), if mto
/// deployed it.
#[must_use]
pub fn component_of<'a>(meta: impl Into<MetaRef<'a>>) -> Option<&'a str> {
    let meta = meta.into();
    if !is_managed(meta) {
        return None;
    }
    meta.labels()?.get(COMPONENT_LABEL).map(String::as_str)
}
