'use strict'
// CommonJS entry. Named `exports.X` assignments let ESM `import { Pool } from 'pgwarden'` work too.
const lib = require('./lib')

exports.Pool = lib.Pool
exports.Client = lib.Client
exports.createPool = lib.createPool
exports.getPool = lib.getPool
exports.getPoolStats = lib.getPoolStats
exports.withRetry = lib.withRetry
exports.enableTelemetry = lib.enableTelemetry
exports.PgWardenError = lib.PgWardenError
exports.classifyError = lib.classifyError
exports.isRetryable = lib.isRetryable
