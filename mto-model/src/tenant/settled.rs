//! Deciding again only when something changed.

use std::collections::HashMap;

use super::{Decision, decide};
use crate::Timestamp;
use crate::observed::Observed;

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
    at: HashMap<String, u64>,
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
        let revision = observed.revision(tenant);
        if revision.is_some() && self.at.get(tenant) == revision.as_ref() {
            return None;
        }
        let Some(object) = observed.tenant(tenant) else {
            self.at.remove(tenant);
            return None;
        };
        let decision = decide(object, observed, now);
        let quiet = decision.actions.is_empty()
            && decision.events.is_empty()
            && decision.requeue_after.is_none()
            && object.metadata.deletion_timestamp.is_none();
        match revision {
            Some(revision) if quiet => {
                self.at.insert(tenant.to_owned(), revision);
            }
            _ => {
                self.at.remove(tenant);
            }
        }
        Some(decision)
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
