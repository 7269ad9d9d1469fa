//! LimitRanges: default container limits in tenant namespaces.

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeSpec};

use crate::digest::AppliedDigest;
use crate::view::{Snapshot, Typed, Woken};

/// What the planner compares of a limit range: each item's type and
/// quantities, by value.
pub(crate) fn digest_limit_range_spec(digest: &mut AppliedDigest, spec: Option<&LimitRangeSpec>) {
    digest.count(usize::from(spec.is_some()));
    digest.count(spec.map_or(0, |s| s.limits.len()));
    for limit in spec.iter().flat_map(|s| &s.limits) {
        digest.str(&limit.type_);
        for quantities in [
            &limit.default,
            &limit.default_request,
            &limit.max,
            &limit.min,
            &limit.max_limit_request_ratio,
        ] {
            digest.quantities(quantities.as_ref());
        }
    }
}

impl Typed for LimitRange {
    /// A decoded list of limits keeps room for four items of 200 bytes;
    /// mto's holds one.
    fn slim(&mut self) {
        super::slim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut() {
            spec.limits.shrink_to_fit();
        }
    }

    fn digest_body(&self, digest: &mut AppliedDigest) -> bool {
        digest_limit_range_spec(digest, self.spec.as_ref());
        true
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
