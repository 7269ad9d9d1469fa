//! ResourceQuotas: each tenant namespace's share of the tenant's quota.

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec};

use crate::digest::AppliedDigest;
use crate::view::{Snapshot, Typed, Woken};

/// What the planner compares of a quota: its hard limits by value, its
/// scopes and scope selector.
pub(crate) fn digest_quota_spec(digest: &mut AppliedDigest, spec: Option<&ResourceQuotaSpec>) {
    digest.count(usize::from(spec.is_some()));
    let Some(spec) = spec else { return };
    digest.quantities(spec.hard.as_ref());
    digest.count(spec.scopes.as_ref().map_or(usize::MAX, Vec::len));
    for scope in spec.scopes.iter().flatten() {
        digest.str(scope);
    }
    digest.count(usize::from(spec.scope_selector.is_some()));
    if let Some(selector) = &spec.scope_selector {
        digest.json(selector);
    }
}

impl Typed for ResourceQuota {
    fn digest_body(&self, digest: &mut AppliedDigest) -> bool {
        digest_quota_spec(digest, self.spec.as_ref());
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
        current: &mut ResourceQuota,
        applied: &ResourceQuota,
    ) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }

    // Written by the apiserver's quota admission and the quota controller
    // (the simulator plays both).
    status_subresource!();
}
