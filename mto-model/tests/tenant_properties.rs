//! Property tests of the tenant planner against random tenants and clusters.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mto_model::Timestamp;
use mto_model::action::{Action, Kind, Object, ObjectRef, Requeue};
use mto_model::api::{
    AccessControl, ClusterResourceSupervisor, IntegrationConfig, Namespaces, Quota, QuotaSpec,
    Sandboxes, Subjects, Tenant, TenantHibernation, TenantSpec,
};
use mto_model::apiserver::ApiServer;
use mto_model::claims::requested_namespaces;
use mto_model::invariants::{check_action, check_cluster};
use mto_model::labels::TENANT_LABEL;
use mto_model::machine;
use mto_model::namespace::NamespacePhase;
use mto_model::tenant::{Settled, decide};
use mto_model::view::{Observed, Shelf, Snapshot, Typed};
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
    ) -> ApiServer {
        let mut s = ApiServer::default();
        let hard = BTreeMap::from([
            ("pods".to_string(), k8s_openapi::apimachinery::pkg::api::resource::Quantity(pods.to_string())),
            ("requests.cpu".to_string(), k8s_openapi::apimachinery::pkg::api::resource::Quantity(format!("{millicpu}m"))),
        ]);
        put(&mut s, Quota::new("q", QuotaSpec { resourcequota: Some(k8s_openapi::api::core::v1::ResourceQuotaSpec { hard: Some(hard), ..Default::default() }), limitrange: None }));
        put(&mut s, namespace("mto-system", None));
        for (i, spec) in specs.into_iter().enumerate() {
            // Created one after the other: the claim order.
            let created = Timestamp::from_second(1_700_000_000 + i as i64).unwrap_or(Timestamp::UNIX_EPOCH);
            let _ = s.put(Tenant::new(TENANTS[i], spec).into(), created);
        }
        for (name, owner) in existing {
            put(&mut s, namespace(name, owner.map(|o| TENANTS[o])));
        }
        s
    }
}

fn namespace(name: &str, tenant: Option<&str>) -> Namespace {
    let labels = tenant.map(|t| BTreeMap::from([(TENANT_LABEL.to_string(), t.to_string())]));
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A person creates or replaces an object; refusals are fine.
fn put(s: &mut ApiServer, object: impl Into<Object>) {
    let _ = s.put(object.into(), now());
}

/// The tenants, by name.
fn tenants(s: &ApiServer) -> Vec<Tenant> {
    s.snapshot()
        .shelf::<Tenant>()
        .iter()
        .map(|t| (**t).clone())
        .collect()
}

/// The n-th object of a namespaced kind (wrapping).
fn nth<K: Typed>(shelf: &Shelf<K>, n: usize) -> Option<K> {
    let all: Vec<&K> = shelf.iter().map(|o| &**o).collect();
    (!all.is_empty()).then(|| all[n % all.len()].clone())
}

fn delete(s: &mut ApiServer, target: ObjectRef) {
    let _ = s.delete(&target, None, now());
}

fn namespace_touched(a: &Action) -> Option<String> {
    match a {
        Action::Apply {
            object: Object::Namespace(ns),
            ..
        } => ns.metadata.name.clone(),
        Action::Delete { target, .. } | Action::Patch { target, .. }
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
/// action, the namespace controller removing what was purged after each
/// round; returns how many decisions it took.
fn converge(api: &mut ApiServer) -> Result<usize, TestCaseError> {
    let mut decisions = 0;
    for _round in 0..12 {
        let mut steady = true;
        for t in tenants(api) {
            let name = t.metadata.name.clone().unwrap_or_default();
            let s = api.snapshot();
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
                let s = api.snapshot();
                if let Some(v) = check_action(s, a) {
                    return Err(TestCaseError::fail(format!("{v} (by {a})")));
                }
                // No tenant writes into a namespace labelled for another.
                if let Action::Apply {
                    object: Object::Namespace(ns),
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
                if let Err(e) = api.execute(a, now()) {
                    return Err(TestCaseError::fail(format!("{a}: {e}")));
                }
                let s = api.snapshot();
                if let (Some(n), Some(before)) = (touched.as_deref(), before) {
                    let after = namespace_phase(s, n);
                    prop_assert!(
                        machine::allowed(before, after),
                        "namespace {n}: {before:?} -> {after:?} by {a}"
                    );
                }
                let violations = check_cluster(s, s.shelf::<Tenant>().iter().map(|t| &**t));
                prop_assert!(violations.is_empty(), "after {a}: {violations:?}");
            }
        }
        for purged in api.finalize_namespaces() {
            prop_assert_eq!(
                namespace_phase(api.snapshot(), &purged),
                NamespacePhase::Unclaimed
            );
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
        for t in tenants(&s) {
            let d = decide(&t, s.snapshot(), now());
            prop_assert!(d.actions.is_empty(), "steady state must have no actions: {:?}", d.actions);
        }
    }

    /// After convergence, one round of decisions is enough: each tenant's
    /// first decision does everything, the second confirms.
    #[test]
    fn one_decision_does_the_work(mut s in cluster()) {
        // Single tenant so no other tenant's progress interleaves.
        let all = tenants(&s);
        let first = all[0].metadata.name.clone().unwrap_or_default();
        for other in &all[1..] {
            delete(&mut s, ObjectRef::cluster(Kind::Tenant, other.metadata.name.clone().unwrap_or_default()));
        }
        let t = s.snapshot().tenant(&first).cloned().unwrap_or_default();
        let d = decide(&t, s.snapshot(), now());
        for a in &d.actions { prop_assert!(s.execute(a, now()).is_ok()); }
        let t = s.snapshot().tenant(&first).cloned().unwrap_or_default();
        let again = decide(&t, s.snapshot(), now());
        prop_assert!(again.actions.is_empty(), "second decision: {:?}", again.actions);
    }

    /// Deleting tenants deletes namespaces only under purge, never one the
    /// tenant adopted, and lets every tenant go.
    #[test]
    fn deletion_is_safe(mut s in cluster(), doomed in proptest::sample::subsequence(TENANTS.to_vec(), 0..=4)) {
        converge(&mut s)?;
        let doomed: Vec<&str> = doomed.into_iter().filter(|t| s.snapshot().tenant(t).is_some()).collect();
        let names = |s: &ApiServer| -> Vec<String> { s.snapshot().shelf::<Namespace>().keys().map(|(_, n)| n.to_owned()).collect() };
        let before = names(&s);
        for name in &doomed {
            delete(&mut s, ObjectRef::cluster(Kind::Tenant, *name));
        }
        converge(&mut s)?;
        for name in &doomed {
            prop_assert!(s.snapshot().tenant(name).is_none(), "tenant {name} still there");
        }
        let after = names(&s);
        for ns in before {
            if !after.contains(&ns) {
                // Only namespaces of purged tenants may be gone, and check_action
                // already proved each delete was asked for.
                prop_assert!(doomed.iter().any(|t| ns.starts_with(&format!("{t}-")) || ["shared", "common", "legacy"].contains(&ns.as_str())), "{ns} vanished");
            }
        }
        let remaining: Vec<String> = tenants(&s).into_iter().filter_map(|t| t.metadata.name).collect();
        for ns in s.snapshot().shelf::<Namespace>().iter() {
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

fn apply_change(api: &mut ApiServer, change: &Change) -> Result<(), TestCaseError> {
    let tenant = |i: usize| TENANTS[i].to_owned();
    let s = api.snapshot();
    match change {
        Change::Act(i) => {
            if let Some(t) = s.tenant(&tenant(*i)).cloned() {
                for a in decide(&t, s, now()).actions {
                    let _ = api.execute(&a, now());
                }
            }
        }
        // Users' edits may break invariants mto then mends; `converge`
        // would flag them, so this one only runs the decisions.
        Change::Converge => {
            for _round in 0..12 {
                let mut steady = true;
                for t in tenants(api) {
                    for a in decide(&t, api.snapshot(), now()).actions {
                        steady = false;
                        let _ = api.execute(&a, now());
                    }
                }
                api.finalize_namespaces();
                if steady {
                    break;
                }
            }
        }
        Change::DeleteBinding(n) => {
            if let Some(rb) = nth(s.shelf::<RoleBinding>(), *n) {
                delete(api, ObjectRef::of::<RoleBinding>(&rb.metadata));
            }
        }
        Change::EditBinding(n) => {
            if let Some(mut rb) = nth(s.shelf::<RoleBinding>(), *n) {
                rb.subjects = Some(vec![k8s_openapi::api::rbac::v1::Subject {
                    kind: "User".into(),
                    name: "stranger".into(),
                    ..Default::default()
                }]);
                put(api, rb);
            }
        }
        Change::EditResourceQuota(n) => {
            if let Some(mut rq) = nth(s.shelf::<ResourceQuota>(), *n) {
                rq.spec.get_or_insert_with(Default::default).hard = Some(BTreeMap::from([(
                    "pods".to_string(),
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity("999".into()),
                )]));
                put(api, rq);
            }
        }
        Change::DeleteLimitRange(n) => {
            if let Some(lr) = nth(s.shelf::<LimitRange>(), *n) {
                delete(api, ObjectRef::of::<LimitRange>(&lr.metadata));
            }
        }
        Change::LabelNamespace(n, owner) => {
            if let Some(mut ns) = nth(s.shelf::<Namespace>(), *n) {
                let labels = ns.metadata.labels.get_or_insert_with(BTreeMap::new);
                match owner {
                    Some(o) => labels.insert(TENANT_LABEL.into(), tenant(*o)),
                    None => labels.remove(TENANT_LABEL),
                };
                put(api, ns);
            }
        }
        Change::AnnotateNamespace(n) => {
            if let Some(mut ns) = nth(s.shelf::<Namespace>(), *n) {
                ns.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert("example.com/note".into(), "hello".into());
                put(api, ns);
            }
        }
        Change::Quota(pods) => {
            let hard = BTreeMap::from([(
                "pods".to_string(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity(pods.to_string()),
            )]);
            put(
                api,
                Quota::new(
                    "q",
                    QuotaSpec {
                        resourcequota: Some(k8s_openapi::api::core::v1::ResourceQuotaSpec {
                            hard: Some(hard),
                            ..Default::default()
                        }),
                        limitrange: None,
                    },
                ),
            );
        }
        Change::DropQuota => delete(api, ObjectRef::cluster(Kind::Quota, "q")),
        Change::Respec(i, spec, hibernate) => {
            if let Some(mut t) = s.tenant(&tenant(*i)).cloned() {
                t.spec = (**spec).clone();
                t.spec.hibernation = hibernate.then(|| TenantHibernation {
                    sleep_schedule: "0 22 * * *".into(),
                    wake_schedule: "0 6 * * *".into(),
                });
                put(api, t);
            }
        }
        Change::DeleteTenant(i) => delete(api, ObjectRef::cluster(Kind::Tenant, tenant(*i))),
        Change::Privilege(on) => {
            let config: IntegrationConfig = serde_json::from_value(serde_json::json!({
                "apiVersion": "tenantoperator.stakater.com/v1beta1",
                "kind": "IntegrationConfig",
                "metadata": {"name": "mto", "namespace": "mto-system"},
                "spec": {"accessControl": {"privileged": {"namespaces": if *on { vec!["^shared$"] } else { Vec::new() }}}}
            }))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            put(api, config);
        }
        Change::ForeignSupervisor(i) => {
            let crs: ClusterResourceSupervisor = serde_json::from_value(serde_json::json!({
                "apiVersion": "hibernation.stakater.com/v1beta1",
                "kind": "ClusterResourceSupervisor",
                "metadata": {"name": tenant(*i)},
                "spec": {"namespaces": {"names": ["elsewhere"]}, "schedule": {"sleepSchedule": "0 20 * * *"}}
            }))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
            put(api, crs);
        }
        Change::RemoveSupervisor(i) => {
            delete(
                api,
                ObjectRef::cluster(Kind::ClusterResourceSupervisor, tenant(*i)),
            );
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
            for t in tenants(&s) {
                let name = t.metadata.name.clone().unwrap_or_default();
                let fresh = decide(&t, s.snapshot(), now());
                match settled.decide(&name, s.snapshot(), now()) {
                    None => prop_assert!(
                        fresh.actions.is_empty() && fresh.events.is_empty() && fresh.requeue == Requeue::OnChange,
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
    let mut s = ApiServer::default();
    for name in TENANTS {
        put(&mut s, Tenant::new(name, spec(&["dev", "qa"])));
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
        decided(&mut settled, s.snapshot()),
        TENANTS.to_vec(),
        "first pass decides all"
    );
    assert_eq!(settled.len(), TENANTS.len());
    assert!(
        decided(&mut settled, s.snapshot()).is_empty(),
        "nothing changed"
    );
    delete(
        &mut s,
        ObjectRef::namespaced(Kind::RoleBinding, "b-dev", "b-owner-admin"),
    );
    assert_eq!(
        decided(&mut settled, s.snapshot()),
        vec!["b"],
        "only b's binding went"
    );
    assert_eq!(
        settled.len(),
        TENANTS.len() - 1,
        "b has work, so is not settled"
    );
    converge(&mut s)?;
    assert_eq!(decided(&mut settled, s.snapshot()), vec!["b"]);
    assert!(decided(&mut settled, s.snapshot()).is_empty());
    Ok(())
}
