//! Server-side apply, as far as mto relies on it: the fields mto applied
//! before and leaves out now are removed; fields other managers set stay.
//!
//! Ownership is read from `metadata.managedFields`, where Kubernetes keeps
//! it, once, into an [`Ownership`] the view keeps beside the object. The
//! simulated apiserver keeps that same [`Ownership`] for the kinds mto
//! types ([`apply_owned_metadata`]) and writes managedFields only for the
//! others ([`apply_object`]), so the planner reads one thing against a real
//! or a simulated cluster.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use compact_str::CompactString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, ObjectMeta};
use serde_json::{Map, Value};

use crate::labels::{
    ADOPTED_ANNOTATION, COMPONENT_DIGEST_ANNOTATION, FIELD_MANAGER, MANAGED_BY_LABEL,
    RELEASED_FROM_ANNOTATION, TENANT_LABEL,
};
use crate::view::MetaRef;

/// Label and annotation keys owned by mto's field manager, per managedFields.
fn owned_keys(meta: MetaRef<'_>, field: MetadataField) -> Vec<&str> {
    owned_map(meta, field)
        .into_iter()
        .flat_map(|m| m.keys().filter_map(|k| k.strip_prefix("f:")))
        .collect()
}

/// Which of an object's labels and annotations mto's field manager owns,
/// read once from its managedFields when the view takes the object in:
/// the view then keeps this instead of the managedFields tree (a JSON map
/// per level, about 1.2 KB per object), and a decision asks it for free.
///
/// Only keys the object holds are recorded: a key mto owns and the object
/// no longer holds is nothing an apply would remove (an apiserver drops
/// such ownership itself).
///
/// Read at the same time: whether the object's labels say mto manages it,
/// and for which tenant. Every decision asks that of every object it
/// compares; answered here, it costs no walk of the label map (whose keys
/// share a 28-byte prefix).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    labels: HeldKeys,
    annotations: HeldKeys,
    mark: Mark,
    applied: Option<NonZeroU64>,
}

/// What an object's labels, annotations and deletion mark say of it, as
/// far as mto asks: read once when the object is taken in, so that a
/// decision reads them here, beside the ownership it reads anyway, and
/// not in the object itself (a cache miss per object at 50,000
/// namespaces).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Mark {
    /// Its tenant label's value, whoever set it.
    tenant: Option<CompactString>,
    /// Labelled as managed by mto.
    managed: bool,
    /// Whether mto's field manager owns labels beyond its two.
    owns_other_labels: bool,
    /// Annotated as adopted: a namespace that existed before mto claimed it.
    adopted: bool,
    /// Annotated as released by a tenant.
    released: bool,
    /// Marked for deletion: its deletionTimestamp is set.
    deleting: bool,
}

impl Mark {
    const NONE: Mark = Mark {
        tenant: None,
        managed: false,
        owns_other_labels: false,
        adopted: false,
        released: false,
        deleting: false,
    };
}

impl Ownership {
    /// Owns nothing.
    pub const NONE: Ownership = Ownership {
        labels: HeldKeys::NONE,
        annotations: HeldKeys::NONE,
        mark: Mark::NONE,
        applied: None,
    };

    /// What `meta`'s managedFields say mto owns of what it holds.
    #[must_use]
    pub fn of<'m>(meta: impl Into<MetaRef<'m>>) -> Ownership {
        let meta = meta.into();
        Ownership::owning(
            meta,
            &owned_keys(meta, MetadataField::Labels),
            &owned_keys(meta, MetadataField::Annotations),
        )
    }

    /// What mto owns of `meta` when its field manager owns the label keys
    /// `labels` and the annotation keys `annotations` (of those `meta`
    /// holds): how an apiserver that keeps ownership beside its objects,
    /// not in managedFields, records it.
    #[must_use]
    pub fn owning<'m, L: AsRef<str>, A: AsRef<str>>(
        meta: impl Into<MetaRef<'m>>,
        labels: &[L],
        annotations: &[A],
    ) -> Ownership {
        fn listed<O: AsRef<str>>(keys: &[O], key: &str) -> bool {
            keys.iter().any(|o| o.as_ref() == key)
        }
        Ownership::owning_where(meta.into(), |field, key| match field {
            MetadataField::Labels => listed(labels, key),
            MetadataField::Annotations => listed(annotations, key),
        })
    }

    /// What mto owns of an object its apply just created: every label and
    /// annotation, but the label the apiserver added (`apiserver_label`).
    #[must_use]
    pub fn created<'m>(meta: impl Into<MetaRef<'m>>, apiserver_label: Option<&str>) -> Ownership {
        Ownership::owning_where(meta.into(), |field, key| {
            field == MetadataField::Annotations || Some(key) != apiserver_label
        })
    }

    /// What mto owns of `meta`: the keys `owned` says of each field.
    fn owning_where(meta: MetaRef<'_>, owned: impl Fn(MetadataField, &str) -> bool) -> Ownership {
        let held = |field: MetadataField| {
            HeldKeys::from_positions(
                field
                    .of(meta)
                    .into_iter()
                    .flat_map(BTreeMap::keys)
                    .enumerate()
                    .filter(|(_, key)| owned(field, key))
                    .map(|(position, _)| position),
            )
        };
        let mut ownership = Ownership {
            labels: held(MetadataField::Labels),
            annotations: held(MetadataField::Annotations),
            mark: Mark::NONE,
            applied: None,
        };
        ownership.mark = Mark {
            tenant: crate::labels::tenant_of(meta).map(CompactString::from),
            managed: crate::labels::is_managed(meta),
            owns_other_labels: !owns_only(
                meta,
                &ownership,
                MetadataField::Labels,
                &[MANAGED_BY_LABEL, TENANT_LABEL],
            ),
            adopted: has_annotation(meta, ADOPTED_ANNOTATION),
            released: has_annotation(meta, RELEASED_FROM_ANNOTATION),
            deleting: meta.deletion_timestamp().is_some(),
        };
        ownership
    }

    /// Whether the object is annotated as adopted (a namespace that
    /// existed before mto claimed it for a tenant).
    #[must_use]
    pub fn is_annotated_adopted(&self) -> bool {
        self.mark.adopted
    }

    /// Whether the object is annotated as released by a tenant.
    #[must_use]
    pub fn is_annotated_released(&self) -> bool {
        self.mark.released
    }

    /// Whether the object is marked for deletion (its deletionTimestamp
    /// is set).
    #[must_use]
    pub fn is_deleting(&self) -> bool {
        self.mark.deleting
    }

    /// Whether the object's labels say mto manages it.
    #[must_use]
    pub fn is_managed(&self) -> bool {
        self.mark.managed
    }

    /// Whether the object's labels say mto put it there for `tenant`.
    #[must_use]
    pub fn is_managed_for(&self, tenant: &str) -> bool {
        self.mark.managed && self.mark.tenant.as_deref() == Some(tenant)
    }

    /// The tenant of an object mto manages, per its tenant label.
    #[must_use]
    pub fn managed_tenant(&self) -> Option<&str> {
        self.mark.tenant.as_deref().filter(|_| self.mark.managed)
    }

    /// The value of the object's tenant label, whoever set it (a
    /// namespace's claim).
    #[must_use]
    pub fn labelled_tenant(&self) -> Option<&str> {
        self.mark.tenant.as_deref()
    }

    /// Whether the object carries mto's two labels for `tenant` and mto's
    /// field manager owns no other label: what mto applies to every
    /// object it makes for a tenant, in place.
    #[must_use]
    pub fn has_managed_labels(&self, tenant: &str) -> bool {
        self.is_managed_for(tenant) && !self.mark.owns_other_labels
    }

    /// The keys of `field` in `meta` that mto owns; `meta` is the object
    /// this ownership was read from.
    pub fn keys<'m, M: Into<MetaRef<'m>>>(
        &self,
        meta: M,
        field: MetadataField,
    ) -> impl Iterator<Item = &'m str> + use<'m, '_, M> {
        self.entries(meta, field).map(|(key, _)| key)
    }

    /// The keys of `field` in `meta` that mto owns, with their values.
    pub fn entries<'m, M: Into<MetaRef<'m>>>(
        &self,
        meta: M,
        field: MetadataField,
    ) -> impl Iterator<Item = (&'m str, &'m str)> + use<'m, '_, M> {
        let meta = meta.into();
        let held = match field {
            MetadataField::Labels => &self.labels,
            MetadataField::Annotations => &self.annotations,
        };
        field
            .of(meta)
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(position, _)| held.contains(*position))
            .map(|(_, (key, value))| (key.as_str(), value.as_str()))
    }

    /// The digest of what mto applied to the object as it stands, for a
    /// kind the tenant planner compares by digest
    /// ([`crate::digest::AppliedDigest`]).
    #[must_use]
    pub fn applied(&self) -> Option<NonZeroU64> {
        self.applied
    }

    /// This ownership with the object's applied digest.
    #[must_use]
    pub fn with_applied(mut self, applied: Option<NonZeroU64>) -> Ownership {
        self.applied = applied;
        self
    }

    /// Owns nothing of `meta`, whose labels it still reads (see
    /// [`Ownership::is_managed`]).
    #[must_use]
    pub fn unowned<'m>(meta: impl Into<MetaRef<'m>>) -> Ownership {
        Ownership::owning::<&str, &str>(meta, &[], &[])
    }

    /// What mto owns of `meta` right after applying `applied` to it: every
    /// label and annotation `applied` sets.
    #[must_use]
    pub fn after_apply<'m>(
        meta: impl Into<MetaRef<'m>>,
        applied: impl Into<MetaRef<'m>>,
    ) -> Ownership {
        let [labels, annotations] = applied_keys(applied.into());
        Ownership::owning(meta, &labels, &annotations)
    }

    /// This ownership, read from `meta`, carried to `next` (a later state
    /// of the same object that no apply of mto's made): mto owns the same
    /// keys, of those `next` still holds.
    #[must_use]
    pub fn carried<'m>(
        &self,
        meta: impl Into<MetaRef<'m>>,
        next: impl Into<MetaRef<'m>>,
    ) -> Ownership {
        let meta = meta.into();
        let owned = |field| self.keys(meta, field).collect::<Vec<_>>();
        Ownership::owning(
            next,
            &owned(MetadataField::Labels),
            &owned(MetadataField::Annotations),
        )
    }

    /// Whether mto owns `key` of `field` in `meta`, the object this
    /// ownership was read from.
    #[must_use]
    pub fn owns<'m>(&self, meta: impl Into<MetaRef<'m>>, field: MetadataField, key: &str) -> bool {
        self.keys(meta, field).any(|k| k == key)
    }
}

/// Positions in a sorted string map: the first 64 inline, the rest (a map
/// of more than 64 keys, which mto never writes) beside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HeldKeys {
    first: u64,
    rest: Option<Box<[u64]>>,
}

impl HeldKeys {
    const NONE: HeldKeys = HeldKeys {
        first: 0,
        rest: None,
    };

    fn from_positions(positions: impl Iterator<Item = usize>) -> HeldKeys {
        let mut first = 0_u64;
        let mut rest: Vec<u64> = Vec::new();
        for position in positions {
            match position.checked_sub(64) {
                None => first |= 1 << position,
                Some(beyond) => {
                    let word = beyond / 64;
                    if rest.len() <= word {
                        rest.resize(word + 1, 0);
                    }
                    rest[word] |= 1 << (beyond % 64);
                }
            }
        }
        HeldKeys {
            first,
            rest: (!rest.is_empty()).then(|| rest.into_boxed_slice()),
        }
    }

    fn contains(&self, position: usize) -> bool {
        match position.checked_sub(64) {
            None => self.first & (1 << position) != 0,
            Some(beyond) => self
                .rest
                .as_deref()
                .and_then(|words| words.get(beyond / 64))
                .is_some_and(|word| word & (1 << (beyond % 64)) != 0),
        }
    }
}

/// A string map in metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataField {
    /// `metadata.labels`.
    Labels,
    /// `metadata.annotations`.
    Annotations,
}

impl MetadataField {
    fn key(self) -> &'static str {
        match self {
            MetadataField::Labels => "f:labels",
            MetadataField::Annotations => "f:annotations",
        }
    }

    fn of(self, meta: MetaRef<'_>) -> Option<&BTreeMap<String, String>> {
        match self {
            MetadataField::Labels => meta.labels(),
            MetadataField::Annotations => meta.annotations(),
        }
    }

    fn of_mut(self, meta: &mut ObjectMeta) -> &mut Option<BTreeMap<String, String>> {
        match self {
            MetadataField::Labels => &mut meta.labels,
            MetadataField::Annotations => &mut meta.annotations,
        }
    }
}

/// Whether `observed` carries every label and annotation of `desired` and no
/// key mto owns (per `ownership`, read from `observed`) that `desired`
/// leaves out.
#[must_use]
pub fn metadata_in_sync<'m>(
    desired: impl Into<MetaRef<'m>>,
    observed: impl Into<MetaRef<'m>>,
    ownership: &Ownership,
) -> bool {
    let (desired, observed) = (desired.into(), observed.into());
    [MetadataField::Labels, MetadataField::Annotations]
        .into_iter()
        .all(|field| {
            let want = field.of(desired);
            let have = field.of(observed);
            let carries = want
                .into_iter()
                .flatten()
                .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v));
            // Every key mto owns must still be wanted; keys others set are theirs.
            carries
                && ownership
                    .keys(observed, field)
                    .all(|k| want.is_some_and(|w| w.contains_key(k)))
        })
}

/// Whether mto's field manager owns (per `ownership`, read from `meta`)
/// no label or annotation outside `allowed` that the object holds.
#[must_use]
pub fn owns_only<'m>(
    meta: impl Into<MetaRef<'m>>,
    ownership: &Ownership,
    field: MetadataField,
    allowed: &[&str],
) -> bool {
    ownership.keys(meta, field).all(|k| allowed.contains(&k))
}

/// mto's managedFields map for labels or annotations (`{"f:key": {}}`).
fn owned_map(meta: MetaRef<'_>, field: MetadataField) -> Option<&Map<String, Value>> {
    meta.managed_fields()
        .into_iter()
        .flatten()
        .filter(|e| ours(e))
        .find_map(|e| {
            let metadata = entry(&e.fields_v1.as_ref()?.0, "f:metadata")?;
            entry(metadata, field.key())?.as_object()
        })
}

/// A field of a fieldsV1 object by key. A scan, not a hashed lookup: these
/// objects hold a handful of keys, and every decision reads them for every
/// object it compares.
fn entry<'v>(fields: &'v Value, key: &str) -> Option<&'v Value> {
    fields
        .as_object()?
        .iter()
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// `value` with every map rebuilt at its exact size. A map decoded or
/// grown key by key keeps room for up to twice its keys; a re-list holds
/// an ownership tree for every object it gathers.
pub(crate) fn compacted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut exact = Map::with_capacity(map.len());
            for (key, child) in map {
                exact.insert(key, compacted(child));
            }
            Value::Object(exact)
        }
        other => other,
    }
}

/// Applies `applied`'s labels and annotations to `target` as mto's field
/// manager would, and records the new ownership in managedFields, as an
/// apiserver does: what [`apply_owned_metadata`] keeps beside an object
/// is held to it. Returns whether anything changed.
pub fn apply_metadata(target: &mut ObjectMeta, applied: &ObjectMeta, api_version: &str) -> bool {
    let changed = merge_metadata(target, applied);
    record_ownership(target, applied, Map::new(), api_version) || changed
}

/// Applies `applied`'s labels and annotations to `target` as mto's field
/// manager would, where what mto owned of `target` is `ownership` (read
/// from `target` as it is) rather than its managedFields: how the
/// simulated apiserver keeps it. Returns whether anything changed,
/// ownership included, and what mto owns afterwards.
pub fn apply_owned_metadata<'m>(
    target: &mut ObjectMeta,
    ownership: &Ownership,
    applied: impl Into<MetaRef<'m>>,
) -> (bool, Ownership) {
    let applied = applied.into();
    let fields = [MetadataField::Labels, MetadataField::Annotations];
    let previously = fields.map(|field| {
        ownership
            .keys(&*target, field)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let wanted = applied_keys(applied);
    // Both come in a map's order.
    let ownership_changed = previously
        .iter()
        .zip(&wanted)
        .any(|(before, after)| !before.iter().eq(after.iter().copied()));
    let changed = merge_owned_metadata(target, previously, applied);
    (
        changed || ownership_changed,
        Ownership::after_apply(&*target, applied),
    )
}

/// The label keys and the annotation keys `applied` sets, in order.
fn applied_keys(applied: MetaRef<'_>) -> [Vec<&String>; 2] {
    [MetadataField::Labels, MetadataField::Annotations].map(|field| {
        field
            .of(applied)
            .into_iter()
            .flat_map(BTreeMap::keys)
            .collect()
    })
}

/// Applies an object mto does not type — its metadata and `body`, every
/// top-level field but `apiVersion`, `kind`, `metadata` and `status` — as
/// mto's field manager would: what mto set before and leaves out now is
/// removed, what it sets is set, maps merge field by field and what other
/// managers set stays. Lists and scalars are set whole, as a schema-less
/// custom resource's are. Returns whether anything changed.
pub fn apply_object(
    target: &mut ObjectMeta,
    target_body: &mut Value,
    applied: &ObjectMeta,
    applied_body: &Value,
    api_version: &str,
) -> bool {
    let empty = Map::new();
    let wanted = body_fields(applied_body.as_object().unwrap_or(&empty));
    let previously = owned_body(target);
    let mut changed = merge_metadata(target, applied);
    if !target_body.is_object() {
        *target_body = Value::Object(Map::new());
        changed = true;
    }
    if let (Value::Object(have), Some(want)) = (target_body, applied_body.as_object()) {
        changed |= remove_dropped(have, &previously, &wanted);
        changed |= set_fields(have, want);
    }
    record_ownership(target, applied, wanted, api_version) || changed
}

/// The fields a body sets, as a FieldsV1 tree (`{"f:spec": {"f:size": {}}}`):
/// maps recurse, anything else is a leaf.
fn body_fields(body: &Map<String, Value>) -> Map<String, Value> {
    fn fields(map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .map(|(key, value)| {
                let sub = match value {
                    Value::Object(m) => fields(m),
                    _ => Map::new(),
                };
                (format!("f:{key}"), Value::Object(sub))
            })
            .collect()
    }
    let mut top = fields(body);
    for reserved in ["f:apiVersion", "f:kind", "f:metadata", "f:status"] {
        top.remove(reserved);
    }
    top
}

/// The body fields mto's field manager owns, per managedFields.
fn owned_body(meta: &ObjectMeta) -> Map<String, Value> {
    meta.managed_fields
        .iter()
        .flatten()
        .find(|e| ours(e))
        .and_then(|e| e.fields_v1.as_ref()?.0.as_object())
        .map(|fields| {
            fields
                .iter()
                .filter(|(k, _)| *k != "f:metadata")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes from `target` the fields mto `owned` and no longer `wanted`;
/// a map left empty by the removal goes too.
fn remove_dropped(
    target: &mut Map<String, Value>,
    owned: &Map<String, Value>,
    wanted: &Map<String, Value>,
) -> bool {
    let mut changed = false;
    for (field, owned_children) in owned {
        let Some(key) = field.strip_prefix("f:") else {
            continue;
        };
        let owned_children = owned_children.as_object().filter(|m| !m.is_empty());
        match (wanted.get(field).and_then(Value::as_object), owned_children) {
            (Some(wanted_children), Some(children)) => {
                if let Some(Value::Object(sub)) = target.get_mut(key) {
                    changed |= remove_dropped(sub, children, wanted_children);
                }
            }
            // Still set, whole: setting it is enough.
            (Some(_), None) => {}
            (None, Some(children)) => {
                if let Some(Value::Object(sub)) = target.get_mut(key) {
                    changed |= remove_dropped(sub, children, &Map::new());
                    if sub.is_empty() {
                        target.remove(key);
                        changed = true;
                    }
                }
            }
            (None, None) => changed |= target.remove(key).is_some(),
        }
    }
    changed
}

/// Puts the digest of `value` (an object mto writes, as JSON) into its
/// [`COMPONENT_DIGEST_ANNOTATION`], beside the annotations it has.
pub fn stamp_digest(value: &mut Value) {
    let digest = crate::digest::digest(&*value);
    let annotations = &mut value["metadata"]["annotations"];
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    annotations[COMPONENT_DIGEST_ANNOTATION] = Value::String(digest);
}

/// Whether `observed` is `desired` as mto wrote it and nobody changed:
/// the same digest ([`stamp_digest`]), and for an object the view holds
/// whole (of a kind mto does not type), every field `desired` sets.
#[must_use]
pub fn as_written(observed: &crate::view::Object, desired: &crate::view::Object) -> bool {
    let digest = |o: &crate::view::Object| {
        o.meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(COMPONENT_DIGEST_ANNOTATION))
            .cloned()
    };
    digest(observed) == digest(desired)
        && (!matches!(observed, crate::view::Object::Dynamic(_))
            || carries_fields(observed, desired))
}

/// Whether `observed` carries every field `desired` sets outside its
/// metadata and status: maps may hold more (what others and the
/// apiserver's defaults add), lists hold as many items, each carrying its
/// counterpart. An object someone edited does not.
#[must_use]
fn carries_fields(observed: &crate::view::Object, desired: &crate::view::Object) -> bool {
    fn carries(have: &Value, want: &Value) -> bool {
        match (have, want) {
            (Value::Object(have), Value::Object(want)) => want
                .iter()
                .all(|(k, w)| have.get(k).is_some_and(|h| carries(h, w))),
            (Value::Array(have), Value::Array(want)) => {
                have.len() == want.len() && have.iter().zip(want).all(|(h, w)| carries(h, w))
            }
            (have, want) => have == want,
        }
    }
    let (Ok(Value::Object(have)), Ok(Value::Object(want))) =
        (observed.to_json(), desired.to_json())
    else {
        return false;
    };
    want.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"))
        .all(|(k, w)| have.get(k).is_some_and(|h| carries(h, w)))
}

/// Sets every field of `applied` in `target`, merging maps.
pub(crate) fn set_fields(target: &mut Map<String, Value>, applied: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (key, value) in applied {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
            continue;
        }
        match (target.get_mut(key), value) {
            (Some(Value::Object(have)), Value::Object(want)) => {
                changed |= set_fields(have, want);
            }
            (Some(have), want) if have == want => {}
            _ => {
                target.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    changed
}

/// Whether a managedFields entry is mto's apply.
fn ours(e: &ManagedFieldsEntry) -> bool {
    e.manager.as_deref() == Some(FIELD_MANAGER) && e.operation.as_deref() == Some("Apply")
}

/// Sets `applied`'s labels and annotations in `target`, removing those mto
/// set before (per managedFields) and leaves out now.
fn merge_metadata(target: &mut ObjectMeta, applied: &ObjectMeta) -> bool {
    let previously = [MetadataField::Labels, MetadataField::Annotations].map(|field| {
        owned_keys((&*target).into(), field)
            .into_iter()
            .map(str::to_owned)
            .collect()
    });
    merge_owned_metadata(target, previously, applied.into())
}

/// Sets `applied`'s labels and annotations in `target`, removing the label
/// and annotation keys mto set before (`previously`) and leaves out now.
fn merge_owned_metadata(
    target: &mut ObjectMeta,
    previously: [Vec<String>; 2],
    applied: MetaRef<'_>,
) -> bool {
    let mut changed = false;
    for (field, previously) in [MetadataField::Labels, MetadataField::Annotations]
        .into_iter()
        .zip(previously)
    {
        let want = field.of(applied);
        let map = field.of_mut(target).get_or_insert_with(BTreeMap::new);
        for key in previously {
            if want.is_none_or(|w| !w.contains_key(&key)) {
                changed |= map.remove(&key).is_some();
            }
        }
        for (k, v) in want.into_iter().flatten() {
            if map.get(k) != Some(v) {
                map.insert(k.clone(), v.clone());
                changed = true;
            }
        }
        if map.is_empty() {
            *field.of_mut(target) = None;
        }
    }
    changed
}

/// Records in managedFields that mto's field manager owns `applied`'s
/// labels and annotations and `body` fields. Returns whether the record
/// changed.
fn record_ownership(
    target: &mut ObjectMeta,
    applied: &ObjectMeta,
    body: Map<String, Value>,
    api_version: &str,
) -> bool {
    // Sized exactly: a simulated cluster holds one of these per object.
    let applied_fields = [MetadataField::Labels, MetadataField::Annotations]
        .map(|field| (field, field.of(applied.into()).filter(|m| !m.is_empty())));
    let mut metadata =
        Map::with_capacity(applied_fields.iter().filter(|(_, m)| m.is_some()).count());
    for (field, applied) in applied_fields {
        if let Some(m) = applied {
            let keys = m
                .keys()
                .map(|k| (["f:", k.as_str()].concat(), Value::Object(Map::new())))
                .collect();
            metadata.insert(field.key().into(), Value::Object(keys));
        }
    }
    let mut fields = Map::with_capacity(body.len() + 1);
    fields.extend(body);
    fields.insert("f:metadata".to_owned(), Value::Object(metadata));
    let fields = Value::Object(fields);
    let entries = target.managed_fields.get_or_insert_with(Vec::new);
    if entries
        .iter()
        .any(|e| ours(e) && e.fields_v1.as_ref().map(|f| &f.0) == Some(&fields))
    {
        return false;
    }
    entries.retain(|e| !ours(e));
    entries.reserve_exact(1);
    entries.push(ManagedFieldsEntry {
        manager: Some(FIELD_MANAGER.into()),
        operation: Some("Apply".into()),
        api_version: Some(api_version.into()),
        fields_type: Some("FieldsV1".into()),
        fields_v1: Some(FieldsV1(fields)),
        ..Default::default()
    });
    true
}

/// Whether `meta` carries the annotation `key`.
fn has_annotation(meta: MetaRef<'_>, key: &str) -> bool {
    meta.annotations().is_some_and(|a| a.contains_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    /// `owns_only` of `meta` as the view would read it.
    fn owns_only_now(meta: &ObjectMeta, field: MetadataField, allowed: &[&str]) -> bool {
        owns_only(meta, &Ownership::of(meta), field, allowed)
    }

    /// `metadata_in_sync` against `observed` as the view would read it.
    fn in_sync(desired: &ObjectMeta, observed: &ObjectMeta) -> bool {
        metadata_in_sync(desired, observed, &Ownership::of(observed))
    }

    /// Every object the view holds carries one: bits over its keys, whose
    /// it is, and its applied digest, with nothing allocated for a tenant
    /// name of up to 24 bytes.
    #[test]
    fn ownership_is_small() {
        assert!(
            std::mem::size_of::<Ownership>() <= 88,
            "{} bytes",
            std::mem::size_of::<Ownership>()
        );
    }

    #[test]
    fn ownership_says_whether_labels_mark_the_object_as_mtos_and_for_whom() {
        use crate::labels::MANAGED_BY_VALUE;
        let mut rb = meta(&[]);
        apply_metadata(
            &mut rb,
            &meta(&[
                (MANAGED_BY_LABEL, MANAGED_BY_VALUE),
                (TENANT_LABEL, "alpha"),
            ]),
            "v1",
        );
        let ownership = Ownership::of(&rb);
        assert!(ownership.is_managed());
        assert!(ownership.is_managed_for("alpha"));
        assert!(!ownership.is_managed_for("beta"));
        assert_eq!(ownership.managed_tenant(), Some("alpha"));
        assert!(ownership.has_managed_labels("alpha"));
        assert!(!ownership.has_managed_labels("beta"));

        let labels = rb.labels.get_or_insert_with(BTreeMap::new);
        labels.insert("team".into(), "theirs".into());
        assert!(
            Ownership::of(&rb).has_managed_labels("alpha"),
            "a label someone else set is theirs"
        );

        let mut more = meta(&[]);
        apply_metadata(
            &mut more,
            &meta(&[
                (MANAGED_BY_LABEL, MANAGED_BY_VALUE),
                (TENANT_LABEL, "alpha"),
                ("extra", "1"),
            ]),
            "v1",
        );
        let ownership = Ownership::of(&more);
        assert!(ownership.is_managed_for("alpha"));
        assert!(
            !ownership.has_managed_labels("alpha"),
            "mto owns a label it would not apply now"
        );

        let foreign = meta(&[(MANAGED_BY_LABEL, "someone-else"), (TENANT_LABEL, "alpha")]);
        let ownership = Ownership::of(&foreign);
        assert!(!ownership.is_managed());
        assert!(!ownership.is_managed_for("alpha"));
        assert_eq!(ownership.managed_tenant(), None);
        assert_eq!(
            ownership.labelled_tenant(),
            Some("alpha"),
            "a namespace's claim, whoever labelled it"
        );

        let untenanted = meta(&[(MANAGED_BY_LABEL, MANAGED_BY_VALUE)]);
        let ownership = Ownership::of(&untenanted);
        assert!(ownership.is_managed());
        assert_eq!(ownership.managed_tenant(), None);
        assert!(!ownership.has_managed_labels("alpha"));
    }

    #[test]
    fn owning_only_asks_about_the_keys_the_object_holds() {
        let mut rb = meta(&[]);
        apply_metadata(&mut rb, &meta(&[("a", "1"), ("b", "2")]), "v1");
        assert!(
            !owns_only_now(&rb, MetadataField::Labels, &["a"]),
            "b is mto's"
        );
        assert!(owns_only_now(&rb, MetadataField::Labels, &["a", "b"]));
        let labels = rb.labels.get_or_insert_with(BTreeMap::new);
        labels.insert("c".into(), "3".into());
        assert!(
            owns_only_now(&rb, MetadataField::Labels, &["a", "b"]),
            "c is someone else's"
        );
        let labels = rb.labels.get_or_insert_with(BTreeMap::new);
        labels.remove("b");
        assert!(
            owns_only_now(&rb, MetadataField::Labels, &["a"]),
            "b is gone: nothing an apply would remove"
        );
        assert!(owns_only_now(&rb, MetadataField::Annotations, &[]));
    }

    #[test]
    fn dropped_keys_are_removed_others_kept() {
        let mut ns = meta(&[("team", "x")]); // set by someone else
        assert!(apply_metadata(
            &mut ns,
            &meta(&[("a", "1"), ("b", "2")]),
            "v1"
        ));
        assert!(in_sync(&meta(&[("a", "1"), ("b", "2")]), &ns));
        assert!(
            !in_sync(&meta(&[("a", "1")]), &ns),
            "b is mto's and no longer wanted"
        );
        assert!(apply_metadata(&mut ns, &meta(&[("a", "1")]), "v1"));
        assert!(
            !apply_metadata(&mut ns, &meta(&[("a", "1")]), "v1"),
            "nothing left to change"
        );
        assert_eq!(ns.labels, meta(&[("a", "1"), ("team", "x")]).labels);
        assert!(in_sync(&meta(&[("a", "1")]), &ns));
        assert_eq!(ns.managed_fields.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn a_changed_value_is_drift() {
        let mut ns = ObjectMeta::default();
        apply_metadata(&mut ns, &meta(&[("a", "1")]), "v1");
        ns.labels.as_mut().map(|l| l.insert("a".into(), "2".into()));
        assert!(!in_sync(&meta(&[("a", "1")]), &ns));
    }

    use proptest::prelude::*;
    use serde_json::json;

    /// Applies `body` as mto to `object` (metadata, body).
    fn apply(object: &mut (ObjectMeta, Value), body: &Value) -> bool {
        apply_object(
            &mut object.0,
            &mut object.1,
            &ObjectMeta::default(),
            body,
            "v1",
        )
    }

    #[test]
    fn a_field_mto_stops_setting_goes_and_what_others_set_stays() {
        // Someone else set spec.replicas and a top-level field.
        let mut widget = (
            ObjectMeta::default(),
            json!({"spec": {"replicas": 2}, "note": "theirs"}),
        );
        assert!(apply(
            &mut widget,
            &json!({"spec": {"size": 3, "colour": "blue"}, "data": {"a": "1"}})
        ));
        assert_eq!(
            widget.1,
            json!({"spec": {"replicas": 2, "size": 3, "colour": "blue"}, "note": "theirs", "data": {"a": "1"}})
        );
        assert!(
            !apply(
                &mut widget,
                &json!({"spec": {"size": 3, "colour": "blue"}, "data": {"a": "1"}})
            ),
            "applying the same again changes nothing"
        );
        assert!(apply(&mut widget, &json!({"spec": {"size": 4}})));
        assert_eq!(
            widget.1,
            json!({"spec": {"replicas": 2, "size": 4}, "note": "theirs"}),
            "colour and data were mto's; replicas and note were not"
        );
    }

    #[test]
    fn lists_are_set_whole() {
        let mut widget = (ObjectMeta::default(), json!({}));
        apply(&mut widget, &json!({"spec": {"ports": [80, 443]}}));
        apply(&mut widget, &json!({"spec": {"ports": [8080]}}));
        assert_eq!(widget.1, json!({"spec": {"ports": [8080]}}));
    }

    #[test]
    fn status_and_identity_are_not_the_body() {
        let mut widget = (ObjectMeta::default(), json!({}));
        apply(
            &mut widget,
            &json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"ok": true}, "spec": {}}),
        );
        assert_eq!(widget.1, json!({"spec": {}}));
    }

    /// A JSON body of small maps, lists and scalars.
    fn body() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            (0i64..4).prop_map(Value::from),
            "[a-c]".prop_map(Value::from),
            prop::collection::vec(0i64..3, 0..3).prop_map(Value::from),
        ];
        let tree = leaf.prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map("[k-n]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        });
        prop::collection::btree_map("[k-n]", tree, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    /// `theirs` under keys mto never uses.
    fn prefixed(value: &Value) -> Value {
        match value {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (format!("x{k}"), v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    proptest! {
        /// Whatever mto applied before, applying `b` leaves exactly `b`
        /// plus what others set; and applying it again changes nothing.
        #[test]
        fn the_last_apply_wins_and_others_keep_theirs(a in body(), b in body(), theirs in body()) {
            let theirs = prefixed(&theirs);
            let mut object = (ObjectMeta::default(), theirs.clone());
            apply(&mut object, &a);
            apply(&mut object, &b);
            let mut expected = theirs.as_object().cloned().unwrap_or_default();
            for (k, v) in b.as_object().into_iter().flatten() {
                expected.insert(k.clone(), v.clone());
            }
            prop_assert_eq!(&object.1, &Value::Object(expected));
            prop_assert!(!apply(&mut object, &b));
        }

        /// Compacting a tree keeps every key, value and order.
        /// The simulated apiserver keeps what mto owns beside each object
        /// instead of in managedFields: through any mix of mto's applies
        /// and others' edits, the labels and annotations come out the
        /// same, and so does what mto owns of them.
        #[test]
        fn ownership_kept_beside_is_what_managed_fields_would_say(
            steps in proptest::collection::vec(
                (
                    proptest::bool::ANY,
                    proptest::collection::btree_map("[a-d]", "[xy]", 0..4),
                    proptest::collection::btree_map("[a-d]", "[xy]", 0..3),
                ),
                1..12,
            ),
        ) {
            let mut tracked = ObjectMeta::default();
            let mut beside = ObjectMeta::default();
            let mut ownership = Ownership::unowned(&beside);
            for (by_mto, labels, annotations) in steps {
                let non_empty = |m: BTreeMap<String, String>| (!m.is_empty()).then_some(m);
                if by_mto {
                    let applied = ObjectMeta {
                        labels: non_empty(labels),
                        annotations: non_empty(annotations),
                        ..Default::default()
                    };
                    apply_metadata(&mut tracked, &applied, "v1");
                    let (_, owned) = apply_owned_metadata(&mut beside, &ownership, &applied);
                    ownership = owned;
                } else {
                    // Someone else's edit: a key with "x" is set, with "y" removed.
                    let before = beside.clone();
                    for meta in [&mut tracked, &mut beside] {
                        for (field, edits) in [
                            (MetadataField::Labels, &labels),
                            (MetadataField::Annotations, &annotations),
                        ] {
                            let map = field.of_mut(meta).get_or_insert_with(BTreeMap::new);
                            for (key, value) in edits {
                                if value == "x" {
                                    map.insert(key.clone(), value.clone());
                                } else {
                                    map.remove(key);
                                }
                            }
                            if map.is_empty() {
                                *field.of_mut(meta) = None;
                            }
                        }
                    }
                    ownership = ownership.carried(&before, &beside);
                    // An apiserver drops ownership of what someone removed.
                    let still_owned = Ownership::of(&tracked);
                    let owned_meta = |field| {
                        let keys: BTreeMap<String, String> = still_owned
                            .entries(&tracked, field)
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        non_empty(keys)
                    };
                    let owned = ObjectMeta {
                        labels: owned_meta(MetadataField::Labels),
                        annotations: owned_meta(MetadataField::Annotations),
                        ..Default::default()
                    };
                    record_ownership(&mut tracked, &owned, Map::new(), "v1");
                }
                prop_assert_eq!(&tracked.labels, &beside.labels);
                prop_assert_eq!(&tracked.annotations, &beside.annotations);
                let read = Ownership::of(&tracked);
                for field in [MetadataField::Labels, MetadataField::Annotations] {
                    prop_assert_eq!(
                        read.keys(&tracked, field).collect::<Vec<_>>(),
                        ownership.keys(&beside, field).collect::<Vec<_>>()
                    );
                }
                prop_assert_eq!(&read, &ownership);
            }
        }

        #[test]
        fn ownership_is_what_managed_fields_say_of_the_keys_held(
            applied in proptest::collection::btree_set("[a-z]{1,3}", 0..80),
            others in proptest::collection::btree_set("[a-z]{1,3}", 0..80),
            dropped in proptest::collection::btree_set("[a-z]{1,3}", 0..20),
        ) {
            let mut meta = ObjectMeta::default();
            let labels = |keys: &std::collections::BTreeSet<String>| ObjectMeta {
                labels: Some(keys.iter().map(|k| (k.clone(), "v".to_owned())).collect()),
                ..Default::default()
            };
            apply_metadata(&mut meta, &labels(&applied), "v1");
            let held = meta.labels.get_or_insert_with(BTreeMap::new);
            for key in &others {
                held.entry(key.clone()).or_insert_with(|| "theirs".to_owned());
            }
            for key in &dropped {
                held.remove(key);
            }
            let ownership = Ownership::of(&meta);
            let owned: Vec<&str> = ownership.keys(&meta, MetadataField::Labels).collect();
            let expected: Vec<&str> = meta
                .labels
                .iter()
                .flatten()
                .map(|(k, _)| k.as_str())
                .filter(|k| applied.contains(*k))
                .collect();
            prop_assert_eq!(&owned, &expected);
            for key in meta.labels.iter().flatten().map(|(k, _)| k) {
                prop_assert_eq!(
                    ownership.owns(&meta, MetadataField::Labels, key),
                    applied.contains(key)
                );
            }
            prop_assert_eq!(ownership.keys(&meta, MetadataField::Annotations).count(), 0);
        }

        #[test]
        fn a_compacted_tree_is_the_same_tree(tree in body()) {
            let compact = compacted(tree.clone());
            prop_assert_eq!(&compact, &tree);
            prop_assert_eq!(
                serde_json::to_string(&compact).ok(),
                serde_json::to_string(&tree).ok(),
                "keys in the same order"
            );
        }
    }
}
