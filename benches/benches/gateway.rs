//! The API gateway's reads at 1,000 tenants and 5,000 namespaces: what a
//! request costs once its token is verified — who the caller is among
//! the tenants, the page or the tenant, and its JSON.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mto_benches::converged_cluster;
use mto_model::access::{Access, Principal, access};
use mto_model::api::Tenant;
use mto_model::view::Observed as _;
use mto_runtime::console::session::Session;
use mto_runtime::console::{Visitor, render_dashboard};
use mto_runtime::gateway::api::{Caller, ListQuery, tenant_detail, tenant_page};

fn gateway(c: &mut Criterion) {
    let cluster = converged_cluster(1_000, 5);
    let tenants = || cluster.shelf::<Tenant>().iter().map(|t| &**t);
    let first = cluster.tenants().next().cloned().expect("a tenant");
    let name = first.metadata.name.clone().unwrap_or_default();
    let owner = Principal {
        user: first
            .spec
            .access_control
            .as_ref()
            .and_then(|a| a.owners.as_ref())
            .and_then(|o| o.users.first().cloned())
            .unwrap_or_default(),
        groups: vec!["developers".into()],
    };
    let member = access(&owner, tenants(), cluster.integration(), &[]);
    assert_eq!(
        tenant_page(&cluster, &member, &ListQuery::first(100)).total,
        1
    );
    assert_eq!(
        tenant_page(&cluster, &Access::Admin, &ListQuery::first(100)).total,
        1_000
    );
    let mut group = c.benchmark_group("gateway/1000-tenants-5000-namespaces");
    group.bench_function("who-the-caller-is", |b| {
        b.iter(|| black_box(access(&owner, tenants(), cluster.integration(), &[])))
    });
    group.bench_function("list-tenants-as-a-member", |b| {
        b.iter(|| {
            let access = access(&owner, tenants(), cluster.integration(), &[]);
            let page = tenant_page(&cluster, &access, &ListQuery::first(100));
            black_box(serde_json::to_vec(&page).map(|v| v.len()))
        })
    });
    group.bench_function("list-tenants-as-an-admin-page-of-100", |b| {
        b.iter(|| {
            let page = tenant_page(&cluster, &Access::Admin, &ListQuery::first(100));
            black_box(serde_json::to_vec(&page).map(|v| v.len()))
        })
    });
    group.bench_function("get-tenant-as-its-owner", |b| {
        b.iter(|| {
            let access = access(&owner, tenants(), cluster.integration(), &[]);
            let detail = tenant_detail(&cluster, &access, &name).map_err(|p| p.message);
            black_box(detail.map(|d| serde_json::to_vec(&d).map(|v| v.len())))
        })
    });
    // The console's dashboard, rendered on the server: a member's (one
    // tenant) and an admin's (every tenant's quota use).
    let visitor = |principal: Principal, access: Access| Visitor {
        caller: Caller { principal, access },
        session: Session {
            principal: Principal {
                user: String::new(),
                groups: Vec::new(),
            },
            csrf: "token".into(),
            id_token: None,
            expires: 0,
        },
    };
    let member_visitor = visitor(owner.clone(), member.clone());
    let admin_visitor = visitor(
        Principal {
            user: "root".into(),
            groups: Vec::new(),
        },
        Access::Admin,
    );
    assert!(render_dashboard(&cluster, &member_visitor, None).contains(&name));
    group.bench_function("console-dashboard-as-a-member", |b| {
        b.iter(|| black_box(render_dashboard(&cluster, &member_visitor, None).len()))
    });
    group.bench_function("console-dashboard-as-an-admin-of-1000-tenants", |b| {
        b.iter(|| black_box(render_dashboard(&cluster, &admin_visitor, None).len()))
    });
    group.finish();
}

criterion_group!(benches, gateway);
criterion_main!(benches);
