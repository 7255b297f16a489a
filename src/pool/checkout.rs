//! Checkout: a turn in the waiting line, then a connection within poolTimeoutMs, retrying a
//! refused connection attempt (it sent nothing) with backoff while the wait allows.

use super::waiting::{Entry, Turn};
use super::{aborted, Backend, InFlight, Leasable, Lease, PoolCore, QueryOptions};
use crate::breaker::Admission;
use crate::connection::Manager;
use crate::error::{Error, Interruption};
use crate::retry::Backoff;
use crate::stats::Stats;
use deadpool::managed::{PoolError, Timeouts};
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A statement's turn in the waiting line, before its connection is taken.
pub(super) struct LineTurn<M: Backend = Manager> {
    turn: Turn,
    flight: InFlight<M>,
    /// When it started to wait (poolTimeoutMs counts from here).
    start: tokio::time::Instant,
    /// How long it waited for its turn: every connection was taken meanwhile.
    queued: Duration,
    /// How long it may wait in all, ms (0: no limit).
    wait: u64,
}

/// A statement's place in the waiting line, taken when it was called (see [`PoolCore::enter`]).
pub(crate) struct Entered<M: Backend = Manager> {
    entry: Entry,
    flight: InFlight<M>,
    /// When it entered the line (poolTimeoutMs counts from here).
    start: tokio::time::Instant,
    /// How long it may wait in all, ms (poolTimeoutMs, or `acquire()`'s maxWaitMs; 0: no limit).
    wait: u64,
}

impl<M: Backend> Entered<M> {
    /// When its wait for a turn runs out (poolTimeoutMs or maxWaitMs from its call); none: no
    /// limit.
    pub(super) fn deadline(&self) -> Option<tokio::time::Instant> {
        (self.wait > 0).then(|| self.start + Duration::from_millis(self.wait))
    }

    /// How long it may wait in all, ms (0: no limit).
    pub(super) fn wait_ms(&self) -> u64 {
        self.wait
    }

    /// Whether its turn was granted (when it entered the line, or since, when watched).
    pub(super) fn has_turn(&self) -> bool {
        self.entry.has_turn()
    }

    /// Whether its turn has come; if not, `waker` is woken when it does.
    pub(super) fn watch(&mut self, waker: &std::task::Waker) -> bool {
        self.entry.watch(waker)
    }
}

impl<M: Backend> PoolCore<M> {
    /// Takes a connection, waiting at most `wait_ms` (default poolTimeoutMs) in all.
    ///
    /// A connection attempt that fails in a retryable way (refused, timed out, too many
    /// clients) provably sent nothing, so it is retried with exponential backoff while the
    /// wait allows (`retry_connect`); the last error is returned when it runs out.
    pub(crate) async fn checkout_with(
        self: &Arc<Self>,
        wait_ms: Option<u64>,
        retry_connect: bool,
    ) -> Result<Lease<M>, Error> {
        let wait = wait_ms.unwrap_or(self.settings.pool_timeout_ms);
        let start = tokio::time::Instant::now();
        self.checkout_since(start, wait, retry_connect, InFlight::new(self), Duration::ZERO).await
    }

    /// [`Self::checkout_with`] for a wait of `wait` ms that began at `start` (in the line, where
    /// it was `queued` for a turn: only that wait says the pool is saturated, not the time a
    /// new connection takes to open).
    pub(super) async fn checkout_since(
        self: &Arc<Self>,
        start: tokio::time::Instant,
        wait: u64,
        retry_connect: bool,
        flight: InFlight<M>,
        queued: Duration,
    ) -> Result<Lease<M>, Error> {
        let deadline = (wait > 0).then(|| start + Duration::from_millis(wait));
        let mut retry = 1;
        loop {
            if let Some(b) = &self.breaker {
                if let Admission::Rejected(next) = b.admit(tokio::time::Instant::now().into_std()) {
                    return Err(Error::Unreachable {
                        address: self.settings.address(),
                        reason: format!(
                            "circuit breaker open after repeated connection failures; next probe in {}ms",
                            next.as_millis()
                        ),
                    });
                }
            }
            let remaining = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            // The connection's creation is bounded too: with several hosts it may try each
            // (connectTimeoutMs apiece). What is left plus one attempt's time, so that a last
            // attempt near the deadline still ends with its own error rather than a cut.
            let attempt = Duration::from_millis(self.settings.connect_timeout_ms);
            let create = remaining.filter(|_| !attempt.is_zero()).map(|r| r + attempt);
            let timeouts = Timeouts { wait: remaining, create, recycle: None };
            match self.pool.timeout_get(&timeouts).await {
                Ok(conn) => {
                    if let Some(b) = &self.breaker {
                        b.success();
                    }
                    let waited = start.elapsed();
                    self.stats.acquire_ms.record(waited.as_secs_f64() * 1000.0);
                    let active = self.active.fetch_add(1, Ordering::AcqRel) + 1;
                    self.events.waited(self.id, queued, active, self.limit());
                    self.check_utilization();
                    let mut conn = conn;
                    conn.on_lease();
                    if !self.used.load(Ordering::Relaxed) {
                        self.used.store(true, Ordering::Relaxed);
                    }
                    let conn = ManuallyDrop::new(conn);
                    return Ok(Lease { conn, discard: false, waited, _flight: flight, _turn: None });
                }
                Err(PoolError::Timeout(_)) => return Err(self.counted_timeout(self.pool_timeout(wait))),
                Err(PoolError::Backend(e)) => {
                    if let Some(b) = &self.breaker {
                        b.failure(tokio::time::Instant::now().into_std());
                    }
                    // The last pause is cut to what is left, so a server back just before the
                    // deadline is still found; with under 20 ms left, give up.
                    let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
                    let delay = Backoff::CONNECT.steady(retry);
                    let pause = left.map_or(delay, |l| delay.min(l.saturating_sub(Duration::from_millis(10))));
                    let worth_it = left.is_none_or(|l| l > Duration::from_millis(20));
                    let retries = retry_connect && self.settings.retry_connect && self.breaker.is_none();
                    // Too many clients (53300, 53400) is backpressure: the server is full, not down.
                    let retryable = e.classification().retryable || e.is_too_many();
                    if !(retries && retryable && worth_it) {
                        return Err(e);
                    }
                    tracing::debug!(
                        pool = self.id,
                        "connection attempt failed ({}); retrying in {}ms",
                        e.code(),
                        pause.as_millis()
                    );
                    tokio::time::sleep(pause).await;
                    retry += 1;
                }
                Err(PoolError::Closed) => return Err(Error::Closed("The pool has been closed".into())),
                Err(other) => return Err(Error::Internal(other.to_string())),
            }
        }
    }

    /// [`Self::checkout_with`] with poolTimeoutMs and connection retries (none for a replica
    /// read, `fail_fast`) that gives up when the statement's AbortSignal fires or `end()` runs
    /// out of time first (nothing was sent).
    ///
    /// The statement first waits for its turn in the [`WaitingLine`], holding only small
    /// state; the checkout's large state is boxed once it has its turn.
    pub(crate) async fn checkout_for(self: &Arc<Self>, opts: &QueryOptions) -> Result<Lease<M>, Error> {
        if let Some(e) = self.refusal(opts.no_wait) {
            return Err(e);
        }
        self.checkout_entered(self.enter(false), opts).await
    }

    /// Why a caller that would have to wait is refused at once, if it is: its request scope
    /// holds a connection of this pool (`no_wait`, see [`QueryOptions::no_wait`]), or the waiting
    /// line is full (`maxWaiting`). The one rule of `pool.query`, streams and `acquire()`.
    pub(super) fn refusal(&self, no_wait: bool) -> Option<Error> {
        if self.line.has_free_turn() {
            return None;
        }
        if no_wait {
            return Some(Error::WouldWaitHolding { limit: self.limit() });
        }
        self.line_full().then(|| self.line_full_error())
    }

    /// [`Self::checkout_for`] for a statement that entered the line already (see [`Self::enter`]).
    pub(super) async fn checkout_entered(
        self: &Arc<Self>,
        entry: Entered<M>,
        opts: &QueryOptions,
    ) -> Result<Lease<M>, Error> {
        let turn = self.counted_turn(entry, opts).await?;
        self.checkout_on(turn, opts).await
    }

    /// [`Self::turn_for`] for a statement that is its own caller's (not offered to convoys):
    /// a wait that ran out is counted at once.
    pub(super) async fn counted_turn(
        self: &Arc<Self>,
        entry: Entered<M>,
        opts: &QueryOptions,
    ) -> Result<LineTurn<M>, Error> {
        self.turn_for(entry, opts).await.map_err(|e| self.counted_timeout(e))
    }

    /// Takes a statement's place in the waiting line now: callers are served in the order they
    /// called, and poolTimeoutMs counts from here. `rider`: it is offered to convoys too.
    pub(crate) fn enter(self: &Arc<Self>, rider: bool) -> Entered<M> {
        Entered {
            entry: self.line.enter(rider),
            flight: InFlight::new(self),
            start: tokio::time::Instant::now(),
            wait: self.settings.pool_timeout_ms,
        }
    }

    /// `pool.acquire()`: a connection to hold, its place in the waiting line taken now (as a
    /// `pool.query` statement's is), waiting at most `wait_ms` (default poolTimeoutMs). It keeps
    /// its turn until it is released. `no_wait`: refused at once rather than waiting (its
    /// caller holds a connection of this pool already).
    pub(crate) fn acquire(
        self: &Arc<Self>,
        wait_ms: Option<u64>,
        no_wait: bool,
    ) -> impl std::future::Future<Output = Result<Lease<M>, Error>> + Send + 'static {
        let entered = match self.refusal(no_wait) {
            Some(e) => Err(e),
            None => {
                let mut entered = self.enter(false);
                entered.wait = wait_ms.unwrap_or(self.settings.pool_timeout_ms);
                Ok(entered)
            }
        };
        let core = self.clone();
        async move { core.checkout_entered(entered?, &QueryOptions::default()).await }
    }

    /// Counts a wait for a turn that ran out (P2024) in the stats.
    pub(super) fn counted_timeout(&self, e: Error) -> Error {
        if matches!(e, Error::PoolTimeout { .. }) {
            Stats::bump(&self.stats.acquire_timeouts);
        }
        e
    }

    /// A statement's turn in the line (the first half of [`Self::checkout_for`]).
    pub(super) async fn turn_for(
        self: &Arc<Self>,
        entered: Entered<M>,
        opts: &QueryOptions,
    ) -> Result<LineTurn<M>, Error> {
        let not_sent = |why| Err(Error::not_sent(why));
        let deadline = entered.deadline();
        let Entered { entry, flight, start, wait } = entered;
        let turn = tokio::select! {
            // Counted by the caller, once it knows the statement is still its own.
            turn = entry.turn(deadline) => turn.ok_or_else(|| self.pool_timeout(wait))?,
            why = aborted(&opts.abort) => return not_sent(why),
            _ = self.shutdown.wait() => return not_sent(Interruption::Shutdown),
        };
        Ok(LineTurn { turn, flight, start, queued: start.elapsed(), wait })
    }

    /// The connection for a statement that has its turn (the second half of
    /// [`Self::checkout_for`]); its large state is boxed.
    pub(super) async fn checkout_on(self: &Arc<Self>, t: LineTurn<M>, opts: &QueryOptions) -> Result<Lease<M>, Error> {
        let not_sent = |why| Err(Error::not_sent(why));
        let checkout = Box::pin(self.checkout_since(t.start, t.wait, !opts.fail_fast, t.flight, t.queued));
        let mut lease = tokio::select! {
            lease = checkout => lease?,
            why = aborted(&opts.abort) => return not_sent(why),
            _ = self.shutdown.wait() => return not_sent(Interruption::Shutdown),
        };
        lease._turn = Some(t.turn);
        Ok(lease)
    }

    /// No connection within `wait` ms, told with the pool's limit (counted by
    /// [`Self::counted_timeout`]).
    pub(super) fn pool_timeout(&self, wait: u64) -> Error {
        Error::PoolTimeout { timeout_ms: wait, limit: self.limit() }
    }

    /// Feeds the utilization alarm (after each checkout and release).
    pub(super) fn check_utilization(&self) {
        let active = self.active.load(Ordering::Acquire);
        self.events.utilization(active, self.limit(), self.settings.utilization_alert_threshold);
    }

    /// Opens max(1, minConnections) connections, three tries each with exponential backoff.
    pub(crate) async fn warm_up(self: &Arc<Self>) -> Result<(), Error> {
        let n = self.settings.min_connections.max(1);
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let mut attempt = 1;
            loop {
                match self.checkout_with(None, false).await {
                    Ok(lease) => {
                        held.push(lease);
                        break;
                    }
                    Err(e) if attempt < 3 && e.classification().retryable => {
                        tokio::time::sleep(Backoff::WARM_UP.steady(attempt)).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}
