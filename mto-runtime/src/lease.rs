//! Leader election on a `coordination.k8s.io` Lease, so two replicas never
//! both write.
//!
//! The algorithm is the one Kubernetes' own controllers use: a candidate
//! takes the lease when it is free, or when its record has not changed for
//! a whole lease duration *as measured on the candidate's own clock* (so
//! clock skew between nodes cannot make two leaders); every write is a
//! compare-and-swap on the lease's resourceVersion. The leader renews well
//! before the lease runs out and steps down (the process exits, to be
//! restarted as a candidate) if it cannot renew within the renew deadline.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use mto_model::Timestamp;
use tokio::time::Instant;

/// How a replica takes part in the election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The Lease's name.
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub duration: Duration,
    /// How long the leader keeps trying to renew before stepping down.
    pub renew_deadline: Duration,
    /// How often candidates and the leader try.
    pub retry_period: Duration,
}

/// Why leadership could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Could not renew for the whole renew deadline.
    #[error("lost the lease {0}: not renewed within the renew deadline")]
    Lost(String),
}

/// What this replica last saw of the lease, and when, on its own clock.
#[derive(Debug, Default)]
struct Observation {
    record: Option<(Option<String>, Option<MicroTime>)>,
    since: Option<Instant>,
}

/// A candidate for, and then holder of, the lease.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    seen: Observation,
}

impl Elector {
    /// A candidate; nothing is written until [`Elector::acquire`].
    pub fn new(client: Client, config: LeaseConfig) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
            seen: Observation::default(),
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "leading");
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lease: cannot read or write"),
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the lease until it cannot; returns only when leadership is lost.
    pub async fn hold(&mut self) -> LeaseError {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return LeaseError::Lost(self.config.name.clone()),
                Err(e) => tracing::warn!(error = %e, "lease: renewal failed"),
            }
            if renewed.elapsed() > self.config.renew_deadline {
                return LeaseError::Lost(self.config.name.clone());
            }
        }
    }

    /// Gives the lease up, so another replica takes over at once instead of
    /// after a lease duration.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(&self.config.identity) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.name, "released"),
            Err(e) => tracing::warn!(error = %e, "lease: release failed; it expires on its own"),
        }
    }

    /// One round: `Ok(true)` if this replica holds the lease afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let duration_seconds = i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.config.identity.as_str());
        let record = (holder.clone(), spec.renew_time.clone());
        if self.seen.record.as_ref() != Some(&record) {
            self.seen = Observation {
                record: Some(record),
                since: Some(Instant::now()),
            };
        }
        let held_for = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(duration_seconds)).unwrap_or(0),
        );
        let expired = self
            .seen
            .since
            .is_none_or(|since| since.elapsed() > held_for);
        if holder.is_some() && !ours && !expired {
            return Ok(false);
        }
        if !ours {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.config.identity.clone());
        spec.lease_duration_seconds = Some(duration_seconds);
        spec.renew_time = Some(now);
        // `replace` carries the resourceVersion read above: a concurrent
        // writer makes this a 409, and the other replica has won the round.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                let spec = written.spec.unwrap_or_default();
                self.seen = Observation {
                    record: Some((spec.holder_identity, spec.renew_time)),
                    since: Some(Instant::now()),
                };
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
