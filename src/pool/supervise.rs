//! A sent statement under its timeout, its AbortSignal and `end()`: when one fires first the
//! statement is cancelled on the server, and the error says what is known of its outcome.

use super::{aborted, Backend, PoolCore, QueryOptions, Running};
use crate::cancel::{Cancel, CANCEL_GRACE};
use crate::error::{Error, Interruption, Stopped};
use futures_util::pin_mut;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

impl<M: Backend> PoolCore<M> {
    /// A statement's timeout in ms: its own, or the pool's queryTimeoutMs (0: none).
    pub(crate) fn timeout_ms(&self, opts: &QueryOptions) -> u64 {
        opts.timeout_ms.unwrap_or(self.settings.query_timeout_ms)
    }

    /// When a statement's timeout passes, and the timeout (ms); none without one. It counts from
    /// `timed_from` (a convoy's statements: when the convoy took them), else from now.
    pub(crate) fn deadline(&self, opts: &QueryOptions) -> Option<(tokio::time::Instant, u64)> {
        let ms = self.timeout_ms(opts);
        (ms > 0).then(|| (opts.timed_from.unwrap_or_else(tokio::time::Instant::now) + Duration::from_millis(ms), ms))
    }

    /// Runs a sent statement's future under its timeout, its AbortSignal and `end()`. When one
    /// of them fires first, the statement is cancelled on the server and awaited a little
    /// longer; the error then says what is known of its outcome (only a cancel the server
    /// confirmed is "not committed"). The flag returned says the connection must not be reused.
    ///
    /// Behind PgBouncer no cancel request is sent (through PgBouncer 1.18 it can hit the wrong
    /// query): the statement is abandoned with its connection, its outcome unknown.
    pub(crate) async fn supervise<T, Fut, C: Cancel>(
        &self,
        cancel: &Arc<C>,
        opts: &QueryOptions,
        fut: Fut,
    ) -> (Result<T, Error>, bool)
    where
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let (out, broken, _) = self.supervise_step(cancel, opts, fut).await;
        (out, broken)
    }

    /// [`Self::supervise`] for one step of a longer statement (the start of a stream): also
    /// says what stopped it when the step itself still succeeded, so the error that the
    /// statement's next step then reads can be told for what it is.
    pub(crate) async fn supervise_step<T, Fut, C: Cancel>(
        &self,
        cancel: &Arc<C>,
        opts: &QueryOptions,
        fut: Fut,
    ) -> (Result<T, Error>, bool, Option<Interruption>)
    where
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        self.supervise_shared(cancel, opts, fut, None).await
    }

    /// [`Self::supervise_step`] for a statement that may share its connection: `unanswered`
    /// counts its convoy's statements not yet answered (itself included). While others are,
    /// no cancel request is sent (it could stop one of them): the statement is abandoned
    /// with its connection instead.
    pub(crate) async fn supervise_shared<T, Fut, C: Cancel>(
        &self,
        cancel: &Arc<C>,
        opts: &QueryOptions,
        fut: Fut,
        unanswered: Option<&AtomicUsize>,
    ) -> (Result<T, Error>, bool, Option<Interruption>)
    where
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let not_sent = |why| (Err(Error::not_sent(why)), false, None);
        if let Some(why) = opts.abort.as_ref().and_then(|a| a.raised()) {
            return not_sent(why);
        }
        if self.shutdown.is_aborted() {
            return not_sent(Interruption::Shutdown);
        }
        let _running = Running::new(&self.running);
        let bound = self.deadline(opts);
        let timeout_ms = bound.map_or(0, |(_, ms)| ms);
        let deadline = async {
            match bound {
                None => std::future::pending().await,
                Some((at, _)) => tokio::time::sleep_until(at).await,
            }
        };
        pin_mut!(fut);
        let why = tokio::select! {
            r = &mut fut => return (r, false, None),
            _ = deadline => match opts.deadline_of {
                Some(scope_ms) => Interruption::Deadline { timeout_ms: scope_ms },
                None => Interruption::Timeout { timeout_ms },
            },
            why = aborted(&opts.abort) => why,
            _ = self.shutdown.wait() => Interruption::Shutdown,
        };
        let stopped = |stopped| Err(Error::Interrupted { why, stopped });
        if self.settings.pgbouncer {
            return (stopped(Stopped::Abandoned), true, Some(why));
        }
        if unanswered.is_some_and(|n| n.load(Ordering::Acquire) > 1) {
            return (stopped(Stopped::Shared), true, Some(why));
        }
        let canceller = cancel.clone();
        let request = tokio::spawn(async move { canceller.cancel().await });
        let ended = tokio::time::timeout(CANCEL_GRACE, &mut fut).await;
        // The request is done once the server closed its connection, which it does after
        // signalling the backend (see `Canceller::cancel`). One not seen through may still land
        // later, on the connection's next statement: that connection is not reused.
        let landed = match request.await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(pool = self.id, "the cancel request did not reach the server: {e}");
                false
            }
            Err(_) => false,
        };
        match ended {
            // It finished just as it was stopped: the result is real.
            Ok(Ok(done)) => (Ok(done), !landed, Some(why)),
            // Its 57014 is this cancel, confirmed; any other error is its own (or a lost
            // connection's): that error is the truth.
            Ok(Err(e)) => {
                let lost = !landed || (!e.is_query_canceled() && e.spoils_connection());
                (Err(e.after(Some(why))), lost, Some(why))
            }
            Err(_) => (stopped(Stopped::Unconfirmed { grace_ms: CANCEL_GRACE.as_millis() as u64 }), true, Some(why)),
        }
    }
}
