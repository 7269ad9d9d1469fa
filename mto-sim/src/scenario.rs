//! Scenario files: the cluster at start, what users do over time, the
//! faults to inject, the duration and the seed.
//!
//! ```yaml
//! name: small-team
//! seed: 7
//! duration: 2d
//! cluster:
//!   files: [../../deploy/examples/quotas.yaml]   # relative to the scenario
//!   manifests: |                                  # inline YAML documents
//!     apiVersion: tenantoperator.stakater.com/v1beta3
//!     kind: Tenant
//!     ...
//!   generate: {tenants: 1000, namespacesPerTenant: 5, quota: small}
//! actions:
//!   - at: 6h
//!     apply: |                                    # create or replace
//!       ...
//!   - at: 1d
//!     delete: {kind: Tenant, name: alpha}        # or Quota, Namespace, and with
//!                                                 # a namespace: RoleBinding, …
//!   - at: 30h
//!   - at: 2d
//!     edit: {apiVersion: v1, kind: ConfigMap, namespace: alpha-dev, name: hello,
//!            set: {data: {greeting: edited}}}    # or delete: true
//!     crash: 0                                    # or expireWatch: 0, or
//!                                                 # partition: {replica: 0, for: 1m}
//! operator: {replicas: 2, concurrency: 8, clockSkew: 90s}
//! faults:
//!   conflicts: 0.05
//!   until: 1d
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use mto_model::manifest::{Located, Manifest, ManifestError};
use serde::Deserialize;

/// A parsed scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// How the operator runs: replicas, concurrency, their clocks.
    pub operator: OperatorPlan,
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The seed of every random choice.
    pub seed: u64,
    /// How long to simulate.
    pub duration: Duration,
    /// The instant the simulation starts at.
    pub start: mto_model::Timestamp,
    /// Manifests present at the start, in order.
    pub initial: Vec<Located>,
    /// Tenants to generate at the start.
    pub generate: Option<Generate>,
    /// What users do, in time order.
    pub actions: Vec<TimedAction>,
    /// Faults to inject.
    pub faults: FaultPlan,
    /// People acting through the admission webhook.
    pub admission: Option<AdmissionTraffic>,
    /// The Helm charts the simulated chart repositories serve.
    pub charts: Vec<SimChart>,
    /// What workloads' replicas use, hour by hour, for showback.
    pub usage: Vec<UsageCurve>,
    /// The simulated Vault: names others hold, and when it is down.
    pub vault: VaultPlan,
}

/// The simulated Vault.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VaultPlan {
    /// Names someone else holds in Vault from the start, as
    /// `<mount|policy|group|role>/<name>`: mto must leave them alone.
    #[serde(default)]
    pub taken: Vec<String>,
    /// When Vault does not answer.
    #[serde(default)]
    pub outages: Vec<VaultOutage>,
}

/// A time Vault does not answer.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VaultOutage {
    /// From when (since the start).
    #[serde(with = "duration_text")]
    pub at: Duration,
    /// For how long.
    #[serde(rename = "for", with = "duration_text")]
    pub duration: Duration,
}

/// What each replica of a workload uses over a day: `offPeak` outside
/// the peak hours, `peak` within them (UTC), each hour jittered by up to
/// `jitter` percent (the seed decides by how much, hour by hour), and
/// every `burstEvery` a burst of `burstLength` at `burstFactor` times the
/// peak. Showback prices the larger of a replica's requests and its use,
/// hour by hour, as OpenCost does.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageCurve {
    /// The Deployment or StatefulSet, `namespace/name`.
    pub workload: String,
    /// CPU per replica: `[offPeak, peak]`, as quantities (`100m`, `1.5`).
    pub cpu: [String; 2],
    /// Memory per replica: `[offPeak, peak]` (`512Mi`, `2Gi`).
    pub memory: [String; 2],
    /// The peak's hours, `[from, to)` in UTC (default 9 to 18).
    #[serde(default = "peak_hours")]
    pub peak_hours: [u32; 2],
    /// Percent each hour may be off its value, either way (default 10).
    #[serde(default = "ten")]
    pub jitter: u32,
    /// How often a burst starts (none when left out).
    #[serde(default, with = "duration_text::option")]
    pub burst_every: Option<Duration>,
    /// How long a burst lasts (default 1h).
    #[serde(default, with = "duration_text::option")]
    pub burst_length: Option<Duration>,
    /// A burst's use, in times the peak (default 3).
    #[serde(default = "three")]
    pub burst_factor: u32,
}

fn peak_hours() -> [u32; 2] {
    [9, 18]
}

fn ten() -> u32 {
    10
}

fn three() -> u32 {
    3
}

/// A Helm chart a simulated repository serves: its templates as YAML
/// documents in which `{{ .Release.Name }}`, `{{ .Release.Namespace }}`
/// and `{{ .Values.NAME }}` (a top-level value, or a `setValues` name) are
/// replaced, as `helm template` would. A chart no scenario lists does not
/// render ("not found"), as a missing one does not.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SimChart {
    /// The repository (`https://…` or `oci://…`).
    pub repo_url: String,
    /// The chart's name.
    pub name: String,
    /// The chart version; any when left out.
    #[serde(default)]
    pub version: Option<String>,
    /// The templates.
    pub templates: String,
}

/// People acting through mto's admission webhook: owners, editors,
/// viewers, outsiders and cluster admins of the tenants, creating pods,
/// namespaces and role bindings (and removing pods), each request decided
/// by a webhook replica from its own view, as `mto run` decides.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdmissionTraffic {
    /// Requests this often.
    #[serde(with = "duration_text")]
    pub every: Duration,
    /// This many requests each time, at once (default 1): a storm.
    #[serde(default = "one")]
    pub at_once: u32,
    /// No request after this point (default: all along).
    #[serde(default, with = "duration_text::option")]
    pub until: Option<Duration>,
    /// The tenants they act in (default: every tenant).
    #[serde(default)]
    pub tenants: Vec<String>,
}

/// A user action at a point in simulated time.
#[derive(Clone, Debug)]
pub struct TimedAction {
    /// When, from the start.
    pub at: Duration,
    /// What.
    pub action: UserAction,
}

/// What a user does, or what happens to the operator.
#[derive(Clone, Debug)]
pub enum UserAction {
    /// Create or replace objects.
    Apply(Vec<Manifest>),
    /// Delete an object.
    Delete(ObjectKey),
    /// An operator replica crashes (and restarts).
    Crash(usize),
    /// An operator replica's watches expire (and it re-lists).
    ExpireWatch(usize),
    /// An operator replica cannot reach the apiserver for a while.
    Partition(Partition),
    /// A person edits or deletes any object (one a template deployed, a
    /// Secret a template copies).
    Edit(ObjectEdit),
}

/// A person's edit of one object of any kind: fields merged in, or the
/// object deleted.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectEdit {
    /// Its apiVersion.
    pub api_version: String,
    /// Its kind.
    pub kind: String,
    /// Its namespace, for namespaced kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Fields to set, merged into the object (created if missing).
    #[serde(default)]
    pub set: Option<serde_json::Value>,
    /// Delete it instead.
    #[serde(default)]
    pub delete: bool,
}

/// A replica cut off from the apiserver.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// Which replica (0 is the first).
    pub replica: usize,
    /// For how long.
    #[serde(rename = "for", with = "duration_text")]
    pub duration: Duration,
}

/// How the simulated operator runs.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperatorPlan {
    /// Replicas; with more than one they elect a leader on a Lease.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// Objects reconciled at once (`mto run --concurrency`).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How far apart the replicas' clocks are: replica `i` runs `i` times
    /// this much ahead of the first.
    #[serde(default, with = "duration_text::option")]
    pub clock_skew: Option<Duration>,
}

impl Default for OperatorPlan {
    fn default() -> Self {
        OperatorPlan {
            replicas: default_replicas(),
            concurrency: default_concurrency(),
            clock_skew: None,
        }
    }
}

fn one() -> u32 {
    1
}

fn default_replicas() -> usize {
    1
}

fn default_concurrency() -> usize {
    8
}

/// An object by kind, name and (for namespaced kinds) namespace.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ObjectKey {
    /// What kind of object.
    pub kind: DeletableKind,
    /// The name.
    pub name: String,
    /// The namespace, for namespaced kinds.
    #[serde(default)]
    pub namespace: Option<String>,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?}/{ns}/{}", self.kind, self.name),
            None => write!(f, "{:?}/{}", self.kind, self.name),
        }
    }
}

/// The kinds a scenario's user can delete.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum DeletableKind {
    /// A Tenant (its on-delete policy applies).
    Tenant,
    /// A Quota.
    Quota,
    /// A Namespace (it terminates, then goes with what it holds).
    Namespace,
    /// A RoleBinding, namespaced.
    RoleBinding,
    /// A ResourceQuota, namespaced.
    ResourceQuota,
    /// A LimitRange, namespaced.
    LimitRange,
    /// A ResourceSupervisor, namespaced (its workloads wake first).
    ResourceSupervisor,
    /// A ClusterResourceSupervisor (its workloads wake first).
    ClusterResourceSupervisor,
    /// A Template.
    Template,
    /// A TemplateInstance, namespaced (what it deployed goes first).
    TemplateInstance,
    /// A ClusterTemplateInstance (what it deployed goes first).
    ClusterTemplateInstance,
    /// An Extensions object (its AppProject goes first when purged).
    Extensions,
}

impl DeletableKind {
    /// Whether objects of the kind live in a namespace.
    #[must_use]
    pub fn namespaced(self) -> bool {
        matches!(
            self,
            Self::RoleBinding
                | Self::ResourceQuota
                | Self::LimitRange
                | Self::ResourceSupervisor
                | Self::TemplateInstance
        )
    }
}

/// Tenants generated in bulk, for scale scenarios.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Generate {
    /// How many tenants (`t00000`, `t00001`, …).
    pub tenants: u32,
    /// Namespaces per tenant (`<tenant>-ns0`, …).
    #[serde(default = "default_namespaces")]
    pub namespaces_per_tenant: u32,
    /// Users per tenant (one owner, the rest editors).
    #[serde(default = "default_users")]
    pub users_per_tenant: u32,
    /// The Quota every tenant names (it must be among the manifests).
    #[serde(default)]
    pub quota: Option<String>,
    /// Deployments per namespace (`app0`, …, 1 to 3 replicas), deployed as
    /// soon as their namespace exists.
    #[serde(default)]
    pub workloads_per_namespace: u32,
    /// Put every tenant to sleep on this schedule: one
    /// ClusterResourceSupervisor per tenant, selecting its namespaces.
    #[serde(default)]
    pub hibernation: Option<GeneratedHibernation>,
    /// Give every tenant an Argo CD AppProject: one Extensions object per
    /// tenant (`<tenant>-argocd`).
    #[serde(default)]
    pub argocd: Option<GeneratedArgoCd>,
    /// Service accounts labelled for Vault in each namespace
    /// (`vault-reader0`, …), made as soon as their namespace exists.
    #[serde(default)]
    pub vault_service_accounts_per_namespace: u32,
}

/// The Extensions of generated tenants.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GeneratedArgoCd {
    /// The repositories every AppProject allows.
    #[serde(default)]
    pub source_repos: Vec<String>,
    /// `onDeletePurgeAppProject`.
    #[serde(default)]
    pub purge: bool,
}

/// The sleep schedule of generated tenants.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GeneratedHibernation {
    /// When to sleep (5-field cron).
    pub sleep_schedule: String,
    /// When to wake.
    #[serde(default)]
    pub wake_schedule: Option<String>,
    /// Tenants take these time zones in turn.
    #[serde(default)]
    pub time_zones: Vec<String>,
}

fn default_namespaces() -> u32 {
    5
}
fn default_users() -> u32 {
    3
}

/// Faults to inject, each named after what happens to a cluster.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultPlan {
    /// Share of writes answered 409 Conflict.
    #[serde(default)]
    pub conflicts: f64,
    /// Share of calls answered 500/429.
    #[serde(default)]
    pub transient_errors: f64,
    /// Share of calls that take `slowBy` longer.
    #[serde(default)]
    pub slow_calls: f64,
    /// How much longer a slow call takes.
    #[serde(default, with = "duration_text::option")]
    pub slow_by: Option<Duration>,
    /// Share of watch events delivered twice.
    #[serde(default)]
    pub duplicated_events: f64,
    /// Watches expire this often, forcing a re-list.
    #[serde(default, with = "duration_text::option")]
    pub watch_expiry: Option<Duration>,
    /// Chance, per API call, that the operator crashes right before it
    /// (losing everything in memory) and restarts.
    #[serde(default)]
    pub crashes: f64,
    /// Users edit or delete objects mto manages this many times a day.
    #[serde(default)]
    pub user_edits_per_day: f64,
    /// The operator crashes once, right after its N-th write of a life.
    #[serde(default)]
    pub crash_after_writes: Option<u64>,
    /// No fault after this point, so the run can show convergence.
    #[serde(default, with = "duration_text::option")]
    pub until: Option<Duration>,
}

/// Why a scenario could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// The scenario's own fields are wrong.
    #[error("{file}:{line}: {field}: {message}")]
    Field {
        /// The scenario file.
        file: String,
        /// The line.
        line: usize,
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Manifests in the scenario are wrong; every problem, one per line.
    #[error("{}", .0.join("\n"))]
    Manifests(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    #[serde(with = "duration_text")]
    duration: Duration,
    #[serde(default)]
    start: Option<mto_model::Timestamp>,
    #[serde(default)]
    cluster: RawCluster,
    #[serde(default)]
    actions: Vec<RawAction>,
    #[serde(default)]
    faults: FaultPlan,
    #[serde(default)]
    operator: OperatorPlan,
    #[serde(default)]
    admission: Option<AdmissionTraffic>,
    #[serde(default)]
    charts: Vec<SimChart>,
    #[serde(default)]
    usage: Vec<UsageCurve>,
    #[serde(default)]
    vault: VaultPlan,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCluster {
    #[serde(default)]
    files: Vec<PathBuf>,
    #[serde(default)]
    manifests: Option<String>,
    #[serde(default)]
    generate: Option<Generate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawAction {
    #[serde(with = "duration_text")]
    at: Duration,
    #[serde(default)]
    apply: Option<String>,
    #[serde(default)]
    delete: Option<ObjectKey>,
    #[serde(default)]
    crash: Option<usize>,
    #[serde(default)]
    expire_watch: Option<usize>,
    #[serde(default)]
    partition: Option<Partition>,
    #[serde(default)]
    edit: Option<ObjectEdit>,
}

impl Scenario {
    /// Loads a scenario file; manifests are checked with mto's validation.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Io(format!("{}: {e}", path.display())))?;
        Scenario::parse(path, &text)
    }

    /// Parses a scenario; `path` names it in errors and anchors `files`.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let de = serde_norway::Deserializer::from_str(text);
        let raw: RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
            // Errors raised while converting a value (a duration) carry the
            // document's start as their position; the field's own line is later.
            let line = e
                .inner()
                .location()
                .map_or(1, |l| l.line())
                .max(line_of(text, &e.path().to_string()));
            let message = e.inner().to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            ScenarioError::Field {
                file: file.clone(),
                line,
                field: e.path().to_string(),
                message,
            }
        })?;
        let mut problems = Vec::new();
        let mut initial = Vec::new();
        let dir = path.parent().unwrap_or(Path::new("."));
        for f in &raw.cluster.files {
            let full = dir.join(f);
            match std::fs::read_to_string(&full) {
                Err(e) => problems.push(format!("{file}: cluster.files: {}: {e}", full.display())),
                Ok(t) => collect(
                    mto_model::manifest::parse(&full, &t),
                    &mut initial,
                    &mut problems,
                ),
            }
        }
        if let Some(inline) = &raw.cluster.manifests {
            let label = PathBuf::from(format!("{file} (cluster.manifests)"));
            collect(
                mto_model::manifest::parse(&label, inline),
                &mut initial,
                &mut problems,
            );
        }
        let mut actions = Vec::new();
        for (i, a) in raw.actions.iter().enumerate() {
            let verbs = [
                a.apply.is_some(),
                a.delete.is_some(),
                a.crash.is_some(),
                a.expire_watch.is_some(),
                a.partition.is_some(),
                a.edit.is_some(),
            ];
            if verbs.iter().filter(|v| **v).count() != 1 {
                problems.push(format!(
                    "{file}: actions[{i}]: give exactly one of `apply`, `delete`, `edit`, `crash`, `expireWatch` or `partition`"
                ));
                continue;
            }
            let replica = a
                .crash
                .or(a.expire_watch)
                .or(a.partition.as_ref().map(|p| p.replica));
            if let Some(r) = replica
                && r >= raw.operator.replicas
            {
                problems.push(format!(
                    "{file}: actions[{i}]: replica {r} does not exist; replicas are numbered from 0 to {}",
                    raw.operator.replicas.saturating_sub(1)
                ));
                continue;
            }
            let action = match (&a.apply, &a.delete) {
                _ if a.crash.is_some() => UserAction::Crash(a.crash.unwrap_or_default()),
                _ if a.expire_watch.is_some() => {
                    UserAction::ExpireWatch(a.expire_watch.unwrap_or_default())
                }
                _ if a.partition.is_some() => match a.partition.clone() {
                    Some(p) => UserAction::Partition(p),
                    None => continue,
                },
                _ if a.edit.is_some() => match a.edit.clone() {
                    Some(e) if e.set.is_some() == e.delete => {
                        problems.push(format!(
                            "{file}: actions[{i}].edit: give exactly one of `set` or `delete: true`"
                        ));
                        continue;
                    }
                    Some(e) => UserAction::Edit(e),
                    None => continue,
                },
                (Some(text), None) => {
                    let label = PathBuf::from(format!("{file} (actions[{i}].apply)"));
                    let mut docs = Vec::new();
                    collect(
                        mto_model::manifest::parse(&label, text),
                        &mut docs,
                        &mut problems,
                    );
                    UserAction::Apply(docs.into_iter().map(|d| d.manifest).collect())
                }
                (None, Some(key)) => {
                    match (key.kind.namespaced(), &key.namespace) {
                        (true, None) => problems.push(format!(
                            "{file}: actions[{i}].delete.namespace: a {:?} lives in a namespace; give it",
                            key.kind
                        )),
                        (false, Some(_)) => problems.push(format!(
                            "{file}: actions[{i}].delete.namespace: a {:?} is cluster-scoped; leave the namespace out",
                            key.kind
                        )),
                        _ => {}
                    }
                    UserAction::Delete(key.clone())
                }
                _ => continue,
            };
            actions.push(TimedAction { at: a.at, action });
        }
        actions.sort_by_key(|a| a.at);
        for (name, rate) in [
            ("conflicts", raw.faults.conflicts),
            ("transientErrors", raw.faults.transient_errors),
            ("slowCalls", raw.faults.slow_calls),
            ("crashes", raw.faults.crashes),
            ("duplicatedEvents", raw.faults.duplicated_events),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                problems.push(format!(
                    "{file}: faults.{name}: {rate} is not a share between 0 and 1"
                ));
            }
        }
        if raw.operator.replicas == 0 || raw.operator.concurrency == 0 {
            problems.push(format!(
                "{file}: operator: replicas and concurrency must be at least 1"
            ));
        }
        if raw.faults.user_edits_per_day < 0.0 {
            problems.push(format!(
                "{file}: faults.userEditsPerDay: must not be negative"
            ));
        }
        if let Some(h) = raw
            .cluster
            .generate
            .as_ref()
            .and_then(|g| g.hibernation.as_ref())
        {
            let zones = if h.time_zones.is_empty() {
                vec![String::new()]
            } else {
                h.time_zones.clone()
            };
            for zone in zones {
                let schedule = mto_model::api::SleepSchedule {
                    sleep_schedule: h.sleep_schedule.clone(),
                    wake_schedule: h.wake_schedule.clone(),
                    time_zone: (!zone.is_empty()).then_some(zone),
                };
                if let Err(errors) =
                    mto_model::hibernation::schedule::Hibernation::compile(&schedule)
                {
                    for (field, why) in errors {
                        let field =
                            field.replace("spec.schedule.", "cluster.generate.hibernation.");
                        problems.push(format!("{file}: {field}: {why}"));
                    }
                }
            }
        }
        for (i, curve) in raw.usage.iter().enumerate() {
            let at = format!("{file}: usage[{i}]");
            if curve
                .workload
                .split_once('/')
                .is_none_or(|(ns, name)| ns.is_empty() || name.is_empty())
            {
                problems.push(format!(
                    "{at}.workload: {:?} is not namespace/name; write it as alpha-dev/web",
                    curve.workload
                ));
            }
            for (field, values) in [("cpu", &curve.cpu), ("memory", &curve.memory)] {
                for value in values {
                    if let Err(e) = mto_model::quantity::Quantity::parse(value) {
                        problems.push(format!("{at}.{field}: {value:?}: {e}"));
                    }
                }
            }
            let [from, to] = curve.peak_hours;
            if from >= to || to > 24 {
                problems.push(format!(
                    "{at}.peakHours: [{from}, {to}] is not [from, to) within a day; write it as [9, 18]"
                ));
            }
            if curve.burst_every.is_some_and(|e| e.is_zero()) {
                problems.push(format!("{at}.burstEvery: give a duration such as 7d"));
            }
        }
        if raw.admission.as_ref().is_some_and(|a| a.every.is_zero()) {
            problems.push(format!(
                "{file}: admission.every: a request every 0s never ends; give a duration such as 100ms"
            ));
        }
        if !problems.is_empty() {
            return Err(ScenarioError::Manifests(problems));
        }
        Ok(Scenario {
            operator: raw.operator,
            name: raw.name,
            description: raw.description,
            seed: raw.seed,
            duration: raw.duration,
            // Monday 2026-01-05 00:00 UTC unless the scenario says.
            start: raw.start.unwrap_or_else(|| {
                mto_model::Timestamp::from_second(1_767_571_200).unwrap_or_default()
            }),
            initial,
            generate: raw.cluster.generate,
            actions,
            faults: raw.faults,
            admission: raw.admission,
            charts: raw.charts,
            usage: raw.usage,
            vault: raw.vault,
        })
    }
}

/// The line of a field path (`faults.slowBy`) in YAML text, found by walking
/// its keys in order; for errors the parser reports without a position.
fn line_of(text: &str, path: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    for key in path
        .split('.')
        .map(|k| k.split('[').next().unwrap_or(k))
        .filter(|k| !k.is_empty())
    {
        let found = lines.iter().enumerate().skip(from).find(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        });
        if let Some((i, _)) = found {
            from = i;
        }
    }
    from + 1
}

fn collect(
    docs: Vec<Result<Located, ManifestError>>,
    into: &mut Vec<Located>,
    problems: &mut Vec<String>,
) {
    for doc in docs {
        match doc {
            Err(e) => problems.push(e.to_string()),
            Ok(located) => {
                for p in located.manifest.problems() {
                    problems.push(format!(
                        "{}: {}: {p}",
                        located.location,
                        located.manifest.describe()
                    ));
                }
                into.push(located);
            }
        }
    }
}

/// Durations written as `90s`, `15m`, `6h`, `7d` (or combined: `1d12h`).
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Parses `1d12h30m`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let mut total_ms = 0u64;
        let mut number = String::new();
        if text.trim().is_empty() {
            return Err("empty duration; write e.g. 100ms, 90s, 15m, 6h or 7d".into());
        }
        let mut chars = text.trim().chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit_ms = match c {
                'm' if chars.peek() == Some(&'s') => {
                    chars.next();
                    1
                }
                's' => 1000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => {
                    return Err(format!(
                        "{text:?}: unknown unit {c:?}; use ms, s, m, h or d"
                    ));
                }
            };
            let n: u64 = number
                .parse()
                .map_err(|_| format!("{text:?}: a number must come before {c:?}"))?;
            total_ms = total_ms.saturating_add(n.saturating_mul(unit_ms));
            number.clear();
        }
        if !number.is_empty() {
            return Err(format!(
                "{text:?}: the last number has no unit; use ms, s, m, h or d"
            ));
        }
        Ok(Duration::from_millis(total_ms))
    }

    /// Shows a duration the way it is written.
    #[must_use]
    pub fn show(d: Duration) -> String {
        Shown(d).to_string()
    }

    /// A duration as it is written, to format in place: the simulator
    /// stamps every line of its trace with one.
    pub struct Shown(pub Duration);

    impl std::fmt::Display for Shown {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let s = self.0.as_secs();
            if s == 0 {
                return write!(f, "{}ms", self.0.as_millis());
            }
            let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
            for (n, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")] {
                if n > 0 {
                    write!(f, "{n}{unit}")?;
                }
            }
            Ok(())
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub(crate) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer};

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Duration>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| super::parse(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            duration_text::parse("1d12h"),
            Ok(Duration::from_secs(129_600))
        );
        assert_eq!(duration_text::show(Duration::from_secs(129_600)), "1d12h");
        assert!(duration_text::parse("12").is_err());
        assert!(duration_text::parse("3w").is_err());
        assert_eq!(
            duration_text::parse("1m20ms"),
            Ok(Duration::from_millis(60_020))
        );
        assert_eq!(duration_text::show(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn unknown_fields_name_file_line_and_field() {
        let e = Scenario::parse(
            Path::new("s.yaml"),
            "name: x\nduration: 1d\nfaults:\n  conflict: 0.1\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("s.yaml:4: faults:") || text.starts_with("s.yaml:4: faults.conflict"),
            "{text}"
        );
        assert!(text.contains("unknown field `conflict`"), "{text}");
    }

    #[test]
    fn bad_durations_and_rates_are_refused() {
        let e = Scenario::parse(Path::new("s.yaml"), "name: x\nduration: 7 days\n").unwrap_err();
        assert!(e.to_string().contains("s.yaml:2: duration"), "{e}");
        let e = Scenario::parse(
            Path::new("s.yaml"),
            "name: x\nduration: 1d\nfaults: {conflicts: 2}\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("faults.conflicts: 2 is not a share"),
            "{e}"
        );
    }

    #[test]
    fn invalid_manifests_print_every_error() {
        let text = "name: x\nduration: 1d\ncluster:\n  manifests: |\n    apiVersion: tenantoperator.stakater.com/v1beta3\n    kind: Tenant\n    metadata: {name: Bad_Name}\n    spec:\n      namespaces: {withTenantPrefix: [Dev]}\n";
        let e = Scenario::parse(Path::new("s.yaml"), text).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("metadata.name") && text.contains("withTenantPrefix[0]"),
            "{text}"
        );
    }

    #[test]
    fn an_action_needs_exactly_one_verb() {
        let e = Scenario::parse(
            Path::new("s.yaml"),
            "name: x\nduration: 1d\nactions:\n  - at: 1h\n",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("actions[0]: give exactly one"),
            "{e}"
        );
        let e = Scenario::parse(
            Path::new("s.yaml"),
            "name: x\nduration: 1d\nactions:\n  - at: 1h\n    crash: 1\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("replica 1 does not exist"), "{e}");
    }

    #[test]
    fn a_delete_names_a_known_kind_and_its_namespace_when_it_has_one() {
        let parse = |delete: &str| {
            Scenario::parse(
                Path::new("s.yaml"),
                &format!("name: x\nduration: 1d\nactions:\n  - at: 1h\n    delete: {delete}\n"),
            )
        };
        let e = parse("{kind: Tenat, name: a}").unwrap_err().to_string();
        assert!(e.starts_with("s.yaml:5: actions[0].delete.kind"), "{e}");
        assert!(e.contains("unknown variant `Tenat`"), "{e}");
        assert!(e.contains("`Tenant`"), "the kinds it could be: {e}");

        let e = parse("{kind: RoleBinding, name: a}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("actions[0].delete.namespace: a RoleBinding lives in a namespace"),
            "{e}"
        );
        let e = parse("{kind: Quota, name: a, namespace: dev}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("actions[0].delete.namespace: a Quota is cluster-scoped"),
            "{e}"
        );

        let ok = parse("{kind: ResourceSupervisor, name: a, namespace: dev}").expect("valid");
        let UserAction::Delete(key) = &ok.actions[0].action else {
            panic!("a delete");
        };
        assert_eq!(key.to_string(), "ResourceSupervisor/dev/a");
    }
}
