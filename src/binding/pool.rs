//! `NativePool`, the native half of JS `Pool`: statements submitted without a promise each
//! (their outcomes come back in batches), checkouts, streams, stats and shutdown.

use super::dispatch::{Dispatch, WakeFn};
use super::NativeSetupClient;
use super::{
    guarded, js_error, millis, query_options, statement, statement_options, AbortGuard, NativeClient, NativeCopyIn,
    NativeCopyOut, NativeStream, StatementOptions, ValueStyle,
};
use crate::completion::Completions;
use crate::config;
use crate::convert::Style;
use crate::error::Error;
use crate::handoff::Drive;
use crate::pool::{PoolCore, QueryOptions};
use crate::replicas::Replicas;
use crate::stats::PoolGauges;
use crate::stats::Stats;
use napi::bindgen_prelude::{Buffer, Either, Function, Promise};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

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
    /// The read replicas' pools (none without replicaUrls).
    replicas: Arc<Replicas>,
}

impl NativePool {
    fn core(&self) -> Result<Arc<PoolCore>, Error> {
        self.inner.read().map_err(|_| Error::poisoned("pool"))?.clone().ok_or_else(Error::pool_ended)
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
        let replicas = Replicas::new(&core.settings, core.id).map_err(|e| js_error(&e, None))?;
        let stats = core.stats.clone();
        let settings = core.settings.clone();
        for pool in std::iter::once(&core).chain(replicas.cores()) {
            napi::bindgen_prelude::spawn(PoolCore::reaper(Arc::downgrade(pool)));
        }
        napi::bindgen_prelude::spawn(Replicas::prober(Arc::downgrade(&replicas)));
        Ok(NativePool {
            inner: RwLock::new(Some(core)),
            warnings,
            description,
            stats,
            settings,
            dispatch: OnceLock::new(),
            ending: std::sync::Mutex::new(None),
            replicas,
        })
    }

    /// Every setting with its value (no password) and where it came from, as JSON.
    #[napi]
    pub fn setting_sources(&self) -> String {
        self.settings.sources_json().to_string()
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
            Ok(core) => core.gauges(),
            Err(_) => PoolGauges { active: 0, idle: 0, limit: self.settings.connection_limit, waiting: 0 },
        }
    }

    /// `getPoolStats()` as JSON; still answers after `end()`.
    #[napi]
    pub fn stats(&self) -> String {
        let g = self.gauges();
        let mut v = self.stats.snapshot();
        v["pool"] = g.to_json();
        v["config"] = self.settings.stats_view();
        v["replicas"] = self.replicas.snapshot();
        v.to_string()
    }

    /// Zeroes the counters and histograms.
    #[napi]
    pub fn reset_stats(&self) {
        self.stats.reset();
        self.replicas.reset();
    }

    /// Prometheus text exposition.
    #[napi]
    pub fn metrics(&self) -> String {
        crate::metrics::render(&self.stats, &self.gauges(), &self.replicas)
    }

    /// Installs the function that receives background events as JSON text. The function
    /// is held weakly: it never keeps the process alive.
    #[napi]
    pub fn set_event_sink(&self, callback: Function<String, ()>) -> napi::Result<()> {
        let tsfn = callback.build_threadsafe_function::<String>().weak::<true>().build()?;
        let tsfn = Arc::new(tsfn);
        if let Ok(core) = self.core() {
            let events_fn = tsfn.clone();
            let events: crate::events::Sink = Arc::new(move |event: String| {
                let _ = events_fn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            });
            let log: crate::logging::LogSink = Arc::new(move |level: &'static str, message: String| {
                let event = serde_json::json!({ "event": "log", "data": { "level": level, "message": message } });
                let _ = tsfn.call(event.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
            });
            core.events.set_sink(events.clone());
            crate::logging::register(core.id, core.settings.log_level, log.clone());
            self.replicas.forward(core.settings.log_level, events, log);
        }
        Ok(())
    }

    /// Installs the function asked for the password of each new connection (it may return a
    /// promise): rotating credentials such as IAM tokens. Held weakly.
    #[napi]
    pub fn set_password_provider(&self, provider: Function<(), Promise<String>>) -> napi::Result<()> {
        let tsfn = provider.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build()?;
        let tsfn = Arc::new(tsfn);
        let source: crate::connection::PasswordSource = Arc::new(move || {
            let tsfn = tsfn.clone();
            Box::pin(async move {
                let promise = tsfn.call_async(()).await.map_err(|e| e.reason.clone())?;
                promise.await.map_err(|e| e.reason.clone())
            })
        });
        self.core().map_err(|e| js_error(&e, None))?.set_password_source(source);
        Ok(())
    }

    /// Installs the `onConnect` hook: called with a `NativeSetupClient` on each new connection
    /// (of the primary and of every replica) before it serves anyone; its rejection closes that
    /// connection and fails the checkout that opened it.
    #[napi]
    pub fn set_connect_hook(&self, hook: Function<NativeSetupClient, Promise<()>>) -> napi::Result<()> {
        let tsfn =
            hook.build_threadsafe_function::<NativeSetupClient>().callee_handled::<false>().weak::<true>().build()?;
        let tsfn = Arc::new(tsfn);
        let core = self.core().map_err(|e| js_error(&e, None))?;
        for pool in std::iter::once(&core).chain(self.replicas.cores()) {
            let (tsfn, settings) = (tsfn.clone(), pool.settings.clone());
            pool.set_connect_hook(Arc::new(move |lent| {
                let (tsfn, client) = (tsfn.clone(), NativeSetupClient::new(lent, settings.clone()));
                Box::pin(async move {
                    let promise = tsfn.call_async(client).await.map_err(|e| e.reason.clone())?;
                    promise.await.map_err(|e| e.reason.clone())
                })
            }));
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
        let _ = self.dispatch.set(Arc::new(Dispatch {
            completions,
            wake,
            pending: Default::default(),
            burst: Default::default(),
            acquired: Default::default(),
        }));
        Ok(())
    }

    /// Starts statement `id`; its outcome arrives through the completion sink as
    /// `[id,0,result]` or `[id,1,error payload]`. Throws at once when the pool is closed.
    /// `replica`: a read for the replicas (see [`Replicas::read`]).
    #[napi]
    pub fn submit(
        &self,
        env: Env,
        id: u32,
        sql: String,
        params: Vec<Option<String>>,
        style: Option<ValueStyle>,
        options: Option<StatementOptions>,
    ) -> napi::Result<()> {
        let dispatch = self.dispatch.get().cloned().ok_or_else(Dispatch::missing)?;
        let core = self.core().map_err(|e| js_error(&e, Some(&sql)))?;
        let mut o = options.unwrap_or_default();
        let replicas = o.replica.unwrap_or(false).then(|| self.replicas.clone());
        let opts = statement_options(&core, &mut o, style).map_err(|e| js_error(&e, Some(&sql)))?;
        let forget = AbortGuard::new(&core, o.abort_id);
        let Some(replicas) = replicas else {
            // The statement takes its place in the line now (first come, first served).
            let sql: Arc<str> = sql.into();
            let ready = std::panic::catch_unwind(AssertUnwindSafe(|| core.ready(sql.clone(), params, opts)));
            dispatch.start_query(&env, id, &core, (sql, ready), forget);
            return Ok(());
        };
        dispatch.spawn(&env, id, sql, forget, move |sql| async move {
            let read = replicas.read(core.clone(), |pool, on_replica| {
                let (params, opts) = (params.clone(), on(&opts, on_replica));
                pool.query(sql.clone(), params, opts)
            });
            // Boxed: a replica read's state is large, and the task must stay small
            // while it waits for a connection.
            (Box::pin(read).await, ())
        });
        Ok(())
    }

    /// The oldest batch of completions, `[[id,status,payload],…]`; when results in it came
    /// with their rows in parts (see `ResultText`), `[batch, ...parts]` instead: JSON texts,
    /// and Buffers for the arrays of the columns in lanes.
    #[napi(ts_return_type = "string | Array<string | Buffer>")]
    pub fn take_completions(&self, env: Env) -> Either<String, Vec<Either<String, Buffer>>> {
        let Some(d) = self.dispatch.get() else { return Either::A("[]".into()) };
        let batch = d.completions.take();
        d.taken(&env, batch.count);
        if batch.parts.is_empty() {
            return Either::A(batch.json);
        }
        let mut texts = Vec::with_capacity(batch.parts.len() + 1);
        texts.push(Either::A(batch.json));
        texts.extend(batch.parts.into_iter().map(super::part_for_js));
        Either::B(texts)
    }

    /// Opens max(1, minConnections) connections now.
    #[napi]
    pub async fn connect(&self) -> napi::Result<()> {
        guarded(None, async { self.core()?.warm_up().await }).await
    }

    /// Aborts the statement started with `abort_id`: its AbortSignal fired, or (`why`) its
    /// request scope's deadline of `timeout_ms` passed (`'deadline'`) or its request's client
    /// left (`'hangUp'`).
    #[napi]
    pub fn abort(&self, abort_id: u32, why: Option<String>, timeout_ms: Option<f64>) {
        if let Ok(core) = self.core() {
            core.abort(abort_id, super::interruption_of(why, timeout_ms));
        }
    }

    /// Sets the connection limit to `n` now (see `PoolCore::resize`).
    #[napi]
    pub fn resize(&self, n: f64) -> napi::Result<()> {
        let core = self.core().map_err(|e| js_error(&e, None))?;
        if !(n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n <= u32::MAX as f64) {
            return Err(js_error(
                &Error::Params(format!("resize needs a whole number of connections of at least 1, got {n}")),
                None,
            ));
        }
        core.resize(n as usize).map_err(|e| js_error(&e, None))
    }

    /// Counts a retry of `withRetry` or of a transaction's re-run.
    #[napi]
    pub fn record_retry_attempt(&self) {
        Stats::bump(&self.stats.retry_attempts);
    }

    /// Counts a call that succeeded after retries.
    #[napi]
    pub fn record_retry_succeeded(&self) {
        Stats::bump(&self.stats.retry_succeeded);
    }

    /// Counts a statement of a request scope stopped by `why`: `'hangUp'` (its request's
    /// client left) or `'deadline'` (the scope's deadline passed).
    #[napi]
    pub fn record_scope_stop(&self, why: String) {
        let counter = if why == "hangUp" { &self.stats.scope_hang_ups } else { &self.stats.scope_deadlines };
        Stats::bump(counter);
    }

    /// Counts a call that failed with every retry used.
    #[napi]
    pub fn record_retry_exhausted(&self) {
        Stats::bump(&self.stats.retry_exhausted);
    }

    /// Whether a statement that took `ms` is slow (`slowQuery` event): for the statements
    /// whose duration JS measures (streams, failures).
    #[napi]
    pub fn is_slow(&self, ms: f64) -> bool {
        crate::stats::is_slow(ms, self.settings.slow_query_threshold_ms)
    }

    /// Why a pool with `active` of `limit` connections checked out (from `stats()`) counts as
    /// busy for `healthCheck`: in the highUtilization alert's band. Else nothing.
    #[napi]
    pub fn busy_reason(&self, active: u32, limit: u32) -> Option<String> {
        crate::utilization::busy_reason(active as usize, limit as usize, self.settings.utilization_alert_threshold)
    }

    /// Runs a multi-statement script (simple protocol, no parameters).
    #[napi]
    pub async fn execute_script(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<()> {
        let core = self.core().map_err(|e| js_error(&e, Some(&sql)))?;
        let (core, sql) = (&core, sql.as_str());
        let opts = query_options(core, timeout_ms, abort_id, Style::Pg);
        statement(core, sql, opts, abort_id, |opts| async move {
            let mut lease = core.checkout_for(&opts).await?;
            core.script(&mut lease.conn, sql, &opts).await
        })
        .await
    }

    /// Starts `COPY … TO STDOUT` on a connection of its own (given back when the COPY ends);
    /// `timeout_ms` and `abort_id` bound each step.
    #[napi]
    pub async fn copy_out(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<NativeCopyOut> {
        guarded(Some(&sql), async { super::copy::copy_out(self.core()?, None, &sql, timeout_ms, abort_id).await }).await
    }

    /// Starts `COPY … FROM STDIN` on a connection of its own (given back when the COPY ends);
    /// `timeout_ms` and `abort_id` bound each step.
    #[napi]
    pub async fn copy_in(
        &self,
        sql: String,
        timeout_ms: Option<f64>,
        abort_id: Option<u32>,
    ) -> napi::Result<NativeCopyIn> {
        guarded(Some(&sql), async { super::copy::copy_in(self.core()?, None, &sql, timeout_ms, abort_id).await }).await
    }

    /// Checks out a connection for several statements, its place in the waiting line taken now:
    /// its client at once when a connection is free and open (as pg-pool gives an idle client),
    /// else null, and `id` names it (as a statement's id does) until its outcome arrives through
    /// the completion sink (`[id,0,null]`, then `takeAcquired(id)`, or `[id,1,error payload]`),
    /// unless a release on the JS thread hands it its connection first (see
    /// `NativeClient.release`). Throws at once when it cannot wait (the line is full, or its
    /// scope holds a connection of this pool).
    #[napi]
    pub fn acquire(
        &self,
        env: Env,
        wait_ms: Option<f64>,
        no_wait: Option<bool>,
        id: u32,
    ) -> napi::Result<Option<NativeClient>> {
        let core = self.core().map_err(|e| js_error(&e, None))?;
        let dispatch = self.dispatch.get().cloned().ok_or_else(Dispatch::missing)?;
        // Its place in the waiting line is taken now, as a pool.query statement's is.
        let drive = Drive::new(id, core.acquire(millis(wait_ms), no_wait.unwrap_or(false)));
        // Polled here once (within the runtime: it may start timers and connections): ready
        // now, or waiting with the drive's waker, so that a release on this thread serves it.
        let now = napi::bindgen_prelude::within_runtime_if_available(|| drive.poll_now(|| Err(Error::panicked())));
        match now {
            Some(Ok(lease)) => Ok(Some(NativeClient::new(lease, dispatch))),
            Some(Err(e)) => Err(js_error(&e, None)),
            None => {
                dispatch.spawn_acquire(&env, drive);
                Ok(None)
            }
        }
    }

    /// The client of `acquire()` `id`, once its completion has come (none if it was taken).
    #[napi]
    pub fn take_acquired(&self, id: u32) -> Option<NativeClient> {
        let dispatch = self.dispatch.get()?;
        let lease = dispatch.acquired.lock().ok()?.remove(&id)?;
        Some(NativeClient::new(lease, dispatch.clone()))
    }

    /// Starts a streamed statement; rows are pulled in batches with `next`. Its timeout
    /// bounds the start and each wait for a batch; `abortId` names its AbortSignal.
    #[napi]
    pub async fn stream(
        &self,
        sql: String,
        params: Vec<Option<String>>,
        style: Option<ValueStyle>,
        options: Option<StatementOptions>,
    ) -> napi::Result<NativeStream> {
        guarded(Some(&sql), async {
            let core = self.core()?;
            let mut o = options.unwrap_or_default();
            let (abort_id, replica) = (o.abort_id, o.replica);
            let opts = statement_options(&core, &mut o, style)?;
            let forget = AbortGuard::new(&core, abort_id);
            let read = |pool, on_replica| {
                let (home, params, opts, sql) = (core.clone(), params.clone(), on(&opts, on_replica), &sql);
                async move { NativeStream::open(pool, home, None, sql, params, opts, abort_id).await }
            };
            let stream = match replica {
                Some(true) => self.replicas.read(core.clone(), read).await,
                _ => read(core.clone(), false).await,
            };
            if stream.is_ok() {
                // Started: the stream forgets its abort flag when it ends.
                std::mem::forget(forget);
            }
            stream
        })
        .await
    }

    /// Why the replicas make the pool degraded (`healthCheck`): one sentence per replica out
    /// of rotation.
    #[napi]
    pub fn replica_reasons(&self) -> Vec<String> {
        self.replicas.reasons()
    }

    /// Every host of the connection string with its role now (`pgwarden doctor`), as JSON
    /// `[{ address, role } | { address, error }]`; the connections it opens are not pooled.
    #[napi]
    pub async fn host_roles(&self) -> napi::Result<String> {
        guarded(None, async { self.core()?.host_roles().await }).await
    }

    /// Probes every replica now (`pgwarden doctor`), so their state is current.
    #[napi]
    pub async fn probe_replicas(&self) -> napi::Result<()> {
        guarded(None, async {
            self.replicas.probe(true).await;
            Ok(())
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
            self.replicas.unforward();
            let ms = millis(timeout_ms).unwrap_or(crate::defaults::END_TIMEOUT_MS);
            let timeout = Duration::from_millis(ms);
            futures_util::join!(core.end(timeout), self.replicas.end(timeout));
            let _ = napi::bindgen_prelude::spawn_blocking(crate::trim::release_free_memory).await;
        }
        Ok(())
    }
}

impl Drop for NativePool {
    fn drop(&mut self) {
        if let Ok(Some(core)) = self.inner.read().map(|g| g.clone()) {
            crate::logging::unregister(core.id);
        }
        self.replicas.unforward();
    }
}

/// `opts` for a run on a replica (`on_replica`: a failed connect is not retried) or the primary.
fn on(opts: &QueryOptions, on_replica: bool) -> QueryOptions {
    // A scope holding a primary connection cannot deadlock on a replica's pool: no_wait is the
    // primary's only.
    QueryOptions { fail_fast: on_replica, no_wait: opts.no_wait && !on_replica, ..opts.clone() }
}
