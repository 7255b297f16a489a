//! Hand-off: a connection given back on the JS thread goes straight to the `acquire()` waiting
//! for it, in the same call, as pg-pool hands a released client to its next waiter.
//!
//! A waiting `acquire()` is a future on the runtime. When a release gave its turn back, a
//! worker used to poll that future, which then resolved a promise that the JS thread only saw
//! on a later turn of its event loop: a thread hop and an event-loop wait between one
//! transaction's end and the next one's BEGIN (at pool 10 under Prisma, the connection idled
//! that long between transactions). So the future is a [`Drive`]: its task on the runtime
//! drives it as before, but a wake that comes while this thread is [`releasing`] is kept
//! back, and the releasing thread polls the woken drive itself, at once, taking its output
//! when it is ready. Wakes it does not use go on to the tasks.
//!
//! Fairness is the waiting line's: a release wakes only the waiter the line gave its turn to.

use futures_util::task::AtomicWaker;
use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// The boxed future a [`Drive`] holds.
type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A future that its runtime task drives, and that the thread which readied it may finish.
pub(crate) struct Drive<T> {
    /// Names it to JS (the `acquire()` it is).
    id: u32,
    /// The waker of the task's last poll. Outside `state`: a future may wake itself while it is
    /// polled under `state`'s lock (tokio does, when a task has used up its budget).
    task: AtomicWaker,
    state: Mutex<State<T>>,
}

enum State<T> {
    /// Not finished.
    Running(Boxed<T>),
    /// Finished elsewhere with an output the task is to deliver.
    Ready(T),
    /// Its output was taken (by the task, or by [`releasing`]).
    Taken,
}

thread_local! {
    /// While this thread is [`releasing`]: the drives woken meanwhile, their wakes kept back.
    static KEPT_BACK: RefCell<Option<Vec<Arc<dyn KeptWake>>>> = const { RefCell::new(None) };
}

/// A drive whose wake was kept back, whatever its output type.
trait KeptWake: Send + Sync {
    /// Passes the wake on to its task.
    fn wake_task(&self);
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: Send + 'static> KeptWake for Drive<T> {
    fn wake_task(&self) {
        self.task.wake();
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl<T: Send + 'static> Wake for Drive<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let kept = KEPT_BACK.with(|k| match k.borrow_mut().as_mut() {
            Some(list) => {
                list.push(self.clone());
                true
            }
            None => false,
        });
        if !kept {
            self.wake_task();
        }
    }
}

impl<T: Send + 'static> Drive<T> {
    /// A drive of `future`, acquire `id`; [`Drive::task`] is what the runtime runs.
    pub(crate) fn new(id: u32, future: impl Future<Output = T> + Send + 'static) -> Arc<Self> {
        Arc::new(Drive { id, task: AtomicWaker::new(), state: Mutex::new(State::Running(Box::pin(future))) })
    }

    /// The id it was made with.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The runtime's side: the future's output, or `None` when it was taken by a release.
    pub(crate) fn task(self: Arc<Self>) -> impl Future<Output = Option<T>> + Send + 'static {
        let waker = Waker::from(self.clone());
        // The future holds wakers of its drive: a task dropped before the end drops it, so
        // neither keeps the other (and the future's place in the line) alive.
        let _ends = EndsUnfinished(self.clone());
        std::future::poll_fn(move |cx| {
            let _ = &_ends;
            self.task.register(cx.waker());
            let Ok(mut state) = self.state.lock() else { return Poll::Ready(None) };
            match &mut *state {
                State::Running(future) => match future.as_mut().poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(out) => {
                        *state = State::Taken;
                        Poll::Ready(Some(out))
                    }
                    Poll::Pending => Poll::Pending,
                },
                State::Ready(_) => match std::mem::replace(&mut *state, State::Taken) {
                    State::Ready(out) => Poll::Ready(Some(out)),
                    _ => Poll::Ready(None),
                },
                State::Taken => Poll::Ready(None),
            }
        })
    }

    /// Polls the future once, now, on this thread (within the drive's runtime): its output when
    /// it is ready at once (a panic gives `panicked()`). Called where the drive is made, before
    /// its task exists: from then on the future has the drive's waker, so a release finds it.
    pub(crate) fn poll_now(self: &Arc<Self>, panicked: impl FnOnce() -> T) -> Option<T> {
        self.take_if(Ok, panicked)
    }

    /// Polls the future once on this thread (its task is not polling it: its wake was kept
    /// back, or it has none yet). Its output is taken as what `take` makes of it; an output
    /// `take` gives back is left for the task, as is the output `panicked()` gives for a panic
    /// while polling. Either way the task is woken to end (with `None` when taken).
    fn take_if<U>(self: &Arc<Self>, take: impl FnOnce(T) -> Result<U, T>, panicked: impl FnOnce() -> T) -> Option<U> {
        let Ok(mut state) = self.state.lock() else { return None };
        let State::Running(future) = &mut *state else { return None };
        let waker = Waker::from(self.clone());
        let polled =
            std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut Context::from_waker(&waker))));
        let out = match polled {
            Ok(Poll::Pending) => return None,
            Ok(Poll::Ready(out)) => out,
            Err(_) => panicked(),
        };
        let (next, out) = match take(out) {
            Ok(taken) => (State::Taken, Some(taken)),
            Err(left) => (State::Ready(left), None),
        };
        *state = next;
        drop(state);
        self.task.wake();
        out
    }
}

/// Drops a drive's future if its task ends before it does.
struct EndsUnfinished<T>(Arc<Drive<T>>);

impl<T> Drop for EndsUnfinished<T> {
    fn drop(&mut self) {
        let unfinished = match self.0.state.lock() {
            Ok(mut s) if matches!(*s, State::Running(_)) => Some(std::mem::replace(&mut *s, State::Taken)),
            _ => None,
        };
        // Dropped outside the lock: the future's drop may wake its drive.
        drop(unfinished);
    }
}

/// Runs `release` (which gives turns back) keeping back the wakes it causes on this thread;
/// then the first woken drive of output type `T` that is ready with an output `take` accepts
/// is taken, as what `take` makes of it, with its id. Every other kept-back wake goes on to
/// its task. Call it within the drives' runtime (their futures may start timers when polled).
pub(crate) fn releasing<T: Send + 'static, U>(
    release: impl FnOnce(),
    take: impl Fn(T) -> Result<U, T>,
    panicked: impl Fn() -> T,
) -> Option<(u32, U)> {
    let keeping = KeepingBack::start();
    release();
    if keeping.nested {
        return None; // the outermost release serves them
    }
    let mut taken = None;
    for kept in keeping.stop() {
        if taken.is_none() {
            if let Ok(drive) = kept.clone().as_any().downcast::<Drive<T>>() {
                if let Some(out) = drive.take_if(&take, &panicked) {
                    taken = Some((drive.id, out));
                    continue;
                }
            }
        }
        kept.wake_task();
    }
    taken
}

/// This thread keeping wakes back, until [`KeepingBack::stop`] or a panic: then every wake
/// kept back goes on to its task, so none is lost.
struct KeepingBack {
    /// Inside another release's keeping back, which serves the wakes.
    nested: bool,
}

impl KeepingBack {
    fn start() -> Self {
        let nested = KEPT_BACK.with(|k| {
            let mut k = k.borrow_mut();
            let nested = k.is_some();
            k.get_or_insert_with(Vec::new);
            nested
        });
        KeepingBack { nested }
    }

    /// Stops keeping wakes back; the ones kept.
    fn stop(self) -> Vec<Arc<dyn KeptWake>> {
        KEPT_BACK.with(|k| k.borrow_mut().take()).unwrap_or_default()
    }
}

impl Drop for KeepingBack {
    fn drop(&mut self) {
        if !self.nested {
            for kept in KEPT_BACK.with(|k| k.borrow_mut().take()).unwrap_or_default() {
                kept.wake_task();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    /// What the test drives give.
    type Out = Result<u32, ()>;

    /// A drive that waits for one of `turns`.
    fn waiter(id: u32, turns: &Arc<Semaphore>) -> Arc<Drive<Out>> {
        let turns = turns.clone();
        Drive::new(id, async move { turns.acquire_owned().await.map(|p| p.forget()).map(|_| id).map_err(|_| ()) })
    }

    /// What `task` ended with; a task never woken fails the test rather than hang it.
    async fn ended<O>(task: tokio::task::JoinHandle<O>) -> O {
        let within = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        within.expect("the task was woken and ended").expect("the task ran")
    }

    /// Lets the runtime poll every spawned task once.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// Drives `ids`, each waiting for one of `turns`, their tasks spawned and polled once.
    async fn waiting(turns: &Arc<Semaphore>, ids: &[u32]) -> Vec<tokio::task::JoinHandle<Option<Out>>> {
        let tasks = ids.iter().map(|&id| tokio::spawn(waiter(id, turns).task())).collect();
        settle().await;
        tasks
    }

    /// Takes an output that is `Ok`, as the binding does (an error is left for the task).
    fn only_ok(out: Out) -> Result<Out, Out> {
        if out.is_ok() {
            Ok(out)
        } else {
            Err(out)
        }
    }

    /// Gives `n` turns back on another thread (as JS's, in the binding), inside `releasing`.
    fn release_elsewhere(turns: Arc<Semaphore>, n: usize, take: fn(Out) -> Result<Out, Out>) -> Option<(u32, Out)> {
        std::thread::spawn(move || releasing(|| turns.add_permits(n), take, || Err(())))
            .join()
            .expect("the releasing thread ran")
    }

    #[tokio::test]
    async fn a_turn_given_back_while_releasing_is_taken_by_the_releasing_thread() {
        let turns = Arc::new(Semaphore::new(0));
        let [task] = <[_; 1]>::try_from(waiting(&turns, &[1]).await).expect("one");
        assert_eq!(release_elsewhere(turns, 1, only_ok), Some((1, Ok(1))));
        assert_eq!(ended(task).await, None, "its task delivers nothing");
    }

    #[tokio::test]
    async fn a_turn_given_back_elsewhere_is_delivered_by_the_task() {
        let turns = Arc::new(Semaphore::new(0));
        let [task] = <[_; 1]>::try_from(waiting(&turns, &[2]).await).expect("one");
        let taken = releasing(|| {}, only_ok, || Err(()));
        assert_eq!(taken, None, "nothing was woken");
        turns.add_permits(1);
        assert_eq!(ended(task).await, Some(Ok(2)));
    }

    #[tokio::test]
    async fn an_output_not_wanted_and_the_wakes_not_used_go_on_to_the_tasks() {
        let turns = Arc::new(Semaphore::new(0));
        let [ta, tb] = <[_; 2]>::try_from(waiting(&turns, &[3, 4]).await).expect("two");
        // Both woken; the first is refused (left for its task), the second's wake passed on.
        assert_eq!(release_elsewhere(turns, 2, Err), None);
        assert_eq!(ended(ta).await, Some(Ok(3)));
        assert_eq!(ended(tb).await, Some(Ok(4)));
    }

    #[tokio::test]
    async fn a_panic_while_polling_is_delivered_by_the_task() {
        let turns = Arc::new(Semaphore::new(0));
        let gate = turns.clone();
        let drive = Drive::new(5, async move {
            let permit = gate.acquire().await;
            assert!(permit.is_err(), "a panic once it has its turn");
            Ok::<u32, ()>(5)
        });
        let task = tokio::spawn(drive.task());
        settle().await;
        assert_eq!(release_elsewhere(turns, 1, only_ok), None);
        assert_eq!(ended(task).await, Some(Err(())));
    }

    #[test]
    fn a_drive_that_wakes_itself_while_polled_does_not_deadlock() {
        // tokio's futures wake themselves and return Pending when their task's budget is spent.
        let mut first = true;
        let drive = Drive::new(
            6,
            std::future::poll_fn(move |cx| {
                if std::mem::take(&mut first) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Ready(Ok::<u32, ()>(6))
            }),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
            let _ = tx.send(rt.block_on(drive.task()));
        });
        let out = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("no deadlock");
        assert_eq!(out, Some(Ok(6)));
    }

    #[tokio::test]
    async fn a_panic_inside_the_release_loses_no_wake() {
        let turns = Arc::new(Semaphore::new(0));
        let [task] = <[_; 1]>::try_from(waiting(&turns, &[7]).await).expect("one");
        std::thread::spawn(move || {
            let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                releasing(
                    || {
                        turns.add_permits(1);
                        panic!("inside the release");
                    },
                    only_ok,
                    || Err(()),
                )
            }));
            assert!(panicked.is_err());
            assert!(KEPT_BACK.with(|k| k.borrow().is_none()), "this thread keeps no wake back any more");
        })
        .join()
        .expect("ran");
        assert_eq!(ended(task).await, Some(Ok(7)), "its task was woken and delivers it");
    }

    #[tokio::test]
    async fn a_task_dropped_before_the_end_drops_its_future() {
        let turns = Arc::new(Semaphore::new(0));
        let drive = waiter(8, &turns);
        let task = tokio::spawn(drive.clone().task());
        settle().await;
        assert_eq!(Arc::strong_count(&turns), 2, "the future holds its line");
        task.abort();
        let _ = task.await;
        assert_eq!(Arc::strong_count(&turns), 1, "the future, and its place in the line, are gone");
        assert_eq!(Arc::strong_count(&drive), 1, "nothing keeps the drive alive");
    }
}
