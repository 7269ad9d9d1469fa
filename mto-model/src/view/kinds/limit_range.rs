//! LimitRanges: default container limits in tenant namespaces.

use std::sync::Arc;

use k8s_openapi::api::core::v1::LimitRangeSpec;

use crate::apply::Ownership;
use crate::digest::AppliedDigest;
use crate::view::{Snapshot, Typed, Woken};

held_kind! {
    /// A `v1` LimitRange as mto holds it: k8s-openapi's fields and JSON,
    /// with the spec behind an [`Arc`] so every namespace whose limits come
    /// from one Quota holds one copy of them (mto puts the same LimitRange
    /// in every namespace of every tenant on a Quota; as k8s-openapi's
    /// struct each held its own items, four maps of quantities each, some
    /// 2.5 KB a namespace).
    pub struct LimitRange {
        kind: "LimitRange", api_version: "v1",
        group: "", version: "v1", plural: "limitranges",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The limits, shared by the namespaces that have the same ones.
        pub spec: Option<Arc<LimitRangeSpec>> => "spec",
    }
}

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
    held_metadata!();

    /// A decoded list of limits keeps room for four items of 200 bytes;
    /// mto's holds one.
    fn slim(&mut self) {
        super::slim_object_metadata(self);
        if let Some(spec) = self.spec.as_mut().and_then(Arc::get_mut) {
            spec.limits.shrink_to_fit();
        }
    }

    /// Its limits, when they are its tenant's Quota's.
    fn share_bodies(&mut self, ownership: &Ownership, snapshot: &Snapshot) {
        super::share_with_quota(self.spec.as_mut(), ownership, snapshot, |quota| {
            quota.limitrange.as_ref()
        });
        super::share_labels(&mut self.metadata, ownership, snapshot);
    }

    fn digest_body(&self, digest: &mut AppliedDigest) -> bool {
        digest_limit_range_spec(digest, self.spec.as_deref());
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
        current: &mut LimitRange,
        applied: &LimitRange,
    ) -> Result<bool, super::FieldRefused> {
        Ok(super::replace(&mut current.spec, &applied.spec))
    }
}

#[cfg(test)]
mod tests {
    /// What the apiserver sends is read as k8s-openapi reads it, and what
    /// mto sends is what k8s-openapi would send.
    #[test]
    fn reads_and_writes_the_json_k8s_openapi_does() {
        for sent in [
            serde_json::json!({
                "apiVersion": "v1", "kind": "LimitRange",
                "metadata": {"name": "l", "namespace": "n", "labels": {"team": "a"}},
                "spec": {"limits": [
                    {"type": "Container", "default": {"cpu": "200m"}, "max": {"memory": "1Gi"}},
                    {"type": "Pod", "min": {"cpu": "10m"}}
                ]}
            }),
            serde_json::json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"}}),
        ] {
            super::super::assert_json_as_k8s_openapi::<
                super::LimitRange,
                k8s_openapi::api::core::v1::LimitRange,
            >(&sent);
        }
    }
}
