//! A connection held by one caller (`pool.acquire()`, a transaction, a `pgwarden/pg` client,
//! the `onConnect` hook): its work runs one piece at a time, in the order JS issued it.
//!
//! Each statement, script, COPY and the release take their [`Place`] when JS calls them, on
//! the JS thread, so they reach the server in that order (as pg queues a client's queries,
//! and libpq and tokio-postgres send them), whichever runtime worker later runs their task.

use crate::place::Place;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The connection while a piece of work has it: `None` once it was given back.
pub(crate) type HeldGuard<T> = OwnedMutexGuard<Option<T>>;

/// A held connection (a pool's lease, or a new connection lent to `onConnect`) and the line of
/// work waiting for it.
pub(crate) struct Held<T> {
    slot: Arc<Mutex<Option<T>>>,
}

impl<T> Clone for Held<T> {
    fn clone(&self) -> Self {
        Held { slot: self.slot.clone() }
    }
}

impl<T: Send + 'static> Held<T> {
    /// Holds `conn` until it is taken back.
    pub(crate) fn new(conn: T) -> Self {
        Held { slot: Arc::new(Mutex::new(Some(conn))) }
    }

    /// The next piece of work's place, taken now: after everything asked before it.
    pub(crate) fn place(&self) -> Place<HeldGuard<T>> {
        match self.slot.clone().try_lock_owned() {
            Ok(guard) => Place::Granted(guard),
            Err(_) => Place::ask(self.slot.clone().lock_owned()),
        }
    }

    /// Takes the connection back once the work asked before has ended; later work finds none.
    pub(crate) async fn take(&self) -> Option<T> {
        self.slot.lock().await.take()
    }
}
