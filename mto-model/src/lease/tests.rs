use proptest::prelude::*;

use super::*;

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig::new(identity)
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Writes what a step asks for, as the apiserver would (no conflicts here).
fn write(lease: &mut Option<Lease>, step: LeaseStep) -> Option<Lease> {
    match step {
        LeaseStep::Create(l) | LeaseStep::Replace(l) => {
            *lease = Some(l.clone());
            Some(l)
        }
        LeaseStep::Wait => None,
    }
}

#[test]
fn the_first_candidate_creates_the_lease_and_leads() {
    let mut a = Candidate::new(config("a"));
    let mut lease = None;
    let written = write(&mut lease, a.decide(None, at(0))).expect("created");
    assert!(!a.is_leading(at(0)), "not before the write lands");
    a.handle_written(&written, at(0));
    assert!(a.is_leading(at(0)));
    assert!(a.is_leading(at(9)));
    assert!(
        !a.is_leading(at(10)),
        "past the renew deadline without renewal"
    );
}

#[test]
fn a_second_candidate_waits_while_the_leader_renews_and_takes_over_after_it_stops() {
    let (mut a, mut b) = (Candidate::new(config("a")), Candidate::new(config("b")));
    let mut lease = None;
    let written = write(&mut lease, a.decide(None, at(0))).expect("created");
    a.handle_written(&written, at(0));
    for t in (2..40).step_by(2) {
        if let Some(w) = {
            let step = a.decide(lease.as_ref(), at(t));
            write(&mut lease, step)
        } {
            a.handle_written(&w, at(t));
        }
        assert_eq!(b.decide(lease.as_ref(), at(t)), LeaseStep::Wait, "at {t}");
    }
    // a stops renewing at 38: b takes over once the record is 15 s old on
    // its own clock, and by then a has stopped leading.
    let mut took = None;
    for t in (40..80).step_by(2) {
        if let Some(w) = {
            let step = b.decide(lease.as_ref(), at(t));
            write(&mut lease, step)
        } {
            b.handle_written(&w, at(t));
            took = Some(t);
            break;
        }
    }
    let took = took.expect("b leads");
    assert!(took > 38 + 15, "after a lease duration: {took}");
    assert!(!a.is_leading(at(took)), "a stepped down at 48");
    assert!(b.is_leading(at(took)));
    // a sees b's record: it does not lead, and waits.
    assert_eq!(a.decide(lease.as_ref(), at(took + 1)), LeaseStep::Wait);
}

#[test]
fn a_released_lease_is_taken_at_once() {
    let (mut a, mut b) = (Candidate::new(config("a")), Candidate::new(config("b")));
    let mut lease = None;
    let written = write(&mut lease, a.decide(None, at(0))).expect("created");
    a.handle_written(&written, at(0));
    assert_eq!(b.decide(lease.as_ref(), at(1)), LeaseStep::Wait);
    lease = a.release(lease.as_ref().expect("lease"), at(2));
    assert!(!a.is_leading(at(2)));
    let written = {
        let step = b.decide(lease.as_ref(), at(3));
        write(&mut lease, step)
    }
    .expect("taken");
    b.handle_written(&written, at(3));
    assert!(b.is_leading(at(3)));
    assert_eq!(
        written.spec.and_then(|s| s.lease_transitions),
        Some(1),
        "a transition counted"
    );
    assert!(
        b.release(&Lease::default(), at(4)).is_none(),
        "only the holder releases"
    );
}

proptest! {
    /// Two replicas whose clocks disagree by any offset, polling at any
    /// phase, with the leader stopping at any moment: never both lead at
    /// the same instant.
    #[test]
    fn two_replicas_never_lead_at_once(
        offset in -100_000i64..100_000,
        b_phase in 0i64..2,
        leader_stops in 0i64..200,
        comes_back in proptest::option::of(0i64..200),
    ) {
        let (mut a, mut b) = (Candidate::new(config("a")), Candidate::new(config("b")));
        let mut lease: Option<Lease> = None;
        let local_b = |t: i64| at(t + offset);
        for t in 0..400 {
            let a_runs = t < leader_stops || comes_back.is_some_and(|c| t >= leader_stops + c);
            if a_runs && t % 2 == 0
                && let Some(w) = { let step = a.decide(lease.as_ref(), at(t)); write(&mut lease, step) }
            {
                a.handle_written(&w, at(t));
            }
            if t % 2 == b_phase
                && let Some(w) = { let step = b.decide(lease.as_ref(), local_b(t)); write(&mut lease, step) }
            {
                b.handle_written(&w, local_b(t));
            }
            prop_assert!(!(a.is_leading(at(t)) && b.is_leading(local_b(t))), "both lead at {t}");
        }
    }
}
