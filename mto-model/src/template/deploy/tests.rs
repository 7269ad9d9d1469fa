use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::api::{ClusterTemplateInstance, ClusterTemplateInstanceSpec, TemplateParameter};
use crate::apiserver::ApiServer;
use crate::labels::TENANT_LABEL;
use crate::machine::allowed;
use crate::view::{InstanceId, Kind};

fn now() -> Timestamp {
    "2026-12-02T10:00:00Z".parse().expect("time")
}

fn put(c: &mut ApiServer, object: impl Into<Object>) {
    c.put(object.into(), now())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A person sets a namespace's tenant label (or removes it), replacing
/// what they read.
fn label(c: &mut ApiServer, name: &str, tenant: Option<&str>) {
    let mut ns = namespace(name, tenant);
    if let Some(current) = c.snapshot().get::<Namespace>("", name) {
        ns.metadata.resource_version = current.metadata.resource_version.clone();
    }
    put(c, ns);
}

fn namespace(name: &str, tenant: Option<&str>) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: tenant.map(|t| [(TENANT_LABEL.to_owned(), t.to_owned())].into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// A Template of a ConfigMap naming its namespace and tenant, a
/// ServiceAccount and a NetworkPolicy.
fn template(greeting: &str) -> Template {
    serde_json::from_value(json!({
        "apiVersion": "templates.stakater.com/v1alpha1",
        "kind": "Template",
        "metadata": {"name": "basics"},
        "parameters": [{"name": "GREETING", "value": greeting}, {"name": "PORT", "value": "8080"}],
        "resources": {"manifests": [
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "deny-others"},
             "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": "${{PORT}}"}]}]}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"},
             "data": {"greeting": "${GREETING} ${NAMESPACE} of ${TENANT}"}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}},
        ]}
    }))
    .expect("template")
}

fn everywhere(sync: bool, parameters: Vec<TemplateParameter>) -> ClusterTemplateInstance {
    ClusterTemplateInstance {
        metadata: ObjectMeta {
            name: Some("basics".into()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: ClusterTemplateInstanceSpec {
            template: "basics".into(),
            selector: LabelSelector {
                match_expressions: Some(vec![
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                        key: TENANT_LABEL.into(),
                        operator: "Exists".into(),
                        values: None,
                    },
                ]),
                ..LabelSelector::default()
            },
            sync,
            parameters,
        },
        status: None,
    }
}

fn id() -> InstanceId {
    InstanceId::Cluster {
        name: "basics".into(),
    }
}

fn cluster(sync: bool) -> ApiServer {
    let mut c = ApiServer::default();
    put(&mut c, namespace("alpha-dev", Some("alpha")));
    put(&mut c, namespace("beta-dev", Some("beta")));
    put(&mut c, namespace("kube-system", None));
    put(&mut c, template("hello"));
    put(&mut c, everywhere(sync, Vec::new()));
    c
}

fn decide_now(c: &ApiServer) -> Option<TemplateDecision> {
    let instance = Instance::find(c.snapshot(), &id())?;
    Some(decide(instance, c.snapshot(), now()))
}

/// Decides and carries out until nothing is left; the writes it took.
fn settle(c: &mut ApiServer) -> usize {
    let mut writes = 0;
    for _ in 0..10 {
        let Some(decision) = decide_now(c) else {
            return writes;
        };
        assert!(
            allowed(decision.from, decision.phase),
            "{:?} → {:?}",
            decision.from,
            decision.phase
        );
        if decision.actions.is_empty() {
            return writes;
        }
        for action in &decision.actions {
            if let Action::RenderChart { request, .. } = action {
                c.record_chart(request, render_chart(request));
                continue;
            }
            if action.is_object_write() && !matches!(action, Action::Patch { .. }) {
                writes += 1;
            }
            c.execute(action, now()).expect("executes");
        }
    }
    panic!("did not settle");
}

fn config_map(c: &ApiServer, namespace: &str, name: &str) -> Option<Value> {
    let gvk = crate::view::Gvk::from_api_version("v1", "ConfigMap");
    c.snapshot()
        .object(&ObjectRef::namespaced(Kind::Dynamic(gvk), namespace, name))
        .and_then(|o| o.to_json().ok())
}

fn status(c: &ApiServer) -> TemplateInstanceStatus {
    c.snapshot()
        .get::<ClusterTemplateInstance>("", "basics")
        .and_then(|i| i.status.clone())
        .expect("status")
}

#[test]
fn the_machine_is_sound() {
    crate::machine::assert_sound::<TemplatePhase>();
}

#[test]
fn a_cluster_instance_renders_into_every_namespace_it_selects_and_then_rests() {
    let mut c = cluster(false);
    assert_eq!(settle(&mut c), 6, "three objects in each of two namespaces");
    let hello = config_map(&c, "alpha-dev", "hello").expect("deployed");
    assert_eq!(hello["data"]["greeting"], "hello alpha-dev of alpha");
    assert_eq!(config_map(&c, "kube-system", "hello"), None, "not selected");
    let policy = c
        .snapshot()
        .object(&ObjectRef::namespaced(
            Kind::NetworkPolicy,
            "beta-dev",
            "deny-others",
        ))
        .expect("policy");
    assert_eq!(
        policy.to_json().expect("json")["spec"]["ingress"][0]["ports"][0]["port"],
        8080,
        "${{{{PORT}}}} is a number"
    );
    let s = status(&c);
    assert_eq!(s.status.as_deref(), Some("Deployed"));
    assert_eq!(s.phase.as_deref(), Some("Applied"));
    assert_eq!(s.deployed_namespaces, ["alpha-dev", "beta-dev"]);
    assert_eq!(s.namespace_count, Some(2));
    assert_eq!(s.observed_generation, Some(1));
    assert!(
        decide_now(&c).expect("decision").actions.is_empty(),
        "zero writes at rest"
    );
}

#[test]
fn namespaces_joining_and_leaving_the_selector_gain_and_lose_the_rendering() {
    let mut c = cluster(false);
    settle(&mut c);
    label(&mut c, "alpha-dev", None);
    label(&mut c, "gamma-dev", Some("gamma"));
    assert_eq!(settle(&mut c), 6, "three removed, three created");
    assert_eq!(config_map(&c, "alpha-dev", "hello"), None);
    assert!(config_map(&c, "gamma-dev", "hello").is_some());
    assert_eq!(status(&c).deployed_namespaces, ["beta-dev", "gamma-dev"]);
}

#[test]
fn a_synced_instance_puts_back_edits_except_to_service_accounts_and_ignored_objects() {
    let mut c = cluster(true);
    settle(&mut c);
    let edit = |c: &mut ApiServer, name: &str, kind: &str, change: &dyn Fn(&mut Value)| {
        let gvk = crate::view::Gvk::from_api_version("v1", kind);
        let target = ObjectRef::namespaced(Kind::Dynamic(gvk), "alpha-dev", name);
        let mut json = c
            .snapshot()
            .object(&target)
            .expect("there")
            .to_json()
            .expect("json");
        change(&mut json);
        put(c, Object::from_json(json).expect("object"));
    };
    edit(&mut c, "hello", "ConfigMap", &|j| {
        j["data"]["greeting"] = json!("edited")
    });
    edit(&mut c, "robot", "ServiceAccount", &|j| {
        j["automountServiceAccountToken"] = json!(false);
    });
    assert_eq!(settle(&mut c), 1, "the ConfigMap only");
    assert_eq!(
        config_map(&c, "alpha-dev", "hello").expect("there")["data"]["greeting"],
        "hello alpha-dev of alpha"
    );
    edit(&mut c, "hello", "ConfigMap", &|j| {
        j["data"]["greeting"] = json!("mine now");
        j["metadata"]["labels"][IGNORE_RESOURCE_UPDATES_LABEL] = json!("true");
    });
    assert_eq!(settle(&mut c), 0, "ignored");
    let robot = ObjectRef::namespaced(
        Kind::Dynamic(crate::view::Gvk::from_api_version("v1", "ServiceAccount")),
        "alpha-dev",
        "robot",
    );
    c.delete(&robot, None, now()).expect("deleted");
    assert_eq!(settle(&mut c), 1, "a deleted ServiceAccount comes back");
    assert!(c.snapshot().object(&robot).is_some());
}

#[test]
fn a_template_edit_reapplies_only_what_changed_and_only_when_synced() {
    let mut c = cluster(false);
    settle(&mut c);
    put(&mut c, template("bonjour"));
    assert_eq!(settle(&mut c), 0, "sync: false is applied once");
    assert_eq!(
        config_map(&c, "alpha-dev", "hello").expect("there")["data"]["greeting"],
        "hello alpha-dev of alpha"
    );
    put(&mut c, everywhere(true, Vec::new()));
    assert_eq!(settle(&mut c), 2, "one object in each namespace");
    assert_eq!(
        config_map(&c, "alpha-dev", "hello").expect("there")["data"]["greeting"],
        "bonjour alpha-dev of alpha"
    );
    // A Template without the ServiceAccount: it goes.
    let mut fewer = template("bonjour");
    if let Some(r) = fewer.spec.resources.as_mut() {
        r.manifests.pop();
    }
    put(&mut c, fewer);
    assert_eq!(settle(&mut c), 2, "one removal in each namespace");
}

#[test]
fn an_object_mto_did_not_deploy_is_never_written_and_the_status_names_it() {
    let mut c = cluster(true);
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "hello", "namespace": "beta-dev"}, "data": {"greeting": "theirs"}});
    put(&mut c, Object::from_json(theirs).expect("object"));
    let first = decide_now(&c).expect("decision");
    assert_eq!(first.phase, TemplatePhase::Failed);
    assert!(
        first
            .actions
            .iter()
            .all(|a| a.target().namespace.as_deref() != Some("beta-dev")),
        "nothing applied in the namespace held"
    );
    assert!(
        first
            .events
            .iter()
            .any(|e| e.warning && e.message.contains("ConfigMap/beta-dev/hello")),
        "{:?}",
        first.events
    );
    settle(&mut c);
    assert_eq!(
        config_map(&c, "beta-dev", "hello").expect("there")["data"]["greeting"],
        "theirs"
    );
    assert!(
        config_map(&c, "alpha-dev", "hello").is_some(),
        "the others go on"
    );
    let s = status(&c);
    assert_eq!(s.status.as_deref(), Some("Failed"));
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("beta-dev") && m.contains("fix")),
        "{s:?}"
    );
    assert_eq!(s.deployed_namespaces, ["alpha-dev"]);
    assert!(matches!(first.requeue, Requeue::After(_)), "retried later");
}

#[test]
fn a_missing_parameter_fails_the_namespace_with_the_field_and_applies_nothing() {
    let mut c = cluster(true);
    let mut strict = template("hello");
    strict.spec.parameters.push(TemplateParameter {
        name: "OWNER".into(),
        required: true,
        ..TemplateParameter::default()
    });
    put(&mut c, strict);
    settle(&mut c);
    assert_eq!(config_map(&c, "alpha-dev", "hello"), None);
    let s = status(&c);
    assert_eq!(s.reason.as_deref(), Some("DeployFailed"));
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("parameters[OWNER]")),
        "{s:?}"
    );
}

#[test]
fn deleting_the_instance_removes_all_it_deployed_before_its_finalizer() {
    let mut c = cluster(true);
    settle(&mut c);
    c.delete(&id().object_ref(), None, now()).expect("marked");
    let decision = decide_now(&c).expect("decision");
    assert_eq!(decision.phase, TemplatePhase::Removing);
    let kinds: Vec<String> = decision
        .actions
        .iter()
        .map(|a| a.target().kind.name().to_owned())
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("NetworkPolicy"),
        "reverse order: {kinds:?}"
    );
    settle(&mut c);
    assert!(
        c.snapshot()
            .get::<ClusterTemplateInstance>("", "basics")
            .is_none()
    );
    assert!(c.snapshot().deployed_by(&id()).next().is_none());
    assert_eq!(config_map(&c, "alpha-dev", "hello"), None);
}

/// What happens between two decisions.
#[derive(Clone, Debug)]
enum Step {
    /// The Template's greeting changes.
    Edit(u8),
    /// Namespace n gets a tenant label or loses it.
    Label(usize, bool),
    /// Someone edits the ConfigMap in namespace n.
    Tamper(usize),
    /// Someone deletes the ConfigMap in namespace n.
    Remove(usize),
    /// Someone creates their own ConfigMap `hello` in namespace n.
    Squat(usize),
    /// The sync flag flips.
    Sync(bool),
    /// The operator decides and carries out only the first `n` actions.
    Crash(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..3).prop_map(Step::Edit),
        (0usize..4, any::<bool>()).prop_map(|(n, l)| Step::Label(n, l)),
        (0usize..4).prop_map(Step::Tamper),
        (0usize..4).prop_map(Step::Remove),
        (0usize..4).prop_map(Step::Squat),
        any::<bool>().prop_map(Step::Sync),
        (0usize..8).prop_map(Step::Crash),
    ]
}

fn ns(n: usize) -> String {
    format!("ns-{n}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Invariant 9: after any interleaving of edits, relabels, tampering,
    /// squatters and crashes, once settled every selected namespace holds
    /// exactly the current rendering (or is held, with its problem named,
    /// because of a squatter), no other namespace holds any of it, no
    /// squatter's object was ever written, a second decision writes
    /// nothing, and deleting the instance leaves nothing of it behind.
    #[test]
    fn the_cluster_ends_holding_exactly_the_current_rendering(
        steps in prop::collection::vec(step(), 1..25)
    ) {
        let mut c = ApiServer::default();
        for n in 0..4 {
            put(&mut c, namespace(&ns(n), (n % 2 == 0).then_some("t")));
        }
        let mut greeting = "g0".to_owned();
        put(&mut c, template(&greeting));
        let mut sync = true;
        put(&mut c, everywhere(sync, Vec::new()));
        let mut squatted: BTreeMap<String, Value> = BTreeMap::new();
        let cm = |n: &str| ObjectRef::namespaced(
            Kind::Dynamic(crate::view::Gvk::from_api_version("v1", "ConfigMap")), n, "hello");
        for s in steps {
            match s {
                Step::Edit(g) => {
                    greeting = format!("g{g}");
                    put(&mut c, template(&greeting));
                }
                Step::Label(n, on) => label(&mut c, &ns(n), on.then_some("t")),
                Step::Tamper(n) | Step::Remove(n) if squatted.contains_key(&ns(n)) => {}
                Step::Tamper(n) => {
                    if let Some(mut json) = c.snapshot().object(&cm(&ns(n))).and_then(|o| o.to_json().ok()) {
                        json["data"]["greeting"] = json!("tampered");
                        put(&mut c, Object::from_json(json).expect("object"));
                    }
                }
                Step::Remove(n) => { let _ = c.delete(&cm(&ns(n)), None, now()); }
                Step::Squat(n) => {
                    if c.snapshot().object(&cm(&ns(n))).is_none() {
                        let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "hello", "namespace": ns(n)}, "data": {"x": "theirs"}});
                        put(&mut c, Object::from_json(theirs).expect("object"));
                        squatted.insert(ns(n), c.snapshot().object(&cm(&ns(n))).and_then(|o| o.to_json().ok()).expect("there"));
                    }
                }
                Step::Sync(on) => {
                    sync = on;
                    put(&mut c, everywhere(sync, Vec::new()));
                }
                Step::Crash(landed) => {
                    if let Some(d) = decide_now(&c) {
                        prop_assert!(allowed(d.from, d.phase));
                        for action in d.actions.iter().take(landed) {
                            c.execute(action, now()).expect("executes");
                        }
                    }
                }
            }
            for (n, theirs) in &squatted {
                let now_there = c.snapshot().object(&cm(n)).and_then(|o| o.to_json().ok());
                prop_assert_eq!(now_there.as_ref(), Some(theirs), "a squatter's object was written");
            }
        }
        // Make the rendering current everywhere: sync on, then settle.
        sync = true;
        put(&mut c, everywhere(sync, Vec::new()));
        settle(&mut c);
        prop_assert!(decide_now(&c).expect("decision").actions.is_empty());
        for n in 0..4 {
            let name = ns(n);
            let selected = c.snapshot().tenant_of_namespace(&name).is_some();
            let there = c.snapshot().object(&cm(&name)).and_then(|o| o.to_json().ok());
            if squatted.contains_key(&name) {
                prop_assert_eq!(there.as_ref(), squatted.get(&name));
            } else if selected {
                let there = there.expect("deployed");
                prop_assert_eq!(&there["data"]["greeting"], &json!(format!("{greeting} {name} of t")));
            } else {
                prop_assert!(there.is_none(), "{} holds a rendering it is not selected for", name);
                prop_assert!(c.snapshot().deployed_by(&id()).all(|r| r.namespace.as_deref() != Some(name.as_str())));
            }
        }
        c.delete(&id().object_ref(), None, now()).expect("marked");
        settle(&mut c);
        prop_assert!(c.snapshot().deployed_by(&id()).next().is_none());
        for (n, theirs) in &squatted {
            let there = c.snapshot().object(&cm(n)).and_then(|o| o.to_json().ok());
            prop_assert_eq!(there.as_ref(), Some(theirs));
        }
    }

    /// Rendering is deterministic: the same inputs give the same objects.
    #[test]
    fn rendering_is_deterministic(greeting in "[a-z ]{0,12}", namespace_name in "[a-z][a-z0-9-]{0,10}") {
        let mut c = ApiServer::default();
        put(&mut c, namespace(&namespace_name, Some("t")));
        let t = template(&greeting);
        put(&mut c, everywhere(true, Vec::new()));
        let instance = Instance::find(c.snapshot(), &id()).expect("instance");
        let a = render_for(&t, &instance, &namespace_name, c.snapshot(), now()).expect("renders");
        let b = render_for(&t, &instance, &namespace_name, c.snapshot(), now()).expect("renders");
        prop_assert_eq!(
            a.iter().map(|r| r.object.clone()).collect::<Vec<_>>(),
            b.iter().map(|r| r.object.clone()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_view_listed_afresh_knows_what_each_instance_deployed() {
    let mut c = cluster(true);
    settle(&mut c);
    let mut view = crate::view::View::default();
    let mut kinds: Vec<Kind> = Kind::watched_kinds().cloned().collect();
    kinds.extend(c.snapshot().template_kinds().into_iter().map(Kind::Dynamic));
    for kind in kinds {
        view.fold(crate::view::WatchEvent::Init(kind.clone()));
        for object in c.list(&kind) {
            view.fold(crate::view::WatchEvent::InitApply(object));
        }
        view.fold(crate::view::WatchEvent::InitDone(kind));
    }
    let listed: Vec<&ObjectRef> = view.snapshot().deployed_by(&id()).collect();
    let stored: Vec<&ObjectRef> = c.snapshot().deployed_by(&id()).collect();
    assert_eq!(listed.len(), 6);
    assert_eq!(listed, stored);
    let instance = Instance::find(view.snapshot(), &id()).expect("instance");
    assert!(
        decide(instance, view.snapshot(), now()).actions.is_empty(),
        "the view decides as the cluster does"
    );
}

#[test]
fn annotations_that_are_not_a_map_fail_the_namespace_with_the_field() {
    let mut c = cluster(true);
    let mut odd = template("hello");
    if let Some(r) = odd.spec.resources.as_mut() {
        r.manifests[1]["metadata"]["annotations"] = json!("not a map");
    }
    put(&mut c, odd);
    settle(&mut c);
    assert_eq!(config_map(&c, "alpha-dev", "hello"), None);
    assert!(
        status(&c)
            .message
            .is_some_and(|m| m.contains("resources.manifests[1].metadata.annotations")),
        "{:?}",
        status(&c)
    );
}

fn secret(namespace: &str, name: &str, token: &str) -> Object {
    Object::from_json(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": token}}))
    .expect("secret")
}

fn copying(from_namespace: &str) -> Template {
    let mut t = template("hello");
    if let Some(r) = t.spec.resources.as_mut() {
        r.resource_mappings = Some(json!({
            "secrets": [{"name": "registry-pull", "namespace": from_namespace}]
        }));
    }
    t
}

fn copy_in(c: &ApiServer, namespace: &str) -> Option<Value> {
    let gvk = crate::view::Gvk::from_api_version("v1", "Secret");
    c.snapshot()
        .object(&ObjectRef::namespaced(
            Kind::Dynamic(gvk),
            namespace,
            "registry-pull",
        ))
        .and_then(|o| o.to_json().ok())
}

#[test]
fn a_copied_secret_keeps_its_type_and_follows_its_source_even_unsynced() {
    let mut c = cluster(false);
    put(&mut c, namespace("mto-system", None));
    put(&mut c, secret("mto-system", "registry-pull", "djE="));
    put(&mut c, copying("mto-system"));
    settle(&mut c);
    let copy = copy_in(&c, "alpha-dev").expect("copied");
    assert_eq!(copy["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(copy["data"][".dockerconfigjson"], "djE=");
    assert_eq!(status(&c).mapped_secrets, ["mto-system/registry-pull"]);
    assert!(
        decide_now(&c).expect("decision").actions.is_empty(),
        "at rest"
    );
    put(&mut c, secret("mto-system", "registry-pull", "djI="));
    assert_eq!(settle(&mut c), 2, "one copy in each namespace follows");
    assert_eq!(
        copy_in(&c, "beta-dev").expect("copied")["data"][".dockerconfigjson"],
        "djI="
    );
}

#[test]
fn a_missing_source_fails_the_namespaces_with_the_mapping_named() {
    let mut c = cluster(true);
    put(&mut c, copying("mto-system"));
    settle(&mut c);
    assert_eq!(
        config_map(&c, "alpha-dev", "hello"),
        None,
        "nothing partial"
    );
    let s = status(&c);
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.contains("resources.resourceMappings.secrets[0]")
                && m.contains("does not exist")),
        "{s:?}"
    );
}

#[test]
fn a_template_instance_copies_within_its_tenant_only() {
    let mut c = cluster(true);
    put(&mut c, namespace("alpha-tools", Some("alpha")));
    put(&mut c, secret("alpha-tools", "registry-pull", "djE="));
    put(&mut c, secret("beta-dev", "registry-pull", "djE="));
    put(&mut c, copying("alpha-tools"));
    let instance = |from: &str| crate::api::TemplateInstance {
        metadata: ObjectMeta {
            name: Some(format!("from-{from}")),
            namespace: Some("alpha-dev".into()),
            ..ObjectMeta::default()
        },
        spec: crate::api::TemplateInstanceSpec {
            template: format!("copy-{from}"),
            sync: true,
            parameters: Vec::new(),
        },
        status: None,
    };
    let mut within = copying("alpha-tools");
    within.metadata.name = Some("copy-alpha-tools".into());
    let mut across = copying("beta-dev");
    across.metadata.name = Some("copy-beta-dev".into());
    put(&mut c, within);
    put(&mut c, across);
    for from in ["alpha-tools", "beta-dev"] {
        put(&mut c, instance(from));
        let id = InstanceId::Namespaced {
            namespace: "alpha-dev".into(),
            name: format!("from-{from}"),
        };
        for _ in 0..3 {
            let d = decide(
                Instance::find(c.snapshot(), &id).expect("instance"),
                c.snapshot(),
                now(),
            );
            for action in &d.actions {
                c.execute(action, now()).expect("executes");
            }
        }
        let status = c
            .snapshot()
            .get::<crate::api::TemplateInstance>("alpha-dev", &format!("from-{from}"))
            .and_then(|i| i.status.clone())
            .expect("status");
        if from == "alpha-tools" {
            assert_eq!(status.status.as_deref(), Some("Deployed"), "{status:?}");
            assert_eq!(status.mapped_secrets, ["alpha-tools/registry-pull"]);
            // The next instance would find these objects in its way.
            for target in c.snapshot().deployed_by(&id).cloned().collect::<Vec<_>>() {
                c.delete(&target, None, now()).expect("deleted");
            }
        } else {
            assert_eq!(status.status.as_deref(), Some("Failed"));
            assert!(
                status
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("use a ClusterTemplateInstance")),
                "{status:?}"
            );
        }
    }
}

#[test]
fn a_secrets_string_data_is_applied_as_the_apiserver_stores_it() {
    let mut c = cluster(true);
    let mut with_secret = template("hello");
    if let Some(r) = with_secret.spec.resources.as_mut() {
        r.manifests
            .push(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "token"}, "type": "Opaque",
            "stringData": {"tenant": "${TENANT}"}, "data": {"kept": "eA=="}}));
    }
    put(&mut c, with_secret);
    settle(&mut c);
    let gvk = crate::view::Gvk::from_api_version("v1", "Secret");
    let token = c
        .snapshot()
        .object(&ObjectRef::namespaced(
            Kind::Dynamic(gvk),
            "alpha-dev",
            "token",
        ))
        .and_then(|o| o.to_json().ok())
        .expect("deployed");
    assert_eq!(token["data"], json!({"kept": "eA==", "tenant": "YWxwaGE="}));
    assert!(token.get("stringData").is_none());
}

/// The charts of these tests, rendered as `helm template` would: chart
/// `tools` is a ConfigMap holding what it was rendered with and a
/// ServiceAccount; any other chart is not in the repository.
fn render_chart(request: &crate::template::ChartRequest) -> crate::template::ChartRendering {
    let objects = if request.chart == "tools" {
        let set: Vec<String> = request
            .set_values
            .iter()
            .map(|s| format!("{}={}", s.name, s.value))
            .collect();
        Ok(std::sync::Arc::new(vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": format!("{}-settings", request.release),
                                "namespace": request.namespace},
                   "data": {"values": request.values, "set": set.join(",")}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": format!("{}-robot", request.release)}}),
        ]))
    } else {
        Err(format!(
            "chart {:?} not found in {}",
            request.chart, request.repository
        ))
    };
    crate::template::ChartRendering { at: now(), objects }
}

fn chart_template(chart: &str, values: &str) -> Template {
    serde_json::from_value(json!({
        "apiVersion": "templates.stakater.com/v1alpha1",
        "kind": "Template",
        "metadata": {"name": "basics"},
        "parameters": [{"name": "SIZE", "value": "small"}],
        "resources": {"helm": {
            "releaseName": "tooling",
            "chart": {"repository": {"name": chart, "version": "1.0.0", "repoUrl": "https://charts.test"}},
            "setValues": [{"name": "replicas", "value": 2}, {"name": "size", "value": "${SIZE}"}],
            "values": values,
        }}
    }))
    .expect("template")
}

fn charted(chart: &str, values: &str, sync: bool) -> ApiServer {
    let mut c = ApiServer::default();
    put(&mut c, namespace("alpha-dev", Some("alpha")));
    put(&mut c, namespace("beta-dev", Some("beta")));
    put(&mut c, chart_template(chart, values));
    put(&mut c, everywhere(sync, Vec::new()));
    c
}

#[test]
fn a_chart_is_rendered_for_each_namespace_with_its_parameters_then_applied_and_rests() {
    let mut c = charted("tools", "owner: ${TENANT}\n", true);
    let first = decide_now(&c).expect("decision");
    let renders: Vec<String> = first
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::RenderChart { request, .. } => Some(request.namespace.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        renders,
        ["alpha-dev", "beta-dev"],
        "one rendering per namespace"
    );
    assert_eq!(first.phase, TemplatePhase::Rendering);
    assert!(
        first
            .actions
            .iter()
            .all(|a| !matches!(a, Action::Apply { .. })),
        "nothing is applied before the chart is rendered"
    );
    assert_eq!(settle(&mut c), 4, "two objects in each of two namespaces");
    let settings = config_map(&c, "alpha-dev", "tooling-settings").expect("deployed");
    assert_eq!(
        settings["data"]["values"], "owner: alpha\n",
        "${{TENANT}} in values"
    );
    assert_eq!(settings["data"]["set"], "replicas=2,size=small");
    assert_eq!(status(&c).phase.as_deref(), Some("Applied"));
    assert!(
        decide_now(&c).expect("decision").actions.is_empty(),
        "zero writes at rest: the renderings are remembered"
    );
}

#[test]
fn a_values_change_renders_again_and_reapplies_only_what_changed() {
    let mut c = charted("tools", "owner: ${TENANT}\n", true);
    settle(&mut c);
    put(
        &mut c,
        chart_template("tools", "owner: ${TENANT}\nteam: blue\n"),
    );
    assert_eq!(
        settle(&mut c),
        2,
        "each namespace's ConfigMap changes; its ServiceAccount does not"
    );
    let settings = config_map(&c, "beta-dev", "tooling-settings").expect("deployed");
    assert_eq!(settings["data"]["values"], "owner: beta\nteam: blue\n");
}

#[test]
fn a_chart_that_does_not_render_fails_its_namespaces_keeping_what_they_had_and_is_retried() {
    let mut c = charted("tools", "", true);
    settle(&mut c);
    put(&mut c, chart_template("missing", ""));
    settle(&mut c);
    let s = status(&c);
    assert_eq!(s.status.as_deref(), Some("Failed"));
    let message = s.message.expect("message");
    assert!(
        message.contains("resources.helm.chart") && message.contains("not found"),
        "{message}"
    );
    assert!(
        config_map(&c, "alpha-dev", "tooling-settings").is_some(),
        "no deletion on doubt"
    );
    let instance = Instance::find(c.snapshot(), &id()).expect("instance");
    let soon = decide(instance, c.snapshot(), now());
    assert!(
        soon.actions
            .iter()
            .all(|a| !matches!(a, Action::RenderChart { .. })),
        "a failed rendering stands for a while"
    );
    let later = crate::time::after(now(), RETRY_FAILED + Duration::from_secs(1));
    let retried = decide(instance, c.snapshot(), later);
    assert!(
        retried
            .actions
            .iter()
            .any(|a| matches!(a, Action::RenderChart { .. })),
        "and is tried again"
    );
}

#[test]
fn a_chart_object_that_is_cluster_scoped_fails_the_namespace_naming_it() {
    let mut c = charted("tools", "", true);
    let decision = decide_now(&c).expect("decision");
    for action in &decision.actions {
        if let Action::RenderChart { request, .. } = action {
            let objects = vec![json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole", "metadata": {"name": "reader"}})];
            c.record_chart(
                request,
                crate::template::ChartRendering {
                    at: now(),
                    objects: Ok(std::sync::Arc::new(objects)),
                },
            );
        }
    }
    settle(&mut c);
    let message = status(&c).message.expect("message");
    assert!(
        message.contains("the chart's ClusterRole reader") && message.contains("cluster-scoped"),
        "{message}"
    );
}

#[test]
fn a_helm_block_that_does_not_read_names_the_field() {
    let bad = |helm: Value| {
        let t: Template = serde_json::from_value(json!({
            "apiVersion": "templates.stakater.com/v1alpha1", "kind": "Template",
            "metadata": {"name": "t"}, "resources": {"helm": helm}
        }))
        .expect("template");
        crate::template::helm_problem(&t.spec).map(|e| e.field)
    };
    assert_eq!(
        bad(json!({"chart": {"repository": {"name": "x", "repoUrl": "ftp://x"}}})).as_deref(),
        Some("resources.helm.chart.repository.repoUrl")
    );
    assert_eq!(
        bad(
            json!({"chart": {"repository": {"name": "x", "repoUrl": "oci://r/x"}},
                   "setValues": [{"name": "a", "value": [1]}]})
        )
        .as_deref(),
        Some("resources.helm.setValues[0].value")
    );
    assert_eq!(
        bad(json!({"chart": {"repo": {}}})).as_deref(),
        Some("resources.helm")
    );
    assert_eq!(
        bad(
            json!({"chart": {"repository": {"name": "x", "repoUrl": "https://c", "version": "1",
            "username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "pass"}}},
            "values": {"a": 1}})
        ),
        None,
        "MTO's shape, values as a map"
    );
}

#[test]
fn helm_output_reads_as_its_objects() {
    let text = "---\n# Source: tools/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n";
    let objects = crate::template::objects_from_yaml(text).expect("reads");
    let names: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let err = crate::template::objects_from_yaml("- 1\n- 2\n").expect_err("a list is no object");
    assert!(err.contains("document 1"), "{err}");
}

proptest! {
    /// A rendering is found again by the same request and by no other:
    /// any change of what a chart is rendered with asks afresh.
    #[test]
    fn a_chart_rendering_is_found_by_exactly_its_request(values in "[a-z: \n]{0,20}", other in "[a-z: \n]{0,20}") {
        let mut c = charted("tools", &values, true);
        settle(&mut c);
        let instance = Instance::find(c.snapshot(), &id()).expect("instance");
        let asks_again = decide(instance, c.snapshot(), now()).actions.iter().any(|a| matches!(a, Action::RenderChart { .. }));
        prop_assert!(!asks_again, "the rendering is remembered");
        put(&mut c, chart_template("tools", &other));
        let instance = Instance::find(c.snapshot(), &id()).expect("instance");
        let asks = decide(instance, c.snapshot(), now()).actions.iter().any(|a| matches!(a, Action::RenderChart { .. }));
        prop_assert_eq!(asks, values != other);
    }
}

#[test]
fn validation_names_an_undeclared_parameter_in_chart_values() {
    use crate::validation::Validate as _;
    let mut t = chart_template("tools", "owner: ${OWNER}\n");
    t.metadata.name = Some("basics".into());
    let err = t.validate().expect_err("OWNER is not declared");
    assert!(err.to_string().contains("resources.helm.values"), "{err}");
    assert!(
        chart_template("tools", "size: ${SIZE}\n")
            .validate()
            .is_ok()
    );
}
