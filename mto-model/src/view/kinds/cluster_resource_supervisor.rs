//! ClusterResourceSupervisors: sleep schedules of selected namespaces; one
//! per tenant carries the tenant's `spec.hibernation`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::{ClusterResourceSupervisor, Tenant};
use crate::labels::{OVERRIDE_ANNOTATION, is_managed, tenant_of};
use crate::view::{Indexes, Key, Objects, Snapshot, SupervisorId, Typed, Woken};

/// Whether a supervisor's controller acts on a change: spec, deletion,
/// finalizers, identity, the override annotation. Not status.
pub(super) fn supervisor_acts_on(before: &ObjectMeta, after: &ObjectMeta) -> bool {
    let override_of = |m: &ObjectMeta| {
        m.annotations
            .as_ref()
            .and_then(|a| a.get(OVERRIDE_ANNOTATION))
            .cloned()
    };
    super::lifecycle_changed(before, after) || override_of(before) != override_of(after)
}

impl Typed for ClusterResourceSupervisor {
    /// Its readers follow from its labels and name.
    fn same_readers(before: &Self, after: &Self) -> bool {
        before.metadata.labels == after.metadata.labels
    }

    const GENERATION: bool = true;

    fn subject(&self) -> Option<Key> {
        Some(Key::Supervisor(SupervisorId::Cluster {
            name: self.metadata.name.clone().unwrap_or_default(),
        }))
    }

    fn acts_on(before: &Self, after: &Self) -> bool {
        supervisor_acts_on(&before.metadata, &after.metadata)
    }

    /// Itself, the tenant it carries the hibernation of, and the tenant it
    /// is named after (which reads it by name).
    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        woken.extend_subject(self.subject());
        if is_managed(&self.metadata)
            && let Some(tenant) = tenant_of(&self.metadata)
        {
            woken.tenant(tenant);
        }
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if snapshot.shelf::<Tenant>().named(name).is_some() {
            woken.tenant(name);
        }
    }

    fn reindex(indexes: &mut Indexes, _: &Objects, before: Option<&Self>, after: Option<&Self>) {
        if let Some(b) = before {
            indexes.coverage.remove(b);
        }
        if let Some(a) = after {
            indexes.coverage.add(a);
        }
    }

    fn apply_fields(current: &mut Self, applied: &Self) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }

    fn spec_changed(before: &Self, after: &Self) -> bool {
        before.spec != after.spec
    }

    status_subresource!();
}
