//! The supervisor machine: puts workloads to sleep on a schedule and wakes
//! them with exactly the replica counts they had.
//!
//! Crash safety by construction: the count a workload gets back is written
//! onto the workload in the same write that scales it to zero (a merge
//! patch guarded by the resourceVersion observed, so the count saved is
//! the count replaced). A crash between any two writes leaves every
//! workload either running or asleep with its count beside it.
//!
//! Decisions on people's changes while asleep:
//! - A workload scaled up while its supervisor sleeps (by a person, or a
//!   GitOps tool re-applying its manifest) is put back to sleep, and the
//!   count it was given becomes the count it wakes with: the latest intent
//!   wins, and sleep is not undone by a sync loop.
//! - A workload created while asleep goes to sleep too.
//! - Workloads and namespaces annotated `hibernation.stakater.com/exclude:
//!   "true"`, and privileged namespaces, are never put to sleep; a workload
//!   asleep when it becomes excluded wakes.
//! - A workload that leaves the supervisor's namespaces, or whose
//!   supervisor is deleted, wakes.
//! - To wake or sleep early, annotate the supervisor
//!   `hibernation.stakater.com/override: wake` (or `sleep`): it holds until
//!   the schedule's next transition, then the annotation is removed.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::Timestamp;
use crate::api::{
    ClusterResourceSupervisor, ManualOverride, ResourceSupervisor, ResourceSupervisorStatus,
    SleepSchedule, SupervisedApplication,
};
use crate::conditions::condition;
use crate::integration::Integration;
use crate::labels::{
    HIBERNATION_EXCLUDE_ANNOTATION, OVERRIDE_ANNOTATION, SAVED_REPLICAS_ANNOTATION,
    SLEPT_BY_ANNOTATION, SUPERVISOR_FINALIZER,
};
use crate::machine::Phase;
use crate::schedule::{Hibernation, Wakefulness};

/// Where a supervisor is in its cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SupervisorPhase {
    /// Workloads run at their own counts.
    Awake,
    /// Scaling workloads to zero.
    Sleeping,
    /// Every supervised workload is at zero with its count saved.
    Asleep,
    /// Restoring saved counts.
    Waking,
}

impl Phase for SupervisorPhase {
    const ALL: &'static [Self] = &[Self::Awake, Self::Sleeping, Self::Asleep, Self::Waking];
    const INITIAL: Self = Self::Awake;
    const TRANSITIONS: &'static [(Self, Self)] = &[
        (Self::Awake, Self::Sleeping),
        // Nothing to scale: straight there.
        (Self::Awake, Self::Asleep),
        (Self::Sleeping, Self::Asleep),
        // The schedule (or an override) turned while scaling down.
        (Self::Sleeping, Self::Waking),
        (Self::Sleeping, Self::Awake),
        (Self::Asleep, Self::Waking),
        (Self::Asleep, Self::Awake),
        // A workload created, or scaled up, while asleep.
        (Self::Asleep, Self::Sleeping),
        // A sleeping workload excluded, or moved out, while awake.
        (Self::Awake, Self::Waking),
        (Self::Waking, Self::Awake),
        (Self::Waking, Self::Sleeping),
        (Self::Waking, Self::Asleep),
    ];

    fn is_resting(self) -> bool {
        matches!(self, Self::Awake | Self::Asleep)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Awake => "awake",
            Self::Sleeping => "sleeping",
            Self::Asleep => "asleep",
            Self::Waking => "waking",
        }
    }
}

/// The two kinds of workload a supervisor scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    /// The kind's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
        }
    }
}

/// Which workload.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadRef {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind.name(), self.namespace, self.name)
    }
}

/// A workload as a supervisor sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload<'a> {
    /// Which one.
    pub reference: WorkloadRef,
    /// `spec.replicas` (1 when unset, as Kubernetes defaults it).
    pub replicas: i32,
    /// Its metadata.
    pub meta: &'a ObjectMeta,
}

impl Workload<'_> {
    fn annotation(&self, key: &str) -> Option<&str> {
        self.meta.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// The supervisor that put it to sleep, if asleep.
    #[must_use]
    pub fn slept_by(&self) -> Option<&str> {
        self.annotation(SLEPT_BY_ANNOTATION)
    }

    /// The count it wakes with, if asleep. An unreadable count is kept as
    /// `None`: such a workload is woken to its current count, never to a
    /// guess.
    #[must_use]
    pub fn saved_replicas(&self) -> Option<i32> {
        self.annotation(SAVED_REPLICAS_ANNOTATION)?.parse().ok()
    }

    fn excluded(&self) -> bool {
        self.annotation(HIBERNATION_EXCLUDE_ANNOTATION) == Some("true")
    }
}

/// Reads a Deployment as a workload.
#[must_use]
pub fn deployment(d: &Deployment) -> Workload<'_> {
    Workload {
        reference: WorkloadRef {
            kind: WorkloadKind::Deployment,
            namespace: d.metadata.namespace.clone().unwrap_or_default(),
            name: d.metadata.name.clone().unwrap_or_default(),
        },
        replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        meta: &d.metadata,
    }
}

/// Reads a StatefulSet as a workload.
#[must_use]
pub fn stateful_set(s: &StatefulSet) -> Workload<'_> {
    Workload {
        reference: WorkloadRef {
            kind: WorkloadKind::StatefulSet,
            namespace: s.metadata.namespace.clone().unwrap_or_default(),
            name: s.metadata.name.clone().unwrap_or_default(),
        },
        replicas: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        meta: &s.metadata,
    }
}

/// Which supervisor a key ([`Supervisor::key`]) names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupervisorId {
    /// A ResourceSupervisor.
    Namespaced {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A ClusterResourceSupervisor.
    Cluster {
        /// Its name.
        name: String,
    },
}

const NAMESPACED_KIND: &str = "ResourceSupervisor";
const CLUSTER_KIND: &str = "ClusterResourceSupervisor";

impl SupervisorId {
    /// Reads a key; `None` if it is not one.
    #[must_use]
    pub fn parse(key: &str) -> Option<SupervisorId> {
        let mut parts = key.split('/');
        match (parts.next()?, parts.next(), parts.next(), parts.next()) {
            (NAMESPACED_KIND, Some(namespace), Some(name), None) => Some(Self::Namespaced {
                namespace: namespace.into(),
                name: name.into(),
            }),
            (CLUSTER_KIND, Some(name), None, None) => Some(Self::Cluster { name: name.into() }),
            _ => None,
        }
    }

    /// `ResourceSupervisor/<namespace>/<name>` or `ClusterResourceSupervisor/<name>`.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Namespaced { namespace, name } => format!("{NAMESPACED_KIND}/{namespace}/{name}"),
            Self::Cluster { name } => cluster_key(name),
        }
    }

    /// What the keys of every ResourceSupervisor in `namespace` start with,
    /// and no other key does.
    #[must_use]
    pub fn namespace_prefix(namespace: &str) -> String {
        format!("{NAMESPACED_KIND}/{namespace}/")
    }
}

/// The key of the ClusterResourceSupervisor `name`, without building its
/// [`SupervisorId`].
#[must_use]
pub fn cluster_key(name: &str) -> String {
    format!("{CLUSTER_KIND}/{name}")
}

/// A supervisor of either scope.
#[derive(Clone, Debug, PartialEq)]
pub enum Supervisor {
    /// One namespace's.
    Namespaced(ResourceSupervisor),
    /// Selected namespaces'.
    Cluster(ClusterResourceSupervisor),
}

impl Supervisor {
    /// Which supervisor this is.
    #[must_use]
    pub fn id(&self) -> SupervisorId {
        let name = self.meta().name.clone().unwrap_or_default();
        match self {
            Supervisor::Namespaced(s) => SupervisorId::Namespaced {
                namespace: s.metadata.namespace.clone().unwrap_or_default(),
                name,
            },
            Supervisor::Cluster(_) => SupervisorId::Cluster { name },
        }
    }

    /// Its key ([`SupervisorId::key`]), and what sleeping workloads name in
    /// their slept-by annotation.
    #[must_use]
    pub fn key(&self) -> String {
        self.id().key()
    }

    /// Its metadata.
    #[must_use]
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Supervisor::Namespaced(s) => &s.metadata,
            Supervisor::Cluster(s) => &s.metadata,
        }
    }

    /// Its metadata, to change.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Supervisor::Namespaced(s) => &mut s.metadata,
            Supervisor::Cluster(s) => &mut s.metadata,
        }
    }

    /// Its schedule.
    #[must_use]
    pub fn schedule(&self) -> &SleepSchedule {
        match self {
            Supervisor::Namespaced(s) => &s.spec.schedule,
            Supervisor::Cluster(s) => &s.spec.schedule,
        }
    }

    /// Its status.
    #[must_use]
    pub fn status(&self) -> Option<&ResourceSupervisorStatus> {
        match self {
            Supervisor::Namespaced(s) => s.status.as_ref(),
            Supervisor::Cluster(s) => s.status.as_ref(),
        }
    }

    /// Its status, to change.
    pub fn status_mut(&mut self) -> &mut Option<ResourceSupervisorStatus> {
        match self {
            Supervisor::Namespaced(s) => &mut s.status,
            Supervisor::Cluster(s) => &mut s.status,
        }
    }

    /// The phase its status records.
    #[must_use]
    pub fn phase(&self) -> SupervisorPhase {
        self.status()
            .and_then(|s| s.current_status.as_deref())
            .and_then(SupervisorPhase::from_name)
            .unwrap_or(SupervisorPhase::INITIAL)
    }
}

/// What a supervisor decision reads: the namespaces and workloads.
pub trait WorkloadView {
    /// The integration config (privileged namespaces are never supervised).
    fn integration(&self) -> &Integration;
    /// Names of the namespaces the supervisor covers that exist and are not
    /// terminating.
    fn supervised_namespaces(&self, supervisor: &Supervisor) -> BTreeSet<String>;
    /// The workloads in a namespace.
    fn workloads_in(&self, namespace: &str) -> Vec<Workload<'_>>;
    /// Every workload the supervisor put to sleep, wherever it is now.
    fn workloads_slept_by(&self, supervisor: &str) -> Vec<Workload<'_>>;
}

/// One thing a supervisor does.
#[derive(Clone, Debug, PartialEq)]
pub enum SupervisorAction {
    /// Scale to zero, writing the count to restore (and who slept it) in
    /// the same write; only if the workload is still at `resource_version`.
    Sleep {
        /// The workload.
        workload: WorkloadRef,
        /// The count it wakes with.
        saved: i32,
        /// The supervisor's key.
        supervisor: String,
        /// The version observed.
        resource_version: Option<String>,
    },
    /// Scale to `replicas` and remove the sleep annotations, in one write;
    /// only if the workload is still at `resource_version`.
    Wake {
        /// The workload.
        workload: WorkloadRef,
        /// The count to run.
        replicas: i32,
        /// The version observed.
        resource_version: Option<String>,
    },
    /// Add mto's finalizer to the supervisor.
    AddFinalizer {
        /// The supervisor's key.
        supervisor: String,
    },
    /// Remove mto's finalizer: every workload it slept is awake.
    RemoveFinalizer {
        /// The supervisor's key.
        supervisor: String,
    },
    /// Remove an expired override annotation from the supervisor.
    EndOverride {
        /// The supervisor's key.
        supervisor: String,
    },
    /// Write the supervisor's status.
    UpdateStatus {
        /// The supervisor's key.
        supervisor: String,
        /// The whole new status.
        status: ResourceSupervisorStatus,
    },
}

impl std::fmt::Display for SupervisorAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sleep {
                workload, saved, ..
            } => write!(f, "sleep {workload} (saving {saved} replicas)"),
            Self::Wake {
                workload, replicas, ..
            } => write!(f, "wake {workload} to {replicas} replicas"),
            Self::AddFinalizer { supervisor } => write!(f, "add finalizer to {supervisor}"),
            Self::RemoveFinalizer { supervisor } => {
                write!(f, "remove finalizer from {supervisor}")
            }
            Self::EndOverride { supervisor } => write!(f, "end the override of {supervisor}"),
            Self::UpdateStatus { supervisor, status } => write!(
                f,
                "status of {supervisor}: {}",
                status.current_status.as_deref().unwrap_or("-")
            ),
        }
    }
}

/// What the supervisor controller decided.
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub struct SupervisorDecision {
    /// The phase its status recorded.
    pub from: SupervisorPhase,
    /// The phase while these actions run.
    pub phase: SupervisorPhase,
    /// What to do, in order; empty at steady state.
    pub actions: Vec<SupervisorAction>,
    /// When to decide again even if nothing changes: the next transition.
    pub wake_at: Option<Timestamp>,
}

/// Decides what `supervisor` does at `now`.
pub fn decide(
    supervisor: &Supervisor,
    view: &impl WorkloadView,
    now: Timestamp,
) -> SupervisorDecision {
    let key = supervisor.key();
    let meta = supervisor.meta();
    let from = supervisor.phase();
    let deleting = meta.deletion_timestamp.is_some();
    let has_finalizer = meta
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == SUPERVISOR_FINALIZER);
    let mut actions = Vec::new();
    if !deleting && !has_finalizer {
        actions.push(SupervisorAction::AddFinalizer {
            supervisor: key.clone(),
        });
    }
    let previous = supervisor.status();
    let conditions_before = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let generation = meta.generation;

    let compiled = Hibernation::compile(supervisor.schedule());
    match &compiled {
        Err(problems) if !deleting => {
            // Nothing is scaled on a schedule that does not parse: what is
            // asleep stays asleep, what is awake stays awake.
            let message = problems
                .iter()
                .map(|(field, why)| format!("{field}: {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut status = previous.cloned().unwrap_or_default();
            status.observed_generation = generation;
            status.current_status = Some(from.name().into());
            status.next_transition_time = None;
            status.conditions = vec![
                condition(
                    conditions_before,
                    "Ready",
                    false,
                    "ScheduleInvalid",
                    &message,
                    generation,
                    now,
                ),
                condition(
                    conditions_before,
                    "ScheduleValid",
                    false,
                    "Invalid",
                    &message,
                    generation,
                    now,
                ),
            ];
            push_status(&mut actions, &key, previous, status);
            return SupervisorDecision {
                from,
                phase: from,
                actions,
                wake_at: None,
            };
        }
        // Valid, or being deleted (everything wakes, whatever the schedule says).
        _ => {}
    }
    let since = meta.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let (scheduled, scheduled_next) = match &compiled {
        Ok(h) => (h.state_at(now, since), h.next_transition(now, since)),
        Err(_) => (Wakefulness::Awake, None),
    };

    // A manual override holds until the schedule's next transition.
    let requested = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(OVERRIDE_ANNOTATION))
        .map(|v| v.trim().to_ascii_lowercase());
    let mut manual = None;
    let mut override_problem = None;
    let mut desired = scheduled;
    let mut next = scheduled_next;
    match requested.as_deref() {
        None => {}
        Some(value @ ("wake" | "sleep")) => {
            let state = if value == "wake" {
                Wakefulness::Awake
            } else {
                Wakefulness::Asleep
            };
            let recorded = previous
                .and_then(|s| s.manual_override.as_ref())
                .filter(|o| o.action == value);
            let until = match recorded {
                Some(o) => o.until.as_deref().and_then(|u| u.parse::<Timestamp>().ok()),
                None => scheduled_next,
            };
            if until.is_some_and(|u| u <= now) {
                actions.push(SupervisorAction::EndOverride {
                    supervisor: key.clone(),
                });
            } else {
                desired = state;
                next = until;
                manual = Some(ManualOverride {
                    action: value.into(),
                    until: until.map(|u| u.to_string()),
                });
            }
        }
        Some(other) => {
            override_problem = Some(format!(
                "annotation {OVERRIDE_ANNOTATION}: {other:?} is neither \"wake\" nor \"sleep\"; it is ignored"
            ));
        }
    }
    if deleting {
        desired = Wakefulness::Awake;
        next = None;
        manual = None;
    }

    let integration = view.integration();
    let namespaces = if deleting {
        BTreeSet::new()
    } else {
        view.supervised_namespaces(supervisor)
    };
    let in_scope: Vec<Workload<'_>> = namespaces
        .iter()
        .filter(|ns| !integration.is_privileged_namespace(ns))
        .flat_map(|ns| view.workloads_in(ns))
        .filter(|w| !w.excluded())
        .collect();
    let scope_refs: BTreeSet<&WorkloadRef> = in_scope.iter().map(|w| &w.reference).collect();
    let slept = view.workloads_slept_by(&key);

    // The state after these actions, for the status.
    let mut asleep: BTreeMap<WorkloadRef, i32> = BTreeMap::new();
    let mut scaling = Vec::new();
    let rv = |w: &Workload<'_>| w.meta.resource_version.clone();
    for w in &slept {
        let stays = desired == Wakefulness::Asleep && scope_refs.contains(&w.reference);
        if stays && w.replicas == 0 {
            asleep.insert(w.reference.clone(), w.saved_replicas().unwrap_or(0));
        } else if stays {
            // Scaled up while asleep: back to sleep, waking with the new count.
            asleep.insert(w.reference.clone(), w.replicas);
            scaling.push(SupervisorAction::Sleep {
                workload: w.reference.clone(),
                saved: w.replicas,
                supervisor: key.clone(),
                resource_version: rv(w),
            });
        } else {
            let replicas = if w.replicas == 0 {
                w.saved_replicas().unwrap_or(0)
            } else {
                w.replicas
            };
            scaling.push(SupervisorAction::Wake {
                workload: w.reference.clone(),
                replicas,
                resource_version: rv(w),
            });
        }
    }
    if desired == Wakefulness::Asleep {
        for w in in_scope.iter().filter(|w| w.slept_by().is_none()) {
            // Already at zero with nothing to restore: nothing to do.
            if w.replicas == 0 {
                continue;
            }
            asleep.insert(w.reference.clone(), w.replicas);
            scaling.push(SupervisorAction::Sleep {
                workload: w.reference.clone(),
                saved: w.replicas,
                supervisor: key.clone(),
                resource_version: rv(w),
            });
        }
    }

    let phase = match (desired, scaling.is_empty()) {
        (Wakefulness::Asleep, true) => SupervisorPhase::Asleep,
        (Wakefulness::Asleep, false) => SupervisorPhase::Sleeping,
        (Wakefulness::Awake, true) => SupervisorPhase::Awake,
        (Wakefulness::Awake, false) => SupervisorPhase::Waking,
    };
    let done = scaling.is_empty();
    actions.extend(scaling);

    // After this decision's writes land, the state it describes.
    let resting = if desired == Wakefulness::Asleep {
        SupervisorPhase::Asleep
    } else {
        SupervisorPhase::Awake
    };
    let sleeping_namespaces: BTreeSet<String> =
        asleep.keys().map(|w| w.namespace.clone()).collect();
    let mut conditions = vec![
        condition(
            conditions_before,
            "Ready",
            true,
            if resting == SupervisorPhase::Asleep {
                "Asleep"
            } else {
                "Awake"
            },
            "Workloads are where the schedule wants them.",
            generation,
            now,
        ),
        condition(
            conditions_before,
            "ScheduleValid",
            true,
            "Valid",
            "The schedule is valid.",
            generation,
            now,
        ),
    ];
    if let Some(problem) = override_problem {
        conditions.push(condition(
            conditions_before,
            "OverrideValid",
            false,
            "Invalid",
            &problem,
            generation,
            now,
        ));
    }
    let status = ResourceSupervisorStatus {
        current_status: Some(resting.name().into()),
        next_transition_time: next.map(|n| n.to_string()),
        observed_generation: generation,
        conditions,
        sleeping_namespaces: sleeping_namespaces.into_iter().collect(),
        sleeping_applications: asleep
            .into_iter()
            .map(|(w, replicas)| SupervisedApplication {
                namespace: w.namespace,
                kind: w.kind.name().into(),
                name: w.name,
                replicas,
            })
            .collect(),
        manual_override: manual,
    };
    if !deleting {
        push_status(&mut actions, &key, previous, status);
    } else if done && has_finalizer {
        actions.push(SupervisorAction::RemoveFinalizer {
            supervisor: key.clone(),
        });
    }
    SupervisorDecision {
        from,
        phase: if actions.is_empty() { resting } else { phase },
        actions,
        wake_at: next,
    }
}

fn push_status(
    actions: &mut Vec<SupervisorAction>,
    key: &str,
    previous: Option<&ResourceSupervisorStatus>,
    status: ResourceSupervisorStatus,
) {
    if previous != Some(&status) {
        actions.push(SupervisorAction::UpdateStatus {
            supervisor: key.to_owned(),
            status,
        });
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn keys_read_back_as_what_they_name() {
        let mut rs = ResourceSupervisor::new("nightly", Default::default());
        rs.metadata.namespace = Some("dev".into());
        let key = Supervisor::Namespaced(rs).key();
        assert_eq!(
            SupervisorId::parse(&key),
            Some(SupervisorId::Namespaced {
                namespace: "dev".into(),
                name: "nightly".into()
            })
        );
        let crs = ClusterResourceSupervisor::new("all", Default::default());
        assert_eq!(
            SupervisorId::parse(&Supervisor::Cluster(crs).key()),
            Some(SupervisorId::Cluster { name: "all".into() })
        );
        assert_eq!(SupervisorId::parse("Tenant/x"), None);
        assert_eq!(SupervisorId::parse("ResourceSupervisor/x"), None);
    }

    proptest::proptest! {
        #[test]
        fn a_key_reads_back_and_only_its_namespace_prefix_matches_it(
            namespace in "[a-z][a-z0-9-]{0,12}",
            other in "[a-z][a-z0-9-]{0,12}",
            name in "[a-z][a-z0-9-]{0,12}",
        ) {
            let id = SupervisorId::Namespaced { namespace: namespace.clone(), name: name.clone() };
            proptest::prop_assert_eq!(SupervisorId::parse(&id.key()), Some(id.clone()));
            proptest::prop_assert!(id.key().starts_with(&SupervisorId::namespace_prefix(&namespace)));
            proptest::prop_assert_eq!(
                id.key().starts_with(&SupervisorId::namespace_prefix(&other)),
                namespace == other
            );
            let cluster = SupervisorId::Cluster { name: name.clone() };
            proptest::prop_assert_eq!(cluster.key(), cluster_key(&name));
            proptest::prop_assert_eq!(SupervisorId::parse(&cluster.key()), Some(cluster));
        }
    }
}
