//! Templates and their instances: an instance decides again when its
//! Template changes; nothing else reads them.

use crate::api::{ClusterTemplateInstance, Template, TemplateGroupInstance, TemplateInstance};
use crate::view::{InstanceId, Key, Snapshot, Typed, Woken};

impl Typed for Template {
    /// Read by the instances naming it, whatever changed.
    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        for id in snapshot.instances_of(name) {
            woken.insert(Key::Instance(id));
        }
    }
}

/// Whether an instance's controller acts on a change: spec, deletion,
/// finalizers, identity. Not status.
fn instance_acts_on(
    before: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    after: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    before.generation != after.generation
        || before.deletion_timestamp != after.deletion_timestamp
        || before.finalizers != after.finalizers
        || before.uid != after.uid
}

macro_rules! instance_kind {
    ($ty:ty, $id:expr) => {
        impl Typed for $ty {
            const GENERATION: bool = true;

            /// Read by itself alone.
            fn same_readers(_: &Self, _: &Self) -> bool {
                true
            }

            fn subject(&self) -> Option<Key> {
                let id: fn(&Self) -> InstanceId = $id;
                Some(Key::Instance(id(self)))
            }

            fn acts_on(before: &Self, after: &Self) -> bool {
                instance_acts_on(&before.metadata, &after.metadata)
            }

            fn readers(&self, _: &Snapshot, woken: &mut Woken) {
                woken.extend_subject(self.subject());
            }

            fn apply_fields(
                current: &mut Self,
                applied: &Self,
            ) -> Result<bool, super::FieldRefused> {
                Ok(super::replace(&mut current.spec, &applied.spec))
            }

            fn spec_changed(before: &Self, after: &Self) -> bool {
                before.spec != after.spec
            }

            fn apply_status(current: &mut Self, applied: &Self) -> Option<bool> {
                Some(super::replace(&mut current.status, &applied.status))
            }

            fn keep_status(current: &Self, written: &mut Self) {
                written.status.clone_from(&current.status);
            }
        }
    };
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

instance_kind!(TemplateInstance, |i| InstanceId::Namespaced {
    namespace: i.metadata.namespace.clone().unwrap_or_default(),
    name: name(&i.metadata),
});
instance_kind!(ClusterTemplateInstance, |i| InstanceId::Cluster {
    name: name(&i.metadata)
});
instance_kind!(TemplateGroupInstance, |i| InstanceId::Group {
    name: name(&i.metadata)
});
