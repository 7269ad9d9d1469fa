//! Template instances at scale: one ClusterTemplateInstance of five
//! objects over 1,000 tenant namespaces.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mto_model::action::Action;
use mto_model::apiserver::ApiServer;
use mto_model::template::{Instance, decide};
use mto_model::view::InstanceId;
use mto_sim::scenario::Scenario;
use mto_sim::sim::Sim;
use serde_json::json;

const NAMESPACES: usize = 1000;

fn template(greeting: &str) -> mto_model::view::Object {
    mto_model::view::Object::from_json(json!({
        "apiVersion": "templates.stakater.com/v1alpha1", "kind": "Template",
        "metadata": {"name": "five"},
        "parameters": [{"name": "GREETING", "value": greeting}],
        "resources": {"manifests": [
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny-ingress"},
             "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "info"},
             "data": {"greeting": "${GREETING} ${NAMESPACE}"}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "type": "Opaque",
             "stringData": {"tenant": "${TENANT}"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"level": "info"}},
        ]}
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// 1,000 tenant namespaces, the Template and its ClusterTemplateInstance;
/// nothing deployed.
fn cluster() -> ApiServer {
    let mut c = ApiServer::default();
    for i in 0..NAMESPACES {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": format!("t{:03}-ns{}", i / 5, i % 5),
            "labels": {"stakater.com/tenant": format!("t{:03}", i / 5)}}});
        put(
            &mut c,
            mto_model::view::Object::from_json(ns).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    put(&mut c, template("hello"));
    let instance = json!({"apiVersion": "templates.stakater.com/v1alpha1", "kind": "ClusterTemplateInstance",
        "metadata": {"name": "five"},
        "spec": {"template": "five", "sync": true, "selector": {"matchExpressions": [
            {"key": "stakater.com/tenant", "operator": "Exists"}]}}});
    put(
        &mut c,
        mto_model::view::Object::from_json(instance).unwrap_or_else(|e| panic!("{e}")),
    );
    c
}

fn put(c: &mut ApiServer, object: mto_model::view::Object) {
    c.put(object, mto_benches::now())
        .unwrap_or_else(|e| panic!("{e}"));
}

fn id() -> InstanceId {
    InstanceId::Cluster {
        name: "five".into(),
    }
}

/// Decides once and carries everything out; the object writes.
fn step(c: &mut ApiServer) -> usize {
    let now = mto_benches::now();
    let Some(instance) = Instance::find(c.snapshot(), &id()) else {
        return 0;
    };
    let actions = decide(instance, c.snapshot(), now).actions;
    for action in &actions {
        c.execute(action, now).unwrap_or_else(|e| panic!("{e}"));
    }
    actions
        .iter()
        .filter(|a| matches!(a, Action::Apply { .. } | Action::Delete { .. }))
        .count()
}

fn templates(c: &mut Criterion) {
    let mut group = c.benchmark_group("templates");
    group.sample_size(10);
    let empty = cluster();
    let decide_all = |c: &ApiServer| {
        let instance = Instance::find(c.snapshot(), &id()).unwrap_or_else(|| panic!("instance"));
        decide(instance, c.snapshot(), mto_benches::now())
    };
    group.bench_function("decide-5-objects-into-1000-namespaces", |b| {
        b.iter(|| {
            let d = decide_all(&empty);
            assert_eq!(
                d.actions.len(),
                5 * NAMESPACES + 2,
                "finalizer, objects, status"
            );
        })
    });
    let mut deployed = cluster();
    assert_eq!(step(&mut deployed), 5 * NAMESPACES, "one write per object");
    assert_eq!(step(&mut deployed), 0, "zero writes at rest");
    group.bench_function("decide-at-rest-1000-namespaces", |b| {
        b.iter(|| assert!(decide_all(&deployed).actions.is_empty()))
    });
    let mut edited = deployed.clone();
    put(&mut edited, template("bonjour"));
    assert_eq!(
        step(&mut edited),
        NAMESPACES,
        "an edit of one object: one write per namespace"
    );
    group.bench_function("decide-template-edit-1000-namespaces", |b| {
        let mut edited = deployed.clone();
        put(&mut edited, template("bonjour"));
        b.iter(|| assert_eq!(decide_all(&edited).actions.len(), NAMESPACES + 1))
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mto-sim/scenarios/templates-thousand-namespaces.yaml");
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("sim-1000-namespaces-converge-and-edit", |b| {
        b.iter(|| {
            let report = Sim::new(scenario.clone(), scenario.seed)
                .run(|_, _| {})
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.objects_deployed, 5 * NAMESPACES as u64);
        })
    });
    group.finish();
}

criterion_group!(benches, templates);
criterion_main!(benches);
