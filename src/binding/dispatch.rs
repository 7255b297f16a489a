//! The completion queue of a pool: statements submitted without a napi promise each (by the
//! pool and by its held clients), their outcomes taken by JS in batches.

use super::{caught, js_error, AbortGuard};
use crate::completion::Completions;
use crate::convert::result::ResultText;
use crate::error::Error;
use crate::handoff::Drive;
use crate::pool::{Lease, PoolCore, Ready};
use crate::trim::BurstWatch;
use futures_util::FutureExt;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Status};
use std::future::Future;
use std::panic::AssertUnwindSafe;
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
    /// Connections of `acquire()`s that ended on the runtime, until JS takes them
    /// (`NativePool.takeAcquired`) after their completion.
    pub(super) acquired: std::sync::Mutex<std::collections::HashMap<u32, Lease>>,
}

/// The task of a statement: `work` (or the panic that building it raised) under
/// `catch_unwind`, then `deliver` with its outcome, then what it held is dropped.
///
/// A combinator, not an `async` block: the task holds the statement's state once while it
/// waits (an `async` block that awaited `work` kept room for it twice: a queued `pool.query`
/// statement's task was 4,656 bytes instead of 1,824).
fn task<Fut, H>(
    work: std::thread::Result<Fut>,
    deliver: impl FnOnce(Result<ResultText, Error>) + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static
where
    Fut: Future<Output = (Result<ResultText, Error>, H)> + Send + 'static,
    H: Send + 'static,
{
    let work = match work {
        Ok(work) => futures_util::future::Either::Left(caught(work.map(Ok))),
        Err(_) => futures_util::future::Either::Right(std::future::ready(Err(Error::panicked()))),
    };
    work.map(move |out| {
        let (out, held) = match out {
            Ok((out, held)) => (out, Some(held)),
            Err(e) => (Err(e), None),
        };
        deliver(out);
        drop(held);
    })
}

impl Dispatch {
    /// Runs statement `id` (`run(sql)`, called now: see below) on the runtime, under
    /// `catch_unwind`, its abort flag forgotten when it ends (`forget`); its outcome joins the queue
    /// as `[id,0,result]` or `[id,1,error payload]`, and the JS thread is woken for it.
    ///
    /// `Fut` gives the outcome and what it holds until that outcome is queued (a held
    /// connection's turn: the next statement on it is answered after this one).
    pub(super) fn spawn<F, Fut, H>(self: &Arc<Self>, env: &Env, id: u32, sql: String, forget: AbortGuard, run: F)
    where
        F: FnOnce(Arc<str>) -> Fut + Send + 'static,
        Fut: Future<Output = (Result<ResultText, Error>, H)> + Send + 'static,
        H: Send + 'static,
    {
        self.submitted(env);
        let dispatch = self.clone();
        let sql: Arc<str> = sql.into();
        // Called here, on the JS thread: what fixes the statement's place (in the pool's
        // waiting line, or on its held connection) happens in the order JS called.
        let work = std::panic::catch_unwind(AssertUnwindSafe(|| run(sql.clone())));
        napi::bindgen_prelude::spawn(task(work, move |out| {
            drop(forget);
            dispatch.completions.push(id, out.map_err(|e| e.to_payload(Some(&sql)).to_string()));
        }));
    }

    /// Starts `pool.query` statement `id` (`ready`, its place taken on the JS thread, or the
    /// panic that taking it raised), as [`Dispatch::spawn`] runs a statement, except that one
    /// that must wait for its turn waits with no task until the turn comes (see
    /// `src/pool/untasked.rs`): under a burst a waiting statement is a small record, not a task.
    pub(super) fn start_query(
        self: &Arc<Self>,
        env: &Env,
        id: u32,
        core: &Arc<PoolCore>,
        (sql, ready): (Arc<str>, std::thread::Result<Ready>),
        forget: AbortGuard,
    ) {
        self.submitted(env);
        let dispatch = self.clone();
        let deliver = move |out: Result<ResultText, Error>| {
            drop(forget);
            dispatch.completions.push(id, out.map_err(|e| e.to_payload(Some(&sql)).to_string()));
        };
        let Ok(ready) = ready else { return deliver(Err(Error::panicked())) };
        napi::bindgen_prelude::within_runtime_if_available(|| {
            // The runtime's handle, taken here: `start` may run inside a wake on any thread,
            // where napi's `spawn` would take its runtime lock again, or panic.
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return deliver(Err(Error::no_runtime()));
            };
            let start = move |ready: Result<Ready, Error>| match ready {
                Ok(ready) => drop(runtime.spawn(task(Ok(ready.run().map(|out| (out, ()))), deliver))),
                Err(e) => deliver(Err(e)),
            };
            core.start_or_wait(ready, start);
        });
    }

    /// Runs `acquire()` `drive` on the runtime, under `catch_unwind`; its outcome joins the
    /// queue as `[id,0,null]` (its connection kept for `NativePool.takeAcquired`) or
    /// `[id,1,error payload]`. No napi promise: none is made and resolved per acquire. An
    /// acquire handed its connection at a release ends with nothing queued (the release counts it
    /// taken: see [`Dispatch::handed`]).
    pub(super) fn spawn_acquire(self: &Arc<Self>, env: &Env, drive: Arc<Drive<Result<Lease, Error>>>) {
        self.submitted(env);
        let (dispatch, id) = (self.clone(), drive.id());
        let task = AssertUnwindSafe(drive.task()).catch_unwind();
        napi::bindgen_prelude::spawn(task.map(move |out| {
            let out = match out {
                Ok(Some(out)) => out,
                Ok(None) => return,
                Err(_) => Err(Error::panicked()),
            };
            let out = match out {
                Ok(lease) => match dispatch.acquired.lock() {
                    Ok(mut acquired) => {
                        acquired.insert(id, lease);
                        Ok(ResultText::whole("null".into()))
                    }
                    Err(_) => Err(Error::poisoned("acquired")),
                },
                Err(e) => Err(e),
            };
            dispatch.completions.push(id, out.map_err(|e| e.to_payload(None).to_string()));
        }));
    }

    /// An `acquire()` handed its connection at a release on the JS thread: taken now.
    pub(super) fn handed(&self, env: &Env) {
        self.taken(env, 1);
    }

    /// The error of a submit before JS installed the completion sink (a bug).
    pub(super) fn missing() -> napi::Error {
        js_error(&Error::no_completion_sink(), None)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_holds_its_statement_once() {
        let state = [0u8; 2000];
        let work = async move {
            std::future::ready(()).await;
            (Err(Error::panicked()), state.len())
        };
        let size = std::mem::size_of_val(&work);
        let t = task(Ok(work), |_| {});
        assert!(std::mem::size_of_val(&t) < size + 200, "{} for a statement of {size}", std::mem::size_of_val(&t));
    }
}
