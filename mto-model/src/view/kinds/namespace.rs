//! Namespaces: claimed by tenants through their label, covered by
//! supervisors.

use k8s_openapi::api::core::v1::Namespace;

use crate::labels::tenant_of;
use crate::view::{Indexes, Key, Objects, Observed as _, Snapshot, Typed, Woken};

impl Typed for Namespace {
    /// mto compares only a namespace's labels and annotations: its
    /// applied digest is theirs.
    fn digest_body(&self, _: &mut crate::digest::AppliedDigest) -> bool {
        true
    }

    /// Its readers follow from its name and labels.
    fn same_readers(before: &Self, after: &Self) -> bool {
        before.metadata.labels == after.metadata.labels
    }

    /// Its tenant, everyone asking for it, and the supervisors covering it.
    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if let Some(tenant) = tenant_of(&self.metadata) {
            woken.tenant(tenant);
        }
        for claimant in snapshot.claimants(name) {
            woken.tenant(claimant);
        }
        for supervisor in snapshot.supervisors_covering(name, self.metadata.labels.as_ref()) {
            woken.insert(Key::Supervisor(supervisor));
        }
        for instance in snapshot.instances_covering(name, self.metadata.labels.as_ref()) {
            woken.insert(Key::Instance(instance));
        }
    }

    fn reindex(
        indexes: &mut Indexes,
        _: &Objects,
        before: Option<&Namespace>,
        after: Option<&Namespace>,
    ) {
        let name = before
            .or(after)
            .and_then(|n| n.metadata.name.as_deref())
            .unwrap_or_default();
        indexes.relabel(
            name,
            before.and_then(|n| tenant_of(&n.metadata)),
            after.and_then(|n| tenant_of(&n.metadata)),
        );
    }

    /// mto applies only a namespace's labels and annotations.
    fn apply_fields(_: &mut Namespace, _: &Namespace) -> Result<bool, super::FieldRefused> {
        Ok(false)
    }

    /// Kubernetes labels every namespace with its own name.
    fn created(&mut self) -> Option<&'static str> {
        let name = self.metadata.name.clone().unwrap_or_default();
        let label = crate::labels::NAMESPACE_NAME_LABEL;
        let held = self
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(label.to_owned(), name);
        held.is_none().then_some(label)
    }

    fn keep_status(current: &Namespace, written: &mut Namespace) {
        written.spec.clone_from(&current.spec);
        written.status.clone_from(&current.status);
    }
}
