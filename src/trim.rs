//! Gives the memory a burst freed back to the system.
//!
//! A burst of statements allocates on the JS thread (each statement's task and text) and frees
//! on the runtime's threads. glibc keeps what is freed in its heaps and returns only the top
//! of each one, so after a burst the process keeps most of the burst's peak as resident memory
//! it no longer uses (bench/bursts.js measured ~110 MB kept after 50,000 queued queries, and
//! more after every burst). `malloc_trim` hands those free pages back. Other C libraries
//! (musl, macOS, Windows) return freed memory themselves, so this is glibc only.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Statements waiting at once that make a burst worth a trim (a few MB of task state).
const BURST: usize = 1024;

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

    /// Every pending statement was taken: after a burst, trims on a blocking thread.
    pub(crate) fn drained(&self) {
        if self.peak.swap(0, Ordering::Relaxed) >= BURST {
            napi::bindgen_prelude::spawn_blocking(release_free_memory);
        }
    }
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
