//! `mto run`: the controllers on a real cluster.
//!
//! The model does the deciding: watch events fold into its [`View`], its
//! [`Driver`] keeps the queue and hands out each decision's actions, and
//! this module only does the I/O around them — the watches, the API calls,
//! events, the journal, metrics — on a tokio runtime. The simulator runs
//! the same view and driver against its simulated cluster.

use crate::execute::Executor;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use mto_model::action::Event;
use mto_model::driver::{Driver, Finished, Skipped, Started};
use mto_model::view::{Key, View, Woken};
use rand::RngExt as _;

pub mod certs;
pub mod clock;
pub mod journal;
pub mod lease;
pub mod ledgers;
pub mod metrics;
pub mod serve;
pub mod watch;
pub mod webhook;
pub mod webhooks;

use clock::Clock;
use journal::{Entry, Journal};
use metrics::Metrics;

/// `helm` processes at once: rendering is CPU work beside the apiserver's.
const CHART_RENDERS_AT_ONCE: usize = 2;

/// How the controllers run.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// The driver's queue: concurrency, debounce, backoff.
    pub driver: mto_model::driver::Config,
    /// The name this replica reports events under.
    pub identity: String,
    /// Where time comes from (real, or fast for tests and demos).
    pub clock: Clock,
    /// The `helm` binary Templates' charts are rendered with.
    pub helm: std::path::PathBuf,
    /// Where pulled charts are kept.
    pub chart_cache: std::path::PathBuf,
    /// The operator's namespace: where chart repository credentials are.
    pub namespace: String,
    /// What the console the pilot deploys takes from the operator.
    pub pilot: mto_model::pilot::PilotSettings,
    /// The service account token the operator signs in to Vault with.
    pub vault_jwt: std::path::PathBuf,
}

/// What the watches, the scheduler and every reconcile share.
pub struct Shared {
    /// The operator's view of the cluster.
    pub view: RwLock<View>,
    driver: Mutex<Driver>,
    wake: tokio::sync::Notify,
    /// The API client.
    pub client: Client,
    executor: Executor,
    charts: crate::charts::ChartRenderer,
    vault: crate::vault::VaultClient,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    journal: Option<Arc<Journal>>,
    recorder: Recorder,
    clock: Clock,
    /// The last reason nothing could be decided, said once.
    blocked: Mutex<Option<String>>,
}

impl Shared {
    /// A new operator's state; nothing listed yet.
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        journal: Option<Arc<Journal>>,
        config: &ControllerConfig,
    ) -> Shared {
        let reporter = Reporter {
            controller: "mto".into(),
            instance: Some(config.identity.clone()),
        };
        Shared {
            view: RwLock::new(View::default()),
            driver: Mutex::new(Driver::new(config.driver).with_pilot(config.pilot.clone())),
            wake: tokio::sync::Notify::new(),
            recorder: Recorder::new(client.clone(), reporter),
            executor: Executor::new(client.clone()),
            vault: crate::vault::VaultClient::new(client.clone(), config.vault_jwt.clone()),
            charts: crate::charts::ChartRenderer::new(
                config.helm.clone(),
                config.chart_cache.clone(),
                Some(client.clone()),
                config.namespace.clone(),
                CHART_RENDERS_AT_ONCE,
            ),
            client,
            metrics,
            journal,
            clock: config.clock.clone(),
            blocked: Mutex::new(None),
        }
    }

    /// The view, to read; briefly, never across an `.await`.
    pub fn view(&self) -> RwLockReadGuard<'_, View> {
        // A panic while holding the lock leaves a view at worst one event
        // stale; the next event or re-list corrects it.
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn driver(&self) -> MutexGuard<'_, Driver> {
        self.driver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a chart's rendering in the view and queues whom it wakes.
    fn record_chart(
        &self,
        request: &mto_model::template::ChartRequest,
        rendering: mto_model::template::ChartRendering,
    ) {
        let now = self.clock.now();
        {
            let mut view = self
                .view
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let woken = view.record_chart(request, rendering);
            self.driver().handle_woken(&woken, view.snapshot(), now);
        }
        self.wake.notify_one();
    }

    /// Folds one watch event into the view and queues whom it wakes.
    pub fn fold(&self, event: mto_model::view::WatchEvent) {
        self.metrics.watch_events.inc();
        let now = self.clock.now();
        {
            let mut view = self
                .view
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let woken: Woken = view.fold(event);
            if woken.is_empty() {
                return;
            }
            self.driver().handle_woken(&woken, view.snapshot(), now);
        }
        self.wake.notify_one();
    }
}

/// Keeps `shared`'s view: a watch per watched kind, folded in, until the
/// returned tasks are dropped or aborted. Every replica keeps one — the
/// admission webhook decides from it — and the leader also reconciles.
/// `deployed_kinds`: also the kinds Templates and the console deploy (a
/// console-only replica reads none of them).
#[must_use]
pub fn keep_view(shared: &Arc<Shared>, deployed_kinds: bool) -> tokio::task::JoinSet<()> {
    watch::spawn_all(shared, deployed_kinds)
}

/// Runs the controllers until `shutdown` resolves: waits until the view
/// ([`keep_view`]) has listed every kind (a decision on a partial view
/// could release what is merely not listed yet), then reconciles whatever
/// the driver says is due.
pub async fn run(shared: Arc<Shared>, shutdown: impl Future<Output = ()> + Send + 'static) {
    tokio::pin!(shutdown);
    while !shared.view().synced() {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            () = &mut shutdown => return,
        }
    }
    {
        let view = shared.view();
        let snapshot = view.snapshot();
        tracing::info!(
            tenants = snapshot.shelf::<mto_model::api::Tenant>().len(),
            namespaces = snapshot
                .shelf::<k8s_openapi::api::core::v1::Namespace>()
                .len(),
            "every kind listed; reconciling"
        );
    }
    let mut runs = tokio::task::JoinSet::new();
    loop {
        let now = shared.clock.now();
        loop {
            let key = shared.driver().poll_due(now);
            let Some(key) = key else { break };
            runs.spawn(reconcile(shared.clone(), key));
        }
        let next = shared.driver().poll_timeout();
        let wait = next.map_or(Duration::from_secs(3600), |at| shared.clock.until(at));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.wake.notified() => {}
            Some(_) = runs.join_next(), if !runs.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    // Runs in flight finish their current call; nothing new starts.
    runs.abort_all();
}

/// One reconcile: decide from the view, carry the actions out in order,
/// tell people what happened, and let the driver schedule what comes next.
async fn reconcile(shared: Arc<Shared>, key: Key) {
    let started = std::time::Instant::now();
    shared.metrics.reconciles.inc();
    let now = shared.clock.now();
    let decided = {
        let view = shared.view();
        shared.driver().start(key, view.snapshot(), now)
    };
    let mut run = match decided {
        Started::Run(run) => run,
        Started::Skipped(Skipped::Settled) => {
            shared.metrics.reconciles_settled.inc();
            return;
        }
        Started::Skipped(Skipped::Gone) => return,
        Started::Skipped(Skipped::Blocked(why)) => {
            shared.metrics.reconcile_error("integration_config");
            let mut said = shared
                .blocked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if said.as_deref() != Some(why.as_str()) {
                tracing::warn!(problem = %why, "deciding nothing until one valid IntegrationConfig remains");
                *said = Some(why);
            }
            return;
        }
    };
    while let Some(action) = run.poll_action().cloned() {
        if let mto_model::action::Action::Vault { call, regarding } = &action {
            let result = call_vault(&shared, call, regarding).await;
            run.handle_result(result);
            continue;
        }
        if let mto_model::action::Action::RenderChart { request, .. } = &action {
            let rendering = shared.charts.render(request, shared.clock.now()).await;
            if let Err(why) = &rendering.objects {
                tracing::warn!(chart = %request, error = %why, "chart does not render");
            }
            shared.metrics.charts_rendered.inc();
            shared.record_chart(request, rendering);
            run.handle_result(Ok(()));
            continue;
        }
        let result = shared.executor.execute(&action).await;
        if result.is_ok() {
            shared.metrics.wrote(&action);
        }
        run.handle_result(result);
    }
    let jitter = rand::rng().random::<f64>();
    let finished = shared.driver().finish(run, shared.clock.now(), jitter);
    shared
        .metrics
        .reconcile_duration
        .observe(started.elapsed().as_secs_f64());
    if let Some(failure) = &finished.failure {
        shared.metrics.reconcile_error(failure.reason());
        tracing::warn!(object = %finished.key, error = %failure, retry_at = ?finished.next, "reconcile failed");
    }
    if finished.is_notable() {
        tell(&shared, &finished, now).await;
    }
    shared.wake.notify_one();
}

/// Makes one of the Vault machine's calls and records what came of it in
/// the view: a reading, a write followed, or why Vault did not answer
/// (which stops the run; the machine backs off).
async fn call_vault(
    shared: &Shared,
    call: &mto_model::vault::VaultCall,
    regarding: &mto_model::view::ObjectRef,
) -> Result<(), mto_model::apiserver::ApiError> {
    use mto_model::vault::{VaultCall, VaultObserved};
    use mto_model::view::Observed as _;
    let settings = shared
        .view()
        .snapshot()
        .integration_configs()
        .next()
        .and_then(|c| mto_model::vault::settings(c).ok().flatten());
    let Some(settings) = settings else {
        return Err(mto_model::apiserver::ApiError::Conflict(
            "Vault's settings changed; deciding again".into(),
        ));
    };
    let result = shared.vault.call(&settings, call).await;
    let now = shared.clock.now();
    let mut view = shared
        .view
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match result {
        Ok(holdings) => {
            if let (VaultCall::Read { address }, Some(holdings)) = (call, holdings) {
                let woken = view.record_vault(VaultObserved::read(address, now, holdings));
                shared.driver().handle_woken(&woken, view.snapshot(), now);
            } else {
                view.record_vault_call(call);
                shared.metrics.vault_writes.inc();
            }
            Ok(())
        }
        Err(why) => {
            tracing::warn!(call = %call, error = %why, "vault call failed");
            let failed =
                VaultObserved::failed(view.snapshot().vault(), &settings.address, now, why.clone());
            let woken = view.record_vault(failed);
            shared.driver().handle_woken(&woken, view.snapshot(), now);
            Err(mto_model::apiserver::ApiError::Unavailable {
                target: regarding.to_string(),
                message: why,
            })
        }
    }
}

/// Events, a log line and a journal entry for a run that did something.
async fn tell(shared: &Shared, finished: &Finished, now: mto_model::Timestamp) {
    let reference = reference_of(shared, &finished.regarding);
    for event in finished.events() {
        publish(shared, &reference, &event).await;
    }
    tracing::info!(
        object = %finished.key,
        from = finished.from,
        to = finished.to,
        writes = finished.done.len(),
        error = finished.failure.as_ref().map(ToString::to_string),
        "changed"
    );
    let Some(journal) = shared.journal.clone() else {
        return;
    };
    let key = finished.key.id();
    let entry = Entry {
        at: now,
        from: finished.from.into(),
        to: finished.to.into(),
        actions: finished.done.iter().map(ToString::to_string).collect(),
        events: finished
            .told
            .iter()
            .map(|e| format!("{}: {}", e.reason, e.message))
            .collect(),
        error: finished.failure.as_ref().map(ToString::to_string),
    };
    // The journal is history only: a failure is logged, never fatal.
    match tokio::task::spawn_blocking(move || journal.record(&key, &entry)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "journal"),
        Err(e) => tracing::warn!(error = %e, "journal"),
    }
}

/// The object an event is about, with its uid when the view has it.
fn reference_of(
    shared: &Shared,
    regarding: &mto_model::view::ObjectRef,
) -> k8s_openapi::api::core::v1::ObjectReference {
    let uid = shared
        .view()
        .snapshot()
        .metadata(regarding)
        .and_then(|m| m.uid().map(str::to_owned));
    event_reference(regarding, uid)
}

/// The object an event is about, as the events API names it.
#[must_use]
pub fn event_reference(
    regarding: &mto_model::view::ObjectRef,
    uid: Option<String>,
) -> k8s_openapi::api::core::v1::ObjectReference {
    k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(regarding.kind.api_version()),
        kind: Some(regarding.kind.name().to_owned()),
        name: Some(regarding.name.clone()),
        namespace: regarding.namespace.clone(),
        uid,
        ..Default::default()
    }
}

/// A decision's event as the operator records it.
#[must_use]
pub fn recorded_event(event: &Event) -> KubeEvent {
    KubeEvent {
        type_: if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: event.reason.clone(),
        note: Some(event.message.clone()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

/// Writes one event, counting it as an API write.
async fn publish(
    shared: &Shared,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    event: &Event,
) {
    match shared
        .recorder
        .publish(&recorded_event(event), reference)
        .await
    {
        Ok(()) => shared.metrics.wrote_event(),
        Err(e) => tracing::warn!(object = ?reference.name, error = %e, "event not recorded"),
    }
}

/// Counts tenants by the phase in their status, for the gauge.
#[must_use]
pub fn phases(view: &View) -> Vec<(String, i64)> {
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for t in view.snapshot().shelf::<mto_model::api::Tenant>().iter() {
        let phase = t
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into());
        *counts.entry(phase).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// A [`Shared`] whose client nothing answers, for tests of what never
/// calls the apiserver: the endpoints and the webhook.
#[cfg(test)]
pub(crate) fn offline_shared() -> Arc<Shared> {
    let (service, handle) = tower_test::mock::pair::<
        http::Request<kube::client::Body>,
        http::Response<kube::client::Body>,
    >();
    // Nobody answers: a request fails at once instead of waiting.
    drop(handle);
    let client = kube::Client::new(service, "default");
    let config = ControllerConfig {
        driver: Default::default(),
        identity: "test".into(),
        clock: clock::Clock::real(),
        helm: "helm".into(),
        chart_cache: std::env::temp_dir().join("mto-test-charts"),
        namespace: "mto-system".into(),
        pilot: Default::default(),
        vault_jwt: crate::vault::SERVICE_ACCOUNT_TOKEN.into(),
    };
    Arc::new(Shared::new(
        client,
        Arc::new(Metrics::default()),
        None,
        &config,
    ))
}
