//! The pilot: the operator deploys the console and API gateway of its own
//! when the IntegrationConfig asks (`spec.components.console: true`), and
//! removes them when it stops asking.
//!
//! Rules (README, "The console, deployed by the operator"):
//! - The console is a Deployment of mto's own image running
//!   `mto run --console-only` (the view, the API gateway and the console;
//!   no reconciling, no lease), its ServiceAccount, a ClusterRoleBinding to
//!   the `mto-console` ClusterRole shipped with mto (read what the view
//!   watches, impersonate callers), a Service, and an Ingress when
//!   `components.ingress` names a host. All live in the IntegrationConfig's
//!   namespace and carry [`COMPONENT_LABEL`].
//! - Sign-in: `integrations.keycloak.{address, realm, clientName}`, else the
//!   issuer the operator itself runs with (`--oidc-issuer`).
//! - What mto wrote is compared by digest (an annotation on each object),
//!   so an unchanged console costs no write; an object of the same name
//!   that mto did not make is never taken over.
//! - Misconfigured (no issuer, a malformed field): the condition says which
//!   field and how to fix it, and what is running stays as it is.
//! - `console: false`, or the key gone: everything carrying the label is
//!   deleted, each only if it is still the object observed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Timestamp;
use crate::action::{Action, Decision, Reason, Requeue};
use crate::api::{ConsoleStatus, IntegrationConfig, IntegrationConfigStatus};
use crate::integration::read_block;
use crate::labels::{COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, component_of};
use crate::machine::Phase;
use crate::validation::FieldError;
use crate::view::{Gvk, Kind, Object, ObjectRef, Snapshot};

#[cfg(test)]
mod tests;

/// The component label's value on the console's objects.
pub const CONSOLE: &str = "console";
/// The name of every object of the console.
pub const CONSOLE_NAME: &str = "mto-console";
/// The ClusterRole shipped with mto that the console's ServiceAccount is
/// bound to (deploy/operator/console.yaml, the Helm chart).
pub const CONSOLE_CLUSTER_ROLE: &str = "mto-console";
/// The port the console serves on, in its pod and its Service.
pub const CONSOLE_PORT: u16 = 8443;
/// The port of the console's /healthz and /readyz.
pub const PROBE_PORT: u16 = 8080;

/// Where the console stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PilotPhase {
    /// Not asked for; nothing of it exists.
    Off,
    /// Being written, or its pods are not available yet.
    Deploying,
    /// Every object as asked, and its pods available.
    Running,
    /// Asked for, but the configuration cannot be carried out; what runs stays.
    Misconfigured,
    /// No longer asked for: being removed.
    Removing,
}

impl Phase for PilotPhase {
    const ALL: &'static [PilotPhase] = &[
        PilotPhase::Off,
        PilotPhase::Deploying,
        PilotPhase::Running,
        PilotPhase::Misconfigured,
        PilotPhase::Removing,
    ];
    const INITIAL: PilotPhase = PilotPhase::Off;
    const TRANSITIONS: &'static [(PilotPhase, PilotPhase)] = {
        use PilotPhase::{Deploying, Misconfigured, Off, Removing, Running};
        &[
            (Off, Deploying),
            (Off, Misconfigured),
            (Off, Removing),
            (Deploying, Running),
            (Deploying, Misconfigured),
            (Deploying, Removing),
            (Deploying, Off),
            (Running, Deploying),
            (Running, Misconfigured),
            (Running, Removing),
            (Misconfigured, Deploying),
            (Misconfigured, Running),
            (Misconfigured, Removing),
            (Misconfigured, Off),
            (Removing, Off),
            (Removing, Deploying),
            (Removing, Misconfigured),
        ]
    };

    fn is_resting(self) -> bool {
        matches!(
            self,
            PilotPhase::Off | PilotPhase::Running | PilotPhase::Misconfigured
        )
    }

    fn name(self) -> &'static str {
        match self {
            PilotPhase::Off => "Off",
            PilotPhase::Deploying => "Deploying",
            PilotPhase::Running => "Running",
            PilotPhase::Misconfigured => "Misconfigured",
            PilotPhase::Removing => "Removing",
        }
    }
}

/// A decision about the console.
pub type PilotDecision = Decision<PilotPhase>;

/// What the operator knows of itself that the console it deploys needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PilotSettings {
    /// The image the console runs: the operator's own.
    pub image: String,
    /// The OpenID Connect issuer when the IntegrationConfig names no Keycloak.
    pub issuer: Option<String>,
    /// The audience (client) with that issuer.
    pub audience: String,
    /// Groups whose members are platform admins in the console.
    pub admin_groups: Vec<String>,
    /// The Secret and key holding the PostgreSQL URL of the store (the
    /// audit log); without it, a file on the console pod's own disk.
    pub store_secret: Option<(String, String)>,
}

impl Default for PilotSettings {
    fn default() -> Self {
        PilotSettings {
            image: concat!("mto:", env!("CARGO_PKG_VERSION")).to_owned(),
            issuer: None,
            audience: "mto".to_owned(),
            admin_groups: Vec::new(),
            store_secret: None,
        }
    }
}

/// `spec.components`, as far as the pilot reads it (MTO's shape; other
/// keys, such as `showbackOpts`, are left alone).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Components {
    #[serde(default)]
    console: Option<bool>,
    #[serde(default)]
    ingress: Option<ComponentsIngress>,
}

/// `spec.components.ingress`: one host for both (`/` the console,
/// `/gateway` the API), or MTO's host per component.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ComponentsIngress {
    #[serde(default)]
    ingress_class_name: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    tls_secret_name: Option<String>,
    #[serde(default)]
    console: Option<HostTls>,
    #[serde(default)]
    gateway: Option<HostTls>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct HostTls {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    tls_secret_name: Option<String>,
}

/// `spec.integrations`, as far as the pilot reads it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Integrations {
    #[serde(default)]
    keycloak: Option<Keycloak>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Keycloak {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    client_name: Option<String>,
}

/// One host the Ingress routes, and the paths it sends to the console.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Route {
    host: String,
    tls_secret: Option<String>,
    paths: Vec<&'static str>,
}

/// The console as the IntegrationConfig asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSpec {
    issuer: String,
    audience: String,
    ingress_class: Option<String>,
    routes: Vec<Route>,
}

impl ConsoleSpec {
    /// Where people reach the console, when the Ingress has a host for it.
    #[must_use]
    pub fn url(&self) -> Option<String> {
        let route = self.routes.iter().find(|r| r.paths.contains(&"/"))?;
        let scheme = if route.tls_secret.is_some() {
            "https"
        } else {
            "http"
        };
        Some(format!("{scheme}://{}", route.host))
    }
}

fn check_host(host: &str, path: &str, problems: &mut Vec<FieldError>) {
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !valid {
        problems.push(FieldError {
            path: path.to_owned(),
            problem: format!("{host:?} is not a DNS host name"),
            fix: "give the host people reach the console at, e.g. mto.apps.example.com".into(),
        });
    }
}

/// Whether the IntegrationConfig asks for the console, and how; `Ok(None)`
/// when it does not. Errors name each field and its fix.
pub fn console_spec(
    config: &IntegrationConfig,
    settings: &PilotSettings,
) -> Result<Option<ConsoleSpec>, Vec<FieldError>> {
    let components: Components =
        read_block(config.spec.components.as_ref(), "spec.components").map_err(|e| vec![e])?;
    if components.console != Some(true) {
        return Ok(None);
    }
    let integrations: Integrations =
        read_block(config.spec.integrations.as_ref(), "spec.integrations").map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    let (issuer, audience) = match integrations.keycloak {
        Some(keycloak) => {
            let field = |value: Option<String>, name: &str, example: &str| {
                value.filter(|v| !v.trim().is_empty()).ok_or(FieldError {
                    path: format!("spec.integrations.keycloak.{name}"),
                    problem: "missing".into(),
                    fix: format!("set it ({example})"),
                })
            };
            let address = field(
                keycloak.address,
                "address",
                "Keycloak's base URL, e.g. https://keycloak.example.com",
            );
            let realm = field(keycloak.realm, "realm", "the realm people sign in to");
            let client = field(
                keycloak.client_name,
                "clientName",
                "the console's OpenID Connect client, e.g. mto",
            );
            match (address, realm, client) {
                (Ok(address), Ok(realm), Ok(client)) => {
                    if !(address.starts_with("https://") || address.starts_with("http://")) {
                        problems.push(FieldError {
                            path: "spec.integrations.keycloak.address".into(),
                            problem: format!("{address:?} is not an http(s) URL"),
                            fix: "give Keycloak's base URL, e.g. https://keycloak.example.com"
                                .into(),
                        });
                    }
                    (
                        format!("{}/realms/{realm}", address.trim_end_matches('/')),
                        client,
                    )
                }
                (a, r, c) => {
                    problems.extend([a.err(), r.err(), c.err()].into_iter().flatten());
                    (String::new(), String::new())
                }
            }
        }
        None => match &settings.issuer {
            Some(issuer) => (issuer.clone(), settings.audience.clone()),
            None => {
                problems.push(FieldError {
                    path: "spec.integrations.keycloak".into(),
                    problem: "the console needs an identity provider to sign people in".into(),
                    fix: "set integrations.keycloak.{address, realm, clientName}, or run the operator with --oidc-issuer".into(),
                });
                (String::new(), String::new())
            }
        },
    };
    let ingress = components.ingress.unwrap_or_default();
    let mut routes = Vec::new();
    let mut route = |tls: HostTls, path: &str, paths: Vec<&'static str>| {
        if let Some(host) = tls.host {
            check_host(&host, path, &mut problems);
            match routes.iter_mut().find(|r: &&mut Route| r.host == host) {
                Some(existing) => existing.paths.extend(paths),
                None => routes.push(Route {
                    host,
                    tls_secret: tls.tls_secret_name.filter(|s| !s.is_empty()),
                    paths,
                }),
            }
        }
    };
    route(
        HostTls {
            host: ingress.host,
            tls_secret_name: ingress.tls_secret_name,
        },
        "spec.components.ingress.host",
        vec!["/gateway", "/"],
    );
    route(
        ingress.console.unwrap_or_default(),
        "spec.components.ingress.console.host",
        vec!["/"],
    );
    route(
        ingress.gateway.unwrap_or_default(),
        "spec.components.ingress.gateway.host",
        vec!["/"],
    );
    for r in &mut routes {
        r.paths
            .sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        r.paths.dedup();
    }
    if problems.is_empty() {
        Ok(Some(ConsoleSpec {
            issuer,
            audience,
            ingress_class: ingress.ingress_class_name.filter(|c| !c.is_empty()),
            routes,
        }))
    } else {
        Err(problems)
    }
}

fn labels() -> Value {
    json!({
        "app.kubernetes.io/name": CONSOLE_NAME,
        "app.kubernetes.io/part-of": "mto",
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        COMPONENT_LABEL: CONSOLE,
    })
}

fn metadata(namespace: Option<&str>) -> Value {
    let mut meta = json!({"name": CONSOLE_NAME, "labels": labels()});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    meta
}

/// The console's objects, in the order they are applied. The Deployment
/// is the first to exist and the last to go: while any of the console's
/// objects exists, so does it, and it is always watched ([`in_play`]).
/// Its pods wait the moment until their ServiceAccount exists.
#[must_use]
pub fn desired(spec: &ConsoleSpec, settings: &PilotSettings, namespace: &str) -> Vec<Object> {
    let mut env = vec![
        json!({"name": "MTO_GATEWAY_ADDRESS", "value": format!("0.0.0.0:{CONSOLE_PORT}")}),
        json!({"name": "MTO_METRICS_ADDRESS", "value": format!("0.0.0.0:{PROBE_PORT}")}),
        json!({"name": "MTO_OIDC_ISSUER", "value": spec.issuer}),
        json!({"name": "MTO_OIDC_AUDIENCE", "value": spec.audience}),
        json!({"name": "MTO_LOG_FORMAT", "value": "json"}),
        json!({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}),
    ];
    if let Some(url) = spec.url() {
        env.push(json!({"name": "MTO_CONSOLE_URL", "value": url}));
    }
    if !settings.admin_groups.is_empty() {
        env.push(
            json!({"name": "MTO_GATEWAY_ADMIN_GROUPS", "value": settings.admin_groups.join(",")}),
        );
    }
    match &settings.store_secret {
        Some((secret, key)) => env.push(json!({"name": "MTO_STORE_URL",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})),
        None => env.push(json!({"name": "MTO_JOURNAL", "value": "/var/lib/mto/journal.redb"})),
    }
    let selector = json!({"app.kubernetes.io/name": CONSOLE_NAME, COMPONENT_LABEL: CONSOLE});
    let probe =
        |path: &str| json!({"httpGet": {"path": path, "port": "probes"}, "periodSeconds": 10});
    let mut objects = vec![
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": metadata(Some(namespace)),
            "spec": {
                // Sessions live in the replica that signed people in.
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels()},
                    "spec": {
                        "serviceAccountName": CONSOLE_NAME,
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "console",
                            "image": settings.image,
                            "args": ["run", "--console-only"],
                            "env": env,
                            "ports": [
                                {"name": "http", "containerPort": CONSOLE_PORT},
                                {"name": "probes", "containerPort": PROBE_PORT},
                            ],
                            "readinessProbe": probe("/readyz"),
                            "livenessProbe": probe("/healthz"),
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/mto"}],
                        }],
                        "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "64Mi"}}],
                    },
                },
            },
        }),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(Some(namespace))}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": metadata(None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CONSOLE_CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": CONSOLE_NAME, "namespace": namespace}],
        }),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": metadata(Some(namespace)),
            "spec": {"selector": selector, "ports": [{"name": "http", "port": CONSOLE_PORT, "targetPort": "http"}]},
        }),
    ];
    if !spec.routes.is_empty() {
        let backend = json!({"service": {"name": CONSOLE_NAME, "port": {"name": "http"}}});
        let rules: Vec<Value> = spec
            .routes
            .iter()
            .map(|r| {
                let paths: Vec<Value> = r
                    .paths
                    .iter()
                    .map(|p| json!({"path": p, "pathType": "Prefix", "backend": backend}))
                    .collect();
                json!({"host": r.host, "http": {"paths": paths}})
            })
            .collect();
        let mut tls: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &spec.routes {
            if let Some(secret) = &r.tls_secret {
                tls.entry(secret).or_default().push(&r.host);
            }
        }
        let tls: Vec<Value> = tls
            .into_iter()
            .map(|(secret, hosts)| json!({"secretName": secret, "hosts": hosts}))
            .collect();
        let mut ingress_spec = json!({"rules": rules});
        if !tls.is_empty() {
            ingress_spec["tls"] = json!(tls);
        }
        if let Some(class) = &spec.ingress_class {
            ingress_spec["ingressClassName"] = json!(class);
        }
        objects.push(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": metadata(Some(namespace)),
            "spec": ingress_spec,
        }));
    }
    objects
        .into_iter()
        .filter_map(|mut value| {
            crate::apply::stamp_digest(&mut value);
            // Every value above is a well-formed object of its kind.
            Object::from_json(value).ok()
        })
        .collect()
}

/// The kinds of the console's objects outside the registry: the operator
/// watches them while the console is asked for or may still exist.
#[must_use]
pub fn dynamic_kinds() -> [Gvk; 3] {
    [
        Gvk::from_api_version("v1", "ServiceAccount"),
        Gvk::from_api_version("v1", "Service"),
        Gvk::from_api_version("networking.k8s.io/v1", "Ingress"),
    ]
}

/// Whether the console may exist or is asked for: its kinds are then
/// watched. It lives in an IntegrationConfig's namespace, and its
/// Deployment, always watched, exists whenever any of its objects does.
#[must_use]
pub fn in_play(snapshot: &Snapshot) -> bool {
    snapshot.shelf::<IntegrationConfig>().iter().any(|c| {
        let asked = c
            .spec
            .components
            .as_ref()
            .is_some_and(|c| !c["console"].is_null());
        let namespace = c.metadata.namespace.as_deref().unwrap_or_default();
        asked
            || snapshot
                .get::<k8s_openapi::api::apps::v1::Deployment>(namespace, CONSOLE_NAME)
                .is_some_and(|d| component_of(&d.metadata) == Some(CONSOLE))
    })
}

/// Every object of the console the view holds, of these kinds.
fn existing(snapshot: &Snapshot, kinds: &[Kind]) -> Vec<Object> {
    kinds
        .iter()
        .flat_map(|kind| snapshot.list(kind))
        .filter(|o| component_of(o.meta()) == Some(CONSOLE))
        .collect()
}

fn console_kinds() -> Vec<Kind> {
    let mut kinds = vec![Kind::Deployment, Kind::ClusterRoleBinding];
    kinds.extend(dynamic_kinds().into_iter().map(Kind::Dynamic));
    kinds
}

fn objects(n: usize) -> String {
    if n == 1 {
        "1 object".to_owned()
    } else {
        format!("{n} objects")
    }
}

/// Decides about the console from `config` (the IntegrationConfig in
/// force) and `snapshot`.
pub fn decide(
    config: &IntegrationConfig,
    settings: &PilotSettings,
    snapshot: &Snapshot,
    now: Timestamp,
) -> PilotDecision {
    let meta = &config.metadata;
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let regarding = ObjectRef::namespaced(
        Kind::IntegrationConfig,
        namespace,
        meta.name.as_deref().unwrap_or_default(),
    );
    let previous = config.status.as_ref();
    let from = previous
        .and_then(|s| s.console.as_ref())
        .and_then(|c| c.phase.as_deref())
        .and_then(PilotPhase::from_name)
        .unwrap_or(PilotPhase::INITIAL);
    // Until its kinds are listed, an object missing may merely be unseen.
    let unlisted = dynamic_kinds()
        .into_iter()
        .any(|gvk| !snapshot.is_listed(&Kind::Dynamic(gvk)));
    if unlisted && in_play(snapshot) {
        return Decision {
            from,
            phase: from,
            actions: Vec::new(),
            events: Vec::new(),
            requeue: Requeue::OnChange,
        };
    }
    let existing = existing(snapshot, &console_kinds());
    let mut actions = Vec::new();
    let (phase, ok, reason, message, url) = match console_spec(config, settings) {
        Err(problems) => {
            let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
            (
                PilotPhase::Misconfigured,
                false,
                "Misconfigured",
                format!(
                    "the console cannot be deployed as configured; what runs stays: {}",
                    listed.join("; ")
                ),
                None,
            )
        }
        Ok(None) => {
            for object in &existing {
                actions.push(Action::Delete {
                    target: object.object_ref(),
                    uid: object.meta().uid.clone(),
                    reason: Reason::Remove,
                });
            }
            // The Deployment goes last (see [`desired`]).
            actions.sort_by_key(|a| match a {
                Action::Delete { target, .. } => target.kind == Kind::Deployment,
                _ => false,
            });
            if actions.is_empty() {
                (PilotPhase::Off, false, "Off", String::new(), None)
            } else {
                (
                    PilotPhase::Removing,
                    false,
                    "Removing",
                    format!("removing {} of the console", objects(actions.len())),
                    None,
                )
            }
        }
        Ok(Some(spec)) => {
            let wanted = desired(&spec, settings, namespace);
            let mut taken = Vec::new();
            for object in &wanted {
                let target = object.object_ref();
                match snapshot.object(&target) {
                    None => actions.push(Action::Apply {
                        object: object.clone(),
                        reason: Reason::Create,
                    }),
                    Some(there) if component_of(there.meta()) != Some(CONSOLE) => {
                        taken.push(target.to_string());
                    }
                    // Edited by someone: the Deployment only as far as the
                    // view keeps it (not its pod template), the others whole.
                    Some(there) if !crate::apply::as_written(&there, object) => {
                        actions.push(Action::Apply {
                            object: object.clone(),
                            reason: Reason::Drift,
                        });
                    }
                    Some(_) => {}
                }
            }
            let kept: Vec<ObjectRef> = wanted.iter().map(Object::object_ref).collect();
            for object in &existing {
                if !kept.contains(&object.object_ref()) {
                    actions.push(Action::Delete {
                        target: object.object_ref(),
                        uid: object.meta().uid.clone(),
                        reason: Reason::Remove,
                    });
                }
            }
            let url = spec.url();
            if !taken.is_empty() {
                (
                    PilotPhase::Misconfigured,
                    false,
                    "NameTaken",
                    format!(
                        "objects mto did not make hold the console's names: {} (delete or rename them)",
                        taken.join(", ")
                    ),
                    url,
                )
            } else if !actions.is_empty() {
                (
                    PilotPhase::Deploying,
                    false,
                    "Deploying",
                    format!("writing {} of the console", objects(actions.len())),
                    url,
                )
            } else {
                let available = snapshot
                    .get::<k8s_openapi::api::apps::v1::Deployment>(namespace, CONSOLE_NAME)
                    .and_then(|d| d.status.as_ref())
                    .and_then(|s| s.available_replicas)
                    .unwrap_or(0);
                if available > 0 {
                    (
                        PilotPhase::Running,
                        true,
                        "Running",
                        "the console is available".to_owned(),
                        url,
                    )
                } else {
                    (
                        PilotPhase::Deploying,
                        false,
                        "Unavailable",
                        format!(
                            "waiting for the console's pod to be available (Deployment {namespace}/{CONSOLE_NAME})"
                        ),
                        url,
                    )
                }
            }
        }
    };
    // The console's part of the status; Vault's part is kept as it is.
    let mut status = previous.cloned().unwrap_or_default();
    if phase == PilotPhase::Off {
        // Nothing to report of a console never asked for.
        status.console = None;
        crate::conditions::set_condition(&mut status.conditions, "ConsoleReady", None);
        status.clear_if_unused();
    } else {
        let condition = crate::conditions::condition(
            &status.conditions,
            "ConsoleReady",
            ok,
            reason,
            message,
            meta.generation,
            now,
        );
        crate::conditions::set_condition(&mut status.conditions, "ConsoleReady", Some(condition));
        status.observed_generation = meta.generation;
        status.console = Some(ConsoleStatus {
            phase: Some(phase.name().to_owned()),
            url,
        });
    }
    // An IntegrationConfig without a console or Vault gets no status
    // write at all.
    if previous.is_none() && status == IntegrationConfigStatus::default() {
        return Decision {
            from,
            phase,
            actions,
            events: Vec::new(),
            requeue: Requeue::OnChange,
        };
    }
    let events = crate::conditions::write_status(
        &regarding,
        previous,
        status,
        |status| {
            let mut written = config.clone();
            written.status = Some(status);
            written.into()
        },
        &mut actions,
    );
    Decision {
        from,
        phase,
        actions,
        events,
        requeue: Requeue::OnChange,
    }
}
