//! Who may see and do what through mto's API gateway and console: one pure
//! function of the person, the tenants and the IntegrationConfig.
//!
//! - Platform admins see everything and may do everything the gateway
//!   offers: the IntegrationConfig's privileged users and groups,
//!   `system:masters`, and the gateway's configured admin groups.
//! - Everyone else sees exactly the tenants in which they (or one of their
//!   groups) are an owner, editor or viewer, with the most powerful of the
//!   roles they hold there. Owners and editors may operate their tenant
//!   (wake and sleep its workloads); viewers only read. Tenants, quotas
//!   and cluster-wide objects are administered by admins alone.
//!
//! This decides what the gateway shows and offers. Every write is then
//! made as the person (impersonation), so Kubernetes RBAC and mto's
//! admission rules still decide it: the gateway adds no power.

use std::collections::BTreeMap;

use crate::api::{Subjects, Tenant};
use crate::integration::{Integration, TenantRole};

/// A person as the identity provider says: a user name and groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    /// The user name (the token's `preferred_username`, or `email`).
    pub user: String,
    /// The groups.
    pub groups: Vec<String>,
}

/// What a request means to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// See a tenant and what is in it.
    Read,
    /// Act on what runs in a tenant: wake or sleep its workloads.
    Operate,
    /// Create, change or delete tenants, quotas and cluster-wide objects.
    Administer,
}

impl Operation {
    /// All operations, least powerful first.
    pub const ALL: [Operation; 3] = [Operation::Read, Operation::Operate, Operation::Administer];
}

/// What one person may see and do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Everything.
    Admin,
    /// The tenants listed, with the role held in each.
    Member(BTreeMap<String, TenantRole>),
}

/// The groups an admin is in by Kubernetes' own rule.
const CLUSTER_ADMIN_GROUP: &str = "system:masters";

/// What `principal` may see and do among `tenants`, under `integration`;
/// `admin_groups` are the gateway's own admin groups.
pub fn access<'a>(
    principal: &Principal,
    tenants: impl IntoIterator<Item = &'a Tenant>,
    integration: &Integration,
    admin_groups: &[String],
) -> Access {
    let admin = principal.groups.iter().any(|g| {
        g == CLUSTER_ADMIN_GROUP || admin_groups.contains(g) || integration.is_privileged_subject(g)
    }) || integration.is_privileged_subject(&principal.user);
    if admin {
        return Access::Admin;
    }
    Access::Member(
        tenants
            .into_iter()
            .filter_map(|t| Some((t.metadata.name.clone()?, role_in(t, principal)?)))
            .collect(),
    )
}

/// The most powerful role `principal` holds in `tenant`, if any.
#[must_use]
pub fn role_in(tenant: &Tenant, principal: &Principal) -> Option<TenantRole> {
    let control = tenant.spec.access_control.as_ref()?;
    let holds = |subjects: &Option<Subjects>| {
        subjects.as_ref().is_some_and(|s| {
            s.users.contains(&principal.user)
                || s.groups.iter().any(|g| principal.groups.contains(g))
        })
    };
    [
        (TenantRole::Owner, &control.owners),
        (TenantRole::Editor, &control.editors),
        (TenantRole::Viewer, &control.viewers),
    ]
    .into_iter()
    .find(|(_, subjects)| holds(subjects))
    .map(|(role, _)| role)
}

impl Access {
    /// Whether `operation` is allowed on `tenant` (`None`: something not
    /// in any tenant, such as a new tenant or a quota).
    #[must_use]
    pub fn allows(&self, tenant: Option<&str>, operation: Operation) -> bool {
        match self {
            Access::Admin => true,
            Access::Member(roles) => {
                let Some(role) = tenant.and_then(|t| roles.get(t)) else {
                    return false;
                };
                match operation {
                    Operation::Read => true,
                    Operation::Operate => matches!(role, TenantRole::Owner | TenantRole::Editor),
                    Operation::Administer => false,
                }
            }
        }
    }

    /// Whether this is a platform admin.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        matches!(self, Access::Admin)
    }

    /// The role held in `tenant`: `None` for admins and outsiders.
    #[must_use]
    pub fn role(&self, tenant: &str) -> Option<TenantRole> {
        match self {
            Access::Admin => None,
            Access::Member(roles) => roles.get(tenant).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const PEOPLE: [&str; 4] = ["ann", "bo", "chen", "dee"];
    const GROUPS: [&str; 3] = ["dev", "ops", "audit"];

    fn tenant(name: &str, owners: &[&str], editors: &[&str], viewers: &[&str]) -> Tenant {
        let subjects = |names: &[&str]| {
            let (groups, users): (Vec<&str>, Vec<&str>) =
                names.iter().partition(|n| GROUPS.contains(n));
            json!({"users": users, "groups": groups})
        };
        serde_json::from_value(json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta3",
            "kind": "Tenant",
            "metadata": {"name": name},
            "spec": {"accessControl": {
                "owners": subjects(owners),
                "editors": subjects(editors),
                "viewers": subjects(viewers),
            }}
        }))
        .expect("tenant")
    }

    fn integration(privileged: &[&str]) -> Integration {
        let config: crate::api::IntegrationConfig = serde_json::from_value(json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta1",
            "kind": "IntegrationConfig",
            "metadata": {"name": "mto", "namespace": "mto-system"},
            "spec": {"accessControl": {"privileged": {"users": privileged, "groups": ["platform"]}}}
        }))
        .expect("config");
        Integration::compile(Some(&config)).expect("compiles")
    }

    fn principal(user: &str, groups: &[&str]) -> Principal {
        Principal {
            user: user.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    #[test]
    fn admins_are_the_privileged_the_cluster_admins_and_the_gateways_admin_groups() {
        let tenants = [tenant("alpha", &["ann"], &[], &[])];
        let i = integration(&["root-.*"]);
        let admins = ["mto-admins".to_owned()];
        for p in [
            principal("root-1", &[]),
            principal("x", &["platform"]),
            principal("x", &["system:masters"]),
            principal("x", &["mto-admins"]),
        ] {
            assert!(access(&p, &tenants, &i, &admins).is_admin(), "{p:?}");
        }
        let ann = access(&principal("ann", &[]), &tenants, &i, &admins);
        assert_eq!(ann.role("alpha"), Some(TenantRole::Owner));
        assert!(ann.allows(Some("alpha"), Operation::Operate));
        assert!(!ann.allows(Some("alpha"), Operation::Administer));
        assert!(
            !ann.allows(None, Operation::Read),
            "nothing outside a tenant"
        );
    }

    fn members() -> impl Strategy<Value = Vec<&'static str>> {
        prop::sample::subsequence(
            PEOPLE
                .iter()
                .chain(GROUPS.iter())
                .copied()
                .collect::<Vec<_>>(),
            0..4,
        )
    }

    proptest! {
        /// A non-admin sees exactly the tenants naming them or one of their
        /// groups, with the most powerful role named; viewers only read;
        /// no one but an admin administers; an admin may do everything.
        #[test]
        fn access_follows_the_tenants_access_control(
            specs in prop::collection::vec((members(), members(), members()), 1..5),
            user in prop::sample::select(PEOPLE.to_vec()),
            groups in prop::sample::subsequence(GROUPS.to_vec(), 0..3),
        ) {
            let tenants: Vec<Tenant> = specs
                .iter()
                .enumerate()
                .map(|(i, (o, e, v))| tenant(&format!("t{i}"), o, e, v))
                .collect();
            let p = principal(user, &groups);
            let got = access(&p, &tenants, &integration(&[]), &[]);
            let named = |list: &[&str]| list.contains(&user) || groups.iter().any(|g| list.contains(g));
            for (i, (o, e, v)) in specs.iter().enumerate() {
                let name = format!("t{i}");
                let expected = if named(o) {
                    Some(TenantRole::Owner)
                } else if named(e) {
                    Some(TenantRole::Editor)
                } else if named(v) {
                    Some(TenantRole::Viewer)
                } else {
                    None
                };
                prop_assert_eq!(got.role(&name), expected);
                prop_assert_eq!(got.allows(Some(&name), Operation::Read), expected.is_some());
                prop_assert_eq!(
                    got.allows(Some(&name), Operation::Operate),
                    matches!(expected, Some(TenantRole::Owner | TenantRole::Editor))
                );
                prop_assert!(!got.allows(Some(&name), Operation::Administer));
            }
            let mut with_admin = groups.clone();
            with_admin.push("platform");
            let admin = access(&principal(user, &with_admin), &tenants, &integration(&[]), &[]);
            for op in Operation::ALL {
                prop_assert!(admin.allows(None, op));
                prop_assert!(admin.allows(Some("t0"), op));
            }
        }

        /// Joining a group never takes anything away.
        #[test]
        fn more_groups_never_see_less(
            specs in prop::collection::vec((members(), members(), members()), 1..5),
            user in prop::sample::select(PEOPLE.to_vec()),
            extra in prop::sample::select(GROUPS.to_vec()),
        ) {
            let tenants: Vec<Tenant> = specs
                .iter()
                .enumerate()
                .map(|(i, (o, e, v))| tenant(&format!("t{i}"), o, e, v))
                .collect();
            let i = integration(&[]);
            let before = access(&principal(user, &[]), &tenants, &i, &[]);
            let after = access(&principal(user, &[extra]), &tenants, &i, &[]);
            for t in &tenants {
                let name = t.metadata.name.as_deref().unwrap_or_default();
                for op in Operation::ALL {
                    prop_assert!(!before.allows(Some(name), op) || after.allows(Some(name), op));
                }
            }
        }
    }
}
