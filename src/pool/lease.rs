//! A checked-out connection (a lease) and the counts that live as long as it: work in flight
//! for `end()`, statements running.

use super::waiting::Turn;
use super::{Backend, Leasable, PoolCore};
use crate::connection::Manager;
use deadpool::managed::Object;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A checked-out connection, counted as work in flight for as long as it lives.
pub(crate) struct Lease<M: Backend = Manager> {
    /// The connection.
    pub conn: ManuallyDrop<Object<M>>,
    /// Close the connection instead of returning it.
    pub discard: bool,
    pub(super) _flight: InFlight<M>,
    /// How long the checkout waited for the connection (the waiting line included).
    pub waited: Duration,
    /// The statement's turn in the waiting line (none for a held client), given back after
    /// the connection (fields drop after `Drop::drop`).
    pub(super) _turn: Option<Turn>,
}

impl<M: Backend> Drop for Lease<M> {
    /// Returns the connection to the pool, or closes it at once when it is broken or
    /// `discard` was asked for, so a dead or dirty connection never waits in the idle set.
    fn drop(&mut self) {
        // SAFETY: `conn` is taken exactly once, here, and never used afterwards.
        let mut conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        let max_uses = self._flight.0.settings.max_uses;
        // Served its `maxUses` checkouts: closed, as pg-pool closes it at release.
        let discard = self.discard || (max_uses > 0 && conn.uses() >= max_uses);
        if !discard && conn.needs_tidy() {
            // Left inside a transaction, or with its session changed: tidied on the runtime
            // before it goes back (see src/reset.rs); off it, closed instead.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let core = self._flight.0.clone();
                // Still work in flight for `end()`, until the connection is back.
                let flight = InFlight::new(&core);
                rt.spawn(async move {
                    let _flight = flight;
                    if let Some(report) = conn.tidy(&core.stats, &core.events).await {
                        core.events.emit("releasedInTransaction", report);
                    }
                    Lease::give_back(conn, false);
                });
                self.released();
                return;
            }
            conn.set_broken();
        }
        self.released();
        Lease::give_back(conn, discard);
    }
}

impl<M: Backend> Lease<M> {
    /// Returns `conn` to the pool, or closes it at once when it is broken or `discard` was asked
    /// for, so a dead or dirty connection never waits in the idle set.
    fn give_back(conn: Object<M>, discard: bool) {
        if discard || conn.is_broken() {
            // Still "in use" for the connection task: its failure was already reported to
            // the statement, so it is no background `error` event.
            drop(Object::take(conn));
        } else {
            let mut conn = conn;
            conn.on_return();
            drop(conn);
        }
    }

    /// Counts the connection as released; a release can take utilization back below the alarm
    /// band, which re-arms it.
    fn released(&self) {
        // Counted as released before the connection goes back: a waiting caller may get it at
        // once, and must not see it counted twice (2/1 in use).
        self._flight.0.active.fetch_sub(1, Ordering::AcqRel);
        self._flight.0.check_utilization();
    }
}

impl<M: Backend> Lease<M> {
    /// The pool it came from.
    pub(crate) fn core(&self) -> Arc<PoolCore<M>> {
        self._flight.0.clone()
    }

    /// Gives the connection back (see `Drop`); `discard` closes it instead.
    pub(crate) fn finish(mut self, discard: bool) {
        self.discard |= discard;
    }
}

/// Counts one statement running until dropped.
pub(super) struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    pub(super) fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Running(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts one unit of work in flight until dropped (even when a checkout is abandoned).
pub(super) struct InFlight<M: Backend = Manager>(Arc<PoolCore<M>>);

impl<M: Backend> InFlight<M> {
    pub(super) fn new(core: &Arc<PoolCore<M>>) -> Self {
        core.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(core.clone())
    }
}

impl<M: Backend> Drop for InFlight<M> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
