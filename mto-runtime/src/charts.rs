//! Helm charts rendered with the real `helm` binary: a chart is pulled
//! once per repository, name and version into a cache directory, then
//! `helm template` renders it for each request (release, namespace,
//! values). The model asks for renderings and reads them back as
//! observations; this is the I/O.
//!
//! Helm runs with its own home under the cache directory, so nothing of
//! the machine's helm configuration (repositories added, registry logins)
//! changes what mto renders. Hooks and chart tests are left out
//! (`--no-hooks --skip-tests`): a template keeps objects in place, it does
//! not run install steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use mto_model::Timestamp;
use mto_model::template::{ChartRendering, ChartRequest, SecretKeyRef, objects_from_yaml};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// Values files written so far, for their names.
static VALUES_FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long one helm command may take.
const HELM_TIMEOUT: Duration = Duration::from_secs(120);

/// Renders chart requests with `helm`.
pub struct ChartRenderer {
    helm: PathBuf,
    cache: PathBuf,
    client: Option<Client>,
    operator_namespace: String,
    /// Helm processes at once.
    running: Semaphore,
    /// One pull of a chart at a time, so a thousand namespaces asking for
    /// the same chart pull it once.
    pulling: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ChartRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChartRenderer")
            .field("helm", &self.helm)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl ChartRenderer {
    /// A renderer running `helm`, keeping charts under `cache`, reading
    /// repository credentials through `client` from Secrets in
    /// `operator_namespace`; with no client (`mto plan`), a chart needing
    /// credentials does not render.
    #[must_use]
    pub fn new(
        helm: PathBuf,
        cache: PathBuf,
        client: Option<Client>,
        operator_namespace: String,
        concurrency: usize,
    ) -> ChartRenderer {
        ChartRenderer {
            helm,
            cache,
            client,
            operator_namespace,
            running: Semaphore::new(concurrency.max(1)),
            pulling: tokio::sync::Mutex::new(()),
        }
    }

    /// What comes of rendering `request`, as of `now`: its objects, or what
    /// went wrong, said so that a person can mend it.
    pub async fn render(&self, request: &ChartRequest, now: Timestamp) -> ChartRendering {
        let objects = match self.try_render(request).await {
            Ok(text) => objects_from_yaml(&text).map(Arc::new),
            Err(why) => Err(why),
        };
        ChartRendering { at: now, objects }
    }

    async fn try_render(&self, request: &ChartRequest) -> Result<String, String> {
        let chart = self.pull(request).await?;
        let work = self.cache.join("work");
        create_dir(&work)?;
        // Two instances may ask for the same rendering at once: each its own file.
        let values = work.join(format!(
            "values-{}-{}-{}.yaml",
            request.digest(),
            std::process::id(),
            VALUES_FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&values, &request.values)
            .map_err(|e| format!("writing {}: {e}", values.display()))?;
        let mut command = self.helm_command();
        command
            .arg("template")
            .arg(&request.release)
            .arg(&chart)
            .args(["--namespace", &request.namespace])
            .args(["--no-hooks", "--skip-tests"])
            .arg("--values")
            .arg(&values);
        for set in &request.set_values {
            let flag = if set.force_string {
                "--set-string"
            } else {
                "--set"
            };
            command
                .arg(flag)
                .arg(format!("{}={}", set.name, escape_set_value(&set.value)));
        }
        let rendered = self.run(command, "helm template").await;
        let _ = std::fs::remove_file(&values);
        rendered
    }

    /// The chart's packaged archive in the cache, pulled when missing.
    async fn pull(&self, request: &ChartRequest) -> Result<PathBuf, String> {
        let key = mto_model::digest::digest(&(
            &request.repository,
            &request.chart,
            &request.version,
            &request.username,
            &request.password,
        ));
        let dir = self.cache.join("charts").join(key);
        if let Some(found) = archive_in(&dir) {
            return Ok(found);
        }
        let _one_at_a_time = self.pulling.lock().await;
        if let Some(found) = archive_in(&dir) {
            return Ok(found);
        }
        let partial = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        create_dir(&partial)?;
        let mut command = self.helm_command();
        command
            .arg("pull")
            .arg(request.chart_reference())
            .arg("--destination")
            .arg(&partial);
        if !request.is_oci() {
            command.args(["--repo", &request.repository]);
        }
        if let Some(version) = &request.version {
            command.args(["--version", version]);
        }
        if request.is_local_registry() {
            command.arg("--plain-http");
        }
        if let Some(user) = &request.username {
            command
                .arg("--username")
                .arg(self.secret_value(user).await?);
        }
        if let Some(password) = &request.password {
            command
                .arg("--password")
                .arg(self.secret_value(password).await?);
        }
        self.run(command, "helm pull").await?;
        if archive_in(&partial).is_none() {
            return Err(format!(
                "helm pull of {} left no chart archive",
                request.chart_label()
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        archive_in(&dir).ok_or_else(|| format!("{}: no chart archive", dir.display()))
    }

    /// One key of a credentials Secret, as text.
    async fn secret_value(&self, reference: &SecretKeyRef) -> Result<String, String> {
        let namespace = &self.operator_namespace;
        let at = format!("Secret {namespace}/{}", reference.name);
        let Some(client) = &self.client else {
            return Err(format!(
                "{at} holds the repository credentials, and there is no cluster to read it from"
            ));
        };
        let secret = Api::<Secret>::namespaced(client.clone(), namespace)
            .get(&reference.name)
            .await
            .map_err(|e| {
                format!("reading {at} for the repository credentials: {e} (fix: create it, or correct the reference)")
            })?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&reference.key))
            .ok_or_else(|| {
                format!(
                    "{at} has no key {:?} (fix: add it, or correct the key)",
                    reference.key
                )
            })?;
        String::from_utf8(bytes.0.clone())
            .map_err(|_| format!("{at} key {:?} is not text", reference.key))
    }

    fn helm_command(&self) -> Command {
        let home = self.cache.join("helm-home");
        let mut command = Command::new(&self.helm);
        command
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("HELM_NAMESPACE")
            .env_remove("KUBECONFIG")
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null());
        command
    }

    /// Runs a helm command, one of at most `concurrency`; its standard
    /// output, or what it said went wrong.
    async fn run(&self, mut command: Command, what: &str) -> Result<String, String> {
        let _turn = self
            .running
            .acquire()
            .await
            .map_err(|_| "shutting down".to_owned())?;
        let output = match tokio::time::timeout(HELM_TIMEOUT, command.output()).await {
            Err(_) => return Err(format!("{what} took longer than {HELM_TIMEOUT:?}")),
            Ok(Err(e)) => {
                return Err(format!(
                    "running {}: {e} (fix: install helm, or point --helm at it)",
                    self.helm.display()
                ));
            }
            Ok(Ok(output)) => output,
        };
        if output.status.success() {
            String::from_utf8(output.stdout).map_err(|_| format!("{what} wrote something not text"))
        } else {
            let said = String::from_utf8_lossy(&output.stderr);
            Err(format!(
                "{what}: {}",
                said.trim().trim_start_matches("Error: ")
            ))
        }
    }
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// The one `.tgz` a pull left in `dir`.
fn archive_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
}

/// A value as `--set` reads it literally: its separators escaped.
fn escape_set_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_value_keeps_its_commas_and_backslashes() {
        assert_eq!(escape_set_value(r"a,b\c"), r"a\,b\\c");
        assert_eq!(escape_set_value("plain"), "plain");
    }
}
