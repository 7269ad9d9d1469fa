//! Server-side apply, as far as mto relies on it: the fields mto applied
//! before and leaves out now are removed; fields other managers set stay.
//!
//! Ownership is read from (and, for executors without an apiserver, written
//! to) `metadata.managedFields`, exactly where Kubernetes keeps it, so the
//! planner sees the same thing against a real or a simulated cluster.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, ObjectMeta};
use serde_json::{Map, Value};

use crate::labels::FIELD_MANAGER;

/// Label and annotation keys owned by mto's field manager, per managedFields.
#[must_use]
pub fn owned_keys(meta: &ObjectMeta, field: MetadataField) -> Vec<&str> {
    owned_map(meta, field)
        .into_iter()
        .flat_map(|m| m.keys().filter_map(|k| k.strip_prefix("f:")))
        .collect()
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

    fn of(self, meta: &ObjectMeta) -> Option<&BTreeMap<String, String>> {
        match self {
            MetadataField::Labels => meta.labels.as_ref(),
            MetadataField::Annotations => meta.annotations.as_ref(),
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
/// key mto owns that `desired` leaves out.
#[must_use]
pub fn metadata_in_sync(desired: &ObjectMeta, observed: &ObjectMeta) -> bool {
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
            let still_wanted = |k: &str| want.is_some_and(|w| w.contains_key(k));
            carries
                && owned_map(observed, field).is_none_or(|m| {
                    m.keys()
                        .filter_map(|k| k.strip_prefix("f:"))
                        .all(still_wanted)
                })
        })
}

/// Whether mto's field manager owns no label or annotation outside `allowed`.
#[must_use]
pub fn owns_only(meta: &ObjectMeta, field: MetadataField, allowed: &[&str]) -> bool {
    owned_map(meta, field).is_none_or(|m| {
        m.keys()
            .all(|k| k.strip_prefix("f:").is_some_and(|k| allowed.contains(&k)))
    })
}

/// mto's managedFields map for labels or annotations (`{"f:key": {}}`).
fn owned_map(meta: &ObjectMeta, field: MetadataField) -> Option<&Map<String, Value>> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|e| {
            e.manager.as_deref() == Some(FIELD_MANAGER) && e.operation.as_deref() == Some("Apply")
        })
        .find_map(|e| {
            e.fields_v1
                .as_ref()?
                .0
                .get("f:metadata")?
                .get(field.key())?
                .as_object()
        })
}

/// Applies `applied`'s labels and annotations to `target` as mto's field
/// manager would, and records the new ownership in managedFields. For
/// executors without an apiserver (the simulator and tests). Returns
/// whether anything changed.
pub fn apply_metadata(target: &mut ObjectMeta, applied: &ObjectMeta, api_version: &str) -> bool {
    let mut changed = false;
    for field in [MetadataField::Labels, MetadataField::Annotations] {
        let previously: Vec<String> = owned_keys(target, field)
            .into_iter()
            .map(str::to_owned)
            .collect();
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
    // Sized exactly: a simulated cluster holds one of these per object.
    let applied_fields = [MetadataField::Labels, MetadataField::Annotations]
        .map(|field| (field, field.of(applied).filter(|m| !m.is_empty())));
    let mut metadata =
        Map::with_capacity(applied_fields.iter().filter(|(_, m)| m.is_some()).count());
    for (field, applied) in applied_fields {
        if let Some(m) = applied {
            let keys = m
                .keys()
                .map(|k| (format!("f:{k}"), Value::Object(Map::new())))
                .collect();
            metadata.insert(field.key().into(), Value::Object(keys));
        }
    }
    let fields = Value::Object(Map::from_iter([(
        "f:metadata".to_owned(),
        Value::Object(metadata),
    )]));
    let entries = target.managed_fields.get_or_insert_with(Vec::new);
    let ours = |e: &ManagedFieldsEntry| {
        e.manager.as_deref() == Some(FIELD_MANAGER) && e.operation.as_deref() == Some("Apply")
    };
    if entries
        .iter()
        .any(|e| ours(e) && e.fields_v1.as_ref().map(|f| &f.0) == Some(&fields))
    {
        return changed;
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

    #[test]
    fn dropped_keys_are_removed_others_kept() {
        let mut ns = meta(&[("team", "x")]); // set by someone else
        assert!(apply_metadata(
            &mut ns,
            &meta(&[("a", "1"), ("b", "2")]),
            "v1"
        ));
        assert!(metadata_in_sync(&meta(&[("a", "1"), ("b", "2")]), &ns));
        assert!(
            !metadata_in_sync(&meta(&[("a", "1")]), &ns),
            "b is mto's and no longer wanted"
        );
        assert!(apply_metadata(&mut ns, &meta(&[("a", "1")]), "v1"));
        assert!(
            !apply_metadata(&mut ns, &meta(&[("a", "1")]), "v1"),
            "nothing left to change"
        );
        assert_eq!(ns.labels, meta(&[("a", "1"), ("team", "x")]).labels);
        assert!(metadata_in_sync(&meta(&[("a", "1")]), &ns));
        assert_eq!(ns.managed_fields.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn a_changed_value_is_drift() {
        let mut ns = ObjectMeta::default();
        apply_metadata(&mut ns, &meta(&[("a", "1")]), "v1");
        ns.labels.as_mut().map(|l| l.insert("a".into(), "2".into()));
        assert!(!metadata_in_sync(&meta(&[("a", "1")]), &ns));
    }
}
