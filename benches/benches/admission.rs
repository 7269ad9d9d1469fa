//! The webhook's decisions against a cluster of 10,000 tenants.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mto_benches::converged_cluster;
use mto_model::admission::review::{answer, read_review};
use mto_model::admission::{AdmissionRequest, Operation, UserInfo, admit};
use mto_model::view::{Gvk, Observed as _};
use serde_json::json;

fn requests(c: &mut Criterion) {
    let cluster = converged_cluster(10_000, 5);
    let tenant = cluster.tenants().next().cloned().expect("a tenant");
    let name = tenant.metadata.name.clone().unwrap_or_default();
    let owner = tenant
        .spec
        .access_control
        .as_ref()
        .and_then(|a| a.owners.as_ref())
        .and_then(|o| o.users.first().cloned())
        .unwrap_or_default();
    let user = UserInfo {
        username: owner,
        groups: vec!["system:authenticated".into()],
    };
    let mut group = c.benchmark_group("admission/10000-tenants");
    group.throughput(Throughput::Elements(1));
    let namespace = AdmissionRequest {
        operation: Operation::Create,
        user: user.clone(),
        kind: Gvk::from_api_version("v1", "Namespace"),
        name: format!("{name}-extra"),
        namespace: None,
        subresource: None,
        object: Some(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("{name}-extra"), "labels": {"stakater.com/tenant": name}}}),
        ),
        old_object: None,
    };
    assert!(admit(&namespace, &cluster).allowed());
    group.bench_function("namespace-create", |b| {
        b.iter(|| black_box(admit(&namespace, &cluster)))
    });
    let update = AdmissionRequest {
        operation: Operation::Update,
        user,
        kind: Gvk::from_api_version("tenantoperator.stakater.com/v1beta3", "Tenant"),
        name: name.clone(),
        namespace: None,
        subresource: None,
        object: Some(serde_json::to_value(&tenant).expect("json")),
        old_object: None,
    };
    assert!(
        admit(&update, &cluster).allowed(),
        "{:?}",
        admit(&update, &cluster)
    );
    group.bench_function("tenant-update", |b| {
        b.iter(|| black_box(admit(&update, &cluster)))
    });
    // What the webhook does per request: the review read from JSON,
    // decided, and answered as JSON.
    let review = serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0d6f1c4e-1b2a-4c3d-9e8f-7a6b5c4d3e2f", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Namespace"},
            "name": namespace.name, "userInfo": {"username": namespace.user.username, "groups": ["system:authenticated"]},
            "object": namespace.object
        }
    }))
    .expect("json");
    group.bench_function("review-read-decided-answered", |b| {
        b.iter(|| {
            let value: serde_json::Value = serde_json::from_slice(&review).expect("json");
            let read = read_review(&value).expect("review");
            let verdict = admit(&read.request, &cluster);
            black_box(serde_json::to_vec(&answer(&read.uid, &verdict)).expect("json"))
        })
    });
    group.finish();
}

/// The pooled quota's judgement: 5 namespaces, a ledger of 50
/// reservations (a busy tenant's).
fn pooled_quota(c: &mut Criterion) {
    use mto_model::admission::pooled::{
        Held, Ledger, Pool, Reservation, StatusUpdate, Usage, judge,
    };
    use mto_model::quantity::Quantity;
    let usage = |pods: i64, cpu: &str| -> Usage {
        [
            ("pods".to_owned(), Quantity::from_units(pods)),
            (
                "requests.cpu".to_owned(),
                Quantity::parse(cpu).expect("cpu"),
            ),
        ]
        .into()
    };
    let limits = usage(200, "40");
    let held: Vec<Held> = (0..5)
        .map(|i| Held {
            namespace: format!("alpha-ns{i}"),
            resource_version: format!("{}", 100 + i),
            used: usage(20, "4"),
        })
        .collect();
    let ledger = Ledger {
        reservations: (0..50)
            .map(|i| Reservation {
                namespace: format!("alpha-ns{}", i % 5),
                base: format!("{}", 100 + i % 5),
                used: [
                    ("pods".to_owned(), "21".to_owned()),
                    ("requests.cpu".to_owned(), "4100m".to_owned()),
                ]
                .into(),
                at: mto_benches::now(),
            })
            .collect(),
    };
    let update = StatusUpdate {
        namespace: "alpha-ns0".into(),
        base: "100".into(),
        old_used: usage(20, "4"),
        new_used: usage(21, "4100m"),
    };
    let pool = Pool {
        tenant: "alpha",
        quota: "large",
        limits: &limits,
    };
    let mut group = c.benchmark_group("admission/pooled-quota");
    group.throughput(Throughput::Elements(1));
    group.bench_function("judge-5-namespaces-50-reservations", |b| {
        b.iter(|| black_box(judge(&pool, &update, &held, &ledger, mto_benches::now())))
    });
    group.finish();
}

criterion_group!(benches, requests, pooled_quota);
criterion_main!(benches);
