//! What a statement carries besides its text: its options, and the abort flags that stop it.

use crate::error::Interruption;
use futures_util::pin_mut;
use std::sync::{Arc, OnceLock};
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
    /// Its request scope's settings, applied in the same implicit transaction (see
    /// `src/scope.rs`); such a statement runs on a connection of its own, never in a convoy.
    pub settings: Option<Arc<crate::scope::ScopeSettings>>,
    /// The text sent in its place, unnamed (see [`crate::scope::Scoped::sent_as`]).
    pub sent_as: Option<Arc<str>>,
    /// Refused at once (rather than waiting) when no connection is free: its caller holds a
    /// connection of this pool already, so waiting could deadlock.
    pub no_wait: bool,
    /// Its timeout is what was left of its request scope's deadline, the scope's `timeoutMs`
    /// being this: when it passes, that is the scope's deadline ([`Interruption::Deadline`]).
    pub deadline_of: Option<u64>,
}

impl QueryOptions {
    /// What its request scope adds to it on the wire.
    pub(crate) fn scoped(&self) -> crate::scope::Scoped<'_> {
        crate::scope::Scoped { settings: self.settings.as_deref(), sent_as: self.sent_as.as_deref() }
    }

    /// Resolves once the statement's AbortSignal fires (never without one), with what it
    /// stands for.
    pub(crate) async fn aborted(&self) -> Interruption {
        aborted(&self.abort).await
    }
}

/// A one-shot flag raised by a JS AbortSignal (or by `end()`), with what raised it: the
/// caller's signal, its request scope's deadline, or the request's client hanging up.
#[derive(Debug, Default)]
pub(crate) struct AbortFlag {
    why: OnceLock<Interruption>,
    notify: Notify,
}

impl AbortFlag {
    /// Raises the flag (the first reason is kept) and wakes every waiter.
    pub(crate) fn abort(&self, why: Interruption) {
        let _ = self.why.set(why);
        self.notify.notify_waiters();
    }

    /// What raised the flag, if it was.
    pub(crate) fn raised(&self) -> Option<Interruption> {
        self.why.get().copied()
    }

    /// Whether the flag was raised.
    pub(crate) fn is_aborted(&self) -> bool {
        self.why.get().is_some()
    }

    /// Resolves once the flag is raised, with what raised it.
    pub(crate) async fn wait(&self) -> Interruption {
        loop {
            let notified = self.notify.notified();
            pin_mut!(notified);
            notified.as_mut().enable();
            if let Some(why) = self.raised() {
                return why;
            }
            notified.await;
        }
    }
}

/// Waits for `abort`, or forever when there is none.
pub(super) async fn aborted(abort: &Option<Arc<AbortFlag>>) -> Interruption {
    match abort {
        Some(a) => a.wait().await,
        None => std::future::pending().await,
    }
}
