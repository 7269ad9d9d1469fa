//! The reconcile driver: the loop around every controller's decisions,
//! written once and run by the operator against a real cluster and by the
//! simulator against a simulated one. They only do the I/O.
//!
//! It keeps the queue (who is due when, at most `concurrency` at once,
//! never one object twice at once, bursts of events debounced), decides
//! from the view it is given (skipping settled tenants, deciding nothing
//! while no IntegrationConfig can be used), hands out a decision's actions
//! one at a time, stops at the first failure, and schedules what comes
//! next: a retry after a backoff, the decision's own requeue, or another
//! turn for an object that changed while it was being reconciled.
//!
//! Call order (time comes in as an argument, randomness as a number):
//!
//! 1. [`Driver::handle_woken`] with whom each view change wakes.
//! 2. [`Driver::poll_due`] for the next object to reconcile, then
//!    [`Driver::start`] to decide about it from the view.
//! 3. For a [`Reconcile`]: [`Reconcile::poll_action`], carry the action
//!    out, [`Reconcile::handle_result`]; until `poll_action` says `None`.
//! 4. [`Driver::finish`] with the run: what it did and what to tell
//!    people ([`Finished`]); the object is scheduled again as needed.
//! 5. [`Driver::poll_timeout`]: when `poll_due` has something next.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::Timestamp;
use crate::action::{Action, Event, Reason, Requeue};
use crate::apiserver::ApiError;
use crate::hibernation::Supervisor;
use crate::machine::Phase;
use crate::tenant::Settled;
use crate::time::after;
use crate::view::{Key, ObjectRef, Observed as _, Snapshot, Woken};

/// Exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay before the `attempt`-th retry: between half and all of
    /// `base · 2^(attempt-1)`, capped at `max`, where `jitter` (drawn by
    /// the caller, in `[0, 1]`) places it, so objects and replicas failing
    /// together do not retry together.
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self.base.saturating_mul(1 << exponent).min(self.max);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// How the driver runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Objects reconciled at once.
    pub concurrency: usize,
    /// How long a first event waits for the rest of its burst.
    pub debounce: Duration,
    /// Retries after failures.
    pub backoff: Backoff,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            concurrency: 8,
            debounce: Duration::from_millis(200),
            backoff: Backoff::default(),
        }
    }
}

/// Why an object due was not reconciled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// No IntegrationConfig can be used; nothing is decided until one can.
    Blocked(String),
    /// A tenant whose last decision had nothing to do, and nothing it reads
    /// has changed since.
    Settled,
    /// The object is gone.
    Gone,
}

/// The result of [`Driver::start`].
#[derive(Debug)]
pub enum Started {
    /// Nothing to decide.
    Skipped(Skipped),
    /// A decision to carry out.
    Run(Box<Reconcile>),
}

/// One decision being carried out.
#[derive(Debug)]
pub struct Reconcile {
    key: Key,
    regarding: ObjectRef,
    from: &'static str,
    to: &'static str,
    actions: Vec<Action>,
    events: Vec<Event>,
    requeue: Requeue,
    next: usize,
    failure: Option<ApiError>,
}

impl Reconcile {
    fn new<P: Phase>(
        key: Key,
        regarding: ObjectRef,
        decision: crate::action::Decision<P>,
    ) -> Reconcile {
        Reconcile {
            key,
            regarding,
            from: decision.from.name(),
            to: decision.phase.name(),
            actions: decision.actions,
            events: decision.events,
            requeue: decision.requeue,
            next: 0,
            failure: None,
        }
    }

    /// The object reconciled.
    #[must_use]
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The phase the object is in while the decision's writes land.
    #[must_use]
    pub fn phase(&self) -> &'static str {
        self.to
    }

    /// Every action the decision asks for.
    #[must_use]
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The next action to carry out; `None` when all are done or one failed.
    #[must_use]
    pub fn poll_action(&self) -> Option<&Action> {
        match self.failure {
            Some(_) => None,
            None => self.actions.get(self.next),
        }
    }

    /// The next action, to carry out in place
    /// ([`crate::apiserver::ApiServer::execute_in_place`]): the run then
    /// keeps what was stored, not a copy.
    pub fn poll_action_mut(&mut self) -> Option<&mut Action> {
        match self.failure {
            Some(_) => None,
            None => self.actions.get_mut(self.next),
        }
    }

    /// The result of the action [`Reconcile::poll_action`] gave. A delete
    /// of what is already gone has nothing left to do; any other failure
    /// stops the run, and a retry decides again from a fresh view (a delete
    /// refused because the object was replaced is one: what replaced it is
    /// decided on, never assumed gone).
    pub fn handle_result(&mut self, result: Result<(), ApiError>) {
        let Some(action) = self.actions.get(self.next) else {
            return;
        };
        match result {
            Ok(()) => self.next += 1,
            Err(ApiError::NotFound(_)) if matches!(action, Action::Delete { .. }) => {
                self.next += 1;
            }
            Err(e) => self.failure = Some(e),
        }
    }
}

/// What a run did, for events, the journal, metrics and traces.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    /// The object reconciled.
    pub key: Key,
    /// The object, for events about it.
    pub regarding: ObjectRef,
    /// Its phase before.
    pub from: &'static str,
    /// Its phase while the run's writes land.
    pub to: &'static str,
    /// The actions carried out, in order.
    pub done: Vec<Action>,
    /// What the decision told people (warnings of new problems).
    pub told: Vec<Event>,
    /// Why the run stopped early.
    pub failure: Option<ApiError>,
    /// When the object is reconciled again, if nothing wakes it sooner.
    pub next: Option<Timestamp>,
}

/// Kubernetes keeps an event's note to 1 kB.
const NOTE_LIMIT: usize = 1000;

impl Finished {
    /// Whether the run wrote or told anything: the runs worth an event and
    /// a journal entry.
    #[must_use]
    pub fn is_notable(&self) -> bool {
        !self.done.is_empty() || !self.told.is_empty() || self.failure.is_some()
    }

    /// The events to publish about the run: a summary of what it wrote,
    /// the decision's warnings, and a warning if a write failed.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        let mut events = Vec::new();
        let event = |warning: bool, reason: &str, message: String| Event {
            regarding: self.regarding.clone(),
            warning,
            reason: reason.into(),
            message: truncate(&message),
        };
        let listed = |actions: &[&Action]| {
            actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        match &self.key {
            Key::Tenant(_)
            | Key::Instance(_)
            | Key::Template(_)
            | Key::Pilot
            | Key::Extension(_)
            | Key::Vault => {
                let writes: Vec<&Action> =
                    self.done.iter().filter(|a| a.is_object_write()).collect();
                if !writes.is_empty() {
                    events.push(event(
                        false,
                        "Reconciled",
                        format!("{} ({} writes): {}", self.to, writes.len(), listed(&writes)),
                    ));
                }
            }
            Key::Supervisor(_) => {
                let scaled: Vec<&Action> = self
                    .done
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.reason(),
                            Some(
                                Reason::Sleep
                                    | Reason::Wake
                                    | Reason::PauseSync
                                    | Reason::ResumeSync
                            )
                        )
                    })
                    .collect();
                if !scaled.is_empty() {
                    let reason = if self.to == "sleeping" {
                        "Sleeping"
                    } else {
                        "Waking"
                    };
                    events.push(event(false, reason, listed(&scaled)));
                }
            }
        }
        events.extend(
            self.told
                .iter()
                .map(|e| event(e.warning, &e.reason, e.message.clone())),
        );
        if let Some(failure) = &self.failure {
            events.push(event(true, "WriteFailed", failure.to_string()));
        }
        events
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= NOTE_LIMIT {
        return text.to_owned();
    }
    let mut end = NOTE_LIMIT - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// The queue, the runs in flight and what the controllers remember.
#[derive(Clone, Debug, Default)]
pub struct Driver {
    config: Config,
    due: BTreeMap<Key, Timestamp>,
    order: BTreeSet<(Timestamp, Key)>,
    running: BTreeSet<Key>,
    woken_while_running: BTreeSet<Key>,
    failures: BTreeMap<Key, u32>,
    settled: Settled,
    pilot: crate::pilot::PilotSettings,
}

impl Driver {
    /// A driver with nothing queued.
    #[must_use]
    pub fn new(config: Config) -> Driver {
        Driver {
            config,
            ..Driver::default()
        }
    }

    /// What the console the pilot deploys needs of the operator (its
    /// image, its fallback issuer, its store).
    #[must_use]
    pub fn with_pilot(mut self, settings: crate::pilot::PilotSettings) -> Driver {
        self.pilot = settings;
        self
    }

    /// Queues whom a view change wakes, after the debounce. An object
    /// being reconciled goes again once its run finishes.
    pub fn handle_woken(&mut self, woken: &Woken, snapshot: &Snapshot, now: Timestamp) {
        let at = after(now, self.config.debounce);
        let queue = |this: &mut Driver, key: Key| {
            if this.running.contains(&key) {
                this.woken_while_running.insert(key);
            } else {
                this.schedule(key, at);
            }
        };
        if woken.is_everyone() {
            for key in snapshot.keys() {
                queue(self, key);
            }
        }
        for key in woken.keys() {
            queue(self, key.clone());
        }
    }

    /// Queues `key` at `at`, unless it is already due sooner.
    pub fn schedule(&mut self, key: Key, at: Timestamp) {
        match self.due.get(&key) {
            Some(due) if *due <= at => {}
            Some(due) => {
                self.order.remove(&(*due, key.clone()));
                self.order.insert((at, key.clone()));
                self.due.insert(key, at);
            }
            None => {
                self.order.insert((at, key.clone()));
                self.due.insert(key, at);
            }
        }
    }

    /// The next object due at `now`, if a slot is free; it counts as
    /// running until [`Driver::start`] skips it or [`Driver::finish`].
    pub fn poll_due(&mut self, now: Timestamp) -> Option<Key> {
        if self.running.len() >= self.config.concurrency {
            return None;
        }
        let (at, key) = self.order.first()?.clone();
        if at > now {
            return None;
        }
        self.order.remove(&(at, key.clone()));
        self.due.remove(&key);
        self.running.insert(key.clone());
        Some(key)
    }

    /// When [`Driver::poll_due`] next has something, if a slot is free.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.running.len() >= self.config.concurrency {
            return None;
        }
        self.order.first().map(|(at, _)| *at)
    }

    /// Decides about `key` from `snapshot` at `now`.
    pub fn start(&mut self, key: Key, snapshot: &Snapshot, now: Timestamp) -> Started {
        let started = match snapshot.integration_problem() {
            Some(problem) => Started::Skipped(Skipped::Blocked(problem.to_owned())),
            None => self.decide(&key, snapshot, now),
        };
        if let Started::Skipped(skipped) = &started {
            self.running.remove(&key);
            if *skipped == Skipped::Gone {
                self.failures.remove(&key);
            }
            if self.woken_while_running.remove(&key) {
                self.schedule(key, after(now, self.config.debounce));
            }
        }
        started
    }

    fn decide(&mut self, key: &Key, snapshot: &Snapshot, now: Timestamp) -> Started {
        match key {
            Key::Tenant(name) => {
                if self.settled.is_settled(name, snapshot) {
                    return Started::Skipped(Skipped::Settled);
                }
                let Some(tenant) = snapshot.tenant(name) else {
                    self.settled.forget(name);
                    return Started::Skipped(Skipped::Gone);
                };
                let decision = crate::tenant::decide(tenant, snapshot, now);
                self.settled.record(name, snapshot, &decision);
                let regarding = ObjectRef::cluster(crate::view::Kind::Tenant, name);
                Started::Run(Box::new(Reconcile::new(key.clone(), regarding, decision)))
            }
            Key::Instance(id) => match crate::template::Instance::find(snapshot, id) {
                None => Started::Skipped(Skipped::Gone),
                Some(instance) => {
                    let decision = crate::template::decide(instance, snapshot, now);
                    Started::Run(Box::new(Reconcile::new(
                        key.clone(),
                        id.object_ref(),
                        decision,
                    )))
                }
            },
            Key::Template(name) => match snapshot.get::<crate::api::Template>("", name) {
                None => Started::Skipped(Skipped::Gone),
                Some(template) => {
                    let decision = crate::template::guard(template, snapshot, now);
                    Started::Run(Box::new(Reconcile::new(
                        key.clone(),
                        ObjectRef::cluster(crate::view::Kind::Template, name),
                        decision,
                    )))
                }
            },
            Key::Pilot => match snapshot
                .shelf::<crate::api::IntegrationConfig>()
                .iter()
                .next()
            {
                None => Started::Skipped(Skipped::Gone),
                Some(config) => {
                    let decision = crate::pilot::decide(config, &self.pilot, snapshot, now);
                    let regarding =
                        ObjectRef::of::<crate::api::IntegrationConfig>(&config.metadata);
                    Started::Run(Box::new(Reconcile::new(key.clone(), regarding, decision)))
                }
            },
            Key::Vault => match snapshot
                .shelf::<crate::api::IntegrationConfig>()
                .iter()
                .next()
            {
                None => Started::Skipped(Skipped::Gone),
                Some(config) => {
                    let decision = crate::vault::decide(config, snapshot, now);
                    let regarding =
                        ObjectRef::of::<crate::api::IntegrationConfig>(&config.metadata);
                    Started::Run(Box::new(Reconcile::new(key.clone(), regarding, decision)))
                }
            },
            Key::Extension(name) => match snapshot.get::<crate::api::Extensions>("", name) {
                None => Started::Skipped(Skipped::Gone),
                Some(extensions) => {
                    let decision = crate::extensions::decide(extensions, snapshot, now);
                    Started::Run(Box::new(Reconcile::new(
                        key.clone(),
                        ObjectRef::cluster(crate::view::Kind::Extensions, name),
                        decision,
                    )))
                }
            },
            Key::Supervisor(id) => match Supervisor::find(snapshot, id) {
                None => Started::Skipped(Skipped::Gone),
                Some(supervisor) => {
                    let decision = crate::hibernation::decide(supervisor, snapshot, now);
                    Started::Run(Box::new(Reconcile::new(
                        key.clone(),
                        id.object_ref(),
                        decision,
                    )))
                }
            },
        }
    }

    /// Ends a run: reports what it did and schedules what comes next (a
    /// retry after `backoff` when it failed, with `jitter` in `[0, 1]`
    /// drawn by the caller; else the decision's requeue; sooner if the
    /// object changed meanwhile).
    pub fn finish(&mut self, run: Box<Reconcile>, now: Timestamp, jitter: f64) -> Finished {
        let Reconcile {
            key,
            regarding,
            from,
            to,
            mut actions,
            events,
            requeue,
            next,
            failure,
        } = *run;
        self.running.remove(&key);
        actions.truncate(next);
        let mut at = match &failure {
            Some(_) => {
                let attempt = self.failures.entry(key.clone()).or_insert(0);
                *attempt = attempt.saturating_add(1);
                Some(after(now, self.config.backoff.delay(*attempt, jitter)))
            }
            None => {
                self.failures.remove(&key);
                requeue.at(now)
            }
        };
        if self.woken_while_running.remove(&key) {
            let soon = after(now, self.config.debounce);
            at = Some(at.map_or(soon, |a| a.min(soon)));
        }
        if let Some(at) = at {
            self.schedule(key.clone(), at);
        }
        Finished {
            key,
            regarding,
            from,
            to,
            done: actions,
            told: events,
            failure,
            next: at,
        }
    }

    /// Whether nothing is queued or running.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.due.is_empty() && self.running.is_empty()
    }

    /// The objects queued, soonest first.
    pub fn queued(&self) -> impl Iterator<Item = &Key> {
        self.order.iter().map(|(_, key)| key)
    }

    /// How many tenants are settled.
    #[must_use]
    pub fn settled(&self) -> usize {
        self.settled.len()
    }
}

#[cfg(test)]
mod tests;
