//! ResourceSupervisors: sleep schedules of one namespace.

use crate::api::ResourceSupervisor;
use crate::view::{Key, Snapshot, SupervisorId, Typed, Woken};

impl Typed for ResourceSupervisor {
    /// Read by itself alone.
    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    const GENERATION: bool = true;

    fn subject(&self) -> Option<Key> {
        Some(Key::Supervisor(SupervisorId::Namespaced {
            namespace: self.metadata.namespace.clone().unwrap_or_default(),
            name: self.metadata.name.clone().unwrap_or_default(),
        }))
    }

    fn acts_on(before: &Self, after: &Self) -> bool {
        super::cluster_resource_supervisor::supervisor_acts_on(&before.metadata, &after.metadata)
    }

    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        woken.extend_subject(self.subject());
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    status_subresource!();
}
