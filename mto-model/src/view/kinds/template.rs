//! Templates and their instances: an instance decides again when its
//! Template's content changes; a Template's guard when it is deleted or an
//! instance naming it comes, goes or is deleted.

use crate::api::{ClusterTemplateInstance, Template, TemplateGroupInstance, TemplateInstance};
use crate::labels::{is_managed, tenant_of};
use crate::template::Instance;
use crate::view::{Key, Snapshot, Typed, Woken};

impl Typed for Template {
    const GENERATION: bool = true;

    fn subject(&self) -> Option<Key> {
        Some(Key::Template(
            self.metadata.name.clone().unwrap_or_default(),
        ))
    }

    fn acts_on(before: &Self, after: &Self) -> bool {
        super::lifecycle_changed(&before.metadata, &after.metadata)
    }

    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        woken.extend_subject(self.subject());
    }

    /// Its instances, when what they render from changes (not its status,
    /// not its finalizers).
    fn moved(snapshot: &Snapshot, before: Option<&Self>, after: Option<&Self>, woken: &mut Woken) {
        if before.map(|t| &t.spec) == after.map(|t| &t.spec) {
            return;
        }
        let name = before
            .or(after)
            .and_then(|t| t.metadata.name.as_deref())
            .unwrap_or_default();
        for id in snapshot.instances_of(name) {
            woken.insert(Key::Instance(id));
        }
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    status_subresource!();
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

            /// The guard of the Template it names, when it comes, goes,
            /// is deleted or names another.
            fn moved(_: &Snapshot, before: Option<&Self>, after: Option<&Self>, woken: &mut Woken) {
                let using = |i: Option<&Self>| {
                    i.filter(|i| i.metadata.deletion_timestamp.is_none())
                        .map(|i| i.spec.template.clone())
                };
                let (was, is) = (using(before), using(after));
                if was != is {
                    for name in was.into_iter().chain(is) {
                        woken.insert(Key::Template(name));
                    }
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

            status_subresource!();
        }
    };
}

instance_kind!(TemplateInstance, Namespaced);
instance_kind!(ClusterTemplateInstance, Cluster);
instance_kind!(TemplateGroupInstance, Group);
