//! The operator's Prometheus metrics.
//!
//! API writes are counted where they are issued, so "zero writes at steady
//! state" is something a platform team can graph, not a promise.

use mto_model::action::Action;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an API write.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// `apply`, `delete`, `patch`, `status` or `create` (events).
    pub verb: &'static str,
    /// The object's kind.
    pub kind: String,
}

/// Labels of a reconcile error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// A stable, short reason.
    pub reason: &'static str,
}

/// Labels of an admission review answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    /// The reviewed object's kind.
    pub kind: String,
    /// `allowed`, or the name of the rule that denied (`vnamespace`, ...).
    pub verdict: &'static str,
}

/// Labels of the tenants-by-phase gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// The phase in the tenant's status (`Unknown` before the first one).
    pub phase: String,
}

/// Labels of showback's cost per tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CostLabels {
    /// The tenant (`__unallocated__` for namespaces of none).
    pub tenant: String,
    /// `cpu`, `ram`, `gpu` or `pv`.
    pub resource: &'static str,
}

/// Every metric the operator exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Reconciles run.
    pub reconciles: Counter,
    /// Tenant reconciles that needed no decision: the tenant was settled.
    pub reconciles_settled: Counter,
    /// Reconciles that failed, by reason.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// Reconcile durations, in seconds.
    pub reconcile_duration: Histogram,
    /// Writes issued to the apiserver.
    pub api_writes: Family<WriteLabels, Counter>,
    /// Watch events received.
    pub watch_events: Counter,
    /// Tenants by phase, refreshed at every scrape.
    pub tenants: Family<PhaseLabels, Gauge>,
    /// 1 while this replica holds the lease.
    pub leader: Gauge,
    /// Admission reviews answered, by kind and verdict.
    pub admission_reviews: Family<ReviewLabels, Counter>,
    /// Time to answer one admission review, in seconds.
    pub admission_duration: Histogram,
    /// Helm chart renderings made (`helm template` runs).
    pub charts_rendered: Counter,
    /// Writes to Vault (mounts, policies, groups, roles) that succeeded.
    pub vault_writes: Counter,
    /// Showback records written to the store.
    pub showback_records: Counter,
    /// Showback flushes that failed (the store, or Prometheus).
    pub showback_failures: Counter,
    /// Containers and claims showback meters.
    pub showback_metered: Gauge,
    /// What each tenant's workloads cost in the last complete hour, by
    /// resource, in the currency.
    pub tenant_hourly_cost: Family<CostLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mto");
        let reconciles = Counter::default();
        let reconciles_settled = Counter::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let api_writes = Family::<WriteLabels, Counter>::default();
        let watch_events = Counter::default();
        let tenants = Family::<PhaseLabels, Gauge>::default();
        let leader = Gauge::default();
        let admission_reviews = Family::<ReviewLabels, Counter>::default();
        let admission_duration = Histogram::new(exponential_buckets(0.000_01, 2.0, 16));
        let charts_rendered = Counter::default();
        let vault_writes = Counter::default();
        registry.register(
            "vault_writes",
            "Writes to Vault (mounts, policies, identity groups, Kubernetes-auth roles) that succeeded",
            vault_writes.clone(),
        );
        let showback_records = Counter::default();
        let showback_failures = Counter::default();
        let showback_metered = Gauge::default();
        let tenant_hourly_cost =
            Family::<CostLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "tenant_hourly_cost",
            "What each tenant's workloads cost in the last complete hour, by resource, in the showback currency (OpenCost's model)",
            tenant_hourly_cost.clone(),
        );
        registry.register(
            "showback_records",
            "Showback's hourly records written to the store (those that changed since the last flush)",
            showback_records.clone(),
        );
        registry.register(
            "showback_failures",
            "Showback flushes the store refused, and hours Prometheus did not answer for",
            showback_failures.clone(),
        );
        registry.register(
            "showback_metered",
            "Containers and persistent volume claims showback meters",
            showback_metered.clone(),
        );
        registry.register(
            "charts_rendered",
            "Helm chart renderings made for Templates (one per chart, release, namespace and values not yet rendered)",
            charts_rendered.clone(),
        );
        registry.register("reconciles", "Tenant reconciles run", reconciles.clone());
        registry.register(
            "reconciles_settled",
            "Tenant reconciles that decided nothing: nothing the tenant's last, empty, decision read had changed",
            reconciles_settled.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Tenant reconciles that failed, by reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time to decide and carry out one tenant reconcile",
            reconcile_duration.clone(),
        );
        registry.register(
            "api_writes",
            "Writes issued to the Kubernetes API, by verb and kind",
            api_writes.clone(),
        );
        registry.register(
            "watch_events",
            "Watch events received",
            watch_events.clone(),
        );
        registry.register("tenants", "Tenants by phase", tenants.clone());
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        registry.register(
            "admission_reviews",
            "Admission reviews answered, by the object's kind and the verdict (allowed, or the rule that denied)",
            admission_reviews.clone(),
        );
        registry.register(
            "admission_duration_seconds",
            "Time to decide one admission review, from the request read to the answer made",
            admission_duration.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconciles_settled,
            reconcile_errors,
            reconcile_duration,
            api_writes,
            watch_events,
            tenants,
            leader,
            admission_reviews,
            admission_duration,
            charts_rendered,
            vault_writes,
            showback_records,
            showback_failures,
            showback_metered,
            tenant_hourly_cost,
        }
    }
}

impl Metrics {
    /// Counts one write carried out for `action`.
    pub fn wrote(&self, action: &Action) {
        self.api_writes
            .get_or_create(&WriteLabels {
                verb: action.verb(),
                kind: action.target().kind.name().to_owned(),
            })
            .inc();
    }

    /// Counts one Event written.
    pub fn wrote_event(&self) {
        self.api_writes
            .get_or_create(&WriteLabels {
                verb: "create",
                kind: "Event".into(),
            })
            .inc();
    }

    /// Counts one admission review answered.
    pub fn reviewed(&self, kind: &str, verdict: &'static str) {
        self.admission_reviews
            .get_or_create(&ReviewLabels {
                kind: kind.to_owned(),
                verdict,
            })
            .inc();
    }

    /// Counts a reconcile that failed, or decided nothing, for `reason`.
    pub fn reconcile_error(&self, reason: &'static str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels { reason })
            .inc();
    }

    /// Sets the tenants-by-phase gauge.
    pub fn set_phases<'a>(&self, phases: impl IntoIterator<Item = (&'a str, i64)>) {
        self.tenants.clear();
        for (phase, count) in phases {
            self.tenants
                .get_or_create(&PhaseLabels {
                    phase: phase.to_owned(),
                })
                .set(count);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use mto_model::action::{Kind, ObjectRef, Reason};

    use super::*;

    #[test]
    fn writes_are_counted_by_verb_and_kind_in_the_text_format() {
        let metrics = Metrics::default();
        let delete = Action::Delete {
            target: ObjectRef::namespaced(Kind::RoleBinding, "ns", "rb"),
            uid: None,
            reason: Reason::Remove,
        };
        metrics.wrote(&delete);
        metrics.wrote(&delete);
        metrics.wrote(&Action::Patch {
            target: ObjectRef::cluster(Kind::Tenant, "t"),
            patch: mto_model::action::Patch::Merge(Default::default()),
            reason: Reason::AddFinalizer,
        });
        metrics.set_phases([("Active", 3)]);
        let text = metrics.encode();
        assert!(
            text.contains("mto_api_writes_total{verb=\"delete\",kind=\"RoleBinding\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("mto_api_writes_total{verb=\"patch\",kind=\"Tenant\"} 1"),
            "{text}"
        );
        assert!(text.contains("mto_tenants{phase=\"Active\"} 3"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
