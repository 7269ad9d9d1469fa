//! `mto plan`: what the operator would create for a set of manifests on a
//! cluster holding only them — the operator's own loop (the model's view
//! and driver) run against the model's in-memory apiserver.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mto_model::Timestamp;
use mto_model::action::{Action, Event, Object};
use mto_model::apiserver::ApiServer;
use mto_model::driver::{Config, Driver, Started};
use mto_model::manifest::Manifest;
use mto_model::template::{ChartRendering, ChartRequest};
use mto_model::view::{Key, Kind, View, WatchEvent};

/// What the operator would do for one tenant.
#[derive(Debug)]
pub struct TenantPlan {
    /// The tenant.
    pub name: String,
    /// Its first decision: everything it creates.
    pub actions: Vec<Action>,
    /// The events the operator records for that decision.
    pub events: Vec<Event>,
    /// The phase it settles in.
    pub phase: String,
}

/// The plan for every tenant, by name, and what the template instances
/// would put into the namespaces.
#[derive(Debug)]
pub struct Plan {
    /// The tenants.
    pub tenants: Vec<TenantPlan>,
    /// Each template instance's rendering, by namespace.
    pub templates: Vec<TemplatePlan>,
}

/// What one template instance would put into one namespace.
#[derive(Debug)]
pub struct TemplatePlan {
    /// `Kind/name` (`Kind/namespace/name`) of the instance.
    pub instance: String,
    /// The namespace.
    pub namespace: String,
    /// The objects, or every problem that keeps them from rendering.
    pub objects: Result<Vec<serde_json::Value>, Vec<String>>,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No IntegrationConfig can be used (several, or an invalid one).
    #[error("{0}")]
    IntegrationConfig(String),
    /// A manifest could not be stored.
    #[error("{0}")]
    Refused(#[from] mto_model::apiserver::ApiError),
    /// The tenants did not settle (a planner bug).
    #[error("the tenants did not settle within {0} decisions")]
    NoConvergence(usize),
}

/// Decisions a tenant may take to settle on a cluster holding only the
/// manifests (two: everything, then its status), with room to spare; a
/// plan that takes more has found a planner bug.
const DECISIONS_PER_TENANT: usize = 10;

/// The object as its author wrote it: a file exported with `kubectl get
/// -o yaml` carries what the server owns, which a new object cannot have.
fn as_written<K: kube::Resource + Clone>(object: &K) -> K {
    let mut object = object.clone();
    let meta = object.meta_mut();
    meta.resource_version = None;
    meta.uid = None;
    meta.managed_fields = None;
    meta.creation_timestamp = None;
    meta.generation = None;
    object
}

/// A cluster holding the given manifests' Namespaces, Tenants, Quotas and
/// IntegrationConfig, as their authors wrote them.
pub fn cluster_of(manifests: &[Manifest], now: Timestamp) -> Result<ApiServer, PlanError> {
    let mut api = ApiServer::default();
    // The namespaces first, as they exist before what lives in them; the
    // IntegrationConfig's own namespace exists on any real cluster.
    for m in manifests {
        if let Manifest::IntegrationConfig(c) = m
            && let Some(ns) = &c.metadata.namespace
            && !manifests.iter().any(
                |m| matches!(m, Manifest::Namespace(n) if n.metadata.name.as_ref() == Some(ns)),
            )
        {
            let namespace = k8s_openapi::api::core::v1::Namespace {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(ns.clone()),
                    ..Default::default()
                },
                ..Default::default()
            };
            api.put(namespace.into(), now)?;
        }
    }
    for m in manifests {
        if let Manifest::Namespace(ns) = m {
            api.put(as_written(ns).into(), now)?;
        }
    }
    for m in manifests {
        let object: Object = match m {
            Manifest::Tenant(t) => as_written(t).into(),
            Manifest::Quota(q) => as_written(q).into(),
            Manifest::IntegrationConfig(c) => as_written(c).into(),
            _ => continue,
        };
        api.put(object, now)?;
    }
    Ok(api)
}

/// How a plan renders a Template's Helm chart (the operator's
/// [`crate::charts::ChartRenderer`], or anything else in tests).
pub type RenderChart<'a> = &'a dyn Fn(&ChartRequest) -> ChartRendering;

/// Plans the given manifests against a cluster holding only them.
pub fn plan(
    manifests: &[Manifest],
    now: Timestamp,
    charts: RenderChart<'_>,
) -> Result<Plan, PlanError> {
    let mut api = cluster_of(manifests, now)?;
    if let Some(problem) = api.snapshot().integration_problem() {
        return Err(PlanError::IntegrationConfig(problem.to_owned()));
    }
    // The operator's view, listed, then kept by the apiserver's changes.
    let mut view = View::default();
    for kind in Kind::watched_kinds() {
        view.fold(WatchEvent::Init(kind.clone()));
        for object in api.list(kind) {
            view.fold(WatchEvent::InitApply(object));
        }
        view.fold(WatchEvent::InitDone(kind.clone()));
    }
    api.drain_changes();
    let mut driver = Driver::new(Config {
        concurrency: 1,
        debounce: std::time::Duration::ZERO,
        ..Config::default()
    });
    let mut tenants = 0;
    for key in view.snapshot().keys() {
        if matches!(key, Key::Tenant(_)) {
            driver.schedule(key, now);
            tenants += 1;
        }
    }
    let mut first: BTreeMap<String, (Vec<Action>, Vec<Event>)> = BTreeMap::new();
    let most = DECISIONS_PER_TENANT * (tenants + 1);
    for _ in 0..most {
        let Some(key) = driver.poll_due(now) else {
            let templates = templates(manifests, &mut api, now, charts);
            return Ok(finish(&api, first, templates));
        };
        let Started::Run(mut run) = driver.start(key.clone(), view.snapshot(), now) else {
            continue;
        };
        while let Some(action) = run.poll_action().cloned() {
            let result = api.execute(&action, now).map(|_| ());
            run.handle_result(result);
        }
        let finished = driver.finish(run, now, 0.5);
        if let Key::Tenant(name) = &key {
            first
                .entry(name.clone())
                .or_insert_with(|| (finished.done.clone(), finished.events()));
        }
        if let Some(failure) = finished.failure {
            // Everything the planner asks of an in-memory cluster holding
            // only these manifests succeeds; a refusal is a planner bug.
            return Err(PlanError::Refused(failure));
        }
        for change in api.drain_changes() {
            let woken = view.fold(change.event);
            driver.handle_woken(&woken, view.snapshot(), now);
        }
    }
    Err(PlanError::NoConvergence(most))
}

/// Each template instance rendered into the namespaces it targets, once
/// the tenants have settled, as the operator renders it: the Templates and
/// instances join the cluster, and each instance's targets get what
/// `mto_model::template` would apply there. The Secrets and ConfigMaps a
/// Template copies live in the cluster, not among the manifests: the plan
/// takes them to exist (empty) where their namespace does.
fn templates(
    manifests: &[Manifest],
    api: &mut ApiServer,
    now: Timestamp,
    charts: RenderChart<'_>,
) -> Vec<TemplatePlan> {
    use mto_model::template::{Instance, NotRendered, render_for, targets};
    for m in manifests {
        let object: Object = match m {
            Manifest::Template(t) => as_written(t).into(),
            Manifest::TemplateInstance(i) => as_written(i).into(),
            Manifest::ClusterTemplateInstance(i) => as_written(i).into(),
            Manifest::TemplateGroupInstance(i) => as_written(i).into(),
            _ => continue,
        };
        // A TemplateInstance whose namespace does not exist targets nothing.
        let _ = api.put(object, now);
        if let Manifest::Template(t) = m {
            for (copied, namespace, name) in mto_model::template::copy_sources(&t.spec) {
                let gvk = copied.gvk();
                let source = serde_json::json!({
                    "apiVersion": gvk.api_version(), "kind": gvk.kind,
                    "metadata": {"name": name, "namespace": namespace},
                });
                if let Ok(source) = Object::from_json(source) {
                    let _ = api.create(source, now);
                }
            }
        }
    }
    // Every chart rendering the instances need, rendered first.
    let mut wanted = BTreeMap::new();
    let snapshot = api.snapshot();
    for id in snapshot.instance_ids() {
        let Some(instance) = Instance::find(snapshot, &id) else {
            continue;
        };
        let Some(template) = snapshot.get::<mto_model::api::Template>("", instance.template())
        else {
            continue;
        };
        for namespace in targets(&instance, snapshot) {
            if let Err(NotRendered::NeedsChart { request, .. }) =
                render_for(template, &instance, &namespace, snapshot, now)
            {
                wanted.insert(request.digest(), request);
            }
        }
    }
    for request in wanted.values() {
        api.record_chart(request, charts(request));
    }
    let snapshot = api.snapshot();
    let mut out = Vec::new();
    for id in snapshot.instance_ids() {
        let Some(instance) = Instance::find(snapshot, &id) else {
            continue;
        };
        let name = instance.template();
        let template = snapshot.get::<mto_model::api::Template>("", name);
        for namespace in targets(&instance, snapshot) {
            let objects = match template {
                None => Err(vec![format!(
                    "spec.template: Template {name:?} is not among the manifests (fix: add it, or name one that is)"
                )]),
                Some(t) => match render_for(t, &instance, &namespace, snapshot, now) {
                    Ok(rendered) => Ok(rendered
                        .into_iter()
                        .filter_map(|r| r.object.to_json().ok())
                        .collect()),
                    Err(NotRendered::Invalid(problems)) => {
                        Err(problems.iter().map(ToString::to_string).collect())
                    }
                    Err(NotRendered::NeedsChart { request, .. }) => {
                        Err(vec![format!("{} was not rendered", request.chart_label())])
                    }
                },
            };
            out.push(TemplatePlan {
                instance: id.key(),
                namespace,
                objects,
            });
        }
    }
    out
}

fn finish(
    api: &ApiServer,
    first: BTreeMap<String, (Vec<Action>, Vec<Event>)>,
    templates: Vec<TemplatePlan>,
) -> Plan {
    use mto_model::view::Observed as _;
    let tenants = first
        .into_iter()
        .map(|(name, (actions, events))| {
            let phase = api
                .snapshot()
                .tenant(&name)
                .and_then(|t| t.status.as_ref()?.phase.clone())
                .unwrap_or_default();
            TenantPlan {
                name,
                actions,
                events,
                phase,
            }
        })
        .collect();
    Plan { tenants, templates }
}

impl Plan {
    /// A readable summary: one line per object.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for tenant in &self.tenants {
            let _ = writeln!(out, "Tenant {} → {}", tenant.name, tenant.phase);
            for action in &tenant.actions {
                match action {
                    Action::Apply { object, .. } => {
                        let _ = writeln!(out, "  + {}{}", object.object_ref(), detail(object));
                    }
                    Action::ApplyStatus {
                        object: Object::Tenant(t),
                    } => {
                        for c in t
                            .status
                            .iter()
                            .flat_map(|s| &s.conditions)
                            .filter(|c| c.status == "False" && c.type_ != "Ready")
                        {
                            let _ = writeln!(out, "  ! {}: {}", c.reason, c.message);
                        }
                    }
                    _ => {}
                }
            }
        }
        for t in &self.templates {
            let _ = writeln!(out, "{} → {}", t.instance, t.namespace);
            match &t.objects {
                Ok(objects) => {
                    for o in objects {
                        let _ = writeln!(
                            out,
                            "  + {}/{}/{}",
                            o["kind"].as_str().unwrap_or_default(),
                            o["metadata"]["namespace"].as_str().unwrap_or_default(),
                            o["metadata"]["name"].as_str().unwrap_or_default()
                        );
                    }
                }
                Err(problems) => {
                    for p in problems {
                        let _ = writeln!(out, "  ! {p}");
                    }
                }
            }
        }
        out
    }

    /// The objects as YAML documents, for review or GitOps.
    pub fn render_yaml(&self) -> Result<String, PlanRenderError> {
        let mut out = String::new();
        for tenant in &self.tenants {
            for action in &tenant.actions {
                if let Action::Apply { object, .. } = action {
                    out.push_str("---\n");
                    out.push_str(&serde_norway::to_string(&object.to_json()?)?);
                }
            }
        }
        for object in self
            .templates
            .iter()
            .flat_map(|t| t.objects.iter().flatten())
        {
            out.push_str("---\n");
            out.push_str(&serde_norway::to_string(object)?);
        }
        Ok(out)
    }
}

/// Why a plan could not be written as YAML.
#[derive(Debug, thiserror::Error)]
pub enum PlanRenderError {
    /// An object did not serialize.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The YAML writer failed.
    #[error(transparent)]
    Yaml(#[from] serde_norway::Error),
}

fn detail(object: &Object) -> String {
    match object {
        Object::Namespace(ns) => {
            let labels: Vec<String> = ns
                .metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("  [{}]", labels.join(", "))
        }
        Object::RoleBinding(rb) => {
            let subjects: Vec<String> = rb
                .subjects
                .as_deref()
                .into_iter()
                .flatten()
                .map(|s| format!("{}:{}", s.kind, s.name))
                .collect();
            format!(
                "  ClusterRole {} → {}",
                rb.role_ref.name,
                subjects.join(", ")
            )
        }
        Object::ResourceQuota(rq) => {
            let hard: Vec<String> = rq
                .spec
                .iter()
                .flat_map(|s| s.hard.iter().flatten())
                .map(|(k, v)| format!("{k}={}", v.0))
                .collect();
            format!("  {}", hard.join(" "))
        }
        Object::ClusterResourceSupervisor(c) => format!(
            "  sleep {:?}, wake {:?}",
            c.spec.schedule.sleep_schedule,
            c.spec.schedule.wake_schedule.as_deref().unwrap_or("-")
        ),
        _ => String::new(),
    }
}
