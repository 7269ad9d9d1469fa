//! Carries out the model's actions against a real cluster, whatever the
//! kind: server-side apply with the one field manager `mto`, status by
//! apply on the status subresource, uid-guarded deletes, and the patches
//! the model built. Every request goes through the dynamic API: a kind in
//! the registry brings its group, version and plural; any other kind (a
//! template's) is looked up once by discovery and remembered. A new kind
//! needs nothing here.

use std::collections::BTreeMap;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch as KubePatch, PatchParams, Preconditions};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use mto_model::action::{Action, Object, ObjectRef, Patch};
use mto_model::apiserver::ApiError;
use mto_model::labels::FIELD_MANAGER;
use mto_model::view::{Gvk, KindVisitor, Typed};
use serde_json::json;
use tokio::sync::RwLock;

/// Carries out actions against one cluster, remembering where the kinds
/// outside the registry are served.
pub struct Executor {
    client: Client,
    /// Kinds found by discovery, with their scope. Only what the cluster
    /// serves is remembered: a kind missing now is looked up again next
    /// time, so installing its CRD is enough.
    discovered: RwLock<BTreeMap<Gvk, (ApiResource, Scope)>>,
}

impl Executor {
    /// An executor sending its requests through `client`.
    #[must_use]
    pub fn new(client: Client) -> Executor {
        Executor {
            client,
            discovered: RwLock::new(BTreeMap::new()),
        }
    }

    /// Runs one action; the error says, in the model's terms, how it failed.
    pub async fn execute(&self, action: &Action) -> Result<(), ApiError> {
        let target = action.target();
        if let Action::Patch {
            patch: Patch::SyncWindow(edit),
            ..
        } = action
        {
            return self.edit_sync_windows(&target, edit).await;
        }
        let api = self.api_for(&target).await?;
        run(&api, action, &target).await
    }

    /// Reads an Argo CD AppProject and replaces it at the version read,
    /// with mto's sync window added or removed: `spec.syncWindows` is one
    /// list the apiserver cannot merge, and its other windows are not
    /// mto's. A cluster without Argo CD, or without the project, has
    /// nothing to hold.
    async fn edit_sync_windows(
        &self,
        target: &ObjectRef,
        edit: &mto_model::action::SyncWindowEdit,
    ) -> Result<(), ApiError> {
        let mto_model::view::Kind::Dynamic(gvk) = &target.kind else {
            return Err(ApiError::Rejected {
                target: target.to_string(),
                message: "sync windows are edited in AppProjects only".into(),
            });
        };
        let Some((resource, _)) = self.served(gvk, target).await? else {
            tracing::debug!(%target, "Argo CD is not installed: no sync to hold");
            return Ok(());
        };
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            target.namespace.as_deref().unwrap_or_default(),
            &resource,
        );
        let name = target.name.as_str();
        let Some(project) = api.get_opt(name).await.map_err(|e| api_error(target, e))? else {
            tracing::debug!(%target, "no such AppProject: no sync to hold");
            return Ok(());
        };
        let mut json = serde_json::to_value(&project).map_err(|e| encode_error(target, &e))?;
        if !edit.apply(&mut json) {
            return Ok(());
        }
        let edited: DynamicObject =
            serde_json::from_value(json).map_err(|e| encode_error(target, &e))?;
        api.replace(name, &kube::api::PostParams::default(), &edited)
            .await
            .map(|_| ())
            .map_err(|e| api_error(target, e))
    }

    /// The dynamic API of the target's kind, in its namespace if the kind
    /// has namespaces.
    async fn api_for(&self, target: &ObjectRef) -> Result<Api<DynamicObject>, ApiError> {
        /// A registered kind's resource, or the kind to discover.
        struct Registered;
        impl KindVisitor for Registered {
            type Output = Result<ApiResource, Gvk>;
            fn typed<K: Typed>(&mut self) -> Result<ApiResource, Gvk> {
                Ok(ApiResource::erase::<K>(&()))
            }
            fn dynamic(&mut self, gvk: &Gvk) -> Result<ApiResource, Gvk> {
                Err(gvk.clone())
            }
        }
        let (resource, scope) = match target.kind.visit(&mut Registered) {
            Ok(resource) if target.kind.namespaced() == Some(false) => (resource, Scope::Cluster),
            Ok(resource) => (resource, Scope::Namespaced),
            Err(gvk) => self.discover(&gvk, target).await?,
        };
        match (scope, target.namespace.as_deref()) {
            (Scope::Namespaced, Some(namespace)) => Ok(Api::namespaced_with(
                self.client.clone(),
                namespace,
                &resource,
            )),
            (Scope::Namespaced, None) => Err(ApiError::Rejected {
                target: target.to_string(),
                message: format!("{} is namespaced: give metadata.namespace", resource.kind),
            }),
            (Scope::Cluster, _) => Ok(Api::all_with(self.client.clone(), &resource)),
        }
    }

    /// Where the cluster serves `gvk`, from discovery the first time.
    async fn discover(
        &self,
        gvk: &Gvk,
        target: &ObjectRef,
    ) -> Result<(ApiResource, Scope), ApiError> {
        self.served(gvk, target).await?.ok_or_else(|| ApiError::Rejected {
            target: target.to_string(),
            message: format!(
                "the cluster serves no {} in {}: install the CRD that defines it, or fix apiVersion and kind",
                gvk.kind,
                target.kind.api_version()
            ),
        })
    }

    /// Where the cluster serves `gvk`, or `None` when it does not; found
    /// by discovery once, then remembered.
    async fn served(
        &self,
        gvk: &Gvk,
        target: &ObjectRef,
    ) -> Result<Option<(ApiResource, Scope)>, ApiError> {
        if let Some(known) = self.discovered.read().await.get(gvk) {
            return Ok(Some(known.clone()));
        }
        let wanted = GroupVersionKind::gvk(&gvk.group, &gvk.version, &gvk.kind);
        let (resource, capabilities) =
            match kube::discovery::pinned_kind(&self.client, &wanted).await {
                Ok(found) => found,
                Err(kube::Error::Discovery(_)) => return Ok(None),
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
                Err(other) => return Err(api_error(target, other)),
            };
        // Only what is served is remembered: a CRD installed later is found.
        let found = (resource, capabilities.scope);
        self.discovered
            .write()
            .await
            .insert(gvk.clone(), found.clone());
        Ok(Some(found))
    }
}

/// Sends `action` through `api`.
async fn run(
    api: &Api<DynamicObject>,
    action: &Action,
    target: &ObjectRef,
) -> Result<(), ApiError> {
    let name = target.name.as_str();
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let result = match action {
        Action::Apply { object, .. } => {
            let body = body(object, target)?;
            api.patch(name, &apply, &KubePatch::Apply(body))
                .await
                .map(|_| ())
        }
        Action::ApplyStatus { object } => {
            let body = status_body(object, target)?;
            api.patch_status(name, &apply, &KubePatch::Apply(body))
                .await
                .map(|_| ())
        }
        Action::Delete { uid, .. } => {
            let params = DeleteParams {
                preconditions: uid.clone().map(|uid| Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            api.delete(name, &params).await.map(|_| ())
        }
        Action::Patch {
            patch: Patch::Merge(merge),
            ..
        } => api
            .patch(
                name,
                &PatchParams::default(),
                &KubePatch::Merge(merge.to_json()),
            )
            .await
            .map(|_| ()),
        Action::Patch {
            patch: Patch::SyncWindow(_),
            ..
        } => Err(kube::Error::Service(
            "sync windows are edited by Executor::edit_sync_windows".into(),
        )),
        Action::RenderChart { .. } => Err(kube::Error::Service(
            "charts are rendered by the operator's ChartRenderer, not the apiserver".into(),
        )),
        Action::Vault { .. } => Err(kube::Error::Service(
            "Vault is called by the operator's VaultClient, not the apiserver".into(),
        )),
        Action::Patch {
            patch: Patch::Finalizer(edit),
            ..
        } => {
            let ops: json_patch::Patch = serde_json::from_value(edit.to_json_patch())
                .map_err(|e| encode_error(target, &e))?;
            api.patch(name, &PatchParams::default(), &KubePatch::<()>::Json(ops))
                .await
                .map(|_| ())
        }
    };
    result.map_err(|e| api_error(target, e))
}

/// The body of a server-side apply: the object with its apiVersion and kind.
fn body(object: &Object, target: &ObjectRef) -> Result<serde_json::Value, ApiError> {
    object.to_json().map_err(|e| encode_error(target, &e))
}

/// The body of a status apply: only what names the object, and its status,
/// so mto's field manager owns nothing else through the status subresource.
fn status_body(object: &Object, target: &ObjectRef) -> Result<serde_json::Value, ApiError> {
    let full = body(object, target)?;
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), json!(target.name));
    if let Some(namespace) = &target.namespace {
        metadata.insert("namespace".into(), json!(namespace));
    }
    Ok(json!({
        "apiVersion": full.get("apiVersion"),
        "kind": full.get("kind"),
        "metadata": metadata,
        "status": full.get("status"),
    }))
}

fn encode_error(target: &ObjectRef, e: &serde_json::Error) -> ApiError {
    ApiError::Rejected {
        target: target.to_string(),
        message: format!("cannot be encoded: {e}"),
    }
}

/// A client error, by the class of its status.
fn api_error(target: &ObjectRef, error: kube::Error) -> ApiError {
    let target = target.to_string();
    match error {
        kube::Error::Api(status) => match status.code {
            404 => ApiError::NotFound(target),
            409 => ApiError::Conflict(target),
            429 => ApiError::Throttled(target),
            code if code >= 500 => ApiError::Unavailable {
                target,
                message: status.message,
            },
            _ => ApiError::Rejected {
                target,
                message: status.message,
            },
        },
        other => ApiError::Unavailable {
            target,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
