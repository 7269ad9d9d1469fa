//! The shipped scenarios run clean, and runs are reproducible by seed.

use std::path::{Path, PathBuf};

use mto_sim::scenario::Scenario;
use mto_sim::sim::{Report, Sim, SimError};

fn scenario(name: &str) -> Scenario {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(s: &Scenario, seed: u64) -> Result<Report, SimError> {
    Sim::new(s.clone(), seed).run(|_, _| {})
}

#[test]
fn small_team_converges_after_every_change() {
    let s = scenario("small-team.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.faults.values().sum::<u64>() > 0,
        "faults were injected"
    );
    // Every user action converged, and the last change (beta's deletion) too.
    assert!(
        report
            .convergence
            .iter()
            .any(|c| c.change == "user deletes Tenant/beta"),
        "{:#?}",
        report.convergence
    );
    assert_eq!(
        report.tenants_by_phase.get("Active"),
        Some(&2),
        "alpha and gamma: {:?}",
        report.tenants_by_phase
    );
    assert_eq!(
        report.tenants_by_phase.get("Degraded"),
        Some(&1),
        "delta asks for alpha's namespace"
    );
    assert!(
        report
            .timeline
            .iter()
            .any(|e| e.text == "tenant beta: Terminating → Gone")
    );
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let s = scenario("fault-storm.yaml");
    let a = run(&s, 1).unwrap_or_else(|e| panic!("{e}"));
    let b = run(&s, 1).unwrap_or_else(|e| panic!("{e}"));
    let c = run(&s, 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.writes, b.writes);
    assert_ne!(a.trace_hash, c.trace_hash, "the seed drives the faults");
}

/// Seed sweep of the fault storm: every seed converges once the storm
/// ends, with every invariant checked after every step.
#[test]
fn fault_storm_seed_sweep() {
    let s = scenario("fault-storm.yaml");
    for seed in 0..16 {
        let report = run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            report
                .faults
                .get("operator crash")
                .copied()
                .unwrap_or_default()
                > 0,
            "seed {seed}: no crash injected"
        );
        let last = report
            .convergence
            .last()
            .unwrap_or_else(|| panic!("seed {seed}: never converged"));
        assert!(
            report.tenants_by_phase.keys().all(|p| p == "Active"),
            "seed {seed}: {:?} (last change {})",
            report.tenants_by_phase,
            last.change
        );
    }
}

#[test]
fn thousand_tenants_settle_and_stay_quiet() {
    let mut s = scenario("thousand-tenants.yaml");
    s.duration = std::time::Duration::from_secs(2 * 86_400);
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.tenants_by_phase.get("Active"), Some(&1000));
    let initial = &report.convergence[0];
    assert_eq!(initial.change, "initial cluster");
    // 1,000 tenants × (5 namespaces, 2 role bindings, a limit range and a
    // quota each + finalizer + status) is the minimum number of writes.
    assert!(
        report.objects_created >= 1000 * 5 * 4,
        "{}",
        report.objects_created
    );
}
