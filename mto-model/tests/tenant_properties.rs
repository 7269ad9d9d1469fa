//! Property tests of the tenant planner against random tenants and clusters.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use mto_model::Timestamp;
use mto_model::action::{Action, Kind, ObjectRef, Resource};
use mto_model::api::{
    AccessControl, ClusterResourceSupervisor, IntegrationConfig, Namespaces, Quota, QuotaSpec,
    Sandboxes, Subjects, Tenant, TenantHibernation, TenantSpec,
};
use mto_model::hibernation::Supervisor;
use mto_model::integration::Integration;
use mto_model::invariants::{check_action, check_cluster};
use mto_model::labels::TENANT_LABEL;
use mto_model::machine;
use mto_model::namespace::NamespacePhase;
use mto_model::observed::Observed;
use mto_model::snapshot::Snapshot;
use mto_model::tenant::{Settled, decide, requested_namespaces};
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
        s.put_quota(Quota::new("q", QuotaSpec { resourcequota: Some(k8s_openapi::api::core::v1::ResourceQuotaSpec { hard: Some(hard), ..Default::default() }), limitrange: None }));
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
        for name in s.objects().tenants.keys().cloned().collect::<Vec<_>>() {
            let Some(t) = s.objects().tenants.get(&name).cloned() else {
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
                let violations = check_cluster(s, s.objects().tenants.values());
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
        for t in s.objects().tenants.values() {
            let d = decide(t, &s, now());
            prop_assert!(d.actions.is_empty(), "steady state must have no actions: {:?}", d.actions);
        }
    }

    /// After convergence, one round of decisions is enough: each tenant's
    /// first decision does everything, the second confirms.
    #[test]
    fn one_decision_does_the_work(mut s in cluster()) {
        // Single tenant so no other tenant's progress interleaves.
        let first = s.objects().tenants.keys().next().cloned().unwrap_or_default();
        let others: Vec<String> = s.objects().tenants.keys().filter(|k| **k != first).cloned().collect();
        for other in others { s.remove_tenant(&other); }
        let t = s.objects().tenants[&first].clone();
        s.put_tenant(t.clone());
        let d = decide(&t, &s, now());
        for a in &d.actions { prop_assert!(s.execute(a).is_ok()); }
        let t = s.objects().tenants[&first].clone();
        let again = decide(&t, &s, now());
        prop_assert!(again.actions.is_empty(), "second decision: {:?}", again.actions);
    }

    /// Deleting tenants deletes namespaces only under purge, never one the
    /// tenant adopted, and lets every tenant go.
    #[test]
    fn deletion_is_safe(mut s in cluster(), doomed in proptest::sample::subsequence(TENANTS.to_vec(), 0..=4)) {
        converge(&mut s)?;
        let doomed: Vec<&str> = doomed.into_iter().filter(|t| s.objects().tenants.contains_key(*t)).collect();
        let before: Vec<String> = s.objects().namespaces.keys().cloned().collect();
        for name in &doomed {
            s.edit_metadata(&ObjectRef::cluster(Kind::Tenant, *name), |m| {
                m.deletion_timestamp = Some(Time(now()));
            });
        }
        converge(&mut s)?;
        for name in &doomed {
            prop_assert!(!s.objects().tenants.contains_key(*name), "tenant {name} still there");
        }
        for ns in before {
            if !s.objects().namespaces.contains_key(&ns) {
                // Only namespaces of purged tenants may be gone, and check_action
                // already proved each delete was asked for.
                prop_assert!(doomed.iter().any(|t| ns.starts_with(&format!("{t}-")) || ["shared", "common", "legacy"].contains(&ns.as_str())), "{ns} vanished");
            }
        }
        let remaining = s.objects().tenants.keys().cloned().collect::<Vec<_>>();
        for ns in s.objects().namespaces.values() {
            if let Some(owner) = ns.metadata.labels.as_ref().and_then(|l| l.get(TENANT_LABEL)) {
                prop_assert!(!doomed.contains(&owner.as_str()) || remaining.contains(owner), "{:?} still labelled for deleted {owner}", ns.metadata.name);
            }
        }
    }
}

/// Something that happens to a cluster between two passes of decisions.
#[derive(Clone, Debug)]
enum Change {
    /// A tenant's decision is carried out.
    Act(usize),
    /// Every tenant decides and acts until nothing is left to do.
    Converge,
    /// A user deletes the n-th role binding.
    DeleteBinding(usize),
    /// A user swaps the n-th role binding's subjects for a stranger.
    EditBinding(usize),
    /// A user raises the pods of the n-th resource quota.
    EditResourceQuota(usize),
    /// A user deletes the n-th limit range.
    DeleteLimitRange(usize),
    /// A user labels the n-th namespace for a tenant, or removes the label.
    LabelNamespace(usize, Option<usize>),
    /// A user annotates the n-th namespace (mto reads no such annotation).
    AnnotateNamespace(usize),
    /// The quota's pods change.
    Quota(u32),
    /// The quota is deleted.
    DropQuota,
    /// A tenant's spec changes, perhaps asking for hibernation.
    Respec(usize, Box<TenantSpec>, bool),
    /// A tenant is deleted.
    DeleteTenant(usize),
    /// The integration config makes `shared` privileged, or nothing.
    Privilege(bool),
    /// Someone else creates a ClusterResourceSupervisor named after a tenant.
    ForeignSupervisor(usize),
    /// The ClusterResourceSupervisor named after a tenant is deleted.
    RemoveSupervisor(usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0usize..4).prop_map(Change::Act),
        2 => Just(Change::Converge),
        1 => (0usize..64).prop_map(Change::DeleteBinding),
        1 => (0usize..64).prop_map(Change::EditBinding),
        1 => (0usize..16).prop_map(Change::EditResourceQuota),
        1 => (0usize..16).prop_map(Change::DeleteLimitRange),
        1 => ((0usize..16), proptest::option::of(0usize..4)).prop_map(|(n, t)| Change::LabelNamespace(n, t)),
        1 => (0usize..16).prop_map(Change::AnnotateNamespace),
        1 => (1u32..60).prop_map(Change::Quota),
        1 => Just(Change::DropQuota),
        1 => ((0usize..4), tenant_spec(), any::<bool>()).prop_map(|(t, s, h)| Change::Respec(t, Box::new(s), h)),
        1 => (0usize..4).prop_map(Change::DeleteTenant),
        1 => any::<bool>().prop_map(Change::Privilege),
        1 => (0usize..4).prop_map(Change::ForeignSupervisor),
        1 => (0usize..4).prop_map(Change::RemoveSupervisor),
    ]
}

/// The n-th namespaced object of a kind (wrapping), as (namespace, name).
fn nth<K>(shelf: &BTreeMap<String, BTreeMap<String, K>>, n: usize) -> Option<(String, String)> {
    let all: Vec<(String, String)> = shelf
        .iter()
        .flat_map(|(ns, m)| m.keys().map(move |name| (ns.clone(), name.clone())))
        .collect();
    (!all.is_empty()).then(|| all[n % all.len()].clone())
}

fn apply_change(s: &mut Snapshot, change: &Change) -> Result<(), TestCaseError> {
    let tenant = |i: usize| TENANTS[i].to_owned();
    match change {
        Change::Act(i) => {
            if let Some(t) = s.tenant(&tenant(*i)).cloned() {
                for a in decide(&t, s, now()).actions {
                    let _ = s.execute(&a);
                }
            }
        }
        // Users' edits may break invariants mto then mends; `converge`
        // would flag them, so this one only runs the decisions.
        Change::Converge => {
            for _round in 0..12 {
                let mut steady = true;
                for t in s.objects().tenants.values().cloned().collect::<Vec<_>>() {
                    for a in decide(&t, s, now()).actions {
                        steady = false;
                        let _ = s.execute(&a);
                    }
                }
                if steady {
                    break;
                }
            }
        }
        Change::DeleteBinding(n) => {
            if let Some((ns, name)) = nth(&s.objects().role_bindings, *n) {
                s.remove::<RoleBinding>(&ns, &name);
            }
        }
        Change::EditBinding(n) => {
            if let Some((ns, name)) = nth(&s.objects().role_bindings, *n) {
                s.edit(&ns, &name, |rb: &mut RoleBinding| {
                    rb.subjects = Some(vec![k8s_openapi::api::rbac::v1::Subject {
                        kind: "User".into(),
                        name: "stranger".into(),
                        ..Default::default()
                    }]);
                });
            }
        }
        Change::EditResourceQuota(n) => {
            if let Some((ns, name)) = nth(&s.objects().resource_quotas, *n) {
                s.edit(&ns, &name, |rq: &mut ResourceQuota| {
                    rq.spec.get_or_insert_with(Default::default).hard = Some(BTreeMap::from([(
                        "pods".to_string(),
                        k8s_openapi::apimachinery::pkg::api::resource::Quantity("999".into()),
                    )]));
                });
            }
        }
        Change::DeleteLimitRange(n) => {
            if let Some((ns, name)) = nth(&s.objects().limit_ranges, *n) {
                s.remove::<LimitRange>(&ns, &name);
            }
        }
        Change::LabelNamespace(n, owner) => {
            let names: Vec<String> = s.objects().namespaces.keys().cloned().collect();
            if !names.is_empty() {
                let mut ns = s.objects().namespaces[&names[n % names.len()]].clone();
                let labels = ns.metadata.labels.get_or_insert_with(BTreeMap::new);
                match owner {
                    Some(o) => labels.insert(TENANT_LABEL.into(), tenant(*o)),
                    None => labels.remove(TENANT_LABEL),
                };
                s.put_namespace(ns);
            }
        }
        Change::AnnotateNamespace(n) => {
            let names: Vec<String> = s.objects().namespaces.keys().cloned().collect();
            if !names.is_empty() {
                let mut ns = s.objects().namespaces[&names[n % names.len()]].clone();
                ns.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert("example.com/note".into(), "hello".into());
                s.put_namespace(ns);
            }
        }
        Change::Quota(pods) => {
            let hard = BTreeMap::from([(
                "pods".to_string(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity(pods.to_string()),
            )]);
            s.put_quota(Quota::new(
                "q",
                QuotaSpec {
                    resourcequota: Some(k8s_openapi::api::core::v1::ResourceQuotaSpec {
                        hard: Some(hard),
                        ..Default::default()
                    }),
                    limitrange: None,
                },
            ));
        }
        Change::DropQuota => {
            s.remove_quota("q");
        }
        Change::Respec(i, spec, hibernate) => {
            if let Some(mut t) = s.tenant(&tenant(*i)).cloned() {
                t.spec = (**spec).clone();
                t.spec.hibernation = hibernate.then(|| TenantHibernation {
                    sleep_schedule: "0 22 * * *".into(),
                    wake_schedule: "0 6 * * *".into(),
                });
                t.metadata.generation = Some(t.metadata.generation.unwrap_or(1) + 1);
                s.put_tenant(t);
            }
        }
        Change::DeleteTenant(i) => {
            s.edit_metadata(&ObjectRef::cluster(Kind::Tenant, tenant(*i)), |m| {
                m.deletion_timestamp = Some(Time(now()));
            });
        }
        Change::Privilege(on) => {
            let config: IntegrationConfig = serde_json::from_value(serde_json::json!({
                "apiVersion": "tenantoperator.stakater.com/v1beta1",
                "kind": "IntegrationConfig",
                "metadata": {"name": "mto", "namespace": "mto-system"},
                "spec": {"accessControl": {"privileged": {"namespaces": if *on { vec!["^shared$"] } else { Vec::new() }}}}
            }))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            s.set_integration(
                Integration::compile(Some(&config))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?,
            );
        }
        Change::ForeignSupervisor(i) => {
            let crs: ClusterResourceSupervisor = serde_json::from_value(serde_json::json!({
                "apiVersion": "hibernation.stakater.com/v1beta1",
                "kind": "ClusterResourceSupervisor",
                "metadata": {"name": tenant(*i)},
                "spec": {"namespaces": {"names": ["elsewhere"]}, "schedule": {"sleepSchedule": "0 20 * * *"}}
            }))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            s.put_supervisor(Supervisor::Cluster(crs));
        }
        Change::RemoveSupervisor(i) => {
            s.remove_supervisor(&mto_model::hibernation::cluster_key(&tenant(*i)));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Skipping a settled tenant never hides work: whatever happens to the
    /// cluster, each tenant [`Settled`] skips would decide nothing, and
    /// each it decides gets the same decision as a fresh one.
    #[test]
    fn settled_tenants_have_nothing_to_do(
        mut s in cluster(),
        changes in proptest::collection::vec(change(), 1..24),
    ) {
        let mut settled = Settled::default();
        for change in &changes {
            apply_change(&mut s, change)?;
            for (name, t) in s.objects().tenants.clone() {
                let fresh = decide(&t, &s, now());
                match settled.decide(&name, &s, now()) {
                    None => prop_assert!(
                        fresh.actions.is_empty() && fresh.events.is_empty() && fresh.requeue_after.is_none(),
                        "{name} skipped after {change:?} but has work: {fresh:?}"
                    ),
                    Some(d) => prop_assert_eq!(d, fresh),
                }
            }
        }
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
    let mut s = Snapshot::default();
    for name in TENANTS {
        s.put_tenant(Tenant::new(name, spec(&["dev", "qa"])));
    }
    converge(&mut s)?;
    let mut settled = Settled::default();
    let decided = |settled: &mut Settled, s: &Snapshot| -> Vec<String> {
        TENANTS
            .iter()
            .filter(|t| settled.decide(t, s, now()).is_some())
            .map(|t| (*t).to_owned())
            .collect()
    };
    assert_eq!(
        decided(&mut settled, &s),
        TENANTS.to_vec(),
        "first pass decides all"
    );
    assert_eq!(settled.len(), TENANTS.len());
    assert!(decided(&mut settled, &s).is_empty(), "nothing changed");
    s.remove::<RoleBinding>("b-dev", "b-owner-admin");
    assert_eq!(
        decided(&mut settled, &s),
        vec!["b"],
        "only b's binding went"
    );
    assert_eq!(
        settled.len(),
        TENANTS.len() - 1,
        "b has work, so is not settled"
    );
    converge(&mut s)?;
    assert_eq!(decided(&mut settled, &s), vec!["b"]);
    assert!(decided(&mut settled, &s).is_empty());
    Ok(())
}
