//! `NativeCopyIn` / `NativeCopyOut`: `COPY … FROM STDIN` and `COPY … TO STDOUT` on a held
//! connection, bridged to Node streams by `lib/copy.js` in batches (one crossing per batch of
//! chunks, not per chunk).

use super::guarded;
use super::hold::Hold;
use crate::convert::Style;
use crate::error::{from_driver, Error};
use crate::held::HeldGuard;
use crate::place::Place;
use crate::pool::{Lease, PoolCore, Stepwise as Bounds};
use crate::sql::CopyDirection;
use crate::statement::check_copy;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio_postgres::{CopyInSink, CopyOutStream};

/// The connection and bounds of a new COPY: `client`'s connection, or one checked out for it.
async fn prepare(
    core: Arc<PoolCore>,
    client: Option<Place<HeldGuard<Lease>>>,
    sql: &str,
    timeout_ms: Option<f64>,
    abort_id: Option<u32>,
) -> Result<(Hold, Bounds), Error> {
    let opts = super::query_options(&core, timeout_ms, abort_id, Style::Pg);
    let mut held = Hold::take(&core, client, &opts).await?;
    let bounds = held.lease().map(|lease| Bounds::new(core, opts, abort_id, lease.conn.cancel.clone(), sql));
    match bounds {
        Ok(bounds) => Ok((held, bounds)),
        Err(e) => {
            held.done(false);
            Err(e)
        }
    }
}

/// Starts `COPY … TO STDOUT` (`sql`) on `client`'s connection or a new checkout.
pub(super) async fn copy_out(
    core: Arc<PoolCore>,
    client: Option<Place<HeldGuard<Lease>>>,
    sql: &str,
    timeout_ms: Option<f64>,
    abort_id: Option<u32>,
) -> Result<NativeCopyOut, Error> {
    let (held, bounds) = prepare(core, client, sql, timeout_ms, abort_id).await?;
    NativeCopyOut::start(held, sql, bounds).await
}

/// Starts `COPY … FROM STDIN` (`sql`) on `client`'s connection or a new checkout.
pub(super) async fn copy_in(
    core: Arc<PoolCore>,
    client: Option<Place<HeldGuard<Lease>>>,
    sql: &str,
    timeout_ms: Option<f64>,
    abort_id: Option<u32>,
) -> Result<NativeCopyIn, Error> {
    let (held, bounds) = prepare(core, client, sql, timeout_ms, abort_id).await?;
    NativeCopyIn::start(held, sql, bounds).await
}

/// A COPY in progress: its connection and the driver's end of it.
type Copying<T> = Mutex<Option<(Hold, Pin<Box<T>>)>>;

/// Starts the COPY `sql` (checked to go in `direction`) on `held` with `open`; a COPY that does
/// not start gives its connection back (closed when the failure spoiled it).
async fn begin<T>(
    mut held: Hold,
    sql: &str,
    direction: CopyDirection,
    bounds: &Bounds,
    open: impl for<'a> FnOnce(&'a tokio_postgres::Client, &'a str) -> BoxFuture<'a, Result<T, tokio_postgres::Error>>,
) -> Result<Copying<T>, Error> {
    if let Err(e) = check_copy(sql, direction) {
        held.done(false);
        return Err(e);
    }
    // The server answers a COPY TO only once its query produces: the start is bounded too.
    let (started, broken) = match held.lease() {
        Ok(lease) => {
            bounds.step(async { open(&lease.conn.client, sql).await.map_err(|e| from_driver(&e, true)) }).await
        }
        Err(e) => (Err(e), false),
    };
    match started {
        Ok(end) => Ok(Mutex::new(Some((held, Box::pin(end))))),
        Err(e) => {
            bounds.ended(Some(&e));
            // A COPY IN refused at its start still sends CopyFail when its sink goes, and gets a
            // second ReadyForQuery: that connection is not trusted to be in step again.
            held.done(broken || e.spoils_connection() || direction == CopyDirection::In);
            Err(e)
        }
    }
}

/// `COPY … TO STDOUT`: its data pulled in batches.
#[napi]
pub struct NativeCopyOut {
    state: Copying<CopyOutStream>,
    bounds: Bounds,
}

impl NativeCopyOut {
    /// Starts `sql` on `held`, each step within `bounds`.
    pub(super) async fn start(held: Hold, sql: &str, bounds: Bounds) -> Result<Self, Error> {
        let state = begin(held, sql, CopyDirection::Out, &bounds, |client, sql| Box::pin(client.copy_out(sql))).await?;
        Ok(NativeCopyOut { state, bounds })
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
            let pull = async {
                let mut out: Vec<u8> = Vec::new();
                while out.len() < min_bytes as usize {
                    match stream.next().await {
                        Some(Ok(chunk)) => out.extend_from_slice(&chunk),
                        Some(Err(e)) => return Err(from_driver(&e, true)),
                        None => return Ok((out, true)),
                    }
                }
                Ok((out, false))
            };
            let (pulled, broken) = self.bounds.step(pull).await;
            match pulled {
                Ok((out, ended)) => {
                    if ended {
                        self.bounds.ended(None);
                        if let Some((held, _)) = state.take() {
                            held.done(broken);
                        }
                    }
                    Ok((!out.is_empty()).then(|| out.into()))
                }
                Err(e) => {
                    self.bounds.ended(Some(&e));
                    if let Some((held, _)) = state.take() {
                        held.done(broken || e.spoils_connection());
                    }
                    Err(e)
                }
            }
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
    bounds: Bounds,
}

impl NativeCopyIn {
    /// Starts `sql` on `held`, each step within `bounds`.
    pub(super) async fn start(held: Hold, sql: &str, bounds: Bounds) -> Result<Self, Error> {
        let state = begin(held, sql, CopyDirection::In, &bounds, |client, sql| Box::pin(client.copy_in(sql))).await?;
        Ok(NativeCopyIn { state, bounds })
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
                return Err(Error::copy_ended());
            };
            let send = async {
                for chunk in chunks {
                    sink.feed(Bytes::from(chunk.to_vec())).await.map_err(|e| from_driver(&e, true))?;
                }
                sink.flush().await.map_err(|e| from_driver(&e, true))
            };
            let (sent, _) = self.bounds.step(send).await;
            if let Err(e) = &sent {
                self.bounds.ended(Some(e));
                if let Some((held, _)) = state.take() {
                    // A COPY IN that failed may still get a second ReadyForQuery (its CopyFail's)
                    // after the first: the connection is not trusted to be in step again.
                    held.done(true);
                }
            }
            sent
        })
        .await
    }

    /// Ends the data: the server commits the COPY (outside a transaction) and gives the row count.
    #[napi]
    pub async fn finish(&self) -> napi::Result<f64> {
        guarded(None, async {
            let Some((held, mut sink)) = self.state.lock().await.take() else {
                return Err(Error::copy_ended());
            };
            let (finished, broken) =
                self.bounds.step(async { sink.as_mut().finish().await.map_err(|e| from_driver(&e, true)) }).await;
            self.bounds.ended(finished.as_ref().err());
            // A failed end, as a failed write: the connection is not trusted to be in step.
            held.done(broken || finished.is_err());
            finished.map(|rows| rows as f64)
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
