//! Leader election on a `coordination.k8s.io` Lease, so two replicas never
//! both write. The model decides ([`mto_model::lease::Candidate`]); this
//! reads and writes the Lease, every write a compare-and-swap on its
//! resourceVersion, and measures time on the replica's own monotonic clock.

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, PostParams};
use mto_model::lease::{Candidate, LeaseConfig, LeaseStep};

use super::clock::Clock;

/// Why leadership could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another replica holds the lease, or this one could not renew
    /// within the renew deadline.
    #[error("lost the lease {0}")]
    Lost(String),
}

/// A candidate for, and then holder of, the lease.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    candidate: Candidate,
    // Real time, whatever speed the operator's schedules run at: lease
    // durations are measured against the other replicas.
    clock: Clock,
}

impl Elector {
    /// A candidate; nothing is written until [`Elector::acquire`].
    pub fn new(client: Client, config: LeaseConfig) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            candidate: Candidate::new(config),
            clock: Clock::real(),
        }
    }

    fn config(&self) -> &LeaseConfig {
        self.candidate.config()
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&mut self) {
        loop {
            match self.round().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config().name, identity = %self.config().identity, "leading");
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lease: cannot read or write"),
            }
            tokio::time::sleep(self.config().retry_period).await;
        }
    }

    /// Renews the lease until it cannot; returns only when leadership is lost.
    pub async fn hold(&mut self) -> LeaseError {
        loop {
            tokio::time::sleep(self.config().retry_period).await;
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "lease: renewal failed");
            }
            if !self.candidate.is_leading(self.clock.now()) {
                return LeaseError::Lost(self.config().name.clone());
            }
        }
    }

    /// Gives the lease up, so another replica takes over at once instead of
    /// after a lease duration.
    pub async fn release(&mut self) {
        let Ok(Some(lease)) = self.api.get_opt(&self.config().name).await else {
            return;
        };
        let Some(released) = self.candidate.release(&lease, self.clock.now()) else {
            return;
        };
        match self
            .api
            .replace(&self.config().name, &PostParams::default(), &released)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config().name, "released"),
            Err(e) => tracing::warn!(error = %e, "lease: release failed; it expires on its own"),
        }
    }

    /// One round: read, decide, write. `Ok(true)` if this replica leads
    /// afterwards; a conflict means another replica won the round.
    async fn round(&mut self) -> Result<bool, kube::Error> {
        let lease = self.api.get_opt(&self.config().name).await?;
        let now = self.clock.now();
        let written = match self.candidate.decide(lease.as_ref(), now) {
            LeaseStep::Wait => return Ok(false),
            LeaseStep::Create(lease) => self.api.create(&PostParams::default(), &lease).await,
            // `replace` carries the resourceVersion read: a compare-and-swap.
            LeaseStep::Replace(lease) => {
                self.api
                    .replace(&self.config().name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(lease) => {
                self.candidate.handle_written(&lease, now);
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
