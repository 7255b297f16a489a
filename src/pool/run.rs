//! Running a statement, a script or a stream on a checked-out connection, and telling its
//! outcome: duration, slowness, the counts.

use super::{Lease, PoolCore, QueryOptions, Steps};
use crate::connection::{Conn, Prepared};
use crate::convert::params::text_params;
use crate::convert::params::TextParam;
use crate::convert::result::ResultText;
use crate::error::{Error, Interruption};
use crate::sql::Shape;
use crate::statement::{check_params, execute, execute_script, start};
use std::pin::Pin;
use tokio_postgres::RowStream;

impl PoolCore {
    /// [`Self::run`] on a checked-out connection, its wait riding on the result too (for
    /// OpenTelemetry's checkout span and wait histogram).
    pub(crate) async fn run_leased(
        &self,
        lease: &mut Lease,
        sql: &str,
        params: Vec<TextParam>,
        opts: &QueryOptions,
        shape: Shape,
    ) -> Result<ResultText, Error> {
        // Boxed: a statement waiting for a connection holds only the checkout's small state,
        // not the running statement's (~17 KB), so a queue of thousands stays light.
        let out = Box::pin(self.run(&mut lease.conn, sql, params, opts, shape)).await;
        out.map(|r| with_field(r, ",\"waitMs\":", lease.waited.as_secs_f64() * 1000.0))
    }

    /// A held client's statement: its parameters are checked against its text (nothing is sent
    /// when they do not fit), then it runs as [`Self::run`].
    pub(crate) async fn run_held(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<Option<String>>,
        opts: &QueryOptions,
    ) -> Result<ResultText, Error> {
        let shape = check_params(sql, params.len())?;
        self.run(conn, sql, text_params(params), opts, shape).await
    }

    /// Runs one statement on a checked-out connection and returns the result JSON; `shape` is
    /// its text's [`Shape`] (several statements go by the simple protocol).
    pub(super) async fn run(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<TextParam>,
        opts: &QueryOptions,
        shape: Shape,
    ) -> Result<ResultText, Error> {
        let started = std::time::Instant::now();
        crate::reset::note(conn, sql, shape);
        let cancel = conn.cancel.clone();
        let work =
            execute(conn, sql, &params, &self.settings, opts.style, shape.several && !opts.extended, opts.scoped());
        let (out, broken) = self.supervise(&cancel, opts, work).await;
        conn.broken |= broken;
        let out = self.failover_check(conn, out).await;
        let (ms, slow) = self.finished(conn, sql, started, &out);
        self.told(sql, ms, slow, out)
    }

    /// A statement's result as JS gets it: its duration and whether it was slow ride on it, so
    /// `query`/`slowQuery` events need no extra crossing; a timeout is logged.
    pub(crate) fn told(
        &self,
        sql: &str,
        ms: f64,
        slow: bool,
        out: Result<ResultText, Error>,
    ) -> Result<ResultText, Error> {
        if let Err(e @ Error::Interrupted { why: Interruption::Timeout { .. }, .. }) = &out {
            tracing::warn!(pool = self.id, "{}: {}", e.message(), crate::stats::cut_sql(sql));
        }
        let out = out.map(|r| with_field(r, ",\"ms\":", ms));
        if slow {
            return out.map(|mut r| {
                r.json.pop();
                r.json.push_str(",\"slow\":true}");
                r
            });
        }
        out
    }

    /// Runs a multi-statement script (simple protocol), counted like one statement and
    /// bounded like one.
    pub(crate) async fn script(&self, conn: &mut Conn, sql: &str, opts: &QueryOptions) -> Result<(), Error> {
        let shape = crate::sql::shape(sql);
        crate::statement::reject_copy(sql, shape)?;
        // A script is taken for one that changes the session (it often does: SET, migrations).
        crate::reset::note(conn, sql, Shape { session: true, ..shape });
        let started = std::time::Instant::now();
        let cancel = conn.cancel.clone();
        let work = execute_script(conn, sql);
        let (out, broken) = self.supervise(&cancel, opts, work).await;
        conn.broken |= broken;
        let out = self.failover_check(conn, out).await;
        self.finished(conn, sql, started, &out);
        out
    }

    /// Starts a statement whose rows are read in batches on `conn` (a checkout's, or a held
    /// client's): the parameters were checked.
    pub(crate) async fn start_stream(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<Option<String>>,
        opts: &QueryOptions,
        steps: &Steps,
    ) -> Result<(Pin<Box<RowStream>>, Prepared), Error> {
        let params = text_params(params);
        let started = std::time::Instant::now();
        crate::reset::note(conn, sql, crate::sql::shape(sql));
        let cancel = conn.cancel.clone();
        // The server answers Bind only once the first rows are ready: a timeout can fire here
        // and the cancel's 57014 then comes with the rows (told by `steps`).
        let (r, broken) = self.step(steps, &cancel, opts, start(conn, sql, &params, opts.style, opts.scoped())).await;
        conn.broken |= broken;
        self.finished(conn, sql, started, &r);
        let (rows, prepared) = r?;
        Ok((Box::pin(rows), prepared))
    }

    /// Bookkeeping after every statement: a statement that lost its connection (or may have)
    /// leaves it unusable, and the stats count it. Returns its duration (ms) and whether it was slow.
    pub(super) fn finished<T>(
        &self,
        conn: &mut Conn,
        sql: &str,
        started: std::time::Instant,
        out: &Result<T, Error>,
    ) -> (f64, bool) {
        conn.broken |= out.as_ref().is_err_and(Error::spoils_connection);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        (ms, self.counted(sql, ms, out.as_ref().err()))
    }

    /// Counts a finished statement in the stats; whether it was slow.
    pub(crate) fn counted(&self, sql: &str, ms: f64, failed: Option<&Error>) -> bool {
        self.stats.record_query(sql, ms, failed.map(Error::code), self.settings.slow_query_threshold_ms)
    }
}

/// The result's text (an object) with one more field: `key` (`,"name":`) and `ms`, to the µs.
pub(crate) fn with_field(mut r: ResultText, key: &str, ms: f64) -> ResultText {
    r.json.pop();
    r.json.push_str(key);
    r.json.push_str(ryu::Buffer::new().format((ms * 1000.0).round() / 1000.0));
    r.json.push('}');
    r
}
