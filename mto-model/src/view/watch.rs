//! The operator's view: watch events folded into a [`Snapshot`].
//!
//! The runtime feeds it from kube-runtime's watchers, the simulator from
//! its apiserver's change log (late, lost, duplicated, re-listed), and the
//! controllers decide from it: the same fold, so the simulator decides from
//! the same possibly stale view a real operator has.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::kinds::applied_digest;
use super::{DynamicObject, Kind, Object, ObjectVisitor, Snapshot, Typed, Woken};
use crate::apply::Ownership;

/// What a watch reports: kube-runtime's watcher events, in the model's
/// terms.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent {
    /// An object was created or changed, taken in where the event is
    /// made (outside any lock the view is kept under).
    Apply(Taken),
    /// An object was deleted; its last state.
    Delete(Object),
    /// A list of `kind` begins (at start, or after a watch expired). The
    /// view keeps what it has until the list completes.
    Init(Kind),
    /// An object of the list in progress.
    InitApply(Taken),
    /// The list of `kind` is complete and replaces what the view held.
    InitDone(Kind),
}

/// The cluster as the operator last heard of it.
#[derive(Clone, Debug, Default)]
pub struct View {
    snapshot: Snapshot,
    /// Each list in progress, its objects taken in as they come.
    relisting: BTreeMap<Kind, Vec<Taken>>,
}

impl View {
    /// Folds one event in; returns whom it wakes.
    ///
    /// A list wakes exactly those whose inputs it found changed: the
    /// changes a lost watch missed are the differences between the view
    /// and the list.
    pub fn fold(&mut self, event: WatchEvent) -> Woken {
        match event {
            WatchEvent::Apply(taken) => self.snapshot.put_taken(taken),
            WatchEvent::Delete(object) => self
                .snapshot
                .remove(&object.object_ref())
                .map(|(_, woken)| woken)
                .unwrap_or_default(),
            WatchEvent::Init(kind) => {
                self.relisting.insert(kind, Vec::new());
                Woken::none()
            }
            WatchEvent::InitApply(taken) => {
                self.relisting
                    .entry(taken.object.kind())
                    .or_default()
                    .push(taken);
                Woken::none()
            }
            WatchEvent::InitDone(kind) => {
                let objects = self.relisting.remove(&kind).unwrap_or_default();
                self.snapshot.replace(&kind, objects)
            }
        }
    }

    /// The objects as last heard of.
    #[must_use]
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Records what came of rendering a chart; returns whom it wakes.
    pub fn record_chart(
        &mut self,
        request: &crate::template::ChartRequest,
        rendering: crate::template::ChartRendering,
    ) -> Woken {
        self.snapshot.record_chart(request, rendering)
    }

    /// Records a reading of Vault (or why there is none); returns whom it
    /// wakes.
    pub fn record_vault(&mut self, observed: crate::vault::VaultObserved) -> Woken {
        self.snapshot.record_vault(observed)
    }

    /// Follows a Vault call that succeeded.
    pub fn record_vault_call(&mut self, call: &crate::vault::VaultCall) {
        self.snapshot.record_vault_call(call);
    }

    /// Whether `kind` has been listed once.
    #[must_use]
    pub fn is_listed(&self, kind: &Kind) -> bool {
        self.snapshot.is_listed(kind)
    }

    /// Whether every watched kind has been listed once: before that, a
    /// decision could release what is merely not listed yet.
    #[must_use]
    pub fn synced(&self) -> bool {
        Kind::watched_kinds().all(|k| self.snapshot.is_listed(k))
    }
}

/// An object as a view takes it in: with what mto's field manager owns of
/// its labels and annotations, and the digest of what mto applied to it,
/// read once, so no decision walks its managedFields again.
#[derive(Clone, Debug, PartialEq)]
pub struct Taken {
    object: Object,
    ownership: Ownership,
}

impl Taken {
    /// An object fresh from a watch or a list: its ownership read from its
    /// managedFields. One only the view holds is slimmed in place (see
    /// [`Typed::slim`]) and drops its managedFields; one it shares is not
    /// copied.
    #[must_use]
    pub fn new(object: Object) -> Taken {
        struct Take;
        impl ObjectVisitor for Take {
            type Output = (Object, Ownership);
            fn typed<K: Typed>(&mut self, mut object: Arc<K>) -> (Object, Ownership) {
                let ownership = match Arc::get_mut(&mut object) {
                    Some(only_ours) => {
                        only_ours.slim();
                        let ownership = Ownership::of(only_ours.meta_ref());
                        if only_ours.meta_ref().managed_fields().is_some() {
                            only_ours.meta_mut().managed_fields = None;
                            only_ours.settle_meta(None);
                        }
                        ownership
                    }
                    None => Ownership::of(object.meta_ref()),
                };
                (K::wrap(object), ownership)
            }
            fn dynamic(&mut self, mut object: Arc<DynamicObject>) -> (Object, Ownership) {
                if let Some(only_ours) = Arc::get_mut(&mut object) {
                    super::kinds::slim_metadata(&mut only_ours.metadata);
                }
                // An object of a kind mto does not type keeps its
                // managedFields: they say which fields of its body are mto's.
                let ownership = Ownership::of(&object.metadata);
                (Object::Dynamic(object), ownership)
            }
        }
        let (object, ownership) = object.visit(&mut Take);
        Taken::owned(object, ownership)
    }

    /// An object whose source keeps what mto owns of it beside it, as the
    /// simulated apiserver does instead of managedFields; the applied
    /// digest is read here.
    #[must_use]
    pub fn owned(object: Object, ownership: Ownership) -> Taken {
        struct Digest(Ownership);
        impl ObjectVisitor for Digest {
            type Output = Taken;
            fn typed<K: Typed>(&mut self, object: Arc<K>) -> Taken {
                let ownership = std::mem::take(&mut self.0);
                let applied = applied_digest(&*object, &ownership);
                Taken {
                    object: K::wrap(object),
                    ownership: ownership.with_applied(applied),
                }
            }
            fn dynamic(&mut self, object: Arc<DynamicObject>) -> Taken {
                Taken {
                    object: Object::Dynamic(object),
                    ownership: std::mem::take(&mut self.0),
                }
            }
        }
        object.visit(&mut Digest(ownership))
    }

    /// An object as a snapshot holds it, with its ownership complete.
    pub(super) fn held(object: Object, ownership: Ownership) -> Taken {
        Taken { object, ownership }
    }

    /// The object.
    #[must_use]
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// What mto owns of it.
    #[must_use]
    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// The object and what mto owns of it.
    #[must_use]
    pub fn into_parts(self) -> (Object, Ownership) {
        (self.object, self.ownership)
    }
}

impl From<Object> for Taken {
    fn from(object: Object) -> Taken {
        Taken::new(object)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        FieldsV1, ManagedFieldsEntry, ObjectMeta,
    };

    use super::*;
    use crate::apply::MetadataField;
    use crate::labels::TENANT_LABEL;
    use crate::view::Observed;

    /// A namespace of tenant `alpha` as a real watch delivers it, fresh and
    /// unshared: mto owns the labels `owned_by_mto`, kubectl the rest.
    fn namespace(owned_by_mto: &[&str]) -> Object {
        let entry = |manager: &str, operation: &str, keys: &[&str]| ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            fields_v1: Some(FieldsV1(serde_json::json!({
                "f:metadata": {"f:labels": keys
                    .iter()
                    .map(|k| (format!("f:{k}"), serde_json::json!({})))
                    .collect::<serde_json::Map<_, _>>()}
            }))),
            ..Default::default()
        };
        let labels = [TENANT_LABEL, "team"];
        let theirs: Vec<&str> = labels
            .into_iter()
            .filter(|k| !owned_by_mto.contains(k))
            .collect();
        Object::from(Namespace {
            metadata: ObjectMeta {
                name: Some("alpha-dev".into()),
                resource_version: Some("7".into()),
                labels: Some(labels.map(|k| (k.to_owned(), "alpha".to_owned())).into()),
                managed_fields: Some(vec![
                    entry(crate::labels::FIELD_MANAGER, "Apply", owned_by_mto),
                    entry("kubectl", "Update", &theirs),
                ]),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// A held kind read from a watch (its metadata full of what the view
    /// drops) is kept compact, with what mto owns of it read first.
    #[test]
    fn a_held_kind_is_taken_in_compact() {
        let binding: crate::view::RoleBinding = serde_json::from_value(serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {
                "name": "alpha-owner-admin", "namespace": "alpha-dev",
                "uid": "3c9d1a7e-4b2f-4e8a-9d6c-1f2e3a4b5c6d", "resourceVersion": "12",
                "labels": {TENANT_LABEL: "alpha", "team": "a"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "managedFields": [
                    {"manager": crate::labels::FIELD_MANAGER, "operation": "Apply",
                     "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:metadata": {"f:labels": {format!("f:{TENANT_LABEL}"): {}}}}},
                    {"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}
                ]
            },
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}
        }))
        .expect("a role binding");
        let taken = Taken::new(Object::from(binding));
        let kept = taken
            .object()
            .typed::<crate::view::RoleBinding>()
            .expect("a role binding");
        assert!(kept.metadata.is_compact(), "{:?}", kept.metadata);
        let meta = kept.metadata.read();
        assert_eq!(meta.managed_fields(), None, "the trees are dropped");
        assert_eq!(meta.annotations(), None, "what the model never reads too");
        assert_eq!(meta.uid(), Some("3c9d1a7e-4b2f-4e8a-9d6c-1f2e3a4b5c6d"));
        assert_eq!(
            taken
                .ownership()
                .keys(meta, MetadataField::Labels)
                .collect::<Vec<_>>(),
            [TENANT_LABEL]
        );
    }

    #[test]
    fn the_view_keeps_who_owns_what_instead_of_managed_fields() {
        let mut view = View::default();
        let woken = view.fold(WatchEvent::Apply(namespace(&[TENANT_LABEL]).into()));
        assert!(woken.tenants().any(|t| t == "alpha"));

        let snapshot = view.snapshot();
        let kept = snapshot
            .get::<Namespace>("", "alpha-dev")
            .expect("the namespace is in the view");
        assert_eq!(kept.metadata.managed_fields, None, "the trees are dropped");
        let ownership = snapshot.ownership::<Namespace>(&kept.metadata);
        assert_eq!(
            ownership
                .keys(&kept.metadata, MetadataField::Labels)
                .collect::<Vec<_>>(),
            [TENANT_LABEL]
        );

        assert!(
            view.fold(WatchEvent::Apply(namespace(&[TENANT_LABEL]).into()))
                .is_empty(),
            "the same object heard again wakes nobody"
        );
        let woken = view.fold(WatchEvent::Apply(namespace(&[TENANT_LABEL, "team"]).into()));
        assert!(
            woken.tenants().any(|t| t == "alpha"),
            "a change of ownership alone is a change"
        );
        let snapshot = view.snapshot();
        let kept = snapshot
            .get::<Namespace>("", "alpha-dev")
            .expect("the namespace is in the view");
        assert!(snapshot.ownership::<Namespace>(&kept.metadata).owns(
            &kept.metadata,
            MetadataField::Labels,
            "team"
        ));
    }

    #[test]
    fn a_list_keeps_who_owns_what_instead_of_managed_fields() {
        for already_held in [false, true] {
            let mut view = View::default();
            if already_held {
                view.fold(WatchEvent::Apply(namespace(&[]).into()));
            }
            view.fold(WatchEvent::Init(Kind::Namespace));
            view.fold(WatchEvent::InitApply(
                namespace(&[TENANT_LABEL, "team"]).into(),
            ));
            // A re-list gathers every object before it completes: they wait
            // without their managedFields too.
            let waiting = &view.relisting[&Kind::Namespace];
            assert!(
                waiting
                    .iter()
                    .all(|t| t.object().meta().managed_fields.is_none()),
                "{already_held}"
            );
            view.fold(WatchEvent::InitDone(Kind::Namespace));
            let snapshot = view.snapshot();
            let kept = snapshot
                .get::<Namespace>("", "alpha-dev")
                .expect("the namespace is in the view");
            assert_eq!(kept.metadata.managed_fields, None, "{already_held}");
            assert_eq!(
                snapshot
                    .ownership::<Namespace>(&kept.metadata)
                    .keys(&kept.metadata, MetadataField::Labels)
                    .count(),
                2,
                "{already_held}"
            );
        }
    }
}
