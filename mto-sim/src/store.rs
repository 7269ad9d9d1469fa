//! The simulated apiserver's object store.
//!
//! It keeps its objects in the model's [`Snapshot`] (so the planner reads
//! them through the same [`Observed`] view the runtime offers) and adds what
//! an apiserver adds on top: resource versions, generations bumped on spec
//! changes only, uid-guarded deletes, namespaces that terminate (marked,
//! then removed with everything in them by the namespace controller), and a
//! log of watch events in order.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use mto_model::Timestamp;
use mto_model::action::{Action, Kind, ObjectRef};
use mto_model::api::{Quota, Tenant};
use mto_model::hibernation::{Supervisor, SupervisorAction, WorkloadKind, WorkloadRef};
use mto_model::integration::Integration;
use mto_model::observed::Observed;
use mto_model::snapshot::Snapshot;

/// What a watch reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The store's resource version after the change.
    pub resource_version: u64,
    /// The object.
    pub object: ObjectRef,
    /// Whether the object is gone.
    pub deleted: bool,
    /// For a tenant that is gone or changed which namespaces it asks for:
    /// the other tenants asking for one of those, whose claim changed.
    pub waiting_claimants: Vec<String>,
}

/// Why the store refused a write, as the apiserver would.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (404).
    #[error("{0} not found")]
    NotFound(String),
    /// The namespace is missing or terminating (404/403 from the apiserver).
    #[error("namespace {0} is missing or terminating")]
    NamespaceUnavailable(String),
    /// The write names a stale resourceVersion (409).
    #[error("{0}: the object has been modified; read it again and retry")]
    Conflict(String),
    /// An immutable field changed (422).
    #[error("{0}")]
    Invalid(String),
}

/// The simulated cluster's objects.
#[derive(Clone, Debug, Default)]
pub struct Store {
    view: Snapshot,
    resource_version: u64,
    uid: u64,
    events: Vec<WatchEvent>,
    writes: u64,
    /// Claimants waiting on the tenant being removed right now.
    released_claims: Vec<String>,
}

impl Store {
    /// The objects, as controllers observe them.
    #[must_use]
    pub fn view(&self) -> &Snapshot {
        &self.view
    }

    /// API writes the store has accepted.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The watch events since the last call.
    pub fn drain_events(&mut self) -> Vec<WatchEvent> {
        std::mem::take(&mut self.events)
    }

    fn bump(&mut self, object: ObjectRef, deleted: bool) -> String {
        self.resource_version += 1;
        self.writes += 1;
        let waiting_claimants = if object.kind == Kind::Tenant {
            std::mem::take(&mut self.released_claims)
        } else {
            Vec::new()
        };
        self.events.push(WatchEvent {
            resource_version: self.resource_version,
            object,
            deleted,
            waiting_claimants,
        });
        self.resource_version.to_string()
    }

    fn new_uid(&mut self) -> String {
        self.uid += 1;
        format!("00000000-0000-0000-0000-{:012x}", self.uid)
    }

    /// Records a user's write of `meta` over `current`: refuses a stale
    /// resourceVersion (409), keeps the object's identity, bumps the version.
    fn stamp(
        &mut self,
        meta: &mut ObjectMeta,
        current: Option<&ObjectMeta>,
        object: ObjectRef,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if let Some(expected) = &meta.resource_version
            && current.and_then(|c| c.resource_version.as_ref()) != Some(expected)
        {
            return Err(StoreError::Conflict(object.to_string()));
        }
        match current {
            Some(c) => {
                meta.uid.clone_from(&c.uid);
                meta.creation_timestamp.clone_from(&c.creation_timestamp);
            }
            None => {
                meta.uid = Some(self.new_uid());
                meta.creation_timestamp = Some(Time(now));
            }
        }
        meta.resource_version = Some(self.bump(object, false));
        Ok(())
    }

    /// Creates or replaces a tenant as a user would: the generation moves
    /// only when the spec changes; status and finalizers are kept.
    pub fn put_tenant(&mut self, mut tenant: Tenant, now: Timestamp) -> Result<(), StoreError> {
        let name = tenant.metadata.name.clone().unwrap_or_default();
        let current = self.view.objects().tenants.get(&name).cloned();
        match &current {
            Some(old) => {
                let changed = old.spec != tenant.spec;
                if changed {
                    self.released_claims = self.view.claims_changed(Some(old), Some(&tenant));
                }
                tenant
                    .metadata
                    .finalizers
                    .clone_from(&old.metadata.finalizers);
                tenant
                    .metadata
                    .deletion_timestamp
                    .clone_from(&old.metadata.deletion_timestamp);
                tenant.status.clone_from(&old.status);
                tenant.metadata.generation =
                    Some(old.metadata.generation.unwrap_or(1) + i64::from(changed));
            }
            None => {
                tenant.metadata.generation = Some(1);
                tenant.metadata.finalizers = None;
                tenant.status = None;
            }
        }
        self.stamp(
            &mut tenant.metadata,
            current.as_ref().map(|t| &t.metadata),
            ObjectRef::cluster(Kind::Tenant, &name),
            now,
        )?;
        self.view.put_tenant(tenant);
        Ok(())
    }

    /// Deletes a tenant as a user would: marked while finalizers remain.
    pub fn delete_tenant(&mut self, name: &str, now: Timestamp) -> Result<(), StoreError> {
        let Some(mut tenant) = self.view.objects().tenants.get(name).cloned() else {
            return Err(StoreError::NotFound(format!("Tenant/{name}")));
        };
        if tenant
            .metadata
            .finalizers
            .as_ref()
            .is_none_or(Vec::is_empty)
        {
            self.released_claims = self.view.claims_changed(Some(&tenant), None);
            self.view.remove_tenant(name);
            self.bump(ObjectRef::cluster(Kind::Tenant, name), true);
            return Ok(());
        }
        if tenant.metadata.deletion_timestamp.is_none() {
            tenant.metadata.deletion_timestamp = Some(Time(now));
            tenant.metadata.resource_version =
                Some(self.bump(ObjectRef::cluster(Kind::Tenant, name), false));
            self.view.put_tenant(tenant);
        }
        Ok(())
    }

    /// Creates or replaces a quota.
    pub fn put_quota(&mut self, mut quota: Quota, now: Timestamp) -> Result<(), StoreError> {
        let name = quota.metadata.name.clone().unwrap_or_default();
        let current = self
            .view
            .objects()
            .quotas
            .get(&name)
            .map(|q| q.metadata.clone());
        self.stamp(
            &mut quota.metadata,
            current.as_ref(),
            ObjectRef::cluster(Kind::Quota, &name),
            now,
        )?;
        self.view.put_quota(quota);
        Ok(())
    }

    /// Sets the integration config in force (compiled; an invalid one is
    /// refused before it gets here).
    pub fn put_integration(&mut self, integration: Integration) {
        self.view.set_integration(integration);
        self.bump(ObjectRef::cluster(Kind::IntegrationConfig, "config"), false);
    }

    /// Creates or replaces a namespace as a user would.
    pub fn put_namespace(&mut self, mut ns: Namespace, now: Timestamp) -> Result<(), StoreError> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let current = self
            .view
            .objects()
            .namespaces
            .get(&name)
            .map(|n| n.metadata.clone());
        self.stamp(
            &mut ns.metadata,
            current.as_ref(),
            ObjectRef::cluster(Kind::Namespace, &name),
            now,
        )?;
        self.view.put_namespace(ns);
        Ok(())
    }

    /// Deletes any object as a user would (namespaces terminate first); one
    /// that does not exist is not found, as `kubectl delete` reports.
    pub fn delete(&mut self, target: &ObjectRef, now: Timestamp) -> Result<(), StoreError> {
        if self.view.metadata(target).is_none() {
            return Err(StoreError::NotFound(target.to_string()));
        }
        let action = Action::Delete {
            target: target.clone(),
            uid: None,
            reason: mto_model::action::Reason::Remove,
        };
        self.execute(&action, now)
    }

    /// Creates or replaces a role binding as a user would (`kubectl edit`).
    pub fn put_role_binding(
        &mut self,
        mut rb: RoleBinding,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (ns, name) = (
            rb.metadata.namespace.clone().unwrap_or_default(),
            rb.metadata.name.clone().unwrap_or_default(),
        );
        let current = self
            .view
            .objects()
            .role_bindings
            .get(&ns)
            .and_then(|m| m.get(&name))
            .map(|o| o.metadata.clone());
        self.stamp(
            &mut rb.metadata,
            current.as_ref(),
            ObjectRef::namespaced(Kind::RoleBinding, &ns, &name),
            now,
        )?;
        self.view.put(rb);
        Ok(())
    }

    /// Creates or replaces a resource quota as a user would.
    pub fn put_resource_quota(
        &mut self,
        mut rq: ResourceQuota,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (ns, name) = (
            rq.metadata.namespace.clone().unwrap_or_default(),
            rq.metadata.name.clone().unwrap_or_default(),
        );
        let current = self
            .view
            .resource_quota(&ns, &name)
            .map(|o| o.metadata.clone());
        self.stamp(
            &mut rq.metadata,
            current.as_ref(),
            ObjectRef::namespaced(Kind::ResourceQuota, &ns, &name),
            now,
        )?;
        self.view.put(rq);
        Ok(())
    }

    /// The garbage collector: deletes objects whose owners (by uid) are all
    /// gone, as Kubernetes does in the background. Returns what it removed.
    pub fn collect_garbage(&mut self) -> Vec<ObjectRef> {
        let view = &self.view;
        let mut live: BTreeSet<&str> = BTreeSet::new();
        let metas = view
            .objects()
            .tenants
            .values()
            .map(|o| &o.metadata)
            .chain(view.objects().quotas.values().map(|o| &o.metadata))
            .chain(view.objects().namespaces.values().map(|o| &o.metadata))
            .chain(
                view.objects()
                    .role_bindings
                    .values()
                    .flat_map(|m| m.values().map(|o| &o.metadata)),
            )
            .chain(
                view.objects()
                    .resource_quotas
                    .values()
                    .flat_map(|m| m.values().map(|o| &o.metadata)),
            )
            .chain(
                view.objects()
                    .limit_ranges
                    .values()
                    .flat_map(|m| m.values().map(|o| &o.metadata)),
            );
        for meta in metas {
            live.extend(meta.uid.as_deref());
        }
        let orphaned = |meta: &ObjectMeta| {
            meta.owner_references
                .as_ref()
                .is_some_and(|o| !o.is_empty() && o.iter().all(|r| !live.contains(r.uid.as_str())))
        };
        let mut doomed = Vec::new();
        for (kind, objects) in [
            (
                Kind::RoleBinding,
                view.objects()
                    .role_bindings
                    .iter()
                    .flat_map(|(ns, m)| m.values().map(move |o| (ns, &o.metadata)))
                    .collect::<Vec<_>>(),
            ),
            (
                Kind::ResourceQuota,
                view.objects()
                    .resource_quotas
                    .iter()
                    .flat_map(|(ns, m)| m.values().map(move |o| (ns, &o.metadata)))
                    .collect(),
            ),
            (
                Kind::LimitRange,
                view.objects()
                    .limit_ranges
                    .iter()
                    .flat_map(|(ns, m)| m.values().map(move |o| (ns, &o.metadata)))
                    .collect(),
            ),
        ] {
            for (ns, meta) in objects {
                if orphaned(meta) {
                    doomed.push((
                        ObjectRef::namespaced(kind, ns, meta.name.clone().unwrap_or_default()),
                        meta.uid.clone(),
                    ));
                }
            }
        }
        let mut removed = Vec::new();
        for (target, uid) in doomed {
            let action = Action::Delete {
                target: target.clone(),
                uid,
                reason: mto_model::action::Reason::Remove,
            };
            if self.view.execute(&action).unwrap_or(false) {
                self.bump(target.clone(), true);
                removed.push(target);
            }
        }
        removed
    }

    /// Carries out one of mto's actions as the apiserver would.
    pub fn execute(&mut self, action: &Action, now: Timestamp) -> Result<(), StoreError> {
        match action {
            Action::Delete { target, uid, .. } if target.kind == Kind::Namespace => {
                let Some(ns) = self.view.objects().namespaces.get(&target.name) else {
                    return Ok(());
                };
                if uid.is_some() && ns.metadata.uid != *uid {
                    return Ok(());
                }
                if ns.metadata.deletion_timestamp.is_none() {
                    let mut ns = ns.clone();
                    ns.metadata.deletion_timestamp = Some(Time(now));
                    ns.metadata.resource_version = Some(self.bump(target.clone(), false));
                    self.view.put_namespace(ns);
                }
                Ok(())
            }
            Action::Delete { target, uid, .. }
                if target.kind == Kind::ClusterResourceSupervisor =>
            {
                let key = mto_model::hibernation::cluster_key(&target.name);
                let matches = self
                    .view
                    .objects()
                    .supervisors
                    .get(&key)
                    .is_some_and(|s| uid.is_none() || s.meta().uid == *uid);
                if matches {
                    self.delete_supervisor(&key, now)?;
                    self.bump(
                        target.clone(),
                        !self.view.objects().supervisors.contains_key(&key),
                    );
                }
                Ok(())
            }
            Action::Delete { target, .. } => {
                if self
                    .view
                    .execute(action)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
                {
                    self.bump(target.clone(), true);
                }
                Ok(())
            }
            Action::Apply { object, .. } => {
                let target = object.object_ref();
                if let Some(ns) = &target.namespace
                    && self
                        .view
                        .namespace(ns)
                        .is_none_or(|n| n.metadata.deletion_timestamp.is_some())
                {
                    return Err(StoreError::NamespaceUnavailable(ns.clone()));
                }
                let created = self.view.metadata(&target).is_none();
                // Server-side apply of an unchanged object writes nothing.
                if self
                    .view
                    .execute(action)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
                {
                    self.restamp(&target, created, now);
                }
                Ok(())
            }
            Action::RemoveLabels { target, .. } => {
                if self
                    .view
                    .execute(action)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
                {
                    self.restamp(target, false, now);
                }
                Ok(())
            }
            Action::AddFinalizer { tenant }
            | Action::RemoveFinalizer { tenant }
            | Action::UpdateTenantStatus { tenant, .. } => {
                let Some(before) = self.view.objects().tenants.get(tenant).cloned() else {
                    return Err(StoreError::NotFound(format!("Tenant/{tenant}")));
                };
                if matches!(action, Action::RemoveFinalizer { .. }) {
                    self.released_claims = self.view.claims_changed(Some(&before), None);
                }
                if !self
                    .view
                    .execute(action)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?
                {
                    return Ok(());
                }
                let target = ObjectRef::cluster(Kind::Tenant, tenant);
                if self.view.objects().tenants.contains_key(tenant) {
                    self.restamp(&target, false, now);
                } else {
                    self.bump(target, true);
                }
                Ok(())
            }
        }
    }

    /// Records a write: a new resource version, and a creation time for new objects.
    fn restamp(&mut self, target: &ObjectRef, created: bool, now: Timestamp) {
        let rv = self.bump(target.clone(), false);
        self.view.edit_metadata(target, |meta| {
            meta.resource_version = Some(rv);
            if created {
                meta.creation_timestamp = Some(Time(now));
            }
        });
    }

    /// The namespace controller: removes terminating namespaces and
    /// everything in them. Returns the namespaces removed.
    pub fn finalize_namespaces(&mut self) -> Vec<String> {
        let terminating: Vec<(String, Option<String>)> = self
            .view
            .objects()
            .namespaces
            .values()
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .map(|n| {
                (
                    n.metadata.name.clone().unwrap_or_default(),
                    n.metadata.uid.clone(),
                )
            })
            .collect();
        for (name, uid) in &terminating {
            let action = Action::Delete {
                target: ObjectRef::cluster(Kind::Namespace, name),
                uid: uid.clone(),
                reason: mto_model::action::Reason::Purge,
            };
            if self.view.execute(&action).is_ok() {
                self.bump(ObjectRef::cluster(Kind::Namespace, name), true);
            }
        }
        terminating.into_iter().map(|(n, _)| n).collect()
    }

    /// The tenants a change to `object` concerns, as a controller's watch
    /// mapping would enqueue them.
    #[must_use]
    pub fn affected_tenants(&self, object: &ObjectRef) -> BTreeSet<String> {
        self.view.affected_tenants(object)
    }
}

/// Workloads and supervisors: written by users and by the supervisor
/// controller. They send no watch events; the driver knows whom a change
/// concerns.
impl Store {
    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.writes += 1;
        self.resource_version.to_string()
    }

    /// Creates or replaces a supervisor as a user would: status, finalizers
    /// and deletion are kept; the generation moves on spec changes.
    pub fn put_supervisor(&mut self, mut supervisor: Supervisor, now: Timestamp) {
        let key = supervisor.key();
        let current = self.view.objects().supervisors.get(&key).cloned();
        {
            let version = self.next_version();
            match &current {
                Some(old) => {
                    let changed = old.schedule() != supervisor.schedule()
                        || match (old, &supervisor) {
                            (Supervisor::Cluster(a), Supervisor::Cluster(b)) => {
                                a.spec.namespaces != b.spec.namespaces
                            }
                            _ => false,
                        };
                    *supervisor.status_mut() = old.status().cloned();
                    let (old_meta, meta) = (old.meta().clone(), supervisor.meta_mut());
                    meta.uid = old_meta.uid;
                    meta.creation_timestamp = old_meta.creation_timestamp;
                    meta.finalizers = old_meta.finalizers;
                    meta.deletion_timestamp = old_meta.deletion_timestamp;
                    meta.generation = Some(old_meta.generation.unwrap_or(1) + i64::from(changed));
                }
                None => {
                    *supervisor.status_mut() = None;
                    let uid = self.new_uid();
                    let meta = supervisor.meta_mut();
                    meta.uid = Some(uid);
                    meta.creation_timestamp = Some(Time(now));
                    meta.generation = Some(1);
                    meta.finalizers = None;
                }
            }
            supervisor.meta_mut().resource_version = Some(version);
        }
        self.view.put_supervisor(supervisor);
    }

    /// Deletes a supervisor as a user would: marked while finalizers remain.
    pub fn delete_supervisor(&mut self, key: &str, now: Timestamp) -> Result<(), StoreError> {
        let Some(current) = self.view.objects().supervisors.get(key) else {
            return Err(StoreError::NotFound(key.to_owned()));
        };
        if current.meta().finalizers.as_ref().is_none_or(Vec::is_empty) {
            self.view.remove_supervisor(key);
        } else if current.meta().deletion_timestamp.is_none() {
            let version = self.next_version();
            self.view.edit_supervisor(key, |s| {
                s.meta_mut().deletion_timestamp = Some(Time(now));
                s.meta_mut().resource_version = Some(version);
            });
        }
        Ok(())
    }

    /// Creates or replaces a workload as a user (or a GitOps tool) would:
    /// its spec is theirs; annotations others set (mto's sleep notes) stay.
    pub fn put_workload(&mut self, workload: Workload, now: Timestamp) -> Result<(), StoreError> {
        let (namespace, name, kind) = match &workload {
            Workload::Deployment(d) => (
                &d.metadata.namespace,
                &d.metadata.name,
                WorkloadKind::Deployment,
            ),
            Workload::StatefulSet(s) => (
                &s.metadata.namespace,
                &s.metadata.name,
                WorkloadKind::StatefulSet,
            ),
        };
        let reference = WorkloadRef {
            kind,
            namespace: namespace.clone().unwrap_or_default(),
            name: name.clone().unwrap_or_default(),
        };
        if self
            .view
            .namespace(&reference.namespace)
            .is_none_or(|n| n.metadata.deletion_timestamp.is_some())
        {
            return Err(StoreError::NamespaceUnavailable(reference.namespace));
        }
        let version = self.next_version();
        let uid = self.new_uid();
        let kept = self.view.edit_workload(&reference, |meta, _| meta.clone());
        let merge = |meta: &mut ObjectMeta| {
            match &kept {
                Some(old) => {
                    meta.uid.clone_from(&old.uid);
                    meta.creation_timestamp.clone_from(&old.creation_timestamp);
                    for (k, v) in old.annotations.iter().flatten() {
                        meta.annotations
                            .get_or_insert_with(Default::default)
                            .entry(k.clone())
                            .or_insert_with(|| v.clone());
                    }
                }
                None => {
                    meta.uid = Some(uid.clone());
                    meta.creation_timestamp = Some(Time(now));
                }
            }
            meta.resource_version = Some(version.clone());
        };
        match workload {
            Workload::Deployment(mut d) => {
                merge(&mut d.metadata);
                self.view.put(d);
            }
            Workload::StatefulSet(mut st) => {
                merge(&mut st.metadata);
                self.view.put(st);
            }
        }
        Ok(())
    }

    /// Carries out a supervisor's action as the apiserver would: a scale
    /// names the resourceVersion it read, and a stale one is a 409.
    pub fn execute_supervisor(&mut self, action: &SupervisorAction) -> Result<(), StoreError> {
        let changed = self.view.execute_supervisor(action).map_err(|e| match e {
            mto_model::snapshot::ExecuteError::Conflict(what) => StoreError::Conflict(what),
            mto_model::snapshot::ExecuteError::NotFound(what) => StoreError::NotFound(what),
            other => StoreError::Invalid(other.to_string()),
        })?;
        if !changed {
            return Ok(());
        }
        let version = self.next_version();
        match action {
            SupervisorAction::Sleep { workload, .. } | SupervisorAction::Wake { workload, .. } => {
                self.view.edit_workload(workload, |meta, _| {
                    meta.resource_version = Some(version);
                });
            }
            SupervisorAction::AddFinalizer { supervisor }
            | SupervisorAction::RemoveFinalizer { supervisor }
            | SupervisorAction::EndOverride { supervisor }
            | SupervisorAction::UpdateStatus { supervisor, .. } => {
                self.view.edit_supervisor(supervisor, |s| {
                    s.meta_mut().resource_version = Some(version);
                });
            }
        }
        Ok(())
    }
}

/// A workload a user writes.
#[derive(Clone, Debug)]
pub enum Workload {
    /// A Deployment.
    Deployment(k8s_openapi::api::apps::v1::Deployment),
    /// A StatefulSet.
    StatefulSet(k8s_openapi::api::apps::v1::StatefulSet),
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use mto_model::api::TenantSpec;

    use super::*;

    fn now() -> Timestamp {
        Timestamp::UNIX_EPOCH
    }

    fn namespace(name: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_stale_resource_version_is_a_conflict() {
        let mut store = Store::default();
        store.put_namespace(namespace("a"), now()).unwrap();
        let read = store.view().namespace("a").cloned().unwrap();
        // Someone else writes first.
        let mut theirs = read.clone();
        theirs.metadata.labels = Some([("x".to_string(), "1".to_string())].into());
        store.put_namespace(theirs, now()).unwrap();
        let mut mine = read;
        mine.metadata.labels = Some([("x".to_string(), "2".to_string())].into());
        assert!(matches!(
            store.put_namespace(mine, now()),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store
                .view()
                .namespace("a")
                .and_then(|n| n.metadata.labels.clone())
                .unwrap()["x"],
            "1",
            "nothing lost"
        );
    }

    #[test]
    fn generation_moves_on_spec_changes_only() {
        let mut store = Store::default();
        store
            .put_tenant(Tenant::new("t", TenantSpec::default()), now())
            .unwrap();
        let mut t = store.view().tenant("t").cloned().unwrap();
        t.metadata.resource_version = None;
        t.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
        store.put_tenant(t.clone(), now()).unwrap();
        assert_eq!(
            store.view().tenant("t").unwrap().metadata.generation,
            Some(1)
        );
        t.spec.desc = Some("changed".into());
        store.put_tenant(t, now()).unwrap();
        assert_eq!(
            store.view().tenant("t").unwrap().metadata.generation,
            Some(2)
        );
    }

    #[test]
    fn deleting_a_namespace_terminates_it_then_removes_what_it_holds() {
        let mut store = Store::default();
        store.put_namespace(namespace("a"), now()).unwrap();
        let rb = RoleBinding {
            metadata: ObjectMeta {
                name: Some("rb".into()),
                namespace: Some("a".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        store.put_role_binding(rb, now()).unwrap();
        store
            .delete(&ObjectRef::cluster(Kind::Namespace, "a"), now())
            .unwrap();
        assert!(
            store
                .view()
                .namespace("a")
                .is_some_and(|n| n.metadata.deletion_timestamp.is_some()),
            "marked, not removed"
        );
        assert_eq!(store.finalize_namespaces(), ["a"]);
        assert!(store.view().namespace("a").is_none());
        assert_eq!(store.view().role_bindings("a").count(), 0);
    }

    #[test]
    fn the_garbage_collector_removes_orphans_only() {
        let mut store = Store::default();
        store.put_namespace(namespace("a"), now()).unwrap();
        store
            .put_tenant(Tenant::new("owner", TenantSpec::default()), now())
            .unwrap();
        let owner_uid = store
            .view()
            .tenant("owner")
            .and_then(|t| t.metadata.uid.clone())
            .unwrap();
        let owned = |name: &str, uid: &str| RoleBinding {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("a".into()),
                owner_references: Some(vec![OwnerReference {
                    uid: uid.into(),
                    name: "owner".into(),
                    kind: "Tenant".into(),
                    api_version: "v1".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            ..Default::default()
        };
        store
            .put_role_binding(owned("kept", &owner_uid), now())
            .unwrap();
        store
            .put_role_binding(owned("orphan", "no-such-uid"), now())
            .unwrap();
        let free = RoleBinding {
            metadata: ObjectMeta {
                name: Some("free".into()),
                namespace: Some("a".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        store.put_role_binding(free, now()).unwrap();
        let removed: Vec<String> = store
            .collect_garbage()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(removed, ["RoleBinding/a/orphan"]);
        store.delete_tenant("owner", now()).unwrap();
        let removed: Vec<String> = store
            .collect_garbage()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(removed, ["RoleBinding/a/kept"], "its owner is gone");
        assert_eq!(
            store.view().role_bindings("a").count(),
            1,
            "objects without owners stay"
        );
    }

    #[test]
    fn watch_events_come_in_resource_version_order() {
        let mut store = Store::default();
        store.put_namespace(namespace("a"), now()).unwrap();
        store.put_namespace(namespace("b"), now()).unwrap();
        store
            .delete(&ObjectRef::cluster(Kind::Namespace, "a"), now())
            .unwrap();
        let versions: Vec<u64> = store
            .drain_events()
            .iter()
            .map(|e| e.resource_version)
            .collect();
        assert_eq!(versions, [1, 2, 3]);
    }
}
