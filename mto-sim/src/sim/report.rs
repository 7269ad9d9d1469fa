//! What a run reports, and why one stops early.

use std::collections::BTreeMap;

use mto_model::invariants::Violation;

use super::Sim;
use crate::scenario::duration_text;

/// A line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TimelineEntry {
    /// Simulated time from the start.
    pub at: String,
    /// What happened.
    pub text: String,
}

/// How long the cluster took to settle after a change.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Convergence {
    /// The change.
    pub change: String,
    /// When it happened.
    pub at: String,
    /// How long until every tenant was steady.
    pub took: String,
    /// The same, in milliseconds.
    pub took_ms: u64,
}

/// One tenant's cost over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TenantCost {
    /// What its running workloads cost, micro-USD.
    pub cost: i64,
    /// What its sleeping workloads would have cost, micro-USD.
    pub saved: i64,
}

/// What a run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Simulated time covered.
    pub simulated: String,
    /// Events processed.
    pub steps: u64,
    /// Tenant decisions made.
    pub decisions: u64,
    /// Tenant reconciles that needed no decision: nothing the tenant's
    /// last, empty, decision read had changed.
    pub decisions_skipped: u64,
    /// API writes accepted by the cluster, leader election's Lease
    /// renewals aside.
    pub writes: u64,
    /// Lease writes of leader election: one per renewal, every retry
    /// period, whatever the tenants do.
    pub lease_writes: u64,
    /// Objects mto created.
    pub objects_created: u64,
    /// Faults injected, by name.
    pub faults: BTreeMap<String, u64>,
    /// Invariant checks run (per tenant, per step, plus every delete).
    pub invariant_checks: u64,
    /// Settling time after each change.
    pub convergence: Vec<Convergence>,
    /// Tenants by phase at the end.
    pub tenants_by_phase: BTreeMap<String, u64>,
    /// Supervisor decisions made.
    pub supervisor_decisions: u64,
    /// Template instance decisions made.
    pub instance_decisions: u64,
    /// Decisions about Templates' deletion guard.
    pub template_guard_decisions: u64,
    /// Decisions about the console the operator deploys.
    pub pilot_decisions: u64,
    /// Decisions about Extensions (Argo CD AppProjects).
    pub extension_decisions: u64,
    /// Decisions about mto's objects in Vault.
    pub vault_decisions: u64,
    /// Calls to Vault that wrote (mounts, policies, groups, roles).
    pub vault_writes: u64,
    /// Readings of Vault.
    pub vault_reads: u64,
    /// Calls to Vault that failed (it was down, or a name was taken).
    pub vault_failures: u64,
    /// What Vault holds of mto's at the end, by kind.
    pub vault_objects: BTreeMap<String, u64>,
    /// Template instances by phase at the end.
    pub instances_by_phase: BTreeMap<String, u64>,
    /// Objects the template instances deployed, at the end.
    pub objects_deployed: u64,
    /// The Argo CD AppProjects in the cluster at the end.
    pub app_projects: Vec<String>,
    /// Helm chart renderings made (one per chart request a view lacked).
    pub charts_rendered: u64,
    /// Sleep and wake transitions supervisors completed.
    pub hibernation_transitions: u64,
    /// Decisions made while changes were still on their way to the
    /// replica's view (or its watch was down): from a stale view.
    pub stale_decisions: u64,
    /// Times a replica took the lead (with several replicas).
    pub leader_changes: u64,
    /// Replica-hours not run thanks to hibernation.
    pub replica_hours_saved: f64,
    /// What each tenant's workloads cost over the run (their requests at
    /// OpenCost's default prices), and what hibernation saved, in
    /// micro-USD; empty when no workload asks for anything.
    pub showback: BTreeMap<String, TenantCost>,
    /// Notable events.
    pub timeline: Vec<TimelineEntry>,
    /// Hash of the full trace: equal for equal seeds.
    pub trace_hash: String,
    /// What people's requests through the admission webhook came to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission: Option<super::AdmissionReport>,
}

/// Why a run stopped early.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "error", rename_all = "camelCase")]
pub enum SimError {
    /// Changes were still not settled long after the last change and the
    /// end of faults.
    #[error("{0}")]
    NotConverged(Box<NotConverged>),
    /// An invariant broke.
    #[error("{0}")]
    Invariant(Box<BrokenInvariant>),
}

/// Where a run failed, and what led there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The seed: `--seed` replays the run.
    pub seed: u64,
    /// The step it failed at.
    pub step: u64,
    /// Simulated time.
    pub at: String,
    /// What the failure is about: tenants, namespaces, supervisors,
    /// workloads.
    pub subjects: Vec<String>,
    /// Every line of the run's trace that names a subject, from the start:
    /// what led there, without the rest of the cluster. Filled by replaying
    /// the run with the same seed.
    pub history: Vec<String>,
    /// The last lines of the trace.
    pub trace: Vec<String>,
}

impl Failure {
    fn at(sim: &Sim, subjects: Vec<String>) -> Failure {
        Failure {
            seed: sim.seed,
            step: sim.report.steps,
            at: duration_text::show(sim.elapsed()),
            subjects,
            history: Vec::new(),
            trace: sim.trace_tail.iter().cloned().collect(),
        }
    }

    /// The history, then the last steps.
    fn write_details(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.history.is_empty() {
            writeln!(f, "what happened to {}:", self.subjects.join(", "))?;
            for line in &self.history {
                writeln!(f, "{line}")?;
            }
        }
        write!(f, "last steps:\n{}", self.trace.join("\n"))
    }
}

/// A run that did not settle, and what kept it busy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotConverged {
    /// When the oldest pending change happened.
    pub since: String,
    /// The oldest pending change.
    pub change: String,
    /// What was still going on at the end.
    pub busy: String,
    /// The end of the run; its subjects are the tenants still queued, or
    /// else those not at rest.
    #[serde(flatten)]
    pub failure: Failure,
}

impl std::fmt::Display for NotConverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "not converged at the end ({}), seed {}: still pending since {}: {}\n{}",
            self.failure.at, self.failure.seed, self.since, self.change, self.busy
        )?;
        self.failure.write_details(f)
    }
}

/// An invariant that broke, where, and what led to it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BrokenInvariant {
    /// What broke.
    pub violation: String,
    /// Where.
    #[serde(flatten)]
    pub failure: Failure,
}

impl std::fmt::Display for BrokenInvariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "invariant violated at step {} ({}), seed {}: {}",
            self.failure.step, self.failure.at, self.failure.seed, self.violation
        )?;
        self.failure.write_details(f)
    }
}

impl SimError {
    /// Where and about what the run failed.
    pub fn failure(&self) -> &Failure {
        match self {
            SimError::NotConverged(e) => &e.failure,
            SimError::Invariant(e) => &e.failure,
        }
    }

    pub(super) fn failure_mut(&mut self) -> &mut Failure {
        match self {
            SimError::NotConverged(e) => &mut e.failure,
            SimError::Invariant(e) => &mut e.failure,
        }
    }

    pub(super) fn invariant(sim: &Sim, v: &Violation) -> SimError {
        Self::broken(
            sim,
            v.to_string(),
            v.subjects().into_iter().map(str::to_owned).collect(),
        )
    }

    pub(super) fn broken(sim: &Sim, violation: String, subjects: Vec<String>) -> SimError {
        SimError::Invariant(Box::new(BrokenInvariant {
            violation,
            failure: Failure::at(sim, subjects),
        }))
    }

    pub(super) fn not_converged(
        sim: &Sim,
        since: String,
        change: String,
        busy: String,
        subjects: Vec<String>,
    ) -> SimError {
        SimError::NotConverged(Box::new(NotConverged {
            since,
            change,
            busy,
            failure: Failure::at(sim, subjects),
        }))
    }
}
