//! The invariants of DESIGN.md as pure checks over an observed cluster.
//!
//! The simulator runs them after every step; property tests run them after
//! every action. Each check is written independently of the planner (it
//! reads the tenant spec directly), so a planner bug cannot hide itself.

use std::collections::BTreeMap;
use std::fmt;

use crate::action::{Action, Kind, Object};
use crate::api::{Sharing, Tenant};
use crate::apply::Ownership;
use crate::labels::is_managed;
use crate::labels::{RESOURCE_QUOTA_NAME, TENANT_LABEL};
use crate::machine::Phase;
use crate::names::sandbox_namespace;
use crate::quantity::Quantity;
use crate::tenant::TenantPhase;
use crate::view::{InNamespace, Observed, QuotaTotal, ResourceQuota, RoleBinding};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Invariant 1: a namespace labelled for one tenant holds mto's objects for another.
    SharedNamespace {
        /// The namespace.
        namespace: String,
        /// Its tenant label.
        owner: String,
        /// The other tenant.
        other: String,
    },
    /// Invariant 2: a namespace of an Active tenant is missing or unlabelled.
    MissingNamespace {
        /// The tenant.
        tenant: String,
        /// The namespace.
        namespace: String,
    },
    /// Invariant 2: the access mto granted differs from what the tenant asks for.
    WrongAccess {
        /// The tenant.
        tenant: String,
        /// The namespace.
        namespace: String,
        /// Subjects granted but not asked for, and asked for but not granted.
        detail: String,
    },
    /// Invariant 3: someone who is not a member of a tenant is granted, or
    /// at rest holds, access mto manages in the tenant's namespace.
    CrossTenantAccess {
        /// The subject (`User:name` or `Group:name`).
        subject: String,
        /// The namespace.
        namespace: String,
        /// The namespace's tenant.
        tenant: String,
    },
    /// Invariant 5: a namespace deleted although its tenant is not being
    /// deleted with purge.
    UnsafeDelete {
        /// The namespace.
        namespace: String,
        /// Why it was unsafe.
        reason: String,
    },
    /// Invariant 6: the namespaces' quotas of a tenant sum above the
    /// tenant's quota (split evenly), or one holds more than it (pooled).
    QuotaExceeded {
        /// The tenant.
        tenant: String,
        /// The resource.
        resource: String,
        /// The sum over its namespaces.
        sum: String,
        /// The tenant's limit.
        limit: String,
    },
    /// Invariant 8: a pooled tenant's namespaces have admitted more than
    /// its Quota, together.
    AdmittedOverQuota {
        /// The tenant.
        tenant: String,
        /// The resource.
        resource: String,
        /// What the namespaces' quotas have admitted, summed.
        used: String,
        /// The tenant's Quota.
        limit: String,
    },
    /// Invariant 4: a workload neither runs at the count it should have nor
    /// sleeps with that count saved beside it.
    ReplicasLost {
        /// The workload.
        workload: String,
        /// Its replicas now.
        replicas: i32,
        /// The count saved on it, if any.
        saved: Option<i32>,
        /// The count it should have (its own, or the last one someone set).
        intended: i32,
    },
    /// Invariant 4: a supervisor at rest asleep while a workload it
    /// supervises runs, or awake while one it put to sleep still sleeps.
    WrongWakefulness {
        /// The supervisor.
        supervisor: String,
        /// The workload.
        workload: String,
        /// What is wrong.
        detail: String,
    },
    /// Invariant 9: at rest, a namespace a template instance targets does
    /// not hold its current rendering, or one it does not target holds
    /// some of it.
    WrongRendering {
        /// The instance's key.
        instance: String,
        /// The namespace.
        namespace: String,
        /// What is wrong.
        detail: String,
    },
}

impl Violation {
    /// What the violation is about — tenants, namespaces, supervisors and
    /// workloads, as its message names them — to find the history that led
    /// to it.
    #[must_use]
    pub fn subjects(&self) -> Vec<&str> {
        match self {
            Violation::SharedNamespace {
                namespace,
                owner,
                other,
            } => vec![namespace, owner, other],
            Violation::MissingNamespace { tenant, namespace }
            | Violation::WrongAccess {
                tenant, namespace, ..
            }
            | Violation::CrossTenantAccess {
                tenant, namespace, ..
            } => vec![tenant, namespace],
            Violation::UnsafeDelete { namespace, .. } => vec![namespace],
            Violation::QuotaExceeded { tenant, .. }
            | Violation::AdmittedOverQuota { tenant, .. } => vec![tenant],
            Violation::ReplicasLost { workload, .. } => vec![workload],
            Violation::WrongWakefulness {
                supervisor,
                workload,
                ..
            } => vec![supervisor, workload],
            Violation::WrongRendering {
                instance,
                namespace,
                ..
            } => vec![instance, namespace],
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::SharedNamespace {
                namespace,
                owner,
                other,
            } => write!(
                f,
                "invariant 1: namespace {namespace} of tenant {owner} holds objects of tenant {other}"
            ),
            Violation::MissingNamespace { tenant, namespace } => write!(
                f,
                "invariant 2: namespace {namespace} of Active tenant {tenant} is missing or unlabelled"
            ),
            Violation::WrongAccess {
                tenant,
                namespace,
                detail,
            } => write!(
                f,
                "invariant 2: access in {namespace} of tenant {tenant}: {detail}"
            ),
            Violation::CrossTenantAccess {
                subject,
                namespace,
                tenant,
            } => write!(
                f,
                "invariant 3: {subject} may act in {namespace} of tenant {tenant} without being its member"
            ),
            Violation::UnsafeDelete { namespace, reason } => {
                write!(f, "invariant 5: namespace {namespace} deleted: {reason}")
            }
            Violation::QuotaExceeded {
                tenant,
                resource,
                sum,
                limit,
            } => write!(
                f,
                "invariant 6: tenant {tenant} namespaces' {resource} quotas sum to {sum}, above {limit}"
            ),
            Violation::AdmittedOverQuota {
                tenant,
                resource,
                used,
                limit,
            } => write!(
                f,
                "invariant 8: tenant {tenant}'s namespaces have admitted {used} {resource} together, above its Quota's {limit}"
            ),
            Violation::ReplicasLost {
                workload,
                replicas,
                saved,
                intended,
            } => write!(
                f,
                "invariant 4: {workload} has {replicas} replicas (saved: {saved:?}) but should have {intended}, running or saved"
            ),
            Violation::WrongWakefulness {
                supervisor,
                workload,
                detail,
            } => write!(f, "invariant 4: {supervisor}: {workload} {detail}"),
            Violation::WrongRendering {
                instance,
                namespace,
                detail,
            } => write!(f, "invariant 9: {instance} in {namespace}: {detail}"),
        }
    }
}

/// A binding's subject as the invariants compare it: its kind and name.
type Member<'a> = (&'a str, &'a str);

/// Every user and group of these role lists, as a binding names them.
fn listed_members<'a>(
    lists: impl IntoIterator<Item = &'a Option<crate::api::Subjects>>,
) -> impl Iterator<Item = Member<'a>> {
    lists.into_iter().flatten().flat_map(|s| {
        let users = s.users.iter().map(|u| ("User", u.as_str()));
        users.chain(s.groups.iter().map(|g| ("Group", g.as_str())))
    })
}

/// Every user and group of a tenant's roles, borrowed from its spec, as
/// a set ([`as_set`]).
fn members(tenant: &Tenant) -> Vec<Member<'_>> {
    let Some(ac) = tenant.spec.access_control.as_ref() else {
        return Vec::new();
    };
    as_set(listed_members([&ac.owners, &ac.editors, &ac.viewers]).collect())
}

/// Members sorted and each once: a set compared by slice. A tenant's
/// members and the subjects each namespace grants are a handful, checked
/// for every tenant at rest: a vector sorted once costs less than a tree
/// built member by member.
fn as_set(mut members: Vec<Member<'_>>) -> Vec<Member<'_>> {
    members.sort_unstable();
    members.dedup();
    members
}

/// The members of `these` that are not in `those` (both sorted), spelled.
fn not_in(these: &[Member<'_>], those: &[Member<'_>]) -> Vec<String> {
    these
        .iter()
        .filter(|member| those.binary_search(member).is_err())
        .copied()
        .map(spelled)
        .collect()
}

/// A subject as a violation names it: `Kind:name`.
fn spelled((kind, name): Member<'_>) -> String {
    format!("{kind}:{name}")
}

/// Whether `kind:name` is one of the users or groups in these lists.
/// Asked of every binding mto applies, so it reads the lists in place
/// rather than building the set [`members`] builds.
fn listed<'a>(
    lists: impl IntoIterator<Item = &'a Option<crate::api::Subjects>>,
    kind: &str,
    name: &str,
) -> bool {
    listed_members(lists).any(|member| member == (kind, name))
}

/// The first subject of a binding not `allowed`, as `Kind:name`.
fn stranger(
    subjects: Option<&[k8s_openapi::api::rbac::v1::Subject]>,
    allowed: impl Fn(&k8s_openapi::api::rbac::v1::Subject) -> bool,
) -> Option<String> {
    subjects
        .into_iter()
        .flatten()
        .find(|s| !allowed(s))
        .map(|s| spelled((&s.kind, &s.name)))
}

fn is_private_sandbox_of<'t>(tenant: &'t Tenant, namespace: &str) -> Option<&'t str> {
    let ns = tenant.spec.namespaces.as_ref()?;
    ns.sandboxes.as_ref().filter(|s| s.enabled && s.private)?;
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let ac = tenant.spec.access_control.as_ref()?;
    [&ac.owners, &ac.editors]
        .into_iter()
        .flatten()
        .flat_map(|s| &s.users)
        .find(|u| sandbox_namespace(name, u) == namespace)
        .map(String::as_str)
}

/// When a state invariant must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// After every step, even right after a user changed something:
    /// invariant 1.
    Always,
    /// Once mto has had its turn (nothing left to do): invariants 1, 2, 3
    /// and 6 on the state. A user may break 2, 3 and 6 for a moment (delete
    /// a binding, raise a quota); mto must have repaired it by then.
    AtRest,
}

/// The state invariants over the whole cluster, at rest.
pub fn check_cluster<'a>(
    observed: &impl Observed,
    tenants: impl IntoIterator<Item = &'a Tenant>,
) -> Vec<Violation> {
    tenants
        .into_iter()
        .flat_map(|t| check_tenant(observed, t, Scope::AtRest))
        .collect()
}

/// The state invariants of one tenant's namespaces in `scope`.
pub fn check_tenant(observed: &impl Observed, tenant: &Tenant, scope: Scope) -> Vec<Violation> {
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let mut violations = Vec::new();
    let status = tenant.status.as_ref();
    // Invariant 2 holds for tenants that say they are Active for their current spec.
    let active = scope == Scope::AtRest
        && status.and_then(|s| s.phase.as_deref()) == Some(TenantPhase::Active.name())
        && status.and_then(|s| s.observed_generation) == tenant.metadata.generation
        && tenant.metadata.deletion_timestamp.is_none();
    // Who may have access is asked only at rest: after every other step
    // (most of them) no subject is spelled out.
    let own = if active { members(tenant) } else { Vec::new() };
    // The namespaces labelled for the tenant, sorted, as the status's are
    // checked against them.
    let mut labelled: Vec<&str> = Vec::new();
    // The quotas mto made in the tenant's namespaces, read in the same
    // visit as their bindings.
    let mut quotas: Vec<&ResourceQuota> = Vec::new();
    for ns in observed.tenant_namespaces(name) {
        labelled.push(ns);
        let here = observed.in_namespace(ns);
        quotas.extend(managed_quota(here));
        let mut subjects = Vec::new();
        // Whose a binding is, as its labels say, is read from what the
        // view keeps beside it: this runs after every step of a simulation.
        for (_, rb, ownership) in here.owned_in::<RoleBinding>() {
            if ownership.managed_tenant().is_none() {
                continue;
            }
            violations.extend(foreign_binding(ns, name, ownership));
            if !active {
                continue;
            }
            for s in rb.subjects.as_deref().into_iter().flatten() {
                let subject = (s.kind.as_str(), s.name.as_str());
                // A member just removed keeps access until mto's next
                // decision; at rest (Active for the current spec) nobody may.
                if own.binary_search(&subject).is_err() {
                    violations.push(Violation::CrossTenantAccess {
                        subject: spelled(subject),
                        namespace: ns.into(),
                        tenant: name.into(),
                    });
                }
                subjects.push(subject);
            }
        }
        if active {
            let sandbox;
            let expected = match is_private_sandbox_of(tenant, ns) {
                Some(user) => {
                    sandbox = [("User", user)];
                    &sandbox[..]
                }
                None => &own[..],
            };
            let granted = as_set(subjects);
            if granted != expected {
                let extra = not_in(&granted, expected);
                let missing = not_in(expected, &granted);
                violations.push(Violation::WrongAccess {
                    tenant: name.into(),
                    namespace: ns.into(),
                    detail: format!("extra {extra:?}, missing {missing:?}"),
                });
            }
        }
    }
    if active {
        for ns in status.map(|s| s.namespaces.as_slice()).unwrap_or_default() {
            if labelled.binary_search(&ns.as_str()).is_err() {
                violations.push(Violation::MissingNamespace {
                    tenant: name.into(),
                    namespace: ns.clone(),
                });
            }
        }
    }
    violations.extend(check_quota(observed, name, tenant, &quotas, scope));
    violations
}

/// Invariant 1 for one binding in `tenant`'s namespace `namespace`: mto
/// made it for `tenant`, or for no tenant.
fn foreign_binding(namespace: &str, tenant: &str, ownership: &Ownership) -> Option<Violation> {
    let other = ownership
        .managed_tenant()
        .filter(|other| *other != tenant)?;
    Some(Violation::SharedNamespace {
        namespace: namespace.into(),
        owner: tenant.into(),
        other: other.to_owned(),
    })
}

/// How much of a tenant a step's writes reach: what the checks after
/// every step ([`Scope::Always`]) must read again. Nearly every write is
/// one object in one namespace, and reading a tenant's every namespace
/// again after each was the larger part of a simulation's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The objects in these namespaces, or the namespaces themselves.
    Namespaces(Vec<String>),
    /// Every namespace of the tenant's: a new tenant, or a write the
    /// caller does not place.
    Everywhere,
}

impl Reach {
    /// What a change to `object` reaches. An object in a namespace (or a
    /// namespace itself) reaches that namespace. What always holds reads
    /// of a tenant only its name and its quota: a tenant reaches
    /// everywhere while mto has not decided on its spec as it stands (a
    /// new tenant, a changed quota), a Quota always; every other
    /// cluster-scoped object, and a tenant's status, reach nowhere.
    #[must_use]
    pub fn of(object: &Object) -> Reach {
        let meta = object.meta_ref();
        let namespace = match object {
            Object::Namespace(_) => meta.name(),
            Object::Tenant(tenant) => {
                let decided = tenant.status.as_ref().and_then(|s| s.observed_generation);
                if decided.is_none() || decided != meta.generation() {
                    return Reach::Everywhere;
                }
                None
            }
            Object::Quota(_) => return Reach::Everywhere,
            _ => meta.namespace(),
        };
        Reach::Namespaces(namespace.map(str::to_owned).into_iter().collect())
    }

    /// What a watch event reaches ([`Reach::of`] its object); everywhere
    /// for a list's events.
    #[must_use]
    pub fn of_event(event: &crate::view::WatchEvent) -> Reach {
        use crate::view::WatchEvent;
        match event {
            WatchEvent::Apply(taken) | WatchEvent::InitApply(taken) => Reach::of(taken.object()),
            WatchEvent::Delete(object) => Reach::of(object),
            WatchEvent::Init(_) | WatchEvent::InitDone(_) => Reach::Everywhere,
        }
    }

    /// Adds what `other` reaches.
    pub fn widen(&mut self, other: Reach) {
        match (&mut *self, other) {
            (Reach::Everywhere, _) => {}
            (_, Reach::Everywhere) => *self = Reach::Everywhere,
            (Reach::Namespaces(these), Reach::Namespaces(those)) => {
                for namespace in those {
                    if !these.contains(&namespace) {
                        these.push(namespace);
                    }
                }
            }
        }
    }
}

/// The checks of [`Scope::Always`] over what a step's writes reached of
/// `tenant`. From a state where they held, they find whatever
/// [`check_tenant`] finds. Invariant 1 is broken in a namespace only by a
/// write there (a binding, or the namespace's own tenant label). A pooled
/// quota's admitted sum grows only where a write leaves a quota that has
/// admitted something (or with the tenant's Quota, which reaches
/// everywhere): only then is the sum, over every namespace, read.
pub fn check_tenant_reached(
    observed: &impl Observed,
    tenant: &Tenant,
    reach: &Reach,
) -> Vec<Violation> {
    let Reach::Namespaces(namespaces) = reach else {
        return check_tenant(observed, tenant, Scope::Always);
    };
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let mut violations = Vec::new();
    let mut admitted = false;
    for ns in namespaces {
        let here = observed.in_namespace(ns);
        let labelled = here
            .namespace()
            .and_then(|(_, ownership)| ownership.labelled_tenant());
        if labelled != Some(name) {
            continue;
        }
        violations.extend(
            here.owned_in::<RoleBinding>()
                .filter_map(|(_, _, ownership)| foreign_binding(ns, name, ownership)),
        );
        admitted |= managed_quota(here).is_some_and(has_admitted);
    }
    if admitted {
        let quotas = managed_quotas(observed, name);
        violations.extend(check_quota(observed, name, tenant, &quotas, Scope::Always));
    }
    violations
}

/// Whether a quota has admitted anything: some quantity in use above zero.
fn has_admitted(rq: &ResourceQuota) -> bool {
    rq.status
        .as_ref()
        .and_then(|s| s.used.as_ref())
        .is_some_and(|used| {
            used.values()
                .any(|q| Quantity::parse(&q.0).map_or(true, |q| q.nanos() > 0))
        })
}

/// The quotas mto made in a tenant's namespaces.
fn managed_quotas<'o>(observed: &'o impl Observed, tenant: &'o str) -> Vec<&'o ResourceQuota> {
    observed
        .tenant_namespaces(tenant)
        .filter_map(|ns| managed_quota(observed.in_namespace(ns)))
        .collect()
}

/// The quota mto made in a namespace, if any.
fn managed_quota(here: InNamespace<'_>) -> Option<&ResourceQuota> {
    here.owned::<ResourceQuota>(RESOURCE_QUOTA_NAME)
        .filter(|(_, ownership)| ownership.is_managed())
        .map(|(rq, _)| rq)
}

/// The quantity of `resource` in a resource list, in nanos (0 if absent).
fn nanos_of(list: Option<&BTreeMap<String, K8sQuantity>>, resource: &str) -> i128 {
    list.and_then(|l| l.get(resource))
        .and_then(|v| Quantity::parse(&v.0).ok())
        .map_or(0, Quantity::nanos)
}

/// Invariant 6 at rest: split evenly, the namespaces' quotas sum to at
/// most the tenant's; pooled, each holds at most the tenant's total.
/// Invariant 8's quota half at every instant: pooled, what the namespaces
/// have admitted sums to at most the total. `quotas` are those mto made
/// in the tenant's namespaces.
fn check_quota(
    observed: &impl Observed,
    name: &str,
    tenant: &Tenant,
    quotas: &[&ResourceQuota],
    scope: Scope,
) -> Vec<Violation> {
    let Some((quota, intake)) = tenant
        .spec
        .quota
        .as_deref()
        .and_then(|q| observed.quota_intake(q))
    else {
        return Vec::new();
    };
    let pooled = quota.spec.sharing.unwrap_or_default() == Sharing::Pooled;
    if !pooled && scope == Scope::Always {
        // Between rests only a pooled quota's admitted sum is held to the
        // total (the split shares are checked at rest): nothing to read.
        return Vec::new();
    }
    let hard =
        |rq: &ResourceQuota, r: &str| nanos_of(rq.spec.as_ref().and_then(|s| s.hard.as_ref()), r);
    let used =
        |rq: &ResourceQuota, r: &str| nanos_of(rq.status.as_ref().and_then(|s| s.used.as_ref()), r);
    let mut out = Vec::new();
    for QuotaTotal {
        resource: r,
        spelled,
        value: limit_q,
    } in intake.totals()
    {
        let limit_text = || spelled.clone();
        let used_sum: i128 = quotas.iter().map(|q| used(q, r)).sum();
        if pooled && used_sum > limit_q.nanos() {
            out.push(Violation::AdmittedOverQuota {
                tenant: name.into(),
                resource: r.clone(),
                used: Quantity::from_nanos(used_sum).to_string(),
                limit: limit_text(),
            });
        }
        if scope == Scope::AtRest {
            // Pooled: each namespace may hold the whole total; split: the
            // shares sum to it.
            let hards = quotas.iter().map(|q| hard(q, r));
            let held = if pooled {
                hards.max().unwrap_or(0)
            } else {
                hards.sum()
            };
            if held > limit_q.nanos() {
                out.push(Violation::QuotaExceeded {
                    tenant: name.into(),
                    resource: r.clone(),
                    sum: Quantity::from_nanos(held).to_string(),
                    limit: limit_text(),
                });
            }
        }
    }
    out
}

/// Checked before an action runs. Invariant 3: mto grants access in a
/// tenant's namespace only to that tenant's members. Invariant 5: a
/// namespace is deleted only when its tenant is being deleted and asked
/// for purge.
pub fn check_action(observed: &impl Observed, action: &Action) -> Option<Violation> {
    if let Action::Apply {
        object: Object::RoleBinding(rb),
        ..
    } = action
    {
        let ns = rb.metadata.read().namespace().unwrap_or_default();
        let owner = observed
            .namespace(ns)
            .and_then(|n| n.metadata.labels.as_ref()?.get(TENANT_LABEL));
        let access = owner
            .and_then(|o| observed.tenant(o))
            .and_then(|t| t.spec.access_control.as_ref());
        let member = |s: &k8s_openapi::api::rbac::v1::Subject| {
            access
                .is_some_and(|ac| listed([&ac.owners, &ac.editors, &ac.viewers], &s.kind, &s.name))
        };
        return stranger(rb.subjects.as_deref(), member).map(|subject| {
            Violation::CrossTenantAccess {
                subject,
                namespace: ns.into(),
                tenant: owner.cloned().unwrap_or_else(|| "<none>".into()),
            }
        });
    }
    if let Action::Apply {
        object: Object::ResourceQuota(rq),
        ..
    } = action
    {
        return check_quota_write(observed, rq);
    }
    if let Action::Apply {
        object: Object::ClusterRoleBinding(crb),
        ..
    } = action
    {
        // The console's grant: its own ServiceAccount, its own role only.
        if crate::labels::component_of(&crb.metadata).is_some() {
            let stranger = crb
                .subjects
                .iter()
                .flatten()
                .find(|s| s.kind != "ServiceAccount" || s.name != crate::pilot::CONSOLE_NAME);
            let wrong_role = crb.role_ref.name != crate::pilot::CONSOLE_CLUSTER_ROLE;
            return (stranger.is_some() || wrong_role).then(|| Violation::CrossTenantAccess {
                subject: stranger.map_or_else(|| crb.role_ref.name.clone(), |s| s.name.clone()),
                namespace: "(the cluster: the console's role)".into(),
                tenant: "<none>".into(),
            });
        }
        // The grant to ask for namespaces: the tenant's owners only.
        let tenant = crate::labels::tenant_of(&crb.metadata);
        let access = tenant
            .and_then(|t| observed.tenant(t))
            .and_then(|t| t.spec.access_control.as_ref());
        let owner = |s: &k8s_openapi::api::rbac::v1::Subject| {
            access.is_some_and(|ac| listed([&ac.owners], &s.kind, &s.name))
        };
        return stranger(crb.subjects.as_deref(), owner).map(|subject| {
            Violation::CrossTenantAccess {
                subject,
                namespace: "(the cluster: namespaces)".into(),
                tenant: tenant.unwrap_or("<none>").to_owned(),
            }
        });
    }
    let Action::Delete { target, .. } = action else {
        return None;
    };
    if target.kind != Kind::Namespace {
        return None;
    }
    let ns = observed.namespace(&target.name)?;
    let owner = ns
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(TENANT_LABEL));
    let reason = match owner.and_then(|o| observed.tenant(o)) {
        None => "it belongs to no existing tenant".to_string(),
        Some(t) if t.metadata.deletion_timestamp.is_none() => format!(
            "tenant {} is not being deleted",
            owner.map_or("", String::as_str)
        ),
        Some(t)
            if !t
                .spec
                .namespaces
                .as_ref()
                .and_then(|n| n.on_delete_purge_namespaces)
                .unwrap_or(false) =>
        {
            format!(
                "tenant {} did not ask for purge",
                owner.map_or("", String::as_str)
            )
        }
        Some(_) => return None,
    };
    Some(Violation::UnsafeDelete {
        namespace: target.name.clone(),
        reason,
    })
}

/// Invariant 6 on a write: mto never raises the sum of a tenant's namespace
/// quotas above the tenant's quota (it may lower a sum a user raised).
fn check_quota_write(observed: &impl Observed, applied: &ResourceQuota) -> Option<Violation> {
    let ns = applied.metadata.read().namespace()?;
    let name = observed
        .namespace(ns)?
        .metadata
        .labels
        .as_ref()?
        .get(TENANT_LABEL)?;
    let tenant = observed.tenant(name)?;
    let quota = observed.quota(tenant.spec.quota.as_deref()?)?;
    let limits = quota.spec.resourcequota.as_ref()?.hard.as_ref()?;
    let pooled = quota.spec.sharing.unwrap_or_default() == Sharing::Pooled;
    let values = |rq: Option<&ResourceQuota>, r: &str| {
        nanos_of(rq.and_then(|q| q.spec.as_ref()?.hard.as_ref()), r)
    };
    for (r, limit) in limits {
        let Ok(limit) = Quantity::parse(&limit.0) else {
            continue;
        };
        if pooled {
            // Each namespace may hold the whole total, no more.
            let after = values(Some(applied), r);
            if after > limit.nanos() {
                return Some(Violation::QuotaExceeded {
                    tenant: name.clone(),
                    resource: r.clone(),
                    sum: Quantity::from_nanos(after).to_string(),
                    limit: limit.to_string(),
                });
            }
            continue;
        }
        let before: i128 = observed
            .tenant_namespaces(name)
            .filter_map(|n| {
                observed
                    .resource_quota(n, RESOURCE_QUOTA_NAME)
                    .filter(|q| is_managed(&q.metadata))
            })
            .map(|q| values(Some(q), r))
            .sum();
        let old = observed
            .resource_quota(ns, RESOURCE_QUOTA_NAME)
            .filter(|q| is_managed(&q.metadata));
        let after = before - values(old, r) + values(Some(applied), r);
        if after > limit.nanos() && after > before {
            return Some(Violation::QuotaExceeded {
                tenant: name.clone(),
                resource: r.clone(),
                sum: Quantity::from_nanos(after).to_string(),
                limit: limit.to_string(),
            });
        }
    }
    None
}

/// Invariant 4 for one workload: it runs at `intended` replicas, or it is
/// at zero with `intended` saved on it.
#[must_use]
pub fn check_workload(
    workload: &crate::hibernation::Workload<'_>,
    intended: i32,
) -> Option<Violation> {
    let saved = workload.saved_replicas();
    // Running at its count (a user may scale a sleeping workload up before
    // its supervisor puts it back to sleep), or asleep with it saved.
    let running = workload.replicas == intended;
    let asleep = workload.replicas == 0 && saved == Some(intended);
    (!running && !asleep).then(|| Violation::ReplicasLost {
        workload: workload.reference.to_string(),
        replicas: workload.replicas,
        saved,
        intended,
    })
}

/// Invariant 4 for a supervisor with nothing left to do: asleep, every
/// workload it supervises is at zero; awake, none it put to sleep sleeps.
pub fn check_supervisor_at_rest(
    view: &impl crate::hibernation::WorkloadView,
    supervisor: &crate::hibernation::Supervisor<'_>,
) -> Vec<Violation> {
    use crate::hibernation::SupervisorPhase;
    use crate::labels::HIBERNATION_EXCLUDE_ANNOTATION;
    let key = supervisor.key();
    let wrong = |w: &crate::hibernation::Workload<'_>, detail: &str| Violation::WrongWakefulness {
        supervisor: key.clone(),
        workload: w.reference.to_string(),
        detail: detail.into(),
    };
    match supervisor.phase() {
        SupervisorPhase::Asleep if supervisor.meta().deletion_timestamp.is_none() => {
            let integration = view.integration();
            view.supervised_namespaces(supervisor)
                .iter()
                .filter(|ns| !integration.is_privileged_namespace(ns))
                .flat_map(|ns| view.workloads_in(ns))
                .filter(|w| {
                    w.meta
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(HIBERNATION_EXCLUDE_ANNOTATION))
                        .is_none_or(|v| v != "true")
                })
                .filter(|w| w.replicas > 0)
                .map(|w| wrong(&w, "runs while its supervisor is asleep"))
                .collect()
        }
        SupervisorPhase::Awake => view
            .workloads_slept_by(&key)
            .iter()
            .map(|w| wrong(w, "still sleeps while its supervisor is awake"))
            .collect(),
        _ => Vec::new(),
    }
}

/// Invariant 9, at rest: every namespace a template instance targets and
/// could render for holds every object of its current rendering, deployed
/// by it (and, when synced, as rendered); no namespace it does not target
/// holds anything it deployed. A namespace held by a problem (its status
/// names it) is left out: it keeps what it had.
#[must_use]
pub fn check_instance_at_rest(
    snapshot: &crate::view::Snapshot,
    instance: &crate::template::Instance<'_>,
) -> Vec<Violation> {
    let key = instance.id().key();
    let mut out = Vec::new();
    let wrong = |namespace: &str, detail: String| Violation::WrongRendering {
        instance: key.clone(),
        namespace: namespace.to_owned(),
        detail,
    };
    if instance.meta().deletion_timestamp.is_some() {
        return out;
    }
    let Some(template) = snapshot.get::<crate::api::Template>("", instance.template()) else {
        return out;
    };
    let deployed_to = instance
        .status()
        .map(|s| s.deployed_namespaces.clone())
        .unwrap_or_default();
    let targets = crate::template::targets(instance, snapshot);
    for target in snapshot.deployed_by(&instance.id()) {
        let namespace = target.namespace.as_deref().unwrap_or_default();
        if !targets.contains(namespace) {
            out.push(wrong(
                namespace,
                format!("holds {target}, but is not targeted"),
            ));
        }
    }
    for namespace in &targets {
        // A failed chart rendering counts however old it is: at rest, a
        // namespace whose rendering failed is held, as its status says.
        let Ok(rendered) = crate::template::render_for(
            template,
            instance,
            namespace,
            snapshot,
            crate::Timestamp::MIN,
        ) else {
            continue;
        };
        if !deployed_to.contains(namespace) {
            // Held by an object in the way, named in the status.
            continue;
        }
        for one in rendered {
            let target = one.object.object_ref();
            match snapshot.metadata(&target) {
                None => out.push(wrong(namespace, format!("{target} is missing"))),
                Some(meta) if crate::labels::deployed_by(meta) != Some(key.as_str()) => {
                    out.push(wrong(namespace, format!("{target} is not the instance's")));
                }
                Some(_) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A label map of these pairs.
    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// A namespace labelled for `tenant`.
    fn tenant_namespace(name: &str, tenant: &str) -> k8s_openapi::api::core::v1::Namespace {
        k8s_openapi::api::core::v1::Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.into()),
                labels: labels(&[(TENANT_LABEL, tenant)]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A binding another tenant's labels mark as mto's, in a namespace of
    /// this tenant's, is a shared namespace; one merely labelled with a
    /// tenant, not as mto's, is someone else's business.
    #[test]
    fn a_binding_mto_made_for_another_tenant_is_a_shared_namespace() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

        use crate::labels::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
        use crate::view::Snapshot;

        let binding = |name: &str, pairs: &[(&str, &str)]| RoleBinding {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("alpha-dev".into()),
                labels: labels(pairs),
                ..Default::default()
            }
            .into(),
            ..Default::default()
        };
        let alpha: Tenant = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "alpha"},
            "spec": {"namespaces": {"withTenantPrefix": ["dev"]}}
        }))
        .unwrap_or_else(|e| panic!("tenant: {e}"));
        let mut s = Snapshot::default();
        s.insert(tenant_namespace("alpha-dev", "alpha"));
        s.insert(alpha.clone());
        s.insert(binding("labelled", &[(TENANT_LABEL, "beta")]));
        assert_eq!(
            check_tenant(&s, &alpha, Scope::Always),
            Vec::new(),
            "labelled for beta, not as mto's"
        );
        s.insert(binding(
            "made",
            &[(TENANT_LABEL, "beta"), (MANAGED_BY_LABEL, MANAGED_BY_VALUE)],
        ));
        let shared = vec![Violation::SharedNamespace {
            namespace: "alpha-dev".into(),
            owner: "alpha".into(),
            other: "beta".into(),
        }];
        assert_eq!(check_tenant(&s, &alpha, Scope::Always), shared);
        // After a step, only what it reached is read again: the binding's
        // namespace, or every namespace of a tenant new to mto.
        let made = Object::from(binding("made", &[]));
        assert_eq!(
            Reach::of(&made),
            Reach::Namespaces(vec!["alpha-dev".into()])
        );
        assert_eq!(check_tenant_reached(&s, &alpha, &Reach::of(&made)), shared);
        let elsewhere = Reach::Namespaces(vec!["alpha-qa".into(), "beta-dev".into()]);
        assert_eq!(check_tenant_reached(&s, &alpha, &elsewhere), Vec::new());
        let new_tenant = Reach::of(&Object::from(alpha.clone()));
        assert_eq!(new_tenant, Reach::Everywhere);
        assert_eq!(check_tenant_reached(&s, &alpha, &new_tenant), shared);
        let mut decided = alpha.clone();
        decided.metadata.generation = Some(2);
        decided.status = Some(crate::api::TenantStatus {
            observed_generation: Some(2),
            ..Default::default()
        });
        assert_eq!(
            Reach::of(&Object::from(decided.clone())),
            Reach::Namespaces(Vec::new()),
            "a tenant mto has decided on reaches no namespace"
        );
        decided.metadata.generation = Some(3);
        assert_eq!(
            Reach::of(&Object::from(decided)),
            Reach::Everywhere,
            "a spec mto has not decided on may name another quota"
        );
        let mut widened = elsewhere;
        widened.widen(Reach::of(&made));
        assert_eq!(check_tenant_reached(&s, &alpha, &widened), shared);
    }

    /// The quotas mto made in a tenant's namespaces are held to its Quota:
    /// pooled, what they admitted together at every instant; split, the
    /// shares' sum at rest. A quota mto did not make counts for nothing.
    #[test]
    fn the_quotas_mto_made_are_held_to_the_tenants_quota() {
        use k8s_openapi::api::core::v1::{ResourceQuotaSpec, ResourceQuotaStatus};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

        use crate::labels::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
        use crate::view::Snapshot;

        let pods = |n: &str| Some(BTreeMap::from([("pods".to_owned(), K8sQuantity(n.into()))]));
        let quota = |ns: &str, hard: &str, used: &str, ours: bool| ResourceQuota {
            metadata: ObjectMeta {
                name: Some(RESOURCE_QUOTA_NAME.into()),
                namespace: Some(ns.into()),
                labels: if ours {
                    labels(&[
                        (TENANT_LABEL, "alpha"),
                        (MANAGED_BY_LABEL, MANAGED_BY_VALUE),
                    ])
                } else {
                    labels(&[(TENANT_LABEL, "alpha")])
                },
                ..Default::default()
            }
            .into(),
            spec: Some(
                ResourceQuotaSpec {
                    hard: pods(hard),
                    ..Default::default()
                }
                .into(),
            ),
            status: Some(ResourceQuotaStatus {
                used: pods(used),
                ..Default::default()
            }),
        };
        let cluster = |sharing: &str, hards: [&str; 2]| {
            let mut s = Snapshot::default();
            let q: crate::api::Quota = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "q"},
                "spec": {"sharing": sharing, "resourcequota": {"hard": {"pods": "10"}}}
            }))
            .unwrap_or_else(|e| panic!("quota: {e}"));
            s.insert(q);
            for (ns, hard) in ["alpha-a", "alpha-b"].into_iter().zip(hards) {
                s.insert(tenant_namespace(ns, "alpha"));
                s.insert(quota(ns, hard, "6", true));
            }
            s.insert(tenant_namespace("alpha-c", "alpha"));
            s.insert(quota("alpha-c", "100", "100", false));
            s
        };
        let alpha: Tenant = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "alpha"},
            "spec": {"quota": "q"}
        }))
        .unwrap_or_else(|e| panic!("tenant: {e}"));
        let over_admitted = Violation::AdmittedOverQuota {
            tenant: "alpha".into(),
            resource: "pods".into(),
            used: "12".into(),
            limit: "10".into(),
        };
        let pooled = cluster("Pooled", ["10", "10"]);
        assert_eq!(
            check_tenant(&pooled, &alpha, Scope::Always),
            vec![over_admitted.clone()]
        );
        // After a step, the admitted sum is read where a write left a
        // quota that admitted something, or when the Quota changed.
        let reached = |namespace: &str| Reach::Namespaces(vec![namespace.into()]);
        assert_eq!(
            check_tenant_reached(&pooled, &alpha, &reached("alpha-b")),
            vec![over_admitted.clone()]
        );
        let q = pooled.quota("q").cloned().unwrap_or_default();
        assert_eq!(
            check_tenant_reached(&pooled, &alpha, &Reach::of(&Object::from(q))),
            vec![over_admitted.clone()]
        );
        let mut idle = pooled.clone();
        idle.insert(tenant_namespace("alpha-d", "alpha"));
        idle.insert(quota("alpha-d", "10", "0", true));
        assert_eq!(
            check_tenant_reached(&idle, &alpha, &reached("alpha-d")),
            Vec::new(),
            "a quota that admitted nothing adds nothing to the sum"
        );
        assert_eq!(
            check_tenant(&pooled, &alpha, Scope::AtRest),
            vec![over_admitted]
        );

        let split = cluster("EvenSplit", ["5", "6"]);
        assert_eq!(
            check_tenant(&split, &alpha, Scope::Always),
            Vec::new(),
            "split shares are checked at rest"
        );
        assert_eq!(
            check_tenant(&split, &alpha, Scope::AtRest),
            vec![Violation::QuotaExceeded {
                tenant: "alpha".into(),
                resource: "pods".into(),
                sum: "11".into(),
                limit: "10".into(),
            }]
        );
        let even = cluster("EvenSplit", ["5", "5"]);
        assert_eq!(check_tenant(&even, &alpha, Scope::AtRest), Vec::new());
    }

    #[test]
    fn a_violation_names_its_subjects_in_its_message() {
        let s = |v: &str| v.to_owned();
        let violations = [
            Violation::SharedNamespace {
                namespace: s("shared"),
                owner: s("alpha"),
                other: s("beta"),
            },
            Violation::MissingNamespace {
                tenant: s("alpha"),
                namespace: s("alpha-dev"),
            },
            Violation::WrongAccess {
                tenant: s("alpha"),
                namespace: s("alpha-dev"),
                detail: s("User:x granted"),
            },
            Violation::CrossTenantAccess {
                subject: s("User:x"),
                namespace: s("alpha-dev"),
                tenant: s("alpha"),
            },
            Violation::UnsafeDelete {
                namespace: s("alpha-dev"),
                reason: s("tenant alpha is not being deleted"),
            },
            Violation::QuotaExceeded {
                tenant: s("alpha"),
                resource: s("pods"),
                sum: s("20"),
                limit: s("10"),
            },
            Violation::ReplicasLost {
                workload: s("Deployment/alpha-dev/api"),
                replicas: 0,
                saved: None,
                intended: 2,
            },
            Violation::WrongWakefulness {
                supervisor: s("ResourceSupervisor/alpha-dev/nightly"),
                workload: s("Deployment/alpha-dev/api"),
                detail: s("runs while its supervisor sleeps"),
            },
        ];
        for v in &violations {
            let message = v.to_string();
            assert!(!v.subjects().is_empty(), "{message}");
            for subject in v.subjects() {
                assert!(message.contains(subject), "{subject} in {message}");
            }
        }
    }

    /// Invariant 3 before an action runs: mto binds in a tenant's namespace
    /// only that tenant's users and groups, whatever list they are in, and
    /// grants the cluster role to ask for namespaces to its owners only.
    #[test]
    fn an_apply_binding_anyone_but_the_tenants_members_is_refused() {
        use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Subject};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

        use crate::action::Reason;
        use crate::view::Snapshot;

        let alpha: Tenant = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "alpha"},
            "spec": {
                "accessControl": {
                    "owners": {"users": ["olivia"]},
                    "editors": {"groups": ["devs"]},
                    "viewers": {"users": ["victor"]}
                },
                "namespaces": {"withTenantPrefix": ["dev"]}
            }
        }))
        .unwrap_or_else(|e| panic!("tenant: {e}"));
        let mut s = Snapshot::default();
        s.insert(tenant_namespace("alpha-dev", "alpha"));
        s.insert(alpha);
        let subject = |kind: &str, name: &str| Subject {
            kind: kind.into(),
            name: name.into(),
            ..Default::default()
        };
        let binding = |namespace: &str, subjects: Vec<Subject>| Action::Apply {
            object: Object::RoleBinding(std::sync::Arc::new(RoleBinding {
                metadata: ObjectMeta {
                    name: Some("access".into()),
                    namespace: Some(namespace.into()),
                    ..Default::default()
                }
                .into(),
                subjects: Some(subjects.into()),
                ..Default::default()
            })),
            reason: Reason::Create,
        };
        let members = vec![
            subject("User", "olivia"),
            subject("Group", "devs"),
            subject("User", "victor"),
        ];
        assert_eq!(
            check_action(&s, &binding("alpha-dev", members.clone())),
            None
        );
        for (stranger, named) in [
            (subject("User", "mallory"), "User:mallory"),
            (subject("Group", "olivia"), "Group:olivia"),
            (subject("ServiceAccount", "victor"), "ServiceAccount:victor"),
        ] {
            let mut subjects = members.clone();
            subjects.insert(1, stranger);
            assert_eq!(
                check_action(&s, &binding("alpha-dev", subjects)),
                Some(Violation::CrossTenantAccess {
                    subject: named.into(),
                    namespace: "alpha-dev".into(),
                    tenant: "alpha".into(),
                })
            );
        }
        assert_eq!(
            check_action(&s, &binding("nobodys", vec![subject("User", "olivia")])),
            Some(Violation::CrossTenantAccess {
                subject: "User:olivia".into(),
                namespace: "nobodys".into(),
                tenant: "<none>".into(),
            }),
            "a namespace no tenant holds has no members"
        );

        let creators = |subjects: Vec<Subject>| Action::Apply {
            object: Object::ClusterRoleBinding(std::sync::Arc::new(ClusterRoleBinding {
                metadata: ObjectMeta {
                    name: Some("alpha-namespace-creator".into()),
                    labels: labels(&[(TENANT_LABEL, "alpha")]),
                    ..Default::default()
                },
                subjects: Some(subjects),
                ..Default::default()
            })),
            reason: Reason::Create,
        };
        assert_eq!(
            check_action(&s, &creators(vec![subject("User", "olivia")])),
            None
        );
        assert_eq!(
            check_action(&s, &creators(vec![subject("Group", "devs")])),
            Some(Violation::CrossTenantAccess {
                subject: "Group:devs".into(),
                namespace: "(the cluster: namespaces)".into(),
                tenant: "alpha".into(),
            }),
            "an editor may not ask for namespaces"
        );
    }

    /// Invariants 2 and 3 at rest: in each namespace of an Active tenant
    /// exactly its members are bound (in a private sandbox, its user
    /// alone), and a stranger bound there is named.
    #[test]
    fn at_rest_each_namespace_binds_exactly_the_tenants_members() {
        use k8s_openapi::api::rbac::v1::Subject;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

        use crate::labels::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
        use crate::view::Snapshot;

        let alpha: Tenant = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "alpha", "generation": 2},
            "spec": {
                "accessControl": {
                    "owners": {"users": ["olivia"]},
                    "viewers": {"groups": ["auditors"]}
                },
                "namespaces": {
                    "withTenantPrefix": ["dev"],
                    "sandboxes": {"enabled": true, "private": true}
                }
            },
            "status": {"phase": "Active", "observedGeneration": 2}
        }))
        .unwrap_or_else(|e| panic!("tenant: {e}"));
        let sandbox = crate::names::sandbox_namespace("alpha", "olivia");
        let cluster = |dev: &[(&str, &str)], in_sandbox: &[(&str, &str)]| {
            let mut s = Snapshot::default();
            s.insert(alpha.clone());
            for (namespace, subjects) in [("alpha-dev", dev), (sandbox.as_str(), in_sandbox)] {
                s.insert(tenant_namespace(namespace, "alpha"));
                s.insert(RoleBinding {
                    metadata: ObjectMeta {
                        name: Some("alpha-access".into()),
                        namespace: Some(namespace.into()),
                        labels: labels(&[
                            (TENANT_LABEL, "alpha"),
                            (MANAGED_BY_LABEL, MANAGED_BY_VALUE),
                        ]),
                        ..Default::default()
                    }
                    .into(),
                    subjects: Some(
                        subjects
                            .iter()
                            .map(|(kind, name)| Subject {
                                kind: (*kind).into(),
                                name: (*name).into(),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                });
            }
            s
        };
        let members = [("User", "olivia"), ("Group", "auditors")];
        let olivia = [("User", "olivia")];
        let s = cluster(&members, &olivia);
        assert_eq!(check_tenant(&s, &alpha, Scope::AtRest), Vec::new());

        let s = cluster(&[("User", "olivia"), ("User", "mallory")], &members);
        assert_eq!(
            check_tenant(&s, &alpha, Scope::AtRest),
            vec![
                Violation::CrossTenantAccess {
                    subject: "User:mallory".into(),
                    namespace: "alpha-dev".into(),
                    tenant: "alpha".into(),
                },
                Violation::WrongAccess {
                    tenant: "alpha".into(),
                    namespace: "alpha-dev".into(),
                    detail: r#"extra ["User:mallory"], missing ["Group:auditors"]"#.into(),
                },
                Violation::WrongAccess {
                    tenant: "alpha".into(),
                    namespace: sandbox.clone(),
                    detail: r#"extra ["Group:auditors"], missing []"#.into(),
                },
            ]
        );
        assert_eq!(
            check_tenant(&s, &alpha, Scope::Always),
            Vec::new(),
            "between rests a member may be bound or not yet"
        );

        // A namespace the status lists must be labelled for the tenant.
        let mut listing = alpha.clone();
        if let Some(status) = listing.status.as_mut() {
            status.namespaces = vec!["alpha-dev".into(), "alpha-gone".into()];
        }
        let s = cluster(&members, &olivia);
        assert_eq!(
            check_tenant(&s, &listing, Scope::AtRest),
            vec![Violation::MissingNamespace {
                tenant: "alpha".into(),
                namespace: "alpha-gone".into(),
            }]
        );
    }
}
