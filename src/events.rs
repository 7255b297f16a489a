//! Events raised away from any JS call (a connection dying while idle, utilization crossing
//! its threshold), delivered through a sink the binding installs. Statement events (`query`,
//! `slowQuery`) need no sink: they ride on each statement's own result.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Where events go: a function taking `{"event": name, "data": {...}}` as JSON text.
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// A pool's event channel and the utilization alarm's hysteresis state.
pub struct Events {
    sink: RwLock<Option<Sink>>,
    /// highUtilization fires when armed; re-armed 10 points below the threshold.
    armed: AtomicBool,
}

impl Default for Events {
    fn default() -> Self {
        Events { sink: RwLock::new(None), armed: AtomicBool::new(true) }
    }
}

impl Events {
    /// Installs the sink (replacing any earlier one).
    pub fn set_sink(&self, sink: Sink) {
        if let Ok(mut s) = self.sink.write() {
            *s = Some(sink);
        }
    }

    /// Removes the sink (the pool ended).
    pub fn clear_sink(&self) {
        if let Ok(mut s) = self.sink.write() {
            *s = None;
        }
    }

    /// Sends one event if a sink is installed.
    pub fn emit(&self, event: &str, data: Value) {
        let sink = self.sink.read().ok().and_then(|s| s.clone());
        if let Some(sink) = sink {
            sink(json!({ "event": event, "data": data }).to_string());
        }
    }

    /// Checks utilization after a checkout; fires highUtilization once per crossing.
    pub fn utilization(&self, active: usize, limit: usize, threshold: f64) {
        if limit == 0 {
            return;
        }
        let u = active as f64 / limit as f64;
        if u >= threshold {
            if self.armed.swap(false, Ordering::AcqRel) {
                self.emit(
                    "highUtilization",
                    json!({ "utilization": (u * 1000.0).round() / 10.0, "active": active, "limit": limit }),
                );
            }
        } else if u <= threshold - 0.10 {
            self.armed.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn hysteresis() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let e = Events::default();
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
