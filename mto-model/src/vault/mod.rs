//! The Vault machine: each tenant's place in Vault, kept as the
//! IntegrationConfig's `integrations.vault` asks.
//!
//! Rules (README, "Extensions: Vault"):
//! - Per tenant `t`: a KV (version 2) mount at `t/`; policies `t-owner`
//!   and `t-edit` (create, read, update, delete, list on `t/*` and
//!   `sys/mounts/t/*`, read and list on the common secrets path),
//!   `t-view` (read on `t/*`) and `t-vault-access` (what the tenant's
//!   service accounts get: read on `t/*` and the common path).
//! - Per group named in any tenant's access control: an external identity
//!   group of that name holding the policies of every tenant role the
//!   group has (and the IntegrationConfig's extra `policies`), aliased to
//!   the group of that name on the SSO login's mount
//!   (`accessInfo.accessorPath`) when one is set.
//! - Per tenant namespace with service accounts labelled
//!   `stakater.com/vault-access: "true"`: a Kubernetes-auth role named
//!   after the namespace, bound to those service accounts, with
//!   `t-vault-access`.
//! - What mto made carries mto's mark (the mount's description, the
//!   policy's first line, the group's metadata, the role's policy); a name
//!   someone else holds is never taken over.
//! - A tenant gone takes its policies, groups and roles with it; its
//!   mount (its secrets) goes only if the tenant was deleted with
//!   `onDeletePurgeNamespaces: true`, which mto marks on the mount while
//!   the tenant is being deleted. An unmarked mount of a gone tenant is
//!   kept, and said so.
//! - Vault is I/O outside the apiserver: the decision asks for it to be
//!   read ([`VaultCall::Read`]), the reading comes back into the view as
//!   an observation ([`VaultObserved`]), and writes update it as a watch
//!   would. Vault unreachable is a condition and a growing backoff; what
//!   cannot be read is never deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::Timestamp;
use crate::action::{Action, Decision, Reason, Requeue};
use crate::api::{IntegrationConfig, IntegrationConfigStatus, Tenant, VaultStatus};
use crate::integration::read_block;
use crate::machine::Phase;
use crate::validation::FieldError;
use crate::view::{Kind, ObjectRef, Observed as _, Snapshot};

#[cfg(test)]
mod tests;

/// The label a service account carries to be let into its tenant's path.
pub const VAULT_ACCESS_LABEL: &str = "stakater.com/vault-access";
/// The mount the Kubernetes-auth roles are kept in.
pub const KUBERNETES_AUTH_PATH: &str = "kubernetes";
/// What starts every policy mto writes: its mark.
pub const POLICY_MARK: &str = "# kept by mto";
/// The metadata key of mto's mark on identity groups.
pub const GROUP_MARK_KEY: &str = "managed-by";
/// How often Vault is read again when nothing happened: what someone
/// changed there by hand is put back within this long.
pub const RESYNC: Duration = Duration::from_secs(600);
/// The first wait after Vault could not be reached; it doubles on each
/// failure in a row, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between attempts on an unreachable Vault.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where mto's work in Vault stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VaultPhase {
    /// Not asked for.
    Off,
    /// Reading what Vault holds.
    Reading,
    /// Writing what differs.
    Syncing,
    /// As asked.
    Synced,
    /// Vault cannot be reached; tried again after a backoff.
    Unreachable,
    /// The settings cannot be carried out; nothing is changed.
    Misconfigured,
}

impl Phase for VaultPhase {
    const ALL: &'static [VaultPhase] = &[
        VaultPhase::Off,
        VaultPhase::Reading,
        VaultPhase::Syncing,
        VaultPhase::Synced,
        VaultPhase::Unreachable,
        VaultPhase::Misconfigured,
    ];
    const INITIAL: VaultPhase = VaultPhase::Off;
    // The status records only resting phases (Reading and Syncing are
    // steps within one decision's calls), so each resting phase may go to
    // any other.
    const TRANSITIONS: &'static [(VaultPhase, VaultPhase)] = {
        use VaultPhase::{Misconfigured, Off, Reading, Synced, Syncing, Unreachable};
        &[
            (Off, Reading),
            (Off, Syncing),
            (Off, Synced),
            (Off, Unreachable),
            (Off, Misconfigured),
            (Reading, Syncing),
            (Reading, Synced),
            (Reading, Unreachable),
            (Reading, Misconfigured),
            (Reading, Off),
            (Syncing, Synced),
            (Syncing, Reading),
            (Syncing, Unreachable),
            (Syncing, Misconfigured),
            (Syncing, Off),
            (Synced, Syncing),
            (Synced, Reading),
            (Synced, Unreachable),
            (Synced, Misconfigured),
            (Synced, Off),
            (Unreachable, Reading),
            (Unreachable, Syncing),
            (Unreachable, Synced),
            (Unreachable, Misconfigured),
            (Unreachable, Off),
            (Misconfigured, Reading),
            (Misconfigured, Syncing),
            (Misconfigured, Synced),
            (Misconfigured, Unreachable),
            (Misconfigured, Off),
        ]
    };

    /// Reading and Syncing end on their own, with the call.
    fn is_resting(self) -> bool {
        !matches!(self, VaultPhase::Reading | VaultPhase::Syncing)
    }

    fn name(self) -> &'static str {
        match self {
            VaultPhase::Off => "Off",
            VaultPhase::Reading => "Reading",
            VaultPhase::Syncing => "Syncing",
            VaultPhase::Synced => "Synced",
            VaultPhase::Unreachable => "Unreachable",
            VaultPhase::Misconfigured => "Misconfigured",
        }
    }
}

/// A decision about mto's objects in Vault.
pub type VaultDecision = Decision<VaultPhase>;

/// How mto signs in to Vault.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum VaultAuth {
    /// Kubernetes auth: the operator's service account token, at the role
    /// `accessInfo.roleName` of the mount `kubernetes`.
    #[default]
    Kubernetes,
    /// A token kept in a Secret (`accessInfo.secretRef`, key `token`).
    Token,
}

/// The settings of `integrations.vault`, checked.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VaultSettings {
    /// Vault's address, `https://vault.example:8200`.
    pub address: String,
    /// How mto signs in.
    pub auth: VaultAuth,
    /// The Kubernetes-auth role mto signs in with.
    pub role_name: Option<String>,
    /// The Secret holding a token (`namespace`, `name`), for token auth.
    pub secret_ref: Option<(String, String)>,
    /// The mount path of the SSO login whose groups are aliased.
    pub accessor_path: Option<String>,
    /// A path every tenant's members and service accounts may read.
    pub common_secrets_path: Option<String>,
    /// Policies added to every tenant group.
    pub policies: Vec<String>,
}

/// `spec.integrations` as far as Vault goes.
#[derive(Deserialize, Default)]
struct Integrations {
    #[serde(default)]
    vault: Option<VaultIntegration>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VaultIntegration {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    auth_method: Option<String>,
    #[serde(default)]
    access_info: AccessInfo,
    #[serde(default)]
    config: VaultIntegrationConfig,
    #[serde(default)]
    policies: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AccessInfo {
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    accessor_path: Option<String>,
    #[serde(default)]
    role_name: Option<String>,
    #[serde(default)]
    secret_ref: Option<SecretRef>,
}

#[derive(Deserialize, Default)]
struct SecretRef {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VaultIntegrationConfig {
    #[serde(default)]
    #[allow(dead_code)]
    // MTO's field: the SSO client users sign in with; read by Vault's admin, not mto.
    sso_client: Option<String>,
    #[serde(default)]
    common_secrets_path: Option<String>,
}

/// The Vault settings of `config`: `None` when Vault is not enabled, an
/// error naming the field and its fix when they cannot be carried out.
pub fn settings(config: &IntegrationConfig) -> Result<Option<VaultSettings>, FieldError> {
    let integrations: Integrations =
        read_block(config.spec.integrations.as_ref(), "spec.integrations")?;
    let Some(vault) = integrations.vault.filter(|v| v.enabled) else {
        return Ok(None);
    };
    let field = |name: &str, problem: &str, fix: &str| FieldError {
        path: format!("IntegrationConfig spec.integrations.vault.{name}"),
        problem: problem.to_owned(),
        fix: fix.to_owned(),
    };
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let address = nonempty(vault.access_info.address).ok_or_else(|| {
        field(
            "accessInfo.address",
            "missing",
            "set it to Vault's address, such as https://vault.vault.svc:8200",
        )
    })?;
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return Err(field(
            "accessInfo.address",
            &format!("{address:?} is not an http(s) URL"),
            "write it as https://<host>:<port>",
        ));
    }
    let auth = match vault.auth_method.as_deref() {
        None | Some("kubernetes") => VaultAuth::Kubernetes,
        Some("token") => VaultAuth::Token,
        Some(other) => {
            return Err(field(
                "authMethod",
                &format!("{other:?} is not a way mto signs in"),
                "use kubernetes (the default) or token",
            ));
        }
    };
    let role_name = nonempty(vault.access_info.role_name);
    let secret_ref = vault
        .access_info
        .secret_ref
        .and_then(|r| Some((nonempty(r.namespace)?, nonempty(r.name)?)));
    match auth {
        VaultAuth::Kubernetes if role_name.is_none() => {
            return Err(field(
                "accessInfo.roleName",
                "missing for Kubernetes auth",
                "name the Kubernetes-auth role mto's service account signs in with",
            ));
        }
        VaultAuth::Token if secret_ref.is_none() => {
            return Err(field(
                "accessInfo.secretRef",
                "missing for token auth (name and namespace)",
                "name the Secret whose key `token` holds mto's Vault token",
            ));
        }
        _ => {}
    }
    Ok(Some(VaultSettings {
        address: address.trim_end_matches('/').to_owned(),
        auth,
        role_name,
        secret_ref,
        accessor_path: nonempty(vault.access_info.accessor_path)
            .map(|p| p.trim_matches('/').to_owned()),
        common_secrets_path: nonempty(vault.config.common_secrets_path)
            .map(|p| p.trim_matches('/').to_owned()),
        policies: vault.policies,
    }))
}

/// What a Vault object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VaultKind {
    /// A secrets engine mount.
    Mount,
    /// An ACL policy.
    Policy,
    /// An identity group.
    Group,
    /// A role of the Kubernetes auth method.
    Role,
}

impl VaultKind {
    /// Its name, as status and traces say it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            VaultKind::Mount => "mount",
            VaultKind::Policy => "policy",
            VaultKind::Group => "group",
            VaultKind::Role => "role",
        }
    }
}

/// A Vault object by kind and name. Ordered as they are written: mounts
/// before the policies naming them, policies before the groups and roles
/// holding them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VaultKey {
    /// The kind.
    pub kind: VaultKind,
    /// The name (a mount's path without its slash).
    pub name: String,
}

impl std::fmt::Display for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vault {} {}", self.kind.name(), self.name)
    }
}

/// One of mto's objects in Vault, with the fields mto keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultObject {
    /// A KV version 2 mount at `<tenant>/`.
    Mount {
        /// The tenant (and path).
        tenant: String,
        /// Whether its secrets go when the tenant has gone.
        purge: bool,
    },
    /// An ACL policy.
    Policy {
        /// Its name.
        name: String,
        /// Its rules, starting with [`POLICY_MARK`].
        rules: String,
    },
    /// An external identity group.
    Group {
        /// Its name (the group's name in the cluster and the SSO).
        name: String,
        /// Its policies, sorted.
        policies: Vec<String>,
        /// The SSO mount path whose group of this name is aliased to it.
        alias_mount: Option<String>,
    },
    /// A role of the Kubernetes auth method.
    Role {
        /// Its name: the namespace's.
        namespace: String,
        /// The service accounts it lets in, sorted.
        service_accounts: Vec<String>,
        /// Its policy: the tenant's `-vault-access`.
        policy: String,
    },
}

impl VaultObject {
    /// Its key.
    #[must_use]
    pub fn key(&self) -> VaultKey {
        let (kind, name) = match self {
            VaultObject::Mount { tenant, .. } => (VaultKind::Mount, tenant),
            VaultObject::Policy { name, .. } => (VaultKind::Policy, name),
            VaultObject::Group { name, .. } => (VaultKind::Group, name),
            VaultObject::Role { namespace, .. } => (VaultKind::Role, namespace),
        };
        VaultKey {
            kind,
            name: name.clone(),
        }
    }

    /// The mount's description: mto's mark, and whether to purge.
    #[must_use]
    pub fn mount_description(tenant: &str, purge: bool) -> String {
        if purge {
            format!("mto: tenant {tenant}; purge with the tenant")
        } else {
            format!("mto: tenant {tenant}")
        }
    }

    /// A mount read from Vault, if mto made it: its description carries
    /// the mark.
    #[must_use]
    pub fn mount_from(path: &str, description: &str) -> Option<VaultObject> {
        let tenant = path.trim_end_matches('/');
        if description == Self::mount_description(tenant, true) {
            Some(VaultObject::Mount {
                tenant: tenant.to_owned(),
                purge: true,
            })
        } else if description == Self::mount_description(tenant, false) {
            Some(VaultObject::Mount {
                tenant: tenant.to_owned(),
                purge: false,
            })
        } else {
            None
        }
    }
}

/// A call to Vault: data, carried out by the operator over Vault's HTTP
/// API and by the simulator against its Vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VaultCall {
    /// Read everything mto keeps (and which names others hold); the
    /// result comes back into the view.
    Read {
        /// Vault's address.
        address: String,
    },
    /// Create or update one of mto's objects.
    Write {
        /// The object as it should be.
        object: VaultObject,
        /// Why.
        reason: Reason,
    },
    /// Delete one of mto's objects.
    Delete {
        /// Which.
        key: VaultKey,
        /// Why.
        reason: Reason,
    },
}

impl VaultCall {
    /// Whether it changes Vault.
    #[must_use]
    pub fn is_write(&self) -> bool {
        !matches!(self, VaultCall::Read { .. })
    }

    /// Why it is made.
    #[must_use]
    pub fn reason(&self) -> Option<Reason> {
        match self {
            VaultCall::Read { .. } => None,
            VaultCall::Write { reason, .. } | VaultCall::Delete { reason, .. } => Some(*reason),
        }
    }
}

impl std::fmt::Display for VaultCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultCall::Read { address } => write!(f, "read vault {address}"),
            VaultCall::Write { object, .. } => write!(f, "write {}", object.key()),
            VaultCall::Delete { key, .. } => write!(f, "delete {key}"),
        }
    }
}

/// What Vault holds, as far as mto is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VaultHoldings {
    /// The objects mto made, by key.
    pub mine: BTreeMap<VaultKey, VaultObject>,
    /// Names of the kinds mto keeps that someone else holds.
    pub taken: BTreeSet<VaultKey>,
}

impl VaultHoldings {
    /// Follows a write that succeeded, as a watch event would.
    pub fn carry(&mut self, call: &VaultCall) {
        match call {
            VaultCall::Read { .. } => {}
            VaultCall::Write { object, .. } => {
                self.mine.insert(object.key(), object.clone());
            }
            VaultCall::Delete { key, .. } => {
                self.mine.remove(key);
            }
        }
    }
}

/// The last reading of Vault, kept in the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultObserved {
    /// The address read.
    pub address: String,
    /// When.
    pub at: Timestamp,
    /// What it holds, or why it could not be read (or written).
    pub holdings: Result<VaultHoldings, String>,
    /// Failures in a row, for the backoff.
    pub failures: u32,
}

impl VaultObserved {
    /// A reading that succeeded.
    #[must_use]
    pub fn read(address: &str, at: Timestamp, holdings: VaultHoldings) -> VaultObserved {
        VaultObserved {
            address: address.to_owned(),
            at,
            holdings: Ok(holdings),
            failures: 0,
        }
    }

    /// A call that failed, after `previous`: what was read is forgotten
    /// (it is read again before anything more is written).
    #[must_use]
    pub fn failed(
        previous: Option<&VaultObserved>,
        address: &str,
        at: Timestamp,
        why: String,
    ) -> VaultObserved {
        let failures = previous
            .filter(|p| p.address == address && p.holdings.is_err())
            .map_or(1, |p| p.failures.saturating_add(1));
        VaultObserved {
            address: address.to_owned(),
            at,
            holdings: Err(why),
            failures,
        }
    }

    /// How long to wait before trying again.
    #[must_use]
    pub fn backoff(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        FIRST_BACKOFF
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF)
    }
}

/// Whether Vault is asked for: service accounts are then watched.
#[must_use]
pub fn in_play(snapshot: &Snapshot) -> bool {
    snapshot
        .integration_configs()
        .next()
        .is_some_and(|c| matches!(settings(c), Ok(Some(_))))
}

fn policy_rules(paths: &[(String, &str)]) -> String {
    let mut rules = String::from(POLICY_MARK);
    rules.push('\n');
    for (path, capabilities) in paths {
        rules.push_str(&format!(
            "path \"{path}\" {{\n  capabilities = [{capabilities}]\n}}\n"
        ));
    }
    rules
}

const ALL_CAPABILITIES: &str = r#""create", "read", "update", "delete", "list""#;
const READ: &str = r#""read""#;
const READ_LIST: &str = r#""read", "list""#;

/// The policies of tenant `t`: its members' by role and its service
/// accounts'.
#[must_use]
pub fn tenant_policies(t: &str, common: Option<&str>) -> Vec<VaultObject> {
    let common: Vec<(String, &str)> = common
        .map(|c| vec![(format!("{c}/*"), READ_LIST)])
        .unwrap_or_default();
    let write = [
        vec![
            (format!("{t}/*"), ALL_CAPABILITIES),
            (format!("sys/mounts/{t}/*"), ALL_CAPABILITIES),
        ],
        common.clone(),
    ]
    .concat();
    let read = [vec![(format!("{t}/*"), READ)], common].concat();
    let view = vec![(format!("{t}/*"), READ)];
    [
        ("owner", &write),
        ("edit", &write),
        ("view", &view),
        ("vault-access", &read),
    ]
    .into_iter()
    .map(|(role, paths)| VaultObject::Policy {
        name: format!("{t}-{role}"),
        rules: policy_rules(paths),
    })
    .collect()
}

/// What mto keeps in Vault for the cluster as `snapshot` shows it.
#[must_use]
pub fn desired(snapshot: &Snapshot, settings: &VaultSettings) -> BTreeMap<VaultKey, VaultObject> {
    let mut objects = BTreeMap::new();
    let mut put = |o: VaultObject| {
        objects.insert(o.key(), o);
    };
    let mut groups: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut tenants: Vec<&Tenant> = snapshot.tenants().collect();
    tenants.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for tenant in tenants {
        let Some(t) = tenant.metadata.name.as_deref() else {
            continue;
        };
        let purge = tenant.metadata.deletion_timestamp.is_some()
            && tenant
                .spec
                .namespaces
                .as_ref()
                .and_then(|n| n.on_delete_purge_namespaces)
                .unwrap_or(false);
        put(VaultObject::Mount {
            tenant: t.to_owned(),
            purge,
        });
        for policy in tenant_policies(t, settings.common_secrets_path.as_deref()) {
            put(policy);
        }
        if let Some(access) = &tenant.spec.access_control {
            for (subjects, role) in [
                (&access.owners, "owner"),
                (&access.editors, "edit"),
                (&access.viewers, "view"),
            ] {
                for group in subjects.iter().flat_map(|s| s.groups.iter()) {
                    groups
                        .entry(group.as_str())
                        .or_default()
                        .insert(format!("{t}-{role}"));
                }
            }
        }
        for namespace in snapshot.tenant_namespaces(t) {
            let mut service_accounts: Vec<String> = snapshot
                .dynamic_in(&service_account_kind(), namespace)
                .filter(|sa| {
                    sa.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(VAULT_ACCESS_LABEL))
                        .is_some_and(|v| v == "true")
                })
                .filter_map(|sa| sa.metadata.name.clone())
                .collect();
            if service_accounts.is_empty() {
                continue;
            }
            service_accounts.sort_unstable();
            put(VaultObject::Role {
                namespace: namespace.to_owned(),
                service_accounts,
                policy: format!("{t}-vault-access"),
            });
        }
    }
    for (group, mut policies) in groups {
        policies.extend(settings.policies.iter().cloned());
        put(VaultObject::Group {
            name: group.to_owned(),
            policies: policies.into_iter().collect(),
            alias_mount: settings.accessor_path.clone(),
        });
    }
    objects
}

/// The kind of the service accounts mto reads the label of.
#[must_use]
pub fn service_account_kind() -> crate::view::Gvk {
    crate::view::Gvk::from_api_version("v1", "ServiceAccount")
}

/// What it takes to bring `holdings` to `desired`, in order: writes
/// (mounts first), then deletes (roles first). A mount of a tenant gone
/// goes only if marked for purge.
#[must_use]
pub fn plan(
    desired: &BTreeMap<VaultKey, VaultObject>,
    holdings: &VaultHoldings,
) -> (Vec<VaultCall>, Vec<String>) {
    let mut calls = Vec::new();
    let mut kept = Vec::new();
    for (key, object) in desired {
        if holdings.taken.contains(key) {
            continue;
        }
        match holdings.mine.get(key) {
            Some(there) if there == object => {}
            Some(_) => calls.push(VaultCall::Write {
                object: object.clone(),
                reason: Reason::Drift,
            }),
            None => calls.push(VaultCall::Write {
                object: object.clone(),
                reason: Reason::Create,
            }),
        }
    }
    for (key, there) in holdings.mine.iter().rev() {
        if desired.contains_key(key) {
            continue;
        }
        match there {
            VaultObject::Mount { purge: false, .. } => kept.push(key.name.clone()),
            VaultObject::Mount { purge: true, .. } => calls.push(VaultCall::Delete {
                key: key.clone(),
                reason: Reason::Purge,
            }),
            _ => calls.push(VaultCall::Delete {
                key: key.clone(),
                reason: Reason::Remove,
            }),
        }
    }
    (calls, kept)
}

/// What the decision found, for the status.
struct Found {
    phase: VaultPhase,
    ok: bool,
    reason: &'static str,
    message: String,
    calls: Vec<VaultCall>,
    requeue: Requeue,
    /// The mounts of tenants gone that are kept, when Vault was read.
    kept: Option<Vec<String>>,
}

/// Decides about mto's objects in Vault from `snapshot` (its
/// IntegrationConfig `config`, its tenants, namespaces and service
/// accounts, and the last reading of Vault).
pub fn decide(config: &IntegrationConfig, snapshot: &Snapshot, now: Timestamp) -> VaultDecision {
    let meta = &config.metadata;
    let regarding = ObjectRef::of::<IntegrationConfig>(meta);
    let previous = config.status.as_ref();
    let from = previous
        .and_then(|s| s.vault.as_ref())
        .and_then(|v| v.phase.as_deref())
        .and_then(VaultPhase::from_name)
        .unwrap_or(VaultPhase::INITIAL);
    let found = find(snapshot, config, now);
    let mut actions: Vec<Action> = found
        .calls
        .into_iter()
        .map(|call| Action::Vault {
            call,
            regarding: regarding.clone(),
        })
        .collect();
    let resting_phase = if found.phase == VaultPhase::Syncing && actions.is_empty() {
        VaultPhase::Synced
    } else {
        found.phase
    };
    // Reading is a step on the way, not news: the status says where it
    // stood and moves when the reading is in.
    let reported = if resting_phase == VaultPhase::Reading {
        from
    } else if resting_phase == VaultPhase::Syncing {
        VaultPhase::Synced
    } else {
        resting_phase
    };
    let mut status = previous.cloned().unwrap_or_default();
    if reported == VaultPhase::Off {
        status.vault = None;
        crate::conditions::set_condition(&mut status.conditions, "VaultReady", None);
        status.clear_if_unused();
    } else {
        let condition = crate::conditions::condition(
            &status.conditions,
            "VaultReady",
            found.ok,
            found.reason,
            found.message.clone(),
            meta.generation,
            now,
        );
        crate::conditions::set_condition(&mut status.conditions, "VaultReady", Some(condition));
        // Without a reading, what the last one found stands.
        let kept_mounts = found.kept.clone().unwrap_or_else(|| {
            status
                .vault
                .as_ref()
                .map(|v| v.kept_mounts.clone())
                .unwrap_or_default()
        });
        status.vault = Some(VaultStatus {
            phase: Some(reported.name().to_owned()),
            kept_mounts,
        });
        status.observed_generation = meta.generation;
    }
    let events = if resting_phase == VaultPhase::Reading
        || (previous.is_none() && status == IntegrationConfigStatus::default())
    {
        Vec::new()
    } else {
        crate::conditions::write_status(
            &regarding,
            previous,
            status,
            |status| {
                let mut written = config.clone();
                written.status = Some(status);
                written.into()
            },
            &mut actions,
        )
    };
    Decision {
        from,
        phase: resting_phase,
        actions,
        events,
        requeue: found.requeue,
    }
}

fn find(snapshot: &Snapshot, config: &IntegrationConfig, now: Timestamp) -> Found {
    let settings = match settings(config) {
        Err(problem) => {
            return Found {
                phase: VaultPhase::Misconfigured,
                ok: false,
                reason: "Misconfigured",
                message: format!("{problem}; nothing in Vault is changed until it is fixed"),
                calls: Vec::new(),
                requeue: Requeue::OnChange,
                kept: None,
            };
        }
        Ok(None) => {
            return Found {
                phase: VaultPhase::Off,
                ok: true,
                reason: "Off",
                message: String::new(),
                calls: Vec::new(),
                requeue: Requeue::OnChange,
                kept: None,
            };
        }
        Ok(Some(settings)) => settings,
    };
    let read = || Found {
        phase: VaultPhase::Reading,
        ok: false,
        reason: "Reading",
        message: format!("reading Vault at {}", settings.address),
        calls: vec![VaultCall::Read {
            address: settings.address.clone(),
        }],
        requeue: Requeue::OnChange,
        kept: None,
    };
    // Service accounts decide the roles: until they are listed, a role
    // could lose a service account that is merely not listed yet.
    if !snapshot.is_listed(&Kind::Dynamic(service_account_kind())) {
        return Found {
            phase: VaultPhase::Reading,
            ok: false,
            reason: "Listing",
            message: "listing the cluster's service accounts".into(),
            calls: Vec::new(),
            requeue: Requeue::OnChange,
            kept: None,
        };
    }
    let Some(observed) = snapshot.vault().filter(|o| o.address == settings.address) else {
        return read();
    };
    let holdings = match &observed.holdings {
        Err(why) => {
            let retry = crate::time::after(observed.at, observed.backoff());
            if now >= retry {
                return read();
            }
            return Found {
                phase: VaultPhase::Unreachable,
                ok: false,
                reason: "Unreachable",
                // Said the same on every retry: an outage costs one
                // status write, not one per attempt.
                message: format!(
                    "{why}; nothing in Vault is changed or removed until it answers (tried again with a growing backoff, up to every {}s)",
                    MAX_BACKOFF.as_secs()
                ),
                calls: Vec::new(),
                requeue: Requeue::At(retry),
                kept: None,
            };
        }
        Ok(holdings) => holdings,
    };
    let resync = crate::time::after(observed.at, RESYNC);
    if now >= resync {
        return read();
    }
    let desired = desired(snapshot, &settings);
    let (calls, mut kept) = plan(&desired, holdings);
    kept.sort_unstable();
    let taken: Vec<String> = desired
        .keys()
        .filter(|k| holdings.taken.contains(k))
        .map(ToString::to_string)
        .collect();
    let tenants = snapshot.tenants().count();
    let (ok, reason, message) = if taken.is_empty() {
        let mut message = format!(
            "{tenants} tenants' mounts, policies, groups and roles in Vault at {}",
            settings.address
        );
        if !kept.is_empty() {
            message.push_str(&format!(
                "; the secrets of tenants gone are kept (not purged): {}",
                kept.join(", ")
            ));
        }
        (true, "Synced", message)
    } else {
        (
            false,
            "NameTaken",
            format!(
                "{} exist in Vault and mto did not make them (rename or delete them; the rest is kept)",
                taken.join(", ")
            ),
        )
    };
    Found {
        phase: VaultPhase::Syncing,
        ok,
        reason,
        message,
        calls,
        requeue: Requeue::At(resync),
        kept: Some(kept),
    }
}
