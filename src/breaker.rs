//! An optional circuit breaker: while the server is unreachable, checkouts fail at once instead
//! of each waiting poolTimeoutMs; one probe is let through per cool-down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Breaker state, shared by every checkout of a pool.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// What a checkout may do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Allowed,
    /// The breaker is open: fail now; the next probe is in this long.
    Rejected(Duration),
}

impl Breaker {
    /// Opens after `threshold` consecutive connection failures, for `cooldown`.
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker { threshold: threshold.max(1), cooldown, state: Mutex::new(State::default()) }
    }

    /// Whether a checkout may try the server now (`now` passed in for tests).
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let Ok(mut s) = self.state.lock() else {
            return Admission::Allowed;
        };
        match s.open_until {
            None => Admission::Allowed,
            Some(until) if now < until => Admission::Rejected(until - now),
            Some(_) if s.probing => Admission::Rejected(Duration::ZERO),
            Some(_) => {
                s.probing = true;
                Admission::Allowed
            }
        }
    }

    /// The server answered: close the breaker.
    pub(crate) fn success(&self) {
        if let Ok(mut s) = self.state.lock() {
            *s = State::default();
        }
    }

    /// A connection attempt failed.
    pub(crate) fn failure(&self, now: Instant) {
        if let Ok(mut s) = self.state.lock() {
            s.failures += 1;
            if s.probing || s.failures >= self.threshold {
                s.open_until = Some(now + self.cooldown);
                s.probing = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let b = Breaker::new(2, Duration::from_millis(100));
        let t0 = Instant::now();
        assert_eq!(b.admit(t0), Admission::Allowed);
        b.failure(t0);
        assert_eq!(b.admit(t0), Admission::Allowed, "below threshold");
        b.failure(t0);
        assert!(matches!(b.admit(t0), Admission::Rejected(_)), "open");
        let later = t0 + Duration::from_millis(150);
        assert_eq!(b.admit(later), Admission::Allowed, "one probe");
        assert!(matches!(b.admit(later), Admission::Rejected(_)), "only one probe");
        b.failure(later);
        assert!(matches!(b.admit(later), Admission::Rejected(_)), "failed probe reopens");
        let much_later = later + Duration::from_millis(150);
        assert_eq!(b.admit(much_later), Admission::Allowed);
        b.success();
        assert_eq!(b.admit(much_later), Admission::Allowed);
        assert_eq!(b.admit(much_later), Admission::Allowed, "closed again");
    }
}
