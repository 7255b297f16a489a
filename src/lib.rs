//! pgwarden: a PostgreSQL connection pool for Node.js, written in Rust.
//!
//! Plain Rust modules hold the logic (and are tested with `cargo test`); `binding` is the napi
//! layer that JavaScript talks to.

#![deny(clippy::unwrap_used)]
// Private modules with these lints let the compiler find dead code, as deadpool does.
#![warn(unreachable_pub, missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

// napi registers the exported items only outside `cargo test`, where they look unused.
#[cfg_attr(test, allow(dead_code))]
mod binding;
mod breaker;
mod cancel;
mod completion;
mod config;
mod connection;
mod convert;
mod defaults;
mod error;
mod events;
mod fleet;
mod handoff;
mod held;
mod hosts;
#[cfg(test)]
mod layering;
mod logging;
mod metrics;
mod outages;
mod place;
mod pool;
mod replicas;
mod reset;
mod retry;
mod scope;
mod sql;
mod statement;
mod stats;
mod tls;
mod trim;
mod utilization;
