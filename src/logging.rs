//! A bridge from Rust `tracing` to each pool's JS `logger`.
//!
//! One global subscriber forwards events to the sinks of live pools: an event with a `pool`
//! field goes to that pool only, any other to every pool. Each pool filters by its level.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Receives (level, message) for one pool.
pub(crate) type LogSink = Arc<dyn Fn(&'static str, String) + Send + Sync>;

struct Target {
    sink: LogSink,
    max: Level,
    /// Whose lines these are, for a pool that logs into another's sink (a read replica's).
    label: Option<String>,
}

fn targets() -> &'static RwLock<HashMap<u64, Target>> {
    static T: OnceLock<RwLock<HashMap<u64, Target>>> = OnceLock::new();
    T.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Parses a level name ('debug', 'info', 'warn', 'error').
pub(crate) fn parse_level(s: &str) -> Option<Level> {
    Some(match s {
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "warn" => Level::WARN,
        "error" => Level::ERROR,
        _ => return None,
    })
}

/// Routes tracing events of pool `id` (and pool-less ones) at `max` or more severe to `sink`.
pub(crate) fn register(id: u64, max: Level, sink: LogSink) {
    insert(id, Target { sink, max, label: None });
}

/// Routes tracing events of pool `id` only, at `max` or more severe, to `sink`, each line
/// named `label` (a read replica's pool, whose lines go to the primary's logger).
pub(crate) fn register_labelled(id: u64, max: Level, sink: LogSink, label: String) {
    insert(id, Target { sink, max, label: Some(label) });
}

fn insert(id: u64, target: Target) {
    install();
    if let Ok(mut t) = targets().write() {
        t.insert(id, target);
    }
}

/// Stops routing to pool `id`.
pub(crate) fn unregister(id: u64) {
    if let Ok(mut t) = targets().write() {
        t.remove(&id);
    }
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(JsLayer);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

#[derive(Default)]
struct Fields {
    message: String,
    pool: Option<u64>,
    extra: String,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "pool" {
            self.pool = Some(value);
        } else {
            let _ = write!(self.extra, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.extra, " {}={value:?}", field.name());
        }
    }
}

struct JsLayer;

impl<S: Subscriber> Layer<S> for JsLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let mut f = Fields::default();
        event.record(&mut f);
        let name = match level {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            _ => "debug",
        };
        let text = format!("[pgwarden] {}{}", f.message, f.extra);
        let Ok(t) = targets().read() else { return };
        for (id, target) in t.iter() {
            match (&target.label, f.pool) {
                _ if level > target.max => {}
                (None, None) => (target.sink)(name, text.clone()),
                (label, Some(pool)) if pool == *id => match label {
                    None => (target.sink)(name, text.clone()),
                    Some(label) => (target.sink)(name, format!("[pgwarden] {label}: {}{}", f.message, f.extra)),
                },
                _ => {}
            }
        }
    }
}
