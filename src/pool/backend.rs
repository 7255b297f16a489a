//! The seam between the pool core and its connections: what checkout, leases, the waiting line,
//! timeouts and `end()` need of a connection, so that `cargo test` drives them with connections
//! that are not PostgreSQL ones (as deadpool tests its pool with fake managers).
//!
//! The pool's statements (`run.rs`, `convoy.rs`, streams and COPY) need the real connection and
//! are served by `PoolCore<Manager>` only.

use crate::connection::Conn;
use crate::error::Error;
use crate::events::Events;
use crate::stats::Stats;
use std::future::Future;
use std::sync::atomic::Ordering;

/// What the pool core needs of a connection it lends out.
pub(crate) trait Leasable: Send + 'static {
    /// Marks the connection taken by a caller, and counts the use (`maxUses`).
    fn on_lease(&mut self);
    /// Marks the connection idle again, from now (`idleCheckMs`).
    fn on_return(&mut self);
    /// How many checkouts it has served.
    fn uses(&self) -> u64;
    /// Whether it must be closed instead of reused.
    fn is_broken(&self) -> bool;
    /// Marks it to be closed instead of reused.
    fn set_broken(&mut self);
    /// Whether its socket is closed (the reaper drops it).
    fn is_closed(&self) -> bool;
    /// Whether it was left in a transaction or with its session changed (see `src/reset.rs`).
    fn needs_tidy(&self) -> bool;
    /// Rolls back and resets it before anyone else gets it; the report of what was found.
    fn tidy<'a>(
        &'a mut self,
        stats: &'a Stats,
        events: &'a Events,
    ) -> impl Future<Output = Option<serde_json::Value>> + Send + 'a;
}

/// A deadpool manager whose connections the pool core can lend: the real `connection::Manager`, or a
/// test's.
pub(crate) trait Backend: deadpool::managed::Manager<Type: Leasable, Error = Error> + 'static {}

impl<M: deadpool::managed::Manager<Type: Leasable, Error = Error> + 'static> Backend for M {}

impl Leasable for Conn {
    fn on_lease(&mut self) {
        self.idle.store(false, Ordering::Release);
        self.uses += 1;
    }

    fn on_return(&mut self) {
        self.idle.store(true, Ordering::Release);
        self.idle_since = Some(std::time::Instant::now());
    }

    fn uses(&self) -> u64 {
        self.uses
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    fn set_broken(&mut self) {
        self.broken = true;
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    fn needs_tidy(&self) -> bool {
        crate::reset::needs_tidy(self)
    }

    fn tidy<'a>(
        &'a mut self,
        stats: &'a Stats,
        events: &'a Events,
    ) -> impl Future<Output = Option<serde_json::Value>> + Send + 'a {
        crate::reset::tidy_reported(self, stats, events)
    }
}
