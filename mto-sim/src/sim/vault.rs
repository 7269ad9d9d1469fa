//! The simulated Vault: one more store beside the apiserver, with names
//! others hold and outages. It answers the Vault machine's calls as mto's
//! client does: a name someone else holds is refused, whatever the
//! caller's view says.

use mto_model::action::ObjectRef;
use mto_model::apiserver::ApiError;
use mto_model::vault::{VaultCall, VaultHoldings, VaultKey, VaultKind, VaultObserved};
use mto_model::view::Observed as _;

use super::{Event, Key, Sim, SimError, millis};
use crate::scenario::VaultPlan;

/// Invariant 3 in Vault: a tenant's policies reach only its own path
/// (and the common one), and a Kubernetes-auth role lets a namespace's
/// service accounts into its own tenant's path only.
fn crossing(
    vault: &VaultHoldings,
    snapshot: &mto_model::view::Snapshot,
    settings: &mto_model::vault::VaultSettings,
) -> Option<String> {
    use mto_model::vault::VaultObject;
    for object in vault.mine.values() {
        match object {
            VaultObject::Policy { name, rules } => {
                let Some((tenant, _)) = name.rsplit_once('-') else {
                    continue;
                };
                let tenant = tenant.strip_suffix("-vault").unwrap_or(tenant);
                let own = [
                    format!("\"{tenant}/*\""),
                    format!("\"sys/mounts/{tenant}/*\""),
                ];
                let common = settings
                    .common_secrets_path
                    .as_ref()
                    .map(|c| format!("\"{c}/*\""));
                for line in rules.lines().filter(|l| l.starts_with("path ")) {
                    let reaches_own = own.iter().any(|p| line.contains(p.as_str()))
                        || common.as_ref().is_some_and(|c| line.contains(c.as_str()));
                    if !reaches_own {
                        return Some(format!(
                            "invariant 3: Vault policy {name} reaches beyond tenant {tenant}: {line}"
                        ));
                    }
                }
            }
            VaultObject::Role {
                namespace, policy, ..
            } => {
                let tenant = policy.strip_suffix("-vault-access").unwrap_or(policy);
                if let Some(owner) = snapshot.tenant_of_namespace(namespace)
                    && owner != tenant
                {
                    return Some(format!(
                        "invariant 3: Vault role {namespace} (of tenant {owner}) lets its service accounts into tenant {tenant}'s path"
                    ));
                }
            }
            VaultObject::Mount { .. } | VaultObject::Group { .. } => {}
        }
    }
    None
}

/// What the simulated Vault holds at the start: the names others hold.
pub(super) fn holdings(plan: &VaultPlan) -> VaultHoldings {
    let mut holdings = VaultHoldings::default();
    for taken in &plan.taken {
        let (kind, name) = taken.split_once('/').unwrap_or(("policy", taken));
        let kind = match kind {
            "mount" => VaultKind::Mount,
            "group" => VaultKind::Group,
            "role" => VaultKind::Role,
            _ => VaultKind::Policy,
        };
        holdings.taken.insert(VaultKey {
            kind,
            name: name.to_owned(),
        });
    }
    holdings
}

impl Sim {
    /// Whether Vault is down now.
    fn vault_down(&self) -> bool {
        self.scenario.vault.outages.iter().any(|o| {
            let from = millis(o.at);
            self.now_ms >= from && self.now_ms < from + millis(o.duration)
        })
    }

    /// A replica makes one of the Vault machine's calls: the outcome goes
    /// into its view (a reading, a write followed, or why Vault did not
    /// answer, which stops the run).
    pub(super) fn call_vault(
        &mut self,
        replica: usize,
        life: u64,
        key: Key,
        call: &VaultCall,
        regarding: &ObjectRef,
    ) {
        let now = self.now();
        let target = match call {
            VaultCall::Read { .. } => None,
            VaultCall::Write { object, .. } => Some(object.key()),
            VaultCall::Delete { key, .. } => Some(key.clone()),
        };
        let outcome = if self.vault_down() {
            Err("the simulated Vault does not answer".to_owned())
        } else if let Some(taken) = target.filter(|k| self.vault.taken.contains(k)) {
            Err(format!(
                "{taken} exists and mto did not make it; left alone"
            ))
        } else {
            if call.is_write() {
                self.vault.carry(call);
                self.report.vault_writes += 1;
            } else {
                self.report.vault_reads += 1;
            }
            Ok(())
        };
        self.trace(match &outcome {
            Ok(()) => format!("  {call}"),
            Err(why) => format!("  {call}: {why}"),
        });
        // Only a reading takes a copy of what Vault holds.
        let holdings = matches!(call, VaultCall::Read { .. }).then(|| self.vault.clone());
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        let result = match outcome {
            Ok(()) => {
                if let (VaultCall::Read { address }, Some(holdings)) = (call, holdings) {
                    let woken = op
                        .view
                        .record_vault(VaultObserved::read(address, now, holdings));
                    op.driver.handle_woken(&woken, op.view.snapshot(), now);
                } else {
                    op.view.record_vault_call(call);
                }
                Ok(())
            }
            Err(why) => {
                self.report.vault_failures += 1;
                let previous = op.view.snapshot().vault();
                let address = match call {
                    VaultCall::Read { address } => address.clone(),
                    _ => previous.map(|p| p.address.clone()).unwrap_or_default(),
                };
                let failed = VaultObserved::failed(previous, &address, now, why.clone());
                let woken = op.view.record_vault(failed);
                op.driver.handle_woken(&woken, op.view.snapshot(), now);
                Err(ApiError::Unavailable {
                    target: regarding.to_string(),
                    message: why,
                })
            }
        };
        if let Some(run) = op.runs.get_mut(&key) {
            run.handle_result(result);
        }
        self.push(
            self.now_ms + millis(super::VAULT_LATENCY),
            Event::Call { replica, life, key },
        );
    }

    /// At rest, Vault holds what the cluster asks, nothing of others' was
    /// touched, and the Vault machine has nothing left to do (invariant
    /// 7), unless Vault is down.
    pub(super) fn check_vault_at_rest(&mut self) -> Result<(), SimError> {
        if !std::mem::take(&mut self.unsettled_vault) || self.vault_down() {
            return Ok(());
        }
        let now = self.now();
        let Some(config) = self
            .cluster
            .snapshot()
            .integration_configs()
            .next()
            .cloned()
        else {
            return Ok(());
        };
        let Ok(Some(settings)) = mto_model::vault::settings(&config) else {
            return Ok(());
        };
        self.report.invariant_checks += 1;
        if let Some(key) = self
            .vault
            .mine
            .keys()
            .find(|k| self.vault.taken.contains(k))
        {
            let violation = format!("Vault: mto holds {key}, a name someone else holds");
            return Err(SimError::broken(self, violation, vec!["Vault".into()]));
        }
        if let Some(violation) = crossing(&self.vault, self.cluster.snapshot(), &settings) {
            return Err(SimError::broken(self, violation, vec!["Vault".into()]));
        }
        // The truth as a fresh reading: what mto would do now.
        self.cluster.record_vault(VaultObserved::read(
            &settings.address,
            now,
            self.vault.clone(),
        ));
        let d = mto_model::vault::decide(&config, self.cluster.snapshot(), now);
        if let Some(first) = d.actions.first() {
            let violation = format!(
                "invariant 7: Vault still has {} at steady state, first: {first}",
                super::counted(d.actions.len(), "action")
            );
            return Err(SimError::broken(self, violation, vec!["Vault".into()]));
        }
        Ok(())
    }

    /// Notes the Vault machine's phase when it changes.
    pub(super) fn record_vault_phase(&mut self) {
        let Some(status) = self
            .cluster
            .snapshot()
            .integration_configs()
            .next()
            .and_then(|c| c.status.clone())
        else {
            return;
        };
        let phase = status
            .vault
            .and_then(|v| v.phase)
            .unwrap_or_else(|| "Off".into());
        if self.vault_phase != phase {
            let detail = status
                .conditions
                .iter()
                .find(|c| c.type_ == "VaultReady")
                .map(|c| format!(" ({}): {}", c.reason, c.message))
                .unwrap_or_default();
            self.note(format!("Vault: {} → {phase}{detail}", self.vault_phase));
            self.vault_phase = phase;
        }
    }

    /// What Vault holds of mto's, by kind, for the report.
    pub(super) fn report_vault(&mut self) {
        self.report.vault_objects.clear();
        for key in self.vault.mine.keys() {
            *self
                .report
                .vault_objects
                .entry(key.kind.name().to_owned())
                .or_default() += 1;
        }
    }
}
