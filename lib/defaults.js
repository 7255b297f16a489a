'use strict'
// Defaults of the per-call options (withRetry, transaction, healthCheck, end), written once in
// Rust (src/defaults.rs) and read here once.

module.exports = Object.freeze(JSON.parse(require('./native').callDefaults()))
