//! A connection held by one caller (`pool.acquire()`, a transaction, a `pgwarden/pg` client):
//! its work runs one piece at a time, in the order JS issued it.
//!
//! Each statement, script, COPY and the release take their [`Place`] when JS calls them, on
//! the JS thread, so they reach the server in that order (as pg queues a client's queries,
//! and libpq and tokio-postgres send them), whichever runtime worker later runs their task.

use crate::place::Place;
use crate::pool::Lease;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The connection while a piece of work has it: `None` once the client was released.
pub(crate) type HeldGuard = OwnedMutexGuard<Option<Lease>>;

/// A held connection and the line of work waiting for it.
pub(crate) struct Held {
    slot: Arc<Mutex<Option<Lease>>>,
}

impl Held {
    /// Holds `lease` until [`Held::place`]'s last taker releases it.
    pub(crate) fn new(lease: Lease) -> Self {
        Held { slot: Arc::new(Mutex::new(Some(lease))) }
    }

    /// The next piece of work's place, taken now: after everything asked before it.
    pub(crate) fn place(&self) -> Place<HeldGuard> {
        match self.slot.clone().try_lock_owned() {
            Ok(guard) => Place::Granted(guard),
            Err(_) => Place::ask(self.slot.clone().lock_owned()),
        }
    }
}
