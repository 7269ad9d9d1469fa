//! An in-memory cluster view, and an executor of actions against it.
//!
//! The executor follows the Kubernetes semantics mto relies on (server-side
//! apply of mto's fields, uid-guarded deletes, namespace deletion removing
//! what the namespace holds) without the rest of an apiserver; `mto-sim`
//! adds resource versions, finalizers on namespaces, watches and faults.
//!
//! Every change goes through the snapshot's methods, so what it derives
//! stays true: the namespaces labelled for each tenant, who claims which
//! namespace, the workloads each supervisor put to sleep, and a revision
//! per tenant that moves whenever anything the tenant's decision reads
//! changes (what [`crate::tenant::Settled`] relies on).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::action::{Kind, ObjectRef};
use crate::api::{Quota, Tenant};
use crate::hibernation::{
    Supervisor, SupervisorId, Workload, WorkloadKind, WorkloadRef, WorkloadView, cluster_key,
};
use crate::integration::Integration;
use crate::labels::TENANT_LABEL;
use crate::observed::{NamespaceClaims, Observed};
use crate::tenant::requested_namespaces;

mod execute;
mod indexes;

pub use execute::ExecuteError;
use indexes::{Coverage, Revisions};

/// The objects a [`Snapshot`] holds, by kind. Read them through
/// [`Snapshot::objects`]; change them through the snapshot's methods, which
/// keep its indexes and revisions true.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Tenants by name.
    pub tenants: BTreeMap<String, Tenant>,
    /// Quotas by name.
    pub quotas: BTreeMap<String, Quota>,
    /// The integration config in force.
    pub integration: Integration,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Role bindings by namespace, then name.
    pub role_bindings: ByNamespace<RoleBinding>,
    /// Resource quotas by namespace, then name.
    pub resource_quotas: ByNamespace<ResourceQuota>,
    /// Limit ranges by namespace, then name.
    pub limit_ranges: ByNamespace<LimitRange>,
    /// Deployments by namespace, then name.
    pub deployments: ByNamespace<Deployment>,
    /// StatefulSets by namespace, then name.
    pub stateful_sets: ByNamespace<StatefulSet>,
    /// Sleep supervisors of both scopes, by [`Supervisor::key`].
    pub supervisors: BTreeMap<String, Supervisor>,
}

/// Namespaced objects by namespace, then name. Boxed: most namespaces hold
/// one or two objects of a kind, and a map node has room for eleven.
pub type ByNamespace<K> = BTreeMap<String, BTreeMap<String, Box<K>>>;

/// An in-memory [`Observed`] built from plain objects.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    objects: Objects,
    tenant_index: BTreeMap<String, BTreeSet<String>>,
    claims: NamespaceClaims,
    revisions: Revisions,
    /// The workloads each supervisor (by key) put to sleep.
    asleep: BTreeMap<String, BTreeSet<WorkloadRef>>,
    coverage: Coverage,
    next_uid: u64,
}

/// A namespaced kind the snapshot keeps by namespace, then name.
pub trait NamespacedKind: Sized + k8s_openapi::Metadata<Ty = ObjectMeta> {
    /// Whether the tenant planner reads this kind: a change concerns the
    /// tenant of the object's namespace.
    const TENANT_INPUT: bool;
    /// The workload kind, for kinds supervisors put to sleep.
    const WORKLOAD: Option<WorkloadKind>;
    /// Where the snapshot keeps objects of this kind.
    fn shelf(objects: &Objects) -> &ByNamespace<Self>;
    /// The same, to change.
    fn shelf_mut(objects: &mut Objects) -> &mut ByNamespace<Self>;
}

macro_rules! namespaced_kind {
    ($kind:ty, $field:ident, $tenant_input:expr, $workload:expr) => {
        impl NamespacedKind for $kind {
            const TENANT_INPUT: bool = $tenant_input;
            const WORKLOAD: Option<WorkloadKind> = $workload;
            fn shelf(objects: &Objects) -> &ByNamespace<Self> {
                &objects.$field
            }
            fn shelf_mut(objects: &mut Objects) -> &mut ByNamespace<Self> {
                &mut objects.$field
            }
        }
    };
}

namespaced_kind!(RoleBinding, role_bindings, true, None);
namespaced_kind!(ResourceQuota, resource_quotas, true, None);
namespaced_kind!(LimitRange, limit_ranges, true, None);
namespaced_kind!(
    Deployment,
    deployments,
    false,
    Some(WorkloadKind::Deployment)
);
namespaced_kind!(
    StatefulSet,
    stateful_sets,
    false,
    Some(WorkloadKind::StatefulSet)
);

impl Snapshot {
    /// The objects, to read.
    #[must_use]
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The tenant labelled on a namespace.
    fn tenant_of_namespace(&self, namespace: &str) -> Option<String> {
        self.objects
            .namespaces
            .get(namespace)?
            .metadata
            .labels
            .as_ref()?
            .get(TENANT_LABEL)
            .cloned()
    }

    /// Marks the tenants whose decisions read what is in `namespace`.
    fn touch_namespace(&mut self, namespace: &str) {
        let mut tenants: BTreeSet<String> = self.claimants(namespace).map(str::to_owned).collect();
        tenants.extend(self.tenant_of_namespace(namespace));
        self.revisions.touch(tenants);
    }

    /// Adds or replaces a namespaced object.
    pub fn put<K: NamespacedKind>(&mut self, object: K) {
        let (ns, name) = names(object.metadata());
        if K::TENANT_INPUT {
            self.touch_namespace(&ns);
        }
        let before = self.slept_by::<K>(&ns, &name);
        K::shelf_mut(&mut self.objects)
            .entry(ns.clone())
            .or_default()
            .insert(name.clone(), Box::new(object));
        self.track_sleep::<K>(&ns, &name, before);
    }

    /// Removes a namespaced object.
    pub fn remove<K: NamespacedKind>(&mut self, namespace: &str, name: &str) -> Option<K> {
        let before = self.slept_by::<K>(namespace, name);
        let shelf = K::shelf_mut(&mut self.objects);
        let objects = shelf.get_mut(namespace)?;
        let gone = objects.remove(name)?;
        if objects.is_empty() {
            shelf.remove(namespace);
        }
        if K::TENANT_INPUT {
            self.touch_namespace(namespace);
        }
        self.track_sleep::<K>(namespace, name, before);
        Some(*gone)
    }

    /// Changes a namespaced object in place; `None` if there is none.
    pub fn edit<K: NamespacedKind, R>(
        &mut self,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut K) -> R,
    ) -> Option<R> {
        let before = self.slept_by::<K>(namespace, name);
        let object = K::shelf_mut(&mut self.objects)
            .get_mut(namespace)?
            .get_mut(name)?;
        let out = change(object);
        if K::TENANT_INPUT {
            self.touch_namespace(namespace);
        }
        self.track_sleep::<K>(namespace, name, before);
        Some(out)
    }

    /// The supervisor a stored workload names as having put it to sleep.
    fn slept_by<K: NamespacedKind>(&self, namespace: &str, name: &str) -> Option<String> {
        K::WORKLOAD?;
        K::shelf(&self.objects)
            .get(namespace)?
            .get(name)?
            .metadata()
            .annotations
            .as_ref()?
            .get(crate::labels::SLEPT_BY_ANNOTATION)
            .cloned()
    }

    /// Moves a workload in the sleep index after a change.
    fn track_sleep<K: NamespacedKind>(
        &mut self,
        namespace: &str,
        name: &str,
        before: Option<String>,
    ) {
        let Some(kind) = K::WORKLOAD else {
            return;
        };
        let after = self.slept_by::<K>(namespace, name);
        if before == after {
            return;
        }
        let workload = WorkloadRef {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        if let Some(supervisor) = before
            && let Some(set) = self.asleep.get_mut(&supervisor)
        {
            set.remove(&workload);
            if set.is_empty() {
                self.asleep.remove(&supervisor);
            }
        }
        if let Some(supervisor) = after {
            self.asleep.entry(supervisor).or_default().insert(workload);
        }
    }

    /// Replaces every object of a namespaced kind, as a re-list does.
    /// Only the objects that changed, appeared or went count as changes.
    pub fn replace_all<K: NamespacedKind + PartialEq>(
        &mut self,
        objects: impl IntoIterator<Item = K>,
    ) {
        let mut fresh: ByNamespace<K> = BTreeMap::new();
        for object in objects {
            let (ns, name) = names(object.metadata());
            fresh.entry(ns).or_default().insert(name, Box::new(object));
        }
        if K::TENANT_INPUT {
            let old = K::shelf(&self.objects);
            let changed: BTreeSet<String> = old
                .keys()
                .chain(fresh.keys())
                .filter(|ns| old.get(*ns) != fresh.get(*ns))
                .cloned()
                .collect();
            for ns in changed {
                self.touch_namespace(&ns);
            }
        }
        if let Some(kind) = K::WORKLOAD {
            for set in self.asleep.values_mut() {
                set.retain(|w| w.kind != kind);
            }
            self.asleep.retain(|_, set| !set.is_empty());
        }
        *K::shelf_mut(&mut self.objects) = fresh;
        if K::WORKLOAD.is_some() {
            let stored: Vec<(String, String)> = K::shelf(&self.objects)
                .iter()
                .flat_map(|(ns, objects)| {
                    objects.keys().map(move |name| (ns.clone(), name.clone()))
                })
                .collect();
            for (ns, name) in stored {
                self.track_sleep::<K>(&ns, &name, None);
            }
        }
    }

    /// An object's metadata.
    #[must_use]
    pub fn metadata(&self, target: &ObjectRef) -> Option<&ObjectMeta> {
        let ns = target.namespace.as_deref().unwrap_or_default();
        let name = target.name.as_str();
        fn find<'a, K>(
            shelf: &'a BTreeMap<String, BTreeMap<String, K>>,
            ns: &str,
            name: &str,
        ) -> Option<&'a K> {
            shelf.get(ns)?.get(name)
        }
        let o = &self.objects;
        match target.kind {
            Kind::Namespace => o.namespaces.get(name).map(|x| &x.metadata),
            Kind::RoleBinding => find(&o.role_bindings, ns, name).map(|x| &x.metadata),
            Kind::ResourceQuota => find(&o.resource_quotas, ns, name).map(|x| &x.metadata),
            Kind::LimitRange => find(&o.limit_ranges, ns, name).map(|x| &x.metadata),
            Kind::Tenant => o.tenants.get(name).map(|x| &x.metadata),
            Kind::Quota => o.quotas.get(name).map(|x| &x.metadata),
            Kind::IntegrationConfig => None,
            Kind::ClusterResourceSupervisor => {
                o.supervisors.get(&cluster_key(name)).map(Supervisor::meta)
            }
        }
    }

    /// Changes an object's metadata in place, as an apiserver does when it
    /// stamps a resourceVersion; indexes and revisions follow. Returns
    /// whether the object exists.
    pub fn edit_metadata(
        &mut self,
        target: &ObjectRef,
        edit: impl FnOnce(&mut ObjectMeta),
    ) -> bool {
        let ns = target.namespace.as_deref().unwrap_or_default();
        let name = target.name.as_str();
        match target.kind {
            Kind::Namespace => {
                let Some(mut namespace) = self.objects.namespaces.get(name).cloned() else {
                    return false;
                };
                edit(&mut namespace.metadata);
                self.put_namespace(namespace);
            }
            Kind::Tenant => {
                let Some(mut tenant) = self.objects.tenants.get(name).cloned() else {
                    return false;
                };
                edit(&mut tenant.metadata);
                self.put_tenant(tenant);
            }
            Kind::Quota => {
                let Some(mut quota) = self.objects.quotas.get(name).cloned() else {
                    return false;
                };
                edit(&mut quota.metadata);
                self.put_quota(quota);
            }
            Kind::RoleBinding => {
                return self
                    .edit(ns, name, |o: &mut RoleBinding| edit(&mut o.metadata))
                    .is_some();
            }
            Kind::ResourceQuota => {
                return self
                    .edit(ns, name, |o: &mut ResourceQuota| edit(&mut o.metadata))
                    .is_some();
            }
            Kind::LimitRange => {
                return self
                    .edit(ns, name, |o: &mut LimitRange| edit(&mut o.metadata))
                    .is_some();
            }
            Kind::IntegrationConfig => return false,
            Kind::ClusterResourceSupervisor => {
                return self
                    .edit_supervisor(&cluster_key(name), |s| edit(s.meta_mut()))
                    .is_some();
            }
        }
        true
    }

    /// Adds or replaces a quota.
    pub fn put_quota(&mut self, quota: Quota) {
        let name = quota.metadata.name.clone().unwrap_or_default();
        self.touch_quota_users(&name);
        self.objects.quotas.insert(name, quota);
    }

    /// Removes a quota.
    pub fn remove_quota(&mut self, name: &str) -> Option<Quota> {
        self.touch_quota_users(name);
        self.objects.quotas.remove(name)
    }

    /// Replaces every quota, as a re-list does; only the quotas that
    /// changed, appeared or went count as changes.
    pub fn replace_quotas(&mut self, quotas: impl IntoIterator<Item = Quota>) {
        let fresh = quotas
            .into_iter()
            .map(|q| (name_of(&q.metadata), q))
            .collect();
        self.replace_named(
            fresh,
            |o| &o.quotas,
            |_| true,
            |s, name| {
                s.remove_quota(name);
            },
            Snapshot::put_quota,
        );
    }

    fn touch_quota_users(&mut self, quota: &str) {
        let users: Vec<String> = self
            .objects
            .tenants
            .iter()
            .filter(|(_, t)| t.spec.quota.as_deref() == Some(quota))
            .map(|(name, _)| name.clone())
            .collect();
        self.revisions.touch(users);
    }

    /// Sets the integration config in force.
    pub fn set_integration(&mut self, integration: Integration) {
        self.revisions.touch_everyone();
        self.objects.integration = integration;
    }
}

impl Observed for Snapshot {
    fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.objects.tenants.get(name)
    }
    fn cluster_resource_supervisor(
        &self,
        name: &str,
    ) -> Option<&crate::api::ClusterResourceSupervisor> {
        match self.objects.supervisors.get(&cluster_key(name))? {
            Supervisor::Cluster(c) => Some(c),
            Supervisor::Namespaced(_) => None,
        }
    }
    fn quota(&self, name: &str) -> Option<&Quota> {
        self.objects.quotas.get(name)
    }
    fn integration(&self) -> &Integration {
        &self.objects.integration
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.objects.namespaces.get(name)
    }
    fn tenant_namespaces(&self, tenant: &str) -> impl Iterator<Item = &str> {
        self.tenant_index
            .get(tenant)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
    fn role_bindings(&self, namespace: &str) -> impl Iterator<Item = &RoleBinding> {
        self.objects
            .role_bindings
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|rb| &**rb)
    }
    fn resource_quota(&self, namespace: &str, name: &str) -> Option<&ResourceQuota> {
        self.objects
            .resource_quotas
            .get(namespace)?
            .get(name)
            .map(|rq| &**rq)
    }
    fn limit_range(&self, namespace: &str, name: &str) -> Option<&LimitRange> {
        self.objects
            .limit_ranges
            .get(namespace)?
            .get(name)
            .map(|lr| &**lr)
    }
    fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str> {
        self.claims.claimants(namespace)
    }
    fn revision(&self, tenant: &str) -> Option<u64> {
        Some(self.revisions.of(tenant))
    }
}

impl Snapshot {
    /// Adds or replaces a tenant and updates the claims index. Returns the
    /// other tenants whose claim on a namespace this moves
    /// ([`Snapshot::claims_changed`]).
    pub fn put_tenant(&mut self, tenant: Tenant) -> Vec<String> {
        let name = tenant.metadata.name.clone().unwrap_or_default();
        let old = self.objects.tenants.get(&name);
        // Claims follow the spec (and the creation time, which orders
        // them); a status or finalizer write leaves them be.
        let claims_move = old.is_none_or(|o| {
            o.spec != tenant.spec
                || o.metadata.creation_timestamp != tenant.metadata.creation_timestamp
        });
        let moved = if claims_move {
            self.claims_changed(old, Some(&tenant))
        } else {
            Vec::new()
        };
        self.revisions
            .touch(moved.iter().cloned().chain([name.clone()]));
        if claims_move {
            if let Some(old) = self.objects.tenants.get(&name) {
                self.claims.remove(old);
            }
            self.claims.add(&tenant);
        }
        self.objects.tenants.insert(name, tenant);
        moved
    }

    /// A tenant, to change in place (not its spec: claims follow
    /// [`Snapshot::put_tenant`]).
    fn tenant_mut(&mut self, name: &str) -> Option<&mut Tenant> {
        self.revisions.touch([name.to_owned()]);
        self.objects.tenants.get_mut(name)
    }

    /// Replaces every tenant, as a re-list does; only the tenants that
    /// changed, appeared or went count as changes.
    pub fn replace_tenants(&mut self, tenants: impl IntoIterator<Item = Tenant>) {
        let fresh = tenants
            .into_iter()
            .map(|t| (name_of(&t.metadata), t))
            .collect();
        self.replace_named(
            fresh,
            |o| &o.tenants,
            |_| true,
            |s, name| {
                s.remove_tenant(name);
            },
            |s, tenant| {
                s.put_tenant(tenant);
            },
        );
    }

    /// Replaces the objects of one kind the snapshot keeps by name (those
    /// `listed` selects) with `fresh`: what went is removed, what is new or
    /// changed is put, what is unchanged is left alone.
    fn replace_named<T: PartialEq>(
        &mut self,
        fresh: BTreeMap<String, T>,
        shelf: fn(&Objects) -> &BTreeMap<String, T>,
        listed: impl Fn(&T) -> bool,
        remove: fn(&mut Snapshot, &str),
        put: fn(&mut Snapshot, T),
    ) {
        let gone: Vec<String> = shelf(&self.objects)
            .iter()
            .filter(|(name, object)| listed(object) && !fresh.contains_key(*name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            remove(self, &name);
        }
        for (name, object) in fresh {
            if shelf(&self.objects).get(&name) != Some(&object) {
                put(self, object);
            }
        }
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
            Kind::IntegrationConfig => out.extend(self.objects.tenants.keys().cloned()),
            Kind::Quota => {
                let quota = object.name.as_str();
                out.extend(
                    self.objects
                        .tenants
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
            // The supervisor of a tenant's spec.hibernation: its tenant,
            // and the tenant it is named after, which reads it by name.
            Kind::ClusterResourceSupervisor => {
                out.extend(
                    self.cluster_resource_supervisor(&object.name)
                        .and_then(|c| c.metadata.labels.as_ref()?.get(TENANT_LABEL).cloned()),
                );
                if self.objects.tenants.contains_key(&object.name) {
                    out.insert(object.name.clone());
                }
            }
            _ => out.extend(object.namespace.as_deref().and_then(label_of)),
        }
        out
    }

    /// Removes a tenant (it is gone from the cluster) and its claims.
    pub fn remove_tenant(&mut self, name: &str) -> Option<Tenant> {
        let mut touched = self.claims_changed(self.objects.tenants.get(name), None);
        touched.push(name.to_owned());
        self.revisions.touch(touched);
        let gone = self.objects.tenants.remove(name)?;
        self.claims.remove(&gone);
        Some(gone)
    }

    /// Removes a namespace (it is gone from the cluster). What it held
    /// stays until removed on its own, as a watch reports it.
    pub fn remove_namespace(&mut self, name: &str) -> Option<Namespace> {
        self.touch_namespace(name);
        self.unindex(name);
        self.objects.namespaces.remove(name)
    }

    /// Replaces every namespace, as a re-list does; only the namespaces
    /// that changed, appeared or went count as changes.
    pub fn replace_namespaces(&mut self, namespaces: impl IntoIterator<Item = Namespace>) {
        let fresh = namespaces
            .into_iter()
            .map(|n| (name_of(&n.metadata), n))
            .collect();
        self.replace_named(
            fresh,
            |o| &o.namespaces,
            |_| true,
            |s, name| {
                s.remove_namespace(name);
            },
            Snapshot::put_namespace,
        );
    }

    /// Adds or replaces a namespace.
    pub fn put_namespace(&mut self, mut ns: Namespace) {
        let name = ns.metadata.name.clone().unwrap_or_default();
        if ns.metadata.uid.is_none() {
            ns.metadata.uid = Some(self.uid());
        }
        // Its tenant before and after the change, and its claimants.
        self.touch_namespace(&name);
        self.revisions.touch(
            ns.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(TENANT_LABEL))
                .cloned(),
        );
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
        self.objects.namespaces.insert(name, ns);
    }

    fn unindex(&mut self, namespace: &str) {
        if let Some(t) = self
            .objects
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
        match self.objects.namespaces.get(namespace) {
            Some(ns) if ns.metadata.deletion_timestamp.is_none() => Ok(()),
            _ => Err(ExecuteError::NamespaceUnavailable(namespace.to_owned())),
        }
    }
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn names(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// The tenant label of a ClusterResourceSupervisor.
fn supervisor_of(objects: &Objects, key: &str) -> Option<String> {
    match objects.supervisors.get(key)? {
        Supervisor::Cluster(c) => c.metadata.labels.as_ref()?.get(TENANT_LABEL).cloned(),
        Supervisor::Namespaced(_) => None,
    }
}

impl WorkloadView for Snapshot {
    fn integration(&self) -> &Integration {
        &self.objects.integration
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
        let live = |name: &str| self.objects.namespaces.get(name).is_some_and(eligible);
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
                    let selected = |ns: &Namespace| {
                        eligible(ns)
                            && crate::selector::matches(selector, ns.metadata.labels.as_ref())
                    };
                    // A tenant's supervisor selects by the tenant label, which
                    // the snapshot indexes: no need to look at every namespace.
                    match selector
                        .match_labels
                        .as_ref()
                        .and_then(|l| l.get(TENANT_LABEL))
                    {
                        Some(tenant) => out.extend(
                            self.tenant_namespaces(tenant)
                                .filter(|name| {
                                    self.objects.namespaces.get(*name).is_some_and(selected)
                                })
                                .map(str::to_owned),
                        ),
                        None => out.extend(
                            self.objects
                                .namespaces
                                .iter()
                                .filter(|(_, ns)| selected(ns))
                                .map(|(name, _)| name.clone()),
                        ),
                    }
                }
                out
            }
        }
    }

    fn workloads_in(&self, namespace: &str) -> Vec<Workload<'_>> {
        let deployments = self
            .objects
            .deployments
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|d| crate::hibernation::deployment(d));
        let stateful_sets = self
            .objects
            .stateful_sets
            .get(namespace)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|s| crate::hibernation::stateful_set(s));
        deployments.chain(stateful_sets).collect()
    }

    fn workloads_slept_by(&self, supervisor: &str) -> Vec<Workload<'_>> {
        let find = |w: &WorkloadRef| -> Option<Workload<'_>> {
            let (ns, name) = (w.namespace.as_str(), w.name.as_str());
            Some(match w.kind {
                WorkloadKind::Deployment => {
                    crate::hibernation::deployment(self.objects.deployments.get(ns)?.get(name)?)
                }
                WorkloadKind::StatefulSet => {
                    crate::hibernation::stateful_set(self.objects.stateful_sets.get(ns)?.get(name)?)
                }
            })
        };
        self.asleep
            .get(supervisor)
            .into_iter()
            .flatten()
            .filter_map(find)
            .collect()
    }
}

impl Snapshot {
    /// The keys of the supervisors covering `namespace` (by namespace, by
    /// name or by label): whom a change there concerns.
    #[must_use]
    pub fn supervisors_covering(&self, namespace: &str) -> Vec<String> {
        let labels = self
            .objects
            .namespaces
            .get(namespace)
            .and_then(|n| n.metadata.labels.as_ref());
        let selects = |key: &&String| match self.objects.supervisors.get(*key) {
            Some(Supervisor::Cluster(c)) => c
                .spec
                .namespaces
                .label_selector
                .as_ref()
                .is_some_and(|selector| crate::selector::matches(selector, labels)),
            _ => false,
        };
        let mut out = BTreeSet::new();
        let prefix = SupervisorId::namespace_prefix(namespace);
        out.extend(
            self.objects
                .supervisors
                .range(prefix.clone()..)
                .take_while(|(key, _)| key.starts_with(&prefix))
                .map(|(key, _)| key.clone()),
        );
        let coverage = &self.coverage;
        out.extend(
            coverage
                .by_name
                .get(namespace)
                .into_iter()
                .flatten()
                .cloned(),
        );
        if let Some(tenant) = labels.and_then(|l| l.get(TENANT_LABEL)) {
            out.extend(
                coverage
                    .by_tenant
                    .get(tenant)
                    .into_iter()
                    .flatten()
                    .filter(selects)
                    .cloned(),
            );
        }
        out.extend(coverage.other_selectors.iter().filter(selects).cloned());
        out.into_iter().collect()
    }

    /// Adds or replaces a supervisor.
    pub fn put_supervisor(&mut self, supervisor: Supervisor) {
        let key = supervisor.key();
        self.touch_supervisor(&key);
        self.uncover(&key);
        self.coverage.add(&key, &supervisor);
        self.objects.supervisors.insert(key.clone(), supervisor);
        self.touch_supervisor(&key);
    }

    /// Removes a supervisor by [`Supervisor::key`].
    pub fn remove_supervisor(&mut self, key: &str) -> Option<Supervisor> {
        self.touch_supervisor(key);
        self.uncover(key);
        self.objects.supervisors.remove(key)
    }

    /// Changes a supervisor (by [`Supervisor::key`]) in place; `None` if
    /// there is none.
    pub fn edit_supervisor<R>(
        &mut self,
        key: &str,
        change: impl FnOnce(&mut Supervisor) -> R,
    ) -> Option<R> {
        self.touch_supervisor(key);
        self.uncover(key);
        let out = self.objects.supervisors.get_mut(key).map(change);
        if let Some(supervisor) = self.objects.supervisors.get(key) {
            self.coverage.add(key, supervisor);
        }
        self.touch_supervisor(key);
        out
    }

    /// Takes a stored supervisor out of the coverage index.
    fn uncover(&mut self, key: &str) {
        if let Some(supervisor) = self.objects.supervisors.get(key) {
            self.coverage.remove(key, supervisor);
        }
    }

    /// Replaces every supervisor of one scope (`cluster`: the
    /// ClusterResourceSupervisors), as a re-list does.
    pub fn replace_supervisors(
        &mut self,
        cluster: bool,
        supervisors: impl IntoIterator<Item = Supervisor>,
    ) {
        let fresh = supervisors.into_iter().map(|s| (s.key(), s)).collect();
        self.replace_named(
            fresh,
            |o| &o.supervisors,
            |s| matches!(s, Supervisor::Cluster(_)) == cluster,
            |s, key| {
                s.remove_supervisor(key);
            },
            Snapshot::put_supervisor,
        );
    }

    /// Marks the tenant a ClusterResourceSupervisor concerns: the tenant it
    /// is named after (whose `spec.hibernation` it may carry) and the one
    /// it is labelled for.
    fn touch_supervisor(&mut self, key: &str) {
        self.revisions.touch(supervisor_of(&self.objects, key));
        if let Some(SupervisorId::Cluster { name }) = SupervisorId::parse(key) {
            self.revisions.touch([name]);
        }
    }

    /// Changes a workload's metadata and `spec.replicas` in place; `None`
    /// if there is no such workload.
    pub fn edit_workload<R>(
        &mut self,
        workload: &WorkloadRef,
        change: impl FnOnce(&mut ObjectMeta, &mut Option<i32>) -> R,
    ) -> Option<R> {
        let (ns, name) = (workload.namespace.as_str(), workload.name.as_str());
        match workload.kind {
            WorkloadKind::Deployment => self.edit(ns, name, |d: &mut Deployment| {
                let spec = d.spec.get_or_insert_with(Default::default);
                change(&mut d.metadata, &mut spec.replicas)
            }),
            WorkloadKind::StatefulSet => self.edit(ns, name, |s: &mut StatefulSet| {
                let spec = s.spec.get_or_insert_with(Default::default);
                change(&mut s.metadata, &mut spec.replicas)
            }),
        }
    }
}
