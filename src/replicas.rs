//! Read replicas: one pool per replica, `replica: true` reads sent round-robin to the replicas
//! in rotation, the fall back to the primary, and the background probe that takes a replica
//! out of rotation (down, or lagging past maxReplicaLagMs) and puts it back.
//!
//! The rules live here: which replica a read goes to ([`pick`]), what a probe's lag means
//! ([`probed_state`]), which failures take a replica down ([`is_outage`]) and which reads may
//! go to the primary instead (nothing was executed on the replica).

use crate::config::Settings;
use crate::error::{from_driver, Error};
use crate::pool::PoolCore;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_postgres::SimpleQueryMessage;

/// How often replicas in use (and those down) are probed.
pub(crate) const PROBE_PERIOD: Duration = Duration::from_secs(1);

/// The longest one probe may take; a probe that takes longer changes nothing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLSTATE read_only_sql_transaction: a write reached a replica.
const READ_ONLY: &str = "25006";

/// Whether the server replays WAL, and how far behind the primary it is (ms; 0 when it has
/// replayed all it received, so an idle primary does not make a caught-up replica look late).
const LAG_SQL: &str = "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() \
     THEN 0 ELSE extract(epoch from now() - pg_last_xact_replay_timestamp()) * 1000 END";

/// Where a replica stands in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// In rotation.
    Healthy = 0,
    /// Out of rotation: it failed to connect or died; the probe puts it back.
    Down = 1,
    /// Out of rotation: further behind than maxReplicaLagMs.
    Lagging = 2,
}

impl State {
    /// The name shown in stats, metrics and `pgwarden doctor`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Down => "down",
            State::Lagging => "lagging",
        }
    }

    fn from_u8(v: u8) -> State {
        match v {
            1 => State::Down,
            2 => State::Lagging,
            _ => State::Healthy,
        }
    }
}

/// Round-robin: the first replica in rotation at or after `start` (wrapping), if any.
pub(crate) fn pick(states: &[State], start: usize) -> Option<usize> {
    let n = states.len();
    (0..n).map(|k| (start + k) % n).find(|&i| states[i] == State::Healthy)
}

/// The state a replica that answered the probe is in: lagging when it replays WAL and is further
/// behind than `max_lag_ms` (or its lag is unknown while it replays); healthy otherwise.
pub(crate) fn probed_state(in_recovery: bool, lag_ms: Option<f64>, max_lag_ms: Option<u64>) -> State {
    match (max_lag_ms, lag_ms) {
        (None, _) => State::Healthy,
        _ if !in_recovery => State::Healthy,
        (Some(max), Some(lag)) if lag <= max as f64 => State::Healthy,
        _ => State::Lagging,
    }
}

/// Whether `e` says the replica itself is unavailable (it takes the replica out of rotation),
/// as opposed to a failure of the statement.
pub(crate) fn is_outage(e: &Error) -> bool {
    use crate::error::Kind;
    matches!(e, Error::ConnectTimeout { .. })
        || matches!(e.classification().kind, Kind::Connection | Kind::ServerUnavailable | Kind::TooManyConnections)
}

/// One replica: its pool and where it stands.
pub(crate) struct Replica {
    /// The replica's own pool.
    pub(crate) core: Arc<PoolCore>,
    /// `host:port`, never with credentials.
    address: String,
    state: AtomicU8,
    /// The lag the last probe measured, as f64 bits (NaN: unknown).
    lag_ms: AtomicU64,
}

impl Replica {
    fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Moves to `to`; the state it left.
    fn set_state(&self, to: State) -> State {
        State::from_u8(self.state.swap(to as u8, Ordering::AcqRel))
    }

    fn lag(&self) -> Option<f64> {
        Some(f64::from_bits(self.lag_ms.load(Ordering::Relaxed))).filter(|l| !l.is_nan())
    }
}

/// What stats and metrics show of one replica.
pub(crate) struct ReplicaFigures {
    /// `host:port`.
    pub(crate) address: String,
    /// Its state.
    pub(crate) state: State,
    /// The lag the last probe measured, ms.
    pub(crate) lag_ms: Option<f64>,
    /// Statements run on it.
    pub(crate) queries: u64,
    /// Statements that failed on it.
    pub(crate) errors: u64,
}

/// The replicas of one pool.
pub(crate) struct Replicas {
    list: Vec<Replica>,
    next: AtomicUsize,
    /// `replica: true` reads that went to the primary because no replica was in rotation or
    /// the one chosen could not be reached.
    fallbacks: AtomicU64,
    max_lag_ms: Option<u64>,
    /// The primary's pool id, for log lines.
    pool_id: u64,
}

impl Replicas {
    /// A pool per replica of `settings` (none connects yet).
    pub(crate) fn new(settings: &Settings, pool_id: u64) -> Result<Arc<Self>, Error> {
        let list = settings
            .replicas
            .iter()
            .map(|s| {
                Ok(Replica {
                    address: s.address(),
                    core: PoolCore::new(s.clone())?,
                    state: AtomicU8::new(State::Healthy as u8),
                    lag_ms: AtomicU64::new(f64::NAN.to_bits()),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Arc::new(Replicas {
            list,
            next: AtomicUsize::new(0),
            fallbacks: AtomicU64::new(0),
            max_lag_ms: settings.max_replica_lag_ms,
            pool_id,
        }))
    }

    /// Forwards what each replica's pool says in the background to the primary's sinks, naming
    /// the replica: its log lines (through `log`, at `level` and above) and the errors of its
    /// idle connections (through `events`, as `{ event: "error", replica, data }`).
    pub(crate) fn forward(&self, level: tracing::Level, events: crate::events::Sink, log: crate::logging::LogSink) {
        for r in &self.list {
            crate::logging::register_labelled(r.core.id, level, log.clone(), format!("read replica {}", r.address));
            let (address, events) = (r.address.clone(), events.clone());
            r.core.events.set_sink(Arc::new(move |event: String| {
                let Ok(mut v) = serde_json::from_str::<Value>(&event) else { return };
                if v["event"] == "error" {
                    v["replica"] = json!(address);
                    events(v.to_string());
                }
            }));
        }
    }

    /// Stops forwarding the replicas' log lines (the pool ended).
    pub(crate) fn unforward(&self) {
        for r in &self.list {
            crate::logging::unregister(r.core.id);
        }
    }

    /// The replicas' pools.
    pub(crate) fn cores(&self) -> impl Iterator<Item = &Arc<PoolCore>> {
        self.list.iter().map(|r| &r.core)
    }

    /// The next replica in rotation, round-robin.
    fn choose(&self) -> Option<&Replica> {
        let states: Vec<State> = self.list.iter().map(Replica::state).collect();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let i = pick(&states, start % states.len().max(1))?;
        Some(&self.list[i])
    }

    /// Runs a read: `run(pool, on_replica)` on the next replica in rotation, else on the
    /// primary. A replica that turns out unreachable is taken out of rotation, and the read goes
    /// to the primary when nothing of it ran on the replica. A write refused by the replica
    /// (25006) is an error, never re-sent. Without replicas, it simply runs on the primary.
    pub(crate) async fn read<T, F, Fut>(&self, primary: Arc<PoolCore>, run: F) -> Result<T, Error>
    where
        F: Fn(Arc<PoolCore>, bool) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        if self.list.is_empty() {
            return run(primary, false).await;
        }
        if let Some(r) = self.choose() {
            match run(r.core.clone(), true).await {
                Err(e) if is_outage(&e) => {
                    self.mark_down(r, &e);
                    if !e.classification().retryable {
                        return Err(e);
                    }
                }
                Err(Error::Server { fields, .. }) if fields.code == READ_ONLY => {
                    return Err(Error::ReplicaWrite { address: r.address.clone(), fields })
                }
                other => return other,
            }
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        run(primary, false).await
    }

    /// Takes `r` out of rotation; one warning per outage.
    fn mark_down(&self, r: &Replica, e: &Error) {
        if r.set_state(State::Down) != State::Down {
            tracing::warn!(
                pool = self.pool_id,
                "read replica {} is down ({}: {}); reads go to the primary until it answers again",
                r.address,
                e.code(),
                e.message()
            );
        }
    }

    /// Probes every replica that is down or has been used (all of them with `all`).
    pub(crate) async fn probe(&self, all: bool) {
        let due = self.list.iter().filter(|r| all || r.state() == State::Down || r.core.was_used());
        join_all(due.map(|r| self.probe_one(r))).await;
    }

    /// Asks `r` whether it replays WAL and how far behind it is, and moves it in or out of
    /// rotation accordingly. A probe that times out or fails otherwise changes nothing.
    async fn probe_one(&self, r: &Replica) {
        let wait = r.core.settings.connect_timeout_ms.clamp(1000, 5000);
        let asked = tokio::time::timeout(PROBE_TIMEOUT, async {
            let mut lease = r.core.checkout_with(Some(wait), false).await?;
            let answer = lease.conn.client.simple_query(LAG_SQL).await;
            let messages = answer.map_err(|e| {
                lease.discard = true;
                from_driver(&e, true)
            })?;
            Ok::<_, Error>(messages.into_iter().find_map(|m| match m {
                SimpleQueryMessage::Row(row) => {
                    Some((row.get(0) == Some("t"), row.get(1).and_then(|l| l.parse::<f64>().ok())))
                }
                _ => None,
            }))
        })
        .await;
        match asked {
            Ok(Ok(Some((in_recovery, lag)))) => {
                r.lag_ms.store(lag.unwrap_or(f64::NAN).to_bits(), Ordering::Relaxed);
                let to = probed_state(in_recovery, lag, self.max_lag_ms);
                let from = r.set_state(to);
                if from != to {
                    let lag = lag.map_or("unknown".into(), |l| format!("{}ms", l.round()));
                    tracing::info!(pool = self.pool_id, "read replica {} is {} (lag {lag})", r.address, to.name());
                }
            }
            Ok(Err(e)) if is_outage(&e) => self.mark_down(r, &e),
            Ok(Err(e)) => tracing::debug!(pool = self.pool_id, "probe of read replica {} failed: {e}", r.address),
            Ok(Ok(None)) | Err(_) => {
                tracing::debug!(pool = self.pool_id, "probe of read replica {} gave no answer", r.address)
            }
        }
    }

    /// Probes every [`PROBE_PERIOD`] until the pool is dropped or ended. Failures are only
    /// logged: a background probe never fails the process.
    pub(crate) async fn prober(weak: Weak<Replicas>) {
        loop {
            tokio::time::sleep(PROBE_PERIOD).await;
            let Some(replicas) = weak.upgrade() else { return };
            if replicas.list.iter().all(|r| r.core.is_closed()) {
                return;
            }
            replicas.probe(false).await;
        }
    }

    /// Each replica's figures.
    pub(crate) fn figures(&self) -> Vec<ReplicaFigures> {
        self.list
            .iter()
            .map(|r| ReplicaFigures {
                address: r.address.clone(),
                state: r.state(),
                lag_ms: r.lag(),
                queries: r.core.stats.queries.load(Ordering::Relaxed),
                errors: r.core.stats.query_errors.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Reads that went to the primary instead of a replica.
    pub(crate) fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The `replicas` section of `getPoolStats()`.
    pub(crate) fn snapshot(&self) -> Value {
        let servers: Vec<Value> = self
            .figures()
            .into_iter()
            .map(|f| {
                json!({
                    "address": f.address, "state": f.state.name(),
                    "lagMs": f.lag_ms.map(|l| (l * 10.0).round() / 10.0),
                    "queries": f.queries, "errors": f.errors,
                })
            })
            .collect();
        json!({ "fallbacks": self.fallbacks(), "servers": servers })
    }

    /// Zeroes the fallback counter and each replica's counters.
    pub(crate) fn reset(&self) {
        self.fallbacks.store(0, Ordering::Relaxed);
        for r in &self.list {
            r.core.stats.reset();
        }
    }

    /// Why the pool is degraded because of its replicas (for `healthCheck`): one sentence per
    /// replica out of rotation.
    pub(crate) fn reasons(&self) -> Vec<String> {
        let out_of_rotation = self.figures().into_iter().filter(|f| f.state != State::Healthy);
        out_of_rotation
            .map(|f| match (f.state, f.lag_ms) {
                (State::Lagging, Some(lag)) => format!(
                    "read replica {} is {}ms behind (over maxReplicaLagMs {}): reads skip it",
                    f.address,
                    lag.round(),
                    self.max_lag_ms.unwrap_or(0)
                ),
                (state, _) => format!("read replica {} is {}: reads skip it", f.address, state.name()),
            })
            .collect()
    }

    /// Ends every replica's pool (see [`PoolCore::end`]).
    pub(crate) async fn end(&self, timeout: Duration) {
        join_all(self.list.iter().map(|r| r.core.end(timeout))).await;
    }
}

/// The server error of a read that wrote, as it would come from a replica (for tests).
#[cfg(test)]
fn read_only_error() -> Error {
    use crate::error::ServerError;
    let fields = ServerError {
        code: READ_ONLY.into(),
        message: "cannot execute INSERT in a read-only transaction".into(),
        ..Default::default()
    };
    Error::Server { fields: Box::new(fields), maybe_committed: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::{Down, Healthy, Lagging};

    #[test]
    fn round_robin_skips_replicas_out_of_rotation() {
        let states = [Healthy, Down, Healthy, Lagging];
        let picks: Vec<_> = (0..6).map(|s| pick(&states, s % 4)).collect();
        assert_eq!(picks, [Some(0), Some(2), Some(2), Some(0), Some(0), Some(2)]);
        assert_eq!(pick(&[Down, Lagging], 0), None);
        assert_eq!(pick(&[], 0), None);
        assert_eq!(pick(&[Healthy, Healthy], 1), Some(1));
    }

    #[test]
    fn lag_decision() {
        assert_eq!(probed_state(true, Some(5000.0), None), Healthy);
        assert_eq!(probed_state(true, Some(0.0), Some(100)), Healthy);
        assert_eq!(probed_state(true, Some(100.0), Some(100)), Healthy);
        assert_eq!(probed_state(true, Some(100.5), Some(100)), Lagging);
        assert_eq!(probed_state(true, None, Some(100)), Lagging);
        // Not replaying (a primary given as a replica): never lagging.
        assert_eq!(probed_state(false, None, Some(100)), Healthy);
    }

    #[test]
    fn outages_and_writes() {
        assert!(is_outage(&Error::Unreachable { address: "h:1".into(), reason: "refused".into() }));
        assert!(is_outage(&Error::ConnectTimeout { address: "h:1".into() }));
        assert!(is_outage(&Error::ConnectionClosed { maybe_committed: true, reason: "reset".into() }));
        assert!(!is_outage(&Error::PoolTimeout { timeout_ms: 10, limit: 1 }));
        assert!(!is_outage(&read_only_error()));
    }

    #[tokio::test]
    async fn without_replicas_reads_use_the_primary_and_writes_are_not_resent() {
        let primary = crate::config::resolve(&json!({ "connectionString": "postgres://h/db" }), &Default::default(), 1)
            .and_then(PoolCore::new)
            .unwrap();
        let none = Replicas::new(&primary.settings, 1).unwrap();
        let out = none.read(primary.clone(), |_, on_replica| async move { Ok::<_, Error>(on_replica) }).await;
        assert!(!out.unwrap());
        assert_eq!(none.fallbacks(), 0);
        let opts = json!({ "connectionString": "postgres://h/db", "replicaUrls": ["postgres://u:pw@r:5/db"] });
        let settings = crate::config::resolve(&opts, &Default::default(), 1).unwrap();
        let one = Replicas::new(&settings, 1).unwrap();
        let calls = AtomicUsize::new(0);
        let e = one
            .read(primary.clone(), |_, _| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(read_only_error()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(e.code(), READ_ONLY);
        assert!(e.message().contains("`r:5`") && !e.message().contains("pw"), "{}", e.message());
        // An unreachable replica: out of rotation, and the read runs on the primary.
        let unreachable = || Error::Unreachable { address: "r:5".into(), reason: "refused".into() };
        let out = one
            .read(primary, |_, on_replica| async move {
                if on_replica {
                    Err(unreachable())
                } else {
                    Ok(1)
                }
            })
            .await;
        assert_eq!(out.unwrap(), 1);
        assert_eq!(one.fallbacks(), 1);
        assert_eq!(one.figures()[0].state, Down);
    }
}
