//! The requests the executor sends, checked against a mock API service.

use http::{Method, Request, Response};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::client::Body;
use mto_model::action::{FinalizerEdit, Kind, Reason};
use mto_model::api::{Tenant, TenantStatus};
use mto_model::hibernation::{sleep_patch, workload};
use serde_json::{Value, json};

use super::*;

/// What one request asked for.
struct Seen {
    method: Method,
    path_and_query: String,
    content_type: String,
    body: Value,
}

/// Runs `action` against a mock apiserver answering `status`; returns the
/// request it received and the executor's result.
async fn send(action: &Action, status: u16) -> (Seen, Result<(), ApiError>) {
    let (mut seen, results) = send_all(std::slice::from_ref(action), move |_| {
        (status, done(status))
    })
    .await;
    let Some(first) = seen.drain(..).next() else {
        panic!("no request");
    };
    let Some(result) = results.into_iter().next() else {
        panic!("no result");
    };
    (first, result)
}

/// What the mock apiserver answers a plain request: a Status.
fn done(status: u16) -> Value {
    if status < 300 {
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}})
    } else {
        json!({"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": status, "message": "refused", "reason": "Conflict"})
    }
}

/// Runs `actions` through one executor against a mock apiserver that
/// answers each request by its path; returns every request it received
/// and the executor's results.
async fn send_all(
    actions: &[Action],
    answer: impl Fn(&str) -> (u16, Value) + Send + 'static,
) -> (Vec<Seen>, Vec<Result<(), ApiError>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some((request, respond)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let path = parts.uri.path().to_owned();
            seen.push(Seen {
                method: parts.method,
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            });
            let (status, body) = answer(&path);
            let mut response =
                Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            respond.send_response(response);
        }
        seen
    });
    let executor = Executor::new(client);
    let mut results = Vec::new();
    for action in actions {
        results.push(executor.execute(action).await);
    }
    drop(executor);
    let seen = server.await.unwrap_or_else(|e| panic!("{e}"));
    (seen, results)
}

fn web() -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("dev".into()),
            resource_version: Some("41".into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(3),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_sleep_is_a_merge_patch_carrying_the_version_read_and_both_annotations() {
    let action = sleep_patch(&workload(&web()), 3, "ResourceSupervisor/dev/nightly");
    let (seen, result) = send(&action, 200).await;
    assert_eq!(result, Ok(()));
    assert_eq!(seen.method, Method::PATCH);
    assert_eq!(
        seen.path_and_query,
        "/apis/apps/v1/namespaces/dev/deployments/web?"
    );
    assert_eq!(seen.content_type, "application/merge-patch+json");
    assert_eq!(
        seen.body,
        json!({
            "metadata": {
                "annotations": {
                    "hibernation.stakater.com/replicas": "3",
                    "hibernation.stakater.com/slept-by": "ResourceSupervisor/dev/nightly"
                },
                "resourceVersion": "41"
            },
            "spec": {"replicas": 0}
        })
    );
}

#[tokio::test]
async fn a_status_goes_through_server_side_apply_on_the_status_subresource() {
    let mut tenant = Tenant::new("alpha", Default::default());
    tenant.status = Some(TenantStatus {
        phase: Some("Active".into()),
        ..Default::default()
    });
    let action = Action::ApplyStatus {
        object: tenant.into(),
    };
    let (seen, result) = send(&action, 200).await;
    assert_eq!(result, Ok(()));
    assert_eq!(seen.method, Method::PATCH);
    assert_eq!(
        seen.path_and_query,
        "/apis/tenantoperator.stakater.com/v1beta3/tenants/alpha/status?&force=true&fieldManager=mto"
    );
    assert_eq!(seen.content_type, "application/apply-patch+yaml");
    assert_eq!(
        seen.body,
        json!({
            "apiVersion": "tenantoperator.stakater.com/v1beta3",
            "kind": "Tenant",
            "metadata": {"name": "alpha"},
            "status": {"phase": "Active"}
        }),
        "nothing of the spec"
    );
}

#[tokio::test]
async fn an_apply_names_its_kind_and_the_field_manager() {
    let action = Action::Apply {
        object: web().into(),
        reason: Reason::Create,
    };
    let (seen, result) = send(&action, 201).await;
    assert_eq!(result, Ok(()));
    assert!(
        seen.path_and_query.contains("fieldManager=mto")
            && seen.path_and_query.contains("force=true"),
        "{}",
        seen.path_and_query
    );
    assert_eq!(seen.body["apiVersion"], "apps/v1");
    assert_eq!(seen.body["kind"], "Deployment");
}

#[tokio::test]
async fn a_delete_carries_the_uid_it_observed() {
    let action = Action::Delete {
        target: ObjectRef::namespaced(Kind::RoleBinding, "dev", "alpha-owner-admin"),
        uid: Some("0000-1".into()),
        reason: Reason::Remove,
    };
    let (seen, result) = send(&action, 200).await;
    assert_eq!(result, Ok(()));
    assert_eq!(seen.method, Method::DELETE);
    assert_eq!(
        seen.path_and_query,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings/alpha-owner-admin?"
    );
    assert_eq!(seen.body["preconditions"], json!({"uid": "0000-1"}));
}

#[tokio::test]
async fn a_finalizer_edit_is_a_json_patch_testing_the_list() {
    let tenant = Tenant::new("alpha", Default::default());
    let edit = FinalizerEdit::of(&tenant.metadata, "tenantoperator.stakater.com/tenant", true)
        .expect("an edit");
    let action = Action::Patch {
        target: ObjectRef::cluster(Kind::Tenant, "alpha"),
        patch: Patch::Finalizer(edit),
        reason: Reason::AddFinalizer,
    };
    let (seen, _) = send(&action, 200).await;
    assert_eq!(seen.content_type, "application/json-patch+json");
    assert_eq!(
        seen.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["tenantoperator.stakater.com/tenant"]},
        ])
    );
}

#[tokio::test]
async fn failures_are_told_by_their_class() {
    let action = Action::Apply {
        object: web().into(),
        reason: Reason::Drift,
    };
    for (status, reason) in [
        (409, "conflict"),
        (404, "not_found"),
        (429, "throttled"),
        (503, "unavailable"),
        (422, "rejected"),
    ] {
        let (_, result) = send(&action, status).await;
        assert_eq!(result.err().map(|e| e.reason()), Some(reason), "{status}");
    }
}

/// A kind outside the registry, as a template would bring it.
fn widget(namespace: Option<&str>, name: &str) -> Action {
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), json!(name));
    if let Some(namespace) = namespace {
        metadata.insert("namespace".into(), json!(namespace));
    }
    let object = Object::from_json(json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": metadata,
        "spec": {"size": 3},
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    Action::Apply {
        object,
        reason: Reason::Create,
    }
}

/// The discovery document of `example.com/v1`, serving namespaced Widgets.
fn example_group(path: &str) -> (u16, Value) {
    if path == "/apis/example.com/v1" {
        (
            200,
            json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": "example.com/v1",
                "resources": [{
                    "name": "widgets",
                    "singularName": "widget",
                    "namespaced": true,
                    "kind": "Widget",
                    "verbs": ["get", "list", "watch", "create", "patch", "delete"]
                }]
            }),
        )
    } else {
        (200, done(200))
    }
}

#[tokio::test]
async fn a_kind_outside_the_registry_is_discovered_once_and_applied_where_it_is_served() {
    let actions = [widget(Some("dev"), "a"), widget(Some("test"), "b")];
    let (seen, results) = send_all(&actions, example_group).await;
    assert_eq!(results, vec![Ok(()), Ok(())]);
    let paths: Vec<(&Method, &str)> = seen
        .iter()
        .map(|s| (&s.method, s.path_and_query.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            (&Method::GET, "/apis/example.com/v1"),
            (
                &Method::PATCH,
                "/apis/example.com/v1/namespaces/dev/widgets/a?&force=true&fieldManager=mto"
            ),
            (
                &Method::PATCH,
                "/apis/example.com/v1/namespaces/test/widgets/b?&force=true&fieldManager=mto"
            ),
        ]
    );
    assert_eq!(seen[1].content_type, "application/apply-patch+yaml");
    assert_eq!(seen[1].body["spec"], json!({"size": 3}));
}

#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_is_refused_with_the_fix_and_asked_again_later() {
    let actions = [widget(Some("dev"), "a"), widget(Some("dev"), "a")];
    let (seen, results) = send_all(&actions, |_| (404, done(404))).await;
    for result in &results {
        let Err(ApiError::Rejected { message, .. }) = result else {
            panic!("{result:?}");
        };
        assert!(message.contains("install the CRD"), "{message}");
        assert!(message.contains("example.com/v1"), "{message}");
    }
    // Nothing remembered: a CRD installed meanwhile is found next time.
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn a_namespaced_kind_without_a_namespace_is_refused_by_name() {
    let (seen, results) = send_all(&[widget(None, "a")], example_group).await;
    let Some(Err(ApiError::Rejected { message, .. })) = results.first() else {
        panic!("{results:?}");
    };
    assert_eq!(message, "Widget is namespaced: give metadata.namespace");
    assert_eq!(seen.len(), 1, "only discovery was asked");
}
