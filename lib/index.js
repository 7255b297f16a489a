'use strict'
// The public surface of pgwarden.
const { Pool, Client, createPool, getPool, getPoolStats } = require('./pool')
const { PgWardenError, classifyError, isRetryable } = require('./errors')
const retry = require('./retry')
const { enableTelemetry } = require('./telemetry')

/** Retries `fn` on retryable errors with exponential backoff. */
const withRetry = (fn, a, b) => retry.withRetry(fn, a, b)

module.exports = { Pool, Client, createPool, getPool, getPoolStats, withRetry, enableTelemetry, PgWardenError, classifyError, isRetryable }
