//! `mto plan`: what the operator would create for a set of manifests on an
//! empty cluster, computed by the same planner the operator runs.

use std::fmt::Write as _;

use mto_model::Timestamp;
use mto_model::action::{Action, Resource};
use mto_model::integration::Integration;
use mto_model::snapshot::Snapshot;
use mto_model::tenant::{Decision, decide};
use mto_model::validation::ValidationErrors;

use mto_model::manifest::Manifest;

/// The plan for every tenant, in the order the operator would act.
#[derive(Debug)]
pub struct Plan {
    /// Per tenant: its first decision (everything it does) and the phase it settles in.
    pub tenants: Vec<(String, Decision, String)>,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// More than one IntegrationConfig was given.
    #[error("{0} IntegrationConfig manifests given; the operator uses exactly one (fix: pass one)")]
    SeveralIntegrationConfigs(usize),
    /// The IntegrationConfig is invalid.
    #[error("IntegrationConfig is invalid: {0}")]
    InvalidIntegrationConfig(ValidationErrors),
    /// The tenants did not settle (a planner bug).
    #[error("tenant {0} did not settle within {1} decisions")]
    NoConvergence(String, usize),
}

const MAX_DECISIONS: usize = 20;

/// Plans the given manifests against a cluster holding only the given
/// namespaces.
pub fn plan(manifests: &[Manifest], now: Timestamp) -> Result<Plan, PlanError> {
    let configs: Vec<_> = manifests
        .iter()
        .filter_map(|m| {
            if let Manifest::IntegrationConfig(c) = m {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    if configs.len() > 1 {
        return Err(PlanError::SeveralIntegrationConfigs(configs.len()));
    }
    let mut cluster = Snapshot::default();
    cluster.set_integration(
        Integration::compile(configs.first().copied())
            .map_err(PlanError::InvalidIntegrationConfig)?,
    );
    for m in manifests {
        match m {
            Manifest::Tenant(t) => {
                cluster.put_tenant(t.clone());
            }
            Manifest::Quota(q) => {
                cluster.put_quota(q.clone());
            }
            Manifest::Namespace(ns) => cluster.put_namespace(ns.clone()),
            _ => {}
        }
    }
    let mut tenants = Vec::new();
    let names: Vec<String> = cluster.objects().tenants.keys().cloned().collect();
    for name in names {
        let mut first = None;
        for _ in 0..MAX_DECISIONS {
            let Some(tenant) = cluster.objects().tenants.get(&name).cloned() else {
                break;
            };
            let decision = decide(&tenant, &cluster, now);
            let steady = decision.is_steady();
            for action in &decision.actions {
                // The snapshot executes everything the planner emits on an empty
                // cluster; a refusal would be a planner bug, shown as no convergence.
                if cluster.execute(action).is_err() {
                    break;
                }
            }
            first.get_or_insert(decision);
            if steady {
                break;
            }
        }
        let phase = cluster
            .objects()
            .tenants
            .get(&name)
            .and_then(|t| t.status.as_ref()?.phase.clone())
            .unwrap_or_default();
        let tenant = cluster.objects().tenants.get(&name).cloned();
        match (first, tenant) {
            (Some(d), Some(t)) if decide(&t, &cluster, now).is_steady() => {
                tenants.push((name, d, phase))
            }
            _ => return Err(PlanError::NoConvergence(name, MAX_DECISIONS)),
        }
    }
    Ok(Plan { tenants })
}

impl Plan {
    /// A readable summary: one line per object.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for (name, decision, phase) in &self.tenants {
            let _ = writeln!(out, "Tenant {name} → {phase}");
            for action in &decision.actions {
                match action {
                    Action::Apply { object, .. } => {
                        let _ = writeln!(out, "  + {}{}", object.object_ref(), detail(object));
                    }
                    Action::UpdateTenantStatus { status, .. } => {
                        for c in status
                            .conditions
                            .iter()
                            .filter(|c| c.status == "False" && c.type_ != "Ready")
                        {
                            let _ = writeln!(out, "  ! {}: {}", c.reason, c.message);
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// The objects as YAML documents, for review or GitOps.
    pub fn render_yaml(&self) -> Result<String, serde_norway::Error> {
        let mut out = String::new();
        for (_, decision, _) in &self.tenants {
            for action in &decision.actions {
                if let Action::Apply { object, .. } = action {
                    let value = match object {
                        Resource::Namespace(o) => serde_norway::to_string(&typed(o))?,
                        Resource::RoleBinding(o) => serde_norway::to_string(&typed(o))?,
                        Resource::ResourceQuota(o) => serde_norway::to_string(&typed(o))?,
                        Resource::LimitRange(o) => serde_norway::to_string(&typed(o))?,
                        Resource::ClusterResourceSupervisor(o) => {
                            let mut value = serde_json::to_value(o).unwrap_or_default();
                            if let Some(map) = value.as_object_mut() {
                                map.insert(
                                    "apiVersion".into(),
                                    "hibernation.stakater.com/v1beta1".into(),
                                );
                                map.insert("kind".into(), "ClusterResourceSupervisor".into());
                            }
                            serde_norway::to_string(&value)?
                        }
                    };
                    out.push_str("---\n");
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }
}

/// The object with its apiVersion and kind, as a manifest.
fn typed<K: k8s_openapi::Resource + serde::Serialize>(object: &K) -> serde_json::Value {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), K::API_VERSION.into());
        map.insert("kind".into(), K::KIND.into());
    }
    value
}

fn detail(object: &Resource) -> String {
    match object {
        Resource::Namespace(ns) => {
            let labels: Vec<String> = ns
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("  [{}]", labels.join(", "))
        }
        Resource::RoleBinding(rb) => {
            let subjects: Vec<String> = rb
                .subjects
                .iter()
                .flatten()
                .map(|s| format!("{}:{}", s.kind, s.name))
                .collect();
            format!(
                "  ClusterRole {} → {}",
                rb.role_ref.name,
                subjects.join(", ")
            )
        }
        Resource::ResourceQuota(rq) => {
            let hard: Vec<String> = rq
                .spec
                .iter()
                .flat_map(|s| s.hard.iter().flatten())
                .map(|(k, v)| format!("{k}={}", v.0))
                .collect();
            format!("  {}", hard.join(" "))
        }
        Resource::LimitRange(_) => String::new(),
        Resource::ClusterResourceSupervisor(c) => format!(
            "  sleep {:?}, wake {:?}",
            c.spec.schedule.sleep_schedule,
            c.spec.schedule.wake_schedule.as_deref().unwrap_or("-")
        ),
    }
}
