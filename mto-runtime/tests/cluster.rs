//! Tests against a real Kubernetes control plane. They run under
//! `deploy/testenv/run` (which `scripts/test` does), reading `KUBECONFIG`;
//! plain `cargo test` skips them as ignored.
//!
//! Tests share one cluster and run one at a time (`--test-threads=1`); each
//! uses its own names.

mod common;

use std::time::Duration;

use common::{client, ensure_namespaces, install_crds, kubectl, kubectl_ok, kubectl_stdin};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use mto_model::api::{
    ClusterResourceSupervisor, IntegrationConfig, Quota, ResourceSupervisor, Tenant,
};
use mto_model::view::Observed as _;

#[tokio::test]
#[ignore = "needs a control plane: deploy/testenv/run"]
async fn crds_install_and_examples_apply() {
    install_crds();
    let client = client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let ours = crds.list(&ListParams::default()).await.expect("list CRDs");
    let names: Vec<String> = ours
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .filter(|n| n.contains("stakater.com"))
        .collect();
    assert_eq!(names.len(), mto_model::api::crds().len(), "{names:?}");

    ensure_namespaces(&["mto-system", "alpha-dev"]);
    // Server-side dry run first: the apiserver's schema validation, strict field checks.
    kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "deploy/examples/",
    ]);
    kubectl_ok(&["apply", "--validate=strict", "-f", "deploy/examples/"]);

    // Read back with the Rust client, typed by mto-model.
    let tenants: Api<Tenant> = Api::all(client.clone());
    let mut names: Vec<String> = tenants
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|t| t.metadata.name)
        .collect();
    names.sort();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    let alpha = tenants.get("alpha").await.expect("alpha");
    let ns = alpha.spec.namespaces.expect("namespaces");
    assert_eq!(ns.with_tenant_prefix, ["dev", "staging", "prod"]);
    assert!(ns.sandboxes.is_some_and(|s| s.enabled && s.private));
    let quota: Api<Quota> = Api::all(client.clone());
    let small = quota.get("small").await.expect("quota small");
    assert!(small.spec.limitrange.is_some_and(|l| l.limits.len() == 2));
    let ic: Api<IntegrationConfig> = Api::namespaced(client.clone(), "mto-system");
    assert!(ic.get("tenant-operator-config").await.is_ok());
    let rs: Api<ResourceSupervisor> = Api::namespaced(client.clone(), "alpha-dev");
    assert_eq!(
        rs.get("nightly")
            .await
            .expect("rs")
            .spec
            .schedule
            .sleep_schedule,
        "30 21 * * *"
    );
    let crs: Api<ClusterResourceSupervisor> = Api::all(client);
    assert_eq!(
        crs.get("beta-nights-and-weekends")
            .await
            .expect("crs")
            .spec
            .schedule
            .time_zone
            .as_deref(),
        Some("Europe/Berlin")
    );
}

#[tokio::test]
#[ignore = "needs a control plane: deploy/testenv/run"]
async fn the_apiserver_rejects_invalid_manifests_with_the_field() {
    install_crds();
    let wrong_type = "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata:\n  name: wrong-type\nspec:\n  namespaces:\n    withTenantPrefix: dev\n";
    let (ok, out) = kubectl_stdin(&["apply", "-f", "-"], wrong_type);
    assert!(!ok, "accepted: {out}");
    assert!(
        out.contains("spec.namespaces.withTenantPrefix") && out.contains("array"),
        "{out}"
    );
    let unknown = "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata:\n  name: unknown-field\nspec:\n  namespace:\n    withTenantPrefix: [dev]\n";
    let (ok, out) = kubectl_stdin(&["apply", "--validate=strict", "-f", "-"], unknown);
    assert!(!ok, "accepted: {out}");
    assert!(out.contains("unknown field \"spec.namespace\""), "{out}");
}

/// What `mto validate` accepts in MTO's shapes, the apiserver accepts
/// against mto's CRDs; what it refuses as a type or unknown field, the
/// apiserver refuses too.
#[tokio::test]
#[ignore = "needs a control plane: deploy/testenv/run"]
async fn the_crds_accept_mtos_shapes_and_refuse_the_same_mistakes() {
    install_crds();
    ensure_namespaces(&["mto-system", "shapes-bluesky-dev", "shapes-bluesky-build"]);
    let out = kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "mto-runtime/tests/data/mto-shapes/",
    ]);
    assert_eq!(out.matches("(server dry run)").count(), 14, "{out}");
    for mistake in [
        "label-value-not-a-string.yaml",
        "capitalised-spec.yaml",
        "template-fields-under-spec.yaml",
    ] {
        let (ok, _, err) = kubectl(&[
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-f",
            &format!("mto-runtime/tests/data/mistakes/{mistake}"),
        ]);
        assert!(!ok, "{mistake} accepted");
        assert!(!err.is_empty(), "{mistake}: no reason given");
    }
}

#[tokio::test]
#[ignore = "needs a control plane: deploy/testenv/run"]
async fn rbac_impersonation_separates_namespaces() {
    ensure_namespaces(&["imp-a", "imp-b"]);
    let (ok, _, err) = kubectl(&[
        "create",
        "rolebinding",
        "alice-edit",
        "--clusterrole=edit",
        "--user=alice",
        "--group=team-a",
        "-n",
        "imp-a",
    ]);
    assert!(ok || err.contains("AlreadyExists"), "{err}");
    // The built-in aggregated roles (edit) are reconciled by the apiserver shortly after start.
    let can = |ns: &str| {
        kubectl(&[
            "auth",
            "can-i",
            "create",
            "deployments",
            "-n",
            ns,
            "--as",
            "alice",
        ])
        .1
        .trim()
        .to_owned()
    };
    let mut answer = can("imp-a");
    for _ in 0..50 {
        if answer == "yes" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        answer = can("imp-a");
    }
    assert_eq!(answer, "yes");
    assert_eq!(can("imp-b"), "no");
    // Not only the review: a real create as alice, allowed in one namespace and refused in the other.
    kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=registry.example.com/web:1",
        "-n",
        "imp-a",
        "--as",
        "alice",
    ]);
    let (ok, _, err) = kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=registry.example.com/web:1",
        "-n",
        "imp-b",
        "--as",
        "alice",
    ]);
    assert!(!ok && err.contains("forbidden"), "{err}");
    // Group membership through impersonation.
    let (_, out, _) = kubectl(&[
        "auth",
        "can-i",
        "get",
        "pods",
        "-n",
        "imp-a",
        "--as",
        "bob",
        "--as-group",
        "team-a",
    ]);
    assert_eq!(out.trim(), "yes");
}

/// The model's decisions, executed against the real apiserver with
/// server-side apply, converge the examples and then issue no writes: the
/// planner's reading of managedFields, quantities and defaulting holds for
/// a real cluster, not only the simulated one.
#[tokio::test]
#[ignore = "needs a control plane: deploy/testenv/run"]
async fn the_planner_converges_a_real_cluster_to_zero_writes() {
    install_crds();
    ensure_namespaces(&["mto-system", "alpha-dev"]);
    kubectl_ok(&["apply", "-f", "deploy/examples/"]);
    let client = client().await;
    let executor = mto_runtime::execute::Executor::new(client.clone());
    let mut last_round = usize::MAX;
    for round in 0..8 {
        let view = mto_runtime::operator::watch::observe(&client)
            .await
            .expect("observe");
        let cluster = view.snapshot();
        let mut writes = 0;
        for tenant in cluster.shelf::<mto_model::api::Tenant>().iter() {
            let decision = mto_model::tenant::decide(tenant, cluster, mto_model::Timestamp::now());
            for action in &decision.actions {
                writes += 1;
                if let Err(e) = executor.execute(action).await {
                    // As the operator does: stop this tenant, decide again from a fresh observation.
                    eprintln!("round {round}: {e}");
                    break;
                }
            }
        }
        eprintln!("round {round}: {writes} writes");
        last_round = writes;
        if writes == 0 {
            break;
        }
    }
    assert_eq!(
        last_round, 0,
        "a real cluster must reach zero writes at steady state"
    );

    let view = mto_runtime::operator::watch::observe(&client)
        .await
        .expect("observe");
    let cluster = view.snapshot();
    for name in ["alpha", "beta", "gamma"] {
        let phase = cluster
            .tenant(name)
            .and_then(|t| t.status.as_ref()?.phase.clone());
        assert_eq!(phase.as_deref(), Some("Active"), "tenant {name}");
    }
    let staging = cluster
        .namespace("alpha-staging")
        .expect("alpha-staging created");
    assert_eq!(
        staging
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("stakater.com/tenant"))
            .map(String::as_str),
        Some("alpha")
    );
    assert!(
        cluster
            .resource_quota("alpha-staging", "tenant-quota")
            .is_some()
    );
    // Isolation, as the apiserver's RBAC sees it.
    // The answer's first word: a "no" may come with why (a role mto
    // binds to that this cluster, installed without deploy/operator/, lacks).
    let can = |verb: &str, ns: &str, user: &str| {
        kubectl(&["auth", "can-i", verb, "deployments", "-n", ns, "--as", user])
            .1
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        can("create", "alpha-staging", "anna@example.com"),
        "yes",
        "alpha's owner in alpha"
    );
    assert_eq!(
        can("create", "beta-jobs", "anna@example.com"),
        "no",
        "alpha's owner in beta, where she only views"
    );
    assert_eq!(
        can("get", "beta-jobs", "anna@example.com"),
        "yes",
        "beta's viewer"
    );
    assert_eq!(
        can("create", "beta-jobs", "dmitri@example.com"),
        "yes",
        "beta's owner in beta"
    );
    assert_eq!(
        can("create", "alpha-staging", "dmitri@example.com"),
        "no",
        "beta's owner in alpha"
    );
    assert_eq!(
        can("get", "gamma-apps", "nobody@example.com"),
        "no",
        "a user in no tenant"
    );
    assert_eq!(
        can("create", "alpha-prod", "bo@example.com"),
        "no",
        "editors only view in production (custom roles)"
    );
}

/// A kind outside mto's registry — a core kind and a custom resource a
/// template might bring — is found by discovery and applied with mto's
/// field manager; a kind whose CRD is missing is refused with the fix,
/// and found once its CRD is installed.
#[tokio::test]
#[ignore = "needs a control plane: deploy/testenv/run"]
async fn kinds_outside_the_registry_are_discovered_and_applied() {
    use mto_model::action::{Action, Object, Reason};
    use mto_model::apiserver::ApiError;

    ensure_namespaces(&["widgets-dev"]);
    kubectl(&[
        "delete",
        "crd",
        "gadgets.example.mto.dev",
        "--ignore-not-found",
    ]);
    let executor = mto_runtime::execute::Executor::new(client().await);
    let apply = |value: serde_json::Value| Action::Apply {
        object: Object::from_json(value).expect("an object"),
        reason: Reason::Create,
    };
    let config_map = apply(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "widgets-dev"},
        "data": {"colour": "blue"},
    }));
    executor
        .execute(&config_map)
        .await
        .expect("a ConfigMap applies");
    assert_eq!(
        kubectl_ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "widgets-dev",
            "-o",
            "jsonpath={.data.colour} {.metadata.managedFields[0].manager}",
        ]),
        "blue mto"
    );

    let gadget = apply(serde_json::json!({
        "apiVersion": "example.mto.dev/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": "widgets-dev"},
        "spec": {"size": 3},
    }));
    let refused = executor.execute(&gadget).await;
    let Err(ApiError::Rejected { message, .. }) = &refused else {
        panic!("{refused:?}");
    };
    assert!(message.contains("install the CRD"), "{message}");

    let (ok, out) = kubectl_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.mto.dev
spec:
  group: example.mto.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#,
    );
    assert!(ok, "{out}");
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/gadgets.example.mto.dev",
    ]);
    let mut applied = executor.execute(&gadget).await;
    for _ in 0..20 {
        if applied.is_ok() {
            break;
        }
        // Discovery can lag the CRD's Established condition by a moment.
        tokio::time::sleep(Duration::from_millis(250)).await;
        applied = executor.execute(&gadget).await;
    }
    applied.expect("the Gadget applies once its CRD is installed");
    assert_eq!(
        kubectl_ok(&[
            "get",
            "gadgets.example.mto.dev",
            "g1",
            "-n",
            "widgets-dev",
            "-o",
            "jsonpath={.spec.size}",
        ]),
        "3"
    );
}
