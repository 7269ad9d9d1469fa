//! What controllers see: the cluster as a view of objects by kind, with
//! the indexes decisions need, and the rules of what a change wakes.
//!
//! One [`Snapshot`] is the operator's view (fed from watch events by
//! [`View`]) and the in-memory apiserver's store: the same objects, kept by
//! the same code, so the simulator decides from what a real operator would
//! see. Every change goes through [`Snapshot::put`], [`Snapshot::remove`]
//! or [`Snapshot::replace`], which keep the indexes true, move the
//! revision of every tenant whose decision reads what changed, and return
//! whom the change wakes (each kind's rules, in `view/kinds/`).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;

use crate::Timestamp;
use crate::api::{ClusterResourceSupervisor, Quota, Tenant};
use crate::apply::Ownership;
use crate::claims::TenantIntake;
use crate::integration::Integration;
use crate::template::{ChartRendering, ChartRequest};

mod indexes;
mod keys;
mod kinds;
mod meta;
mod name_key;
mod registry;
mod shelf;
mod watch;

pub use indexes::Indexes;
pub use keys::{InstanceId, Key, SupervisorId, Woken};
pub use kinds::{
    FieldRefused, LimitRange, QuotaIntake, QuotaTotal, ResourceQuota, RoleBinding, Typed,
};
pub(crate) use kinds::{
    SubjectFields, desired_digest, digest_as_applied, digest_binding, digest_quota_spec,
};
pub use meta::{HeldMeta, MetaRef, StringMap};
pub(crate) use name_key::NameKey;
pub use registry::{
    DynamicObject, Gvk, Kind, KindVisitor, Object, ObjectVisitor, ObjectVisitorMut, Objects,
    Stored, visit_typed,
};
pub use shelf::{Shelf, ShelfMut};
pub use watch::{Taken, View, WatchEvent};

/// Which object: kind, namespace (for namespaced kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// The namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// A cluster-scoped object.
    #[must_use]
    pub fn cluster(kind: Kind, name: impl Into<String>) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: None,
            name: name.into(),
        }
    }

    /// A namespaced object.
    #[must_use]
    pub fn namespaced(
        kind: Kind,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// Which object `meta` describes, as an object of kind `K`.
    #[must_use]
    pub fn of<'a, K: Stored>(meta: impl Into<MetaRef<'a>>) -> ObjectRef {
        let meta = meta.into();
        ObjectRef {
            kind: K::KIND,
            namespace: meta.namespace().map(str::to_owned),
            name: meta.name().unwrap_or_default().to_owned(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind.name(), ns, self.name),
            None => write!(f, "{}/{}", self.kind.name(), self.name),
        }
    }
}

/// What the view holds of one namespace, found by one lookup: a decision
/// reads the namespace and each of its objects through it, where asking
/// the view by name searched the namespaces again for every object.
#[derive(Clone, Copy, Debug)]
pub struct InNamespace<'a> {
    objects: &'a Objects,
    name: &'a str,
    record: Option<&'a registry::Record>,
}

impl<'a> InNamespace<'a> {
    /// The namespace's name.
    #[must_use]
    pub fn name(self) -> &'a str {
        self.name
    }

    /// The Namespace, with what mto's field manager owns of its labels and
    /// annotations.
    #[must_use]
    pub fn namespace(self) -> Option<(&'a Namespace, &'a Ownership)> {
        Namespace::shelf(self.objects)
            .record_namespace(self.name, self.record)
            .map(|(object, ownership)| (&**object, ownership))
    }

    /// The object of kind `K` named `name` in the namespace, with what
    /// mto's field manager owns of it.
    #[must_use]
    pub fn owned<K: Typed>(self, name: &str) -> Option<(&'a K, &'a Ownership)> {
        K::shelf(self.objects)
            .owned_through(self.name, self.record, name)
            .map(|(object, ownership)| (&**object, ownership))
    }

    /// The objects of kind `K` in the namespace, by name, each with its
    /// name and what mto's field manager owns of it.
    pub fn owned_in<K: Typed>(self) -> impl Iterator<Item = (&'a str, &'a K, &'a Ownership)> {
        K::shelf(self.objects)
            .owned_in_through(self.name, self.record)
            .map(|(name, object, ownership)| (name, &**object, ownership))
    }
}

/// A read-only view of the objects the tenant controller cares about.
pub trait Observed {
    /// A tenant by name.
    fn tenant(&self, name: &str) -> Option<&Tenant>;
    /// A quota by name.
    fn quota(&self, name: &str) -> Option<&Quota>;
    /// A quota by name, with what it asks of every tenant naming it: the
    /// reading the view took when it took this very object in.
    fn quota_intake(&self, name: &str) -> Option<(&Quota, Cow<'_, QuotaIntake>)>;
    /// Every tenant.
    fn tenants(&self) -> impl Iterator<Item = &Tenant>;
    /// Every IntegrationConfig (mto acts on exactly one).
    fn integration_configs(&self) -> impl Iterator<Item = &crate::api::IntegrationConfig>;
    /// The compiled integration config in force.
    fn integration(&self) -> &Integration;
    /// A namespace by name.
    fn namespace(&self, name: &str) -> Option<&Namespace>;
    /// What the view holds of one namespace, found once for everything a
    /// decision reads there.
    fn in_namespace<'s>(&'s self, name: &'s str) -> InNamespace<'s>;
    /// Names of the namespaces labelled `stakater.com/tenant=<tenant>`, sorted.
    fn tenant_namespaces(&self, tenant: &str) -> impl Iterator<Item = &str>;
    /// The role bindings in a namespace, by name.
    fn role_bindings(&self, namespace: &str) -> impl Iterator<Item = &RoleBinding>;
    /// A resource quota.
    fn resource_quota(&self, namespace: &str, name: &str) -> Option<&ResourceQuota>;
    /// The tenants whose spec asks for `namespace`, first claim first.
    fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str>;
    /// A ClusterResourceSupervisor by name.
    fn cluster_resource_supervisor(&self, name: &str) -> Option<&ClusterResourceSupervisor>;
    /// A ClusterRoleBinding by name.
    fn cluster_role_binding(
        &self,
        name: &str,
    ) -> Option<&k8s_openapi::api::rbac::v1::ClusterRoleBinding>;
    /// A PersistentVolume by name.
    fn persistent_volume(
        &self,
        name: &str,
    ) -> Option<&k8s_openapi::api::core::v1::PersistentVolume>;
    /// The template instances using the Template `template`, by key.
    fn template_users(&self, template: &str) -> Vec<String>;
    /// A ClusterTemplateInstance by name.
    fn cluster_template_instance(&self, name: &str)
    -> Option<&crate::api::ClusterTemplateInstance>;
    /// The ClusterTemplateInstances mto keeps for a tenant's
    /// `spec.templateInstances` (named `<tenant>-…`, labelled for it).
    fn tenant_template_instances(&self, tenant: &str) -> Vec<&crate::api::ClusterTemplateInstance>;
    /// What mto's field manager owns of the labels and annotations of the
    /// object of kind `K` that `meta` describes, as observed.
    fn ownership<'m, K: Typed>(&self, meta: impl Into<MetaRef<'m>>) -> &Ownership {
        let meta = meta.into();
        self.owned::<K>(
            meta.namespace().unwrap_or_default(),
            meta.name().unwrap_or_default(),
        )
        .map_or(&Ownership::NONE, |(_, ownership)| ownership)
    }
    /// The object of kind `K` by namespace (empty for cluster-scoped kinds)
    /// and name, with what mto's field manager owns of its labels and
    /// annotations: what a decision comparing it to the desired object
    /// reads, found once.
    fn owned<K: Typed>(&self, namespace: &str, name: &str) -> Option<(&K, &Ownership)>;
    /// The objects of kind `K` in a namespace, by name, each with its name
    /// (read from the view's index, not the object) and what mto's field
    /// manager owns of its labels and annotations.
    fn owned_in<K: Typed>(&self, namespace: &str) -> impl Iterator<Item = (&str, &K, &Ownership)>;
    /// A number that moves whenever anything `tenant`'s decision reads
    /// changes, for [`Settled`](crate::tenant::Settled); `None` when the
    /// view does not keep one (every decision is then made afresh).
    fn revision(&self, tenant: &str) -> Option<u64> {
        let _ = tenant;
        None
    }
    /// What `tenant`'s spec asks: the reading the view took when it took
    /// this very object in, or, for a tenant from elsewhere, read now.
    fn tenant_intake(&self, tenant: &Tenant) -> Cow<'_, TenantIntake> {
        Cow::Owned(TenantIntake::of(tenant))
    }
}

/// The objects of a cluster, indexed for decisions.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    objects: Objects,
    indexes: Indexes,
    /// Helm chart renderings, by their request's digest: observations of
    /// I/O outside the apiserver, recorded by whoever renders them.
    charts: std::collections::BTreeMap<String, Arc<ChartRendering>>,
    /// The kinds charts have rendered objects of, kept as renderings are
    /// recorded (a kind stays once seen: watching it costs little, and
    /// the operator never stops a watch).
    chart_kinds: BTreeSet<Gvk>,
    /// The last reading of Vault (and the writes since): an observation
    /// of I/O outside the apiserver, recorded by whoever talks to Vault.
    vault: Option<Arc<crate::vault::VaultObserved>>,
}

/// How many chart renderings a view keeps; past this the oldest half goes
/// (a rendering dropped is rendered again when a decision asks for it).
const CHARTS_KEPT: usize = 20_000;

impl Snapshot {
    /// Every object, by kind.
    #[must_use]
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The objects of kind `K`.
    #[must_use]
    pub fn shelf<K: Typed>(&self) -> Shelf<'_, K> {
        K::shelf(&self.objects)
    }

    /// An object of kind `K` by namespace (empty for cluster-scoped kinds)
    /// and name.
    #[must_use]
    pub fn get<K: Typed>(&self, namespace: &str, name: &str) -> Option<&K> {
        K::shelf(&self.objects).get(namespace, name).map(|o| &**o)
    }

    /// What the indexes hold.
    #[must_use]
    pub fn indexes(&self) -> &Indexes {
        &self.indexes
    }

    /// An object by reference, shared.
    #[must_use]
    pub fn object(&self, target: &ObjectRef) -> Option<Object> {
        self.taken(target).map(|t| t.into_parts().0)
    }

    /// An object by reference, shared, with what mto owns of it.
    #[must_use]
    pub fn taken(&self, target: &ObjectRef) -> Option<Taken> {
        struct Find<'a> {
            objects: &'a Objects,
            namespace: &'a str,
            name: &'a str,
        }
        impl KindVisitor for Find<'_> {
            type Output = Option<Taken>;
            fn typed<K: Typed>(&mut self) -> Option<Taken> {
                K::shelf(self.objects)
                    .owned(self.namespace, self.name)
                    .map(|(o, ownership)| Taken::held(K::wrap(o.clone()), ownership.clone()))
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Option<Taken> {
                self.objects
                    .dynamic
                    .get(gvk)?
                    .shelf()
                    .owned(self.namespace, self.name)
                    .map(|(o, ownership)| {
                        Taken::held(Object::Dynamic(o.clone()), ownership.clone())
                    })
            }
        }
        target.kind.visit(&mut Find {
            objects: &self.objects,
            namespace: target.namespace.as_deref().unwrap_or_default(),
            name: &target.name,
        })
    }

    /// Every object of one kind, shared.
    #[must_use]
    pub fn list(&self, kind: &Kind) -> Vec<Object> {
        self.list_taken(kind)
            .into_iter()
            .map(|t| t.into_parts().0)
            .collect()
    }

    /// Every object of one kind, shared, each with what mto owns of it.
    #[must_use]
    pub fn list_taken(&self, kind: &Kind) -> Vec<Taken> {
        struct List<'a>(&'a Objects);
        impl KindVisitor for List<'_> {
            type Output = Vec<Taken>;
            fn typed<K: Typed>(&mut self) -> Vec<Taken> {
                K::shelf(self.0)
                    .iter_owned()
                    .map(|(o, ownership)| Taken::held(K::wrap(o.clone()), ownership.clone()))
                    .collect()
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Vec<Taken> {
                self.0
                    .dynamic
                    .get(gvk)
                    .into_iter()
                    .flat_map(|stock| stock.shelf().iter_owned())
                    .map(|(o, ownership)| {
                        Taken::held(Object::Dynamic(o.clone()), ownership.clone())
                    })
                    .collect()
            }
        }
        kind.visit(&mut List(&self.objects))
    }

    /// The objects of a kind outside the registry in one namespace.
    pub fn dynamic_in<'a>(
        &'a self,
        gvk: &Gvk,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<DynamicObject>> + 'a {
        self.objects
            .dynamic
            .get(gvk)
            .into_iter()
            .flat_map(move |stock| stock.shelf().in_namespace(namespace))
    }

    /// The last reading of Vault, if any.
    #[must_use]
    pub fn vault(&self) -> Option<&crate::vault::VaultObserved> {
        self.vault.as_deref()
    }

    /// Records a reading of Vault (or why there is none); wakes the Vault
    /// machine.
    pub fn record_vault(&mut self, observed: crate::vault::VaultObserved) -> Woken {
        self.vault = Some(Arc::new(observed));
        let mut woken = Woken::none();
        woken.insert(Key::Vault);
        woken
    }

    /// Follows a Vault call that succeeded, as a watch event would. Wakes
    /// nobody: the machine that made the call decides again when its run
    /// ends.
    pub fn record_vault_call(&mut self, call: &crate::vault::VaultCall) {
        if let Some(observed) = self.vault.as_mut()
            && let Ok(holdings) = &mut Arc::make_mut(observed).holdings
        {
            holdings.carry(call);
        }
    }

    /// The recorded rendering of a chart request, if any.
    #[must_use]
    pub fn chart(&self, request: &ChartRequest) -> Option<&ChartRendering> {
        self.charts.get(&request.digest()).map(|r| &**r)
    }

    /// Records what came of rendering `request`; wakes the instances of
    /// its Template.
    pub fn record_chart(&mut self, request: &ChartRequest, rendering: ChartRendering) -> Woken {
        if self.charts.len() >= CHARTS_KEPT {
            let mut by_age: Vec<(Timestamp, String)> = self
                .charts
                .iter()
                .map(|(digest, r)| (r.at, digest.clone()))
                .collect();
            by_age.sort();
            for (_, digest) in by_age.into_iter().take(CHARTS_KEPT / 2) {
                self.charts.remove(&digest);
            }
        }
        for object in rendering.objects.iter().flat_map(|o| o.iter()) {
            if let (Some(api_version), Some(kind)) =
                (object["apiVersion"].as_str(), object["kind"].as_str())
            {
                self.chart_kinds
                    .insert(Gvk::from_api_version(api_version, kind));
            }
        }
        self.charts.insert(request.digest(), Arc::new(rendering));
        let mut woken = Woken::none();
        for id in self.instances_of(&request.template) {
            woken.insert(Key::Instance(id));
        }
        woken
    }

    /// Adds or replaces an object of kind `K`; returns whom it wakes.
    pub fn insert<K: Typed>(&mut self, object: K) -> Woken {
        self.put(K::wrap(Arc::new(object)))
    }

    /// Adds or replaces an object, taken in as a view takes it
    /// ([`Taken::new`]); returns whom the change wakes.
    pub fn put(&mut self, object: Object) -> Woken {
        self.put_taken(Taken::new(object))
    }

    /// Adds or replaces an object taken in already; returns whom the
    /// change wakes.
    pub fn put_taken(&mut self, taken: Taken) -> Woken {
        struct Put<'a>(&'a mut Snapshot, Ownership);
        impl ObjectVisitor for Put<'_> {
            type Output = Woken;
            fn typed<K: Typed>(&mut self, object: Arc<K>) -> Woken {
                self.0.put_owned(object, std::mem::take(&mut self.1))
            }
            fn dynamic(&mut self, object: Arc<DynamicObject>) -> Woken {
                self.0
                    .put_dynamic_owned(object, std::mem::take(&mut self.1))
            }
        }
        let (object, ownership) = taken.into_parts();
        object.visit(&mut Put(self, ownership))
    }

    /// A tenant's Extensions read what the tenant reads (its namespaces,
    /// its access control): whatever wakes the tenant wakes them too.
    fn wake_extensions(&self, woken: &mut Woken) {
        let extensions: Vec<String> = woken
            .tenants()
            .filter_map(|t| self.indexes.extensions.get(t))
            .flatten()
            .cloned()
            .collect();
        let tenants_woken = woken.tenants().next().is_some();
        for name in extensions {
            woken.insert(Key::Extension(name));
        }
        // Vault holds every tenant's place: a change to any tenant's
        // namespaces or access concerns it.
        if tenants_woken && self.vault_asked() {
            woken.insert(Key::Vault);
        }
    }

    /// Whether the IntegrationConfig names Vault at all (a cheap look; the
    /// Vault machine reads the settings in full).
    fn vault_asked(&self) -> bool {
        self.shelf::<crate::api::IntegrationConfig>()
            .iter()
            .any(|c| {
                c.spec
                    .integrations
                    .as_ref()
                    .is_some_and(|i| i.get("vault").is_some())
            })
    }

    /// Removes an object; returns it and whom its going wakes.
    pub fn remove(&mut self, target: &ObjectRef) -> Option<(Object, Woken)> {
        struct Remove<'a> {
            snapshot: &'a mut Snapshot,
            namespace: &'a str,
            name: &'a str,
        }
        impl KindVisitor for Remove<'_> {
            type Output = Option<(Object, Woken)>;
            fn typed<K: Typed>(&mut self) -> Option<(Object, Woken)> {
                self.snapshot
                    .remove_typed::<K>(self.namespace, self.name)
                    .map(|(o, w)| (K::wrap(o), w))
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Option<(Object, Woken)> {
                let shelf = self.snapshot.objects.dynamic.get_mut(gvk)?;
                let gone = shelf.remove(self.namespace, self.name)?;
                let gone = Object::Dynamic(gone);
                let mut woken = Woken::none();
                self.snapshot
                    .redeploy(&gone.object_ref(), Some(gone.meta_ref()), None, &mut woken);
                Some((gone, woken))
            }
        }
        let (gone, mut woken) = target.kind.visit(&mut Remove {
            snapshot: self,
            namespace: target.namespace.as_deref().unwrap_or_default(),
            name: &target.name,
        })?;
        self.wake_extensions(&mut woken);
        Some((gone, woken))
    }

    /// Replaces every object of one kind with `fresh`, as a re-list does:
    /// what went is removed, what is new or changed is put, what is the
    /// same is left alone. Returns whom the differences wake. Each object
    /// comes [`Taken`]: a re-list gathers every object of the kind before
    /// it completes, and holds them without their managedFields.
    pub fn replace(&mut self, kind: &Kind, fresh: Vec<Taken>) -> Woken {
        struct Replace<'a> {
            snapshot: &'a mut Snapshot,
            fresh: Vec<Taken>,
        }
        impl KindVisitor for Replace<'_> {
            type Output = Woken;
            fn typed<K: Typed>(&mut self) -> Woken {
                let key = |o: &Arc<K>| {
                    let meta = o.meta_ref();
                    (
                        meta.namespace().unwrap_or_default().to_owned(),
                        meta.name().unwrap_or_default().to_owned(),
                    )
                };
                // Moved, not cloned: each object already came taken in
                // (its managedFields read and, if the view alone holds
                // it, dropped).
                let mut fresh: Vec<((String, String), Arc<K>, Ownership)> =
                    std::mem::take(&mut self.fresh)
                        .into_iter()
                        .map(Taken::into_parts)
                        .filter_map(|(o, ownership)| Some((K::into_typed(o)?, ownership)))
                        .map(|(o, ownership)| (key(&o), o, ownership))
                        .collect();
                // In the shelf's order (a list usually is already), so the
                // objects gone are found in one walk of both.
                fresh.sort_by(|a, b| a.0.cmp(&b.0));
                if K::shelf(&self.snapshot.objects).is_empty() {
                    return self.snapshot.fill::<K>(fresh);
                }
                let mut listed = fresh
                    .iter()
                    .map(|(k, _, _)| (k.0.as_str(), k.1.as_str()))
                    .peekable();
                let mut gone: Vec<(String, String)> = Vec::new();
                for (ns, name) in K::shelf(&self.snapshot.objects).keys() {
                    while listed.next_if(|l| *l < (ns, name)).is_some() {}
                    if listed.peek() != Some(&(ns, name)) {
                        gone.push((ns.to_owned(), name.to_owned()));
                    }
                }
                let mut woken = Woken::none();
                for (ns, name) in gone {
                    if let Some((_, w)) = self.snapshot.remove_typed::<K>(&ns, &name) {
                        woken.extend(w);
                    }
                }
                for (_, object, ownership) in fresh {
                    woken.extend(self.snapshot.put_owned(object, ownership));
                }
                woken
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Woken {
                let mut woken = Woken::none();
                let listed: BTreeSet<ObjectRef> =
                    self.fresh.iter().map(|t| t.object().object_ref()).collect();
                let gone: Vec<ObjectRef> = self
                    .snapshot
                    .objects
                    .dynamic
                    .get(gvk)
                    .into_iter()
                    .flat_map(|stock| stock.shelf().iter())
                    .map(|o| Object::Dynamic(o.clone()).object_ref())
                    .filter(|target| !listed.contains(target))
                    .collect();
                for target in gone {
                    if let Some((_, w)) = self.snapshot.remove(&target) {
                        woken.extend(w);
                    }
                }
                for taken in std::mem::take(&mut self.fresh) {
                    if let (Object::Dynamic(object), ownership) = taken.into_parts() {
                        woken.extend(self.snapshot.put_dynamic_owned(object, ownership));
                    }
                }
                // Instances and the pilot waiting for the kind to be listed go on.
                if !self.snapshot.is_listed(&Kind::Dynamic(gvk.clone())) {
                    for id in self.snapshot.instance_ids() {
                        woken.insert(Key::Instance(id));
                    }
                    woken.insert(Key::Pilot);
                    woken.insert(Key::Vault);
                    for (_, name) in self.snapshot.shelf::<crate::api::Extensions>().keys() {
                        woken.insert(Key::Extension(name.to_owned()));
                    }
                }
                woken
            }
        }
        let woken = kind.visit(&mut Replace {
            snapshot: self,
            fresh,
        });
        self.indexes.listed.insert(kind.clone());
        woken
    }

    /// Whether `other` holds the same objects of `kind` in the same states.
    #[must_use]
    pub fn same_objects(&self, other: &Snapshot, kind: &Kind) -> bool {
        struct Same<'a>(&'a Objects, &'a Objects);
        impl KindVisitor for Same<'_> {
            type Output = bool;
            fn typed<K: Typed>(&mut self) -> bool {
                let (a, b) = (K::shelf(self.0), K::shelf(self.1));
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|(x, y)| Arc::ptr_eq(x, y) || x == y)
            }
            fn dynamic(&mut self, gvk: &Gvk) -> bool {
                self.0
                    .dynamic
                    .get(gvk)
                    .map(|s| s.shelf().iter().collect::<Vec<_>>())
                    == self
                        .1
                        .dynamic
                        .get(gvk)
                        .map(|s| s.shelf().iter().collect::<Vec<_>>())
            }
        }
        kind.visit(&mut Same(&self.objects, &other.objects))
    }

    /// Puts an object whose ownership was read already.
    fn put_owned<K: Typed>(&mut self, mut object: Arc<K>, ownership: Ownership) -> Woken {
        let meta = object.meta_ref();
        let namespace = meta.namespace().unwrap_or_default().to_owned();
        let name = meta.name().unwrap_or_default().to_owned();
        let held = K::shelf(&self.objects).owned(&namespace, &name);
        if let Some((b, owned)) = held
            && (Arc::ptr_eq(b, &object) || **b == *object)
            && *owned == ownership
        {
            return Woken::none();
        }
        let before = held.map(|(b, _)| b.clone());
        // Only what is kept is worth sharing: an unchanged object went above.
        if let Some(only_ours) = Arc::get_mut(&mut object) {
            only_ours.share_bodies(&ownership, self);
        }
        // Whom the object concerns as it was and as it is, read before the
        // change: the rules read the object they are given, not the shelf.
        let mut woken = Woken::none();
        match &before {
            Some(b) if K::same_readers(b, &object) => {
                b.readers(self, &mut woken);
                debug_assert_eq!(
                    woken,
                    {
                        let mut after = Woken::none();
                        object.readers(self, &mut after);
                        after
                    },
                    "{}::same_readers is wrong",
                    K::KIND
                );
            }
            Some(b) => {
                b.readers(self, &mut woken);
                object.readers(self, &mut woken);
            }
            None => object.readers(self, &mut woken),
        }
        K::moved(self, before.as_deref(), Some(&object), &mut woken);
        self.redeploy(
            &ObjectRef::of::<K>(object.meta_ref()),
            before.as_deref().map(Typed::meta_ref),
            Some(object.meta_ref()),
            &mut woken,
        );
        K::shelf_mut(&mut self.objects).insert(&namespace, &name, object.clone(), ownership);
        K::reindex(
            &mut self.indexes,
            &self.objects,
            before.as_deref(),
            Some(&object),
        );
        self.indexes.revisions.touch(&woken);
        // Before a status-only change stops waking its subject: a tenant's
        // status still concerns its Extensions.
        self.wake_extensions(&mut woken);
        if let Some(b) = &before
            && !K::acts_on(b, &object)
            && let Some(subject) = object.subject()
        {
            woken.remove(&subject);
        }
        woken
    }

    /// Puts `fresh` into an empty shelf, as the first list after a start
    /// does: a start decides for everyone anyway, so the readers of each
    /// object are not looked for.
    fn fill<K: Typed>(&mut self, fresh: Vec<((String, String), Arc<K>, Ownership)>) -> Woken {
        if fresh.is_empty() {
            return Woken::none();
        }
        let mut woken = Woken::everyone();
        for ((namespace, name), mut object, ownership) in fresh {
            if let Some(only_ours) = Arc::get_mut(&mut object) {
                only_ours.share_bodies(&ownership, self);
            }
            K::shelf_mut(&mut self.objects).insert(&namespace, &name, object.clone(), ownership);
            K::reindex(&mut self.indexes, &self.objects, None, Some(&object));
            self.redeploy(
                &ObjectRef::of::<K>(object.meta_ref()),
                None,
                Some(object.meta_ref()),
                &mut woken,
            );
        }
        self.indexes.revisions.touch(&woken);
        woken
    }

    fn remove_typed<K: Typed>(&mut self, namespace: &str, name: &str) -> Option<(Arc<K>, Woken)> {
        let before = K::shelf(&self.objects).get(namespace, name)?.clone();
        let mut woken = Woken::none();
        before.readers(self, &mut woken);
        K::moved(self, Some(&before), None, &mut woken);
        self.redeploy(
            &ObjectRef::of::<K>(before.meta_ref()),
            Some(before.meta_ref()),
            None,
            &mut woken,
        );
        K::shelf_mut(&mut self.objects).remove(namespace, name);
        K::reindex(&mut self.indexes, &self.objects, Some(&before), None);
        self.indexes.revisions.touch(&woken);
        Some((before, woken))
    }

    /// Puts an object of a kind mto does not type whose ownership was
    /// read already.
    fn put_dynamic_owned(&mut self, object: Arc<DynamicObject>, ownership: Ownership) -> Woken {
        let Kind::Dynamic(gvk) = Object::Dynamic(object.clone()).kind() else {
            return Woken::none();
        };
        let namespace = object.metadata.namespace.clone().unwrap_or_default();
        let name = object.metadata.name.clone().unwrap_or_default();
        let shelf = self.objects.dynamic.entry(gvk).or_default();
        let held = shelf.shelf().owned(&namespace, &name);
        if held.is_some_and(|(b, owned)| {
            (Arc::ptr_eq(b, &object) || **b == *object) && *owned == ownership
        }) {
            return Woken::none();
        }
        let before = held.map(|(b, _)| b.clone());
        shelf.insert(&namespace, &name, object.clone(), ownership);
        let mut woken = Woken::none();
        self.redeploy(
            &Object::Dynamic(object.clone()).object_ref(),
            before.as_ref().map(|b| MetaRef::from(&b.metadata)),
            Some(MetaRef::from(&object.metadata)),
            &mut woken,
        );
        self.wake_extensions(&mut woken);
        woken
    }

    /// Keeps the index of what template instances deployed true across a
    /// change of any object, and wakes the instances it concerns: a
    /// deployed object edited or deleted is drift to the instance, and
    /// someone's object deleted may have been in the way of the instances
    /// targeting its namespace.
    fn redeploy(
        &mut self,
        object: &ObjectRef,
        before: Option<MetaRef<'_>>,
        after: Option<MetaRef<'_>>,
        woken: &mut Woken,
    ) {
        let id = |m: Option<MetaRef<'_>>| {
            m.and_then(crate::labels::deployed_by)
                .and_then(InstanceId::parse)
        };
        if before
            .or(after)
            .is_some_and(|m| crate::labels::component_of(m).is_some())
        {
            woken.insert(Key::Pilot);
        }
        let vault_access = |m: Option<MetaRef<'_>>| {
            m.and_then(MetaRef::labels)
                .is_some_and(|l| l.contains_key(crate::vault::VAULT_ACCESS_LABEL))
        };
        if vault_access(before) || vault_access(after) {
            woken.insert(Key::Vault);
        }
        for meta in before.iter().chain(after.iter()) {
            if let Some(name) = meta
                .annotations()
                .and_then(|a| a.get(crate::labels::EXTENSIONS_ANNOTATION))
                .filter(|_| crate::labels::is_managed(*meta))
            {
                woken.insert(Key::Extension(name.clone()));
            }
        }
        let someones_gone = after.is_none() && id(before).is_none();
        let (before, after) = (id(before), id(after));
        for id in before.iter().chain(after.iter()) {
            woken.insert(Key::Instance(id.clone()));
        }
        // A source a Template copies changed: its instances follow.
        if matches!(&object.kind, Kind::Dynamic(gvk) if gvk.group.is_empty()) {
            for template in self.shelf::<crate::api::Template>().iter() {
                if crate::template::copies_from(&template.spec, object) {
                    let name = template.metadata.name.as_deref().unwrap_or_default();
                    for id in self.instances_of(name) {
                        woken.insert(Key::Instance(id));
                    }
                }
            }
        }
        if someones_gone && let Some(namespace) = object.namespace.as_deref() {
            let labels = self
                .namespace(namespace)
                .and_then(|n| n.metadata.labels.as_ref());
            for id in self.instances_covering(namespace, labels) {
                woken.insert(Key::Instance(id));
            }
        }
        self.indexes.redeploy(object, before, after);
    }

    /// The objects a template instance deployed (as their annotation says).
    pub fn deployed_by(&self, id: &InstanceId) -> impl Iterator<Item = &ObjectRef> {
        self.indexes.deployed.get(id).into_iter().flatten()
    }

    /// Whether the objects of `kind` are all here: the kind has been
    /// listed once (by [`Snapshot::replace`]), or this is the cluster's own
    /// store. Before that, an object missing may merely not be listed yet.
    #[must_use]
    pub fn is_listed(&self, kind: &Kind) -> bool {
        self.indexes.complete || self.indexes.listed.contains(kind)
    }

    /// Marks the snapshot as the cluster's own store, which holds every
    /// object of every kind.
    pub fn mark_complete(&mut self) {
        self.indexes.complete = true;
    }

    /// The kinds outside the registry that Templates deploy, and the
    /// console's while it may exist: what the operator watches besides
    /// the registry's kinds.
    #[must_use]
    pub fn dynamic_kinds(&self) -> BTreeSet<Gvk> {
        let mut kinds = self.template_kinds();
        if crate::pilot::in_play(self) {
            kinds.extend(crate::pilot::dynamic_kinds());
        }
        if crate::extensions::in_play(self) {
            kinds.insert(crate::extensions::app_project_kind());
        }
        if crate::vault::in_play(self) {
            kinds.insert(crate::vault::service_account_kind());
        }
        kinds
    }

    /// The kinds outside the registry that Templates deploy.
    #[must_use]
    pub fn template_kinds(&self) -> BTreeSet<Gvk> {
        let templates = self.shelf::<crate::api::Template>();
        let copied = templates
            .iter()
            .flat_map(|t| crate::template::copied_kinds(&t.spec));
        templates
            .iter()
            .flat_map(|t| t.spec.resources.iter().flat_map(|r| r.manifests.iter()))
            .filter_map(|m| {
                let api_version = m["apiVersion"].as_str()?;
                let kind = m["kind"].as_str()?;
                (!api_version.contains("${") && !kind.contains("${"))
                    .then(|| Gvk::from_api_version(api_version, kind))
            })
            .chain(copied)
            .chain(self.chart_kinds.iter().cloned())
            .filter(|gvk| {
                !Kind::TYPED
                    .iter()
                    .any(|k| k.name() == gvk.kind && k.api_version() == gvk.api_version())
            })
            .collect()
    }

    /// Every template instance.
    pub fn instance_ids(&self) -> impl Iterator<Item = InstanceId> + '_ {
        let namespaced =
            self.shelf::<crate::api::TemplateInstance>()
                .keys()
                .map(|(namespace, name)| InstanceId::Namespaced {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                });
        let cluster = self
            .shelf::<crate::api::ClusterTemplateInstance>()
            .keys()
            .map(|(_, name)| InstanceId::Cluster {
                name: name.to_owned(),
            });
        let group = self
            .shelf::<crate::api::TemplateGroupInstance>()
            .keys()
            .map(|(_, name)| InstanceId::Group {
                name: name.to_owned(),
            });
        namespaced.chain(cluster).chain(group)
    }

    /// The instances of the Template `template`.
    #[must_use]
    pub fn instances_of(&self, template: &str) -> Vec<InstanceId> {
        self.instance_ids()
            .filter(|id| {
                crate::template::Instance::find(self, id).is_some_and(|i| i.template() == template)
            })
            .collect()
    }

    /// The instances targeting `namespace` with these labels: its
    /// TemplateInstances and the cluster instances whose selector matches.
    #[must_use]
    pub fn instances_covering(
        &self,
        namespace: &str,
        labels: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Vec<InstanceId> {
        // The namespace's own TemplateInstances by namespace: there may be
        // one in every namespace, and every namespace change asks.
        let own = self
            .shelf::<crate::api::TemplateInstance>()
            .in_namespace(namespace)
            .map(|i| crate::template::Instance::Namespaced(i).id());
        let cluster = self
            .shelf::<crate::api::ClusterTemplateInstance>()
            .iter()
            .map(|i| crate::template::Instance::Cluster(i));
        let group = self
            .shelf::<crate::api::TemplateGroupInstance>()
            .iter()
            .map(|i| crate::template::Instance::Group(i));
        let selecting = cluster
            .chain(group)
            .filter(|i| {
                i.selector()
                    .is_some_and(|s| crate::selector::matches(s, labels))
            })
            .map(|i| i.id());
        own.chain(selecting).collect()
    }

    /// Changes an object of kind `K` in place, as an apiserver does (the
    /// object is copied if the view shares it); `None` if there is none.
    pub fn edit<K: Typed, R>(
        &mut self,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut K) -> R,
    ) -> Option<(R, Woken)> {
        let (before, ownership) = K::shelf(&self.objects).owned(namespace, name)?;
        let mut object = before.clone();
        let out = change(Arc::make_mut(&mut object));
        let ownership = ownership.carried(before.meta_ref(), object.meta_ref());
        let taken = Taken::owned(K::wrap(object), ownership);
        Some((out, self.put_taken(taken)))
    }

    /// An object's metadata.
    #[must_use]
    pub fn metadata<'a>(&'a self, target: &'a ObjectRef) -> Option<MetaRef<'a>> {
        struct Meta<'a> {
            objects: &'a Objects,
            namespace: &'a str,
            name: &'a str,
        }
        impl<'a> KindVisitor for Meta<'a> {
            type Output = Option<MetaRef<'a>>;
            fn typed<K: Typed>(&mut self) -> Option<MetaRef<'a>> {
                K::shelf(self.objects)
                    .get(self.namespace, self.name)
                    .map(|o| o.meta_ref())
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Option<MetaRef<'a>> {
                self.objects
                    .dynamic
                    .get(gvk)?
                    .shelf()
                    .get(self.namespace, self.name)
                    .map(|o| MetaRef::from(&o.metadata))
            }
        }
        target.kind.visit(&mut Meta {
            objects: &self.objects,
            namespace: target.namespace.as_deref().unwrap_or_default(),
            name: &target.name,
        })
    }

    /// Why no IntegrationConfig is in force (several, or an invalid one).
    /// While set, controllers decide nothing: roles mto cannot read must
    /// not turn into deleted bindings.
    #[must_use]
    pub fn integration_problem(&self) -> Option<&str> {
        self.indexes.integration_problem.as_deref()
    }

    /// Every tenant, supervisor, instance, Template and the pilot: whom
    /// [`Woken::everyone`] wakes.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        let tenants = self
            .shelf::<Tenant>()
            .keys()
            .map(|(_, name)| Key::Tenant(name.to_owned()));
        let namespaced =
            self.shelf::<crate::api::ResourceSupervisor>()
                .keys()
                .map(|(namespace, name)| {
                    Key::Supervisor(SupervisorId::Namespaced {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                    })
                });
        let cluster = self
            .shelf::<ClusterResourceSupervisor>()
            .keys()
            .map(|(_, name)| {
                Key::Supervisor(SupervisorId::Cluster {
                    name: name.to_owned(),
                })
            });
        let configured = !self.shelf::<crate::api::IntegrationConfig>().is_empty();
        let pilot = configured.then_some(Key::Pilot);
        let vault = configured.then_some(Key::Vault);
        let extensions = self
            .shelf::<crate::api::Extensions>()
            .keys()
            .map(|(_, name)| Key::Extension(name.to_owned()));
        tenants
            .chain(pilot)
            .chain(vault)
            .chain(extensions)
            .chain(namespaced)
            .chain(cluster)
            .chain(self.instance_ids().map(Key::Instance))
            .chain(
                self.shelf::<crate::api::Template>()
                    .keys()
                    .map(|(_, name)| Key::Template(name.to_owned())),
            )
    }

    /// The tenant labelled on a namespace.
    #[must_use]
    pub fn tenant_of_namespace(&self, namespace: &str) -> Option<&str> {
        crate::labels::tenant_of(&self.namespace(namespace)?.metadata)
    }

    /// Tenants other than `tenant` asking for one of its namespaces that
    /// `which` selects: those whose claim changes when `tenant` does.
    pub fn other_claimants(&self, tenant: &Tenant, which: impl Fn(&str) -> bool) -> Vec<String> {
        let name = tenant.metadata.name.as_deref().unwrap_or_default();
        let mut out = BTreeSet::new();
        for requested in crate::claims::requested_namespaces(tenant)
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
            t.map(crate::claims::requested_namespaces)
                .into_iter()
                .flatten()
                .map(|r| r.name.into())
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

    /// The supervisors covering `namespace` with these labels (by
    /// namespace, by name or by label selector): whom a change there
    /// concerns.
    #[must_use]
    pub fn supervisors_covering(
        &self,
        namespace: &str,
        labels: Option<&std::collections::BTreeMap<String, String>>,
    ) -> BTreeSet<SupervisorId> {
        let mut out: BTreeSet<SupervisorId> = self
            .shelf::<crate::api::ResourceSupervisor>()
            .in_namespace(namespace)
            .map(|s| SupervisorId::Namespaced {
                namespace: namespace.to_owned(),
                name: s.metadata.name.clone().unwrap_or_default(),
            })
            .collect();
        let cluster = self.shelf::<ClusterResourceSupervisor>();
        let selects = |name: &&String| {
            cluster.named(name).is_some_and(|c| {
                c.spec
                    .namespaces
                    .label_selector
                    .as_ref()
                    .is_some_and(|selector| crate::selector::matches(selector, labels))
            })
        };
        let coverage = &self.indexes.coverage;
        let by_name = coverage.by_name.get(namespace).into_iter().flatten();
        let by_tenant = labels
            .and_then(|l| l.get(crate::labels::TENANT_LABEL))
            .and_then(|tenant| coverage.by_tenant.get(tenant))
            .into_iter()
            .flatten()
            .filter(selects);
        let others = coverage.other_selectors.iter().filter(selects);
        out.extend(
            by_name
                .chain(by_tenant)
                .chain(others)
                .map(|name| SupervisorId::Cluster { name: name.clone() }),
        );
        out
    }

    /// The workloads the supervisor with this key put to sleep.
    pub fn slept_by(&self, supervisor: &str) -> impl Iterator<Item = &ObjectRef> {
        self.indexes.asleep.get(supervisor).into_iter().flatten()
    }
}

impl Observed for Snapshot {
    fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.get("", name)
    }
    fn quota(&self, name: &str) -> Option<&Quota> {
        self.get("", name)
    }
    /// The intake kept beside the Quota: the index is rebuilt whenever
    /// the held Quota's spec changes ([`Typed::reindex`]).
    fn quota_intake(&self, name: &str) -> Option<(&Quota, Cow<'_, QuotaIntake>)> {
        let quota = self.quota(name)?;
        let intake = match self.indexes.quota_intakes.get(name) {
            Some(intake) => Cow::Borrowed(intake),
            None => Cow::Owned(QuotaIntake::of(quota)),
        };
        Some((quota, intake))
    }
    fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.shelf::<Tenant>().iter().map(|t| &**t)
    }
    fn integration_configs(&self) -> impl Iterator<Item = &crate::api::IntegrationConfig> {
        self.shelf::<crate::api::IntegrationConfig>()
            .iter()
            .map(|c| &**c)
    }
    fn integration(&self) -> &Integration {
        &self.indexes.integration
    }
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.get("", name)
    }
    fn in_namespace<'s>(&'s self, name: &'s str) -> InNamespace<'s> {
        InNamespace {
            objects: &self.objects,
            name,
            record: self.objects.records.get(&NameKey::new(name)),
        }
    }
    fn tenant_namespaces(&self, tenant: &str) -> impl Iterator<Item = &str> {
        self.indexes
            .tenant_namespaces
            .get(&NameKey::new(tenant))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
    fn role_bindings(&self, namespace: &str) -> impl Iterator<Item = &RoleBinding> {
        self.shelf::<RoleBinding>()
            .in_namespace(namespace)
            .map(|rb| &**rb)
    }
    fn resource_quota(&self, namespace: &str, name: &str) -> Option<&ResourceQuota> {
        self.get(namespace, name)
    }
    fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str> {
        self.indexes.claims.claimants(namespace)
    }
    fn cluster_resource_supervisor(&self, name: &str) -> Option<&ClusterResourceSupervisor> {
        self.get("", name)
    }
    fn cluster_role_binding(
        &self,
        name: &str,
    ) -> Option<&k8s_openapi::api::rbac::v1::ClusterRoleBinding> {
        self.get("", name)
    }
    fn persistent_volume(
        &self,
        name: &str,
    ) -> Option<&k8s_openapi::api::core::v1::PersistentVolume> {
        self.get("", name)
    }
    fn cluster_template_instance(
        &self,
        name: &str,
    ) -> Option<&crate::api::ClusterTemplateInstance> {
        self.get("", name)
    }
    fn tenant_template_instances(&self, tenant: &str) -> Vec<&crate::api::ClusterTemplateInstance> {
        // By name first: every tenant's decision reads these, and a scan of
        // all instances would make a pass over the tenants quadratic.
        let prefix = format!("{tenant}-");
        self.shelf::<crate::api::ClusterTemplateInstance>()
            .named_from(&prefix)
            .map(|i| &**i)
            .filter(|i| crate::labels::is_managed_for(&i.metadata, tenant))
            .collect()
    }
    fn template_users(&self, template: &str) -> Vec<String> {
        self.instances_of(template)
            .iter()
            .map(InstanceId::key)
            .collect()
    }
    fn owned<K: Typed>(&self, namespace: &str, name: &str) -> Option<(&K, &Ownership)> {
        K::shelf(&self.objects)
            .owned(namespace, name)
            .map(|(object, ownership)| (&**object, ownership))
    }
    fn owned_in<K: Typed>(&self, namespace: &str) -> impl Iterator<Item = (&str, &K, &Ownership)> {
        K::shelf(&self.objects)
            .owned_in(namespace)
            .map(|(name, object, ownership)| (name, &**object, ownership))
    }
    fn revision(&self, tenant: &str) -> Option<u64> {
        Some(self.indexes.revisions.of(tenant))
    }
    /// The intake kept beside the tenant, when `tenant` is the object
    /// held: the index reads it again at every write of the tenant
    /// ([`Typed::reindex`]), and knows which object it read.
    fn tenant_intake(&self, tenant: &Tenant) -> Cow<'_, TenantIntake> {
        let name = tenant.metadata.name.as_deref().unwrap_or_default();
        match self.indexes.intakes.get(&NameKey::new(name)) {
            Some(kept) if kept.is_of(tenant) => Cow::Borrowed(&kept.intake),
            _ => Cow::Owned(TenantIntake::of(tenant)),
        }
    }
}
