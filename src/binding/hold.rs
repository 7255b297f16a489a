//! The connection a COPY or a stream runs on: checked out for it, or a held client's.

use crate::error::Error;
use crate::held::HeldGuard;
use crate::place::Place;
use crate::pool::{Lease, PoolCore, QueryOptions};
use std::sync::Arc;

/// A connection taken for one COPY or stream.
pub(super) enum Hold {
    /// Checked out for it (`pool.copyFrom`, `pool.stream`); returned when it ends.
    Lease(Box<Lease>),
    /// A client's (`acquire()`, `transaction()`, a `pgwarden/pg` client), locked while it runs.
    Client(HeldGuard<Lease>),
}

impl Hold {
    /// Takes the connection: a new checkout, or `client`'s once its earlier work is done.
    pub(super) async fn take(
        core: &Arc<PoolCore>,
        client: Option<Place<HeldGuard<Lease>>>,
        opts: &QueryOptions,
    ) -> Result<Hold, Error> {
        match client {
            Some(place) => Ok(Hold::Client(place.turn().await)),
            None => Ok(Hold::Lease(Box::new(core.checkout_for(opts).await?))),
        }
    }

    /// The connection (an error once the client released it).
    pub(super) fn lease(&mut self) -> Result<&mut Lease, Error> {
        match self {
            Hold::Lease(l) => Ok(&mut **l),
            Hold::Client(g) => g.as_mut().ok_or_else(Error::client_released),
        }
    }

    /// Ends the hold: a connection whose work did not finish cleanly is closed.
    pub(super) fn done(self, spoiled: bool) {
        match self {
            Hold::Lease(l) => (*l).finish(spoiled),
            Hold::Client(mut g) => {
                if let Some(l) = g.as_mut() {
                    l.conn.broken |= spoiled;
                }
            }
        }
    }
}
