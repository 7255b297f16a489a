//! A completion queue: finished statements wait here for the JS thread, which takes them in
//! batches, one crossing each. One wake-up per batch replaces napi's per-call promise machinery (a
//! threadsafe function created, called and destroyed for every statement).

use crate::convert::result::{Part, ResultText};
use std::collections::VecDeque;
use std::sync::Mutex;

/// What one batch holds at most (beyond its first statement). V8 parses a JSON text of
/// 100 KiB or more into its old generation, and builds a batch's values all at once: batching
/// several large results made every young-generation collection copy all of them (10 ms or
/// more each, `--trace-gc` on the 10,000-row benchmark at 4 callers). Small results still go
/// by the hundred.
const BATCH_BYTES: usize = 64 * 1024;

/// Finished statements, taken in batches, each one JSON array:
/// `[[id,0,<result>],[id,1,<error payload>],…]`, and the parts of the results in it whose rows
/// came in parts (see [`ResultText`]), in order.
pub(crate) struct Completions {
    inner: Mutex<Inner>,
    /// Wakes the JS thread; called once per batch.
    wake: Box<dyn Fn() + Send + Sync>,
}

/// A batch: the JSON array without its closing bracket, how many statements it holds, and
/// the row parts of its results.
#[derive(Default)]
pub(crate) struct Batch {
    /// `[[id,0,<result>],…` (without the closing bracket until taken).
    pub(crate) json: String,
    /// Statements in it.
    pub(crate) count: usize,
    /// The row parts of its results, in order.
    pub(crate) parts: Vec<Part>,
    /// Its text and its parts, in bytes.
    bytes: usize,
}

struct Inner {
    /// Batches in the order their statements finished.
    batches: VecDeque<Batch>,
    /// The JS thread has been woken and has not taken every batch yet.
    scheduled: bool,
}

impl Completions {
    /// A queue that calls `wake` when the first completion of a batch arrives.
    pub(crate) fn new(wake: Box<dyn Fn() + Send + Sync>) -> Self {
        Completions { inner: Mutex::new(Inner { batches: VecDeque::new(), scheduled: false }), wake }
    }

    /// Queues the outcome of statement `id`: `Ok(result)` or `Err(error payload JSON)`.
    pub(crate) fn push(&self, id: u32, outcome: Result<ResultText, String>) {
        let (status, payload, parts) = match outcome {
            Ok(r) => (",0,", r.json, r.parts),
            Err(payload) => (",1,", payload, Vec::new()),
        };
        let wake = {
            let Ok(mut q) = self.inner.lock() else { return };
            let q = &mut *q;
            let size = payload.len() + parts.iter().map(Part::len).sum::<usize>();
            let joins = q.batches.back().is_some_and(|b| b.bytes + size <= BATCH_BYTES);
            if !joins {
                q.batches.push_back(Batch { json: String::with_capacity(payload.len() + 16), ..Batch::default() });
            }
            let Some(b) = q.batches.back_mut() else { return };
            b.json.push(if b.count == 0 { '[' } else { ',' });
            b.json.push('[');
            b.json.push_str(itoa::Buffer::new().format(id));
            b.json.push_str(status);
            b.json.push_str(&payload);
            b.json.push(']');
            b.count += 1;
            b.bytes += size;
            b.parts.extend(parts);
            !std::mem::replace(&mut q.scheduled, true)
        };
        if wake {
            (self.wake)();
        }
    }

    /// Takes the oldest batch (its JSON array closed). When more are left the JS thread is
    /// woken again, so the callers of this batch run in between; otherwise the next push
    /// wakes it.
    pub(crate) fn take(&self) -> Batch {
        let (batch, more) = {
            let Ok(mut q) = self.inner.lock() else { return Batch::empty() };
            let batch = q.batches.pop_front();
            let more = !q.batches.is_empty();
            q.scheduled = more;
            (batch, more)
        };
        if more {
            (self.wake)();
        }
        match batch {
            Some(mut b) => {
                b.json.push(']');
                b
            }
            None => Batch::empty(),
        }
    }
}

impl Batch {
    fn empty() -> Self {
        Batch { json: "[]".into(), ..Batch::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A queue and how many times it woke the JS thread.
    fn counted_queue() -> (Completions, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let q = Completions::new(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        (q, wakes)
    }

    fn text(json: &str) -> Result<ResultText, String> {
        Ok(ResultText::whole(json.into()))
    }

    fn taken(q: &Completions) -> (String, usize) {
        let b = q.take();
        (b.json, b.count)
    }

    #[test]
    fn one_wake_per_batch() {
        let (q, wakes) = counted_queue();
        q.push(1, text("{\"rows\":[]}"));
        q.push(2, Err("{\"code\":\"P1008\"}".into()));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(taken(&q), ("[[1,0,{\"rows\":[]}],[2,1,{\"code\":\"P1008\"}]]".to_string(), 2));
        q.push(3, text("{}"));
        assert_eq!(wakes.load(Ordering::SeqCst), 2, "a push after take wakes again");
        assert_eq!(taken(&q), ("[[3,0,{}]]".to_string(), 1));
        assert_eq!(taken(&q), ("[]".to_string(), 0));
    }

    #[test]
    fn large_results_are_taken_one_batch_at_a_time() {
        let (q, wakes) = counted_queue();
        let large = format!("\"{}\"", "x".repeat(BATCH_BYTES));
        q.push(1, text(&large));
        q.push(2, text(&large));
        q.push(3, text("{}"));
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(taken(&q), (format!("[[1,0,{large}]]"), 1), "one large result per take");
        assert_eq!(wakes.load(Ordering::SeqCst), 2, "what is left wakes the JS thread again");
        assert_eq!(taken(&q), (format!("[[2,0,{large}]]"), 1));
        assert_eq!(taken(&q), ("[[3,0,{}]]".to_string(), 1));
        assert_eq!(wakes.load(Ordering::SeqCst), 3);
        q.push(4, text("{}"));
        assert_eq!(wakes.load(Ordering::SeqCst), 4, "an emptied queue is woken by the next push");
    }

    #[test]
    fn row_parts_travel_with_their_batch_in_order() {
        let (q, _) = counted_queue();
        let parted = |json: &str, parts: &[&str]| {
            Ok(ResultText { json: json.into(), parts: parts.iter().map(|p| Part::Text(p.to_string())).collect() })
        };
        q.push(1, parted("{\"parts\":2}", &["[[1]]", "[[2]]"]));
        q.push(2, text("{}"));
        q.push(3, parted("{\"parts\":1}", &["[[3]]"]));
        let b = q.take();
        assert_eq!(b.json, "[[1,0,{\"parts\":2}],[2,0,{}],[3,0,{\"parts\":1}]]");
        let texts: Vec<&str> =
            b.parts.iter().map(|p| if let Part::Text(t) = p { t.as_str() } else { "lanes" }).collect();
        assert_eq!(texts, ["[[1]]", "[[2]]", "[[3]]"]);
    }

    #[test]
    fn parts_count_toward_a_batch() {
        let (q, _) = counted_queue();
        let part = "x".repeat(BATCH_BYTES / 2);
        for id in 1..=3 {
            q.push(
                id,
                Ok(ResultText { json: "{\"parts\":1}".into(), parts: vec![Part::Lanes(part.clone().into_bytes())] }),
            );
        }
        assert_eq!(q.take().count, 1, "two halves and a text do not fit one batch (lanes' bytes count as a text's)");
        assert_eq!(q.take().count, 1);
        assert_eq!(q.take().count, 1);
    }
}
