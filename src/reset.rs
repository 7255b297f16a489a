//! A connection goes back to the pool as the next caller expects it: outside any transaction,
//! with the session as it was opened.
//!
//! Whether a transaction was left open is known without a round trip: the status byte of the
//! last `ReadyForQuery` (`I`, `T` or `E`). Whether the session changed is known lexically
//! (`sql::Shape::session`: SET, LISTEN, temporary tables, session advisory locks…). A
//! connection that needs neither goes back at once and costs nothing; one that does gets a
//! `ROLLBACK` and/or a session reset first (one round trip each), and is closed if that fails.

use crate::connection::Conn;
use crate::events::Events;
use crate::stats::Stats;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_postgres::TransactionStatus;

/// What `DISCARD ALL` does but `DEALLOCATE ALL` and `DISCARD PLANS`: the prepared statements of
/// the pool (and of the driver's type lookups) stay, so no statement is prepared again. A
/// statement the caller prepared by name closes the connection instead (see [`note`]).
const SESSION_RESET: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
     SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES";

/// How long a ROLLBACK or a reset may take before the connection is given up instead.
const RESET_GRACE: Duration = Duration::from_secs(2);

/// What was found and done when a connection was given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tidied {
    /// The transaction it was left in (`inTransaction`, `failedTransaction`), if any.
    pub left_in: Option<&'static str>,
    /// That transaction was rolled back (false: the connection was closed instead).
    pub rolled_back: bool,
    /// Its session was reset.
    pub reset: bool,
}

/// Whether `conn` needs [`tidy`] before anyone else gets it (no round trip).
///
/// The status may be one ReadyForQuery behind when the last statement failed (it ended at its
/// error), but a failed statement never opens a transaction: `I` before it is `I` after it, and
/// `T` may become `E`, which [`tidy`] waits for.
pub(crate) fn needs_tidy(conn: &Conn) -> bool {
    !conn.broken && (conn.session_changed || conn.client.transaction_status() != TransactionStatus::Idle)
}

/// Notes a statement about to run on `conn`: what it may leave behind (see the module).
pub(crate) fn note(conn: &mut Conn, sql: &str, shape: crate::sql::Shape) {
    if !shape.data || shape.session {
        conn.last_command = Some(sql.to_string());
        // A statement prepared by name outlives any reset that keeps the pool's own: the
        // connection is closed when it goes back instead.
        conn.broken |= crate::sql::prepares_by_name(sql);
    }
    conn.session_changed |= shape.session;
}

/// Rolls back a transaction left open and resets a changed session, counted in `stats`; a
/// connection where either fails is marked broken (closed when it goes back).
pub(crate) async fn tidy(conn: &mut Conn, stats: &Stats) -> Tidied {
    // A statement that failed ended at its error, before the ReadyForQuery after it was read.
    if tokio::time::timeout(RESET_GRACE, conn.settled()).await.is_err() {
        conn.broken = true;
        return Tidied { left_in: Some("unknown"), rolled_back: false, reset: false };
    }
    let left_in = match conn.client.transaction_status() {
        TransactionStatus::Idle => None,
        TransactionStatus::InTransaction => Some("inTransaction"),
        TransactionStatus::Failed => Some("failedTransaction"),
        // Never read before a ReadyForQuery: nothing is known, so nothing is trusted.
        TransactionStatus::Unknown => Some("unknown"),
    };
    let mut out = Tidied { left_in, rolled_back: false, reset: false };
    if left_in.is_some() {
        stats.released_in_transaction.fetch_add(1, Ordering::Relaxed);
        out.rolled_back = run(conn, "ROLLBACK").await;
        if !out.rolled_back {
            conn.broken = true;
            return out;
        }
    }
    if conn.session_changed && conn.set_up_by_hook {
        // RESET ALL would undo what onConnect set: closed instead, and a new one set up.
        conn.broken = true;
    } else if conn.session_changed {
        out.reset = run(conn, SESSION_RESET).await;
        if out.reset {
            conn.session_changed = false;
            stats.session_resets.fetch_add(1, Ordering::Relaxed);
        } else {
            conn.broken = true;
        }
    }
    out
}

/// Runs `sql` (simple protocol) within [`RESET_GRACE`]; whether it succeeded.
async fn run(conn: &Conn, sql: &str) -> bool {
    matches!(tokio::time::timeout(RESET_GRACE, conn.client.batch_execute(sql)).await, Ok(Ok(())))
}

/// [`tidy`], and the report of a connection given back inside a transaction (see
/// [`Tidied::report`]) when it was one: the one way a connection is given back tidied.
pub(crate) async fn tidy_reported(conn: &mut Conn, stats: &Stats, events: &Events) -> Option<serde_json::Value> {
    let tidied = tidy(conn, stats).await;
    tidied.report(conn.last_command.as_deref(), events)
}

impl Tidied {
    /// The report of a connection given back inside a transaction (`releasedInTransaction`
    /// event), as JSON; `None` when it was not. `log`: whether the warning is due (cool-down).
    fn report(&self, last_command: Option<&str>, events: &Events) -> Option<serde_json::Value> {
        let state = self.left_in?;
        Some(json!({
            "state": state,
            "rolledBack": self.rolled_back,
            "lastStatement": last_command.map(crate::stats::cut_sql),
            "log": events.leak_log_due(),
        }))
    }
}
