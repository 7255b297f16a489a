//! The line of statements waiting for a connection: a fair semaphore with one turn per
//! connection. A statement waits here holding only this small state (a few hundred bytes);
//! the checkout's own state (kilobytes: deadpool's get, a connection's handshake) is built
//! once the statement has its turn. A burst of thousands of callers then costs little memory,
//! and what it took is freed in one piece when the burst is over.

use crate::place::Place;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// One turn per connection; statements beyond that wait in the order they were called.
pub(crate) struct WaitingLine {
    turns: Arc<Semaphore>,
    /// Turns still to take out of the line as they are given back: a shrink below the turns in
    /// use (see [`WaitingLine::resize`]).
    owed: Arc<AtomicUsize>,
    /// Statements waiting in the line now (part of `getPoolStats().pool.waiting`).
    waiting: Arc<AtomicUsize>,
    /// Those of them that no convoy may take along (see [`WaitingLine::solo_waiting`]).
    solo: Arc<AtomicUsize>,
}

/// A statement's turn: held until its connection is given back. Given back, it goes to the next
/// in line, or out of the line when a shrink is owed one.
pub(crate) struct Turn {
    permit: Option<OwnedSemaphorePermit>,
    owed: Arc<AtomicUsize>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            if take_one(&self.owed) {
                permit.forget();
            }
        }
    }
}

/// Takes one off a count that is above zero; whether there was one.
fn take_one(count: &AtomicUsize) -> bool {
    count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok()
}

impl WaitingLine {
    /// A line with `turns` turns (the connection limit).
    pub(crate) fn new(turns: usize) -> Self {
        WaitingLine {
            turns: Arc::new(Semaphore::new(turns)),
            owed: Default::default(),
            waiting: Default::default(),
            solo: Default::default(),
        }
    }

    /// Goes from `from` turns to `to` (`pool.resize`): more at once (first cancelling turns still
    /// owed); fewer by taking free turns now and the rest as they are given back, so no holder is
    /// interrupted.
    pub(crate) fn resize(&self, from: usize, to: usize) {
        if to >= from {
            let mut more = to - from;
            while more > 0 && take_one(&self.owed) {
                more -= 1;
            }
            self.turns.add_permits(more);
        } else {
            let fewer = from - to;
            let now = self.turns.forget_permits(fewer);
            self.owed.fetch_add(fewer - now, Ordering::AcqRel);
        }
    }

    /// Whether a turn is free now (no statement would wait).
    pub(crate) fn has_free_turn(&self) -> bool {
        self.turns.available_permits() > 0
    }

    /// Statements waiting for a turn now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Statements waiting that no convoy may take along. While there are any, no statement
    /// called after them is offered to convoys either: a convoy would serve it before them.
    pub(crate) fn solo_waiting(&self) -> usize {
        self.solo.load(Ordering::Relaxed)
    }

    /// Takes a place in the line now, in the order callers call (see [`crate::place`]): a
    /// turn at once when one is free, else a queued request for one. `rider`: the statement is
    /// offered to convoys too (not counted in [`Self::solo_waiting`]).
    pub(crate) fn enter(&self, rider: bool) -> Entry {
        let owed = self.owed.clone();
        if let Ok(turn) = self.turns.clone().try_acquire_owned() {
            return Entry { place: Place::Granted(Ok(turn)), waiting: Vec::new(), owed };
        }
        let mut waiting = vec![Left::new(&self.waiting)];
        if !rider {
            waiting.push(Left::new(&self.solo));
        }
        Entry { place: Place::ask(self.turns.clone().acquire_owned()), waiting, owed }
    }

    /// Waits for a turn until `deadline` (none: no limit); `None` when the deadline passed first.
    #[cfg(test)]
    pub(crate) async fn turn(&self, deadline: Option<Instant>) -> Option<Turn> {
        self.enter(false).turn(deadline).await
    }
}

/// A statement's place in the line, taken when it was called.
pub(crate) struct Entry {
    place: Place<Result<OwnedSemaphorePermit, tokio::sync::AcquireError>>,
    /// Counts it as waiting (and solo) until its wait ends, however it ends.
    waiting: Vec<Left>,
    owed: Arc<AtomicUsize>,
}

impl Entry {
    /// Whether its turn was granted (when it entered the line, or since, when watched).
    pub(crate) fn has_turn(&self) -> bool {
        self.place.is_granted()
    }

    /// Whether its turn has come; if not, `waker` is woken when it does (see [`Place::watch`]).
    pub(crate) fn watch(&mut self, waker: &std::task::Waker) -> bool {
        self.place.watch(waker)
    }

    /// Waits for the turn until `deadline` (none: no limit); `None` when the deadline passed
    /// first.
    pub(crate) async fn turn(self, deadline: Option<Instant>) -> Option<Turn> {
        let Entry { place, waiting, owed } = self;
        let _left = waiting;
        // The semaphore is never closed, so acquiring fails only on a deadline.
        let permit = match deadline {
            None => place.turn().await.ok(),
            Some(d) => tokio::time::timeout_at(d, place.turn()).await.ok().and_then(Result::ok),
        };
        permit.map(|p| Turn { permit: Some(p), owed })
    }
}

/// Counts a statement out of the line when its wait ends, however it ends.
struct Left(Arc<AtomicUsize>);

impl Left {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Left(counter.clone())
    }
}

impl Drop for Left {
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

    #[tokio::test]
    async fn a_shrink_takes_free_turns_now_and_the_others_as_they_are_given_back() {
        let line = WaitingLine::new(3);
        let (a, b) = (line.turn(None).await, line.turn(None).await);
        line.resize(3, 1); // one free turn goes now, one is owed
        assert!(!line.has_free_turn());
        drop(a); // owed: it leaves the line
        assert!(!line.has_free_turn());
        drop(b); // the one turn left
        assert!(line.has_free_turn());
        let c = line.turn(None).await;
        assert!(!line.has_free_turn(), "one turn in all");
        line.resize(1, 2);
        assert!(line.has_free_turn());
        drop(c);
    }

    #[tokio::test]
    async fn a_grow_cancels_turns_still_owed_first() {
        let line = WaitingLine::new(2);
        let (a, b) = (line.turn(None).await, line.turn(None).await);
        line.resize(2, 0); // both owed
        line.resize(0, 1); // one owed no more
        drop(a); // still owed: out of the line
        assert!(!line.has_free_turn());
        drop(b); // kept: the one turn
        assert!(line.has_free_turn());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_go_in_the_order_statements_entered_the_line() {
        let line = Arc::new(WaitingLine::new(1));
        let first = line.turn(None).await.expect("a free turn");
        let entries: Vec<_> = (0..20).map(|_| line.enter(false)).collect();
        assert_eq!(line.waiting(), 20);
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Awaited last first: the order of entry, not of the tasks, decides.
        for (i, entry) in entries.into_iter().enumerate().rev() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _turn = entry.turn(None).await;
                order.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
        }
        drop(first);
        for t in tasks {
            t.await.expect("the waiter ran");
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(line.waiting(), 0);
    }
}
