//! A completion queue: finished statements wait here for the JS thread, which takes them all
//! in one crossing. One wake-up per batch replaces napi's per-call promise machinery (a
//! threadsafe function created, called and destroyed for every statement).

use std::sync::Mutex;

/// Finished statements as one JSON array: `[[id,0,<result>],[id,1,<error payload>],…]`.
pub(crate) struct Completions {
    inner: Mutex<Inner>,
    /// Wakes the JS thread; called at most once per batch.
    wake: Box<dyn Fn() + Send + Sync>,
}

struct Inner {
    buf: String,
    count: usize,
    scheduled: bool,
}

impl Completions {
    /// A queue that calls `wake` when the first completion of a batch arrives.
    pub(crate) fn new(wake: Box<dyn Fn() + Send + Sync>) -> Self {
        Completions { inner: Mutex::new(Inner { buf: String::from("["), count: 0, scheduled: false }), wake }
    }

    /// Queues the outcome of statement `id`: `Ok(result JSON)` or `Err(error payload JSON)`.
    pub(crate) fn push(&self, id: u32, outcome: Result<String, String>) {
        let wake = {
            let Ok(mut q) = self.inner.lock() else { return };
            if q.count > 0 {
                q.buf.push(',');
            }
            q.buf.push('[');
            q.buf.push_str(itoa::Buffer::new().format(id));
            match &outcome {
                Ok(json) => {
                    q.buf.push_str(",0,");
                    q.buf.push_str(json);
                }
                Err(payload) => {
                    q.buf.push_str(",1,");
                    q.buf.push_str(payload);
                }
            }
            q.buf.push(']');
            q.count += 1;
            !std::mem::replace(&mut q.scheduled, true)
        };
        if wake {
            (self.wake)();
        }
    }

    /// Takes everything queued as one JSON array (and how many statements that is); the
    /// next push wakes again.
    pub(crate) fn take(&self) -> (String, usize) {
        let Ok(mut q) = self.inner.lock() else { return ("[]".into(), 0) };
        q.scheduled = false;
        let n = std::mem::take(&mut q.count);
        let cap = q.buf.capacity().min(1 << 16);
        let mut fresh = String::with_capacity(cap);
        fresh.push('[');
        let mut batch = std::mem::replace(&mut q.buf, fresh);
        batch.push(']');
        (batch, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn one_wake_per_batch() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let q = Completions::new(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        q.push(1, Ok("{\"rows\":[]}".into()));
        q.push(2, Err("{\"code\":\"P1008\"}".into()));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        let (batch, n) = q.take();
        assert_eq!(n, 2);
        assert_eq!(batch, "[[1,0,{\"rows\":[]}],[2,1,{\"code\":\"P1008\"}]]");
        q.push(3, Ok("{}".into()));
        assert_eq!(wakes.load(Ordering::SeqCst), 2, "a push after take wakes again");
        assert_eq!(q.take(), ("[[3,0,{}]]".to_string(), 1));
        assert_eq!(q.take(), ("[]".to_string(), 0));
    }
}
