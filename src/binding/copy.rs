//! `NativeCopyIn` / `NativeCopyOut`: `COPY … FROM STDIN` and `COPY … TO STDOUT` on a held
//! connection, bridged to Node streams by `lib/copy.js` in batches (one crossing per batch of
//! chunks, not per chunk).

use super::guarded;
use crate::error::{from_driver, Error};
use crate::pool::{Lease, PoolCore};
use crate::sql::{self, CopyDirection};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::{CopyInSink, CopyOutStream};

/// The connection a COPY runs on: checked out for it, or a held client's.
pub(super) enum Held {
    /// Checked out by `pool.copyFrom` / `pool.copyTo`; returned when the COPY ends.
    Lease(Box<Lease>),
    /// A client's (`acquire()`, `transaction()`), locked for the COPY's duration.
    Client(OwnedMutexGuard<Option<Lease>>),
}

impl Held {
    fn lease(&mut self) -> Result<&mut Lease, Error> {
        match self {
            Held::Lease(l) => Ok(&mut **l),
            Held::Client(g) => g.as_mut().ok_or_else(|| Error::Closed("The client was released".into())),
        }
    }

    /// Ends the COPY's hold: a connection whose COPY did not finish cleanly is closed.
    fn done(self, spoiled: bool) {
        match self {
            Held::Lease(l) => (*l).finish(spoiled),
            Held::Client(mut g) => {
                if let Some(l) = g.as_mut() {
                    l.conn.broken |= spoiled;
                }
            }
        }
    }
}

/// Takes the connection for a COPY: a new checkout, or `client`'s (locked).
pub(super) async fn hold(core: &Arc<PoolCore>, client: Option<Arc<Mutex<Option<Lease>>>>) -> Result<Held, Error> {
    match client {
        Some(slot) => Ok(Held::Client(slot.lock_owned().await)),
        None => Ok(Held::Lease(Box::new(core.checkout_for(&Default::default()).await?))),
    }
}

/// Refuses, before anything is sent, a statement that is not a COPY in `direction`.
fn expect_copy(sql: &str, direction: CopyDirection) -> Result<(), Error> {
    if sql::copy_direction(sql) == Some(direction) {
        return Ok(());
    }
    let wanted = if direction == CopyDirection::In { "COPY … FROM STDIN" } else { "COPY … TO STDOUT" };
    Err(Error::Params(format!("copyFrom/copyTo take a {wanted} statement")))
}

/// A COPY in progress: its connection and the driver's end of it.
type Copying<T> = Mutex<Option<(Held, Pin<Box<T>>)>>;

/// Starts the COPY `sql` (checked to go in `direction`) on `held` with `open`; a COPY that does
/// not start gives its connection back (closed when the failure spoiled it).
async fn begin<T>(
    mut held: Held,
    sql: &str,
    direction: CopyDirection,
    open: impl for<'a> FnOnce(&'a tokio_postgres::Client, &'a str) -> BoxFuture<'a, Result<T, tokio_postgres::Error>>,
) -> Result<Copying<T>, Error> {
    if let Err(e) = expect_copy(sql, direction) {
        held.done(false);
        return Err(e);
    }
    let started = match held.lease() {
        Ok(lease) => open(&lease.conn.client, sql).await.map_err(|e| from_driver(&e, true)),
        Err(e) => Err(e),
    };
    match started {
        Ok(end) => Ok(Mutex::new(Some((held, Box::pin(end))))),
        Err(e) => {
            held.done(e.spoils_connection());
            Err(e)
        }
    }
}

/// `COPY … TO STDOUT`: its data pulled in batches.
#[napi]
pub struct NativeCopyOut {
    state: Copying<CopyOutStream>,
}

impl NativeCopyOut {
    /// Starts `sql` on `held`.
    pub(super) async fn start(held: Held, sql: &str) -> Result<Self, Error> {
        let state = begin(held, sql, CopyDirection::Out, |client, sql| Box::pin(client.copy_out(sql))).await?;
        Ok(NativeCopyOut { state })
    }
}

#[napi]
impl NativeCopyOut {
    /// The next data, at least `min_bytes` of it unless the COPY ends first; `null` at the end.
    #[napi]
    pub async fn next(&self, min_bytes: u32) -> napi::Result<Option<Buffer>> {
        guarded(None, async {
            let mut state = self.state.lock().await;
            let Some((_, stream)) = state.as_mut() else { return Ok(None) };
            let mut out: Vec<u8> = Vec::new();
            while out.len() < min_bytes as usize {
                match stream.next().await {
                    Some(Ok(chunk)) => out.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        let e = from_driver(&e, true);
                        if let Some((held, _)) = state.take() {
                            held.done(e.spoils_connection());
                        }
                        return Err(e);
                    }
                    None => {
                        if let Some((held, _)) = state.take() {
                            held.done(false);
                        }
                        break;
                    }
                }
            }
            Ok((!out.is_empty()).then(|| out.into()))
        })
        .await
    }

    /// Stops early: the connection, with unread data on it, is closed. Idempotent.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        if let Some((held, _)) = self.state.lock().await.take() {
            held.done(true);
        }
        Ok(())
    }
}

/// `COPY … FROM STDIN`: data pushed in batches, then finished (or aborted).
#[napi]
pub struct NativeCopyIn {
    state: Copying<CopyInSink<Bytes>>,
}

impl NativeCopyIn {
    /// Starts `sql` on `held`.
    pub(super) async fn start(held: Held, sql: &str) -> Result<Self, Error> {
        let state = begin(held, sql, CopyDirection::In, |client, sql| Box::pin(client.copy_in(sql))).await?;
        Ok(NativeCopyIn { state })
    }
}

#[napi]
impl NativeCopyIn {
    /// Sends a batch of chunks; resolves once the connection took them (backpressure).
    #[napi]
    pub async fn write(&self, chunks: Vec<Buffer>) -> napi::Result<()> {
        guarded(None, async {
            let mut state = self.state.lock().await;
            let Some((_, sink)) = state.as_mut() else {
                return Err(Error::Closed("The COPY has ended".into()));
            };
            for chunk in chunks {
                if let Err(e) = sink.feed(Bytes::from(chunk.to_vec())).await {
                    let e = from_driver(&e, true);
                    if let Some((held, _)) = state.take() {
                        held.done(e.spoils_connection());
                    }
                    return Err(e);
                }
            }
            if let Err(e) = sink.flush().await {
                let e = from_driver(&e, true);
                if let Some((held, _)) = state.take() {
                    held.done(e.spoils_connection());
                }
                return Err(e);
            }
            Ok(())
        })
        .await
    }

    /// Ends the data: the server commits the COPY (outside a transaction) and gives the row count.
    #[napi]
    pub async fn finish(&self) -> napi::Result<f64> {
        guarded(None, async {
            let Some((held, mut sink)) = self.state.lock().await.take() else {
                return Err(Error::Closed("The COPY has ended".into()));
            };
            match sink.as_mut().finish().await {
                Ok(rows) => {
                    held.done(false);
                    Ok(rows as f64)
                }
                Err(e) => {
                    let e = from_driver(&e, true);
                    held.done(e.spoils_connection());
                    Err(e)
                }
            }
        })
        .await
    }

    /// Aborts: the sink is dropped unfinished, which sends CopyFail; nothing of it is committed.
    #[napi]
    pub async fn abort(&self) -> napi::Result<()> {
        if let Some((held, sink)) = self.state.lock().await.take() {
            drop(sink);
            // The server answers CopyFail with an error the connection task reads; the
            // connection is closed rather than trusted to have read it already.
            held.done(true);
        }
        Ok(())
    }
}
