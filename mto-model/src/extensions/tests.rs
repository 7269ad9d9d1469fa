use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::apiserver::ApiServer;
use crate::machine::allowed;

fn now() -> Timestamp {
    "2026-12-02T10:00:00Z".parse().expect("time")
}

fn put(c: &mut ApiServer, value: Value) {
    let object = Object::from_json(value).expect("object");
    c.put(object, now()).unwrap_or_else(|e| panic!("{e}"));
}

fn config(c: &mut ApiServer, argocd: Value) {
    put(
        c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
               "metadata": {"name": "config", "namespace": "mto-system"},
               "spec": {"integrations": {"argocd": argocd}}}),
    );
}

fn namespace(c: &mut ApiServer, name: &str, tenant: Option<&str>) {
    let labels = tenant.map_or(json!({}), |t| json!({TENANT_LABEL: t}));
    put(
        c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
    );
}

fn extensions(c: &mut ApiServer, purge: bool, repos: &[&str]) {
    put(
        c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1alpha1", "kind": "Extensions",
               "metadata": {"name": "alpha-argo"},
               "spec": {"tenantName": "alpha", "argoCD": {"onDeletePurgeAppProject": purge,
                        "appProject": {"sourceRepos": repos}}}}),
    );
}

/// Tenant alpha (owners group alpha-leads, viewers group alpha-auditors)
/// with two namespaces, Argo CD in `argocd`, and alpha's Extensions.
fn cluster() -> ApiServer {
    let mut c = ApiServer::default();
    for ns in ["mto-system", "argocd"] {
        namespace(&mut c, ns, None);
    }
    config(
        &mut c,
        json!({"namespace": "argocd",
               "clusterResourceWhitelist": [{"group": "tronador.stakater.com", "kind": "EnvironmentProvisioner"}],
               "namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}]}),
    );
    put(
        &mut c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": "alpha"},
               "spec": {"accessControl": {"owners": {"users": ["anna"], "groups": ["alpha-leads"]},
                                          "viewers": {"groups": ["alpha-auditors"]}},
                        "namespaces": {"withTenantPrefix": ["dev", "build"]}}}),
    );
    namespace(&mut c, "alpha-dev", Some("alpha"));
    namespace(&mut c, "alpha-build", Some("alpha"));
    extensions(&mut c, false, &["https://github.com/example/gitops"]);
    let pending = decide(the_extensions(&c).expect("extensions"), c.snapshot(), now());
    assert!(
        pending.actions.is_empty(),
        "nothing until the tenant settles"
    );
    tenant_settles(&mut c);
    c
}

/// The tenant machine finished with alpha.
fn tenant_settles(c: &mut ApiServer) {
    let mut tenant = c.snapshot().tenant("alpha").cloned().expect("alpha");
    tenant.status = Some(crate::api::TenantStatus {
        phase: Some("Active".into()),
        ..Default::default()
    });
    let settled = Action::ApplyStatus {
        object: tenant.into(),
    };
    c.execute(&settled, now()).expect("status");
}

fn the_extensions(c: &ApiServer) -> Option<&Extensions> {
    c.snapshot().get("", "alpha-argo")
}

/// Decides and carries out until nothing is left; the phases.
fn settle(c: &mut ApiServer) -> Vec<ArgoPhase> {
    let mut phases = Vec::new();
    for _ in 0..10 {
        let Some(e) = the_extensions(c) else {
            return phases;
        };
        let d = decide(e, c.snapshot(), now());
        assert!(allowed(d.from, d.phase), "{:?} → {:?}", d.from, d.phase);
        phases.push(d.phase);
        if d.actions.is_empty() {
            return phases;
        }
        for action in &d.actions {
            c.execute(action, now())
                .unwrap_or_else(|e| panic!("{action}: {e}"));
        }
    }
    panic!("did not settle: {phases:?}");
}

fn project(c: &ApiServer) -> Option<Value> {
    let target = ObjectRef::namespaced(Kind::Dynamic(app_project_kind()), "argocd", "alpha");
    c.snapshot().object(&target)?.to_json().ok()
}

fn destinations(c: &ApiServer) -> Vec<String> {
    project(c)
        .map(|p| {
            p["spec"]["destinations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["namespace"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn condition(c: &ApiServer) -> (String, String) {
    let status = the_extensions(c)
        .and_then(|e| e.status.clone())
        .unwrap_or_default();
    let argocd = status.argocd.unwrap_or_default();
    argocd
        .conditions
        .first()
        .map(|c| (c.reason.clone(), c.message.clone()))
        .unwrap_or_default()
}

#[test]
fn the_machine_is_sound() {
    crate::machine::assert_sound::<ArgoPhase>();
}

#[test]
fn a_tenant_gets_an_app_project_over_its_namespaces_with_its_roles() {
    let mut c = cluster();
    let phases = settle(&mut c);
    assert_eq!(
        phases,
        [ArgoPhase::Synced, ArgoPhase::Synced],
        "written, then nothing to do"
    );
    let p = project(&c).expect("AppProject");
    assert_eq!(destinations(&c), ["alpha-build", "alpha-dev"]);
    assert_eq!(p["spec"]["destinations"][0]["server"], IN_CLUSTER);
    assert_eq!(
        p["spec"]["sourceRepos"],
        json!(["https://github.com/example/gitops"])
    );
    assert_eq!(
        p["spec"]["clusterResourceWhitelist"],
        json!([{"group": "tronador.stakater.com", "kind": "EnvironmentProvisioner"}]),
        "the IntegrationConfig's list, the Extensions naming none"
    );
    assert_eq!(
        p["spec"]["namespaceResourceBlacklist"],
        json!([{"group": "", "kind": "ResourceQuota"}])
    );
    let roles = p["spec"]["roles"].as_array().expect("roles");
    let names: Vec<&str> = roles.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["alpha-owner", "alpha-edit", "alpha-view"]);
    assert_eq!(roles[0]["groups"], json!(["alpha-leads"]));
    assert_eq!(
        roles[0]["policies"],
        json!(["p, proj:alpha:alpha-owner, applications, *, alpha/*, allow"])
    );
    assert_eq!(roles[2]["groups"], json!(["alpha-auditors"]));
    assert_eq!(
        roles[2]["policies"],
        json!(["p, proj:alpha:alpha-view, applications, get, alpha/*, allow"])
    );
    let status = the_extensions(&c)
        .and_then(|e| e.status.clone())
        .unwrap_or_default();
    let argocd = status.argocd.unwrap_or_default();
    assert_eq!(argocd.app_project_state.as_deref(), Some("Synced"));
    assert_eq!(argocd.argo_namespace.as_deref(), Some("argocd"));
    let writes = c.writes();
    let e = the_extensions(&c).expect("extensions");
    assert!(decide(e, c.snapshot(), now()).actions.is_empty(), "steady");
    assert_eq!(c.writes(), writes);
}

#[test]
fn destinations_follow_the_tenants_namespaces() {
    let mut c = cluster();
    settle(&mut c);
    namespace(&mut c, "alpha-test", Some("alpha"));
    settle(&mut c);
    assert_eq!(destinations(&c), ["alpha-build", "alpha-dev", "alpha-test"]);
    // The namespace moves to another tenant.
    namespace(&mut c, "alpha-dev", Some("beta"));
    settle(&mut c);
    assert_eq!(destinations(&c), ["alpha-build", "alpha-test"]);
}

#[test]
fn the_extensions_own_lists_win_over_the_integration_configs() {
    let mut c = cluster();
    put(
        &mut c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1alpha1", "kind": "Extensions",
               "metadata": {"name": "alpha-argo"},
               "spec": {"tenantName": "alpha", "argoCD": {"appProject": {
                   "sourceRepos": ["*"],
                   "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}}}}),
    );
    settle(&mut c);
    let p = project(&c).expect("AppProject");
    assert_eq!(
        p["spec"]["clusterResourceWhitelist"],
        json!([{"group": "*", "kind": "*"}])
    );
    assert_eq!(
        p["spec"]["namespaceResourceBlacklist"],
        json!([{"group": "", "kind": "ResourceQuota"}]),
        "the config's where the Extensions names none"
    );
}

#[test]
fn deleted_without_purge_the_app_project_stays_and_with_purge_it_goes() {
    let mut c = cluster();
    settle(&mut c);
    let target = ObjectRef::cluster(Kind::Extensions, "alpha-argo");
    c.delete(&target, None, now()).expect("deleted");
    settle(&mut c);
    assert!(the_extensions(&c).is_none(), "the finalizer let go");
    assert!(
        project(&c).is_some(),
        "kept without onDeletePurgeAppProject"
    );

    extensions(&mut c, true, &[]);
    settle(&mut c);
    c.delete(&target, None, now()).expect("deleted");
    let phases = settle(&mut c);
    assert_eq!(phases.first(), Some(&ArgoPhase::Removing));
    assert!(project(&c).is_none(), "purged");
    assert!(the_extensions(&c).is_none());
}

#[test]
fn what_is_missing_is_named_and_nothing_is_deleted_on_doubt() {
    let mut c = cluster();
    settle(&mut c);
    config(&mut c, json!({"clusterResourceWhitelist": []}));
    settle(&mut c);
    let (reason, message) = condition(&c);
    assert_eq!(reason, "Misconfigured");
    assert!(
        message.contains("spec.integrations.argocd.namespace"),
        "{message}"
    );
    assert!(project(&c).is_some(), "kept");

    config(
        &mut c,
        json!({"namespace": "argocd", "clusterResourceWhitelist": "all"}),
    );
    settle(&mut c);
    let (_, message) = condition(&c);
    assert!(
        message.contains("spec.integrations.argocd.clusterResourceWhitelist"),
        "{message}"
    );
    assert!(project(&c).is_some(), "kept");

    config(&mut c, json!({"namespace": "argocd"}));
    let target = ObjectRef::cluster(Kind::Tenant, "alpha");
    c.delete(&target, None, now()).expect("deleted");
    settle(&mut c);
    let (reason, _) = condition(&c);
    assert_eq!(reason, "TenantMissing");
    assert!(project(&c).is_some(), "kept while the tenant is missing");
}

#[test]
fn an_app_project_mto_did_not_make_is_not_taken_over() {
    let mut c = cluster();
    put(
        &mut c,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
               "metadata": {"name": "alpha", "namespace": "argocd"},
               "spec": {"sourceRepos": ["*"]}}),
    );
    settle(&mut c);
    assert_eq!(condition(&c).0, "NameTaken");
    let p = project(&c).expect("theirs");
    assert_eq!(p["spec"]["sourceRepos"], json!(["*"]), "left as it was");
}

/// What a platform team and the tenant might do next.
#[derive(Clone, Debug)]
enum Step {
    AddNamespace(&'static str),
    DropNamespace(&'static str),
    Repos(Vec<&'static str>),
    Purge(bool),
    BreakConfig,
    FixConfig,
}

fn step() -> impl Strategy<Value = Step> {
    let ns = prop::sample::select(vec!["alpha-a", "alpha-b", "alpha-dev"]);
    prop_oneof![
        ns.clone().prop_map(Step::AddNamespace),
        ns.prop_map(Step::DropNamespace),
        prop::collection::vec(prop::sample::select(vec!["r1", "r2", "*"]), 0..3)
            .prop_map(Step::Repos),
        any::<bool>().prop_map(Step::Purge),
        Just(Step::BreakConfig),
        Just(Step::FixConfig),
    ]
}

proptest! {
    /// Whatever happens, and wherever a crash cuts a decision's writes
    /// short: at rest the AppProject's destinations are the tenant's
    /// namespaces (when the configuration is whole), a broken
    /// configuration deletes nothing, a settled project decides nothing,
    /// and deleting the Extensions keeps or purges it as asked.
    #[test]
    fn the_app_project_follows_the_tenant_through_crashes(
        steps in prop::collection::vec((step(), 0usize..4), 1..8),
    ) {
        let mut c = cluster();
        settle(&mut c);
        let mut purge = false;
        let mut broken = false;
        for (step, crash_after) in &steps {
            match step {
                Step::AddNamespace(ns) => namespace(&mut c, ns, Some("alpha")),
                Step::DropNamespace(ns) => namespace(&mut c, ns, Some("beta")),
                Step::Repos(repos) => extensions(&mut c, purge, repos),
                Step::Purge(p) => {
                    purge = *p;
                    extensions(&mut c, purge, &[]);
                }
                Step::BreakConfig => {
                    broken = true;
                    config(&mut c, json!({}));
                }
                Step::FixConfig => {
                    broken = false;
                    config(&mut c, json!({"namespace": "argocd"}));
                }
            }
            let before = project(&c).is_some();
            if let Some(e) = the_extensions(&c) {
                let d = decide(e, c.snapshot(), now());
                for action in d.actions.iter().take(*crash_after) {
                    c.execute(action, now()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            settle(&mut c);
            let e = the_extensions(&c).expect("extensions");
            prop_assert!(decide(e, c.snapshot(), now()).actions.is_empty(), "steady");
            if broken {
                prop_assert_eq!(project(&c).is_some(), before, "nothing deleted on doubt");
            } else {
                let mut want: Vec<String> =
                    c.snapshot().tenant_namespaces("alpha").map(str::to_owned).collect();
                want.sort();
                prop_assert_eq!(destinations(&c), want);
            }
        }
        let exists = project(&c).is_some();
        c.delete(&ObjectRef::cluster(Kind::Extensions, "alpha-argo"), None, now())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        settle(&mut c);
        prop_assert!(the_extensions(&c).is_none());
        prop_assert_eq!(project(&c).is_some(), exists && !purge);
    }
}
