//! What a tenant's status says: its phase and one condition per concern,
//! each with the fix when it is False.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::TenantPhase;
use super::plan::{Findings, QuotaFinding};
use crate::Timestamp;
use crate::action::{Action, Event, Kind, ObjectRef};
use crate::api::{Tenant, TenantStatus};
use crate::machine::Phase;

/// The write of a tenant's whole status.
pub(super) fn status_write(name: &str, status: TenantStatus) -> Action {
    let mut object = Tenant::new(name, Default::default());
    object.status = Some(status);
    Action::ApplyStatus {
        object: object.into(),
    }
}

/// The status a decision leaves: `phase`, the tenant's `namespaces`, and
/// the conditions the findings call for.
pub(super) fn status(
    tenant: &Tenant,
    phase: TenantPhase,
    findings: &Findings,
    namespaces: Vec<String>,
    now: Timestamp,
) -> TenantStatus {
    let conditions = Conditions {
        tenant,
        findings,
        now,
    };
    let spec = conditions.spec();
    let quota = conditions.quota();
    let claimed = conditions.claimed(namespaces.len());
    let hibernation = conditions.hibernation();
    let templates = conditions.template_instances();
    let ready = conditions.ready(
        phase,
        [&spec, &quota, &claimed]
            .into_iter()
            .chain(hibernation.as_ref())
            .chain(templates.as_ref()),
    );
    TenantStatus {
        phase: Some(phase.name().into()),
        observed_generation: tenant.metadata.generation,
        conditions: [ready, spec, quota, claimed]
            .into_iter()
            .chain(hibernation)
            .chain(templates)
            .collect(),
        namespaces,
    }
}

/// Warning events for conditions that turned False (or changed reason).
pub(super) fn new_problems(tenant: &Tenant, status: &TenantStatus) -> Vec<Event> {
    let previous = tenant
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let regarding = ObjectRef::cluster(
        Kind::Tenant,
        tenant.metadata.name.clone().unwrap_or_default(),
    );
    crate::conditions::new_problems(&regarding, previous, &status.conditions)
}

/// Builds a tenant's conditions from what its decision found.
struct Conditions<'a> {
    tenant: &'a Tenant,
    findings: &'a Findings,
    now: Timestamp,
}

impl Conditions<'_> {
    fn condition(&self, type_: &str, ok: bool, reason: &str, message: String) -> Condition {
        let previous = self
            .tenant
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        crate::conditions::condition(
            previous,
            type_,
            ok,
            reason,
            message,
            self.tenant.metadata.generation,
            self.now,
        )
    }

    /// `SpecValid`: every problem of the spec, with its field and fix.
    fn spec(&self) -> Condition {
        match &self.findings.spec_errors {
            None => self.condition(
                "SpecValid",
                true,
                "Valid",
                "The tenant spec is valid.".into(),
            ),
            Some(e) => self.condition("SpecValid", false, "Invalid", e.to_string()),
        }
    }

    /// `QuotaResolved`: whether the tenant's Quota exists and is valid.
    fn quota(&self) -> Condition {
        match &self.findings.quota {
            QuotaFinding::NotSet => self.condition(
                "QuotaResolved",
                true,
                "NotSet",
                "The tenant names no quota; its namespaces get none.".into(),
            ),
            QuotaFinding::Resolved => self.condition(
                "QuotaResolved",
                true,
                "Resolved",
                format!(
                    "Quota {} is applied.",
                    self.tenant.spec.quota.as_deref().unwrap_or_default()
                ),
            ),
            QuotaFinding::Missing(q) => self.condition(
                "QuotaResolved",
                false,
                "QuotaNotFound",
                format!(
                    "Quota {q} does not exist; create it or change spec.quota. New namespaces wait for it: {}.",
                    list_or_none(&self.findings.held)
                ),
            ),
            QuotaFinding::Invalid(q, e) => self.condition(
                "QuotaResolved",
                false,
                "QuotaInvalid",
                format!("Quota {q} is invalid: {e}"),
            ),
        }
    }

    /// `NamespacesClaimed`: whether the tenant has every namespace it asks
    /// for, and why not.
    fn claimed(&self, count: usize) -> Condition {
        if self.findings.conflicts.is_empty() {
            return self.condition(
                "NamespacesClaimed",
                true,
                "Claimed",
                format!("{count} namespaces claimed."),
            );
        }
        let detail: Vec<String> = self
            .findings
            .conflicts
            .iter()
            .map(|(ns, why)| format!("{ns} {why}"))
            .collect();
        self.condition(
            "NamespacesClaimed",
            false,
            "NamespaceConflict",
            format!("{}; change the tenant's namespaces.", detail.join("; ")),
        )
    }

    /// `HibernationApplied`, when the tenant has `spec.hibernation`.
    fn hibernation(&self) -> Option<Condition> {
        self.findings.hibernation.as_ref().map(|h| match h {
            Ok(()) => self.condition(
                "HibernationApplied",
                true,
                "Applied",
                format!(
                    "ClusterResourceSupervisor {} carries spec.hibernation.",
                    self.tenant.metadata.name.as_deref().unwrap_or_default()
                ),
            ),
            Err(why) => self.condition(
                "HibernationApplied",
                false,
                "SupervisorConflict",
                why.clone(),
            ),
        })
    }

    /// `TemplatesInstantiated`, when the tenant has `spec.templateInstances`.
    fn template_instances(&self) -> Option<Condition> {
        self.findings.template_instances.as_ref().map(|t| match t {
            Ok(count) => self.condition(
                "TemplatesInstantiated",
                true,
                "Instantiated",
                format!(
                    "{count} ClusterTemplateInstances named {}-<template> carry spec.templateInstances.",
                    self.tenant.metadata.name.as_deref().unwrap_or_default()
                ),
            ),
            Err(why) => self.condition(
                "TemplatesInstantiated",
                false,
                "TemplateInstanceConflict",
                why.join("; "),
            ),
        })
    }

    /// `Ready`: True when Active; else the first condition that is False,
    /// or what the tenant waits for.
    fn ready<'c>(
        &self,
        phase: TenantPhase,
        others: impl Iterator<Item = &'c Condition>,
    ) -> Condition {
        match phase {
            TenantPhase::Active => self.condition(
                "Ready",
                true,
                "Active",
                "Everything the tenant asks for is in place.".into(),
            ),
            TenantPhase::Terminating | TenantPhase::Gone => self.condition(
                "Ready",
                false,
                "Terminating",
                "The tenant is being deleted.".into(),
            ),
            _ => {
                let waiting = &self.findings.waiting;
                let (reason, message) = others
                    .into_iter()
                    .find(|c| c.status == "False")
                    .map(|c| (c.reason.clone(), c.message.clone()))
                    .unwrap_or_else(|| {
                        if waiting.is_empty() {
                            (
                                "Provisioning".into(),
                                "Quota changes are waiting for decreases elsewhere to land.".into(),
                            )
                        } else {
                            (
                                "NamespaceTerminating".into(),
                                format!(
                                    "Waiting for namespaces being deleted: {}.",
                                    waiting.join(", ")
                                ),
                            )
                        }
                    });
                self.condition("Ready", false, &reason, message)
            }
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
