//! `NativeClient`, the native half of JS `Client`: one connection held until `release()`.

use super::dispatch::Dispatch;
use super::{guarded, query_options, statement, NativeCopyIn, NativeCopyOut};
use crate::connection::Canceller;
use crate::convert::params::text_params;
use crate::error::Error;
use crate::pool::{Lease, PoolCore};
use crate::statement::check_params;
use napi::Env;
use napi_derive::napi;
use std::sync::Arc;

/// A connection held by `pool.acquire()` until `release()`.
#[napi]
pub struct NativeClient {
    core: Arc<PoolCore>,
    /// The pool's completion queue, for `submit`.
    dispatch: Option<Arc<Dispatch>>,
    /// Cancels this connection's running statement without waiting for its lock.
    cancel: Arc<Canceller>,
    lease: Arc<tokio::sync::Mutex<Option<Lease>>>,
}

impl NativeClient {
    /// Holds `lease` for JS.
    pub(super) fn new(core: Arc<PoolCore>, lease: Lease, dispatch: Option<Arc<Dispatch>>) -> Self {
        let cancel = lease.conn.cancel.clone();
        NativeClient { core, dispatch, cancel, lease: Arc::new(tokio::sync::Mutex::new(Some(lease))) }
    }
}

#[napi]
impl NativeClient {
    /// Starts statement `id` on this connection; its outcome comes back through the pool's
    /// completion queue, like `NativePool.submit` (no napi promise per statement).
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn submit(
        &self,
        env: Env,
        id: u32,
        sql: String,
        params: Vec<Option<String>>,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
        style: Option<u32>,
    ) -> napi::Result<()> {
        let dispatch = self.dispatch.clone().ok_or_else(Dispatch::missing)?;
        let (core, slot) = (self.core.clone(), self.lease.clone());
        let opts = query_options(&core, timeout_ms, abort_id, style);
        dispatch.spawn(&env, id, sql, core.clone(), abort_id, move |sql| async move {
            let shape = check_params(&sql, params.len())?;
            let mut guard = slot.lock().await;
            let lease = guard.as_mut().ok_or_else(released)?;
            core.run(&mut lease.conn, &sql, text_params(params), &opts, shape.several).await
        });
        Ok(())
    }

    /// Starts `COPY … TO STDOUT` on this connection (held by the COPY until it ends).
    #[napi]
    pub async fn copy_out(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<NativeCopyOut> {
        let slot = Some(self.lease.clone());
        guarded(Some(&sql), super::copy::copy_out(self.core.clone(), slot, &sql, timeout_ms, abort_id)).await
    }

    /// Starts `COPY … FROM STDIN` on this connection (held by the COPY until it ends).
    #[napi]
    pub async fn copy_in(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<NativeCopyIn> {
        let slot = Some(self.lease.clone());
        guarded(Some(&sql), super::copy::copy_in(self.core.clone(), slot, &sql, timeout_ms, abort_id)).await
    }

    /// Runs a multi-statement script on this connection.
    #[napi]
    pub async fn execute_script(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<()> {
        let sql = sql.as_str();
        let opts = query_options(&self.core, timeout_ms, abort_id, None);
        statement(&self.core, sql, opts, abort_id, |opts| async move {
            let mut guard = self.lease.lock().await;
            let lease = guard.as_mut().ok_or_else(released)?;
            self.core.script(&mut lease.conn, sql, &opts).await
        })
        .await
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

    /// Aborts the statement started with `abort_id` on this client.
    #[napi]
    pub fn abort(&self, abort_id: u32) {
        self.core.abort(abort_id);
    }

    /// Returns the connection to the pool (`discard`: close it instead). Idempotent.
    #[napi]
    pub fn release(&self, discard: Option<bool>) {
        let slot = self.lease.clone();
        let discard = discard.unwrap_or(false);
        // Usually nothing holds the lock: give the connection back now, as pg-pool does.
        if let Ok(mut guard) = slot.try_lock() {
            if let Some(lease) = guard.take() {
                lease.finish(discard);
            }
            return;
        }
        // A statement still holds the lock: release as soon as it ends.
        napi::bindgen_prelude::spawn(async move {
            if let Some(lease) = slot.lock().await.take() {
                lease.finish(discard);
            }
        });
    }
}

fn released() -> Error {
    Error::Closed("The client was released".into())
}
