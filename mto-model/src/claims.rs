//! Which namespaces a tenant asks for, and which tenant asked first.
//!
//! A namespace two tenants ask for goes to the tenant created first (then
//! by name); the other is told so in a condition. The planner, the view's
//! claims index and the invariants all read the spec through
//! [`requested_namespaces`], so they agree on what a tenant claims.

use std::collections::BTreeMap;

use compact_str::CompactString;

use crate::api::Tenant;
use crate::names::{dns_label_problem, sandbox_namespace, tenant_prefixed};
use crate::validation::{Validate as _, ValidationErrors};
use crate::view::NameKey;

/// A namespace a tenant asks for (or, joined, is labelled into).
///
/// The strings are held inline up to 24 bytes, which is nearly every
/// namespace name, short name and user: the view keeps one per namespace
/// of every tenant ([`TenantIntake`]) without an allocation each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedNamespace {
    /// Full namespace name.
    pub name: CompactString,
    /// Value of the `stakater.com/kind` label.
    pub kind: CompactString,
    /// For a sandbox: the user it belongs to.
    pub sandbox_user: Option<CompactString>,
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
    let Some(namespaces) = &tenant.spec.namespaces else {
        return Vec::new();
    };
    let mut out: Vec<RequestedNamespace> = Vec::with_capacity(
        namespaces.with_tenant_prefix.len() + namespaces.without_tenant_prefix.len(),
    );
    let mut push = |ns: RequestedNamespace| {
        if dns_label_problem(&ns.name).is_none() && !out.iter().any(|o| o.name == ns.name) {
            out.push(ns);
        }
    };
    for short in &namespaces.with_tenant_prefix {
        push(RequestedNamespace {
            name: tenant_prefixed(name, short),
            kind: short.into(),
            sandbox_user: None,
            joined: false,
        });
    }
    for full in &namespaces.without_tenant_prefix {
        push(RequestedNamespace {
            name: full.into(),
            kind: full.into(),
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
                name: sandbox_namespace(name, user).into(),
                kind: "sandbox".into(),
                sandbox_user: Some(user.into()),
                joined: false,
            });
        }
    }
    out.shrink_to_fit();
    out
}

/// The users and groups of each tenant role, each role's sorted by kind
/// then name, once each: what its bindings name, in their order.
///
/// Read with the rest of the spec when the view takes the tenant in
/// ([`TenantIntake`]): a decision borrows them, where it gathered and
/// sorted them from the spec's scattered strings each time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleMembers {
    /// The owners.
    pub owner: Vec<Member>,
    /// The editors.
    pub editor: Vec<Member>,
    /// The viewers.
    pub viewer: Vec<Member>,
}

/// A user or group of a tenant role. Ordered by kind, then name: the
/// order of a binding's subjects.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    /// `User` or `Group`, as a binding's subject says it.
    pub kind: &'static str,
    /// The user's or group's name, inline up to 24 bytes.
    pub name: CompactString,
}

impl RoleMembers {
    /// Reads the access control of `spec`.
    #[must_use]
    pub fn of(spec: &crate::api::TenantSpec) -> RoleMembers {
        let ac = spec.access_control.as_ref();
        let members = |s: Option<&crate::api::Subjects>| {
            let mut out: Vec<Member> = s
                .into_iter()
                .flat_map(|s| {
                    let member = |kind| {
                        move |name: &String| Member {
                            kind,
                            name: name.into(),
                        }
                    };
                    let users = s.users.iter().map(member("User"));
                    users.chain(s.groups.iter().map(member("Group")))
                })
                .collect();
            out.sort_unstable();
            out.dedup();
            out.shrink_to_fit();
            out
        };
        RoleMembers {
            owner: members(ac.and_then(|a| a.owners.as_ref())),
            editor: members(ac.and_then(|a| a.editors.as_ref())),
            viewer: members(ac.and_then(|a| a.viewers.as_ref())),
        }
    }
}

/// What a tenant's spec asks, read once: whether it is valid, the
/// namespaces it asks for and the members of its roles; and its
/// [`TenantState`].
///
/// The view takes it when it takes the tenant in and keeps it while the
/// spec stands, reading only the state again at each write
/// ([`crate::view::Observed::tenant_intake`]): a decision made again for
/// an unchanged spec (every tenant's, after an IntegrationConfig edit)
/// neither validates the spec again nor joins its names again.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantIntake {
    /// The spec's problems, each naming its field.
    pub validation: Result<(), ValidationErrors>,
    /// [`requested_namespaces`].
    pub namespaces: Vec<RequestedNamespace>,
    /// [`RoleMembers::of`].
    pub members: RoleMembers,
    /// The applied digest of the binding letting the tenant's owners
    /// create namespaces: it depends on the tenant and its owners alone.
    pub namespace_creator_digest: std::num::NonZeroU64,
    /// What the tenant says besides its spec, read again from each
    /// version of it.
    pub state: TenantState,
}

/// What a decision reads of a tenant besides its spec, read when the view
/// takes each version of the tenant in: a decision made again (every
/// tenant's, after an IntegrationConfig edit) reads it beside the intake
/// it reads anyway, not in the tenant's finalizer list and status, each
/// string a cache miss of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantState {
    /// The phase its status says; Pending when it says none.
    pub phase: crate::tenant::TenantPhase,
    /// Whether it carries mto's finalizer.
    pub finalized: bool,
    /// The digest of what its status says, as a decision compares it.
    pub said: Option<std::num::NonZeroU64>,
}

impl TenantState {
    /// Reads `tenant`'s status and finalizers.
    #[must_use]
    pub fn of(tenant: &Tenant) -> TenantState {
        use crate::machine::Phase as _;
        TenantState {
            phase: tenant
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .and_then(crate::tenant::TenantPhase::from_name)
                .unwrap_or(crate::tenant::TenantPhase::Pending),
            finalized: tenant
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == crate::labels::TENANT_FINALIZER),
            said: crate::tenant::said_digest(tenant.status.as_ref()),
        }
    }
}

impl TenantIntake {
    /// Reads `tenant`'s spec, and its [`TenantState`].
    #[must_use]
    pub fn of(tenant: &Tenant) -> TenantIntake {
        let members = RoleMembers::of(&tenant.spec);
        let namespace_creator_digest = crate::tenant::namespace_creator_binding_digest(
            tenant.metadata.name.as_deref().unwrap_or_default(),
            &members,
        );
        TenantIntake {
            validation: tenant.validate(),
            namespaces: requested_namespaces(tenant),
            members,
            namespace_creator_digest,
            state: TenantState::of(tenant),
        }
    }
}

/// Which tenants ask for which namespaces, in claim order: the tenant
/// created first (then by name) comes first. Kept up to date one tenant at
/// a time, so a tenant change costs its own namespaces, not the cluster's.
///
/// Nearly every namespace has one claimant: each list is kept at its
/// exact size (a list grown by one push keeps room for four, some 200
/// bytes a namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceClaims {
    by_namespace: BTreeMap<NameKey, Vec<ClaimOrder>>,
}

/// A tenant's place in the claim order: when it was created, then its
/// name.
type ClaimOrder = (Option<crate::Timestamp>, String);

fn claim_order(tenant: &Tenant) -> ClaimOrder {
    (
        tenant.metadata.creation_timestamp.as_ref().map(|t| t.0),
        tenant.metadata.name.clone().unwrap_or_default(),
    )
}

impl NamespaceClaims {
    /// Records that `tenant` asks for the namespaces `requested`.
    pub fn add(&mut self, tenant: &Tenant, requested: &[RequestedNamespace]) {
        let order = claim_order(tenant);
        for requested in requested {
            let claimants = self
                .by_namespace
                .entry(NameKey::new(&requested.name))
                .or_default();
            if let Err(at) = claimants.binary_search(&order) {
                claimants.reserve_exact(1);
                claimants.insert(at, order.clone());
            }
        }
    }

    /// Forgets that `tenant` asks for the namespaces `requested`.
    pub fn remove(&mut self, tenant: &Tenant, requested: &[RequestedNamespace]) {
        let order = claim_order(tenant);
        for requested in requested {
            let key = NameKey::new(&requested.name);
            if let Some(claimants) = self.by_namespace.get_mut(&key) {
                claimants.retain(|o| *o != order);
                if claimants.is_empty() {
                    self.by_namespace.remove(&key);
                }
            }
        }
    }

    /// The tenants asking for `namespace`, first claim first.
    pub fn claimants(&self, namespace: &str) -> impl Iterator<Item = &str> {
        self.by_namespace
            .get(&NameKey::new(namespace))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Tenant `t<n>`, created on day `day`, asking for the shared
    /// namespaces whose bits are set in `asks`.
    fn tenant(n: u8, day: u8, asks: u8) -> Tenant {
        let shared: Vec<String> = (0..4)
            .filter(|bit| asks & (1 << bit) != 0)
            .map(|bit| format!("shared-{bit}"))
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": format!("t{n}"),
                "creationTimestamp": format!("2026-01-{:02}T00:00:00Z", day % 28 + 1)
            },
            "spec": {"namespaces": {"withoutTenantPrefix": shared}}
        }))
        .unwrap_or_else(|e| panic!("test tenant: {e}"))
    }

    proptest! {
        /// Each role's members are the users and groups its list names,
        /// each once, by kind (groups, then users), then name: the subjects
        /// of the role's bindings, in their order.
        #[test]
        fn a_roles_members_are_its_subjects_once_each_in_binding_order(
            lists in prop::collection::vec(
                (
                    prop::collection::vec("[ab][a-c]?", 0..5),
                    prop::collection::vec("[ab][a-c]?", 0..5),
                ),
                3,
            ),
        ) {
            let subjects: Vec<serde_json::Value> = lists
                .iter()
                .map(|(users, groups)| serde_json::json!({"users": users, "groups": groups}))
                .collect();
            let spec: crate::api::TenantSpec = serde_json::from_value(serde_json::json!({
                "accessControl": {
                    "owners": subjects[0], "editors": subjects[1], "viewers": subjects[2]
                }
            }))
            .unwrap_or_else(|e| panic!("spec: {e}"));
            let members = RoleMembers::of(&spec);
            for (role, (users, groups)) in [&members.owner, &members.editor, &members.viewer]
                .into_iter()
                .zip(&lists)
            {
                let spelled: Vec<(&str, &str)> =
                    role.iter().map(|m| (m.kind, m.name.as_str())).collect();
                let expected: Vec<(&str, &str)> = users
                    .iter()
                    .map(|u| ("User", u.as_str()))
                    .chain(groups.iter().map(|g| ("Group", g.as_str())))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                prop_assert_eq!(spelled, expected);
            }
        }
    }

    proptest! {
        /// After any tenants were added and removed, each namespace's
        /// claimants are the tenants held that ask for it, the one created
        /// first (then by name) first.
        #[test]
        fn claimants_are_who_asks_first_claim_first(
            edits in prop::collection::vec((any::<bool>(), 0u8..6, 0u8..4, 0u8..16), 0..40)
        ) {
            let mut claims = NamespaceClaims::default();
            let mut held: BTreeMap<u8, Tenant> = BTreeMap::new();
            for (add, n, day, asks) in edits {
                if let Some(before) = held.remove(&n) {
                    claims.remove(&before, &requested_namespaces(&before));
                }
                if add {
                    let t = tenant(n, day, asks);
                    claims.add(&t, &requested_namespaces(&t));
                    held.insert(n, t);
                }
            }
            for bit in 0..4 {
                let namespace = format!("shared-{bit}");
                let mut expected: Vec<&Tenant> = held
                    .values()
                    .filter(|t| requested_namespaces(t).iter().any(|r| r.name == namespace))
                    .collect();
                expected.sort_by_key(|t| claim_order(t));
                let expected: Vec<&str> = expected
                    .iter()
                    .filter_map(|t| t.metadata.name.as_deref())
                    .collect();
                prop_assert_eq!(claims.claimants(&namespace).collect::<Vec<_>>(), expected);
            }
        }
    }
}
