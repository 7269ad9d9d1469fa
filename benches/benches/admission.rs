//! The webhook's decisions against a cluster of 10,000 tenants.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mto_benches::converged_cluster;
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
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
