//! Which workloads to put to sleep or wake, and the one write that does it.

use std::collections::{BTreeMap, BTreeSet};

use crate::action::{Action, MergePatch, Patch, Reason};
use crate::labels::{SAVED_REPLICAS_ANNOTATION, SLEPT_BY_ANNOTATION};
use crate::view::ObjectRef;

use super::schedule::Wakefulness;
use super::{Supervisor, Workload, WorkloadView};

/// Scales a workload to zero, writing the count to restore and who slept
/// it in the same write, only if it is still the version observed: the
/// count saved is the count replaced, whatever crashes in between.
#[must_use]
pub fn sleep_patch(workload: &Workload<'_>, saved: i32, supervisor: &str) -> Action {
    Action::Patch {
        target: workload.reference.clone(),
        patch: Patch::Merge(MergePatch {
            annotations: [
                (
                    SAVED_REPLICAS_ANNOTATION.to_owned(),
                    Some(saved.to_string()),
                ),
                (SLEPT_BY_ANNOTATION.to_owned(), Some(supervisor.to_owned())),
            ]
            .into(),
            replicas: Some(0),
            resource_version: workload.meta.resource_version.clone(),
            ..MergePatch::default()
        }),
        reason: Reason::Sleep,
    }
}

/// Scales a workload to `replicas` and removes the sleep annotations, in
/// one write, only if it is still the version observed.
#[must_use]
pub fn wake_patch(workload: &Workload<'_>, replicas: i32) -> Action {
    Action::Patch {
        target: workload.reference.clone(),
        patch: Patch::Merge(MergePatch {
            annotations: [
                (SAVED_REPLICAS_ANNOTATION.to_owned(), None),
                (SLEPT_BY_ANNOTATION.to_owned(), None),
            ]
            .into(),
            replicas: Some(replicas),
            resource_version: workload.meta.resource_version.clone(),
            ..MergePatch::default()
        }),
        reason: Reason::Wake,
    }
}

/// The writes that bring workloads where the supervisor wants them, and
/// what sleeps once they land.
#[derive(Debug, Default)]
pub(super) struct Scaling {
    /// The sleeps and wakes, in order.
    pub(super) actions: Vec<Action>,
    /// Every workload asleep after them, with the count it wakes with.
    pub(super) asleep: BTreeMap<ObjectRef, i32>,
}

impl Scaling {
    /// The plan for `supervisor` wanting `desired`.
    pub(super) fn plan(
        supervisor: &Supervisor<'_>,
        desired: Wakefulness,
        view: &impl WorkloadView,
    ) -> Scaling {
        let key = supervisor.key();
        let deleting = supervisor.meta().deletion_timestamp.is_some();
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
        let scope: BTreeSet<&ObjectRef> = in_scope.iter().map(|w| &w.reference).collect();
        let mut plan = Scaling::default();
        for w in &view.workloads_slept_by(&key) {
            let stays = desired == Wakefulness::Asleep && scope.contains(&w.reference);
            if stays && w.replicas == 0 {
                plan.asleep
                    .insert(w.reference.clone(), w.saved_replicas().unwrap_or(0));
            } else if stays {
                // Scaled up while asleep: back to sleep, waking with the new count.
                plan.asleep.insert(w.reference.clone(), w.replicas);
                plan.actions.push(sleep_patch(w, w.replicas, &key));
            } else {
                let replicas = if w.replicas == 0 {
                    w.saved_replicas().unwrap_or(0)
                } else {
                    w.replicas
                };
                plan.actions.push(wake_patch(w, replicas));
            }
        }
        if desired == Wakefulness::Asleep {
            // Already at zero with nothing to restore: nothing to do.
            for w in in_scope
                .iter()
                .filter(|w| w.slept_by().is_none() && w.replicas > 0)
            {
                plan.asleep.insert(w.reference.clone(), w.replicas);
                plan.actions.push(sleep_patch(w, w.replicas, &key));
            }
        }
        plan
    }
}
