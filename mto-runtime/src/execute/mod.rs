//! Carries out the model's actions against a real cluster, whatever the
//! kind: server-side apply with the one field manager `mto`, status by
//! apply on the status subresource, uid-guarded deletes, and the patches
//! the model built. Every request goes through the dynamic API, with the
//! kind's group, version and plural from the registry of kinds, so a new
//! kind needs nothing here.

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch as KubePatch, PatchParams, Preconditions};
use kube::core::ApiResource;
use mto_model::action::{Action, Object, ObjectRef, Patch};
use mto_model::apiserver::ApiError;
use mto_model::labels::FIELD_MANAGER;
use mto_model::view::{Gvk, KindVisitor, Typed};
use serde_json::json;

/// Runs one action; the error says, in the model's terms, how it failed.
pub async fn execute(client: &Client, action: &Action) -> Result<(), ApiError> {
    let target = action.target();
    let api = api_for(client, &target)?;
    let name = target.name.as_str();
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let result = match action {
        Action::Apply { object, .. } => {
            let body = body(object, &target)?;
            api.patch(name, &apply, &KubePatch::Apply(body))
                .await
                .map(|_| ())
        }
        Action::ApplyStatus { object } => {
            let body = status_body(object, &target)?;
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
            patch: Patch::Finalizer(edit),
            ..
        } => {
            let ops: json_patch::Patch = serde_json::from_value(edit.to_json_patch())
                .map_err(|e| encode_error(&target, &e))?;
            api.patch(name, &PatchParams::default(), &KubePatch::<()>::Json(ops))
                .await
                .map(|_| ())
        }
    };
    result.map_err(|e| api_error(&target, e))
}

/// The dynamic API of the target's kind, in its namespace if it has one.
fn api_for(client: &Client, target: &ObjectRef) -> Result<Api<DynamicObject>, ApiError> {
    struct Resource;
    impl KindVisitor for Resource {
        type Output = Option<ApiResource>;
        fn typed<K: Typed>(&mut self) -> Option<ApiResource> {
            Some(ApiResource::erase::<K>(&()))
        }
        fn dynamic(&mut self, _: &Gvk) -> Option<ApiResource> {
            None
        }
    }
    let resource = target
        .kind
        .visit(&mut Resource)
        .ok_or_else(|| ApiError::Rejected {
            target: target.to_string(),
            message: "mto does not know where this kind is served yet".into(),
        })?;
    Ok(match target.namespace.as_deref() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    })
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
