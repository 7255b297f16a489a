//! Statements that wait for their turn with no task. Under a burst thousands of `pool.query`
//! statements wait in the line, and a task each (its future and tokio's header) was most of
//! what a waiting statement cost: about 1.9 KB. A statement that only its turn, its deadline
//! or `end()` can end waits instead as a record of its route and what starts it: its place in
//! the line wakes the record when the turn comes, which starts its work then (a task from
//! there on). One sweeper task per pool, running while records wait, ends those whose
//! deadline passed (poolTimeoutMs) and, once `end()` runs out of time, all of them.

use super::{PoolCore, Ready};
use crate::error::{Error, Interruption};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Wake, Waker};
use std::time::Duration;
use tokio::time::Instant;

/// What starts a statement when its wait ends: with the statement when its turn came, or with
/// the error that ended its wait.
pub(crate) type Start = Box<dyn FnOnce(Result<Ready, Error>) + Send>;

/// A statement waiting for its turn with no task.
struct Waiting {
    /// The statement and what starts it, until its wait ends.
    job: Mutex<Option<(Ready, Start)>>,
    /// Woken before its job was put in (the turn came as it was being watched).
    woken: AtomicBool,
}

impl Waiting {
    fn take(&self) -> Option<(Ready, Start)> {
        self.job.lock().ok()?.take()
    }

    fn is_waiting(&self) -> bool {
        self.job.lock().is_ok_and(|j| j.is_some())
    }
}

impl Wake for Waiting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    /// Its turn came: its work starts now. Called where the turn was given back (a runtime
    /// worker, or the JS thread), outside the line's lock.
    fn wake_by_ref(self: &Arc<Self>) {
        let job = match self.job.lock() {
            Ok(mut job) => {
                let taken = job.take();
                if taken.is_none() {
                    self.woken.store(true, Ordering::Release);
                }
                taken
            }
            Err(_) => None,
        };
        if let Some((ready, start)) = job {
            started(start, Ok(ready));
        }
    }
}

/// A start not yet run, and what it is to be called with.
type Pending = (Start, Result<Ready, Error>);

thread_local! {
    /// While this thread runs a start: the starts that came meanwhile, to run after it.
    static STARTING: RefCell<Option<VecDeque<Pending>>> = const { RefCell::new(None) };
}

/// Calls `start` with `out`, a panic in it caught: it runs inside a wake, where one must not
/// unwind. A start that drops its statement at once (its runtime is gone) gives the turn to the
/// next in line, whose wake comes back here: those starts run after it, in a loop, rather than
/// ever deeper on the stack (a burst's line is thousands long).
fn started(start: Start, out: Result<Ready, Error>) {
    let first = STARTING.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_mut() {
            Some(later) => {
                later.push_back((start, out));
                None
            }
            None => {
                *s = Some(VecDeque::new());
                Some((start, out))
            }
        }
    });
    let Some(first) = first else { return }; // the outermost start runs it
    let mut next = Some(first);
    while let Some((start, out)) = next {
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| start(out)));
        next = STARTING.with(|s| s.borrow_mut().as_mut().and_then(VecDeque::pop_front));
    }
    STARTING.with(|s| *s.borrow_mut() = None);
}

/// The statements of a pool waiting with no task, in the order they entered the line.
#[derive(Default)]
pub(crate) struct Untasked {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Each with its deadline; gone once its wait ended.
    waiting: VecDeque<(Option<Instant>, Weak<Waiting>)>,
    /// Whether the sweeper task runs.
    sweeping: bool,
}

/// How often the sweeper looks at the queue when no deadline is nearer (to drop the records
/// of statements started meanwhile, and to see `end()`).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl PoolCore {
    /// `ready` waits for its turn with no task, `start` called when the wait ends (at once,
    /// when the turn has come). `ready` has an untasked entry (see [`Ready::untasked_entry`]).
    pub(super) fn wait_untasked(self: &Arc<Self>, mut ready: Ready, start: Start) {
        let waiting = Arc::new(Waiting { job: Mutex::new(None), woken: AtomicBool::new(false) });
        let waker = Waker::from(waiting.clone());
        let Some(entered) = ready.untasked_entry() else { return started(start, Ok(ready)) };
        let deadline = entered.deadline();
        if entered.watch(&waker) {
            return started(start, Ok(ready));
        }
        {
            let Ok(mut job) = waiting.job.lock() else { return started(start, Ok(ready)) };
            if !waiting.woken.load(Ordering::Acquire) {
                *job = Some((ready, start));
                drop(job);
                return self.queue_untasked(deadline, &waiting);
            }
        }
        // The turn came while it was being watched.
        started(start, Ok(ready));
    }

    fn queue_untasked(self: &Arc<Self>, deadline: Option<Instant>, waiting: &Arc<Waiting>) {
        let sweep = {
            let Ok(mut q) = self.untasked.queue.lock() else { return };
            // The sweeper looks only at the front: deadlines must rise along the queue. They do,
            // as every `pool.query` waits poolTimeoutMs from its call, and calls come in order.
            debug_assert!(q.waiting.back().is_none_or(|(last, _)| *last <= deadline || deadline.is_none()));
            q.waiting.push_back((deadline, Arc::downgrade(waiting)));
            !std::mem::replace(&mut q.sweeping, true)
        };
        if sweep {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(self.clone().sweep())),
                // Outside the runtime (a bug): the next statement queued tries again.
                Err(_) => {
                    if let Ok(mut q) = self.untasked.queue.lock() {
                        q.sweeping = false;
                    }
                }
            }
        }
    }

    /// The sweeper: ends the waits whose deadline passed, and every wait once `end()` ran out
    /// of time; stops when no statement waits.
    async fn sweep(self: Arc<Self>) {
        loop {
            let next = {
                let Ok(mut q) = self.untasked.queue.lock() else { return };
                while q.waiting.front().is_some_and(|(_, w)| !w.upgrade().is_some_and(|w| w.is_waiting())) {
                    q.waiting.pop_front();
                }
                let Some((deadline, _)) = q.waiting.front() else {
                    q.sweeping = false;
                    q.waiting.shrink_to(64);
                    return;
                };
                let look = Instant::now() + SWEEP_EVERY;
                deadline.map_or(look, |d| d.min(look))
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.shutdown.wait() => {}
            }
            self.end_waits();
        }
    }

    /// Ends the waits whose deadline passed (all of them once `end()` ran out of time), oldest
    /// first; they leave the line.
    fn end_waits(&self) {
        let shut = self.shutdown.is_aborted();
        let now = Instant::now();
        let ended: Vec<Arc<Waiting>> = {
            let Ok(mut q) = self.untasked.queue.lock() else { return };
            let mut ended = Vec::new();
            while let Some((deadline, _)) = q.waiting.front() {
                if !shut && !deadline.is_some_and(|d| d <= now) {
                    break;
                }
                if let Some((_, w)) = q.waiting.pop_front() {
                    ended.extend(w.upgrade());
                }
            }
            ended
        };
        for waiting in ended {
            let Some((mut ready, start)) = waiting.take() else { continue };
            let why = match ready.untasked_entry() {
                Some(entered) if !shut => self.counted_timeout(self.pool_timeout(entered.wait_ms())),
                _ => Error::not_sent(Interruption::Shutdown),
            };
            // Its place leaves the line before it is told.
            drop(ready);
            started(start, Err(why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve;
    use crate::pool::QueryOptions;
    use std::collections::HashMap;

    /// A pool of `limit` connections that never connects (its turns are held by the test), and
    /// one statement per connection (no convoys: a waiting statement would ride one instead).
    fn pool(limit: u32, pool_timeout_ms: u64) -> Arc<PoolCore> {
        let options = serde_json::json!({
            "connectionString": "postgres://u@127.0.0.1:9/db",
            "connectionLimit": limit,
            "poolTimeoutMs": pool_timeout_ms,
            "pipelineDepth": 1,
        });
        PoolCore::new(resolve(&options, &HashMap::new(), 2).expect("settings")).expect("pool")
    }

    /// What each statement's start was called with, in order: its number, and its error.
    type Log = Arc<Mutex<Vec<(usize, Option<String>)>>>;

    /// Statements started, kept as a task would keep them: each holds its turn.
    static KEPT: Mutex<Vec<Ready>> = Mutex::new(Vec::new());

    fn start(log: &Log, i: usize) -> impl FnOnce(Result<Ready, Error>) + Send + 'static {
        let log = log.clone();
        move |out| {
            let error = match out {
                Ok(ready) => {
                    KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(ready);
                    None
                }
                Err(e) => Some(format!("{e:?}")),
            };
            log.lock().unwrap().push((i, error));
        }
    }

    fn statement(core: &Arc<PoolCore>, log: &Log, i: usize) {
        let ready = core.ready("SELECT 1".into(), vec![], QueryOptions::default());
        core.start_or_wait(ready, start(log, i));
    }

    /// Holds every turn of `core`'s line.
    fn hold_turns(core: &Arc<PoolCore>, n: usize) -> Vec<crate::pool::waiting::Entry> {
        (0..n).map(|_| core.line.enter(false)).collect()
    }

    #[tokio::test]
    async fn a_waiting_statement_has_no_task_and_starts_when_its_turn_comes_in_order() {
        let core = pool(2, 0);
        let log = Log::default();
        let mut held = hold_turns(&core, 2);
        let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        for i in 0..1000 {
            statement(&core, &log, i);
        }
        assert!(log.lock().unwrap().is_empty(), "nobody started while every turn is held");
        assert_eq!(core.line.waiting(), 1000);
        let alive = tokio::runtime::Handle::current().metrics().num_alive_tasks() - tasks;
        assert!(alive <= 1, "{alive} tasks for 1,000 waiting statements (the sweeper at most)");
        held.pop();
        let started = log.lock().unwrap().clone();
        assert_eq!(started, [(0, None)], "a turn given back starts the first in line, at once");
        drop(held);
        let started: Vec<usize> = log.lock().unwrap().iter().map(|(i, _)| *i).collect();
        assert_eq!(started, [0, 1], "then the second");
    }

    /// Waits up to 2 s for `log` to hold `n` starts.
    async fn started(log: &Log, n: usize) -> Vec<(usize, Option<String>)> {
        for _ in 0..400 {
            if log.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        log.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_wait_ends_at_its_deadline_and_leaves_the_line() {
        let core = pool(1, 100);
        let log = Log::default();
        let held = hold_turns(&core, 1);
        let called = std::time::Instant::now();
        statement(&core, &log, 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(log.lock().unwrap().is_empty(), "still waiting before its deadline");
        let ended = started(&log, 1).await;
        assert_eq!(ended.len(), 1, "ended by its deadline");
        assert!(called.elapsed() >= Duration::from_millis(100), "not before it");
        assert!(ended[0].1.as_deref().is_some_and(|e| e.contains("PoolTimeout")), "{ended:?}");
        assert_eq!(core.line.waiting(), 0, "out of the line");
        assert_eq!(core.stats.acquire_timeouts.load(Ordering::Relaxed), 1, "counted as a timeout");
        drop(held);
        assert_eq!(log.lock().unwrap().len(), 1, "not started again when a turn is given back");
    }

    #[tokio::test]
    async fn end_out_of_time_ends_every_wait() {
        let core = pool(1, 0);
        let log = Log::default();
        let _held = hold_turns(&core, 1);
        for i in 0..3 {
            statement(&core, &log, i);
        }
        let raised = std::time::Instant::now();
        core.shutdown.abort(Interruption::Shutdown);
        let started = started(&log, 3).await;
        assert!(raised.elapsed() < Duration::from_millis(200), "ended at once, not at a later sweep");
        assert_eq!(started.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(started.iter().all(|(_, e)| e.as_deref().is_some_and(|e| e.contains("Shutdown"))), "{started:?}");
        assert_eq!(core.line.waiting(), 0);
    }

    /// A place asked when its task's budget is spent gets "not yet" even though its turn has
    /// come, and tokio wakes its waker later (when the task yields). It is started then, not
    /// left waiting.
    #[tokio::test]
    async fn a_turn_answered_not_yet_for_want_of_budget_still_starts_it() {
        let core = pool(1, 0);
        let log = Log::default();
        let mut held = hold_turns(&core, 1);
        let ready = core.ready("SELECT 1".into(), vec![], QueryOptions::default());
        held.pop(); // its place has the turn now, but it has not been asked since
        for _ in 0..128 {
            tokio::task::consume_budget().await; // the budget spent, without yielding
        }
        core.start_or_wait(ready, start(&log, 0));
        assert!(log.lock().unwrap().is_empty(), "answered not yet");
        tokio::task::yield_now().await;
        assert_eq!(log.lock().unwrap().clone(), [(0, None)], "started once the wake came");
    }

    #[tokio::test]
    async fn a_statement_whose_turn_is_free_starts_at_once() {
        let core = pool(1, 0);
        let log = Log::default();
        statement(&core, &log, 0);
        assert_eq!(log.lock().unwrap().clone(), [(0, None)]);
    }
}
