//! Carries out the model's actions against a real cluster: server-side
//! apply with the one field manager `mto`, uid-guarded deletes, merge
//! patches for what apply cannot express.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Client, Resource as KubeResource};
use mto_model::action::{Action, Kind, ObjectRef, Resource};
use mto_model::api::{ClusterResourceSupervisor, ResourceSupervisor, Tenant};
use mto_model::hibernation::{SupervisorAction, SupervisorId, WorkloadKind, WorkloadRef};
use mto_model::labels::{FIELD_MANAGER, TENANT_FINALIZER};
use serde::Serialize;
use serde_json::json;

/// Why an action failed; the variant names are stable (metric labels).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The apiserver refused or failed the call.
    #[error("{action}: {source}")]
    Api {
        /// The action, as text.
        action: String,
        /// The client error.
        source: kube::Error,
    },
    /// The object could not be serialized for apply.
    #[error("{action}: {source}")]
    Encode {
        /// The action, as text.
        action: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Runs one action.
pub async fn execute(client: &Client, action: &Action) -> Result<(), ExecuteError> {
    let api_error = |source| ExecuteError::Api {
        action: action.to_string(),
        source,
    };
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    match action {
        Action::Apply { object, .. } => match object {
            Resource::Namespace(o) => {
                apply_object(Api::<Namespace>::all(client.clone()), o, &apply, action).await
            }
            Resource::RoleBinding(o) => {
                apply_object(
                    namespaced::<RoleBinding>(client, &o.metadata.namespace),
                    o,
                    &apply,
                    action,
                )
                .await
            }
            Resource::ResourceQuota(o) => {
                apply_object(
                    namespaced::<ResourceQuota>(client, &o.metadata.namespace),
                    o,
                    &apply,
                    action,
                )
                .await
            }
            Resource::LimitRange(o) => {
                apply_object(
                    namespaced::<LimitRange>(client, &o.metadata.namespace),
                    o,
                    &apply,
                    action,
                )
                .await
            }
            Resource::ClusterResourceSupervisor(o) => {
                apply_object(
                    Api::<ClusterResourceSupervisor>::all(client.clone()),
                    o,
                    &apply,
                    action,
                )
                .await
            }
        },
        Action::Delete { target, uid, .. } => {
            let params = DeleteParams {
                preconditions: uid.clone().map(|uid| Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            let result = match target.kind {
                Kind::Namespace => Api::<Namespace>::all(client.clone())
                    .delete(&target.name, &params)
                    .await
                    .map(|_| ()),
                Kind::RoleBinding => namespaced::<RoleBinding>(client, &target.namespace)
                    .delete(&target.name, &params)
                    .await
                    .map(|_| ()),
                Kind::ResourceQuota => namespaced::<ResourceQuota>(client, &target.namespace)
                    .delete(&target.name, &params)
                    .await
                    .map(|_| ()),
                Kind::LimitRange => namespaced::<LimitRange>(client, &target.namespace)
                    .delete(&target.name, &params)
                    .await
                    .map(|_| ()),
                Kind::ClusterResourceSupervisor => {
                    Api::<ClusterResourceSupervisor>::all(client.clone())
                        .delete(&target.name, &params)
                        .await
                        .map(|_| ())
                }
                Kind::Tenant | Kind::Quota | Kind::IntegrationConfig => return Ok(()),
            };
            match result {
                // Already gone, or no longer the object observed: nothing to do.
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
                other => other.map_err(api_error),
            }
        }
        Action::RemoveLabels { target, keys, .. } => {
            let nulls: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .map(|k| (k.clone(), serde_json::Value::Null))
                .collect();
            let patch = Patch::Merge(json!({"metadata": {"labels": nulls}}));
            remove_labels(client, target, &patch)
                .await
                .map_err(api_error)
        }
        Action::AddFinalizer { tenant } | Action::RemoveFinalizer { tenant } => {
            let tenants = Api::<Tenant>::all(client.clone());
            let current = tenants.get(tenant).await.map_err(api_error)?;
            let mut finalizers: Vec<String> =
                current.metadata.finalizers.clone().unwrap_or_default();
            finalizers.retain(|f| f != TENANT_FINALIZER);
            if matches!(action, Action::AddFinalizer { .. }) {
                finalizers.push(TENANT_FINALIZER.into());
            }
            // The resource version makes this a compare-and-swap: a
            // concurrent change to the list is a conflict, retried from a
            // fresh observation, never lost.
            let patch = Patch::Merge(
                json!({"metadata": {"finalizers": finalizers, "resourceVersion": current.metadata.resource_version}}),
            );
            tenants
                .patch(tenant, &PatchParams::default(), &patch)
                .await
                .map(|_| ())
                .map_err(api_error)
        }
        Action::UpdateTenantStatus { tenant, status } => {
            let body = json!({"apiVersion": Tenant::api_version(&()), "kind": Tenant::kind(&()), "status": status});
            Api::<Tenant>::all(client.clone())
                .patch_status(tenant, &apply, &Patch::Apply(body))
                .await
                .map(|_| ())
                .map_err(api_error)
        }
    }
}

async fn remove_labels(
    client: &Client,
    target: &ObjectRef,
    patch: &Patch<serde_json::Value>,
) -> Result<(), kube::Error> {
    if target.kind != Kind::Namespace {
        return Ok(());
    }
    Api::<Namespace>::all(client.clone())
        .patch(&target.name, &PatchParams::default(), patch)
        .await
        .map(|_| ())
}

fn namespaced<K>(client: &Client, namespace: &Option<String>) -> Api<K>
where
    K: KubeResource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as KubeResource>::DynamicType: Default,
{
    Api::namespaced(client.clone(), namespace.as_deref().unwrap_or_default())
}

/// Server-side apply needs apiVersion and kind in the body.
async fn apply_object<K>(
    api: Api<K>,
    object: &K,
    params: &PatchParams,
    action: &Action,
) -> Result<(), ExecuteError>
where
    K: KubeResource + Serialize + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    <K as KubeResource>::DynamicType: Default,
{
    let mut body = serde_json::to_value(object).map_err(|source| ExecuteError::Encode {
        action: action.to_string(),
        source,
    })?;
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "apiVersion".into(),
            K::api_version(&Default::default()).into(),
        );
        map.insert("kind".into(), K::kind(&Default::default()).into());
    }
    let name = object.meta().name.clone().unwrap_or_default();
    api.patch(&name, params, &Patch::Apply(body))
        .await
        .map(|_| ())
        .map_err(|source| ExecuteError::Api {
            action: action.to_string(),
            source,
        })
}

/// Runs one supervisor action: scales are merge patches guarded by the
/// resourceVersion observed, so the count saved is the count replaced.
pub async fn execute_supervisor(
    client: &Client,
    action: &SupervisorAction,
) -> Result<(), ExecuteError> {
    use mto_model::labels::{
        OVERRIDE_ANNOTATION, SAVED_REPLICAS_ANNOTATION, SLEPT_BY_ANNOTATION, SUPERVISOR_FINALIZER,
    };
    let api_error = |source| ExecuteError::Api {
        action: action.to_string(),
        source,
    };
    let merge = PatchParams::default();
    match action {
        SupervisorAction::Sleep {
            workload,
            saved,
            supervisor,
            resource_version,
        } => {
            let patch = json!({
                "metadata": {
                    "resourceVersion": resource_version,
                    "annotations": {
                        SAVED_REPLICAS_ANNOTATION: saved.to_string(),
                        SLEPT_BY_ANNOTATION: supervisor,
                    }
                },
                "spec": {"replicas": 0}
            });
            patch_workload(client, workload, &patch)
                .await
                .map_err(api_error)
        }
        SupervisorAction::Wake {
            workload,
            replicas,
            resource_version,
        } => {
            let patch = json!({
                "metadata": {
                    "resourceVersion": resource_version,
                    "annotations": {
                        SAVED_REPLICAS_ANNOTATION: null,
                        SLEPT_BY_ANNOTATION: null,
                    }
                },
                "spec": {"replicas": replicas}
            });
            patch_workload(client, workload, &patch)
                .await
                .map_err(api_error)
        }
        SupervisorAction::AddFinalizer { supervisor }
        | SupervisorAction::RemoveFinalizer { supervisor } => {
            let adding = matches!(action, SupervisorAction::AddFinalizer { .. });
            let current = get_supervisor(client, supervisor)
                .await
                .map_err(api_error)?;
            let Some((meta, _)) = current else {
                return Ok(());
            };
            let mut finalizers = meta.finalizers.unwrap_or_default();
            finalizers.retain(|f| f != SUPERVISOR_FINALIZER);
            if adding {
                finalizers.push(SUPERVISOR_FINALIZER.into());
            }
            let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": meta.resource_version}});
            patch_supervisor(client, supervisor, &merge, &Patch::Merge(patch))
                .await
                .map_err(api_error)
        }
        SupervisorAction::EndOverride { supervisor } => {
            let patch = json!({"metadata": {"annotations": {OVERRIDE_ANNOTATION: null}}});
            patch_supervisor(client, supervisor, &merge, &Patch::Merge(patch))
                .await
                .map_err(api_error)
        }
        SupervisorAction::UpdateStatus { supervisor, status } => {
            let (api_version, kind) = match SupervisorId::parse(supervisor) {
                Some(SupervisorId::Namespaced { .. }) => (
                    ResourceSupervisor::api_version(&()).to_string(),
                    ResourceSupervisor::kind(&()).to_string(),
                ),
                _ => (
                    ClusterResourceSupervisor::api_version(&()).to_string(),
                    ClusterResourceSupervisor::kind(&()).to_string(),
                ),
            };
            let body = json!({"apiVersion": api_version, "kind": kind, "status": status});
            let apply = PatchParams::apply(FIELD_MANAGER).force();
            match SupervisorId::parse(supervisor) {
                Some(SupervisorId::Namespaced { namespace, name }) => {
                    Api::<ResourceSupervisor>::namespaced(client.clone(), &namespace)
                        .patch_status(&name, &apply, &Patch::Apply(body))
                        .await
                        .map(|_| ())
                }
                Some(SupervisorId::Cluster { name }) => {
                    Api::<ClusterResourceSupervisor>::all(client.clone())
                        .patch_status(&name, &apply, &Patch::Apply(body))
                        .await
                        .map(|_| ())
                }
                None => Ok(()),
            }
            .map_err(api_error)
        }
    }
}

async fn patch_workload(
    client: &Client,
    workload: &WorkloadRef,
    patch: &serde_json::Value,
) -> Result<(), kube::Error> {
    let params = PatchParams::default();
    let patch = Patch::Merge(patch);
    match workload.kind {
        WorkloadKind::Deployment => {
            Api::<Deployment>::namespaced(client.clone(), &workload.namespace)
                .patch(&workload.name, &params, &patch)
                .await
                .map(|_| ())
        }
        WorkloadKind::StatefulSet => {
            Api::<StatefulSet>::namespaced(client.clone(), &workload.namespace)
                .patch(&workload.name, &params, &patch)
                .await
                .map(|_| ())
        }
    }
}

async fn get_supervisor(
    client: &Client,
    key: &str,
) -> Result<
    Option<(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        (),
    )>,
    kube::Error,
> {
    Ok(match SupervisorId::parse(key) {
        Some(SupervisorId::Namespaced { namespace, name }) => {
            Api::<ResourceSupervisor>::namespaced(client.clone(), &namespace)
                .get_opt(&name)
                .await?
                .map(|s| (s.metadata, ()))
        }
        Some(SupervisorId::Cluster { name }) => {
            Api::<ClusterResourceSupervisor>::all(client.clone())
                .get_opt(&name)
                .await?
                .map(|s| (s.metadata, ()))
        }
        None => None,
    })
}

async fn patch_supervisor(
    client: &Client,
    key: &str,
    params: &PatchParams,
    patch: &Patch<serde_json::Value>,
) -> Result<(), kube::Error> {
    match SupervisorId::parse(key) {
        Some(SupervisorId::Namespaced { namespace, name }) => {
            Api::<ResourceSupervisor>::namespaced(client.clone(), &namespace)
                .patch(&name, params, patch)
                .await
                .map(|_| ())
        }
        Some(SupervisorId::Cluster { name }) => {
            Api::<ClusterResourceSupervisor>::all(client.clone())
                .patch(&name, params, patch)
                .await
                .map(|_| ())
        }
        None => Ok(()),
    }
}
