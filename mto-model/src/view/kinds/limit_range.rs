//! LimitRanges: default container limits in tenant namespaces.

use std::sync::Arc;

use k8s_openapi::api::core::v1::LimitRangeSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::ser::SerializeStruct as _;

use crate::digest::AppliedDigest;
use crate::view::{Snapshot, Typed, Woken};

/// A `v1` LimitRange as mto holds it: k8s-openapi's fields, with the spec
/// behind an [`Arc`] so every namespace whose limits come from one Quota
/// holds one copy of them. mto puts the same LimitRange in every namespace
/// of every tenant on a Quota; as k8s-openapi's struct each held its own
/// items, four maps of quantities each, some 2.5 KB a namespace.
///
/// It reads and writes the same JSON as k8s-openapi's `LimitRange`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimitRange {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// The limits, shared by the namespaces that have the same ones.
    pub spec: Option<Arc<LimitRangeSpec>>,
}

impl k8s_openapi::Resource for LimitRange {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "LimitRange";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "limitranges";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::ListableResource for LimitRange {
    const LIST_KIND: &'static str = "LimitRangeList";
}

impl k8s_openapi::Metadata for LimitRange {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl serde::Serialize for LimitRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use k8s_openapi::Resource as _;
        let fields = 3 + usize::from(self.spec.is_some());
        let mut state = serializer.serialize_struct(Self::KIND, fields)?;
        state.serialize_field("apiVersion", Self::API_VERSION)?;
        state.serialize_field("kind", Self::KIND)?;
        state.serialize_field("metadata", &self.metadata)?;
        match &self.spec {
            Some(spec) => state.serialize_field("spec", spec)?,
            None => state.skip_field("spec")?,
        }
        state.end()
    }
}

impl<'de> serde::Deserialize<'de> for LimitRange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The object as sent; `apiVersion` and `kind` were read by
        /// whoever chose this type.
        #[derive(serde::Deserialize)]
        struct Sent {
            #[serde(default)]
            metadata: ObjectMeta,
            #[serde(default)]
            spec: Option<LimitRangeSpec>,
        }
        let sent = Sent::deserialize(deserializer)?;
        Ok(Self {
            metadata: sent.metadata,
            spec: sent.spec.map(Arc::new),
        })
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
    /// A decoded list of limits keeps room for four items of 200 bytes;
    /// mto's holds one.
    fn slim(&mut self) {
        super::slim_metadata(&mut self.metadata);
        if let Some(spec) = self.spec.as_mut().and_then(Arc::get_mut) {
            spec.limits.shrink_to_fit();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let ours: LimitRange = serde_json::from_value(sent.clone()).unwrap();
            let theirs: k8s_openapi::api::core::v1::LimitRange =
                serde_json::from_value(sent.clone()).unwrap();
            assert_eq!(ours.metadata, theirs.metadata);
            assert_eq!(ours.spec.as_deref(), theirs.spec.as_ref());
            let written = serde_json::to_value(&ours).unwrap();
            assert_eq!(written, serde_json::to_value(&theirs).unwrap());
            assert_eq!(written, sent);
        }
    }
}
