//! A statement run in steps (a stream's start and batches, a COPY's start, writes and end):
//! each step is bounded by the statement's timeout and AbortSignal, and what stopped one step
//! explains the 57014 a later one reads.

use super::{Backend, PoolCore, QueryOptions};
use crate::cancel::{Cancel, Canceller};
use crate::error::{Error, Interruption};
use std::sync::Arc;

/// A statement run in steps (a stream's start and batches, a COPY's start, writes and end).
/// A step that succeeded although its timeout or AbortSignal fired (it finished as the cancel
/// was sent) leaves that cancel to land on a later step: its 57014 is then told for what it is,
/// a confirmed cancel, not a server error of its own.
#[derive(Debug, Default)]
pub(crate) struct Steps(std::sync::Mutex<Option<Interruption>>);

impl<M: Backend> PoolCore<M> {
    /// Runs one step of a statement run in steps (see [`Steps`]) under [`Self::supervise_step`].
    pub(crate) async fn step<T, Fut, C: Cancel>(
        &self,
        steps: &Steps,
        cancel: &Arc<C>,
        opts: &QueryOptions,
        fut: Fut,
    ) -> (Result<T, Error>, bool)
    where
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let (out, broken, why) = self.supervise_step(cancel, opts, fut).await;
        let mut earlier = steps.0.lock().unwrap_or_else(|e| e.into_inner());
        match out {
            Err(e) => (Err(e.after(earlier.take())), broken),
            Ok(done) => {
                if why.is_some() {
                    *earlier = why;
                }
                (Ok(done), broken)
            }
        }
    }
}

/// A COPY's bounds: its options and cancel, the steps so far, and its start, kept for as long
/// as the COPY runs; the abort flag JS registered is forgotten when it is dropped.
pub(crate) struct Stepwise {
    core: Arc<PoolCore>,
    opts: QueryOptions,
    abort_id: Option<u32>,
    cancel: Arc<Canceller>,
    steps: Steps,
    /// The statement and its start, to count it in the stats when it ends.
    sql: String,
    started: std::time::Instant,
}

impl Stepwise {
    /// The bounds of `sql` with `opts` on the connection `cancel` stops; starts counting now.
    pub(crate) fn new(
        core: Arc<PoolCore>,
        opts: QueryOptions,
        abort_id: Option<u32>,
        cancel: Arc<Canceller>,
        sql: &str,
    ) -> Self {
        let started = std::time::Instant::now();
        Stepwise { core, opts, abort_id, cancel, steps: Steps::default(), sql: sql.into(), started }
    }

    /// Runs one step; the flag says the connection must not be reused.
    pub(crate) async fn step<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, Error>>,
    ) -> (Result<T, Error>, bool) {
        self.core.step(&self.steps, &self.cancel, &self.opts, fut).await
    }

    /// Counts the ended statement in the stats, like any statement (latency, errors, slow).
    pub(crate) fn ended(&self, failed: Option<&Error>) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.core.counted(&self.sql, ms, failed);
    }
}

impl Drop for Stepwise {
    fn drop(&mut self) {
        if let Some(id) = self.abort_id {
            self.core.forget_abort(id);
        }
    }
}
