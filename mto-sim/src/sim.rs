//! The driver: runs mto's tenant machine against the simulated cluster,
//! exactly as the runtime runs it against a real one — decide from an
//! observation, execute the actions in order, stop at the first failure and
//! retry with backoff — on a virtual clock, with seeded faults, checking the
//! invariants after every step.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::hash::Hasher;
use std::time::Duration;

use mto_model::Timestamp;
use mto_model::action::{Action, Kind, ObjectRef, Reason};
use mto_model::api::{AccessControl, Namespaces, Subjects, Tenant, TenantSpec};
use mto_model::hibernation::{Supervisor, SupervisorId, WorkloadRef};
use mto_model::integration::Integration;
use mto_model::invariants::{Scope, Violation, check_action, check_tenant};
use mto_model::labels::MANAGED_BY_LABEL;
use mto_model::machine::Phase;
use mto_model::manifest::Manifest;
use mto_model::observed::Observed;
use mto_model::tenant::{Settled, decide};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::{DeletableKind, ObjectKey, Scenario, UserAction, duration_text};
use crate::store::{Store, StoreError, WatchEvent, Workload};

mod hibernation;
mod report;

pub use report::{
    BrokenInvariant, Convergence, Failure, NotConverged, Report, SimError, TimelineEntry,
};

/// Time one API call takes.
const API_LATENCY: Duration = Duration::from_millis(5);
/// Time from a write to the watch event reaching the controller.
const WATCH_LATENCY: Duration = Duration::from_millis(50);
/// Time the namespace controller takes to empty and remove a namespace.
const NAMESPACE_FINALIZE: Duration = Duration::from_secs(2);
/// Time the garbage collector takes to notice orphans.
const GARBAGE_COLLECT: Duration = Duration::from_secs(1);
/// Time an operator takes to come back after a crash.
const RESTART: Duration = Duration::from_secs(10);
/// Time a re-list takes after a watch expired.
const RELIST: Duration = Duration::from_secs(1);
/// Backoff of failed reconciles: base, doubled per attempt, capped; ±20% jitter.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// A change not settled this long after it (and after the faults end) fails the run.
const SETTLE_LIMIT: Duration = Duration::from_secs(3600);
/// Lines of trace kept to show with a violation.
const TRACE_TAIL: usize = 40;
/// Above this many tenants the timeline leaves out per-tenant phase changes.
const TIMELINE_TENANT_LIMIT: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The scenario's user action at this index.
    User(usize),
    /// A reconcile of one tenant, valid in one operator life (epoch).
    Reconcile {
        tenant: String,
        epoch: u64,
    },
    /// A decision of one supervisor (by key), valid in one operator life.
    Supervise {
        supervisor: String,
        epoch: u64,
    },
    NamespaceController,
    GarbageCollector,
    WatchExpire,
    Relist,
    OperatorRestart,
    UserEdit,
}

/// A simulation in progress.
pub struct Sim {
    scenario: Scenario,
    seed: u64,
    store: Store,
    start: Timestamp,
    now_ms: u64,
    until_ms: u64,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    sequence: u64,
    scheduled: BTreeMap<String, u64>,
    attempts: BTreeMap<String, u32>,
    /// The operator's memory of tenants with nothing to do; lost in a crash.
    settled: Settled,
    epoch: u64,
    operator_up: bool,
    watch_down: bool,
    namespace_controller_due: bool,
    garbage_collector_due: bool,
    pending_changes: Vec<(u64, String)>,
    touched: BTreeSet<String>,
    /// Tenants any event concerned since the last check at rest.
    unsettled: BTreeSet<String>,
    phases: BTreeMap<String, String>,
    /// Supervisor decisions due, by supervisor key (timed wake-ups too).
    supervisions: BTreeMap<String, u64>,
    supervisor_phases: BTreeMap<String, String>,
    /// The count each workload should run at: its own, or the last a user set.
    intended: BTreeMap<WorkloadRef, i32>,
    /// Namespaces users created (mto may adopt them, never delete them),
    /// known here from what happened rather than from their annotations.
    users_namespaces: BTreeSet<String>,
    /// Workloads waiting for their namespace to exist, by namespace.
    waiting_workloads: BTreeMap<String, Vec<Workload>>,
    /// Replicas asleep right now (their saved counts), and since when counted.
    asleep_replicas: i64,
    asleep_since_ms: u64,
    replica_ms: u128,
    trace_tail: std::collections::VecDeque<String>,
    /// While replaying a failed run: the trace lines about what broke.
    focus: Option<Focus>,
    trace_hash: fnv::FnvHasher,
    report: Report,
}

impl Sim {
    /// Sets up the cluster of `scenario` at time zero with `seed`.
    pub fn new(scenario: Scenario, seed: u64) -> Sim {
        let start = scenario.start;
        let until_ms = millis(scenario.duration);
        let mut sim = Sim {
            seed,
            store: Store::default(),
            start,
            now_ms: 0,
            until_ms,
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            sequence: 0,
            scheduled: BTreeMap::new(),
            attempts: BTreeMap::new(),
            settled: Settled::default(),
            epoch: 0,
            operator_up: true,
            watch_down: false,
            namespace_controller_due: false,
            garbage_collector_due: false,
            pending_changes: Vec::new(),
            touched: BTreeSet::new(),
            unsettled: BTreeSet::new(),
            phases: BTreeMap::new(),
            supervisions: BTreeMap::new(),
            supervisor_phases: BTreeMap::new(),
            intended: BTreeMap::new(),
            waiting_workloads: BTreeMap::new(),
            asleep_replicas: 0,
            asleep_since_ms: 0,
            replica_ms: 0,
            trace_tail: std::collections::VecDeque::new(),
            focus: None,
            users_namespaces: BTreeSet::new(),
            trace_hash: fnv::FnvHasher::default(),
            report: Report {
                scenario: scenario.name.clone(),
                seed,
                ..Report::default()
            },
            scenario,
        };
        sim.load_initial();
        for i in 0..sim.scenario.actions.len() {
            let at = millis(sim.scenario.actions[i].at);
            sim.push(at, Event::User(i));
        }
        if let Some(every) = sim.scenario.faults.watch_expiry {
            sim.push(millis(every), Event::WatchExpire);
        }
        sim.schedule_user_edit();
        sim
    }

    fn load_initial(&mut self) {
        let now = self.now();
        let manifests: Vec<Manifest> = self
            .scenario
            .initial
            .iter()
            .map(|l| l.manifest.clone())
            .collect();
        for m in &manifests {
            if let Err(e) = self.apply_manifest(m, now) {
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
                if let Err(e) = self.store.put_tenant(Tenant::new(&name, spec), now) {
                    self.note(format!("generating {name}: {e}"));
                }
                for n in 0..g.namespaces_per_tenant {
                    let namespace = format!("{name}-ns{n}");
                    for w in 0..g.workloads_per_namespace {
                        let replicas = 1 + ((i + n + w) % 3) as i32;
                        let d = generated_deployment(&namespace, &format!("app{w}"), replicas);
                        self.waiting_workloads
                            .entry(namespace.clone())
                            .or_default()
                            .push(Workload::Deployment(d));
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
                                label_selector: Some(
                                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                                        match_labels: Some(
                                            [(
                                                mto_model::labels::TENANT_LABEL.to_owned(),
                                                name.clone(),
                                            )]
                                            .into(),
                                        ),
                                        ..Default::default()
                                    },
                                ),
                            },
                            schedule: mto_model::api::SleepSchedule {
                                sleep_schedule: h.sleep_schedule.clone(),
                                wake_schedule: h.wake_schedule.clone(),
                                time_zone: zone,
                            },
                        },
                    );
                    self.store.put_supervisor(Supervisor::Cluster(crs), now);
                }
            }
        }
        self.store.drain_events();
        self.pending_changes.push((0, "initial cluster".into()));
        let objects = self.store.view().objects();
        let loaded = format!(
            "cluster loaded: {}, {}",
            counted(objects.tenants.len(), "tenant"),
            counted(objects.namespaces.len(), "namespace")
        );
        self.note(loaded);
        self.enqueue_all();
    }

    /// A user creates or replaces an object; returns what happened.
    fn apply_manifest(&mut self, m: &Manifest, now: Timestamp) -> Result<(), String> {
        let result = match m {
            Manifest::Tenant(t) => self.store.put_tenant(t.clone(), now),
            Manifest::Quota(q) => self.store.put_quota(q.clone(), now),
            Manifest::Namespace(ns) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                let created = self.store.view().namespace(&name).is_none();
                let result = self.store.put_namespace(ns.clone(), now);
                if created && result.is_ok() {
                    self.users_namespaces.insert(name);
                }
                result
            }
            // Scenario loading validated it, so it compiles.
            Manifest::IntegrationConfig(c) => {
                let integration = Integration::compile(Some(c)).map_err(|e| e.to_string())?;
                self.store.put_integration(integration);
                Ok(())
            }
            Manifest::ResourceSupervisor(r) => {
                let supervisor = Supervisor::Namespaced(r.clone());
                let key = supervisor.key();
                self.store.put_supervisor(supervisor, now);
                self.schedule_supervisor(&key, self.now_ms + millis(WATCH_LATENCY));
                Ok(())
            }
            Manifest::ClusterResourceSupervisor(c) => {
                let supervisor = Supervisor::Cluster(c.clone());
                let key = supervisor.key();
                self.store.put_supervisor(supervisor, now);
                self.schedule_supervisor(&key, self.now_ms + millis(WATCH_LATENCY));
                Ok(())
            }
            Manifest::Deployment(d) => {
                self.deploy(Workload::Deployment(d.clone()));
                Ok(())
            }
            Manifest::StatefulSet(st) => {
                self.deploy(Workload::StatefulSet(st.clone()));
                Ok(())
            }
            other => {
                return Err(format!(
                    "{} is not simulated yet; ignored",
                    other.describe()
                ));
            }
        };
        result.map_err(|e| e.to_string())
    }

    /// The current simulated instant.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.start + Duration::from_millis(self.now_ms)
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.now_ms)
    }

    /// The cluster.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    fn schedule(&mut self, tenant: &str, at: u64) {
        // A crashed operator queues nothing; its restart re-lists.
        if !self.operator_up || self.scheduled.get(tenant).is_some_and(|t| *t <= at) {
            return;
        }
        self.scheduled.insert(tenant.to_owned(), at);
        let epoch = self.epoch;
        self.push(
            at,
            Event::Reconcile {
                tenant: tenant.to_owned(),
                epoch,
            },
        );
    }

    fn enqueue_all(&mut self) {
        let at = self.now_ms + millis(WATCH_LATENCY);
        for t in self
            .store
            .view()
            .objects()
            .tenants
            .keys()
            .cloned()
            .collect::<Vec<_>>()
        {
            self.schedule(&t, at);
        }
        for key in self
            .store
            .view()
            .objects()
            .supervisors
            .keys()
            .cloned()
            .collect::<Vec<_>>()
        {
            self.schedule_supervisor(&key, at);
        }
    }

    fn faults_active(&self) -> bool {
        self.scenario
            .faults
            .until
            .is_none_or(|u| self.now_ms < millis(u))
    }

    fn fault(&mut self, share: f64) -> bool {
        share > 0.0 && self.faults_active() && self.rng.random_bool(share.min(1.0))
    }

    fn count_fault(&mut self, name: &str) {
        *self.report.faults.entry(name.into()).or_default() += 1;
    }

    fn trace(&mut self, line: String) {
        let line = format!("[{}] {line}", duration_text::show(self.elapsed()));
        self.trace_hash.write(line.as_bytes());
        self.trace_hash.write_u8(b'\n');
        if let Some(focus) = &mut self.focus {
            focus.observe(&line);
        }
        if self.trace_tail.len() == TRACE_TAIL {
            self.trace_tail.pop_front();
        }
        self.trace_tail.push_back(line);
    }

    /// A line in the trace and the timeline.
    fn note(&mut self, text: String) {
        self.trace(text.clone());
        self.report.timeline.push(TimelineEntry {
            at: duration_text::show(self.elapsed()),
            text,
        });
    }

    /// Processes the next event. `Ok(false)` when the run is over.
    pub fn step(&mut self) -> Result<bool, SimError> {
        let Some(Reverse((at, _, event))) = self.queue.pop() else {
            return Ok(false);
        };
        if at > self.until_ms {
            self.queue.clear();
            return Ok(false);
        }
        self.account_sleep(at);
        self.now_ms = self.now_ms.max(at);
        self.report.steps += 1;
        self.touched.clear();
        match event {
            Event::User(i) => self.user_action(i),
            // An event of an earlier operator life is stale; it must not
            // consume the current life's entry for the same instant.
            Event::Reconcile { tenant, epoch } => {
                if epoch == self.epoch && self.scheduled.get(&tenant) == Some(&at) {
                    self.scheduled.remove(&tenant);
                    if self.operator_up {
                        self.reconcile(&tenant)?;
                    }
                }
            }
            Event::Supervise { supervisor, epoch } => {
                if epoch == self.epoch && self.supervisions.get(&supervisor) == Some(&at) {
                    self.supervisions.remove(&supervisor);
                    if self.operator_up {
                        self.supervise(&supervisor)?;
                    }
                }
            }
            Event::NamespaceController => {
                self.namespace_controller_due = false;
                let removed = self.store.finalize_namespaces();
                if !removed.is_empty() {
                    self.trace(format!(
                        "namespace controller removed {}",
                        removed.join(", ")
                    ));
                }
                let events = self.store.drain_events();
                self.route(events, false);
            }
            Event::GarbageCollector => {
                self.garbage_collector_due = false;
                let removed = self.store.collect_garbage();
                if !removed.is_empty() {
                    let names: Vec<String> = removed.iter().map(ToString::to_string).collect();
                    self.trace(format!("garbage collector removed {}", names.join(", ")));
                }
                let events = self.store.drain_events();
                self.route(events, false);
            }
            Event::WatchExpire => {
                self.count_fault("watch expired");
                self.trace("watch expired; events are lost until the re-list".into());
                self.watch_down = true;
                self.push(self.now_ms + millis(RELIST), Event::Relist);
                if let Some(every) = self.scenario.faults.watch_expiry {
                    self.push(self.now_ms + millis(every), Event::WatchExpire);
                }
            }
            Event::Relist => {
                self.watch_down = false;
                self.trace("re-listed; every tenant is queued".into());
                self.enqueue_all();
            }
            Event::OperatorRestart => {
                self.operator_up = true;
                self.watch_down = false;
                self.note("operator restarted; re-listing".into());
                self.enqueue_all();
            }
            Event::UserEdit => {
                self.user_edit();
                self.schedule_user_edit();
            }
        }
        self.check_touched()?;
        self.check_quiescence()?;
        Ok(true)
    }

    /// Runs to the end of the scenario.
    pub fn run(
        &mut self,
        mut progress: impl FnMut(Duration, Duration),
    ) -> Result<Report, SimError> {
        let mut last_report = 0;
        loop {
            match self.step() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(self.explain(e)),
            }
            if self.report.steps - last_report >= 10_000 {
                last_report = self.report.steps;
                progress(self.elapsed(), self.scenario.duration);
            }
        }
        self.now_ms = self.now_ms.max(self.until_ms);
        let calm_since = self
            .scenario
            .faults
            .until
            .map_or(0, millis)
            .max(self.pending_changes.last().map_or(0, |(at, _)| *at));
        if let Some((at, change)) = self.pending_changes.first().cloned()
            && self.until_ms.saturating_sub(calm_since) > millis(SETTLE_LIMIT)
        {
            let (busy, subjects) = self.still_busy();
            let since = duration_text::show(Duration::from_millis(at));
            let error = SimError::not_converged(self, since, change, busy, subjects);
            return Err(self.explain(error));
        }
        Ok(self.finish())
    }

    /// What keeps the cluster from rest, and the tenants it concerns.
    fn still_busy(&self) -> (String, Vec<String>) {
        const SHOWN: usize = 5;
        let queued: Vec<String> = self.scheduled.keys().take(SHOWN).cloned().collect();
        let mut why = Vec::new();
        if !queued.is_empty() {
            let more = if self.scheduled.len() > SHOWN {
                ", …"
            } else {
                ""
            };
            why.push(format!(
                "{} still queued ({}{more})",
                counted(self.scheduled.len(), "tenant"),
                queued.join(", ")
            ));
        }
        for (busy, what) in [
            (!self.operator_up, "the operator is down"),
            (self.watch_down, "a watch expired and its re-list is due"),
            (
                self.namespace_controller_due,
                "the namespace controller is due",
            ),
            (self.garbage_collector_due, "the garbage collector is due"),
        ] {
            if busy {
                why.push(what.to_owned());
            }
        }
        if why.is_empty() {
            why.push("nothing was queued, yet the change never settled".into());
        }
        // The tenants to follow: those queued, else those not seen at rest
        // since something concerned them.
        let subjects = if queued.is_empty() {
            self.unsettled.iter().take(SHOWN).cloned().collect()
        } else {
            queued
        };
        (format!("at the end: {}", why.join("; ")), subjects)
    }

    /// Adds to a violation the history of what it is about: the run is
    /// deterministic, so a replay with the same seed up to the failing step
    /// sees every trace line again, and keeps those that name a subject.
    fn explain(&self, mut error: SimError) -> SimError {
        let failure = error.failure_mut();
        if failure.subjects.is_empty() {
            return error;
        }
        let mut replay = Sim::new(self.scenario.clone(), self.seed);
        replay.focus = Some(Focus::new(failure.subjects.clone()));
        while replay.report.steps < failure.step && matches!(replay.step(), Ok(true)) {}
        if let Some(focus) = replay.focus.take() {
            failure.history = focus.lines.into();
        }
        error
    }

    fn finish(&mut self) -> Report {
        self.report.simulated = duration_text::show(self.scenario.duration);
        self.report.writes = self.store.writes();
        let mut phases = BTreeMap::new();
        for t in self.store.view().objects().tenants.values() {
            let phase = t
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into());
            *phases.entry(phase).or_default() += 1;
        }
        self.report.tenants_by_phase = phases;
        self.account_sleep(self.until_ms);
        self.report.replica_hours_saved = self.replica_ms as f64 / 3_600_000.0;
        self.report.trace_hash = format!("{:016x}", self.trace_hash.finish());
        self.report.clone()
    }

    fn user_action(&mut self, index: usize) {
        let now = self.now();
        let action = self.scenario.actions[index].action.clone();
        let description = match &action {
            UserAction::Apply(manifests) => {
                for m in manifests {
                    if let Err(e) = self.apply_manifest(m, now) {
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
                let name = key.name.clone();
                let result = match key.kind {
                    DeletableKind::Tenant => self.store.delete_tenant(&name, now),
                    DeletableKind::ResourceSupervisor => {
                        let namespace = key.namespace.clone().unwrap_or_default();
                        self.delete_supervisor(&SupervisorId::Namespaced { namespace, name })
                    }
                    DeletableKind::ClusterResourceSupervisor => {
                        self.delete_supervisor(&SupervisorId::Cluster { name })
                    }
                    DeletableKind::Quota => self.delete_object(Kind::Quota, key),
                    DeletableKind::Namespace => self.delete_object(Kind::Namespace, key),
                    DeletableKind::RoleBinding => self.delete_object(Kind::RoleBinding, key),
                    DeletableKind::ResourceQuota => self.delete_object(Kind::ResourceQuota, key),
                    DeletableKind::LimitRange => self.delete_object(Kind::LimitRange, key),
                };
                match result {
                    Ok(()) => format!("user deletes {key}"),
                    Err(StoreError::NotFound(_)) => format!("user deletes {key}: not found"),
                    Err(e) => format!("user deletes {key}: {e}"),
                }
            }
        };
        self.note(description.clone());
        self.pending_changes.push((self.now_ms, description));
        let events = self.store.drain_events();
        self.route(events, false);
    }

    /// A user deletes an object the store deletes by reference.
    fn delete_object(&mut self, kind: Kind, key: &ObjectKey) -> Result<(), StoreError> {
        let target = ObjectRef {
            kind,
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        };
        self.store.delete(&target, self.now())
    }

    fn schedule_user_edit(&mut self) {
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
    fn user_edit(&mut self) {
        if !self.faults_active() {
            return;
        }
        let view = self.store.view();
        let managed = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.labels
                .as_ref()
                .is_some_and(|l| l.contains_key(MANAGED_BY_LABEL))
        };
        let bindings: Vec<ObjectRef> = view
            .objects()
            .role_bindings
            .iter()
            .flat_map(|(ns, m)| {
                m.values()
                    .filter(|rb| managed(&rb.metadata))
                    .map(move |rb| {
                        ObjectRef::namespaced(
                            Kind::RoleBinding,
                            ns,
                            rb.metadata.name.clone().unwrap_or_default(),
                        )
                    })
            })
            .collect();
        let quotas: Vec<(String, String)> = view
            .objects()
            .resource_quotas
            .iter()
            .flat_map(|(ns, m)| {
                m.values()
                    .filter(|q| managed(&q.metadata))
                    .map(move |q| (ns.clone(), q.metadata.name.clone().unwrap_or_default()))
            })
            .collect();
        if bindings.is_empty() && quotas.is_empty() {
            return;
        }
        let now = self.now();
        let pick_quota = !quotas.is_empty() && (bindings.is_empty() || self.rng.random_bool(0.5));
        let text = if pick_quota {
            let (ns, name) = quotas[self.rng.random_range(0..quotas.len())].clone();
            let mut rq = self.store.view().objects().resource_quotas[&ns][&name].clone();
            if let Some(hard) = rq.spec.as_mut().and_then(|s| s.hard.as_mut()) {
                for v in hard.values_mut() {
                    v.0 = "1000000".into();
                }
            }
            if let Err(e) = self.store.put_resource_quota(*rq, now) {
                self.note(format!("user edit refused: {e}"));
            }
            format!("user raises ResourceQuota {ns}/{name}")
        } else {
            let target = bindings[self.rng.random_range(0..bindings.len())].clone();
            let _ = self.store.delete(&target, now);
            format!("user deletes {target}")
        };
        self.count_fault("user edit");
        self.note(text.clone());
        self.pending_changes.push((self.now_ms, text));
        let events = self.store.drain_events();
        self.route(events, false);
    }

    /// Turns watch events into reconciles, as the runtime's watch mappings do.
    fn route(&mut self, events: Vec<WatchEvent>, from_operator: bool) {
        let at = self.now_ms + millis(WATCH_LATENCY);
        for e in &events {
            if e.object.kind == Kind::Namespace {
                if e.deleted {
                    self.users_namespaces.remove(&e.object.name);
                } else {
                    self.namespace_changed(&e.object.name);
                }
            }
            // The supervisor a tenant's spec.hibernation asks for.
            if e.object.kind == Kind::ClusterResourceSupervisor {
                let key = mto_model::hibernation::cluster_key(&e.object.name);
                self.schedule_supervisor(&key, at);
            }
        }
        for e in events {
            if e.object.kind == Kind::Namespace
                && self
                    .store
                    .view()
                    .namespace(&e.object.name)
                    .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
                && !self.namespace_controller_due
            {
                self.namespace_controller_due = true;
                self.push(
                    self.now_ms + millis(NAMESPACE_FINALIZE),
                    Event::NamespaceController,
                );
            }
            if e.deleted && !self.garbage_collector_due {
                self.garbage_collector_due = true;
                self.push(
                    self.now_ms + millis(GARBAGE_COLLECT),
                    Event::GarbageCollector,
                );
            }
            let mut tenants = self.store.affected_tenants(&e.object);
            tenants.extend(e.waiting_claimants.iter().cloned());
            self.touched.extend(tenants.iter().cloned());
            // The tenant controller filters its own status and finalizer
            // writes (generation predicate), but never a tenant going away;
            // a lost watch, or a crashed operator, drops events.
            if (from_operator && e.object.kind == Kind::Tenant && !e.deleted)
                || self.watch_down
                || !self.operator_up
            {
                continue;
            }
            for t in tenants {
                self.schedule(&t, at);
            }
        }
    }

    fn reconcile(&mut self, name: &str) -> Result<(), SimError> {
        let now = self.now();
        let Some(decision) = self.settled.decide(name, self.store.view(), now) else {
            if self.store.view().tenant(name).is_some() {
                self.report.decisions_skipped += 1;
            }
            self.attempts.remove(name);
            return Ok(());
        };
        self.report.decisions += 1;
        self.touched.insert(name.to_owned());
        if decision.actions.is_empty() {
            self.attempts.remove(name);
            if let Some(r) = decision.requeue_after {
                self.schedule(name, self.now_ms + millis(r));
            }
            return Ok(());
        }
        self.trace(format!(
            "reconcile {name}: {} actions ({})",
            decision.actions.len(),
            decision.phase.name()
        ));
        for action in &decision.actions {
            match self.inject_fault(&action.to_string()) {
                Some(Fault::Crashed) => return Ok(()),
                Some(Fault::Refused) => {
                    self.retry(name);
                    return Ok(());
                }
                None => {}
            }
            self.report.invariant_checks += 1;
            if let Some(v) = check_action(self.store.view(), action) {
                return Err(SimError::invariant(self, &v));
            }
            if let Action::Delete { target, .. } = action
                && target.kind == Kind::Namespace
                && self.users_namespaces.contains(&target.name)
            {
                let v = Violation::UnsafeDelete {
                    namespace: target.name.clone(),
                    reason: "a user created it, and mto deletes only namespaces it created".into(),
                };
                return Err(SimError::invariant(self, &v));
            }
            match self.store.execute(action, self.now()) {
                Ok(()) => {
                    if matches!(
                        action,
                        Action::Apply {
                            reason: Reason::Create,
                            ..
                        }
                    ) {
                        self.report.objects_created += 1;
                    }
                    self.trace(format!("  {action}"));
                }
                Err(e) => {
                    self.trace(format!("refused {action}: {e}"));
                    self.retry(name);
                    return Ok(());
                }
            }
            let events = self.store.drain_events();
            self.route(events, true);
        }
        self.attempts.remove(name);
        if let Some(r) = decision.requeue_after {
            self.schedule(name, self.now_ms + millis(r));
        }
        self.record_phase(name);
        Ok(())
    }

    fn record_phase(&mut self, name: &str) {
        let status = self
            .store
            .view()
            .tenant(name)
            .and_then(|t| t.status.as_ref());
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
            if self.store.view().objects().tenants.len() <= TIMELINE_TENANT_LIMIT {
                self.note(text);
            } else {
                self.trace(text);
            }
        }
    }

    fn retry(&mut self, name: &str) {
        let delay = self.backoff(name);
        self.schedule(name, self.now_ms + millis(delay));
    }

    /// The next retry delay for a tenant or supervisor key.
    fn backoff(&mut self, key: &str) -> Duration {
        let attempt = self.attempts.entry(key.to_owned()).or_default();
        *attempt += 1;
        let base = BACKOFF_BASE
            .saturating_mul(1 << (*attempt).min(16))
            .min(BACKOFF_CAP);
        let jitter = 0.8 + 0.4 * self.rng.random::<f64>();
        Duration::from_secs_f64(base.as_secs_f64() * jitter)
    }

    /// The faults of one API call: the operator may crash before it, the
    /// call may be slow, or refused. `None`: the call goes through.
    fn inject_fault(&mut self, action: &str) -> Option<Fault> {
        if self.fault(self.scenario.faults.crashes) {
            self.count_fault("operator crash");
            self.note(format!("operator crashed before: {action}"));
            self.crash();
            return Some(Fault::Crashed);
        }
        self.now_ms += millis(API_LATENCY);
        if self.fault(self.scenario.faults.slow_calls) {
            self.count_fault("slow call");
            self.now_ms += millis(
                self.scenario
                    .faults
                    .slow_by
                    .unwrap_or(Duration::from_secs(2)),
            );
        }
        let refusal = if self.fault(self.scenario.faults.conflicts) {
            Some("conflict (409)")
        } else if self.fault(self.scenario.faults.transient_errors) {
            Some("transient error (500/429)")
        } else {
            None
        };
        let what = refusal?;
        self.count_fault(what);
        self.trace(format!("{what} on {action}"));
        Some(Fault::Refused)
    }

    fn crash(&mut self) {
        self.operator_up = false;
        self.epoch += 1;
        self.scheduled.clear();
        self.supervisions.clear();
        self.attempts.clear();
        self.settled = Settled::default();
        self.push(self.now_ms + millis(RESTART), Event::OperatorRestart);
    }

    fn check_touched(&mut self) -> Result<(), SimError> {
        let touched: Vec<String> = std::mem::take(&mut self.touched).into_iter().collect();
        self.unsettled.extend(touched.iter().cloned());
        for name in touched {
            let Some(tenant) = self.store.view().tenant(&name) else {
                continue;
            };
            self.report.invariant_checks += 1;
            if let Some(v) = check_tenant(self.store.view(), tenant, Scope::Always)
                .into_iter()
                .next()
            {
                return Err(SimError::invariant(self, &v));
            }
        }
        Ok(())
    }

    /// When nothing is left to do, every change so far has converged, and
    /// every tenant's decision must be empty (invariant 7). Only tenants an
    /// event concerned since the last rest are checked: for the others
    /// nothing they observe has changed, so their last empty decision stands.
    fn check_quiescence(&mut self) -> Result<(), SimError> {
        // A lost watch or a crashed operator still owes a re-list.
        let busy = !self.scheduled.is_empty()
            || !self.operator_up
            || self.watch_down
            || self.namespace_controller_due
            || self.garbage_collector_due;
        if self.pending_changes.is_empty() || busy {
            return Ok(());
        }
        let unsettled = std::mem::take(&mut self.unsettled);
        for tenant in unsettled.iter().filter_map(|t| self.store.view().tenant(t)) {
            self.report.invariant_checks += 2;
            if let Some(v) = check_tenant(self.store.view(), tenant, Scope::AtRest)
                .into_iter()
                .next()
            {
                return Err(SimError::invariant(self, &v));
            }
            let d = decide(tenant, self.store.view(), self.now());
            if !d.actions.is_empty() {
                let name = tenant.metadata.name.clone().unwrap_or_default();
                let violation = format!(
                    "invariant 7: tenant {name} still has {} actions at steady state, first: {}",
                    d.actions.len(),
                    d.actions[0]
                );
                return Err(SimError::broken(self, violation, vec![name]));
            }
        }
        for (at, change) in std::mem::take(&mut self.pending_changes) {
            let took = self.now_ms - at;
            self.report.convergence.push(Convergence {
                change: change.clone(),
                at: duration_text::show(Duration::from_millis(at)),
                took: duration_text::show(Duration::from_millis(took)),
                took_ms: took,
            });
        }
        let active = self.store.view().objects().tenants.len();
        self.note(format!(
            "converged: {active} tenants steady, {} writes so far",
            self.store.writes()
        ));
        Ok(())
    }
}

/// The trace lines that name any of a violation's subjects.
struct Focus {
    subjects: Vec<String>,
    lines: std::collections::VecDeque<String>,
}

impl Focus {
    /// Enough to show a tenant's week without holding a storm's worth.
    const LIMIT: usize = 400;

    fn new(subjects: Vec<String>) -> Focus {
        Focus {
            subjects,
            lines: std::collections::VecDeque::new(),
        }
    }

    fn observe(&mut self, line: &str) {
        if self.subjects.iter().any(|s| mentions(line, s)) {
            if self.lines.len() == Self::LIMIT {
                self.lines.pop_front();
            }
            self.lines.push_back(line.to_owned());
        }
    }
}

/// Whether `line` names `subject` as a whole name: `alpha` is named in
/// `alpha: 3 actions` and `RoleBinding/alpha-dev/x` (its namespaces), not in
/// `alphabet`.
fn mentions(line: &str, subject: &str) -> bool {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(subject).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + subject.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// What an injected fault did to a call.
enum Fault {
    /// The operator crashed before the call.
    Crashed,
    /// The apiserver refused the call (a conflict or a transient error).
    Refused,
}

fn generated_deployment(
    namespace: &str,
    name: &str,
    replicas: i32,
) -> k8s_openapi::api::apps::v1::Deployment {
    k8s_openapi::api::apps::v1::Deployment {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::apps::v1::DeploymentSpec {
            replicas: Some(replicas),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// "1 tenant", "3 tenants".
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/small-team.yaml");
        let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut sim = Sim::new(scenario, 7);
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
}
