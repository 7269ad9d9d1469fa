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
mod quotas;
mod settled;
mod status;
mod terminate;

pub use desired::USERNAME_PLACEHOLDER;
pub(crate) use desired::{managed_label_pairs, namespace_creator_binding_digest};
pub use plan::decide;
pub use settled::Settled;
pub(crate) use status::said_digest;

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
pub type Decision = crate::action::Decision<TenantPhase>;

#[cfg(test)]
mod tests;
