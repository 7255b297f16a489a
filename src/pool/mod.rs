//! The pool: checkout with a deadline, statements with timeouts that cancel on the server,
//! convoys of statements sharing a connection, streaming, graceful shutdown and the reaper.
//!
//! `PoolCore` is the shared state; each file holds one concern of it:
//! - `waiting.rs`: the line of statements waiting for a connection (first come, first served);
//! - `checkout.rs`: a turn in the line, then a connection within poolTimeoutMs;
//! - `lease.rs`: a checked-out connection and what is counted while it lives;
//! - `route.rs`: how a `pool.query` statement is served (alone, or in a convoy);
//! - `convoy.rs`: statements that share a connection while every connection is busy;
//! - `run.rs`: a statement, script or stream on a connection, and its outcome told;
//! - `supervise.rs`: timeouts, aborts and `end()` that cancel on the server;
//! - `stepwise.rs`: a statement run in steps (streams, COPY), each step bounded;
//! - `failover.rs`: a write refused as read-only on a pool meant for the primary;
//! - `upkeep.rs`: `end()`, the reaper, the refill to minConnections;
//! - `options.rs`: a statement's options and abort flags;
//! - `backend.rs`: what the core needs of a connection (the seam its tests use).

mod backend;
mod checkout;
mod convoy;
mod failover;
mod lease;
mod options;
mod route;
mod run;
mod stepwise;
mod supervise;
#[cfg(test)]
mod tests;
mod untasked;
mod upkeep;
mod waiting;

pub(crate) use self::backend::{Backend, Leasable};
use self::convoy::Riders;
use self::untasked::Untasked;
use self::waiting::WaitingLine;
use crate::breaker::Breaker;
use crate::config::Settings;
use crate::connection::Manager;
use crate::error::{Error, Interruption};
use crate::events::Events;
use crate::stats::{PoolGauges, Stats};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use self::checkout::Entered;
pub(crate) use self::lease::Lease;
use self::lease::{InFlight, Running};
use self::options::aborted;
pub(crate) use self::options::{AbortFlag, QueryOptions};
pub(crate) use self::route::Ready;
pub(crate) use self::run::with_field;
pub(crate) use self::stepwise::{Steps, Stepwise};

/// The shared state of one pool; its connections come from `M` (see `backend.rs`).
pub(crate) struct PoolCore<M: Backend = Manager> {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Background events (idle connection errors, utilization).
    pub events: Arc<Events>,
    /// This pool's id in log events (`pool` field).
    pub id: u64,
    pool: deadpool::managed::Pool<M>,
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
    /// The connection limit now: connectionLimit, until `resize` changes it.
    limit: AtomicUsize,
    /// One resize at a time (the line and deadpool change together).
    resizing: Mutex<()>,
    /// Those of them that a convoy may take along (see `src/pool/convoy.rs`).
    pub(crate) riders: Riders,
    /// Those of them waiting with no task (see `src/pool/untasked.rs`).
    untasked: Untasked,
}

impl PoolCore {
    /// A pool for `settings`; connects lazily.
    pub(crate) fn new(settings: Settings) -> Result<Arc<Self>, Error> {
        let settings = Arc::new(settings);
        let stats = Arc::new(Stats::default());
        let events = Arc::new(Events::new(Duration::from_millis(settings.utilization_alert_cooldown_ms)));
        let id = next_id();
        let manager = Manager::new(settings.clone(), stats.clone(), events.clone(), id)?;
        Self::with_manager(settings, stats, events, id, manager)
    }
    /// Where each new connection's password comes from (see `Manager::set_password_source`).
    pub(crate) fn set_password_source(&self, source: crate::connection::PasswordSource) {
        self.pool.manager().set_password_source(source);
    }

    /// The hook run on each new connection before it serves anyone (`onConnect`).
    pub(crate) fn set_connect_hook(&self, hook: crate::connection::ConnectHook) {
        self.pool.manager().set_connect_hook(hook);
    }

    /// Every host with its role now, as JSON (`pgwarden doctor`).
    pub(crate) async fn host_roles(&self) -> Result<String, Error> {
        Ok(serde_json::Value::Array(self.pool.manager().roles().await?).to_string())
    }
}

/// A new pool's id in log events.
fn next_id() -> u64 {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl<M: Backend> PoolCore<M> {
    /// A pool whose connections `manager` makes; connects lazily.
    pub(crate) fn with_manager(
        settings: Arc<Settings>,
        stats: Arc<Stats>,
        events: Arc<Events>,
        id: u64,
        manager: M,
    ) -> Result<Arc<Self>, Error> {
        let pool = deadpool::managed::Pool::builder(manager)
            .max_size(settings.connection_limit)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("pool build failed: {e}")))?;
        let breaker = settings.circuit_breaker.map(|(n, ms)| Breaker::new(n, Duration::from_millis(ms)));
        Ok(Arc::new(PoolCore {
            line: WaitingLine::new(settings.connection_limit),
            limit: AtomicUsize::new(settings.connection_limit),
            resizing: Mutex::new(()),
            riders: Riders::default(),
            untasked: Untasked::default(),
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

    /// deadpool's status, with the statements waiting in the line counted as waiting.
    pub(crate) fn status(&self) -> deadpool::Status {
        let mut s = self.pool.status();
        s.waiting += self.line.waiting();
        s
    }

    /// The pool's gauges now: the connections checked out (as the utilization alarm counts
    /// them), idle, the limit, and the callers waiting (in the line too).
    pub(crate) fn gauges(&self) -> PoolGauges {
        let s = self.status();
        PoolGauges {
            active: self.active.load(Ordering::Acquire),
            idle: s.available,
            limit: s.max_size,
            waiting: s.waiting,
        }
    }

    /// The connection limit now (connectionLimit, or what `resize` set).
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// `pool.resize(n)`: the connection limit becomes `n` (at least 1). Growing gives the
    /// waiting line more turns at once, and connections open as demand needs them; shrinking
    /// closes idle connections now and the rest as they are given back, interrupting nobody.
    pub(crate) fn resize(&self, n: usize) -> Result<(), Error> {
        if n == 0 {
            return Err(Error::Params("resize needs a connection limit of at least 1".into()));
        }
        let _one = self.resizing.lock().unwrap_or_else(|e| e.into_inner());
        let from = self.limit.swap(n, Ordering::AcqRel);
        self.line.resize(from, n);
        self.pool.resize(n);
        Ok(())
    }

    /// Whether the waiting line is full (`maxWaiting`): a caller that would wait is refused.
    fn line_full(&self) -> bool {
        let max = self.settings.max_waiting;
        max > 0 && self.line.waiting() >= max
    }

    /// The refusal of a caller the full waiting line has no room for, counted.
    fn line_full_error(&self) -> Error {
        Stats::bump(&self.stats.line_full_rejections);
        Error::WaitingLineFull { max_waiting: self.settings.max_waiting, limit: self.limit() }
    }

    /// Whether a statement has checked out a connection yet (the pool is no longer lazy).
    pub(crate) fn was_used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether `end()` closed the pool.
    pub(crate) fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// Registers the abort flag for statement `id` (an abort that came first is kept).
    pub(crate) fn abort_flag(&self, id: u32) -> Arc<AbortFlag> {
        let mut m = self.aborts.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id).or_default().clone()
    }

    /// Aborts statement `id` (from a JS AbortSignal, its request scope's deadline or a hang-up).
    pub(crate) fn abort(&self, id: u32, why: Interruption) {
        self.abort_flag(id).abort(why);
    }

    /// Forgets the abort flag of a finished statement.
    pub(crate) fn forget_abort(&self, id: u32) {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}
