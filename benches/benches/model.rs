//! Decisions of the tenant planner.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mto_benches::{converged_cluster, empty_cluster, now, tenant_names, tenants};
use mto_model::api::Tenant;
use mto_model::tenant::{Settled, decide};
use mto_model::view::Snapshot;

fn one_tenant(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide/one-tenant");
    group.throughput(Throughput::Elements(1));
    let empty = empty_cluster(1, 5);
    let tenant = first_tenant(&empty);
    group.bench_function("from-scratch", |b| {
        b.iter(|| black_box(decide(&tenant, &empty, now())))
    });
    let steady = converged_cluster(1, 5);
    let tenant = first_tenant(&steady);
    assert!(
        decide(&tenant, &steady, now()).actions.is_empty(),
        "steady state has no actions"
    );
    group.bench_function("steady-state", |b| {
        b.iter(|| black_box(decide(&tenant, &steady, now())))
    });
    group.finish();
}

fn whole_cluster(c: &mut Criterion) {
    for count in [1_000, 10_000] {
        let mut group = c.benchmark_group(format!("decide/{count}-tenants-x5-namespaces"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(count as u64));
        let empty = empty_cluster(count, 5);
        group.bench_function("from-scratch", |b| {
            b.iter_batched(
                || (),
                |()| {
                    for t in tenants(&empty) {
                        let _ = black_box(decide(t, &empty, now()));
                    }
                },
                BatchSize::PerIteration,
            )
        });
        let steady = converged_cluster(count, 5);
        assert!(
            tenants(&steady).all(|t| decide(t, &steady, now()).actions.is_empty()),
            "steady state has no actions"
        );
        // What a pass over every tenant costs when nothing changed: each
        // settled tenant is skipped on its revision.
        group.bench_function("steady-state", |b| {
            let mut settled = settle(&steady);
            let names = tenant_names(&steady);
            b.iter(|| {
                for name in &names {
                    let _ = black_box(settled.decide(name, &steady, now()));
                }
            })
        });
        // The same pass planning every tenant afresh.
        group.bench_function("steady-state-recomputed", |b| {
            b.iter(|| {
                for t in tenants(&steady) {
                    let _ = black_box(decide(t, &steady, now()));
                }
            })
        });
        // The floor of planning afresh: reading, once, every object a
        // tenant's decision compares (its namespaces, their role bindings,
        // quota, limit range and network policy, its Quota), and nothing
        // else. Planning afresh within a small factor of it is the goal.
        group.bench_function("read-what-decisions-read", |b| {
            use k8s_openapi::api::networking::v1::NetworkPolicy;
            use mto_model::labels::{LIMIT_RANGE_NAME, NETWORK_POLICY_NAME, RESOURCE_QUOTA_NAME};
            use mto_model::view::Observed as _;
            use mto_model::view::{LimitRange, ResourceQuota, RoleBinding};
            b.iter(|| {
                let mut seen = 0usize;
                for t in tenants(&steady) {
                    let name = t.metadata.name.as_deref().unwrap_or_default();
                    if let Some(quota) = t.spec.quota.as_deref() {
                        seen += usize::from(steady.quota(quota).is_some());
                    }
                    for ns in steady.tenant_namespaces(name) {
                        let here = steady.in_namespace(ns);
                        seen += usize::from(here.namespace().is_some());
                        seen += here.owned_in::<RoleBinding>().count();
                        seen +=
                            usize::from(here.owned::<ResourceQuota>(RESOURCE_QUOTA_NAME).is_some());
                        seen += usize::from(here.owned::<LimitRange>(LIMIT_RANGE_NAME).is_some());
                        seen +=
                            usize::from(here.owned::<NetworkPolicy>(NETWORK_POLICY_NAME).is_some());
                    }
                }
                black_box(seen)
            })
        });
        group.finish();
    }
}

fn first_tenant(cluster: &Snapshot) -> Tenant {
    tenants(cluster).next().cloned().expect("a tenant")
}

/// Every tenant of a converged cluster, settled.
fn settle(cluster: &Snapshot) -> Settled {
    let mut settled = Settled::default();
    for name in tenant_names(cluster) {
        let decided = settled.decide(&name, cluster, now());
        assert!(
            decided.is_some_and(|d| d.actions.is_empty()),
            "{name} is steady"
        );
    }
    assert_eq!(settled.len(), tenant_names(cluster).len(), "all settled");
    settled
}

criterion_group!(benches, one_tenant, whole_cluster);
criterion_main!(benches);
