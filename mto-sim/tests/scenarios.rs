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

/// Seeds a sweep tries: 16, or `MTO_SIM_SEEDS` for a deeper one
/// (`MTO_SIM_SEEDS=1000 cargo test --release -p mto-sim --test scenarios sweep`).
fn sweep_seeds() -> u64 {
    std::env::var("MTO_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
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
    for seed in 0..sweep_seeds() {
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

/// A week of schedules in three zones across a DST change, the operator
/// crashing before one call in ten: no count is ever lost (the run checks
/// invariant 4 after every scale and at every rest and fails otherwise),
/// every transition is in the timeline, and the run is reproducible.
#[test]
fn a_week_of_hibernation_survives_crashes_and_the_dst_change() {
    let s = scenario("hibernation-week.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.faults.get("operator crash").is_some_and(|n| *n > 5),
        "{:?}",
        report.faults
    );
    let at = |text: &str| -> Vec<String> {
        report
            .timeline
            .iter()
            .filter(|e| e.text.starts_with(text))
            .map(|e| e.at.clone())
            .collect()
    };
    // Within a minute of `expected` (a crash just before may delay it by
    // the restart's few seconds).
    let near = |times: &[String], expected: &str| {
        let expected = seconds(expected);
        times
            .iter()
            .any(|t| (expected..expected + 60).contains(&seconds(t)))
    };
    // The Berlin 02:30 sleep: 01:30 UTC in winter time; on Sunday 2026-03-29
    // 02:30 does not exist and it fires once, at 03:00 CEST (01:00 UTC).
    let batch = at("ResourceSupervisor/alpha-staging/batch-window: awake → asleep");
    assert!(near(&batch, "1h30m"), "{batch:?}");
    assert!(near(&batch, "6d1h"), "{batch:?}");
    assert_eq!(batch.len(), 7, "once a night: {batch:?}");
    // Beta sleeps Friday 20:00 Berlin and stays asleep over the weekend.
    let beta_wakes = at("ClusterResourceSupervisor/beta-nights-and-weekends: asleep → awake");
    assert!(
        !beta_wakes
            .iter()
            .any(|t| t.starts_with("5d") || t.starts_with("6d")),
        "{beta_wakes:?}"
    );
    // The tenant's spec.hibernation, carried by a supervisor of its name.
    let legacy = at("ClusterResourceSupervisor/legacy: awake → asleep");
    assert_eq!(legacy.len(), 7, "18:00 every evening: {legacy:?}");
    assert_eq!(
        report.tenants_by_phase.get("Active"),
        Some(&4),
        "{:?}",
        report.tenants_by_phase
    );
    // The manual wake on Wednesday night.
    assert!(
        beta_wakes.iter().any(|t| t.starts_with("2d22h")),
        "{beta_wakes:?}"
    );
    assert!(
        report.replica_hours_saved > 500.0,
        "{}",
        report.replica_hours_saved
    );
    let again = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.trace_hash, again.trace_hash);
    assert!((report.replica_hours_saved - again.replica_hours_saved).abs() < f64::EPSILON);
}

/// Seconds of a timeline time (`1d2h30m5s`).
fn seconds(text: &str) -> u64 {
    let mut total = 0;
    let mut number = 0;
    for c in text.chars() {
        match c.to_digit(10) {
            Some(d) => number = number * 10 + u64::from(d),
            None => {
                let unit = match c {
                    'd' => 86_400,
                    'h' => 3_600,
                    'm' => 60,
                    _ => 1,
                };
                total += number * unit;
                number = 0;
            }
        }
    }
    total
}

/// Seed sweep: crashes and conflicts at other moments of every sleep and
/// wake never break invariant 4.
#[test]
fn hibernation_seed_sweep() {
    let s = scenario("hibernation-week.yaml");
    for seed in 100..100 + sweep_seeds() {
        let report = run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(report.hibernation_transitions > 30, "seed {seed}");
    }
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/small-team.yaml");
    for json in [false, true] {
        // The read end is closed before the report is written, as under
        // `mto-sim run … | head -1`.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mto-sim"));
        command.arg("run").arg(&path).stdout(writer);
        if json {
            command.arg("--json");
        }
        let out = command.output().expect("run mto-sim");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "json: {json}: {err}");
        assert!(!err.contains("panicked"), "json: {json}: {err}");
    }
}

#[test]
fn every_deletable_kind_is_deleted_and_what_mto_manages_comes_back() {
    use mto_model::view::Observed;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let deletes = [
        "{kind: Namespace, name: alpha-dev}",
        "{kind: RoleBinding, namespace: alpha-staging, name: alpha-owner-admin}",
        "{kind: ResourceQuota, namespace: alpha-staging, name: tenant-quota}",
        "{kind: LimitRange, namespace: beta-jobs, name: tenant-limit-range}",
        "{kind: Tenant, name: gamma}",
        "{kind: Quota, name: medium}",
        "{kind: LimitRange, namespace: beta-jobs, name: no-such-range}",
    ];
    let actions: String = deletes
        .iter()
        .enumerate()
        .map(|(i, d)| format!("  - at: {}h\n    delete: {d}\n", i + 1))
        .collect();
    let files: String = [
        "integration-config",
        "quotas",
        "tenant-alpha",
        "tenant-beta",
        "tenant-gamma",
    ]
    .iter()
    .map(|f| format!("    - ../../deploy/examples/{f}.yaml\n"))
    .collect();
    let text =
        format!("name: deletes\nduration: 1d\ncluster:\n  files:\n{files}actions:\n{actions}");
    let scenario =
        Scenario::parse(&dir.join("deletes.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let start = scenario.start.as_millisecond();
    let mut sim = Sim::new(scenario, 1);

    // Half an hour after the limit range went, what mto manages is back.
    while sim.now().as_millisecond() - start < 4 * 3_600_000 + 1_800_000 {
        assert!(
            sim.step().unwrap_or_else(|e| panic!("{e}")),
            "the run ended early"
        );
    }
    let view = sim.cluster().snapshot();
    assert!(view.namespace("alpha-dev").is_some(), "the namespace");
    assert!(
        view.role_bindings("alpha-staging")
            .any(|rb| rb.metadata.read().name() == Some("alpha-owner-admin")),
        "the role binding"
    );
    assert!(
        view.resource_quota("alpha-staging", "tenant-quota")
            .is_some(),
        "the resource quota"
    );
    assert!(
        view.in_namespace("beta-jobs")
            .owned::<mto_model::view::LimitRange>("tenant-limit-range")
            .is_some(),
        "the limit range"
    );

    let report = sim.run(|_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    let deleted: Vec<&str> = report
        .timeline
        .iter()
        .filter_map(|e| e.text.strip_prefix("user deletes "))
        .collect();
    assert_eq!(deleted.len(), deletes.len(), "{deleted:?}");
    let (found, missing) = deleted.split_at(deleted.len() - 1);
    assert!(
        found.iter().all(|d| !d.contains(": ")),
        "every delete found its object: {found:?}"
    );
    assert_eq!(
        missing,
        ["LimitRange/beta-jobs/no-such-range: not found"],
        "a missing object is reported"
    );
    let view = sim.cluster().snapshot();
    assert!(view.tenant("gamma").is_none(), "gamma is gone");
    assert!(
        view.quota("medium").is_none(),
        "a Quota is the platform team's: it stays deleted"
    );
}

#[test]
fn a_run_that_never_settles_says_what_kept_it_busy() {
    // The operator crashes before every API call and the faults never end.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let text = "name: doomed\nduration: 3h\ncluster:\n  files:\n    - ../../deploy/examples/quotas.yaml\n    - ../../deploy/examples/tenant-beta.yaml\nfaults:\n  crashes: 1\n";
    let s = Scenario::parse(&dir.join("doomed.yaml"), text).unwrap_or_else(|e| panic!("{e}"));
    let error = run(&s, 3).expect_err("no call ever succeeds");
    let SimError::NotConverged(stuck) = &error else {
        panic!("{error}");
    };
    assert_eq!(stuck.change, "initial cluster");
    assert!(
        stuck.busy.contains("replica 0 is down") || stuck.busy.contains("beta"),
        "{}",
        stuck.busy
    );
    assert_eq!(stuck.failure.subjects, ["beta"], "the tenant not at rest");
    assert!(
        stuck
            .failure
            .history
            .iter()
            .any(|l| l.contains("reconcile beta")),
        "{:#?}",
        stuck.failure.history
    );
    let message = error.to_string();
    assert!(
        message.starts_with("not converged at the end (3h), seed 3"),
        "{message}"
    );
    let json = serde_json::to_value(&error).expect("serializable");
    assert_eq!(json["error"], "notConverged");
    assert_eq!(json["seed"], 3);
}

#[test]
fn json_output_of_a_failed_run_is_json_too() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let path = std::env::temp_dir().join(format!("mto-sim-doomed-{}.yaml", std::process::id()));
    let text = format!(
        "name: doomed\nduration: 3h\ncluster:\n  files:\n    - {}\n    - {}\nfaults:\n  crashes: 1\n",
        dir.join("../../deploy/examples/quotas.yaml").display(),
        dir.join("../../deploy/examples/tenant-beta.yaml").display()
    );
    std::fs::write(&path, text).expect("write scenario");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mto-sim"))
        .arg("run")
        .arg(&path)
        .arg("--json")
        .output()
        .expect("run mto-sim");
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success(), "a failed run exits non-zero");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(json["error"], "notConverged");
}

/// Two replicas with clocks ninety seconds apart: the leader crashes, the
/// other crashes, the first is cut off from the apiserver. Each time the
/// other replica takes the lead (the run fails on two leaders at once),
/// and what users applied meanwhile still converges.
#[test]
fn two_replicas_hand_over_the_lead_and_never_share_it() {
    let s = scenario("two-replicas.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    // The first election, then one hand-over per crash or partition.
    assert!(report.leader_changes >= 3, "{}", report.leader_changes);
    assert!(report.lease_writes > 0);
    assert!(
        report
            .faults
            .get("duplicated watch event")
            .copied()
            .unwrap_or_default()
            > 0,
        "{:?}",
        report.faults
    );
    for tenant in ["delta", "epsilon"] {
        let change = format!("user applies Tenant/{tenant}");
        assert!(
            report.convergence.iter().any(|c| c.change == change),
            "{change} never converged: {:#?}",
            report.convergence
        );
    }
    assert!(
        report.tenants_by_phase.keys().all(|p| p == "Active"),
        "{:?}",
        report.tenants_by_phase
    );
}

#[test]
fn two_replicas_seed_sweep() {
    let s = scenario("two-replicas.yaml");
    for seed in 0..sweep_seeds().min(8) {
        let report = run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            report.leader_changes >= 3,
            "seed {seed}: {}",
            report.leader_changes
        );
        assert!(
            report.tenants_by_phase.keys().all(|p| p == "Active"),
            "seed {seed}: {:?}",
            report.tenants_by_phase
        );
    }
}

/// The operator dies right after its n-th write, for every n a clean run
/// makes: half-done decisions are finished by the next life, and the end
/// state is the clean run's.
#[test]
fn a_crash_after_any_write_ends_where_a_clean_run_ends() {
    let mut s = scenario("small-team.yaml");
    s.faults = mto_sim::scenario::FaultPlan::default();
    let clean = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(clean.writes > 10, "{}", clean.writes);
    for n in 1..=clean.writes.min(80) {
        s.faults.crash_after_writes = Some(n);
        let report = run(&s, s.seed).unwrap_or_else(|e| panic!("crash after write {n}: {e}"));
        assert_eq!(
            report.faults.get("operator crash after writes"),
            Some(&1),
            "crash after write {n}"
        );
        assert_eq!(
            report.tenants_by_phase, clean.tenants_by_phase,
            "crash after write {n}"
        );
    }
}

/// Under the storm some decisions are made while changes are still on
/// their way to the view; they are counted, and they do no harm.
#[test]
fn stale_views_are_counted() {
    let s = scenario("fault-storm.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.stale_decisions > 0, "{report:?}");
    assert!(report.stale_decisions < report.decisions + report.supervisor_decisions);
}

/// The people of a tenant race for its pooled Quota through two webhook
/// replicas that crash: every rule refuses somebody, the races are real
/// (compare-and-swaps lost), and the checks after every step never find
/// the tenant above its Quota.
#[test]
fn an_admission_storm_never_takes_a_tenant_over_its_quota() {
    let storm = scenario("admission-storm.yaml");
    let report = Sim::builder(storm)
        .duration(std::time::Duration::from_secs(4 * 60))
        .build()
        .run(|_, _| {})
        .unwrap_or_else(|e| panic!("{e}"));
    let admission = report.admission.expect("the scenario has people");
    assert!(admission.pods_started > 30, "{admission:?}");
    assert!(admission.pods_over_tenant_quota > 0, "{admission:?}");
    assert!(admission.ledger_conflicts > 0, "{admission:?}");
    for rule in ["vnamespace", "vrolebinding", "vtenantquota"] {
        assert!(admission.denied.contains_key(rule), "{rule}: {admission:?}");
    }
    assert!(report.invariant_checks > 1000);
}

/// Templates under faults and crashes, over a seed sweep: every change
/// converges with invariant 9 checked at every rest, and the instance's
/// story reads as the scenario tells it.
#[test]
fn templates_converge_after_every_change_for_every_seed() {
    let s = scenario("templates.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    let said = |text: &str| report.timeline.iter().any(|e| e.text.contains(text));
    assert!(
        said("ClusterTemplateInstance/basics: Applied → Drifted"),
        "edits put back"
    );
    assert!(
        said("ClusterTemplateInstance/basics: Applied → Failed: namespace outsiders"),
        "someone's ConfigMap in the way is named"
    );
    assert!(
        said("ClusterTemplateInstance/basics: Failed → Applied"),
        "it leaves the selector"
    );
    assert!(
        said("ClusterTemplateInstance/gamma-deploy-robot: Rendering → Applied"),
        "gamma's spec.templateInstances is carried by an instance of its own"
    );
    assert_eq!(
        report.objects_deployed, 2,
        "basics was deleted with all it deployed; gamma's ServiceAccount and pull secret stay"
    );
    assert!(
        said("user edits Secret/mto-system/registry-pull"),
        "the source changed, and the run converged after it (invariant 9 at rest)"
    );
    for seed in 0..sweep_seeds() {
        run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// A Template of a Helm chart: each namespace's rendering is asked for,
/// recorded and applied; a values change renders again; a version the
/// repository lacks fails each namespace keeping what it had; a restart
/// renders again from an empty cache at zero writes. Converges, with
/// invariant 9 checked at every rest, for every seed.
#[test]
fn a_helm_template_converges_after_every_change_for_every_seed() {
    let s = scenario("templates-helm.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    let said = |text: &str| report.timeline.iter().any(|e| e.text.contains(text));
    assert!(
        said("waiting for chart team-tools 1.2.0 from https://charts.example.com to be rendered"),
        "nothing is applied before the chart is rendered"
    );
    assert!(
        said(
            "→ Failed: namespace alpha-anna-example-sandbox: resources.helm.chart: chart team-tools 9.9.9"
        ),
        "the version the repository lacks is named"
    );
    assert_eq!(
        report.objects_deployed, 27,
        "three chart objects in each of nine namespaces"
    );
    // The "converged: …, N writes so far" lines around the first crash.
    let writes_so_far: Vec<&str> = report
        .timeline
        .iter()
        .map(|e| e.text.as_str())
        .skip_while(|t| !t.contains("user applies Template/team-tools"))
        .filter(|t| t.contains("converged:") || t.contains("crashed"))
        .collect();
    let crash = writes_so_far
        .iter()
        .position(|t| t.contains("replica 0 crashed"))
        .expect("the scenario crashes replica 0");
    let count = |t: &str| t.rsplit(", ").next().map(str::to_owned);
    assert_eq!(
        count(writes_so_far[crash - 1]),
        count(writes_so_far[crash + 1]),
        "a restart renders every chart again and writes nothing: {writes_so_far:?}"
    );
    assert!(
        report.charts_rendered >= 9 * 4,
        "every namespace rendered at start, after the values change, for 9.9.9 and back: {}",
        report.charts_rendered
    );
    for seed in 0..sweep_seeds() {
        run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// A month's showback in the simulator, through the operator's model:
/// each tenant's workloads priced hour by hour from their requests, and
/// what hibernation saved — to the micro-unit of a hand computation.
#[test]
fn a_simulated_month_prices_each_tenant_and_what_hibernation_saved() {
    let s = scenario("showback-month.yaml");
    let report = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    let cost = |tenant: &str| report.showback.get(tenant).cloned().unwrap_or_default();
    // beta runs 2 replicas of 250m and 512Mi all month: 720 hours of
    // 2 × (0.25 × 0.031611 + 0.5 × 0.004237) USD.
    assert_eq!(cost("beta").cost, 14_430_960);
    assert_eq!(cost("beta").saved, 0, "beta never sleeps");
    // gamma sleeps 12 hours a day: as much saved as spent.
    assert_eq!(cost("gamma").cost, cost("gamma").saved);
    assert_eq!(cost("gamma").cost, 60_379_560);
    assert!(cost("alpha").saved > 0 && cost("alpha").cost > cost("alpha").saved);
    // alpha's api uses more than it asks for in office hours and bursts:
    // without its usage curve alpha costs less; the jitter follows the seed.
    let mut asked_only = s.clone();
    asked_only.usage.clear();
    let plain = run(&asked_only, s.seed).unwrap_or_else(|e| panic!("{e}"));
    let plain_alpha = plain.showback.get("alpha").cloned().unwrap_or_default();
    assert!(
        cost("alpha").cost > plain_alpha.cost,
        "use above the requests is paid"
    );
    assert_eq!(plain.showback.get("beta"), report.showback.get("beta"));
    let again = run(&s, s.seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        again.showback, report.showback,
        "the same seed, the same month"
    );
    let other = run(&s, s.seed + 1).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(
        other.showback.get("alpha").map(|c| c.cost),
        Some(cost("alpha").cost),
        "another seed, another jitter"
    );
}

/// The console the IntegrationConfig asks for, through its edits, a
/// deleted Service, a broken setting, crashes and API faults, for every
/// seed: at every rest the pilot has nothing left to do (the run checks
/// it and fails otherwise), a broken setting removes nothing, and
/// switched off, everything of it goes.
#[test]
fn the_console_follows_the_integration_config_for_every_seed() {
    let s = scenario("console.yaml");
    for seed in s.seed..s.seed + sweep_seeds() {
        let report = run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(report.pilot_decisions > 0, "seed {seed}");
        let console: Vec<&str> = report
            .timeline
            .iter()
            .filter(|e| e.text.starts_with("Console: "))
            .map(|e| e.text.as_str())
            .collect();
        assert!(
            console
                .iter()
                .any(|t| t.starts_with("Console: Deploying → Misconfigured")
                    && t.contains("spec.integrations.keycloak.clientName")),
            "seed {seed}: {console:?}"
        );
        assert!(
            console.last().is_some_and(|t| t.ends_with("→ Off")),
            "seed {seed}: {console:?}"
        );
    }
}

/// Argo CD AppProjects through namespaces joining and leaving, an edit, a
/// deletion, a lost setting, crashes and API faults, for every seed: at
/// every rest each Extensions has nothing left to do (checked by the run),
/// the lost setting deletes nothing, and at the end alpha's project (no
/// purge) is kept and beta's (purge) is gone.
#[test]
fn app_projects_follow_their_tenants_for_every_seed() {
    let s = scenario("argocd.yaml");
    for seed in s.seed..s.seed + sweep_seeds() {
        let report = run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(report.extension_decisions > 0, "seed {seed}");
        let notes: Vec<&str> = report
            .timeline
            .iter()
            .map(|e| e.text.as_str())
            .filter(|t| t.starts_with("Extensions/alpha: "))
            .collect();
        assert!(
            notes.iter().any(|t| t.contains("→ Failed")
                && t.contains("spec.integrations.argocd.namespace")),
            "seed {seed}: {notes:?}"
        );
        assert!(
            notes.iter().any(|t| t.ends_with("over 7 namespaces")),
            "alpha-extra joined: {notes:?}"
        );
        assert_eq!(
            report.app_projects,
            ["AppProject/argocd/alpha"],
            "seed {seed}"
        );
    }
}

/// Vault through service accounts gaining and losing the label, an
/// hour's outage, a name someone else holds, two tenants deleted (one
/// purging), crashes and API faults, for every seed: at every rest Vault
/// holds what is asked and no tenant's policy or role reaches another's
/// path (checked by the run); the outage is a condition, not a deletion;
/// at the end only alpha's mount (not purged) is left.
#[test]
fn vault_keeps_each_tenant_in_its_place_for_every_seed() {
    let s = scenario("vault.yaml");
    for seed in s.seed..s.seed + sweep_seeds() {
        let report = run(&s, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let notes: Vec<&str> = report
            .timeline
            .iter()
            .map(|e| e.text.as_str())
            .filter(|t| t.starts_with("Vault: "))
            .collect();
        assert!(
            notes.iter().any(|t| t.contains("→ Unreachable")),
            "seed {seed}: the outage is said: {notes:?}"
        );
        assert!(
            notes.last().is_some_and(|t| t.contains("→ Synced")),
            "seed {seed}: Vault caught up: {notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|t| t.contains("NameTaken") && t.contains("group auditors")),
            "seed {seed}: the taken name is said: {notes:?}"
        );
        assert!(report.vault_failures > 0, "seed {seed}");
        assert_eq!(
            report.vault_objects,
            [("mount".to_owned(), 1)].into_iter().collect(),
            "seed {seed}: only alpha's secrets are kept"
        );
    }
}
