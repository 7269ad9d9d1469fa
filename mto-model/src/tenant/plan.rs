use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::desired::{self, RoleSubjects, quota_values};
use super::{Decision, TenantPhase};
use crate::Timestamp;
use crate::action::{
    Action, Event, FinalizerEdit, Kind, MergePatch, Object, ObjectRef, Patch, Reason, Requeue,
};
use crate::api::{Quota, Tenant, TenantStatus};
use crate::apply::metadata_in_sync;
use crate::claims::{RequestedNamespace, requested_namespaces};
use crate::labels::is_managed_for;
use crate::labels::{
    ADOPTED_ANNOTATION, KIND_LABEL, LIMIT_RANGE_NAME, RELEASED_FROM_ANNOTATION,
    RESOURCE_QUOTA_NAME, TENANT_FINALIZER, TENANT_LABEL,
};
use crate::machine::Phase;
use crate::quantity::Quantity;
use crate::validation::{Validate, ValidationErrors};
use crate::view::Observed;

/// How long to wait before looking again at a namespace someone is deleting.
const TERMINATING_NAMESPACE_RECHECK: Duration = Duration::from_secs(5);

/// Decides what to do for one tenant. Pure: the same tenant, observation
/// and time give the same decision; once the cluster matches, the decision
/// has no actions.
pub fn decide(tenant: &Tenant, observed: &impl Observed, now: Timestamp) -> Decision {
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let from = tenant
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .and_then(TenantPhase::from_name)
        .unwrap_or(TenantPhase::Pending);
    let has_finalizer = tenant
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TENANT_FINALIZER);
    if tenant.metadata.deletion_timestamp.is_some() {
        return terminate(tenant, name, from, has_finalizer, observed, now);
    }

    let mut planner = Planner::new(tenant, name, observed);
    if let Some(patch) = FinalizerEdit::of(&tenant.metadata, TENANT_FINALIZER, true) {
        planner.actions.push(Action::Patch {
            target: ObjectRef::cluster(Kind::Tenant, name),
            patch: Patch::Finalizer(patch),
            reason: Reason::AddFinalizer,
        });
    }
    let mut namespaces = Vec::new();
    match tenant.validate() {
        Err(errors) => planner.findings.spec_errors = Some(errors),
        Ok(()) => {
            namespaces = planner.plan();
            planner.plan_hibernation();
        }
    }
    let Planner {
        mut actions,
        findings,
        ..
    } = planner;
    let after = findings.phase();
    let phase = if actions.is_empty() {
        after
    } else {
        TenantPhase::Provisioning
    };
    let status = status(tenant, after, &findings, namespaces, now);
    let events = new_problems(tenant, &status);
    if tenant.status.as_ref() != Some(&status) {
        actions.push(status_write(name, status));
    }
    let requeue = if findings.waiting.is_empty() {
        Requeue::OnChange
    } else {
        Requeue::After(TERMINATING_NAMESPACE_RECHECK)
    };
    Decision {
        from,
        phase,
        actions,
        events,
        requeue,
    }
}

/// Everything that keeps a tenant from Active.
#[derive(Default)]
struct Findings {
    spec_errors: Option<ValidationErrors>,
    quota: QuotaFinding,
    /// Namespaces the tenant cannot have, with the reason.
    conflicts: Vec<(String, String)>,
    /// Namespaces someone else is deleting; claimed once they are gone.
    waiting: Vec<String>,
    /// Namespaces not created while the quota cannot be resolved.
    held: Vec<String>,
    /// Quota increases deferred until decreases elsewhere have landed.
    deferred_quotas: usize,
    /// `spec.hibernation` is set: whether its supervisor could be applied
    /// (`Err`: why not).
    hibernation: Option<Result<(), String>>,
}

#[derive(Default)]
enum QuotaFinding {
    #[default]
    NotSet,
    Resolved,
    Missing(String),
    Invalid(String, ValidationErrors),
}

impl Findings {
    fn phase(&self) -> TenantPhase {
        let degraded = self.spec_errors.is_some()
            || matches!(
                self.quota,
                QuotaFinding::Missing(_) | QuotaFinding::Invalid(..)
            )
            || !self.conflicts.is_empty()
            || matches!(self.hibernation, Some(Err(_)));
        if degraded {
            TenantPhase::Degraded
        } else if !self.waiting.is_empty() || self.deferred_quotas > 0 {
            TenantPhase::Provisioning
        } else {
            TenantPhase::Active
        }
    }
}

struct Planner<'a, O> {
    tenant: &'a Tenant,
    name: &'a str,
    observed: &'a O,
    actions: Vec<Action>,
    findings: Findings,
}

impl<'a, O: Observed> Planner<'a, O> {
    fn new(tenant: &'a Tenant, name: &'a str, observed: &'a O) -> Self {
        Planner {
            tenant,
            name,
            observed,
            actions: Vec::new(),
            findings: Findings::default(),
        }
    }

    /// Plans every object; returns the namespaces the tenant will have.
    fn plan(&mut self) -> Vec<String> {
        let quota = self.resolve_quota();
        let integration = self.observed.integration();
        let may_create = quota.is_some() || matches!(self.findings.quota, QuotaFinding::NotSet);
        let all_requested = requested_namespaces(self.tenant);
        let requested: BTreeSet<String> = all_requested.iter().map(|r| r.name.clone()).collect();
        let mut planned = self.claimable(all_requested, may_create);
        let waiting: BTreeSet<&str> = self.findings.waiting.iter().map(String::as_str).collect();

        // Labelled namespaces the spec does not ask for: released when mto
        // claimed them, joined to the tenant when someone else labelled them.
        let mut releases = Vec::new();
        let labelled: Vec<&str> = self
            .observed
            .tenant_namespaces(self.name)
            .filter(|ns| !requested.contains(*ns) && !waiting.contains(ns))
            .collect();
        for ns in labelled {
            let Some(observed) = self
                .observed
                .namespace(ns)
                .filter(|n| n.metadata.deletion_timestamp.is_none())
            else {
                continue;
            };
            if mto_owns_tenant_label(observed) {
                releases.push(self.release(observed));
            } else {
                let kind = observed
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(KIND_LABEL));
                let joined = RequestedNamespace {
                    name: ns.to_owned(),
                    kind: kind.cloned().unwrap_or_default(),
                    sandbox_user: None,
                    joined: true,
                };
                planned.push((joined, Some(observed)));
            }
        }
        let wanted: BTreeSet<&str> = planned.iter().map(|(r, _)| r.name.as_str()).collect();

        let subjects = RoleSubjects::of(&self.tenant.spec);
        let private = self
            .tenant
            .spec
            .namespaces
            .as_ref()
            .and_then(|n| n.sandboxes.as_ref())
            .is_some_and(|s| s.private);
        let mut quota_changes = Vec::new();
        let parts = u32::try_from(planned.len()).unwrap_or(u32::MAX);
        let share = quota
            .and_then(|q| q.spec.resourcequota.as_ref())
            .map(|total| desired::quota_share(total, parts));
        for (requested, observed_ns) in &planned {
            let adopted = requested.joined || observed_ns.is_some_and(|n| is_adopted(n, self.name));
            let ns = desired::namespace(self.tenant, integration, requested, adopted);
            match observed_ns {
                None => self.actions.push(Action::Apply {
                    object: Object::from(ns.clone()),
                    reason: Reason::Create,
                }),
                Some(o) if !metadata_in_sync(&ns.metadata, &o.metadata) => {
                    self.actions.push(Action::Apply {
                        object: Object::from(ns.clone()),
                        reason: Reason::Drift,
                    });
                }
                Some(_) => {}
            }
            let empty = BTreeMap::new();
            let labels = ns.metadata.labels.as_ref().unwrap_or(&empty);
            let bindings = desired::role_bindings(
                self.name,
                labels,
                requested,
                private,
                &subjects,
                integration,
            );
            self.sync_role_bindings(&requested.name, &bindings);
            self.sync_limit_range(
                &requested.name,
                quota.and_then(|q| q.spec.limitrange.as_ref()),
            );
            if share.is_some() {
                quota_changes.push(requested.name.as_str());
            } else if quota.is_some() {
                self.delete_managed(Kind::ResourceQuota, &requested.name, RESOURCE_QUOTA_NAME);
            }
        }
        let total = quota.and_then(|q| q.spec.resourcequota.as_ref());
        self.sync_quotas(total, share.as_ref(), &quota_changes, &releases);
        let mut names: Vec<String> = wanted.into_iter().map(str::to_owned).collect();
        names.sort();
        names
    }

    fn resolve_quota(&mut self) -> Option<&'a Quota> {
        let name = self.tenant.spec.quota.as_deref()?;
        match self.observed.quota(name) {
            None => {
                self.findings.quota = QuotaFinding::Missing(name.to_owned());
                None
            }
            Some(q) => match q.validate() {
                Ok(()) => {
                    self.findings.quota = QuotaFinding::Resolved;
                    Some(q)
                }
                Err(e) => {
                    self.findings.quota = QuotaFinding::Invalid(name.to_owned(), e);
                    None
                }
            },
        }
    }

    /// The requested namespaces this tenant may have now, with what is
    /// observed of each; records conflicts, waits and holds.
    fn claimable(
        &mut self,
        requested_namespaces: Vec<RequestedNamespace>,
        may_create: bool,
    ) -> Vec<(RequestedNamespace, Option<&'a Namespace>)> {
        let mut planned = Vec::new();
        for requested in requested_namespaces {
            let ns = requested.name.as_str();
            let observed = self.observed.namespace(ns);
            if self.observed.integration().is_privileged_namespace(ns) {
                self.findings.conflicts.push((
                    ns.to_owned(),
                    "is a privileged namespace no tenant may claim".into(),
                ));
                continue;
            }
            match observed
                .and_then(|n| n.metadata.labels.as_ref())
                .and_then(|l| l.get(TENANT_LABEL))
            {
                Some(owner) if owner != self.name => {
                    self.findings
                        .conflicts
                        .push((ns.to_owned(), format!("belongs to tenant {owner}")));
                    continue;
                }
                Some(_) => {}
                None => {
                    if let Some(first) = self
                        .observed
                        .claimants(ns)
                        .next()
                        .filter(|f| *f != self.name)
                    {
                        self.findings.conflicts.push((
                            ns.to_owned(),
                            format!("is also requested by tenant {first}, which asked first"),
                        ));
                        continue;
                    }
                    if observed.is_none() && !may_create {
                        self.findings.held.push(ns.to_owned());
                        continue;
                    }
                }
            }
            if observed.is_some_and(|n| n.metadata.deletion_timestamp.is_some()) {
                self.findings.waiting.push(ns.to_owned());
                continue;
            }
            planned.push((requested, observed));
        }
        planned
    }

    /// Removes mto's objects from a namespace the tenant no longer asks for,
    /// then its labels. Returns the namespace's quota values, now freed.
    fn release(&mut self, ns: &Namespace) -> BTreeMap<String, Quantity> {
        let name = ns.metadata.name.as_deref().unwrap_or_default();
        let bindings: Vec<(String, Option<String>)> = self
            .observed
            .role_bindings(name)
            .filter(|rb| is_managed_for(&rb.metadata, self.name))
            .map(|rb| {
                (
                    rb.metadata.name.clone().unwrap_or_default(),
                    rb.metadata.uid.clone(),
                )
            })
            .collect();
        for (rb, uid) in bindings {
            self.actions.push(Action::Delete {
                target: ObjectRef::namespaced(Kind::RoleBinding, name, rb),
                uid,
                reason: Reason::Release,
            });
        }
        self.delete_managed(Kind::LimitRange, name, LIMIT_RANGE_NAME);
        let freed = self.delete_managed(Kind::ResourceQuota, name, RESOURCE_QUOTA_NAME);
        let mut annotations =
            BTreeMap::from([(RELEASED_FROM_ANNOTATION.to_owned(), self.name.to_owned())]);
        if ns
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(ADOPTED_ANNOTATION))
        {
            annotations.insert(ADOPTED_ANNOTATION.into(), "true".into());
        }
        let released = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                annotations: Some(annotations),
                ..Default::default()
            },
            ..Default::default()
        };
        self.actions.push(Action::Apply {
            object: Object::from(released),
            reason: Reason::Release,
        });
        freed
    }

    /// The ClusterResourceSupervisor of `spec.hibernation`: applied while
    /// asked for, deleted (its workloads wake first) when no longer.
    fn plan_hibernation(&mut self) {
        let desired = desired::tenant_supervisor(self.tenant);
        let observed = self.observed.cluster_resource_supervisor(self.name);
        let ours = observed.is_some_and(|o| is_managed_for(&o.metadata, self.name));
        match (desired, observed) {
            (Some(want), None) => {
                self.actions.push(Action::Apply {
                    object: Object::from(want),
                    reason: Reason::Create,
                });
                self.findings.hibernation = Some(Ok(()));
            }
            (Some(want), Some(have)) if ours => {
                if have.spec != want.spec || !metadata_in_sync(&want.metadata, &have.metadata) {
                    self.actions.push(Action::Apply {
                        object: Object::from(want),
                        reason: Reason::Drift,
                    });
                }
                self.findings.hibernation = Some(Ok(()));
            }
            (Some(_), Some(_)) => {
                self.findings.hibernation = Some(Err(format!(
                    "ClusterResourceSupervisor {} exists and is not this tenant's; rename it, or remove spec.hibernation and use it instead",
                    self.name
                )));
            }
            (None, Some(have)) if ours && have.metadata.deletion_timestamp.is_none() => {
                self.actions.push(Action::Delete {
                    target: ObjectRef::cluster(Kind::ClusterResourceSupervisor, self.name),
                    uid: have.metadata.uid.clone(),
                    reason: Reason::Remove,
                });
            }
            (None, _) => {}
        }
    }

    /// Deletes mto's object of this kind and name in `namespace`, if there
    /// is one; returns its quota values (for quotas).
    fn delete_managed(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> BTreeMap<String, Quantity> {
        let meta = match kind {
            Kind::ResourceQuota => self
                .observed
                .resource_quota(namespace, name)
                .map(|o| &o.metadata),
            Kind::LimitRange => self
                .observed
                .limit_range(namespace, name)
                .map(|o| &o.metadata),
            _ => None,
        };
        let Some(meta) = meta.filter(|m| is_managed_for(m, self.name)) else {
            return BTreeMap::new();
        };
        self.actions.push(Action::Delete {
            target: ObjectRef::namespaced(kind.clone(), namespace, name),
            uid: meta.uid.clone(),
            reason: Reason::Remove,
        });
        if kind == Kind::ResourceQuota {
            quota_values(self.observed.resource_quota(namespace, name))
        } else {
            BTreeMap::new()
        }
    }

    fn sync_role_bindings(&mut self, namespace: &str, desired: &[desired::DesiredBinding<'_>]) {
        let tenant = self.name;
        for rb in self.observed.role_bindings(namespace) {
            let name = rb.metadata.name.as_deref().unwrap_or_default();
            if is_managed_for(&rb.metadata, tenant) && !desired.iter().any(|d| d.name == name) {
                let target = ObjectRef::namespaced(Kind::RoleBinding, namespace, name);
                self.actions.push(Action::Delete {
                    target,
                    uid: rb.metadata.uid.clone(),
                    reason: Reason::Remove,
                });
            }
        }
        for want in desired {
            let observed = self
                .observed
                .role_bindings(namespace)
                .find(|rb| rb.metadata.name.as_deref() == Some(&want.name));
            match observed {
                None => self.actions.push(Action::Apply {
                    object: Object::from(want.build(tenant, namespace)),
                    reason: Reason::Create,
                }),
                Some(o) if want.matches(o, tenant) => {}
                Some(o)
                    if o.role_ref.name != want.cluster_role || o.role_ref.kind != "ClusterRole" =>
                {
                    // roleRef is immutable: replace the binding, but only one mto made.
                    if is_managed_for(&o.metadata, tenant) {
                        let target =
                            ObjectRef::namespaced(Kind::RoleBinding, namespace, &want.name);
                        self.actions.push(Action::Delete {
                            target,
                            uid: o.metadata.uid.clone(),
                            reason: Reason::Drift,
                        });
                        self.actions.push(Action::Apply {
                            object: Object::from(want.build(tenant, namespace)),
                            reason: Reason::Create,
                        });
                    } else {
                        self.findings.conflicts.push((
                            namespace.to_owned(),
                            format!(
                                "holds a RoleBinding {} mto did not create; rename or remove it",
                                want.name
                            ),
                        ));
                    }
                }
                Some(_) => self.actions.push(Action::Apply {
                    object: Object::from(want.build(tenant, namespace)),
                    reason: Reason::Drift,
                }),
            }
        }
    }

    fn sync_limit_range(
        &mut self,
        namespace: &str,
        spec: Option<&k8s_openapi::api::core::v1::LimitRangeSpec>,
    ) {
        let Some(spec) = spec else {
            if matches!(self.findings.quota, QuotaFinding::Resolved) {
                self.delete_managed(Kind::LimitRange, namespace, LIMIT_RANGE_NAME);
            }
            return;
        };
        let in_sync = self
            .observed
            .limit_range(namespace, LIMIT_RANGE_NAME)
            .map(|o| {
                let have = o
                    .spec
                    .as_ref()
                    .map(|s| s.limits.as_slice())
                    .unwrap_or_default();
                desired::has_managed_labels(&o.metadata, self.name)
                    && have.len() == spec.limits.len()
                    && spec.limits.iter().zip(have).all(|(w, h)| {
                        w.type_ == h.type_
                            && desired::carries_quantities(w.default.as_ref(), h.default.as_ref())
                            && desired::carries_quantities(
                                w.default_request.as_ref(),
                                h.default_request.as_ref(),
                            )
                            && desired::carries_quantities(w.max.as_ref(), h.max.as_ref())
                            && desired::carries_quantities(w.min.as_ref(), h.min.as_ref())
                            && desired::carries_quantities(
                                w.max_limit_request_ratio.as_ref(),
                                h.max_limit_request_ratio.as_ref(),
                            )
                    })
            });
        let desired = || desired::limit_range(self.name, namespace, spec);
        match in_sync {
            None => self.actions.push(Action::Apply {
                object: Object::from(desired()),
                reason: Reason::Create,
            }),
            Some(false) => self.actions.push(Action::Apply {
                object: Object::from(desired()),
                reason: Reason::Drift,
            }),
            Some(true) => {}
        }
    }

    /// Quota writes ordered so the namespaces' quotas never sum above the
    /// tenant's: decreases first, then increases that fit.
    fn sync_quotas(
        &mut self,
        total: Option<&ResourceQuotaSpec>,
        share: Option<&ResourceQuotaSpec>,
        namespaces: &[&str],
        released: &[BTreeMap<String, Quantity>],
    ) {
        // Most decisions find every quota in place: compare first, and only
        // parse quantities for the quotas that differ.
        let mut changed = Vec::new();
        let Some(share) = share else { return };
        for ns in namespaces {
            let observed = self.observed.resource_quota(ns, RESOURCE_QUOTA_NAME);
            let reason = match observed {
                None => Reason::Create,
                Some(o) => {
                    let have = o.spec.as_ref();
                    let same = desired::same_quantities(
                        share.hard.as_ref(),
                        have.and_then(|s| s.hard.as_ref()),
                    ) && Some(&share.scopes) == have.map(|s| &s.scopes)
                        && Some(&share.scope_selector) == have.map(|s| &s.scope_selector)
                        && desired::has_managed_labels(&o.metadata, self.name);
                    if same {
                        continue;
                    }
                    Reason::Drift
                }
            };
            changed.push((
                desired::resource_quota(self.name, ns, share),
                observed,
                reason,
            ));
        }
        if changed.is_empty() {
            return;
        }
        let limits: BTreeMap<&str, Quantity> = total
            .and_then(|t| t.hard.as_ref())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), Quantity::parse(&v.0).unwrap_or_default()))
            .collect();
        let mut sum: BTreeMap<String, Quantity> = BTreeMap::new();
        let add = |sum: &mut BTreeMap<String, Quantity>,
                   values: &BTreeMap<String, Quantity>,
                   sign: i128| {
            for (r, v) in values {
                let e = sum.entry(r.clone()).or_default();
                *e = Quantity::from_nanos(e.nanos() + sign * v.nanos());
            }
        };
        for ns in self.observed.tenant_namespaces(self.name) {
            let rq = self
                .observed
                .resource_quota(ns, RESOURCE_QUOTA_NAME)
                .filter(|rq| is_managed_for(&rq.metadata, self.name));
            add(&mut sum, &quota_values(rq), 1);
        }
        for freed in released {
            add(&mut sum, freed, -1);
        }
        let mut grows = Vec::new();
        for (rq, observed, reason) in changed {
            let old = quota_values(observed);
            let new = quota_values(Some(&rq));
            let shrink =
                observed.is_some() && new.iter().all(|(r, v)| old.get(r).is_some_and(|o| v <= o));
            if shrink {
                add(&mut sum, &old, -1);
                add(&mut sum, &new, 1);
                self.actions.push(Action::Apply {
                    object: Object::from(rq),
                    reason,
                });
            } else {
                grows.push((rq, old, new, reason));
            }
        }
        for (rq, old, new, reason) in grows {
            let mut after = sum.clone();
            add(&mut after, &old, -1);
            add(&mut after, &new, 1);
            // A write may not raise a sum above the tenant's limit; lowering
            // one a user pushed over it is always fine.
            let fits = limits.iter().all(|(r, limit)| {
                let a = after.get(*r).copied().unwrap_or_default();
                a <= *limit || a <= sum.get(*r).copied().unwrap_or_default()
            });
            if fits {
                sum = after;
                self.actions.push(Action::Apply {
                    object: Object::from(rq),
                    reason,
                });
                continue;
            }
            self.findings.deferred_quotas += 1;
            // A change that lowers some resources and raises others is
            // written in two steps, lowering first, so two such changes
            // never wait on each other.
            if new.iter().any(|(r, v)| old.get(r).is_some_and(|o| v < o)) {
                let lowered = lower_only(rq, &old, &new);
                add(&mut sum, &old, -1);
                add(&mut sum, &quota_values(Some(&lowered)), 1);
                self.actions.push(Action::Apply {
                    object: Object::from(lowered),
                    reason,
                });
            }
        }
    }
}

/// The quota with each resource at the lower of its old and new values.
fn lower_only(
    mut rq: k8s_openapi::api::core::v1::ResourceQuota,
    old: &BTreeMap<String, Quantity>,
    new: &BTreeMap<String, Quantity>,
) -> k8s_openapi::api::core::v1::ResourceQuota {
    if let Some(hard) = rq.spec.as_mut().and_then(|s| s.hard.as_mut()) {
        for (r, value) in hard.iter_mut() {
            if let (Some(o), Some(n)) = (old.get(r), new.get(r))
                && o < n
            {
                value.0 = o.to_string();
            }
        }
    }
    rq
}

/// Whether mto's field manager owns the namespace's tenant label.
fn mto_owns_tenant_label(ns: &Namespace) -> bool {
    crate::apply::owned_keys(&ns.metadata, crate::apply::MetadataField::Labels)
        .contains(&TENANT_LABEL)
}

/// Whether a namespace existed before mto claimed it for `tenant`: such
/// namespaces are never deleted by a purge.
fn is_adopted(ns: &Namespace, tenant: &str) -> bool {
    let annotations = ns.metadata.annotations.as_ref();
    if annotations.is_some_and(|a| a.contains_key(ADOPTED_ANNOTATION)) {
        return true;
    }
    let ours = ns
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(TENANT_LABEL))
        .is_some_and(|t| t == tenant);
    let released_by_mto = annotations.is_some_and(|a| a.contains_key(RELEASED_FROM_ANNOTATION));
    !ours && !released_by_mto
}

/// The write of a tenant's whole status.
fn status_write(name: &str, status: TenantStatus) -> Action {
    let mut object = Tenant::new(name, Default::default());
    object.status = Some(status);
    Action::ApplyStatus {
        object: object.into(),
    }
}

fn terminate(
    tenant: &Tenant,
    name: &str,
    from: TenantPhase,
    has_finalizer: bool,
    observed: &impl Observed,
    now: Timestamp,
) -> Decision {
    if !has_finalizer {
        // Nothing of mto's holds the tenant back; Kubernetes removes it.
        return Decision {
            from,
            phase: TenantPhase::Terminating,
            actions: Vec::new(),
            events: Vec::new(),
            requeue: Requeue::OnChange,
        };
    }
    let purge = tenant
        .spec
        .namespaces
        .as_ref()
        .and_then(|n| n.on_delete_purge_namespaces)
        .unwrap_or(false);
    let mut planner = Planner::new(tenant, name, observed);
    let status = status(
        tenant,
        TenantPhase::Terminating,
        &planner.findings,
        Vec::new(),
        now,
    );
    if tenant.status.as_ref() != Some(&status) {
        planner.actions.push(status_write(name, status));
    }
    let status_writes = planner.actions.len();
    let owned: Vec<&str> = observed.tenant_namespaces(name).collect();
    for ns in owned {
        let Some(namespace) = observed.namespace(ns) else {
            continue;
        };
        if namespace.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if purge && !is_adopted(namespace, name) {
            let target = ObjectRef::cluster(Kind::Namespace, ns);
            planner.actions.push(Action::Delete {
                target,
                uid: namespace.metadata.uid.clone(),
                reason: Reason::Purge,
            });
        } else {
            planner.release(namespace);
            if !mto_owns_tenant_label(namespace) {
                // A tenant label mto did not set would hand the namespace to
                // any future tenant of the same name.
                planner.actions.push(Action::Patch {
                    target: ObjectRef::cluster(Kind::Namespace, ns),
                    patch: Patch::Merge(MergePatch {
                        labels: [
                            (TENANT_LABEL.to_owned(), None),
                            (KIND_LABEL.to_owned(), None),
                        ]
                        .into(),
                        ..MergePatch::default()
                    }),
                    reason: Reason::Release,
                });
            }
        }
    }
    // The supervisor of spec.hibernation goes with the tenant (its
    // finalizer wakes its workloads first).
    if let Some(supervisor) = observed
        .cluster_resource_supervisor(name)
        .filter(|c| is_managed_for(&c.metadata, name) && c.metadata.deletion_timestamp.is_none())
    {
        planner.actions.push(Action::Delete {
            target: ObjectRef::cluster(Kind::ClusterResourceSupervisor, name),
            uid: supervisor.metadata.uid.clone(),
            reason: Reason::Remove,
        });
    }
    let mut actions = planner.actions;
    if actions.len() == status_writes {
        // Everything is released or purging: let the tenant go.
        actions.extend(
            FinalizerEdit::of(&tenant.metadata, TENANT_FINALIZER, false).map(|patch| {
                Action::Patch {
                    target: ObjectRef::cluster(Kind::Tenant, name),
                    patch: Patch::Finalizer(patch),
                    reason: Reason::RemoveFinalizer,
                }
            }),
        );
    }
    Decision {
        from,
        phase: TenantPhase::Terminating,
        actions,
        events: Vec::new(),
        requeue: Requeue::OnChange,
    }
}

fn status(
    tenant: &Tenant,
    phase: TenantPhase,
    findings: &Findings,
    namespaces: Vec<String>,
    now: Timestamp,
) -> TenantStatus {
    let generation = tenant.metadata.generation;
    let previous = tenant
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let condition = |type_: &str, ok: bool, reason: &str, message: String| {
        crate::conditions::condition(previous, type_, ok, reason, message, generation, now)
    };
    let spec = match &findings.spec_errors {
        None => condition(
            "SpecValid",
            true,
            "Valid",
            "The tenant spec is valid.".into(),
        ),
        Some(e) => condition("SpecValid", false, "Invalid", e.to_string()),
    };
    let quota = match &findings.quota {
        QuotaFinding::NotSet => condition(
            "QuotaResolved",
            true,
            "NotSet",
            "The tenant names no quota; its namespaces get none.".into(),
        ),
        QuotaFinding::Resolved => condition(
            "QuotaResolved",
            true,
            "Resolved",
            format!(
                "Quota {} is applied.",
                tenant.spec.quota.as_deref().unwrap_or_default()
            ),
        ),
        QuotaFinding::Missing(q) => condition(
            "QuotaResolved",
            false,
            "QuotaNotFound",
            format!(
                "Quota {q} does not exist; create it or change spec.quota. New namespaces wait for it: {}.",
                list_or_none(&findings.held)
            ),
        ),
        QuotaFinding::Invalid(q, e) => condition(
            "QuotaResolved",
            false,
            "QuotaInvalid",
            format!("Quota {q} is invalid: {e}"),
        ),
    };
    let claimed = if findings.conflicts.is_empty() {
        condition(
            "NamespacesClaimed",
            true,
            "Claimed",
            format!("{} namespaces claimed.", namespaces.len()),
        )
    } else {
        let detail: Vec<String> = findings
            .conflicts
            .iter()
            .map(|(ns, why)| format!("{ns} {why}"))
            .collect();
        condition(
            "NamespacesClaimed",
            false,
            "NamespaceConflict",
            format!("{}; change the tenant's namespaces.", detail.join("; ")),
        )
    };
    let hibernation = findings.hibernation.as_ref().map(|h| match h {
        Ok(()) => condition(
            "HibernationApplied",
            true,
            "Applied",
            format!(
                "ClusterResourceSupervisor {} carries spec.hibernation.",
                tenant.metadata.name.as_deref().unwrap_or_default()
            ),
        ),
        Err(why) => condition(
            "HibernationApplied",
            false,
            "SupervisorConflict",
            why.clone(),
        ),
    });
    let ready = match phase {
        TenantPhase::Active => condition(
            "Ready",
            true,
            "Active",
            "Everything the tenant asks for is in place.".into(),
        ),
        TenantPhase::Terminating | TenantPhase::Gone => condition(
            "Ready",
            false,
            "Terminating",
            "The tenant is being deleted.".into(),
        ),
        _ => {
            let (reason, message) = [&spec, &quota, &claimed]
                .into_iter()
                .chain(hibernation.as_ref())
                .find(|c| c.status == "False")
                .map(|c| (c.reason.clone(), c.message.clone()))
                .unwrap_or_else(|| {
                    if findings.waiting.is_empty() {
                        (
                            "Provisioning".into(),
                            "Quota changes are waiting for decreases elsewhere to land.".into(),
                        )
                    } else {
                        (
                            "NamespaceTerminating".into(),
                            format!(
                                "Waiting for namespaces being deleted: {}.",
                                findings.waiting.join(", ")
                            ),
                        )
                    }
                });
            condition("Ready", false, &reason, message)
        }
    };
    TenantStatus {
        phase: Some(phase.name().into()),
        observed_generation: generation,
        conditions: [ready, spec, quota, claimed]
            .into_iter()
            .chain(hibernation)
            .collect(),
        namespaces,
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Warning events for conditions that turned False (or changed reason).
fn new_problems(tenant: &Tenant, status: &TenantStatus) -> Vec<Event> {
    let previous = tenant
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let regarding = ObjectRef::cluster(
        Kind::Tenant,
        tenant.metadata.name.clone().unwrap_or_default(),
    );
    crate::conditions::new_problems(&regarding, previous, &status.conditions)
}
