//! The simulation: the operator's replicas, the apiserver they share, the
//! people using it and the faults, on one virtual clock.
//!
//! Every replica runs what `mto run` runs — the model's [`View`] fed by
//! watch events, its [`Driver`] and decisions — and only the I/O is
//! simulated: each API call takes time and goes through the fault rules,
//! each change reaches the watches late, or not at all until a re-list.
//!
//! [`View`]: mto_model::view::View
//! [`Driver`]: mto_model::driver::Driver

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::hash::Hasher;
use std::time::Duration;

use mto_model::Timestamp;
use mto_model::apiserver::ApiServer;
use mto_model::invariants::Reach;
use mto_model::view::{InstanceId, Key, ObjectRef, SupervisorId};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::{Scenario, duration_text};

mod admission;
mod charts;
mod checks;
mod faults;
mod operator;
mod report;
mod usage;
mod users;
mod vault;

pub use admission::AdmissionReport;
pub use faults::{Call, FaultRule, Verdict};
pub use report::{
    BrokenInvariant, Convergence, Failure, NotConverged, Report, SimError, TimelineEntry,
};

use operator::Replica;

/// Time one API call takes.
const API_LATENCY: Duration = Duration::from_millis(5);
/// Time `helm template` takes for one chart request.
const CHART_LATENCY: Duration = Duration::from_millis(150);
/// How long a call to Vault takes.
const VAULT_LATENCY: Duration = Duration::from_millis(5);
/// Time from a write to the watch event reaching a replica.
const WATCH_LATENCY: Duration = Duration::from_millis(50);
/// Time the namespace controller takes to empty and remove a namespace.
const NAMESPACE_FINALIZE: Duration = Duration::from_secs(2);
/// Time the garbage collector takes to notice orphans.
const GARBAGE_COLLECT: Duration = Duration::from_secs(1);
/// Time a crashed replica takes to come back.
const RESTART: Duration = Duration::from_secs(10);
/// Time a re-list takes after a watch expired.
const RELIST: Duration = Duration::from_secs(1);
/// A change not settled this long after it (and after the faults end) fails the run.
const SETTLE_LIMIT: Duration = Duration::from_secs(3600);
/// Lines of trace kept to show with a violation.
const TRACE_TAIL: usize = 40;
/// Above this many tenants the timeline leaves out per-tenant phase changes.
const TIMELINE_TENANT_LIMIT: usize = 50;

/// What happens next, and when.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The scenario's user action at this index.
    User(usize),
    /// A user edits what mto manages (a fault).
    UserEdit,
    /// Every watch expires (a fault).
    WatchExpiry,
    NamespaceController,
    GarbageCollector,
    /// A replica's watch events due now arrive.
    Deliver {
        replica: usize,
        life: u64,
    },
    /// A replica's driver has objects due.
    Poll {
        replica: usize,
        life: u64,
    },
    /// A replica's reconcile of `key` makes its next API call.
    Call {
        replica: usize,
        life: u64,
        key: Key,
    },
    /// A replica lists every kind (at start, or after its watch expired).
    Relist {
        replica: usize,
        life: u64,
    },
    /// A replica takes part in leader election.
    LeaseTick {
        replica: usize,
        life: u64,
    },
    /// A person makes a request through the admission webhook.
    Request,
    /// A pod's quota admission takes its next step.
    PodStep(u64),
    /// A crashed replica comes back.
    Restart {
        replica: usize,
    },
    /// A replica reaches the apiserver again.
    PartitionEnd {
        replica: usize,
    },
}

/// How a simulation is set up, beyond its scenario.
#[derive(Clone, Debug)]
pub struct SimBuilder {
    scenario: Scenario,
    seed: u64,
}

impl SimBuilder {
    /// The seed of every random choice (the scenario's own by default).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> SimBuilder {
        self.seed = seed;
        self
    }

    /// Operator replicas; with more than one they elect a leader.
    #[must_use]
    pub fn replicas(mut self, replicas: usize) -> SimBuilder {
        self.scenario.operator.replicas = replicas.max(1);
        self
    }

    /// Objects each replica reconciles at once.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> SimBuilder {
        self.scenario.operator.concurrency = concurrency.max(1);
        self
    }

    /// How far apart the replicas' clocks are.
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> SimBuilder {
        self.scenario.operator.clock_skew = Some(skew);
        self
    }

    /// How long to simulate.
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> SimBuilder {
        self.scenario.duration = duration;
        self
    }

    /// The simulation, with its cluster loaded and its replicas starting.
    #[must_use]
    pub fn build(self) -> Sim {
        Sim::start(self.scenario, self.seed)
    }
}

/// A simulation in progress.
pub struct Sim {
    scenario: Scenario,
    seed: u64,
    /// The cluster as it is: the truth every check reads.
    cluster: ApiServer,
    start: Timestamp,
    now_ms: u64,
    until_ms: u64,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    sequence: u64,
    replicas: Vec<Replica>,
    rules: Vec<Box<dyn FaultRule>>,
    namespace_controller_due: bool,
    garbage_collector_due: bool,
    users: users::Users,
    admission: admission::Admission,
    /// Changes not yet seen settled, with when they happened.
    pending_changes: Vec<(u64, String)>,
    /// Tenants a change concerned this step, to check now, with how much
    /// of each the step's writes reached.
    touched: BTreeMap<String, Reach>,
    /// Tenants and supervisors concerned since the last check at rest.
    unsettled: BTreeSet<String>,
    unsettled_supervisors: BTreeSet<SupervisorId>,
    unsettled_instances: BTreeSet<InstanceId>,
    /// Whether the console (the pilot) was decided on or woken since the
    /// last rest.
    unsettled_pilot: bool,
    /// The console's phase as last noted.
    pilot_phase: String,
    /// Extensions objects decided on or woken since the last rest.
    unsettled_extensions: BTreeSet<String>,
    /// Whether the Vault machine was decided on or woken since the last
    /// rest.
    unsettled_vault: bool,
    /// The Vault machine's phase as last noted.
    vault_phase: String,
    /// The simulated Vault: what it holds.
    vault: mto_model::vault::VaultHoldings,
    /// Each Extensions object's AppProject state as last noted.
    extension_phases: BTreeMap<String, String>,
    instance_phases: BTreeMap<String, String>,
    phases: BTreeMap<String, String>,
    supervisor_phases: BTreeMap<String, String>,
    trace_tail: VecDeque<String>,
    /// While replaying a failed run: the trace lines about what broke.
    focus: Option<Focus>,
    trace_hash: fnv::FnvHasher,
    report: Report,
}

impl Sim {
    /// A simulation of `scenario`, to set up further.
    #[must_use]
    pub fn builder(scenario: Scenario) -> SimBuilder {
        let seed = scenario.seed;
        SimBuilder { scenario, seed }
    }

    /// A simulation of `scenario` with `seed`, set up as the scenario says.
    #[must_use]
    pub fn new(scenario: Scenario, seed: u64) -> Sim {
        Sim::builder(scenario).seed(seed).build()
    }

    fn start(scenario: Scenario, seed: u64) -> Sim {
        let until_ms = millis(scenario.duration);
        let replicas = (0..scenario.operator.replicas.max(1))
            .map(|i| {
                let skew = scenario.operator.clock_skew.map_or(0, millis);
                Replica::new(i, i64::try_from(skew.saturating_mul(i as u64)).unwrap_or(0))
            })
            .collect();
        let mut sim = Sim {
            start: scenario.start,
            seed,
            cluster: ApiServer::default(),
            now_ms: 0,
            until_ms,
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            sequence: 0,
            replicas,
            rules: faults::rules(&scenario.faults),
            namespace_controller_due: false,
            garbage_collector_due: false,
            users: users::Users::default(),
            admission: admission::Admission::default(),
            pending_changes: Vec::new(),
            touched: BTreeMap::new(),
            unsettled: BTreeSet::new(),
            unsettled_supervisors: BTreeSet::new(),
            unsettled_instances: BTreeSet::new(),
            unsettled_pilot: false,
            pilot_phase: "Off".into(),
            unsettled_extensions: BTreeSet::new(),
            unsettled_vault: false,
            vault_phase: "Off".into(),
            vault: vault::holdings(&scenario.vault),
            extension_phases: BTreeMap::new(),
            instance_phases: BTreeMap::new(),
            phases: BTreeMap::new(),
            supervisor_phases: BTreeMap::new(),
            trace_tail: VecDeque::new(),
            focus: None,
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
            sim.push(millis(every), Event::WatchExpiry);
        }
        sim.schedule_user_edit();
        sim.schedule_request();
        for replica in 0..sim.replicas.len() {
            sim.boot(replica);
        }
        sim
    }

    /// The current simulated instant.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        mto_model::time::after(self.start, Duration::from_millis(self.now_ms))
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.now_ms)
    }

    /// The cluster as it is.
    #[must_use]
    pub fn cluster(&self) -> &ApiServer {
        &self.cluster
    }

    fn push(&mut self, at: u64, event: Event) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, event)));
    }

    fn faults_active(&self) -> bool {
        self.scenario
            .faults
            .until
            .is_none_or(|u| self.now_ms < millis(u))
    }

    fn count_fault(&mut self, name: &str) {
        *self.report.faults.entry(name.into()).or_default() += 1;
    }

    fn trace(&mut self, line: impl std::fmt::Display) {
        use std::fmt::Write as _;
        // Written into the buffer of the line leaving the tail: a long run
        // traces every write, and allocates for none of them.
        let mut text = if self.trace_tail.len() == TRACE_TAIL {
            self.trace_tail.pop_front().unwrap_or_default()
        } else {
            String::new()
        };
        text.clear();
        let _ = write!(text, "[{}] {line}", duration_text::Shown(self.elapsed()));
        self.trace_hash.write(text.as_bytes());
        self.trace_hash.write_u8(b'\n');
        if let Some(focus) = &mut self.focus {
            focus.observe(&text);
        }
        self.trace_tail.push_back(text);
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
            Event::User(i) => self.user_action(i)?,
            Event::UserEdit => {
                self.user_edit();
                self.schedule_user_edit();
            }
            Event::WatchExpiry => {
                for replica in 0..self.replicas.len() {
                    self.expire_watch(replica);
                }
                if let Some(every) = self.scenario.faults.watch_expiry
                    && self.faults_active()
                {
                    self.push(self.now_ms + millis(every), Event::WatchExpiry);
                }
            }
            Event::NamespaceController => {
                self.namespace_controller_due = false;
                let removed = self.cluster.finalize_namespaces();
                if !removed.is_empty() {
                    self.trace(format!(
                        "namespace controller removed {}",
                        removed.join(", ")
                    ));
                }
                self.broadcast();
            }
            Event::GarbageCollector => {
                self.garbage_collector_due = false;
                let removed = self.cluster.collect_garbage(self.now());
                if !removed.is_empty() {
                    let names: Vec<String> = removed.iter().map(ToString::to_string).collect();
                    self.trace(format!("garbage collector removed {}", names.join(", ")));
                }
                self.broadcast();
            }
            Event::Deliver { replica, life } => self.deliver(replica, life),
            Event::Poll { replica, life } => self.poll(replica, life, at),
            Event::Call { replica, life, key } => self.call(replica, life, key)?,
            Event::Relist { replica, life } => self.relist(replica, life),
            Event::LeaseTick { replica, life } => self.lease_tick(replica, life),
            Event::Request => self.people_requests()?,
            Event::PodStep(id) => self.pod_step(id)?,
            Event::Restart { replica } => self.restart(replica),
            Event::PartitionEnd { replica } => self.partition_end(replica),
        }
        self.check_touched()?;
        self.check_leaders()?;
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

    /// Adds to a failure the history of what it is about: the run is
    /// deterministic, so a replay with the same seed up to the failing
    /// step sees every trace line again, and keeps those that name a
    /// subject.
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
        self.report.writes = self.cluster.writes() - self.report.lease_writes;
        let mut phases = BTreeMap::new();
        for t in self
            .cluster
            .snapshot()
            .shelf::<mto_model::api::Tenant>()
            .iter()
        {
            let phase = t
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into());
            *phases.entry(phase).or_default() += 1;
        }
        self.report.tenants_by_phase = phases;
        self.report_vault();
        let snapshot = self.cluster.snapshot();
        for id in snapshot.instance_ids() {
            let phase = mto_model::template::Instance::find(snapshot, &id)
                .and_then(|i| i.status()?.phase.clone())
                .unwrap_or_else(|| "Pending".into());
            *self.report.instances_by_phase.entry(phase).or_default() += 1;
            self.report.objects_deployed += snapshot.deployed_by(&id).count() as u64;
        }
        self.report.app_projects = snapshot
            .list(&mto_model::view::Kind::Dynamic(
                mto_model::extensions::app_project_kind(),
            ))
            .iter()
            .map(|o| o.object_ref().to_string())
            .collect();
        self.account_sleep(self.until_ms);
        self.report.replica_hours_saved = self.users.replica_ms as f64 / 3_600_000.0;
        self.report.showback = self.showback();
        self.report.trace_hash = format!("{:016x}", self.trace_hash.finish());
        if self.scenario.admission.is_some() {
            self.report.admission = Some(self.admission.report.clone());
        }
        self.report.clone()
    }
}

/// The trace lines that name any of a failure's subjects.
struct Focus {
    subjects: Vec<String>,
    lines: VecDeque<String>,
}

impl Focus {
    /// Enough to show a tenant's week without holding a storm's worth.
    const LIMIT: usize = 400;

    fn new(subjects: Vec<String>) -> Focus {
        Focus {
            subjects,
            lines: VecDeque::new(),
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

/// A workload's reference, for the report's sleep accounting.
fn is_workload(target: &ObjectRef) -> bool {
    matches!(
        target.kind,
        mto_model::view::Kind::Deployment | mto_model::view::Kind::StatefulSet
    )
}

impl Sim {
    /// What each tenant's workloads cost over the run, through the same
    /// model as the operator's showback: their replicas over time, each
    /// asking for its pod template's requests (usage taken as the
    /// request), priced hour by hour; and what the sleeping replicas would
    /// have cost.
    fn showback(&self) -> BTreeMap<String, report::TenantCost> {
        use mto_model::showback::{Aggregate, Container, Interval, Prices, aggregate, rows};
        let start = self.start.as_second();
        let end = start + i64::try_from(self.until_ms / 1000).unwrap_or(i64::MAX);
        let (mut running, mut asleep) = (Vec::new(), Vec::new());
        for (target, run) in &self.users.runs {
            let at = |ms: u64| start + i64::try_from(ms / 1000).unwrap_or(i64::MAX);
            let curve = self.scenario.usage.iter().find(|u| {
                u.workload.split_once('/')
                    == Some((
                        target.namespace.as_deref().unwrap_or_default(),
                        &target.name,
                    ))
            });
            let spans = |pick: fn(&(u64, i64, i64)) -> i64| -> Vec<Interval> {
                run.changes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| pick(c) > 0)
                    .flat_map(|(i, c)| {
                        let interval = Interval {
                            from: at(c.0),
                            to: run.changes.get(i + 1).map_or(end, |next| at(next.0)),
                            holding: run.per_replica.times(pick(c)),
                        };
                        match curve {
                            Some(curve) => {
                                usage::hourly(interval, curve, pick(c), self.seed, start)
                            }
                            None => vec![interval],
                        }
                    })
                    .collect()
            };
            let container = |intervals| Container {
                tenant: run.tenant.clone(),
                namespace: target.namespace.clone().unwrap_or_default(),
                pod: target.name.clone(),
                container: target.kind.name().to_owned(),
                labels: BTreeMap::new(),
                intervals,
            };
            running.push(container(spans(|c| c.1)));
            asleep.push(container(spans(|c| c.2)));
        }
        let prices = Prices::default();
        let by_tenant = |containers: &[Container]| {
            aggregate(
                containers,
                &rows(containers, start, end, &prices),
                &Aggregate::Tenant,
            )
        };
        let mut out: BTreeMap<String, report::TenantCost> = BTreeMap::new();
        for (tenant, a) in by_tenant(&running) {
            out.entry(tenant).or_default().cost = a.cost.total();
        }
        for (tenant, a) in by_tenant(&asleep) {
            out.entry(tenant).or_default().saved = a.cost.total();
        }
        out.retain(|_, c| c.cost > 0 || c.saved > 0);
        out
    }
}

#[cfg(test)]
mod tests;
