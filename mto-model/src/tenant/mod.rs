//! The tenant machine and its planner.
//!
//! [`decide`] turns a tenant, the integration config, its quota and the
//! observed cluster into the minimal actions that make the cluster match:
//! namespaces with their labels, role bindings for owners, editors and
//! viewers, a share of the tenant's quota and its limit range in every
//! namespace, releases or purges when namespaces are no longer asked for,
//! and a status with conditions.

mod desired;
mod plan;
mod settled;

use std::time::Duration;

pub use desired::{RequestedNamespace, USERNAME_PLACEHOLDER, is_managed, requested_namespaces};
pub use plan::decide;
pub use settled::Settled;

use crate::action::{Action, Event};
use crate::machine::Phase;

/// Where a tenant is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TenantPhase {
    /// Seen, nothing done yet.
    Pending,
    /// Writes are outstanding.
    Provisioning,
    /// Everything the tenant asks for is in place.
    Active,
    /// Some of it cannot be done (invalid spec, missing quota, a namespace
    /// another tenant owns); what can be done is in place.
    Degraded,
    /// Deleted; releasing or purging its namespaces.
    Terminating,
    /// The finalizer is off and the tenant object has disappeared. Decisions
    /// never report it; it ends the table.
    Gone,
}

impl Phase for TenantPhase {
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Provisioning,
        Self::Active,
        Self::Degraded,
        Self::Terminating,
        Self::Gone,
    ];
    const INITIAL: Self = Self::Pending;
    const TRANSITIONS: &'static [(Self, Self)] = &[
        (Self::Pending, Self::Provisioning),
        (Self::Pending, Self::Active),
        (Self::Pending, Self::Degraded),
        (Self::Pending, Self::Terminating),
        (Self::Provisioning, Self::Active),
        (Self::Provisioning, Self::Degraded),
        (Self::Provisioning, Self::Terminating),
        (Self::Active, Self::Provisioning),
        (Self::Active, Self::Degraded),
        (Self::Active, Self::Terminating),
        (Self::Degraded, Self::Provisioning),
        (Self::Degraded, Self::Active),
        (Self::Degraded, Self::Terminating),
        (Self::Terminating, Self::Gone),
    ];

    fn is_resting(self) -> bool {
        matches!(self, Self::Active | Self::Degraded | Self::Gone)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Provisioning => "Provisioning",
            Self::Active => "Active",
            Self::Degraded => "Degraded",
            Self::Terminating => "Terminating",
            Self::Gone => "Gone",
        }
    }
}

/// What the tenant controller decided.
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The phase recorded in the tenant's status when observed.
    pub from: TenantPhase,
    /// The phase while these actions run.
    pub phase: TenantPhase,
    /// What to do, in order. Empty at steady state.
    pub actions: Vec<Action>,
    /// What to tell users.
    pub events: Vec<Event>,
    /// Decide again after this long even if nothing changes (waiting on
    /// something that sends no watch event). `None`: on the next change.
    pub requeue_after: Option<Duration>,
}

impl Decision {
    /// Whether the cluster already matches (no writes at all).
    #[must_use]
    pub fn is_steady(&self) -> bool {
        self.actions.is_empty()
    }
}

#[cfg(test)]
mod tests;
