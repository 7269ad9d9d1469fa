//! The operator's view of the cluster: one watch per kind, folded into the
//! model's [`Snapshot`] so the model decides from the same [`Observed`]
//! view the simulator gives it.
//!
//! Each watch event also names the tenants it concerns (the model's
//! [`Snapshot::affected_tenants`] and [`Snapshot::claims_changed`]); the
//! controller reconciles exactly those. A tenant change that leaves its
//! generation, deletion and finalizers alone (a status write, mto's own
//! included) wakes nobody: the generation predicate.
//!
//! [`Observed`]: mto_model::observed::Observed

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::runtime::watcher::Event;
use mto_model::action::{Kind, ObjectRef};
use mto_model::api::{
    ClusterResourceSupervisor, IntegrationConfig, Quota, ResourceSupervisor, Tenant,
};
use mto_model::hibernation::Supervisor;
use mto_model::integration::Integration;
use mto_model::labels::{FIELD_MANAGER, OVERRIDE_ANNOTATION};
use mto_model::snapshot::Snapshot;

/// Every kind the cache watches, by name.
pub const WATCHED: [&str; 11] = [
    "IntegrationConfig",
    "Quota",
    "Tenant",
    "Namespace",
    "RoleBinding",
    "ResourceQuota",
    "LimitRange",
    "ResourceSupervisor",
    "ClusterResourceSupervisor",
    "Deployment",
    "StatefulSet",
];

/// Whom a watch event concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Woken {
    /// Tenants, by name.
    pub tenants: BTreeSet<String>,
    /// Supervisors, by key.
    pub supervisors: BTreeSet<String>,
}

impl Woken {
    fn tenants(tenants: BTreeSet<String>) -> Woken {
        Woken {
            tenants,
            supervisors: BTreeSet::new(),
        }
    }

    /// Whether nobody is concerned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty() && self.supervisors.is_empty()
    }
}

/// The cluster as the operator last saw it.
#[derive(Debug, Default)]
pub struct Cache {
    inner: RwLock<View>,
}

/// What the cache holds; read it briefly, never across an `.await`.
#[derive(Debug, Default)]
pub struct View {
    /// The objects, as the model observes them.
    pub snapshot: Snapshot,
    /// Why no IntegrationConfig is in force (several, or an invalid one).
    /// While set, the operator decides nothing: roles it cannot read
    /// must not turn into deletions.
    pub integration_problem: Option<String>,
    integration_configs: BTreeMap<(String, String), IntegrationConfig>,
    synced: BTreeSet<&'static str>,
    relisting: BTreeMap<&'static str, Vec<Relisted>>,
}

/// An object of a re-list, held until the list is complete.
#[allow(missing_docs)]
#[derive(Debug)]
pub enum Relisted {
    Tenant(Box<Tenant>),
    Quota(Box<Quota>),
    IntegrationConfig(Box<IntegrationConfig>),
    Namespace(Box<Namespace>),
    RoleBinding(Box<RoleBinding>),
    ResourceQuota(Box<ResourceQuota>),
    LimitRange(Box<LimitRange>),
    Supervisor(Box<Supervisor>),
    Deployment(Box<Deployment>),
    StatefulSet(Box<StatefulSet>),
}

/// A kind the cache keeps.
pub trait Watched: kube::Resource + Clone + Sized {
    /// The kind's name.
    const NAME: &'static str;
    /// Wraps an object of a re-list.
    fn relisted(self) -> Relisted;
    /// Adds or replaces the object; returns whom the change concerns.
    fn put(self, view: &mut View) -> Woken;
    /// Removes the object; returns whom the change concerns.
    fn remove(&self, view: &mut View) -> Woken;
}

impl Cache {
    /// Reads the view.
    pub fn read(&self) -> RwLockReadGuard<'_, View> {
        // A panic while holding the lock leaves a view that is at worst one
        // event stale; the next event or re-list corrects it.
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, View> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Folds one watch event in; returns whom to reconcile.
    pub fn apply<K: Watched>(&self, event: Event<K>) -> Woken {
        let event = match event {
            Event::Apply(object) => Event::Apply(slim(object)),
            Event::InitApply(object) => Event::InitApply(slim(object)),
            other => other,
        };
        let mut view = self.write();
        match event {
            Event::Apply(object) => object.put(&mut view),
            Event::Delete(object) => object.remove(&mut view),
            Event::Init => {
                view.relisting.insert(K::NAME, Vec::new());
                Woken::default()
            }
            Event::InitApply(object) => {
                view.relisting
                    .entry(K::NAME)
                    .or_default()
                    .push(object.relisted());
                Woken::default()
            }
            Event::InitDone => {
                let objects = view.relisting.remove(&K::NAME).unwrap_or_default();
                view.replace(K::NAME, objects);
                view.synced.insert(K::NAME);
                // A re-list may hide any number of missed changes: everyone
                // is woken; a tenant whose inputs did not change is settled
                // and costs a lookup.
                view.everyone()
            }
        }
    }

    /// Whether every kind has been listed once.
    pub fn synced(&self) -> bool {
        let view = self.read();
        WATCHED.iter().all(|k| view.synced.contains(k))
    }

    /// Lists every kind as empty, as watches of an empty cluster do.
    #[cfg(test)]
    pub(crate) fn list_empty_cluster(&self) {
        self.apply(Event::<Tenant>::InitDone);
        self.apply(Event::<Quota>::InitDone);
        self.apply(Event::<IntegrationConfig>::InitDone);
        self.apply(Event::<Namespace>::InitDone);
        self.apply(Event::<RoleBinding>::InitDone);
        self.apply(Event::<ResourceQuota>::InitDone);
        self.apply(Event::<LimitRange>::InitDone);
        self.apply(Event::<ResourceSupervisor>::InitDone);
        self.apply(Event::<ClusterResourceSupervisor>::InitDone);
        self.apply(Event::<Deployment>::InitDone);
        self.apply(Event::<StatefulSet>::InitDone);
    }

    /// Whether one kind has been listed once.
    pub fn kind_synced(&self, kind: &str) -> bool {
        self.read().synced.contains(kind)
    }
}

impl View {
    /// Replaces one kind with what a re-list found; the snapshot counts
    /// only the objects that changed as changes.
    fn replace(&mut self, kind: &str, objects: Vec<Relisted>) {
        macro_rules! listed {
            ($variant:ident) => {
                objects.into_iter().filter_map(|o| match o {
                    Relisted::$variant(o) => Some(*o),
                    _ => None,
                })
            };
        }
        let s = &mut self.snapshot;
        match kind {
            "Tenant" => s.replace_tenants(listed!(Tenant)),
            "Quota" => s.replace_quotas(listed!(Quota)),
            "IntegrationConfig" => {
                let listed = listed!(IntegrationConfig)
                    .map(|o| (key(&o.metadata), o))
                    .collect();
                if listed != self.integration_configs {
                    self.integration_configs = listed;
                    self.compile_integration();
                }
            }
            "Namespace" => s.replace_namespaces(listed!(Namespace)),
            "RoleBinding" => s.replace_all(listed!(RoleBinding)),
            "ResourceQuota" => s.replace_all(listed!(ResourceQuota)),
            "LimitRange" => s.replace_all(listed!(LimitRange)),
            "ResourceSupervisor" => s.replace_supervisors(false, listed!(Supervisor)),
            "ClusterResourceSupervisor" => s.replace_supervisors(true, listed!(Supervisor)),
            "Deployment" => s.replace_all(listed!(Deployment)),
            "StatefulSet" => s.replace_all(listed!(StatefulSet)),
            _ => {}
        }
    }

    fn compile_integration(&mut self) {
        let configs: Vec<&IntegrationConfig> = self.integration_configs.values().collect();
        let (integration, problem) = match configs.as_slice() {
            [] => (Ok(Integration::default()), None),
            [one] => (Integration::compile(Some(*one)), None),
            several => (
                Ok(Integration::default()),
                Some(format!(
                    "{} IntegrationConfigs found ({}); mto uses exactly one (fix: delete all but one)",
                    several.len(),
                    self.integration_configs
                        .keys()
                        .map(|(ns, name)| format!("{ns}/{name}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ),
        };
        match (integration, problem) {
            (Ok(compiled), None) => {
                self.snapshot.set_integration(compiled);
                self.integration_problem = None;
            }
            (Ok(_), Some(problem)) => self.integration_problem = Some(problem),
            (Err(errors), _) => {
                self.integration_problem = Some(format!("IntegrationConfig is invalid: {errors}"));
            }
        }
    }

    fn everyone(&self) -> Woken {
        Woken {
            tenants: self.snapshot.objects().tenants.keys().cloned().collect(),
            supervisors: self
                .snapshot
                .objects()
                .supervisors
                .keys()
                .cloned()
                .collect(),
        }
    }
}

/// Drops what the model never reads and costs the most memory: other
/// managers' managedFields entries and kubectl's copy of the last applied
/// manifest.
fn slim<K: kube::Resource>(mut object: K) -> K {
    slim_in_place(&mut object);
    object
}

/// [`slim`], for watch streams that modify objects in place (the ones a
/// reflector store also keeps).
pub fn slim_in_place<K: kube::Resource>(object: &mut K) {
    let meta = object.meta_mut();
    if let Some(fields) = meta.managed_fields.as_mut() {
        fields.retain(|f| f.manager.as_deref() == Some(FIELD_MANAGER));
        // A decoded list has room for four entries of over 200 bytes.
        fields.shrink_to_fit();
        // Of mto's own entry the model reads which labels and annotations
        // it owns; the rest of the field tree (specs, subjects) is not kept.
        for entry in fields.iter_mut() {
            if let Some(tree) = entry.fields_v1.as_mut() {
                let metadata = tree.0.get("f:metadata").map(|m| {
                    let mut kept = serde_json::Map::new();
                    for key in ["f:labels", "f:annotations"] {
                        if let Some(v) = m.get(key) {
                            kept.insert(key.to_owned(), v.clone());
                        }
                    }
                    serde_json::Value::Object(kept)
                });
                tree.0 = match metadata {
                    Some(m) => serde_json::json!({ "f:metadata": m }),
                    None => serde_json::json!({}),
                };
            }
        }
    }
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Workloads: the model reads their metadata and replica count, never
/// their pod templates and status, which are most of their size.
fn slim_deployment(mut d: Deployment) -> Deployment {
    if let Some(spec) = d.spec.as_mut() {
        spec.template = Default::default();
    }
    d.status = None;
    d
}

fn slim_stateful_set(mut s: StatefulSet) -> StatefulSet {
    if let Some(spec) = s.spec.as_mut() {
        spec.template = Default::default();
        spec.volume_claim_templates = None;
    }
    s.status = None;
    s
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn model_ref<K: kube::Resource>(kind: Kind, object: &K) -> ObjectRef {
    let (ns, name) = key(object.meta());
    ObjectRef {
        kind,
        namespace: (!ns.is_empty()).then_some(ns),
        name,
    }
}

/// Whether a tenant change is one the controller acts on: spec
/// (generation), deletion, finalizers. Status and managedFields are not.
fn tenant_changed(before: &Tenant, after: &Tenant) -> bool {
    before.metadata.generation != after.metadata.generation
        || before.metadata.deletion_timestamp != after.metadata.deletion_timestamp
        || before.metadata.finalizers != after.metadata.finalizers
        || before.metadata.uid != after.metadata.uid
}

impl Watched for Tenant {
    const NAME: &'static str = "Tenant";
    fn relisted(self) -> Relisted {
        Relisted::Tenant(Box::new(self))
    }
    fn put(self, view: &mut View) -> Woken {
        let name = self.metadata.name.clone().unwrap_or_default();
        let changed = view
            .snapshot
            .objects()
            .tenants
            .get(&name)
            .is_none_or(|b| tenant_changed(b, &self));
        let moved = view.snapshot.put_tenant(self);
        let mut woken = BTreeSet::new();
        if changed {
            woken.insert(name);
            woken.extend(moved);
        }
        Woken::tenants(woken)
    }
    fn remove(&self, view: &mut View) -> Woken {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        let woken = view
            .snapshot
            .claims_changed(view.snapshot.objects().tenants.get(name), None);
        view.snapshot.remove_tenant(name);
        Woken::tenants(woken.into_iter().collect())
    }
}

impl Watched for Quota {
    const NAME: &'static str = "Quota";
    fn relisted(self) -> Relisted {
        Relisted::Quota(Box::new(self))
    }
    fn put(self, view: &mut View) -> Woken {
        let woken = view
            .snapshot
            .affected_tenants(&model_ref(Kind::Quota, &self));
        view.snapshot.put_quota(self);
        Woken::tenants(woken)
    }
    fn remove(&self, view: &mut View) -> Woken {
        view.snapshot
            .remove_quota(self.metadata.name.as_deref().unwrap_or_default());
        Woken::tenants(
            view.snapshot
                .affected_tenants(&model_ref(Kind::Quota, self)),
        )
    }
}

impl Watched for IntegrationConfig {
    const NAME: &'static str = "IntegrationConfig";
    fn relisted(self) -> Relisted {
        Relisted::IntegrationConfig(Box::new(self))
    }
    fn put(self, view: &mut View) -> Woken {
        view.integration_configs.insert(key(&self.metadata), self);
        view.compile_integration();
        view.everyone()
    }
    fn remove(&self, view: &mut View) -> Woken {
        view.integration_configs.remove(&key(&self.metadata));
        view.compile_integration();
        view.everyone()
    }
}

impl Watched for Namespace {
    const NAME: &'static str = "Namespace";
    fn relisted(self) -> Relisted {
        Relisted::Namespace(Box::new(self))
    }
    fn put(self, view: &mut View) -> Woken {
        let object = model_ref(Kind::Namespace, &self);
        let mut woken = around(view, &object.name);
        view.snapshot.put_namespace(self);
        let after = around(view, &object.name);
        woken.tenants.extend(after.tenants);
        woken.supervisors.extend(after.supervisors);
        woken
    }
    fn remove(&self, view: &mut View) -> Woken {
        let object = model_ref(Kind::Namespace, self);
        let mut woken = around(view, &object.name);
        view.snapshot.remove_namespace(&object.name);
        let after = around(view, &object.name);
        woken.tenants.extend(after.tenants);
        woken.supervisors.extend(after.supervisors);
        woken
    }
}

/// Whom a namespace's state concerns: its tenant, its claimants, the
/// supervisors covering it.
fn around(view: &View, namespace: &str) -> Woken {
    Woken {
        tenants: view
            .snapshot
            .affected_tenants(&ObjectRef::cluster(Kind::Namespace, namespace)),
        supervisors: view
            .snapshot
            .supervisors_covering(namespace)
            .into_iter()
            .collect(),
    }
}

/// Whether a supervisor change is one the controller acts on: spec,
/// deletion, finalizers, the override annotation. Status is not.
fn supervisor_changed(before: &Supervisor, after: &Supervisor) -> bool {
    let (b, a) = (before.meta(), after.meta());
    let override_of = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.annotations
            .as_ref()
            .and_then(|x| x.get(OVERRIDE_ANNOTATION))
            .cloned()
    };
    b.generation != a.generation
        || b.deletion_timestamp != a.deletion_timestamp
        || b.finalizers != a.finalizers
        || b.uid != a.uid
        || override_of(b) != override_of(a)
}

/// The tenant whose `spec.hibernation` a supervisor carries, if mto made it.
fn tenant_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> BTreeSet<String> {
    meta.labels
        .as_ref()
        .filter(|_| mto_model::tenant::is_managed(meta))
        .and_then(|l| l.get(mto_model::labels::TENANT_LABEL).cloned())
        .into_iter()
        .collect()
}

macro_rules! supervisor_kind {
    ($kind:ident, $variant:ident) => {
        impl Watched for $kind {
            const NAME: &'static str = stringify!($kind);
            fn relisted(self) -> Relisted {
                Relisted::Supervisor(Box::new(Supervisor::$variant(self)))
            }
            fn put(self, view: &mut View) -> Woken {
                let supervisor = Supervisor::$variant(self);
                let key = supervisor.key();
                let changed = view
                    .snapshot
                    .objects()
                    .supervisors
                    .get(&key)
                    .is_none_or(|before| supervisor_changed(before, &supervisor));
                let tenants = tenant_of(supervisor.meta());
                view.snapshot.put_supervisor(supervisor);
                Woken {
                    tenants,
                    supervisors: if changed {
                        [key].into()
                    } else {
                        BTreeSet::new()
                    },
                }
            }
            fn remove(&self, view: &mut View) -> Woken {
                let key = Supervisor::$variant(self.clone()).key();
                view.snapshot.remove_supervisor(&key);
                Woken::tenants(tenant_of(&self.metadata))
            }
        }
    };
}

supervisor_kind!(ResourceSupervisor, Namespaced);
supervisor_kind!(ClusterResourceSupervisor, Cluster);

macro_rules! workload_kind {
    ($kind:ident, $field:ident, $slim:ident) => {
        impl Watched for $kind {
            const NAME: &'static str = stringify!($kind);
            fn relisted(self) -> Relisted {
                Relisted::$kind(Box::new($slim(self)))
            }
            fn put(self, view: &mut View) -> Woken {
                let namespace = self.metadata.namespace.clone().unwrap_or_default();
                let name = self.metadata.name.clone().unwrap_or_default();
                // Whoever put it to sleep, before or after this change, and
                // whoever covers its namespace.
                let mut supervisors: BTreeSet<String> = view
                    .snapshot
                    .supervisors_covering(&namespace)
                    .into_iter()
                    .collect();
                supervisors.extend(slept_by(&self.metadata));
                if let Some(before) = view
                    .snapshot
                    .objects()
                    .$field
                    .get(&namespace)
                    .and_then(|m| m.get(&name))
                {
                    supervisors.extend(slept_by(&before.metadata));
                }
                view.snapshot.put($slim(self));
                Woken {
                    tenants: BTreeSet::new(),
                    supervisors,
                }
            }
            fn remove(&self, view: &mut View) -> Woken {
                let (namespace, name) = key(&self.metadata);
                view.snapshot.remove::<$kind>(&namespace, &name);
                let namespace = self.metadata.namespace.as_deref().unwrap_or_default();
                let mut supervisors: BTreeSet<String> = view
                    .snapshot
                    .supervisors_covering(namespace)
                    .into_iter()
                    .collect();
                supervisors.extend(slept_by(&self.metadata));
                Woken {
                    tenants: BTreeSet::new(),
                    supervisors,
                }
            }
        }
    };
}

/// The supervisor a sleeping workload names.
fn slept_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<String> {
    meta.annotations
        .as_ref()?
        .get(mto_model::labels::SLEPT_BY_ANNOTATION)
        .cloned()
}

workload_kind!(Deployment, deployments, slim_deployment);
workload_kind!(StatefulSet, stateful_sets, slim_stateful_set);

macro_rules! namespaced_child {
    ($kind:ident, $field:ident) => {
        impl Watched for $kind {
            const NAME: &'static str = stringify!($kind);
            fn relisted(self) -> Relisted {
                Relisted::$kind(Box::new(self))
            }
            fn put(self, view: &mut View) -> Woken {
                let woken = view
                    .snapshot
                    .affected_tenants(&model_ref(Kind::$kind, &self));
                view.snapshot.put(self);
                Woken::tenants(woken)
            }
            fn remove(&self, view: &mut View) -> Woken {
                let (namespace, name) = key(&self.metadata);
                view.snapshot.remove::<$kind>(&namespace, &name);
                Woken::tenants(
                    view.snapshot
                        .affected_tenants(&model_ref(Kind::$kind, self)),
                )
            }
        }
    };
}

namespaced_child!(RoleBinding, role_bindings);
namespaced_child!(ResourceQuota, resource_quotas);
namespaced_child!(LimitRange, limit_ranges);

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use mto_model::api::TenantSpec;
    use mto_model::labels::TENANT_LABEL;
    use mto_model::observed::Observed;

    use super::*;

    fn tenant(name: &str, namespaces: &[&str], generation: i64) -> Tenant {
        let spec: TenantSpec = serde_json::from_value(serde_json::json!({
            "namespaces": {"withoutTenantPrefix": namespaces}
        }))
        .expect("spec");
        let mut t = Tenant::new(name, spec);
        t.metadata.generation = Some(generation);
        t.metadata.uid = Some(format!("uid-{name}"));
        t
    }

    fn namespace(name: &str, tenant: Option<&str>) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                labels: tenant.map(|t| [(TENANT_LABEL.to_owned(), t.to_owned())].into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(woken: &Woken) -> Vec<&str> {
        woken.tenants.iter().map(String::as_str).collect()
    }

    #[test]
    fn a_status_write_wakes_nobody_and_a_spec_change_wakes_the_tenant() {
        let cache = Cache::default();
        assert_eq!(
            names(&cache.apply(Event::Apply(tenant("a", &["shared"], 1)))),
            ["a"]
        );
        let mut with_status = tenant("a", &["shared"], 1);
        with_status.status = Some(Default::default());
        assert!(cache.apply(Event::Apply(with_status)).is_empty());
        assert!(
            cache
                .read()
                .snapshot
                .tenant("a")
                .is_some_and(|t| t.status.is_some())
        );
        assert_eq!(
            names(&cache.apply(Event::Apply(tenant("a", &["shared", "more"], 2)))),
            ["a"]
        );
    }

    #[test]
    fn a_tenant_going_away_wakes_the_tenants_waiting_for_its_namespaces() {
        let cache = Cache::default();
        cache.apply(Event::Apply(tenant("first", &["shared"], 1)));
        cache.apply(Event::Apply(tenant("second", &["shared"], 1)));
        let woken = cache.apply(Event::Delete(tenant("first", &["shared"], 1)));
        assert_eq!(names(&woken), ["second"]);
        assert!(cache.read().snapshot.tenant("first").is_none());
        assert_eq!(
            cache
                .read()
                .snapshot
                .claimants("shared")
                .collect::<Vec<_>>(),
            ["second"]
        );
    }

    #[test]
    fn namespace_and_child_events_wake_the_labelled_tenant_before_and_after() {
        let cache = Cache::default();
        cache.apply(Event::Apply(tenant("a", &["ns"], 1)));
        cache.apply(Event::Apply(tenant("b", &[], 1)));
        assert_eq!(
            names(&cache.apply(Event::Apply(namespace("ns", Some("b"))))),
            ["a", "b"]
        );
        // Relabelled: the tenant it left and the one it joined.
        assert_eq!(
            names(&cache.apply(Event::Apply(namespace("ns", Some("a"))))),
            ["a", "b"]
        );
        let rb = RoleBinding {
            metadata: ObjectMeta {
                name: Some("x".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(names(&cache.apply(Event::Apply(rb.clone()))), ["a"]);
        assert_eq!(cache.read().snapshot.role_bindings("ns").count(), 1);
        assert_eq!(names(&cache.apply(Event::Delete(rb))), ["a"]);
        assert_eq!(cache.read().snapshot.role_bindings("ns").count(), 0);
    }

    #[test]
    fn a_relist_replaces_the_kind_and_wakes_everyone_once_complete() {
        let cache = Cache::default();
        cache.apply(Event::Apply(tenant("a", &[], 1)));
        cache.apply(Event::Apply(namespace("stale", Some("a"))));
        assert!(!cache.synced());
        assert!(cache.apply(Event::<Namespace>::Init).is_empty());
        assert!(
            cache
                .apply(Event::InitApply(namespace("fresh", Some("a"))))
                .is_empty()
        );
        // Until the list completes, the old view stands.
        assert!(cache.read().snapshot.namespace("stale").is_some());
        assert_eq!(names(&cache.apply(Event::<Namespace>::InitDone)), ["a"]);
        let view = cache.read();
        assert!(view.snapshot.namespace("stale").is_none());
        assert_eq!(
            view.snapshot.tenant_namespaces("a").collect::<Vec<_>>(),
            ["fresh"]
        );
    }

    #[test]
    fn a_relist_of_what_is_already_known_changes_no_revision() {
        let cache = Cache::default();
        cache.apply(Event::Apply(tenant("a", &["ns-a"], 1)));
        cache.apply(Event::Apply(tenant("b", &["ns-b"], 1)));
        cache.apply(Event::Apply(namespace("ns-a", Some("a"))));
        cache.apply(Event::Apply(namespace("ns-b", Some("b"))));
        let revisions = |cache: &Cache| {
            let view = cache.read();
            (
                view.snapshot.revision("a").unwrap_or_default(),
                view.snapshot.revision("b").unwrap_or_default(),
            )
        };
        let before = revisions(&cache);
        let relist = |objects: Vec<Namespace>| {
            cache.apply(Event::<Namespace>::Init);
            for ns in objects {
                cache.apply(Event::InitApply(ns));
            }
            cache.apply(Event::<Namespace>::InitDone)
        };
        let woken = relist(vec![
            namespace("ns-a", Some("a")),
            namespace("ns-b", Some("b")),
        ]);
        assert_eq!(names(&woken), ["a", "b"], "a re-list still wakes everyone");
        assert_eq!(revisions(&cache), before, "nothing changed");
        let mut edited = namespace("ns-b", Some("b"));
        edited.metadata.annotations = Some([("note".to_owned(), "x".to_owned())].into());
        relist(vec![namespace("ns-a", Some("a")), edited]);
        let after = revisions(&cache);
        assert_eq!(after.0, before.0, "a's namespace is as it was");
        assert!(after.1 > before.1, "b's namespace changed");
    }

    #[test]
    fn several_integration_configs_stop_decisions_until_one_remains() {
        let cache = Cache::default();
        let config = |ns: &str| {
            let mut c = IntegrationConfig::new("config", Default::default());
            c.metadata.namespace = Some(ns.into());
            c
        };
        cache.apply(Event::Apply(config("one")));
        assert!(cache.read().integration_problem.is_none());
        cache.apply(Event::Apply(config("two")));
        let problem = cache.read().integration_problem.clone().unwrap_or_default();
        assert!(problem.contains("one/config, two/config"), "{problem}");
        cache.apply(Event::Delete(config("two")));
        assert!(cache.read().integration_problem.is_none());
    }

    #[test]
    fn the_cache_keeps_only_what_the_model_reads() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let cache = Cache::default();
        let mut ns = namespace("ns", Some("a"));
        ns.metadata.managed_fields = Some(vec![
            ManagedFieldsEntry {
                manager: Some("mto".into()),
                operation: Some("Apply".into()),
                fields_v1: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1(
                    serde_json::json!({
                        "f:metadata": {"f:labels": {"f:team": {}}, "f:finalizers": {}},
                        "f:spec": {"f:hard": {"f:pods": {}}}
                    }),
                )),
                ..Default::default()
            },
            ManagedFieldsEntry {
                manager: Some("kubectl".into()),
                operation: Some("Update".into()),
                ..Default::default()
            },
        ]);
        ns.metadata.annotations = Some(
            [
                (LAST_APPLIED.to_owned(), "{...}".to_owned()),
                ("team".to_owned(), "x".to_owned()),
            ]
            .into(),
        );
        cache.apply(Event::Apply(ns));
        let view = cache.read();
        let kept = &view.snapshot.namespace("ns").expect("ns").metadata;
        assert_eq!(kept.managed_fields.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            kept.managed_fields.as_ref().map(Vec::capacity),
            Some(1),
            "no room kept for the entries dropped"
        );
        assert_eq!(
            kept.managed_fields
                .as_ref()
                .and_then(|f| f[0].fields_v1.clone())
                .map(|f| f.0),
            Some(serde_json::json!({"f:metadata": {"f:labels": {"f:team": {}}}})),
            "only the labels and annotations mto owns"
        );
        assert_eq!(
            mto_model::apply::owned_keys(kept, mto_model::apply::MetadataField::Labels),
            ["team"]
        );
        assert_eq!(
            kept.annotations
                .as_ref()
                .map(|a| a.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["team".to_owned()])
        );
    }

    #[test]
    fn synced_once_every_kind_listed() {
        let cache = Cache::default();
        cache.apply(Event::<Tenant>::InitDone);
        cache.apply(Event::<Quota>::InitDone);
        cache.apply(Event::<IntegrationConfig>::InitDone);
        cache.apply(Event::<Namespace>::InitDone);
        cache.apply(Event::<RoleBinding>::InitDone);
        cache.apply(Event::<ResourceQuota>::InitDone);
        assert!(!cache.synced());
        cache.apply(Event::<LimitRange>::InitDone);
        cache.apply(Event::<ResourceSupervisor>::InitDone);
        cache.apply(Event::<ClusterResourceSupervisor>::InitDone);
        cache.apply(Event::<Deployment>::InitDone);
        assert!(!cache.synced());
        cache.apply(Event::<StatefulSet>::InitDone);
        assert!(cache.synced());
    }
}
