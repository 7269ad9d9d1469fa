//! ResourceQuotas: each tenant namespace's share of the tenant's quota.

use k8s_openapi::api::core::v1::ResourceQuota;

use crate::view::{Snapshot, Typed, Woken};

impl Typed for ResourceQuota {
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

    fn apply_fields(
        current: &mut ResourceQuota,
        applied: &ResourceQuota,
    ) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }

    // Written by the apiserver's quota admission and the quota controller
    // (the simulator plays both).
    status_subresource!();
}
