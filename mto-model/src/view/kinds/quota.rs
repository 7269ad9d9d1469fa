//! Quotas: read by the tenants naming them.

use std::num::NonZeroU64;

use crate::api::{Quota, Tenant};
use crate::digest::AppliedDigest;
use crate::validation::{Validate as _, ValidationErrors};
use crate::view::{Indexes, Objects, Snapshot, Typed, Woken};

impl Typed for Quota {
    const GENERATION: bool = true;

    fn readers(&self, snapshot: &Snapshot, woken: &mut Woken) {
        let name = self.metadata.name.as_deref();
        for tenant in snapshot.shelf::<Tenant>().iter() {
            if tenant.spec.quota.as_deref() == name {
                woken.tenant(tenant.metadata.name.as_deref().unwrap_or_default());
            }
        }
    }

    fn spec_changed(before: &Quota, after: &Quota) -> bool {
        before.spec != after.spec
    }

    /// The Quota's intake, taken again when its spec changes.
    fn reindex(indexes: &mut Indexes, _: &Objects, before: Option<&Quota>, after: Option<&Quota>) {
        if let (Some(b), Some(a)) = (before, after)
            && b.spec == a.spec
        {
            return;
        }
        if let Some(b) = before {
            indexes
                .quota_intakes
                .remove(b.metadata.name.as_deref().unwrap_or_default());
        }
        if let Some(a) = after {
            indexes.quota_intakes.insert(
                a.metadata.name.clone().unwrap_or_default(),
                QuotaIntake::of(a),
            );
        }
    }
}

/// What a Quota asks of every tenant naming it, read once: whether it is
/// valid, and what the applied digests of the limit range and the whole
/// quota its tenants' namespaces hold share (their bodies: each tenant's
/// digest finishes one with its own labels).
///
/// The view takes it when it takes the Quota in and keeps it while the
/// spec stands ([`crate::view::Observed::quota_intake`]): a decision made
/// again (every tenant's, after an IntegrationConfig edit) neither
/// validates the Quota nor parses its quantities again.
#[derive(Clone, Debug)]
pub struct QuotaIntake {
    /// The Quota's problems, each naming its field.
    pub validation: Result<(), ValidationErrors>,
    limit_range: Option<AppliedDigest>,
    resource_quota: Option<AppliedDigest>,
    totals: Vec<QuotaTotal>,
}

/// One of a Quota's tenant-wide limits (`spec.resourcequota.hard`),
/// parsed once: the invariants hold every tenant naming the Quota to it
/// after every step of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaTotal {
    /// The resource limited (`requests.cpu`).
    pub resource: String,
    /// The limit as the Quota spells it.
    pub spelled: String,
    /// Its value.
    pub value: crate::quantity::Quantity,
}

impl QuotaIntake {
    /// Reads `quota`'s spec.
    #[must_use]
    pub fn of(quota: &Quota) -> QuotaIntake {
        let body = |feed: &dyn Fn(&mut AppliedDigest)| {
            let mut digest = AppliedDigest::default();
            feed(&mut digest);
            digest
        };
        QuotaIntake {
            validation: quota.validate(),
            limit_range: quota
                .spec
                .limitrange
                .as_ref()
                .map(|spec| body(&|d| super::limit_range::digest_limit_range_spec(d, Some(spec)))),
            resource_quota: quota
                .spec
                .resourcequota
                .as_ref()
                .map(|spec| body(&|d| super::resource_quota::digest_quota_spec(d, Some(spec)))),
            totals: quota
                .spec
                .resourcequota
                .as_ref()
                .and_then(|r| r.hard.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|(resource, limit)| {
                    Some(QuotaTotal {
                        resource: resource.clone(),
                        spelled: limit.0.clone(),
                        value: crate::quantity::Quantity::parse(&limit.0).ok()?,
                    })
                })
                .collect(),
        }
    }

    /// The tenant-wide limits that parse, by resource (validation names
    /// those that do not).
    #[must_use]
    pub fn totals(&self) -> &[QuotaTotal] {
        &self.totals
    }

    /// The applied digest of `tenant`'s limit range, if the Quota asks
    /// for one.
    pub(crate) fn limit_range_digest(&self, tenant: &str) -> Option<NonZeroU64> {
        self.limit_range.clone().map(|body| finish(body, tenant))
    }

    /// The applied digest of a resource quota holding all of the Quota,
    /// for `tenant`, if the Quota asks for one.
    pub(crate) fn whole_quota_digest(&self, tenant: &str) -> Option<NonZeroU64> {
        self.resource_quota.clone().map(|body| finish(body, tenant))
    }
}

/// A body finished with the labels mto puts on what it makes for `tenant`.
fn finish(body: AppliedDigest, tenant: &str) -> NonZeroU64 {
    super::with_metadata(body, crate::tenant::managed_label_pairs(tenant), [])
}
