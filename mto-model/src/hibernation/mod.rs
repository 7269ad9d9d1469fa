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

mod argocd;
mod intent;
pub mod scaling;
pub mod schedule;
mod status;
mod supervisor;

use crate::Timestamp;
use crate::action::{Action, FinalizerEdit, MergePatch, Patch, Reason, Requeue};
use crate::labels::{OVERRIDE_ANNOTATION, SUPERVISOR_FINALIZER};
use crate::machine::Phase;

pub use crate::view::SupervisorId;
pub use scaling::{sleep_patch, wake_patch};
pub use supervisor::{Scaled, Supervisor, Workload, WorkloadView, workload};

use argocd::SyncPauses;
pub use argocd::app_project_kind;
use intent::Intent;
use scaling::Scaling;
use schedule::Wakefulness;

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

/// What the supervisor controller decided.
pub type SupervisorDecision = crate::action::Decision<SupervisorPhase>;

/// Decides what `supervisor` does at `now`: the finalizer that wakes its
/// workloads before it goes, the sleeps and wakes its schedule asks for,
/// the end of an expired override, and its status.
pub fn decide(
    supervisor: Supervisor<'_>,
    view: &impl WorkloadView,
    now: Timestamp,
) -> SupervisorDecision {
    let meta = supervisor.meta();
    let target = supervisor.id().object_ref();
    let from = supervisor.phase();
    let deleting = meta.deletion_timestamp.is_some();
    let mut actions = Vec::new();
    if !deleting && let Some(patch) = FinalizerEdit::of(meta, SUPERVISOR_FINALIZER, true) {
        actions.push(Action::Patch {
            target: target.clone(),
            patch: Patch::Finalizer(patch),
            reason: Reason::AddFinalizer,
        });
    }
    let intent = match Intent::of(&supervisor, now) {
        Ok(intent) => intent,
        Err(problems) => {
            // Nothing is scaled on a schedule that does not parse: what is
            // asleep stays asleep, what is awake stays awake.
            let status = status::invalid(&supervisor, &problems, now);
            return finish(
                &supervisor,
                from,
                from,
                actions,
                Some(status),
                Requeue::OnChange,
            );
        }
    };
    if intent.override_ended {
        actions.push(Action::Patch {
            target: target.clone(),
            patch: Patch::Merge(MergePatch {
                annotations: [(OVERRIDE_ANNOTATION.to_owned(), None)].into(),
                ..MergePatch::default()
            }),
            reason: Reason::EndOverride,
        });
    }
    let Scaling {
        actions: scaling,
        asleep,
    } = Scaling::plan(&supervisor, intent.desired, view);
    let pauses = SyncPauses::plan(&supervisor, intent.desired, deleting);
    let (resting, moving) = match intent.desired {
        Wakefulness::Asleep => (SupervisorPhase::Asleep, SupervisorPhase::Sleeping),
        Wakefulness::Awake => (SupervisorPhase::Awake, SupervisorPhase::Waking),
    };
    let scaled = scaling.is_empty();
    let done = scaled && pauses.pause.is_empty() && pauses.resume.is_empty();
    let phase = if done { resting } else { moving };
    // Argo CD is held before the first workload is scaled down, and let go
    // after the last one is back.
    actions.extend(pauses.pause);
    actions.extend(scaling);
    actions.extend(pauses.resume);
    let requeue = intent.next.map_or(Requeue::OnChange, Requeue::At);
    if deleting {
        // The status is not written while deleting: Argo CD is let go in
        // the same decision that takes the finalizer off, before it.
        if scaled && let Some(patch) = FinalizerEdit::of(meta, SUPERVISOR_FINALIZER, false) {
            actions.push(Action::Patch {
                target,
                patch: Patch::Finalizer(patch),
                reason: Reason::RemoveFinalizer,
            });
        }
        return finish(&supervisor, from, phase, actions, None, requeue);
    }
    let status = status::resting(&supervisor, resting, &intent, asleep, pauses.paused, now);
    finish(&supervisor, from, phase, actions, Some(status), requeue)
}

/// The decision, with the status write last (only when it changes) and
/// warnings for the conditions that turned False.
fn finish(
    supervisor: &Supervisor<'_>,
    from: SupervisorPhase,
    phase: SupervisorPhase,
    mut actions: Vec<Action>,
    status: Option<crate::api::ResourceSupervisorStatus>,
    requeue: Requeue,
) -> SupervisorDecision {
    let events = match status {
        Some(status) => crate::conditions::write_status(
            &supervisor.id().object_ref(),
            supervisor.status(),
            status,
            |s| supervisor.with_status(s),
            &mut actions,
        ),
        None => Vec::new(),
    };
    SupervisorDecision {
        from,
        phase,
        actions,
        events,
        requeue,
    }
}

#[cfg(test)]
mod tests;
