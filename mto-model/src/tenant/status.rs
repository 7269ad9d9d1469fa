//! What a tenant's status says: its phase and one condition per concern,
//! each with the fix when it is False.

use std::borrow::Cow;
use std::num::NonZeroU64;

use compact_str::CompactString;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::TenantPhase;
use super::plan::{Findings, QuotaFinding};
use crate::Timestamp;
use crate::action::{Action, Event, Kind, ObjectRef};
use crate::api::{Tenant, TenantStatus};
use crate::digest::AppliedDigest;
use crate::machine::Phase;

/// The write of a tenant's whole status.
pub(super) fn status_write(name: &str, status: TenantStatus) -> Action {
    let mut object = Tenant::new(name, Default::default());
    object.status = Some(status);
    Action::ApplyStatus {
        object: object.into(),
    }
}

/// The status a decision leaves — `phase`, the tenant's `namespaces`, and
/// the conditions the findings call for — or `None` when the status in
/// place already says all of it. Compared before it is built: a settled
/// tenant's decision allocates none of its strings.
///
/// `said` is the digest of the status in place ([`said_digest`], kept in
/// the tenant's intake): the comparison reads it, not the status's
/// strings, each a cache miss of its own.
pub(super) fn status(
    tenant: &Tenant,
    said: Option<NonZeroU64>,
    phase: TenantPhase,
    findings: &Findings,
    namespaces: &[CompactString],
    now: Timestamp,
) -> Option<TenantStatus> {
    described(tenant, said, phase, findings, namespaces, now)
}

/// The digest of what a tenant's status says, as far as a decision
/// compares it: its phase, observed generation and namespaces, and each
/// condition but its time. `None` without a status.
pub(crate) fn said_digest(status: Option<&TenantStatus>) -> Option<NonZeroU64> {
    status.map(|s| {
        digest_of(
            s.phase.as_deref(),
            s.observed_generation,
            s.namespaces.iter().map(String::as_str),
            s.conditions.iter().map(|c| {
                (
                    &*c.type_,
                    &*c.status,
                    &*c.reason,
                    &*c.message,
                    c.observed_generation,
                )
            }),
        )
    })
}

/// [`said_digest`] of a status's parts.
fn digest_of<'s>(
    phase: Option<&str>,
    generation: Option<i64>,
    namespaces: impl ExactSizeIterator<Item = &'s str>,
    conditions: impl Iterator<Item = (&'s str, &'s str, &'s str, &'s str, Option<i64>)>,
) -> NonZeroU64 {
    let mut digest = AppliedDigest::default();
    digest.opt_str(phase);
    digest.opt_int(generation);
    digest.count(namespaces.len());
    for namespace in namespaces {
        digest.str(namespace);
    }
    let mut count = 0;
    for (type_, status, reason, message, generation) in conditions {
        digest.str(type_);
        digest.str(status);
        digest.str(reason);
        digest.str(message);
        digest.opt_int(generation);
        count += 1;
    }
    digest.count(count);
    digest.finish()
}

/// [`status`]; with `said` `None` (no status in place, or none to
/// compare with), always built: what the comparison must agree with.
fn described(
    tenant: &Tenant,
    said: Option<NonZeroU64>,
    phase: TenantPhase,
    findings: &Findings,
    namespaces: &[CompactString],
    now: Timestamp,
) -> Option<TenantStatus> {
    let conditions = Conditions { tenant, findings };
    let spec = conditions.spec();
    let quota = conditions.quota();
    let claimed = conditions.claimed(namespaces.len());
    let hibernation = conditions.hibernation();
    let templates = conditions.template_instances();
    let others = || {
        [&spec, &quota, &claimed]
            .into_iter()
            .chain(hibernation.as_ref())
            .chain(templates.as_ref())
    };
    let ready = conditions.ready(phase, others());
    let found = || std::iter::once(&ready).chain(others());
    let generation = tenant.metadata.generation;
    let in_place = said.is_some_and(|said| {
        said == digest_of(
            Some(phase.name()),
            generation,
            namespaces.iter().map(CompactString::as_str),
            found().map(|c| (c.type_, c.status(), c.reason, &*c.message, generation)),
        )
    });
    if in_place {
        return None;
    }
    let previous = tenant
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    Some(TenantStatus {
        phase: Some(phase.name().into()),
        observed_generation: generation,
        conditions: found()
            .map(|c| c.build(previous, generation, now))
            .collect(),
        namespaces: namespaces.iter().map(CompactString::to_string).collect(),
    })
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

/// A condition as a decision finds it, borrowed: compared with the one in
/// place before any string of it is built.
struct Found<'a> {
    type_: &'static str,
    ok: bool,
    reason: &'a str,
    message: Cow<'a, str>,
}

impl Found<'_> {
    fn status(&self) -> &'static str {
        if self.ok { "True" } else { "False" }
    }

    fn build(&self, previous: &[Condition], generation: Option<i64>, now: Timestamp) -> Condition {
        crate::conditions::condition(
            previous,
            self.type_,
            self.ok,
            self.reason,
            self.message.as_ref(),
            generation,
            now,
        )
    }
}

/// Describes a tenant's conditions from what its decision found.
struct Conditions<'a> {
    tenant: &'a Tenant,
    findings: &'a Findings,
}

impl<'a> Conditions<'a> {
    fn condition(
        &self,
        type_: &'static str,
        ok: bool,
        reason: &'a str,
        message: impl Into<Cow<'a, str>>,
    ) -> Found<'a> {
        Found {
            type_,
            ok,
            reason,
            message: message.into(),
        }
    }

    /// `SpecValid`: every problem of the spec, with its field and fix.
    fn spec(&self) -> Found<'a> {
        match &self.findings.spec_errors {
            None => self.condition("SpecValid", true, "Valid", "The tenant spec is valid."),
            Some(e) => self.condition("SpecValid", false, "Invalid", e.to_string()),
        }
    }

    /// `QuotaResolved`: whether the tenant's Quota exists and is valid.
    fn quota(&self) -> Found<'a> {
        match &self.findings.quota {
            QuotaFinding::NotSet => self.condition(
                "QuotaResolved",
                true,
                "NotSet",
                "The tenant names no quota; its namespaces get none.",
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
    fn claimed(&self, count: usize) -> Found<'a> {
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
    fn hibernation(&self) -> Option<Found<'a>> {
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
                why.as_str(),
            ),
        })
    }

    /// `TemplatesInstantiated`, when the tenant has `spec.templateInstances`.
    fn template_instances(&self) -> Option<Found<'a>> {
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
        mut others: impl Iterator<Item = &'c Found<'c>>,
    ) -> Found<'c>
    where
        'a: 'c,
    {
        let (ok, reason, message): (bool, &'c str, Cow<'c, str>) = match phase {
            TenantPhase::Active => (
                true,
                "Active",
                "Everything the tenant asks for is in place.".into(),
            ),
            TenantPhase::Terminating | TenantPhase::Gone => {
                (false, "Terminating", "The tenant is being deleted.".into())
            }
            _ => match others.find(|c| !c.ok) {
                Some(first) => (false, first.reason, Cow::Borrowed(&*first.message)),
                None if self.findings.waiting.is_empty() => (
                    false,
                    "Provisioning",
                    "Quota changes are waiting for decreases elsewhere to land.".into(),
                ),
                None => (
                    false,
                    "NamespaceTerminating",
                    format!(
                        "Waiting for namespaces being deleted: {}.",
                        self.findings.waiting.join(", ")
                    )
                    .into(),
                ),
            },
        };
        Found {
            type_: "Ready",
            ok,
            reason,
            message,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::validation::Problems;

    fn findings() -> impl Strategy<Value = Findings> {
        let names = || proptest::collection::vec("[ab]{1,2}", 0..3);
        (
            any::<bool>(),
            0..4u8,
            proptest::collection::vec(("[ab]{1,2}", "[xy]"), 0..2),
            names(),
            names(),
            0..2usize,
            proptest::option::of(proptest::option::of("[xy]")),
            proptest::option::of(proptest::result::maybe_ok(0..3usize, names())),
        )
            .prop_map(
                |(invalid, quota, conflicts, waiting, held, deferred, hibernation, templates)| {
                    let errors = |field: &str| {
                        let mut problems = Problems::default();
                        problems.push(field, "is wrong", "set it right");
                        problems.finish().err()
                    };
                    Findings {
                        spec_errors: if invalid { errors("spec.quota") } else { None },
                        quota: match quota {
                            0 => QuotaFinding::NotSet,
                            1 => QuotaFinding::Resolved,
                            2 => QuotaFinding::Missing("small".into()),
                            _ => errors("spec.resourcequota").map_or(QuotaFinding::NotSet, |e| {
                                QuotaFinding::Invalid("small".into(), e)
                            }),
                        },
                        conflicts,
                        waiting,
                        held,
                        deferred_quotas: deferred,
                        hibernation: hibernation.map(|h| h.map_or(Ok(()), Err)),
                        template_instances: templates,
                    }
                },
            )
    }

    fn namespaces() -> impl Strategy<Value = Vec<CompactString>> {
        proptest::collection::vec("[ab]".prop_map(CompactString::from), 0..3)
    }

    fn phase() -> impl Strategy<Value = TenantPhase> {
        proptest::sample::select(TenantPhase::ALL.to_vec())
    }

    proptest! {
        /// Comparing the described status with the one in place says what
        /// building it and comparing the objects would: no write when they
        /// are equal, and when they differ the very status building gives.
        #[test]
        fn a_status_compared_before_it_is_built_is_compared_as_built(
            before in (findings(), phase(), namespaces()),
            after in (findings(), phase(), namespaces()),
            generations in (1..3i64, 1..3i64),
            keep in (any::<bool>(), any::<bool>(), any::<bool>()),
        ) {
            let at = |s: i64| crate::Timestamp::from_second(s).unwrap_or_default();
            let mut tenant = Tenant::new("alpha", Default::default());
            tenant.metadata.generation = Some(generations.0);
            let (findings, phase, namespaces) = before;
            tenant.status = described(&tenant, None, phase, &findings, &namespaces, at(10));
            tenant.metadata.generation = Some(generations.1);
            // Each part kept or changed on its own: a difference in any
            // one of them alone must be seen.
            let findings = if keep.0 { findings } else { after.0 };
            let phase = if keep.1 { phase } else { after.1 };
            let namespaces = if keep.2 { namespaces } else { after.2 };

            let said = said_digest(tenant.status.as_ref());
            let compared = status(&tenant, said, phase, &findings, &namespaces, at(20));
            let built = described(&tenant, None, phase, &findings, &namespaces, at(20))
                .filter(|built| tenant.status.as_ref() != Some(built));
            prop_assert_eq!(&compared, &built);
            if keep == (true, true, true) && generations.0 == generations.1 {
                prop_assert_eq!(compared, None, "the same findings write nothing");
            }
        }
    }
}
