//! Each namespace's share of the tenant's quota. Split evenly, the shares
//! are written in an order that never lets the namespaces' quotas sum
//! above the tenant's; pooled, every namespace holds the whole total and
//! the admission webhook holds their usage's sum to it.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ResourceQuotaSpec;

use super::desired::{self, QuotaShares, quota_values};
use super::plan::{Planner, SharedDigests};
use crate::action::{Action, Object, Reason};
use crate::api::Sharing;
use crate::labels::{RESOURCE_QUOTA_NAME, is_managed};
use crate::quantity::Quantity;
use crate::view::{InNamespace, Observed, ResourceQuota};

/// The quantities of a set of quotas added up, per resource.
#[derive(Clone, Debug, Default)]
struct Sums(BTreeMap<String, Quantity>);

impl Sums {
    fn add(&mut self, values: &BTreeMap<String, Quantity>) {
        self.shift(values, 1);
    }

    fn sub(&mut self, values: &BTreeMap<String, Quantity>) {
        self.shift(values, -1);
    }

    fn shift(&mut self, values: &BTreeMap<String, Quantity>, sign: i128) {
        for (r, v) in values {
            let e = self.0.entry(r.clone()).or_default();
            *e = Quantity::from_nanos(e.nanos() + sign * v.nanos());
        }
    }

    /// The sums with one quota going from `old` to `new`.
    fn replacing(
        &self,
        old: &BTreeMap<String, Quantity>,
        new: &BTreeMap<String, Quantity>,
    ) -> Sums {
        let mut after = self.clone();
        after.sub(old);
        after.add(new);
        after
    }

    fn of(&self, resource: &str) -> Quantity {
        self.0.get(resource).copied().unwrap_or_default()
    }
}

/// A namespace's quota to write: what it should be, and what it was.
struct QuotaWrite {
    quota: ResourceQuota,
    old: BTreeMap<String, Quantity>,
    new: BTreeMap<String, Quantity>,
    exists: bool,
    reason: Reason,
}

impl QuotaWrite {
    /// Whether no resource goes up.
    fn only_lowers(&self) -> bool {
        self.exists
            && self
                .new
                .iter()
                .all(|(r, v)| self.old.get(r).is_some_and(|o| v <= o))
    }

    /// Whether some resource goes down.
    fn lowers_some(&self) -> bool {
        self.new
            .iter()
            .any(|(r, v)| self.old.get(r).is_some_and(|o| v < o))
    }
}

impl<'a, O: Observed> Planner<'a, O> {
    /// Writes each namespace's share of `total` where it differs:
    /// decreases first, then the increases that fit within the tenant's
    /// quota. An increase that does not fit yet waits for decreases
    /// elsewhere to land (a change that lowers some resources and raises
    /// others writes its lowering now, so two such changes never wait on
    /// each other).
    pub(super) fn sync_quotas(
        &mut self,
        total: Option<&ResourceQuotaSpec>,
        sharing: Sharing,
        shares: Option<&QuotaShares<'_, '_>>,
        namespaces: &[InNamespace<'_>],
        released: &[BTreeMap<String, Quantity>],
        digests: &mut SharedDigests<'_>,
    ) {
        let Some(shares) = shares else { return };
        let changed = self.quotas_to_write(shares, namespaces, digests);
        if changed.is_empty() {
            return;
        }
        if sharing == Sharing::Pooled {
            // No order to keep: no write changes what the tenant may use.
            for write in changed {
                self.write_quota(write.quota, write.reason);
            }
            return;
        }
        let limits: BTreeMap<&str, Quantity> = total
            .and_then(|t| t.hard.as_ref())
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), Quantity::parse(&v.0).unwrap_or_default()))
            .collect();
        let names: Vec<&str> = namespaces.iter().map(|here| here.name()).collect();
        let mut sums = self.current_sums(&names, released);
        let (lowers, grows): (Vec<_>, Vec<_>) =
            changed.into_iter().partition(QuotaWrite::only_lowers);
        for write in lowers {
            sums = sums.replacing(&write.old, &write.new);
            self.write_quota(write.quota, write.reason);
        }
        for write in grows {
            let after = sums.replacing(&write.old, &write.new);
            // A write may not raise a sum above the tenant's limit; lowering
            // one a user pushed over it is always fine.
            let fits = limits
                .iter()
                .all(|(r, limit)| after.of(r) <= *limit || after.of(r) <= sums.of(r));
            if fits {
                sums = after;
                self.write_quota(write.quota, write.reason);
                continue;
            }
            self.findings.deferred_quotas += 1;
            if write.lowers_some() {
                let lowered = lower_only(write.quota, &write.old, &write.new);
                sums = sums.replacing(&write.old, &quota_values(Some(&lowered)));
                self.write_quota(lowered, write.reason);
            }
        }
    }

    /// The namespaces whose quota differs from their share. Most decisions
    /// find every quota in place: this compares first, and parses
    /// quantities only for the quotas that differ.
    fn quotas_to_write(
        &self,
        shares: &QuotaShares<'_, '_>,
        namespaces: &[InNamespace<'_>],
        digests: &mut SharedDigests<'_>,
    ) -> Vec<QuotaWrite> {
        let mut changed = Vec::new();
        for here in namespaces {
            let ns = here.name();
            let Some(share) = shares.get(ns) else {
                continue;
            };
            let observed = here.owned::<ResourceQuota>(RESOURCE_QUOTA_NAME);
            let reason = match observed {
                None => Reason::Create,
                Some((o, ownership)) => {
                    let digest = match shares {
                        QuotaShares::Whole(total) => digests.whole_quota(total),
                        QuotaShares::Split(_) => desired::resource_quota_digest(self.name, share),
                    };
                    if super::plan::is_in_place(ownership, Some(digest)) {
                        continue;
                    }
                    let have = o.spec.as_ref();
                    let same = desired::same_quantities(
                        share.hard.as_ref(),
                        have.and_then(|s| s.hard.as_ref()),
                    ) && Some(&share.scopes) == have.map(|s| &s.scopes)
                        && Some(&share.scope_selector) == have.map(|s| &s.scope_selector)
                        && ownership.has_managed_labels(self.name);
                    if same {
                        continue;
                    }
                    Reason::Drift
                }
            };
            let quota = desired::resource_quota(&self.labels, ns, share);
            let observed = observed.map(|(o, _)| o);
            changed.push(QuotaWrite {
                old: quota_values(observed),
                new: quota_values(Some(&quota)),
                exists: observed.is_some(),
                quota,
                reason,
            });
        }
        changed
    }

    /// What the quotas of the tenant's namespaces add up to once this
    /// decision's namespace writes land: those labelled for it now and
    /// `planned` (a namespace it labels again holds its quota again), less
    /// what the namespaces released in this decision held.
    fn current_sums(&self, planned: &[&str], released: &[BTreeMap<String, Quantity>]) -> Sums {
        let mut sums = Sums::default();
        let labelled: std::collections::BTreeSet<&str> =
            self.observed.tenant_namespaces(self.name).collect();
        let unlabelled = planned.iter().copied().filter(|ns| !labelled.contains(ns));
        for ns in labelled.iter().copied().chain(unlabelled) {
            // Any quota mto made, for this tenant or one that had the
            // namespace before: it limits what runs there all the same.
            let rq = self
                .observed
                .resource_quota(ns, RESOURCE_QUOTA_NAME)
                .filter(|rq| is_managed(&rq.metadata));
            sums.add(&quota_values(rq));
        }
        for freed in released {
            sums.sub(freed);
        }
        sums
    }

    fn write_quota(&mut self, quota: ResourceQuota, reason: Reason) {
        self.actions.push(Action::Apply {
            object: Object::from(quota),
            reason,
        });
    }
}

/// The quota with each resource at the lower of its old and new values.
/// A resource the old quota did not hold stays out: adding it would raise
/// the tenant's sum, which is what waiting is for.
fn lower_only(
    mut rq: ResourceQuota,
    old: &BTreeMap<String, Quantity>,
    new: &BTreeMap<String, Quantity>,
) -> ResourceQuota {
    if let Some(hard) = rq
        .spec
        .as_mut()
        .and_then(|s| Arc::make_mut(s).hard.as_mut())
    {
        hard.retain(|r, _| old.contains_key(r));
        for (r, value) in hard.iter_mut() {
            if let (Some(o), Some(n)) = (old.get(r), new.get(r))
                && o < n
            {
                value.0 = o.to_string();
            }
        }
    }
    rq
}
