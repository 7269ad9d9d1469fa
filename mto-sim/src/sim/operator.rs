//! The operator's replicas in the simulation: each runs the model's view
//! and driver, and the simulation plays the I/O around them — watch events
//! late, lost or re-listed, API calls that take time and fail, crashes,
//! partitions, and the Lease they elect a leader on.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use mto_model::Timestamp;
use mto_model::action::{Action, Reason};
use mto_model::apiserver::ApiError;
use mto_model::driver::{Config, Driver, Reconcile, Skipped, Started};
use mto_model::invariants::{Violation, check_action, check_workload};
use mto_model::lease::{Candidate, LeaseConfig, LeaseStep};
use mto_model::template::ChartRequest;
use mto_model::view::{Key, Kind, View, WatchEvent};
use rand::RngExt as _;

use super::faults::{Call, Verdict, crash_after, judge};
use super::{API_LATENCY, Event, RELIST, RESTART, Sim, SimError, WATCH_LATENCY, counted, millis};

/// One replica of the operator.
pub(super) struct Replica {
    id: usize,
    /// Its process's life; events of an earlier life are stale.
    life: u64,
    up: bool,
    /// How far its clock runs ahead of the simulation's.
    offset_ms: i64,
    /// Taking part in the election (with more than one replica).
    candidate: Option<Candidate>,
    /// Its view and controllers: every replica up keeps a view (its
    /// webhook decides from it); the leader also runs the controllers.
    pub(super) operator: Option<Operator>,
    /// Cut off from the apiserver until then.
    partitioned_until: Option<u64>,
}

/// A replica's view and controllers: what `mto run` runs.
pub(super) struct Operator {
    /// Whether it runs the controllers (else it only keeps its view).
    pub(super) leading: bool,
    pub(super) view: View,
    pub(super) driver: Driver,
    pub(super) runs: BTreeMap<Key, Box<Reconcile>>,
    /// Watch events on their way, with when they arrive.
    pub(super) inbox: VecDeque<(u64, WatchEvent)>,
    deliver_at: Option<u64>,
    poll_at: Option<u64>,
    /// Whether its watches are up (else it owes a re-list).
    pub(super) watching: bool,
    /// Successful writes in this life.
    writes: u64,
}

impl Replica {
    pub(super) fn new(id: usize, offset_ms: i64) -> Replica {
        Replica {
            id,
            life: 0,
            up: false,
            offset_ms,
            candidate: None,
            operator: None,
            partitioned_until: None,
        }
    }
}

impl Sim {
    /// The replica's own clock.
    fn local_now(&self, replica: usize) -> Timestamp {
        let offset = self.replicas[replica].offset_ms;
        let ms = if offset >= 0 {
            self.now_ms.saturating_add(offset.unsigned_abs())
        } else {
            self.now_ms.saturating_sub(offset.unsigned_abs())
        };
        mto_model::time::after(self.start, Duration::from_millis(ms))
    }

    fn elections(&self) -> bool {
        self.replicas.len() > 1
    }

    pub(super) fn partitioned(&self, replica: usize) -> bool {
        self.replicas[replica]
            .partitioned_until
            .is_some_and(|until| self.now_ms < until)
    }

    /// Starts a replica's process: it keeps a view at once; a candidate
    /// with several replicas, it runs the controllers at once with one.
    pub(super) fn boot(&mut self, replica: usize) {
        let concurrency = self.scenario.operator.concurrency;
        let r = &mut self.replicas[replica];
        r.up = true;
        let life = r.life;
        r.operator = Some(Operator {
            leading: false,
            view: View::default(),
            driver: Driver::new(Config {
                concurrency,
                ..Config::default()
            }),
            runs: BTreeMap::new(),
            inbox: VecDeque::new(),
            deliver_at: None,
            poll_at: None,
            watching: false,
            writes: 0,
        });
        self.push(
            self.now_ms + millis(WATCH_LATENCY),
            Event::Relist { replica, life },
        );
        if self.replicas.len() > 1 {
            self.replicas[replica].candidate =
                Some(Candidate::new(LeaseConfig::new(format!("mto-{replica}"))));
            self.push(self.now_ms, Event::LeaseTick { replica, life });
        } else {
            self.lead(replica);
        }
    }

    /// The replica's controllers start, deciding from the view it keeps.
    fn lead(&mut self, replica: usize) {
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        op.leading = true;
        if self.elections() {
            self.note(format!("replica {replica} leads"));
            self.report.leader_changes += 1;
        }
        self.schedule_poll(replica);
    }

    /// Replica `replica`'s process dies now, losing everything in memory;
    /// it restarts after a while.
    pub fn crash(&mut self, replica: usize, why: &str) {
        if replica >= self.replicas.len() {
            return;
        }
        if !self.replicas[replica].up {
            return;
        }
        self.note(format!("replica {replica} crashed: {why}"));
        let r = &mut self.replicas[replica];
        r.up = false;
        r.life += 1;
        r.operator = None;
        r.candidate = None;
        self.push(self.now_ms + millis(RESTART), Event::Restart { replica });
    }

    pub(super) fn restart(&mut self, replica: usize) {
        if self.replicas[replica].up {
            return;
        }
        self.note(format!("replica {replica} restarted"));
        self.boot(replica);
    }

    /// Replica `replica`'s watches expire now: events are lost until it
    /// re-lists.
    pub fn expire_watch(&mut self, replica: usize) {
        if replica >= self.replicas.len() {
            return;
        }
        let life = self.replicas[replica].life;
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        if !op.watching {
            return;
        }
        op.watching = false;
        op.inbox.clear();
        op.deliver_at = None;
        self.count_fault("watch expired");
        self.trace(format!(
            "replica {replica}: watch expired; events are lost until the re-list"
        ));
        if !self.partitioned(replica) {
            self.push(
                self.now_ms + millis(RELIST),
                Event::Relist { replica, life },
            );
        }
    }

    /// Replica `replica` cannot reach the apiserver for `duration`, from
    /// now: its calls fail, its watches expire, it cannot renew a lease.
    pub fn partition(&mut self, replica: usize, duration: Duration) {
        if replica >= self.replicas.len() {
            return;
        }
        let until = self.now_ms + millis(duration);
        self.replicas[replica].partitioned_until = Some(until);
        self.count_fault("partition");
        self.note(format!(
            "replica {replica} cut off from the apiserver for {}",
            super::duration_text::show(duration)
        ));
        self.expire_watch(replica);
        self.push(until, Event::PartitionEnd { replica });
    }

    pub(super) fn partition_end(&mut self, replica: usize) {
        if self.partitioned(replica) {
            return;
        }
        self.replicas[replica].partitioned_until = None;
        let life = self.replicas[replica].life;
        if self.replicas[replica]
            .operator
            .as_ref()
            .is_some_and(|op| !op.watching)
        {
            self.push(self.now_ms, Event::Relist { replica, life });
        }
    }

    /// The replica lists every watched kind into its view.
    pub(super) fn relist(&mut self, replica: usize, life: u64) {
        if self.replicas[replica].life != life || self.partitioned(replica) {
            return;
        }
        let now = self.local_now(replica);
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        // What changed before the list is in it.
        op.inbox.clear();
        op.deliver_at = None;
        op.watching = true;
        for kind in Kind::watched_kinds() {
            list_into(op, &self.cluster, kind.clone(), now);
        }
        list_dynamic_kinds(op, &self.cluster, now, true);
        self.trace(format!("replica {replica} listed the cluster"));
        self.schedule_poll(replica);
    }

    /// Passes the cluster's changes on: to every replica whose watch is
    /// up, after the watch latency.
    pub(super) fn deliver_later(&mut self, event: &WatchEvent) {
        let at = self.now_ms + millis(WATCH_LATENCY);
        let share = self.scenario.faults.duplicated_events;
        let duplicate = share > 0.0 && self.faults_active() && self.rng.random_bool(share.min(1.0));
        if duplicate {
            self.count_fault("duplicated watch event");
        }
        let kind = match event {
            WatchEvent::Apply(taken) => taken.object().kind(),
            WatchEvent::Delete(o) => o.kind(),
            _ => return,
        };
        for replica in 0..self.replicas.len() {
            let partitioned = self.partitioned(replica);
            let life = self.replicas[replica].life;
            let Some(op) = self.replicas[replica].operator.as_mut() else {
                continue;
            };
            // A replica hears of a kind outside the registry once it
            // watches it: once a Template in its view deploys it.
            if !op.watching || partitioned || !op.view.is_listed(&kind) {
                continue;
            }
            op.inbox.push_back((at, event.clone()));
            if duplicate {
                op.inbox.push_back((at, event.clone()));
            }
            if op.deliver_at.is_none() {
                op.deliver_at = Some(at);
                self.push(at, Event::Deliver { replica, life });
            }
        }
    }

    /// The watch events due now reach the replica's view.
    pub(super) fn deliver(&mut self, replica: usize, life: u64) {
        if self.replicas[replica].life != life {
            return;
        }
        let now_ms = self.now_ms;
        let now = self.local_now(replica);
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        op.deliver_at = None;
        while op.inbox.front().is_some_and(|(at, _)| *at <= now_ms) {
            let Some((_, event)) = op.inbox.pop_front() else {
                break;
            };
            let woken = op.view.fold(event);
            op.driver.handle_woken(&woken, op.view.snapshot(), now);
        }
        list_dynamic_kinds(op, &self.cluster, now, false);
        if let Some((at, _)) = op.inbox.front() {
            let at = *at;
            op.deliver_at = Some(at);
            self.push(at, Event::Deliver { replica, life });
        }
        self.schedule_poll(replica);
    }

    /// Makes sure the replica looks at its queue when something is due.
    fn schedule_poll(&mut self, replica: usize) {
        let start = self.start;
        let offset = self.replicas[replica].offset_ms;
        let life = self.replicas[replica].life;
        let now_ms = self.now_ms;
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        if !op.leading {
            return;
        }
        let Some(due) = op.driver.poll_timeout() else {
            return;
        };
        // From the replica's clock back to the simulation's, rounded up:
        // polled a moment early, nothing is due yet.
        let span = mto_model::time::until(start, due);
        let local_ms = u64::try_from(span.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let at = if offset >= 0 {
            local_ms.saturating_sub(offset.unsigned_abs())
        } else {
            local_ms.saturating_add(offset.unsigned_abs())
        }
        .max(now_ms);
        if op.poll_at.is_some_and(|p| p <= at) {
            return;
        }
        op.poll_at = Some(at);
        self.push(at, Event::Poll { replica, life });
    }

    /// Starts every reconcile due.
    pub(super) fn poll(&mut self, replica: usize, life: u64, at: u64) {
        if self.replicas[replica].life != life {
            return;
        }
        let now = self.local_now(replica);
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        if op.poll_at != Some(at) {
            return;
        }
        op.poll_at = None;
        let mut started = Vec::new();
        while let Some(key) = op.driver.poll_due(now) {
            match op.driver.start(key.clone(), op.view.snapshot(), now) {
                Started::Run(run) => {
                    op.runs.insert(key.clone(), run);
                    started.push(key);
                }
                Started::Skipped(Skipped::Settled) => self.report.decisions_skipped += 1,
                Started::Skipped(_) => {}
            }
        }
        for key in started {
            self.begin(replica, key);
        }
        self.schedule_poll(replica);
    }

    /// A reconcile starts: its decision is made; the first call follows.
    fn begin(&mut self, replica: usize, key: Key) {
        let life = self.replicas[replica].life;
        let Some(run) = self.replicas[replica]
            .operator
            .as_ref()
            .and_then(|op| op.runs.get(&key))
        else {
            return;
        };
        let actions = run.actions().len();
        // Decided while changes were still on their way to the view.
        if self.replicas[replica]
            .operator
            .as_ref()
            .is_some_and(|op| !op.inbox.is_empty() || !op.watching)
        {
            self.report.stale_decisions += 1;
        }
        match &key {
            Key::Tenant(name) => {
                self.report.decisions += 1;
                // A decision writes nothing: the tenant is checked at rest.
                self.unsettled.insert(name.clone());
            }
            Key::Supervisor(id) => {
                self.report.supervisor_decisions += 1;
                self.unsettled_supervisors.insert(id.clone());
            }
            Key::Instance(id) => {
                self.report.instance_decisions += 1;
                self.unsettled_instances.insert(id.clone());
            }
            Key::Template(_) => self.report.template_guard_decisions += 1,
            Key::Pilot => {
                self.report.pilot_decisions += 1;
                self.unsettled_pilot = true;
            }
            Key::Extension(name) => {
                self.report.extension_decisions += 1;
                self.unsettled_extensions.insert(name.clone());
            }
            Key::Vault => {
                self.report.vault_decisions += 1;
                self.unsettled_vault = true;
            }
        }
        if actions > 0 {
            let what = match &key {
                Key::Tenant(name) => format!("reconcile {name}"),
                Key::Supervisor(id) => format!("supervise {}", id.key()),
                Key::Instance(id) => format!("deploy {}", id.key()),
                Key::Template(name) => format!("guard Template/{name}"),
                Key::Pilot => "pilot the console".to_owned(),
                Key::Extension(name) => format!("extend Extensions/{name}"),
                Key::Vault => "keep Vault".to_owned(),
            };
            let phase = self.replicas[replica]
                .operator
                .as_ref()
                .and_then(|op| op.runs.get(&key))
                .map_or("", |run| run.phase());
            self.trace(format!("{what}: {} ({phase})", counted(actions, "action")));
        }
        self.push(self.now_ms, Event::Call { replica, life, key });
    }

    /// The next API call of a reconcile, through the fault rules.
    pub(super) fn call(&mut self, replica: usize, life: u64, key: Key) -> Result<(), SimError> {
        if self.replicas[replica].life != life {
            return Ok(());
        }
        let Some(action) = self.replicas[replica]
            .operator
            .as_ref()
            .and_then(|op| op.runs.get(&key))
            .and_then(|run| run.poll_action().cloned())
        else {
            self.end(replica, key);
            return Ok(());
        };
        if let Action::Vault { call, regarding } = &action {
            self.call_vault(replica, life, key, call, regarding);
            return Ok(());
        }
        if let Action::RenderChart { request, .. } = &action {
            self.render_chart(replica, &key, request);
            self.push(
                self.now_ms + millis(super::CHART_LATENCY),
                Event::Call { replica, life, key },
            );
            return Ok(());
        }
        let writes = self.replicas[replica]
            .operator
            .as_ref()
            .map_or(0, |op| op.writes);
        let call = Call {
            replica,
            action: &action,
            writes,
        };
        let verdict = if self.partitioned(replica) {
            Some((
                "partition",
                Verdict::Fail(ApiError::Unavailable {
                    target: action.target().to_string(),
                    message: "the apiserver cannot be reached".into(),
                }),
            ))
        } else if self.faults_active() {
            judge(&mut self.rules, &call, &mut self.rng)
        } else {
            None
        };
        let mut latency = API_LATENCY;
        let (result, action) = match verdict {
            Some((name, Verdict::Crash)) => {
                self.count_fault(name);
                self.crash(replica, &format!("before {action}"));
                return Ok(());
            }
            Some((name, Verdict::Fail(error))) => {
                if name != "partition" {
                    self.count_fault(name);
                }
                self.trace(format!("{name} on {action}"));
                (Err(error), action)
            }
            Some((name, Verdict::Slow(by))) => {
                self.count_fault(name);
                latency += by;
                self.carry_out(replica, &key, action)?
            }
            Some((_, Verdict::Pass)) | None => self.carry_out(replica, &key, action)?,
        };
        let wrote = result.is_ok();
        if let Some(op) = self.replicas[replica].operator.as_mut() {
            if wrote {
                op.writes += 1;
            }
            if let Some(run) = op.runs.get_mut(&key) {
                run.handle_result(result);
            }
        }
        self.broadcast();
        self.check_after_write(&action)?;
        if wrote && self.faults_active() {
            let call = Call {
                replica,
                action: &action,
                writes: writes + 1,
            };
            if let Some(name) = crash_after(&mut self.rules, &call) {
                self.count_fault(name);
                self.crash(replica, &format!("after {action}"));
                return Ok(());
            }
        }
        self.push(
            self.now_ms + millis(latency),
            Event::Call { replica, life, key },
        );
        Ok(())
    }

    /// A replica renders a chart (from the scenario's repositories): the
    /// rendering goes into its view, and into the cluster's store as the
    /// world's truth the checks read.
    fn render_chart(&mut self, replica: usize, key: &Key, request: &ChartRequest) {
        let now = self.now();
        let rendering = super::charts::render(&self.scenario.charts, request, now);
        self.report.charts_rendered += 1;
        self.trace(match &rendering.objects {
            Ok(objects) => format!("  render {request}: {} objects", objects.len()),
            Err(why) => format!("  render {request}: {why}"),
        });
        self.cluster.record_chart(request, rendering.clone());
        if let Some(op) = self.replicas[replica].operator.as_mut() {
            let woken = op.view.record_chart(request, rendering);
            op.driver.handle_woken(&woken, op.view.snapshot(), now);
            list_dynamic_kinds(op, &self.cluster, now, false);
            if let Some(run) = op.runs.get_mut(key) {
                run.handle_result(Ok(()));
            }
        }
    }

    /// Carries the next action of `key`'s run (`action`, a copy of it) out
    /// against the cluster, checking the invariants a write must keep
    /// first. The run's own action is carried out in place, so an object it
    /// creates is stored, not copied; what comes back is the action as the
    /// run now holds it. `Err` is a broken invariant; the result the
    /// apiserver's answer.
    fn carry_out(
        &mut self,
        replica: usize,
        key: &Key,
        action: Action,
    ) -> Result<(Result<(), ApiError>, Action), SimError> {
        self.report.invariant_checks += 1;
        if let Some(v) = check_action(self.cluster.snapshot(), &action) {
            return Err(SimError::invariant(self, &v));
        }
        if let Action::Delete { target, .. } = &action
            && target.kind == Kind::Namespace
            && self.users.namespaces.contains(&target.name)
        {
            let v = Violation::UnsafeDelete {
                namespace: target.name.clone(),
                reason: "a user created it, and mto deletes only namespaces it created".into(),
            };
            return Err(SimError::invariant(self, &v));
        }
        let now = self.now();
        // The copy goes first: the run's action is then the object's only
        // holder.
        drop(action);
        let Some(run_action) = self.replicas[replica]
            .operator
            .as_mut()
            .and_then(|op| op.runs.get_mut(key))
            .and_then(|run| run.poll_action_mut())
        else {
            return Err(SimError::broken(
                self,
                format!("{key}: its run lost the action being carried out"),
                Vec::new(),
            ));
        };
        let executed = self.cluster.execute_in_place(run_action, now);
        let action = run_action.clone();
        let result = match executed {
            Ok(_) => {
                if matches!(
                    action,
                    Action::Apply {
                        reason: Reason::Create,
                        ..
                    }
                ) {
                    self.report.objects_created += 1;
                }
                self.trace(format_args!("  {action}"));
                Ok(())
            }
            Err(e) => {
                self.trace(format_args!("refused {action}: {e}"));
                Err(e)
            }
        };
        Ok((result, action))
    }

    /// Invariant 4 after a scale: the workload runs at the count it should,
    /// or sleeps with that count saved.
    fn check_after_write(&mut self, action: &Action) -> Result<(), SimError> {
        let Action::Patch {
            target,
            reason: Reason::Sleep | Reason::Wake,
            ..
        } = action
        else {
            return Ok(());
        };
        let Some(intended) = self.users.intended.get(target).copied() else {
            return Ok(());
        };
        self.report.invariant_checks += 1;
        let snapshot = self.cluster.snapshot();
        let ns = target.namespace.as_deref().unwrap_or_default();
        let found = match target.kind {
            Kind::Deployment => snapshot
                .get::<k8s_openapi::api::apps::v1::Deployment>(ns, &target.name)
                .map(mto_model::hibernation::workload),
            _ => snapshot
                .get::<k8s_openapi::api::apps::v1::StatefulSet>(ns, &target.name)
                .map(mto_model::hibernation::workload),
        };
        if let Some(v) = found.and_then(|w| check_workload(&w, intended)) {
            return Err(SimError::invariant(self, &v));
        }
        Ok(())
    }

    /// A reconcile ends: the driver schedules what comes next.
    fn end(&mut self, replica: usize, key: Key) {
        let now = self.local_now(replica);
        let jitter = self.rng.random::<f64>();
        let Some(op) = self.replicas[replica].operator.as_mut() else {
            return;
        };
        let Some(run) = op.runs.remove(&key) else {
            return;
        };
        let finished = op.driver.finish(run, now, jitter);
        if let Some(failure) = &finished.failure {
            self.trace(format!(
                "{}: stopped at {} ({}); retry at {}",
                finished.key,
                failure.reason(),
                failure,
                finished
                    .next
                    .map(|n| super::duration_text::show(mto_model::time::until(self.start, n)))
                    .unwrap_or_default()
            ));
        }
        match &finished.key {
            Key::Tenant(name) => self.record_phase(name),
            Key::Supervisor(id) => self.record_supervisor_phase(&id.key()),
            Key::Instance(id) => self.record_instance_phase(id),
            Key::Pilot => self.record_pilot_phase(),
            Key::Extension(name) => self.record_extension_phase(name),
            Key::Vault => self.record_vault_phase(),
            Key::Template(_) => {}
        }
        self.schedule_poll(replica);
    }

    /// Leader election: read the Lease, decide, write.
    pub(super) fn lease_tick(&mut self, replica: usize, life: u64) {
        if self.replicas[replica].life != life || !self.replicas[replica].up {
            return;
        }
        let local = self.local_now(replica);
        if !self.partitioned(replica) {
            let Some(candidate) = self.replicas[replica].candidate.as_mut() else {
                return;
            };
            let config = candidate.config();
            let lease = self
                .cluster
                .snapshot()
                .get::<k8s_openapi::api::coordination::v1::Lease>(&config.namespace, &config.name)
                .cloned();
            let step = candidate.decide(lease.as_ref(), local);
            let now = self.now();
            let written = match step {
                LeaseStep::Wait => None,
                LeaseStep::Create(lease) => self
                    .cluster
                    .create(lease.clone().into(), now)
                    .ok()
                    .map(|()| lease),
                LeaseStep::Replace(lease) => self
                    .cluster
                    .put(lease.clone().into(), now)
                    .ok()
                    .map(|()| lease),
            };
            if written.is_some() {
                self.report.lease_writes += 1;
            }
            if let (Some(lease), Some(candidate)) =
                (written, self.replicas[replica].candidate.as_mut())
            {
                candidate.handle_written(&lease, local);
            }
            self.broadcast();
        }
        let leading = self.replicas[replica]
            .candidate
            .as_ref()
            .is_some_and(|c| c.is_leading(local));
        let runs = self.replicas[replica]
            .operator
            .as_ref()
            .is_some_and(|op| op.leading);
        match (leading, runs) {
            (true, false) => self.lead(replica),
            // `mto run` exits when it loses the lease, to come back as a
            // candidate.
            (false, true) => {
                self.crash(replica, "lost the lease");
                return;
            }
            _ => {}
        }
        let retry = self.replicas[replica]
            .candidate
            .as_ref()
            .map_or(Duration::from_secs(2), |c| c.config().retry_period);
        self.push(
            self.now_ms + millis(retry),
            Event::LeaseTick { replica, life },
        );
    }

    /// The replicas running controllers now.
    pub(super) fn leaders(&self) -> Vec<usize> {
        self.replicas
            .iter()
            .filter(|r| r.up && r.operator.as_ref().is_some_and(|op| op.leading))
            .map(|r| r.id)
            .collect()
    }

    /// Whether a replica is down, or its controllers still owe work. Asked
    /// after every step: the reasons are data, put in words only when a
    /// run ends busy.
    pub(super) fn operators_busy(&self) -> Vec<Busy> {
        let horizon = mto_model::time::after(self.now(), Duration::from_secs(5 * 60));
        let mut why = Vec::new();
        for r in &self.replicas {
            if !r.up {
                why.push(Busy::Down(r.id));
                continue;
            }
            let Some(op) = &r.operator else {
                continue;
            };
            if !op.watching {
                why.push(Busy::OwesRelist(r.id));
            }
            if !op.inbox.is_empty() {
                why.push(Busy::EventsOnTheWay(r.id));
            }
            if !op.leading {
                // A standby's queue waits for it to lead: not work owed.
                continue;
            }
            if !op.runs.is_empty() {
                why.push(Busy::Reconciling(r.id));
            }
            // Due soon (a retry, a short requeue): not at rest. A schedule's
            // next turn, hours away, is not work owed.
            if op.driver.poll_timeout().is_some_and(|due| due <= horizon) {
                why.push(Busy::Queued(r.id));
            }
        }
        if self.elections() && self.leaders().is_empty() {
            why.push(Busy::NoLeader);
        }
        why
    }
}

/// What keeps the simulated cluster from rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Busy {
    /// This replica is down.
    Down(usize),
    /// This replica lost its watch and has not listed again.
    OwesRelist(usize),
    /// Watch events are on their way to this replica.
    EventsOnTheWay(usize),
    /// This replica is in a reconcile.
    Reconciling(usize),
    /// This replica has objects due within five minutes.
    Queued(usize),
    /// Replicas hold elections, and none leads.
    NoLeader,
    /// A namespace is terminating: the namespace controller is due.
    NamespaceController,
    /// An object was deleted: the garbage collector is due to remove what
    /// it owned.
    GarbageCollector,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Busy::Down(r) => write!(f, "replica {r} is down"),
            Busy::OwesRelist(r) => write!(f, "replica {r} owes a re-list"),
            Busy::EventsOnTheWay(r) => write!(f, "replica {r} has watch events on the way"),
            Busy::Reconciling(r) => write!(f, "replica {r} is reconciling"),
            Busy::Queued(r) => write!(f, "replica {r} has objects queued"),
            Busy::NoLeader => f.write_str("no replica leads"),
            Busy::NamespaceController => f.write_str("the namespace controller is due"),
            Busy::GarbageCollector => f.write_str("the garbage collector is due"),
        }
    }
}

/// Starts watching the kinds outside the registry that the Templates in
/// the replica's view deploy, and the console's while it is in play, as
/// `mto run` does: each is listed into the
/// view once, then its changes are delivered. `again`: list every one
/// anew (after a watch expired).
fn list_dynamic_kinds(
    op: &mut Operator,
    cluster: &mto_model::apiserver::ApiServer,
    now: mto_model::Timestamp,
    again: bool,
) {
    for gvk in op.view.snapshot().dynamic_kinds() {
        let kind = Kind::Dynamic(gvk);
        if again || !op.view.is_listed(&kind) {
            list_into(op, cluster, kind, now);
        }
    }
}

/// The replica lists one kind into its view, as a watch's first list
/// does, and queues whom the differences wake.
fn list_into(
    op: &mut Operator,
    cluster: &mto_model::apiserver::ApiServer,
    kind: Kind,
    now: mto_model::Timestamp,
) {
    op.view.fold(WatchEvent::Init(kind.clone()));
    for object in cluster.list(&kind) {
        op.view.fold(WatchEvent::InitApply(object));
    }
    let woken = op.view.fold(WatchEvent::InitDone(kind));
    op.driver.handle_woken(&woken, op.view.snapshot(), now);
}
