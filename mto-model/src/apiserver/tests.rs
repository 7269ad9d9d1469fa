use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{RoleRef, Subject};

use crate::view::RoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::*;
use crate::action::{MergePatch, Reason};
use crate::api::{Tenant, TenantSpec};
use crate::apply::MetadataField;
use crate::labels::MANAGED_BY_LABEL;

fn now() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn binding(namespace: &str, name: &str, subject: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some([("app.kubernetes.io/managed-by".to_owned(), "mto".to_owned())].into()),
            ..Default::default()
        }
        .into(),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "admin".into(),
        },
        subjects: Some(
            [Subject {
                kind: "User".into(),
                name: subject.into(),
                ..Default::default()
            }]
            .into(),
        ),
    }
}

fn apply(object: impl Into<Object>) -> Action {
    Action::Apply {
        object: object.into(),
        reason: Reason::Create,
    }
}

#[test]
fn a_stale_resource_version_is_a_conflict_and_loses_nothing() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    let read = api.snapshot().namespace("a").cloned().expect("a");
    // Someone else writes first.
    let mut theirs = read.clone();
    theirs.metadata.labels = Some([("x".to_string(), "1".to_string())].into());
    api.put(theirs.into(), now()).expect("put");
    let mut mine = read;
    mine.metadata.labels = Some([("x".to_string(), "2".to_string())].into());
    assert!(matches!(
        api.put(mine.into(), now()),
        Err(ApiError::Conflict(_))
    ));
    assert_eq!(
        api.snapshot()
            .namespace("a")
            .and_then(|n| n.metadata.labels.clone())
            .expect("labels")["x"],
        "1",
        "nothing lost"
    );
}

#[test]
fn generation_moves_on_spec_changes_only() {
    let mut api = ApiServer::default();
    api.put(Tenant::new("t", TenantSpec::default()).into(), now())
        .expect("put");
    let generation = |api: &ApiServer| {
        api.snapshot()
            .tenant("t")
            .and_then(|t| t.metadata.generation)
    };
    let mut t = api.snapshot().tenant("t").cloned().expect("t");
    t.metadata.resource_version = None;
    t.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
    api.put(t.clone().into(), now()).expect("put");
    assert_eq!(generation(&api), Some(1));
    t.spec.desc = Some("changed".into());
    api.put(t.into(), now()).expect("put");
    assert_eq!(generation(&api), Some(2));
}

#[test]
fn deleting_a_namespace_terminates_it_then_removes_what_it_holds() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    api.put(binding("a", "rb", "ann").into(), now())
        .expect("put");
    assert!(
        matches!(
            api.put(binding("b", "rb", "ann").into(), now()),
            Err(ApiError::Rejected { .. })
        ),
        "no namespace b"
    );
    api.delete(&ObjectRef::cluster(Kind::Namespace, "a"), None, now())
        .expect("deletes");
    assert!(
        api.snapshot()
            .namespace("a")
            .is_some_and(|n| n.metadata.deletion_timestamp.is_some()),
        "marked, not removed"
    );
    assert!(
        api.execute(&apply(binding("a", "other", "bo")), now())
            .is_err(),
        "nothing new in a terminating namespace"
    );
    assert_eq!(api.finalize_namespaces(), ["a"]);
    assert!(api.snapshot().namespace("a").is_none());
    assert_eq!(api.snapshot().role_bindings("a").count(), 0);
}

#[test]
fn the_garbage_collector_removes_orphans_only() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    api.put(Tenant::new("owner", TenantSpec::default()).into(), now())
        .expect("put");
    let owner_uid = api
        .snapshot()
        .tenant("owner")
        .and_then(|t| t.metadata.uid.clone())
        .expect("uid");
    let owned = |name: &str, uid: &str| {
        let mut rb = binding("a", name, "ann");
        rb.metadata.full_mut().owner_references = Some(vec![OwnerReference {
            uid: uid.into(),
            name: "owner".into(),
            kind: "Tenant".into(),
            api_version: "v1".into(),
            ..Default::default()
        }]);
        rb
    };
    api.put(owned("kept", &owner_uid).into(), now())
        .expect("put");
    api.put(owned("orphan", "no-such-uid").into(), now())
        .expect("put");
    api.put(binding("a", "free", "ann").into(), now())
        .expect("put");
    let removed: Vec<String> = api
        .collect_garbage(now())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(removed, ["RoleBinding/a/orphan"]);
    api.delete(&ObjectRef::cluster(Kind::Tenant, "owner"), None, now())
        .expect("deletes");
    let removed: Vec<String> = api
        .collect_garbage(now())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(removed, ["RoleBinding/a/kept"], "its owner is gone");
    assert_eq!(
        api.snapshot().role_bindings("a").count(),
        1,
        "objects without owners stay"
    );
}

#[test]
fn changes_come_in_resource_version_order_with_the_objects() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    api.put(namespace("b").into(), now()).expect("put");
    api.delete(&ObjectRef::cluster(Kind::Namespace, "a"), None, now())
        .expect("deletes");
    api.finalize_namespaces();
    let changes = api.drain_changes();
    let versions: Vec<u64> = changes.iter().map(|c| c.resource_version).collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    assert!(
        matches!(&changes[3].event, WatchEvent::Delete(o) if o.meta().name.as_deref() == Some("a"))
    );
    assert!(api.drain_changes().is_empty());
}

#[test]
fn applying_what_is_there_writes_nothing_and_dropped_fields_go() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    assert_eq!(
        api.execute(&apply(binding("a", "rb", "ann")), now()),
        Ok(true)
    );
    let writes = api.writes();
    assert_eq!(
        api.execute(&apply(binding("a", "rb", "ann")), now()),
        Ok(false)
    );
    assert_eq!(api.writes(), writes, "no write at steady state");
    let rb = api
        .snapshot()
        .get::<RoleBinding>("a", "rb")
        .cloned()
        .expect("rb");
    let owned_labels = |api: &ApiServer| {
        let snapshot = api.snapshot();
        let rb = snapshot.get::<RoleBinding>("a", "rb").expect("rb");
        snapshot
            .ownership::<RoleBinding>(&rb.metadata)
            .keys(&rb.metadata, MetadataField::Labels)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        owned_labels(&api),
        [MANAGED_BY_LABEL],
        "mto owns what it applied"
    );
    assert_eq!(
        rb.metadata.read().managed_fields(),
        None,
        "kept beside, not in the object"
    );
    // A label mto no longer applies goes; one someone else set stays.
    let mut theirs = rb.clone();
    theirs
        .metadata
        .full_mut()
        .labels
        .get_or_insert_with(Default::default)
        .insert("team".into(), "x".into());
    api.drain_changes();
    api.put(theirs.into(), now()).expect("put");
    assert_eq!(
        owned_labels(&api),
        [MANAGED_BY_LABEL],
        "someone else's write takes nothing from mto and gives it nothing"
    );
    let change = api.drain_changes().pop().expect("the put is logged");
    let WatchEvent::Apply(taken) = change.event else {
        panic!("a put is an apply: {change:?}");
    };
    assert_eq!(
        Some(taken),
        api.snapshot()
            .taken(&ObjectRef::namespaced(Kind::RoleBinding, "a", "rb")),
        "a watch hears of the object with what mto owns of it"
    );
    let mut less = binding("a", "rb", "ann");
    less.metadata.full_mut().labels = None;
    assert_eq!(api.execute(&apply(less), now()), Ok(true));
    let labels = api
        .snapshot()
        .get::<RoleBinding>("a", "rb")
        .and_then(|rb| rb.metadata.read().labels().cloned())
        .unwrap_or_default();
    assert_eq!(labels.keys().collect::<Vec<_>>(), ["team"]);
}

#[test]
fn a_role_bindings_role_ref_cannot_change() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    api.execute(&apply(binding("a", "rb", "ann")), now())
        .expect("applies");
    let mut other = binding("a", "rb", "ann");
    other.role_ref.name = "edit".into();
    assert!(matches!(
        api.execute(&apply(other), now()),
        Err(ApiError::Rejected { message, .. }) if message.contains("immutable")
    ));
}

#[test]
fn a_delete_guarded_by_uid_leaves_a_recreated_object_alone() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    api.execute(&apply(binding("a", "rb", "ann")), now())
        .expect("applies");
    let target = ObjectRef::namespaced(Kind::RoleBinding, "a", "rb");
    assert!(matches!(
        api.delete(&target, Some("not-its-uid"), now()),
        Err(ApiError::Conflict(_))
    ));
    assert!(api.snapshot().get::<RoleBinding>("a", "rb").is_some());
    assert!(matches!(
        api.delete(
            &ObjectRef::namespaced(Kind::RoleBinding, "a", "gone"),
            None,
            now()
        ),
        Err(ApiError::NotFound(_))
    ));
}

#[test]
fn a_patch_swaps_on_the_version_and_finalizers_hold_a_deletion() {
    let mut api = ApiServer::default();
    api.put(namespace("a").into(), now()).expect("put");
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("a".into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(3),
            ..Default::default()
        }),
        ..Default::default()
    };
    api.put(deployment.into(), now()).expect("put");
    let target = ObjectRef::namespaced(Kind::Deployment, "a", "web");
    let read = api
        .snapshot()
        .get::<Deployment>("a", "web")
        .cloned()
        .expect("web");
    let scale = |rv: Option<String>| Action::Patch {
        target: target.clone(),
        patch: Patch::Merge(MergePatch {
            replicas: Some(0),
            resource_version: rv,
            ..MergePatch::default()
        }),
        reason: Reason::Sleep,
    };
    let hold = |meta: &ObjectMeta, add: bool| Action::Patch {
        target: target.clone(),
        patch: Patch::Finalizer(
            crate::action::FinalizerEdit::of(meta, "hold", add).expect("an edit"),
        ),
        reason: Reason::AddFinalizer,
    };
    assert!(matches!(
        api.execute(&scale(Some("999".into())), now()),
        Err(ApiError::Conflict(_))
    ));
    assert_eq!(
        api.execute(&scale(read.metadata.resource_version.clone()), now()),
        Ok(true)
    );
    let web = api
        .snapshot()
        .get::<Deployment>("a", "web")
        .cloned()
        .expect("web");
    assert_eq!(web.spec.and_then(|s| s.replicas), Some(0));
    assert_eq!(web.metadata.generation, Some(2), "a spec change");
    assert_eq!(api.execute(&hold(&web.metadata, true), now()), Ok(true));
    assert!(
        matches!(
            api.execute(&hold(&web.metadata, true), now()),
            Err(ApiError::Conflict(_))
        ),
        "the list it observed changed"
    );
    api.delete(&target, None, now()).expect("deletes");
    let held = api
        .snapshot()
        .get::<Deployment>("a", "web")
        .cloned()
        .expect("held by its finalizer");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(api.execute(&hold(&held.metadata, false), now()), Ok(true));
    assert!(
        api.snapshot().get::<Deployment>("a", "web").is_none(),
        "released"
    );
}

#[test]
fn a_status_write_moves_no_generation() {
    let mut api = ApiServer::default();
    api.put(Tenant::new("t", TenantSpec::default()).into(), now())
        .expect("put");
    let mut body = Tenant::new("t", TenantSpec::default());
    body.status = Some(crate::api::TenantStatus {
        phase: Some("Active".into()),
        ..Default::default()
    });
    let write = Action::ApplyStatus {
        object: body.into(),
    };
    assert_eq!(api.execute(&write, now()), Ok(true));
    assert_eq!(api.execute(&write, now()), Ok(false));
    let t = api.snapshot().tenant("t").cloned().expect("t");
    assert_eq!(t.metadata.generation, Some(1));
    assert_eq!(t.status.and_then(|s| s.phase).as_deref(), Some("Active"));
}

/// A ConfigMap, a kind outside the registry, as mto would apply it.
fn settings(data: serde_json::Value) -> Object {
    Object::from_json(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "dev"},
        "data": data,
    }))
    .expect("a ConfigMap")
}

#[test]
fn a_kind_outside_the_registry_is_stored_applied_watched_and_deleted() {
    let mut api = ApiServer::default();
    api.put(namespace("dev").into(), now()).expect("namespace");
    api.drain_changes();
    let applied = apply(settings(serde_json::json!({"colour": "blue", "size": "3"})));
    assert_eq!(api.execute(&applied, now()), Ok(true));
    assert_eq!(api.execute(&applied, now()), Ok(false), "nothing to write");
    let target = applied.target();
    assert!(matches!(target.kind, Kind::Dynamic(_)), "{:?}", target.kind);
    let stored = api.snapshot().object(&target).expect("stored");
    assert_eq!(stored.meta().generation, Some(1));
    assert!(stored.meta().uid.is_some());

    // A person adds a key; mto drops one of its own.
    let mut edited = stored.to_json().expect("json");
    edited["data"]["owner"] = "ops".into();
    api.put(Object::from_json(edited).expect("object"), now())
        .expect("a person's write");
    let applied = apply(settings(serde_json::json!({"colour": "blue"})));
    assert_eq!(api.execute(&applied, now()), Ok(true));
    let stored = api.snapshot().object(&target).expect("stored");
    let json = stored.to_json().expect("json");
    assert_eq!(
        json["data"],
        serde_json::json!({"colour": "blue", "owner": "ops"})
    );

    // Every write reached the watch, and a view folding it holds the same.
    let mut view = crate::view::View::default();
    for change in api.drain_changes() {
        view.fold(change.event);
    }
    assert!(view.snapshot().same_objects(api.snapshot(), &target.kind));
    assert_eq!(api.list(&target.kind).len(), 1);

    assert_eq!(api.delete(&target, None, now()), Ok(true));
    assert!(api.snapshot().object(&target).is_none());
    for change in api.drain_changes() {
        view.fold(change.event);
    }
    assert!(view.snapshot().object(&target).is_none());
}

#[test]
fn deleting_a_namespace_takes_the_kinds_outside_the_registry_with_it() {
    let mut api = ApiServer::default();
    api.put(namespace("dev").into(), now()).expect("namespace");
    api.execute(&apply(settings(serde_json::json!({}))), now())
        .expect("apply");
    let target = apply(settings(serde_json::json!({}))).target();
    api.delete(&ObjectRef::cluster(Kind::Namespace, "dev"), None, now())
        .expect("delete");
    api.finalize_namespaces();
    assert!(api.snapshot().object(&target).is_none());
}

/// Carried out in place, an apply that creates stores the action's own
/// object, shared with it rather than copied, and stores exactly what an
/// apply from a shared object stores: the same identity, labels, the
/// apiserver's own label, and what mto owns. An action something else
/// holds is copied, and left as it was.
#[test]
fn an_apply_in_place_stores_the_actions_own_object() {
    fn same(a: &Object, b: &Object) -> bool {
        match (a, b) {
            (Object::Namespace(a), Object::Namespace(b)) => Arc::ptr_eq(a, b),
            (Object::RoleBinding(a), Object::RoleBinding(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
    let writes = || {
        let mut labelled = namespace("a");
        labelled.metadata.labels = Some(
            [
                (MANAGED_BY_LABEL.to_owned(), "mto".to_owned()),
                (crate::labels::TENANT_LABEL.to_owned(), "t".to_owned()),
            ]
            .into(),
        );
        [apply(labelled), apply(binding("a", "admins", "ann"))]
    };
    let mut copied = ApiServer::default();
    let mut in_place = ApiServer::default();
    for (write, mut own) in writes().into_iter().zip(writes()) {
        assert_eq!(copied.execute(&write, now()), Ok(true));
        assert_eq!(in_place.execute_in_place(&mut own, now()), Ok(true));
        let Action::Apply { object, .. } = &own else {
            unreachable!("an apply stays an apply");
        };
        let target = object.object_ref();
        let stored = in_place.snapshot().object(&target).expect("stored");
        assert!(
            same(&stored, object),
            "{target}: the action holds the stored object"
        );
        assert_eq!(Some(&stored), copied.snapshot().object(&target).as_ref());
        let owned = |api: &ApiServer| api.snapshot().taken(&target).map(|t| t.into_parts().1);
        assert_eq!(
            owned(&in_place),
            owned(&copied),
            "{target}: mto owns the same keys"
        );
    }
    let stored = in_place.snapshot().namespace("a").cloned().expect("a");
    let owned = in_place
        .snapshot()
        .taken(&ObjectRef::of::<Namespace>(&stored.metadata))
        .map(|t| t.into_parts().1)
        .expect("taken");
    let owns = |key| owned.owns(&stored.metadata, MetadataField::Labels, key);
    assert!(
        stored
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(crate::labels::NAMESPACE_NAME_LABEL)),
        "the apiserver's own label is set"
    );
    assert!(!owns(crate::labels::NAMESPACE_NAME_LABEL), "and not mto's");
    assert!(owns(MANAGED_BY_LABEL) && owns(crate::labels::TENANT_LABEL));

    // A shared action is copied: what the caller still holds is unchanged.
    let held = apply(binding("a", "viewers", "bob"));
    let mut write = held.clone();
    assert_eq!(in_place.execute_in_place(&mut write, now()), Ok(true));
    let (Action::Apply { object: before, .. }, Action::Apply { object: after, .. }) =
        (&held, &write)
    else {
        unreachable!("applies");
    };
    assert_eq!(
        before.meta().uid,
        None,
        "the caller's copy keeps no identity"
    );
    assert!(
        after.meta().uid.is_some(),
        "the action holds the stored object"
    );
}
