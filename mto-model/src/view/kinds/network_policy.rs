//! NetworkPolicies: the one mto keeps in each tenant namespace when the
//! IntegrationConfig keeps tenants apart (and what templates deploy).

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::view::{Snapshot, Typed, Woken};

impl Typed for NetworkPolicy {
    fn digest_body(&self, digest: &mut crate::digest::AppliedDigest) -> bool {
        digest.json(&self.spec);
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
}
