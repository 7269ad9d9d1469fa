//! What a controller sees: a read-only view of the cluster.
//!
//! The runtime implements [`Observed`] over kube-rs reflector stores, the
//! simulator over its own store; [`Snapshot`] is a plain in-memory one for
//! tests, `mto plan` and library users.

pub use crate::snapshot::Snapshot;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;

use crate::api::{Quota, Tenant};
use crate::integration::Integration;
use crate::tenant::requested_namespaces;

/// A read-only view of the objects the tenant controller cares about.
pub trait Observed {
    /// A tenant by name.
    fn tenant(&self, name: &str) -> Option<&Tenant>;
    /// A quota by name.
    fn quota(&self, name: &str) -> Option<&Quota>;
    /// The compiled integration config in force.
    fn integration(&self) -> &Integration;
    /// A namespace by name.
    fn namespace(&self, name: &str) -> Option<&Namespace>;
    /// Names of the namespaces labelled `stakater.com/tenant=<tenant>`, sorted.
    fn tenant_namespaces(&self, tenant: &str) -> impl Iterator<Item = &str>;
    /// The role bindings in a namespace, by name.
    fn role_bindings(&self, namespace: &str) -> impl Iterator<Item = &RoleBinding>;
    /// A resource quota.
    fn resource_quota(&self, namespace: &str, name: &str) -> Option<&ResourceQuota>;
    /// A limit range.
    fn limit_range(&self, namespace: &str, name: &str) -> Option<&LimitRange>;
    /// The tenants whose spec asks for `namespace`, first claim first.
    fn claimants(&self, namespace: &str) -> &[String];
}

/// Which tenants ask for which namespaces, in claim order: the tenant
/// created first (then by name) comes first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceClaims {
    by_namespace: BTreeMap<String, Vec<String>>,
}

impl NamespaceClaims {
    /// Builds the index from every tenant.
    pub fn build<'a>(tenants: impl IntoIterator<Item = &'a Tenant>) -> NamespaceClaims {
        let mut ordered: Vec<&Tenant> = tenants.into_iter().collect();
        ordered.sort_by(|a, b| {
            let key = |t: &Tenant| {
                (
                    t.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    t.metadata.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let mut by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in ordered {
            let name = t.metadata.name.clone().unwrap_or_default();
            for requested in requested_namespaces(t) {
                let claimants = by_namespace.entry(requested.name).or_default();
                if !claimants.contains(&name) {
                    claimants.push(name.clone());
                }
            }
        }
        NamespaceClaims { by_namespace }
    }

    /// The tenants asking for `namespace`, first claim first.
    #[must_use]
    pub fn claimants(&self, namespace: &str) -> &[String] {
        self.by_namespace.get(namespace).map_or(&[], Vec::as_slice)
    }
}
