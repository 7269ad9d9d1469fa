//! What a controller sees: a read-only view of the cluster.
//!
//! The runtime implements [`Observed`] over kube-rs reflector stores, the
//! simulator over its own store; [`Snapshot`] is a plain in-memory one for
//! tests, `mto plan` and library users.

pub use crate::snapshot::Snapshot;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;

use crate::api::{ClusterResourceSupervisor, Quota, Tenant};
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
    fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str>;
    /// A ClusterResourceSupervisor by name.
    fn cluster_resource_supervisor(&self, name: &str) -> Option<&ClusterResourceSupervisor>;
    /// A number that moves whenever anything `tenant`'s decision reads
    /// changes, for [`Settled`](crate::tenant::Settled); `None` when the
    /// view does not keep one (every decision is then made afresh).
    fn revision(&self, tenant: &str) -> Option<u64> {
        let _ = tenant;
        None
    }
}

/// Which tenants ask for which namespaces, in claim order: the tenant
/// created first (then by name) comes first. Kept up to date one tenant at
/// a time, so a tenant change costs its own namespaces, not the cluster's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceClaims {
    by_namespace: BTreeMap<String, Vec<(ClaimOrder, String)>>,
}

/// A tenant's place in the claim order.
type ClaimOrder = (Option<crate::Timestamp>, String);

fn claim_order(tenant: &Tenant) -> ClaimOrder {
    (
        tenant.metadata.creation_timestamp.as_ref().map(|t| t.0),
        tenant.metadata.name.clone().unwrap_or_default(),
    )
}

impl NamespaceClaims {
    /// Builds the index from every tenant.
    pub fn build<'a>(tenants: impl IntoIterator<Item = &'a Tenant>) -> NamespaceClaims {
        let mut claims = NamespaceClaims::default();
        for t in tenants {
            claims.add(t);
        }
        claims
    }

    /// Records the namespaces `tenant` asks for.
    pub fn add(&mut self, tenant: &Tenant) {
        let order = claim_order(tenant);
        for requested in requested_namespaces(tenant) {
            let claimants = self.by_namespace.entry(requested.name).or_default();
            if let Err(at) = claimants.binary_search_by(|(o, _)| o.cmp(&order)) {
                claimants.insert(at, (order.clone(), order.1.clone()));
            }
        }
    }

    /// Forgets the namespaces `tenant` asks for.
    pub fn remove(&mut self, tenant: &Tenant) {
        let order = claim_order(tenant);
        for requested in requested_namespaces(tenant) {
            if let Some(claimants) = self.by_namespace.get_mut(&requested.name) {
                claimants.retain(|(o, _)| *o != order);
                if claimants.is_empty() {
                    self.by_namespace.remove(&requested.name);
                }
            }
        }
    }

    /// The tenants asking for `namespace`, first claim first.
    pub fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str> {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|(_, name)| name.as_str())
    }
}
