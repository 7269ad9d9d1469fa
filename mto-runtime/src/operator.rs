//! `mto run`: the tenant controller on a real cluster.
//!
//! Watches feed the [`Cache`]; each event names the tenants it concerns;
//! kube-runtime's applier reconciles them with bounded concurrency, never
//! two reconciles of one tenant at once, debouncing bursts. A reconcile
//! asks the model's `decide` what to do and carries the actions out in
//! order; it stops at the first failure and decides again from a fresh
//! observation after a backoff with jitter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::StreamExt as _;
use futures::channel::mpsc;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::runtime::controller::{self, Action as Requeue, ReconcileRequest, applier};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource as _};
use mto_model::Timestamp;
use mto_model::action::Action;
use mto_model::api::{
    ClusterResourceSupervisor, IntegrationConfig, Quota, ResourceSupervisor, Tenant,
};
use mto_model::hibernation::{Supervisor, SupervisorId};
use mto_model::machine::Phase as _;
use mto_model::observed::Observed as _;
use mto_model::tenant::{Decision, Settled, decide};
use rand::RngExt as _;
use serde::de::DeserializeOwned;

use crate::cache::{Cache, Watched, Woken, slim_in_place};
use crate::clock::Clock;
use crate::execute::{ExecuteError, execute, execute_supervisor};
use crate::journal::{Entry, Journal};
use crate::metrics::Metrics;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Tenants reconciled at once.
    pub concurrency: u16,
    /// Quiet time before a burst of events for one tenant is acted on.
    pub debounce: Duration,
    /// First retry delay after a failed reconcile; doubles per failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// The name this replica reports events under.
    pub identity: String,
    /// Where time comes from (real, or fast for tests and demos).
    pub clock: Clock,
}

/// Why a reconcile did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The IntegrationConfig cannot be used; nothing is decided.
    #[error("{0}")]
    IntegrationConfig(String),
    /// A write failed; the rest of the decision was not carried out.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
}

impl ReconcileError {
    /// A short, stable reason for metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::IntegrationConfig(_) => "integration_config",
            ReconcileError::Execute(ExecuteError::Encode { .. }) => "encode",
            ReconcileError::Execute(ExecuteError::Api { source, .. }) => match source {
                kube::Error::Api(e) if e.code == 409 => "conflict",
                kube::Error::Api(e) if e.code == 429 => "throttled",
                kube::Error::Api(e) if e.code >= 500 => "server_error",
                kube::Error::Api(_) => "rejected",
                _ => "transport",
            },
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The observed cluster.
    pub cache: Arc<Cache>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The decision journal, when one is kept.
    pub journal: Option<Arc<Journal>>,
    recorder: Recorder,
    config: ControllerConfig,
    failures: Mutex<HashMap<String, u32>>,
    settled: Mutex<Settled>,
}

/// Runs the controller until `shutdown` resolves: starts the watches,
/// waits until every kind is listed, then reconciles.
pub async fn run(
    client: Client,
    cache: Arc<Cache>,
    metrics: Arc<Metrics>,
    journal: Option<Arc<Journal>>,
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shutdown = shutdown.shared();
    let (tenant_store, tenant_writer) = reflector::store::<Tenant>();
    let (namespaced_store, namespaced_writer) = reflector::store::<ResourceSupervisor>();
    let (cluster_store, cluster_writer) = reflector::store::<ClusterResourceSupervisor>();
    let (tenant_tx, tenant_queue) = mpsc::unbounded::<String>();
    let (namespaced_tx, namespaced_queue) = mpsc::unbounded::<ObjectRef<ResourceSupervisor>>();
    let (cluster_tx, cluster_queue) = mpsc::unbounded::<ObjectRef<ClusterResourceSupervisor>>();
    let triggers = Triggers {
        tenants: tenant_tx,
        namespaced: namespaced_tx,
        cluster: cluster_tx,
    };
    let wc = watcher::Config::default();
    let mut watches = tokio::task::JoinSet::new();
    // Slimmed before the reflector stores keep them too.
    let tenants = watcher(Api::<Tenant>::all(client.clone()), wc.clone())
        .default_backoff()
        .modify(slim_in_place)
        .reflect(tenant_writer);
    watches.spawn(fold(
        tenants,
        cache.clone(),
        metrics.clone(),
        triggers.clone(),
    ));
    let namespaced = watcher(Api::<ResourceSupervisor>::all(client.clone()), wc.clone())
        .default_backoff()
        .modify(slim_in_place)
        .reflect(namespaced_writer);
    watches.spawn(fold(
        namespaced,
        cache.clone(),
        metrics.clone(),
        triggers.clone(),
    ));
    let cluster = watcher(Api::<ClusterResourceSupervisor>::all(client.clone()), wc)
        .default_backoff()
        .modify(slim_in_place)
        .reflect(cluster_writer);
    watches.spawn(fold(
        cluster,
        cache.clone(),
        metrics.clone(),
        triggers.clone(),
    ));
    spawn_watch::<Quota>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<IntegrationConfig>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<Namespace>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<RoleBinding>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<ResourceQuota>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<LimitRange>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<Deployment>(&mut watches, &client, &cache, &metrics, &triggers);
    spawn_watch::<StatefulSet>(&mut watches, &client, &cache, &metrics, &triggers);

    // Deciding on a partial view could release what is merely not listed yet.
    while !cache.synced() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::info!(
        tenants = cache.read().snapshot.objects().tenants.len(),
        supervisors = cache.read().snapshot.objects().supervisors.len(),
        "every kind listed; reconciling"
    );

    let reporter = Reporter {
        controller: "mto".into(),
        instance: Some(config.identity.clone()),
    };
    let context = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        cache,
        metrics,
        journal,
        config: config.clone(),
        failures: Mutex::new(HashMap::new()),
        settled: Mutex::new(Settled::default()),
    });
    let controller_config = controller::Config::default()
        .concurrency(config.concurrency)
        .debounce(config.debounce);
    let tenants = applier(
        |tenant, ctx| Box::pin(reconcile(tenant, ctx)),
        error_policy,
        context.clone(),
        tenant_store,
        tenant_queue
            .map(|name| Ok::<_, std::convert::Infallible>(request(&name)))
            .take_until(shutdown.clone()),
        controller_config.clone(),
    )
    .for_each(log_outcome);
    let namespaced = applier(
        |s: Arc<ResourceSupervisor>, ctx| {
            Box::pin(supervise(Supervisor::Namespaced((*s).clone()).key(), ctx))
        },
        supervisor_error_policy,
        context.clone(),
        namespaced_store,
        namespaced_queue
            .map(|r| Ok::<_, std::convert::Infallible>(ReconcileRequest::from(r)))
            .take_until(shutdown.clone()),
        controller_config.clone(),
    )
    .for_each(log_outcome);
    let cluster = applier(
        |s: Arc<ClusterResourceSupervisor>, ctx| {
            Box::pin(supervise(Supervisor::Cluster((*s).clone()).key(), ctx))
        },
        supervisor_error_policy,
        context,
        cluster_store,
        cluster_queue
            .map(|r| Ok::<_, std::convert::Infallible>(ReconcileRequest::from(r)))
            .take_until(shutdown),
        controller_config,
    )
    .for_each(log_outcome);
    futures::join!(tenants, namespaced, cluster);
    watches.abort_all();
}

async fn log_outcome<T>(
    result: Result<T, controller::Error<ReconcileError, std::convert::Infallible>>,
) {
    match result {
        Ok(_) => {}
        // The object went away between the event and its turn.
        Err(controller::Error::ObjectNotFound(_)) => {}
        Err(e) => tracing::warn!(error = %e, "controller"),
    }
}

/// Where watch events send whom they concern.
#[derive(Clone)]
struct Triggers {
    tenants: mpsc::UnboundedSender<String>,
    namespaced: mpsc::UnboundedSender<ObjectRef<ResourceSupervisor>>,
    cluster: mpsc::UnboundedSender<ObjectRef<ClusterResourceSupervisor>>,
}

impl Triggers {
    /// Queues everyone concerned; `false` once the controller is gone.
    fn send(&self, woken: Woken) -> bool {
        for tenant in woken.tenants {
            if self.tenants.unbounded_send(tenant).is_err() {
                return false;
            }
        }
        for key in woken.supervisors {
            let sent = match SupervisorId::parse(&key) {
                Some(SupervisorId::Namespaced { namespace, name }) => self
                    .namespaced
                    .unbounded_send(ObjectRef::new(&name).within(&namespace))
                    .is_ok(),
                Some(SupervisorId::Cluster { name }) => {
                    self.cluster.unbounded_send(ObjectRef::new(&name)).is_ok()
                }
                None => true,
            };
            if !sent {
                return false;
            }
        }
        true
    }
}

fn request(name: &str) -> ReconcileRequest<Tenant> {
    ReconcileRequest::from(ObjectRef::<Tenant>::new(name))
}

fn spawn_watch<K>(
    watches: &mut tokio::task::JoinSet<()>,
    client: &Client,
    cache: &Arc<Cache>,
    metrics: &Arc<Metrics>,
    triggers: &Triggers,
) where
    K: Watched
        + kube::Resource<DynamicType = ()>
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let stream =
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()).default_backoff();
    watches.spawn(fold(
        stream,
        cache.clone(),
        metrics.clone(),
        triggers.clone(),
    ));
}

/// Folds a watch into the cache, forwarding the tenants each event concerns.
async fn fold<K, S>(stream: S, cache: Arc<Cache>, metrics: Arc<Metrics>, triggers: Triggers)
where
    K: Watched,
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                metrics.watch_events.inc();
                if !triggers.send(cache.apply(event)) {
                    return;
                }
            }
            // The watcher backs off and re-lists by itself.
            Err(e) => tracing::warn!(kind = K::NAME, error = %e, "watch"),
        }
    }
}

async fn reconcile(trigger: Arc<Tenant>, ctx: Arc<Context>) -> Result<Requeue, ReconcileError> {
    let name = trigger.metadata.name.clone().unwrap_or_default();
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let now = ctx.config.clock.now();
    let decided = {
        let view = ctx.cache.read();
        if let Some(problem) = &view.integration_problem {
            return Err(ReconcileError::IntegrationConfig(problem.clone()));
        }
        let settled = || {
            ctx.settled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let Some(tenant) = view.snapshot.tenant(&name) else {
            settled().forget(&name);
            return Ok(Requeue::await_change());
        };
        if settled().is_settled(&name, &view.snapshot) {
            ctx.metrics.reconciles_settled.inc();
            return Ok(Requeue::await_change());
        }
        // Decided outside the lock: reconciles of other tenants decide
        // at the same time.
        let decision = decide(tenant, &view.snapshot, now);
        settled().record(&name, &view.snapshot, &decision);
        Some((decision, tenant.object_ref(&())))
    };
    let Some((decision, reference)) = decided else {
        return Ok(Requeue::await_change());
    };
    let mut done = Vec::new();
    let mut failure = None;
    for action in &decision.actions {
        match execute(&ctx.client, action).await {
            Ok(()) => {
                ctx.metrics.wrote(action);
                done.push(action);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if !done.is_empty() || !decision.events.is_empty() || failure.is_some() {
        tell(
            &ctx,
            &name,
            &reference,
            &decision,
            &done,
            failure.as_ref(),
            now,
        )
        .await;
    }
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if let Some(e) = failure {
        return Err(e.into());
    }
    if let Ok(mut failures) = ctx.failures.lock() {
        failures.remove(&name);
    }
    tracing::debug!(tenant = %name, phase = decision.phase.name(), writes = done.len(), "reconciled");
    Ok(decision
        .requeue_after
        .map_or_else(Requeue::await_change, Requeue::requeue))
}

/// Decides and carries out what one supervisor does now; comes back at its
/// next transition (requeued at the computed instant, no polling).
async fn supervise(key: String, ctx: Arc<Context>) -> Result<Requeue, ReconcileError> {
    let started = Instant::now();
    ctx.metrics.reconciles.inc();
    let now = ctx.config.clock.now();
    let decided = {
        let view = ctx.cache.read();
        if let Some(problem) = &view.integration_problem {
            return Err(ReconcileError::IntegrationConfig(problem.clone()));
        }
        view.snapshot.objects().supervisors.get(&key).map(|s| {
            let reference = match s {
                Supervisor::Namespaced(r) => r.object_ref(&()),
                Supervisor::Cluster(c) => c.object_ref(&()),
            };
            (
                mto_model::hibernation::decide(s, &view.snapshot, now),
                reference,
            )
        })
    };
    let Some((decision, reference)) = decided else {
        return Ok(Requeue::await_change());
    };
    let mut done = Vec::new();
    let mut failure = None;
    for action in &decision.actions {
        match execute_supervisor(&ctx.client, action).await {
            Ok(()) => {
                ctx.metrics.wrote_for_supervisor(action);
                done.push(action.to_string());
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if !done.is_empty() || failure.is_some() {
        let scaled: Vec<&String> = done
            .iter()
            .filter(|a| a.starts_with("sleep ") || a.starts_with("wake "))
            .collect();
        let mut events = Vec::new();
        if !scaled.is_empty() {
            events.push(KubeEvent {
                type_: EventType::Normal,
                reason: if decision.phase == mto_model::hibernation::SupervisorPhase::Sleeping {
                    "Sleeping".into()
                } else {
                    "Waking".into()
                },
                note: Some(truncate(
                    &scaled
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
                action: "Scale".into(),
                secondary: None,
            });
        }
        if let Some(f) = &failure {
            events.push(KubeEvent {
                type_: EventType::Warning,
                reason: "WriteFailed".into(),
                note: Some(truncate(&f.to_string())),
                action: "Scale".into(),
                secondary: None,
            });
        }
        publish(&ctx, &reference, &key, &events).await;
        tracing::info!(
            supervisor = %key,
            from = decision.from.name(),
            to = decision.phase.name(),
            writes = done.len(),
            error = failure.as_ref().map(ToString::to_string),
            "changed"
        );
        let entry = Entry {
            at: now,
            from: decision.from.name().into(),
            to: decision.phase.name().into(),
            actions: done.clone(),
            events: Vec::new(),
            error: failure.as_ref().map(ToString::to_string),
        };
        journal(&ctx, &key, entry).await;
    }
    ctx.metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if let Some(e) = failure {
        return Err(e.into());
    }
    if let Ok(mut failures) = ctx.failures.lock() {
        failures.remove(&key);
    }
    Ok(match decision.wake_at {
        // After writes, look again soon: the decision that follows them is
        // the one that rests (or, when deleting, lets the supervisor go),
        // whatever the watches deliver.
        _ if !done.is_empty() => Requeue::requeue(Duration::from_secs(2)),
        // Half a second late rather than early: the schedule has turned by then.
        Some(at) => Requeue::requeue(ctx.config.clock.until(at) + Duration::from_millis(500)),
        None => Requeue::await_change(),
    })
}

fn supervisor_error_policy<K: kube::Resource<DynamicType = ()>>(
    supervisor: Arc<K>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Requeue {
    let name = format!(
        "{}/{}",
        K::kind(&()),
        supervisor.meta().name.as_deref().unwrap_or_default()
    );
    retry_after_failure(&name, error, &ctx)
}

/// Events and the journal entry for one reconcile that did something.
async fn tell(
    ctx: &Context,
    tenant: &str,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    decision: &Decision,
    done: &[&Action],
    failure: Option<&ExecuteError>,
    now: Timestamp,
) {
    let writes: Vec<String> = done
        .iter()
        .filter(|a| a.is_object_write())
        .map(ToString::to_string)
        .collect();
    let mut events = Vec::new();
    if !writes.is_empty() {
        events.push(KubeEvent {
            type_: EventType::Normal,
            reason: "Reconciled".into(),
            note: Some(truncate(&format!(
                "{} ({} writes): {}",
                decision.phase.name(),
                writes.len(),
                writes.join("; ")
            ))),
            action: "Reconcile".into(),
            secondary: None,
        });
    }
    for e in &decision.events {
        events.push(KubeEvent {
            type_: if e.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: e.reason.clone(),
            note: Some(truncate(&e.message)),
            action: "Reconcile".into(),
            secondary: None,
        });
    }
    if let Some(f) = failure {
        events.push(KubeEvent {
            type_: EventType::Warning,
            reason: "WriteFailed".into(),
            note: Some(truncate(&f.to_string())),
            action: "Reconcile".into(),
            secondary: None,
        });
    }
    publish(ctx, reference, tenant, &events).await;
    tracing::info!(
        tenant,
        from = decision.from.name(),
        to = decision.phase.name(),
        writes = done.len(),
        error = failure.map(ToString::to_string),
        "changed"
    );
    let entry = Entry {
        at: now,
        from: decision.from.name().into(),
        to: decision.phase.name().into(),
        actions: done.iter().map(ToString::to_string).collect(),
        events: decision
            .events
            .iter()
            .map(|e| format!("{}: {}", e.reason, e.message))
            .collect(),
        error: failure.map(ToString::to_string),
    };
    journal(ctx, tenant, entry).await;
}

/// Writes events about an object (a tenant or supervisor, by `key`),
/// counting each as an API write.
async fn publish(
    ctx: &Context,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    key: &str,
    events: &[KubeEvent],
) {
    for event in events {
        match ctx.recorder.publish(event, reference).await {
            Ok(()) => ctx.metrics.wrote_event(),
            Err(e) => tracing::warn!(object = key, error = %e, "event not recorded"),
        }
    }
}

/// Records an entry under `key` in the journal, if one is kept; a failure
/// is logged, never fatal (the journal is history only).
async fn journal(ctx: &Context, key: &str, entry: Entry) {
    let Some(journal) = ctx.journal.clone() else {
        return;
    };
    let key = key.to_owned();
    match tokio::task::spawn_blocking(move || journal.record(&key, &entry)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "journal"),
        Err(e) => tracing::warn!(error = %e, "journal"),
    }
}

/// Event notes are limited to 1 kB.
fn truncate(text: &str) -> String {
    const LIMIT: usize = 1000;
    if text.len() <= LIMIT {
        return text.to_owned();
    }
    let mut end = LIMIT - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

fn error_policy(tenant: Arc<Tenant>, error: &ReconcileError, ctx: Arc<Context>) -> Requeue {
    let name = tenant.metadata.name.clone().unwrap_or_default();
    retry_after_failure(&name, error, &ctx)
}

/// Counts the failure and picks the retry delay: exponential with jitter.
fn retry_after_failure(name: &str, error: &ReconcileError, ctx: &Context) -> Requeue {
    ctx.metrics
        .reconcile_errors
        .get_or_create(&crate::metrics::ErrorLabels {
            reason: error.reason(),
        })
        .inc();
    let attempt = ctx
        .failures
        .lock()
        .map(|mut f| {
            let n = f.entry(name.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        })
        .unwrap_or(1);
    let delay = backoff(&ctx.config, attempt, rand::rng().random::<f64>());
    tracing::warn!(object = %name, attempt, retry_in = ?delay, error = %error, "reconcile failed");
    Requeue::requeue(delay)
}

/// Exponential backoff with jitter: the `attempt`-th retry waits between
/// half and all of `base · 2^(attempt-1)`, capped at `max`, so replicas
/// and tenants failing together do not retry together.
fn backoff(config: &ControllerConfig, attempt: u32, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let full = config
        .backoff_base
        .saturating_mul(1 << exponent)
        .min(config.backoff_max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Counts tenants by the phase in their status, for the gauge.
pub fn phases(cache: &Cache) -> Vec<(String, i64)> {
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for t in cache.read().snapshot.objects().tenants.values() {
        let phase = t
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into());
        *counts.entry(phase).or_default() += 1;
    }
    counts.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn config() -> ControllerConfig {
        ControllerConfig {
            concurrency: 1,
            debounce: Duration::ZERO,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(300),
            identity: "test".into(),
            clock: Clock::real(),
        }
    }

    proptest! {
        #[test]
        fn backoff_grows_stays_capped_and_jitters_within_half(attempt in 1u32..100, jitter in 0.0f64..=1.0) {
            let c = config();
            let d = backoff(&c, attempt, jitter);
            let full = c.backoff_base.saturating_mul(1 << attempt.saturating_sub(1).min(20)).min(c.backoff_max);
            prop_assert!(d <= full);
            prop_assert!(d >= full / 2);
            prop_assert!(d <= c.backoff_max);
        }
    }

    #[test]
    fn backoff_doubles_until_the_cap() {
        let c = config();
        assert_eq!(backoff(&c, 1, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(&c, 2, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&c, 3, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(&c, 30, 1.0), Duration::from_secs(300));
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let long = "é".repeat(800);
        let cut = truncate(&long);
        assert!(cut.len() <= 1000);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate("short"), "short");
    }
}
