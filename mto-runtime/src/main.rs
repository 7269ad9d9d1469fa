//! The `mto` command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use mto_model::manifest::Located;
use mto_runtime::cli::files::read_manifests;

/// mto: a multi-tenant operator for Kubernetes.
#[derive(Parser)]
#[command(name = "mto", version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("MTO_COMMIT"), ")"), about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions mto serves (or write one file each).
    Crds {
        /// Write `<plural>.<group>.yaml` files into this directory instead.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the ValidatingWebhookConfiguration of mto's admission webhooks.
    Webhooks {
        /// The namespace mto runs in (its Service, and exempt from every rule).
        #[arg(long, default_value = "mto-system")]
        namespace: String,
    },
    /// Check manifests offline; exit non-zero with every problem found.
    Validate {
        /// YAML files (several documents each are fine).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run the operator against the cluster in KUBECONFIG or the pod's service account.
    Run(Box<RunArgs>),
    /// Print what the operator changed for a tenant, from its journal.
    History {
        /// The tenant.
        tenant: String,
        /// The journal file (when no operator holds it open).
        #[arg(long, env = "MTO_JOURNAL", default_value = "/var/lib/mto/journal.redb")]
        journal: PathBuf,
        /// Ask the running operator instead (its metrics address), e.g.
        /// `kubectl exec deploy/mto -- mto history alpha --server http://127.0.0.1:8080`.
        #[arg(long)]
        server: Option<String>,
    },
    /// Decide an AdmissionReview (JSON or YAML) offline, as the webhook
    /// would, against the cluster state in the given manifests; prints the
    /// response review; exit 0 allowed, 1 denied.
    Admit {
        /// Manifests holding the cluster state (Tenants, Quotas, Namespaces,
        /// the IntegrationConfig); a directory stands for its YAML files.
        #[arg(long = "state", required = true)]
        state: Vec<PathBuf>,
        /// The AdmissionReview.
        review: PathBuf,
    },
    /// Rewrite manifests of older versions and kinds as the ones mto serves
    /// (to standard output; what changed, to standard error).
    Migrate {
        /// YAML files (several documents each are fine).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// What workloads cost, per tenant, namespace, pod, container or
    /// label, from showback's records (OpenCost's model and parameters).
    Showback(ShowbackArgs),
    /// Show what the operator would create for these manifests on an empty cluster.
    Plan {
        /// YAML files with Tenants, Quotas and at most one IntegrationConfig.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// The `helm` binary Templates' charts are rendered with.
        #[arg(long, env = "MTO_HELM", default_value = "helm")]
        helm: PathBuf,
    },
}

/// `mto showback`.
#[derive(clap::Args)]
struct ShowbackArgs {
    /// `24h`, `7d`, `30d`, `today`, `yesterday`, `week`, `lastweek`,
    /// `month`, `lastmonth`, or `START,END` (Unix seconds or RFC 3339).
    #[arg(long, default_value = "30d")]
    window: String,
    /// `tenant`, `namespace`, `pod`, `container` or `label:NAME`.
    #[arg(long, default_value = "tenant")]
    aggregate: String,
    /// A set per step (`1d`, `24h`); one for the window without.
    #[arg(long)]
    step: Option<String>,
    /// Share the cluster's idle cost over the groups by their cost.
    #[arg(long)]
    share_idle: bool,
    /// Only this tenant's workloads.
    #[arg(long)]
    tenant: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowbackFormat::Table)]
    format: ShowbackFormat,
    /// The journal file holding the records (when no operator holds it open).
    #[arg(long, env = "MTO_JOURNAL", default_value = "/var/lib/mto/journal.redb")]
    journal: PathBuf,
    /// Read the records from PostgreSQL instead (`mto run --store`).
    #[arg(long, env = "MTO_STORE_URL", conflicts_with = "server")]
    store: Option<String>,
    /// Ask a running API gateway instead (`https://mto.example.com`),
    /// with the bearer token in MTO_TOKEN.
    #[arg(long)]
    server: Option<String>,
    /// The gateway's bearer token (an OpenID Connect access token).
    #[arg(long, env = "MTO_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShowbackFormat {
    Table,
    Csv,
    Json,
}

/// How `mto run` operates; every flag also reads from the environment.
#[derive(clap::Args)]
struct RunArgs {
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

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Yaml,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Run(args) => {
            // Few threads: the work is API round trips, and every thread
            // holds its own allocator arena.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(1)
                .enable_all()
                .build()
                .map_err(|e| format!("starting the async runtime: {e}"))?;
            runtime.block_on(operate(*args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::History {
            tenant,
            journal,
            server,
        } => {
            let entries = match server {
                Some(server) => history_from(&server, &tenant)?,
                None => history_file(&journal, &tenant)?,
            };
            if entries.is_empty() {
                to_stdout(format_args!("no changes recorded for tenant {tenant}\n"))?;
            }
            for entry in entries {
                to_stdout(entry)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Showback(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting the async runtime: {e}"))?;
            let text = runtime.block_on(showback(args))?;
            to_stdout(format_args!("{text}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crds { out } => {
            let files = mto_runtime::cli::crds::render().map_err(|e| e.to_string())?;
            match out {
                None => {
                    for (_, yaml) in files {
                        to_stdout(format_args!("---\n{yaml}"))?;
                    }
                }
                Some(dir) => {
                    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                    for (name, yaml) in files {
                        let path = dir.join(name);
                        std::fs::write(&path, yaml)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Webhooks { namespace } => {
            let yaml = mto_runtime::cli::webhooks::render(&namespace).map_err(|e| e.to_string())?;
            to_stdout(format_args!("{yaml}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => {
            let (manifests, mut problems) = load(&files);
            problems.extend(
                mto_model::manifest::duplicates(&manifests)
                    .iter()
                    .map(ToString::to_string),
            );
            for m in &manifests {
                for (at, e) in m.problems() {
                    problems.push(format!("{at}: {}: {e}", m.manifest.describe()));
                }
            }
            for p in &problems {
                eprintln!("{p}");
            }
            if problems.is_empty() {
                to_stdout(format_args!("{} manifests valid\n", manifests.len()))?;
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} problems in {} files", problems.len(), files.len());
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Admit { state, review } => {
            // A directory stands for the YAML files directly in it.
            let mut files = Vec::new();
            for path in state {
                if path.is_dir() {
                    let mut yaml: Vec<PathBuf> = std::fs::read_dir(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?
                        .filter_map(|entry| entry.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                        .collect();
                    yaml.sort();
                    files.extend(yaml);
                } else {
                    files.push(path);
                }
            }
            let (manifests, problems) = load(&files);
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Ok(ExitCode::from(2));
            }
            let manifests: Vec<_> = manifests.into_iter().map(|m| m.manifest).collect();
            let cluster =
                mto_runtime::cli::plan::cluster_of(&manifests, mto_model::Timestamp::now())
                    .map_err(|e| e.to_string())?;
            let text = std::fs::read_to_string(&review)
                .map_err(|e| format!("{}: {e}", review.display()))?;
            let read = mto_runtime::cli::admit::read(&text)
                .map(|r| mto_runtime::cli::admit::decide(&r, cluster.snapshot()));
            let (response, verdict) = match read {
                Ok(decided) => decided,
                Err(e) => {
                    eprintln!("{}: {e}", review.display());
                    return Ok(ExitCode::from(2));
                }
            };
            let json = serde_json::to_string_pretty(&response).map_err(|e| e.to_string())?;
            to_stdout(format_args!("{json}\n"))?;
            Ok(if verdict.allowed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Migrate { files } => {
            let mut documents = Vec::new();
            let mut problems = Vec::new();
            for file in &files {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                for (line, doc) in mto_model::manifest::documents(&text) {
                    let at = format!("{}:{line}", file.display());
                    let migrated = serde_norway::from_str::<serde_json::Value>(doc)
                        .map_err(|e| e.to_string())
                        .and_then(|v| mto_model::migrate::migrate(v).map_err(|e| e.to_string()));
                    match migrated {
                        Ok(m) => {
                            for change in &m.changes {
                                eprintln!("{at}: {change}");
                            }
                            documents.extend(m.documents);
                        }
                        Err(e) => problems.push(format!("{at}: {e}")),
                    }
                }
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Ok(ExitCode::FAILURE);
            }
            let yaml: Vec<String> = documents
                .iter()
                .map(serde_norway::to_string)
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            to_stdout(yaml.join("---\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            files,
            output,
            helm,
        } => {
            let (manifests, mut problems) = load(&files);
            problems.extend(
                mto_model::manifest::duplicates(&manifests)
                    .iter()
                    .map(ToString::to_string),
            );
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Ok(ExitCode::FAILURE);
            }
            // An invalid manifest is planned as the operator would treat it
            // (a degraded tenant changes nothing), and fails the command.
            let invalid: Vec<String> = manifests
                .iter()
                .flat_map(|m| {
                    m.problems()
                        .into_iter()
                        .map(|(at, e)| format!("{at}: {}: {e}", m.manifest.describe()))
                })
                .collect();
            let manifests: Vec<_> = manifests.into_iter().map(|m| m.manifest).collect();
            let now = mto_model::Timestamp::now();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting the async runtime: {e}"))?;
            // Charts are pulled into a cache of the user's; no cluster is
            // read, so a chart behind credentials does not render here.
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(std::env::temp_dir)
                .join("mto/charts");
            let renderer =
                mto_runtime::charts::ChartRenderer::new(helm, cache, None, String::new(), 2);
            let render = |request: &mto_model::template::ChartRequest| {
                runtime.block_on(renderer.render(request, now))
            };
            let plan = mto_runtime::cli::plan::plan(&manifests, now, &render)
                .map_err(|e| e.to_string())?;
            match output {
                Output::Text => to_stdout(plan.render_text())?,
                Output::Yaml => to_stdout(plan.render_yaml().map_err(|e| e.to_string())?)?,
            }
            for p in &invalid {
                eprintln!("{p}");
            }
            Ok(if invalid.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Writes to standard output. A reader that stopped early (`| head`) has
/// what it wanted, so a closed pipe is not an error.
fn to_stdout(text: impl std::fmt::Display) -> Result<(), String> {
    use std::io::Write;
    match write!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Reads every file; returns the manifests and one line per problem.
fn load(files: &[PathBuf]) -> (Vec<Located>, Vec<String>) {
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match read_manifests(file) {
            Err(e) => problems.push(e),
            Ok(docs) => {
                for doc in docs {
                    match doc {
                        Ok(m) => manifests.push(m),
                        Err(e) => problems.push(e.to_string()),
                    }
                }
            }
        }
    }
    (manifests, problems)
}

/// `mto run`: serve the endpoints, win the lease, reconcile until SIGTERM
/// (then release the lease for a fast hand-over) or until the lease is lost
/// (then exit non-zero, to be restarted as a candidate).
async fn operate(args: RunArgs) -> Result<(), String> {
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

fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, as Kubernetes components' do; stdout stays for
    // command output.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// `mto showback`: the report from the store, the journal file or a
/// gateway, as a table, CSV or OpenCost's JSON.
async fn showback(args: ShowbackArgs) -> Result<String, String> {
    use mto_model::showback::{money, to_csv, to_opencost_response};
    use mto_runtime::showback::{AllocationParams, allocation_report};
    use mto_runtime::store::{AnyStore, Embedded, Postgres};

    let params = AllocationParams {
        window: Some(args.window.clone()),
        aggregate: Some(args.aggregate.clone()),
        step: args.step.clone(),
        accumulate: Some(args.step.is_none()),
        share_idle: Some(args.share_idle),
        format: None,
        tenant: args.tenant.clone(),
    };
    if let Some(server) = &args.server {
        let format = match args.format {
            ShowbackFormat::Csv => "csv",
            _ => "json",
        };
        let mut query = vec![
            ("window", args.window.clone()),
            ("aggregate", args.aggregate.clone()),
            ("shareIdle", args.share_idle.to_string()),
            ("format", format.to_owned()),
        ];
        query.extend(args.step.clone().map(|s| ("step", s)));
        query.extend(args.tenant.clone().map(|t| ("tenant", t)));
        let mut request = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/allocation",
                server.trim_end_matches('/')
            ))
            .query(&query);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| format!("{server}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{server}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{server}: {status}: {body}"));
        }
        return Ok(match args.format {
            ShowbackFormat::Table => table_of_opencost(&body)?,
            _ => body,
        });
    }
    let store = match &args.store {
        Some(url) => AnyStore::Postgres(Box::new(
            Postgres::connect(url)
                .await
                .map_err(|e| format!("--store: {e}"))?,
        )),
        None => {
            if !args.journal.exists() {
                return Err(format!(
                    "{}: no journal here (give --journal, --store or --server)",
                    args.journal.display()
                ));
            }
            let journal = mto_runtime::operator::journal::Journal::open(&args.journal)
                .map_err(|e| e.to_string())?;
            AnyStore::Embedded(Embedded(Arc::new(journal)))
        }
    };
    let now = mto_model::Timestamp::now().as_second();
    let sets = allocation_report(&store, &params, now, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match args.format {
        ShowbackFormat::Csv => to_csv(&sets),
        ShowbackFormat::Json => format!("{:#}\n", to_opencost_response(&sets)),
        ShowbackFormat::Table => {
            let mut out = String::new();
            for set in &sets {
                let rows: Vec<(String, [String; 6])> = set
                    .groups
                    .iter()
                    .map(|(name, a)| {
                        (
                            name.clone(),
                            [
                                a.cost.cpu,
                                a.cost.ram,
                                a.cost.gpu,
                                a.cost.pv,
                                a.idle,
                                a.total(),
                            ]
                            .map(money),
                        )
                    })
                    .collect();
                out.push_str(&cost_table(set.start, set.end, &rows));
            }
            out
        }
    })
}

/// One set of a report as a table: a line per group, costs right-aligned.
fn cost_table(start: i64, end: i64, rows: &[(String, [String; 6])]) -> String {
    use std::fmt::Write as _;
    let time = |t: i64| {
        mto_model::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |t| t.to_string())
    };
    let mut out = format!("{} – {}\n", time(start), time(end));
    if rows.is_empty() {
        out.push_str("  no costs recorded in this window\n");
        return out;
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}",
        "NAME", "CPU", "RAM", "GPU", "PV", "IDLE", "TOTAL"
    );
    for (name, costs) in rows {
        let _ = write!(out, "  {name:<width$}");
        for c in costs {
            let _ = write!(out, "  {c:>12}");
        }
        out.push('\n');
    }
    out
}

/// A gateway's OpenCost JSON as [`cost_table`]s.
fn table_of_opencost(body: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("unexpected answer: {e}"))?;
    let mut out = String::new();
    for set in value["data"].as_array().into_iter().flatten() {
        let Some(groups) = set.as_object() else {
            continue;
        };
        let instant = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| s.parse::<mto_model::Timestamp>().ok())
                .map_or(0, |t| t.as_second())
        };
        let (mut start, mut end) = (0, 0);
        let rows: Vec<(String, [String; 6])> = groups
            .iter()
            .map(|(name, a)| {
                start = instant(&a["start"]);
                end = instant(&a["end"]);
                let cost = |field: &str| format!("{:.6}", a[field].as_f64().unwrap_or(0.0));
                (
                    name.clone(),
                    [
                        "cpuCost",
                        "ramCost",
                        "gpuCost",
                        "pvCost",
                        "sharedCost",
                        "totalCost",
                    ]
                    .map(cost),
                )
            })
            .collect();
        out.push_str(&cost_table(start, end, &rows));
    }
    Ok(out)
}

/// Reads a tenant's history from a journal file no operator holds open.
fn history_file(
    journal: &std::path::Path,
    tenant: &str,
) -> Result<Vec<mto_runtime::operator::journal::Entry>, String> {
    if !journal.exists() {
        return Err(format!(
            "{}: no journal here (fix: pass --journal, or --server to ask the running operator)",
            journal.display()
        ));
    }
    let journal = mto_runtime::operator::journal::Journal::open(journal).map_err(|e| {
        format!("{e} (fix: while the operator runs, ask it: --server http://127.0.0.1:8080)")
    })?;
    journal.history(tenant).map_err(|e| e.to_string())
}

/// Asks a running operator for a tenant's history (`GET /history/{tenant}`).
fn history_from(
    server: &str,
    tenant: &str,
) -> Result<Vec<mto_runtime::operator::journal::Entry>, String> {
    let body = mto_runtime::operator::serve::http_get(server, &format!("/history/{tenant}"))?;
    serde_json::from_str(&body).map_err(|e| format!("{server}: unexpected answer: {e}"))
}
