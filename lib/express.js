'use strict'
// pgwarden/express: a request scope per request, database endpoints and an error handler.
// Express is a peer dependency: it is required only when a router is built.

const { classifyError, paramsError } = require('./errors')
const { withContext, HANG_UP } = require('./request-scope')

/** Kinds that mean "the database is unavailable right now": answered 503 with Retry-After. */
const UNAVAILABLE = new Set(['pool_timeout', 'connection', 'too_many_connections', 'server_unavailable'])

/**
 * A router serving `GET /metrics/database` (stats JSON), `GET /health/ready` (200 when healthy
 * or degraded, 503 when unhealthy) and `GET /metrics` (Prometheus text).
 */
function databaseRouter (pool, opts = {}) {
  let express
  try {
    express = require('express')
  } catch {
    throw new Error("pgwarden/express needs the 'express' package: npm install express")
  }
  const router = express.Router()
  router.get('/metrics/database', (req, res) => {
    res.json(pool.getPoolStats())
  })
  router.get('/health/ready', async (req, res) => {
    const h = await pool.healthCheck(opts.health)
    res.status(h.status === 'unhealthy' ? 503 : 200).json(h)
  })
  router.get('/metrics', (req, res) => {
    res.set('Content-Type', 'text/plain; version=0.0.4; charset=utf-8').send(pool.metrics())
  })
  return router
}

/**
 * Express error middleware: pool timeouts, an unreachable server and too many connections
 * become 503 with Retry-After; everything else goes to the next handler.
 */
function errorHandler (opts = {}) {
  const retryAfter = String(opts.retryAfterSeconds || 5)
  return function pgwardenErrorHandler (err, req, res, next) {
    const c = classifyError(err)
    if (!UNAVAILABLE.has(c.kind) || res.headersSent) return next(err)
    res.set('Retry-After', retryAfter)
    res.status(503).json({ error: 'Service temporarily unavailable: the database is busy or unreachable', code: c.code, kind: c.kind })
  }
}

/**
 * Middleware running the rest of each request in a request scope of `pool` (see
 * `Pool#withContext`): `timeoutMs` for all its database work, `settings` and `tags` (objects, or
 * functions of `req` called for each statement, so they see what later middleware and the
 * router set, such as `req.user` and `req.route`). When the client closes the request before
 * its response finished, the scope is aborted: statements in flight are cancelled on the
 * server and queued ones rejected unsent.
 */
function requestContext (pool, opts = {}) {
  if (!pool || typeof pool.withContext !== 'function') throw paramsError('requestContext needs a pgwarden Pool')
  const { timeoutMs, settings, tags, traceparent } = opts
  const perRequest = (source, req) => (typeof source === 'function' ? () => source(req) : source)
  return function pgwardenRequestContext (req, res, next) {
    const scopeOpts = { settings: perRequest(settings, req), tags: perRequest(tags, req) }
    if (timeoutMs !== undefined) scopeOpts.timeoutMs = timeoutMs
    if (traceparent !== undefined) scopeOpts.traceparent = traceparent
    let scope = null
    // The scope lives until the response closes, not until next() returns: handlers go on
    // asynchronously after it. Closed before it finished: the client hung up.
    const done = new Promise((resolve) => res.once('close', () => {
      if (!res.writableFinished && scope !== null) scope.abort(HANG_UP)
      resolve()
    }))
    const run = () => {
      next()
      return done
    }
    withContext(pool, scopeOpts, run, (s) => {
      scope = s
      s.mayAbort()
    }).catch(next)
  }
}

module.exports = { databaseRouter, errorHandler, requestContext }
