//! pgwarden: a PostgreSQL connection pool for Node.js, written in Rust.
//!
//! Plain Rust modules hold the logic (and are tested with `cargo test`); `binding` is the thin
//! napi layer that JavaScript talks to.

#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod binding;
pub mod breaker;
pub mod completion;
mod config;
pub mod connection;
pub mod convert;
pub mod error;
pub mod events;
pub mod logging;
pub mod metrics;
pub mod pool;
pub mod retry;
pub mod sql;
pub mod statement;
pub mod stats;
pub mod tls;
