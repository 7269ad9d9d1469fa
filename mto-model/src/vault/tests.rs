use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::apiserver::ApiServer;
use crate::labels::TENANT_LABEL;
use crate::machine::allowed;
use crate::view::Object;

fn now() -> Timestamp {
    "2026-12-02T10:00:00Z".parse().expect("time")
}

fn put(c: &mut ApiServer, value: Value) {
    let object = Object::from_json(value).expect("object");
    c.put(object, now()).unwrap_or_else(|e| panic!("{e}"));
}

fn config(c: &mut ApiServer, vault: Value) {
    put(
        c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mto-system"}}),
    );
    put(
        c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta1", "kind": "IntegrationConfig",
               "metadata": {"name": "config", "namespace": "mto-system"},
               "spec": {"integrations": {"vault": vault}}}),
    );
}

fn enabled() -> Value {
    json!({"enabled": true, "authMethod": "token",
           "accessInfo": {"address": "http://127.0.0.1:8200", "accessorPath": "oidc/",
                          "secretRef": {"name": "vault-token", "namespace": "mto-system"}},
           "config": {"commonSecretsPath": "managed-addons"}})
}

fn tenant(c: &mut ApiServer, name: &str, owners: &[&str], editors: &[&str], purge: bool) {
    put(
        c,
        json!({"apiVersion": "tenantoperator.stakater.com/v1beta3", "kind": "Tenant", "metadata": {"name": name},
               "spec": {"accessControl": {"owners": {"groups": owners}, "editors": {"groups": editors}},
                        "namespaces": {"withTenantPrefix": ["dev"], "onDeletePurgeNamespaces": purge}}}),
    );
}

fn namespace(c: &mut ApiServer, name: &str, tenant: &str) {
    put(
        c,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {TENANT_LABEL: tenant}}}),
    );
}

fn service_account(c: &mut ApiServer, namespace: &str, name: &str, access: bool) {
    let labels = json!({VAULT_ACCESS_LABEL: access.to_string()});
    put(
        c,
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": name, "namespace": namespace, "labels": labels}}),
    );
}

/// A Vault for the tests: what it holds, names others hold, and whether
/// it answers.
#[derive(Clone, Debug, Default)]
struct FakeVault {
    holdings: VaultHoldings,
    down: bool,
    calls: u64,
}

impl FakeVault {
    fn call(&mut self, call: &VaultCall) -> Result<(), String> {
        if self.down {
            return Err("connection refused".into());
        }
        // As the operator's client does: a name someone else holds is
        // refused, whatever mto's view says (it may be stale).
        let key = match call {
            VaultCall::Read { .. } => None,
            VaultCall::Write { object, .. } => Some(object.key()),
            VaultCall::Delete { key, .. } => Some(key.clone()),
        };
        if let Some(key) = key.filter(|k| self.holdings.taken.contains(k)) {
            return Err(format!("{key} is not mto's"));
        }
        if call.is_write() {
            self.calls += 1;
        }
        self.holdings.carry(call);
        Ok(())
    }
}

fn the_config(c: &ApiServer) -> IntegrationConfig {
    c.snapshot()
        .integration_configs()
        .next()
        .cloned()
        .expect("config")
}

/// Decides once and carries out at most `limit` actions (a crash after
/// them); returns the decision's phase and whether it had any.
fn step(
    c: &mut ApiServer,
    vault: &mut FakeVault,
    at: Timestamp,
    limit: usize,
) -> (VaultPhase, bool) {
    let d = decide(&the_config(c), c.snapshot(), at);
    assert!(allowed(d.from, d.phase), "{:?} → {:?}", d.from, d.phase);
    let any = !d.actions.is_empty();
    for action in d.actions.iter().take(limit) {
        match action {
            Action::Vault { call, .. } => match (call, vault.call(call)) {
                (VaultCall::Read { address }, Ok(())) => {
                    c.record_vault(VaultObserved::read(address, at, vault.holdings.clone()));
                }
                (_, Ok(())) => c.record_vault_call(call),
                (_, Err(why)) => {
                    let failed = VaultObserved::failed(
                        c.snapshot().vault(),
                        "http://127.0.0.1:8200",
                        at,
                        why,
                    );
                    c.record_vault(failed);
                    break;
                }
            },
            other => {
                c.execute(other, at)
                    .unwrap_or_else(|e| panic!("{other}: {e}"));
            }
        }
    }
    (d.phase, any)
}

/// Decides and carries out until nothing is left; the phases.
fn settle(c: &mut ApiServer, vault: &mut FakeVault) -> Vec<VaultPhase> {
    let mut phases = Vec::new();
    for _ in 0..10 {
        let (phase, any) = step(c, vault, now(), usize::MAX);
        phases.push(phase);
        if !any {
            return phases;
        }
    }
    panic!("did not settle: {phases:?}");
}

/// alpha (owners alpha-leads, editors devs) with alpha-dev, where the
/// service account `reader` has access and `other` not; beta (owners
/// devs) with beta-dev.
fn cluster() -> ApiServer {
    let mut c = ApiServer::default();
    config(&mut c, enabled());
    tenant(&mut c, "alpha", &["alpha-leads"], &["devs"], false);
    tenant(&mut c, "beta", &["devs"], &[], true);
    namespace(&mut c, "alpha-dev", "alpha");
    namespace(&mut c, "beta-dev", "beta");
    service_account(&mut c, "alpha-dev", "reader", true);
    service_account(&mut c, "alpha-dev", "other", false);
    c
}

fn status(c: &ApiServer) -> (Option<String>, Option<String>) {
    let config = the_config(c);
    let status = config.status.unwrap_or_default();
    let reason = status
        .conditions
        .iter()
        .find(|c| c.type_ == "VaultReady")
        .map(|c| c.reason.clone());
    (status.vault.and_then(|v| v.phase), reason)
}

#[test]
fn the_transition_table_is_sound() {
    crate::machine::assert_sound::<VaultPhase>();
}

#[test]
fn settings_name_the_field_and_the_fix() {
    let mut c = ApiServer::default();
    config(&mut c, json!({"enabled": false}));
    assert_eq!(settings(&the_config(&c)), Ok(None));
    for (vault, field) in [
        (json!({"enabled": true}), "accessInfo.address"),
        (
            json!({"enabled": true, "accessInfo": {"address": "vault:8200", "roleName": "mto"}}),
            "accessInfo.address",
        ),
        (
            json!({"enabled": true, "authMethod": "ldap", "accessInfo": {"address": "http://v"}}),
            "authMethod",
        ),
        (
            json!({"enabled": true, "accessInfo": {"address": "http://v"}}),
            "accessInfo.roleName",
        ),
        (
            json!({"enabled": true, "authMethod": "token", "accessInfo": {"address": "http://v", "secretRef": {"name": "t"}}}),
            "accessInfo.secretRef",
        ),
        (json!({"enabled": "yes"}), "vault.enabled"),
    ] {
        config(&mut c, vault.clone());
        let problem = settings(&the_config(&c)).expect_err(&vault.to_string());
        assert!(problem.path.ends_with(field), "{vault}: {problem}");
        assert!(!problem.fix.is_empty());
    }
    config(
        &mut c,
        json!({"enabled": true, "accessInfo": {"address": "https://vault:8200/", "roleName": "mto"}}),
    );
    let s = settings(&the_config(&c)).expect("valid").expect("enabled");
    assert_eq!(
        (s.address.as_str(), s.auth),
        ("https://vault:8200", VaultAuth::Kubernetes)
    );
}

#[test]
fn a_misconfigured_vault_changes_nothing_and_says_why() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    settle(&mut c, &mut vault);
    let before = vault.holdings.clone();
    config(
        &mut c,
        json!({"enabled": true, "accessInfo": {"address": "http://127.0.0.1:8200"}}),
    );
    let phases = settle(&mut c, &mut vault);
    assert_eq!(phases.last(), Some(&VaultPhase::Misconfigured));
    assert_eq!(vault.holdings, before, "nothing in Vault changed");
    assert_eq!(
        status(&c),
        (Some("Misconfigured".into()), Some("Misconfigured".into()))
    );
}

#[test]
fn each_tenant_gets_a_mount_policies_groups_and_roles_and_nothing_more_at_rest() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    let phases = settle(&mut c, &mut vault);
    assert_eq!(phases.first(), Some(&VaultPhase::Reading));
    assert_eq!(phases.last(), Some(&VaultPhase::Synced));
    let mine = &vault.holdings.mine;
    let get = |kind, name: &str| {
        mine.get(&VaultKey {
            kind,
            name: name.to_owned(),
        })
    };
    for t in ["alpha", "beta"] {
        assert_eq!(
            get(VaultKind::Mount, t).map(|m| m.key().name),
            Some(t.to_owned())
        );
        for role in ["owner", "edit", "view", "vault-access"] {
            assert!(
                get(VaultKind::Policy, &format!("{t}-{role}")).is_some(),
                "{t}-{role}"
            );
        }
    }
    let Some(VaultObject::Policy { rules, .. }) = get(VaultKind::Policy, "alpha-edit") else {
        panic!("alpha-edit");
    };
    assert!(rules.starts_with(POLICY_MARK));
    assert!(rules.contains("path \"alpha/*\"") && rules.contains("\"delete\""));
    assert!(rules.contains("path \"sys/mounts/alpha/*\""));
    assert!(rules.contains("path \"managed-addons/*\""));
    let Some(VaultObject::Policy { rules, .. }) = get(VaultKind::Policy, "alpha-view") else {
        panic!("alpha-view");
    };
    assert!(!rules.contains("\"delete\"") && !rules.contains("sys/mounts"));
    assert_eq!(
        get(VaultKind::Group, "devs"),
        Some(&VaultObject::Group {
            name: "devs".into(),
            policies: vec!["alpha-edit".into(), "beta-owner".into()],
            alias_mount: Some("oidc".into()),
        })
    );
    assert_eq!(
        get(VaultKind::Role, "alpha-dev"),
        Some(&VaultObject::Role {
            namespace: "alpha-dev".into(),
            service_accounts: vec!["reader".into()],
            policy: "alpha-vault-access".into(),
        })
    );
    assert!(
        get(VaultKind::Role, "beta-dev").is_none(),
        "no labelled service account there"
    );
    assert_eq!(status(&c), (Some("Synced".into()), Some("Synced".into())));
    let calls = vault.calls;
    assert_eq!(settle(&mut c, &mut vault), vec![VaultPhase::Synced]);
    assert_eq!(vault.calls, calls, "zero calls at rest");
}

#[test]
fn roles_follow_the_labelled_service_accounts_and_drift_is_put_back() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    settle(&mut c, &mut vault);
    service_account(&mut c, "beta-dev", "builder", true);
    service_account(&mut c, "alpha-dev", "reader", false);
    settle(&mut c, &mut vault);
    let role = |name: &str| {
        vault.holdings.mine.get(&VaultKey {
            kind: VaultKind::Role,
            name: name.into(),
        })
    };
    assert!(
        role("alpha-dev").is_none(),
        "its only labelled account lost the label"
    );
    assert!(role("beta-dev").is_some());
    // Someone edits a policy by hand: the next reading puts it back.
    let key = VaultKey {
        kind: VaultKind::Policy,
        name: "beta-owner".into(),
    };
    vault.holdings.mine.insert(
        key.clone(),
        VaultObject::Policy {
            name: "beta-owner".into(),
            rules: format!("{POLICY_MARK}\npath \"*\" {{ capabilities = [\"sudo\"] }}"),
        },
    );
    let later = crate::time::after(now(), RESYNC);
    step(&mut c, &mut vault, later, usize::MAX);
    step(&mut c, &mut vault, later, usize::MAX);
    assert_eq!(
        vault.holdings.mine.get(&key),
        tenant_policies("beta", Some("managed-addons"))
            .get(0..1)
            .and_then(|p| p.first()),
    );
}

#[test]
fn names_others_hold_are_never_taken_over() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    let foreign = VaultKey {
        kind: VaultKind::Group,
        name: "devs".into(),
    };
    vault.holdings.taken.insert(foreign.clone());
    settle(&mut c, &mut vault);
    assert!(!vault.holdings.mine.contains_key(&foreign));
    let (phase, reason) = status(&c);
    assert_eq!(
        (phase.as_deref(), reason.as_deref()),
        (Some("Synced"), Some("NameTaken"))
    );
}

#[test]
fn a_tenant_gone_keeps_its_secrets_unless_it_asked_to_purge() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    settle(&mut c, &mut vault);
    let mount = |name: &str| VaultKey {
        kind: VaultKind::Mount,
        name: name.into(),
    };
    // beta purges: marked while being deleted (the tenant's finalizer
    // holds it), then deleted once gone.
    let beta = ObjectRef::cluster(Kind::Tenant, "beta");
    let hold = |add| Action::Patch {
        target: beta.clone(),
        patch: crate::action::Patch::Finalizer(
            crate::action::FinalizerEdit::of(
                &c.snapshot().tenant("beta").expect("beta").metadata,
                crate::labels::TENANT_FINALIZER,
                add,
            )
            .expect("edit"),
        ),
        reason: Reason::AddFinalizer,
    };
    let add = hold(true);
    c.execute(&add, now()).expect("finalizer");
    c.delete(&beta, None, now()).expect("mark");
    settle(&mut c, &mut vault);
    assert_eq!(
        vault.holdings.mine.get(&mount("beta")),
        Some(&VaultObject::Mount {
            tenant: "beta".into(),
            purge: true
        })
    );
    let release = Action::Patch {
        target: beta.clone(),
        patch: crate::action::Patch::Finalizer(
            crate::action::FinalizerEdit::of(
                &c.snapshot().tenant("beta").expect("beta").metadata,
                crate::labels::TENANT_FINALIZER,
                false,
            )
            .expect("edit"),
        ),
        reason: Reason::RemoveFinalizer,
    };
    c.execute(&release, now()).expect("released");
    c.delete(&ObjectRef::cluster(Kind::Tenant, "alpha"), None, now())
        .expect("delete");
    assert!(c.snapshot().tenant("beta").is_none());
    settle(&mut c, &mut vault);
    assert!(c.snapshot().tenant("alpha").is_none());
    assert!(!vault.holdings.mine.contains_key(&mount("beta")), "purged");
    assert!(
        vault.holdings.mine.contains_key(&mount("alpha")),
        "kept: not purged"
    );
    assert!(
        vault
            .holdings
            .mine
            .keys()
            .all(|k| k.kind == VaultKind::Mount),
        "policies, groups and roles went: {:?}",
        vault.holdings.mine.keys().collect::<Vec<_>>()
    );
    let kept = the_config(&c)
        .status
        .and_then(|s| s.vault)
        .map(|v| v.kept_mounts);
    assert_eq!(kept, Some(vec!["alpha".to_owned()]));
}

#[test]
fn an_unreachable_vault_backs_off_and_deletes_nothing() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    settle(&mut c, &mut vault);
    let before = vault.holdings.clone();
    vault.down = true;
    // Tenants vanish while Vault is down, and its reading is stale.
    for t in ["alpha", "beta"] {
        c.delete(&ObjectRef::cluster(Kind::Tenant, t), None, now())
            .expect("delete");
    }
    let mut at = crate::time::after(now(), RESYNC);
    let mut waits = Vec::new();
    for _ in 0..6 {
        step(&mut c, &mut vault, at, usize::MAX);
        let d = decide(&the_config(&c), c.snapshot(), at);
        assert_eq!(d.phase, VaultPhase::Unreachable);
        assert!(d.actions.iter().all(|a| !matches!(a, Action::Vault { .. })));
        let Requeue::At(retry) = d.requeue else {
            panic!("no retry: {:?}", d.requeue);
        };
        waits.push(crate::time::until(at, retry).as_secs());
        for a in &d.actions {
            c.execute(a, at).expect("status");
        }
        at = retry;
    }
    assert_eq!(waits, vec![5, 10, 20, 40, 80, 160]);
    assert_eq!(vault.holdings, before, "nothing deleted while unreachable");
    assert_eq!(
        status(&c),
        (Some("Unreachable".into()), Some("Unreachable".into()))
    );
    vault.down = false;
    for _ in 0..4 {
        step(&mut c, &mut vault, at, usize::MAX);
    }
    assert_eq!(status(&c).0.as_deref(), Some("Synced"));
    assert!(
        vault
            .holdings
            .mine
            .keys()
            .all(|k| k.kind == VaultKind::Mount)
    );
}

#[test]
fn the_console_and_vault_keep_each_others_status() {
    let mut c = cluster();
    let mut vault = FakeVault::default();
    settle(&mut c, &mut vault);
    let mut config = the_config(&c);
    let status = config.status.get_or_insert_with(Default::default);
    status.console = Some(crate::api::ConsoleStatus {
        phase: Some("Running".into()),
        url: None,
    });
    c.execute(
        &Action::ApplyStatus {
            object: config.into(),
        },
        now(),
    )
    .expect("status");
    let d = decide(&the_config(&c), c.snapshot(), now());
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    let pilot = crate::pilot::decide(
        &the_config(&c),
        &crate::pilot::PilotSettings::default(),
        c.snapshot(),
        now(),
    );
    for a in &pilot.actions {
        c.execute(a, now()).expect("pilot");
    }
    assert_eq!(
        status_of(&c).0.as_deref(),
        Some("Synced"),
        "the pilot kept Vault's part"
    );
}

fn status_of(c: &ApiServer) -> (Option<String>, Option<String>) {
    status(c)
}

/// A change to the cluster or to Vault.
#[derive(Clone, Debug)]
enum Change {
    Tenant { index: usize, purge: bool },
    DeleteTenant(usize),
    Account { index: usize, access: bool },
    Foreign(usize),
    Down(bool),
    Crash(usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..3usize, any::<bool>()).prop_map(|(index, purge)| Change::Tenant { index, purge }),
        (0..3usize).prop_map(Change::DeleteTenant),
        (0..3usize, any::<bool>()).prop_map(|(index, access)| Change::Account { index, access }),
        (0..3usize).prop_map(Change::Foreign),
        any::<bool>().prop_map(Change::Down),
        (0..4usize).prop_map(Change::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever happens — tenants come and go, service accounts gain and
    /// lose the label, others take names, Vault goes down, mto stops after
    /// any prefix of its calls — mto never touches what others hold,
    /// never deletes a mount whose tenant did not ask to purge, and once
    /// Vault answers it settles with what is asked and makes no call at
    /// rest.
    #[test]
    fn vault_converges_and_loses_nothing(changes in proptest::collection::vec(change(), 1..12)) {
        let tenants = ["t0", "t1", "t2"];
        let mut c = ApiServer::default();
        config(&mut c, enabled());
        let mut vault = FakeVault::default();
        let mut kept_mounts: BTreeSet<String> = BTreeSet::new();
        let mut at = now();
        for change in changes {
            let mut limit = usize::MAX;
            match change {
                Change::Tenant { index, purge } => {
                    let t = tenants[index];
                    tenant(&mut c, t, &[&format!("{t}-owners")], &["everyone"], purge);
                    namespace(&mut c, &format!("{t}-dev"), t);
                }
                Change::DeleteTenant(index) => {
                    let target = ObjectRef::cluster(Kind::Tenant, tenants[index]);
                    if let Some(t) = c.snapshot().tenant(tenants[index]) {
                        let purging = t.spec.namespaces.as_ref().and_then(|n| n.on_delete_purge_namespaces) == Some(true);
                        let marked = vault.holdings.mine.get(&VaultKey { kind: VaultKind::Mount, name: tenants[index].into() })
                            == Some(&VaultObject::Mount { tenant: tenants[index].into(), purge: true });
                        if !(purging && marked) {
                            kept_mounts.insert(tenants[index].to_owned());
                        }
                    }
                    let _ = c.delete(&target, None, at);
                }
                Change::Account { index, access } => {
                    if c.snapshot().namespace(&format!("{}-dev", tenants[index])).is_none() {
                        continue;
                    }
                    service_account(&mut c, &format!("{}-dev", tenants[index]), "app", access);
                }
                Change::Foreign(index) => {
                    // Someone takes a name mto does not hold (yet).
                    let key = VaultKey { kind: VaultKind::Policy, name: format!("{}-view", tenants[index]) };
                    if !vault.holdings.mine.contains_key(&key) {
                        vault.holdings.taken.insert(key);
                    }
                }
                Change::Down(down) => vault.down = down,
                Change::Crash(after) => limit = after,
            }
            let mounts_before: BTreeSet<String> = vault.holdings.mine.keys().filter(|k| k.kind == VaultKind::Mount).map(|k| k.name.clone()).collect();
            step(&mut c, &mut vault, at, limit);
            for name in &mounts_before {
                let key = VaultKey { kind: VaultKind::Mount, name: name.clone() };
                if kept_mounts.contains(name) && c.snapshot().tenant(name).is_none() {
                    prop_assert!(vault.holdings.mine.contains_key(&key), "mount {} deleted unasked", name);
                }
            }
            at = crate::time::after(at, MAX_BACKOFF);
        }
        vault.down = false;
        let mut settled = false;
        for _ in 0..12 {
            let (_, any) = step(&mut c, &mut vault, at, usize::MAX);
            if !any {
                settled = true;
                break;
            }
        }
        prop_assert!(settled, "did not settle");
        let settings = settings(&the_config(&c)).expect("valid").expect("on");
        let want = desired(c.snapshot(), &settings);
        for (key, object) in &want {
            if !vault.holdings.taken.contains(key) {
                prop_assert_eq!(vault.holdings.mine.get(key), Some(object));
            }
        }
        for (key, object) in &vault.holdings.mine {
            if !want.contains_key(key) {
                prop_assert!(matches!(object, VaultObject::Mount { purge: false, .. }), "{} left over", key);
            }
        }
        let calls = vault.calls;
        step(&mut c, &mut vault, at, usize::MAX);
        prop_assert_eq!(vault.calls, calls, "a call at rest");
    }
}
