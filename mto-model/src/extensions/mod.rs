//! The Extensions machine: a tenant's Argo CD AppProject, kept as its
//! Extensions object and the IntegrationConfig ask.
//!
//! Rules (README, "Extensions: Argo CD"):
//! - One AppProject per Extensions object with `spec.argoCD`, named after
//!   the tenant, in the namespace `integrations.argocd.namespace` names:
//!   destinations are the tenant's namespaces on the cluster itself (they
//!   follow the namespaces as they come and go), roles `<tenant>-owner`,
//!   `<tenant>-edit` and `<tenant>-view` bound to the tenant's groups,
//!   the source repositories, and the cluster-resource whitelist and
//!   namespace-resource blacklist (the Extensions' own lists, else the
//!   IntegrationConfig's).
//! - What mto wrote is compared by digest (an annotation), so an
//!   unchanged project costs no write; an AppProject of that name that mto
//!   did not make for this Extensions object is never taken over.
//! - A missing tenant, setting or namespace is a condition saying which
//!   and how to fix it; nothing is deleted on doubt.
//! - Deleting the Extensions object deletes the AppProject only with
//!   `onDeletePurgeAppProject: true`; otherwise it is left in place. A
//!   finalizer holds the object until that is done.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Timestamp;
use crate::action::{Action, Decision, FinalizerEdit, Patch, Reason, Requeue};
use crate::api::{ArgoCdStatus, Extensions, ExtensionsStatus, GroupKind, Tenant};
use crate::integration::read_block;
use crate::labels::{
    EXTENSIONS_ANNOTATION, EXTENSIONS_FINALIZER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, TENANT_LABEL,
    is_managed,
};
use crate::machine::Phase;
use crate::validation::FieldError;
use crate::view::{Gvk, Kind, Object, ObjectRef, Observed as _, Snapshot};

#[cfg(test)]
mod tests;

/// The cluster the AppProject's destinations are on: the one mto runs in.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Where a tenant's AppProject stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArgoPhase {
    /// Waiting for what it is made from (the tenant, settled).
    Pending,
    /// As asked (written last, after the AppProject's write landed).
    Synced,
    /// Cannot be carried out as configured; what exists stays.
    Failed,
    /// The Extensions object is being deleted: its AppProject goes (when
    /// purged) before it does.
    Removing,
}

impl Phase for ArgoPhase {
    const ALL: &'static [ArgoPhase] = &[
        ArgoPhase::Pending,
        ArgoPhase::Synced,
        ArgoPhase::Failed,
        ArgoPhase::Removing,
    ];
    const INITIAL: ArgoPhase = ArgoPhase::Pending;
    const TRANSITIONS: &'static [(ArgoPhase, ArgoPhase)] = {
        use ArgoPhase::{Failed, Pending, Removing, Synced};
        &[
            (Pending, Synced),
            (Pending, Failed),
            (Pending, Removing),
            (Synced, Failed),
            (Synced, Pending),
            (Synced, Removing),
            (Failed, Synced),
            (Failed, Pending),
            (Failed, Removing),
        ]
    };

    /// Removing ends with the object gone.
    fn is_resting(self) -> bool {
        true
    }

    fn name(self) -> &'static str {
        match self {
            ArgoPhase::Pending => "Pending",
            ArgoPhase::Synced => "Synced",
            ArgoPhase::Failed => "Failed",
            ArgoPhase::Removing => "Removing",
        }
    }
}

/// A decision about a tenant's AppProject.
pub type ArgoDecision = Decision<ArgoPhase>;

/// `spec.integrations.argocd` of the IntegrationConfig.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Integrations {
    #[serde(default)]
    argocd: Option<ArgoCdIntegration>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ArgoCdIntegration {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    cluster_resource_whitelist: Vec<GroupKind>,
    #[serde(default)]
    namespace_resource_blacklist: Vec<GroupKind>,
}

/// The kind of Argo CD's projects.
#[must_use]
pub fn app_project_kind() -> Gvk {
    Gvk::from_api_version("argoproj.io/v1alpha1", "AppProject")
}

/// Whether any Extensions object asks for an AppProject: the operator then
/// watches AppProjects.
#[must_use]
pub fn in_play(snapshot: &Snapshot) -> bool {
    snapshot
        .shelf::<Extensions>()
        .iter()
        .any(|e| e.spec.argo_cd.is_some())
}

/// Whether mto keeps `object` for the Extensions object `name`.
fn kept_for_it(object: &Object, name: &str) -> bool {
    is_managed(object.meta())
        && object
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(EXTENSIONS_ANNOTATION))
            .is_some_and(|n| n == name)
}

/// The AppProjects mto keeps for the Extensions object `name`.
fn kept_for<'a>(snapshot: &'a Snapshot, name: &'a str) -> impl Iterator<Item = Object> + 'a {
    snapshot
        .list(&Kind::Dynamic(app_project_kind()))
        .into_iter()
        .filter(move |o| kept_for_it(o, name))
}

/// The tenant's AppProject as mto writes it.
pub fn app_project(
    extensions: &Extensions,
    tenant: &Tenant,
    namespaces: &[&str],
    argo_namespace: &str,
    whitelist: &[GroupKind],
    blacklist: &[GroupKind],
) -> Result<Object, serde_json::Error> {
    let name = extensions.metadata.name.as_deref().unwrap_or_default();
    let t = tenant.metadata.name.as_deref().unwrap_or_default();
    let argo = extensions.spec.argo_cd.clone().unwrap_or_default();
    let project = argo.app_project.unwrap_or_default();
    let access = tenant.spec.access_control.clone().unwrap_or_default();
    let groups = |s: Option<crate::api::Subjects>| s.map(|s| s.groups).unwrap_or_default();
    let policy = |role: &str, action: &str| {
        format!("p, proj:{t}:{t}-{role}, applications, {action}, {t}/*, allow")
    };
    let role = |role: &str, actions: &[&str], groups: Vec<String>| {
        json!({
            "name": format!("{t}-{role}"),
            "description": format!("{role} of tenant {t}"),
            "policies": actions.iter().map(|a| policy(role, a)).collect::<Vec<_>>(),
            "groups": groups,
        })
    };
    let destinations: Vec<Value> = namespaces
        .iter()
        .map(|ns| json!({"namespace": ns, "server": IN_CLUSTER}))
        .collect();
    let lists = |own: &[GroupKind], config: &[GroupKind]| {
        let chosen = if own.is_empty() { config } else { own };
        chosen
            .iter()
            .map(|g| json!({"group": g.group, "kind": g.kind}))
            .collect::<Vec<Value>>()
    };
    let mut value = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {
            "name": t,
            "namespace": argo_namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, TENANT_LABEL: t},
        },
        "spec": {
            "description": format!("Tenant {t}, kept by mto"),
            "destinations": destinations,
            "sourceRepos": project.source_repos,
            "clusterResourceWhitelist": lists(&project.cluster_resource_whitelist, whitelist),
            "namespaceResourceBlacklist": lists(&project.namespace_resource_blacklist, blacklist),
            "roles": [
                role("owner", &["*"], groups(access.owners)),
                role("edit", &["get", "create", "update", "sync", "action/*"], groups(access.editors)),
                role("view", &["get"], groups(access.viewers)),
            ],
        },
    });
    value["metadata"]["annotations"] = json!({EXTENSIONS_ANNOTATION: name});
    crate::apply::stamp_digest(&mut value);
    Object::from_json(value)
}

/// What the decision found, for its status.
struct Found {
    phase: ArgoPhase,
    ok: bool,
    reason: &'static str,
    message: String,
    argo_namespace: Option<String>,
}

impl Found {
    fn failed(reason: &'static str, problem: &FieldError, argo_namespace: Option<String>) -> Found {
        Found {
            phase: ArgoPhase::Failed,
            ok: false,
            reason,
            message: format!("{problem}; nothing is changed until it is fixed"),
            argo_namespace,
        }
    }
}

/// Decides about `extensions`' AppProject from `snapshot`.
pub fn decide(extensions: &Extensions, snapshot: &Snapshot, now: Timestamp) -> ArgoDecision {
    let meta = &extensions.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    let regarding = ObjectRef::cluster(Kind::Extensions, name);
    let previous = extensions.status.as_ref();
    let from = previous
        .and_then(|s| s.argocd.as_ref())
        .and_then(|a| a.app_project_state.as_deref())
        .and_then(ArgoPhase::from_name)
        .unwrap_or(ArgoPhase::INITIAL);
    let unchanged = |phase| Decision {
        from,
        phase,
        actions: Vec::new(),
        events: Vec::new(),
        requeue: Requeue::OnChange,
    };
    let finalizer = |add: bool| {
        FinalizerEdit::of(meta, EXTENSIONS_FINALIZER, add).map(|edit| Action::Patch {
            target: regarding.clone(),
            patch: Patch::Finalizer(edit),
            reason: if add {
                Reason::AddFinalizer
            } else {
                Reason::RemoveFinalizer
            },
        })
    };
    let listed = snapshot.is_listed(&Kind::Dynamic(app_project_kind()));
    let Some(argo) = &extensions.spec.argo_cd else {
        // No AppProject asked for: nothing to hold the object for.
        let mut d = unchanged(from);
        d.actions.extend(finalizer(false));
        return d;
    };
    if meta.deletion_timestamp.is_some() {
        if !argo.on_delete_purge_app_project {
            let mut d = unchanged(from);
            d.actions.extend(finalizer(false));
            return d;
        }
        if !listed {
            return unchanged(from);
        }
        let mut actions: Vec<Action> = kept_for(snapshot, name)
            .map(|o| Action::Delete {
                target: o.object_ref(),
                uid: o.meta().uid.clone(),
                reason: Reason::Purge,
            })
            .collect();
        if actions.is_empty() {
            actions.extend(finalizer(false));
        }
        return Decision {
            from,
            phase: ArgoPhase::Removing,
            actions,
            events: Vec::new(),
            requeue: Requeue::OnChange,
        };
    }
    // A tenant being provisioned settles in moments: nothing is written
    // until it has (a tenant that cannot settle rests Degraded, and its
    // project is made then).
    let tenant_settling = extensions
        .spec
        .tenant_name
        .as_deref()
        .and_then(|t| snapshot.tenant(t))
        .is_some_and(|t| {
            !t.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .and_then(crate::tenant::TenantPhase::from_name)
                .is_some_and(|p| p.is_resting())
        });
    if tenant_settling {
        return unchanged(from);
    }
    let mut actions: Vec<Action> = finalizer(true).into_iter().collect();
    let found = (|| {
        let integration = snapshot
            .integration_configs()
            .next()
            .map(|c| read_block::<Integrations>(c.spec.integrations.as_ref(), "spec.integrations"))
            .transpose();
        let config = match integration {
            Err(problem) => return Found::failed("Misconfigured", &problem, None),
            Ok(i) => i.and_then(|i| i.argocd),
        };
        let Some(argo_namespace) = config
            .as_ref()
            .and_then(|c| c.namespace.clone())
            .filter(|n| !n.is_empty())
        else {
            let problem = FieldError {
                path: "IntegrationConfig spec.integrations.argocd.namespace".into(),
                problem: "missing".into(),
                fix: "set it to the namespace Argo CD runs in".into(),
            };
            return Found::failed("Misconfigured", &problem, None);
        };
        let Some(tenant_name) = extensions.spec.tenant_name.as_deref() else {
            let problem = FieldError {
                path: "spec.tenantName".into(),
                problem: "missing".into(),
                fix: "name the tenant this AppProject is for".into(),
            };
            return Found::failed("Misconfigured", &problem, Some(argo_namespace));
        };
        let Some(tenant) = snapshot.tenant(tenant_name) else {
            return Found {
                phase: ArgoPhase::Pending,
                ok: false,
                reason: "TenantMissing",
                message: format!(
                    "tenant {tenant_name:?} does not exist (yet); the AppProject waits for it"
                ),
                argo_namespace: Some(argo_namespace),
            };
        };
        if !listed {
            return Found {
                phase: from,
                ok: false,
                reason: "Listing",
                message: "listing the cluster's AppProjects".into(),
                argo_namespace: Some(argo_namespace),
            };
        }
        let mut namespaces: Vec<&str> = snapshot.tenant_namespaces(tenant_name).collect();
        namespaces.sort_unstable();
        let config = config.unwrap_or_default();
        let desired = match app_project(
            extensions,
            tenant,
            &namespaces,
            &argo_namespace,
            &config.cluster_resource_whitelist,
            &config.namespace_resource_blacklist,
        ) {
            Ok(desired) => desired,
            Err(e) => {
                let problem = FieldError {
                    path: "spec.argoCD".into(),
                    problem: format!("the AppProject cannot be written: {e}"),
                    fix: "check the repositories and kinds it lists".into(),
                };
                return Found::failed("Misconfigured", &problem, Some(argo_namespace));
            }
        };
        let target = desired.object_ref();
        for stray in kept_for(snapshot, name).filter(|o| o.object_ref() != target) {
            actions.push(Action::Delete {
                target: stray.object_ref(),
                uid: stray.meta().uid.clone(),
                reason: Reason::Remove,
            });
        }
        match snapshot.object(&target) {
            Some(there) if !kept_for_it(&there, name) => {
                return Found {
                    phase: ArgoPhase::Failed,
                    ok: false,
                    reason: "NameTaken",
                    message: format!(
                        "{target} exists and mto did not make it for this Extensions object (rename or delete it)"
                    ),
                    argo_namespace: Some(argo_namespace),
                };
            }
            // Unchanged by mto and by anyone else.
            Some(there) if crate::apply::as_written(&there, &desired) => {}
            Some(_) => actions.push(Action::Apply {
                object: desired,
                reason: Reason::Drift,
            }),
            None => actions.push(Action::Apply {
                object: desired,
                reason: Reason::Create,
            }),
        }
        Found {
            phase: ArgoPhase::Synced,
            ok: true,
            reason: "Synced",
            message: format!(
                "AppProject {argo_namespace}/{tenant_name} over {} namespaces",
                namespaces.len()
            ),
            argo_namespace: Some(argo_namespace),
        }
    })();
    let condition = crate::conditions::condition(
        previous
            .and_then(|s| s.argocd.as_ref())
            .map(|a| a.conditions.as_slice())
            .unwrap_or_default(),
        "AppProjectReady",
        found.ok,
        found.reason,
        found.message,
        meta.generation,
        now,
    );
    let status = ExtensionsStatus {
        conditions: previous.map(|s| s.conditions.clone()).unwrap_or_default(),
        observed_generation: meta.generation,
        argocd: Some(ArgoCdStatus {
            app_project_state: Some(found.phase.name().to_owned()),
            argo_namespace: found.argo_namespace,
            conditions: vec![condition],
        }),
    };
    let events = crate::conditions::write_status(
        &regarding,
        previous,
        status,
        |status| {
            let mut written = extensions.clone();
            written.status = Some(status);
            written.into()
        },
        &mut actions,
    );
    Decision {
        from,
        phase: found.phase,
        actions,
        events,
        requeue: Requeue::OnChange,
    }
}
