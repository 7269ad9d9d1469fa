use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use proptest::prelude::*;

use super::*;
use crate::action::{Object, Patch, Reason};
use crate::api::{
    ClusterResourceSupervisor, ClusterResourceSupervisorSpec, IntegrationConfig, ManualOverride,
    NamespaceSelection, ResourceSupervisor, ResourceSupervisorSpec, SleepSchedule,
};
use crate::apiserver::ApiServer;
use crate::labels::{HIBERNATION_EXCLUDE_ANNOTATION, OVERRIDE_ANNOTATION, TENANT_LABEL};
use crate::machine::{allowed, assert_sound};
use crate::view::{Kind, ObjectRef, Observed as _, Snapshot};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn created() -> Timestamp {
    at("2026-11-01T00:00:00Z")
}

fn meta(namespace: &str, name: &str, annotations: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        annotations: (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        }),
        ..Default::default()
    }
}

fn deployment_of(
    namespace: &str,
    name: &str,
    replicas: i32,
    annotations: &[(&str, &str)],
) -> Deployment {
    Deployment {
        metadata: meta(namespace, name, annotations),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn stateful_set_of(namespace: &str, name: &str, replicas: i32) -> StatefulSet {
    StatefulSet {
        metadata: meta(namespace, name, &[]),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn namespace(name: &str, labels: &[(&str, &str)]) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn nightly(namespace: &str) -> ResourceSupervisor {
    let mut s = ResourceSupervisor::new(
        "nightly",
        ResourceSupervisorSpec {
            schedule: SleepSchedule {
                sleep_schedule: "0 22 * * *".into(),
                wake_schedule: Some("0 6 * * *".into()),
                time_zone: None,
            },
        },
    );
    s.metadata.namespace = Some(namespace.into());
    s
}

fn nightly_id(namespace: &str) -> SupervisorId {
    SupervisorId::Namespaced {
        namespace: namespace.into(),
        name: "nightly".into(),
    }
}

/// A person creates or replaces an object, at the time supervisors are made.
fn put(c: &mut ApiServer, object: impl Into<Object>) {
    c.put(object.into(), created())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A cluster with namespace `dev`: web (3), db (2), an excluded job (4),
/// and the privileged `kube-system` with a deployment of its own.
fn cluster() -> ApiServer {
    let mut c = ApiServer::default();
    put(&mut c, namespace("mto-system", &[]));
    let config: IntegrationConfig = serde_json::from_value(serde_json::json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta1",
        "kind": "IntegrationConfig",
        "metadata": {"name": "c", "namespace": "mto-system"},
        "spec": {"accessControl": {"privileged": {"namespaces": ["^kube-.*"]}}}
    }))
    .expect("config");
    put(&mut c, config);
    put(&mut c, namespace("dev", &[(TENANT_LABEL, "alpha")]));
    put(&mut c, namespace("kube-system", &[(TENANT_LABEL, "alpha")]));
    put(&mut c, deployment_of("dev", "web", 3, &[]));
    put(&mut c, stateful_set_of("dev", "db", 2));
    put(
        &mut c,
        deployment_of("dev", "job", 4, &[(HIBERNATION_EXCLUDE_ANNOTATION, "true")]),
    );
    put(&mut c, deployment_of("kube-system", "dns", 2, &[]));
    c
}

/// Decides and carries everything out until nothing is left to do.
fn settle(c: &mut ApiServer, id: &SupervisorId, now: Timestamp) -> Vec<SupervisorDecision> {
    let mut decisions = Vec::new();
    for _ in 0..10 {
        let Some(supervisor) = Supervisor::find(c.snapshot(), id) else {
            return decisions;
        };
        let decision = decide(supervisor, c.snapshot(), now);
        assert!(
            allowed(decision.from, decision.phase),
            "{:?} → {:?}",
            decision.from,
            decision.phase
        );
        let steady = decision.actions.is_empty();
        for action in &decision.actions {
            c.execute(action, now).expect("executes");
        }
        decisions.push(decision);
        if steady {
            return decisions;
        }
    }
    panic!("{} did not settle at {now}", id.key());
}

fn find<'a>(c: &'a Snapshot, kind: &Kind, namespace: &str, name: &str) -> Option<Workload<'a>> {
    match kind {
        Kind::Deployment => c.get::<Deployment>(namespace, name).map(workload),
        _ => c.get::<StatefulSet>(namespace, name).map(workload),
    }
}

fn replicas(c: &ApiServer, kind: Kind, namespace: &str, name: &str) -> i32 {
    find(c.snapshot(), &kind, namespace, name)
        .map(|w| w.replicas)
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name}"))
}

fn status(c: &ApiServer, id: &SupervisorId) -> crate::api::ResourceSupervisorStatus {
    Supervisor::find(c.snapshot(), id)
        .and_then(|s| s.status().cloned())
        .expect("status")
}

fn decide_at(c: &ApiServer, id: &SupervisorId, now: Timestamp) -> SupervisorDecision {
    decide(
        Supervisor::find(c.snapshot(), id).expect("supervisor"),
        c.snapshot(),
        now,
    )
}

#[test]
fn the_machine_is_sound() {
    assert_sound::<SupervisorPhase>();
}

#[test]
fn a_night_puts_workloads_to_sleep_and_the_morning_brings_back_their_counts() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    let key = id.key();

    let evening = settle(&mut c, &id, at("2026-11-25T21:00:00Z"));
    assert!(matches!(
        evening[0].actions[0],
        Action::Patch {
            reason: Reason::AddFinalizer,
            ..
        }
    ));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
    let s = status(&c, &id);
    assert_eq!(s.current_status.as_deref(), Some("awake"));
    assert_eq!(
        s.next_transition_time.as_deref(),
        Some("2026-11-25T22:00:00Z")
    );

    let night = settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    assert_eq!(night[0].phase, SupervisorPhase::Sleeping);
    let sleeps = night[0]
        .actions
        .iter()
        .filter(|a| a.reason() == Some(Reason::Sleep))
        .count();
    assert_eq!(
        sleeps, 2,
        "web and db; not the excluded job, not kube-system"
    );
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 0);
    assert_eq!(replicas(&c, Kind::StatefulSet, "dev", "db"), 0);
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "job"), 4);
    assert_eq!(replicas(&c, Kind::Deployment, "kube-system", "dns"), 2);
    let web = find(c.snapshot(), &Kind::Deployment, "dev", "web").expect("web");
    assert_eq!(web.saved_replicas(), Some(3));
    assert_eq!(web.slept_by(), Some(key.as_str()));
    let s = status(&c, &id);
    assert_eq!(s.current_status.as_deref(), Some("asleep"));
    assert_eq!(s.sleeping_namespaces, ["dev"]);
    assert_eq!(
        s.sleeping_applications
            .iter()
            .map(|a| (a.kind.as_str(), a.name.as_str(), a.replicas))
            .collect::<Vec<_>>(),
        [("Deployment", "web", 3), ("StatefulSet", "db", 2)]
    );
    assert_eq!(
        s.next_transition_time.as_deref(),
        Some("2026-11-26T06:00:00Z")
    );
    // Asleep and nothing changed: no writes.
    assert!(
        decide_at(&c, &id, at("2026-11-26T03:00:00Z"))
            .actions
            .is_empty()
    );

    let morning = settle(&mut c, &id, at("2026-11-26T06:00:00Z"));
    assert_eq!(morning[0].phase, SupervisorPhase::Waking);
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
    assert_eq!(replicas(&c, Kind::StatefulSet, "dev", "db"), 2);
    let web = find(c.snapshot(), &Kind::Deployment, "dev", "web").expect("web");
    assert_eq!(web.slept_by(), None);
    assert!(web.meta.annotations.is_none());
}

#[test]
fn the_sleep_patch_saves_the_count_and_swaps_on_the_version_read() {
    let web = deployment_of("dev", "web", 3, &[]);
    let mut read = web.clone();
    read.metadata.resource_version = Some("41".into());
    let action = sleep_patch(&workload(&read), 3, "ResourceSupervisor/dev/nightly");
    let Action::Patch {
        patch: Patch::Merge(patch),
        target,
        ..
    } = &action
    else {
        panic!("{action:?}");
    };
    assert_eq!(
        *target,
        ObjectRef::namespaced(Kind::Deployment, "dev", "web")
    );
    assert_eq!(
        patch.to_json(),
        serde_json::json!({
            "metadata": {
                "annotations": {
                    "hibernation.stakater.com/replicas": "3",
                    "hibernation.stakater.com/slept-by": "ResourceSupervisor/dev/nightly"
                },
                "resourceVersion": "41"
            },
            "spec": {"replicas": 0}
        })
    );
    let Action::Patch {
        patch: Patch::Merge(patch),
        ..
    } = wake_patch(&workload(&read), 3)
    else {
        panic!("a patch");
    };
    assert_eq!(
        patch.to_json(),
        serde_json::json!({
            "metadata": {
                "annotations": {
                    "hibernation.stakater.com/replicas": null,
                    "hibernation.stakater.com/slept-by": null
                },
                "resourceVersion": "41"
            },
            "spec": {"replicas": 3}
        })
    );
}

#[test]
fn a_workload_scaled_up_while_asleep_sleeps_again_and_wakes_with_the_new_count() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    // A GitOps sync sets web to 5 at 01:00.
    put(&mut c, deployment_of("dev", "web", 5, &[]));
    let night = settle(&mut c, &id, at("2026-11-26T01:00:00Z"));
    assert!(night[0].actions.iter().any(|a| matches!(
        a,
        Action::Patch { reason: Reason::Sleep, patch, .. }
            if patch.merge().and_then(|p| p.annotations.get(crate::labels::SAVED_REPLICAS_ANNOTATION)) == Some(&Some("5".into()))
    )));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 0);
    settle(&mut c, &id, at("2026-11-26T06:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 5);
}

#[test]
fn an_excluded_namespace_never_sleeps_and_wakes_if_excluded_while_asleep() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 0);
    let mut dev = c.snapshot().namespace("dev").cloned().expect("dev");
    dev.metadata.annotations =
        Some([(HIBERNATION_EXCLUDE_ANNOTATION.to_owned(), "true".to_owned())].into());
    put(&mut c, dev);
    settle(&mut c, &id, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
    assert_eq!(replicas(&c, Kind::StatefulSet, "dev", "db"), 2);
    // And the next night leaves it alone.
    settle(&mut c, &id, at("2026-11-26T22:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
}

#[test]
fn a_workload_created_while_asleep_goes_to_sleep_too() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    put(&mut c, deployment_of("dev", "late", 2, &[]));
    settle(&mut c, &id, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "late"), 0);
    settle(&mut c, &id, at("2026-11-26T06:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "late"), 2);
}

/// A person annotates the supervisor (a replace of what they read).
fn annotate(c: &mut ApiServer, id: &SupervisorId, value: &str) {
    let SupervisorId::Namespaced { namespace, name } = id else {
        panic!("namespaced");
    };
    let mut s = c
        .snapshot()
        .get::<ResourceSupervisor>(namespace, name)
        .cloned()
        .expect("supervisor");
    s.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(OVERRIDE_ANNOTATION.into(), value.into());
    put(c, s);
}

#[test]
fn a_manual_wake_holds_until_the_next_scheduled_transition() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    annotate(&mut c, &id, "wake");
    settle(&mut c, &id, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
    let s = status(&c, &id);
    assert_eq!(
        s.manual_override,
        Some(ManualOverride {
            action: "wake".into(),
            until: Some("2026-11-26T06:00:00Z".into()),
        })
    );
    assert_eq!(s.current_status.as_deref(), Some("awake"));
    // Still overridden at 05:00, steady.
    assert!(
        decide_at(&c, &id, at("2026-11-26T05:00:00Z"))
            .actions
            .is_empty()
    );
    // At 06:00 the override ends; the schedule says awake anyway.
    let ended = settle(&mut c, &id, at("2026-11-26T06:00:00Z"));
    assert!(
        ended[0]
            .actions
            .iter()
            .any(|a| a.reason() == Some(Reason::EndOverride))
    );
    let supervisor = Supervisor::find(c.snapshot(), &id).expect("supervisor");
    assert!(
        supervisor
            .meta()
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(OVERRIDE_ANNOTATION))
    );
    // And the next night sleeps on schedule.
    settle(&mut c, &id, at("2026-11-26T22:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 0);
}

#[test]
fn an_invalid_override_is_ignored_and_said_so() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    annotate(&mut c, &id, "snooze");
    let decisions = settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    assert_eq!(
        replicas(&c, Kind::Deployment, "dev", "web"),
        0,
        "the schedule rules"
    );
    let s = status(&c, &id);
    let condition = s
        .conditions
        .iter()
        .find(|c| c.type_ == "OverrideValid")
        .expect("condition");
    assert_eq!(condition.status, "False");
    assert!(
        condition.message.contains("\"snooze\""),
        "{}",
        condition.message
    );
    assert!(
        decisions[0]
            .events
            .iter()
            .any(|e| e.warning && e.reason == "Invalid"),
        "{:?}",
        decisions[0].events
    );
}

#[test]
fn an_invalid_schedule_scales_nothing_and_says_which_field() {
    let mut c = cluster();
    let mut supervisor = nightly("dev");
    supervisor.spec.schedule.sleep_schedule = "0 25 * * *".into();
    supervisor.spec.schedule.time_zone = Some("Mars/Olympus".into());
    put(&mut c, supervisor);
    let id = nightly_id("dev");
    let decisions = settle(&mut c, &id, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
    let s = status(&c, &id);
    let valid = s
        .conditions
        .iter()
        .find(|c| c.type_ == "ScheduleValid")
        .expect("condition");
    assert_eq!(valid.status, "False");
    assert!(
        valid.message.contains("spec.schedule.sleepSchedule")
            && valid.message.contains("spec.schedule.timeZone"),
        "{}",
        valid.message
    );
    assert!(
        decisions[0].events.iter().any(|e| e.reason == "Invalid"),
        "a warning event: {:?}",
        decisions[0].events
    );
}

#[test]
fn deleting_a_supervisor_wakes_what_it_put_to_sleep_before_it_goes() {
    let mut c = cluster();
    put(&mut c, nightly("dev"));
    let id = nightly_id("dev");
    settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    c.delete(&id.object_ref(), None, at("2026-11-25T23:00:00Z"))
        .expect("deletes");
    assert!(
        Supervisor::find(c.snapshot(), &id).is_some(),
        "its finalizer holds it"
    );
    settle(&mut c, &id, at("2026-11-25T23:00:00Z"));
    assert!(
        Supervisor::find(c.snapshot(), &id).is_none(),
        "finalizer removed, gone"
    );
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
    assert_eq!(replicas(&c, Kind::StatefulSet, "dev", "db"), 2);
}

fn cluster_wide(selection: NamespaceSelection) -> ClusterResourceSupervisor {
    ClusterResourceSupervisor::new(
        "all",
        ClusterResourceSupervisorSpec {
            namespaces: selection,
            schedule: SleepSchedule::default(),
            argocd: None,
        },
    )
}

#[test]
fn a_cluster_supervisor_selects_by_name_and_label_and_an_absent_selector_matches_none() {
    let mut c = cluster();
    put(&mut c, namespace("other", &[]));
    let everything = cluster_wide(NamespaceSelection {
        names: Vec::new(),
        label_selector: Some(LabelSelector::default()),
    });
    assert_eq!(
        c.snapshot()
            .supervised_namespaces(&Supervisor::Cluster(&everything))
            .into_iter()
            .collect::<Vec<_>>(),
        ["dev", "kube-system", "mto-system", "other"]
    );
    let none = cluster_wide(NamespaceSelection::default());
    assert!(
        c.snapshot()
            .supervised_namespaces(&Supervisor::Cluster(&none))
            .is_empty()
    );
    let by_tenant = cluster_wide(NamespaceSelection {
        names: vec!["other".into()],
        label_selector: Some(LabelSelector {
            match_labels: Some([(TENANT_LABEL.to_owned(), "alpha".to_owned())].into()),
            ..Default::default()
        }),
    });
    assert_eq!(
        c.snapshot()
            .supervised_namespaces(&Supervisor::Cluster(&by_tenant))
            .into_iter()
            .collect::<Vec<_>>(),
        ["dev", "kube-system", "other"]
    );
    // An empty sleep schedule sleeps now; privileged namespaces are left alone.
    put(&mut c, everything);
    let id = SupervisorId::Cluster { name: "all".into() };
    settle(&mut c, &id, at("2026-11-25T12:00:00Z"));
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 0);
    assert_eq!(replicas(&c, Kind::Deployment, "kube-system", "dns"), 2);
}

/// One hour of the simulated night: which of the decision's actions land
/// before the operator crashes, and whether a user scales `web`.
#[derive(Clone, Debug)]
struct Hour {
    landed: usize,
    user_scales_web_to: Option<i32>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Invariant 4, across crashes at any point of sleep and wake: every
    /// workload is at its intended count, or at zero with that count saved
    /// beside it; after the morning, all run at their intended counts.
    #[test]
    fn no_crash_loses_a_replica_count(
        counts in prop::collection::vec(0i32..6, 1..6),
        hours in prop::collection::vec(
            (0usize..8, prop::option::weighted(0.1, 1i32..7))
                .prop_map(|(landed, user_scales_web_to)| Hour { landed, user_scales_web_to }),
            12,
        ),
    ) {
        let mut c = ApiServer::default();
        put(&mut c, namespace("dev", &[]));
        let mut intended = BTreeMap::new();
        for (i, n) in counts.iter().enumerate() {
            let name = if i == 0 { "web".to_owned() } else { format!("app-{i}") };
            if i % 2 == 0 {
                put(&mut c, deployment_of("dev", &name, *n, &[]));
                intended.insert((Kind::Deployment, name), *n);
            } else {
                put(&mut c, stateful_set_of("dev", &name, *n));
                intended.insert((Kind::StatefulSet, name), *n);
            }
        }
        put(&mut c, nightly("dev"));
        let id = nightly_id("dev");
        let key = id.key();
        // 20:00 to 07:00, one decision an hour, each cut short by a crash.
        for (h, hour) in hours.iter().enumerate() {
            let now = Timestamp::from_second(at("2026-11-25T20:00:00Z").as_second() + 3600 * h as i64).expect("t");
            if let Some(n) = hour.user_scales_web_to {
                put(&mut c, deployment_of("dev", "web", n, &[]));
                intended.insert((Kind::Deployment, "web".into()), n);
            }
            let decision = decide_at(&c, &id, now);
            prop_assert!(allowed(decision.from, decision.phase));
            for action in decision.actions.iter().take(hour.landed) {
                c.execute(action, now).expect("executes");
            }
            // The view's sleep index agrees with the workloads' annotations.
            let v = c.snapshot();
            let indexed: Vec<ObjectRef> = v.workloads_slept_by(&key).iter().map(|w| w.reference.clone()).collect();
            let scanned: Vec<ObjectRef> = v.workloads_in("dev").iter()
                .filter(|w| w.slept_by() == Some(key.as_str()))
                .map(|w| w.reference.clone())
                .collect();
            prop_assert_eq!(indexed, scanned);
            for ((kind, name), want) in &intended {
                let w = find(v, kind, "dev", name).expect("workload");
                let asleep_with_count = w.replicas == 0 && w.saved_replicas() == Some(*want);
                prop_assert!(w.replicas == *want || asleep_with_count,
                    "{kind}/{name} at {} (saved {:?}), intended {want}", w.replicas, w.saved_replicas());
            }
        }
        settle(&mut c, &id, at("2026-11-26T07:00:00Z"));
        for ((kind, name), want) in &intended {
            prop_assert_eq!(replicas(&c, kind.clone(), "dev", name), *want);
        }
        prop_assert!(decide_at(&c, &id, at("2026-11-26T07:30:00Z")).actions.is_empty());
    }
}

/// What happens to supervisors and namespaces, for the coverage index.
#[derive(Clone, Debug)]
enum CoverageChange {
    /// Namespace n is put with a tenant label (or none) and maybe a team label.
    Namespace(usize, Option<usize>, bool),
    /// A ResourceSupervisor in namespace n.
    Namespaced(usize),
    /// ClusterResourceSupervisor k: the namespaces it names, and its selector
    /// (0: none, 1: `{}`, 2: a tenant, 3: a team, 4: a tenant and a team).
    Cluster(usize, Vec<usize>, u8, usize),
    /// The same, applied by mto.
    Applied(usize, Vec<usize>, u8, usize),
    /// Supervisor k of either scope is deleted.
    Remove(usize),
    /// Supervisor k's status is written.
    Status(usize),
}

const NAMESPACES: [&str; 5] = ["n0", "n1", "n2", "n3", "gone"];

fn cluster_supervisor(
    k: usize,
    names: &[usize],
    selector: u8,
    tenant: usize,
) -> ClusterResourceSupervisor {
    let tenant_label = (TENANT_LABEL.to_owned(), format!("t{tenant}"));
    let team = ("team".to_owned(), "x".to_owned());
    let select = |labels: BTreeMap<String, String>| LabelSelector {
        match_labels: Some(labels),
        ..Default::default()
    };
    let label_selector = match selector {
        0 => None,
        1 => Some(LabelSelector::default()),
        2 => Some(select([tenant_label].into())),
        3 => Some(select([team].into())),
        _ => Some(select([tenant_label, team].into())),
    };
    ClusterResourceSupervisor::new(
        &format!("c{k}"),
        ClusterResourceSupervisorSpec {
            namespaces: NamespaceSelection {
                names: names
                    .iter()
                    .map(|n| NAMESPACES[n % NAMESPACES.len()].to_owned())
                    .collect(),
                label_selector,
            },
            schedule: SleepSchedule {
                sleep_schedule: "0 22 * * *".into(),
                wake_schedule: None,
                time_zone: None,
            },
            argocd: None,
        },
    )
}

fn coverage_change() -> impl Strategy<Value = CoverageChange> {
    let names = prop::collection::vec(0usize..5, 0..3);
    prop_oneof![
        (0usize..4, prop::option::of(0usize..2), any::<bool>())
            .prop_map(|(n, t, team)| CoverageChange::Namespace(n, t, team)),
        (0usize..4).prop_map(CoverageChange::Namespaced),
        (0usize..3, names.clone(), 0u8..5, 0usize..2)
            .prop_map(|(k, n, s, t)| CoverageChange::Cluster(k, n, s, t)),
        (0usize..3, names, 0u8..5, 0usize..2)
            .prop_map(|(k, n, s, t)| CoverageChange::Applied(k, n, s, t)),
        (0usize..7).prop_map(CoverageChange::Remove),
        (0usize..7).prop_map(CoverageChange::Status),
    ]
}

/// Every supervisor, by key.
fn supervisors(c: &Snapshot) -> Vec<SupervisorId> {
    c.keys()
        .filter_map(|k| match k {
            crate::view::Key::Supervisor(id) => Some(id),
            _ => None,
        })
        .collect()
}

/// Every supervisor covering `namespace`, by looking at each one.
fn covering_by_scan(c: &Snapshot, namespace: &str) -> std::collections::BTreeSet<SupervisorId> {
    let labels = c
        .namespace(namespace)
        .and_then(|n| n.metadata.labels.as_ref());
    supervisors(c)
        .into_iter()
        .filter(|id| match Supervisor::find(c, id) {
            Some(Supervisor::Namespaced(r)) => r.metadata.namespace.as_deref() == Some(namespace),
            Some(Supervisor::Cluster(c)) => {
                c.spec.namespaces.names.iter().any(|n| n == namespace)
                    || c.spec
                        .namespaces
                        .label_selector
                        .as_ref()
                        .is_some_and(|sel| crate::selector::matches(sel, labels))
            }
            None => false,
        })
        .collect()
}

proptest! {
    /// The view's coverage index answers as a scan of every supervisor
    /// would, whatever is put, applied, edited or removed.
    #[test]
    fn supervisors_covering_matches_a_scan(changes in prop::collection::vec(coverage_change(), 1..30)) {
        let mut c = ApiServer::default();
        let now = created();
        for change in &changes {
            // Refusals (a supervisor in a namespace not there yet) are fine.
            let _ = match change {
                CoverageChange::Namespace(n, tenant, team) => {
                    let mut labels = Vec::new();
                    let tenant = tenant.map(|t| format!("t{t}"));
                    if let Some(t) = &tenant {
                        labels.push((TENANT_LABEL, t.as_str()));
                    }
                    if *team {
                        labels.push(("team", "x"));
                    }
                    let mut ns = namespace(NAMESPACES[*n], &labels);
                    // A replace: the labels are exactly these.
                    ns.metadata.resource_version = c.snapshot().namespace(NAMESPACES[*n])
                        .and_then(|n| n.metadata.resource_version.clone());
                    c.put(ns.into(), now).map(|()| true)
                }
                CoverageChange::Namespaced(n) => c.put(nightly(NAMESPACES[*n]).into(), now).map(|()| true),
                CoverageChange::Cluster(k, names, selector, tenant) => {
                    c.put(cluster_supervisor(*k, names, *selector, *tenant).into(), now).map(|()| true)
                }
                CoverageChange::Applied(k, names, selector, tenant) => {
                    let action = Action::Apply {
                        object: cluster_supervisor(*k, names, *selector, *tenant).into(),
                        reason: Reason::Create,
                    };
                    c.execute(&action, now)
                }
                CoverageChange::Remove(k) => {
                    let all = supervisors(c.snapshot());
                    match all.get(k % all.len().max(1)) {
                        Some(id) => c.delete(&id.object_ref(), None, now),
                        None => Ok(false),
                    }
                }
                CoverageChange::Status(k) => {
                    let all = supervisors(c.snapshot());
                    match all.get(k % all.len().max(1)).and_then(|id| Supervisor::find(c.snapshot(), id)) {
                        Some(s) => {
                            let write = Action::ApplyStatus { object: s.with_status(Default::default()) };
                            c.execute(&write, now)
                        }
                        None => Ok(false),
                    }
                }
            };
            let v = c.snapshot();
            for ns in NAMESPACES {
                let labels = v.namespace(ns).and_then(|n| n.metadata.labels.as_ref());
                prop_assert_eq!(v.supervisors_covering(ns, labels), covering_by_scan(v, ns), "{} after {:?}", ns, change);
            }
        }
    }
}

/// An AppProject in namespace `argocd` (created with it).
fn app_project(c: &mut ApiServer, name: &str, windows: serde_json::Value) {
    if c.snapshot().namespace("argocd").is_none() {
        put(c, namespace("argocd", &[]));
    }
    put(c, app_project_object(name, windows));
}

fn app_project_object(name: &str, windows: serde_json::Value) -> Object {
    Object::from_json(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"sourceRepos": ["*"], "syncWindows": windows},
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn windows_of(c: &ApiServer, name: &str) -> serde_json::Value {
    let target = ObjectRef {
        kind: app_project_kind(),
        namespace: Some("argocd".into()),
        name: name.into(),
    };
    let project = c
        .snapshot()
        .object(&target)
        .and_then(|o| o.to_json().ok())
        .unwrap_or_else(|| panic!("no AppProject {name}"));
    project["spec"]["syncWindows"].clone()
}

fn nightly_with_argocd(projects: &[&str]) -> ClusterResourceSupervisor {
    let mut s = cluster_wide(NamespaceSelection {
        names: vec!["dev".into()],
        label_selector: None,
    });
    s.metadata.name = Some("nightly-argo".into());
    s.spec.schedule = SleepSchedule {
        sleep_schedule: "0 22 * * *".into(),
        wake_schedule: Some("0 6 * * *".into()),
        time_zone: None,
    };
    s.spec.argocd = Some(crate::api::ArgoCdProjects {
        namespace: "argocd".into(),
        app_projects: projects.iter().map(|p| (*p).to_owned()).collect(),
    });
    s
}

#[test]
fn argo_cd_is_held_before_the_workloads_sleep_and_let_go_after_they_wake() {
    let mut c = cluster();
    let theirs = serde_json::json!({"kind": "allow", "schedule": "0 9 * * *", "duration": "8h", "applications": ["web"]});
    app_project(&mut c, "frontend", serde_json::json!([theirs.clone()]));
    put(&mut c, nightly_with_argocd(&["frontend", "not-installed"]));
    let id = SupervisorId::Cluster {
        name: "nightly-argo".into(),
    };
    settle(&mut c, &id, at("2026-11-25T21:00:00Z"));
    let night = at("2026-11-25T22:00:00Z");
    let decision = decide_at(&c, &id, night);
    let reasons: Vec<Reason> = decision.actions.iter().filter_map(Action::reason).collect();
    let first_sleep = reasons.iter().position(|r| *r == Reason::Sleep);
    let last_pause = reasons.iter().rposition(|r| *r == Reason::PauseSync);
    assert!(
        matches!((last_pause, first_sleep), (Some(p), Some(s)) if p < s),
        "held before the first scale-down: {reasons:?}"
    );
    settle(&mut c, &id, night);
    assert_eq!(
        windows_of(&c, "frontend"),
        serde_json::json!([theirs.clone(), crate::action::SyncWindowEdit::window()]),
        "mto's window beside theirs"
    );
    assert_eq!(
        status(&c, &id).paused_app_projects,
        ["argocd/frontend", "argocd/not-installed"],
        "a project that does not exist holds nothing and stops nothing"
    );
    assert!(decide_at(&c, &id, night).actions.is_empty(), "steady");

    let morning = at("2026-11-26T06:00:00Z");
    let decision = decide_at(&c, &id, morning);
    let reasons: Vec<Reason> = decision.actions.iter().filter_map(Action::reason).collect();
    let last_wake = reasons.iter().rposition(|r| *r == Reason::Wake);
    let first_resume = reasons.iter().position(|r| *r == Reason::ResumeSync);
    assert!(
        matches!((last_wake, first_resume), (Some(w), Some(r)) if w < r),
        "let go after the last workload is back: {reasons:?}"
    );
    settle(&mut c, &id, morning);
    assert_eq!(
        windows_of(&c, "frontend"),
        serde_json::json!([theirs]),
        "theirs kept"
    );
    assert!(status(&c, &id).paused_app_projects.is_empty());
    assert_eq!(replicas(&c, Kind::Deployment, "dev", "web"), 3);
}

#[test]
fn a_supervisor_deleted_while_asleep_lets_argo_cd_go_before_it_goes() {
    let mut c = cluster();
    app_project(&mut c, "frontend", serde_json::json!([]));
    put(&mut c, nightly_with_argocd(&["frontend"]));
    let id = SupervisorId::Cluster {
        name: "nightly-argo".into(),
    };
    settle(&mut c, &id, at("2026-11-25T22:00:00Z"));
    assert_eq!(windows_of(&c, "frontend").as_array().map(Vec::len), Some(1));
    c.delete(&id.object_ref(), None, at("2026-11-25T23:00:00Z"))
        .expect("deletes");
    settle(&mut c, &id, at("2026-11-25T23:00:00Z"));
    assert!(Supervisor::find(c.snapshot(), &id).is_none(), "gone");
    assert_eq!(windows_of(&c, "frontend"), serde_json::json!([]));
}

proptest! {
    /// The window edit is idempotent and never touches another window.
    #[test]
    fn the_sync_window_edit_keeps_other_windows(
        others in proptest::collection::vec("[a-z]{1,5}", 0..4),
        ours_before in any::<bool>(),
        add in any::<bool>(),
    ) {
        let mut windows: Vec<serde_json::Value> = others
            .iter()
            .map(|a| serde_json::json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": [a]}))
            .collect();
        if ours_before {
            windows.push(crate::action::SyncWindowEdit::window());
        }
        let mut project = serde_json::json!({"spec": {"syncWindows": windows}});
        let edit = crate::action::SyncWindowEdit { add };
        let changed = edit.apply(&mut project);
        prop_assert_eq!(changed, add != ours_before);
        prop_assert!(!edit.apply(&mut project), "a second edit changes nothing");
        let after = project["spec"]["syncWindows"].as_array().cloned().unwrap_or_default();
        let ours = crate::action::SyncWindowEdit::window();
        prop_assert_eq!(after.iter().filter(|w| **w == ours).count(), usize::from(add));
        let theirs: Vec<_> = after.into_iter().filter(|w| *w != ours).collect();
        prop_assert_eq!(theirs.len(), others.len());
    }
}
