//! Property tests of the tenant planner against random tenants and clusters.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use mto_model::Timestamp;
use mto_model::action::{Action, Kind, Resource};
use mto_model::api::{
    AccessControl, Namespaces, Quota, QuotaSpec, Sandboxes, Subjects, Tenant, TenantSpec,
};
use mto_model::invariants::{check_action, check_cluster};
use mto_model::labels::TENANT_LABEL;
use mto_model::machine;
use mto_model::namespace::NamespacePhase;
use mto_model::observed::Observed;
use mto_model::snapshot::Snapshot;
use mto_model::tenant::{decide, requested_namespaces};
use proptest::prelude::*;

const TENANTS: [&str; 4] = ["a", "b", "c", "d"];
const USERS: [&str; 4] = ["ann", "bob", "cy@example.com", "dee"];

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn subjects() -> impl Strategy<Value = Option<Subjects>> {
    (
        proptest::sample::subsequence(USERS.to_vec(), 0..=2),
        proptest::sample::subsequence(vec!["g1", "g2"], 0..=1),
    )
        .prop_map(|(u, g)| {
            (!u.is_empty() || !g.is_empty()).then(|| Subjects {
                users: u.into_iter().map(str::to_owned).collect(),
                groups: g.into_iter().map(str::to_owned).collect(),
            })
        })
}

prop_compose! {
    fn tenant_spec()(
        prefixed in proptest::sample::subsequence(vec!["dev", "qa", "ops"], 0..=3),
        unprefixed in proptest::sample::subsequence(vec!["shared", "common", "legacy"], 0..=2),
        owners in subjects(), editors in subjects(), viewers in subjects(),
        sandboxes in any::<bool>(), private in any::<bool>(), purge in any::<bool>(),
        quota in prop_oneof![Just(None), Just(Some("q")), Just(Some("missing"))],
    ) -> TenantSpec {
        TenantSpec {
            quota: quota.map(str::to_owned),
            access_control: Some(AccessControl { owners, editors, viewers }),
            namespaces: Some(Namespaces {
                with_tenant_prefix: prefixed.into_iter().map(str::to_owned).collect(),
                without_tenant_prefix: unprefixed.into_iter().map(str::to_owned).collect(),
                sandboxes: Some(Sandboxes { enabled: sandboxes, private }),
                on_delete_purge_namespaces: Some(purge),
                metadata: None,
            }),
            ..Default::default()
        }
    }
}

prop_compose! {
    fn cluster()(
        specs in proptest::collection::vec(tenant_spec(), 1..=4),
        existing in proptest::collection::btree_map(prop_oneof![Just("shared"), Just("legacy"), Just("a-dev"), Just("b-qa")], proptest::option::of(0usize..4), 0..=3),
        pods in 1u32..60, millicpu in 1u32..8000,
    ) -> Snapshot {
        let mut s = Snapshot::default();
        let hard = BTreeMap::from([
            ("pods".to_string(), k8s_openapi::apimachinery::pkg::api::resource::Quantity(pods.to_string())),
            ("requests.cpu".to_string(), k8s_openapi::apimachinery::pkg::api::resource::Quantity(format!("{millicpu}m"))),
        ]);
        s.quotas.insert("q".into(), Quota::new("q", QuotaSpec { resourcequota: Some(k8s_openapi::api::core::v1::ResourceQuotaSpec { hard: Some(hard), ..Default::default() }), limitrange: None }));
        for (i, spec) in specs.into_iter().enumerate() {
            let mut t = Tenant::new(TENANTS[i], spec);
            t.metadata.generation = Some(1);
            t.metadata.creation_timestamp = Some(Time(Timestamp::from_second(1_700_000_000 + i as i64).unwrap_or(Timestamp::UNIX_EPOCH)));
            s.put_tenant(t);
        }
        for (name, owner) in existing {
            let labels = owner.map(|o| BTreeMap::from([(TENANT_LABEL.to_string(), TENANTS[o].to_string())]));
            s.put_namespace(Namespace { metadata: ObjectMeta { name: Some(name.into()), labels, ..Default::default() }, ..Default::default() });
        }
        s
    }
}

fn namespace_touched(a: &Action) -> Option<String> {
    match a {
        Action::Apply {
            object: Resource::Namespace(ns),
            ..
        } => ns.metadata.name.clone(),
        Action::Delete { target, .. } | Action::RemoveLabels { target, .. }
            if target.kind == Kind::Namespace =>
        {
            Some(target.name.clone())
        }
        _ => None,
    }
}

/// The namespace's ownership phase: wanted when its labelled tenant exists,
/// is not being deleted, and asks for it.
fn namespace_phase(s: &Snapshot, name: &str) -> NamespacePhase {
    let ns = s.namespace(name);
    let owner = ns
        .and_then(|n| n.metadata.labels.as_ref())
        .and_then(|l| l.get(TENANT_LABEL));
    let wanted = owner.and_then(|o| s.tenant(o)).is_some_and(|t| {
        t.metadata.deletion_timestamp.is_none()
            && requested_namespaces(t).iter().any(|r| r.name == name)
    });
    NamespacePhase::observe(ns, wanted)
}

/// Runs every tenant until all are steady, checking invariants after each
/// action; returns how many decisions it took.
fn converge(s: &mut Snapshot) -> Result<usize, TestCaseError> {
    let mut decisions = 0;
    for _round in 0..12 {
        let mut steady = true;
        for name in s.tenants.keys().cloned().collect::<Vec<_>>() {
            let Some(t) = s.tenants.get(&name).cloned() else {
                continue;
            };
            let d = decide(&t, s, now());
            decisions += 1;
            prop_assert_eq!(&d, &decide(&t, s, now()), "decide is deterministic");
            prop_assert!(
                machine::allowed(d.from, d.phase),
                "{:?} -> {:?}",
                d.from,
                d.phase
            );
            steady &= d.is_steady();
            for a in &d.actions {
                if let Some(v) = check_action(s, a) {
                    return Err(TestCaseError::fail(format!("{v} (by {a})")));
                }
                // No tenant writes into a namespace labelled for another.
                if let Action::Apply {
                    object: Resource::Namespace(ns),
                    ..
                } = a
                {
                    let n = ns.metadata.name.as_deref().unwrap_or_default();
                    let owner = s
                        .namespace(n)
                        .and_then(|o| o.metadata.labels.as_ref())
                        .and_then(|l| l.get(TENANT_LABEL))
                        .cloned();
                    prop_assert!(
                        owner.as_ref().is_none_or(|o| *o == name),
                        "{name} applied {n} owned by {owner:?}"
                    );
                }
                let touched = namespace_touched(a);
                let before = touched.as_deref().map(|n| namespace_phase(s, n));
                if let Err(e) = s.execute(a) {
                    return Err(TestCaseError::fail(format!("{a}: {e}")));
                }
                if let (Some(n), Some(before)) = (touched.as_deref(), before) {
                    let after = namespace_phase(s, n);
                    let ok = if matches!(a, Action::Delete { .. }) {
                        // The snapshot removes at once what Kubernetes marks first.
                        machine::allowed(before, NamespacePhase::Purging)
                            && after == NamespacePhase::Unclaimed
                    } else {
                        machine::allowed(before, after)
                    };
                    prop_assert!(ok, "namespace {n}: {before:?} -> {after:?} by {a}");
                }
                let violations = check_cluster(s, s.tenants.values());
                prop_assert!(violations.is_empty(), "after {a}: {violations:?}");
            }
        }
        if steady {
            return Ok(decisions);
        }
    }
    Err(TestCaseError::fail("did not converge in 12 rounds"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Applying a decision to the cluster it came from leaves nothing to do;
    /// every invariant holds after every action.
    #[test]
    fn converges_to_zero_writes(mut s in cluster()) {
        converge(&mut s)?;
        for t in s.tenants.values() {
            let d = decide(t, &s, now());
            prop_assert!(d.actions.is_empty(), "steady state must have no actions: {:?}", d.actions);
        }
    }

    /// After convergence, one round of decisions is enough: each tenant's
    /// first decision does everything, the second confirms.
    #[test]
    fn one_decision_does_the_work(mut s in cluster()) {
        // Single tenant so no other tenant's progress interleaves.
        let first = s.tenants.keys().next().cloned().unwrap_or_default();
        s.tenants.retain(|k, _| *k == first);
        let t = s.tenants[&first].clone();
        s.put_tenant(t.clone());
        let d = decide(&t, &s, now());
        for a in &d.actions { prop_assert!(s.execute(a).is_ok()); }
        let t = s.tenants[&first].clone();
        let again = decide(&t, &s, now());
        prop_assert!(again.actions.is_empty(), "second decision: {:?}", again.actions);
    }

    /// Deleting tenants deletes namespaces only under purge, never one the
    /// tenant adopted, and lets every tenant go.
    #[test]
    fn deletion_is_safe(mut s in cluster(), doomed in proptest::sample::subsequence(TENANTS.to_vec(), 0..=4)) {
        converge(&mut s)?;
        let doomed: Vec<&str> = doomed.into_iter().filter(|t| s.tenants.contains_key(*t)).collect();
        let before: Vec<String> = s.namespaces.keys().cloned().collect();
        for name in &doomed {
            if let Some(t) = s.tenants.get_mut(*name) {
                t.metadata.deletion_timestamp = Some(Time(now()));
            }
        }
        converge(&mut s)?;
        for name in &doomed {
            prop_assert!(!s.tenants.contains_key(*name), "tenant {name} still there");
        }
        for ns in before {
            if !s.namespaces.contains_key(&ns) {
                // Only namespaces of purged tenants may be gone, and check_action
                // already proved each delete was asked for.
                prop_assert!(doomed.iter().any(|t| ns.starts_with(&format!("{t}-")) || ["shared", "common", "legacy"].contains(&ns.as_str())), "{ns} vanished");
            }
        }
        let remaining = s.tenants.keys().cloned().collect::<Vec<_>>();
        for ns in s.namespaces.values() {
            if let Some(owner) = ns.metadata.labels.as_ref().and_then(|l| l.get(TENANT_LABEL)) {
                prop_assert!(!doomed.contains(&owner.as_str()) || remaining.contains(owner), "{:?} still labelled for deleted {owner}", ns.metadata.name);
            }
        }
    }
}
