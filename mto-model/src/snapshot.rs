//! An in-memory cluster view, and an executor of actions against it.
//!
//! The executor follows the Kubernetes semantics mto relies on (server-side
//! apply of mto's fields, uid-guarded deletes, namespace deletion removing
//! what the namespace holds) without the rest of an apiserver; `mto-sim`
//! adds resource versions, finalizers on namespaces, watches and faults.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::action::{Action, Kind, ObjectRef, Resource};
use crate::api::{Quota, Tenant};
use crate::apply::apply_metadata;
use crate::hibernation::{
    Supervisor, SupervisorAction, Workload, WorkloadKind, WorkloadRef, WorkloadView,
};
use crate::integration::Integration;
use crate::labels::{TENANT_FINALIZER, TENANT_LABEL};
use crate::observed::{NamespaceClaims, Observed};
use crate::tenant::requested_namespaces;

/// An in-memory [`Observed`] built from plain objects.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Tenants by name.
    pub tenants: BTreeMap<String, Tenant>,
    /// Quotas by name.
    pub quotas: BTreeMap<String, Quota>,
    /// The integration config in force.
    pub integration: Integration,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Role bindings by namespace, then name.
    pub role_bindings: BTreeMap<String, BTreeMap<String, RoleBinding>>,
    /// Resource quotas by namespace, then name.
    pub resource_quotas: BTreeMap<String, BTreeMap<String, ResourceQuota>>,
    /// Limit ranges by namespace, then name.
    pub limit_ranges: BTreeMap<String, BTreeMap<String, LimitRange>>,
    /// Deployments by namespace, then name.
    pub deployments: BTreeMap<String, BTreeMap<String, Deployment>>,
    /// StatefulSets by namespace, then name.
    pub stateful_sets: BTreeMap<String, BTreeMap<String, StatefulSet>>,
    /// Sleep supervisors of both scopes, by [`Supervisor::key`].
    pub supervisors: BTreeMap<String, Supervisor>,
    tenant_index: BTreeMap<String, BTreeSet<String>>,
    claims: NamespaceClaims,
    next_uid: u64,
}

impl Snapshot {
    /// Rebuilds the indexes after the public maps were changed directly.
    pub fn reindex(&mut self) {
        self.tenant_index.clear();
        for (name, ns) in &self.namespaces {
            if let Some(t) = ns
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(TENANT_LABEL))
            {
                self.tenant_index
                    .entry(t.clone())
                    .or_default()
                    .insert(name.clone());
            }
        }
        self.claims = NamespaceClaims::build(self.tenants.values());
    }
}

impl Observed for Snapshot {
    fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.get(name)
    }
    fn cluster_resource_supervisor(
        &self,
        name: &str,
    ) -> Option<&crate::api::ClusterResourceSupervisor> {
        match self
            .supervisors
            .get(&format!("ClusterResourceSupervisor/{name}"))?
        {
            Supervisor::Cluster(c) => Some(c),
            Supervisor::Namespaced(_) => None,
        }
    }
    fn quota(&self, name: &str) -> Option<&Quota> {
        self.quotas.get(name)
    }
    fn integration(&self) -> &Integration {
        &self.integration
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }
    fn tenant_namespaces(&self, tenant: &str) -> impl Iterator<Item = &str> {
        self.tenant_index
            .get(tenant)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
    fn role_bindings(&self, namespace: &str) -> impl Iterator<Item = &RoleBinding> {
        self.role_bindings
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
    }
    fn resource_quota(&self, namespace: &str, name: &str) -> Option<&ResourceQuota> {
        self.resource_quotas.get(namespace)?.get(name)
    }
    fn limit_range(&self, namespace: &str, name: &str) -> Option<&LimitRange> {
        self.limit_ranges.get(namespace)?.get(name)
    }
    fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str> {
        self.claims.claimants(namespace)
    }
}

/// Why the executor refused an action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    /// The object the action targets does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The namespace of a namespaced object does not exist or is terminating.
    #[error("namespace {0} does not exist or is terminating")]
    NamespaceUnavailable(String),
    /// A RoleBinding's roleRef cannot change.
    #[error("roleRef of RoleBinding {0} is immutable")]
    RoleRefImmutable(String),
    /// The object changed since it was observed (a stale resourceVersion).
    #[error("{0} changed since it was observed")]
    Conflict(String),
}

impl Snapshot {
    /// Adds or replaces a tenant and updates the claims index.
    pub fn put_tenant(&mut self, tenant: Tenant) {
        let name = tenant.metadata.name.clone().unwrap_or_default();
        if let Some(old) = self.tenants.remove(&name) {
            self.claims.remove(&old);
        }
        self.claims.add(&tenant);
        self.tenants.insert(name, tenant);
    }

    /// Tenants other than `tenant` asking for one of its namespaces that
    /// `which` selects: those whose claim changes when `tenant` does.
    pub fn other_claimants(&self, tenant: &Tenant, which: impl Fn(&str) -> bool) -> Vec<String> {
        let name = tenant.metadata.name.as_deref().unwrap_or_default();
        let mut out = BTreeSet::new();
        for requested in requested_namespaces(tenant)
            .into_iter()
            .filter(|r| which(&r.name))
        {
            out.extend(
                self.claimants(&requested.name)
                    .filter(|c| *c != name)
                    .map(str::to_owned),
            );
        }
        out.into_iter().collect()
    }

    /// When a tenant's spec goes from `before` to `after` (`None`: not
    /// there): the other tenants asking for a namespace it stops or starts
    /// asking for, which may now get it, or lose it, to this tenant.
    #[must_use]
    pub fn claims_changed(&self, before: Option<&Tenant>, after: Option<&Tenant>) -> Vec<String> {
        let names = |t: Option<&Tenant>| -> BTreeSet<String> {
            t.map(requested_namespaces)
                .into_iter()
                .flatten()
                .map(|r| r.name)
                .collect()
        };
        let (asked_before, asked_after) = (names(before), names(after));
        let mut woken = BTreeSet::new();
        if let Some(old) = before {
            woken.extend(self.other_claimants(old, |ns| !asked_after.contains(ns)));
        }
        if let Some(new) = after {
            woken.extend(self.other_claimants(new, |ns| !asked_before.contains(ns)));
        }
        woken.into_iter().collect()
    }

    /// The tenants a change to `object` concerns, as a controller's watch
    /// mapping enqueues them: a namespace's tenant and everyone asking for
    /// it, an object's namespace's tenant, a quota's users, everyone for
    /// the integration config.
    #[must_use]
    pub fn affected_tenants(&self, object: &ObjectRef) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let label_of = |ns: &str| {
            self.namespace(ns)
                .and_then(|n| n.metadata.labels.as_ref()?.get(TENANT_LABEL).cloned())
        };
        match object.kind {
            Kind::IntegrationConfig => out.extend(self.tenants.keys().cloned()),
            Kind::Quota => {
                let quota = object.name.as_str();
                out.extend(
                    self.tenants
                        .values()
                        .filter(|t| t.spec.quota.as_deref() == Some(quota))
                        .filter_map(|t| t.metadata.name.clone()),
                );
            }
            Kind::Tenant => {
                out.insert(object.name.clone());
            }
            Kind::Namespace => {
                out.extend(label_of(&object.name));
                out.extend(self.claimants(&object.name).map(str::to_owned));
            }
            // The supervisor of a tenant's spec.hibernation: its tenant.
            Kind::ClusterResourceSupervisor => out.extend(
                self.cluster_resource_supervisor(&object.name)
                    .and_then(|c| c.metadata.labels.as_ref()?.get(TENANT_LABEL).cloned()),
            ),
            _ => out.extend(object.namespace.as_deref().and_then(label_of)),
        }
        out
    }

    /// Removes a tenant (it is gone from the cluster) and its claims.
    pub fn remove_tenant(&mut self, name: &str) -> Option<Tenant> {
        let gone = self.tenants.remove(name)?;
        self.claims.remove(&gone);
        Some(gone)
    }

    /// Removes a namespace (it is gone from the cluster). What it held
    /// stays until removed on its own, as a watch reports it.
    pub fn remove_namespace(&mut self, name: &str) -> Option<Namespace> {
        self.unindex(name);
        self.namespaces.remove(name)
    }

    /// Adds or replaces a namespace.
    pub fn put_namespace(&mut self, mut ns: Namespace) {
        let name = ns.metadata.name.clone().unwrap_or_default();
        if ns.metadata.uid.is_none() {
            ns.metadata.uid = Some(self.uid());
        }
        self.unindex(&name);
        if let Some(t) = ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(TENANT_LABEL))
        {
            self.tenant_index
                .entry(t.clone())
                .or_default()
                .insert(name.clone());
        }
        self.namespaces.insert(name, ns);
    }

    fn unindex(&mut self, namespace: &str) {
        if let Some(t) = self
            .namespaces
            .get(namespace)
            .and_then(|n| n.metadata.labels.as_ref())
            .and_then(|l| l.get(TENANT_LABEL))
            && let Some(set) = self.tenant_index.get_mut(t)
        {
            set.remove(namespace);
        }
    }

    fn uid(&mut self) -> String {
        self.next_uid += 1;
        format!("uid-{}", self.next_uid)
    }

    fn namespace_ready(&self, object: &ObjectMeta) -> Result<(), ExecuteError> {
        let namespace = object.namespace.as_deref().unwrap_or_default();
        match self.namespaces.get(namespace) {
            Some(ns) if ns.metadata.deletion_timestamp.is_none() => Ok(()),
            _ => Err(ExecuteError::NamespaceUnavailable(namespace.to_owned())),
        }
    }

    /// Carries out one action. Returns whether the cluster changed (an
    /// apply of what is already there, or a delete of what is gone, changes
    /// nothing).
    pub fn execute(&mut self, action: &Action) -> Result<bool, ExecuteError> {
        match action {
            Action::Apply { object, .. } => self.apply(object),
            Action::Delete { target, uid, .. } => {
                let ns = target.namespace.as_deref().unwrap_or_default();
                let name = target.name.as_str();
                let matches = |meta: &ObjectMeta| uid.is_none() || meta.uid == *uid;
                Ok(match target.kind {
                    Kind::Namespace => {
                        let found = self
                            .namespaces
                            .get(name)
                            .is_some_and(|n| matches(&n.metadata));
                        if found {
                            self.unindex(name);
                            self.namespaces.remove(name);
                            self.role_bindings.remove(name);
                            self.resource_quotas.remove(name);
                            self.limit_ranges.remove(name);
                        }
                        found
                    }
                    Kind::RoleBinding => {
                        remove_if(&mut self.role_bindings, ns, name, |o| matches(&o.metadata))
                    }
                    Kind::ResourceQuota => remove_if(&mut self.resource_quotas, ns, name, |o| {
                        matches(&o.metadata)
                    }),
                    Kind::LimitRange => {
                        remove_if(&mut self.limit_ranges, ns, name, |o| matches(&o.metadata))
                    }
                    Kind::Tenant => match self.tenants.remove(name) {
                        Some(gone) => {
                            self.claims.remove(&gone);
                            true
                        }
                        None => false,
                    },
                    Kind::Quota => self.quotas.remove(name).is_some(),
                    Kind::IntegrationConfig => false,
                    Kind::ClusterResourceSupervisor => {
                        let key = format!("ClusterResourceSupervisor/{name}");
                        match self.supervisors.get_mut(&key) {
                            Some(s) if !matches(s.meta()) => false,
                            // Its finalizer holds it until its workloads are
                            // awake; the snapshot has no clock, so the
                            // deletion is marked at its creation time.
                            Some(s)
                                if s.meta().finalizers.as_ref().is_some_and(|f| !f.is_empty()) =>
                            {
                                let meta = s.meta_mut();
                                let marked = meta.deletion_timestamp.is_none();
                                if marked {
                                    meta.deletion_timestamp =
                                        Some(meta.creation_timestamp.clone().unwrap_or(
                                            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                                                crate::Timestamp::UNIX_EPOCH,
                                            ),
                                        ));
                                }
                                marked
                            }
                            Some(_) => self.supervisors.remove(&key).is_some(),
                            None => false,
                        }
                    }
                })
            }
            Action::RemoveLabels { target, keys, .. } => {
                let Some(mut ns) = self
                    .namespaces
                    .get(&target.name)
                    .filter(|_| target.kind == Kind::Namespace)
                    .cloned()
                else {
                    return Ok(false);
                };
                let before = ns.metadata.labels.as_ref().map_or(0, BTreeMap::len);
                if let Some(labels) = ns.metadata.labels.as_mut() {
                    labels.retain(|k, _| !keys.contains(k));
                }
                let changed = ns.metadata.labels.as_ref().map_or(0, BTreeMap::len) != before;
                if changed {
                    self.put_namespace(ns);
                }
                Ok(changed)
            }
            Action::AddFinalizer { tenant } | Action::RemoveFinalizer { tenant } => {
                let t = self
                    .tenants
                    .get_mut(tenant)
                    .ok_or_else(|| ExecuteError::NotFound(format!("Tenant/{tenant}")))?;
                let finalizers = t.metadata.finalizers.get_or_insert_with(Vec::new);
                let had = finalizers.iter().any(|f| f == TENANT_FINALIZER);
                finalizers.retain(|f| f != TENANT_FINALIZER);
                if matches!(action, Action::AddFinalizer { .. }) {
                    finalizers.push(TENANT_FINALIZER.into());
                    return Ok(!had);
                }
                if t.metadata.deletion_timestamp.is_some()
                    && finalizers.is_empty()
                    && let Some(gone) = self.tenants.remove(tenant)
                {
                    self.claims.remove(&gone);
                }
                Ok(had)
            }
            Action::UpdateTenantStatus { tenant, status } => {
                let t = self
                    .tenants
                    .get_mut(tenant)
                    .ok_or_else(|| ExecuteError::NotFound(format!("Tenant/{tenant}")))?;
                let changed = t.status.as_ref() != Some(status);
                t.status = Some(status.clone());
                Ok(changed)
            }
        }
    }

    fn apply(&mut self, object: &Resource) -> Result<bool, ExecuteError> {
        match object {
            Resource::ClusterResourceSupervisor(applied) => {
                let key = format!(
                    "ClusterResourceSupervisor/{}",
                    applied.metadata.name.as_deref().unwrap_or_default()
                );
                let uid = self.uid();
                let created = !self.supervisors.contains_key(&key);
                let entry = self.supervisors.entry(key).or_insert_with(|| {
                    let mut new = crate::api::ClusterResourceSupervisor::new(
                        applied.metadata.name.as_deref().unwrap_or_default(),
                        applied.spec.clone(),
                    );
                    new.metadata.uid = Some(uid);
                    new.metadata.generation = Some(1);
                    Supervisor::Cluster(new)
                });
                let Supervisor::Cluster(current) = entry else {
                    return Ok(false);
                };
                let mut changed = apply_metadata(
                    &mut current.metadata,
                    &applied.metadata,
                    "hibernation.stakater.com/v1beta1",
                );
                if current.spec != applied.spec {
                    current.spec = applied.spec.clone();
                    current.metadata.generation =
                        Some(current.metadata.generation.unwrap_or(0) + 1);
                    changed = true;
                }
                Ok(changed || created)
            }
            Resource::Namespace(applied) => {
                let name = applied.metadata.name.clone().unwrap_or_default();
                let existing = self.namespaces.get(&name);
                if existing.is_some_and(|n| n.metadata.deletion_timestamp.is_some()) {
                    return Err(ExecuteError::NamespaceUnavailable(name));
                }
                let created = existing.is_none();
                let mut ns = existing.cloned().unwrap_or_else(|| Namespace {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        labels: Some(BTreeMap::from([(
                            crate::labels::NAMESPACE_NAME_LABEL.to_owned(),
                            name.clone(),
                        )])),
                        ..Default::default()
                    },
                    ..Default::default()
                });
                let changed = apply_metadata(&mut ns.metadata, &applied.metadata, "v1") || created;
                if changed {
                    self.put_namespace(ns);
                }
                Ok(changed)
            }
            Resource::RoleBinding(applied) => {
                let uid = self
                    .namespace_ready(&applied.metadata)
                    .map(|()| self.uid())?;
                let new = |metadata| RoleBinding {
                    metadata,
                    role_ref: applied.role_ref.clone(),
                    subjects: None,
                };
                upsert(
                    &mut self.role_bindings,
                    &applied.metadata,
                    "rbac.authorization.k8s.io/v1",
                    uid,
                    new,
                    |rb| &mut rb.metadata,
                    |rb| {
                        if rb.role_ref != applied.role_ref {
                            return Err(ExecuteError::RoleRefImmutable(
                                rb.metadata.name.clone().unwrap_or_default(),
                            ));
                        }
                        Ok(replace(&mut rb.subjects, &applied.subjects))
                    },
                )
            }
            Resource::ResourceQuota(applied) => {
                let uid = self
                    .namespace_ready(&applied.metadata)
                    .map(|()| self.uid())?;
                let new = |metadata| ResourceQuota {
                    metadata,
                    ..Default::default()
                };
                upsert(
                    &mut self.resource_quotas,
                    &applied.metadata,
                    "v1",
                    uid,
                    new,
                    |rq| &mut rq.metadata,
                    |rq| Ok(replace(&mut rq.spec, &applied.spec)),
                )
            }
            Resource::LimitRange(applied) => {
                let uid = self
                    .namespace_ready(&applied.metadata)
                    .map(|()| self.uid())?;
                let new = |metadata| LimitRange {
                    metadata,
                    ..Default::default()
                };
                upsert(
                    &mut self.limit_ranges,
                    &applied.metadata,
                    "v1",
                    uid,
                    new,
                    |lr| &mut lr.metadata,
                    |lr| Ok(replace(&mut lr.spec, &applied.spec)),
                )
            }
        }
    }
}

/// Server-side apply of a namespaced object: create it if missing, apply
/// mto's metadata, then its spec fields (`set_spec` says whether they
/// changed). Returns whether anything changed.
fn upsert<T>(
    objects: &mut BTreeMap<String, BTreeMap<String, T>>,
    applied: &ObjectMeta,
    api_version: &str,
    uid: String,
    new: impl FnOnce(ObjectMeta) -> T,
    metadata: impl Fn(&mut T) -> &mut ObjectMeta,
    set_spec: impl FnOnce(&mut T) -> Result<bool, ExecuteError>,
) -> Result<bool, ExecuteError> {
    let (ns, name) = names(applied);
    let slot = objects.entry(ns).or_default().entry(name);
    let created = matches!(slot, std::collections::btree_map::Entry::Vacant(_));
    let object = slot.or_insert_with(|| new(new_meta(applied, uid)));
    let spec_changed = set_spec(object)?;
    let metadata_changed = apply_metadata(metadata(object), applied, api_version);
    Ok(created || spec_changed || metadata_changed)
}

/// Sets `field` to `value`; whether it changed.
fn replace<T: PartialEq + Clone>(field: &mut T, value: &T) -> bool {
    let changed = field != value;
    if changed {
        field.clone_from(value);
    }
    changed
}

fn names(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn new_meta(applied: &ObjectMeta, uid: String) -> ObjectMeta {
    ObjectMeta {
        name: applied.name.clone(),
        namespace: applied.namespace.clone(),
        uid: Some(uid),
        ..Default::default()
    }
}

fn remove_if<T>(
    map: &mut BTreeMap<String, BTreeMap<String, T>>,
    ns: &str,
    name: &str,
    matches: impl Fn(&T) -> bool,
) -> bool {
    match map.get_mut(ns) {
        Some(objects) if objects.get(name).is_some_and(&matches) => objects.remove(name).is_some(),
        _ => false,
    }
}

impl WorkloadView for Snapshot {
    fn integration(&self) -> &Integration {
        &self.integration
    }

    fn supervised_namespaces(&self, supervisor: &Supervisor) -> BTreeSet<String> {
        // A namespace annotated `hibernation.stakater.com/exclude: "true"`
        // never sleeps, whoever selects it.
        let eligible = |ns: &Namespace| {
            ns.metadata.deletion_timestamp.is_none()
                && ns
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(crate::labels::HIBERNATION_EXCLUDE_ANNOTATION))
                    .is_none_or(|v| v != "true")
        };
        let live = |name: &str| self.namespaces.get(name).is_some_and(eligible);
        match supervisor {
            Supervisor::Namespaced(s) => s
                .metadata
                .namespace
                .iter()
                .filter(|n| live(n))
                .cloned()
                .collect(),
            Supervisor::Cluster(s) => {
                let selection = &s.spec.namespaces;
                let mut out: BTreeSet<String> = selection
                    .names
                    .iter()
                    .filter(|n| live(n))
                    .cloned()
                    .collect();
                if let Some(selector) = &selection.label_selector {
                    out.extend(
                        self.namespaces
                            .iter()
                            .filter(|(_, ns)| eligible(ns))
                            .filter(|(_, ns)| {
                                crate::selector::matches(selector, ns.metadata.labels.as_ref())
                            })
                            .map(|(name, _)| name.clone()),
                    );
                }
                out
            }
        }
    }

    fn workloads_in(&self, namespace: &str) -> Vec<Workload<'_>> {
        let deployments = self
            .deployments
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(crate::hibernation::deployment);
        let stateful_sets = self
            .stateful_sets
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(crate::hibernation::stateful_set);
        deployments.chain(stateful_sets).collect()
    }

    fn workloads_slept_by(&self, supervisor: &str) -> Vec<Workload<'_>> {
        let deployments = self
            .deployments
            .values()
            .flat_map(BTreeMap::values)
            .map(crate::hibernation::deployment);
        let stateful_sets = self
            .stateful_sets
            .values()
            .flat_map(BTreeMap::values)
            .map(crate::hibernation::stateful_set);
        deployments
            .chain(stateful_sets)
            .filter(|w| w.slept_by() == Some(supervisor))
            .collect()
    }
}

impl Snapshot {
    /// The keys of the supervisors covering `namespace` (by namespace, by
    /// name or by label): whom a change there concerns.
    #[must_use]
    pub fn supervisors_covering(&self, namespace: &str) -> Vec<String> {
        let labels = self
            .namespaces
            .get(namespace)
            .and_then(|n| n.metadata.labels.as_ref());
        self.supervisors
            .iter()
            .filter(|(_, s)| match s {
                Supervisor::Namespaced(r) => r.metadata.namespace.as_deref() == Some(namespace),
                Supervisor::Cluster(c) => {
                    c.spec.namespaces.names.iter().any(|n| n == namespace)
                        || c.spec
                            .namespaces
                            .label_selector
                            .as_ref()
                            .is_some_and(|sel| crate::selector::matches(sel, labels))
                }
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Adds or replaces a supervisor.
    pub fn put_supervisor(&mut self, supervisor: Supervisor) {
        self.supervisors.insert(supervisor.key(), supervisor);
    }

    /// Adds or replaces a Deployment.
    pub fn put_deployment(&mut self, d: Deployment) {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let name = d.metadata.name.clone().unwrap_or_default();
        self.deployments.entry(ns).or_default().insert(name, d);
    }

    /// Adds or replaces a StatefulSet.
    pub fn put_stateful_set(&mut self, s: StatefulSet) {
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let name = s.metadata.name.clone().unwrap_or_default();
        self.stateful_sets.entry(ns).or_default().insert(name, s);
    }

    /// A workload's metadata and `spec.replicas`, to change.
    pub fn workload_mut(
        &mut self,
        workload: &WorkloadRef,
    ) -> Option<(&mut ObjectMeta, &mut Option<i32>)> {
        match workload.kind {
            WorkloadKind::Deployment => {
                let d = self
                    .deployments
                    .get_mut(&workload.namespace)?
                    .get_mut(&workload.name)?;
                let spec = d.spec.get_or_insert_with(Default::default);
                Some((&mut d.metadata, &mut spec.replicas))
            }
            WorkloadKind::StatefulSet => {
                let s = self
                    .stateful_sets
                    .get_mut(&workload.namespace)?
                    .get_mut(&workload.name)?;
                let spec = s.spec.get_or_insert_with(Default::default);
                Some((&mut s.metadata, &mut spec.replicas))
            }
        }
    }

    /// Carries out one supervisor action. Returns whether anything changed.
    pub fn execute_supervisor(&mut self, action: &SupervisorAction) -> Result<bool, ExecuteError> {
        use crate::labels::{
            OVERRIDE_ANNOTATION, SAVED_REPLICAS_ANNOTATION, SLEPT_BY_ANNOTATION,
            SUPERVISOR_FINALIZER,
        };
        let scale = |this: &mut Snapshot,
                     workload: &WorkloadRef,
                     resource_version: &Option<String>,
                     replicas: i32,
                     annotations: Option<(i32, &str)>|
         -> Result<bool, ExecuteError> {
            let (meta, current) = this
                .workload_mut(workload)
                .ok_or_else(|| ExecuteError::NotFound(workload.to_string()))?;
            if resource_version.is_some()
                && meta.resource_version.is_some()
                && meta.resource_version != *resource_version
            {
                return Err(ExecuteError::Conflict(workload.to_string()));
            }
            let before = (current.unwrap_or(1), meta.annotations.clone());
            *current = Some(replicas);
            let notes = meta.annotations.get_or_insert_with(BTreeMap::new);
            match annotations {
                Some((saved, by)) => {
                    notes.insert(SAVED_REPLICAS_ANNOTATION.into(), saved.to_string());
                    notes.insert(SLEPT_BY_ANNOTATION.into(), by.into());
                }
                None => {
                    notes.remove(SAVED_REPLICAS_ANNOTATION);
                    notes.remove(SLEPT_BY_ANNOTATION);
                }
            }
            if notes.is_empty() {
                meta.annotations = None;
            }
            Ok(before != (replicas, meta.annotations.clone()))
        };
        match action {
            SupervisorAction::Sleep {
                workload,
                saved,
                supervisor,
                resource_version,
            } => scale(
                self,
                workload,
                resource_version,
                0,
                Some((*saved, supervisor)),
            ),
            SupervisorAction::Wake {
                workload,
                replicas,
                resource_version,
            } => scale(self, workload, resource_version, *replicas, None),
            SupervisorAction::AddFinalizer { supervisor }
            | SupervisorAction::RemoveFinalizer { supervisor } => {
                let s = self
                    .supervisors
                    .get_mut(supervisor)
                    .ok_or_else(|| ExecuteError::NotFound(supervisor.clone()))?;
                let meta = s.meta_mut();
                let finalizers = meta.finalizers.get_or_insert_with(Vec::new);
                let had = finalizers.iter().any(|f| f == SUPERVISOR_FINALIZER);
                finalizers.retain(|f| f != SUPERVISOR_FINALIZER);
                if matches!(action, SupervisorAction::AddFinalizer { .. }) {
                    finalizers.push(SUPERVISOR_FINALIZER.into());
                    return Ok(!had);
                }
                if meta.deletion_timestamp.is_some() && finalizers.is_empty() {
                    self.supervisors.remove(supervisor);
                }
                Ok(had)
            }
            SupervisorAction::EndOverride { supervisor } => {
                let s = self
                    .supervisors
                    .get_mut(supervisor)
                    .ok_or_else(|| ExecuteError::NotFound(supervisor.clone()))?;
                Ok(s.meta_mut()
                    .annotations
                    .as_mut()
                    .and_then(|a| a.remove(OVERRIDE_ANNOTATION))
                    .is_some())
            }
            SupervisorAction::UpdateStatus { supervisor, status } => {
                let s = self
                    .supervisors
                    .get_mut(supervisor)
                    .ok_or_else(|| ExecuteError::NotFound(supervisor.clone()))?;
                let changed = s.status() != Some(status);
                *s.status_mut() = Some(status.clone());
                Ok(changed)
            }
        }
    }
}
