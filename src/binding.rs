//! The napi boundary, and the only place that knows about JavaScript.
//!
//! Every method is thin: it converts arguments, calls plain Rust, and turns an [`Error`] into a
//! JS error whose message is the structured payload `lib/errors.js` decodes. Async methods are
//! guarded with `catch_unwind`, so a bug surfaces as an error instead of aborting the process.

use crate::completion::Completions;
use crate::config::{self, ENV_NAMES};
use crate::connection::Canceller;
use crate::convert::json_str;
use crate::convert::params::text_params;
use crate::convert::result::RowWriter;
use crate::error::{classify, Error, Interruption, Stopped};
use crate::metrics::PoolGauges;
use crate::pool::{Lease, PoolCore, QueryOptions};
use crate::statement::{check_params, read_batch};
use crate::stats::Stats;
use futures_util::FutureExt;
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi::Status;
use napi_derive::napi;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_postgres::RowStream;

fn js_error(e: &Error, query: Option<&str>) -> napi::Error {
    napi::Error::new(Status::GenericFailure, e.to_payload(query).to_string())
}

/// Runs `fut`, turning a panic into an internal error and any error into a JS error.
async fn guarded<T>(query: Option<&str>, fut: impl Future<Output = Result<T, Error>>) -> napi::Result<T> {
    let out = AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(Error::Internal("internal error (a panic was caught); please report it".into())));
    out.map_err(|e| js_error(&e, query))
}

fn query_options(core: &PoolCore, timeout_ms: Option<f64>, abort_id: Option<u32>) -> QueryOptions {
    QueryOptions {
        timeout_ms: timeout_ms.filter(|t| t.is_finite() && *t >= 0.0).map(|t| t as u64),
        abort: abort_id.map(|id| core.abort_flag(id)),
    }
}

/// Forgets a statement's abort flag however the statement ends.
struct AbortGuard<'a>(&'a PoolCore, Option<u32>);

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.1 {
            self.0.forget_abort(id);
        }
    }
}

/// The delay before retry `retry` (1-based), for `withRetry` and transaction re-runs.
#[napi]
pub fn backoff_delay(retry: u32, initial_ms: f64, factor: f64, max_ms: f64, jitter: f64, random: f64) -> f64 {
    crate::retry::delay_ms(&crate::retry::Backoff { initial_ms, factor, max_ms, jitter }, retry, random)
}

/// Names of the environment variables the configuration reads (the JS layer passes them).
#[napi]
pub fn config_env_names() -> Vec<String> {
    ENV_NAMES.iter().map(|s| s.to_string()).collect()
}

/// Classifies a code: `{ retryable, kind }`.
#[napi(object)]
pub struct NativeClassification {
    /// Safe to retry.
    pub retryable: bool,
    /// Broad category.
    pub kind: String,
}

/// `classify` for codes found by `lib/errors.js` on any thrown value.
#[napi]
pub fn classify_code(code: Option<String>, message: String, maybe_committed: bool) -> NativeClassification {
    let c = classify(code.as_deref(), &message, maybe_committed);
    NativeClassification { retryable: c.retryable, kind: c.kind.as_str().to_string() }
}

/// Wakes the JS thread to take completions: a strong threadsafe function, referenced only
/// while statements are pending so an idle pool never keeps the process alive.
type WakeFn = ThreadsafeFunction<(), (), (), Status, false, false, 0>;

/// Statements submitted without a napi promise each; their outcomes come back in batches.
struct Dispatch {
    completions: Completions,
    wake: Arc<std::sync::RwLock<WakeFn>>,
    /// Submitted and not yet taken (touched on the JS thread only).
    pending: std::sync::atomic::AtomicUsize,
}

impl Dispatch {
    fn submitted(&self, env: &Env) {
        if self.pending.fetch_add(1, Ordering::AcqRel) == 0 {
            if let Ok(mut w) = self.wake.write() {
                #[allow(deprecated)]
                let _ = w.refer(env);
            }
        }
    }

    fn taken(&self, env: &Env, n: usize) {
        if n > 0 && self.pending.fetch_sub(n, Ordering::AcqRel) == n {
            if let Ok(mut w) = self.wake.write() {
                #[allow(deprecated)]
                let _ = w.unref(env);
            }
        }
    }
}

/// The native half of `Pool`.
#[napi]
pub struct NativePool {
    /// `None` once `end()` was called: the one place the 'closed' error comes from.
    inner: RwLock<Option<Arc<PoolCore>>>,
    warnings: Vec<String>,
    description: String,
    /// Kept outside `inner` so stats and metrics still answer after `end()`.
    stats: Arc<Stats>,
    settings: Arc<config::Settings>,
    dispatch: OnceLock<Arc<Dispatch>>,
    /// The core between `close()` and the end of `end()`.
    ending: std::sync::Mutex<Option<Arc<PoolCore>>>,
}

impl NativePool {
    fn core(&self) -> Result<Arc<PoolCore>, Error> {
        self.inner
            .read()
            .map_err(|_| Error::Internal("pool lock poisoned".into()))?
            .clone()
            .ok_or_else(|| Error::Closed("The pool has been closed (end() was called)".into()))
    }
}

#[napi]
impl NativePool {
    /// Validates the configuration; connects lazily.
    #[napi(constructor)]
    pub fn new(options: serde_json::Value, env: HashMap<String, String>) -> napi::Result<Self> {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let settings = config::resolve(&options, &env, cpus).map_err(|e| js_error(&e, None))?;
        let warnings = settings.warnings.clone();
        let description = settings.describe().to_string();
        let core = PoolCore::new(settings).map_err(|e| js_error(&e, None))?;
        let stats = core.stats.clone();
        let settings = core.settings.clone();
        napi::bindgen_prelude::spawn(PoolCore::reaper(Arc::downgrade(&core)));
        Ok(NativePool {
            inner: RwLock::new(Some(core)),
            warnings,
            description,
            stats,
            settings,
            dispatch: OnceLock::new(),
            ending: std::sync::Mutex::new(None),
        })
    }

    /// Configuration warnings to log once (unknown URL parameters, unknown options).
    #[napi]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// The settings as JSON, without the password.
    #[napi]
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    fn gauges(&self) -> PoolGauges {
        match self.core() {
            Ok(core) => {
                let s = core.status();
                PoolGauges {
                    active: s.size.saturating_sub(s.available),
                    idle: s.available,
                    limit: s.max_size,
                    waiting: s.waiting,
                }
            }
            Err(_) => PoolGauges { active: 0, idle: 0, limit: self.settings.connection_limit, waiting: 0 },
        }
    }

    /// `getPoolStats()` as JSON; still answers after `end()`.
    #[napi]
    pub fn stats(&self) -> String {
        let g = self.gauges();
        let mut v = self.stats.snapshot();
        let utilization = if g.limit > 0 { (g.active as f64 * 1000.0 / g.limit as f64).round() / 10.0 } else { 0.0 };
        v["pool"] = serde_json::json!({
            "active": g.active, "idle": g.idle, "total": g.active + g.idle,
            "limit": g.limit, "waiting": g.waiting, "utilization": utilization,
        });
        let st = &self.settings;
        v["config"] = serde_json::json!({
            "connectionLimit": st.connection_limit,
            "minConnections": st.min_connections,
            "poolTimeout": st.pool_timeout_ms as f64 / 1000.0,
            "queryTimeout": st.query_timeout_ms,
            "slowQueryThreshold": st.slow_query_threshold_ms,
        });
        v.to_string()
    }

    /// Zeroes the counters and histograms.
    #[napi]
    pub fn reset_stats(&self) {
        self.stats.reset();
    }

    /// Prometheus text exposition.
    #[napi]
    pub fn metrics(&self) -> String {
        crate::metrics::render(&self.stats, &self.gauges())
    }

    /// Installs the function that receives background events as JSON text. The function
    /// is held weakly: it never keeps the process alive.
    #[napi]
    pub fn set_event_sink(&self, callback: Function<String, ()>) -> napi::Result<()> {
        let tsfn = callback.build_threadsafe_function::<String>().weak::<true>().build()?;
        let tsfn = Arc::new(tsfn);
        if let Ok(core) = self.core() {
            let events_fn = tsfn.clone();
            core.events.set_sink(Arc::new(move |event: String| {
                let _ = events_fn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            }));
            crate::logging::register(
                core.id,
                core.settings.log_level,
                Arc::new(move |level: &'static str, message: String| {
                    let event = serde_json::json!({ "event": "log", "data": { "level": level, "message": message } });
                    let _ = tsfn.call(event.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
                }),
            );
        }
        Ok(())
    }

    /// Installs the function called (on the JS thread) when completions are ready to take.
    #[napi]
    pub fn set_completion_sink(&self, env: Env, callback: Function<(), ()>) -> napi::Result<()> {
        let mut tsfn: WakeFn = callback.build_threadsafe_function::<()>().callee_handled::<false>().build()?;
        #[allow(deprecated)]
        tsfn.unref(&env)?;
        let wake = Arc::new(std::sync::RwLock::new(tsfn));
        let caller = wake.clone();
        let completions = Completions::new(Box::new(move || {
            if let Ok(w) = caller.read() {
                let _ = w.call((), ThreadsafeFunctionCallMode::NonBlocking);
            }
        }));
        let _ = self.dispatch.set(Arc::new(Dispatch { completions, wake, pending: Default::default() }));
        Ok(())
    }

    /// Starts statement `id`; its outcome arrives through the completion sink as
    /// `[id,0,result]` or `[id,1,error payload]`. Throws at once when the pool is closed.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn submit(
        &self,
        env: Env,
        id: u32,
        sql: String,
        params: Vec<Option<String>>,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<()> {
        let dispatch = self
            .dispatch
            .get()
            .cloned()
            .ok_or_else(|| js_error(&Error::Internal("no completion sink installed".into()), None))?;
        let core = self.core().map_err(|e| js_error(&e, Some(&sql)))?;
        dispatch.submitted(&env);
        napi::bindgen_prelude::spawn(async move {
            let opts = query_options(&core, timeout_ms, abort_id);
            let out = {
                let _forget = AbortGuard(&core, abort_id);
                AssertUnwindSafe(core.query(&sql, params, &opts)).catch_unwind().await.unwrap_or_else(|_| {
                    Err(Error::Internal("internal error (a panic was caught); please report it".into()))
                })
            };
            dispatch.completions.push(id, out.map_err(|e| e.to_payload(Some(&sql)).to_string()));
        });
        Ok(())
    }

    /// Everything completed since the last call, as `[[id,status,payload],…]`.
    #[napi]
    pub fn take_completions(&self, env: Env) -> String {
        let Some(d) = self.dispatch.get() else { return "[]".into() };
        let (batch, n) = d.completions.take();
        d.taken(&env, n);
        batch
    }

    /// Opens max(1, minConnections) connections now.
    #[napi]
    pub async fn connect(&self) -> napi::Result<()> {
        guarded(None, async { self.core()?.warm_up().await }).await
    }

    /// Aborts the statement started with `abort_id` (a JS AbortSignal fired).
    #[napi]
    pub fn abort(&self, abort_id: u32) {
        if let Ok(core) = self.core() {
            core.abort(abort_id);
        }
    }

    /// Counts a `withRetry` event: "attempt", "succeeded" or "exhausted".
    #[napi]
    pub fn record_retry(&self, event: String) {
        let Ok(core) = self.core() else { return };
        let s = &core.stats;
        match event.as_str() {
            "attempt" => Stats::bump(&s.retry_attempts),
            "succeeded" => Stats::bump(&s.retry_succeeded),
            "exhausted" => Stats::bump(&s.retry_exhausted),
            _ => {}
        }
    }

    /// Runs a multi-statement script (simple protocol, no parameters).
    #[napi]
    pub async fn execute_script(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<()> {
        guarded(Some(&sql), async {
            let core = self.core()?;
            let _forget = AbortGuard(&core, abort_id);
            let opts = query_options(&core, timeout_ms, abort_id);
            let mut lease = core.checkout_for(&opts).await?;
            core.script(&mut lease.conn, &sql, &opts).await
        })
        .await
    }

    /// Checks out a connection for several statements.
    #[napi]
    pub async fn acquire(&self, wait_ms: Option<f64>) -> napi::Result<NativeClient> {
        guarded(None, async {
            let core = self.core()?;
            let wait = wait_ms.filter(|t| t.is_finite() && *t >= 0.0).map(|t| t as u64);
            let lease = core.checkout_with(wait, true).await?;
            let cancel = lease.conn.cancel.clone();
            Ok(NativeClient { core, cancel, lease: Arc::new(tokio::sync::Mutex::new(Some(lease))) })
        })
        .await
    }

    /// Starts a streamed statement; rows are pulled in batches with `next`. `timeout_ms`
    /// bounds the start and each wait for a batch; `abort_id` names its AbortSignal.
    #[napi]
    pub async fn stream(
        &self,
        sql: String,
        params: Vec<Option<String>>,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<NativeStream> {
        guarded(Some(&sql), async {
            check_params(&sql, params.len())?;
            let core = self.core()?;
            let opts = query_options(&core, timeout_ms, abort_id);
            let mut lease = core.checkout_for(&opts).await?;
            let (rows, prepared, interrupted) =
                core.open_stream(&mut lease.conn, &sql, text_params(params), &opts).await?;
            let writer = RowWriter::new(prepared.stmt.columns(), core.settings.int8);
            let state = StreamState { lease: Some(lease), rows: Some(rows), writer, sent_meta: false, interrupted };
            Ok(NativeStream { sql: sql.clone(), state: Arc::new(tokio::sync::Mutex::new(state)), core, opts, abort_id })
        })
        .await
    }

    /// First half of `end()`, on the JS thread: from now on new work is rejected.
    #[napi]
    pub fn close(&self) {
        let core = self.inner.write().ok().and_then(|mut g| g.take());
        if let (Some(core), Ok(mut ending)) = (core, self.ending.lock()) {
            *ending = Some(core);
        }
    }

    /// Second half of `end()`: work in flight gets `timeoutMs`, then every connection closes.
    #[napi]
    pub async fn end(&self, timeout_ms: Option<f64>) -> napi::Result<()> {
        self.close();
        let core = self.ending.lock().ok().and_then(|mut g| g.take());
        if let Some(core) = core {
            crate::logging::unregister(core.id);
            let ms = timeout_ms.filter(|t| t.is_finite() && *t >= 0.0).unwrap_or(5000.0);
            core.end(Duration::from_millis(ms as u64)).await;
        }
        Ok(())
    }
}

impl Drop for NativePool {
    fn drop(&mut self) {
        if let Ok(Some(core)) = self.inner.read().map(|g| g.clone()) {
            crate::logging::unregister(core.id);
        }
    }
}

/// A connection held by `pool.acquire()` until `release()`.
#[napi]
pub struct NativeClient {
    core: Arc<PoolCore>,
    /// Cancels this connection's running statement without waiting for its lock.
    cancel: Arc<Canceller>,
    lease: Arc<tokio::sync::Mutex<Option<Lease>>>,
}

#[napi]
impl NativeClient {
    /// Runs one statement on this connection.
    #[napi]
    pub async fn query(
        &self,
        sql: String,
        params: Vec<Option<String>>,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<String> {
        let _forget = AbortGuard(&self.core, abort_id);
        let opts = query_options(&self.core, timeout_ms, abort_id);
        guarded(Some(&sql), async {
            check_params(&sql, params.len())?;
            let mut guard = self.lease.lock().await;
            let lease = guard.as_mut().ok_or_else(|| Error::Closed("The client was released".into()))?;
            self.core.run(&mut lease.conn, &sql, text_params(params), &opts).await
        })
        .await
    }

    /// Runs a multi-statement script on this connection.
    #[napi]
    pub async fn execute_script(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<()> {
        let _forget = AbortGuard(&self.core, abort_id);
        let opts = query_options(&self.core, timeout_ms, abort_id);
        guarded(Some(&sql), async {
            let mut guard = self.lease.lock().await;
            let lease = guard.as_mut().ok_or_else(|| Error::Closed("The client was released".into()))?;
            self.core.script(&mut lease.conn, &sql, &opts).await
        })
        .await
    }

    /// Cancels the statement running on this connection (cancel request), if any.
    #[napi]
    pub async fn cancel(&self) -> napi::Result<()> {
        let _ = self.cancel.cancel().await;
        Ok(())
    }

    /// Aborts the statement started with `abort_id` on this client.
    #[napi]
    pub fn abort(&self, abort_id: u32) {
        self.core.abort(abort_id);
    }

    /// Returns the connection to the pool (`discard`: close it instead). Idempotent.
    #[napi]
    pub fn release(&self, discard: Option<bool>) {
        let slot = self.lease.clone();
        let discard = discard.unwrap_or(false);
        // Usually nothing holds the lock: give the connection back now, as pg-pool does.
        if let Ok(mut guard) = slot.try_lock() {
            if let Some(lease) = guard.take() {
                lease.finish(discard);
            }
            return;
        }
        // A statement still holds the lock: release as soon as it ends.
        napi::bindgen_prelude::spawn(async move {
            if let Some(lease) = slot.lock().await.take() {
                lease.finish(discard);
            }
        });
    }
}

struct StreamState {
    lease: Option<Lease>,
    rows: Option<Pin<Box<RowStream>>>,
    writer: RowWriter,
    sent_meta: bool,
    /// What stopped the stream's start (its cancel's 57014 arrives with the rows).
    interrupted: Option<Interruption>,
}

/// A statement whose rows are pulled in batches; memory stays bounded by the batch size
/// because the driver reads the socket only as fast as batches are taken.
#[napi]
pub struct NativeStream {
    sql: String,
    state: Arc<tokio::sync::Mutex<StreamState>>,
    core: Arc<PoolCore>,
    /// The stream's timeout (each wait for a batch) and AbortSignal.
    opts: QueryOptions,
    abort_id: Option<u32>,
}

#[napi]
impl NativeStream {
    /// Up to `batch_size` rows as `{"cols":[…],"n":k,"done":bool[,"fields":…,"fix":…]}`.
    #[napi]
    pub async fn next(&self, batch_size: u32) -> napi::Result<String> {
        guarded(Some(&self.sql), async {
            let mut st = self.state.lock().await;
            let st = &mut *st;
            let done = match (st.rows.as_mut(), st.lease.as_ref()) {
                (Some(rows), Some(lease)) => {
                    let cancel = lease.conn.cancel.clone();
                    let batch = read_batch(rows, &mut st.writer, batch_size);
                    match self.core.supervise(&cancel, &self.opts, batch).await {
                        (Ok(done), _) => done,
                        (Err(e), broken) => {
                            let e = match st.interrupted {
                                Some(why) if e.is_query_canceled() => {
                                    Error::Interrupted { why, stopped: Stopped::Cancelled }
                                }
                                _ => e,
                            };
                            st.rows = None;
                            if let Some(lease) = st.lease.take() {
                                lease.finish(broken || e.lost_connection());
                            }
                            return Err(e);
                        }
                    }
                }
                _ => true,
            };
            if done {
                st.rows = None;
                st.lease = None;
                if let Some(id) = self.abort_id {
                    self.core.forget_abort(id);
                }
            }
            let mut out = String::from("{");
            st.writer.take_cols(&mut out);
            out.push_str(",\"done\":");
            out.push_str(if done { "true" } else { "false" });
            if !st.sent_meta {
                out.push(',');
                st.writer.write_meta(&mut out);
                st.sent_meta = true;
            }
            out.push_str(",\"command\":");
            json_str(&mut out, &crate::sql::command_of(&self.sql));
            out.push('}');
            Ok(out)
        })
        .await
    }

    /// Stops early: the statement is cancelled on the server and its connection closed,
    /// so no unread rows are left on a pooled connection. Idempotent.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        if let Some(id) = self.abort_id {
            self.core.forget_abort(id);
        }
        let mut st = self.state.lock().await;
        let unfinished = st.rows.take().is_some();
        if let Some(lease) = st.lease.take() {
            if unfinished {
                let _ = lease.conn.cancel.cancel().await;
            }
            lease.finish(unfinished);
        }
        Ok(())
    }
}

/// Sizes the tokio runtime before first use: `PGWARDEN_WORKER_THREADS`, default one worker per
/// core (at least 2). Measured on 2 cores (SELECT 1, 100 callers): one worker made every
/// statement wait for the same thread that drives the sockets (~21k q/s); two or more let the
/// connection tasks and the statements run side by side (~30-37k q/s, less CPU per query).
#[napi_derive::module_init]
fn init_runtime() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let workers = std::env::var("PGWARDEN_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(cores.max(2))
        .max(1);
    if let Ok(rt) = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build() {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
}
