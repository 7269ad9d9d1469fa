//! RoleBindings: the access mto grants in tenant namespaces.

use k8s_openapi::api::rbac::v1::RoleBinding;

use crate::view::{Snapshot, Typed, Woken};

impl Typed for RoleBinding {
    fn slim(&mut self) {
        super::slim_binding(&mut self.metadata, &mut self.subjects);
    }

    fn digest_body(&self, digest: &mut crate::digest::AppliedDigest) -> bool {
        super::digest_bound(digest, &self.role_ref, self.subjects.as_deref())
    }

    /// Read by whoever reads its namespace, whatever changed.
    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        super::namespace_readers(
            snapshot,
            self.metadata.namespace.as_deref().unwrap_or_default(),
            woken,
        );
    }

    /// `roleRef` cannot change; the subjects are mto's.
    fn apply_fields(
        current: &mut RoleBinding,
        applied: &RoleBinding,
    ) -> Result<bool, super::FieldRefused> {
        super::bind_fields(
            "RoleBinding",
            current.metadata.name.as_deref(),
            (&mut current.role_ref, &mut current.subjects),
            (&applied.role_ref, &applied.subjects),
        )
    }
}
