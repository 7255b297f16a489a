//! The completion queue of a pool: statements submitted without a napi promise each (by the
//! pool and by its held clients), their outcomes taken by JS in batches.

use super::{caught, js_error, AbortGuard};
use crate::completion::Completions;
use crate::convert::result::ResultText;
use crate::error::Error;
use crate::pool::PoolCore;
use crate::trim::BurstWatch;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Wakes the JS thread to take completions: a strong threadsafe function, referenced only
/// while statements are pending so an idle pool never keeps the process alive.
pub(super) type WakeFn = ThreadsafeFunction<(), (), (), Status, false, false, 0>;

/// Statements submitted without a napi promise each; their outcomes come back in batches.
pub(super) struct Dispatch {
    pub(super) completions: Completions,
    pub(super) wake: Arc<std::sync::RwLock<WakeFn>>,
    /// Submitted and not yet taken (touched on the JS thread only).
    pub(super) pending: std::sync::atomic::AtomicUsize,
    /// Gives a burst's memory back once it has drained.
    pub(super) burst: BurstWatch,
}

impl Dispatch {
    /// Runs statement `id` (`run(sql)`) on the runtime, under `catch_unwind`, its abort flag
    /// (`abort_id`, registered on `core`) forgotten when it ends; its outcome joins the queue
    /// as `[id,0,result]` or `[id,1,error payload]`, and the JS thread is woken for it.
    pub(super) fn spawn<F, Fut>(
        self: &Arc<Self>,
        env: &Env,
        id: u32,
        sql: String,
        core: Arc<PoolCore>,
        abort_id: Option<u32>,
        run: F,
    ) where
        F: FnOnce(Arc<str>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<ResultText, Error>> + Send + 'static,
    {
        self.submitted(env);
        let dispatch = self.clone();
        let sql: Arc<str> = sql.into();
        napi::bindgen_prelude::spawn(async move {
            let out = {
                let _forget = AbortGuard(&core, abort_id);
                caught(run(sql.clone())).await
            };
            dispatch.completions.push(id, out.map_err(|e| e.to_payload(Some(&sql)).to_string()));
        });
    }

    /// The error of a submit before JS installed the completion sink (a bug).
    pub(super) fn missing() -> napi::Error {
        js_error(&Error::Internal("no completion sink installed".into()), None)
    }

    fn submitted(&self, env: &Env) {
        let before = self.pending.fetch_add(1, Ordering::AcqRel);
        self.burst.pending(before + 1);
        if before == 0 {
            if let Ok(mut w) = self.wake.write() {
                #[allow(deprecated)]
                let _ = w.refer(env);
            }
        }
    }

    pub(super) fn taken(&self, env: &Env, n: usize) {
        if n > 0 && self.pending.fetch_sub(n, Ordering::AcqRel) == n {
            self.burst.drained();
            if let Ok(mut w) = self.wake.write() {
                #[allow(deprecated)]
                let _ = w.unref(env);
            }
        }
    }
}
