//! Property tests of the tenant planner against random tenants, clusters
//! and changes. The cluster and its changes are `mto_model::fuzzing`'s, so
//! the fuzzer drives the same vocabulary from bytes.

use mto_model::action::{Kind, ObjectRef, Requeue};
use mto_model::api::{AccessControl, Namespaces, Subjects, Tenant, TenantSpec};
use mto_model::fuzzing::cluster::{Change, Cluster, Spec, Start, TENANTS, now};
use std::collections::BTreeMap;

use mto_model::invariants::{Reach, Scope, check_tenant, check_tenant_reached};
use mto_model::tenant::{Settled, decide};
use mto_model::view::Snapshot;
use proptest::prelude::*;

prop_compose! {
    fn spec()(
        prefixed in 0u8..8, unprefixed in 0u8..8,
        owners in any::<u8>(), editors in any::<u8>(), viewers in any::<u8>(),
        sandboxes in any::<bool>(), private in any::<bool>(), purge in any::<bool>(),
        quota in 0u8..3,
    ) -> Spec {
        Spec { prefixed, unprefixed, owners, editors, viewers, sandboxes, private, purge, quota, hibernate: false }
    }
}

prop_compose! {
    fn start()(
        tenants in proptest::collection::vec(spec(), 1..=4),
        existing in proptest::collection::vec((0u8..4, proptest::option::of(0u8..4)), 0..=3),
        pods in 1u8..60, millicpu in 1u16..8000,
    ) -> Start {
        Start { tenants, existing, pods, millicpu }
    }
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0u8..4).prop_map(Change::Act),
        2 => Just(Change::Converge),
        1 => any::<u8>().prop_map(Change::DeleteBinding),
        1 => any::<u8>().prop_map(Change::EditBinding),
        1 => any::<u8>().prop_map(Change::EditResourceQuota),
        1 => any::<u8>().prop_map(Change::DeleteLimitRange),
        1 => (any::<u8>(), proptest::option::of(0u8..4)).prop_map(|(n, t)| Change::LabelNamespace(n, t)),
        1 => any::<u8>().prop_map(Change::AnnotateNamespace),
        1 => (1u8..60).prop_map(Change::Quota),
        1 => Just(Change::DropQuota),
        1 => ((0u8..4), spec(), any::<bool>()).prop_map(|(t, mut s, h)| { s.hibernate = h; Change::Respec(t, s) }),
        1 => (0u8..4).prop_map(Change::DeleteTenant),
        1 => any::<bool>().prop_map(Change::Privilege),
        1 => (0u8..4).prop_map(Change::ForeignSupervisor),
        1 => (0u8..4).prop_map(Change::RemoveSupervisor),
    ]
}

fn names(s: &Snapshot) -> Vec<String> {
    s.shelf::<mto_model::api::Tenant>()
        .keys()
        .map(|(_, n)| n.to_owned())
        .collect()
}

fn namespaces(c: &Cluster) -> Vec<String> {
    c.snapshot()
        .shelf::<k8s_openapi::api::core::v1::Namespace>()
        .keys()
        .map(|(_, n)| n.to_owned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Applying a decision to the cluster it came from leaves nothing to do;
    /// every invariant holds after every action.
    #[test]
    fn converges_to_zero_writes(start in start()) {
        let mut c = Cluster::new(&start);
        c.converge().map_err(TestCaseError::fail)?;
        for t in c.tenants() {
            let d = decide(&t, c.snapshot(), now());
            prop_assert!(d.actions.is_empty(), "steady state must have no actions: {:?}", d.actions);
        }
    }

    /// One decision does everything: a lone tenant's second decision has
    /// nothing left to do.
    #[test]
    fn one_decision_does_the_work(start in start()) {
        let mut c = Cluster::new(&start);
        let all = c.tenants();
        let first = all[0].metadata.name.clone().unwrap_or_default();
        for other in &all[1..] {
            c.delete(&ObjectRef::cluster(Kind::Tenant, other.metadata.name.clone().unwrap_or_default()));
        }
        let t = c.snapshot().get::<Tenant>("", &first).cloned().unwrap_or_default();
        let d = decide(&t, c.snapshot(), now());
        for a in &d.actions {
            prop_assert!(c.execute(a).is_ok(), "{a}");
        }
        let t = c.snapshot().get::<Tenant>("", &first).cloned().unwrap_or_default();
        let again = decide(&t, c.snapshot(), now());
        prop_assert!(again.actions.is_empty(), "second decision: {:?}", again.actions);
    }

    /// Deleting tenants deletes namespaces only under purge, never one the
    /// tenant adopted, and lets every tenant go.
    #[test]
    fn deletion_is_safe(start in start(), doomed in proptest::sample::subsequence(TENANTS.to_vec(), 0..=4)) {
        let mut c = Cluster::new(&start);
        c.converge().map_err(TestCaseError::fail)?;
        let doomed: Vec<&str> = doomed.into_iter().filter(|t| c.snapshot().get::<Tenant>("", t).is_some()).collect();
        let before = namespaces(&c);
        for name in &doomed {
            c.delete(&ObjectRef::cluster(Kind::Tenant, *name));
        }
        c.converge().map_err(TestCaseError::fail)?;
        for name in &doomed {
            prop_assert!(c.snapshot().get::<Tenant>("", name).is_none(), "tenant {name} still there");
        }
        let after = namespaces(&c);
        for ns in before {
            if !after.contains(&ns) {
                // Only namespaces of purged tenants may be gone, and
                // check_action already proved each delete was asked for.
                prop_assert!(doomed.iter().any(|t| ns.starts_with(&format!("{t}-")) || ["shared", "common", "legacy"].contains(&ns.as_str())), "{ns} vanished");
            }
        }
        let remaining = names(c.snapshot());
        for ns in c.snapshot().shelf::<k8s_openapi::api::core::v1::Namespace>().iter() {
            if let Some(owner) = mto_model::labels::tenant_of(&ns.metadata) {
                prop_assert!(!doomed.contains(&owner) || remaining.iter().any(|r| r == owner), "{:?} still labelled for deleted {owner}", ns.metadata.name);
            }
        }
    }

    /// Skipping a settled tenant never hides work: whatever happens to the
    /// cluster, each tenant [`Settled`] skips would decide nothing, and
    /// each it decides gets the same decision as a fresh one.
    #[test]
    fn settled_tenants_have_nothing_to_do(
        start in start(),
        changes in proptest::collection::vec(change(), 1..24),
    ) {
        let mut c = Cluster::new(&start);
        let mut settled = Settled::default();
        for change in &changes {
            c.apply(change);
            for t in c.tenants() {
                let name = t.metadata.name.clone().unwrap_or_default();
                let fresh = decide(&t, c.snapshot(), now());
                match settled.decide(&name, c.snapshot(), now()) {
                    None => prop_assert!(
                        fresh.actions.is_empty() && fresh.events.is_empty() && fresh.requeue == Requeue::OnChange,
                        "{name} skipped after {change:?} but has work: {fresh:?}"
                    ),
                    Some(d) => prop_assert_eq!(d, fresh),
                }
            }
        }
    }

    /// What must hold after every step, checked only where a step's
    /// writes reached (as the simulator does), finds whatever checking
    /// every tenant everywhere finds new: no tenant a change does not wake
    /// breaks, and none breaks outside what the change reached.
    #[test]
    fn reached_checks_find_what_full_checks_find(
        start in start(),
        changes in proptest::collection::vec(change(), 1..24),
    ) {
        let mut c = Cluster::new(&start);
        c.drain_changes();
        for change in &changes {
            let always = |c: &Cluster| -> BTreeMap<String, Vec<_>> {
                c.tenants()
                    .iter()
                    .map(|t| (t.metadata.name.clone().unwrap_or_default(), check_tenant(c.snapshot(), t, Scope::Always)))
                    .collect()
            };
            let before = always(&c);
            c.apply(change);
            let mut reached: BTreeMap<String, Reach> = BTreeMap::new();
            for written in c.drain_changes() {
                let reach = Reach::of_event(&written.event);
                let woken: Vec<String> = if written.woken.is_everyone() {
                    names(c.snapshot())
                } else {
                    written.woken.keys().filter_map(|k| match k {
                        mto_model::view::Key::Tenant(name) => Some(name.clone()),
                        _ => None,
                    }).collect()
                };
                for name in woken {
                    match reached.get_mut(&name) {
                        Some(r) => r.widen(reach.clone()),
                        None => { reached.insert(name, reach.clone()); }
                    }
                }
            }
            for (name, violations) in always(&c) {
                let new: Vec<_> = violations
                    .into_iter()
                    .filter(|v| !before.get(&name).is_some_and(|b| b.contains(v)))
                    .collect();
                if new.is_empty() {
                    continue;
                }
                let reach = reached.get(&name);
                prop_assert!(reach.is_some(), "{name} broke {new:?} after {change:?}, which did not wake it");
                let tenant = c.snapshot().get::<Tenant>("", &name).cloned().unwrap_or_default();
                let found = check_tenant_reached(c.snapshot(), &tenant, reach.unwrap_or(&Reach::Everywhere));
                for v in &new {
                    prop_assert!(found.contains(v), "{name}: {v} after {change:?}, reaching {reach:?}, not found");
                }
            }
        }
    }

    /// Whatever users did meanwhile, mto converges without breaking an
    /// invariant once they stop.
    #[test]
    fn any_changes_converge_without_violations(
        start in start(),
        changes in proptest::collection::vec(change(), 0..24),
    ) {
        let mut c = Cluster::new(&start);
        for change in &changes {
            c.apply(change);
        }
        c.converge().map_err(TestCaseError::fail)?;
    }
}

/// A converged cluster is skipped whole; a change re-decides only the
/// tenants it concerns.
#[test]
fn settled_skips_all_but_the_tenants_a_change_concerns() -> Result<(), TestCaseError> {
    let spec = |prefixed: &[&str]| TenantSpec {
        access_control: Some(AccessControl {
            owners: Some(Subjects {
                users: vec!["ann".into()],
                groups: Vec::new(),
            }),
            ..Default::default()
        }),
        namespaces: Some(Namespaces {
            with_tenant_prefix: prefixed.iter().map(|p| (*p).to_owned()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut c = Cluster::new(&Start {
        tenants: Vec::new(),
        existing: Vec::new(),
        pods: 10,
        millicpu: 1000,
    });
    for name in TENANTS {
        c.put(Tenant::new(name, spec(&["dev", "qa"])));
    }
    c.converge().map_err(TestCaseError::fail)?;
    let mut settled = Settled::default();
    let decided = |settled: &mut Settled, s: &Snapshot| -> Vec<String> {
        TENANTS
            .iter()
            .filter(|t| settled.decide(t, s, now()).is_some())
            .map(|t| (*t).to_owned())
            .collect()
    };
    assert_eq!(
        decided(&mut settled, c.snapshot()),
        TENANTS.to_vec(),
        "first pass decides all"
    );
    assert_eq!(settled.len(), TENANTS.len());
    assert!(
        decided(&mut settled, c.snapshot()).is_empty(),
        "nothing changed"
    );
    c.delete(&ObjectRef::namespaced(
        Kind::RoleBinding,
        "b-dev",
        "b-owner-admin",
    ));
    assert_eq!(
        decided(&mut settled, c.snapshot()),
        vec!["b"],
        "only b's binding went"
    );
    assert_eq!(
        settled.len(),
        TENANTS.len() - 1,
        "b has work, so is not settled"
    );
    c.converge().map_err(TestCaseError::fail)?;
    assert_eq!(decided(&mut settled, c.snapshot()), vec!["b"]);
    assert!(decided(&mut settled, c.snapshot()).is_empty());
    Ok(())
}
