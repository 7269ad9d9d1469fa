//! What each typed kind means to mto: one file per kind, each implementing
//! [`Typed`] for it.
//!
//! Most kinds are k8s-openapi's structs. A kind whose one body mto writes
//! into many namespaces (a LimitRange, a ResourceQuota, a RoleBinding's
//! subjects) is declared with `held_kind!` instead: the same fields and
//! JSON, the shared body behind an `Arc`, so the apiserver, the views and
//! the decisions hold it once, and its metadata compact
//! ([`HeldMeta`](crate::view::HeldMeta)), read through
//! [`Typed::meta_ref`].

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Indexes, Key, MetaRef, Objects, Snapshot, Stored, StringMap, Woken};
use crate::apply::{MetadataField, Ownership};
use crate::digest::AppliedDigest;
use crate::labels::FIELD_MANAGER;

/// Declares a kind mto holds in its own struct rather than k8s-openapi's:
/// the same fields, read and written as the same JSON, with the bodies
/// namespaces share behind an `Arc` (mto writes one body into many
/// namespaces; as k8s-openapi's structs each namespace held its own copy).
macro_rules! held_kind {
    (
        $(#[$doc:meta])*
        pub struct $name:ident {
            kind: $kind:literal, api_version: $api_version:literal,
            group: $group:literal, version: $version:literal, plural: $plural:literal,
            scope: $scope:ident,
        }
        fields {
            $( $(#[$field_doc:meta])* pub $field:ident: $ty:ty => $wire:literal, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
        pub struct $name {
            /// Standard object metadata, kept compact.
            #[serde(default)]
            pub metadata: $crate::view::HeldMeta,
            $( $(#[$field_doc])* #[serde(rename = $wire, default)] pub $field: $ty, )*
        }

        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = $api_version;
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }

        impl k8s_openapi::ListableResource for $name {
            const LIST_KIND: &'static str = concat!($kind, "List");
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                self.metadata.full()
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                self.metadata.full_mut()
            }
        }

        /// With its `apiVersion` and `kind`, absent fields left out, as
        /// k8s-openapi writes it.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                use $crate::view::kinds::Written as _;
                let fields = 3 $( + usize::from(self.$field.written()) )*;
                let mut state = serializer.serialize_struct($kind, fields)?;
                state.serialize_field("apiVersion", $api_version)?;
                state.serialize_field("kind", $kind)?;
                state.serialize_field("metadata", &self.metadata)?;
                $(
                    if self.$field.written() {
                        state.serialize_field($wire, &self.$field)?;
                    } else {
                        state.skip_field($wire)?;
                    }
                )*
                state.end()
            }
        }
    };
}

/// `held`, a body of an object mto made for a tenant (`ownership` says
/// which), replaced by the one `asked` picks of the tenant's Quota when
/// they are equal ([`Typed::share_bodies`]).
fn share_with_quota<T: PartialEq + ?Sized>(
    held: Option<&mut Arc<T>>,
    ownership: &Ownership,
    snapshot: &Snapshot,
    asked: impl FnOnce(&crate::api::QuotaSpec) -> Option<&Arc<T>>,
) {
    use super::Observed as _;
    let Some(held) = held else { return };
    let Some(quota) = ownership
        .managed_tenant()
        .and_then(|tenant| snapshot.tenant(tenant))
        .and_then(|tenant| snapshot.quota(tenant.spec.quota.as_deref()?))
    else {
        return;
    };
    if let Some(shared) = asked(&quota.spec)
        && !Arc::ptr_eq(held, shared)
        && **held == **shared
    {
        *held = Arc::clone(shared);
    }
}

/// `held`, the metadata of an object mto made for a tenant (`ownership`
/// says which), holding instead of its own label map an equal one that
/// another held object of the tenant's holds already: one of its own
/// namespace's, else one of the tenant's first namespace's. Read back
/// from the apiserver, each object decodes its own map; the tenant's
/// objects then hold one, as the decisions that made them did.
fn share_labels(held: &mut crate::view::HeldMeta, ownership: &Ownership, snapshot: &Snapshot) {
    use super::Observed as _;
    let (Some(tenant), Some(mine)) = (ownership.managed_tenant(), held.shared_labels()) else {
        return;
    };
    let own = held.read().namespace().unwrap_or_default();
    let first = snapshot.tenant_namespaces(tenant).next();
    let found = std::iter::once(own)
        .chain(first.filter(|first| *first != own))
        .find_map(|namespace| {
            let here = snapshot.in_namespace(namespace);
            here.owned_in::<RoleBinding>()
                .map(|(_, o, _)| &o.metadata)
                .chain(
                    here.owned_in::<ResourceQuota>()
                        .map(|(_, o, _)| &o.metadata),
                )
                .chain(here.owned_in::<LimitRange>().map(|(_, o, _)| &o.metadata))
                .filter_map(crate::view::HeldMeta::shared_labels)
                .find(|theirs| !Arc::ptr_eq(theirs, mine) && ***theirs == **mine)
                .cloned()
        });
    if let Some(theirs) = found {
        held.settle(Some(&theirs));
    }
}

/// Asserts that mto's struct `Held` reads `sent` as k8s-openapi's `Theirs`
/// does and writes it back exactly as `Theirs` would: what one reads and
/// the other does not would be written differently.
#[cfg(test)]
fn assert_json_as_k8s_openapi<Held, Theirs>(sent: &serde_json::Value)
where
    Held: serde::Serialize + serde::de::DeserializeOwned,
    Theirs: serde::Serialize + serde::de::DeserializeOwned,
{
    let ours: Held = serde_json::from_value(sent.clone()).expect("mto reads it");
    let theirs: Theirs = serde_json::from_value(sent.clone()).expect("k8s-openapi reads it");
    let written = serde_json::to_value(&ours).expect("mto writes it");
    assert_eq!(
        written,
        serde_json::to_value(&theirs).expect("k8s-openapi writes it")
    );
    assert_eq!(&written, sent);
}

/// Whether a field of a [`held_kind!`] is written: k8s-openapi leaves an
/// absent optional field out.
pub(crate) trait Written {
    /// Whether it is there to write.
    fn written(&self) -> bool;
}

impl<T> Written for Option<T> {
    fn written(&self) -> bool {
        self.is_some()
    }
}

impl Written for k8s_openapi::api::rbac::v1::RoleRef {
    fn written(&self) -> bool {
        true
    }
}

/// What a kind declared with `held_kind!` says of its metadata, a
/// [`HeldMeta`](crate::view::HeldMeta): how it is read, whose labels it
/// shares, how it settles compact.
macro_rules! held_metadata {
    () => {
        fn meta_ref(&self) -> $crate::view::MetaRef<'_> {
            self.metadata.read()
        }

        fn shared_labels(&self) -> Option<std::sync::Arc<$crate::view::StringMap>> {
            self.metadata.shared_labels().cloned()
        }

        fn settle_meta(&mut self, like: Option<&std::sync::Arc<$crate::view::StringMap>>) {
            self.metadata.settle(like);
        }
    };
}

/// The two methods of a kind whose status is a subresource kept in
/// `.status`: a status write replaces it, a user's write keeps it.
macro_rules! status_subresource {
    () => {
        fn apply_status(current: &mut Self, applied: &Self) -> Option<bool> {
            Some(super::replace(&mut current.status, &applied.status))
        }

        fn keep_status(current: &Self, written: &mut Self) {
            written.status.clone_from(&current.status);
        }
    };
}

mod cluster_resource_supervisor;
mod cluster_role_binding;
mod deployment;
mod extensions;
mod integration_config;
mod lease;
mod limit_range;
mod namespace;
mod network_policy;
mod persistent_volume;
mod quota;
mod resource_quota;
mod resource_supervisor;
mod role_binding;
mod stateful_set;
mod template;
mod tenant;

pub use limit_range::LimitRange;
pub use quota::{QuotaIntake, QuotaTotal};
pub use resource_quota::ResourceQuota;
pub(crate) use resource_quota::digest_quota_spec;
pub use role_binding::RoleBinding;

/// Why an apiserver refused to apply a field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldRefused(pub String);

/// A kind mto reads or writes, and what it means to mto. Every method has
/// a default, so a kind states only what is particular to it.
pub trait Typed: Stored {
    /// Whether the apiserver keeps a generation for the kind, moved by
    /// [`Typed::spec_changed`].
    const GENERATION: bool = false;

    /// Its metadata as the model reads it: for a kind held compact, without
    /// building k8s-openapi's `ObjectMeta` (which `meta()` builds once and
    /// keeps while the object lives).
    fn meta_ref(&self) -> MetaRef<'_> {
        MetaRef::from(self.meta())
    }

    /// Its labels behind the `Arc` the objects of a tenant share, for a
    /// kind held compact.
    fn shared_labels(&self) -> Option<Arc<StringMap>> {
        None
    }

    /// Holds its metadata compact again after a change through
    /// `meta_mut`, sharing the labels `like` (those of the object it was
    /// applied from, or of its earlier state) when they are equal to its
    /// own. Nothing to do for a kind held as k8s-openapi's struct.
    fn settle_meta(&mut self, like: Option<&Arc<StringMap>>) {
        let _ = like;
    }

    /// The controller key this object is the subject of (a tenant, a
    /// supervisor), if any.
    fn subject(&self) -> Option<Key> {
        None
    }

    /// Whether the controller of this object's [`Typed::subject`] acts on
    /// a change from `before` to `after` (the predicate). A status write,
    /// mto's own included, changes nothing it decides on.
    fn acts_on(before: &Self, after: &Self) -> bool {
        let _ = (before, after);
        true
    }

    /// Adds whose decisions read this object as it stands.
    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        let _ = (snapshot, woken);
    }

    /// Whether whoever reads `before` reads `after`, and no one else: the
    /// readers of a change between them are then found once. `false`, the
    /// default, is always right; debug builds check every `true`.
    fn same_readers(before: &Self, after: &Self) -> bool {
        let _ = (before, after);
        false
    }

    /// Adds whom a change concerns beyond the readers of its two versions,
    /// read from the snapshot before the change.
    fn moved(snapshot: &Snapshot, before: Option<&Self>, after: Option<&Self>, woken: &mut Woken) {
        let _ = (snapshot, before, after, woken);
    }

    /// Keeps the snapshot's indexes true across a change (the shelf already
    /// holds `after`).
    fn reindex(
        indexes: &mut Indexes,
        objects: &Objects,
        before: Option<&Self>,
        after: Option<&Self>,
    ) {
        let _ = (indexes, objects, before, after);
    }

    /// Feeds into `digest` what the tenant planner compares of the
    /// object's body, for a kind it compares by digest
    /// ([`AppliedDigest`]). `false`, the default: it does not, and the
    /// object carries no applied digest.
    fn digest_body(&self, digest: &mut AppliedDigest) -> bool {
        let _ = digest;
        false
    }

    /// Drops what the model never reads, before the view keeps the object.
    fn slim(&mut self) {
        slim_object_metadata(self);
    }

    /// Holds, instead of its own copy, the body the snapshot holds already
    /// that it equals (a LimitRange's limits, its tenant's Quota's): one
    /// body mto writes into many namespaces, read back from the apiserver
    /// once per namespace, is then held once. Called for an object the
    /// view alone holds, before it keeps it; `ownership` is the object's.
    fn share_bodies(&mut self, ownership: &Ownership, snapshot: &Snapshot) {
        let _ = (ownership, snapshot);
    }

    /// Server-side apply of mto's fields other than metadata: sets in
    /// `current` what `applied` sets. Returns whether anything changed.
    /// By default every field `applied` sets, maps merged (what a template
    /// deploys); a kind mto manages itself says exactly which fields it owns.
    fn apply_fields(current: &mut Self, applied: &Self) -> Result<bool, FieldRefused> {
        let refused = |e: serde_json::Error| FieldRefused(format!("{}: {e}", Self::KIND));
        let mut have = serde_json::to_value(&*current).map_err(refused)?;
        let want = serde_json::to_value(applied).map_err(refused)?;
        let (Some(have_map), Some(want_map)) = (have.as_object_mut(), want.as_object()) else {
            return Ok(false);
        };
        if !crate::apply::set_fields(have_map, want_map) {
            return Ok(false);
        }
        let meta = current.meta().clone();
        *current = serde_json::from_value(have).map_err(refused)?;
        *current.meta_mut() = meta;
        Ok(true)
    }

    /// Whether a change from `before` to `after` moves the generation.
    fn spec_changed(before: &Self, after: &Self) -> bool {
        let _ = (before, after);
        false
    }

    /// Writes `applied`'s status over `current`'s; whether it changed.
    /// `None`: the kind has no status subresource.
    fn apply_status(current: &mut Self, applied: &Self) -> Option<bool> {
        let _ = (current, applied);
        None
    }

    /// Keeps what the apiserver owns of `current` (its status) in an
    /// object a user writes over it.
    fn keep_status(current: &Self, written: &mut Self) {
        let _ = (current, written);
    }

    /// What the apiserver adds to a new object of the kind; the key of a
    /// label it added that the object did not hold, if any.
    fn created(&mut self) -> Option<&'static str> {
        None
    }

    /// `spec.replicas`, for the kinds a supervisor scales.
    fn replicas_mut(&mut self) -> Option<&mut Option<i32>> {
        None
    }
}

/// Whether a change is one a controller acts on for its own object: the
/// spec (its generation), deletion, finalizers, identity. Not status.
fn lifecycle_changed(before: &ObjectMeta, after: &ObjectMeta) -> bool {
    before.generation != after.generation
        || before.deletion_timestamp != after.deletion_timestamp
        || before.finalizers != after.finalizers
        || before.uid != after.uid
}

/// Sets `field` to `value`; whether it changed.
fn replace<T: PartialEq + Clone>(field: &mut T, value: &T) -> bool {
    let changed = field != value;
    if changed {
        field.clone_from(value);
    }
    changed
}

/// Adds the tenant labelled on `namespace` and everyone asking for it:
/// whose decisions read what the namespace holds.
fn namespace_readers(snapshot: &Snapshot, namespace: &str, woken: &mut Woken) {
    use super::Observed as _;
    if let Some(tenant) = snapshot.tenant_of_namespace(namespace) {
        woken.tenant(tenant);
    }
    for claimant in snapshot.claimants(namespace) {
        woken.tenant(claimant);
    }
}

/// Adds the supervisors covering a workload's namespace and the one that
/// put it to sleep.
fn workload_readers(meta: &ObjectMeta, snapshot: &Snapshot, woken: &mut Woken) {
    use super::Observed as _;
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let labels = snapshot
        .namespace(namespace)
        .and_then(|n| n.metadata.labels.as_ref());
    for supervisor in snapshot.supervisors_covering(namespace, labels) {
        woken.insert(Key::Supervisor(supervisor));
    }
    if let Some(supervisor) = slept_by(meta).and_then(super::SupervisorId::parse) {
        woken.insert(Key::Supervisor(supervisor));
    }
}

/// Moves a workload in the sleep index.
fn workload_reindex<K: Stored>(
    indexes: &mut Indexes,
    before: Option<&ObjectMeta>,
    after: Option<&ObjectMeta>,
) {
    let (before_by, after_by) = (before.and_then(slept_by), after.and_then(slept_by));
    if before_by == after_by {
        return;
    }
    if let Some(meta) = before.or(after) {
        indexes.resleep(&super::ObjectRef::of::<K>(meta), before_by, after_by);
    }
}

/// The supervisor a sleeping workload names.
fn slept_by(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(crate::labels::SLEPT_BY_ANNOTATION)
        .map(String::as_str)
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A binding as the view keeps it: slim metadata, and its subjects at
/// their exact size (a decoded list keeps room for four; mto binds one
/// subject a binding, in some 45,000 bindings at 5,000 tenants).
fn slim_binding(
    meta: &mut ObjectMeta,
    subjects: &mut Option<Vec<k8s_openapi::api::rbac::v1::Subject>>,
) {
    slim_metadata(meta);
    if let Some(subjects) = subjects.as_mut() {
        subjects.shrink_to_fit();
    }
}

/// The applied digest of `object`, whose ownership (read from it) is
/// `ownership`; `None` for a kind the planner does not compare by digest.
pub(crate) fn applied_digest<K: Typed>(
    object: &K,
    ownership: &Ownership,
) -> Option<std::num::NonZeroU64> {
    let mut digest = AppliedDigest::default();
    if !object.digest_body(&mut digest) {
        return None;
    }
    let meta = object.meta_ref();
    Some(with_metadata(
        digest,
        ownership.entries(meta, MetadataField::Labels),
        ownership.entries(meta, MetadataField::Annotations),
    ))
}

/// The applied digest an object mto builds will have once applied, when
/// mto owns every label and annotation it sets.
pub(crate) fn desired_digest<'a, K: Typed>(object: &'a K) -> Option<std::num::NonZeroU64> {
    let mut digest = AppliedDigest::default();
    if !object.digest_body(&mut digest) {
        return None;
    }
    let meta = object.meta_ref();
    let pair = |(k, v): (&'a String, &'a String)| (k.as_str(), v.as_str());
    Some(with_metadata(
        digest,
        meta.labels().into_iter().flatten().map(pair),
        meta.annotations().into_iter().flatten().map(pair),
    ))
}

/// The applied digest of an object with body `body` and these labels and
/// annotations, all mto's: what an object mto applies will carry, computed
/// without building it.
pub(crate) fn digest_as_applied<'a>(
    body: impl FnOnce(&mut AppliedDigest),
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::num::NonZeroU64 {
    let mut digest = AppliedDigest::default();
    body(&mut digest);
    with_metadata(digest, labels, annotations)
}

/// A body's digest finished with the labels and annotations mto owns of
/// it: the one order every applied digest is taken in.
pub(crate) fn with_metadata<'a>(
    mut digest: AppliedDigest,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> std::num::NonZeroU64 {
    digest.pairs(labels);
    digest.pairs(annotations);
    digest.finish()
}

/// What the planner compares of a binding: its role and subjects.
pub(crate) fn digest_binding<S: SubjectFields>(
    digest: &mut AppliedDigest,
    role: (&str, &str, &str),
    subjects: Option<&[S]>,
) {
    let (api_group, kind, name) = role;
    digest.str(api_group);
    digest.str(kind);
    digest.str(name);
    digest.opt_str(subjects.map(|_| ""));
    digest.count(subjects.map_or(0, <[_]>::len));
    for subject in subjects.into_iter().flatten() {
        let (api_group, kind, name, namespace) = subject.fields();
        digest.opt_str(api_group);
        digest.str(kind);
        digest.str(name);
        digest.opt_str(namespace);
    }
}

/// [`digest_binding`] of a binding in place: its roleRef and subjects.
/// Always `true`: bindings are compared by digest.
fn digest_bound(
    digest: &mut AppliedDigest,
    role: &k8s_openapi::api::rbac::v1::RoleRef,
    subjects: Option<&[k8s_openapi::api::rbac::v1::Subject]>,
) -> bool {
    digest_binding(digest, (&role.api_group, &role.kind, &role.name), subjects);
    true
}

/// A binding's subject as its digest reads it: the Kubernetes object, or
/// one described without building it.
pub(crate) trait SubjectFields {
    /// apiGroup, kind, name and namespace.
    fn fields(&self) -> (Option<&str>, &str, &str, Option<&str>);
}

impl SubjectFields for k8s_openapi::api::rbac::v1::Subject {
    fn fields(&self) -> (Option<&str>, &str, &str, Option<&str>) {
        (
            self.api_group.as_deref(),
            &self.kind,
            &self.name,
            self.namespace.as_deref(),
        )
    }
}

/// A binding's fields as mto writes them: `roleRef` set once and never
/// changed (the apiserver refuses that too), the subjects replaced.
fn bind_fields<Subjects: Clone + PartialEq>(
    kind: &str,
    name: Option<&str>,
    current: (
        &mut k8s_openapi::api::rbac::v1::RoleRef,
        &mut Option<Subjects>,
    ),
    applied: (&k8s_openapi::api::rbac::v1::RoleRef, &Option<Subjects>),
) -> Result<bool, FieldRefused> {
    let (role_ref, subjects) = current;
    if role_ref != applied.0 {
        if *role_ref == Default::default() {
            role_ref.clone_from(applied.0);
        } else {
            return Err(FieldRefused(format!(
                "roleRef of {kind} {} is immutable",
                name.unwrap_or_default()
            )));
        }
    }
    Ok(replace(subjects, applied.1))
}

/// Slims `object`'s metadata ([`slim_metadata`]), building the full form
/// of a kind held compact only when there is something to drop.
fn slim_object_metadata<K: Typed>(object: &mut K) {
    let meta = object.meta_ref();
    if meta.managed_fields().is_some() || meta.annotations().is_some() {
        slim_metadata(object.meta_mut());
    }
    object.settle_meta(None);
}

/// Drops what the model never reads and costs the most memory: other
/// managers' managedFields entries, all of mto's own entry but the labels
/// and annotations it owns, and kubectl's copy of the last applied manifest.
/// What is left of mto's entry is read into an [`Ownership`] when the
/// snapshot takes the object in, and dropped then.
///
/// [`Ownership`]: crate::apply::Ownership
pub(crate) fn slim_metadata(meta: &mut ObjectMeta) {
    if let Some(fields) = meta.managed_fields.as_mut() {
        fields.retain(|f| f.manager.as_deref() == Some(FIELD_MANAGER));
        // A decoded list has room for four entries of over 200 bytes.
        fields.shrink_to_fit();
        for entry in fields.iter_mut() {
            if let Some(tree) = entry.fields_v1.as_mut() {
                tree.0 = owned_metadata(std::mem::take(&mut tree.0));
            }
        }
    }
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// Of a fieldsV1 tree, the labels and annotations it owns, every map at
/// its exact size: a decoded map keeps room for up to twice its keys, and
/// a re-list holds one of these trees for every object it gathers.
fn owned_metadata(tree: serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value};
    let Value::Object(mut tree) = tree else {
        return Value::Object(Map::new());
    };
    let Some(Value::Object(mut metadata)) = tree.remove("f:metadata") else {
        return Value::Object(Map::new());
    };
    let kept: Vec<(String, Value)> = ["f:labels", "f:annotations"]
        .into_iter()
        .filter_map(|key| {
            Some((
                key.to_owned(),
                crate::apply::compacted(metadata.remove(key)?),
            ))
        })
        .collect();
    let mut root = Map::with_capacity(1);
    root.insert(
        "f:metadata".to_owned(),
        Value::Object(kept.into_iter().collect()),
    );
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        FieldsV1, ManagedFieldsEntry, ObjectMeta,
    };

    use super::*;

    #[test]
    fn slimming_keeps_only_what_the_model_reads() {
        let mut meta = ObjectMeta {
            managed_fields: Some(vec![
                ManagedFieldsEntry {
                    manager: Some("mto".into()),
                    operation: Some("Apply".into()),
                    fields_v1: Some(FieldsV1(serde_json::json!({
                        "f:metadata": {"f:labels": {"f:team": {}}, "f:finalizers": {}},
                        "f:spec": {"f:hard": {"f:pods": {}}}
                    }))),
                    ..Default::default()
                },
                ManagedFieldsEntry {
                    manager: Some("kubectl".into()),
                    operation: Some("Update".into()),
                    ..Default::default()
                },
            ]),
            annotations: Some(
                [
                    (LAST_APPLIED.to_owned(), "{...}".to_owned()),
                    ("team".to_owned(), "x".to_owned()),
                ]
                .into(),
            ),
            ..Default::default()
        };
        slim_metadata(&mut meta);
        assert_eq!(meta.managed_fields.as_ref().map(Vec::len), Some(1));
        assert_eq!(
            meta.managed_fields.as_ref().map(Vec::capacity),
            Some(1),
            "no room kept for the entries dropped"
        );
        assert_eq!(
            meta.managed_fields
                .as_ref()
                .and_then(|f| f[0].fields_v1.clone())
                .map(|f| f.0),
            Some(serde_json::json!({"f:metadata": {"f:labels": {"f:team": {}}}}))
        );
        assert_eq!(
            meta.annotations
                .as_ref()
                .map(|a| a.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["team".to_owned()])
        );
    }

    #[test]
    fn an_ownership_tree_keeps_its_labels_and_annotations_alone() {
        use serde_json::json;
        assert_eq!(owned_metadata(json!({"f:spec": {"f:x": {}}})), json!({}));
        assert_eq!(
            owned_metadata(json!({"f:metadata": {"f:finalizers": {}}})),
            json!({"f:metadata": {}})
        );
        assert_eq!(
            owned_metadata(json!({
                "f:metadata": {
                    "f:annotations": {"f:a": {}},
                    "f:ownerReferences": {"k:{\"uid\":\"1\"}": {}},
                    "f:labels": {"f:b": {}, "f:c": {}}
                },
                "f:spec": {"f:x": {}}
            })),
            json!({"f:metadata": {"f:labels": {"f:b": {}, "f:c": {}}, "f:annotations": {"f:a": {}}}})
        );
        assert_eq!(owned_metadata(json!("not a tree")), json!({}));
    }

    #[test]
    fn slimmed_bindings_and_limit_ranges_keep_every_subject_and_limit_and_no_room() {
        use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
        // Decoded as a watch decodes them: lists keep room to grow.
        let binding = serde_json::json!({
            "metadata": {"name": "b", "namespace": "n"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "Group", "name": "team", "apiGroup": "rbac.authorization.k8s.io"}]
        });
        let decoded: RoleBinding = serde_json::from_value(binding.clone()).unwrap();
        let mut slim = decoded.clone();
        slim.slim();
        assert_eq!(slim, decoded, "nothing the model reads is lost");
        let mut cluster: ClusterRoleBinding = serde_json::from_value(binding).unwrap();
        let before = cluster.clone();
        cluster.slim();
        assert_eq!(cluster, before);
        assert_eq!(cluster.subjects.as_ref().map(Vec::capacity), Some(1));
        let limit_range = serde_json::json!({
            "metadata": {"name": "l", "namespace": "n"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "200m"}}]}
        });
        let decoded: LimitRange = serde_json::from_str(&limit_range.to_string()).unwrap();
        // Decoded apart, as a watch does: its spec is its own to shrink.
        let mut slim: LimitRange = serde_json::from_str(&limit_range.to_string()).unwrap();
        slim.slim();
        assert_eq!(slim, decoded);
        assert_eq!(slim.spec.as_ref().map(|s| s.limits.capacity()), Some(1));
    }
}
