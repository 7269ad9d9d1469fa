//! What mto's validating webhooks decide, as a pure function of a request
//! and the observed cluster: [`admit`]. The runtime's HTTPS endpoints, the
//! simulator's users and an offline command all ask it, so a refusal reads
//! the same wherever it comes from.
//!
//! Rules (named as the Multi-Tenant Operator names its webhooks):
//! - `vtenant`: a Tenant is valid (the same problems, in the same words, as
//!   `mto validate`), names a Quota that exists, and claims no namespace
//!   another tenant holds.
//! - `vquota`: a Quota in use is not deleted.
//! - `vintegrationconfig`: an IntegrationConfig is valid, and there is one.
//! - `vnamespace`: only a tenant's owners put a namespace into it; nobody
//!   moves a namespace between tenants or takes it out of one.
//! - `vrolebinding`: in a tenant's namespace, a binding grants only the
//!   tenant's own users, groups and service accounts, and nobody but mto
//!   changes or deletes the bindings mto manages.
//! - `vtenantpolicy`: what is created in a tenant's namespaces keeps to the
//!   Tenant's policies (`policies`) and the IntegrationConfig's
//!   `tenantPolicies.network` (no node ports, no host ports or network).
//!
//! Members of `system:masters` and the IntegrationConfig's privileged users,
//! groups and service accounts pass every rule.

mod policies;
pub mod pooled;
pub mod review;
mod scope;

pub use scope::{Askers, Namespaces, Resource, SCOPES, Scope, rule_of};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{IntegrationConfig, Quota, Tenant};
use crate::claims::requested_namespaces;
use crate::labels::TENANT_LABEL;
use crate::validation::Validate;
use crate::view::{Gvk, Observed};

/// What is being done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A new object.
    Create,
    /// A changed object.
    Update,
    /// An object going.
    Delete,
}

/// Who asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`system:serviceaccount:<namespace>:<name>` for a
    /// service account).
    pub username: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

/// One request, as the apiserver's AdmissionReview carries it.
#[derive(Clone, Debug, PartialEq)]
pub struct AdmissionRequest {
    /// What is being done.
    pub operation: Operation,
    /// Who asks.
    pub user: UserInfo,
    /// The object's group, version and kind.
    pub kind: Gvk,
    /// The object's name.
    pub name: String,
    /// The object's namespace, for a namespaced kind.
    pub namespace: Option<String>,
    /// The subresource written (`status`), if any.
    pub subresource: Option<String>,
    /// The object after the change (create, update).
    pub object: Option<Value>,
    /// The object before it (update, delete).
    pub old_object: Option<Value>,
}

/// A webhook rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Tenants.
    Tenant,
    /// Quotas.
    Quota,
    /// The IntegrationConfig.
    IntegrationConfig,
    /// Namespaces.
    Namespace,
    /// Role bindings in tenant namespaces.
    RoleBinding,
    /// The tenant policies, on pods, workloads, claims and ingresses.
    TenantPolicy,
    /// A tenant's pooled quota, on its namespaces' quota status updates.
    TenantQuota,
    /// Templates and their instances.
    Template,
    /// Hibernation supervisors.
    Supervisor,
}

impl Rule {
    /// The rule's name, as MTO's webhooks are named.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Rule::Tenant => "vtenant",
            Rule::Quota => "vquota",
            Rule::IntegrationConfig => "vintegrationconfig",
            Rule::Namespace => "vnamespace",
            Rule::RoleBinding => "vrolebinding",
            Rule::TenantPolicy => "vtenantpolicy",
            Rule::TenantQuota => "vtenantquota",
            Rule::Template => "vtemplate",
            Rule::Supervisor => "vresourcesupervisor",
        }
    }
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through.
    Allowed,
    /// Refuse it.
    Denied {
        /// The rule that refused.
        rule: Rule,
        /// What, who, why and the fix.
        message: String,
    },
}

impl Verdict {
    /// Whether the request may go on.
    #[must_use]
    pub fn allowed(&self) -> bool {
        matches!(self, Verdict::Allowed)
    }
}

/// Whether `request` may go on, given what the cluster holds.
pub fn admit(request: &AdmissionRequest, observed: &impl Observed) -> Verdict {
    let rule = rule_of(&request.kind.group, &request.kind.kind);
    // The quota is asked by the apiserver itself, for whoever created the
    // pod: nobody's privilege passes it.
    if rule != Some(Rule::TenantQuota) && is_privileged(&request.user, observed) {
        return Verdict::Allowed;
    }
    let result = match rule {
        Some(Rule::Tenant) => tenant(request, observed),
        Some(Rule::Quota) => quota(request, observed),
        Some(Rule::IntegrationConfig) => integration_config(request, observed),
        Some(Rule::Namespace) => namespace(request, observed),
        Some(Rule::RoleBinding) => role_binding(request, observed),
        Some(Rule::TenantPolicy) => tenant_policy(request, observed),
        Some(Rule::TenantQuota) => tenant_quota(request, observed),
        Some(Rule::Template) if request.operation == Operation::Delete => {
            template_unused(request, observed)
        }
        Some(rule @ (Rule::Template | Rule::Supervisor)) => validated(request, rule),
        // Nothing mto judges: the apiserver sends it only if configured to.
        None => Ok(()),
    };
    match result {
        Ok(()) => Verdict::Allowed,
        Err((rule, message)) => Verdict::Denied { rule, message },
    }
}

type Refusal = (Rule, String);

/// `system:masters` and the IntegrationConfig's privileged subjects.
fn is_privileged(user: &UserInfo, observed: &impl Observed) -> bool {
    let integration = observed.integration();
    user.groups.iter().any(|g| g == "system:masters")
        || integration.is_privileged_subject(&user.username)
        || user
            .groups
            .iter()
            .any(|g| integration.is_privileged_subject(g))
}

/// The request's object, read as `T`; a body that does not read is refused
/// with why.
fn read<T: DeserializeOwned>(
    request: &AdmissionRequest,
    value: Option<&Value>,
    rule: Rule,
) -> Result<Option<T>, Refusal> {
    value
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                (
                    rule,
                    format!(
                        "{}/{}: {e} (fix: correct the manifest; `mto validate` shows every problem)",
                        request.kind.kind, request.name
                    ),
                )
            })
        })
        .transpose()
}

fn who(request: &AdmissionRequest) -> &str {
    &request.user.username
}

fn tenant(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    if request.operation == Operation::Delete {
        return Ok(());
    }
    let Some(tenant) = read::<Tenant>(request, request.object.as_ref(), Rule::Tenant)? else {
        return Ok(());
    };
    let name = tenant.metadata.name.clone().unwrap_or_default();
    if let Err(e) = tenant.validate() {
        return Err((Rule::Tenant, format!("Tenant/{name}: {e}")));
    }
    if let Some(quota) = tenant.spec.quota.as_deref()
        && observed.quota(quota).is_none()
    {
        return Err((
            Rule::Tenant,
            format!(
                "Tenant/{name}: spec.quota: Quota {quota:?} does not exist (fix: create the Quota first, or name one of: {})",
                names(observed.tenants().filter_map(|t| t.spec.quota.as_deref()))
            ),
        ));
    }
    for requested in requested_namespaces(&tenant) {
        let holder = observed
            .namespace(&requested.name)
            .and_then(|ns| crate::labels::tenant_of(&ns.metadata))
            .filter(|holder| *holder != name);
        if let Some(holder) = holder {
            return Err((
                Rule::Tenant,
                format!(
                    "Tenant/{name}: namespace {:?} belongs to tenant {holder:?} (user {}; fix: choose another name, or have {holder:?} release it)",
                    requested.name,
                    who(request)
                ),
            ));
        }
    }
    Ok(())
}

/// A pooled tenant quota's status update, judged against the observed
/// quotas as if they were read fresh and nothing else were in flight:
/// right for one writer (`mto admit`, a replica's own view); the webhook
/// judges with fresh reads and the tenant's ledger ([`pooled`]).
fn tenant_quota(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    let (pool, update) = match pooled::asked(request, observed) {
        pooled::Asked::Nothing => return Ok(()),
        pooled::Asked::Unknown(why) => return Err((Rule::TenantQuota, why)),
        pooled::Asked::Judge(pool, update) => (pool, update),
    };
    let held = pooled::held(observed, &pool.tenant);
    // No ledger, so no reservation's age matters.
    match pooled::judge(
        &pool.pool(),
        &update,
        &held,
        &pooled::Ledger::default(),
        crate::Timestamp::UNIX_EPOCH,
    ) {
        pooled::Judgement::Allow(_) => Ok(()),
        pooled::Judgement::Deny(message) => Err((Rule::TenantQuota, message)),
    }
}

/// What `mto validate` refuses in the request's object, in its words:
/// the object read as a manifest, every problem named.
/// A Template that instances use is not deleted out from under them.
fn template_unused(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    if request.kind.kind != "Template" {
        return Ok(());
    }
    let users = observed.template_users(&request.name);
    if users.is_empty() {
        return Ok(());
    }
    Err((
        Rule::Template,
        format!(
            "Template/{}: used by {} (user {}; fix: delete those instances first, or point them at another Template)",
            request.name,
            users.join(", "),
            who(request)
        ),
    ))
}

fn validated(request: &AdmissionRequest, rule: Rule) -> Result<(), Refusal> {
    let Some(object) = request.object.as_ref() else {
        return Ok(());
    };
    let what = format!("{}/{}", request.kind.kind, request.name);
    // JSON is YAML: the manifest reader takes the object as written.
    let read = crate::manifest::parse(std::path::Path::new(&what), &object.to_string());
    let mut problems: Vec<String> = Vec::new();
    for document in read {
        match document {
            Ok(located) => {
                problems.extend(located.manifest.problems().iter().map(ToString::to_string))
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err((
        rule,
        format!(
            "{what}: {} (user {}; fix: correct the manifest; `mto validate` shows every problem)",
            problems.join("; "),
            who(request)
        ),
    ))
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none yet".into()
    } else {
        names.join(", ")
    }
}

fn quota(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    match request.operation {
        Operation::Delete => {
            let users: Vec<&str> = observed
                .tenants()
                .filter(|t| t.spec.quota.as_deref() == Some(request.name.as_str()))
                .filter_map(|t| t.metadata.name.as_deref())
                .collect();
            if users.is_empty() {
                return Ok(());
            }
            Err((
                Rule::Quota,
                format!(
                    "Quota/{}: used by tenants {} (user {}; fix: point those tenants at another Quota first)",
                    request.name,
                    names(users.into_iter()),
                    who(request)
                ),
            ))
        }
        Operation::Create | Operation::Update => {
            let Some(quota) = read::<Quota>(request, request.object.as_ref(), Rule::Quota)? else {
                return Ok(());
            };
            quota
                .validate()
                .map_err(|e| (Rule::Quota, format!("Quota/{}: {e}", request.name)))
        }
    }
}

fn integration_config(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    if request.operation == Operation::Delete {
        return Ok(());
    }
    let Some(config) =
        read::<IntegrationConfig>(request, request.object.as_ref(), Rule::IntegrationConfig)?
    else {
        return Ok(());
    };
    config.validate().map_err(|e| {
        (
            Rule::IntegrationConfig,
            format!("IntegrationConfig/{}: {e}", request.name),
        )
    })?;
    let others: Vec<String> = observed
        .integration_configs()
        .filter(|c| {
            (c.metadata.namespace.as_deref(), c.metadata.name.as_deref())
                != (request.namespace.as_deref(), Some(request.name.as_str()))
        })
        .map(|c| {
            format!(
                "{}/{}",
                c.metadata.namespace.as_deref().unwrap_or_default(),
                c.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err((
        Rule::IntegrationConfig,
        format!(
            "IntegrationConfig/{}: {} already configures mto, and mto decides nothing while there are two (fix: edit that one instead)",
            request.name,
            others.join(", ")
        ),
    ))
}

fn namespace(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    let label = |v: Option<&Value>| -> Option<String> {
        v.and_then(|o| o["metadata"]["labels"][TENANT_LABEL].as_str())
            .map(str::to_owned)
    };
    let before = label(request.old_object.as_ref());
    let after = label(request.object.as_ref());
    let ns = &request.name;
    let user = who(request);
    if observed.integration().is_privileged_namespace(ns) {
        return Ok(());
    }
    match request.operation {
        Operation::Create | Operation::Update => {
            if before.is_some() && before != after {
                let from = before.unwrap_or_default();
                return Err((
                    Rule::Namespace,
                    format!(
                        "Cannot {} namespace {ns}: it belongs to tenant {from:?} and only mto or a privileged user moves it or takes it out. User: {user} (fix: keep {TENANT_LABEL}: {from})",
                        operation_verb(request.operation)
                    ),
                ));
            }
            let Some(tenant) = after else {
                if request.operation == Operation::Update {
                    // Outside every tenant before and after: not mto's.
                    return Ok(());
                }
                // MTO's message, word for word.
                return Err((
                    Rule::Namespace,
                    format!(
                        "Cannot {} namespace {ns} without label {TENANT_LABEL}. User: {user}",
                        operation_verb(request.operation)
                    ),
                ));
            };
            if before.is_none() && !owns(observed, &tenant, &request.user) {
                return Err((
                    Rule::Namespace,
                    format!(
                        "Cannot {} namespace {ns} with label {TENANT_LABEL}: {tenant}: only the tenant's owners may add namespaces to it. User: {user} (fix: ask an owner of {tenant:?}, or label it with a tenant you own)",
                        operation_verb(request.operation)
                    ),
                ));
            }
            Ok(())
        }
        Operation::Delete => match before {
            Some(tenant) if !owns(observed, &tenant, &request.user) => Err((
                Rule::Namespace,
                format!(
                    "Cannot DELETE namespace {ns}: only the owners of tenant {tenant:?} delete its namespaces. User: {user}"
                ),
            )),
            _ => Ok(()),
        },
    }
}

fn role_binding(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    use crate::view::RoleBinding;
    let namespace = request.namespace.as_deref().unwrap_or_default();
    if observed.integration().is_privileged_namespace(namespace) {
        return Ok(());
    }
    let Some(tenant_name) = observed
        .namespace(namespace)
        .and_then(|ns| crate::labels::tenant_of(&ns.metadata))
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let user = who(request);
    let binding = format!("RoleBinding {namespace}/{}", request.name);
    let old = read::<RoleBinding>(request, request.old_object.as_ref(), Rule::RoleBinding)?;
    let new = read::<RoleBinding>(request, request.object.as_ref(), Rule::RoleBinding)?;
    let managed = |b: &Option<RoleBinding>| {
        b.as_ref()
            .is_some_and(|b| crate::labels::is_managed(&b.metadata))
    };
    if managed(&old) || managed(&new) {
        return Err((
            Rule::RoleBinding,
            format!(
                "Cannot {} {binding}: mto manages it for tenant {tenant_name:?} and would undo the change. User: {user} (fix: change the Tenant's accessControl, or the IntegrationConfig's tenant roles)",
                operation_verb(request.operation)
            ),
        ));
    }
    let Some(new) = new else {
        return Ok(());
    };
    let tenant = observed.tenant(&tenant_name);
    let members: Vec<&crate::api::Subjects> = tenant
        .and_then(|t| t.spec.access_control.as_ref())
        .map(|a| {
            [&a.owners, &a.editors, &a.viewers]
                .into_iter()
                .flatten()
                .collect()
        })
        .unwrap_or_default();
    let in_tenant = |ns: &str| observed.tenant_namespaces(&tenant_name).any(|n| n == ns);
    for subject in new.subjects.as_deref().into_iter().flatten() {
        let allowed = match subject.kind.as_str() {
            "User" => {
                members.iter().any(|m| m.users.contains(&subject.name))
                    || subject
                        .name
                        .strip_prefix("system:serviceaccount:")
                        .and_then(|rest| rest.split_once(':'))
                        .is_some_and(|(ns, _)| in_tenant(ns))
            }
            "Group" => members.iter().any(|m| m.groups.contains(&subject.name)),
            "ServiceAccount" => in_tenant(subject.namespace.as_deref().unwrap_or(namespace)),
            _ => false,
        };
        if !allowed {
            return Err((
                Rule::RoleBinding,
                format!(
                    "Cannot {} {binding}: {} {:?} is not a member of tenant {tenant_name:?}. User: {user} (fix: bind the tenant's own users, groups or service accounts, or add the {} to the Tenant's accessControl)",
                    operation_verb(request.operation),
                    subject.kind,
                    subject.name,
                    subject.kind.to_lowercase()
                ),
            ));
        }
    }
    Ok(())
}

fn tenant_policy(request: &AdmissionRequest, observed: &impl Observed) -> Result<(), Refusal> {
    let (Some(object), Some(namespace)) = (&request.object, request.namespace.as_deref()) else {
        return Ok(());
    };
    let Some(tenant) = observed
        .namespace(namespace)
        .and_then(|ns| crate::labels::tenant_of(&ns.metadata))
        .and_then(|t| observed.tenant(t))
    else {
        return Ok(());
    };
    let tenant_name = tenant.metadata.name.as_deref().unwrap_or_default();
    if request.operation == Operation::Create && quota_pending(observed, tenant, namespace) {
        // What runs before the namespace's quota exists is counted by no
        // one at admission: it would escape the tenant's Quota.
        return Err((
            Rule::TenantQuota,
            format!(
                "Cannot CREATE {} {namespace}/{} yet: the quota of tenant {tenant_name:?} is not in place in this namespace yet. User: {} (fix: try again in a moment; mto is creating it)",
                request.kind.kind,
                request.name,
                who(request)
            ),
        ));
    }
    let bound_class = object["spec"]["volumeName"]
        .as_str()
        .and_then(|v| observed.persistent_volume(v))
        .and_then(|pv| pv.spec.as_ref()?.storage_class_name.as_deref());
    let Some((field, problem, fix)) = policies::refusal(
        tenant,
        &observed.integration().network,
        &request.kind.group,
        &request.kind.kind,
        object,
        bound_class,
    ) else {
        return Ok(());
    };
    Err((
        Rule::TenantPolicy,
        format!(
            "Cannot {} {} {namespace}/{}: {field}: {problem}, by the policies of tenant {:?}. User: {} (fix: {fix})",
            operation_verb(request.operation),
            request.kind.kind,
            request.name,
            tenant.metadata.name.as_deref().unwrap_or_default(),
            who(request)
        ),
    ))
}

/// Whether `tenant` has a Quota whose ResourceQuota `namespace` lacks.
fn quota_pending(observed: &impl Observed, tenant: &Tenant, namespace: &str) -> bool {
    let limited = tenant
        .spec
        .quota
        .as_deref()
        .and_then(|q| observed.quota(q))
        .is_some_and(|q| q.spec.resourcequota.is_some());
    limited
        && observed
            .resource_quota(namespace, crate::labels::RESOURCE_QUOTA_NAME)
            .is_none()
}

fn operation_verb(operation: Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    }
}

/// Whether `user` (or one of its groups) owns `tenant`.
fn owns(observed: &impl Observed, tenant: &str, user: &UserInfo) -> bool {
    let Some(owners) = observed
        .tenant(tenant)
        .and_then(|t| t.spec.access_control.as_ref())
        .and_then(|a| a.owners.as_ref())
    else {
        return false;
    };
    owners.users.contains(&user.username) || owners.groups.iter().any(|g| user.groups.contains(g))
}

#[cfg(test)]
mod tests;
