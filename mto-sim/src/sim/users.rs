//! The people using the cluster, and what the simulation keeps track of
//! about them: the cluster they start with, what they apply and delete,
//! the workloads they deploy (waiting for their namespace), the counts
//! those should run at, and the replica-hours sleep saves.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use mto_model::action::{Object, ObjectRef};
use mto_model::api::{AccessControl, Namespaces, Subjects, Tenant, TenantSpec};
use mto_model::apiserver::ApiError;
use mto_model::hibernation::{Supervisor, Workload};
use mto_model::invariants::Reach;
use mto_model::labels::{MANAGED_BY_LABEL, TENANT_LABEL};
use mto_model::machine::Phase as _;
use mto_model::manifest::Manifest;
use mto_model::view::ResourceQuota;
use mto_model::view::RoleBinding;
use mto_model::view::{Key, Kind, MetaRef, WatchEvent};
use rand::RngExt as _;

use super::{
    Event, GARBAGE_COLLECT, NAMESPACE_FINALIZE, Sim, SimError, TIMELINE_TENANT_LIMIT, counted,
    is_workload, millis,
};
use crate::scenario::{DeletableKind, ObjectKey, UserAction};

/// What the simulation knows of the people using the cluster.
#[derive(Debug, Default)]
pub(super) struct Users {
    /// The count each workload should run at: its own, or the last a user set.
    pub(super) intended: BTreeMap<ObjectRef, i32>,
    /// Namespaces users created (mto may adopt them, never delete them),
    /// known from what happened rather than from their annotations.
    pub(super) namespaces: BTreeSet<String>,
    /// Objects waiting for their namespace to exist, by namespace: what a
    /// GitOps tool applies keeps being applied until it lands.
    waiting: BTreeMap<String, Vec<Object>>,
    /// Replicas asleep per workload (their saved counts), and in all.
    asleep: BTreeMap<ObjectRef, i64>,
    asleep_replicas: i64,
    asleep_since_ms: u64,
    pub(super) replica_ms: u128,
    /// Each workload's replicas over time, for showback.
    pub(super) runs: BTreeMap<ObjectRef, WorkloadRun>,
}

/// A workload's replicas over time: what one replica asks for, and from
/// each instant (simulated milliseconds) how many run and how many sleep.
#[derive(Debug)]
pub(super) struct WorkloadRun {
    pub(super) tenant: Option<String>,
    pub(super) per_replica: mto_model::showback::Holding,
    pub(super) changes: Vec<(u64, i64, i64)>,
}

impl Sim {
    pub(super) fn load_initial(&mut self) {
        // mto is deployed in its namespace, where its replicas elect a
        // leader on a Lease.
        let operator_namespace = mto_model::lease::LeaseConfig::new("").namespace;
        if let Err(e) = self
            .cluster
            .put(namespace(&operator_namespace).into(), self.now())
        {
            self.note(format!("creating namespace {operator_namespace}: {e}"));
        }
        let manifests: Vec<Manifest> = self
            .scenario
            .initial
            .iter()
            .map(|l| l.manifest.clone())
            .collect();
        for m in &manifests {
            if let Err(e) = self.apply_manifest(m) {
                self.note(format!("{}: {e}", m.describe()));
            }
        }
        if let Some(g) = self.scenario.generate.clone() {
            for i in 0..g.tenants {
                let name = format!("t{i:05}");
                let users: Vec<String> = (0..g.users_per_tenant)
                    .map(|u| format!("{name}-user{u}@example.com"))
                    .collect();
                let spec = TenantSpec {
                    quota: g.quota.clone(),
                    access_control: Some(AccessControl {
                        owners: Some(Subjects {
                            users: users.iter().take(1).cloned().collect(),
                            groups: vec![format!("{name}-admins")],
                        }),
                        editors: Some(Subjects {
                            users: users.iter().skip(1).cloned().collect(),
                            groups: Vec::new(),
                        }),
                        viewers: None,
                    }),
                    namespaces: Some(Namespaces {
                        with_tenant_prefix: (0..g.namespaces_per_tenant)
                            .map(|n| format!("ns{n}"))
                            .collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                if let Err(e) = self
                    .cluster
                    .put(Tenant::new(&name, spec).into(), self.now())
                {
                    self.note(format!("generating {name}: {e}"));
                }
                for n in 0..g.namespaces_per_tenant {
                    let namespace = format!("{name}-ns{n}");
                    for a in 0..g.vault_service_accounts_per_namespace {
                        let account = serde_json::json!({
                            "apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": format!("vault-reader{a}"), "namespace": namespace,
                                         "labels": {mto_model::vault::VAULT_ACCESS_LABEL: "true"}}});
                        match Object::from_json(account) {
                            Ok(account) => self
                                .users
                                .waiting
                                .entry(namespace.clone())
                                .or_default()
                                .push(account),
                            Err(e) => {
                                self.note(format!("generating {namespace}'s service account: {e}"))
                            }
                        }
                    }
                    for w in 0..g.workloads_per_namespace {
                        let replicas = 1 + ((i + n + w) % 3) as i32;
                        self.users
                            .waiting
                            .entry(namespace.clone())
                            .or_default()
                            .push(deployment(&namespace, &format!("app{w}"), replicas).into());
                    }
                }
                if let Some(a) = &g.argocd {
                    let extensions = mto_model::api::Extensions::new(
                        &format!("{name}-argocd"),
                        mto_model::api::ExtensionsSpec {
                            tenant_name: Some(name.clone()),
                            argo_cd: Some(mto_model::api::ArgoCdExtension {
                                on_delete_purge_app_project: a.purge,
                                app_project: Some(mto_model::api::AppProjectConfig {
                                    source_repos: a.source_repos.clone(),
                                    ..Default::default()
                                }),
                            }),
                            vault: None,
                        },
                    );
                    if let Err(e) = self.cluster.put(extensions.into(), self.now()) {
                        self.note(format!("generating {name}'s Extensions: {e}"));
                    }
                }
                if let Some(h) = &g.hibernation {
                    let zone = (!h.time_zones.is_empty())
                        .then(|| h.time_zones[i as usize % h.time_zones.len()].clone());
                    let crs = mto_model::api::ClusterResourceSupervisor::new(
                        &format!("{name}-sleep"),
                        mto_model::api::ClusterResourceSupervisorSpec {
                            namespaces: mto_model::api::NamespaceSelection {
                                names: Vec::new(),
                                label_selector: Some(LabelSelector {
                                    match_labels: Some(
                                        [(TENANT_LABEL.to_owned(), name.clone())].into(),
                                    ),
                                    ..Default::default()
                                }),
                            },
                            schedule: mto_model::api::SleepSchedule {
                                sleep_schedule: h.sleep_schedule.clone(),
                                wake_schedule: h.wake_schedule.clone(),
                                time_zone: zone,
                            },
                            argocd: None,
                        },
                    );
                    if let Err(e) = self.cluster.put(crs.into(), self.now()) {
                        self.note(format!("generating {name}'s supervisor: {e}"));
                    }
                }
            }
        }
        self.broadcast();
        self.pending_changes.push((0, "initial cluster".into()));
        let snapshot = self.cluster.snapshot();
        let loaded = format!(
            "cluster loaded: {}, {}",
            counted(snapshot.shelf::<Tenant>().len(), "tenant"),
            counted(snapshot.shelf::<Namespace>().len(), "namespace")
        );
        self.note(loaded);
    }

    /// A user creates or replaces an object.
    fn apply_manifest(&mut self, m: &Manifest) -> Result<(), ApiError> {
        let now = self.now();
        let object: Object = match m {
            Manifest::Tenant(t) => t.clone().into(),
            Manifest::Quota(q) => q.clone().into(),
            Manifest::IntegrationConfig(c) => {
                // Its namespace is the operator's own, which exists.
                if let Some(ns) = &c.metadata.namespace
                    && self.cluster.snapshot().get::<Namespace>("", ns).is_none()
                {
                    self.cluster.put(namespace(ns).into(), now)?;
                }
                c.clone().into()
            }
            Manifest::Namespace(ns) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                let created = self
                    .cluster
                    .snapshot()
                    .get::<Namespace>("", &name)
                    .is_none();
                self.cluster.put(ns.clone().into(), now)?;
                if created {
                    self.users.namespaces.insert(name);
                }
                return Ok(());
            }
            Manifest::ResourceSupervisor(r) => {
                self.deploy(r.clone().into());
                return Ok(());
            }
            Manifest::ClusterResourceSupervisor(c) => c.clone().into(),
            Manifest::Template(t) => t.clone().into(),
            Manifest::ClusterTemplateInstance(c) => c.clone().into(),
            Manifest::TemplateGroupInstance(g) => g.clone().into(),
            Manifest::Extensions(e) => e.clone().into(),
            Manifest::TemplateInstance(i) => {
                self.deploy(i.clone().into());
                return Ok(());
            }
            Manifest::Deployment(d) => {
                self.deploy(d.clone().into());
                return Ok(());
            }
            Manifest::StatefulSet(s) => {
                self.deploy(s.clone().into());
                return Ok(());
            }
            Manifest::ServiceAccount(a) => {
                let object = serde_json::to_value(a)
                    .ok()
                    .and_then(|v| Object::from_json(v).ok());
                if let Some(object) = object {
                    self.deploy(object);
                }
                return Ok(());
            }
        };
        self.cluster.put(object, now)
    }

    /// A user applies a namespaced object; one whose namespace does not
    /// exist yet waits for it. A workload's count becomes the one it should
    /// run at.
    fn deploy(&mut self, object: Object) {
        let reference = object.object_ref();
        let replicas = match &object {
            Object::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
            Object::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
            _ => None,
        };
        match self.cluster.put(object.clone(), self.now()) {
            Ok(()) if is_workload(&reference) => {
                let replicas = replicas.unwrap_or(1);
                self.users.intended.insert(reference.clone(), replicas);
                self.trace(format!("user applies {reference} with {replicas} replicas"));
            }
            Ok(()) => self.trace(format!("user applies {reference}")),
            Err(_) => self
                .users
                .waiting
                .entry(reference.namespace.clone().unwrap_or_default())
                .or_default()
                .push(object),
        }
    }

    pub(super) fn user_action(&mut self, index: usize) -> Result<(), SimError> {
        let action = self.scenario.actions[index].action.clone();
        let description = match &action {
            UserAction::Apply(manifests) => {
                for m in manifests {
                    if let Err(e) = self.apply_manifest(m) {
                        self.note(format!("user applies {}: {e}", m.describe()));
                    }
                }
                format!(
                    "user applies {}",
                    manifests
                        .iter()
                        .map(Manifest::describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            UserAction::Delete(key) => {
                let result = self.cluster.delete(&target_of(key), None, self.now());
                match result {
                    Ok(_) => format!("user deletes {key}"),
                    Err(ApiError::NotFound(_)) => format!("user deletes {key}: not found"),
                    Err(e) => format!("user deletes {key}: {e}"),
                }
            }
            UserAction::Crash(replica) => {
                self.crash(*replica, "the scenario says so");
                self.pending_changes
                    .push((self.now_ms, format!("replica {replica} crashes")));
                return Ok(());
            }
            UserAction::ExpireWatch(replica) => {
                self.expire_watch(*replica);
                return Ok(());
            }
            UserAction::Partition(p) => {
                self.partition(p.replica, p.duration);
                return Ok(());
            }
            UserAction::Edit(edit) => self.edit_object(edit),
        };
        self.note(description.clone());
        self.pending_changes.push((self.now_ms, description));
        self.broadcast();
        Ok(())
    }

    /// A person edits (merging fields in, as `kubectl patch --type merge`
    /// does) or deletes one object of any kind.
    fn edit_object(&mut self, edit: &crate::scenario::ObjectEdit) -> String {
        let kind = Kind::typed(&edit.kind)
            .filter(|k| k.api_version() == edit.api_version)
            .unwrap_or_else(|| {
                Kind::Dynamic(mto_model::view::Gvk::from_api_version(
                    &edit.api_version,
                    &edit.kind,
                ))
            });
        let target = ObjectRef {
            kind,
            namespace: edit.namespace.clone(),
            name: edit.name.clone(),
        };
        let now = self.now();
        if edit.delete {
            return match self.cluster.delete(&target, None, now) {
                Ok(_) => format!("user deletes {target}"),
                Err(e) => format!("user deletes {target}: {e}"),
            };
        }
        let mut json = self
            .cluster
            .snapshot()
            .object(&target)
            .and_then(|o| o.to_json().ok())
            .unwrap_or_else(|| {
                serde_json::json!({
                    "apiVersion": edit.api_version,
                    "kind": edit.kind,
                    "metadata": {"name": edit.name, "namespace": edit.namespace},
                })
            });
        if let Some(set) = &edit.set {
            merge(&mut json, set);
        }
        let result = Object::from_json(json)
            .map_err(|e| e.to_string())
            .and_then(|o| self.cluster.put(o, now).map_err(|e| e.to_string()));
        match result {
            Ok(()) => format!("user edits {target}"),
            Err(e) => format!("user edits {target}: {e}"),
        }
    }

    pub(super) fn schedule_user_edit(&mut self) {
        let per_day = self.scenario.faults.user_edits_per_day;
        if per_day <= 0.0 {
            return;
        }
        // Exponential inter-arrival times.
        let u: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
        let gap_ms = (-u.ln() / per_day * 86_400_000.0) as u64;
        self.push(self.now_ms + gap_ms.max(1), Event::UserEdit);
    }

    /// A user deletes a role binding mto manages, or raises a quota mto set.
    pub(super) fn user_edit(&mut self) {
        if !self.faults_active() {
            return;
        }
        let snapshot = self.cluster.snapshot();
        let managed = |m: MetaRef<'_>| m.labels().is_some_and(|l| l.contains_key(MANAGED_BY_LABEL));
        let bindings = || {
            snapshot
                .shelf::<RoleBinding>()
                .iter()
                .filter(|rb| managed(rb.metadata.read()))
        };
        let quotas = || {
            snapshot
                .shelf::<ResourceQuota>()
                .iter()
                .filter(|q| managed(q.metadata.read()))
        };
        let (binding_count, quota_count) = (bindings().count(), quotas().count());
        if binding_count == 0 && quota_count == 0 {
            return;
        }
        let pick_quota = quota_count > 0 && (binding_count == 0 || self.rng.random_bool(0.5));
        let now = self.now();
        let text = if pick_quota {
            let at = self.rng.random_range(0..quota_count);
            let Some(mut rq) = quotas().nth(at).map(|q| (**q).clone()) else {
                return;
            };
            let target = ObjectRef::of::<ResourceQuota>(&rq.metadata);
            if let Some(hard) = rq
                .spec
                .as_mut()
                .and_then(|s| std::sync::Arc::make_mut(s).hard.as_mut())
            {
                for v in hard.values_mut() {
                    v.0 = "1000000".into();
                }
            }
            // A replace of what was read.
            if let Err(e) = self.cluster.put(rq.into(), now) {
                self.note(format!("user edit refused: {e}"));
            }
            format!("user raises {target}")
        } else {
            let at = self.rng.random_range(0..binding_count);
            let Some(target) = bindings()
                .nth(at)
                .map(|rb| ObjectRef::of::<RoleBinding>(&rb.metadata))
            else {
                return;
            };
            let _ = self.cluster.delete(&target, None, now);
            format!("user deletes {target}")
        };
        self.count_fault("user edit");
        self.note(text.clone());
        self.pending_changes.push((self.now_ms, text));
        self.broadcast();
    }

    /// Takes the cluster's changes since the last call: passes them to the
    /// replicas' watches, and keeps the simulation's own books (whom to
    /// check, the cluster controllers due, workloads waiting for a
    /// namespace, replicas asleep).
    pub(super) fn broadcast(&mut self) {
        loop {
            let changes = self.cluster.drain_changes();
            if changes.is_empty() {
                return;
            }
            let mut ready_namespaces = Vec::new();
            for change in changes {
                let reach = Reach::of_event(&change.event);
                if change.woken.is_everyone() {
                    let all: Vec<String> = self
                        .cluster
                        .snapshot()
                        .shelf::<Tenant>()
                        .keys()
                        .map(|(_, n)| n.to_owned())
                        .collect();
                    for name in all {
                        self.touch(&name, Reach::Everywhere);
                    }
                }
                for key in change.woken.keys() {
                    match key {
                        Key::Tenant(name) => self.touch(name, reach.clone()),
                        Key::Supervisor(id) => {
                            self.unsettled_supervisors.insert(id.clone());
                        }
                        Key::Instance(id) => {
                            self.unsettled_instances.insert(id.clone());
                        }
                        Key::Pilot => self.unsettled_pilot = true,
                        Key::Vault => self.unsettled_vault = true,
                        Key::Extension(name) => {
                            self.unsettled_extensions.insert(name.clone());
                        }
                        Key::Template(_) => {}
                    }
                }
                let (object, deleted) = match &change.event {
                    WatchEvent::Apply(taken) => (taken.object(), false),
                    WatchEvent::Delete(o) => (o, true),
                    _ => continue,
                };
                let target = object.object_ref();
                if deleted && !self.garbage_collector_due {
                    self.garbage_collector_due = true;
                    self.push(
                        self.now_ms + millis(GARBAGE_COLLECT),
                        Event::GarbageCollector,
                    );
                }
                if target.kind == Kind::Namespace {
                    if deleted {
                        self.users.namespaces.remove(&target.name);
                    } else if object.meta().deletion_timestamp.is_some() {
                        if !self.namespace_controller_due {
                            self.namespace_controller_due = true;
                            self.push(
                                self.now_ms + millis(NAMESPACE_FINALIZE),
                                Event::NamespaceController,
                            );
                        }
                    } else if self.users.waiting.contains_key(&target.name) {
                        ready_namespaces.push(target.name.clone());
                    }
                }
                if is_workload(&target) {
                    let asleep = if deleted { 0 } else { asleep_replicas(object) };
                    let running = if deleted { 0 } else { running_replicas(object) };
                    let tenant = target
                        .namespace
                        .as_deref()
                        .and_then(|ns| self.cluster.snapshot().tenant_of_namespace(ns))
                        .map(str::to_owned);
                    let run =
                        self.users
                            .runs
                            .entry(target.clone())
                            .or_insert_with(|| WorkloadRun {
                                tenant,
                                per_replica: requests_of(object),
                                changes: Vec::new(),
                            });
                    if run.changes.last().map(|(_, r, a)| (*r, *a)) != Some((running, asleep)) {
                        run.changes.push((self.now_ms, running, asleep));
                    }
                    let before = self.users.asleep.insert(target, asleep).unwrap_or(0);
                    self.users.asleep_replicas += asleep - before;
                }
                self.deliver_later(&change.event);
            }
            for namespace in ready_namespaces {
                for workload in self.users.waiting.remove(&namespace).unwrap_or_default() {
                    self.deploy(workload);
                }
            }
        }
    }

    pub(super) fn account_sleep(&mut self, until_ms: u64) {
        let u = &mut self.users;
        let span = until_ms.saturating_sub(u.asleep_since_ms);
        u.replica_ms += u128::from(span) * u128::try_from(u.asleep_replicas.max(0)).unwrap_or(0);
        u.asleep_since_ms = u.asleep_since_ms.max(until_ms);
    }

    pub(super) fn record_phase(&mut self, name: &str) {
        let tenant = self.cluster.snapshot().get::<Tenant>("", name);
        if tenant.is_some_and(|t| t.status.is_none()) {
            // Nothing said yet.
            return;
        }
        let status = tenant.and_then(|t| t.status.as_ref());
        let phase = status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Gone".into());
        // Why a tenant is not Ready, as its Ready condition says.
        let why = status
            .and_then(|s| {
                s.conditions.iter().find(|c| {
                    c.type_ == "Ready" && c.status == "False" && c.reason != "Terminating"
                })
            })
            .map(|c| format!(" ({}: {})", c.reason, c.message))
            .unwrap_or_default();
        let previous = self.phases.insert(name.to_owned(), phase.clone());
        if previous.as_ref() != Some(&phase) {
            let text = format!(
                "tenant {name}: {} → {phase}{why}",
                previous.unwrap_or_else(|| "new".into())
            );
            if self.cluster.snapshot().shelf::<Tenant>().len() <= TIMELINE_TENANT_LIMIT {
                self.note(text);
            } else {
                self.trace(text);
            }
        }
    }

    pub(super) fn record_instance_phase(&mut self, id: &mto_model::view::InstanceId) {
        let snapshot = self.cluster.snapshot();
        let Some(status) = mto_model::template::Instance::find(snapshot, id)
            .and_then(|i| i.status())
            .cloned()
        else {
            return;
        };
        let phase = status.phase.clone().unwrap_or_default();
        let key = id.key();
        let previous = self.instance_phases.insert(key.clone(), phase.clone());
        if previous.as_ref() != Some(&phase) {
            let detail = match &status.message {
                Some(m) => format!(": {m}"),
                None => format!(
                    " ({} of {} namespaces)",
                    status.deployed_namespaces.len(),
                    status.namespace_count.unwrap_or_default()
                ),
            };
            self.note(format!(
                "{key}: {} → {phase}{detail}",
                previous.unwrap_or_else(|| "new".into())
            ));
        }
    }

    /// Notes an Extensions object's AppProject state when it changes.
    pub(super) fn record_extension_phase(&mut self, name: &str) {
        let snapshot = self.cluster.snapshot();
        let Some(extensions) = snapshot.get::<mto_model::api::Extensions>("", name) else {
            return;
        };
        let argocd = extensions
            .status
            .clone()
            .and_then(|s| s.argocd)
            .unwrap_or_default();
        let phase = argocd.app_project_state.unwrap_or_default();
        let previous = self.extension_phases.insert(name.to_owned(), phase.clone());
        if previous.as_ref() != Some(&phase) {
            let detail = argocd
                .conditions
                .first()
                .map(|c| format!(": {}", c.message))
                .unwrap_or_default();
            self.note(format!(
                "Extensions/{name}: {} → {phase}{detail}",
                previous.unwrap_or_else(|| "new".into())
            ));
        }
    }

    /// Notes the console's phase when it changes.
    pub(super) fn record_pilot_phase(&mut self) {
        let snapshot = self.cluster.snapshot();
        let Some(config) = snapshot
            .shelf::<mto_model::api::IntegrationConfig>()
            .iter()
            .next()
        else {
            return;
        };
        let status = config.status.clone().unwrap_or_default();
        let phase = status
            .console
            .and_then(|c| c.phase)
            .unwrap_or_else(|| "Off".into());
        if self.pilot_phase != phase {
            let detail = status
                .conditions
                .iter()
                .find(|c| c.type_ == "ConsoleReady")
                .map(|c| format!(": {}", c.message))
                .unwrap_or_default();
            self.note(format!("Console: {} → {phase}{detail}", self.pilot_phase));
            self.pilot_phase = phase;
        }
    }

    pub(super) fn record_supervisor_phase(&mut self, key: &str) {
        let Some(id) = mto_model::view::SupervisorId::parse(key) else {
            return;
        };
        let snapshot = self.cluster.snapshot();
        // Gone, or nothing said yet.
        let Some(supervisor) = Supervisor::find(snapshot, &id).filter(|s| s.status().is_some())
        else {
            return;
        };
        let phase = supervisor.phase().name().to_owned();
        let detail = supervisor
            .status()
            .map(|s| {
                let replicas: i32 = s.sleeping_applications.iter().map(|a| a.replicas).sum();
                if s.sleeping_applications.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} workloads, {replicas} replicas saved)",
                        s.sleeping_applications.len()
                    )
                }
            })
            .unwrap_or_default();
        let many = snapshot.shelf::<mto_model::api::ResourceSupervisor>().len()
            + snapshot
                .shelf::<mto_model::api::ClusterResourceSupervisor>()
                .len()
            > TIMELINE_TENANT_LIMIT;
        let previous = self.supervisor_phases.insert(key.to_owned(), phase.clone());
        if previous.as_ref() != Some(&phase) {
            if previous.is_some() {
                self.report.hibernation_transitions += 1;
            }
            let text = format!(
                "{key}: {} → {phase}{detail}",
                previous.unwrap_or_else(|| "new".into())
            );
            if many {
                self.trace(text);
            } else {
                self.note(text);
            }
        }
    }
}

/// The replicas a workload does not run because it sleeps.
fn asleep_replicas(object: &Object) -> i64 {
    let workload: Option<Workload<'_>> = match object {
        Object::Deployment(d) => Some(mto_model::hibernation::workload(&**d)),
        Object::StatefulSet(s) => Some(mto_model::hibernation::workload(&**s)),
        _ => None,
    };
    workload
        .filter(|w| w.replicas == 0 && w.slept_by().is_some())
        .and_then(|w| w.saved_replicas())
        .map_or(0, i64::from)
}

/// The replicas a workload runs.
fn running_replicas(object: &Object) -> i64 {
    let replicas = match object {
        Object::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
        Object::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
        _ => None,
    };
    i64::from(replicas.unwrap_or(1).max(0))
}

/// What one replica of a workload asks for: its containers' requests.
fn requests_of(object: &Object) -> mto_model::showback::Holding {
    use mto_model::quantity::Quantity;
    let template = match object {
        Object::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
        Object::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
        _ => None,
    };
    let mut holding = mto_model::showback::Holding::default();
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    for c in containers {
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let get = |name: &str| {
            requests
                .and_then(|r| r.get(name))
                .and_then(|q| Quantity::parse(&q.0).ok())
                .unwrap_or(Quantity::ZERO)
        };
        holding.cpu_request = holding
            .cpu_request
            .checked_add(get("cpu"))
            .unwrap_or(holding.cpu_request);
        holding.ram_request = holding
            .ram_request
            .checked_add(get("memory"))
            .unwrap_or(holding.ram_request);
    }
    // Without a usage feed, usage is the request.
    holding.cpu_usage = holding.cpu_request;
    holding.ram_usage = holding.ram_request;
    holding
}

/// The object a scenario deletes.
fn target_of(key: &ObjectKey) -> ObjectRef {
    let kind = match key.kind {
        DeletableKind::Tenant => Kind::Tenant,
        DeletableKind::Quota => Kind::Quota,
        DeletableKind::Namespace => Kind::Namespace,
        DeletableKind::RoleBinding => Kind::RoleBinding,
        DeletableKind::ResourceQuota => Kind::ResourceQuota,
        DeletableKind::LimitRange => Kind::LimitRange,
        DeletableKind::ResourceSupervisor => Kind::ResourceSupervisor,
        DeletableKind::ClusterResourceSupervisor => Kind::ClusterResourceSupervisor,
        DeletableKind::Template => Kind::Template,
        DeletableKind::TemplateInstance => Kind::TemplateInstance,
        DeletableKind::ClusterTemplateInstance => Kind::ClusterTemplateInstance,
        DeletableKind::Extensions => Kind::Extensions,
    };
    ObjectRef {
        kind,
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    }
}

fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn deployment(namespace: &str, name: &str, replicas: i32) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A JSON merge patch (RFC 7386) of `patch` into `target`.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(have), serde_json::Value::Object(want)) => {
            for (key, value) in want {
                if value.is_null() {
                    have.remove(key);
                } else {
                    merge(
                        have.entry(key.clone()).or_insert(serde_json::Value::Null),
                        value,
                    );
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}
