//! Hibernation in the simulation: teams deploy workloads, supervisors decide
//! on a schedule and on the events of the namespaces they cover, and the run
//! counts the replica-hours their sleep saves.

use mto_model::hibernation::{SupervisorAction, SupervisorId, WorkloadRef, WorkloadView};
use mto_model::invariants::{check_supervisor_at_rest, check_workload};
use mto_model::machine::Phase;
use mto_model::observed::Observed;

use super::{Event, Fault, Sim, SimError, TIMELINE_TENANT_LIMIT, WATCH_LATENCY, millis};
use crate::store::{StoreError, Workload};

impl Sim {
    pub(super) fn schedule_supervisor(&mut self, key: &str, at: u64) {
        if !self.operator_up || self.supervisions.get(key).is_some_and(|t| *t <= at) {
            return;
        }
        self.supervisions.insert(key.to_owned(), at);
        let epoch = self.epoch;
        self.push(
            at,
            Event::Supervise {
                supervisor: key.to_owned(),
                epoch,
            },
        );
    }

    pub(super) fn supervisors_of(&self, namespace: &str) -> Vec<String> {
        self.store.view().supervisors_covering(namespace)
    }

    /// A namespace appeared or changed: teams deploy what waited for it,
    /// and the supervisors covering it look again.
    pub(super) fn namespace_changed(&mut self, namespace: &str) {
        let live = self
            .store
            .view()
            .namespace(namespace)
            .is_some_and(|n| n.metadata.deletion_timestamp.is_none());
        if live && let Some(waiting) = self.waiting_workloads.remove(namespace) {
            for w in waiting {
                self.deploy(w);
            }
        }
        let at = self.now_ms + millis(WATCH_LATENCY);
        for key in self.supervisors_of(namespace) {
            self.schedule_supervisor(&key, at);
        }
    }

    /// A user deploys or re-applies a workload (its count becomes the one
    /// it should run at); one whose namespace does not exist yet waits.
    pub(super) fn deploy(&mut self, workload: Workload) {
        let (meta, replicas, kind) = match &workload {
            Workload::Deployment(d) => (
                &d.metadata,
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                mto_model::hibernation::WorkloadKind::Deployment,
            ),
            Workload::StatefulSet(st) => (
                &st.metadata,
                st.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                mto_model::hibernation::WorkloadKind::StatefulSet,
            ),
        };
        let reference = WorkloadRef {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        };
        let before = self.asleep_count(&reference);
        match self.store.put_workload(workload.clone(), self.now()) {
            Ok(()) => {
                self.intended.insert(reference.clone(), replicas);
                self.asleep_replicas += self.asleep_count(&reference) - before;
                self.trace(format!("user applies {reference} with {replicas} replicas"));
                let at = self.now_ms + millis(WATCH_LATENCY);
                for key in self.supervisors_of(&reference.namespace) {
                    self.schedule_supervisor(&key, at);
                }
            }
            Err(_) => self
                .waiting_workloads
                .entry(reference.namespace.clone())
                .or_default()
                .push(workload),
        }
    }

    /// The replicas a workload does not run because it sleeps.
    pub(super) fn asleep_count(&self, reference: &WorkloadRef) -> i64 {
        let view = self.store.view();
        view.workloads_in(&reference.namespace)
            .into_iter()
            .find(|w| w.reference == *reference)
            .filter(|w| w.replicas == 0 && w.slept_by().is_some())
            .and_then(|w| w.saved_replicas())
            .map_or(0, i64::from)
    }

    pub(super) fn account_sleep(&mut self, until_ms: u64) {
        let span = until_ms.saturating_sub(self.asleep_since_ms);
        self.replica_ms +=
            u128::from(span) * u128::try_from(self.asleep_replicas.max(0)).unwrap_or(0);
        self.asleep_since_ms = self.asleep_since_ms.max(until_ms);
    }

    pub(super) fn supervise(&mut self, key: &str) -> Result<(), SimError> {
        let Some(supervisor) = self.store.view().objects().supervisors.get(key).cloned() else {
            return Ok(());
        };
        let now = self.now();
        let decision = mto_model::hibernation::decide(&supervisor, self.store.view(), now);
        self.report.supervisor_decisions += 1;
        let wake_at = decision.wake_at.map(|t| {
            let ms = (t.as_millisecond() - self.start.as_millisecond()).max(0);
            u64::try_from(ms).unwrap_or(u64::MAX)
        });
        if decision.actions.is_empty() {
            self.attempts.remove(key);
            self.report.invariant_checks += 1;
            if let Some(v) = check_supervisor_at_rest(self.store.view(), &supervisor).first() {
                return Err(SimError::invariant(self, v));
            }
            self.record_supervisor_phase(key);
            if let Some(at) = wake_at {
                self.schedule_supervisor(key, at);
            }
            return Ok(());
        }
        self.trace(format!(
            "supervise {key}: {} actions ({})",
            decision.actions.len(),
            decision.phase.name()
        ));
        for action in &decision.actions {
            match self.inject_fault(&action.to_string()) {
                Some(Fault::Crashed) => return Ok(()),
                Some(Fault::Refused) => {
                    self.retry_supervisor(key);
                    return Ok(());
                }
                None => {}
            }
            let workload = match action {
                SupervisorAction::Sleep { workload, .. }
                | SupervisorAction::Wake { workload, .. } => Some(workload.clone()),
                _ => None,
            };
            let before = workload.as_ref().map_or(0, |w| self.asleep_count(w));
            if let Err(e) = self.store.execute_supervisor(action) {
                self.trace(format!("refused {action}: {e}"));
                self.retry_supervisor(key);
                return Ok(());
            }
            self.trace(format!("  {action}"));
            if let Some(w) = workload {
                self.asleep_replicas += self.asleep_count(&w) - before;
                if let Some(intended) = self.intended.get(&w).copied() {
                    self.report.invariant_checks += 1;
                    let view = self.store.view();
                    let found = view
                        .workloads_in(&w.namespace)
                        .into_iter()
                        .find(|x| x.reference == w);
                    if let Some(v) = found.and_then(|x| check_workload(&x, intended)) {
                        return Err(SimError::invariant(self, &v));
                    }
                }
            }
        }
        self.attempts.remove(key);
        // Its own writes come back as watch events: decide again, to rest.
        self.schedule_supervisor(key, self.now_ms + millis(WATCH_LATENCY));
        Ok(())
    }

    /// A user deletes a supervisor; it decides again at once, to wake what
    /// it put to sleep before its finalizer lets it go.
    pub(super) fn delete_supervisor(&mut self, id: &SupervisorId) -> Result<(), StoreError> {
        let key = id.key();
        self.schedule_supervisor(&key, self.now_ms + millis(WATCH_LATENCY));
        self.store.delete_supervisor(&key, self.now())
    }

    pub(super) fn retry_supervisor(&mut self, key: &str) {
        let delay = self.backoff(key);
        self.schedule_supervisor(key, self.now_ms + millis(delay));
    }

    pub(super) fn record_supervisor_phase(&mut self, key: &str) {
        let Some(supervisor) = self.store.view().objects().supervisors.get(key) else {
            return;
        };
        let phase = supervisor.phase().name().to_owned();
        let detail = supervisor
            .status()
            .map(|s| {
                let replicas: i32 = s.sleeping_applications.iter().map(|a| a.replicas).sum();
                if s.sleeping_applications.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} workloads, {replicas} replicas saved)",
                        s.sleeping_applications.len()
                    )
                }
            })
            .unwrap_or_default();
        let previous = self.supervisor_phases.insert(key.to_owned(), phase.clone());
        if previous.as_ref() != Some(&phase) {
            if previous.is_some() {
                self.report.hibernation_transitions += 1;
            }
            let text = format!(
                "{key}: {} → {phase}{detail}",
                previous.unwrap_or_else(|| "new".into())
            );
            if self.store.view().objects().supervisors.len() <= TIMELINE_TENANT_LIMIT {
                self.note(text);
            } else {
                self.trace(text);
            }
        }
    }
}
