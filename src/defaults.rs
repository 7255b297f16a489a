//! Defaults of the per-call options (`withRetry`, `transaction`, `healthCheck`, `end`): the
//! one place they are written. The pool's own settings have theirs in `config`; JavaScript
//! reads these once through `callDefaults()`.

use crate::retry::Backoff;
use serde_json::{json, Value};

/// `withRetry`: retries after the first call.
pub(crate) const RETRY_MAX_RETRIES: u32 = 3;
/// `transaction`: longest wait for a connection, ms (P2024 after it).
pub(crate) const TRANSACTION_MAX_WAIT_MS: u64 = 5000;
/// `transaction`: longest run of the callback, ms (rollback and P2028 after it).
pub(crate) const TRANSACTION_TIMEOUT_MS: u64 = 10_000;
/// `transaction`: re-runs after a serialization failure or deadlock.
pub(crate) const TRANSACTION_RETRIES: u32 = 3;
/// `transaction`: the pause before a re-run, short (the conflict is usually gone at once)
/// and widely spread (so the two sides of a deadlock do not meet again).
pub(crate) const TRANSACTION_RERUN: Backoff = Backoff { initial_ms: 20.0, factor: 2.0, max_ms: 1000.0, jitter: 0.5 };
/// `healthCheck`: the `SELECT 1` timeout, ms.
pub(crate) const HEALTH_TIMEOUT_MS: u64 = 5000;
/// `healthCheck`: a round trip slower than this is "degraded", ms.
pub(crate) const HEALTH_SLOW_MS: u64 = 1000;
/// `end`: how long work in flight may finish before it is cancelled, ms.
pub(crate) const END_TIMEOUT_MS: u64 = 5000;

fn backoff(b: &Backoff) -> Value {
    json!({ "initialDelayMs": b.initial_ms, "factor": b.factor, "maxDelayMs": b.max_ms, "jitter": b.jitter })
}

/// Every default above, as the JS layer reads them.
pub(crate) fn as_json() -> Value {
    let mut retry = backoff(&Backoff::default());
    retry["maxRetries"] = json!(RETRY_MAX_RETRIES);
    json!({
        "retry": retry,
        "transaction": {
            "maxWaitMs": TRANSACTION_MAX_WAIT_MS,
            "timeoutMs": TRANSACTION_TIMEOUT_MS,
            "retries": TRANSACTION_RETRIES,
            "rerun": backoff(&TRANSACTION_RERUN),
        },
        "health": { "timeoutMs": HEALTH_TIMEOUT_MS, "slowMs": HEALTH_SLOW_MS },
        "endTimeoutMs": END_TIMEOUT_MS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_js_shape() {
        let v = as_json();
        assert_eq!(
            v["retry"],
            json!({ "maxRetries": 3, "initialDelayMs": 1000.0, "factor": 2.0, "maxDelayMs": 30000.0, "jitter": 0.2 })
        );
        assert_eq!(v["transaction"]["rerun"]["initialDelayMs"], json!(20.0));
        assert_eq!(v["endTimeoutMs"], json!(5000));
    }
}
