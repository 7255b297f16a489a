//! The pool: checkout with a deadline, statements with timeouts that cancel on the server,
//! streaming, graceful shutdown and the idle reaper.

use crate::config::Settings;
use crate::connection::{Conn, Manager};
use crate::convert::params::{text_params, TextParam};
use crate::convert::result::{row_count, RowWriter};
use crate::error::{from_driver, Error};
use crate::sql;
use crate::stats::Stats;
use deadpool::managed::{Object, PoolError, Timeouts};
use futures_util::{pin_mut, StreamExt};
use postgres_types::Type;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_postgres::{CancelToken, NoTls, RowStream, Statement};

/// A connection checked out of the pool; returned to it when dropped.
pub type Pooled = Object<Manager>;

/// How long a cancelled statement may take to end before its connection is given up.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Per-statement choices.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Rows as arrays instead of objects.
    pub array_mode: bool,
    /// Overrides the pool's queryTimeoutMs (0: none).
    pub timeout_ms: Option<u64>,
}

/// The shared state of one pool.
pub struct PoolCore {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Counters.
    pub stats: Arc<Stats>,
    pool: deadpool::managed::Pool<Manager>,
    /// Work in flight (checkouts held), for a graceful `end()`.
    in_flight: AtomicUsize,
}

/// A checked-out connection, counted as work in flight for as long as it lives.
pub struct Lease {
    /// The connection.
    pub conn: Pooled,
    _flight: InFlight,
}

/// Counts one unit of work in flight until dropped (even when a checkout is abandoned).
struct InFlight(Arc<PoolCore>);

impl InFlight {
    fn new(core: &Arc<PoolCore>) -> Self {
        core.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(core.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PoolCore {
    /// A pool for `settings`; connects lazily.
    pub fn new(settings: Settings) -> Result<Arc<Self>, Error> {
        let settings = Arc::new(settings);
        let stats = Arc::new(Stats::default());
        let manager = Manager::new(settings.clone(), stats.clone())?;
        let pool = deadpool::managed::Pool::builder(manager)
            .max_size(settings.connection_limit)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("pool build failed: {e}")))?;
        Ok(Arc::new(PoolCore {
            settings,
            stats,
            pool,
            in_flight: AtomicUsize::new(0),
        }))
    }

    /// The pool's (size, idle, waiting, limit).
    pub fn status(&self) -> deadpool::Status {
        self.pool.status()
    }

    /// Takes a connection, waiting at most poolTimeoutMs for one to be free.
    pub async fn checkout(self: &Arc<Self>) -> Result<Lease, Error> {
        let wait = self.settings.pool_timeout_ms;
        let timeouts = Timeouts {
            wait: (wait > 0).then(|| Duration::from_millis(wait)),
            create: None,
            recycle: None,
        };
        let flight = InFlight::new(self);
        let conn = self
            .pool
            .timeout_get(&timeouts)
            .await
            .map_err(|e| match e {
                PoolError::Timeout(_) => {
                    Stats::bump(&self.stats.acquire_timeouts);
                    Error::PoolTimeout {
                        timeout_ms: wait,
                        limit: self.settings.connection_limit,
                    }
                }
                PoolError::Backend(e) => e,
                PoolError::Closed => Error::Closed("The pool has been closed".into()),
                other => Error::Internal(other.to_string()),
            })?;
        Ok(Lease {
            conn,
            _flight: flight,
        })
    }

    /// Opens max(1, minConnections) connections, three tries each with exponential backoff.
    pub async fn warm_up(self: &Arc<Self>) -> Result<(), Error> {
        let n = self.settings.min_connections.max(1);
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let mut delay = Duration::from_millis(100);
            let mut attempt = 1;
            loop {
                match self.checkout().await {
                    Ok(lease) => {
                        held.push(lease);
                        break;
                    }
                    Err(e) if attempt < 3 && e.classification().retryable => {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// `pool.query`: checks the parameters, checks out a connection and runs the statement.
    pub async fn query(
        self: &Arc<Self>,
        sql: &str,
        params: Vec<Option<String>>,
        opts: &QueryOptions,
    ) -> Result<String, Error> {
        check_params(sql, params.len())?;
        let mut lease = self.checkout().await?;
        self.run(&mut lease.conn, sql, text_params(params), opts)
            .await
    }

    /// Runs one statement on a checked-out connection and returns the result JSON.
    pub async fn run(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<TextParam>,
        opts: &QueryOptions,
    ) -> Result<String, Error> {
        Stats::bump(&self.stats.queries);
        let timeout_ms = opts.timeout_ms.unwrap_or(self.settings.query_timeout_ms);
        let token = conn.client.cancel_token();
        let (out, broken) = with_timeout(
            token,
            timeout_ms,
            execute(conn, sql, &params, opts, &self.settings),
        )
        .await;
        conn.broken |= broken;
        if out.is_err() {
            Stats::bump(&self.stats.query_errors);
        }
        out
    }

    /// Starts a statement whose rows are read in batches (`pool.stream`).
    pub async fn open_stream(
        &self,
        conn: &mut Conn,
        sql: &str,
        params: Vec<TextParam>,
    ) -> Result<(Pin<Box<RowStream>>, Option<Statement>), Error> {
        Stats::bump(&self.stats.queries);
        let r = start(conn, sql, &params).await;
        if r.is_err() {
            Stats::bump(&self.stats.query_errors);
        }
        r.map(|(s, cols)| (Box::pin(s), cols))
    }

    /// Graceful shutdown: waits up to `timeout` for work in flight, then closes every connection.
    pub async fn end(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.pool.close();
    }

    /// Closes idle connections above minConnections that idled past idleTimeoutMs.
    fn reap(&self) {
        let idle_ms = self.settings.idle_timeout_ms;
        if idle_ms == 0 {
            return;
        }
        let mut keep = self.settings.min_connections;
        let status = self.pool.status();
        let busy = status.size.saturating_sub(status.available);
        keep = keep.saturating_sub(busy);
        let limit = Duration::from_millis(idle_ms);
        self.pool.retain(|conn, metrics| {
            let fresh = metrics.last_used() < limit && !conn.client.is_closed();
            if fresh || keep > 0 {
                keep = keep.saturating_sub(1);
                true
            } else {
                false
            }
        });
    }

    /// Runs [`Self::reap`] periodically until the pool is dropped or closed.
    pub async fn reaper(weak: Weak<PoolCore>) {
        let period = weak
            .upgrade()
            .map(|c| Duration::from_millis((c.settings.idle_timeout_ms / 4).clamp(250, 10_000)))
            .unwrap_or(Duration::from_secs(1));
        loop {
            tokio::time::sleep(period).await;
            match weak.upgrade() {
                Some(core) if !core.pool.is_closed() => core.reap(),
                _ => return,
            }
        }
    }
}

/// Runs `fut` with a deadline. On expiry the statement is cancelled on the server (cancel
/// request) and awaited a little longer; the flag says the connection did not come back and
/// must not be reused.
pub async fn with_timeout<T, Fut>(
    token: CancelToken,
    timeout_ms: u64,
    fut: Fut,
) -> (Result<T, Error>, bool)
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    if timeout_ms == 0 {
        return (fut.await, false);
    }
    pin_mut!(fut);
    tokio::select! {
        r = &mut fut => (r, false),
        _ = tokio::time::sleep(Duration::from_millis(timeout_ms)) => {
            let cancel = tokio::spawn(async move { token.cancel_query(NoTls).await });
            let ended = tokio::time::timeout(CANCEL_GRACE, &mut fut).await;
            let _ = cancel.await;
            match ended {
                // It finished just as the deadline passed: the result is real.
                Ok(Ok(done)) => (Ok(done), false),
                Ok(Err(_)) => (Err(Error::QueryTimeout { timeout_ms }), false),
                Err(_) => (Err(Error::QueryTimeout { timeout_ms }), true),
            }
        }
    }
}

/// Sends the statement: a cached named statement, or an unnamed one (pgbouncer, cache 0).
async fn start(
    conn: &mut Conn,
    sql: &str,
    params: &[TextParam],
) -> Result<(RowStream, Option<Statement>), Error> {
    if !conn.cache.enabled() {
        let typed = params.iter().map(|p| (p, Type::UNKNOWN));
        let rows = conn
            .client
            .query_typed_raw(sql, typed)
            .await
            .map_err(|e| from_driver(&e, true))?;
        return Ok((rows, None));
    }
    let stmt = match conn.cache.get(sql) {
        Some(s) => s,
        None => {
            let s = conn
                .client
                .prepare(sql)
                .await
                .map_err(|e| from_driver(&e, false))?;
            conn.cache.insert(sql, s.clone());
            s
        }
    };
    match conn.client.query_raw(&stmt, params.iter()).await {
        Ok(rows) => Ok((rows, Some(stmt))),
        Err(e) => {
            // A schema change invalidated the cached plan: the statement did not run.
            if e.code().is_some_and(|c| c.code() == "0A000") {
                conn.cache.remove(sql);
            }
            Err(from_driver(&e, true))
        }
    }
}

async fn execute(
    conn: &mut Conn,
    sql: &str,
    params: &[TextParam],
    opts: &QueryOptions,
    settings: &Settings,
) -> Result<String, Error> {
    let (rows, stmt) = start(conn, sql, params).await?;
    pin_mut!(rows);
    let mut out = String::with_capacity(256);
    out.push_str("{\"rows\":[");
    let mut writer = stmt.map(|s| RowWriter::new(s.columns(), opts.array_mode, settings.int8));
    let mut n: u64 = 0;
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| from_driver(&e, true))?;
        let w = writer
            .get_or_insert_with(|| RowWriter::new(row.columns(), opts.array_mode, settings.int8));
        w.write_row(&mut out, &row, n == 0);
        n += 1;
    }
    let command = sql::command_of(sql);
    out.push_str("],\"rowCount\":");
    match row_count(&command, rows.rows_affected(), n) {
        Some(c) => out.push_str(itoa::Buffer::new().format(c)),
        None => out.push_str("null"),
    }
    out.push_str(",\"command\":");
    crate::convert::json_str(&mut out, &command);
    out.push(',');
    match writer {
        Some(w) => w.write_meta(&mut out),
        None => out.push_str("\"fields\":[],\"fix\":[]"),
    }
    out.push('}');
    Ok(out)
}

/// Runs a multi-statement script with the simple protocol (no parameters).
pub async fn execute_script(conn: &mut Conn, script: &str) -> Result<(), Error> {
    conn.client
        .batch_execute(script)
        .await
        .map_err(|e| from_driver(&e, true))
}

/// Rejects a parameter count the statement cannot take, before anything is sent.
pub fn check_params(sql: &str, given: usize) -> Result<(), Error> {
    let expected = sql::placeholder_count(sql);
    if expected != given {
        return Err(Error::Params(format!(
            "The query expects {expected} parameter{} but {given} {} given",
            if expected == 1 { "" } else { "s" },
            if given == 1 { "was" } else { "were" }
        )));
    }
    Ok(())
}
