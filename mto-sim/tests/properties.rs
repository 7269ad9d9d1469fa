//! Property tests: random tenants, user actions and fault plans. Every run
//! converges once faults stop and never violates an invariant (the driver
//! checks them after every step and fails the run on the first violation).

use std::fmt::Write as _;
use std::path::Path;

use mto_sim::scenario::Scenario;
use mto_sim::sim::Sim;
use proptest::prelude::*;

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Clone, Debug)]
struct TenantCfg {
    prefixed: Vec<&'static str>,
    shared: Option<&'static str>,
    owners: Vec<&'static str>,
    editors: Vec<&'static str>,
    sandboxes: bool,
    purge: bool,
    quota: &'static str,
}

fn tenant_cfg() -> impl Strategy<Value = TenantCfg> {
    (
        proptest::sample::subsequence(vec!["dev", "qa", "prod"], 0..=3),
        proptest::option::of(proptest::sample::select(vec!["shared", "tools"])),
        proptest::sample::subsequence(vec!["ann", "bob", "cy"], 0..=2),
        proptest::sample::subsequence(vec!["dee", "eve"], 0..=2),
        any::<bool>(),
        any::<bool>(),
        proptest::sample::select(vec!["q", "q", "missing"]),
    )
        .prop_map(
            |(prefixed, shared, owners, editors, sandboxes, purge, quota)| TenantCfg {
                prefixed,
                shared,
                owners,
                editors,
                sandboxes,
                purge,
                quota,
            },
        )
}

fn tenant_yaml(name: &str, t: &TenantCfg) -> String {
    let list = |v: &[&str]| format!("[{}]", v.join(", "));
    let mut y = format!(
        "apiVersion: tenantoperator.stakater.com/v1beta3\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  quota: {}\n  accessControl:\n    owners:\n      users: {}\n      groups: [{name}-admins]\n    editors:\n      users: {}\n  namespaces:\n    withTenantPrefix: {}\n    sandboxes: {{enabled: {}, private: true}}\n    onDeletePurgeNamespaces: {}\n",
        t.quota,
        list(&t.owners),
        list(&t.editors),
        list(&t.prefixed),
        t.sandboxes,
        t.purge
    );
    if let Some(shared) = t.shared {
        let _ = writeln!(y, "    withoutTenantPrefix: [{shared}]");
    }
    y
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

#[derive(Clone, Debug)]
enum Act {
    Replace(usize, TenantCfg),
    Delete(usize),
}

fn scenario() -> impl Strategy<Value = (String, u64)> {
    (
        proptest::collection::vec(tenant_cfg(), 1..=4),
        proptest::collection::vec(
            prop_oneof![(0usize..5, tenant_cfg()).prop_map(|(i, t)| Act::Replace(i, t)), (0usize..5).prop_map(Act::Delete)],
            0..6,
        ),
        (0.0f64..0.3, 0.0f64..0.3, 0.0f64..0.05, 0.0f64..100.0),
        any::<u64>(),
    )
        .prop_map(|(tenants, acts, (conflicts, transient, crashes, edits), seed)| {
            let mut manifests = String::from("apiVersion: tenantoperator.stakater.com/v1beta1\nkind: Quota\nmetadata: {name: q}\nspec:\n  resourcequota:\n    hard: {pods: \"30\", requests.cpu: \"3\", requests.memory: 6Gi}\n");
            manifests.push_str("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: tools}\n");
            for (i, t) in tenants.iter().enumerate() {
                manifests.push_str("---\n");
                manifests.push_str(&tenant_yaml(NAMES[i], t));
            }
            let mut actions = String::new();
            for (i, a) in acts.iter().enumerate() {
                let at = format!("{}h", i * 2 + 1);
                match a {
                    Act::Replace(t, cfg) => {
                        let _ = write!(actions, "  - at: {at}\n    apply: |\n{}", indent(&tenant_yaml(NAMES[*t], cfg), 6));
                    }
                    Act::Delete(t) => {
                        let _ = writeln!(actions, "  - at: {at}\n    delete: {{kind: Tenant, name: {}}}", NAMES[*t]);
                    }
                }
            }
            let yaml = format!(
                "name: random\nduration: 1d\ncluster:\n  manifests: |\n{}actions:\n{}faults:\n  conflicts: {conflicts:.3}\n  transientErrors: {transient:.3}\n  slowCalls: 0.05\n  watchExpiry: 2h\n  crashes: {crashes:.3}\n  userEditsPerDay: {edits:.1}\n  until: 14h\n",
                indent(&manifests, 4),
                if actions.is_empty() { "  []\n".to_string() } else { actions }
            );
            (yaml, seed)
        })
}

proptest! {
    // 64 cases unless PROPTEST_CASES asks for more (or fewer).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_runs_converge_without_violations((yaml, seed) in scenario()) {
        let scenario = Scenario::parse(Path::new("random.yaml"), &yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        let report = Sim::new(scenario, seed).run(|_, _| {}).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        // Faults stop at 14h; the last change is the initial load or an
        // action before 11h, so the run must have settled by the end.
        prop_assert!(!report.convergence.is_empty(), "never converged:\n{yaml}");
        let last_change = report.timeline.iter().rev().find(|e| e.text.starts_with("user ")).map(|e| e.at.clone());
        let last_settle = report.timeline.iter().rev().find(|e| e.text.starts_with("converged")).map(|e| e.at.clone());
        prop_assert!(last_settle.is_some(), "no settle after {last_change:?}:\n{yaml}");
    }
}
