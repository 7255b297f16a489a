//! A place in a fair queue, taken when the caller calls rather than when its task first runs.
//!
//! tokio's `Mutex` and `Semaphore` serve waiters in the order their requests were first
//! polled. A statement's task is polled by whichever runtime worker picks it up, so two
//! statements JS issued one after the other may be polled, and queued, in either order. A
//! [`Place`] polls the request once, at once, on the caller's thread: from then on its place
//! in the queue is fixed, and the task that later awaits it only waits for its turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A request for something a fair queue hands out (a lock, a permit), already in the queue.
pub(crate) enum Place<T> {
    /// Granted when it was asked for.
    Granted(T),
    /// Queued; resolves when its turn comes.
    Queued(Pin<Box<dyn Future<Output = T> + Send>>),
}

impl<T> Place<T> {
    /// Asks `request` now: polled once with a waker that does nothing (the task that awaits the
    /// place later registers its own), which puts it in its queue.
    pub(crate) fn ask(request: impl Future<Output = T> + Send + 'static) -> Self {
        let mut request: Pin<Box<dyn Future<Output = T> + Send>> = Box::pin(request);
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        match request.as_mut().poll(&mut cx) {
            Poll::Ready(t) => Place::Granted(t),
            Poll::Pending => Place::Queued(request),
        }
    }

    /// Whether it was granted (so far as it knows without asking).
    pub(crate) fn is_granted(&self) -> bool {
        matches!(self, Place::Granted(_))
    }

    /// Whether the turn has come, asked with `waker` (woken when it comes, if it has not): a
    /// place can wait with no task polling it, its waker starting the work once it is served.
    pub(crate) fn watch(&mut self, waker: &std::task::Waker) -> bool {
        let Place::Queued(request) = self else { return true };
        match request.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Ready(t) => {
                *self = Place::Granted(t);
                true
            }
            Poll::Pending => false,
        }
    }

    /// Waits for the turn. Dropping the place before then leaves the queue without holding up
    /// the places behind it.
    pub(crate) async fn turn(self) -> T {
        match self {
            Place::Granted(t) => t,
            Place::Queued(request) => request.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Places asked in order are served in that order, however their tasks are polled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn places_are_served_in_the_order_they_were_asked() {
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = lock.clone().lock_owned().await;
        let places: Vec<_> = (0..50).map(|_| Place::ask(lock.clone().lock_owned())).collect();
        // Spawned last first: without the places, the queue would follow this order.
        let mut tasks = Vec::new();
        for (i, place) in places.into_iter().enumerate().rev() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let _guard = place.turn().await;
                order.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
    }

    /// A place given up before its turn lets the next one through.
    #[tokio::test]
    async fn a_place_given_up_leaves_the_queue() {
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let held = lock.clone().lock_owned().await;
        let first = Place::ask(lock.clone().lock_owned());
        let second = Place::ask(lock.clone().lock_owned());
        assert!(matches!(first, Place::Queued(_)));
        drop(first);
        drop(held);
        let got = tokio::time::timeout(std::time::Duration::from_secs(1), second.turn()).await;
        assert!(got.is_ok(), "the second place got its turn");
    }

    /// A watched place wakes its waker when its turn comes, and is granted from then on.
    #[tokio::test]
    async fn a_watched_place_wakes_its_waker_when_served() {
        struct Flag(std::sync::atomic::AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let held = lock.clone().lock_owned().await;
        let mut place = Place::ask(lock.clone().lock_owned());
        let flag = Arc::new(Flag(Default::default()));
        let waker = std::task::Waker::from(flag.clone());
        assert!(!place.watch(&waker), "not served while the lock is held");
        drop(held);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst), "woken when served");
        assert!(place.watch(&waker) && matches!(place, Place::Granted(_)));
    }

    #[tokio::test]
    async fn a_free_lock_is_granted_at_once() {
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        assert!(matches!(Place::ask(lock.clone().lock_owned()), Place::Granted(_)));
    }
}
