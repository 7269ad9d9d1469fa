//! The operator's clock. Real time by default; for demos and end-to-end
//! tests it can start at a chosen instant and run faster, so a schedule
//! that fires at 22:00 fires within seconds of the test starting.

use std::time::{Duration, Instant};

use mto_model::Timestamp;

/// Where the operator's time comes from.
#[derive(Clone, Debug)]
pub struct Clock {
    started: Instant,
    origin: Timestamp,
    speed: f64,
}

impl Clock {
    /// Real time.
    #[must_use]
    pub fn real() -> Clock {
        Clock {
            started: Instant::now(),
            origin: Timestamp::now(),
            speed: 1.0,
        }
    }

    /// Time that reads `origin` now and runs `speed` times as fast as real time.
    #[must_use]
    pub fn starting_at(origin: Timestamp, speed: f64) -> Clock {
        Clock {
            started: Instant::now(),
            origin,
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    /// The current instant.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        let elapsed = self.started.elapsed().mul_f64(self.speed);
        let span = k8s_openapi::jiff::SignedDuration::try_from(elapsed).unwrap_or_default();
        self.origin.checked_add(span).unwrap_or(self.origin)
    }

    /// How long to wait, in real time, until the clock reads `at`.
    #[must_use]
    pub fn until(&self, at: Timestamp) -> Duration {
        mto_model::time::until(self.now(), at).div_f64(self.speed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_starts_where_asked_and_shortens_waits() {
        let origin: Timestamp = "2026-11-25T21:59:50Z".parse().expect("time");
        let clock = Clock::starting_at(origin, 10.0);
        assert!(clock.now() >= origin);
        assert!(clock.now().as_second() - origin.as_second() < 5);
        let at: Timestamp = "2026-11-25T22:00:00Z".parse().expect("time");
        let wait = clock.until(at);
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert_eq!(clock.until(origin), Duration::ZERO);
    }
}
