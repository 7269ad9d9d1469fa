//! Templates and their instances: an instance decides again when its
//! Template changes; nothing else reads them.

use crate::api::{ClusterTemplateInstance, Template, TemplateGroupInstance, TemplateInstance};
use crate::labels::{is_managed, tenant_of};
use crate::template::Instance;
use crate::view::{Key, Snapshot, Typed, Woken};

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

macro_rules! instance_kind {
    ($ty:ty, $variant:ident) => {
        impl Typed for $ty {
            const GENERATION: bool = true;

            /// Its readers follow from its labels.
            fn same_readers(before: &Self, after: &Self) -> bool {
                before.metadata.labels == after.metadata.labels
            }

            fn subject(&self) -> Option<Key> {
                Some(Key::Instance(Instance::$variant(self).id()))
            }

            fn acts_on(before: &Self, after: &Self) -> bool {
                super::lifecycle_changed(&before.metadata, &after.metadata)
            }

            /// Itself, and the tenant whose `spec.templateInstances` it
            /// carries.
            fn readers(&self, _: &Snapshot, woken: &mut Woken) {
                woken.extend_subject(self.subject());
                if is_managed(&self.metadata)
                    && let Some(tenant) = tenant_of(&self.metadata)
                {
                    woken.tenant(tenant);
                }
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

instance_kind!(TemplateInstance, Namespaced);
instance_kind!(ClusterTemplateInstance, Cluster);
instance_kind!(TemplateGroupInstance, Group);
