//! `mto run`: the operator, its servers and its lease.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{LogFormat, init_logs};

/// How `mto run` operates; every flag also reads from the environment.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The `helm` binary Templates' charts are rendered with.
    #[arg(long, env = "MTO_HELM", default_value = "helm")]
    helm: PathBuf,
    /// Where pulled Helm charts are kept (a cache: deleting it loses nothing).
    #[arg(long, env = "MTO_CHART_CACHE", default_value = "/var/cache/mto/charts")]
    chart_cache: PathBuf,
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "MTO_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    metrics_address: SocketAddr,
    /// The decision journal (redb). History only: deleting it loses no correctness.
    #[arg(long, env = "MTO_JOURNAL", default_value = "/var/lib/mto/journal.redb")]
    journal: PathBuf,
    /// Keep no journal.
    #[arg(long, env = "MTO_NO_JOURNAL")]
    no_journal: bool,
    /// Take part in leader election (turn off only for a single replica).
    #[arg(long, env = "MTO_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// The Lease replicas elect a leader on.
    #[arg(long, env = "MTO_LEASE_NAME", default_value = "mto")]
    lease_name: String,
    /// The Lease's namespace (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "mto-system")]
    lease_namespace: String,
    /// This replica's name in the Lease and in events (default: the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds a lease stays valid without renewal.
    #[arg(long, env = "MTO_LEASE_DURATION_SECONDS", default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Seconds the leader keeps trying to renew before stepping down.
    #[arg(long, env = "MTO_RENEW_DEADLINE_SECONDS", default_value_t = 10)]
    renew_deadline_seconds: u64,
    /// Seconds between lease attempts.
    #[arg(long, env = "MTO_RETRY_PERIOD_SECONDS", default_value_t = 2)]
    retry_period_seconds: u64,
    /// Tenants reconciled at once.
    #[arg(long, env = "MTO_CONCURRENCY", default_value_t = 8)]
    concurrency: u16,
    /// Milliseconds of quiet before a burst of events for one tenant is acted on.
    #[arg(long, env = "MTO_DEBOUNCE_MS", default_value_t = 200)]
    debounce_ms: u64,
    /// Log format.
    #[arg(long, env = "MTO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Serve the webhooks (admission, and Tenant v1beta2 ⇄ v1beta3
    /// conversion) over HTTPS with this PEM certificate chain (a
    /// cert-manager Secret's tls.crt, mounted), read again when renewed.
    #[arg(
        long,
        env = "MTO_WEBHOOK_CERT",
        requires = "webhook_key",
        conflicts_with = "webhook_secret"
    )]
    webhook_cert: Option<PathBuf>,
    /// The webhook certificate's PEM private key (tls.key).
    #[arg(long, env = "MTO_WEBHOOK_KEY", requires = "webhook_cert")]
    webhook_key: Option<PathBuf>,
    /// Serve the webhooks with a CA and certificate mto makes and renews
    /// itself, kept in this Secret of its namespace (instead of
    /// --webhook-cert and --webhook-key).
    #[arg(long, env = "MTO_WEBHOOK_SECRET")]
    webhook_secret: Option<String>,
    /// The Service the apiserver calls the webhooks through (the name the
    /// certificate mto makes is for).
    #[arg(long, env = "MTO_WEBHOOK_SERVICE", default_value = "mto-webhook")]
    webhook_service: String,
    /// While leading, keep the ValidatingWebhookConfiguration: the
    /// IntegrationConfig's privileged subjects and namespaces left out of
    /// every rule, and the CA of --webhook-secret as its caBundle (and the
    /// Tenant CRD's).
    #[arg(long, env = "MTO_MANAGE_WEBHOOKS", default_value_t = false, action = clap::ArgAction::Set)]
    manage_webhooks: bool,
    /// Seconds between looks at the webhook's certificate (renewed a
    /// month before it expires) and its configuration.
    #[arg(long, env = "MTO_WEBHOOK_KEEP_SECONDS", default_value_t = 30)]
    webhook_keep_seconds: u64,
    /// Where the webhook is served.
    #[arg(long, env = "MTO_WEBHOOK_ADDRESS", default_value = "0.0.0.0:9443")]
    webhook_address: SocketAddr,
    /// Serve the API gateway (`/api/v1`) here.
    #[arg(long, env = "MTO_GATEWAY_ADDRESS", requires = "oidc_issuer")]
    gateway_address: Option<SocketAddr>,
    /// The OpenID Connect issuer whose access tokens the gateway accepts
    /// (its discovery document is `<issuer>/.well-known/openid-configuration`).
    #[arg(long, env = "MTO_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The audience (`aud`) the gateway's tokens must name.
    #[arg(long, env = "MTO_OIDC_AUDIENCE", default_value = "mto")]
    oidc_audience: String,
    /// The claim naming the user (`email` when the token lacks it).
    #[arg(
        long,
        env = "MTO_OIDC_USERNAME_CLAIM",
        default_value = "preferred_username"
    )]
    oidc_username_claim: String,
    /// The claim listing the user's groups.
    #[arg(long, env = "MTO_OIDC_GROUPS_CLAIM", default_value = "groups")]
    oidc_groups_claim: String,
    /// The store (the gateway's audit log, showback's records) in
    /// PostgreSQL (`postgres://user:password@host:5432/database`), shared
    /// by several replicas; without it, the journal's file.
    #[arg(long, env = "MTO_STORE_URL")]
    store: Option<String>,
    /// Collect showback: watch Pods, PersistentVolumeClaims and Nodes and
    /// write each container's cost per hour to the store.
    #[arg(long, env = "MTO_SHOWBACK")]
    showback: bool,
    /// How often showback writes the hours of its look-back window.
    #[arg(long, env = "MTO_SHOWBACK_EVERY_SECONDS", default_value_t = 300)]
    showback_every_seconds: u64,
    /// How many hours back showback still corrects records (late usage);
    /// older hours are final.
    #[arg(long, env = "MTO_SHOWBACK_LOOKBACK_HOURS", default_value_t = 3)]
    showback_lookback_hours: u64,
    /// How many days showback's records are kept.
    #[arg(long, env = "MTO_SHOWBACK_RETENTION_DAYS", default_value_t = 400)]
    showback_retention_days: u64,
    /// A Prometheus server to read containers' usage from
    /// (`container_cpu_usage_seconds_total`,
    /// `container_memory_working_set_bytes`); without it, usage is taken
    /// as the requests.
    #[arg(long, env = "MTO_PROMETHEUS_URL", requires = "showback")]
    prometheus_url: Option<String>,
    /// The console's public base URL (`https://mto.example.com`), where
    /// the identity provider returns browsers after sign-in; without it,
    /// the host each request names. Cookies are Secure unless it is http.
    #[arg(long, env = "MTO_CONSOLE_URL")]
    console_url: Option<String>,
    /// Serve only the view, the API gateway and the console: no
    /// reconciling, no lease, no webhooks, no showback. The console the
    /// operator deploys (IntegrationConfig spec.components.console) runs so.
    #[arg(
        long,
        env = "MTO_CONSOLE_ONLY",
        requires = "gateway_address",
        conflicts_with = "showback"
    )]
    console_only: bool,
    /// The image of the console the operator deploys when the
    /// IntegrationConfig asks for it: the operator's own.
    #[arg(long, env = "MTO_CONSOLE_IMAGE", default_value = concat!("mto:", env!("CARGO_PKG_VERSION")))]
    console_image: String,
    /// The service account token the operator signs in to Vault with
    /// (IntegrationConfig spec.integrations.vault, authMethod kubernetes).
    #[arg(long, env = "MTO_VAULT_JWT", default_value = mto_runtime::vault::SERVICE_ACCOUNT_TOKEN)]
    vault_jwt: std::path::PathBuf,
    /// The Secret in the operator's namespace holding the store's
    /// PostgreSQL URL (the one --store reads), handed to the console the
    /// operator deploys; without it, the console keeps its audit log in a
    /// file of its own pod.
    #[arg(long, env = "MTO_STORE_SECRET")]
    store_secret: Option<String>,
    /// The key of --store-secret holding the URL.
    #[arg(long, env = "MTO_STORE_SECRET_KEY", default_value = "url")]
    store_secret_key: String,
    /// Groups whose members are platform admins in the gateway, beside
    /// the IntegrationConfig's privileged users and groups (comma-separated).
    #[arg(long, env = "MTO_GATEWAY_ADMIN_GROUPS", value_delimiter = ',')]
    gateway_admin_groups: Vec<String>,
    /// For demos and tests only: the operator's clock starts at this
    /// instant (RFC 3339) instead of now.
    #[arg(long, env = "MTO_CLOCK_START")]
    clock_start: Option<mto_model::Timestamp>,
    /// For demos and tests only: the operator's clock runs this many times
    /// faster than real time.
    #[arg(long, env = "MTO_CLOCK_SPEED", default_value_t = 1.0)]
    clock_speed: f64,
}

/// `mto run`: serve the endpoints, win the lease, reconcile until SIGTERM
/// (then release the lease for a fast hand-over) or until the lease is lost
/// (then exit non-zero, to be restarted as a candidate).
pub(crate) async fn operate(args: RunArgs) -> Result<(), String> {
    use mto_runtime::operator::{self, journal, lease, metrics, serve};

    init_logs(args.log_format);
    let kube_config = kube::Config::infer()
        .await
        .map_err(|e| format!("connecting to the cluster: {e}"))?;
    let client = kube::Client::try_from(kube_config.clone())
        .map_err(|e| format!("connecting to the cluster: {e}"))?;
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("mto-{}", std::process::id()));
    let metrics = Arc::new(metrics::Metrics::default());
    let leading = Arc::new(AtomicBool::new(false));
    let journal = if args.no_journal {
        None
    } else {
        if let Some(dir) = args.journal.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let journal = journal::Journal::open(&args.journal).map_err(|e| e.to_string())?;
        Some(Arc::new(journal))
    };
    let config = operator::ControllerConfig {
        driver: mto_model::driver::Config {
            concurrency: usize::from(args.concurrency.max(1)),
            debounce: Duration::from_millis(args.debounce_ms),
            backoff: mto_model::driver::Backoff::default(),
        },
        identity: identity.clone(),
        helm: args.helm.clone(),
        chart_cache: args.chart_cache.clone(),
        namespace: args.lease_namespace.clone(),
        vault_jwt: args.vault_jwt.clone(),
        pilot: mto_model::pilot::PilotSettings {
            image: args.console_image.clone(),
            issuer: args.oidc_issuer.clone(),
            audience: args.oidc_audience.clone(),
            admin_groups: args.gateway_admin_groups.clone(),
            store_secret: args
                .store_secret
                .clone()
                .map(|secret| (secret, args.store_secret_key.clone())),
        },
        clock: match args.clock_start {
            Some(start) => operator::clock::Clock::starting_at(start, args.clock_speed),
            None => {
                operator::clock::Clock::starting_at(mto_model::Timestamp::now(), args.clock_speed)
            }
        },
    };
    let shared = Arc::new(operator::Shared::new(
        client.clone(),
        metrics.clone(),
        journal.clone(),
        &config,
    ));

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shutdown = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    let store = match &args.store {
        Some(url) => Some(Arc::new(mto_runtime::store::AnyStore::Postgres(Box::new(
            mto_runtime::store::Postgres::connect(url)
                .await
                .map_err(|e| format!("--store: {e}"))?,
        )))),
        None => journal.clone().map(|j| {
            Arc::new(mto_runtime::store::AnyStore::Embedded(
                mto_runtime::store::Embedded(j),
            ))
        }),
    };
    if args.showback {
        let store = store.clone().ok_or(
            "--showback keeps its records in the store: drop --no-journal, or give --store",
        )?;
        let collector = Arc::new(mto_runtime::showback::Collector::new(
            shared.clone(),
            store,
            mto_runtime::showback::ShowbackConfig {
                every: Duration::from_secs(args.showback_every_seconds.max(1)),
                lookback: Duration::from_secs(3600 * args.showback_lookback_hours.max(1)),
                retention: Duration::from_secs(86_400 * args.showback_retention_days.max(1)),
                prometheus: args.prometheus_url.clone(),
            },
        ));
        tokio::spawn(collector.run(shutdown()));
    }
    if let Some(address) = args.gateway_address {
        let issuer = args.oidc_issuer.clone().ok_or(
            "--gateway-address needs --oidc-issuer: the identity provider whose tokens to trust",
        )?;
        let gateway = mto_runtime::gateway::Gateway::new(
            shared.clone(),
            mto_runtime::gateway::OidcConfig {
                issuer,
                audience: args.oidc_audience.clone(),
                username_claim: args.oidc_username_claim.clone(),
                groups_claim: args.oidc_groups_claim.clone(),
            },
            kube_config.clone(),
            journal.clone(),
            store.clone(),
            args.gateway_admin_groups.clone(),
        )
        .with_console_url(args.console_url.clone());
        let stopped = shutdown();
        tokio::spawn(async move {
            if let Err(e) = mto_runtime::gateway::serve(address, gateway, stopped).await {
                tracing::error!(error = %e, %address, "the API gateway stopped");
            }
        });
    }
    let endpoints = serve::Endpoints {
        metrics,
        shared: shared.clone(),
        leading: leading.clone(),
        journal,
    };
    let server = tokio::spawn(serve::serve(args.metrics_address, endpoints, shutdown()));
    let mut view = operator::keep_view(&shared, !args.console_only);
    if args.console_only {
        shutdown().await;
        view.abort_all();
        return match server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("metrics server: {e}")),
            Err(e) => Err(format!("metrics server: {e}")),
        };
    }
    let certificates = args.webhook_secret.clone().map(|secret| {
        Arc::new(operator::certs::Certificates::new(
            client.clone(),
            operator::certs::CertSetup {
                namespace: args.lease_namespace.clone(),
                secret,
                service: args.webhook_service.clone(),
            },
        ))
    });
    let tls = match (&args.webhook_cert, &args.webhook_key, &certificates) {
        // A certificate that does not load stops the operator at start,
        // where it is seen, rather than every review later.
        (Some(cert), Some(key), _) => {
            Some(operator::webhook::tls_config(cert, key).map_err(|e| e.to_string())?)
        }
        (_, _, Some(certificates)) => {
            tokio::spawn(keep_certificates(
                certificates.clone(),
                Duration::from_secs(args.webhook_keep_seconds.max(1)),
                shutdown(),
            ));
            Some(
                operator::certs::tls_config(certificates.served.clone())
                    .map_err(|e| e.to_string())?,
            )
        }
        _ => None,
    };
    if let Some(tls) = tls {
        let (address, stopped) = (args.webhook_address, shutdown());
        let admission =
            operator::webhook::Admission::new(shared.clone(), args.lease_namespace.clone());
        tokio::spawn(async move {
            if let Err(e) = operator::webhook::serve(address, tls, admission, stopped).await {
                tracing::error!(%address, error = %e, "the webhook stopped");
            }
        });
    }
    if args.manage_webhooks {
        let keeper = operator::webhooks::WebhookKeeper::new(
            client.clone(),
            args.lease_namespace.clone(),
            args.webhook_service.clone(),
        );
        let ledgers = operator::ledgers::Ledgers::new(client.clone(), args.lease_namespace.clone());
        tokio::spawn(keep_webhooks(
            keeper,
            ledgers,
            shared.clone(),
            leading.clone(),
            certificates.as_ref().map(|c| c.served.clone()),
            Duration::from_secs(args.webhook_keep_seconds.max(1)),
            shutdown(),
        ));
    }

    let mut elector = args.leader_elect.then(|| {
        lease::Elector::new(
            client.clone(),
            mto_model::lease::LeaseConfig {
                name: args.lease_name.clone(),
                namespace: args.lease_namespace.clone(),
                identity: identity.clone(),
                duration: Duration::from_secs(args.lease_duration_seconds),
                renew_deadline: Duration::from_secs(args.renew_deadline_seconds),
                retry_period: Duration::from_secs(args.retry_period_seconds.max(1)),
            },
        )
    });
    if let Some(elector) = elector.as_mut() {
        tokio::select! {
            () = elector.acquire() => {}
            () = shutdown() => return Ok(()),
        }
    }
    leading.store(true, Ordering::Relaxed);

    let controller = operator::run(shared, shutdown());
    let outcome = match elector.as_mut() {
        Some(elector) => tokio::select! {
            () = controller => Ok(()),
            lost = elector.hold() => Err(lost.to_string()),
        },
        None => {
            controller.await;
            Ok(())
        }
    };
    leading.store(false, Ordering::Relaxed);
    view.abort_all();
    if outcome.is_ok()
        && let Some(elector) = elector.as_mut()
    {
        elector.release().await;
    }
    if outcome.is_ok() {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("metrics server: {e}")),
            Err(e) => return Err(format!("metrics server: {e}")),
        }
    }
    outcome
}

/// Makes, renews and serves the webhook's own certificate until shutdown.
async fn keep_certificates(
    certificates: Arc<mto_runtime::operator::certs::Certificates>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let wait = match certificates.keep(mto_model::Timestamp::now()).await {
            Ok(_) => every,
            Err(e) => {
                tracing::warn!(error = %e, "the webhook's certificate");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut shutdown => return,
        }
    }
}

/// While this replica leads, keeps the webhook configuration in line with
/// the IntegrationConfig and the CA, and prunes the quota ledgers of
/// tenants that are gone, until shutdown.
async fn keep_webhooks(
    keeper: mto_runtime::operator::webhooks::WebhookKeeper,
    ledgers: mto_runtime::operator::ledgers::Ledgers,
    shared: Arc<mto_runtime::operator::Shared>,
    leading: Arc<AtomicBool>,
    served: Option<Arc<mto_runtime::operator::certs::Served>>,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    use mto_model::view::Observed as _;
    tokio::pin!(shutdown);
    loop {
        let ca = served.as_ref().map(|s| s.ca_bundle());
        // Managing its own certificate, mto writes no configuration
        // before it has a CA to put in it.
        let ready = ca.as_ref().is_none_or(Option::is_some);
        // One look at the view a round: only a listed view, only leading.
        let seen = {
            let view = shared.view();
            (view.synced() && leading.load(Ordering::Relaxed)).then(|| {
                let snapshot = view.snapshot();
                let tenants: std::collections::BTreeSet<String> = snapshot
                    .tenants()
                    .filter_map(|t| t.metadata.name.clone())
                    .collect();
                (snapshot.integration().clone(), tenants)
            })
        };
        if let Some((integration, tenants)) = seen {
            if ready && let Err(e) = keeper.keep(&integration, ca.flatten()).await {
                tracing::warn!(error = %e, "the webhook configuration");
            }
            // The quota ledgers of tenants that are gone, once nothing in
            // them counts.
            match ledgers
                .prune(|t| tenants.contains(t), mto_model::Timestamp::now())
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    ledgers = n,
                    "pruned the quota ledgers of tenants that are gone"
                ),
                Err(e) => tracing::warn!(error = %e, "pruning quota ledgers"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = &mut shutdown => return,
        }
    }
}

/// SIGTERM (the kubelet) or Ctrl-C.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
