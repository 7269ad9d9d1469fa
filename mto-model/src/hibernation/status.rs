//! What a supervisor's status says.

use std::collections::{BTreeMap, BTreeSet};

use crate::Timestamp;
use crate::api::{ResourceSupervisorStatus, SupervisedApplication};
use crate::conditions::condition;
use crate::machine::Phase as _;
use crate::view::ObjectRef;

use super::intent::Intent;
use super::{Supervisor, SupervisorPhase};

/// The status once the decision's writes land.
pub(super) fn resting(
    supervisor: &Supervisor<'_>,
    phase: SupervisorPhase,
    intent: &Intent,
    asleep: BTreeMap<ObjectRef, i32>,
    paused_app_projects: Vec<String>,
    now: Timestamp,
) -> ResourceSupervisorStatus {
    let generation = supervisor.meta().generation;
    let previous = conditions_of(supervisor);
    let mut conditions = vec![
        condition(
            previous,
            "Ready",
            true,
            if phase == SupervisorPhase::Asleep {
                "Asleep"
            } else {
                "Awake"
            },
            "Workloads are where the schedule wants them.",
            generation,
            now,
        ),
        condition(
            previous,
            "ScheduleValid",
            true,
            "Valid",
            "The schedule is valid.",
            generation,
            now,
        ),
    ];
    if let Some(problem) = &intent.override_problem {
        conditions.push(condition(
            previous,
            "OverrideValid",
            false,
            "Invalid",
            problem.clone(),
            generation,
            now,
        ));
    }
    let sleeping_namespaces: BTreeSet<String> =
        asleep.keys().filter_map(|w| w.namespace.clone()).collect();
    ResourceSupervisorStatus {
        current_status: Some(phase.name().into()),
        next_transition_time: intent.next.map(|n| n.to_string()),
        observed_generation: generation,
        conditions,
        sleeping_namespaces: sleeping_namespaces.into_iter().collect(),
        sleeping_applications: asleep
            .into_iter()
            .map(|(w, replicas)| SupervisedApplication {
                namespace: w.namespace.unwrap_or_default(),
                kind: w.kind.name().into(),
                name: w.name,
                replicas,
            })
            .collect(),
        manual_override: intent.manual.clone(),
        paused_app_projects,
    }
}

/// The status of a supervisor whose schedule does not parse: nothing is
/// scaled, and the conditions say which field is wrong.
pub(super) fn invalid(
    supervisor: &Supervisor<'_>,
    message: &str,
    now: Timestamp,
) -> ResourceSupervisorStatus {
    let generation = supervisor.meta().generation;
    let previous = conditions_of(supervisor);
    let mut status = supervisor.status().cloned().unwrap_or_default();
    status.observed_generation = generation;
    status.current_status = Some(supervisor.phase().name().into());
    status.next_transition_time = None;
    status.conditions = vec![
        condition(
            previous,
            "Ready",
            false,
            "ScheduleInvalid",
            message,
            generation,
            now,
        ),
        condition(
            previous,
            "ScheduleValid",
            false,
            "Invalid",
            message,
            generation,
            now,
        ),
    ];
    status
}

fn conditions_of<'a>(
    supervisor: &Supervisor<'a>,
) -> &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
    supervisor
        .status()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default()
}
