//! The pool core without a server: checkout deadlines and P2024, connection retries and the
//! breaker, the waiting line's order, timeouts with confirmed, unconfirmed and shared cancels,
//! the convoy admission rule, release (`maxUses`, tidying) and `end()`, all on paused time, with
//! connections from a test manager (see `backend.rs`).

use super::route::Route;
use super::{AbortFlag, Backend, Leasable, PoolCore, QueryOptions};
use crate::cancel::{Cancel, CANCEL_GRACE};
use crate::config::{resolve, Settings};
use crate::error::{Error, Interruption, ServerError, Stopped};
use crate::events::Events;
use crate::stats::Stats;
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What the test manager and its connections did.
#[derive(Default)]
struct Log {
    /// Connection attempts, failed ones included.
    attempts: AtomicUsize,
    /// Connections closed.
    closed: AtomicUsize,
    /// Connections tidied before going back.
    tidied: AtomicUsize,
}

/// A connection that is only counted.
struct TestConn {
    uses: u64,
    broken: bool,
    /// Left in a transaction (as `reset::needs_tidy` would see it).
    dirty: bool,
    log: Arc<Log>,
}

impl Drop for TestConn {
    fn drop(&mut self) {
        self.log.closed.fetch_add(1, Ordering::Relaxed);
    }
}

impl Leasable for TestConn {
    fn on_lease(&mut self) {
        self.uses += 1;
    }
    fn on_return(&mut self) {}
    fn uses(&self) -> u64 {
        self.uses
    }
    fn is_broken(&self) -> bool {
        self.broken
    }
    fn set_broken(&mut self) {
        self.broken = true;
    }
    fn is_closed(&self) -> bool {
        false
    }
    fn needs_tidy(&self) -> bool {
        self.dirty
    }
    async fn tidy<'a>(&'a mut self, _: &'a Stats, _: &'a Events) -> Option<Value> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.dirty = false;
        self.log.tidied.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// Makes [`TestConn`]s, failing the attempts it was told to fail.
struct TestManager {
    log: Arc<Log>,
    /// The errors of the next attempts, in order; then attempts succeed.
    failures: Mutex<VecDeque<Error>>,
    /// Every attempt fails with this, once `failures` is empty.
    always: Mutex<Option<Error>>,
}

impl deadpool::managed::Manager for TestManager {
    type Type = TestConn;
    type Error = Error;

    async fn create(&self) -> Result<TestConn, Error> {
        self.log.attempts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1)).await;
        let failure = self.failures.lock().unwrap().pop_front().or_else(|| self.always.lock().unwrap().clone());
        match failure {
            Some(e) => Err(e),
            None => Ok(TestConn { uses: 0, broken: false, dirty: false, log: self.log.clone() }),
        }
    }

    async fn recycle(&self, conn: &mut TestConn, _: &Metrics) -> RecycleResult<Error> {
        if conn.broken {
            return Err(RecycleError::message("broken"));
        }
        Ok(())
    }
}

/// A pool of test connections with `options` (a connection string is added).
fn pool(options: Value) -> (Arc<PoolCore<Shared>>, Arc<TestManager>) {
    let mut options = options;
    options["connectionString"] = json!("postgres://tester@db.test/app");
    let settings: Settings = resolve(&options, &HashMap::new(), 2).expect("settings");
    let settings = Arc::new(settings);
    let events = Arc::new(Events::new(Duration::from_secs(10)));
    let log = Arc::new(Log::default());
    let manager = TestManager { log, failures: Mutex::default(), always: Mutex::default() };
    let core = PoolCore::with_manager(settings, Arc::new(Stats::default()), events, 0, Shared(Arc::new(manager)))
        .expect("pool");
    let manager = core.pool.manager().0.clone();
    (core, manager)
}

/// Lets a test keep the manager it gave the pool.
struct Shared(Arc<TestManager>);

impl deadpool::managed::Manager for Shared {
    type Type = TestConn;
    type Error = Error;
    fn create(&self) -> impl Future<Output = Result<TestConn, Error>> + Send {
        self.0.create()
    }
    fn recycle(&self, conn: &mut TestConn, m: &Metrics) -> impl Future<Output = RecycleResult<Error>> + Send {
        self.0.recycle(conn, m)
    }
}

/// A refused connection (retryable: nothing was sent).
fn refused() -> Error {
    Error::Unreachable { address: "db.test:5432".into(), reason: "connection refused".into() }
}

/// The server's answer to a cancelled statement.
fn cancelled_by_server() -> Error {
    let fields = ServerError {
        code: "57014".into(),
        message: "canceling statement due to user request".into(),
        ..Default::default()
    };
    Error::Server { fields: Box::new(fields), maybe_committed: false }
}

/// A cancel request whose arrival a test statement can wait for.
#[derive(Default)]
struct TestCancel {
    sent: AtomicUsize,
    arrived: Notify,
    /// The request fails (it may still land later).
    lost: bool,
}

impl Cancel for TestCancel {
    async fn cancel(&self) -> Result<(), String> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(3)).await;
        self.arrived.notify_waiters();
        if self.lost {
            Err("reset by peer".into())
        } else {
            Ok(())
        }
    }
}

/// A sent statement that answers 57014 once the cancel arrives (a server that honours it).
async fn until_cancelled(cancel: &TestCancel) -> Result<(), Error> {
    cancel.arrived.notified().await;
    Err(cancelled_by_server())
}

/// Options with a timeout of `ms`.
fn timeout(ms: u64) -> QueryOptions {
    QueryOptions { timeout_ms: Some(ms), ..Default::default() }
}

/// The error of a call that must fail.
fn rejection<T>(r: Result<T, Error>) -> Error {
    match r {
        Err(e) => e,
        Ok(_) => panic!("expected a rejection"),
    }
}

/// What stopped a statement and what is known of its outcome, if it was stopped.
fn interrupted(e: &Error) -> Option<(Interruption, Stopped)> {
    match e {
        Error::Interrupted { why, stopped } => Some((*why, *stopped)),
        _ => None,
    }
}

/// `fut`, or a failure after a minute of paused time (a hang fails the test instead of stalling it).
async fn within_a_minute<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut).await.expect("still waiting after a minute")
}

fn ms_since(t: Instant) -> u128 {
    t.elapsed().as_millis()
}

#[tokio::test(start_paused = true)]
async fn a_caller_waits_pool_timeout_then_gets_p2024() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "poolTimeoutMs": 500 }));
    let _held = core.acquire(None, false).await.expect("first");
    let t = Instant::now();
    let e = rejection(within_a_minute(core.acquire(None, false)).await);
    assert!(matches!(e, Error::PoolTimeout { timeout_ms: 500, limit: 1 }), "{e:?}");
    assert_eq!(e.code(), "P2024");
    assert_eq!(ms_since(t), 500);
    assert_eq!(core.stats.acquire_timeouts.load(Ordering::Relaxed), 1);
    assert_eq!(core.status().waiting, 0, "the caller left the line");
}

#[tokio::test(start_paused = true)]
async fn the_line_serves_callers_in_the_order_they_called() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "poolTimeoutMs": 0 }));
    let held = core.acquire(None, false).await.expect("first");
    let served = Arc::new(Mutex::new(Vec::new()));
    // Called in order 0..6, polled in the reverse order.
    let calls: Vec<_> = (0..6).map(|i| (i, core.acquire(None, false))).collect();
    assert_eq!(core.status().waiting, 6);
    let mut tasks = Vec::new();
    for (i, call) in calls.into_iter().rev() {
        let served = served.clone();
        tasks.push(tokio::spawn(async move {
            let lease = call.await.expect("served");
            served.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(1)).await;
            drop(lease);
        }));
    }
    tokio::task::yield_now().await;
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*served.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

#[tokio::test(start_paused = true)]
async fn a_caller_holding_a_connection_is_refused_at_once_instead_of_waiting() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "poolTimeoutMs": 0 }));
    let held = core.acquire(None, false).await.expect("first");
    let t = Instant::now();
    let e = rejection(within_a_minute(core.acquire(None, true)).await);
    assert!(matches!(e, Error::WouldWaitHolding { limit: 1 }), "{e:?}");
    assert_eq!(e.code(), "ERR_PGWARDEN_SELF_DEADLOCK");
    let opts = QueryOptions { no_wait: true, ..Default::default() };
    assert!(matches!(rejection(core.checkout_for(&opts).await), Error::WouldWaitHolding { .. }));
    assert_eq!(ms_since(t), 0);
    assert_eq!(core.status().waiting, 0, "nobody entered the line");
    drop(held);
    core.acquire(None, true).await.expect("a free connection is taken as usual");
}

#[tokio::test(start_paused = true)]
async fn an_abort_keeps_what_raised_it() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "poolTimeoutMs": 0 }));
    let _held = core.acquire(None, false).await.expect("first");
    let flag = Arc::new(AbortFlag::default());
    let opts = QueryOptions { abort: Some(flag.clone()), ..Default::default() };
    let waiting = {
        let core = core.clone();
        tokio::spawn(async move { core.checkout_for(&opts).await.map(drop) })
    };
    tokio::task::yield_now().await;
    flag.abort(Interruption::Deadline { timeout_ms: 800 });
    flag.abort(Interruption::HungUp); // a later reason does not replace the first
    let e = rejection(waiting.await.unwrap());
    assert_eq!(interrupted(&e), Some((Interruption::Deadline { timeout_ms: 800 }, Stopped::NotSent)));
    assert_eq!(e.code(), "P1008");
    assert!(e.message().contains("withContext timeoutMs: 800ms"), "{}", e.message());
}

#[tokio::test(start_paused = true)]
async fn an_abort_while_waiting_rejects_unsent_and_holds_nobody_up() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "poolTimeoutMs": 0 }));
    let held = core.acquire(None, false).await.expect("first");
    let flag = Arc::new(AbortFlag::default());
    let opts = QueryOptions { abort: Some(flag.clone()), ..Default::default() };
    let first = {
        let core = core.clone();
        tokio::spawn(async move { core.checkout_for(&opts).await.map(drop) })
    };
    tokio::task::yield_now().await;
    let second = core.acquire(None, false);
    flag.abort(Interruption::Abort);
    let e = rejection(first.await.unwrap());
    assert_eq!(interrupted(&e), Some((Interruption::Abort, Stopped::NotSent)));
    drop(held);
    let t = Instant::now();
    second.await.expect("the next caller is served");
    assert_eq!(ms_since(t), 0);
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_retried_with_backoff_until_it_opens() {
    let (core, manager) = pool(json!({ "poolTimeoutMs": 5000 }));
    manager.failures.lock().unwrap().extend([refused(), refused()]);
    let t = Instant::now();
    core.acquire(None, false).await.expect("opened on the third attempt");
    assert_eq!(manager.log.attempts.load(Ordering::Relaxed), 3);
    assert!(ms_since(t) >= 50, "it paused between attempts: {}ms", ms_since(t));
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_is_given_up_at_the_deadline_with_its_own_error() {
    let (core, manager) = pool(json!({ "poolTimeoutMs": 1000 }));
    *manager.always.lock().unwrap() = Some(refused());
    let t = Instant::now();
    let e = rejection(core.acquire(None, false).await);
    assert_eq!(e.code(), "P1001", "the last attempt's error, not a pool timeout: {e:?}");
    let waited = ms_since(t);
    assert!((980..=1000).contains(&waited), "gave up at the deadline, not before: {waited}ms");
    assert!(manager.log.attempts.load(Ordering::Relaxed) > 3);
}

#[tokio::test(start_paused = true)]
async fn a_connection_error_that_is_not_retryable_is_returned_at_once() {
    let (core, manager) = pool(json!({ "poolTimeoutMs": 5000 }));
    let fields =
        ServerError { code: "28P01".into(), message: "password authentication failed".into(), ..Default::default() };
    *manager.always.lock().unwrap() = Some(Error::Server { fields: Box::new(fields), maybe_committed: false });
    let e = rejection(core.acquire(None, false).await);
    assert_eq!(e.code(), "28P01");
    assert_eq!(manager.log.attempts.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_fails_fast_while_open_then_lets_one_probe_through() {
    let (core, manager) =
        pool(json!({ "poolTimeoutMs": 5000, "circuitBreaker": { "failureThreshold": 2, "cooldownMs": 1000 } }));
    *manager.always.lock().unwrap() = Some(refused());
    for _ in 0..2 {
        rejection(core.acquire(None, false).await);
    }
    assert_eq!(manager.log.attempts.load(Ordering::Relaxed), 2, "no retries behind a breaker");
    let t = Instant::now();
    let e = rejection(core.acquire(None, false).await);
    assert!(e.to_string().contains("circuit breaker open"), "{e}");
    assert_eq!(ms_since(t), 0);
    assert_eq!(manager.log.attempts.load(Ordering::Relaxed), 2, "nothing tried while open");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    *manager.always.lock().unwrap() = None;
    core.acquire(None, false).await.expect("the probe opens a connection and closes the breaker");
    core.acquire(None, false).await.expect("closed again");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_confirmed_by_the_server_is_not_committed() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel::default());
    let t = Instant::now();
    let (out, broken) = core.supervise(&cancel, &timeout(100), until_cancelled(&cancel)).await;
    let e = rejection(out);
    assert_eq!(interrupted(&e), Some((Interruption::Timeout { timeout_ms: 100 }, Stopped::Cancelled)));
    assert!(!e.maybe_committed());
    assert!(!broken, "the connection is clean and reused");
    assert_eq!(cancel.sent.load(Ordering::Relaxed), 1);
    assert!(ms_since(t) < 110, "{}", ms_since(t));
}

#[tokio::test(start_paused = true)]
async fn a_cancel_not_answered_within_the_grace_leaves_the_outcome_unknown() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel::default());
    let t = Instant::now();
    let (out, broken) = core.supervise(&cancel, &timeout(100), std::future::pending::<Result<(), Error>>()).await;
    let e = rejection(out);
    let grace_ms = CANCEL_GRACE.as_millis() as u64;
    assert_eq!(interrupted(&e), Some((Interruption::Timeout { timeout_ms: 100 }, Stopped::Unconfirmed { grace_ms })));
    assert!(e.maybe_committed());
    assert!(broken, "the connection is closed");
    assert_eq!(ms_since(t), 100 + CANCEL_GRACE.as_millis());
}

#[tokio::test(start_paused = true)]
async fn a_cancel_request_not_seen_through_closes_the_connection() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel { lost: true, ..Default::default() });
    let (out, broken) = core.supervise(&cancel, &timeout(100), until_cancelled(&cancel)).await;
    assert_eq!(interrupted(&rejection(out)).map(|(_, s)| s), Some(Stopped::Cancelled));
    assert!(broken, "its signal may still land on the connection's next statement");
}

#[tokio::test(start_paused = true)]
async fn a_statement_that_finishes_as_it_is_stopped_keeps_its_result() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel::default());
    let answers = async {
        cancel.arrived.notified().await;
        Ok::<_, Error>(7)
    };
    let (out, broken) = core.supervise(&cancel, &timeout(100), answers).await;
    assert_eq!(out.expect("its real result"), 7);
    assert!(!broken);
}

#[tokio::test(start_paused = true)]
async fn a_statement_sharing_its_connection_is_abandoned_not_cancelled() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel::default());
    let unanswered = AtomicUsize::new(2);
    let (out, broken, why) =
        core.supervise_shared(&cancel, &timeout(100), until_cancelled(&cancel), Some(&unanswered)).await;
    let e = rejection(out);
    assert_eq!(interrupted(&e), Some((Interruption::Timeout { timeout_ms: 100 }, Stopped::Shared)));
    assert!(e.maybe_committed() && broken);
    assert_eq!(why, Some(Interruption::Timeout { timeout_ms: 100 }));
    assert_eq!(cancel.sent.load(Ordering::Relaxed), 0, "a cancel could stop a neighbour");
}

#[tokio::test(start_paused = true)]
async fn behind_pgbouncer_a_statement_is_abandoned_not_cancelled() {
    let (core, _) = pool(json!({ "pgbouncer": true }));
    let cancel = Arc::new(TestCancel::default());
    let (out, broken) = core.supervise(&cancel, &timeout(100), until_cancelled(&cancel)).await;
    assert_eq!(interrupted(&rejection(out)).map(|(_, s)| s), Some(Stopped::Abandoned));
    assert!(broken);
    assert_eq!(cancel.sent.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn an_abort_before_sending_sends_nothing() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel::default());
    let flag = Arc::new(AbortFlag::default());
    flag.abort(Interruption::Abort);
    let opts = QueryOptions { abort: Some(flag), ..Default::default() };
    let sent = AtomicUsize::new(0);
    let statement = async {
        sent.fetch_add(1, Ordering::Relaxed);
        Ok::<_, Error>(())
    };
    let (out, broken) = core.supervise(&cancel, &opts, statement).await;
    assert_eq!(interrupted(&rejection(out)), Some((Interruption::Abort, Stopped::NotSent)));
    assert!(!broken);
    assert_eq!(sent.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn end_waits_for_work_in_flight_to_finish() {
    let (core, _) = pool(json!({}));
    let lease = core.acquire(None, false).await.expect("lease");
    let work = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(lease);
    });
    let t = Instant::now();
    core.end(Duration::from_secs(5)).await;
    assert!((200..210).contains(&ms_since(t)), "{}", ms_since(t));
    work.await.unwrap();
    assert!(core.is_closed());
    let e = rejection(core.acquire(None, false).await);
    assert_eq!(e.code(), "ERR_PGWARDEN_CLOSED");
}

#[tokio::test(start_paused = true)]
async fn end_out_of_time_cancels_what_still_runs() {
    let (core, _) = pool(json!({ "queryTimeoutMs": 0 }));
    let lease = core.acquire(None, false).await.expect("lease");
    let running = {
        let core = core.clone();
        tokio::spawn(async move {
            let cancel = Arc::new(TestCancel::default());
            let out = core.supervise(&cancel, &QueryOptions::default(), until_cancelled(&cancel)).await;
            drop(lease);
            out
        })
    };
    tokio::task::yield_now().await;
    let t = Instant::now();
    core.end(Duration::from_millis(300)).await;
    let (out, broken) = within_a_minute(running).await.unwrap();
    assert_eq!(interrupted(&rejection(out)), Some((Interruption::Shutdown, Stopped::Cancelled)));
    assert!(!broken);
    assert!((300..320).contains(&ms_since(t)), "{}", ms_since(t));
    assert!(core.is_closed());
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_served_max_uses_is_closed_when_released() {
    let (core, manager) = pool(json!({ "maxUses": 2, "connectionLimit": 1 }));
    drop(core.acquire(None, false).await.expect("1"));
    drop(core.acquire(None, false).await.expect("2"));
    assert_eq!(manager.log.closed.load(Ordering::Relaxed), 1);
    assert_eq!(core.acquire(None, false).await.expect("3").conn.uses, 1, "a new connection");
    assert_eq!(manager.log.attempts.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn a_connection_left_dirty_is_tidied_before_the_next_caller_gets_it() {
    let (core, manager) = pool(json!({ "connectionLimit": 1 }));
    let mut lease = core.acquire(None, false).await.expect("1");
    lease.conn.dirty = true;
    drop(lease);
    let next = core.acquire(None, false).await.expect("2");
    assert!(!next.conn.dirty);
    assert_eq!(manager.log.tidied.load(Ordering::Relaxed), 1);
    assert_eq!(manager.log.attempts.load(Ordering::Relaxed), 1, "the same connection, tidied");
}

/// How `core` would serve `sql` called now.
fn route_of<M: Backend>(core: &Arc<PoolCore<M>>, sql: &str, opts: QueryOptions) -> &'static str {
    match core.route(&Arc::from(sql), Vec::new(), opts) {
        Route::Refused(_) => "refused",
        Route::Alone { .. } => "alone",
        Route::Lead { .. } => "lead",
        Route::Ride { .. } => "ride",
    }
}

#[tokio::test(start_paused = true)]
async fn statements_ride_convoys_only_while_nobody_before_them_waits_alone() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "pipelineDepth": 4, "poolTimeoutMs": 0 }));
    assert_eq!(route_of(&core, "SELECT $1", QueryOptions::default()), "refused", "parameters checked first");
    assert_eq!(route_of(&core, "SELECT 1", QueryOptions::default()), "lead", "a free turn: it leads");
    let held = core.acquire(None, false).await.expect("the only connection");
    assert_eq!(route_of(&core, "SELECT 1", QueryOptions::default()), "ride", "all busy: offered to convoys");
    assert_eq!(route_of(&core, "SET search_path = x", QueryOptions::default()), "alone", "session changes never ride");
    let aborting = QueryOptions { abort: Some(Arc::default()), ..Default::default() };
    assert_eq!(route_of(&core, "SELECT 1", aborting), "alone", "an abortable statement never rides");
    let waiting_alone = core.acquire(None, false);
    assert_eq!(route_of(&core, "SELECT 1", QueryOptions::default()), "lead", "behind a caller who waits alone");
    drop(waiting_alone);
    assert_eq!(route_of(&core, "SELECT 1", QueryOptions::default()), "ride");
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn without_pipelining_every_statement_runs_alone() {
    let (core, _) = pool(json!({ "connectionLimit": 1, "pipelineDepth": 1 }));
    let _held = core.acquire(None, false).await.expect("the only connection");
    assert_eq!(route_of(&core, "SELECT 1", QueryOptions::default()), "alone");
}

#[tokio::test(start_paused = true)]
async fn a_later_step_reading_the_cancel_of_an_earlier_one_is_told_as_that_cancel() {
    let (core, _) = pool(json!({}));
    let cancel = Arc::new(TestCancel::default());
    let steps = super::Steps::default();
    // The first step finishes just as its timeout fires: its cancel lands on what comes next.
    let finishes_as_cancelled = async {
        cancel.arrived.notified().await;
        Ok::<_, Error>(())
    };
    let (first, broken) = core.step(&steps, &cancel, &timeout(100), finishes_as_cancelled).await;
    assert!(first.is_ok() && !broken);
    let reads_the_cancel = async { Err::<(), _>(cancelled_by_server()) };
    let (second, _) = core.step(&steps, &cancel, &timeout(100), reads_the_cancel).await;
    assert_eq!(interrupted(&rejection(second)), Some((Interruption::Timeout { timeout_ms: 100 }, Stopped::Cancelled)));
    let (third, _) = core.step(&steps, &cancel, &timeout(100), async { Err::<(), _>(cancelled_by_server()) }).await;
    assert_eq!(rejection(third).code(), "57014", "told once: a later 57014 is the server's own");
}
