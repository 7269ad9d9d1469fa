//! RoleBindings: the access mto grants in tenant namespaces.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{RoleRef, Subject};

use crate::apply::Ownership;
use crate::view::{Snapshot, Typed, Woken};

held_kind! {
    /// A `rbac.authorization.k8s.io/v1` RoleBinding as mto holds it:
    /// k8s-openapi's fields and JSON, with the subjects behind an [`Arc`]
    /// so the bindings of one tenant role hold one copy of them (a tenant's
    /// owners are bound in every namespace of the tenant). Read from JSON,
    /// the subjects take exactly their room.
    pub struct RoleBinding {
        kind: "RoleBinding", api_version: "rbac.authorization.k8s.io/v1",
        group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings",
        scope: NamespaceResourceScope,
    }
    fields {
        /// The role granted; the apiserver refuses to change it.
        pub role_ref: RoleRef => "roleRef",
        /// Who is granted it, shared by the bindings that grant the same.
        pub subjects: Option<Arc<[Subject]>> => "subjects",
    }
}

impl Typed for RoleBinding {
    held_metadata!();

    /// Its labels, when another of its tenant's objects holds the same.
    fn share_bodies(&mut self, ownership: &Ownership, snapshot: &Snapshot) {
        super::share_labels(&mut self.metadata, ownership, snapshot);
    }

    fn digest_body(&self, digest: &mut crate::digest::AppliedDigest) -> bool {
        super::digest_bound(digest, &self.role_ref, self.subjects.as_deref())
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

    /// `roleRef` cannot change; the subjects are mto's.
    fn apply_fields(
        current: &mut RoleBinding,
        applied: &RoleBinding,
    ) -> Result<bool, super::FieldRefused> {
        super::bind_fields(
            "RoleBinding",
            current.metadata.read().name(),
            (&mut current.role_ref, &mut current.subjects),
            (&applied.role_ref, &applied.subjects),
        )
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
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "b", "namespace": "n", "labels": {"team": "a"}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team"},
                    {"kind": "ServiceAccount", "name": "ci", "namespace": "n"}
                ]
            }),
            serde_json::json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "b", "namespace": "n"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
            }),
        ] {
            super::super::assert_json_as_k8s_openapi::<
                super::RoleBinding,
                k8s_openapi::api::rbac::v1::RoleBinding,
            >(&sent);
        }
    }
}
