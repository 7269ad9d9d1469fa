//! A small cluster and what can happen to it: the vocabulary the property
//! tests generate and the fuzzer decodes from bytes. Every decision runs
//! against the in-memory apiserver, with the invariants checked after
//! every action mto takes.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use k8s_openapi::api::core::v1::{Namespace, ResourceQuotaSpec};
use k8s_openapi::api::rbac::v1::Subject;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::Timestamp;
use crate::action::{Action, Kind, Object, ObjectRef};
use crate::api::{
    AccessControl, ClusterResourceSupervisor, IntegrationConfig, Namespaces, Quota, QuotaSpec,
    Sandboxes, Subjects, Tenant, TenantHibernation, TenantSpec,
};
use crate::apiserver::ApiServer;
use crate::claims::requested_namespaces;
use crate::invariants::{Scope, check_action, check_cluster, check_tenant};
use crate::labels::TENANT_LABEL;
use crate::machine;
use crate::namespace::NamespacePhase;
use crate::tenant::decide;
use crate::view::{LimitRange, Observed as _, ResourceQuota, RoleBinding, Shelf, Snapshot, Typed};

/// The tenants' names.
pub const TENANTS: [&str; 4] = ["a", "b", "c", "d"];
const USERS: [&str; 4] = ["ann", "bob", "cy@example.com", "dee"];
const GROUPS: [&str; 2] = ["g1", "g2"];
const PREFIXED: [&str; 3] = ["dev", "qa", "ops"];
const UNPREFIXED: [&str; 3] = ["shared", "common", "legacy"];
/// Namespaces that may exist before any tenant asks for them.
pub const EXISTING: [&str; 4] = ["shared", "legacy", "a-dev", "b-qa"];

/// The instant everything happens at.
#[must_use]
pub fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A tenant's spec, in a few bits.
#[derive(Arbitrary, Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Which of dev, qa, ops (bits).
    pub prefixed: u8,
    /// Which of shared, common, legacy (bits).
    pub unprefixed: u8,
    /// Owner, editor and viewer users and groups (bits over the names).
    pub owners: u8,
    /// Editors.
    pub editors: u8,
    /// Viewers.
    pub viewers: u8,
    /// Sandboxes for owners and editors.
    pub sandboxes: bool,
    /// Private sandboxes.
    pub private: bool,
    /// Purge namespaces on delete.
    pub purge: bool,
    /// 0: no quota, 1: `q`, 2: a quota that does not exist.
    pub quota: u8,
    /// Ask for hibernation.
    pub hibernate: bool,
}

fn pick(names: &[&str], bits: u8) -> Vec<String> {
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

fn subjects(bits: u8) -> Option<Subjects> {
    let users = pick(&USERS, bits & 0x0f);
    let groups = pick(&GROUPS, bits >> 4);
    (!users.is_empty() || !groups.is_empty()).then_some(Subjects { users, groups })
}

impl Spec {
    /// The tenant spec these bits stand for.
    #[must_use]
    pub fn tenant_spec(&self) -> TenantSpec {
        TenantSpec {
            quota: match self.quota % 3 {
                0 => None,
                1 => Some("q".into()),
                _ => Some("missing".into()),
            },
            access_control: Some(AccessControl {
                owners: subjects(self.owners),
                editors: subjects(self.editors),
                viewers: subjects(self.viewers),
            }),
            namespaces: Some(Namespaces {
                with_tenant_prefix: pick(&PREFIXED, self.prefixed),
                without_tenant_prefix: pick(&UNPREFIXED, self.unprefixed),
                sandboxes: Some(Sandboxes {
                    enabled: self.sandboxes,
                    private: self.private,
                }),
                on_delete_purge_namespaces: Some(self.purge),
                metadata: None,
            }),
            hibernation: self.hibernate.then(|| TenantHibernation {
                sleep_schedule: "0 22 * * *".into(),
                wake_schedule: "0 6 * * *".into(),
            }),
            ..Default::default()
        }
    }
}

/// Something that happens to the cluster.
#[derive(Arbitrary, Clone, Debug)]
pub enum Change {
    /// A tenant's decision is carried out.
    Act(u8),
    /// Every tenant decides and acts until nothing is left to do.
    Converge,
    /// A user deletes the n-th role binding.
    DeleteBinding(u8),
    /// A user swaps the n-th role binding's subjects for a stranger.
    EditBinding(u8),
    /// A user raises the pods of the n-th resource quota.
    EditResourceQuota(u8),
    /// A user deletes the n-th limit range.
    DeleteLimitRange(u8),
    /// A user labels the n-th namespace for a tenant, or removes the label.
    LabelNamespace(u8, Option<u8>),
    /// A user annotates the n-th namespace (mto reads no such annotation).
    AnnotateNamespace(u8),
    /// The quota's pods change.
    Quota(u8),
    /// The quota is deleted.
    DropQuota,
    /// A tenant's spec changes.
    Respec(u8, Spec),
    /// A tenant is deleted.
    DeleteTenant(u8),
    /// The integration config makes `shared` privileged, or nothing.
    Privilege(bool),
    /// Someone else creates a ClusterResourceSupervisor named after a tenant.
    ForeignSupervisor(u8),
    /// The ClusterResourceSupervisor named after a tenant is deleted.
    RemoveSupervisor(u8),
}

/// A cluster to start from.
#[derive(Arbitrary, Clone, Debug)]
pub struct Start {
    /// One to four tenants.
    pub tenants: Vec<Spec>,
    /// Namespaces that exist before (by index into [`EXISTING`]), labelled
    /// for a tenant or not.
    pub existing: Vec<(u8, Option<u8>)>,
    /// The quota's pods.
    pub pods: u8,
    /// The quota's CPU, in millicores.
    pub millicpu: u16,
}

/// The cluster, through the in-memory apiserver.
#[derive(Debug)]
pub struct Cluster {
    api: ApiServer,
}

impl Cluster {
    /// The cluster `start` describes.
    #[must_use]
    pub fn new(start: &Start) -> Cluster {
        let mut cluster = Cluster {
            api: ApiServer::default(),
        };
        cluster.quota(
            u32::from(start.pods.max(1)),
            u32::from(start.millicpu.max(1)),
        );
        cluster.put(namespace("mto-system", None));
        for (i, spec) in start.tenants.iter().take(TENANTS.len()).enumerate() {
            // Created one after the other: the claim order.
            let created =
                Timestamp::from_second(1_700_000_000 + i as i64).unwrap_or(Timestamp::UNIX_EPOCH);
            let _ = cluster
                .api
                .put(Tenant::new(TENANTS[i], spec.tenant_spec()).into(), created);
        }
        for (name, owner) in &start.existing {
            let name = EXISTING[usize::from(*name) % EXISTING.len()];
            let owner = owner.map(|o| TENANTS[usize::from(o) % TENANTS.len()]);
            cluster.put(namespace(name, owner));
        }
        cluster
    }

    /// The apiserver.
    #[must_use]
    pub fn api(&self) -> &ApiServer {
        &self.api
    }

    /// A cluster around an apiserver as it is.
    #[must_use]
    pub fn from_api(api: ApiServer) -> Cluster {
        Cluster { api }
    }

    /// Carries one of mto's actions out, unchecked.
    pub fn execute(&mut self, action: &Action) -> Result<bool, crate::apiserver::ApiError> {
        self.api.execute(action, now())
    }

    /// The changes since the last call, as a watch reports them.
    pub fn drain_changes(&mut self) -> Vec<crate::apiserver::Change> {
        self.api.drain_changes()
    }

    /// The objects as they are.
    #[must_use]
    pub fn snapshot(&self) -> &Snapshot {
        self.api.snapshot()
    }

    /// The tenants, by name.
    #[must_use]
    pub fn tenants(&self) -> Vec<Tenant> {
        self.snapshot()
            .shelf::<Tenant>()
            .iter()
            .map(|t| (**t).clone())
            .collect()
    }

    /// A person creates or replaces an object; refusals are fine.
    pub fn put(&mut self, object: impl Into<Object>) {
        let _ = self.api.put(object.into(), now());
    }

    /// A person deletes an object; refusals are fine.
    pub fn delete(&mut self, target: &ObjectRef) {
        let _ = self.api.delete(target, None, now());
    }

    fn quota(&mut self, pods: u32, millicpu: u32) {
        let hard = BTreeMap::from([
            ("pods".to_string(), K8sQuantity(pods.to_string())),
            (
                "requests.cpu".to_string(),
                K8sQuantity(format!("{millicpu}m")),
            ),
        ]);
        self.put(Quota::new(
            "q",
            QuotaSpec {
                resourcequota: Some(
                    ResourceQuotaSpec {
                        hard: Some(hard),
                        ..Default::default()
                    }
                    .into(),
                ),
                limitrange: None,
                // Both ways of sharing, chosen by the input.
                sharing: pods
                    .is_multiple_of(2)
                    .then_some(crate::api::Sharing::EvenSplit),
            },
        ));
    }

    /// Carries out one change. Users' edits may break invariants mto then
    /// mends, so nothing is checked here.
    pub fn apply(&mut self, change: &Change) {
        let tenant = |i: u8| TENANTS[usize::from(i) % TENANTS.len()].to_owned();
        let s = self.api.snapshot();
        match change {
            Change::Act(i) => {
                if let Some(t) = s.tenant(&tenant(*i)).cloned() {
                    for a in decide(&t, s, now()).actions {
                        let _ = self.api.execute(&a, now());
                    }
                }
            }
            Change::Converge => {
                for _round in 0..12 {
                    let mut steady = true;
                    for t in self.tenants() {
                        for a in decide(&t, self.api.snapshot(), now()).actions {
                            steady = false;
                            let _ = self.api.execute(&a, now());
                        }
                    }
                    self.api.finalize_namespaces();
                    if steady {
                        break;
                    }
                }
            }
            Change::DeleteBinding(n) => {
                if let Some(rb) = nth(s.shelf::<RoleBinding>(), *n) {
                    self.delete(&ObjectRef::of::<RoleBinding>(&rb.metadata));
                }
            }
            Change::EditBinding(n) => {
                if let Some(mut rb) = nth(s.shelf::<RoleBinding>(), *n) {
                    rb.subjects = Some(
                        [Subject {
                            kind: "User".into(),
                            name: "stranger".into(),
                            ..Default::default()
                        }]
                        .into(),
                    );
                    self.put(rb);
                }
            }
            Change::EditResourceQuota(n) => {
                if let Some(mut rq) = nth(s.shelf::<ResourceQuota>(), *n) {
                    std::sync::Arc::make_mut(rq.spec.get_or_insert_with(Default::default)).hard =
                        Some(BTreeMap::from([(
                            "pods".to_string(),
                            K8sQuantity("999".into()),
                        )]));
                    self.put(rq);
                }
            }
            Change::DeleteLimitRange(n) => {
                if let Some(lr) = nth(s.shelf::<LimitRange>(), *n) {
                    self.delete(&ObjectRef::of::<LimitRange>(&lr.metadata));
                }
            }
            Change::LabelNamespace(n, owner) => {
                if let Some(mut ns) = nth(s.shelf::<Namespace>(), *n) {
                    let labels = ns.metadata.labels.get_or_insert_with(BTreeMap::new);
                    match owner {
                        Some(o) => labels.insert(TENANT_LABEL.into(), tenant(*o)),
                        None => labels.remove(TENANT_LABEL),
                    };
                    self.put(ns);
                }
            }
            Change::AnnotateNamespace(n) => {
                if let Some(mut ns) = nth(s.shelf::<Namespace>(), *n) {
                    ns.metadata
                        .annotations
                        .get_or_insert_with(BTreeMap::new)
                        .insert("example.com/note".into(), "hello".into());
                    self.put(ns);
                }
            }
            Change::Quota(pods) => self.quota(u32::from(*pods).max(1), 4000),
            Change::DropQuota => self.delete(&ObjectRef::cluster(Kind::Quota, "q")),
            Change::Respec(i, spec) => {
                if let Some(mut t) = s.tenant(&tenant(*i)).cloned() {
                    t.spec = spec.tenant_spec();
                    self.put(t);
                }
            }
            Change::DeleteTenant(i) => self.delete(&ObjectRef::cluster(Kind::Tenant, tenant(*i))),
            Change::Privilege(on) => {
                let mut config = IntegrationConfig::new("mto", Default::default());
                config.metadata.namespace = Some("mto-system".into());
                if *on {
                    config.spec.access_control = Some(crate::api::IntegrationAccessControl {
                        privileged: Some(crate::api::Privileged {
                            namespaces: vec!["^shared$".into()],
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
                self.put(config);
            }
            Change::ForeignSupervisor(i) => {
                let mut crs = ClusterResourceSupervisor::new(&tenant(*i), Default::default());
                crs.spec.namespaces.names = vec!["elsewhere".into()];
                crs.spec.schedule.sleep_schedule = "0 20 * * *".into();
                self.put(crs);
            }
            Change::RemoveSupervisor(i) => {
                self.delete(&ObjectRef::cluster(
                    Kind::ClusterResourceSupervisor,
                    tenant(*i),
                ));
            }
        }
    }

    /// Runs every tenant until all are steady, the namespace controller
    /// removing what was purged after each round: every action must keep
    /// the invariants that always hold and follow the machines' tables,
    /// and at rest every invariant holds. Returns how many decisions it
    /// took.
    pub fn converge(&mut self) -> Result<usize, String> {
        let mut decisions = 0;
        for _round in 0..12 {
            let mut steady = true;
            for t in self.tenants() {
                let name = t.metadata.name.clone().unwrap_or_default();
                let d = decide(&t, self.api.snapshot(), now());
                decisions += 1;
                if d != decide(&t, self.api.snapshot(), now()) {
                    return Err(format!("{name}: decide is not deterministic"));
                }
                if !machine::allowed(d.from, d.phase) {
                    return Err(format!("{name}: {:?} -> {:?}", d.from, d.phase));
                }
                steady &= d.is_steady();
                for a in &d.actions {
                    self.act(&name, a)?;
                }
            }
            for purged in self.api.finalize_namespaces() {
                let phase = namespace_phase(self.api.snapshot(), &purged);
                if phase != NamespacePhase::Unclaimed {
                    return Err(format!("purged namespace {purged} is {phase:?}"));
                }
            }
            if steady {
                let s = self.api.snapshot();
                let violations = check_cluster(s, s.shelf::<Tenant>().iter().map(|t| &**t));
                if !violations.is_empty() {
                    return Err(format!("at rest: {violations:?}"));
                }
                return Ok(decisions);
            }
        }
        Err("did not converge in 12 rounds".into())
    }

    /// One of mto's actions for tenant `name`, checked.
    fn act(&mut self, name: &str, a: &Action) -> Result<(), String> {
        let s = self.api.snapshot();
        if let Some(v) = check_action(s, a) {
            return Err(format!("{v} (by {a})"));
        }
        // No tenant writes into a namespace labelled for another.
        if let Action::Apply {
            object: Object::Namespace(ns),
            ..
        } = a
        {
            let n = ns.metadata.name.as_deref().unwrap_or_default();
            let owner = s.tenant_of_namespace(n);
            if owner.is_some_and(|o| o != name) {
                return Err(format!("{name} applied {n} owned by {owner:?}"));
            }
        }
        let touched = namespace_touched(a);
        let before = touched.as_deref().map(|n| namespace_phase(s, n));
        let broken_before = self.always_broken();
        self.api
            .execute(a, now())
            .map_err(|e| format!("{a}: {e}"))?;
        let s = self.api.snapshot();
        if let (Some(n), Some(before)) = (touched.as_deref(), before) {
            let after = namespace_phase(s, n);
            if !machine::allowed(before, after) {
                return Err(format!("namespace {n}: {before:?} -> {after:?} by {a}"));
            }
        }
        // No action of mto's breaks what must always hold (a user may have
        // broken it; mto mends it, perhaps in several steps); what holds
        // at rest is checked at rest.
        let broken: Vec<_> = self
            .always_broken()
            .into_iter()
            .filter(|v| !broken_before.contains(v))
            .collect();
        if !broken.is_empty() {
            return Err(format!("{a} broke {broken:?}"));
        }
        Ok(())
    }

    /// The invariants broken now that must hold at every instant.
    fn always_broken(&self) -> Vec<crate::invariants::Violation> {
        let s = self.api.snapshot();
        s.shelf::<Tenant>()
            .iter()
            .flat_map(|t| check_tenant(s, t, Scope::Always))
            .collect()
    }
}

/// Decodes a start and changes from the fuzzer's bytes, carries them out,
/// then converges with every check: never a panic, never a broken
/// invariant.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(start), Ok(changes)) = (Start::arbitrary(&mut u), Vec::<Change>::arbitrary(&mut u))
    else {
        return;
    };
    let mut cluster = Cluster::new(&start);
    for change in changes.iter().take(32) {
        cluster.apply(change);
    }
    if let Err(e) = cluster.converge() {
        panic!("{e}\nstart: {start:?}\nchanges: {changes:?}");
    }
    for t in cluster.tenants() {
        let d = decide(&t, cluster.snapshot(), now());
        assert!(
            d.actions.is_empty(),
            "steady state has actions: {:?}",
            d.actions
        );
    }
}

fn namespace(name: &str, tenant: Option<&str>) -> Namespace {
    let labels = tenant.map(|t| BTreeMap::from([(TENANT_LABEL.to_string(), t.to_string())]));
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The n-th object of a kind (wrapping).
fn nth<K: Typed>(shelf: Shelf<'_, K>, n: u8) -> Option<K> {
    let all: Vec<&K> = shelf.iter().map(|o| &**o).collect();
    (!all.is_empty()).then(|| all[usize::from(n) % all.len()].clone())
}

fn namespace_touched(a: &Action) -> Option<String> {
    match a {
        Action::Apply {
            object: Object::Namespace(ns),
            ..
        } => ns.metadata.name.clone(),
        Action::Delete { target, .. } | Action::Patch { target, .. }
            if target.kind == Kind::Namespace =>
        {
            Some(target.name.clone())
        }
        _ => None,
    }
}

/// The namespace's ownership phase: wanted when its labelled tenant exists,
/// is not being deleted, and asks for it, and it is not privileged.
#[must_use]
pub fn namespace_phase(s: &Snapshot, name: &str) -> NamespacePhase {
    let ns = s.namespace(name);
    let owner = ns.and_then(|n| crate::labels::tenant_of(&n.metadata));
    let wanted = !s.integration().is_privileged_namespace(name)
        && owner.and_then(|o| s.tenant(o)).is_some_and(|t| {
            t.metadata.deletion_timestamp.is_none()
                && requested_namespaces(t).iter().any(|r| r.name == name)
        });
    NamespacePhase::observe(ns, wanted)
}
