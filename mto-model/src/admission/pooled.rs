//! The pooled tenant quota, held exactly at admission.
//!
//! Every namespace of a tenant with a pooled Quota holds a ResourceQuota
//! whose `hard` is the tenant's whole total, so the apiserver's quota
//! admission holds each namespace to it. When it admits a pod (or a claim,
//! a service…) it raises that ResourceQuota's `status.used` with a
//! compare-and-swap update, and that update comes here: it is refused if
//! it would take the tenant's sum over its Quota.
//!
//! Exact under any concurrency, across namespaces and webhook replicas:
//! - Every increase is written down before it is allowed, as a
//!   [`Reservation`] in the tenant's [`Ledger`], which the caller stores
//!   with compare-and-swap (a conflict: read both again and judge again).
//!   Two increases of one tenant are thus judged one after the other,
//!   whichever replica judges them.
//! - The caller reads the ledger first, then every namespace's quota
//!   ([`Held`], read fresh from the apiserver, not from a cache). A
//!   reservation made on resource version `v` of a namespace's quota may
//!   still land while that quota is still at `v`; once it has moved on,
//!   the reservation either landed (and the fresh `used` shows it, or what
//!   came after) or never will (the update lost its compare-and-swap). So
//!   a namespace counts as the larger of its fresh `used` and its live
//!   reservations, which is never less than what it will hold.
//! - Decreases are never refused and need no reservation: they cannot
//!   take a sum over.
//!
//! A reservation that neither landed nor lost (another webhook refused
//! the update after this one allowed it) counts until the namespace's
//! quota next changes, or [`RESERVATION_LIFETIME`] passes: errs on the
//! side of refusing, never of overshooting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::api::Sharing;
use crate::labels::{RESOURCE_QUOTA_NAME, is_managed};
use crate::quantity::Quantity;
use crate::view::Observed;

use super::{AdmissionRequest, Operation};

/// How long a reservation can count at most: far beyond any apiserver
/// request's deadline, so one still counting cannot still land.
pub const RESERVATION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

/// Quantities by resource name.
pub type Usage = BTreeMap<String, Quantity>;

/// One namespace's quota, as read fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The namespace.
    pub namespace: String,
    /// The quota's resource version.
    pub resource_version: String,
    /// Its `status.used`.
    pub used: Usage,
}

/// An increase allowed that may not have landed yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// The namespace.
    pub namespace: String,
    /// The resource version of its quota the update was made on.
    pub base: String,
    /// What the update sets `used` to, for the limited resources.
    pub used: BTreeMap<String, String>,
    /// When it was allowed.
    pub at: Timestamp,
}

/// A tenant's reservations: stored by the caller, compare-and-swap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The reservations, oldest first.
    #[serde(default)]
    pub reservations: Vec<Reservation>,
}

/// A quota status update to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The namespace.
    pub namespace: String,
    /// The resource version the update was made on.
    pub base: String,
    /// `status.used` before.
    pub old_used: Usage,
    /// `status.used` after.
    pub new_used: Usage,
}

/// What a tenant may use: its name, its Quota's name and `hard`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Its Quota.
    pub quota: &'a str,
    /// The Quota's `resourcequota.hard`.
    pub limits: &'a Usage,
}

/// The judgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Allow; first store this ledger (compare-and-swap on the one read),
    /// when there is one.
    Allow(Option<Ledger>),
    /// Refuse, saying why.
    Deny(String),
}

/// A tenant's pool, owned: what [`asked`] finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantPool {
    /// The tenant.
    pub tenant: String,
    /// Its Quota.
    pub quota: String,
    /// The Quota's `resourcequota.hard`.
    pub limits: Usage,
}

impl TenantPool {
    /// Borrowed, for [`judge`].
    #[must_use]
    pub fn pool(&self) -> Pool<'_> {
        Pool {
            tenant: &self.tenant,
            quota: &self.quota,
            limits: &self.limits,
        }
    }
}

/// What a quota status update asks of the pooled quota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// Not an update of a pooled tenant's quota: nothing to judge.
    Nothing,
    /// An update to judge, in this tenant's pool.
    Judge(TenantPool, StatusUpdate),
    /// mto's quota of a tenant the observed state does not show yet (or
    /// its Quota): it cannot be judged, so it is refused, saying why.
    Unknown(String),
}

/// What `request` asks of the pooled quota. The tenant is read from the
/// quota's own labels, so a namespace the observed state has not seen yet
/// is judged all the same.
#[must_use]
pub fn asked(request: &AdmissionRequest, observed: &impl Observed) -> Asked {
    let old_meta = request.old_object.as_ref().and_then(|o| {
        serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>(
            o["metadata"].clone(),
        )
        .ok()
    });
    let (Some(namespace), Some(meta)) = (request.namespace.as_deref(), old_meta) else {
        return Asked::Nothing;
    };
    if request.operation != Operation::Update
        || request.subresource.as_deref() != Some("status")
        || request.name != RESOURCE_QUOTA_NAME
        || !is_managed(&meta)
    {
        return Asked::Nothing;
    }
    let Some(tenant) = crate::labels::tenant_of(&meta) else {
        return Asked::Nothing;
    };
    let unknown = |what: String| {
        Asked::Unknown(format!(
            "the quota of namespace {namespace} belongs to tenant {tenant:?}, but {what} is not known to mto yet (fix: try again in a moment)"
        ))
    };
    let Some(t) = observed.tenant(tenant) else {
        return unknown(format!("tenant {tenant:?}"));
    };
    let Some(quota_name) = t.spec.quota.as_deref() else {
        // The tenant no longer has a Quota: mto takes its quotas away.
        return Asked::Nothing;
    };
    let Some(quota) = observed.quota(quota_name) else {
        return unknown(format!("its Quota {quota_name:?}"));
    };
    if quota.spec.sharing.unwrap_or_default() != Sharing::Pooled {
        return Asked::Nothing;
    }
    let limits = usage(
        quota
            .spec
            .resourcequota
            .iter()
            .flat_map(|r| r.hard.iter().flatten())
            .map(|(r, q)| (r, &q.0)),
    );
    let used = |object: Option<&serde_json::Value>| -> Usage {
        object
            .and_then(|o| o["status"]["used"].as_object())
            .into_iter()
            .flatten()
            .filter_map(|(r, q)| Some((r.clone(), Quantity::parse(q.as_str()?).ok()?)))
            .collect()
    };
    let update = StatusUpdate {
        namespace: namespace.to_owned(),
        base: meta.resource_version.clone().unwrap_or_default(),
        old_used: used(request.old_object.as_ref()),
        new_used: used(request.object.as_ref()),
    };
    Asked::Judge(
        TenantPool {
            tenant: tenant.to_owned(),
            quota: quota_name.to_owned(),
            limits,
        },
        update,
    )
}

/// A namespace quota as the judgement reads it.
#[must_use]
pub fn held_of(rq: &crate::view::ResourceQuota) -> Held {
    Held {
        namespace: rq
            .metadata
            .read()
            .namespace()
            .unwrap_or_default()
            .to_owned(),
        resource_version: rq
            .metadata
            .read()
            .resource_version()
            .unwrap_or_default()
            .to_owned(),
        used: usage(
            rq.status
                .as_ref()
                .and_then(|s| s.used.as_ref())
                .into_iter()
                .flatten()
                .map(|(r, q)| (r, &q.0)),
        ),
    }
}

/// Every quota of `tenant`'s namespaces as `observed` holds them (fresh
/// when `observed` was just read).
pub fn held(observed: &impl Observed, tenant: &str) -> Vec<Held> {
    observed
        .tenant_namespaces(tenant)
        .filter_map(|ns| {
            observed
                .resource_quota(ns, RESOURCE_QUOTA_NAME)
                .filter(|rq| is_managed(&rq.metadata))
        })
        .map(held_of)
        .collect()
}

fn value(usage: &Usage, resource: &str) -> Quantity {
    usage.get(resource).copied().unwrap_or_default()
}

/// Reads a resource list; a quantity that does not parse counts as zero
/// (the apiserver wrote it, so it parses; this only keeps bad input from
/// panicking).
#[must_use]
pub fn usage<'a>(list: impl IntoIterator<Item = (&'a String, &'a String)>) -> Usage {
    list.into_iter()
        .map(|(r, q)| (r.clone(), Quantity::parse(q).unwrap_or_default()))
        .collect()
}

impl Reservation {
    fn live(&self, held: &BTreeMap<&str, &Held>, now: Timestamp) -> bool {
        let young = now
            .duration_since(self.at)
            .try_into()
            .is_ok_and(|age: std::time::Duration| age < RESERVATION_LIFETIME);
        young
            && held
                .get(self.namespace.as_str())
                .is_some_and(|h| h.resource_version == self.base)
    }

    fn used(&self) -> Usage {
        usage(&self.used)
    }
}

/// Judges `update` of a namespace of `pool`'s tenant, given every one of
/// the tenant's namespace quotas read fresh after `ledger` was read.
#[must_use]
pub fn judge(
    pool: &Pool<'_>,
    update: &StatusUpdate,
    held: &[Held],
    ledger: &Ledger,
    now: Timestamp,
) -> Judgement {
    let increased: Vec<&String> = pool
        .limits
        .keys()
        .filter(|r| value(&update.new_used, r) > value(&update.old_used, r))
        .collect();
    if increased.is_empty() {
        return Judgement::Allow(None);
    }
    let by_namespace: BTreeMap<&str, &Held> =
        held.iter().map(|h| (h.namespace.as_str(), h)).collect();
    let live: Vec<&Reservation> = ledger
        .reservations
        .iter()
        .filter(|r| r.live(&by_namespace, now))
        .collect();
    // Each namespace at the most it may come to hold.
    let mut most: BTreeMap<String, Usage> = held
        .iter()
        .map(|h| (h.namespace.clone(), h.used.clone()))
        .collect();
    for reservation in &live {
        raise(&mut most, &reservation.namespace, &reservation.used());
    }
    let namespace = update.namespace.as_str();
    raise(&mut most, namespace, &update.new_used);
    for resource in increased {
        let limit = value(pool.limits, resource);
        let total = most.values().fold(Quantity::ZERO, |sum, u| {
            Quantity::from_nanos(sum.nanos().saturating_add(value(u, resource).nanos()))
        });
        if total > limit {
            let requested = Quantity::from_nanos(
                value(&update.new_used, resource).nanos()
                    - value(&update.old_used, resource).nanos(),
            );
            let used = Quantity::from_nanos(total.nanos() - requested.nanos());
            return Judgement::Deny(format!(
                "tenant {:?} would go over its Quota {:?}: {resource}: {used} used across its namespaces, {requested} more requested in namespace {namespace}, {limit} allowed (fix: free {resource} in one of the tenant's namespaces, or raise the Quota)",
                pool.tenant, pool.quota
            ));
        }
    }
    let mut next: Vec<Reservation> = live.into_iter().cloned().collect();
    next.push(Reservation {
        namespace: update.namespace.clone(),
        base: update.base.clone(),
        used: update
            .new_used
            .iter()
            .filter(|(r, _)| pool.limits.contains_key(*r))
            .map(|(r, q)| (r.clone(), q.to_string()))
            .collect(),
        at: now,
    });
    Judgement::Allow(Some(Ledger { reservations: next }))
}

/// Raises `namespace`'s entry in `most` to at least `usage`, per resource.
fn raise(most: &mut BTreeMap<String, Usage>, namespace: &str, usage: &Usage) {
    let entry = most.entry(namespace.to_owned()).or_default();
    for (resource, q) in usage {
        let e = entry.entry(resource.clone()).or_default();
        *e = (*e).max(*q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOTAL: u64 = 10;

    fn pods(n: u64) -> Usage {
        Usage::from([(
            "pods".to_owned(),
            Quantity::from_units(i64::try_from(n).unwrap_or(i64::MAX)),
        )])
    }

    fn limits() -> Usage {
        pods(TOTAL)
    }

    fn pool(limits: &Usage) -> Pool<'_> {
        Pool {
            tenant: "alpha",
            quota: "small",
            limits,
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The apiserver's side: every namespace's quota (resource version,
    /// pods used) and the ledger's stored version, all compare-and-swap.
    #[derive(Clone, Debug)]
    struct Store {
        version: u64,
        quotas: Vec<(u64, u64)>,
        ledger: (u64, Ledger),
    }

    impl Store {
        fn new(namespaces: usize) -> Store {
            Store {
                version: 1,
                quotas: vec![(1, 0); namespaces],
                ledger: (1, Ledger::default()),
            }
        }

        fn next(&mut self) -> u64 {
            self.version += 1;
            self.version
        }

        fn held(&self) -> Vec<Held> {
            self.quotas
                .iter()
                .enumerate()
                .map(|(i, (v, used))| Held {
                    namespace: format!("ns{i}"),
                    resource_version: v.to_string(),
                    used: pods(*used),
                })
                .collect()
        }

        fn used(&self) -> u64 {
            self.quotas.iter().map(|(_, u)| u).sum()
        }
    }

    /// One pod created (`delta` > 0) or removed, stepping through what the
    /// apiserver's quota admission and the webhook do.
    #[derive(Clone, Debug)]
    enum Step {
        ReadQuota,
        ReadLedger {
            base: u64,
            old: u64,
            new: u64,
        },
        List {
            base: u64,
            old: u64,
            new: u64,
            ledger: (u64, Ledger),
        },
        WriteLedger {
            base: u64,
            old: u64,
            new: u64,
            read: u64,
            write: Ledger,
        },
        Commit {
            base: u64,
            new: u64,
        },
        Done {
            admitted: bool,
        },
    }

    #[derive(Clone, Debug)]
    struct Client {
        namespace: usize,
        delta: i64,
        /// Abandons its update after the webhook allowed it, as when
        /// another webhook refuses it.
        abandons: bool,
        step: Step,
    }

    impl Client {
        fn step(&mut self, store: &mut Store) {
            let ns = self.namespace;
            self.step = match std::mem::replace(&mut self.step, Step::ReadQuota) {
                Step::ReadQuota => {
                    let (base, old) = store.quotas[ns];
                    let new = old.saturating_add_signed(self.delta);
                    if new > TOTAL {
                        // The namespace's own ResourceQuota refuses it.
                        Step::Done { admitted: false }
                    } else {
                        Step::ReadLedger { base, old, new }
                    }
                }
                Step::ReadLedger { base, old, new } => Step::List {
                    base,
                    old,
                    new,
                    ledger: store.ledger.clone(),
                },
                Step::List {
                    base,
                    old,
                    new,
                    ledger,
                } => {
                    let limits = limits();
                    let update = StatusUpdate {
                        namespace: format!("ns{ns}"),
                        base: base.to_string(),
                        old_used: pods(old),
                        new_used: pods(new),
                    };
                    match judge(&pool(&limits), &update, &store.held(), &ledger.1, now()) {
                        Judgement::Deny(_) => Step::Done { admitted: false },
                        Judgement::Allow(None) => Step::Commit { base, new },
                        Judgement::Allow(Some(write)) => Step::WriteLedger {
                            base,
                            old,
                            new,
                            read: ledger.0,
                            write,
                        },
                    }
                }
                Step::WriteLedger {
                    base,
                    old,
                    new,
                    read,
                    write,
                } => {
                    if store.ledger.0 == read {
                        let version = store.next();
                        store.ledger = (version, write);
                        if self.abandons {
                            Step::Done { admitted: false }
                        } else {
                            Step::Commit { base, new }
                        }
                    } else {
                        // Someone judged in between: judge again.
                        Step::ReadLedger { base, old, new }
                    }
                }
                Step::Commit { base, new } => {
                    if store.quotas[ns].0 == base {
                        let version = store.next();
                        store.quotas[ns] = (version, new);
                        Step::Done { admitted: true }
                    } else {
                        // The quota moved on: quota admission starts over.
                        Step::ReadQuota
                    }
                }
                done @ Step::Done { .. } => done,
            };
        }

        fn done(&self) -> Option<bool> {
            match self.step {
                Step::Done { admitted } => Some(admitted),
                _ => None,
            }
        }
    }

    fn clients() -> impl Strategy<Value = Vec<Client>> {
        prop::collection::vec(
            (
                0..3usize,
                prop_oneof![4 => 1..4i64, 1 => -3..0i64],
                prop::bool::weighted(0.1),
            ),
            1..24,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .map(|(namespace, delta, abandons)| Client {
                    namespace,
                    delta,
                    abandons,
                    step: Step::ReadQuota,
                })
                .collect()
        })
    }

    proptest! {
        /// Any number of clients on any replicas, their steps interleaved
        /// in any order: the tenant's namespaces never hold more than its
        /// Quota together.
        #[test]
        fn no_interleaving_of_concurrent_updates_overshoots(
            mut clients in clients(),
            schedule in prop::collection::vec(any::<prop::sample::Index>(), 0..600),
        ) {
            let mut store = Store::new(3);
            let mut turns = schedule.into_iter();
            loop {
                let waiting: Vec<usize> = (0..clients.len()).filter(|i| clients[*i].done().is_none()).collect();
                if waiting.is_empty() {
                    break;
                }
                // The schedule, then round robin to let everyone finish.
                let pick = turns.next().map_or(waiting[0], |i| waiting[i.index(waiting.len())]);
                clients[pick].step(&mut store);
                prop_assert!(store.used() <= TOTAL, "{} pods used: {store:?}", store.used());
            }
        }

        /// One client at a time, nothing is refused that fits: the ledger
        /// only ever refuses for what may really be used.
        #[test]
        fn one_at_a_time_everything_that_fits_is_admitted(clients in clients()) {
            let mut store = Store::new(3);
            for mut client in clients {
                // An abandoned update's reservation may refuse what would
                // fit, until its quota moves on: that is the safe side.
                client.abandons = false;
                let before = store.used();
                while client.done().is_none() {
                    client.step(&mut store);
                }
                let fits = client.delta < 0 || before.saturating_add_signed(client.delta) <= TOTAL;
                prop_assert_eq!(client.done() == Some(true), fits, "{:?} with {} used", client, before);
            }
        }
    }

    #[test]
    fn a_refusal_names_the_tenant_the_resource_and_the_amounts() {
        let limits = limits();
        let held = vec![
            Held {
                namespace: "alpha-dev".into(),
                resource_version: "7".into(),
                used: pods(6),
            },
            Held {
                namespace: "alpha-prod".into(),
                resource_version: "9".into(),
                used: pods(3),
            },
        ];
        let update = StatusUpdate {
            namespace: "alpha-prod".into(),
            base: "9".into(),
            old_used: pods(3),
            new_used: pods(5),
        };
        let Judgement::Deny(message) =
            judge(&pool(&limits), &update, &held, &Ledger::default(), now())
        else {
            panic!("allowed");
        };
        assert_eq!(
            message,
            "tenant \"alpha\" would go over its Quota \"small\": pods: 9 used across its namespaces, 2 more requested in namespace alpha-prod, 10 allowed (fix: free pods in one of the tenant's namespaces, or raise the Quota)"
        );
    }

    #[test]
    fn a_reservation_counts_until_its_quota_moves_on_or_it_is_old() {
        let limits = limits();
        let held = |version: &str| {
            vec![Held {
                namespace: "alpha-dev".into(),
                resource_version: version.into(),
                used: pods(2),
            }]
        };
        let ledger = Ledger {
            reservations: vec![Reservation {
                namespace: "alpha-dev".into(),
                base: "7".into(),
                used: [("pods".to_owned(), "9".to_owned())].into(),
                at: now(),
            }],
        };
        let update = StatusUpdate {
            namespace: "alpha-prod".into(),
            base: "1".into(),
            old_used: pods(0),
            new_used: pods(2),
        };
        let judged =
            |held: &[Held], at: Timestamp| judge(&pool(&limits), &update, held, &ledger, at);
        assert!(
            matches!(judged(&held("7"), now()), Judgement::Deny(_)),
            "pending: 9 + 2 > 10"
        );
        assert!(
            matches!(judged(&held("8"), now()), Judgement::Allow(Some(_))),
            "landed or lost: 2 + 2"
        );
        let later = now() + RESERVATION_LIFETIME;
        let Judgement::Allow(Some(next)) = judged(&held("7"), later) else {
            panic!("an old reservation no longer counts");
        };
        assert_eq!(next.reservations.len(), 1, "and is dropped: {next:?}");
    }
}
