use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::*;
use crate::action::Object;
use crate::api::{IntegrationConfig, Tenant};
use crate::apiserver::ApiServer;
use crate::view::Kind;

fn at(ms: u64) -> Timestamp {
    after(Timestamp::UNIX_EPOCH, Duration::from_millis(ms))
}

fn tenant(name: &str) -> Tenant {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {"namespaces": {"withTenantPrefix": ["dev"]}}
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn cluster(tenants: &[&str]) -> ApiServer {
    let mut api = ApiServer::default();
    for t in tenants {
        api.put(tenant(t).into(), at(0))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    api
}

fn key(name: &str) -> Key {
    Key::Tenant(name.into())
}

fn woken(names: &[&str]) -> Woken {
    let mut w = Woken::none();
    for n in names {
        w.tenant(n);
    }
    w
}

/// Runs one key's reconcile against the apiserver, start to finish.
fn run(driver: &mut Driver, api: &mut ApiServer, key: Key, now: Timestamp) -> Option<Finished> {
    let Started::Run(mut run) = driver.start(key, api.snapshot(), now) else {
        return None;
    };
    while let Some(action) = run.poll_action().cloned() {
        let result = api.execute(&action, now).map(|_| ());
        run.handle_result(result);
    }
    Some(driver.finish(run, now, 0.5))
}

proptest! {
    #[test]
    fn backoff_grows_stays_capped_and_jitters_within_half(attempt in 1u32..100, jitter in 0.0f64..=1.0) {
        let b = Backoff::default();
        let d = b.delay(attempt, jitter);
        let full = b.base.saturating_mul(1 << attempt.saturating_sub(1).min(20)).min(b.max);
        prop_assert!(d <= full);
        prop_assert!(d >= full / 2);
        prop_assert!(d <= b.max);
    }
}

#[test]
fn backoff_doubles_until_the_cap() {
    let b = Backoff::default();
    assert_eq!(b.delay(1, 1.0), Duration::from_millis(500));
    assert_eq!(b.delay(2, 1.0), Duration::from_secs(1));
    assert_eq!(b.delay(3, 0.0), Duration::from_secs(1));
    assert_eq!(b.delay(30, 1.0), Duration::from_secs(300));
}

#[test]
fn a_burst_of_events_is_acted_on_once_after_the_debounce() {
    let api = cluster(&["a"]);
    let mut driver = Driver::new(Config::default());
    driver.handle_woken(&woken(&["a"]), api.snapshot(), at(0));
    driver.handle_woken(&woken(&["a"]), api.snapshot(), at(150));
    assert_eq!(
        driver.poll_timeout(),
        Some(at(200)),
        "the first event's debounce"
    );
    assert_eq!(driver.poll_due(at(199)), None);
    assert_eq!(driver.poll_due(at(200)), Some(key("a")));
    assert_eq!(driver.poll_due(at(200)), None, "once");
}

#[test]
fn no_more_run_at_once_than_the_concurrency_and_never_one_key_twice() {
    let api = cluster(&["a", "b", "c"]);
    let mut driver = Driver::new(Config {
        concurrency: 2,
        ..Config::default()
    });
    driver.handle_woken(&woken(&["a", "b", "c"]), api.snapshot(), at(0));
    let first = driver.poll_due(at(200));
    let second = driver.poll_due(at(200));
    assert!(first.is_some() && second.is_some());
    assert_eq!(driver.poll_due(at(200)), None, "two slots taken");
    assert_eq!(driver.poll_timeout(), None, "nothing until a slot frees");
    // `a` changes while it runs: it goes again after, not alongside.
    driver.handle_woken(&woken(&["a"]), api.snapshot(), at(300));
    let Started::Run(run) = driver.start(key("a"), api.snapshot(), at(300)) else {
        panic!("a decides");
    };
    let finished = driver.finish(run, at(400), 0.5);
    assert_eq!(finished.next, Some(at(600)), "again, after the debounce");
    assert_eq!(driver.poll_due(at(600)), Some(key("c")), "c was due first");
}

#[test]
fn a_failure_is_retried_with_backoff_and_a_success_forgets_it() {
    let mut api = cluster(&["a"]);
    let mut driver = Driver::new(Config::default());
    let Started::Run(mut r) = driver.start(key("a"), api.snapshot(), at(0)) else {
        panic!("a decides");
    };
    r.handle_result(Err(ApiError::Conflict("Tenant/a".into())));
    assert_eq!(r.poll_action(), None, "the first failure stops the run");
    let finished = driver.finish(r, at(0), 1.0);
    assert!(finished.done.is_empty());
    assert_eq!(finished.next, Some(at(500)));
    assert!(
        finished
            .events()
            .iter()
            .any(|e| e.warning && e.reason == "WriteFailed")
    );
    let Started::Run(mut r) = driver.start(key("a"), api.snapshot(), at(500)) else {
        panic!("a decides");
    };
    r.handle_result(Err(ApiError::Throttled("Tenant/a".into())));
    assert_eq!(
        driver.finish(r, at(500), 1.0).next,
        Some(at(1500)),
        "doubled"
    );
    let finished = run(&mut driver, &mut api, key("a"), at(1500)).expect("runs");
    assert!(finished.failure.is_none());
    assert!(
        finished.events().iter().any(|e| e.reason == "Reconciled"),
        "{:?}",
        finished.events()
    );
    // Someone deletes its namespace; the next failure counts from one again.
    api.delete(
        &ObjectRef::cluster(Kind::Namespace, "a-dev"),
        None,
        at(1600),
    )
    .expect("deletes");
    api.finalize_namespaces();
    let Started::Run(mut r) = driver.start(key("a"), api.snapshot(), at(2000)) else {
        panic!("a decides again");
    };
    r.handle_result(Err(ApiError::Conflict("x".into())));
    assert_eq!(
        driver.finish(r, at(2000), 1.0).next,
        Some(at(2500)),
        "counting anew"
    );
}

#[test]
fn a_tenant_with_nothing_to_do_is_skipped_until_what_it_reads_changes() {
    let mut api = cluster(&["a"]);
    let mut driver = Driver::new(Config::default());
    let mut runs = 0;
    while run(&mut driver, &mut api, key("a"), at(0)).is_some_and(|f| !f.done.is_empty()) {
        runs += 1;
        assert!(runs < 5, "converges");
    }
    assert!(matches!(
        driver.start(key("a"), api.snapshot(), at(0)),
        Started::Skipped(Skipped::Settled)
    ));
    assert_eq!(driver.settled(), 1);
    // Someone deletes its namespace: it decides again.
    api.delete(&ObjectRef::cluster(Kind::Namespace, "a-dev"), None, at(1))
        .expect("deletes");
    api.finalize_namespaces();
    assert!(matches!(
        driver.start(key("a"), api.snapshot(), at(2)),
        Started::Run(_)
    ));
}

#[test]
fn nothing_is_decided_while_no_integration_config_can_be_used() {
    let mut api = cluster(&["a"]);
    for ns in ["one", "two"] {
        api.put(
            Namespace {
                metadata: ObjectMeta {
                    name: Some(ns.into()),
                    ..Default::default()
                },
                ..Default::default()
            }
            .into(),
            at(0),
        )
        .expect("put");
        let mut config = IntegrationConfig::new("config", Default::default());
        config.metadata.namespace = Some(ns.into());
        api.put(Object::from(config), at(0)).expect("put");
    }
    let mut driver = Driver::new(Config::default());
    match driver.start(key("a"), api.snapshot(), at(0)) {
        Started::Skipped(Skipped::Blocked(why)) => {
            assert!(why.contains("one/config, two/config"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn deleting_what_is_already_gone_counts_as_done_and_a_replaced_object_is_retried() {
    let api = cluster(&["a"]);
    let mut driver = Driver::new(Config::default());
    let Started::Run(mut r) = driver.start(key("a"), api.snapshot(), at(0)) else {
        panic!("a decides");
    };
    r.actions = vec![
        Action::Delete {
            target: ObjectRef::cluster(Kind::Namespace, "x"),
            uid: None,
            reason: Reason::Remove,
        },
        Action::Delete {
            target: ObjectRef::cluster(Kind::Namespace, "y"),
            uid: Some("old".into()),
            reason: Reason::Remove,
        },
    ];
    r.handle_result(Err(ApiError::NotFound("Namespace/x".into())));
    assert!(r.poll_action().is_some(), "x is gone: on to y");
    r.handle_result(Err(ApiError::Conflict("Namespace/y".into())));
    assert_eq!(r.poll_action(), None);
    let finished = driver.finish(r, at(0), 0.5);
    assert_eq!(finished.done.len(), 1);
    assert!(
        finished.failure.is_some(),
        "y was replaced: decided again, never assumed gone"
    );
}

#[test]
fn a_gone_object_is_skipped_and_forgotten() {
    let api = cluster(&[]);
    let mut driver = Driver::new(Config::default());
    driver.handle_woken(&woken(&["ghost"]), api.snapshot(), at(0));
    let k = driver.poll_due(at(1000)).expect("due");
    assert!(matches!(
        driver.start(k, api.snapshot(), at(1000)),
        Started::Skipped(Skipped::Gone)
    ));
    assert!(driver.is_idle());
    let _ = Tenant::default();
}
