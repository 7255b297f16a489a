//! The line of statements waiting for a connection: a fair semaphore with one turn per
//! connection. A statement waits here holding only this small state (a few hundred bytes);
//! the checkout's own state (kilobytes: deadpool's get, a connection's handshake) is built
//! once the statement has its turn. A burst of thousands of callers then costs little memory,
//! and what it took is freed in one piece when the burst is over.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// One turn per connection; statements beyond that wait in arrival order.
pub(crate) struct WaitingLine {
    turns: Arc<Semaphore>,
    /// Statements waiting in the line now (part of `getPoolStats().pool.waiting`).
    waiting: AtomicUsize,
}

/// A statement's turn: held until its connection is given back.
pub(crate) type Turn = OwnedSemaphorePermit;

impl WaitingLine {
    /// A line with `turns` turns (the connection limit).
    pub(crate) fn new(turns: usize) -> Self {
        WaitingLine { turns: Arc::new(Semaphore::new(turns)), waiting: AtomicUsize::new(0) }
    }

    /// Whether a turn is free now (no statement would wait).
    pub(crate) fn has_free_turn(&self) -> bool {
        self.turns.available_permits() > 0
    }

    /// Statements waiting for a turn now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Waits for a turn until `deadline` (none: no limit); `None` when the deadline passed first.
    pub(crate) async fn turn(&self, deadline: Option<Instant>) -> Option<Turn> {
        if let Ok(turn) = self.turns.clone().try_acquire_owned() {
            return Some(turn);
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _left = Left(&self.waiting);
        let acquire = self.turns.clone().acquire_owned();
        match deadline {
            // The semaphore is never closed, so acquiring fails only on a deadline.
            None => acquire.await.ok(),
            Some(d) => tokio::time::timeout_at(d, acquire).await.ok().and_then(Result::ok),
        }
    }
}

/// Counts a statement out of the line when its wait ends, however it ends.
struct Left<'a>(&'a AtomicUsize);

impl Drop for Left<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn turns_are_given_in_order_and_bounded_by_the_deadline() {
        let line = Arc::new(WaitingLine::new(1));
        let first = line.turn(None).await.expect("a free turn");
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(line.turn(Some(soon)).await.is_none(), "no turn before the deadline");
        assert_eq!(line.waiting(), 0, "a statement that gave up is out of the line");
        let waiter = tokio::spawn({
            let line = line.clone();
            async move { line.turn(None).await.is_some() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(line.waiting(), 1);
        drop(first);
        assert!(waiter.await.expect("the waiter ran"), "a given-back turn goes to the waiter");
        assert_eq!(line.waiting(), 0);
    }
}
