//! Instants and spans, saturating: a simulation may run to the end of
//! representable time without panicking.

use std::time::Duration;

use crate::Timestamp;

/// `at + span`, or the latest representable instant.
#[must_use]
pub fn after(at: Timestamp, span: Duration) -> Timestamp {
    k8s_openapi::jiff::SignedDuration::try_from(span)
        .ok()
        .and_then(|span| at.checked_add(span).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `from` until `to`; zero when `to` is not later.
#[must_use]
pub fn until(from: Timestamp, to: Timestamp) -> Duration {
    to.duration_since(from).try_into().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_saturate_at_the_end_of_time() {
        let late: Timestamp = "9999-12-31T00:00:00Z".parse().unwrap_or(Timestamp::MAX);
        assert_eq!(
            after(late, Duration::from_secs(10 * 86_400)),
            Timestamp::MAX
        );
        assert_eq!(after(Timestamp::UNIX_EPOCH, Duration::MAX), Timestamp::MAX);
        assert_eq!(until(late, Timestamp::UNIX_EPOCH), Duration::ZERO);
        assert_eq!(
            until(
                Timestamp::UNIX_EPOCH,
                after(Timestamp::UNIX_EPOCH, Duration::from_millis(1500))
            ),
            Duration::from_millis(1500)
        );
    }
}
