//! Which namespaces a tenant asks for, and which tenant asked first.
//!
//! A namespace two tenants ask for goes to the tenant created first (then
//! by name); the other is told so in a condition. The planner, the view's
//! claims index and the invariants all read the spec through
//! [`requested_namespaces`], so they agree on what a tenant claims.

use std::collections::BTreeMap;

use crate::api::Tenant;
use crate::names::{dns_label_problem, sandbox_namespace};

/// A namespace a tenant asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedNamespace {
    /// Full namespace name.
    pub name: String,
    /// Value of the `stakater.com/kind` label.
    pub kind: String,
    /// For a sandbox: the user it belongs to.
    pub sandbox_user: Option<String>,
    /// Labelled into the tenant by someone other than mto (a tenant owner,
    /// or the operator mto replaces): not in the spec, never purged, and its
    /// tenant and kind labels are left to whoever set them.
    pub joined: bool,
}

/// Every namespace a tenant asks for, in spec order, once each. Names that
/// are not valid namespace names are left out (validation reports them).
#[must_use]
pub fn requested_namespaces(tenant: &Tenant) -> Vec<RequestedNamespace> {
    let name = tenant.metadata.name.as_deref().unwrap_or_default();
    let mut out: Vec<RequestedNamespace> = Vec::new();
    let mut push = |ns: RequestedNamespace| {
        if dns_label_problem(&ns.name).is_none() && !out.iter().any(|o| o.name == ns.name) {
            out.push(ns);
        }
    };
    let Some(namespaces) = &tenant.spec.namespaces else {
        return out;
    };
    for short in &namespaces.with_tenant_prefix {
        push(RequestedNamespace {
            name: format!("{name}-{short}"),
            kind: short.clone(),
            sandbox_user: None,
            joined: false,
        });
    }
    for full in &namespaces.without_tenant_prefix {
        push(RequestedNamespace {
            name: full.clone(),
            kind: full.clone(),
            sandbox_user: None,
            joined: false,
        });
    }
    if namespaces.sandboxes.as_ref().is_some_and(|s| s.enabled) {
        let ac = tenant.spec.access_control.as_ref();
        let users = ac
            .into_iter()
            .flat_map(|ac| [&ac.owners, &ac.editors])
            .flatten()
            .flat_map(|s| s.users.iter());
        for user in users {
            push(RequestedNamespace {
                name: sandbox_namespace(name, user),
                kind: "sandbox".into(),
                sandbox_user: Some(user.clone()),
                joined: false,
            });
        }
    }
    out
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

/// Whether a tenant's claims (which namespaces, and its place in the
/// order) can differ between two versions of it.
#[must_use]
pub fn claims_may_differ(before: &Tenant, after: &Tenant) -> bool {
    before.spec != after.spec
        || before.metadata.creation_timestamp != after.metadata.creation_timestamp
}
