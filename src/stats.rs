//! Pool statistics: counters and latency histograms on relaxed atomics, so the hot path takes
//! no lock and allocates nothing; locks are taken only for slow queries and errors.

use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// Upper bounds (ms) of the latency buckets; the last bucket is +Inf.
pub(crate) const BUCKETS_MS: [f64; 36] = [
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 75.0, 100.0, 150.0,
    200.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 5000.0, 7500.0, 10000.0, 15000.0, 20000.0,
    30000.0, 60000.0,
];

/// How many recent slow queries are kept.
const SLOW_KEPT: usize = 100;
/// Slow-query SQL is cut to this many characters.
pub(crate) const SQL_CUT: usize = 500;

/// A latency histogram: counts per bucket, sum and max in microseconds.
#[derive(Debug)]
pub(crate) struct Histogram {
    counts: [AtomicU64; BUCKETS_MS.len() + 1],
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one observation.
    pub(crate) fn record(&self, ms: f64) {
        let i = BUCKETS_MS.partition_point(|b| *b < ms);
        self.counts[i].fetch_add(1, Relaxed);
        let us = (ms * 1000.0) as u64;
        self.sum_us.fetch_add(us, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
    }

    fn reset(&self) {
        for c in &self.counts {
            c.store(0, Relaxed);
        }
        self.sum_us.store(0, Relaxed);
        self.max_us.store(0, Relaxed);
    }

    /// Counts per bucket.
    pub(crate) fn counts(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Relaxed)).collect()
    }

    /// Number of observations.
    pub(crate) fn count(&self) -> u64 {
        self.counts().iter().sum()
    }

    /// Sum of observations, ms.
    pub(crate) fn sum_ms(&self) -> f64 {
        self.sum_us.load(Relaxed) as f64 / 1000.0
    }

    /// Largest observation, ms.
    pub(crate) fn max_ms(&self) -> f64 {
        self.max_us.load(Relaxed) as f64 / 1000.0
    }

    /// The q-quantile (0..1), interpolated linearly inside its bucket and never above the max.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        quantile(&self.counts(), q, self.max_ms())
    }
}

/// The q-quantile of bucket counts (pure, for tests).
pub(crate) fn quantile(counts: &[u64], q: f64, max_ms: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = (q * total as f64).ceil().max(1.0);
    let mut seen = 0u64;
    for (i, c) in counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        if (seen + c) as f64 >= rank {
            let lo = if i == 0 { 0.0 } else { BUCKETS_MS[i - 1] };
            let hi = BUCKETS_MS.get(i).copied().unwrap_or(max_ms).min(max_ms.max(lo));
            let within = (rank - seen as f64) / *c as f64;
            return round2(lo + (hi - lo) * within);
        }
        seen += c;
    }
    max_ms
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A slow statement, remembered for `slowQueries`.
#[derive(Debug, Clone)]
pub(crate) struct SlowQuery {
    /// SQL, cut at [`SQL_CUT`] characters.
    pub query: String,
    /// Duration, ms.
    pub duration_ms: f64,
    /// When it finished.
    pub at: SystemTime,
}

/// Counters a pool keeps for `getPoolStats()` and `metrics()`.
#[derive(Debug)]
pub(crate) struct Stats {
    /// Statements run, failed ones included.
    pub queries: AtomicU64,
    /// Statements that failed.
    pub query_errors: AtomicU64,
    /// Statements slower than slowQueryThresholdMs.
    pub slow_queries: AtomicU64,
    /// Statements sent together with others on one connection (see `src/pool/convoy.rs`).
    pub pipelined: AtomicU64,
    /// Statement latency.
    pub query_ms: Histogram,
    /// Time to get a connection.
    pub acquire_ms: Histogram,
    /// Connections opened.
    pub connections_created: AtomicU64,
    /// Connections closed (by us, the server or the network).
    pub connections_closed: AtomicU64,
    /// Connection attempts that failed.
    pub connections_failed: AtomicU64,
    /// Connections given back inside a transaction (or a failed one), rolled back or closed.
    pub released_in_transaction: AtomicU64,
    /// Connections whose session state was reset before reuse (see `src/reset.rs`).
    pub session_resets: AtomicU64,
    /// Outages: runs of failed attempts until a connection opens.
    pub outages: crate::outages::Outages,
    /// Moves of new connections to another host (failovers).
    pub failovers: crate::hosts::Failovers,
    /// Connections whose socket is still open (not reset by `reset`).
    pub open_connections: AtomicU64,
    /// Checkouts that timed out waiting for a free connection.
    pub acquire_timeouts: AtomicU64,
    /// Callers refused at once because the waiting line held maxWaiting callers.
    pub line_full_rejections: AtomicU64,
    /// Connection attempts the server refused with too many clients (53300) or too many
    /// connections for the role or database (53400-style): backpressure, retried.
    pub refused_too_many: AtomicU64,
    /// Retries made by `pool.withRetry` and transaction re-runs.
    pub retry_attempts: AtomicU64,
    /// Operations that succeeded after at least one retry.
    pub retry_succeeded: AtomicU64,
    /// Operations that failed after using every retry.
    pub retry_exhausted: AtomicU64,
    /// Statements of a request scope stopped because its HTTP request's client left.
    pub scope_hang_ups: AtomicU64,
    /// Statements of a request scope stopped (or refused unsent) by its deadline.
    pub scope_deadlines: AtomicU64,
    errors_by_code: Mutex<HashMap<String, u64>>,
    slow: Mutex<VecDeque<SlowQuery>>,
    started: Instant,
    reset_at: Mutex<(Instant, SystemTime)>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            queries: AtomicU64::new(0),
            query_errors: AtomicU64::new(0),
            slow_queries: AtomicU64::new(0),
            pipelined: AtomicU64::new(0),
            query_ms: Histogram::default(),
            acquire_ms: Histogram::default(),
            connections_created: AtomicU64::new(0),
            connections_closed: AtomicU64::new(0),
            connections_failed: AtomicU64::new(0),
            released_in_transaction: AtomicU64::new(0),
            session_resets: AtomicU64::new(0),
            outages: Default::default(),
            failovers: Default::default(),
            open_connections: AtomicU64::new(0),
            acquire_timeouts: AtomicU64::new(0),
            line_full_rejections: AtomicU64::new(0),
            refused_too_many: AtomicU64::new(0),
            retry_attempts: AtomicU64::new(0),
            retry_succeeded: AtomicU64::new(0),
            retry_exhausted: AtomicU64::new(0),
            scope_hang_ups: AtomicU64::new(0),
            scope_deadlines: AtomicU64::new(0),
            errors_by_code: Mutex::new(HashMap::new()),
            slow: Mutex::new(VecDeque::new()),
            started: Instant::now(),
            reset_at: Mutex::new((Instant::now(), SystemTime::now())),
        }
    }
}

/// Cuts SQL at [`SQL_CUT`] characters (on a character boundary).
pub(crate) fn cut_sql(sql: &str) -> String {
    match sql.char_indices().nth(SQL_CUT) {
        Some((i, _)) => format!("{}...", &sql[..i]),
        None => sql.to_string(),
    }
}

fn iso(t: SystemTime) -> String {
    let ms = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = crate::convert::text::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Whether a statement that took `ms` is slow: the one rule behind `slowQuery` events, the
/// slow-query list and its counter.
pub(crate) fn is_slow(ms: f64, threshold_ms: u64) -> bool {
    ms >= threshold_ms as f64
}

impl Stats {
    /// Adds one to a counter.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Records a finished statement: its latency, whether it failed, and whether it was slow.
    pub(crate) fn record_query(&self, sql: &str, ms: f64, error_code: Option<&str>, slow_threshold_ms: u64) -> bool {
        self.queries.fetch_add(1, Relaxed);
        self.query_ms.record(ms);
        if let Some(code) = error_code {
            self.query_errors.fetch_add(1, Relaxed);
            self.record_error(code);
        }
        let slow = is_slow(ms, slow_threshold_ms);
        if slow {
            self.slow_queries.fetch_add(1, Relaxed);
            if let Ok(mut q) = self.slow.lock() {
                if q.len() == SLOW_KEPT {
                    q.pop_front();
                }
                q.push_back(SlowQuery { query: cut_sql(sql), duration_ms: ms, at: SystemTime::now() });
            }
        }
        slow
    }

    /// Counts an error by its code.
    pub(crate) fn record_error(&self, code: &str) {
        if let Ok(mut m) = self.errors_by_code.lock() {
            *m.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// Zeroes the counters and histograms (connection counts included).
    pub(crate) fn reset(&self) {
        for c in [
            &self.queries,
            &self.query_errors,
            &self.slow_queries,
            &self.pipelined,
            &self.connections_created,
            &self.connections_closed,
            &self.connections_failed,
            &self.released_in_transaction,
            &self.session_resets,
            &self.acquire_timeouts,
            &self.line_full_rejections,
            &self.refused_too_many,
            &self.retry_attempts,
            &self.retry_succeeded,
            &self.retry_exhausted,
            &self.scope_hang_ups,
            &self.scope_deadlines,
        ] {
            c.store(0, Relaxed);
        }
        self.query_ms.reset();
        self.acquire_ms.reset();
        self.outages.reset();
        self.failovers.reset();
        if let Ok(mut m) = self.errors_by_code.lock() {
            m.clear();
        }
        if let Ok(mut q) = self.slow.lock() {
            q.clear();
        }
        if let Ok(mut r) = self.reset_at.lock() {
            *r = (Instant::now(), SystemTime::now());
        }
    }

    /// Errors by code.
    pub(crate) fn errors_by_code(&self) -> HashMap<String, u64> {
        self.errors_by_code.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The `queries`, `acquire`, `retries`, `connections`, `requestScopes`, `outages`, `failovers`, `errors` and `slowQueries`
    /// sections.
    pub(crate) fn snapshot(&self) -> Value {
        let n = self.queries.load(Relaxed);
        let slow = self.slow_queries.load(Relaxed);
        let q = &self.query_ms;
        let a = &self.acquire_ms;
        let a_count = a.count();
        let (reset_instant, reset_wall) = self.reset_at.lock().map(|r| *r).unwrap_or((self.started, SystemTime::now()));
        let by_code: Map<String, Value> = self.errors_by_code().into_iter().map(|(k, v)| (k, json!(v))).collect();
        let slow_list: Vec<Value> = self
            .slow
            .lock()
            .map(|q| {
                q.iter()
                    .map(|s| json!({ "query": s.query, "duration": round2(s.duration_ms), "timestamp": iso(s.at) }))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "queries": {
                "queriesExecuted": n,
                "slowQueries": slow,
                "queryErrors": self.query_errors.load(Relaxed),
                "pipelined": self.pipelined.load(Relaxed),
                "averageQueryTime": if n > 0 { round2(q.sum_ms() / n as f64) } else { 0.0 },
                "p50": q.quantile(0.50), "p95": q.quantile(0.95), "p99": q.quantile(0.99),
                "maxQueryTime": round2(q.max_ms()),
                "slowQueryRate": if n > 0 { round2(slow as f64 * 100.0 / n as f64) } else { 0.0 },
                "uptimeMs": reset_instant.elapsed().as_millis() as u64,
                "lastResetTime": iso(reset_wall),
            },
            "acquire": {
                "count": a_count,
                "averageMs": if a_count > 0 { round2(a.sum_ms() / a_count as f64) } else { 0.0 },
                "p50Ms": a.quantile(0.5), "p95Ms": a.quantile(0.95), "p99Ms": a.quantile(0.99), "maxMs": round2(a.max_ms()),
                "timeouts": self.acquire_timeouts.load(Relaxed),
                "rejectedLineFull": self.line_full_rejections.load(Relaxed),
            },
            "retries": {
                "attempts": self.retry_attempts.load(Relaxed),
                "succeededAfterRetry": self.retry_succeeded.load(Relaxed),
                "exhausted": self.retry_exhausted.load(Relaxed),
            },
            "connections": {
                "created": self.connections_created.load(Relaxed),
                "closed": self.connections_closed.load(Relaxed),
                "failed": self.connections_failed.load(Relaxed),
                "refusedTooManyClients": self.refused_too_many.load(Relaxed),
                "releasedInTransaction": self.released_in_transaction.load(Relaxed),
                "sessionResets": self.session_resets.load(Relaxed),
            },
            "requestScopes": {
                "cancelledByHangUp": self.scope_hang_ups.load(Relaxed),
                "stoppedByDeadline": self.scope_deadlines.load(Relaxed),
            },
            "outages": self.outages.snapshot(),
            "failovers": self.failovers.snapshot(),
            "errors": { "byCode": by_code },
            "slowQueries": slow_list,
        })
    }
}

/// A pool's gauges at one moment (`getPoolStats().pool`, the Prometheus gauges).
pub(crate) struct PoolGauges {
    /// Connections checked out.
    pub active: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// connectionLimit.
    pub limit: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl PoolGauges {
    /// Connections in use as a percentage of the limit, to one decimal.
    pub(crate) fn utilization(&self) -> f64 {
        crate::utilization::percent(self.active, self.limit)
    }

    /// `getPoolStats().pool`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "active": self.active, "idle": self.idle, "total": self.active + self.idle,
            "limit": self.limit, "waiting": self.waiting, "utilization": self.utilization(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let h = Histogram::default();
        for _ in 0..90 {
            h.record(1.0);
        }
        for _ in 0..10 {
            h.record(90.0);
        }
        assert!(h.quantile(0.5) <= 1.0 && h.quantile(0.5) > 0.75);
        assert!(h.quantile(0.95) > 75.0 && h.quantile(0.95) <= 90.0);
        assert_eq!(h.max_ms(), 90.0);
        assert_eq!(h.count(), 100);
        assert_eq!(quantile(&[0; 37], 0.5, 0.0), 0.0);
    }

    #[test]
    fn slow_queries_are_cut_and_bounded() {
        let s = Stats::default();
        let long = "x".repeat(600);
        for _ in 0..150 {
            assert!(s.record_query(&long, 20.0, None, 10));
        }
        assert!(!s.record_query("SELECT 1", 1.0, Some("23505"), 10));
        let snap = s.snapshot();
        assert_eq!(snap["slowQueries"].as_array().map(Vec::len), Some(100));
        assert_eq!(snap["slowQueries"][0]["query"].as_str().map(str::len), Some(503));
        assert_eq!(snap["queries"]["queriesExecuted"], 151);
        assert_eq!(snap["queries"]["queryErrors"], 1);
        assert_eq!(snap["errors"]["byCode"]["23505"], 1);
        s.reset();
        assert_eq!(s.snapshot()["queries"]["queriesExecuted"], 0);
    }

    #[test]
    fn iso_format() {
        assert_eq!(iso(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
