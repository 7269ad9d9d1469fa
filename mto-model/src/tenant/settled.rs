//! Deciding again only when something changed.

use std::collections::BTreeMap;

use super::{Decision, decide};
use crate::Timestamp;
use crate::action::Requeue;
use crate::view::Observed;

/// The tenants whose last decision had nothing to do, with the revision of
/// their inputs ([`Observed::revision`]) it was made at.
///
/// A decision is a pure function of the tenant and what it observes; one
/// with no actions, no events and no requeue does not depend on the time
/// either. So until the revision moves, deciding again would find nothing
/// to do again, and [`Settled::decide`] skips it: a periodic pass over
/// every tenant, a re-list or a simulated week costs a lookup per settled
/// tenant instead of re-planning all its objects.
#[derive(Clone, Debug, Default)]
pub struct Settled {
    at: BTreeMap<String, u64>,
}

impl Settled {
    /// Decides for `tenant` unless it settled at the current revision of
    /// its inputs. `None`: nothing to decide (settled, or no such tenant).
    pub fn decide(
        &mut self,
        tenant: &str,
        observed: &impl Observed,
        now: Timestamp,
    ) -> Option<Decision> {
        if self.is_settled(tenant, observed) {
            return None;
        }
        let Some(object) = observed.tenant(tenant) else {
            self.forget(tenant);
            return None;
        };
        let decision = decide(object, observed, now);
        self.record(tenant, observed, &decision);
        Some(decision)
    }

    /// Whether `tenant`'s last decision had nothing to do and nothing it
    /// read has changed since.
    #[must_use]
    pub fn is_settled(&self, tenant: &str, observed: &impl Observed) -> bool {
        observed
            .revision(tenant)
            .is_some_and(|revision| self.at.get(tenant) == Some(&revision))
    }

    /// Remembers `decision`, just made for `tenant` from `observed`: the
    /// tenant is settled if it had nothing to do.
    pub fn record(&mut self, tenant: &str, observed: &impl Observed, decision: &Decision) {
        let quiet = decision.actions.is_empty()
            && decision.events.is_empty()
            && decision.requeue == Requeue::OnChange
            && observed
                .tenant(tenant)
                .is_some_and(|t| t.metadata.deletion_timestamp.is_none());
        match observed.revision(tenant) {
            Some(revision) if quiet => {
                self.at.insert(tenant.to_owned(), revision);
            }
            _ => self.forget(tenant),
        }
    }

    /// Forgets a tenant (it is gone).
    pub fn forget(&mut self, tenant: &str) {
        self.at.remove(tenant);
    }

    /// How many tenants are settled.
    #[must_use]
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether no tenant is settled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}
