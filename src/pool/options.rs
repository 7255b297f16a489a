//! What a statement carries besides its text: its options, and the abort flags that stop it.

use futures_util::pin_mut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

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
    /// Always the extended protocol (pg's `queryMode: 'extended'`): text holding several
    /// statements is then refused by the server, as under pg, not run by the simple protocol.
    pub extended: bool,
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
pub(super) async fn aborted(abort: &Option<Arc<AbortFlag>>) {
    match abort {
        Some(a) => a.wait().await,
        None => std::future::pending().await,
    }
}
