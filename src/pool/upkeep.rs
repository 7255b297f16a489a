//! Upkeep: graceful shutdown, the reaper of idle and expired connections, and the refill up
//! to minConnections.

use super::{Backend, Leasable, PoolCore};
use crate::cancel::CANCEL_GRACE;
use crate::error::Interruption;
use crate::retry::Backoff;
use deadpool::managed::Timeouts;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

impl<M: Backend> PoolCore<M> {
    /// Graceful shutdown: waits up to `timeout` for work in flight, then closes every connection.
    pub(crate) async fn end(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // Out of time: statements still running are cancelled and reject (kind `closed`).
            self.shutdown.abort(Interruption::Shutdown);
            let grace = tokio::time::Instant::now() + CANCEL_GRACE + Duration::from_millis(100);
            while self.running.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < grace {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.pool.close();
        // Closing drops the idle connections; their sockets close on the runtime a moment
        // later. Resolve once they have, so "after end() no connection remains" holds.
        let settle = tokio::time::Instant::now() + Duration::from_secs(1);
        while self.stats.open_connections.load(Ordering::Acquire) > 0
            && self.in_flight.load(Ordering::Acquire) == 0
            && tokio::time::Instant::now() < settle
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.events.clear_sink();
    }

    /// Closes idle connections above minConnections that idled past idleTimeoutMs.
    pub(super) fn reap(&self) {
        let idle_ms = self.settings.idle_timeout_ms;
        if idle_ms == 0 {
            return;
        }
        let mut keep = self.settings.min_connections;
        let status = self.pool.status();
        let busy = status.size.saturating_sub(status.available);
        keep = keep.saturating_sub(busy);
        let limit = Duration::from_millis(idle_ms);
        self.pool.retain(|conn, metrics| {
            // A dead connection is never kept, not even to make up minConnections (refill does).
            if conn.is_closed() {
                return false;
            }
            if metrics.last_used() < limit || keep > 0 {
                keep = keep.saturating_sub(1);
                true
            } else {
                false
            }
        });
    }

    /// Opens connections until minConnections are open again (after idle or lifetime closes,
    /// or an outage), once the pool has been used. False when a connection could not be made.
    pub(super) async fn refill(&self) -> bool {
        let min = self.settings.min_connections.min(self.limit());
        if min == 0 || !self.used.load(Ordering::Relaxed) {
            return true;
        }
        let wait = Duration::from_millis(self.settings.connect_timeout_ms.clamp(1000, 10_000));
        let timeouts = Timeouts { wait: Some(wait), create: None, recycle: None };
        // Held until the loop ends, so each get opens a new connection instead of reusing one.
        let mut held = Vec::new();
        while self.pool.status().size < min && held.len() < min {
            match self.pool.timeout_get(&timeouts).await {
                Ok(conn) => held.push(conn),
                Err(_) => return false,
            }
        }
        true
    }

    /// Runs [`Self::reap`] and [`Self::refill`] periodically until the pool is dropped or
    /// closed; a failed refill is tried again after a backoff (doubling up to 30 s).
    pub(crate) async fn reaper(weak: Weak<PoolCore<M>>) {
        let period = weak
            .upgrade()
            .map(|c| Duration::from_millis((c.settings.idle_timeout_ms / 4).clamp(250, 10_000)))
            .unwrap_or(Duration::from_secs(1));
        // A failed refill is tried again after period, 2 × period, … up to 30 s.
        let backoff = Backoff { initial_ms: period.as_secs_f64() * 1000.0, factor: 2.0, max_ms: 30_000.0, jitter: 0.0 };
        let mut failures = 0;
        let mut next_refill = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(period).await;
            let Some(core) = weak.upgrade().filter(|c| !c.pool.is_closed()) else { return };
            core.reap();
            if tokio::time::Instant::now() >= next_refill {
                if core.refill().await {
                    failures = 0;
                } else {
                    failures += 1;
                    next_refill = tokio::time::Instant::now() + backoff.steady(failures);
                }
            }
        }
    }
}
