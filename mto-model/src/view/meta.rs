//! [`HeldMeta`], the metadata of the kinds mto writes into every tenant
//! namespace, kept compact; and [`MetaRef`], how the model reads any
//! object's metadata, compact or k8s-openapi's.
//!
//! k8s-openapi's `ObjectMeta` is some 360 bytes whatever it holds, and its
//! labels a B-tree node of eleven slots (544 bytes) for the two labels mto
//! sets. Across the 250,000 role bindings, quotas and limit ranges of
//! 10,000 tenants that was 250 MB of the simulator's 486 MB heap. A
//! [`HeldMeta`] keeps the fields every such object has inline (its names
//! within 24 bytes without an allocation), its labels behind an `Arc` the
//! objects of a tenant share, and anything else an object carries
//! (annotations, finalizers, owners) in one `ObjectMeta` beside, when it
//! has any.
//!
//! `kube::Resource` hands out `&ObjectMeta`, which is what the Kubernetes
//! client and JSON need: a held object builds it on first asking and keeps
//! it while it lives. The model's readers use [`crate::view::Typed::meta_ref`],
//! which never builds it; an object changed through `meta_mut` holds the
//! full form until [`HeldMeta::settle`] makes it compact again.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use compact_str::CompactString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    ManagedFieldsEntry, ObjectMeta, OwnerReference, Time,
};

/// A label or annotation map.
pub type StringMap = BTreeMap<String, String>;

/// The metadata of a held kind (a RoleBinding, ResourceQuota or
/// LimitRange): the same fields as `ObjectMeta`, kept compact.
#[derive(Clone)]
pub struct HeldMeta(Repr);

#[derive(Clone)]
enum Repr {
    /// The usual form; the full one built when `kube::Resource` asks.
    Compact(Compact, Expanded),
    /// Being changed through `meta_mut`, until settled.
    Full(Box<ObjectMeta>),
}

/// The full form of a compact metadata, built once when asked; a copy of
/// the object starts without it.
#[derive(Default)]
struct Expanded(OnceLock<Box<ObjectMeta>>);

impl Clone for Expanded {
    fn clone(&self) -> Self {
        Expanded::default()
    }
}

#[derive(Clone, Default, PartialEq)]
struct Compact {
    name: Option<CompactString>,
    namespace: Option<CompactString>,
    uid: Option<CompactString>,
    resource_version: Option<CompactString>,
    generation: Option<i64>,
    creation_timestamp: Option<Time>,
    labels: Option<Arc<StringMap>>,
    /// Every other field, when any is set (the ones above unset in it).
    rest: Option<Box<ObjectMeta>>,
}

impl Compact {
    /// `meta` made compact, holding `like`'s labels when they are equal.
    fn of(mut meta: ObjectMeta, like: Option<&Arc<StringMap>>) -> Compact {
        let compact = |s: Option<String>| s.map(CompactString::from);
        let labels = meta.labels.take().map(|labels| match like {
            Some(like) if **like == labels => Arc::clone(like),
            _ => Arc::new(labels),
        });
        let mut compact = Compact {
            name: compact(meta.name.take()),
            namespace: compact(meta.namespace.take()),
            uid: compact(meta.uid.take()),
            resource_version: compact(meta.resource_version.take()),
            generation: meta.generation.take(),
            creation_timestamp: meta.creation_timestamp.take(),
            labels,
            rest: None,
        };
        if meta != ObjectMeta::default() {
            compact.rest = Some(Box::new(meta));
        }
        compact
    }

    fn expand(&self) -> ObjectMeta {
        let string = |s: &Option<CompactString>| s.as_ref().map(|s| s.as_str().to_owned());
        let mut meta = self.rest.as_deref().cloned().unwrap_or_default();
        meta.name = string(&self.name);
        meta.namespace = string(&self.namespace);
        meta.uid = string(&self.uid);
        meta.resource_version = string(&self.resource_version);
        meta.generation = self.generation;
        meta.creation_timestamp.clone_from(&self.creation_timestamp);
        meta.labels = self.labels.as_deref().cloned();
        meta
    }
}

impl HeldMeta {
    /// As the model reads it.
    #[must_use]
    pub fn read(&self) -> MetaRef<'_> {
        MetaRef(Inner::Held(self))
    }

    /// The full `ObjectMeta`, built on first asking.
    #[must_use]
    pub fn full(&self) -> &ObjectMeta {
        match &self.0 {
            Repr::Compact(compact, expanded) => {
                expanded.0.get_or_init(|| Box::new(compact.expand()))
            }
            Repr::Full(full) => full,
        }
    }

    /// The full `ObjectMeta`, to change: held in full until
    /// [`HeldMeta::settle`].
    pub fn full_mut(&mut self) -> &mut ObjectMeta {
        if let Repr::Compact(compact, expanded) = &mut self.0 {
            let full = expanded
                .0
                .take()
                .unwrap_or_else(|| Box::new(compact.expand()));
            self.0 = Repr::Full(full);
        }
        match &mut self.0 {
            Repr::Full(full) => full,
            Repr::Compact(..) => unreachable!("made full above"),
        }
    }

    /// Compact again after a change (the full form built for a reader
    /// dropped too), holding the labels `like` (those of
    /// the object it was applied from, or of its earlier state) when they
    /// are equal to its own: the objects of a tenant then share one map.
    pub fn settle(&mut self, like: Option<&Arc<StringMap>>) {
        match &mut self.0 {
            Repr::Full(full) => {
                let full = std::mem::take(&mut **full);
                self.0 = Repr::Compact(Compact::of(full, like), Expanded::default());
            }
            Repr::Compact(compact, expanded) => {
                // What was built for a reader goes with the change.
                *expanded = Expanded::default();
                if let (Some(mine), Some(like)) = (&mut compact.labels, like)
                    && !Arc::ptr_eq(mine, like)
                    && **mine == **like
                {
                    *mine = Arc::clone(like);
                }
            }
        }
    }

    /// Whether it holds the compact form alone: not changed since it
    /// settled, nor expanded for a reader. What every object a store keeps
    /// should be.
    #[must_use]
    pub fn is_compact(&self) -> bool {
        matches!(&self.0, Repr::Compact(_, expanded) if expanded.0.get().is_none())
    }

    /// Its labels, behind the `Arc` its copies share.
    #[must_use]
    pub fn shared_labels(&self) -> Option<&Arc<StringMap>> {
        match &self.0 {
            Repr::Compact(compact, _) => compact.labels.as_ref(),
            Repr::Full(_) => None,
        }
    }

    /// Metadata named `name` in `namespace`, with `labels` shared with
    /// whoever else holds them.
    #[must_use]
    pub fn named(namespace: &str, name: &str, labels: Arc<StringMap>) -> HeldMeta {
        HeldMeta(Repr::Compact(
            Compact {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                labels: Some(labels),
                ..Compact::default()
            },
            Expanded::default(),
        ))
    }
}

impl Default for HeldMeta {
    fn default() -> Self {
        HeldMeta(Repr::Compact(Compact::default(), Expanded::default()))
    }
}

impl From<ObjectMeta> for HeldMeta {
    fn from(meta: ObjectMeta) -> Self {
        HeldMeta(Repr::Compact(Compact::of(meta, None), Expanded::default()))
    }
}

impl PartialEq for HeldMeta {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Compact(a, _), Repr::Compact(b, _)) => a == b,
            _ => self.full() == other.full(),
        }
    }
}

impl std::fmt::Debug for HeldMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.read().to_full().fmt(f)
    }
}

impl serde::Serialize for HeldMeta {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.read().to_full().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for HeldMeta {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ObjectMeta::deserialize(deserializer).map(HeldMeta::from)
    }
}

/// An object's metadata as the model reads it: k8s-openapi's `ObjectMeta`
/// or a held kind's compact [`HeldMeta`], read alike and never expanded.
#[derive(Clone, Copy)]
pub struct MetaRef<'a>(Inner<'a>);

#[derive(Clone, Copy)]
enum Inner<'a> {
    Full(&'a ObjectMeta),
    Held(&'a HeldMeta),
}

impl<'a> From<&'a ObjectMeta> for MetaRef<'a> {
    fn from(meta: &'a ObjectMeta) -> Self {
        MetaRef(Inner::Full(meta))
    }
}

impl<'a> From<&'a HeldMeta> for MetaRef<'a> {
    fn from(meta: &'a HeldMeta) -> Self {
        meta.read()
    }
}

/// Reads a field kept inline in the compact form.
macro_rules! inline_field {
    ($(#[$doc:meta])* $field:ident: $ty:ty, |$value:ident| $read:expr) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(self) -> $ty {
            match self.full_or_compact() {
                Ok(full) => {
                    let $value = &full.$field;
                    $read
                }
                Err(compact) => {
                    let $value = &compact.$field;
                    $read
                }
            }
        }
    };
}

/// Reads a field kept in the compact form's `rest`.
macro_rules! rest_field {
    ($(#[$doc:meta])* $field:ident: $ty:ty, |$value:ident| $read:expr) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(self) -> Option<$ty> {
            let meta = match self.full_or_compact() {
                Ok(full) => full,
                Err(compact) => compact.rest.as_deref()?,
            };
            let $value = &meta.$field;
            $read
        }
    };
}

impl<'a> MetaRef<'a> {
    /// The full form when it is there, else the compact one.
    fn full_or_compact(self) -> Result<&'a ObjectMeta, &'a Compact> {
        match self.0 {
            Inner::Full(full) => Ok(full),
            Inner::Held(HeldMeta(Repr::Full(full))) => Ok(full),
            Inner::Held(HeldMeta(Repr::Compact(compact, _))) => Err(compact),
        }
    }

    inline_field!(
        /// `metadata.name`.
        name: Option<&'a str>, |v| v.as_deref()
    );
    inline_field!(
        /// `metadata.namespace`.
        namespace: Option<&'a str>, |v| v.as_deref()
    );
    inline_field!(
        /// `metadata.uid`.
        uid: Option<&'a str>, |v| v.as_deref()
    );
    inline_field!(
        /// `metadata.resourceVersion`.
        resource_version: Option<&'a str>, |v| v.as_deref()
    );
    inline_field!(
        /// `metadata.generation`.
        generation: Option<i64>, |v| *v
    );
    inline_field!(
        /// `metadata.creationTimestamp`.
        creation_timestamp: Option<&'a Time>, |v| v.as_ref()
    );
    inline_field!(
        /// `metadata.labels`.
        labels: Option<&'a StringMap>, |v| v.as_ref().map(std::borrow::Borrow::borrow)
    );
    rest_field!(
        /// `metadata.annotations`.
        annotations: &'a StringMap, |v| v.as_ref()
    );
    rest_field!(
        /// `metadata.deletionTimestamp`.
        deletion_timestamp: &'a Time, |v| v.as_ref()
    );
    rest_field!(
        /// `metadata.finalizers`.
        finalizers: &'a [String], |v| v.as_deref()
    );
    rest_field!(
        /// `metadata.ownerReferences`.
        owner_references: &'a [OwnerReference], |v| v.as_deref()
    );
    rest_field!(
        /// `metadata.managedFields`.
        managed_fields: &'a [ManagedFieldsEntry], |v| v.as_deref()
    );

    /// The full `ObjectMeta`: for a held kind's compact form, the one built
    /// for `kube::Resource` if there is one, else built here and not kept.
    #[must_use]
    pub fn to_full(self) -> std::borrow::Cow<'a, ObjectMeta> {
        use std::borrow::Cow;
        match self.0 {
            Inner::Full(full) => Cow::Borrowed(full),
            Inner::Held(HeldMeta(Repr::Full(full))) => Cow::Borrowed(full),
            Inner::Held(HeldMeta(Repr::Compact(compact, expanded))) => match expanded.0.get() {
                Some(full) => Cow::Borrowed(full),
                None => Cow::Owned(compact.expand()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn every_field() -> ObjectMeta {
        serde_json::from_value(serde_json::json!({
            "name": "owner-binding",
            "namespace": "acme-dev",
            "uid": "6f1c2d9e-8a4b-4c3d-9e2f-0a1b2c3d4e5f",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2026-12-04T10:00:00Z",
            "deletionTimestamp": "2026-12-04T11:00:00Z",
            "labels": {"tenantoperator.stakater.com/tenant": "acme"},
            "annotations": {"note": "kept"},
            "finalizers": ["tenantoperator.stakater.com/cleanup"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u"}],
        }))
        .expect("valid metadata")
    }

    #[test]
    fn keeps_every_field_of_the_full_form() {
        for meta in [
            every_field(),
            ObjectMeta::default(),
            ObjectMeta {
                name: Some("only-a-name".into()),
                ..ObjectMeta::default()
            },
        ] {
            let held = HeldMeta::from(meta.clone());
            assert_eq!(held.full(), &meta);
            assert_eq!(*held.read().to_full(), meta);
            assert_eq!(
                serde_json::to_value(&held).expect("writes"),
                serde_json::to_value(&meta).expect("writes")
            );
            let read: HeldMeta =
                serde_json::from_value(serde_json::to_value(&meta).expect("writes"))
                    .expect("reads");
            assert_eq!(read, held);
        }
    }

    #[test]
    fn reads_alike_in_either_form() {
        let meta = every_field();
        let held = HeldMeta::from(meta.clone());
        let mut changed = held.clone();
        changed.full_mut();
        for read in [MetaRef::from(&meta), held.read(), changed.read()] {
            assert_eq!(read.name(), meta.name.as_deref());
            assert_eq!(read.namespace(), meta.namespace.as_deref());
            assert_eq!(read.uid(), meta.uid.as_deref());
            assert_eq!(read.resource_version(), meta.resource_version.as_deref());
            assert_eq!(read.generation(), meta.generation);
            assert_eq!(read.creation_timestamp(), meta.creation_timestamp.as_ref());
            assert_eq!(read.labels(), meta.labels.as_ref());
            assert_eq!(read.annotations(), meta.annotations.as_ref());
            assert_eq!(read.deletion_timestamp(), meta.deletion_timestamp.as_ref());
            assert_eq!(read.finalizers(), meta.finalizers.as_deref());
            assert_eq!(read.owner_references(), meta.owner_references.as_deref());
        }
        assert_eq!(changed, held, "the same metadata in either form");
    }

    #[test]
    fn a_change_settles_compact_and_shares_equal_labels() {
        let labels = Arc::new(labelled(&[("tenantoperator.stakater.com/tenant", "acme")]));
        let applied = HeldMeta::named("acme-dev", "quota", Arc::clone(&labels));
        let mut stored = applied.clone();
        stored.full_mut().resource_version = Some("7".into());
        assert!(
            stored.shared_labels().is_none(),
            "held in full while changed"
        );
        stored.settle(applied.shared_labels());
        assert_eq!(stored.read().resource_version(), Some("7"));
        assert!(Arc::ptr_eq(
            stored.shared_labels().expect("labelled"),
            &labels
        ));

        stored.full_mut().labels = Some(labelled(&[("other", "x")]));
        stored.settle(applied.shared_labels());
        let own = stored.shared_labels().expect("labelled");
        assert!(!Arc::ptr_eq(own, &labels), "different labels stay its own");
        assert_eq!(**own, labelled(&[("other", "x")]));
    }

    #[test]
    fn the_full_form_is_kept_once_built_and_dropped_by_a_copy() {
        let held = HeldMeta::from(every_field());
        let first: *const ObjectMeta = held.full();
        assert!(std::ptr::eq(first, held.full()), "built once");
        let copy = held.clone();
        assert!(matches!(&copy.0, Repr::Compact(_, e) if e.0.get().is_none()));
    }
}
