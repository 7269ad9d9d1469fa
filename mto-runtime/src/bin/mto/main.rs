//! The `mto` command: its arguments, and the dispatch to each subcommand.

mod history;
mod operate;
mod showback;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use history::{history_file, history_from};
use mto_model::manifest::Located;
use mto_runtime::cli::files::read_manifests;
use operate::{RunArgs, operate};
use showback::{ShowbackArgs, showback};

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
            to_stderr(&problems);
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
                to_stderr(&problems);
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
                to_stderr(&problems);
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
                to_stderr(&problems);
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
            to_stderr(&invalid);
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

/// Writes each problem on a line of its own to standard error.
fn to_stderr(problems: &[String]) {
    for problem in problems {
        eprintln!("{problem}");
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
