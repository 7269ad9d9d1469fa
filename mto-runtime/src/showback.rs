//! Showback's collection: Pods, PersistentVolumeClaims and Nodes watched
//! into the model's [`Meter`], usage read from Prometheus when there is
//! one, and hourly [`Record`]s written to the store.
//!
//! Every flush recomputes the hours of the look-back window and writes
//! the records that changed since the last flush (each replacing the one
//! of its hour and container): the hour in progress grows, late usage
//! corrects an hour, and hours before the window are final. A restarted
//! collector reads back every running pod's life from the pod itself, so
//! its first flush is complete for them; what ended while no collector
//! ran is what the last flush wrote.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Resource, ResourceExt as _};
use mto_model::showback::{Container, Cost, Meter, Prices, Record, Usage, cost, seconds_within};
use mto_model::view::Observed as _;

use crate::operator::Shared;
use crate::store::{AnyStore, Store as _};

/// How showback collects.
#[derive(Clone, Debug)]
pub struct ShowbackConfig {
    /// How often the window's hours are written.
    pub every: Duration,
    /// How far back hours are still corrected; older ones are final.
    pub lookback: Duration,
    /// How long records are kept.
    pub retention: Duration,
    /// A Prometheus server to read usage from (`http://host:9090`).
    pub prometheus: Option<String>,
}

/// What a flush wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Records written (changed since the last flush).
    pub records: usize,
    /// Records of the window left as they were.
    pub unchanged: usize,
}

/// The collector.
pub struct Collector {
    shared: Arc<Shared>,
    store: Arc<AnyStore>,
    config: ShowbackConfig,
    meter: Mutex<Meter>,
    /// What the last flushes wrote of the window, by hour and container:
    /// each record's hash (a record is rewritten when it changes).
    written: Mutex<HashMap<(i64, String), u64>>,
    /// The hour before which records were last dropped: they are dropped
    /// again only when it moves (once an hour), not at every flush.
    forgotten_before: std::sync::atomic::AtomicI64,
    http: reqwest::Client,
}

/// Unix seconds now.
fn now() -> i64 {
    mto_model::Timestamp::now().as_second()
}

const HOUR: i64 = 3600;

impl Collector {
    /// A collector over the operator's view (for namespaces' tenants and
    /// the IntegrationConfig's prices), writing to `store`.
    #[must_use]
    pub fn new(shared: Arc<Shared>, store: Arc<AnyStore>, config: ShowbackConfig) -> Collector {
        Collector {
            shared,
            store,
            config,
            meter: Mutex::new(Meter::new()),
            written: Mutex::new(HashMap::new()),
            forgotten_before: std::sync::atomic::AtomicI64::new(i64::MIN),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Watches and flushes until `shutdown` resolves (then flushes once
    /// more).
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown);
        // A pod's tenant is its namespace's: known once the view has
        // listed the namespaces.
        while !self.shared.view().synced() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
                () = &mut shutdown => return,
            }
        }
        let client = self.shared.client.clone();
        let mut watches = tokio::task::JoinSet::new();
        watches.spawn(self.clone().watch(
            Api::<Pod>::all(client.clone()),
            |meter, pod, tenant, at| meter.observe_pod(pod, tenant, at),
            |meter, (namespace, name), at| meter.pod_gone(namespace, name, at),
        ));
        watches.spawn(self.clone().watch(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            |meter, claim, tenant, at| meter.observe_claim(claim, tenant, at),
            |meter, (namespace, name), at| meter.claim_gone(namespace, name, at),
        ));
        watches.spawn(self.clone().watch(
            Api::<Node>::all(client),
            |meter, node, _, at| meter.observe_node(node, at),
            |meter, (_, name), at| meter.node_gone(name, at),
        ));
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.every) => {}
                () = &mut shutdown => break,
            }
            self.flush_logged().await;
        }
        self.flush_logged().await;
        watches.abort_all();
    }

    async fn flush_logged(&self) {
        let metrics = &self.shared.metrics;
        match self.flush(now()).await {
            Ok(f) => {
                tracing::debug!(
                    written = f.records,
                    unchanged = f.unchanged,
                    "showback flushed"
                );
                metrics.showback_records.inc_by(f.records as u64);
            }
            Err(e) => {
                metrics.showback_failures.inc();
                tracing::warn!(error = %e, "showback: the store refused the hour's records; they are written at the next flush");
            }
        }
        metrics
            .showback_metered
            .set(i64::try_from(self.metered()).unwrap_or(i64::MAX));
    }

    /// Folds one kind's watch into the meter: `seen` for what is there,
    /// `gone` for what was deleted (also what a re-list no longer has),
    /// by namespace and name. Only the names are kept between events.
    async fn watch<K>(
        self: Arc<Self>,
        api: Api<K>,
        seen: fn(&mut Meter, &K, Option<&str>, i64),
        gone: fn(&mut Meter, (&str, &str), i64),
    ) where
        K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
        K::DynamicType: Default,
    {
        let mut known: BTreeSet<(String, String)> = BTreeSet::new();
        let mut relisted: BTreeSet<(String, String)> = BTreeSet::new();
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
        while let Some(event) = events.next().await {
            let at = now();
            let key = |o: &K| (o.namespace().unwrap_or_default(), o.name_any());
            match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    let tenant = self.tenant_of(o.namespace().as_deref());
                    if let Ok(mut meter) = self.meter.lock() {
                        seen(&mut meter, &o, tenant.as_deref(), at);
                    }
                    relisted.insert(key(&o));
                    known.insert(key(&o));
                }
                Ok(watcher::Event::Delete(o)) => {
                    let k = key(&o);
                    if let Ok(mut meter) = self.meter.lock() {
                        gone(&mut meter, (&k.0, &k.1), at);
                    }
                    known.remove(&k);
                }
                Ok(watcher::Event::Init) => relisted.clear(),
                Ok(watcher::Event::InitDone) => {
                    // Deleted while the watch was down.
                    let missing: Vec<(String, String)> =
                        known.difference(&relisted).cloned().collect();
                    for k in missing {
                        known.remove(&k);
                        if let Ok(mut meter) = self.meter.lock() {
                            gone(&mut meter, (&k.0, &k.1), at);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(kind = %K::kind(&K::DynamicType::default()), error = %e, "showback watch")
                }
            }
        }
    }

    /// The tenant of a namespace, by its label in the operator's view.
    fn tenant_of(&self, namespace: Option<&str>) -> Option<String> {
        self.shared
            .view()
            .snapshot()
            .tenant_of_namespace(namespace?)
            .map(str::to_owned)
    }

    /// The prices the IntegrationConfig sets (OpenCost's defaults without
    /// one; a price that does not read keeps the defaults, said once per
    /// flush).
    fn prices(&self) -> Prices {
        let view = self.shared.view();
        let custom = view
            .snapshot()
            .integration_configs()
            .next()
            .and_then(|c| c.spec.components.as_ref())
            .and_then(|c| c.get("showbackOpts"))
            .and_then(|s| s.get("custom"))
            .cloned();
        drop(view);
        Prices::from_custom(custom.as_ref()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "showback prices OpenCost's defaults");
            Prices::default()
        })
    }

    /// Writes the window's hours as of `now`: the records that changed
    /// and the nodes' capacity; drops what is past retention.
    pub async fn flush(&self, now: i64) -> Result<Flushed, crate::store::StoreError> {
        let lookback = i64::try_from(self.config.lookback.as_secs()).unwrap_or(HOUR);
        let start = (now - lookback).div_euclid(HOUR) * HOUR;
        let prices = self.prices();
        let (containers, capacity) = {
            let meter = self.meter.lock().map_err(|_| poisoned())?;
            let capacity: Vec<(i64, Cost)> = (start..now)
                .step_by(3600)
                .map(|hour| {
                    let offered = meter.capacity(hour, (hour + HOUR).min(now), now);
                    (hour, cost(&offered, &prices))
                })
                .collect();
            (meter.containers(now), capacity)
        };
        let mut records = mto_model::showback::records(&containers, start, now, &prices);
        if let Some(prometheus) = &self.config.prometheus {
            self.measure(prometheus, &containers, &mut records, now, &prices)
                .await;
        }
        self.publish_last_hour(&records, now);
        let (changed, unchanged) = {
            let mut written = self.written.lock().map_err(|_| poisoned())?;
            written.retain(|(hour, _), _| *hour >= start);
            let mut changed = Vec::new();
            let mut unchanged = 0;
            for r in records {
                let key = (r.hour, format!("{}/{}/{}", r.namespace, r.pod, r.container));
                let hash = {
                    use std::hash::{Hash as _, Hasher as _};
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    r.hash(&mut hasher);
                    hasher.finish()
                };
                if written.get(&key) == Some(&hash) {
                    unchanged += 1;
                } else {
                    written.insert(key, hash);
                    changed.push(r);
                }
            }
            (changed, unchanged)
        };
        let count = changed.len();
        if let Err(e) = self.store.put_allocation(changed, capacity).await {
            // Written again at the next flush.
            if let Ok(mut written) = self.written.lock() {
                written.clear();
            }
            return Err(e);
        }
        let retention = i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX);
        let horizon = (now - retention).div_euclid(HOUR) * HOUR;
        let ordering = std::sync::atomic::Ordering::Relaxed;
        if self.forgotten_before.load(ordering) < horizon {
            self.store.forget_allocation_before(horizon).await?;
            self.forgotten_before.store(horizon, ordering);
        }
        if let Ok(mut meter) = self.meter.lock() {
            meter.forget_before(start);
        }
        Ok(Flushed {
            records: count,
            unchanged,
        })
    }

    /// Each tenant's cost in the last complete hour, as metrics.
    fn publish_last_hour(&self, records: &[Record], now: i64) {
        let hour = now.div_euclid(HOUR) * HOUR - HOUR;
        let mut by_tenant: BTreeMap<&str, Cost> = BTreeMap::new();
        for r in records.iter().filter(|r| r.hour == hour) {
            let tenant = r
                .tenant
                .as_deref()
                .unwrap_or(mto_model::showback::UNALLOCATED);
            let sum = by_tenant.entry(tenant).or_default();
            *sum = sum.plus(r.cost);
        }
        let gauge = &self.shared.metrics.tenant_hourly_cost;
        gauge.clear();
        for (tenant, cost) in by_tenant {
            for (resource, micros) in [
                ("cpu", cost.cpu),
                ("ram", cost.ram),
                ("gpu", cost.gpu),
                ("pv", cost.pv),
            ] {
                gauge
                    .get_or_create(&crate::operator::metrics::CostLabels {
                        tenant: tenant.to_owned(),
                        resource,
                    })
                    .set(micros as f64 / 1_000_000.0);
            }
        }
    }

    /// Measured usage in place of the assumed, for the containers
    /// Prometheus knows; an hour Prometheus does not answer for keeps the
    /// requests and is corrected at a later flush while in the window.
    async fn measure(
        &self,
        prometheus: &str,
        containers: &[Container],
        records: &mut [Record],
        now: i64,
        prices: &Prices,
    ) {
        let hours: BTreeSet<i64> = records.iter().map(|r| r.hour).collect();
        let mut usage: HashMap<(i64, String), Usage> = HashMap::new();
        for hour in hours {
            match self.usage_of_hour(prometheus, hour, now).await {
                Ok(measured) => usage.extend(measured.into_iter().map(|(k, u)| ((hour, k), u))),
                Err(e) => {
                    self.shared.metrics.showback_failures.inc();
                    tracing::warn!(%prometheus, hour, error = %e, "showback: no usage from Prometheus; requests stand in");
                }
            }
        }
        let alive: HashMap<(String, String, String), &Container> = containers
            .iter()
            .map(|c| ((c.namespace.clone(), c.pod.clone(), c.container.clone()), c))
            .collect();
        for record in records.iter_mut() {
            let key = format!("{}/{}/{}", record.namespace, record.pod, record.container);
            let Some(measured) = usage.get(&(record.hour, key)) else {
                continue;
            };
            // Memory is measured as an average: held for the seconds the
            // container ran in the hour.
            let seconds = alive
                .get(&(
                    record.namespace.clone(),
                    record.pod.clone(),
                    record.container.clone(),
                ))
                .map_or(0, |c| {
                    seconds_within(&c.intervals, record.hour, (record.hour + HOUR).min(now))
                });
            let usage = Usage {
                cpu: measured.cpu,
                ram: measured.ram.saturating_mul(seconds),
            };
            *record = record.clone().with_usage(usage, prices);
        }
    }

    /// What each container used in `[hour, hour + 1h)` (up to `now`): CPU
    /// as milli-core-seconds, memory as average bytes (times seconds by
    /// the caller), by `namespace/pod/container`.
    async fn usage_of_hour(
        &self,
        prometheus: &str,
        hour: i64,
        now: i64,
    ) -> Result<HashMap<String, Usage>, String> {
        let at = (hour + HOUR).min(now);
        let range = at - hour;
        if range <= 0 {
            return Ok(HashMap::new());
        }
        let selector = r#"{container!="",container!="POD"}"#;
        let cpu = self
            .instant(
                prometheus,
                &format!(
                    "sum by (namespace, pod, container) (increase(container_cpu_usage_seconds_total{selector}[{range}s]))"
                ),
                at,
            )
            .await?;
        let ram = self
            .instant(
                prometheus,
                &format!(
                    "avg by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes{selector}[{range}s]))"
                ),
                at,
            )
            .await?;
        let mut out: HashMap<String, Usage> = HashMap::new();
        for (key, cores) in cpu {
            out.entry(key).or_default().cpu = (cores * 1000.0).round() as i64;
        }
        for (key, bytes) in ram {
            out.entry(key).or_default().ram = bytes.round() as i64;
        }
        Ok(out)
    }

    /// An instant query's vector, by `namespace/pod/container`.
    async fn instant(
        &self,
        prometheus: &str,
        query: &str,
        at: i64,
    ) -> Result<Vec<(String, f64)>, String> {
        let url = format!("{}/api/v1/query", prometheus.trim_end_matches('/'));
        let response: serde_json::Value = self
            .http
            .get(&url)
            .query(&[("query", query), ("time", &at.to_string())])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let result = response
            .pointer("/data/result")
            .and_then(|r| r.as_array())
            .ok_or_else(|| format!("{url}: no data.result in the answer"))?;
        Ok(result
            .iter()
            .filter_map(|sample| {
                let label = |name: &str| sample.pointer(&format!("/metric/{name}"))?.as_str();
                let key = format!(
                    "{}/{}/{}",
                    label("namespace")?,
                    label("pod")?,
                    label("container")?
                );
                let value = sample.pointer("/value/1")?.as_str()?.parse::<f64>().ok()?;
                value.is_finite().then_some((key, value.max(0.0)))
            })
            .collect())
    }

    /// How many containers and claims are metered.
    #[must_use]
    pub fn metered(&self) -> usize {
        self.meter.lock().map_or(0, |m| m.len())
    }
}

fn poisoned() -> crate::store::StoreError {
    crate::store::StoreError::Task("showback's meter lock was poisoned".into())
}

/// OpenCost's `/allocation` parameters (also `mto showback`'s).
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AllocationParams {
    /// `24h`, `7d`, `today`, `yesterday`, `week`, `lastweek`, `month`,
    /// `lastmonth`, or `START,END` as Unix seconds or RFC 3339 (default
    /// `24h`).
    pub window: Option<String>,
    /// `namespace` (default), `tenant`, `pod`, `container` or `label:NAME`.
    pub aggregate: Option<String>,
    /// Each set's length, whole hours (`1h`, `1d`); the window when none.
    pub step: Option<String>,
    /// One set for the whole window.
    pub accumulate: Option<bool>,
    /// The cluster's idle cost shared over the groups by their cost.
    pub share_idle: Option<bool>,
    /// `json` (default, OpenCost's shape) or `csv`.
    pub format: Option<String>,
    /// Only this tenant's workloads (and no idle: it is the cluster's).
    pub tenant: Option<String>,
}

/// Which tenants' groups a caller may see (`None`: the namespaces of no
/// tenant).
pub type Visible<'a> = &'a (dyn Fn(Option<&str>) -> bool + Sync);

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A parameter does not read.
    #[error("{0}")]
    Parameter(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The report `params` ask for at `now`, from the records in `store`;
/// with `visible`, only the groups whose every record is of a tenant it
/// accepts (and no idle: it is the cluster's).
pub async fn allocation_report(
    store: &impl crate::store::Store,
    params: &AllocationParams,
    now: i64,
    visible: Option<Visible<'_>>,
) -> Result<Vec<mto_model::showback::Set>, ReportError> {
    let query = mto_model::showback::Query::from_params(
        params.window.as_deref().unwrap_or("24h"),
        params.aggregate.as_deref().unwrap_or("namespace"),
        params.step.as_deref(),
        params.accumulate.unwrap_or(false),
        params.share_idle.unwrap_or(false),
        now,
    )
    .map_err(ReportError::Parameter)?;
    let (records, capacity) = store
        .allocation(query.start, query.end, params.tenant.clone())
        .await?;
    let mut sets = mto_model::showback::report(&records, &capacity, &query);
    if let Some(visible) = visible {
        let allowed = mto_model::showback::visible_groups(&records, &query.aggregate, visible);
        for set in &mut sets {
            set.groups.retain(|name, _| allowed.contains(name));
        }
    }
    Ok(sets)
}
