//! Prometheus text exposition (format 0.0.4) of a pool's figures, names under `pgwarden_`.

use crate::replicas::{ReplicaFigures, Replicas, State};
use crate::stats::{Histogram, PoolGauges, Stats, BUCKETS_MS};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, v: impl std::fmt::Display) {
    let _ = writeln!(out, "{name}{labels} {v}");
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    head(out, name, "counter", help);
    sample(out, name, "", v);
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    head(out, name, "histogram", help);
    let counts = h.counts();
    let mut cumulative = 0u64;
    for (i, le) in BUCKETS_MS.iter().enumerate() {
        cumulative += counts[i];
        sample(out, &format!("{name}_bucket"), &format!("{{le=\"{}\"}}", le / 1000.0), cumulative);
    }
    cumulative += counts[BUCKETS_MS.len()];
    sample(out, &format!("{name}_bucket"), "{le=\"+Inf\"}", cumulative);
    sample(out, &format!("{name}_sum"), "", h.sum_ms() / 1000.0);
    sample(out, &format!("{name}_count"), "", cumulative);
}

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// One figure of a replica, as a sample value.
type Figure = fn(&ReplicaFigures) -> f64;

/// The read replicas' figures, by `replica` label (`host:port`); nothing without replicas.
fn replicas(out: &mut String, replicas: &Replicas) {
    let figures = replicas.figures();
    if figures.is_empty() {
        return;
    }
    let name = "pgwarden_replica_state";
    head(out, name, "gauge", "Each read replica's state (1 for the current one).");
    for f in &figures {
        for state in [State::Healthy, State::Down, State::Lagging] {
            let labels = format!("{{replica=\"{}\",state=\"{}\"}}", label(&f.address), state.name());
            sample(out, name, &labels, u8::from(f.state == state));
        }
    }
    let per_replica: [(&str, &str, &str, Figure); 3] = [
        ("pgwarden_replica_lag_seconds", "gauge", "Replay lag the last probe measured (NaN: unknown).", |f| {
            f.lag_ms.map_or(f64::NAN, |l| l / 1000.0)
        }),
        ("pgwarden_replica_queries_total", "counter", "Statements run on the replica.", |f| f.queries as f64),
        ("pgwarden_replica_query_errors_total", "counter", "Statements that failed on the replica.", |f| {
            f.errors as f64
        }),
    ];
    for (name, kind, help, value) in per_replica {
        head(out, name, kind, help);
        for f in &figures {
            sample(out, name, &format!("{{replica=\"{}\"}}", label(&f.address)), value(f));
        }
    }
    counter(
        out,
        "pgwarden_replica_fallbacks_total",
        "Replica reads that went to the primary (no replica in rotation, or it could not be reached).",
        replicas.fallbacks(),
    );
}

/// The whole exposition.
/// A fleet's gauges (`connectionLimit: 'auto'`), appended to the pool's by `lib/fleet.js`:
/// the instances seen, the budget and this instance's share (absent ones are NaN).
pub(crate) fn fleet(name: &str, instances: u32, budget: Option<u32>, share: Option<u32>) -> String {
    let mut out = String::new();
    let labels = format!("{{fleet=\"{}\"}}", label(name));
    let value = |v: Option<u32>| v.map_or("NaN".to_string(), |v| v.to_string());
    head(&mut out, "pgwarden_fleet_instances", "gauge", "Instances of the fleet seen at the last refresh.");
    sample(&mut out, "pgwarden_fleet_instances", &labels, instances);
    head(&mut out, "pgwarden_fleet_budget", "gauge", "The fleet's budget of connections.");
    sample(&mut out, "pgwarden_fleet_budget", &labels, value(budget));
    head(&mut out, "pgwarden_fleet_share", "gauge", "This instance's share of the budget (its beacon included).");
    sample(&mut out, "pgwarden_fleet_share", &labels, value(share));
    out
}

pub(crate) fn render(stats: &Stats, pool: &PoolGauges, replica_set: &Replicas) -> String {
    let mut out = String::with_capacity(4096);
    head(&mut out, "pgwarden_pool_connections", "gauge", "Pooled connections by state.");
    sample(&mut out, "pgwarden_pool_connections", "{state=\"active\"}", pool.active);
    sample(&mut out, "pgwarden_pool_connections", "{state=\"idle\"}", pool.idle);
    head(&mut out, "pgwarden_pool_max_connections", "gauge", "The pool's connection limit.");
    sample(&mut out, "pgwarden_pool_max_connections", "", pool.limit);
    head(&mut out, "pgwarden_pool_waiting", "gauge", "Callers waiting for a connection.");
    sample(&mut out, "pgwarden_pool_waiting", "", pool.waiting);
    head(&mut out, "pgwarden_pool_utilization_ratio", "gauge", "Active connections over the limit (0-1).");
    sample(&mut out, "pgwarden_pool_utilization_ratio", "", crate::utilization::ratio(pool.active, pool.limit));
    counter(&mut out, "pgwarden_queries_total", "Statements run, failed ones included.", stats.queries.load(Relaxed));
    counter(&mut out, "pgwarden_query_errors_total", "Statements that failed.", stats.query_errors.load(Relaxed));
    counter(
        &mut out,
        "pgwarden_slow_queries_total",
        "Statements over the slow-query threshold.",
        stats.slow_queries.load(Relaxed),
    );
    histogram(&mut out, "pgwarden_query_duration_seconds", "Statement latency.", &stats.query_ms);
    histogram(&mut out, "pgwarden_acquire_duration_seconds", "Time to get a pooled connection.", &stats.acquire_ms);
    counter(
        &mut out,
        "pgwarden_acquire_timeouts_total",
        "Checkouts that timed out (P2024).",
        stats.acquire_timeouts.load(Relaxed),
    );
    counter(
        &mut out,
        "pgwarden_acquire_rejected_line_full_total",
        "Callers refused at once because maxWaiting callers were already waiting (P2024).",
        stats.line_full_rejections.load(Relaxed),
    );
    head(&mut out, "pgwarden_connections_total", "counter", "Connection lifecycle events.");
    sample(&mut out, "pgwarden_connections_total", "{event=\"created\"}", stats.connections_created.load(Relaxed));
    sample(&mut out, "pgwarden_connections_total", "{event=\"closed\"}", stats.connections_closed.load(Relaxed));
    sample(&mut out, "pgwarden_connections_total", "{event=\"failed\"}", stats.connections_failed.load(Relaxed));
    sample(
        &mut out,
        "pgwarden_connections_total",
        "{event=\"refused_too_many\"}",
        stats.refused_too_many.load(Relaxed),
    );
    let outages = stats.outages.snapshot();
    head(
        &mut out,
        "pgwarden_outages_total",
        "counter",
        "Outages: runs of failed connection attempts until one succeeds.",
    );
    sample(&mut out, "pgwarden_outages_total", "", outages["count"].as_u64().unwrap_or(0));
    head(&mut out, "pgwarden_outage", "gauge", "1 while connection attempts are failing, else 0.");
    sample(&mut out, "pgwarden_outage", "", u64::from(outages["current"] == true));
    head(&mut out, "pgwarden_retries_total", "counter", "withRetry and transaction re-run outcomes.");
    sample(&mut out, "pgwarden_retries_total", "{outcome=\"attempt\"}", stats.retry_attempts.load(Relaxed));
    sample(&mut out, "pgwarden_retries_total", "{outcome=\"succeeded\"}", stats.retry_succeeded.load(Relaxed));
    sample(&mut out, "pgwarden_retries_total", "{outcome=\"exhausted\"}", stats.retry_exhausted.load(Relaxed));
    head(
        &mut out,
        "pgwarden_scope_stops_total",
        "counter",
        "Statements of request scopes stopped by a client hanging up or by the scope's deadline.",
    );
    sample(&mut out, "pgwarden_scope_stops_total", "{cause=\"hang_up\"}", stats.scope_hang_ups.load(Relaxed));
    sample(&mut out, "pgwarden_scope_stops_total", "{cause=\"deadline\"}", stats.scope_deadlines.load(Relaxed));
    head(&mut out, "pgwarden_errors_total", "counter", "Failed statements by error code.");
    let mut codes: Vec<_> = stats.errors_by_code().into_iter().collect();
    codes.sort();
    for (code, n) in codes {
        sample(&mut out, "pgwarden_errors_total", &format!("{{code=\"{}\"}}", label(&code)), n);
    }
    replicas(&mut out, replica_set);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_is_well_formed() {
        let s = Stats::default();
        s.record_query("SELECT 1", 3.0, None, 1000);
        s.record_query("SELECT 1", 30.0, Some("40P01"), 1000);
        let settings = crate::config::resolve(
            &serde_json::json!({ "connectionString": "postgres://h/db", "replicaUrls": ["postgres://u:pw@r:5/db"] }),
            &Default::default(),
            1,
        )
        .unwrap();
        let replica_set = Replicas::new(&settings, 1).unwrap();
        let text = render(&s, &PoolGauges { active: 1, idle: 2, limit: 4, waiting: 0 }, &replica_set);
        assert!(text.contains("pgwarden_replica_state{replica=\"r:5\",state=\"healthy\"} 1\n"), "{text}");
        assert!(text.contains("pgwarden_replica_fallbacks_total 0\n"));
        assert!(!text.contains("pw"));
        assert!(text.contains("pgwarden_queries_total 2\n"));
        assert!(text.contains("pgwarden_errors_total{code=\"40P01\"} 1\n"));
        assert!(text.contains("pgwarden_query_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("pgwarden_query_duration_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("pgwarden_pool_utilization_ratio 0.25\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
