//! The operator's view against the apiserver it watches: whatever happens
//! to the watch events (late, lost, duplicated, kinds interleaved in any
//! order), once every kind is re-listed the view holds exactly what the
//! apiserver holds, and answers every question the same.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mto_model::Timestamp;
use mto_model::action::Action;
use mto_model::api::{Tenant, TenantSpec};
use mto_model::apiserver::ApiServer;
use mto_model::claims::TenantIntake;
use mto_model::labels::{SLEPT_BY_ANNOTATION, TENANT_FINALIZER, TENANT_LABEL};
use mto_model::view::RoleBinding;
use mto_model::view::{Kind, Object, ObjectRef, Observed, Snapshot, View, WatchEvent};
use proptest::prelude::*;

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// Something a person does to the cluster.
#[derive(Clone, Debug)]
enum Write {
    /// A tenant asking for these namespaces, with mto's finalizer or not.
    Tenant(usize, Vec<usize>, bool),
    /// mto writes a tenant's status: the object changes, its spec not.
    TenantStatus(usize, usize),
    Namespace(usize, Option<usize>),
    Binding(usize, usize),
    Workload(usize, i32, bool),
    Delete(Kind, usize),
}

/// Something that happens to the watch events in flight.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// The oldest event of the kind arrives.
    Deliver(usize),
    /// It arrives twice.
    Duplicate(usize),
    /// It is lost.
    Drop(usize),
    /// The kind is re-listed now.
    Relist(usize),
}

fn write() -> impl Strategy<Value = Write> {
    let kinds = [
        Kind::Tenant,
        Kind::Namespace,
        Kind::RoleBinding,
        Kind::Deployment,
    ];
    prop_oneof![
        (
            0usize..4,
            prop::collection::vec(0usize..4, 0..3),
            any::<bool>()
        )
            .prop_map(|(t, ns, finalized)| Write::Tenant(t, ns, finalized)),
        (0usize..4, 0usize..4).prop_map(|(t, n)| Write::TenantStatus(t, n)),
        (0usize..4, prop::option::of(0usize..4)).prop_map(|(n, t)| Write::Namespace(n, t)),
        (0usize..4, 0usize..4).prop_map(|(n, s)| Write::Binding(n, s)),
        (0usize..4, 0i32..4, any::<bool>())
            .prop_map(|(n, r, asleep)| Write::Workload(n, r, asleep)),
        (prop::sample::select(kinds.to_vec()), 0usize..4).prop_map(|(k, n)| Write::Delete(k, n)),
    ]
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        6 => (0usize..4).prop_map(Delivery::Deliver),
        1 => (0usize..4).prop_map(Delivery::Duplicate),
        1 => (0usize..4).prop_map(Delivery::Drop),
        1 => (0usize..4).prop_map(Delivery::Relist),
    ]
}

fn now() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

fn carry_out(api: &mut ApiServer, write: &Write) {
    let meta = |name: &str, namespace: Option<&str>| ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_owned),
        ..Default::default()
    };
    let object: Object = match write {
        Write::Tenant(t, namespaces, finalized) => {
            let spec: TenantSpec = serde_json::from_value(serde_json::json!({
                "namespaces": {"withoutTenantPrefix": namespaces.iter().map(|n| NAMES[*n]).collect::<Vec<_>>()}
            }))
            .unwrap_or_default();
            let mut tenant = Tenant::new(NAMES[*t], spec);
            tenant.metadata.finalizers = finalized.then(|| vec![TENANT_FINALIZER.to_owned()]);
            tenant.into()
        }
        Write::TenantStatus(t, n) => {
            let mut tenant = Tenant::new(NAMES[*t], TenantSpec::default());
            tenant.status = Some(mto_model::api::TenantStatus {
                phase: Some(["Active", "Provisioning", "Degraded", "Unknown"][*n].to_owned()),
                namespaces: vec![NAMES[*n].to_owned()],
                ..Default::default()
            });
            let status = Action::ApplyStatus {
                object: tenant.into(),
            };
            // Refused while the tenant is not there: fine.
            let _ = api.execute(&status, now());
            return;
        }
        Write::Namespace(n, tenant) => {
            let mut m = meta(NAMES[*n], None);
            m.labels =
                tenant.map(|t| BTreeMap::from([(TENANT_LABEL.to_owned(), NAMES[t].to_owned())]));
            // A replace: the labels are exactly these.
            m.resource_version = api
                .snapshot()
                .namespace(NAMES[*n])
                .and_then(|ns| ns.metadata.resource_version.clone());
            Namespace {
                metadata: m,
                ..Default::default()
            }
            .into()
        }
        Write::Binding(n, subject) => RoleBinding {
            metadata: meta("rb", Some(NAMES[*n])).into(),
            subjects: Some(
                [k8s_openapi::api::rbac::v1::Subject {
                    kind: "User".into(),
                    name: NAMES[*subject].into(),
                    ..Default::default()
                }]
                .into(),
            ),
            ..Default::default()
        }
        .into(),
        Write::Workload(n, replicas, asleep) => {
            let mut m = meta("web", Some(NAMES[*n]));
            m.annotations = asleep.then(|| {
                BTreeMap::from([(
                    SLEPT_BY_ANNOTATION.to_owned(),
                    "ClusterResourceSupervisor/x".to_owned(),
                )])
            });
            m.resource_version = api
                .snapshot()
                .get::<Deployment>(NAMES[*n], "web")
                .and_then(|d| d.metadata.resource_version.clone());
            Deployment {
                metadata: m,
                spec: Some(DeploymentSpec {
                    replicas: Some(*replicas),
                    ..Default::default()
                }),
                ..Default::default()
            }
            .into()
        }
        Write::Delete(kind, n) => {
            let target = match kind {
                Kind::Namespace | Kind::Tenant => ObjectRef::cluster(kind.clone(), NAMES[*n]),
                Kind::RoleBinding => ObjectRef::namespaced(kind.clone(), NAMES[*n], "rb"),
                _ => ObjectRef::namespaced(kind.clone(), NAMES[*n], "web"),
            };
            let _ = api.delete(&target, None, now());
            api.finalize_namespaces();
            return;
        }
    };
    // Refusals (nothing in a namespace that is not there) are fine.
    let _ = api.put(object, now());
}

const WATCHED: [Kind; 4] = [
    Kind::Tenant,
    Kind::Namespace,
    Kind::RoleBinding,
    Kind::Deployment,
];

fn relist(view: &mut View, api: &ApiServer, kind: &Kind, inbox: &mut VecDeque<WatchEvent>) {
    // Events before the list are in it; the watch starts after.
    inbox.clear();
    view.fold(WatchEvent::Init(kind.clone()));
    for object in api.list(kind) {
        view.fold(WatchEvent::InitApply(object));
    }
    view.fold(WatchEvent::InitDone(kind.clone()));
}

/// What every controller may ask the view, asked of both.
fn answers(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for name in NAMES {
        out.push(format!("tenant {name}: {:?}", s.tenant(name)));
        out.push(format!(
            "intake of {name}: {:?}",
            s.tenant(name).map(|t| s.tenant_intake(t))
        ));
        out.push(format!(
            "namespaces of {name}: {:?}",
            s.tenant_namespaces(name).collect::<Vec<_>>()
        ));
        out.push(format!(
            "claimants of {name}: {:?}",
            s.claimants(name).collect::<Vec<_>>()
        ));
        out.push(format!("namespace {name}: {:?}", s.namespace(name)));
        out.push(format!(
            "bindings in {name}: {:?}",
            s.role_bindings(name).collect::<Vec<_>>()
        ));
        out.push(format!(
            "web in {name}: {:?}",
            s.get::<Deployment>(name, "web")
        ));
    }
    out.push(format!(
        "asleep: {:?}",
        s.slept_by("ClusterResourceSupervisor/x")
            .collect::<Vec<_>>()
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn after_a_relist_the_view_equals_the_store(
        steps in prop::collection::vec((write(), prop::collection::vec(delivery(), 0..4)), 1..40),
    ) {
        let mut api = ApiServer::default();
        let mut view = View::default();
        let mut inboxes: Vec<VecDeque<WatchEvent>> = vec![VecDeque::new(); WATCHED.len()];
        for kind in &WATCHED {
            view.fold(WatchEvent::InitDone(kind.clone()));
        }
        for (w, deliveries) in &steps {
            carry_out(&mut api, w);
            for change in api.drain_changes() {
                let kind = match &change.event {
                    WatchEvent::Apply(taken) => taken.object().kind(),
                    WatchEvent::Delete(o) => o.kind(),
                    _ => continue,
                };
                if let Some(i) = WATCHED.iter().position(|k| *k == kind) {
                    inboxes[i].push_back(change.event);
                }
            }
            for d in deliveries {
                match *d {
                    Delivery::Deliver(i) => {
                        if let Some(e) = inboxes[i].pop_front() {
                            view.fold(e);
                        }
                    }
                    Delivery::Duplicate(i) => {
                        if let Some(e) = inboxes[i].pop_front() {
                            view.fold(e.clone());
                            view.fold(e);
                        }
                    }
                    Delivery::Drop(i) => {
                        inboxes[i].pop_front();
                    }
                    Delivery::Relist(i) => relist(&mut view, &api, &WATCHED[i], &mut inboxes[i]),
                }
            }
        }
        for (i, kind) in WATCHED.iter().enumerate() {
            relist(&mut view, &api, kind, &mut inboxes[i]);
        }
        prop_assert!(view.synced() || !Kind::watched_kinds().all(|k| WATCHED.contains(k)));
        for kind in &WATCHED {
            prop_assert_eq!(view.snapshot().list_taken(kind), api.list(kind), "{}", kind);
        }
        prop_assert_eq!(answers(view.snapshot()), answers(api.snapshot()));
        for s in [view.snapshot(), api.snapshot()] {
            for tenant in s.tenants() {
                let intake = s.tenant_intake(tenant);
                prop_assert!(matches!(intake, Cow::Borrowed(_)), "kept beside the tenant");
                prop_assert_eq!(&*intake, &TenantIntake::of(tenant), "taken from its spec as it is");
                // A tenant not held (an equal copy) is read afresh.
                let copy = tenant.clone();
                prop_assert!(matches!(s.tenant_intake(&copy), Cow::Owned(_)));
            }
        }
    }
}
