//! LimitRanges: default container limits in tenant namespaces.

use k8s_openapi::api::core::v1::LimitRange;

use crate::view::{Snapshot, Typed, Woken};

impl Typed for LimitRange {
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
        current: &mut LimitRange,
        applied: &LimitRange,
    ) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }
}
