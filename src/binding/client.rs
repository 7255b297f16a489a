//! `NativeClient`, the native half of JS `Client`: one connection held until `release()`.

use super::dispatch::Dispatch;
use super::{
    guarded, js_error, query_options, statement, statement_options, AbortGuard, NativeCopyIn, NativeCopyOut,
    NativeStream, StatementOptions, ValueStyle,
};
use crate::cancel::Canceller;
use crate::convert::Style;
use crate::error::Error;
use crate::held::{Held, HeldGuard};
use crate::place::Place;
use crate::pool::{Lease, PoolCore};
use crate::reset::needs_tidy;
use napi::bindgen_prelude::{Either, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// A connection held by `pool.acquire()` until `release()`.
#[napi]
pub struct NativeClient {
    core: Arc<PoolCore>,
    /// The pool's completion queue, for `submit`.
    dispatch: Arc<Dispatch>,
    /// Cancels this connection's running statement without waiting for its turn.
    cancel: Arc<Canceller>,
    /// The status byte of the connection's last ReadyForQuery, readable while it works.
    status: Arc<AtomicU8>,
    /// The connection's number (`Conn::serial`), which its `connectionLost` event names.
    serial: u32,
    /// The connection, and the line of this client's work waiting for it.
    held: Held<Lease>,
    /// The `acquire()` it was handed to at a release (see [`crate::handoff`]).
    acquire_id: Option<u32>,
}

impl NativeClient {
    /// Holds `lease` for JS.
    pub(super) fn new(lease: Lease, dispatch: Arc<Dispatch>) -> Self {
        let core = lease.core();
        let cancel = lease.conn.cancel.clone();
        let (status, serial) = (lease.conn.client.status_source(), lease.conn.serial);
        NativeClient { core, dispatch, cancel, status, serial, held: Held::new(lease), acquire_id: None }
    }

    /// The client of acquire `id`, handed its connection at a release.
    pub(super) fn for_acquire(self, id: u32) -> Self {
        NativeClient { acquire_id: Some(id), ..self }
    }
}

#[napi]
impl NativeClient {
    /// Starts statement `id` on this connection, after everything this client was asked
    /// before it; its outcome comes back through the pool's completion queue, like
    /// `NativePool.submit` (no napi promise per statement).
    #[napi]
    pub fn submit(
        &self,
        env: Env,
        id: u32,
        sql: String,
        params: Vec<Option<String>>,
        style: Option<ValueStyle>,
        options: Option<StatementOptions>,
    ) -> napi::Result<()> {
        let dispatch = self.dispatch.clone();
        let core = self.core.clone();
        let mut o = options.unwrap_or_default();
        let opts = statement_options(&core, &mut o, style).map_err(|e| js_error(&e, Some(&sql)))?;
        let forget = AbortGuard::new(&core, o.abort_id);
        let place = self.held.place();
        dispatch.spawn(&env, id, sql, forget, move |sql| async move {
            let mut guard = match turn(place, &opts).await {
                Ok(guard) => guard,
                Err(e) => return (Err(e), None),
            };
            let out = match guard.as_mut() {
                Some(lease) => {
                    let out = core.run_held(&mut lease.conn, &sql, params, &opts).await;
                    if out.is_err() && !lease.conn.broken {
                        // A failed statement ends at its ErrorResponse; the ReadyForQuery after
                        // it (whose status `transactionStatus` reads) follows at once. Answered
                        // once it is read, as pg answers.
                        let _ = tokio::time::timeout(crate::cancel::CANCEL_GRACE, lease.conn.settled()).await;
                    }
                    out
                }
                None => Err(Error::client_released()),
            };
            // The turn is held until the outcome is queued: answers come in the order asked.
            (out, Some(guard))
        });
        Ok(())
    }

    /// Starts `COPY … TO STDOUT` on this connection (held by the COPY until it ends).
    #[napi(ts_return_type = "Promise<NativeCopyOut>")]
    pub fn copy_out<'env>(
        &self,
        env: &'env Env,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, NativeCopyOut>> {
        let (core, place) = (self.core.clone(), Some(self.held.place()));
        env.spawn_future(async move {
            guarded(Some(&sql), super::copy::copy_out(core, place, &sql, timeout_ms, abort_id)).await
        })
    }

    /// Starts `COPY … FROM STDIN` on this connection (held by the COPY until it ends).
    #[napi(ts_return_type = "Promise<NativeCopyIn>")]
    pub fn copy_in<'env>(
        &self,
        env: &'env Env,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, NativeCopyIn>> {
        let (core, place) = (self.core.clone(), Some(self.held.place()));
        env.spawn_future(async move {
            guarded(Some(&sql), super::copy::copy_in(core, place, &sql, timeout_ms, abort_id)).await
        })
    }

    /// The id of the `acquire()` it was handed to at a release (see `release`).
    #[napi]
    pub fn acquire_id(&self) -> Option<u32> {
        self.acquire_id
    }

    /// The connection's number, which a `connectionLost` event names.
    #[napi]
    pub fn connection_serial(&self) -> u32 {
        self.serial
    }

    /// The transaction status of the connection's last ReadyForQuery, as pg's
    /// `getTransactionStatus()`: `I` idle, `T` in a transaction, `E` in a failed one; null
    /// before the first.
    #[napi]
    pub fn transaction_status(&self) -> Option<String> {
        match self.status.load(Ordering::Acquire) {
            0 => None,
            b => Some(char::from(b).to_string()),
        }
    }

    /// Starts a streamed statement on this connection, after everything asked before it; it
    /// holds the connection until its last batch is read or it is closed.
    #[napi(ts_return_type = "Promise<NativeStream>")]
    pub fn stream<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: Vec<Option<String>>,
        style: Option<ValueStyle>,
        options: Option<StatementOptions>,
    ) -> napi::Result<PromiseRaw<'env, NativeStream>> {
        let (core, place) = (self.core.clone(), Some(self.held.place()));
        let mut o = options.unwrap_or_default();
        let opts = statement_options(&core, &mut o, style).map_err(|e| js_error(&e, Some(&sql)))?;
        let forget = AbortGuard::new(&core, o.abort_id);
        env.spawn_future(async move {
            let open = NativeStream::open(core.clone(), core, place, &sql, params, opts, o.abort_id);
            let stream = guarded(Some(&sql), open).await;
            if stream.is_ok() {
                // Started: the stream forgets its abort flag when it ends.
                std::mem::forget(forget);
            }
            stream
        })
    }

    /// Runs a multi-statement script on this connection.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn execute_script<'env>(
        &self,
        env: &'env Env,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let (core, place) = (self.core.clone(), self.held.place());
        let opts = query_options(&core, timeout_ms, abort_id, Style::Pg);
        env.spawn_future(async move {
            let (core, sql) = (&core, sql.as_str());
            statement(core, sql, opts, abort_id, |opts| async move {
                let mut guard = turn(place, &opts).await?;
                let lease = guard.as_mut().ok_or_else(Error::client_released)?;
                core.script(&mut lease.conn, sql, &opts).await
            })
            .await
        })
    }

    /// Cancels the statement running on this connection (cancel request), if any.
    #[napi]
    pub async fn cancel(&self) -> napi::Result<()> {
        guarded(None, async {
            // Nothing running, or the server unreachable: either way there is nothing to stop.
            let _ = self.cancel.cancel().await;
            Ok(())
        })
        .await
    }

    /// Aborts the statement started with `abort_id` on this client (see `NativePool.abort`).
    #[napi]
    pub fn abort(&self, abort_id: u32, why: Option<String>, timeout_ms: Option<f64>) {
        self.core.abort(abort_id, super::interruption_of(why, timeout_ms));
    }

    /// Returns the connection to the pool (`discard`: close it instead) once the work asked
    /// of it before has ended. Idempotent. Usually that is now: nothing is returned, or the
    /// client of the waiting `acquire()` the connection went to, when it was ready at once
    /// (see src/handoff.rs; its `acquireId` says which). When work is still queued, or the
    /// connection must be tidied first (a transaction left open, a changed session:
    /// src/reset.rs), a promise of the report of a connection given back inside a transaction
    /// (JSON, or null).
    #[napi(ts_return_type = "Promise<string | null> | NativeClient | null")]
    pub fn release<'env>(
        &self,
        env: &'env Env,
        discard: Option<bool>,
    ) -> napi::Result<Option<Either<PromiseRaw<'env, Option<String>>, NativeClient>>> {
        let discard = discard.unwrap_or(false);
        let place = match self.held.place() {
            // Nothing queued and nothing to tidy: back now, as pg-pool gives it back.
            Place::Granted(mut guard) if guard.as_ref().is_none_or(|l| discard || !needs_tidy(&l.conn)) => {
                let Some(lease) = guard.take() else { return Ok(None) };
                drop(guard);
                // Within the runtime: the acquire served here may start timers.
                // Within the runtime: the acquire served here may start timers. Only a
                // connection is taken: an error is left for that acquire's task to deliver.
                let handed = napi::bindgen_prelude::within_runtime_if_available(|| {
                    // The `Err` hands the output back untouched, on the stack: nothing to box.
                    #[allow(clippy::result_large_err)]
                    let connection = |out: Result<Lease, Error>| out.map_err(Err);
                    crate::handoff::releasing(|| lease.finish(discard), connection, || Err(Error::panicked()))
                });
                let client = handed.map(|(id, lease)| {
                    self.dispatch.handed(env);
                    Either::B(NativeClient::new(lease, self.dispatch.clone()).for_acquire(id))
                });
                return Ok(client);
            }
            place => place,
        };
        let core = self.core.clone();
        env.spawn_future(async move {
            let Some(mut lease) = place.turn().await.take() else { return Ok(None) };
            if discard || !needs_tidy(&lease.conn) {
                lease.finish(discard);
                return Ok(None);
            }
            let report = crate::reset::tidy_reported(&mut lease.conn, &core.stats, &core.events).await;
            drop(lease);
            Ok(report.map(|r| r.to_string()))
        })
        .map(|p| Some(Either::A(p)))
    }
}

/// Waits for a piece of work's turn on its held connection; an AbortSignal that fires first
/// rejects it unsent, and its place is given up without holding up the work behind it.
async fn turn(place: Place<HeldGuard<Lease>>, opts: &crate::pool::QueryOptions) -> Result<HeldGuard<Lease>, Error> {
    tokio::select! {
        guard = place.turn() => Ok(guard),
        why = opts.aborted() => Err(Error::not_sent(why)),
    }
}
