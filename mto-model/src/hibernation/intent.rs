//! What a supervisor wants now: awake or asleep, until when, and why.

use crate::Timestamp;
use crate::api::ManualOverride;
use crate::labels::OVERRIDE_ANNOTATION;

use super::Supervisor;
use super::schedule::{Hibernation, Wakefulness};

/// A manual wake or sleep asked for on the supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Override {
    /// None asked for.
    None,
    /// `wake` or `sleep`.
    Requested(Wakefulness),
    /// Something else: ignored, and said so.
    Invalid(String),
}

impl Override {
    fn of(supervisor: &Supervisor<'_>) -> Override {
        let value = supervisor
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(OVERRIDE_ANNOTATION))
            .map(|v| v.trim().to_ascii_lowercase());
        match value.as_deref() {
            None => Override::None,
            Some("wake") => Override::Requested(Wakefulness::Awake),
            Some("sleep") => Override::Requested(Wakefulness::Asleep),
            Some(other) => Override::Invalid(format!(
                "annotation {OVERRIDE_ANNOTATION}: {other:?} is neither \"wake\" nor \"sleep\"; it is ignored"
            )),
        }
    }
}

fn action_name(state: Wakefulness) -> &'static str {
    match state {
        Wakefulness::Awake => "wake",
        Wakefulness::Asleep => "sleep",
    }
}

/// Where a supervisor wants its workloads.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Intent {
    /// Awake or asleep.
    pub(super) desired: Wakefulness,
    /// When that changes next.
    pub(super) next: Option<Timestamp>,
    /// The manual override in force.
    pub(super) manual: Option<ManualOverride>,
    /// The override annotation has run out and comes off.
    pub(super) override_ended: bool,
    /// Why the override annotation is ignored, if it is.
    pub(super) override_problem: Option<String>,
}

impl Intent {
    /// What `supervisor` wants at `now`: its schedule, unless a manual
    /// override holds (until the schedule's next transition), and awake
    /// while it is being deleted. `Err`: the schedule's problems, as
    /// `field: why`.
    pub(super) fn of(supervisor: &Supervisor<'_>, now: Timestamp) -> Result<Intent, String> {
        if supervisor.meta().deletion_timestamp.is_some() {
            // Everything wakes, whatever the schedule says.
            return Ok(Intent {
                desired: Wakefulness::Awake,
                next: None,
                manual: None,
                override_ended: false,
                override_problem: None,
            });
        }
        let schedule = Hibernation::compiled(supervisor.schedule()).map_err(|problems| {
            problems
                .iter()
                .map(|(field, why)| format!("{field}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let since = supervisor
            .meta()
            .creation_timestamp
            .as_ref()
            .map_or(now, |t| t.0);
        let mut intent = Intent {
            desired: schedule.state_at(now, since),
            next: schedule.next_transition(now, since),
            manual: None,
            override_ended: false,
            override_problem: None,
        };
        match Override::of(supervisor) {
            Override::None => {}
            Override::Invalid(problem) => intent.override_problem = Some(problem),
            Override::Requested(state) => {
                let name = action_name(state);
                // The end recorded when the override began, else the next
                // scheduled transition.
                let until = match supervisor
                    .status()
                    .and_then(|s| s.manual_override.as_ref())
                    .filter(|o| o.action == name)
                {
                    Some(o) => o.until.as_deref().and_then(|u| u.parse::<Timestamp>().ok()),
                    None => intent.next,
                };
                if until.is_some_and(|u| u <= now) {
                    intent.override_ended = true;
                } else {
                    intent.desired = state;
                    intent.next = until;
                    intent.manual = Some(ManualOverride {
                        action: name.into(),
                        until: until.map(|u| u.to_string()),
                    });
                }
            }
        }
        Ok(intent)
    }
}
