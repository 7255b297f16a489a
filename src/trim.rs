//! Gives the memory a burst freed back to the system.
//!
//! A burst of statements allocates on the JS thread (each statement's task and text) and frees
//! on the runtime's threads. glibc keeps what is freed in its heaps and returns only the top
//! of each one, so after a burst the process keeps most of the burst's peak as resident memory
//! it no longer uses (bench/bursts.js measured ~110 MB kept after 50,000 queued queries, and
//! more after every burst). `malloc_trim` hands those free pages back. Other C libraries
//! (musl, macOS, Windows) return freed memory themselves, so this is glibc only.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Statements waiting at once that make a burst worth a trim (a few MB of task state).
const BURST: usize = 1024;

/// The least time between two trims: `malloc_trim` locks every heap while it walks it, so a
/// workload of back-to-back bursts must not pay it for each one. A burst that drains sooner
/// gets its trim when the interval is over.
const TRIM_INTERVAL_MS: u64 = 1_000;

/// A trim is running (one at a time, process-wide).
static TRIMMING: AtomicBool = AtomicBool::new(false);

/// When the last trim started, in ms since the epoch.
static LAST_TRIM_MS: AtomicU64 = AtomicU64::new(0);

/// Tracks how many statements are pending and trims once a burst has drained.
#[derive(Default)]
pub(crate) struct BurstWatch {
    /// The most statements pending at once since the last trim.
    peak: AtomicUsize,
}

impl BurstWatch {
    /// Notes that `pending` statements are pending now.
    pub(crate) fn pending(&self, pending: usize) {
        if pending > self.peak.load(Ordering::Relaxed) {
            self.peak.store(pending, Ordering::Relaxed);
        }
    }

    /// Every pending statement was taken: after a burst, trims on a blocking thread, at most
    /// one trim at a time and one per [`TRIM_INTERVAL_MS`] (a burst drained sooner waits for it).
    pub(crate) fn drained(&self) {
        if self.peak.swap(0, Ordering::Relaxed) < BURST || TRIMMING.swap(true, Ordering::AcqRel) {
            return;
        }
        napi::bindgen_prelude::spawn_blocking(|| {
            let since = now_ms().saturating_sub(LAST_TRIM_MS.load(Ordering::Relaxed));
            if since < TRIM_INTERVAL_MS {
                std::thread::sleep(std::time::Duration::from_millis(TRIM_INTERVAL_MS - since));
            }
            LAST_TRIM_MS.store(now_ms(), Ordering::Relaxed);
            release_free_memory();
            TRIMMING.store(false, Ordering::Release);
        });
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Returns the free pages of every malloc heap to the system (glibc only; elsewhere nothing).
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only walks glibc's own heaps; it is safe from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_burst_resets_the_peak() {
        let watch = BurstWatch::default();
        watch.pending(10);
        watch.pending(3);
        assert_eq!(watch.peak.load(Ordering::Relaxed), 10);
        watch.drained();
        assert_eq!(watch.peak.load(Ordering::Relaxed), 0, "each drain starts a new peak");
        release_free_memory();
    }
}
