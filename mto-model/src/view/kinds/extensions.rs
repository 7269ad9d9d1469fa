//! Extensions: a tenant's integrations. Each is decided on when it
//! changes, when its AppProject does, and whenever its tenant is woken.

use crate::api::Extensions;
use crate::view::{Indexes, Key, Objects, Snapshot, Typed, Woken};

impl Typed for Extensions {
    const GENERATION: bool = true;

    fn subject(&self) -> Option<Key> {
        Some(Key::Extension(
            self.metadata.name.clone().unwrap_or_default(),
        ))
    }

    fn acts_on(before: &Self, after: &Self) -> bool {
        before.spec != after.spec || super::lifecycle_changed(&before.metadata, &after.metadata)
    }

    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        woken.extend_subject(self.subject());
    }

    fn reindex(indexes: &mut Indexes, _: &Objects, before: Option<&Self>, after: Option<&Self>) {
        let entry = |e: &Self| {
            (
                e.spec.tenant_name.clone().unwrap_or_default(),
                e.metadata.name.clone().unwrap_or_default(),
            )
        };
        if let Some((tenant, name)) = before.map(entry)
            && let Some(set) = indexes.extensions.get_mut(&tenant)
        {
            set.remove(&name);
            if set.is_empty() {
                indexes.extensions.remove(&tenant);
            }
        }
        if let Some((tenant, name)) = after.map(entry) {
            indexes.extensions.entry(tenant).or_default().insert(name);
        }
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    status_subresource!();
}
