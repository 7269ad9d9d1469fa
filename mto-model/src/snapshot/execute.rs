//! Carrying out actions against the snapshot, as an apiserver would.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{NamespacedKind, Snapshot, cluster_key, names};
use crate::action::{Action, Kind, Resource};
use crate::apply::apply_metadata;
use crate::hibernation::{Supervisor, SupervisorAction, WorkloadRef};
use crate::labels::TENANT_FINALIZER;

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
    /// Server-side apply of a namespaced object: create it if missing, apply
    /// mto's metadata, then its spec fields (`set_spec` says whether they
    /// changed). Returns whether anything changed.
    fn upsert<K: NamespacedKind>(
        &mut self,
        applied: &ObjectMeta,
        api_version: &str,
        uid: String,
        new: impl FnOnce(ObjectMeta) -> K,
        set_spec: impl FnOnce(&mut K) -> Result<bool, ExecuteError>,
    ) -> Result<bool, ExecuteError> {
        let (ns, name) = names(applied);
        let slot = K::shelf_mut(&mut self.objects)
            .entry(ns.clone())
            .or_default()
            .entry(name);
        let created = matches!(slot, std::collections::btree_map::Entry::Vacant(_));
        let object = slot.or_insert_with(|| Box::new(new(new_meta(applied, uid))));
        let spec_changed = set_spec(object)?;
        let metadata_changed = apply_metadata(object.metadata_mut(), applied, api_version);
        let changed = created || spec_changed || metadata_changed;
        if changed && K::TENANT_INPUT {
            self.touch_namespace(&ns);
        }
        Ok(changed)
    }

    /// Removes a namespaced object if `matches` holds for it.
    fn remove_if<K: NamespacedKind>(
        &mut self,
        namespace: &str,
        name: &str,
        matches: impl Fn(&K) -> bool,
    ) -> bool {
        let found = K::shelf(&self.objects)
            .get(namespace)
            .and_then(|objects| objects.get(name))
            .is_some_and(|object| matches(object));
        found && self.remove::<K>(namespace, name).is_some()
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
                            .objects
                            .namespaces
                            .get(name)
                            .is_some_and(|n| matches(&n.metadata));
                        if found {
                            self.touch_namespace(name);
                            self.unindex(name);
                            self.objects.namespaces.remove(name);
                            self.objects.role_bindings.remove(name);
                            self.objects.resource_quotas.remove(name);
                            self.objects.limit_ranges.remove(name);
                        }
                        found
                    }
                    Kind::RoleBinding => {
                        self.remove_if::<RoleBinding>(ns, name, |o| matches(&o.metadata))
                    }
                    Kind::ResourceQuota => {
                        self.remove_if::<ResourceQuota>(ns, name, |o| matches(&o.metadata))
                    }
                    Kind::LimitRange => {
                        self.remove_if::<LimitRange>(ns, name, |o| matches(&o.metadata))
                    }
                    Kind::Tenant => self.remove_tenant(name).is_some(),
                    Kind::Quota => self.remove_quota(name).is_some(),
                    Kind::IntegrationConfig => false,
                    Kind::ClusterResourceSupervisor => {
                        let key = cluster_key(name);
                        self.touch_supervisor(&key);
                        match self.objects.supervisors.get_mut(&key) {
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
                            Some(_) => self.remove_supervisor(&key).is_some(),
                            None => false,
                        }
                    }
                })
            }
            Action::RemoveLabels { target, keys, .. } => {
                let Some(mut ns) = self
                    .objects
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
                    .tenant_mut(tenant)
                    .ok_or_else(|| ExecuteError::NotFound(format!("Tenant/{tenant}")))?;
                let finalizers = t.metadata.finalizers.get_or_insert_with(Vec::new);
                let had = finalizers.iter().any(|f| f == TENANT_FINALIZER);
                finalizers.retain(|f| f != TENANT_FINALIZER);
                if matches!(action, Action::AddFinalizer { .. }) {
                    finalizers.push(TENANT_FINALIZER.into());
                    return Ok(!had);
                }
                if t.metadata.deletion_timestamp.is_some() && finalizers.is_empty() {
                    self.remove_tenant(tenant);
                }
                Ok(had)
            }
            Action::UpdateTenantStatus { tenant, status } => {
                let t = self
                    .objects
                    .tenants
                    .get(tenant)
                    .ok_or_else(|| ExecuteError::NotFound(format!("Tenant/{tenant}")))?;
                if t.status.as_ref() == Some(status) {
                    return Ok(false);
                }
                if let Some(t) = self.tenant_mut(tenant) {
                    t.status = Some(status.clone());
                }
                Ok(true)
            }
        }
    }

    fn apply(&mut self, object: &Resource) -> Result<bool, ExecuteError> {
        match object {
            Resource::ClusterResourceSupervisor(applied) => {
                let key = cluster_key(applied.metadata.name.as_deref().unwrap_or_default());
                let uid = self.uid();
                self.touch_supervisor(&key);
                self.uncover(&key);
                let created = !self.objects.supervisors.contains_key(&key);
                let entry = self
                    .objects
                    .supervisors
                    .entry(key.clone())
                    .or_insert_with(|| {
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
                if let Some(supervisor) = self.objects.supervisors.get(&key) {
                    self.coverage.add(&key, supervisor);
                }
                // The tenant it is labelled for now.
                self.touch_supervisor(&key);
                Ok(changed || created)
            }
            Resource::Namespace(applied) => {
                let name = applied.metadata.name.clone().unwrap_or_default();
                let existing = self.objects.namespaces.get(&name);
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
                self.upsert(
                    &applied.metadata,
                    "rbac.authorization.k8s.io/v1",
                    uid,
                    new,
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
                self.upsert(&applied.metadata, "v1", uid, new, |rq| {
                    Ok(replace(&mut rq.spec, &applied.spec))
                })
            }
            Resource::LimitRange(applied) => {
                let uid = self
                    .namespace_ready(&applied.metadata)
                    .map(|()| self.uid())?;
                let new = |metadata| LimitRange {
                    metadata,
                    ..Default::default()
                };
                self.upsert(&applied.metadata, "v1", uid, new, |lr| {
                    Ok(replace(&mut lr.spec, &applied.spec))
                })
            }
        }
    }
}

impl Snapshot {
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
            this.edit_workload(workload, |meta, current| {
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
            })
            .ok_or_else(|| ExecuteError::NotFound(workload.to_string()))?
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
                let adding = matches!(action, SupervisorAction::AddFinalizer { .. });
                let (had, released) = self
                    .edit_supervisor(supervisor, |s| {
                        let meta = s.meta_mut();
                        let finalizers = meta.finalizers.get_or_insert_with(Vec::new);
                        let had = finalizers.iter().any(|f| f == SUPERVISOR_FINALIZER);
                        finalizers.retain(|f| f != SUPERVISOR_FINALIZER);
                        if adding {
                            finalizers.push(SUPERVISOR_FINALIZER.into());
                        }
                        (
                            had,
                            meta.deletion_timestamp.is_some() && finalizers.is_empty(),
                        )
                    })
                    .ok_or_else(|| ExecuteError::NotFound(supervisor.clone()))?;
                if adding {
                    return Ok(!had);
                }
                if released {
                    self.remove_supervisor(supervisor);
                }
                Ok(had)
            }
            SupervisorAction::EndOverride { supervisor } => self
                .edit_supervisor(supervisor, |s| {
                    s.meta_mut()
                        .annotations
                        .as_mut()
                        .and_then(|a| a.remove(OVERRIDE_ANNOTATION))
                        .is_some()
                })
                .ok_or_else(|| ExecuteError::NotFound(supervisor.clone())),
            SupervisorAction::UpdateStatus { supervisor, status } => self
                .edit_supervisor(supervisor, |s| {
                    let changed = s.status() != Some(status);
                    *s.status_mut() = Some(status.clone());
                    changed
                })
                .ok_or_else(|| ExecuteError::NotFound(supervisor.clone())),
        }
    }
}

/// Sets `field` to `value`; whether it changed.
fn replace<T: PartialEq + Clone>(field: &mut T, value: &T) -> bool {
    let changed = field != value;
    if changed {
        field.clone_from(value);
    }
    changed
}

fn new_meta(applied: &ObjectMeta, uid: String) -> ObjectMeta {
    ObjectMeta {
        name: applied.name.clone(),
        namespace: applied.namespace.clone(),
        uid: Some(uid),
        ..Default::default()
    }
}
