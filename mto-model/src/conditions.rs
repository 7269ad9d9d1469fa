//! Status conditions, as every machine writes them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::Timestamp;

/// A condition for `generation`. Its lastTransitionTime is kept from the
/// same condition in `previous` while its status stays the same, so a
/// decision that changes nothing writes nothing.
pub(crate) fn condition(
    previous: &[Condition],
    type_: &str,
    ok: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let last = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: last,
    }
}

/// Puts `condition` in place of the one of type `type_` (or only removes
/// it), keeping the others: for a status that several machines write
/// their own parts of.
pub(crate) fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    condition: Option<Condition>,
) {
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(there) => match condition {
            Some(condition) => *there = condition,
            None => conditions.retain(|c| c.type_ != type_),
        },
        None => conditions.extend(condition),
    }
}

/// Warning events for the conditions that turned False, or changed reason
/// or message while False, since `previous`.
pub(crate) fn new_problems(
    regarding: &crate::view::ObjectRef,
    previous: &[Condition],
    current: &[Condition],
) -> Vec<crate::action::Event> {
    current
        .iter()
        .filter(|c| c.status == "False" && c.type_ != "Ready")
        .filter(|c| {
            !previous.iter().any(|p| {
                p.type_ == c.type_
                    && p.status == c.status
                    && p.reason == c.reason
                    && p.message == c.message
            })
        })
        .map(|c| crate::action::Event {
            regarding: regarding.clone(),
            warning: true,
            reason: c.reason.clone(),
            message: c.message.clone(),
        })
        .collect()
}

/// A status that reports conditions.
pub(crate) trait WithConditions: PartialEq {
    /// Its conditions.
    fn conditions(&self) -> &[Condition];
}

impl WithConditions for crate::api::ResourceSupervisorStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

impl WithConditions for crate::api::IntegrationConfigStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

impl WithConditions for crate::api::ExtensionsStatus {
    fn conditions(&self) -> &[Condition] {
        self.argocd
            .as_ref()
            .map(|a| a.conditions.as_slice())
            .unwrap_or_default()
    }
}

impl WithConditions for crate::api::TemplateStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

impl WithConditions for crate::api::TemplateInstanceStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// How a decision ends: `status` written last (so it never claims more
/// than was done) when it differs from `previous`, and a warning for each
/// condition that turned False since. Returns the warnings.
pub(crate) fn write_status<S: WithConditions>(
    regarding: &crate::view::ObjectRef,
    previous: Option<&S>,
    status: S,
    object: impl FnOnce(S) -> crate::view::Object,
    actions: &mut Vec<crate::action::Action>,
) -> Vec<crate::action::Event> {
    if previous == Some(&status) {
        return Vec::new();
    }
    let before = previous.map(WithConditions::conditions).unwrap_or_default();
    let events = new_problems(regarding, before, status.conditions());
    actions.push(crate::action::Action::ApplyStatus {
        object: object(status),
    });
    events
}
