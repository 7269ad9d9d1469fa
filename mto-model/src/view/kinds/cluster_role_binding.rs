//! ClusterRoleBindings: the one mto makes per tenant lets its owners ask
//! for namespaces (the admission webhook decides which).

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;

use crate::labels::{is_managed, tenant_of};
use crate::view::{Snapshot, Typed, Woken};

impl Typed for ClusterRoleBinding {
    fn slim(&mut self) {
        super::slim_binding(&mut self.metadata, &mut self.subjects);
    }

    fn digest_body(&self, digest: &mut crate::digest::AppliedDigest) -> bool {
        super::digest_bound(digest, &self.role_ref, self.subjects.as_deref())
    }

    /// Its reader follows from its labels.
    fn same_readers(before: &Self, after: &Self) -> bool {
        before.metadata.labels == after.metadata.labels
    }

    /// The tenant it grants for, when mto made it.
    fn readers(&self, _: &Snapshot, woken: &mut Woken) {
        if is_managed(&self.metadata)
            && let Some(tenant) = tenant_of(&self.metadata)
        {
            woken.tenant(tenant);
        }
    }

    /// `roleRef` cannot change; the subjects are mto's.
    fn apply_fields(
        current: &mut ClusterRoleBinding,
        applied: &ClusterRoleBinding,
    ) -> Result<bool, super::FieldRefused> {
        super::bind_fields(
            "ClusterRoleBinding",
            current.metadata.name.as_deref(),
            (&mut current.role_ref, &mut current.subjects),
            (&applied.role_ref, &applied.subjects),
        )
    }
}
