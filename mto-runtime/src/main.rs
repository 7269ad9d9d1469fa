//! The `mto` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mto_model::manifest::Located;
use mto_runtime::files::read_manifests;

/// mto: a multi-tenant operator for Kubernetes.
#[derive(Parser)]
#[command(version, about)]
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
    /// Check manifests offline; exit non-zero with every problem found.
    Validate {
        /// YAML files (several documents each are fine).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show what the operator would create for these manifests on an empty cluster.
    Plan {
        /// YAML files with Tenants, Quotas and at most one IntegrationConfig.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
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
        Command::Crds { out } => {
            let files = mto_runtime::crds::render().map_err(|e| e.to_string())?;
            match out {
                None => {
                    for (_, yaml) in files {
                        print!("---\n{yaml}");
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
        Command::Validate { files } => {
            let (manifests, mut problems) = load(&files);
            for m in &manifests {
                for e in m.manifest.problems() {
                    problems.push(format!("{}: {}: {e}", m.location, m.manifest.describe()));
                }
            }
            for p in &problems {
                eprintln!("{p}");
            }
            if problems.is_empty() {
                println!("{} manifests valid", manifests.len());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} problems in {} files", problems.len(), files.len());
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Plan { files, output } => {
            let (manifests, problems) = load(&files);
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Ok(ExitCode::FAILURE);
            }
            let manifests: Vec<_> = manifests.into_iter().map(|m| m.manifest).collect();
            let now = mto_model::Timestamp::now();
            let plan = mto_runtime::plan::plan(&manifests, now).map_err(|e| e.to_string())?;
            match output {
                Output::Text => print!("{}", plan.render_text()),
                Output::Yaml => print!("{}", plan.render_yaml().map_err(|e| e.to_string())?),
            }
            Ok(ExitCode::SUCCESS)
        }
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
