//! The napi boundary, and the only place that knows about JavaScript: one file per JS class
//! (`pool`, `client`, `stream`) and here the functions without a class.
//!
//! Methods convert arguments, call plain Rust, and turn an [`Error`] into a JS error whose
//! message is the structured payload `lib/errors.js` decodes. Every future a method runs goes
//! through [`caught`], so a bug surfaces as an error instead of aborting the process.

mod client;
mod copy;
mod dispatch;
mod hold;
mod pool;
mod runtime;
mod setup;
mod stream;

use crate::config::ENV_NAMES;
use crate::convert::result::Part;
use crate::convert::Style;
use crate::error::{classify, Error, Interruption};
use crate::pool::{PoolCore, QueryOptions};
use crate::scope::ScopeSettings;
use futures_util::FutureExt;
use napi::bindgen_prelude::{Buffer, Either};
use napi::Status;
use napi_derive::napi;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

pub(crate) use client::NativeClient;
pub(crate) use copy::{NativeCopyIn, NativeCopyOut};
pub(crate) use setup::NativeSetupClient;
pub(crate) use stream::NativeStream;

fn js_error(e: &Error, query: Option<&str>) -> napi::Error {
    napi::Error::new(Status::GenericFailure, e.to_payload(query).to_string())
}

/// Runs `fut`, turning a panic into an internal error: the one `catch_unwind` of the crate.
/// A plain combinator, not an `async fn`: no second state machine around the statement's
/// future (as an `async fn`, with a `write!` in the result envelope, it cost SELECT 1 at 100
/// callers ~10%: 36k against 41k q/s).
fn caught<T>(fut: impl Future<Output = Result<T, Error>>) -> impl Future<Output = Result<T, Error>> {
    AssertUnwindSafe(fut).catch_unwind().map(|out| out.unwrap_or_else(|_| Err(Error::panicked())))
}

/// [`caught`], with any error turned into a JS error: how every async method runs.
async fn guarded<T>(query: Option<&str>, fut: impl Future<Output = Result<T, Error>>) -> napi::Result<T> {
    caught(fut).await.map_err(|e| js_error(&e, query))
}

/// A result's part as JS takes it: a JSON text, or one of the lanes' arrays as a Buffer.
fn part_for_js(part: Part) -> Either<String, Buffer> {
    match part {
        Part::Text(t) => Either::A(t),
        Part::Lanes(b) => Either::B(b.into()),
    }
}

/// A JS duration in ms: finite and non-negative, else none (JS validated it already).
fn millis(ms: Option<f64>) -> Option<u64> {
    ms.filter(|t| t.is_finite() && *t >= 0.0).map(|t| t as u64)
}

/// OIDs below this are built into PostgreSQL; from it on, types a database defined (JS reads
/// it for the Prisma adapter's column types).
#[napi]
pub(crate) fn first_user_oid() -> u32 {
    crate::convert::FIRST_USER_OID
}

/// The conventions a statement's result values follow, when not pgwarden's own (absent).
#[napi]
pub enum ValueStyle {
    /// Prisma's driver adapters (`pgwarden/prisma`).
    Prisma,
    /// pg's driver (`pgwarden/pg`): fields with their table, column and type modifier.
    PgDriver,
}

/// The core's style for a statement's `ValueStyle` (absent: pgwarden's own) and options.
fn style_of(style: Option<ValueStyle>, options: &StatementOptions) -> Style {
    match style {
        Some(ValueStyle::Prisma) => Style::Prisma,
        Some(ValueStyle::PgDriver) => Style::PgDriver { text_types: options.text_types.unwrap_or(0) as u64 },
        None => Style::Pg,
    }
}

/// The types pg's style decodes natively, in the order `StatementOptions.textTypes` marks
/// them (`lib/pg/values.js` marks those the caller has a parser of its own for).
#[napi]
pub(crate) fn pg_decoded_types() -> Vec<u32> {
    crate::convert::pg_driver::PG_DECODED.to_vec()
}

/// A statement's options from JS; absent when it has none (the common call converts nothing).
#[napi(object)]
#[derive(Default)]
pub struct StatementOptions {
    /// Its timeout (ms), validated by JS; absent: the pool's queryTimeoutMs.
    pub timeout_ms: Option<f64>,
    /// The id its AbortSignal aborts it by (`abort(id)`).
    pub abort_id: Option<u32>,
    /// A read for the replicas (`replica: true`); a held connection is the primary's and
    /// ignores it.
    pub replica: Option<bool>,
    /// In pg's style, the types (bits by position in `pgDecodedTypes()`) to have as the
    /// server's text, for parsers of the caller's own.
    pub text_types: Option<i64>,
    /// The extended protocol even for text holding several statements (pg's `queryMode`).
    pub extended: Option<bool>,
    /// Its request scope's settings, name, value, name, value… (see `src/scope.rs`).
    pub settings: Option<Vec<String>>,
    /// Refused at once when every connection is busy: its request scope holds a connection
    /// of this pool already (waiting could deadlock).
    pub no_wait: Option<bool>,
    /// Its `timeoutMs` is what is left of its request scope's deadline, the scope's own
    /// `timeoutMs` being this (its expiry is then told as the scope's deadline).
    pub deadline_of: Option<f64>,
    /// The text sent in place of the statement's, unnamed: its request scope's comment with a
    /// traceparent, which changes at each call (see `src/scope.rs`).
    pub sent_as: Option<String>,
}

/// A statement's options for the core: its timeout, its abort flag (registered on `core`) and
/// the conventions its result follows.
fn query_options(core: &PoolCore, timeout_ms: Option<f64>, abort_id: Option<u32>, style: Style) -> QueryOptions {
    QueryOptions {
        timeout_ms: millis(timeout_ms),
        abort: abort_id.map(|id| core.abort_flag(id)),
        fail_fast: false,
        style,
        extended: false,
        timed_from: None,
        settings: None,
        sent_as: None,
        no_wait: false,
        deadline_of: None,
    }
}

/// [`query_options`] of a statement's `StatementOptions`; its settings' names are checked
/// (nothing is sent when one is refused).
fn statement_options(
    core: &PoolCore,
    o: &mut StatementOptions,
    style: Option<ValueStyle>,
) -> Result<QueryOptions, Error> {
    let settings = ScopeSettings::from_pairs(o.settings.take().unwrap_or_default())?;
    Ok(QueryOptions {
        extended: o.extended.unwrap_or(false),
        settings: settings.map(Arc::new),
        sent_as: o.sent_as.take().map(Arc::from),
        no_wait: o.no_wait.unwrap_or(false),
        deadline_of: millis(o.deadline_of),
        ..query_options(core, o.timeout_ms, o.abort_id, style_of(style, o))
    })
}

/// What an abort from JS stands for: `why` is absent for the statement's own AbortSignal,
/// `'deadline'` for its request scope's deadline (`timeout_ms`, the scope's), `'hangUp'` for
/// a request whose client left.
fn interruption_of(why: Option<String>, timeout_ms: Option<f64>) -> Interruption {
    match why.as_deref() {
        Some("deadline") => Interruption::Deadline { timeout_ms: millis(timeout_ms).unwrap_or(0) },
        Some("hangUp") => Interruption::HungUp,
        _ => Interruption::Abort,
    }
}

/// A fleet instance's budget and pool limit (see `src/fleet.rs`).
#[napi(object)]
pub(crate) struct FleetShare {
    /// The fleet's budget of connections.
    pub budget: u32,
    /// This instance's share of it (its beacon included; the pool gets the rest, at least 1).
    pub share: u32,
    /// This instance's pool limit: its share, less its beacon.
    pub limit: u32,
}

/// A fleet instance's pool limit now, from the server's limits (`reserved`: superuser and
/// ordinary reserved slots; `role_limit` -1 for none), the `given_budget` if any, and the
/// `instances` seen.
#[napi]
pub(crate) fn fleet_share(
    given_budget: Option<u32>,
    max_connections: u32,
    reserved: u32,
    role_limit: i32,
    headroom: Option<f64>,
    instances: u32,
) -> FleetShare {
    let server = crate::fleet::ServerLimits { max_connections, reserved, role_limit };
    let budget = crate::fleet::budget(given_budget, server, headroom.unwrap_or(crate::fleet::DEFAULT_HEADROOM));
    FleetShare {
        budget,
        share: crate::fleet::share(budget, instances),
        limit: crate::fleet::pool_limit(budget, instances),
    }
}

/// A fleet's gauges in Prometheus text (see `metrics::fleet`).
#[napi]
pub(crate) fn fleet_metrics(name: String, instances: u32, budget: Option<u32>, share: Option<u32>) -> String {
    crate::metrics::fleet(&name, instances, budget, share)
}

/// `SELECT set_config($1,$2,true),…` for a request scope's settings `names`, checked: what a
/// transaction in the scope runs once after BEGIN.
#[napi]
pub(crate) fn scope_settings_sql(names: Vec<String>) -> napi::Result<String> {
    for n in &names {
        crate::scope::check_name(n).map_err(|e| js_error(&e, None))?;
    }
    Ok(crate::scope::settings_statement(names.len()))
}

/// Runs a statement's future with its options, its abort flag forgotten however it ends, and
/// its error converted for JS: the shape of every statement method.
async fn statement<T, F, Fut>(
    core: &Arc<PoolCore>,
    sql: &str,
    opts: QueryOptions,
    abort_id: Option<u32>,
    run: F,
) -> napi::Result<T>
where
    F: FnOnce(QueryOptions) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let _forget = AbortGuard::new(core, abort_id);
    guarded(Some(sql), run(opts)).await
}

/// Forgets a statement's abort flag however the statement ends (nothing to hold without one).
struct AbortGuard(Option<(Arc<PoolCore>, u32)>);

impl AbortGuard {
    /// The guard of abort flag `id` on `core`, if the statement has one.
    fn new(core: &Arc<PoolCore>, id: Option<u32>) -> Self {
        AbortGuard(id.map(|id| (core.clone(), id)))
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some((core, id)) = &self.0 {
            core.forget_abort(*id);
        }
    }
}

/// The delay before retry `retry` (1-based), for `withRetry` and transaction re-runs.
#[napi]
pub(crate) fn backoff_delay(retry: u32, initial_ms: f64, factor: f64, max_ms: f64, jitter: f64, random: f64) -> f64 {
    crate::retry::delay_ms(&crate::retry::Backoff { initial_ms, factor, max_ms, jitter }, retry, random)
}

/// Names of the environment variables the configuration reads (the JS layer passes them).
#[napi]
pub(crate) fn config_env_names() -> Vec<String> {
    ENV_NAMES.iter().map(|s| s.to_string()).collect()
}

/// Every option name a Pool takes, from the settings table.
#[napi]
pub(crate) fn config_option_names() -> Vec<String> {
    crate::config::option_names().map(str::to_string).collect()
}

/// Defaults of the per-call options (`withRetry`, `transaction`, `healthCheck`, `end`) as JSON.
#[napi]
pub(crate) fn call_defaults() -> String {
    crate::defaults::as_json().to_string()
}

/// The codes of the per-column fixes in result JSON (`{ date: 1, … }`), so `lib/result.js`
/// keys its fix-ups by what they mean instead of by position.
#[napi]
pub(crate) fn fix_codes() -> String {
    crate::convert::Fix::codes_json()
}

/// The operation a statement performs (SELECT, INSERT, …), as `result.command` names it: the
/// `db.operation.name` of its OpenTelemetry span.
#[napi]
pub(crate) fn command_of(sql: String) -> String {
    crate::sql::command_of(&sql)
}

/// SQL text as events and stats show it: cut to 500 characters.
#[napi]
pub(crate) fn cut_sql(sql: String) -> String {
    crate::stats::cut_sql(&sql)
}

/// The error payload of a statement stopped before it was sent by its AbortSignal, or (`why`,
/// see `NativePool.abort`) by its request scope.
#[napi]
pub(crate) fn aborted_before_send(why: Option<String>, timeout_ms: Option<f64>) -> String {
    Error::not_sent(interruption_of(why, timeout_ms)).to_payload(None).to_string()
}

/// The error payload of a transaction that ran past its `timeoutMs` and was rolled back.
#[napi]
pub(crate) fn transaction_timed_out(timeout_ms: f64) -> String {
    Error::TransactionTimeout { timeout_ms: millis(Some(timeout_ms)).unwrap_or(0) }.to_payload(None).to_string()
}

/// Classifies a code: `{ retryable, kind }`.
#[napi(object)]
pub(crate) struct NativeClassification {
    /// Safe to retry.
    pub retryable: bool,
    /// Broad category.
    pub kind: String,
}

/// `classify` for codes found by `lib/errors.js` on any thrown value.
#[napi]
pub(crate) fn classify_code(code: Option<String>, message: String, maybe_committed: bool) -> NativeClassification {
    let c = classify(code.as_deref(), &message, maybe_committed);
    NativeClassification { retryable: c.retryable, kind: c.kind.as_str().to_string() }
}
