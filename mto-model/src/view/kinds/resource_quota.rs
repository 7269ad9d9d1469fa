//! ResourceQuotas: each tenant namespace's share of the tenant's quota.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ResourceQuotaSpec, ResourceQuotaStatus};

use crate::apply::Ownership;
use crate::digest::AppliedDigest;
use crate::view::{Snapshot, Typed, Woken};

held_kind! {
    /// A `v1` ResourceQuota as mto holds it: k8s-openapi's fields and
    /// JSON, with the spec behind an [`Arc`] so the namespaces that hold the
    /// same quota hold one copy of it (every namespace of a pooled tenant
    /// holds its Quota's whole total).
    pub struct ResourceQuota {
        kind: "ResourceQuota", api_version: "v1",
        group: "", version: "v1", plural: "resourcequotas",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The hard limits, shared by the namespaces that have the same ones.
        pub spec: Option<Arc<ResourceQuotaSpec>> => "spec",
        /// What the apiserver counts against them, the namespace's own.
        pub status: Option<ResourceQuotaStatus> => "status",
    }
}

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
    held_metadata!();

    /// Its hard limits, when they are its tenant's Quota's whole total (a
    /// pooled tenant's every namespace holds it).
    fn share_bodies(&mut self, ownership: &Ownership, snapshot: &Snapshot) {
        super::share_with_quota(self.spec.as_mut(), ownership, snapshot, |quota| {
            quota.resourcequota.as_ref()
        });
        super::share_labels(&mut self.metadata, ownership, snapshot);
    }

    fn digest_body(&self, digest: &mut AppliedDigest) -> bool {
        digest_quota_spec(digest, self.spec.as_deref());
        true
    }

    /// Read by whoever reads its namespace, whatever changed.
    fn same_readers(_: &Self, _: &Self) -> bool {
        true
    }

    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        super::namespace_readers(
            snapshot,
            self.metadata.read().namespace().unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    /// What the apiserver sends is read as k8s-openapi reads it, and what
    /// mto sends is what k8s-openapi would send.
    #[test]
    fn reads_and_writes_the_json_k8s_openapi_does() {
        for sent in [
            serde_json::json!({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "q", "namespace": "n"},
                "spec": {"hard": {"pods": "10", "requests.cpu": "2"}, "scopes": ["NotTerminating"]},
                "status": {"hard": {"pods": "10"}, "used": {"pods": "3"}}
            }),
            serde_json::json!({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}
            }),
        ] {
            super::super::assert_json_as_k8s_openapi::<
                super::ResourceQuota,
                k8s_openapi::api::core::v1::ResourceQuota,
            >(&sent);
        }
    }
}
