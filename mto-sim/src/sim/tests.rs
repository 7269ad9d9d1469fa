use std::path::Path;
use std::time::Duration;

use super::*;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_subject_is_mentioned_as_a_whole_name() {
    assert!(mentions("[1h] reconcile alpha: 3 actions", "alpha"));
    assert!(mentions(
        "  apply RoleBinding/alpha-dev/alpha-owner-admin",
        "alpha"
    ));
    assert!(mentions("user deletes Tenant/alpha", "alpha"));
    assert!(!mentions("reconcile alphabet: 1 actions", "alpha"));
    assert!(!mentions("reconcile t000010: 1 actions", "t00001"));
    assert!(mentions(
        "sleep Deployment/alpha-dev/api (2 replicas)",
        "Deployment/alpha-dev/api"
    ));
}

#[test]
fn a_violation_comes_with_the_history_of_what_it_is_about() {
    let mut sim = Sim::new(scenario("small-team.yaml"), 7);
    // Past beta's deletion on day 1.
    while sim.elapsed() < Duration::from_secs(26 * 3600) {
        assert!(sim.step().unwrap_or_else(|e| panic!("{e}")), "ended early");
    }
    let made_up = SimError::broken(
        &sim,
        "a made-up violation about beta".into(),
        vec!["beta".into()],
    );
    let history = sim.explain(made_up).failure().history.clone();
    assert!(history.iter().all(|l| mentions(l, "beta")), "{history:#?}");
    for expected in [
        "tenant beta: new → Active",
        "user deletes Tenant/beta",
        "tenant beta: Terminating → Gone",
    ] {
        assert!(
            history.iter().any(|l| l.contains(expected)),
            "{expected:?} in {history:#?}"
        );
    }
    assert!(
        !history.iter().any(|l| l.contains("reconcile alpha")),
        "nothing about other tenants"
    );
}

/// Simulated time past the year 9999 used to panic: an instant beyond
/// what a timestamp holds. It now stops at the end of representable time.
#[test]
fn a_run_past_the_year_9999_ends_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let text = "name: long\nduration: 3000000d\ncluster:\n  files:\n    - ../../deploy/examples/quotas.yaml\n    - ../../deploy/examples/tenant-beta.yaml\nfaults:\n  watchExpiry: 1000000d\n";
    let s = Scenario::parse(&dir.join("long.yaml"), text).unwrap_or_else(|e| panic!("{e}"));
    let report = Sim::new(s, 1)
        .run(|_, _| {})
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.faults.get("watch expired"), Some(&3));
    assert_eq!(report.tenants_by_phase.get("Active"), Some(&1));
}
