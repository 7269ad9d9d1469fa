//! Faults as rules, turmoil's way: before each API call every rule gives a
//! verdict, and the first that is not [`Verdict::Pass`] decides what
//! happens to the call.

use std::time::Duration;

use mto_model::action::Action;
use mto_model::apiserver::ApiError;
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;

use crate::scenario::FaultPlan;

/// An API call about to be made.
#[derive(Debug)]
pub struct Call<'a> {
    /// The replica making it.
    pub replica: usize,
    /// What it does.
    pub action: &'a Action,
    /// The replica's successful writes so far in this life.
    pub writes: u64,
}

/// What a rule does to a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing: the next rule decides.
    Pass,
    /// The replica crashes before the call.
    Crash,
    /// The call is refused with this error.
    Fail(ApiError),
    /// The call goes through, this much later.
    Slow(Duration),
}

/// A fault, named after what happens to a system.
pub trait FaultRule {
    /// Its name, as reports count it.
    fn name(&self) -> &'static str;
    /// The verdict on a call (only asked while faults are active).
    fn before_call(&mut self, call: &Call<'_>, rng: &mut ChaCha8Rng) -> Verdict;
    /// The verdict after a write went through: only [`Verdict::Crash`]
    /// means anything (the write landed; the replica dies after it).
    fn after_write(&mut self, call: &Call<'_>) -> Verdict {
        let _ = call;
        Verdict::Pass
    }
}

/// The replica crashes before a share of calls.
struct Crashes(f64);
/// A share of calls takes longer.
struct SlowCalls(f64, Duration);
/// A share of calls is a 409.
struct Conflicts(f64);
/// A share of calls is a 500 or 429.
struct TransientErrors(f64);
/// The replica crashes once, right after its N-th write of a life.
struct CrashAfterWrites {
    n: u64,
    fired: bool,
}

fn happens(share: f64, rng: &mut ChaCha8Rng) -> bool {
    share > 0.0 && rng.random_bool(share.min(1.0))
}

impl FaultRule for Crashes {
    fn name(&self) -> &'static str {
        "operator crash"
    }
    fn before_call(&mut self, _: &Call<'_>, rng: &mut ChaCha8Rng) -> Verdict {
        if happens(self.0, rng) {
            Verdict::Crash
        } else {
            Verdict::Pass
        }
    }
}

impl FaultRule for SlowCalls {
    fn name(&self) -> &'static str {
        "slow call"
    }
    fn before_call(&mut self, _: &Call<'_>, rng: &mut ChaCha8Rng) -> Verdict {
        if happens(self.0, rng) {
            Verdict::Slow(self.1)
        } else {
            Verdict::Pass
        }
    }
}

impl FaultRule for Conflicts {
    fn name(&self) -> &'static str {
        "conflict (409)"
    }
    fn before_call(&mut self, call: &Call<'_>, rng: &mut ChaCha8Rng) -> Verdict {
        if happens(self.0, rng) {
            Verdict::Fail(ApiError::Conflict(call.action.target().to_string()))
        } else {
            Verdict::Pass
        }
    }
}

impl FaultRule for TransientErrors {
    fn name(&self) -> &'static str {
        "transient error (500/429)"
    }
    fn before_call(&mut self, call: &Call<'_>, rng: &mut ChaCha8Rng) -> Verdict {
        if happens(self.0, rng) {
            Verdict::Fail(ApiError::Unavailable {
                target: call.action.target().to_string(),
                message: "the server is unavailable".into(),
            })
        } else {
            Verdict::Pass
        }
    }
}

impl FaultRule for CrashAfterWrites {
    fn name(&self) -> &'static str {
        "operator crash after writes"
    }
    fn before_call(&mut self, _: &Call<'_>, _: &mut ChaCha8Rng) -> Verdict {
        Verdict::Pass
    }
    fn after_write(&mut self, call: &Call<'_>) -> Verdict {
        if !self.fired && call.writes == self.n {
            self.fired = true;
            Verdict::Crash
        } else {
            Verdict::Pass
        }
    }
}

/// The rules a scenario's fault plan asks for, in the order they are asked.
pub(super) fn rules(plan: &FaultPlan) -> Vec<Box<dyn FaultRule>> {
    let mut rules: Vec<Box<dyn FaultRule>> = Vec::new();
    if plan.crashes > 0.0 {
        rules.push(Box::new(Crashes(plan.crashes)));
    }
    if let Some(n) = plan.crash_after_writes {
        rules.push(Box::new(CrashAfterWrites { n, fired: false }));
    }
    if plan.slow_calls > 0.0 {
        rules.push(Box::new(SlowCalls(
            plan.slow_calls,
            plan.slow_by.unwrap_or(Duration::from_secs(2)),
        )));
    }
    if plan.conflicts > 0.0 {
        rules.push(Box::new(Conflicts(plan.conflicts)));
    }
    if plan.transient_errors > 0.0 {
        rules.push(Box::new(TransientErrors(plan.transient_errors)));
    }
    rules
}

/// The first verdict that is not [`Verdict::Pass`], with its rule's name.
pub(super) fn judge(
    rules: &mut [Box<dyn FaultRule>],
    call: &Call<'_>,
    rng: &mut ChaCha8Rng,
) -> Option<(&'static str, Verdict)> {
    rules
        .iter_mut()
        .find_map(|rule| match rule.before_call(call, rng) {
            Verdict::Pass => None,
            verdict => Some((rule.name(), verdict)),
        })
}

/// Whether any rule crashes the replica after a write.
pub(super) fn crash_after(
    rules: &mut [Box<dyn FaultRule>],
    call: &Call<'_>,
) -> Option<&'static str> {
    rules
        .iter_mut()
        .find_map(|rule| match rule.after_write(call) {
            Verdict::Crash => Some(rule.name()),
            _ => None,
        })
}
