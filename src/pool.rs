//! The pool: checkout with a deadline, statements with timeouts that cancel on the server,
//! streaming, graceful shutdown and the idle reaper.

use crate::breaker::{Admission, Breaker};
use crate::config::Settings;
use crate::connection::{Canceller, Conn, Manager, Prepared};
use crate::convert::params::{text_params, TextParam};
use crate::convert::result::ResultText;
use crate::convoy::{Answer, Member, Rider, Riders};
use crate::error::{Error, Interruption, Stopped};
use crate::events::Events;
use crate::retry::Backoff;
use crate::sql::Shape;
use crate::statement::{check_params, execute, execute_script, start};
use crate::stats::Stats;
use crate::waiting::{Entry, Turn, WaitingLine};
use deadpool::managed::{Object, PoolError, Timeouts};
use futures_util::pin_mut;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_postgres::RowStream;

/// A connection checked out of the pool; returned to it when dropped.
pub(crate) type Pooled = Object<Manager>;

/// read_only_sql_transaction: a write refused by a server that does not accept writes.
const READ_ONLY_TRANSACTION: &str = "25006";

/// The server routine that refuses a command in a read-only transaction, before running it.
const REFUSED_AS_READ_ONLY: &str = "PreventCommandIfReadOnly";

/// How long a cancelled statement may take to end before its connection is given up.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Per-statement choices.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryOptions {
    /// Overrides the pool's queryTimeoutMs (0: none).
    pub timeout_ms: Option<u64>,
    /// Set by an AbortSignal: stop waiting and cancel the statement on the server.
    pub abort: Option<Arc<AbortFlag>>,
    /// A read on a replica: a failed connection attempt is not retried (the read goes to the
    /// primary instead).
    pub fail_fast: bool,
    /// Whose conventions the result values follow (pg's, or a Prisma adapter's).
    pub style: crate::convert::Style,
    /// When the timeout starts to count, if not when the statement is sent: a convoy's
    /// statements are bounded from the moment it took them, across their prepare and run.
    pub timed_from: Option<tokio::time::Instant>,
}

impl QueryOptions {
    /// Resolves once the statement's AbortSignal fires (never without one).
    pub(crate) async fn aborted(&self) {
        aborted(&self.abort).await
    }
}

/// A one-shot flag raised by a JS AbortSignal.
#[derive(Debug, Default)]
pub(crate) struct AbortFlag {
    aborted: AtomicBool,
    notify: Notify,
}

impl AbortFlag {
    /// Raises the flag and wakes every waiter.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether the flag was raised.
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Resolves once the flag is raised.
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            pin_mut!(notified);
            notified.as_mut().enable();
            if self.is_aborted() {
                return;
            }
            notified.await;
        }
    }
}

/// Waits for `abort`, or forever when there is none.
async fn aborted(abort: &Option<Arc<AbortFlag>>) {
    match abort {
        Some(a) => a.wait().await,
        None => std::future::pending().await,
    }
}

/// The shared state of one pool.
pub(crate) struct PoolCore {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Background events (idle connection errors, utilization).
    pub events: Arc<Events>,
    /// This pool's id in log events (`pool` field).
    pub id: u64,
    pool: deadpool::managed::Pool<Manager>,
    /// Work in flight (checkouts held), for a graceful `end()`.
    in_flight: AtomicUsize,
    /// Connections checked out right now (kept here so the hot path needs no pool lock).
    active: AtomicUsize,
    /// Fails checkouts fast while the server is down (optional).
    breaker: Option<Breaker>,
    /// Abort flags of statements in flight, by the id JS chose.
    aborts: Mutex<HashMap<u32, Arc<AbortFlag>>>,
    /// Set by the first checkout: from then on the reaper keeps minConnections open (before
    /// it the pool stays lazy).
    used: AtomicBool,
    /// Statements sent and not yet finished (what `end()` cancels when it runs out of time).
    running: AtomicUsize,
    /// Raised when `end()` runs out of time: statements still in flight are cancelled.
    shutdown: AbortFlag,
    /// Statements waiting for a connection, each holding a small record until its turn.
    line: WaitingLine,
    /// Those of them that a convoy may take along (see `src/convoy.rs`).
    pub(crate) riders: Riders,
}

/// A checked-out connection, counted as work in flight for as long as it lives.
pub(crate) struct Lease {
    /// The connection.
    pub conn: ManuallyDrop<Pooled>,
    /// Close the connection instead of returning it.
    pub discard: bool,
    _flight: InFlight,
    /// How long the checkout waited for the connection (the waiting line included).
    pub waited: Duration,
    /// The statement's turn in the waiting line (none for a held client), given back after
    /// the connection (fields drop after `Drop::drop`).
    _turn: Option<Turn>,
}

impl Drop for Lease {
    /// Returns the connection to the pool, or closes it at once when it is broken or
    /// `discard` was asked for, so a dead or dirty connection never waits in the idle set.
    fn drop(&mut self) {
        // SAFETY: `conn` is taken exactly once, here, and never used afterwards.
        let mut conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        let max_uses = self._flight.0.settings.max_uses;
        // Served its `maxUses` checkouts: closed, as pg-pool closes it at release.
        let discard = self.discard || (max_uses > 0 && conn.uses >= max_uses);
        if !discard && crate::reset::needs_tidy(&conn) {
            // Left inside a transaction, or with its session changed: tidied on the runtime
            // before it goes back (see src/reset.rs); off it, closed instead.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let core = self._flight.0.clone();
                // Still work in flight for `end()`, until the connection is back.
                let flight = InFlight::new(&core);
                rt.spawn(async move {
                    let _flight = flight;
                    if let Some(report) = crate::reset::tidy_reported(&mut conn, &core.stats, &core.events).await {
                        core.events.emit("releasedInTransaction", report);
                    }
                    Lease::give_back(conn, false);
                });
                self.released();
                return;
            }
            conn.broken = true;
        }
        self.released();
        Lease::give_back(conn, discard);
    }
}

impl Lease {
    /// Returns `conn` to the pool, or closes it at once when it is broken or `discard` was asked
    /// for, so a dead or dirty connection never waits in the idle set.
    fn give_back(conn: Pooled, discard: bool) {
        if discard || conn.broken {
            // Still "in use" for the connection task: its failure was already reported to
            // the statement, so it is no background `error` event.
            drop(Object::take(conn));
        } else {
            conn.idle.store(true, Ordering::Release);
            let mut conn = conn;
            conn.idle_since = Some(std::time::Instant::now());
            drop(conn);
        }
    }

    /// Counts the connection as released; a release can take utilization back below the alarm
    /// band, which re-arms it.
    fn released(&self) {
        // Counted as released before the connection goes back: a waiting caller may get it at
        // once, and must not see it counted twice (2/1 in use).
        self._flight.0.active.fetch_sub(1, Ordering::AcqRel);
        self._flight.0.check_utilization();
    }
}

impl Lease {
    /// Gives the connection back (see `Drop`); `discard` closes it instead.
    pub(crate) fn finish(mut self, discard: bool) {
        self.discard |= discard;
    }
}

/// Counts one statement running until dropped.
struct Running<'a>(&'a AtomicUsize);

impl<'a> Running<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Running(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A statement's turn in the waiting line, before its connection is taken.
struct LineTurn {
    turn: Turn,
    flight: InFlight,
    /// When it started to wait (poolTimeoutMs counts from here).
    start: tokio::time::Instant,
    /// How long it may wait in all, ms (0: no limit).
    wait: u64,
}

/// How a `pool.query` statement is served (see [`PoolCore::route`]).
enum Route {
    /// Its parameters do not fit its text: nothing is sent.
    Refused(Error),
    /// On a connection of its own.
    Alone { entered: Entered, params: Vec<TextParam>, opts: QueryOptions, shape: Shape },
    /// Leading a convoy (alone when nobody waits).
    Lead { entered: Entered, own: Member },
    /// Offered to convoys while it waits for its turn.
    Ride { entered: Entered, opts: QueryOptions, rider: Arc<Rider>, answered: Answer },
}

/// A statement's place in the waiting line, taken when it was called (see [`PoolCore::enter`]).
pub(crate) struct Entered {
    entry: Entry,
    flight: InFlight,
    /// When it entered the line (poolTimeoutMs counts from here).
    start: tokio::time::Instant,
    /// How long it may wait in all, ms (poolTimeoutMs, or `acquire()`'s maxWaitMs; 0: no limit).
    wait: u64,
}

/// Counts one unit of work in flight until dropped (even when a checkout is abandoned).
struct InFlight(Arc<PoolCore>);

impl InFlight {
    fn new(core: &Arc<PoolCore>) -> Self {
        core.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(core.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PoolCore {
    /// A pool for `settings`; connects lazily.
    pub(crate) fn new(settings: Settings) -> Result<Arc<Self>, Error> {
        let settings = Arc::new(settings);
        let stats = Arc::new(Stats::default());
        let events = Arc::new(Events::new(Duration::from_millis(settings.utilization_alert_cooldown_ms)));
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let manager = Manager::new(settings.clone(), stats.clone(), events.clone(), id)?;
        let pool = deadpool::managed::Pool::builder(manager)
            .max_size(settings.connection_limit)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("pool build failed: {e}")))?;
        let breaker = settings.circuit_breaker.map(|(n, ms)| Breaker::new(n, Duration::from_millis(ms)));
        Ok(Arc::new(PoolCore {
            line: WaitingLine::new(settings.connection_limit),
            riders: Riders::default(),
            settings,
            stats,
            pool,
            in_flight: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            breaker,
            aborts: Mutex::new(HashMap::new()),
            shutdown: AbortFlag::default(),
            running: AtomicUsize::new(0),
            used: AtomicBool::new(false),
            events,
            id,
        }))
    }

    /// The pool's (size, idle, waiting, limit).
    /// Where each new connection's password comes from (see `Manager::set_password_source`).
    pub(crate) fn set_password_source(&self, source: crate::connection::PasswordSource) {
        self.pool.manager().set_password_source(source);
    }

    /// The hook run on each new connection before it serves anyone (`onConnect`).
    pub(crate) fn set_connect_hook(&self, hook: crate::connection::ConnectHook) {
        self.pool.manager().set_connect_hook(hook);
    }

    /// deadpool's status, with the statements waiting in the line counted as waiting.
    pub(crate) fn status(&self) -> deadpool::Status {
        let mut s = self.pool.status();
        s.waiting += self.line.waiting();
        s
    }

    /// Takes a connection, waiting at most `wait_ms` (default poolTimeoutMs) in all.
    ///
    /// A connection attempt that fails in a retryable way (refused, timed out, too many
    /// clients) provably sent nothing, so it is retried with exponential backoff while the
    /// wait allows (`retry_connect`); the last error is returned when it runs out.
    pub(crate) async fn checkout_with(
        self: &Arc<Self>,
        wait_ms: Option<u64>,
        retry_connect: bool,
    ) -> Result<Lease, Error> {
        let wait = wait_ms.unwrap_or(self.settings.pool_timeout_ms);
        let start = tokio::time::Instant::now();
        self.checkout_since(start, wait, retry_connect, InFlight::new(self)).await
    }

    /// [`Self::checkout_with`] for a wait of `wait` ms that began at `start` (in the line).
    async fn checkout_since(
        self: &Arc<Self>,
        start: tokio::time::Instant,
        wait: u64,
        retry_connect: bool,
        flight: InFlight,
    ) -> Result<Lease, Error> {
        let deadline = (wait > 0).then(|| start + Duration::from_millis(wait));
        let mut retry = 1;
        loop {
            if let Some(b) = &self.breaker {
                if let Admission::Rejected(next) = b.admit(std::time::Instant::now()) {
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
                    self.events.waited(self.id, waited, active, self.settings.connection_limit);
                    self.check_utilization();
                    conn.idle.store(false, Ordering::Release);
                    let mut conn = conn;
                    conn.uses += 1;
                    if !self.used.load(Ordering::Relaxed) {
                        self.used.store(true, Ordering::Relaxed);
                    }
                    let conn = ManuallyDrop::new(conn);
                    return Ok(Lease { conn, discard: false, waited, _flight: flight, _turn: None });
                }
                Err(PoolError::Timeout(_)) => return Err(self.counted_timeout(self.pool_timeout(wait))),
                Err(PoolError::Backend(e)) => {
                    if let Some(b) = &self.breaker {
                        b.failure(std::time::Instant::now());
                    }
                    // The last pause is cut to what is left, so a server back just before the
                    // deadline is still found; with under 20 ms left, give up.
                    let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
                    let delay = Backoff::CONNECT.steady(retry);
                    let pause = left.map_or(delay, |l| delay.min(l.saturating_sub(Duration::from_millis(10))));
                    let worth_it = left.is_none_or(|l| l > Duration::from_millis(20));
                    if !(retry_connect && e.classification().retryable && worth_it && self.breaker.is_none()) {
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
    pub(crate) async fn checkout_for(self: &Arc<Self>, opts: &QueryOptions) -> Result<Lease, Error> {
        self.checkout_entered(self.enter(false), opts).await
    }

    /// [`Self::checkout_for`] for a statement that entered the line already (see [`Self::enter`]).
    async fn checkout_entered(self: &Arc<Self>, entry: Entered, opts: &QueryOptions) -> Result<Lease, Error> {
        let turn = self.turn_for(entry, opts).await.map_err(|e| self.counted_timeout(e))?;
        self.checkout_on(turn, opts).await
    }

    /// Takes a statement's place in the waiting line now: callers are served in the order they
    /// called, and poolTimeoutMs counts from here. `rider`: it is offered to convoys too.
    pub(crate) fn enter(self: &Arc<Self>, rider: bool) -> Entered {
        Entered {
            entry: self.line.enter(rider),
            flight: InFlight::new(self),
            start: tokio::time::Instant::now(),
            wait: self.settings.pool_timeout_ms,
        }
    }

    /// `pool.acquire()`: a connection to hold, its place in the waiting line taken now (as a
    /// `pool.query` statement's is), waiting at most `wait_ms` (default poolTimeoutMs). It keeps
    /// its turn until it is released.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        wait_ms: Option<u64>,
    ) -> impl std::future::Future<Output = Result<Lease, Error>> + Send + 'static {
        let mut entered = self.enter(false);
        entered.wait = wait_ms.unwrap_or(self.settings.pool_timeout_ms);
        let core = self.clone();
        async move { core.checkout_entered(entered, &QueryOptions::default()).await }
    }

    /// Counts a wait for a turn that ran out (P2024) in the stats.
    fn counted_timeout(&self, e: Error) -> Error {
        if matches!(e, Error::PoolTimeout { .. }) {
            Stats::bump(&self.stats.acquire_timeouts);
        }
        e
    }

    /// A statement's turn in the line (the first half of [`Self::checkout_for`]).
    async fn turn_for(self: &Arc<Self>, entered: Entered, opts: &QueryOptions) -> Result<LineTurn, Error> {
        let not_sent = |why| Err(Error::Interrupted { why, stopped: Stopped::NotSent });
        let Entered { entry, flight, start, wait } = entered;
        let deadline = (wait > 0).then(|| start + Duration::from_millis(wait));
        let turn = tokio::select! {
            // Counted by the caller, once it knows the statement is still its own.
            turn = entry.turn(deadline) => turn.ok_or_else(|| self.pool_timeout(wait))?,
            _ = aborted(&opts.abort) => return not_sent(Interruption::Abort),
            _ = self.shutdown.wait() => return not_sent(Interruption::Shutdown),
        };
        Ok(LineTurn { turn, flight, start, wait })
    }

    /// The connection for a statement that has its turn (the second half of
    /// [`Self::checkout_for`]); its large state is boxed.
    async fn checkout_on(self: &Arc<Self>, t: LineTurn, opts: &QueryOptions) -> Result<Lease, Error> {
        let not_sent = |why| Err(Error::Interrupted { why, stopped: Stopped::NotSent });
        let checkout = Box::pin(self.checkout_since(t.start, t.wait, !opts.fail_fast, t.flight));
        let mut lease = tokio::select! {
            lease = checkout => lease?,
            _ = aborted(&opts.abort) => return not_sent(Interruption::Abort),
            _ = self.shutdown.wait() => return not_sent(Interruption::Shutdown),
        };
        lease._turn = Some(t.turn);
        Ok(lease)
    }

    /// No connection within `wait` ms, told with the pool's limit (counted by
    /// [`Self::counted_timeout`]).
    fn pool_timeout(&self, wait: u64) -> Error {
        Error::PoolTimeout { timeout_ms: wait, limit: self.settings.connection_limit }
    }

    /// Every host with its role now, as JSON (`pgwarden doctor`).
    pub(crate) async fn host_roles(&self) -> Result<String, Error> {
        Ok(serde_json::Value::Array(self.pool.manager().roles().await?).to_string())
    }

    /// Whether a statement has checked out a connection yet (the pool is no longer lazy).
    pub(crate) fn was_used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether `end()` closed the pool.
    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Feeds the utilization alarm (after each checkout and release).
    fn check_utilization(&self) {
        let active = self.active.load(Ordering::Acquire);
        self.events.utilization(active, self.settings.connection_limit, self.settings.utilization_alert_threshold);
    }

    /// Registers the abort flag for statement `id` (an abort that came first is kept).
    pub(crate) fn abort_flag(&self, id: u32) -> Arc<AbortFlag> {
        let mut m = self.aborts.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id).or_default().clone()
    }

    /// Aborts statement `id` (from a JS AbortSignal).
    pub(crate) fn abort(&self, id: u32) {
        self.abort_flag(id).abort();
    }

    /// Forgets the abort flag of a finished statement.
    pub(crate) fn forget_abort(&self, id: u32) {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
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

    /// `pool.query`: checks the parameters, checks out a connection and runs the statement.
    ///
    /// What decides the statement's place is done now, when the caller calls (its place in the
    /// waiting line, its offer to convoys); the future returned waits for its turn and runs it.
    /// So statements are served in the order they were called, first come first served.
    pub(crate) fn query(
        self: &Arc<Self>,
        sql: Arc<str>,
        params: Vec<Option<String>>,
        opts: QueryOptions,
    ) -> impl std::future::Future<Output = Result<ResultText, Error>> + Send + 'static {
        let core = self.clone();
        let route = self.route(&sql, params, opts);
        async move {
            match route {
                Route::Refused(e) => Err(e),
                Route::Alone { entered, params, opts, shape } => {
                    let mut lease = core.checkout_entered(entered, &opts).await?;
                    core.run_leased(&mut lease, &sql, params, &opts, shape).await
                }
                Route::Lead { entered, own } => {
                    let lease = core.checkout_entered(entered, &own.opts).await?;
                    Box::pin(core.lead(lease, own)).await
                }
                Route::Ride { entered, opts, rider, answered } => core.ride(entered, opts, rider, answered).await,
            }
        }
    }

    /// How a `pool.query` statement will be served, decided when it is called: refused (its
    /// parameters do not fit), on a connection of its own, or as a statement that may share
    /// one (see `src/convoy.rs`): leading a convoy when a turn is free or enough statements are
    /// offered already, else offered to convoys while it waits in the line.
    fn route(self: &Arc<Self>, sql: &Arc<str>, params: Vec<Option<String>>, opts: QueryOptions) -> Route {
        let shape = match check_params(sql, params.len()) {
            Ok(shape) => shape,
            Err(e) => return Route::Refused(e),
        };
        let params = text_params(params);
        if !(self.settings.pipeline_depth > 1 && opts.abort.is_none() && shape.data && !shape.several && !shape.session)
        {
            return Route::Alone { entered: self.enter(false), params, opts, shape };
        }
        let own = Member::new(sql.clone(), params, &opts);
        // Enough are offered to fill every connection's next few convoys: under a burst the
        // rest wait in the line as small as before, and lead convoys when their turn comes.
        // Only while every statement waiting before it is offered too: a convoy serves the
        // statements it takes before any left in the line, so riders are the line's head.
        let enough = 4 * self.settings.connection_limit * self.settings.pipeline_depth;
        if self.line.has_free_turn() || self.riders.live() >= enough || self.line.solo_waiting() > 0 {
            return Route::Lead { entered: self.enter(false), own };
        }
        let (rider, answered) = self.riders.offer(own);
        Route::Ride { entered: self.enter(true), opts, rider, answered }
    }

    /// A statement offered to convoys: while every connection is busy it waits both for its
    /// turn and for a convoy to take it along, whichever comes first; with its turn it claims
    /// itself back before its connection is taken (or opened), so that no checkout is
    /// abandoned halfway.
    async fn ride(
        self: &Arc<Self>,
        entered: Entered,
        opts: QueryOptions,
        rider: Arc<Rider>,
        answered: Answer,
    ) -> Result<ResultText, Error> {
        let turn = tokio::select! {
            turn = self.turn_for(entered, &opts) => turn,
            _ = rider.taken() => return crate::convoy::answer(answered).await,
        };
        let Some(own) = self.riders.claim_own(&rider) else {
            // Taken just as its turn came: the turn goes back to the line at once.
            drop(turn);
            return crate::convoy::answer(answered).await;
        };
        let lease = self.checkout_on(turn.map_err(|e| self.counted_timeout(e))?, &opts).await?;
        Box::pin(self.lead(lease, own)).await
    }

    /// [`Self::run`] on a checked-out connection, its wait riding on the result too (for
    /// OpenTelemetry's checkout span and wait histogram).
    pub(crate) async fn run_leased(
        &self,
        lease: &mut Lease,
        sql: &str,
        params: Vec<TextParam>,
        opts: &QueryOptions,
        shape: Shape,
    ) -> Result<ResultText, Error> {
        // Boxed: a statement waiting for a connection holds only the checkout's small state,
        // not the running statement's (~17 KB), so a queue of thousands stays light.
        let out = Box::pin(self.run(&mut lease.conn, sql, params, opts, shape)).await;
        out.map(|r| with_field(r, ",\"waitMs\":", lease.waited.as_secs_f64() * 1000.0))
    }

    /// Runs one statement on a checked-out connection and returns the result JSON; `shape` is
    /// its text's [`Shape`] (several statements go by the simple protocol).
    pub(crate) async fn run(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<TextParam>,
        opts: &QueryOptions,
        shape: Shape,
    ) -> Result<ResultText, Error> {
        let started = std::time::Instant::now();
        crate::reset::note(conn, sql, shape);
        let cancel = conn.cancel.clone();
        let work = execute(conn, sql, &params, &self.settings, opts.style, shape.several);
        let (out, broken) = self.supervise(&cancel, opts, work).await;
        conn.broken |= broken;
        let out = self.failover_check(conn, out).await;
        let (ms, slow) = self.finished(conn, sql, started, &out);
        self.told(sql, ms, slow, out)
    }

    /// A statement's result as JS gets it: its duration and whether it was slow ride on it, so
    /// `query`/`slowQuery` events need no extra crossing; a timeout is logged.
    pub(crate) fn told(
        &self,
        sql: &str,
        ms: f64,
        slow: bool,
        out: Result<ResultText, Error>,
    ) -> Result<ResultText, Error> {
        if let Err(e @ Error::Interrupted { why: Interruption::Timeout { .. }, .. }) = &out {
            tracing::warn!(pool = self.id, "{}: {}", e.message(), crate::stats::cut_sql(sql));
        }
        let out = out.map(|r| with_field(r, ",\"ms\":", ms));
        if slow {
            return out.map(|mut r| {
                r.json.pop();
                r.json.push_str(",\"slow\":true}");
                r
            });
        }
        out
    }

    /// Whether a server error is one [`Self::failover_check`] must look at: the server's own
    /// refusal of the statement as read-only, on a pool meant for the primary.
    pub(crate) fn may_be_failover(&self, f: &crate::error::ServerError) -> bool {
        self.settings.target_session_attrs.wants_primary()
            && f.code == READ_ONLY_TRANSACTION
            && f.routine.as_deref() == Some(REFUSED_AS_READ_ONLY)
            && f.r#where.is_none()
    }

    /// A write refused as read-only (25006) on a pool meant for the primary, when its server
    /// is no longer one (a failover): the connection is closed, every connection opened before
    /// is closed at its next checkout, and the error says the statement did nothing.
    ///
    /// Only the server's own refusal of the statement itself counts (PreventCommandIfReadOnly,
    /// no context: not a function, a procedure, dblink or a foreign table, whose earlier work
    /// may have been done), and only when the server as a whole no longer fits the pool's
    /// target_session_attrs. A transaction the caller made read-only stays a plain 25006.
    pub(crate) async fn failover_check<T>(&self, conn: &mut Conn, out: Result<T, Error>) -> Result<T, Error> {
        let fields = match out {
            Err(Error::Server { fields, maybe_committed: false }) if self.may_be_failover(&fields) => fields,
            other => return other,
        };
        let target = self.settings.target_session_attrs;
        match self.pool.manager().session_role(conn).await {
            Some(role) if !target.accepts(role.in_recovery, role.read_only, true) => {
                conn.broken = true;
                self.pool.manager().placement.demote();
                tracing::warn!(
                    pool = self.id,
                    "the server at {} refused a write as read-only: it is no longer the primary ({}); reconnecting",
                    conn.address,
                    role.words()
                );
                Err(Error::Failover { address: conn.address.to_string(), fields })
            }
            _ => Err(Error::Server { fields, maybe_committed: false }),
        }
    }

    /// Runs a multi-statement script (simple protocol), counted like one statement and
    /// bounded like one.
    pub(crate) async fn script(&self, conn: &mut Conn, sql: &str, opts: &QueryOptions) -> Result<(), Error> {
        let shape = crate::sql::shape(sql);
        crate::statement::reject_copy(sql, shape)?;
        // A script is taken for one that changes the session (it often does: SET, migrations).
        crate::reset::note(conn, sql, Shape { session: true, ..shape });
        let started = std::time::Instant::now();
        let cancel = conn.cancel.clone();
        let work = execute_script(conn, sql);
        let (out, broken) = self.supervise(&cancel, opts, work).await;
        conn.broken |= broken;
        let out = self.failover_check(conn, out).await;
        self.finished(conn, sql, started, &out);
        out
    }

    /// Starts a statement whose rows are read in batches (`pool.stream`).
    pub(crate) async fn open_stream(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<TextParam>,
        opts: &QueryOptions,
    ) -> Result<(Pin<Box<RowStream>>, Prepared, Option<Interruption>), Error> {
        let started = std::time::Instant::now();
        crate::reset::note(conn, sql, crate::sql::shape(sql));
        let cancel = conn.cancel.clone();
        // The server answers Bind only once the first rows are ready: a timeout can fire here
        // and the cancel's 57014 then comes with the rows (the stream's `interrupted`).
        let (r, broken, interrupted) = self.supervise_step(&cancel, opts, start(conn, sql, &params)).await;
        conn.broken |= broken;
        self.finished(conn, sql, started, &r);
        r.map(|(s, cols)| (Box::pin(s), cols, interrupted))
    }

    /// Runs a sent statement's future under its timeout, its AbortSignal and `end()`. When one
    /// of them fires first, the statement is cancelled on the server and awaited a little
    /// longer; the error then says what is known of its outcome (only a cancel the server
    /// confirmed is "not committed"). The flag returned says the connection must not be reused.
    ///
    /// Behind PgBouncer no cancel request is sent (through PgBouncer 1.18 it can hit the wrong
    /// query): the statement is abandoned with its connection, its outcome unknown.
    pub(crate) async fn supervise<T, Fut>(
        &self,
        cancel: &Arc<Canceller>,
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
    pub(crate) async fn supervise_step<T, Fut>(
        &self,
        cancel: &Arc<Canceller>,
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
    pub(crate) async fn supervise_shared<T, Fut>(
        &self,
        cancel: &Arc<Canceller>,
        opts: &QueryOptions,
        fut: Fut,
        unanswered: Option<&AtomicUsize>,
    ) -> (Result<T, Error>, bool, Option<Interruption>)
    where
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let not_sent = |why| (Err(Error::Interrupted { why, stopped: Stopped::NotSent }), false, None);
        if opts.abort.as_ref().is_some_and(|a| a.is_aborted()) {
            return not_sent(Interruption::Abort);
        }
        if self.shutdown.is_aborted() {
            return not_sent(Interruption::Shutdown);
        }
        let _running = Running::new(&self.running);
        let timeout_ms = self.timeout_ms(opts);
        let from = opts.timed_from.unwrap_or_else(tokio::time::Instant::now);
        let deadline = async {
            match timeout_ms {
                0 => std::future::pending().await,
                ms => tokio::time::sleep_until(from + Duration::from_millis(ms)).await,
            }
        };
        pin_mut!(fut);
        let why = tokio::select! {
            r = &mut fut => return (r, false, None),
            _ = deadline => Interruption::Timeout { timeout_ms },
            _ = aborted(&opts.abort) => Interruption::Abort,
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
            Ok(Err(e)) if e.is_query_canceled() => (stopped(Stopped::Cancelled), !landed, Some(why)),
            // It failed on its own (or lost its connection): that error is the truth.
            Ok(Err(e)) => {
                let lost = e.spoils_connection() || !landed;
                (Err(e), lost, Some(why))
            }
            Err(_) => (stopped(Stopped::Unconfirmed), true, Some(why)),
        }
    }

    /// Bookkeeping after every statement: a statement that lost its connection (or may have)
    /// leaves it unusable, and the stats count it. Returns its duration (ms) and whether it was slow.
    fn finished<T>(
        &self,
        conn: &mut Conn,
        sql: &str,
        started: std::time::Instant,
        out: &Result<T, Error>,
    ) -> (f64, bool) {
        conn.broken |= out.as_ref().is_err_and(Error::spoils_connection);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        (ms, self.counted(sql, ms, out))
    }

    /// A statement's timeout in ms: its own, or the pool's queryTimeoutMs (0: none).
    pub(crate) fn timeout_ms(&self, opts: &QueryOptions) -> u64 {
        opts.timeout_ms.unwrap_or(self.settings.query_timeout_ms)
    }

    /// Counts a finished statement in the stats; whether it was slow.
    pub(crate) fn counted<T>(&self, sql: &str, ms: f64, out: &Result<T, Error>) -> bool {
        let code = out.as_ref().err().map(Error::code);
        self.stats.record_query(sql, ms, code, self.settings.slow_query_threshold_ms)
    }

    /// Graceful shutdown: waits up to `timeout` for work in flight, then closes every connection.
    pub(crate) async fn end(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // Out of time: statements still running are cancelled and reject (kind `closed`).
            self.shutdown.abort();
            let grace = tokio::time::Instant::now() + CANCEL_GRACE + Duration::from_millis(100);
            while self.running.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < grace {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.pool.close();
        // Closing drops the idle connections; their sockets close on the runtime a moment
        // later. Resolve once they have, so "after end() no connection remains" holds.
        let settle = tokio::time::Instant::now() + Duration::from_secs(1);
        while self.stats.open_connections.load(Ordering::Acquire) > 0
            && self.in_flight.load(Ordering::Acquire) == 0
            && tokio::time::Instant::now() < settle
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.events.clear_sink();
    }

    /// Closes idle connections above minConnections that idled past idleTimeoutMs.
    fn reap(&self) {
        let idle_ms = self.settings.idle_timeout_ms;
        if idle_ms == 0 {
            return;
        }
        let mut keep = self.settings.min_connections;
        let status = self.pool.status();
        let busy = status.size.saturating_sub(status.available);
        keep = keep.saturating_sub(busy);
        let limit = Duration::from_millis(idle_ms);
        self.pool.retain(|conn, metrics| {
            // A dead connection is never kept, not even to make up minConnections (refill does).
            if conn.client.is_closed() {
                return false;
            }
            if metrics.last_used() < limit || keep > 0 {
                keep = keep.saturating_sub(1);
                true
            } else {
                false
            }
        });
    }

    /// Opens connections until minConnections are open again (after idle or lifetime closes,
    /// or an outage), once the pool has been used. False when a connection could not be made.
    async fn refill(&self) -> bool {
        let min = self.settings.min_connections;
        if min == 0 || !self.used.load(Ordering::Relaxed) {
            return true;
        }
        let wait = Duration::from_millis(self.settings.connect_timeout_ms.clamp(1000, 10_000));
        let timeouts = Timeouts { wait: Some(wait), create: None, recycle: None };
        // Held until the loop ends, so each get opens a new connection instead of reusing one.
        let mut held = Vec::new();
        while self.pool.status().size < min && held.len() < min {
            match self.pool.timeout_get(&timeouts).await {
                Ok(conn) => held.push(conn),
                Err(_) => return false,
            }
        }
        true
    }

    /// Runs [`Self::reap`] and [`Self::refill`] periodically until the pool is dropped or
    /// closed; a failed refill is tried again after a backoff (doubling up to 30 s).
    pub(crate) async fn reaper(weak: Weak<PoolCore>) {
        let period = weak
            .upgrade()
            .map(|c| Duration::from_millis((c.settings.idle_timeout_ms / 4).clamp(250, 10_000)))
            .unwrap_or(Duration::from_secs(1));
        // A failed refill is tried again after period, 2 × period, … up to 30 s.
        let backoff = Backoff { initial_ms: period.as_secs_f64() * 1000.0, factor: 2.0, max_ms: 30_000.0, jitter: 0.0 };
        let mut failures = 0;
        let mut next_refill = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(period).await;
            let Some(core) = weak.upgrade().filter(|c| !c.pool.is_closed()) else { return };
            core.reap();
            if tokio::time::Instant::now() >= next_refill {
                if core.refill().await {
                    failures = 0;
                } else {
                    failures += 1;
                    next_refill = tokio::time::Instant::now() + backoff.steady(failures);
                }
            }
        }
    }
}

/// The result's text (an object) with one more field: `key` (`,"name":`) and `ms`, to the µs.
pub(crate) fn with_field(mut r: ResultText, key: &str, ms: f64) -> ResultText {
    r.json.pop();
    r.json.push_str(key);
    r.json.push_str(ryu::Buffer::new().format((ms * 1000.0).round() / 1000.0));
    r.json.push('}');
    r
}
