//! Leader election on a `coordination.k8s.io` Lease, decided purely, so
//! the operator and the simulator elect the same way and the simulator can
//! prove that two replicas never both lead.
//!
//! The algorithm is the one Kubernetes' own controllers use. A candidate
//! takes the lease when it is free, or when its record has not changed for
//! a whole lease duration *as measured on the candidate's own clock*, from
//! when it first saw that record: clocks that disagree on the time cannot
//! make two leaders. Every write is a compare-and-swap on the lease's
//! resourceVersion. A leader leads while its last successful renewal is
//! younger than the renew deadline, which is shorter than the lease
//! duration; it stops at once when it sees another holder.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use crate::Timestamp;
use crate::time::after;

/// How a replica takes part in the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The Lease's name.
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub duration: Duration,
    /// How long a leader goes on without a renewal before it steps down;
    /// shorter than `duration`.
    pub renew_deadline: Duration,
    /// How often candidates and the leader try.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// The Lease `mto run` elects on by default: `mto-system/mto`, valid
    /// 15 s, given up after 10 s without renewal, tried every 2 s.
    pub fn new(identity: impl Into<String>) -> LeaseConfig {
        LeaseConfig {
            name: "mto".into(),
            namespace: "mto-system".into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What to do after reading the lease.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseStep {
    /// There is none: create this one.
    Create(Lease),
    /// Take or renew it: replace it with this one (carrying the
    /// resourceVersion read, so a concurrent writer makes it a conflict).
    Replace(Lease),
    /// Another replica holds it: wait for the next round.
    Wait,
}

/// The record a candidate watches for change: holder and renewal time.
type Record = (Option<String>, Option<MicroTime>);

/// A replica in the election, with what it saw and when, on its own clock.
#[derive(Clone, Debug)]
pub struct Candidate {
    config: LeaseConfig,
    seen: Option<(Record, Timestamp)>,
    renewed: Option<Timestamp>,
}

impl Candidate {
    /// A candidate that has seen nothing yet.
    #[must_use]
    pub fn new(config: LeaseConfig) -> Candidate {
        Candidate {
            config,
            seen: None,
            renewed: None,
        }
    }

    /// Its configuration.
    #[must_use]
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One round, from the lease as read (`None`: there is none) at `now`
    /// on this replica's clock.
    pub fn decide(&mut self, lease: Option<&Lease>, now: Timestamp) -> LeaseStep {
        let config = &self.config;
        let seconds = i32::try_from(config.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(lease) = lease else {
            return LeaseStep::Create(Lease {
                metadata: ObjectMeta {
                    name: Some(config.name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(config.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            });
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(config.identity.as_str());
        let record = (holder.clone(), spec.renew_time.clone());
        if self.seen.as_ref().map(|(r, _)| r) != Some(&record) {
            self.seen = Some((record, now));
        }
        let held_for = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(seconds)).unwrap_or(0),
        );
        let unchanged_since = self.seen.as_ref().map_or(now, |(_, since)| *since);
        let expired = after(unchanged_since, held_for) < now;
        if holder.is_some() && !ours && !expired {
            // Someone else leads: whatever this replica believed, it does not.
            self.renewed = None;
            return LeaseStep::Wait;
        }
        let mut next = lease.clone();
        let spec = next.spec.get_or_insert_with(LeaseSpec::default);
        if !ours {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(config.identity.clone());
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        LeaseStep::Replace(next)
    }

    /// The lease written in this round, at `now`: this replica leads.
    pub fn handle_written(&mut self, written: &Lease, now: Timestamp) {
        let spec = written.spec.clone().unwrap_or_default();
        self.seen = Some(((spec.holder_identity, spec.renew_time), now));
        self.renewed = Some(now);
    }

    /// Whether this replica leads at `now`: it renewed within the renew
    /// deadline, and has not seen another holder since.
    #[must_use]
    pub fn is_leading(&self, now: Timestamp) -> bool {
        self.renewed
            .is_some_and(|renewed| now < after(renewed, self.config.renew_deadline))
    }

    /// The lease given up, so another replica takes over at once rather
    /// than after a lease duration; `None` if this replica does not hold it.
    #[must_use]
    pub fn release(&mut self, lease: &Lease, now: Timestamp) -> Option<Lease> {
        let mut released = lease.clone();
        let spec = released.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return None;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(now));
        self.renewed = None;
        Some(released)
    }
}

#[cfg(test)]
mod tests;
