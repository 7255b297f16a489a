//! Outages as an operator counts them: a run of failed connection attempts, from the first
//! failure to the next connection opened. `connections.failed` counts every attempt (the pool
//! retries with backoff, so one outage is many attempts); this counts the outages, whether one
//! is going on, how long the last one lasted and the last error seen.

use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The outage state of one pool (touched only when a connection is opened or fails).
#[derive(Debug, Default)]
pub(crate) struct Outages {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    count: u64,
    since: Option<Instant>,
    /// Failed attempts in the outage going on.
    attempts: u64,
    last_duration: Option<Duration>,
    last_error: Option<(String, String)>,
}

impl Outages {
    /// A connection attempt failed with `code` / `message` (no password in it). True when this
    /// attempt began an outage (the one to log; the others are counted).
    pub(crate) fn failed(&self, code: &str, message: &str) -> bool {
        let Ok(mut s) = self.state.lock() else { return false };
        let began = s.since.is_none();
        if began {
            s.since = Some(Instant::now());
            s.count += 1;
            s.attempts = 0;
        }
        s.attempts += 1;
        s.last_error = Some((code.to_string(), message.to_string()));
        began
    }

    /// A connection opened: an outage in progress is over. Its length and failed attempts, when
    /// there was one.
    pub(crate) fn connected(&self) -> Option<(Duration, u64)> {
        let Ok(mut s) = self.state.lock() else { return None };
        let lasted = s.since.take()?.elapsed();
        s.last_duration = Some(lasted);
        Some((lasted, s.attempts))
    }

    /// Forgets everything (`resetStats`), except an outage still in progress.
    pub(crate) fn reset(&self) {
        let Ok(mut s) = self.state.lock() else { return };
        let since = s.since;
        *s = State { count: u64::from(since.is_some()), since, ..State::default() };
    }

    /// `{ count, current, currentMs, lastDurationMs, lastError: { code, message } }`.
    pub(crate) fn snapshot(&self) -> Value {
        let Ok(s) = self.state.lock() else { return Value::Null };
        json!({
            "count": s.count,
            "current": s.since.is_some(),
            "currentMs": s.since.map(|t| t.elapsed().as_millis() as u64),
            "lastDurationMs": s.last_duration.map(|d| d.as_millis() as u64),
            "lastError": s.last_error.as_ref().map(|(code, message)| json!({ "code": code, "message": message })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_outage_is_many_failed_attempts() {
        let o = Outages::default();
        assert!(o.failed("P1001", "refused"), "the first failure begins the outage");
        assert!(!o.failed("P1001", "refused again"));
        let v = o.snapshot();
        assert_eq!((v["count"].clone(), v["current"].clone()), (json!(1), json!(true)));
        assert_eq!(v["lastError"]["message"], "refused again");
        assert_eq!(o.connected().map(|(_, attempts)| attempts), Some(2));
        assert_eq!(o.connected(), None, "over once");
        let v = o.snapshot();
        assert_eq!((v["count"].clone(), v["current"].clone()), (json!(1), json!(false)));
        assert!(v["lastDurationMs"].is_u64());
        o.failed("P1001", "down");
        assert_eq!(o.snapshot()["count"], 2);
    }
}
