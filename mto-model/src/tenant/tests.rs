use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::*;
use crate::Timestamp;
use crate::action::{Action, Kind, Object, ObjectRef, Reason};
use crate::api::{IntegrationConfig, Quota, Tenant};
use crate::apiserver::ApiServer;
use crate::labels::{KIND_LABEL, RELEASED_FROM_ANNOTATION, TENANT_LABEL};
use crate::machine;
use crate::quantity::Quantity;
use crate::view::{Observed, Snapshot};

pub(crate) fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(crate) fn tenant(value: serde_json::Value) -> Tenant {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("test tenant: {e}"))
}

fn quota(name: &str, hard: serde_json::Value) -> Quota {
    pooled_quota(name, hard)
}

fn pooled_quota(name: &str, hard: serde_json::Value) -> Quota {
    serde_json::from_value(json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "Quota",
        "metadata": {"name": name},
        "spec": {"resourcequota": {"hard": hard}, "limitrange": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]}}
    }))
    .unwrap_or_else(|e| panic!("test quota: {e}"))
}

fn alpha() -> Tenant {
    tenant(json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant",
        "metadata": {"name": "alpha", "generation": 1},
        "spec": {
            "quota": "small",
            "accessControl": {
                "owners": {"users": ["anna@example.com"], "groups": ["alpha-admins"]},
                "editors": {"users": ["ed"]},
                "viewers": {"groups": ["auditors"]}
            },
            "namespaces": {
                "withTenantPrefix": ["dev", "build"],
                "withoutTenantPrefix": ["alpha-shared"],
                "sandboxes": {"enabled": true, "private": true},
                "metadata": {
                    "common": {"labels": {"team": "alpha"}, "annotations": {"owner": "platform"}},
                    "sandbox": {"labels": {"sandbox-of": "{{ TENANT.USERNAME }}"}},
                    "specific": [{"namespaces": ["alpha-dev"], "labels": {"team": "alpha-dev"}}]
                }
            }
        }
    }))
}

/// The same quota, its namespaces holding fixed equal shares.
fn split_quota(name: &str, hard: serde_json::Value) -> Quota {
    let mut quota = pooled_quota(name, hard);
    quota.spec.sharing = Some(crate::api::Sharing::EvenSplit);
    quota
}

/// Tenant `alpha`'s quota `small` split evenly over its namespaces.
fn split_evenly(s: &mut ApiServer) {
    put(
        s,
        split_quota(
            "small",
            json!({"requests.cpu": "4", "pods": "20", "requests.memory": "8Gi"}),
        ),
    );
}

fn cluster(tenants: &[Tenant]) -> ApiServer {
    let mut s = ApiServer::default();
    put(
        &mut s,
        quota(
            "small",
            json!({"requests.cpu": "4", "pods": "20", "requests.memory": "8Gi"}),
        ),
    );
    for t in tenants {
        put(&mut s, t.clone());
    }
    s
}

/// A person creates or replaces an object.
fn put(s: &mut ApiServer, object: impl Into<Object>) {
    s.put(object.into(), now())
        .unwrap_or_else(|e| panic!("{e}"));
}

fn tenant_of(s: &ApiServer, name: &str) -> Tenant {
    s.snapshot()
        .tenant(name)
        .cloned()
        .unwrap_or_else(|| panic!("no tenant {name}"))
}

/// Asserts the tenant is Active with the condition `type_` True, and
/// steady: deciding again writes nothing.
fn assert_active_and_steady_with(s: &ApiServer, name: &str, type_: &str) {
    let tenant = tenant_of(s, name);
    let status = tenant.status.as_ref().expect("status");
    assert_eq!(status.phase.as_deref(), Some("Active"));
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True"),
        "{type_} is not True: {:?}",
        status.conditions
    );
    assert!(
        decide(&tenant, s.snapshot(), now()).actions.is_empty(),
        "steady"
    );
}

/// Decides and executes until the tenant is steady; returns every decision.
pub(crate) fn converge(s: &mut ApiServer, name: &str) -> Vec<Decision> {
    let mut decisions = Vec::new();
    for _ in 0..10 {
        let Some(t) = s.snapshot().tenant(name).cloned() else {
            return decisions;
        };
        let d = decide(&t, s.snapshot(), now());
        let steady = d.is_steady();
        for a in &d.actions {
            s.execute(a, now()).unwrap_or_else(|e| panic!("{a}: {e}"));
        }
        decisions.push(d);
        if steady {
            return decisions;
        }
    }
    panic!("tenant {name} did not converge: {:#?}", decisions.last());
}

fn labels(s: &ApiServer, ns: &str) -> BTreeMap<String, String> {
    s.snapshot()
        .namespace(ns)
        .and_then(|n| n.metadata.labels.clone())
        .unwrap_or_default()
}

#[test]
fn table_is_sound() {
    machine::assert_sound::<TenantPhase>();
    let dot = machine::to_dot::<TenantPhase>("tenant");
    assert!(dot.contains("\"Terminating\" -> \"Gone\""));
}

#[test]
fn a_new_tenant_gets_everything_in_one_decision() {
    let s = cluster(&[alpha()]);
    let d = decide(&alpha(), s.snapshot(), now());
    assert_eq!(d.from, TenantPhase::Pending);
    assert_eq!(d.phase, TenantPhase::Provisioning);
    assert!(
        matches!(
            d.actions.first(),
            Some(Action::Patch { target, reason: Reason::AddFinalizer, .. }) if target.name == "alpha"
        ),
        "{:?}",
        d.actions.first()
    );
    let applied: Vec<String> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Apply {
                object,
                reason: Reason::Create,
            } => Some(object.object_ref().to_string()),
            _ => None,
        })
        .collect();
    for expected in [
        "Namespace/alpha-dev",
        "Namespace/alpha-build",
        "Namespace/alpha-shared",
        "Namespace/alpha-anna-example-sandbox",
        "Namespace/alpha-ed-sandbox",
        "RoleBinding/alpha-dev/alpha-owner-admin",
        "RoleBinding/alpha-dev/alpha-editor-edit",
        "RoleBinding/alpha-dev/alpha-viewer-view",
        "RoleBinding/alpha-ed-sandbox/alpha-owner-admin",
        "LimitRange/alpha-dev/tenant-limit-range",
        "ResourceQuota/alpha-dev/tenant-quota",
    ] {
        assert!(
            applied.contains(&expected.to_string()),
            "missing {expected} in {applied:#?}"
        );
    }
    // A private sandbox holds only its user's binding.
    assert!(
        !applied
            .iter()
            .any(|a| a.starts_with("RoleBinding/alpha-ed-sandbox/alpha-viewer"))
    );
    match d.actions.last() {
        Some(Action::ApplyStatus {
            object: Object::Tenant(t),
        }) => {
            let status = t.status.clone().unwrap_or_default();
            assert_eq!(status.phase.as_deref(), Some("Active"));
            assert_eq!(status.observed_generation, Some(1));
            assert_eq!(status.namespaces.len(), 5);
        }
        other => panic!("status write must come last, got {other:?}"),
    }
}

#[test]
fn metadata_follows_precedence_and_mandatory_labels_win() {
    let mut s = cluster(&[alpha()]);
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("mto-system".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    put(&mut s, serde_json::from_value::<IntegrationConfig>(json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
        "metadata": {"name": "mto", "namespace": "mto-system"},
        "spec": {"metadata": {"namespaces": {"labels": {"team": "cluster-default", "cost-center": "42"}}}}
    })).unwrap_or_else(|e| panic!("{e}")));
    converge(&mut s, "alpha");
    let dev = labels(&s, "alpha-dev");
    assert_eq!(
        dev.get("team").map(String::as_str),
        Some("alpha-dev"),
        "specific wins"
    );
    assert_eq!(
        dev.get("cost-center").map(String::as_str),
        Some("42"),
        "integration config fills in"
    );
    assert_eq!(dev.get(TENANT_LABEL).map(String::as_str), Some("alpha"));
    assert_eq!(dev.get(KIND_LABEL).map(String::as_str), Some("dev"));
    assert_eq!(
        labels(&s, "alpha-build").get("team").map(String::as_str),
        Some("alpha"),
        "common wins over the integration config"
    );
    let sandbox = labels(&s, "alpha-anna-example-sandbox");
    assert_eq!(
        sandbox.get("sandbox-of").map(String::as_str),
        Some("anna-example-com")
    );
    assert_eq!(sandbox.get(KIND_LABEL).map(String::as_str), Some("sandbox"));
}

#[test]
fn steady_state_has_no_actions_and_status_is_written_once() {
    let mut s = cluster(&[alpha()]);
    let decisions = converge(&mut s, "alpha");
    assert_eq!(
        decisions.len(),
        2,
        "one decision does everything, the next finds nothing to do"
    );
    let last = decisions.last().unwrap_or_else(|| unreachable!());
    assert_eq!(last.phase, TenantPhase::Active);
    assert!(last.events.is_empty());
}

#[test]
fn quota_is_split_so_namespaces_sum_to_the_tenant_exactly() {
    let mut s = cluster(&[alpha()]);
    split_evenly(&mut s);
    converge(&mut s, "alpha");
    let share = |s: &Snapshot, ns: &str, r: &str| {
        s.resource_quota(ns, "tenant-quota").and_then(|q| {
            q.spec
                .as_ref()?
                .hard
                .as_ref()?
                .get(r)
                .map(|v| Quantity::parse(&v.0).unwrap_or_default())
        })
    };
    assert_eq!(
        share(s.snapshot(), "alpha-dev", "pods"),
        Some(Quantity::from_units(4)),
        "20 pods over 5 namespaces"
    );
    assert_eq!(
        share(s.snapshot(), "alpha-dev", "requests.cpu"),
        Quantity::parse("800m").ok()
    );
    // Add a namespace: every share shrinks before the new one is created.
    let mut t = tenant_of(&s, "alpha");
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.with_tenant_prefix.push("qa".into())
    }
    put(&mut s, t);
    let t = tenant_of(&s, "alpha");
    let d = decide(&t, s.snapshot(), now());
    let total = Quantity::from_units(20);
    for a in &d.actions {
        s.execute(a, now()).unwrap_or_else(|e| panic!("{e}"));
        let v = s.snapshot();
        let sum: i128 = v
            .tenant_namespaces("alpha")
            .filter_map(|ns| share(v, ns, "pods"))
            .map(Quantity::nanos)
            .sum();
        assert!(
            sum <= total.nanos(),
            "after {a}: {sum} pods' worth of quota"
        );
    }
    converge(&mut s, "alpha");
    // 20 pods over 6 namespaces: 4 for the first two by name, 3 for the rest.
    let pods = |ns: &str| share(s.snapshot(), ns, "pods");
    assert_eq!(
        pods("alpha-anna-example-sandbox"),
        Some(Quantity::from_units(4))
    );
    assert_eq!(pods("alpha-build"), Some(Quantity::from_units(4)));
    assert_eq!(pods("alpha-qa"), Some(Quantity::from_units(3)));
    let sum: i128 = s
        .snapshot()
        .tenant_namespaces("alpha")
        .filter_map(pods)
        .map(Quantity::nanos)
        .sum();
    assert_eq!(sum, total.nanos(), "the shares sum to the tenant's quota");
}

/// An edited Quota is followed: its limit range and totals reach every
/// namespace of its tenants, and a Quota made invalid is reported, not
/// applied. (The view reads a Quota once, when it takes it in: what it
/// read must follow the spec.)
/// The role bindings, quotas and limit ranges mto makes for a tenant are
/// stored compact, sharing one label map: nothing between the decision
/// and the store builds k8s-openapi's full metadata and keeps it.
#[test]
fn a_tenants_objects_are_held_compact_sharing_their_labels() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let view = s.snapshot();
    let held = alphas_held_metadata(view);
    assert!(
        held.len() >= 3 * 3,
        "bindings, a quota and a limit range each"
    );
    for meta in &held {
        assert!(meta.is_compact(), "{meta:?} is held in full");
    }
    assert_one_label_map(&held);
}

/// The metadata of alpha's role bindings, limit ranges and quotas.
fn alphas_held_metadata(view: &Snapshot) -> Vec<&crate::view::HeldMeta> {
    use crate::view::{LimitRange, ResourceQuota, RoleBinding};

    let mut held = Vec::new();
    for ns in ["alpha-dev", "alpha-build", "alpha-shared"] {
        let here = view.in_namespace(ns);
        held.extend(here.owned_in::<RoleBinding>().map(|(_, o, _)| &o.metadata));
        held.extend(here.owned_in::<LimitRange>().map(|(_, o, _)| &o.metadata));
        held.extend(
            here.owned_in::<ResourceQuota>()
                .map(|(_, o, _)| &o.metadata),
        );
    }
    held
}

/// Asserts that every one of `held` holds the same label map.
fn assert_one_label_map(held: &[&crate::view::HeldMeta]) {
    let first = held[0].shared_labels().expect("labelled");
    for meta in held {
        let labels = meta.shared_labels().expect("labelled");
        assert!(
            std::sync::Arc::ptr_eq(labels, first),
            "{meta:?} has its own labels"
        );
    }
}

#[test]
fn an_edited_quota_reaches_every_namespace_of_its_tenants() {
    use crate::view::LimitRange;

    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let mut edited = quota(
        "small",
        json!({"requests.cpu": "4", "pods": "30", "requests.memory": "8Gi"}),
    );
    if let Some(limit) = edited
        .spec
        .limitrange
        .as_mut()
        .and_then(|l| std::sync::Arc::make_mut(l).limits.first_mut())
    {
        limit.default = Some(BTreeMap::from([(
            "cpu".to_owned(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("750m".into()),
        )]));
    }
    put(&mut s, edited);
    converge(&mut s, "alpha");
    for ns in ["alpha-dev", "alpha-build", "alpha-shared"] {
        let view = s.snapshot();
        let here = view.in_namespace(ns);
        let default_cpu = here
            .owned::<LimitRange>(crate::labels::LIMIT_RANGE_NAME)
            .and_then(|(lr, _)| {
                lr.spec
                    .as_ref()?
                    .limits
                    .first()?
                    .default
                    .as_ref()?
                    .get("cpu")
                    .cloned()
            });
        assert_eq!(
            default_cpu.map(|q| q.0),
            Some("750m".to_owned()),
            "{ns}'s limit range"
        );
        let pods = view
            .resource_quota(ns, "tenant-quota")
            .and_then(|rq| rq.spec.as_ref()?.hard.as_ref()?.get("pods").cloned());
        assert_eq!(pods.map(|q| q.0), Some("30".to_owned()), "{ns}'s quota");
    }
    // Each namespace holds the Quota's own limits and (pooled) its own
    // total, not copies of them.
    let view = s.snapshot();
    let small = view.quota("small").expect("the Quota");
    let (limits, total) = (
        small.spec.limitrange.as_ref().expect("limits"),
        small.spec.resourcequota.as_ref().expect("a total"),
    );
    for ns in ["alpha-dev", "alpha-build", "alpha-shared"] {
        let here = view.in_namespace(ns);
        let held_limits = here
            .owned::<LimitRange>(crate::labels::LIMIT_RANGE_NAME)
            .and_then(|(lr, _)| lr.spec.as_ref());
        assert!(
            held_limits.is_some_and(|held| std::sync::Arc::ptr_eq(held, limits)),
            "{ns}'s limit range holds the Quota's limits"
        );
        let held_total = view
            .resource_quota(ns, "tenant-quota")
            .and_then(|rq| rq.spec.as_ref());
        assert!(
            held_total.is_some_and(|held| std::sync::Arc::ptr_eq(held, total)),
            "{ns}'s resource quota holds the Quota's total"
        );
    }
    assert_active_and_steady_with(&s, "alpha", "QuotaResolved");

    put(&mut s, quota("small", json!({"pods": "lots"})));
    converge(&mut s, "alpha");
    let status = tenant_of(&s, "alpha").status.expect("status");
    assert!(
        status.conditions.iter().any(|c| c.type_ == "QuotaResolved"
            && c.status == "False"
            && c.reason == "QuotaInvalid"),
        "{:?}",
        status.conditions
    );
    let pods = s
        .snapshot()
        .resource_quota("alpha-dev", "tenant-quota")
        .and_then(|rq| rq.spec.as_ref()?.hard.as_ref()?.get("pods").cloned());
    assert_eq!(
        pods.map(|q| q.0),
        Some("30".to_owned()),
        "an invalid Quota is not applied"
    );
}

#[test]
fn a_small_quota_over_many_namespaces_stays_usable() {
    let mut t = alpha();
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.with_tenant_prefix = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        n.sandboxes = None;
    }
    let mut s = ApiServer::default();
    put(
        &mut s,
        split_quota(
            "small",
            json!({"services.loadbalancers": "2", "configmaps": "10"}),
        ),
    );
    put(&mut s, t);
    converge(&mut s, "alpha");
    let hard = |ns: &str, r: &str| {
        s.snapshot()
            .resource_quota(ns, "tenant-quota")
            .and_then(|q| q.spec.as_ref()?.hard.as_ref()?.get(r).cloned())
            .map(|v| v.0)
            .unwrap_or_else(|| panic!("no {r} quota in {ns}"))
    };
    // Six namespaces, alpha-a … alpha-e and alpha-shared: by name.
    let namespaces = [
        "alpha-a",
        "alpha-b",
        "alpha-c",
        "alpha-d",
        "alpha-e",
        "alpha-shared",
    ];
    let lbs: Vec<String> = namespaces
        .iter()
        .map(|ns| hard(ns, "services.loadbalancers"))
        .collect();
    assert_eq!(
        lbs,
        ["1", "1", "0", "0", "0", "0"],
        "both load balancers usable"
    );
    let configmaps: Vec<String> = namespaces.iter().map(|ns| hard(ns, "configmaps")).collect();
    assert_eq!(configmaps, ["2", "2", "2", "2", "1", "1"], "all ten usable");
}

#[test]
fn a_namespace_someone_is_deleting_is_claimed_once_it_is_gone() {
    let mut s = cluster(&[]);
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("alpha-dev".into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        },
    );
    s.delete(
        &ObjectRef::cluster(Kind::Namespace, "alpha-dev"),
        None,
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    put(&mut s, alpha());
    let d = decide(&tenant_of(&s, "alpha"), s.snapshot(), now());
    let touches_it = |d: &Decision| {
        d.actions.iter().any(|a| {
            a.target().namespace.as_deref() == Some("alpha-dev") || a.target().name == "alpha-dev"
        })
    };
    assert!(
        !touches_it(&d),
        "nothing written into a terminating namespace: {d:#?}"
    );
    assert!(
        matches!(d.requeue, crate::action::Requeue::After(_)),
        "it is looked at again, as a deletion sends no event the tenant reads"
    );
    assert!(
        d.phase == TenantPhase::Provisioning,
        "not Active while a namespace waits: {:?}",
        d.phase
    );

    s.finalize_namespaces();
    converge(&mut s, "alpha");
    assert_eq!(
        labels(&s, "alpha-dev")
            .get(TENANT_LABEL)
            .map(String::as_str),
        Some("alpha")
    );
    assert_active_and_steady_with(&s, "alpha", "NamespacesClaimed");
}

#[test]
fn a_namespace_two_tenants_ask_for_goes_to_the_first() {
    let mut first = tenant(
        json!({"metadata": {"name": "first", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"namespaces": {"withoutTenantPrefix": ["shared"]}}}),
    );
    let second = tenant(
        json!({"metadata": {"name": "second", "creationTimestamp": "2026-02-01T00:00:00Z"}, "spec": {"namespaces": {"withoutTenantPrefix": ["shared", "second-own"]}}}),
    );
    first.metadata.generation = Some(1);
    let mut s = cluster(&[first, second]);
    // The later tenant decides first; it still must not take the namespace.
    converge(&mut s, "second");
    assert!(s.snapshot().namespace("shared").is_none());
    assert!(s.snapshot().namespace("second-own").is_some());
    let status = tenant_of(&s, "second").status.clone().unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Degraded"));
    let claimed = status
        .conditions
        .iter()
        .find(|c| c.type_ == "NamespacesClaimed")
        .cloned()
        .unwrap_or_else(|| panic!("no NamespacesClaimed"));
    assert_eq!(claimed.reason, "NamespaceConflict");
    assert!(
        claimed
            .message
            .contains("shared is also requested by tenant first"),
        "{}",
        claimed.message
    );
    converge(&mut s, "first");
    assert_eq!(
        labels(&s, "shared").get(TENANT_LABEL).map(String::as_str),
        Some("first")
    );
    converge(&mut s, "second");
    assert_eq!(
        labels(&s, "shared").get(TENANT_LABEL).map(String::as_str),
        Some("first"),
        "nothing of the other tenant changes"
    );
}

#[test]
fn a_conflict_is_reported_as_an_event_once() {
    let mut s = cluster(&[]);
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("x".into()),
                labels: Some([(TENANT_LABEL.to_string(), "other".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    put(
        &mut s,
        tenant(
            json!({"metadata": {"name": "t"}, "spec": {"namespaces": {"withoutTenantPrefix": ["x"]}}}),
        ),
    );
    let decisions = converge(&mut s, "t");
    assert_eq!(decisions[0].events.len(), 1);
    assert!(
        decisions[0].events[0]
            .message
            .contains("x belongs to tenant other")
    );
    assert!(decisions.last().is_some_and(|d| d.events.is_empty()));
    assert_eq!(
        labels(&s, "x").get(TENANT_LABEL).map(String::as_str),
        Some("other")
    );
}

#[test]
fn privileged_namespaces_are_never_claimed() {
    let mut s = cluster(&[tenant(
        json!({"metadata": {"name": "t"}, "spec": {"namespaces": {"withoutTenantPrefix": ["kube-system", "default"]}}}),
    )]);
    converge(&mut s, "t");
    assert!(
        s.snapshot().namespace("kube-system").is_none()
            && s.snapshot().namespace("default").is_none()
    );
    assert_eq!(
        tenant_of(&s, "t")
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .as_deref(),
        Some("Degraded")
    );
}

#[test]
fn a_missing_quota_holds_new_namespaces_and_keeps_existing_ones() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let mut t = tenant_of(&s, "alpha");
    t.spec.quota = Some("missing".into());
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.with_tenant_prefix.push("qa".into())
    }
    put(&mut s, t);
    let decisions = converge(&mut s, "alpha");
    assert!(
        s.snapshot().namespace("alpha-qa").is_none(),
        "not created without its quota"
    );
    assert!(s.snapshot().namespace("alpha-dev").is_some());
    assert!(
        s.snapshot()
            .resource_quota("alpha-dev", "tenant-quota")
            .is_some(),
        "existing quota objects are kept"
    );
    let status = tenant_of(&s, "alpha").status.clone().unwrap_or_default();
    let ready = &status.conditions[0];
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "QuotaNotFound")
    );
    assert!(ready.message.contains("alpha-qa"), "{}", ready.message);
    assert!(
        decisions[0]
            .events
            .iter()
            .any(|e| e.reason == "QuotaNotFound")
    );
}

#[test]
fn an_invalid_spec_changes_nothing_but_status() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let namespaces = |s: &ApiServer| -> Vec<Namespace> {
        s.snapshot()
            .shelf::<Namespace>()
            .iter()
            .map(|n| (**n).clone())
            .collect()
    };
    let before = namespaces(&s);
    let mut t = tenant_of(&s, "alpha");
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.with_tenant_prefix = vec!["Bad_Name".into()];
    }
    put(&mut s, t);
    let d = decide(&tenant_of(&s, "alpha"), s.snapshot(), now());
    assert!(
        d.actions
            .iter()
            .all(|a| matches!(a, Action::ApplyStatus { .. })),
        "{:#?}",
        d.actions
    );
    converge(&mut s, "alpha");
    assert_eq!(namespaces(&s), before, "no deletion on doubt");
    let cond = tenant_of(&s, "alpha")
        .status
        .clone()
        .unwrap_or_default()
        .conditions;
    let spec = cond
        .iter()
        .find(|c| c.type_ == "SpecValid")
        .cloned()
        .unwrap_or_else(|| panic!("no SpecValid"));
    assert!(
        spec.message.contains("spec.namespaces.withTenantPrefix[0]"),
        "{}",
        spec.message
    );
}

#[test]
fn edits_are_followed_and_removed_namespaces_released_not_deleted() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let mut t = tenant_of(&s, "alpha");
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.with_tenant_prefix.retain(|n| n != "build")
    }
    if let Some(ac) = t.spec.access_control.as_mut() {
        ac.viewers = None;
    }
    put(&mut s, t);
    let decisions = converge(&mut s, "alpha");
    let build = s
        .snapshot()
        .namespace("alpha-build")
        .cloned()
        .unwrap_or_else(|| panic!("released, not deleted"));
    assert!(!labels(&s, "alpha-build").contains_key(TENANT_LABEL));
    assert!(
        !labels(&s, "alpha-build").contains_key("team"),
        "mto's labels go"
    );
    assert_eq!(
        build
            .metadata
            .annotations
            .and_then(|a| a.get(RELEASED_FROM_ANNOTATION).cloned())
            .as_deref(),
        Some("alpha")
    );
    assert_eq!(
        s.snapshot().role_bindings("alpha-build").count(),
        0,
        "access is removed"
    );
    assert!(
        s.snapshot()
            .resource_quota("alpha-build", "tenant-quota")
            .is_none()
    );
    assert!(
        !s.snapshot()
            .role_bindings("alpha-dev")
            .any(|rb| rb.metadata.read().name() == Some("alpha-viewer-view"))
    );
    assert!(
        decisions[0]
            .actions
            .iter()
            .all(|a| !matches!(a, Action::Delete { target, .. } if target.kind == Kind::Namespace))
    );
}

#[test]
fn a_deleted_managed_role_binding_comes_back() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    s.delete(
        &ObjectRef::namespaced(Kind::RoleBinding, "alpha-dev", "alpha-owner-admin"),
        None,
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = decide(&tenant_of(&s, "alpha"), s.snapshot(), now());
    assert_eq!(d.actions.len(), 1, "{:#?}", d.actions);
    assert!(
        matches!(&d.actions[0], Action::Apply { object: Object::RoleBinding(rb), reason: Reason::Create } if rb.metadata.read().name() == Some("alpha-owner-admin"))
    );
}

fn delete(s: &mut ApiServer, name: &str) {
    s.delete(&ObjectRef::cluster(Kind::Tenant, name), None, now())
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn deleting_without_purge_releases_every_namespace() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    delete(&mut s, "alpha");
    let decisions = converge(&mut s, "alpha");
    assert!(
        s.snapshot().shelf::<Tenant>().is_empty(),
        "finalizer removed, tenant gone"
    );
    assert_eq!(
        decisions.last().map(|d| d.phase),
        Some(TenantPhase::Terminating)
    );
    assert!(decisions.last().is_some_and(|d| matches!(
        d.actions.as_slice(),
        [Action::Patch {
            reason: Reason::RemoveFinalizer,
            ..
        }]
    )));
    assert_eq!(s.snapshot().shelf::<Namespace>().len(), 5, "all kept");
    assert!(s.snapshot().shelf::<Namespace>().iter().all(|n| {
        !n.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(TENANT_LABEL))
    }));
}

#[test]
fn purge_deletes_only_namespaces_mto_created() {
    let mut t = alpha();
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.on_delete_purge_namespaces = Some(true);
    }
    let mut s = cluster(&[t]);
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("alpha-shared".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    converge(&mut s, "alpha");
    assert_eq!(
        labels(&s, "alpha-shared")
            .get(TENANT_LABEL)
            .map(String::as_str),
        Some("alpha"),
        "adopted"
    );
    delete(&mut s, "alpha");
    converge(&mut s, "alpha");
    s.finalize_namespaces();
    assert_eq!(
        s.snapshot()
            .shelf::<Namespace>()
            .keys()
            .map(|(_, n)| n)
            .collect::<Vec<_>>(),
        ["alpha-shared"],
        "the adopted namespace is kept"
    );
}

#[test]
fn every_decision_follows_the_transition_table() {
    let mut s = cluster(&[alpha()]);
    let check = |ds: &[Decision]| {
        for d in ds {
            assert!(
                machine::allowed(d.from, d.phase),
                "{:?} -> {:?}",
                d.from,
                d.phase
            );
        }
    };
    check(&converge(&mut s, "alpha"));
    delete(&mut s, "alpha");
    check(&converge(&mut s, "alpha"));
}

#[test]
fn a_namespace_labelled_by_a_tenant_owner_joins_and_is_never_purged() {
    let mut t = alpha();
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.on_delete_purge_namespaces = Some(true);
    }
    let mut s = cluster(&[t]);
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("alpha-extra".into()),
                labels: Some([(TENANT_LABEL.to_string(), "alpha".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    converge(&mut s, "alpha");
    assert!(
        s.snapshot()
            .role_bindings("alpha-extra")
            .any(|rb| rb.metadata.read().name() == Some("alpha-owner-admin")),
        "joined namespaces get the tenant's access"
    );
    assert!(
        tenant_of(&s, "alpha")
            .status
            .as_ref()
            .is_some_and(|st| st.namespaces.contains(&"alpha-extra".to_string()))
    );
    delete(&mut s, "alpha");
    let decisions = converge(&mut s, "alpha");
    assert!(
        s.snapshot().namespace("alpha-extra").is_some(),
        "never purged"
    );
    assert!(
        !labels(&s, "alpha-extra").contains_key(TENANT_LABEL),
        "its tenant label goes with the tenant"
    );
    assert!(decisions.iter().flat_map(|d| &d.actions).any(|a| matches!(
        a,
        Action::Patch {
            reason: Reason::Release,
            ..
        }
    )));
}

fn with_hibernation(mut t: Tenant, sleep: &str, wake: &str) -> Tenant {
    t.spec.hibernation = Some(crate::api::TenantHibernation {
        sleep_schedule: sleep.into(),
        wake_schedule: wake.into(),
    });
    t
}

/// A tenant from an operator version that had `spec.hibernation` keeps it:
/// mto carries it as a ClusterResourceSupervisor over the tenant's
/// namespaces, follows edits, and removes it with the field or the tenant.
#[test]
fn spec_hibernation_becomes_a_supervisor_of_the_tenants_namespaces() {
    let mut s = cluster(&[with_hibernation(alpha(), "0 20 * * 1-5", "0 8 * * 1-5")]);
    converge(&mut s, "alpha");
    let crs = s
        .snapshot()
        .cluster_resource_supervisor("alpha")
        .cloned()
        .expect("supervisor");
    assert_eq!(crs.spec.schedule.sleep_schedule, "0 20 * * 1-5");
    assert_eq!(
        crs.spec.schedule.wake_schedule.as_deref(),
        Some("0 8 * * 1-5")
    );
    let selected = crate::hibernation::WorkloadView::supervised_namespaces(
        s.snapshot(),
        &crate::hibernation::Supervisor::Cluster(&crs),
    );
    assert_eq!(selected.len(), 5, "every namespace of alpha: {selected:?}");
    assert_active_and_steady_with(&s, "alpha", "HibernationApplied");

    // Edited: the supervisor follows.
    let edited = with_hibernation(tenant_of(&s, "alpha"), "0 22 * * *", "0 6 * * *");
    put(&mut s, edited);
    converge(&mut s, "alpha");
    assert_eq!(
        s.snapshot().cluster_resource_supervisor("alpha").map(|c| c
            .spec
            .schedule
            .sleep_schedule
            .clone()),
        Some("0 22 * * *".into())
    );

    // Removed: so is the supervisor.
    let mut plain = tenant_of(&s, "alpha");
    plain.spec.hibernation = None;
    put(&mut s, plain);
    converge(&mut s, "alpha");
    assert!(s.snapshot().cluster_resource_supervisor("alpha").is_none());
}

#[test]
fn a_supervisor_of_the_same_name_that_is_not_the_tenants_is_left_alone() {
    let mut s = cluster(&[with_hibernation(alpha(), "0 20 * * *", "0 8 * * *")]);
    let theirs = crate::api::ClusterResourceSupervisor::new("alpha", Default::default());
    put(&mut s, theirs.clone());
    converge(&mut s, "alpha");
    assert_eq!(
        s.snapshot()
            .cluster_resource_supervisor("alpha")
            .map(|c| &c.spec),
        Some(&theirs.spec)
    );
    let status = tenant_of(&s, "alpha").status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Degraded"));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("ready");
    assert_eq!(ready.reason, "SupervisorConflict");
    assert!(
        ready.message.contains("remove spec.hibernation"),
        "{}",
        ready.message
    );
}

#[test]
fn a_deleted_tenant_takes_its_hibernation_supervisor_with_it() {
    let mut s = cluster(&[with_hibernation(alpha(), "0 20 * * *", "0 8 * * *")]);
    converge(&mut s, "alpha");
    delete(&mut s, "alpha");
    converge(&mut s, "alpha");
    assert!(s.snapshot().shelf::<Tenant>().is_empty());
    assert!(s.snapshot().cluster_resource_supervisor("alpha").is_none());
}

/// A namespace someone relabels from one tenant to another loses the
/// first tenant's bindings: its members must not keep access.
#[test]
fn a_namespace_relabelled_to_another_tenant_loses_the_first_tenants_access() {
    let other = tenant(json!({
        "metadata": {"name": "other"},
        "spec": {"accessControl": {"owners": {"users": ["olga"]}}}
    }));
    let mut s = cluster(&[alpha(), other]);
    // A namespace its owner labelled into alpha: it joins alpha.
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("team-tools".into()),
                labels: Some([(TENANT_LABEL.to_string(), "alpha".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    converge(&mut s, "alpha");
    converge(&mut s, "other");
    assert!(s.snapshot().role_bindings("team-tools").count() > 0);
    let mut tools = s
        .snapshot()
        .namespace("team-tools")
        .cloned()
        .expect("tools");
    if let Some(labels) = tools.metadata.labels.as_mut() {
        labels.insert(TENANT_LABEL.into(), "other".into());
    }
    put(&mut s, tools);
    converge(&mut s, "other");
    let bindings: Vec<String> = s
        .snapshot()
        .role_bindings("team-tools")
        .filter_map(|rb| rb.metadata.read().name().map(str::to_owned))
        .collect();
    assert_eq!(
        bindings,
        ["other-owner-admin"],
        "only the new tenant's access"
    );
}

/// A namespace made privileged while a tenant has it is no tenant's any
/// more: the tenant's access and quota there go.
#[test]
fn a_namespace_made_privileged_loses_the_tenants_access_and_quota() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    assert!(s.snapshot().role_bindings("alpha-shared").count() > 0);
    put(
        &mut s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("mto-system".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    put(
        &mut s,
        serde_json::from_value::<IntegrationConfig>(json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
            "metadata": {"name": "mto", "namespace": "mto-system"},
            "spec": {"accessControl": {"privileged": {"namespaces": ["^alpha-shared$"]}}}
        }))
        .unwrap_or_else(|e| panic!("{e}")),
    );
    converge(&mut s, "alpha");
    let v = s.snapshot();
    assert_eq!(v.role_bindings("alpha-shared").count(), 0, "no access");
    assert!(
        v.resource_quota("alpha-shared", "tenant-quota").is_none(),
        "no quota"
    );
    assert!(
        !labels(&s, "alpha-shared").contains_key(TENANT_LABEL),
        "released: mto had labelled it"
    );
    assert!(s.snapshot().namespace("alpha-shared").is_some(), "kept");
}

/// Pooled (the default): every namespace may use the whole total, and a
/// namespace added or removed rewrites no other namespace's quota.
#[test]
fn a_pooled_quota_gives_every_namespace_the_whole_total() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let hard = |s: &ApiServer, ns: &str| {
        s.snapshot()
            .resource_quota(ns, "tenant-quota")
            .and_then(|q| q.spec.as_ref()?.hard.clone())
            .unwrap_or_default()
    };
    let total = quota(
        "small",
        json!({"requests.cpu": "4", "pods": "20", "requests.memory": "8Gi"}),
    )
    .spec
    .resourcequota
    .and_then(|r| r.hard.clone())
    .unwrap_or_default();
    for ns in s.snapshot().tenant_namespaces("alpha") {
        assert_eq!(hard(&s, ns), total, "{ns}");
    }
    let mut t = tenant_of(&s, "alpha");
    if let Some(n) = t.spec.namespaces.as_mut() {
        n.with_tenant_prefix.push("qa".into())
    }
    put(&mut s, t);
    let t = tenant_of(&s, "alpha");
    let d = decide(&t, s.snapshot(), now());
    let quotas: Vec<String> = d
        .actions
        .iter()
        .map(ToString::to_string)
        .filter(|a| a.contains("ResourceQuota/"))
        .collect();
    assert_eq!(quotas.len(), 1, "only the new namespace's: {quotas:?}");
    assert!(quotas[0].contains("alpha-qa"), "{quotas:?}");
}

/// A namespace's quota someone stripped and raised is mended, and no write
/// on the way takes the tenant's sums above its quota.
#[test]
fn a_stripped_and_raised_quota_is_mended_within_the_tenants_quota() {
    let mut s = cluster(&[alpha()]);
    split_evenly(&mut s);
    converge(&mut s, "alpha");
    let mut rq = s
        .snapshot()
        .resource_quota("alpha-dev", "tenant-quota")
        .cloned()
        .expect("quota");
    std::sync::Arc::make_mut(rq.spec.get_or_insert_with(Default::default)).hard = Some(
        [(
            "pods".to_owned(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("999".into()),
        )]
        .into(),
    );
    put(&mut s, rq);
    for d in converge(&mut s, "alpha") {
        for a in &d.actions {
            assert!(
                crate::invariants::check_action(s.snapshot(), a).is_none(),
                "{a}"
            );
        }
    }
    let hard = s
        .snapshot()
        .resource_quota("alpha-dev", "tenant-quota")
        .and_then(|q| q.spec.as_ref()?.hard.clone())
        .unwrap_or_default();
    assert_eq!(hard.get("pods").map(|q| q.0.as_str()), Some("4"), "mended");
    assert!(hard.contains_key("requests.cpu"), "and whole again");
}

/// Someone adds a subject to the namespace creator binding: mto puts the
/// owners back, and the mended binding is steady (no write at rest).
#[test]
fn a_stranger_added_to_the_namespace_creator_binding_is_removed() {
    use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Subject};
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let name = "mto-namespace-creator-alpha";
    let granted = |s: &ApiServer| {
        s.snapshot()
            .get::<ClusterRoleBinding>("", name)
            .and_then(|b| b.subjects.clone())
            .unwrap_or_default()
    };
    let owners = granted(&s);
    let mut edited = s
        .snapshot()
        .get::<ClusterRoleBinding>("", name)
        .cloned()
        .expect("granted");
    edited.subjects.get_or_insert_with(Vec::new).push(Subject {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "User".into(),
        name: "mallory@example.com".into(),
        namespace: None,
    });
    put(&mut s, edited);
    let t = tenant_of(&s, "alpha");
    let mended = decide(&t, s.snapshot(), now());
    assert!(
        mended.actions.iter().any(|a| matches!(
            a,
            Action::Apply {
                reason: Reason::Drift,
                ..
            }
        )),
        "{mended:#?}"
    );
    converge(&mut s, "alpha");
    assert_eq!(granted(&s), owners, "the owners alone");
    assert!(
        decide(&tenant_of(&s, "alpha"), s.snapshot(), now())
            .actions
            .is_empty()
    );
}

/// A tenant's owners may ask for namespaces: mto binds them, and only
/// them, to the namespace creator role, follows the owners as they change,
/// and takes the binding away with the tenant.
#[test]
fn owners_are_granted_to_ask_for_namespaces_while_the_tenant_lasts() {
    use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let binding = |s: &ApiServer| {
        s.snapshot()
            .get::<ClusterRoleBinding>("", "mto-namespace-creator-alpha")
            .cloned()
    };
    let granted = binding(&s).expect("granted");
    assert_eq!(granted.role_ref.name, "mto-namespace-creator");
    let subjects: Vec<String> = granted
        .subjects
        .iter()
        .flatten()
        .map(|s| format!("{}:{}", s.kind, s.name))
        .collect();
    assert_eq!(subjects, ["Group:alpha-admins", "User:anna@example.com"]);
    // Owners change: the grant follows.
    let mut t = tenant_of(&s, "alpha");
    if let Some(owners) = t
        .spec
        .access_control
        .as_mut()
        .and_then(|a| a.owners.as_mut())
    {
        owners.groups.clear();
    }
    put(&mut s, t);
    converge(&mut s, "alpha");
    assert_eq!(
        binding(&s).and_then(|b| b.subjects).map(|s| s.len()),
        Some(1)
    );
    // The tenant goes: so does the grant.
    let uid = tenant_of(&s, "alpha").metadata.uid.clone();
    s.delete(
        &ObjectRef::cluster(crate::action::Kind::Tenant, "alpha"),
        uid.as_deref(),
        now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    converge(&mut s, "alpha");
    assert!(binding(&s).is_none(), "taken away with the tenant");
}

fn with_template_instances(mut t: Tenant, templates: &[&str]) -> Tenant {
    t.spec.template_instances = templates
        .iter()
        .map(|name| crate::api::TenantTemplateInstance {
            spec: crate::api::TemplateInstanceSpec {
                template: (*name).to_owned(),
                sync: true,
                parameters: Vec::new(),
            },
            selector: None,
        })
        .collect();
    t
}

#[test]
fn spec_template_instances_become_cluster_template_instances_of_the_tenants_namespaces() {
    let mut s = cluster(&[with_template_instances(alpha(), &["baseline", "quotas"])]);
    converge(&mut s, "alpha");
    let cti = s
        .snapshot()
        .cluster_template_instance("alpha-baseline")
        .cloned()
        .expect("instance");
    assert_eq!(cti.spec.template, "baseline");
    assert!(cti.spec.sync);
    assert_eq!(
        cti.spec
            .selector
            .match_labels
            .as_ref()
            .and_then(|l| l.get(TENANT_LABEL))
            .map(String::as_str),
        Some("alpha"),
        "the tenant's namespaces only"
    );
    assert!(
        s.snapshot()
            .cluster_template_instance("alpha-quotas")
            .is_some()
    );
    assert_active_and_steady_with(&s, "alpha", "TemplatesInstantiated");

    // One entry removed: its instance goes.
    let fewer = with_template_instances(tenant_of(&s, "alpha"), &["baseline"]);
    put(&mut s, fewer);
    converge(&mut s, "alpha");
    assert!(
        s.snapshot()
            .cluster_template_instance("alpha-quotas")
            .is_none()
    );
    assert!(
        s.snapshot()
            .cluster_template_instance("alpha-baseline")
            .is_some()
    );

    // The tenant deleted: so are its instances.
    s.delete(&ObjectRef::cluster(Kind::Tenant, "alpha"), None, now())
        .expect("marked");
    converge(&mut s, "alpha");
    assert!(
        s.snapshot()
            .cluster_template_instance("alpha-baseline")
            .is_none()
    );
}

#[test]
fn a_cluster_template_instance_of_the_same_name_that_is_not_the_tenants_is_left_alone() {
    let mut s = cluster(&[with_template_instances(alpha(), &["baseline"])]);
    let theirs = crate::api::ClusterTemplateInstance::new(
        "alpha-baseline",
        crate::api::ClusterTemplateInstanceSpec {
            template: "other".into(),
            ..Default::default()
        },
    );
    put(&mut s, theirs.clone());
    converge(&mut s, "alpha");
    assert_eq!(
        s.snapshot()
            .cluster_template_instance("alpha-baseline")
            .map(|c| &c.spec),
        Some(&theirs.spec),
        "never written"
    );
    let status = tenant_of(&s, "alpha").status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Degraded"));
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "TemplatesInstantiated"
                && c.status == "False"
                && c.message.contains("alpha-baseline"))
    );
}

fn network_config(s: &mut ApiServer, isolate: bool) {
    put(
        s,
        Namespace {
            metadata: ObjectMeta {
                name: Some("mto-system".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    put(
        s,
        serde_json::from_value::<IntegrationConfig>(json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
            "metadata": {"name": "mto", "namespace": "mto-system"},
            "spec": {"tenantPolicies": {"network": {"disableIntraTenantNetworking": isolate}}}
        }))
        .unwrap_or_else(|e| panic!("{e}")),
    );
}

fn network_policy(
    s: &ApiServer,
    namespace: &str,
) -> Option<k8s_openapi::api::networking::v1::NetworkPolicy> {
    s.snapshot()
        .get(namespace, crate::labels::NETWORK_POLICY_NAME)
        .cloned()
}

/// Kept apart, every namespace of a tenant takes traffic only from the
/// tenant's own namespaces and from namespaces of no tenant; the policy
/// comes back when deleted and goes when no longer asked for.
#[test]
fn tenants_kept_apart_get_a_network_policy_in_every_namespace() {
    let mut s = cluster(&[alpha()]);
    network_config(&mut s, true);
    converge(&mut s, "alpha");
    assert_active_and_steady_with(&s, "alpha", "Ready");
    let namespaces: Vec<String> = s
        .snapshot()
        .tenant_namespaces("alpha")
        .map(str::to_owned)
        .collect();
    assert!(namespaces.len() >= 3, "{namespaces:?}");
    for ns in &namespaces {
        let policy = network_policy(&s, ns).unwrap_or_else(|| panic!("no policy in {ns}"));
        let spec = serde_json::to_value(policy.spec).expect("json");
        assert_eq!(
            spec["policyTypes"],
            json!(["Ingress"]),
            "egress (DNS) left alone"
        );
        assert_eq!(spec["podSelector"], json!({}), "every pod");
        assert_eq!(
            spec["ingress"][0]["from"],
            json!([
                {"namespaceSelector": {"matchLabels": {TENANT_LABEL: "alpha"}}},
                {"namespaceSelector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "DoesNotExist"}]}},
            ])
        );
    }
    let target = ObjectRef::namespaced(
        Kind::NetworkPolicy,
        &namespaces[0],
        crate::labels::NETWORK_POLICY_NAME,
    );
    s.delete(&target, None, now()).expect("deleted");
    converge(&mut s, "alpha");
    assert!(
        network_policy(&s, &namespaces[0]).is_some(),
        "it comes back"
    );

    network_config(&mut s, false);
    converge(&mut s, "alpha");
    assert_active_and_steady_with(&s, "alpha", "Ready");
    for ns in &namespaces {
        assert!(network_policy(&s, ns).is_none(), "{ns} keeps no policy");
    }
}

/// A view reading the cluster back, each object decoded apart as the
/// operator decodes it, holds once what every namespace holds of the
/// tenant's Quota: each limit range its limits, each pooled quota its
/// total. What differs from the Quota stays the object's own.
/// `object` as a client reads it: written as JSON and decoded anew.
fn decoded(object: &Object) -> Object {
    Object::from_json(object.to_json().expect("encodes")).expect("decodes")
}

/// A view of what `s` holds of `kinds`, listed in that order as the
/// operator lists them, each object decoded apart.
fn read_back(s: &ApiServer, kinds: &[Kind]) -> Snapshot {
    let mut view = Snapshot::default();
    for kind in kinds {
        let listed = s
            .snapshot()
            .list(kind)
            .iter()
            .map(decoded)
            .map(crate::view::Taken::new)
            .collect();
        let _ = view.replace(kind, listed);
    }
    view
}

/// A view reading a tenant's objects back, each decoded apart, holds one
/// label map for all its bindings, quotas and limit ranges, as the
/// decisions that made them did.
#[test]
fn a_view_holds_a_tenants_labels_once() {
    use crate::view::Taken;

    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let mut view = read_back(
        &s,
        &[
            Kind::Tenant,
            Kind::Namespace,
            Kind::RoleBinding,
            Kind::LimitRange,
            Kind::ResourceQuota,
        ],
    );
    // And one more binding, heard from a watch.
    let mut heard = s
        .snapshot()
        .role_bindings("alpha-build")
        .next()
        .cloned()
        .expect("a binding");
    heard.metadata.full_mut().name = Some("alpha-heard".into());
    let _ = view.put_taken(Taken::new(decoded(&Object::from(heard))));
    let held = alphas_held_metadata(&view);
    assert!(held.iter().any(|m| m.read().name() == Some("alpha-heard")));
    assert_one_label_map(&held);
}

#[test]
fn a_view_holds_the_quotas_bodies_once() {
    use std::sync::Arc;

    use crate::view::{LimitRange, ResourceQuota};

    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    // Listed as the operator lists them: the tenants and Quotas first.
    let mut view = read_back(
        &s,
        &[
            Kind::Tenant,
            Kind::Quota,
            Kind::LimitRange,
            Kind::ResourceQuota,
        ],
    );
    let namespaces = ["alpha-dev", "alpha-build", "alpha-shared"];
    let held = |view: &Snapshot, ns: &str| {
        let here = view.in_namespace(ns);
        let limits = here
            .owned::<LimitRange>(crate::labels::LIMIT_RANGE_NAME)
            .and_then(|(lr, _)| lr.spec.clone());
        let total = here
            .owned::<ResourceQuota>(crate::labels::RESOURCE_QUOTA_NAME)
            .and_then(|(rq, _)| rq.spec.clone());
        (limits, total)
    };
    let quota = |view: &Snapshot| {
        let small = view.quota("small").expect("the Quota");
        (
            small.spec.limitrange.clone().expect("limits"),
            small.spec.resourcequota.clone().expect("a total"),
        )
    };
    let (limits, total) = quota(&view);
    for ns in namespaces {
        let (held_limits, held_total) = held(&view, ns);
        assert!(
            held_limits.is_some_and(|h| Arc::ptr_eq(&h, &limits)),
            "{ns}'s limits, listed"
        );
        assert!(
            held_total.is_some_and(|h| Arc::ptr_eq(&h, &total)),
            "{ns}'s total, listed"
        );
    }
    // A watch brings the limit range labelled anew, its limits the same:
    // still the Quota's. One with limits of its own keeps them.
    let dev = || {
        let object = s
            .snapshot()
            .object(&ObjectRef::namespaced(
                Kind::LimitRange,
                "alpha-dev",
                crate::labels::LIMIT_RANGE_NAME,
            ))
            .expect("alpha-dev's limit range");
        match decoded(&object) {
            Object::LimitRange(lr) => Arc::unwrap_or_clone(lr),
            other => panic!("a limit range, not {other:?}"),
        }
    };
    let mut relabelled = dev();
    relabelled
        .metadata
        .full_mut()
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("team".into(), "a".into());
    let _ = view.put(Object::from(relabelled));
    assert!(
        held(&view, "alpha-dev")
            .0
            .is_some_and(|h| Arc::ptr_eq(&h, &limits)),
        "watched"
    );
    let mut own = dev();
    Arc::make_mut(own.spec.as_mut().expect("limits"))
        .limits
        .clear();
    let _ = view.put(Object::from(own));
    let (held_limits, _) = held(&view, "alpha-dev");
    assert!(
        held_limits.is_some_and(|h| !Arc::ptr_eq(&h, &limits) && h.limits.is_empty()),
        "limits of its own are its own"
    );
}

/// The bindings of one tenant role hold one copy of its subjects, whatever
/// namespace they are in.
#[test]
fn the_bindings_of_a_role_share_its_subjects() {
    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let view = s.snapshot();
    let mut by_name: BTreeMap<String, Vec<std::sync::Arc<[k8s_openapi::api::rbac::v1::Subject]>>> =
        BTreeMap::new();
    for ns in ["alpha-dev", "alpha-build", "alpha-shared"] {
        for (name, rb, _) in view.in_namespace(ns).owned_in::<crate::view::RoleBinding>() {
            if let Some(subjects) = &rb.subjects {
                by_name
                    .entry(name.to_owned())
                    .or_default()
                    .push(subjects.clone());
            }
        }
    }
    assert!(
        by_name.len() >= 3,
        "a binding for each role: {:?}",
        by_name.keys()
    );
    for (name, held) in &by_name {
        assert_eq!(held.len(), 3, "{name} in each namespace");
        assert!(
            held.windows(2)
                .all(|w| std::sync::Arc::ptr_eq(&w[0], &w[1])),
            "the {name} bindings share their subjects"
        );
    }
}

/// A converged tenant's namespaces, role bindings, limit ranges and quotas carry the
/// applied digest of what the tenant asks for, so a decision finds them
/// in place without reading them; the digest a decision computes without
/// building an object is the one the object it would build carries.
#[test]
fn objects_in_place_carry_the_digest_of_what_is_asked() {
    use crate::view::{LimitRange, ResourceQuota, RoleBinding};

    let mut s = cluster(&[alpha()]);
    converge(&mut s, "alpha");
    let view = s.snapshot();
    let (quota, intake) = view.quota_intake("small").expect("quota");
    let limits = quota.spec.limitrange.as_ref().expect("limit range");
    let limit_range = crate::view::desired_digest(&desired::limit_range(
        &desired::ManagedLabels::new("alpha"),
        "",
        limits,
    ));
    assert_eq!(limit_range, intake.limit_range_digest("alpha"));
    let total = quota.spec.resourcequota.as_ref().expect("resource quota");
    let whole = crate::view::desired_digest(&desired::resource_quota(
        &desired::ManagedLabels::new("alpha"),
        "",
        total,
    ));
    assert_eq!(whole, intake.whole_quota_digest("alpha"));
    assert_ne!(
        intake.whole_quota_digest("alpha"),
        intake.whole_quota_digest("beta"),
        "each tenant's labels finish the digest"
    );
    let alpha = tenant_of(&s, "alpha");
    let members = crate::claims::RoleMembers::of(&alpha.spec);
    let subjects = desired::RoleSubjects::of(&members);
    let mut bindings = 0;
    for ns in ["alpha-dev", "alpha-build", "alpha-shared"] {
        let requested = crate::claims::RequestedNamespace {
            name: ns.into(),
            kind: "".into(),
            sandbox_user: None,
            joined: false,
        };
        let asked = crate::claims::requested_namespaces(&alpha)
            .into_iter()
            .find(|r| r.name == ns)
            .expect("asked for");
        let plain = desired::Layers::plain(&alpha, view.integration());
        let own = desired::Layers::own(&alpha, view.integration(), &asked);
        let want = desired::namespace(&alpha, own.as_ref().unwrap_or(&plain), &asked, false);
        let (_, ownership) = view.owned::<Namespace>("", ns).expect("namespace");
        assert_eq!(ownership.applied(), Some(want.digest()), "{ns}");
        assert_eq!(
            Some(want.digest()),
            crate::view::desired_digest(&want.build(ns)),
            "{ns}: the digest from the layers is the built namespace's"
        );
        let mut wanted = Vec::new();
        desired::role_bindings(
            &mut wanted,
            &want,
            &requested,
            true,
            &subjects,
            view.integration(),
        );
        for want in wanted {
            let built = want.build(&desired::ManagedLabels::new("alpha"), ns);
            assert_eq!(
                Some(want.digest("alpha")),
                crate::view::desired_digest(&built)
            );
            let (_, ownership) = view
                .owned::<RoleBinding>(ns, &want.name("alpha"))
                .expect("binding");
            assert_eq!(ownership.applied(), Some(want.digest("alpha")), "{ns}");
            bindings += 1;
        }
        let (_, ownership) = view
            .owned::<LimitRange>(ns, crate::labels::LIMIT_RANGE_NAME)
            .expect("limit range");
        assert_eq!(ownership.applied(), limit_range, "{ns}");
        let (_, ownership) = view
            .owned::<ResourceQuota>(ns, crate::labels::RESOURCE_QUOTA_NAME)
            .expect("quota");
        assert_eq!(
            ownership.applied(),
            Some(desired::resource_quota_digest("alpha", total)),
            "{ns}"
        );
    }
    assert_eq!(bindings, 9, "three roles in three namespaces");
    // Every namespace alpha may have — sandboxes, one named in specific
    // metadata, one joined by its label — adopted or not: the digest
    // from the layers is the built namespace's.
    let plain = desired::Layers::plain(&alpha, view.integration());
    let mut asked = crate::claims::requested_namespaces(&alpha);
    assert!(asked.iter().any(|r| r.sandbox_user.is_some()), "a sandbox");
    asked.push(crate::claims::RequestedNamespace {
        name: "alpha-joined".into(),
        kind: "".into(),
        sandbox_user: None,
        joined: true,
    });
    for asked in &asked {
        let own = desired::Layers::own(&alpha, view.integration(), asked);
        for adopted in [false, true] {
            let want = desired::namespace(&alpha, own.as_ref().unwrap_or(&plain), asked, adopted);
            let built = want.build(&asked.name);
            assert_eq!(
                Some(want.digest()),
                crate::view::desired_digest(&built),
                "{}, adopted {adopted}",
                asked.name
            );
            let labels = built.metadata.labels.unwrap_or_default();
            assert_eq!(
                labels.contains_key(TENANT_LABEL),
                !asked.joined,
                "mto's labels on what it made: {labels:?}"
            );
            for (key, value) in &labels {
                assert_eq!(want.label(key), Some(value.as_str()), "{key}");
            }
        }
    }
    let creators = desired::namespace_creator_binding("alpha", &subjects).expect("owners");
    let want = view.tenant_intake(&alpha).namespace_creator_digest;
    assert_eq!(crate::view::desired_digest(&creators), Some(want));
    let (_, ownership) = view
        .owned::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>(
            "",
            &desired::namespace_creator_binding_name("alpha"),
        )
        .expect("namespace creator binding");
    assert_eq!(ownership.applied(), Some(want));
}

/// An object as the view takes it in: its ownership and applied digest
/// read from its managedFields.
fn as_taken<K: crate::view::Typed>(object: &K) -> crate::apply::Ownership {
    let taken = crate::view::Taken::new(K::wrap(std::sync::Arc::new(object.clone())));
    taken.ownership().clone()
}

/// Metadata whose labels mto applied (`applied`), plus labels someone
/// else set (`theirs`).
fn labelled(applied: BTreeMap<String, String>, theirs: Option<(String, String)>) -> ObjectMeta {
    let mut meta = ObjectMeta {
        name: Some("object".into()),
        namespace: Some("alpha-dev".into()),
        ..Default::default()
    };
    crate::apply::apply_metadata(
        &mut meta,
        &ObjectMeta {
            labels: Some(applied),
            ..Default::default()
        },
        "v1",
    );
    if let Some((key, value)) = theirs {
        meta.labels
            .get_or_insert_with(BTreeMap::new)
            .entry(key)
            .or_insert(value);
    }
    meta
}

proptest::proptest! {
    /// The digest never finds a binding in place that the full comparison
    /// finds drifted, and finds the one mto applied in place whatever
    /// others add.
    #[test]
    fn a_binding_is_in_place_by_digest_only_when_it_is_in_place(
        cluster_role in proptest::sample::select(vec!["admin", "edit"]),
        drop_subject: bool,
        extra_subject in proptest::option::of("[a-c]{1,2}"),
        tenant_label in proptest::sample::select(vec!["alpha", "beta"]),
        mto_label in proptest::option::of(("[a-c]", "[a-c]")),
        their_label in proptest::option::of(("[a-c]", "[a-c]")),
    ) {
        use k8s_openapi::api::rbac::v1::Subject;
        let subject = |kind: &str, name: &str| Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: kind.into(),
            name: name.into(),
            namespace: None,
        };
        let owners = [
            desired::TenantSubject { kind: "Group", name: "alpha-admins" },
            desired::TenantSubject::user("anna"),
        ];
        let want = desired::DesiredBinding {
            role: crate::integration::TenantRole::Owner,
            cluster_role: "admin",
            subjects: std::borrow::Cow::Borrowed(&owners),
            built: None,
        };
        let mut have = want.build(&desired::ManagedLabels::new("alpha"), "alpha-dev");
        have.role_ref.name = cluster_role.into();
        let mut subjects = have.subjects.as_deref().unwrap_or_default().to_vec();
        if drop_subject {
            subjects.pop();
        }
        if let Some(name) = &extra_subject {
            subjects.push(subject("User", name));
        }
        have.subjects = Some(subjects.into());
        let mut applied = desired::managed_labels(tenant_label);
        if let Some((key, value)) = mto_label.clone() {
            applied.insert(key, value);
        }
        have.metadata = labelled(applied, their_label).into();
        let ownership = as_taken(&have);
        let by_digest = plan::is_in_place(&ownership, Some(want.digest("alpha")));
        proptest::prop_assert!(!by_digest || want.matches(&have, &ownership, "alpha"));
        let as_applied = cluster_role == "admin"
            && !drop_subject
            && extra_subject.is_none()
            && tenant_label == "alpha"
            && mto_label.is_none();
        proptest::prop_assert_eq!(by_digest, as_applied);
    }

    /// The same for a namespace's share of the tenant's quota, whose
    /// quantities may be spelled another way than mto spells them.
    #[test]
    fn a_quota_is_in_place_by_digest_only_when_it_is_in_place(
        cpu in proptest::sample::select(vec!["4", "4000m", "5"]),
        memory in proptest::sample::select(vec!["8Gi", "8192Mi", "8G"]),
        pods in proptest::option::of(proptest::sample::select(vec!["20", "21"])),
        scoped: bool,
        tenant_label in proptest::sample::select(vec!["alpha", "beta"]),
        their_label in proptest::option::of(("[a-c]", "[a-c]")),
    ) {
        use k8s_openapi::api::core::v1::ResourceQuotaSpec;
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
        let hard = |cpu: &str, memory: &str, pods: Option<&str>| {
            let mut hard = BTreeMap::from([
                ("requests.cpu".to_owned(), K8sQuantity(cpu.into())),
                ("requests.memory".to_owned(), K8sQuantity(memory.into())),
            ]);
            if let Some(pods) = pods {
                hard.insert("pods".into(), K8sQuantity(pods.into()));
            }
            hard
        };
        let share = std::sync::Arc::new(ResourceQuotaSpec {
            hard: Some(hard("4", "8Gi", Some("20"))),
            ..Default::default()
        });
        let mut have = desired::resource_quota(&desired::ManagedLabels::new("alpha"), "alpha-dev", &share);
        have.spec = Some(
            ResourceQuotaSpec {
                hard: Some(hard(cpu, memory, pods)),
                scopes: scoped.then(|| vec!["NotTerminating".to_owned()]),
                ..Default::default()
            }
            .into(),
        );
        have.metadata = labelled(desired::managed_labels(tenant_label), their_label).into();
        let ownership = as_taken(&have);
        let by_digest =
            plan::is_in_place(&ownership, Some(desired::resource_quota_digest("alpha", &share)));
        let spec = have.spec.as_ref();
        let full = desired::same_quantities(share.hard.as_ref(), spec.and_then(|s| s.hard.as_ref()))
            && spec.is_some_and(|s| s.scopes == share.scopes && s.scope_selector == share.scope_selector)
            && ownership.has_managed_labels("alpha");
        proptest::prop_assert!(!by_digest || full);
        proptest::prop_assert_eq!(by_digest, full, "the digest reads quantities by value");
    }
}
