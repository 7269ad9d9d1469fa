//! LimitRanges: default container limits in tenant namespaces.

use k8s_openapi::api::core::v1::LimitRange;

use crate::view::{Snapshot, Typed, Woken};

impl Typed for LimitRange {
    /// A decoded list of limits keeps room for four items of 200 bytes;
    /// mto's holds one.
    fn slim(&mut self) {
        super::slim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            spec.limits.shrink_to_fit();
        }
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

    fn apply_fields(
        current: &mut LimitRange,
        applied: &LimitRange,
    ) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }
}
