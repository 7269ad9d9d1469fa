//! The invariants of DESIGN.md, checked against the cluster as it is
//! (never a replica's view of it): after every step, and at every rest.

use std::time::Duration;

use mto_model::api::Tenant;
use mto_model::hibernation::Supervisor;
use mto_model::invariants::{
    Reach, Scope, check_instance_at_rest, check_supervisor_at_rest, check_tenant,
    check_tenant_reached,
};
use mto_model::template::Instance;
use mto_model::view::{Kind, Observed as _};

use super::operator::Busy;
use super::{Convergence, Sim, SimError, counted, duration_text};

impl Sim {
    /// Adds `reach` to what this step's writes reached of `tenant`.
    pub(super) fn touch(&mut self, tenant: &str, reach: Reach) {
        match self.touched.get_mut(tenant) {
            Some(reached) => reached.widen(reach),
            None => {
                self.touched.insert(tenant.to_owned(), reach);
            }
        }
    }

    /// Invariant 1 (and what holds at every instant) for the tenants the
    /// step concerned.
    pub(super) fn check_touched(&mut self) -> Result<(), SimError> {
        let touched = std::mem::take(&mut self.touched);
        let mut violation = None;
        for (name, reach) in &touched {
            let snapshot = self.cluster.snapshot();
            let Some(tenant) = snapshot.tenant(name) else {
                continue;
            };
            self.report.invariant_checks += 1;
            violation = check_tenant_reached(snapshot, tenant, reach)
                .into_iter()
                .next();
            if violation.is_some() {
                break;
            }
        }
        // Moved, not copied: a step touches a tenant at every write.
        self.unsettled.extend(touched.into_keys());
        match violation {
            Some(v) => Err(SimError::invariant(self, &v)),
            None => Ok(()),
        }
    }

    /// Never two replicas running controllers at once.
    pub(super) fn check_leaders(&mut self) -> Result<(), SimError> {
        let leaders = self.leaders();
        if leaders.len() > 1 {
            let list: Vec<String> = leaders.iter().map(ToString::to_string).collect();
            return Err(SimError::broken(
                self,
                format!("replicas {} lead at the same time", list.join(" and ")),
                Vec::new(),
            ));
        }
        Ok(())
    }

    /// When nothing is left to do, every change so far has converged: each
    /// tenant and supervisor a change concerned is at rest with nothing to
    /// decide (invariant 7), and the leader's view is the cluster.
    pub(super) fn check_quiescence(&mut self) -> Result<(), SimError> {
        if self.pending_changes.is_empty() || !self.still_busy_reasons().is_empty() {
            return Ok(());
        }
        let now = self.now();
        for name in std::mem::take(&mut self.unsettled) {
            let snapshot = self.cluster.snapshot();
            let Some(tenant) = snapshot.tenant(&name) else {
                continue;
            };
            self.report.invariant_checks += 2;
            if let Some(v) = check_tenant(snapshot, tenant, Scope::AtRest)
                .into_iter()
                .next()
            {
                return Err(SimError::invariant(self, &v));
            }
            let d = mto_model::tenant::decide(tenant, snapshot, now);
            if let Some(first) = d.actions.first() {
                let violation = format!(
                    "invariant 7: tenant {name} still has {} at steady state, first: {first}",
                    counted(d.actions.len(), "action")
                );
                return Err(SimError::broken(self, violation, vec![name]));
            }
        }
        for id in std::mem::take(&mut self.unsettled_supervisors) {
            let snapshot = self.cluster.snapshot();
            let Some(supervisor) = Supervisor::find(snapshot, &id) else {
                continue;
            };
            self.report.invariant_checks += 1;
            if let Some(v) = check_supervisor_at_rest(snapshot, &supervisor).first() {
                return Err(SimError::invariant(self, v));
            }
        }
        for id in std::mem::take(&mut self.unsettled_instances) {
            let snapshot = self.cluster.snapshot();
            let Some(instance) = Instance::find(snapshot, &id) else {
                continue;
            };
            self.report.invariant_checks += 2;
            if let Some(v) = check_instance_at_rest(snapshot, &instance).first() {
                return Err(SimError::invariant(self, v));
            }
            let d = mto_model::template::decide(instance, snapshot, now);
            if let Some(first) = d.actions.first() {
                let violation = format!(
                    "invariant 7: {} still has {} at steady state, first: {first}",
                    id.key(),
                    counted(d.actions.len(), "action")
                );
                return Err(SimError::broken(self, violation, vec![id.key()]));
            }
        }
        if std::mem::take(&mut self.unsettled_pilot) {
            let snapshot = self.cluster.snapshot();
            if let Some(config) = snapshot
                .shelf::<mto_model::api::IntegrationConfig>()
                .iter()
                .next()
            {
                self.report.invariant_checks += 1;
                let settings = mto_model::pilot::PilotSettings::default();
                let d = mto_model::pilot::decide(config, &settings, snapshot, now);
                if let Some(first) = d.actions.first() {
                    let violation = format!(
                        "invariant 7: the console still has {} at steady state, first: {first}",
                        counted(d.actions.len(), "action")
                    );
                    return Err(SimError::broken(self, violation, vec!["Pilot".into()]));
                }
            }
        }
        for name in std::mem::take(&mut self.unsettled_extensions) {
            let snapshot = self.cluster.snapshot();
            let Some(extensions) = snapshot.get::<mto_model::api::Extensions>("", &name) else {
                continue;
            };
            self.report.invariant_checks += 1;
            let d = mto_model::extensions::decide(extensions, snapshot, now);
            if let Some(first) = d.actions.first() {
                let violation = format!(
                    "invariant 7: Extensions/{name} still has {} at steady state, first: {first}",
                    counted(d.actions.len(), "action")
                );
                return Err(SimError::broken(self, violation, vec![name]));
            }
        }
        self.check_vault_at_rest()?;
        self.check_views()?;
        for (at, change) in std::mem::take(&mut self.pending_changes) {
            let took = self.now_ms - at;
            self.report.convergence.push(Convergence {
                change: change.clone(),
                at: duration_text::show(Duration::from_millis(at)),
                took: duration_text::show(Duration::from_millis(took)),
                took_ms: took,
            });
        }
        let tenants = self.cluster.snapshot().shelf::<Tenant>().len();
        self.note(format!(
            "converged: {tenants} tenants steady, {} writes so far",
            self.cluster.writes() - self.report.lease_writes
        ));
        Ok(())
    }

    /// At rest, the leader's view holds exactly what the cluster holds.
    fn check_views(&mut self) -> Result<(), SimError> {
        for replica in self.leaders() {
            let Some(op) = self.replicas[replica].operator.as_ref() else {
                continue;
            };
            for kind in Kind::watched_kinds() {
                if !op
                    .view
                    .snapshot()
                    .same_objects(self.cluster.snapshot(), kind)
                {
                    return Err(SimError::broken(
                        self,
                        format!(
                            "at rest, replica {replica}'s view of the {kind}s differs from the cluster"
                        ),
                        Vec::new(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn still_busy_reasons(&self) -> Vec<Busy> {
        let mut why = self.operators_busy();
        if self.namespace_controller_due {
            why.push(Busy::NamespaceController);
        }
        if self.garbage_collector_due {
            why.push(Busy::GarbageCollector);
        }
        why
    }

    /// What keeps the cluster from rest, and the objects it concerns.
    pub(super) fn still_busy(&self) -> (String, Vec<String>) {
        const SHOWN: usize = 5;
        let queued: Vec<String> = self
            .replicas
            .iter()
            .filter_map(|r| r.operator.as_ref())
            .flat_map(|op| op.driver.queued().chain(op.runs.keys()))
            .map(mto_model::view::Key::id)
            .take(SHOWN)
            .collect();
        let mut why: Vec<String> = self
            .still_busy_reasons()
            .iter()
            .map(ToString::to_string)
            .collect();
        if !queued.is_empty() {
            why.push(format!("still queued: {}", queued.join(", ")));
        }
        if why.is_empty() {
            why.push("nothing was queued, yet the change never settled".into());
        }
        // The objects to follow: those queued, else those not seen at rest
        // since something concerned them.
        let subjects = if queued.is_empty() {
            self.unsettled.iter().take(SHOWN).cloned().collect()
        } else {
            queued
        };
        (format!("at the end: {}", why.join("; ")), subjects)
    }
}
