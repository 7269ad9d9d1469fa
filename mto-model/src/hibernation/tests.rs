use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use proptest::prelude::*;

use super::*;
use crate::api::{ClusterResourceSupervisorSpec, NamespaceSelection, ResourceSupervisorSpec};
use crate::labels::TENANT_LABEL;
use crate::machine::{allowed, assert_sound};
use crate::snapshot::Snapshot;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
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

fn nightly(namespace: &str) -> Supervisor {
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
    s.metadata.generation = Some(1);
    s.metadata.creation_timestamp = Some(Time(at("2026-11-01T00:00:00Z")));
    Supervisor::Namespaced(s)
}

/// A cluster with namespace `dev`: web (3), db (2), an excluded job (4),
/// and the privileged `kube-system` with a deployment of its own.
fn cluster() -> Snapshot {
    let mut s = Snapshot::default();
    s.set_integration(
        crate::integration::Integration::compile(Some(
            &serde_json::from_value(serde_json::json!({
                "apiVersion": "tenantoperator.stakater.com/v1beta1",
                "kind": "IntegrationConfig",
                "metadata": {"name": "c", "namespace": "mto-system"},
                "spec": {"accessControl": {"privileged": {"namespaces": ["^kube-.*"]}}}
            }))
            .expect("config"),
        ))
        .expect("compiles"),
    );
    s.put_namespace(namespace("dev", &[("stakater.com/tenant", "alpha")]));
    s.put_namespace(namespace(
        "kube-system",
        &[("stakater.com/tenant", "alpha")],
    ));
    s.put(deployment_of("dev", "web", 3, &[]));
    s.put(stateful_set_of("dev", "db", 2));
    s.put(deployment_of(
        "dev",
        "job",
        4,
        &[(HIBERNATION_EXCLUDE_ANNOTATION, "true")],
    ));
    s.put(deployment_of("kube-system", "dns", 2, &[]));
    s
}

/// Decides and carries everything out until nothing is left to do.
fn settle(cluster: &mut Snapshot, key: &str, now: Timestamp) -> Vec<SupervisorDecision> {
    let mut decisions = Vec::new();
    for _ in 0..10 {
        let Some(supervisor) = cluster.objects().supervisors.get(key).cloned() else {
            return decisions;
        };
        let decision = decide(&supervisor, cluster, now);
        assert!(
            allowed(decision.from, decision.phase),
            "{:?} → {:?}",
            decision.from,
            decision.phase
        );
        let steady = decision.actions.is_empty();
        for action in &decision.actions {
            cluster.execute_supervisor(action).expect("executes");
        }
        decisions.push(decision);
        if steady {
            return decisions;
        }
    }
    panic!("{key} did not settle at {now}");
}

fn replicas(cluster: &Snapshot, kind: WorkloadKind, namespace: &str, name: &str) -> i32 {
    let w = match kind {
        WorkloadKind::Deployment => deployment(&cluster.objects().deployments[namespace][name]),
        WorkloadKind::StatefulSet => {
            stateful_set(&cluster.objects().stateful_sets[namespace][name])
        }
    };
    w.replicas
}

#[test]
fn the_machine_is_sound() {
    assert_sound::<SupervisorPhase>();
}

#[test]
fn a_night_puts_workloads_to_sleep_and_the_morning_brings_back_their_counts() {
    let mut c = cluster();
    let supervisor = nightly("dev");
    let key = supervisor.key();
    c.put_supervisor(supervisor);

    let evening = settle(&mut c, &key, at("2026-11-25T21:00:00Z"));
    assert!(matches!(
        evening[0].actions[0],
        SupervisorAction::AddFinalizer { .. }
    ));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
    let status = c.objects().supervisors[&key]
        .status()
        .cloned()
        .expect("status");
    assert_eq!(status.current_status.as_deref(), Some("awake"));
    assert_eq!(
        status.next_transition_time.as_deref(),
        Some("2026-11-25T22:00:00Z")
    );

    let night = settle(&mut c, &key, at("2026-11-25T22:00:00Z"));
    assert_eq!(night[0].phase, SupervisorPhase::Sleeping);
    let sleeps = night[0]
        .actions
        .iter()
        .filter(|a| matches!(a, SupervisorAction::Sleep { .. }))
        .count();
    assert_eq!(
        sleeps, 2,
        "web and db; not the excluded job, not kube-system"
    );
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 0);
    assert_eq!(replicas(&c, WorkloadKind::StatefulSet, "dev", "db"), 0);
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "job"), 4);
    assert_eq!(
        replicas(&c, WorkloadKind::Deployment, "kube-system", "dns"),
        2
    );
    let web = deployment(&c.objects().deployments["dev"]["web"]);
    assert_eq!(web.saved_replicas(), Some(3));
    assert_eq!(web.slept_by(), Some(key.as_str()));
    let status = c.objects().supervisors[&key]
        .status()
        .cloned()
        .expect("status");
    assert_eq!(status.current_status.as_deref(), Some("asleep"));
    assert_eq!(status.sleeping_namespaces, ["dev"]);
    assert_eq!(
        status
            .sleeping_applications
            .iter()
            .map(|a| (a.kind.as_str(), a.name.as_str(), a.replicas))
            .collect::<Vec<_>>(),
        [("Deployment", "web", 3), ("StatefulSet", "db", 2)]
    );
    assert_eq!(
        status.next_transition_time.as_deref(),
        Some("2026-11-26T06:00:00Z")
    );
    // Asleep and nothing changed: no writes.
    assert!(
        decide(
            &c.objects().supervisors[&key],
            &c,
            at("2026-11-26T03:00:00Z")
        )
        .actions
        .is_empty()
    );

    let morning = settle(&mut c, &key, at("2026-11-26T06:00:00Z"));
    assert_eq!(morning[0].phase, SupervisorPhase::Waking);
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
    assert_eq!(replicas(&c, WorkloadKind::StatefulSet, "dev", "db"), 2);
    assert_eq!(
        deployment(&c.objects().deployments["dev"]["web"]).slept_by(),
        None
    );
    assert!(
        c.objects().deployments["dev"]["web"]
            .metadata
            .annotations
            .is_none()
    );
}

#[test]
fn a_workload_scaled_up_while_asleep_sleeps_again_and_wakes_with_the_new_count() {
    let mut c = cluster();
    let supervisor = nightly("dev");
    let key = supervisor.key();
    c.put_supervisor(supervisor);
    settle(&mut c, &key, at("2026-11-25T22:00:00Z"));
    // A GitOps sync sets web to 5 at 01:00.
    c.edit_workload(
        &WorkloadRef {
            kind: WorkloadKind::Deployment,
            namespace: "dev".into(),
            name: "web".into(),
        },
        |_, r| *r = Some(5),
    );
    let night = settle(&mut c, &key, at("2026-11-26T01:00:00Z"));
    assert!(
        night[0]
            .actions
            .iter()
            .any(|a| matches!(a, SupervisorAction::Sleep { saved: 5, .. }))
    );
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 0);
    settle(&mut c, &key, at("2026-11-26T06:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 5);
}

#[test]
fn an_excluded_namespace_never_sleeps_and_wakes_if_excluded_while_asleep() {
    let mut c = cluster();
    let supervisor = nightly("dev");
    let key = supervisor.key();
    c.put_supervisor(supervisor);
    settle(&mut c, &key, at("2026-11-25T22:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 0);
    let mut dev = c.objects().namespaces["dev"].clone();
    dev.metadata.annotations =
        Some([(HIBERNATION_EXCLUDE_ANNOTATION.to_owned(), "true".to_owned())].into());
    c.put_namespace(dev);
    settle(&mut c, &key, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
    assert_eq!(replicas(&c, WorkloadKind::StatefulSet, "dev", "db"), 2);
    // And the next night leaves it alone.
    settle(&mut c, &key, at("2026-11-26T22:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
}

#[test]
fn a_workload_created_while_asleep_goes_to_sleep_too() {
    let mut c = cluster();
    let supervisor = nightly("dev");
    let key = supervisor.key();
    c.put_supervisor(supervisor);
    settle(&mut c, &key, at("2026-11-25T22:00:00Z"));
    c.put(deployment_of("dev", "late", 2, &[]));
    settle(&mut c, &key, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "late"), 0);
    settle(&mut c, &key, at("2026-11-26T06:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "late"), 2);
}

#[test]
fn a_manual_wake_holds_until_the_next_scheduled_transition() {
    let mut c = cluster();
    let supervisor = nightly("dev");
    let key = supervisor.key();
    c.put_supervisor(supervisor);
    settle(&mut c, &key, at("2026-11-25T22:00:00Z"));
    c.edit_supervisor(&key, |s| {
        s.meta_mut()
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(OVERRIDE_ANNOTATION.into(), "wake".into());
    });
    settle(&mut c, &key, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
    let status = c.objects().supervisors[&key]
        .status()
        .cloned()
        .expect("status");
    assert_eq!(
        status.manual_override,
        Some(ManualOverride {
            action: "wake".into(),
            until: Some("2026-11-26T06:00:00Z".into()),
        })
    );
    assert_eq!(status.current_status.as_deref(), Some("awake"));
    // Still overridden at 05:00, steady.
    assert!(
        decide(
            &c.objects().supervisors[&key],
            &c,
            at("2026-11-26T05:00:00Z")
        )
        .actions
        .is_empty()
    );
    // At 06:00 the override ends; the schedule says awake anyway.
    let ended = settle(&mut c, &key, at("2026-11-26T06:00:00Z"));
    assert!(
        ended[0]
            .actions
            .iter()
            .any(|a| matches!(a, SupervisorAction::EndOverride { .. }))
    );
    assert!(
        c.objects().supervisors[&key]
            .meta()
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(OVERRIDE_ANNOTATION))
    );
    // And the next night sleeps on schedule.
    settle(&mut c, &key, at("2026-11-26T22:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 0);
}

#[test]
fn an_invalid_schedule_scales_nothing_and_says_which_field() {
    let mut c = cluster();
    let mut supervisor = nightly("dev");
    if let Supervisor::Namespaced(s) = &mut supervisor {
        s.spec.schedule.sleep_schedule = "0 25 * * *".into();
        s.spec.schedule.time_zone = Some("Mars/Olympus".into());
    }
    let key = supervisor.key();
    c.put_supervisor(supervisor);
    settle(&mut c, &key, at("2026-11-25T23:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
    let status = c.objects().supervisors[&key]
        .status()
        .cloned()
        .expect("status");
    let valid = status
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
}

#[test]
fn deleting_a_supervisor_wakes_what_it_put_to_sleep_before_it_goes() {
    let mut c = cluster();
    let supervisor = nightly("dev");
    let key = supervisor.key();
    c.put_supervisor(supervisor);
    settle(&mut c, &key, at("2026-11-25T22:00:00Z"));
    c.edit_supervisor(&key, |s| {
        s.meta_mut().deletion_timestamp = Some(Time(at("2026-11-25T23:00:00Z")));
    });
    settle(&mut c, &key, at("2026-11-25T23:00:00Z"));
    assert!(
        !c.objects().supervisors.contains_key(&key),
        "finalizer removed, gone"
    );
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 3);
    assert_eq!(replicas(&c, WorkloadKind::StatefulSet, "dev", "db"), 2);
}

#[test]
fn a_cluster_supervisor_selects_by_name_and_label_and_an_absent_selector_matches_none() {
    let mut c = cluster();
    c.put_namespace(namespace("other", &[]));
    let crs = |selection: NamespaceSelection| {
        Supervisor::Cluster(ClusterResourceSupervisor::new(
            "all",
            ClusterResourceSupervisorSpec {
                namespaces: selection,
                schedule: SleepSchedule::default(),
            },
        ))
    };
    let everything = crs(NamespaceSelection {
        names: Vec::new(),
        label_selector: Some(LabelSelector::default()),
    });
    assert_eq!(
        c.supervised_namespaces(&everything)
            .into_iter()
            .collect::<Vec<_>>(),
        ["dev", "kube-system", "other"]
    );
    let none = crs(NamespaceSelection::default());
    assert!(c.supervised_namespaces(&none).is_empty());
    let by_tenant = crs(NamespaceSelection {
        names: vec!["other".into()],
        label_selector: Some(LabelSelector {
            match_labels: Some([("stakater.com/tenant".to_owned(), "alpha".to_owned())].into()),
            ..Default::default()
        }),
    });
    assert_eq!(
        c.supervised_namespaces(&by_tenant)
            .into_iter()
            .collect::<Vec<_>>(),
        ["dev", "kube-system", "other"]
    );
    // An empty sleep schedule sleeps now; privileged namespaces are left alone.
    let key = everything.key();
    c.put_supervisor(everything);
    settle(&mut c, &key, at("2026-11-25T12:00:00Z"));
    assert_eq!(replicas(&c, WorkloadKind::Deployment, "dev", "web"), 0);
    assert_eq!(
        replicas(&c, WorkloadKind::Deployment, "kube-system", "dns"),
        2
    );
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
        let mut c = Snapshot::default();
        c.put_namespace(namespace("dev", &[]));
        let mut intended = BTreeMap::new();
        for (i, n) in counts.iter().enumerate() {
            let name = if i == 0 { "web".to_owned() } else { format!("app-{i}") };
            if i % 2 == 0 {
                c.put(deployment_of("dev", &name, *n, &[]));
                intended.insert((WorkloadKind::Deployment, name), *n);
            } else {
                c.put(stateful_set_of("dev", &name, *n));
                intended.insert((WorkloadKind::StatefulSet, name), *n);
            }
        }
        let supervisor = nightly("dev");
        let key = supervisor.key();
        c.put_supervisor(supervisor);
        // 20:00 to 07:00, one decision an hour, each cut short by a crash.
        for (h, hour) in hours.iter().enumerate() {
            let now = Timestamp::from_second(at("2026-11-25T20:00:00Z").as_second() + 3600 * h as i64).expect("t");
            if let Some(n) = hour.user_scales_web_to {
                let web = WorkloadRef { kind: WorkloadKind::Deployment, namespace: "dev".into(), name: "web".into() };
                if c.edit_workload(&web, |_, r| *r = Some(n)).is_some() {
                    intended.insert((WorkloadKind::Deployment, "web".into()), n);
                }
            }
            let decision = decide(&c.objects().supervisors[&key], &c, now);
            prop_assert!(allowed(decision.from, decision.phase));
            for action in decision.actions.iter().take(hour.landed) {
                c.execute_supervisor(action).expect("executes");
            }
            // The snapshot's sleep index agrees with the workloads' annotations.
            let indexed: Vec<WorkloadRef> = c.workloads_slept_by(&key).iter().map(|w| w.reference.clone()).collect();
            let scanned: Vec<WorkloadRef> = c.workloads_in("dev").iter()
                .filter(|w| w.slept_by() == Some(key.as_str()))
                .map(|w| w.reference.clone())
                .collect();
            prop_assert_eq!(indexed, scanned);
            for ((kind, name), want) in &intended {
                let w = match kind {
                    WorkloadKind::Deployment => deployment(&c.objects().deployments["dev"][name]),
                    WorkloadKind::StatefulSet => stateful_set(&c.objects().stateful_sets["dev"][name]),
                };
                let asleep_with_count = w.replicas == 0 && w.saved_replicas() == Some(*want);
                prop_assert!(w.replicas == *want || asleep_with_count,
                    "{kind:?}/{name} at {} (saved {:?}), intended {want}", w.replicas, w.saved_replicas());
            }
        }
        settle(&mut c, &key, at("2026-11-26T07:00:00Z"));
        for ((kind, name), want) in &intended {
            prop_assert_eq!(replicas(&c, *kind, "dev", name), *want);
        }
        prop_assert!(decide(&c.objects().supervisors[&key], &c, at("2026-11-26T07:30:00Z")).actions.is_empty());
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
    /// The same, applied by mto (the executor's path).
    Applied(usize, Vec<usize>, u8, usize),
    /// Supervisor k of either scope is removed.
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

/// Every supervisor covering `namespace`, by looking at each one.
fn covering_by_scan(c: &Snapshot, namespace: &str) -> Vec<String> {
    let labels = c
        .objects()
        .namespaces
        .get(namespace)
        .and_then(|n| n.metadata.labels.as_ref());
    c.objects()
        .supervisors
        .iter()
        .filter(|(_, s)| match s {
            Supervisor::Namespaced(r) => r.metadata.namespace.as_deref() == Some(namespace),
            Supervisor::Cluster(c) => {
                c.spec.namespaces.names.iter().any(|n| n == namespace)
                    || c.spec
                        .namespaces
                        .label_selector
                        .as_ref()
                        .is_some_and(|sel| crate::selector::matches(sel, labels))
            }
        })
        .map(|(key, _)| key.clone())
        .collect()
}

proptest! {
    /// The snapshot's coverage index answers as a scan of every supervisor
    /// would, whatever is put, applied, edited or removed.
    #[test]
    fn supervisors_covering_matches_a_scan(changes in prop::collection::vec(coverage_change(), 1..30)) {
        let mut c = Snapshot::default();
        let keys = |c: &Snapshot| c.objects().supervisors.keys().cloned().collect::<Vec<_>>();
        for change in &changes {
            match change {
                CoverageChange::Namespace(n, tenant, team) => {
                    let mut labels = Vec::new();
                    let tenant = tenant.map(|t| format!("t{t}"));
                    if let Some(t) = &tenant {
                        labels.push((TENANT_LABEL, t.as_str()));
                    }
                    if *team {
                        labels.push(("team", "x"));
                    }
                    c.put_namespace(namespace(NAMESPACES[*n], &labels));
                }
                CoverageChange::Namespaced(n) => {
                    c.put_supervisor(nightly(NAMESPACES[*n]));
                }
                CoverageChange::Cluster(k, names, selector, tenant) => {
                    c.put_supervisor(Supervisor::Cluster(cluster_supervisor(*k, names, *selector, *tenant)));
                }
                CoverageChange::Applied(k, names, selector, tenant) => {
                    let action = crate::action::Action::Apply {
                        object: crate::action::Resource::ClusterResourceSupervisor(cluster_supervisor(*k, names, *selector, *tenant)),
                        reason: crate::action::Reason::Create,
                    };
                    c.execute(&action).expect("applies");
                }
                CoverageChange::Remove(k) => {
                    let all = keys(&c);
                    if !all.is_empty() {
                        c.remove_supervisor(&all[k % all.len()]);
                    }
                }
                CoverageChange::Status(k) => {
                    let all = keys(&c);
                    if !all.is_empty() {
                        c.edit_supervisor(&all[k % all.len()], |s| *s.status_mut() = Some(Default::default()));
                    }
                }
            }
            for ns in NAMESPACES {
                prop_assert_eq!(c.supervisors_covering(ns), covering_by_scan(&c, ns), "{} after {:?}", ns, change);
            }
        }
    }
}
