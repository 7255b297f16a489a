'use strict'
// The public surface of pgwarden (contract §1).
const { Pool, Client, createPool, getPool, getPoolStats } = require('./pool')
const { PgWardenError, classifyError, isRetryable } = require('./errors')

module.exports = { Pool, Client, createPool, getPool, getPoolStats, PgWardenError, classifyError, isRetryable }
