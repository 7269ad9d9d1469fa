use proptest::prelude::*;
use serde_json::{Value, json};

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

fn keycloak() -> Value {
    json!({"keycloak": {"address": "https://sso.example.com/", "realm": "mto", "clientName": "mto-console"}})
}

/// An IntegrationConfig in `mto-system` with these components and integrations.
fn config(c: &mut ApiServer, components: Value, integrations: Value) {
    put(
        c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
               "metadata": {"name": "config", "namespace": "mto-system"},
               "spec": {"components": components, "integrations": integrations}}),
    );
}

fn cluster() -> ApiServer {
    let mut c = ApiServer::default();
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mto-system"}}),
    );
    c
}

fn the_config(c: &ApiServer) -> &IntegrationConfig {
    c.snapshot()
        .shelf::<IntegrationConfig>()
        .iter()
        .next()
        .expect("config")
}

fn decision(c: &ApiServer, settings: &PilotSettings) -> PilotDecision {
    decide(the_config(c), settings, c.snapshot(), now())
}

/// Decides and carries out until nothing is left to do; the phases the
/// decisions went through.
fn settle(c: &mut ApiServer, settings: &PilotSettings) -> Vec<PilotPhase> {
    let mut phases = Vec::new();
    for _ in 0..10 {
        let d = decision(c, settings);
        assert!(allowed(d.from, d.phase), "{:?} → {:?}", d.from, d.phase);
        phases.push(d.phase);
        if d.actions.is_empty() {
            return phases;
        }
        for action in &d.actions {
            c.execute(action, now()).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    panic!("did not settle: {phases:?}");
}

fn console_objects(c: &ApiServer) -> Vec<String> {
    let mut names: Vec<String> = console_kinds()
        .iter()
        .flat_map(|k| c.snapshot().list(k))
        .filter(|o| component_of(o.meta()) == Some(CONSOLE))
        .map(|o| o.object_ref().to_string())
        .collect();
    names.sort();
    names
}

fn status(c: &ApiServer) -> Option<&IntegrationConfigStatus> {
    the_config(c).status.as_ref()
}

fn phase(c: &ApiServer) -> Option<&str> {
    status(c)?.console.as_ref()?.phase.as_deref()
}

fn ingress(c: &ApiServer) -> Option<Value> {
    let target = ObjectRef::namespaced(
        Kind::Dynamic(Gvk::from_api_version("networking.k8s.io/v1", "Ingress")),
        "mto-system",
        CONSOLE_NAME,
    );
    c.snapshot().object(&target)?.to_json().ok()
}

fn deployment(c: &ApiServer) -> Option<&k8s_openapi::api::apps::v1::Deployment> {
    c.snapshot().get("mto-system", CONSOLE_NAME)
}

fn env(c: &ApiServer, name: &str) -> Option<String> {
    let pod = deployment(c)?.spec.as_ref()?.template.spec.as_ref()?;
    pod.containers[0]
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == name)?
        .value
        .clone()
}

fn make_available(c: &mut ApiServer) {
    let mut d = deployment(c).expect("deployment").clone();
    d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
        available_replicas: Some(1),
        ..Default::default()
    });
    let applied = Action::ApplyStatus { object: d.into() };
    c.execute(&applied, now()).expect("status");
}

#[test]
fn the_machine_is_sound() {
    crate::machine::assert_sound::<PilotPhase>();
}

#[test]
fn a_console_asked_for_is_deployed_then_settles_and_runs_when_available() {
    let mut c = cluster();
    config(
        &mut c,
        json!({"console": true, "ingress": {"ingressClassName": "nginx", "host": "mto.example.com", "tlsSecretName": "mto-tls"}}),
        keycloak(),
    );
    let settings = PilotSettings::default();
    let phases = settle(&mut c, &settings);
    assert_eq!(phases.first(), Some(&PilotPhase::Deploying));
    assert_eq!(
        console_objects(&c),
        [
            "ClusterRoleBinding/mto-console",
            "Deployment/mto-system/mto-console",
            "Ingress/mto-system/mto-console",
            "Service/mto-system/mto-console",
            "ServiceAccount/mto-system/mto-console",
        ]
    );
    assert_eq!(
        env(&c, "MTO_OIDC_ISSUER").as_deref(),
        Some("https://sso.example.com/realms/mto")
    );
    assert_eq!(env(&c, "MTO_OIDC_AUDIENCE").as_deref(), Some("mto-console"));
    assert_eq!(
        env(&c, "MTO_CONSOLE_URL").as_deref(),
        Some("https://mto.example.com")
    );
    let ingress = ingress(&c).expect("ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"secretName": "mto-tls", "hosts": ["mto.example.com"]}])
    );
    let paths: Vec<&str> = ingress["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p["path"].as_str())
        .collect();
    assert_eq!(paths, ["/gateway", "/"]);
    assert_eq!(phase(&c), Some("Deploying"));
    let condition = &status(&c).expect("status").conditions[0];
    assert_eq!(
        (condition.type_.as_str(), condition.reason.as_str()),
        ("ConsoleReady", "Unavailable")
    );

    let writes = c.writes();
    assert!(decision(&c, &settings).actions.is_empty(), "steady");
    make_available(&mut c);
    settle(&mut c, &settings);
    assert_eq!(phase(&c), Some("Running"));
    assert_eq!(status(&c).expect("status").conditions[0].status, "True");
    assert_eq!(
        c.writes(),
        writes + 2,
        "the pods' status and the config's, nothing else"
    );
}

#[test]
fn hosts_per_component_route_each_to_the_console_and_share_a_tls_secret() {
    let mut c = cluster();
    config(
        &mut c,
        json!({"console": true, "ingress": {
            "console": {"host": "console.example.com", "tlsSecretName": "tls"},
            "gateway": {"host": "gateway.example.com", "tlsSecretName": "tls"},
            "keycloak": {"host": "sso.example.com"}}}),
        keycloak(),
    );
    settle(&mut c, &PilotSettings::default());
    let ingress = ingress(&c).expect("ingress");
    let hosts: Vec<&str> = ingress["spec"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["host"].as_str())
        .collect();
    assert_eq!(hosts, ["console.example.com", "gateway.example.com"]);
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"secretName": "tls", "hosts": ["console.example.com", "gateway.example.com"]}])
    );
    assert_eq!(
        status(&c)
            .and_then(|s| s.console.as_ref())
            .and_then(|s| s.url.as_deref()),
        Some("https://console.example.com")
    );
}

#[test]
fn without_keycloak_the_operators_own_issuer_signs_people_in() {
    let mut c = cluster();
    config(&mut c, json!({"console": true}), json!({}));
    let settings = PilotSettings {
        issuer: Some("https://dex.example.com".into()),
        audience: "mto".into(),
        admin_groups: vec!["platform".into()],
        store_secret: Some(("mto-store".into(), "url".into())),
        ..PilotSettings::default()
    };
    settle(&mut c, &settings);
    assert_eq!(
        env(&c, "MTO_OIDC_ISSUER").as_deref(),
        Some("https://dex.example.com")
    );
    assert_eq!(
        env(&c, "MTO_GATEWAY_ADMIN_GROUPS").as_deref(),
        Some("platform")
    );
    assert!(env(&c, "MTO_JOURNAL").is_none(), "the store is PostgreSQL");
    assert!(ingress(&c).is_none(), "no host, no Ingress");
}

#[test]
fn a_misconfigured_console_says_which_field_and_keeps_what_runs() {
    let mut c = cluster();
    config(&mut c, json!({"console": true}), keycloak());
    let settings = PilotSettings::default();
    settle(&mut c, &settings);
    let running = console_objects(&c);
    assert_eq!(running.len(), 4);

    config(
        &mut c,
        json!({"console": true, "ingress": {"host": "Not A Host"}}),
        json!({"keycloak": {"address": "sso.example.com", "realm": "mto"}}),
    );
    let phases = settle(&mut c, &settings);
    assert_eq!(
        phases,
        [PilotPhase::Misconfigured, PilotPhase::Misconfigured]
    );
    assert_eq!(console_objects(&c), running, "nothing deleted on doubt");
    let message = &status(&c).expect("status").conditions[0].message;
    for field in [
        "spec.integrations.keycloak.clientName",
        "spec.components.ingress.host",
    ] {
        assert!(message.contains(field), "{message}");
    }

    config(&mut c, json!({"console": "yes"}), keycloak());
    settle(&mut c, &settings);
    let message = &status(&c).expect("status").conditions[0].message;
    assert!(message.contains("spec.components.console"), "{message}");
    assert_eq!(console_objects(&c), running);
}

#[test]
fn no_issuer_anywhere_is_a_misconfiguration_with_its_fix() {
    let mut c = cluster();
    config(&mut c, json!({"console": true}), json!({}));
    settle(&mut c, &PilotSettings::default());
    assert_eq!(phase(&c), Some("Misconfigured"));
    let message = &status(&c).expect("status").conditions[0].message;
    assert!(message.contains("--oidc-issuer"), "{message}");
    assert!(console_objects(&c).is_empty());
}

#[test]
fn a_name_held_by_someone_else_is_not_taken_over() {
    let mut c = cluster();
    put(
        &mut c,
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": CONSOLE_NAME, "namespace": "mto-system"},
               "spec": {"ports": [{"port": 80}]}}),
    );
    config(&mut c, json!({"console": true}), keycloak());
    settle(&mut c, &PilotSettings::default());
    assert_eq!(phase(&c), Some("Misconfigured"));
    assert_eq!(
        status(&c).expect("status").conditions[0].reason,
        "NameTaken"
    );
    let theirs = c
        .snapshot()
        .object(&ObjectRef::namespaced(
            Kind::Dynamic(Gvk::from_api_version("v1", "Service")),
            "mto-system",
            CONSOLE_NAME,
        ))
        .expect("their Service");
    assert!(component_of(theirs.meta()).is_none(), "left as it was");
}

#[test]
fn a_change_rewrites_only_what_it_changes() {
    let mut c = cluster();
    config(&mut c, json!({"console": true}), keycloak());
    let settings = PilotSettings::default();
    settle(&mut c, &settings);
    config(
        &mut c,
        json!({"console": true}),
        json!({"keycloak": {"address": "https://sso.example.com", "realm": "other", "clientName": "mto-console"}}),
    );
    let d = decision(&c, &settings);
    let applied: Vec<String> = d
        .actions
        .iter()
        .filter(|a| a.is_object_write())
        .map(ToString::to_string)
        .collect();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert!(applied[0].contains("Deployment"), "{applied:?}");
}

#[test]
fn switched_off_everything_goes_and_the_status_says_off() {
    let mut c = cluster();
    config(
        &mut c,
        json!({"console": true, "ingress": {"host": "mto.example.com"}}),
        keycloak(),
    );
    let settings = PilotSettings::default();
    settle(&mut c, &settings);
    assert_eq!(console_objects(&c).len(), 5);
    config(&mut c, json!({"console": false}), keycloak());
    let phases = settle(&mut c, &settings);
    assert_eq!(
        phases,
        [PilotPhase::Removing, PilotPhase::Off, PilotPhase::Off],
        "removed, the status cleared, then nothing"
    );
    assert!(console_objects(&c).is_empty());
    assert_eq!(status(&c), Some(&IntegrationConfigStatus::default()));
}

#[test]
fn an_integration_config_without_a_console_is_never_written() {
    let mut c = cluster();
    config(&mut c, json!({"showback": true}), json!({}));
    let d = decision(&c, &PilotSettings::default());
    assert_eq!(d.phase, PilotPhase::Off);
    assert!(d.actions.is_empty());
}

/// One step of the property test: the configuration a platform team might
/// write next.
#[derive(Clone, Debug)]
enum Edit {
    On { host: Option<&'static str> },
    Off,
    Removed,
    Broken,
    Realm(&'static str),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        prop::option::of(prop::sample::select(vec!["a.example.com", "b.example.com"]))
            .prop_map(|host| Edit::On { host }),
        Just(Edit::Off),
        Just(Edit::Removed),
        Just(Edit::Broken),
        prop::sample::select(vec!["one", "two"]).prop_map(Edit::Realm),
    ]
}

fn write(c: &mut ApiServer, edit: &Edit) {
    match edit {
        Edit::On { host } => {
            let ingress = host.map_or(json!({}), |h| json!({"host": h}));
            config(c, json!({"console": true, "ingress": ingress}), keycloak());
        }
        Edit::Off => config(c, json!({"console": false}), keycloak()),
        Edit::Removed => config(c, json!({}), keycloak()),
        Edit::Broken => config(
            c,
            json!({"console": true}),
            json!({"keycloak": {"realm": "x"}}),
        ),
        Edit::Realm(realm) => config(
            c,
            json!({"console": true}),
            json!({"keycloak": {"address": "https://sso.example.com", "realm": realm, "clientName": "mto"}}),
        ),
    }
}

proptest! {
    /// Whatever the edits, and wherever a crash cuts a decision's writes
    /// short: the console exists exactly while asked for (a broken
    /// configuration keeps what was there), every phase change is in the
    /// table, and a settled console decides nothing.
    #[test]
    fn the_console_follows_the_configuration_through_crashes(
        steps in prop::collection::vec((edit(), 0usize..8), 1..8),
    ) {
        let mut c = cluster();
        let settings = PilotSettings::default();
        for (edit, crash_after) in &steps {
            let before = console_objects(&c);
            write(&mut c, edit);
            let d = decision(&c, &settings);
            prop_assert!(allowed(d.from, d.phase));
            for action in d.actions.iter().take(*crash_after) {
                c.execute(action, now()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            // Whatever of the console a crash leaves is watched, whatever
            // the configuration says next.
            let mut after_crash = c.clone();
            write(&mut after_crash, &Edit::Removed);
            prop_assert!(
                console_objects(&after_crash).is_empty() || in_play(after_crash.snapshot()),
                "{:?} unwatched", console_objects(&after_crash)
            );
            settle(&mut c, &settings);
            prop_assert!(decision(&c, &settings).actions.is_empty(), "steady");
            let after = console_objects(&c);
            match edit {
                Edit::On { host } => prop_assert_eq!(after.len(), 4 + usize::from(host.is_some())),
                Edit::Realm(_) => prop_assert_eq!(after.len(), 4),
                Edit::Off | Edit::Removed => prop_assert!(after.is_empty()),
                Edit::Broken => prop_assert_eq!(after, before, "nothing deleted on doubt"),
            }
        }
    }
}
