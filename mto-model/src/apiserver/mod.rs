//! An in-memory Kubernetes apiserver: the write side the simulator and
//! `mto plan` share.
//!
//! It keeps its objects in a [`Snapshot`] and adds what an apiserver adds
//! on top: resource versions (with compare-and-swap), uids, creation times,
//! generations moved by spec changes, finalizers and deletion marks,
//! namespaces that terminate and take their contents with them, garbage
//! collection by owner, server-side apply of mto's fields, uid-guarded
//! deletes, typed errors, and a log of every change in order, as a watch
//! would report it.
//!
//! What mto's field manager owns of an object of a kind mto types is kept
//! beside the object, as a view keeps it ([`Ownership`]), not in
//! `managedFields`: the trees would be the largest part of every object
//! the simulator holds, and a view sharing the object reads the same
//! ownership from the change. Objects of other kinds keep their
//! `managedFields`, which say which fields of their bodies are mto's.
//!
//! mto's writes go through [`ApiServer::execute`]; people's through
//! [`ApiServer::put`] and [`ApiServer::delete`].

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::Timestamp;
use crate::action::{Action, Patch};
use crate::apply::{Ownership, apply_object, apply_owned_metadata};
use crate::view::{
    DynamicObject, Gvk, Kind, MetaRef, Object, ObjectRef, ObjectVisitor, ObjectVisitorMut,
    Observed as _, Snapshot, Taken, Typed, WatchEvent,
};

/// Why the apiserver refused a call, by the class of its HTTP status.
/// The variant names are stable: they become metric labels.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404: the object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// 409: the object changed since it was read, or a uid precondition
    /// failed, or it already exists.
    #[error("{0}: the object has been modified; read it again and retry")]
    Conflict(String),
    /// 400, 403, 422: the request itself is refused.
    #[error("{target}: {message}")]
    Rejected {
        /// What the call was about.
        target: String,
        /// Why.
        message: String,
    },
    /// 429: too many requests.
    #[error("{0}: too many requests; retry later")]
    Throttled(String),
    /// 5xx, or the server could not be reached.
    #[error("{target}: {message}")]
    Unavailable {
        /// What the call was about.
        target: String,
        /// Why.
        message: String,
    },
}

impl ApiError {
    /// A short, stable name for metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Rejected { .. } => "rejected",
            ApiError::Throttled(_) => "throttled",
            ApiError::Unavailable { .. } => "unavailable",
        }
    }

    fn rejected(target: impl ToString, message: impl Into<String>) -> ApiError {
        ApiError::Rejected {
            target: target.to_string(),
            message: message.into(),
        }
    }
}

/// One change, as a watch reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The apiserver's resource version after the change.
    pub resource_version: u64,
    /// What changed.
    pub event: WatchEvent,
    /// Whom the change concerns, read from the apiserver's own objects:
    /// what a perfectly fresh view would wake.
    pub woken: crate::view::Woken,
}

/// The in-memory apiserver.
#[derive(Clone, Debug)]
pub struct ApiServer {
    store: Snapshot,
    resource_version: u64,
    uid: u64,
    changes: Vec<Change>,
    writes: u64,
}

impl Default for ApiServer {
    fn default() -> ApiServer {
        ApiServer::from(Snapshot::default())
    }
}

impl From<Snapshot> for ApiServer {
    /// An apiserver holding what a view observed, as it was: identities
    /// and versions kept, new versions counting on from the highest.
    fn from(store: Snapshot) -> ApiServer {
        let kinds: Vec<Kind> = Kind::TYPED.to_vec();
        let highest = kinds
            .iter()
            .flat_map(|k| store.list(k))
            .filter_map(|o| o.meta_ref().resource_version()?.parse::<u64>().ok())
            .max()
            .unwrap_or_default();
        let mut store = store;
        // The apiserver holds every object of every kind it serves.
        store.mark_complete();
        ApiServer {
            store,
            resource_version: highest,
            uid: 0,
            changes: Vec::new(),
            writes: 0,
        }
    }
}

impl ApiServer {
    /// The objects as they are.
    #[must_use]
    pub fn snapshot(&self) -> &Snapshot {
        &self.store
    }

    /// Records what a chart renders to, beside the objects: the world's
    /// charts, for decisions made from this store (the simulator's
    /// invariants, `mto plan`). Not a write.
    pub fn record_chart(
        &mut self,
        request: &crate::template::ChartRequest,
        rendering: crate::template::ChartRendering,
    ) {
        let _ = self.store.record_chart(request, rendering);
    }

    /// Records a reading of Vault beside the objects, for decisions made
    /// from this store. Not a write.
    pub fn record_vault(&mut self, observed: crate::vault::VaultObserved) {
        let _ = self.store.record_vault(observed);
    }

    /// Follows a Vault call that succeeded in the reading kept here.
    pub fn record_vault_call(&mut self, call: &crate::vault::VaultCall) {
        self.store.record_vault_call(call);
    }

    /// Writes accepted so far.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The latest resource version.
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The changes since the last call, in order.
    pub fn drain_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Every object of a kind, as a list call returns them, each with
    /// what mto owns of it.
    #[must_use]
    pub fn list(&self, kind: &Kind) -> Vec<Taken> {
        self.store.list_taken(kind)
    }

    /// Carries out one of mto's actions (field manager `mto`). Returns
    /// whether anything changed: applying what is there writes nothing.
    pub fn execute(&mut self, action: &Action, now: Timestamp) -> Result<bool, ApiError> {
        match action {
            Action::Apply { object, .. } => self.apply(&mut object.clone(), now),
            Action::ApplyStatus { object } => self.apply_status(object),
            Action::Delete { target, uid, .. } => self.delete(target, uid.as_deref(), now),
            Action::Patch { target, patch, .. } => self.patch(target, patch),
            Action::RenderChart { regarding, .. } => Err(ApiError::rejected(
                regarding,
                "rendering a chart is not an apiserver call; the driver's host renders it",
            )),
            Action::Vault { regarding, .. } => Err(ApiError::rejected(
                regarding,
                "a call to Vault is not an apiserver call; the driver's host makes it",
            )),
        }
    }

    /// Carries out one of mto's actions as [`ApiServer::execute`] does, on
    /// the action itself: an object created from an action nothing else
    /// holds is not copied but becomes the stored object, which the action
    /// then shares. A run that keeps its actions (for its events and
    /// journal) is carried out this way without a copy of each new object.
    pub fn execute_in_place(
        &mut self,
        action: &mut Action,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        match action {
            Action::Apply { object, .. } => self.apply(object, now),
            other => self.execute(other, now),
        }
    }

    /// Creates or replaces an object as a person (or a GitOps tool) does.
    ///
    /// With a resourceVersion it is a replace of what was read: a stale
    /// one is a conflict, and the labels and annotations are exactly those
    /// given. Without one it is an apply of a manifest: labels and
    /// annotations others set stay. Either way the apiserver keeps the
    /// object's identity, finalizers, deletion mark and status, and the
    /// generation moves only with the spec.
    pub fn put(&mut self, object: Object, now: Timestamp) -> Result<(), ApiError> {
        struct Put<'a> {
            server: &'a mut ApiServer,
            now: Timestamp,
        }
        impl ObjectVisitor for Put<'_> {
            type Output = Result<(), ApiError>;
            fn typed<K: Typed>(&mut self, object: Arc<K>) -> Result<(), ApiError> {
                self.server.put_typed((*object).clone(), self.now)
            }
            fn dynamic(&mut self, object: Arc<DynamicObject>) -> Result<(), ApiError> {
                let mut object = (*object).clone();
                let target = Object::Dynamic(Arc::new(object.clone())).object_ref();
                let current = self.server.store.object(&target);
                self.server.namespace_open(&object.metadata)?;
                let current_meta = current.as_ref().map(Object::meta);
                self.server.stamp_user_write(
                    &mut object.metadata,
                    current_meta,
                    &target,
                    self.now,
                )?;
                self.server.record(Object::Dynamic(Arc::new(object)));
                Ok(())
            }
        }
        object.visit(&mut Put { server: self, now })
    }

    /// Creates an object; one that exists is a conflict.
    pub fn create(&mut self, object: Object, now: Timestamp) -> Result<(), ApiError> {
        let target = object.object_ref();
        if self.store.object(&target).is_some() {
            return Err(ApiError::Conflict(format!("{target} already exists")));
        }
        self.put(object, now)
    }

    /// Deletes an object as `kubectl delete` does, only if its uid is
    /// still `uid` when given: marked while finalizers hold it (a namespace
    /// terminates), removed otherwise.
    pub fn delete(
        &mut self,
        target: &ObjectRef,
        uid: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        let Some(current) = self.store.object(target) else {
            return Err(ApiError::NotFound(target.to_string()));
        };
        let meta = current.meta_ref();
        if uid.is_some_and(|uid| meta.uid() != Some(uid)) {
            return Err(ApiError::Conflict(format!(
                "{target}: the uid precondition failed"
            )));
        }
        let held =
            target.kind == Kind::Namespace || meta.finalizers().is_some_and(|f| !f.is_empty());
        if !held {
            self.remove(target);
            return Ok(true);
        }
        if meta.deletion_timestamp().is_some() {
            return Ok(false);
        }
        let mut marked = current;
        marked.meta_mut().deletion_timestamp = Some(Time(now));
        self.restamp(marked);
        Ok(true)
    }

    /// The namespace controller: removes terminating namespaces with
    /// everything in them. Returns the namespaces removed.
    pub fn finalize_namespaces(&mut self) -> Vec<String> {
        let terminating: Vec<String> = self
            .store
            .shelf::<Namespace>()
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        for namespace in &terminating {
            let mut contents = Vec::new();
            for kind in self.kinds() {
                if kind.namespaced() == Some(false) || kind == Kind::Namespace {
                    continue;
                }
                contents.extend(
                    self.store
                        .list(&kind)
                        .into_iter()
                        .filter(|o| o.meta_ref().namespace() == Some(namespace.as_str()))
                        .map(|o| o.object_ref()),
                );
            }
            for target in contents {
                self.remove(&target);
            }
            self.remove(&ObjectRef::cluster(Kind::Namespace, namespace));
        }
        terminating
    }

    /// The garbage collector: deletes objects whose owners (by uid) are
    /// all gone. Returns what it deleted.
    pub fn collect_garbage(&mut self, now: Timestamp) -> Vec<ObjectRef> {
        let kinds = self.kinds();
        let owned: Vec<Object> = kinds
            .iter()
            .flat_map(|k| self.store.list(k))
            .filter(|o| {
                o.meta_ref()
                    .owner_references()
                    .is_some_and(|r| !r.is_empty())
            })
            .collect();
        if owned.is_empty() {
            return Vec::new();
        }
        let owners: BTreeSet<&str> = owned
            .iter()
            .flat_map(|o| o.meta_ref().owner_references().into_iter().flatten())
            .map(|r| r.uid.as_str())
            .collect();
        let live: BTreeSet<&str> = kinds
            .iter()
            .flat_map(|k| self.store.list(k))
            .filter_map(|o| owners.get(o.meta_ref().uid()?).copied())
            .collect();
        let orphans: Vec<ObjectRef> = owned
            .iter()
            .filter(|o| {
                o.meta_ref()
                    .owner_references()
                    .into_iter()
                    .flatten()
                    .all(|r| !live.contains(r.uid.as_str()))
            })
            .map(Object::object_ref)
            .collect();
        orphans
            .into_iter()
            .filter(|target| matches!(self.delete(target, None, now), Ok(true)))
            .collect()
    }

    /// Every kind holding objects: the typed ones and the dynamic ones seen.
    fn kinds(&self) -> Vec<Kind> {
        let mut kinds: Vec<Kind> = Kind::TYPED.to_vec();
        kinds.extend(
            self.store
                .objects()
                .dynamic
                .keys()
                .map(|gvk: &Gvk| Kind::Dynamic(gvk.clone())),
        );
        kinds
    }

    /// Applies `object`; one it creates becomes the stored object, shared
    /// with `object` (taken from it, not copied, if nothing else holds it).
    fn apply(&mut self, object: &mut Object, now: Timestamp) -> Result<bool, ApiError> {
        struct Apply<'a> {
            server: &'a mut ApiServer,
            now: Timestamp,
        }
        impl ObjectVisitorMut for Apply<'_> {
            type Output = Result<bool, ApiError>;
            fn typed<K: Typed>(&mut self, applied: &mut Arc<K>) -> Result<bool, ApiError> {
                self.server.apply_typed(applied, self.now)
            }
            fn dynamic(&mut self, applied: &mut Arc<DynamicObject>) -> Result<bool, ApiError> {
                self.server.apply_dynamic(applied, self.now)
            }
        }
        object.visit_mut(&mut Apply { server: self, now })
    }

    fn apply_typed<K: Typed>(
        &mut self,
        applied: &mut Arc<K>,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        let target = ObjectRef::of::<K>(applied.meta_ref());
        let namespace = applied.meta_ref().namespace().unwrap_or_default();
        if K::NAMESPACED {
            self.namespace_open(applied.meta_ref())?;
        }
        let current = K::shelf(self.store.objects())
            .owned(namespace, &target.name)
            .map(|(object, ownership)| (object.clone(), ownership.clone()));
        let Some((current, ownership)) = current else {
            // What an apply to nothing makes, in the applied object itself
            // (copied first only if something else holds it): the new
            // identity, and the labels and annotations applied.
            let shared_labels = applied.shared_labels();
            let created = Arc::make_mut(applied);
            let ObjectMeta {
                name,
                namespace,
                labels,
                annotations,
                ..
            } = std::mem::take(created.meta_mut());
            *created.meta_mut() = ObjectMeta {
                labels: labels.filter(|l| !l.is_empty()),
                annotations: annotations.filter(|a| !a.is_empty()),
                resource_version: Some(self.next_version()),
                ..self.identity(name, namespace, now, K::GENERATION)
            };
            let apiserver_label = created.created();
            // Read after the apiserver's own labels, which move the
            // positions ownership keeps.
            created.settle_meta(shared_labels.as_ref());
            let owned = Ownership::created(created.meta_ref(), apiserver_label);
            self.log_owned(K::wrap(Arc::clone(applied)), owned);
            return Ok(true);
        };
        if target.kind == Kind::Namespace && current.meta_ref().deletion_timestamp().is_some() {
            return Err(ApiError::rejected(
                &target,
                "the namespace is terminating; nothing can be applied to it",
            ));
        }
        let mut next = (*current).clone();
        let (metadata, owned) =
            apply_owned_metadata(next.meta_mut(), &ownership, applied.meta_ref());
        let fields = K::apply_fields(&mut next, &**applied)
            .map_err(|refused| ApiError::rejected(&target, refused.0))?;
        if !(metadata || fields) {
            return Ok(false);
        }
        if K::GENERATION && K::spec_changed(&current, &next) {
            bump_generation(next.meta_mut());
        }
        next.settle_meta(applied.shared_labels().as_ref());
        self.record_owned(K::wrap(Arc::new(next)), owned);
        Ok(true)
    }

    /// A kind mto does not type: applied field by field, as the real
    /// apiserver's server-side apply would (see [`apply_object`]).
    fn apply_dynamic(&mut self, applied: &DynamicObject, now: Timestamp) -> Result<bool, ApiError> {
        let wrapped = Object::Dynamic(Arc::new(applied.clone()));
        let target = wrapped.object_ref();
        let api_version = applied
            .types
            .as_ref()
            .map(|t| t.api_version.clone())
            .unwrap_or_default();
        if applied.metadata.namespace.is_some() {
            self.namespace_open(&applied.metadata)?;
        }
        let Some(Object::Dynamic(current)) = self.store.object(&target) else {
            let mut created = DynamicObject {
                types: applied.types.clone(),
                metadata: self.identity(
                    applied.metadata.name.clone(),
                    applied.metadata.namespace.clone(),
                    now,
                    true,
                ),
                data: serde_json::Value::Object(serde_json::Map::new()),
            };
            apply_object(
                &mut created.metadata,
                &mut created.data,
                &applied.metadata,
                &applied.data,
                &api_version,
            );
            self.record(Object::Dynamic(Arc::new(created)));
            return Ok(true);
        };
        let mut next = (*current).clone();
        let before = next.data.clone();
        if !apply_object(
            &mut next.metadata,
            &mut next.data,
            &applied.metadata,
            &applied.data,
            &api_version,
        ) {
            return Ok(false);
        }
        if next.data != before {
            bump_generation(&mut next.metadata);
        }
        self.restamp(Object::Dynamic(Arc::new(next)));
        Ok(true)
    }

    fn apply_status(&mut self, object: &Object) -> Result<bool, ApiError> {
        struct Status<'a>(&'a mut ApiServer);
        impl ObjectVisitor for Status<'_> {
            type Output = Result<bool, ApiError>;
            fn typed<K: Typed>(&mut self, applied: Arc<K>) -> Result<bool, ApiError> {
                let target = ObjectRef::of::<K>(applied.meta());
                let namespace = target.namespace.as_deref().unwrap_or_default();
                let Some(current) = K::shelf(self.0.store.objects()).get(namespace, &target.name)
                else {
                    return Err(ApiError::NotFound(target.to_string()));
                };
                let mut next = (**current).clone();
                match K::apply_status(&mut next, &applied) {
                    None => Err(ApiError::rejected(&target, "the kind has no status")),
                    Some(false) => Ok(false),
                    Some(true) => {
                        self.0.restamp(K::wrap(Arc::new(next)));
                        Ok(true)
                    }
                }
            }
            fn dynamic(&mut self, applied: Arc<DynamicObject>) -> Result<bool, ApiError> {
                let target = Object::Dynamic(applied).object_ref();
                Err(ApiError::rejected(
                    &target,
                    "mto writes no status of this kind",
                ))
            }
        }
        object.clone().visit(&mut Status(self))
    }

    fn patch(&mut self, target: &ObjectRef, patch: &Patch) -> Result<bool, ApiError> {
        let Some(mut object) = self.store.object(target) else {
            // A project that does not exist syncs nothing: nothing to hold.
            if matches!(patch, Patch::SyncWindow(_)) {
                return Ok(false);
            }
            return Err(ApiError::NotFound(target.to_string()));
        };
        let patch = match patch {
            Patch::Merge(merge) => merge,
            Patch::SyncWindow(edit) => {
                let mut project = object
                    .to_json()
                    .map_err(|e| ApiError::rejected(target, e.to_string()))?;
                if !edit.apply(&mut project) {
                    return Ok(false);
                }
                let edited = Object::from_json(project)
                    .map_err(|e| ApiError::rejected(target, e.to_string()))?;
                return Ok(self.write_patched(target, edited));
            }
            Patch::Finalizer(edit) => {
                let current = object
                    .meta_ref()
                    .finalizers()
                    .map(<[String]>::to_vec)
                    .unwrap_or_default();
                let Some(next) = edit.apply(&current) else {
                    return Err(ApiError::Conflict(format!(
                        "{target}: the finalizers changed since they were read"
                    )));
                };
                let meta = object.meta_mut();
                meta.finalizers = (!next.is_empty()).then_some(next);
                return Ok(self.write_patched(target, object));
            }
        };
        if patch.resource_version.is_some()
            && object.meta_ref().resource_version() != patch.resource_version.as_deref()
        {
            return Err(ApiError::Conflict(target.to_string()));
        }
        let mut changed = false;
        if let Some(replicas) = patch.replicas {
            struct Scale(i32);
            impl ObjectVisitor for Scale {
                type Output = Option<(Object, bool)>;
                fn typed<K: Typed>(&mut self, mut object: Arc<K>) -> Option<(Object, bool)> {
                    let scaled = Arc::make_mut(&mut object);
                    let field = scaled.replicas_mut()?;
                    let changed = *field != Some(self.0);
                    *field = Some(self.0);
                    if changed && K::GENERATION {
                        bump_generation(scaled.meta_mut());
                    }
                    Some((K::wrap(object), changed))
                }
                fn dynamic(&mut self, _: Arc<DynamicObject>) -> Option<(Object, bool)> {
                    None
                }
            }
            let Some((scaled, scale_changed)) = object.visit(&mut Scale(replicas)) else {
                return Err(ApiError::rejected(target, "the kind has no spec.replicas"));
            };
            object = scaled;
            changed |= scale_changed;
        }
        let meta = object.meta_mut();
        for (field, edits) in [
            (&mut meta.labels, &patch.labels),
            (&mut meta.annotations, &patch.annotations),
        ] {
            for (key, value) in edits {
                let map = field.get_or_insert_with(Default::default);
                changed |= match value {
                    Some(v) => map.insert(key.clone(), v.clone()).as_ref() != Some(v),
                    None => map.remove(key).is_some(),
                };
            }
            if field.as_ref().is_some_and(|m| m.is_empty()) {
                *field = None;
            }
        }
        if !changed {
            return Ok(false);
        }
        Ok(self.write_patched(target, object))
    }

    /// Stores a patched object; one being deleted whose last finalizer
    /// came off goes. Returns `true`: something changed.
    fn write_patched(&mut self, target: &ObjectRef, object: Object) -> bool {
        let meta = object.meta_ref();
        let released = meta.deletion_timestamp().is_some()
            && meta.finalizers().is_none_or(<[String]>::is_empty)
            && target.kind != Kind::Namespace;
        if released {
            self.remove(target);
        } else {
            self.restamp(object);
        }
        true
    }

    fn put_typed<K: Typed>(&mut self, mut object: K, now: Timestamp) -> Result<(), ApiError> {
        let target = ObjectRef::of::<K>(object.meta());
        if K::NAMESPACED {
            self.namespace_open(object.meta())?;
        }
        let namespace = target.namespace.as_deref().unwrap_or_default();
        let current = K::shelf(self.store.objects())
            .get(namespace, &target.name)
            .cloned();
        if let Some(current) = &current {
            K::keep_status(current, &mut object);
            if K::GENERATION {
                object.meta_mut().generation = current.meta().generation;
                if K::spec_changed(current, &object) {
                    bump_generation(object.meta_mut());
                }
            }
        } else if K::GENERATION {
            object.meta_mut().generation = Some(1);
        }
        let created = current.is_none();
        self.stamp_user_write(
            object.meta_mut(),
            current.as_ref().map(|c| c.meta()),
            &target,
            now,
        )?;
        if created {
            object.created();
        }
        self.record(K::wrap(Arc::new(object)));
        Ok(())
    }

    /// Keeps what the apiserver owns of a person's write over `current`,
    /// and refuses a stale resourceVersion.
    fn stamp_user_write(
        &mut self,
        meta: &mut ObjectMeta,
        current: Option<&ObjectMeta>,
        target: &ObjectRef,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let replace = meta.resource_version.is_some();
        if replace
            && current.and_then(|c| c.resource_version.as_ref()) != meta.resource_version.as_ref()
        {
            return Err(ApiError::Conflict(target.to_string()));
        }
        match current {
            Some(c) => {
                meta.uid.clone_from(&c.uid);
                meta.creation_timestamp.clone_from(&c.creation_timestamp);
                meta.finalizers.clone_from(&c.finalizers);
                meta.deletion_timestamp.clone_from(&c.deletion_timestamp);
                meta.managed_fields.clone_from(&c.managed_fields);
                if !replace {
                    for (mine, theirs) in [
                        (&mut meta.labels, &c.labels),
                        (&mut meta.annotations, &c.annotations),
                    ] {
                        for (k, v) in theirs.iter().flatten() {
                            mine.get_or_insert_with(Default::default)
                                .entry(k.clone())
                                .or_insert_with(|| v.clone());
                        }
                    }
                }
            }
            None => {
                let identity = self.identity(None, None, now, false);
                meta.uid = identity.uid;
                meta.creation_timestamp = identity.creation_timestamp;
                meta.finalizers = None;
                meta.deletion_timestamp = None;
                meta.managed_fields = None;
            }
        }
        Ok(())
    }

    /// A new object's identity: its name, a fresh uid, its creation time.
    fn identity(
        &mut self,
        name: Option<String>,
        namespace: Option<String>,
        now: Timestamp,
        generation: bool,
    ) -> ObjectMeta {
        self.uid += 1;
        ObjectMeta {
            name,
            namespace,
            uid: Some(format!("00000000-0000-0000-0000-{:012x}", self.uid)),
            creation_timestamp: Some(Time(now)),
            generation: generation.then_some(1),
            ..Default::default()
        }
    }

    /// Refuses a write into a namespace that is missing or terminating.
    fn namespace_open<'m>(&self, meta: impl Into<MetaRef<'m>>) -> Result<(), ApiError> {
        let Some(namespace) = meta.into().namespace() else {
            return Ok(());
        };
        match self.store.namespace(namespace) {
            Some(ns) if ns.metadata.deletion_timestamp.is_none() => Ok(()),
            _ => Err(ApiError::rejected(
                format!("namespace {namespace}"),
                "missing or terminating; nothing can be created in it",
            )),
        }
    }

    /// Stores a changed object with a new resource version.
    fn restamp(&mut self, object: Object) {
        self.record(object);
    }

    /// Stores an object no apply of mto's wrote, with a new resource
    /// version, and logs the change: mto owns what it owned before, of
    /// what the object still holds (for a kind mto does not type, what its
    /// managedFields say).
    fn record(&mut self, mut object: Object) {
        let ownership = match &object {
            Object::Dynamic(dynamic) => Ownership::of(&dynamic.metadata),
            typed => match self.store.taken(&typed.object_ref()) {
                Some(before) => {
                    let (before, owned) = before.into_parts();
                    object.settle_meta(before.shared_labels().as_ref());
                    owned.carried(before.meta_ref(), object.meta_ref())
                }
                None => Ownership::unowned(object.meta_ref()),
            },
        };
        self.record_owned(object, ownership);
    }

    /// Stores an object with a new resource version and what mto owns of
    /// it, and logs the change.
    fn record_owned(&mut self, mut object: Object, ownership: Ownership) {
        object.meta_mut().resource_version = Some(self.next_version());
        self.log_owned(object, ownership);
    }

    /// The resource version of the next write.
    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Stores an object already stamped with [`ApiServer::next_version`],
    /// with what mto owns of it, and logs the change.
    fn log_owned(&mut self, mut object: Object, ownership: Ownership) {
        // Whatever changed it, it is kept compact (sharing labels where
        // the writer said whose).
        object.settle_meta(None);
        self.writes += 1;
        let taken = Taken::owned(object, ownership);
        let woken = self.store.put_taken(taken.clone());
        self.changes.push(Change {
            resource_version: self.resource_version,
            event: WatchEvent::Apply(taken),
            woken,
        });
    }

    /// Removes an object, and logs it.
    fn remove(&mut self, target: &ObjectRef) {
        if let Some((gone, woken)) = self.store.remove(target) {
            self.resource_version += 1;
            self.writes += 1;
            self.changes.push(Change {
                resource_version: self.resource_version,
                event: WatchEvent::Delete(gone),
                woken,
            });
        }
    }
}

fn bump_generation(meta: &mut ObjectMeta) {
    meta.generation = Some(meta.generation.unwrap_or(0) + 1);
}

#[cfg(test)]
mod tests;
