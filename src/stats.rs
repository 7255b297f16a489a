//! Pool counters, kept with relaxed atomics so the hot path takes no lock.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters a pool keeps for `getPoolStats()`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Statements run, failed ones included.
    pub queries: AtomicU64,
    /// Statements that failed.
    pub query_errors: AtomicU64,
    /// Connections opened.
    pub connections_created: AtomicU64,
    /// Connections closed (by us, the server or the network).
    pub connections_closed: AtomicU64,
    /// Connection attempts that failed.
    pub connections_failed: AtomicU64,
    /// Checkouts that timed out waiting for a free connection.
    pub acquire_timeouts: AtomicU64,
    /// Retries made by `pool.withRetry` and transaction re-runs.
    pub retry_attempts: AtomicU64,
    /// Operations that succeeded after at least one retry.
    pub retry_succeeded: AtomicU64,
    /// Operations that failed after using every retry.
    pub retry_exhausted: AtomicU64,
}

impl Stats {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// The counters as JSON.
    pub fn snapshot(&self) -> Value {
        json!({
            "queries": { "queriesExecuted": self.queries.load(Relaxed), "queryErrors": self.query_errors.load(Relaxed) },
            "acquire": { "timeouts": self.acquire_timeouts.load(Relaxed) },
            "retries": {
                "attempts": self.retry_attempts.load(Relaxed),
                "succeededAfterRetry": self.retry_succeeded.load(Relaxed),
                "exhausted": self.retry_exhausted.load(Relaxed),
            },
            "connections": {
                "created": self.connections_created.load(Relaxed),
                "closed": self.connections_closed.load(Relaxed),
                "failed": self.connections_failed.load(Relaxed),
            },
        })
    }
}
