//! Events raised away from any JS call (a connection dying while idle, utilization crossing
//! its threshold), delivered through a sink the binding installs. Statement events (`query`,
//! `slowQuery`) need no sink: they ride on each statement's own result.

use crate::utilization;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Where events go: a function taking `{"event": name, "data": {...}}` as JSON text.
pub(crate) type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// A pool's event channel and the utilization alarm's hysteresis state.
pub(crate) struct Events {
    sink: RwLock<Option<Sink>>,
    /// highUtilization fires when armed; re-armed 10 points below the threshold.
    armed: AtomicBool,
    /// Minimum time between two highUtilization events: under load the instantaneous count
    /// swings across the band many times a second, and an alert per swing is noise.
    cooldown: Duration,
    last_fired: Mutex<Option<Instant>>,
    /// When the last saturation warning was logged (same cool-down).
    last_saturated: Mutex<Option<Instant>>,
    /// When the last "released inside a transaction" warning was logged (same cool-down).
    last_leak: Mutex<Option<Instant>>,
}

/// A checkout that waited this long found every connection busy: the pool is saturated.
pub(crate) const SATURATED_WAIT: Duration = Duration::from_millis(50);

impl Events {
    /// Events with this minimum time between two highUtilization alerts.
    pub(crate) fn new(cooldown: Duration) -> Self {
        Events {
            sink: RwLock::new(None),
            armed: AtomicBool::new(true),
            cooldown,
            last_fired: Mutex::new(None),
            last_saturated: Mutex::new(None),
            last_leak: Mutex::new(None),
        }
    }

    /// Installs the sink (replacing any earlier one).
    pub(crate) fn set_sink(&self, sink: Sink) {
        if let Ok(mut s) = self.sink.write() {
            *s = Some(sink);
        }
    }

    /// Removes the sink (the pool ended).
    pub(crate) fn clear_sink(&self) {
        if let Ok(mut s) = self.sink.write() {
            *s = None;
        }
    }

    /// Sends one event if a sink is installed.
    pub(crate) fn emit(&self, event: &str, data: Value) {
        let sink = self.sink.read().ok().and_then(|s| s.clone());
        if let Some(sink) = sink {
            sink(json!({ "event": event, "data": data }).to_string());
        }
    }

    /// A message the server sent on its own: NOTIFY (`notification`: `{ processId, channel,
    /// payload }`, as pg's) or a NOTICE (`notice`: its severity, code, message and fields).
    pub(crate) fn emit_server_message(&self, message: tokio_postgres::AsyncMessage) {
        match message {
            tokio_postgres::AsyncMessage::Notification(n) => self.emit(
                "notification",
                json!({ "processId": n.process_id(), "channel": n.channel(), "payload": n.payload() }),
            ),
            tokio_postgres::AsyncMessage::Notice(db) => self.emit(
                "notice",
                json!({
                    "severity": db.severity(), "code": db.code().code(), "message": db.message(),
                    "detail": db.detail(), "hint": db.hint(), "where": db.where_(),
                }),
            ),
            _ => {}
        }
    }

    /// Checks utilization after a checkout; fires highUtilization once per crossing.
    pub(crate) fn utilization(&self, active: usize, limit: usize, threshold: f64) {
        if utilization::is_busy(active, limit, threshold) {
            if self.armed.load(Ordering::Acquire) && self.cooled_down() && self.armed.swap(false, Ordering::AcqRel) {
                let percent = utilization::percent(active, limit);
                self.emit("highUtilization", json!({ "utilization": percent, "active": active, "limit": limit }));
            }
        } else if utilization::is_calm(active, limit, threshold) {
            self.armed.store(true, Ordering::Release);
        }
    }
}

impl Events {
    /// After a checkout that waited `waited` for its turn while every connection was taken: when
    /// it waited at least [`SATURATED_WAIT`] (callers queue for connections), a warning, at most
    /// one per cool-down. A busy pool whose callers do not wait (a pool of 1 doing its job) and a
    /// connection slow to open say nothing.
    pub(crate) fn waited(&self, pool: u64, waited: Duration, active: usize, limit: usize) {
        if waited >= SATURATED_WAIT && Self::cooled(&self.last_saturated, self.cooldown) {
            tracing::warn!(
                pool,
                "Pool saturated: a caller waited {} ms for a connection ({active}/{limit} in use); raise connectionLimit or shorten what holds connections",
                waited.as_millis()
            );
        }
    }

    /// Whether a connection given back inside a transaction is logged now: at most once per
    /// cool-down (every one is counted and emitted).
    pub(crate) fn leak_log_due(&self) -> bool {
        Self::cooled(&self.last_leak, self.cooldown)
    }

    /// True (and the clock restarted) when the cool-down since the last alert has passed.
    fn cooled_down(&self) -> bool {
        Self::cooled(&self.last_fired, self.cooldown)
    }

    /// True (and `last` restarted) when `cooldown` has passed since `last`.
    fn cooled(last: &Mutex<Option<Instant>>, cooldown: Duration) -> bool {
        let Ok(mut last) = last.lock() else { return true };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < cooldown) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn cooldown_limits_alerts() {
        let seen = Arc::new(Mutex::new(0));
        let e = Events::new(Duration::from_secs(60));
        let s = seen.clone();
        e.set_sink(Arc::new(move |_| *s.lock().unwrap() += 1));
        for _ in 0..10 {
            e.utilization(9, 10, 0.8);
            e.utilization(1, 10, 0.8);
        }
        assert_eq!(*seen.lock().unwrap(), 1);
    }

    #[test]
    fn hysteresis() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let e = Events::new(Duration::ZERO);
        let s = seen.clone();
        e.set_sink(Arc::new(move |m| s.lock().unwrap().push(m)));
        e.utilization(8, 10, 0.8);
        e.utilization(9, 10, 0.8);
        e.utilization(8, 10, 0.8);
        assert_eq!(seen.lock().unwrap().len(), 1, "fires once while above");
        e.utilization(75, 100, 0.8);
        e.utilization(80, 100, 0.8);
        assert_eq!(seen.lock().unwrap().len(), 1, "75% does not re-arm");
        e.utilization(7, 10, 0.8);
        e.utilization(8, 10, 0.8);
        assert_eq!(seen.lock().unwrap().len(), 2, "70% re-arms");
        assert!(seen.lock().unwrap()[0].contains("\"utilization\":80.0"));
    }
}
