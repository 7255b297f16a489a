'use strict'
// pool.transaction: BEGIN … COMMIT on one connection, rollback on throw with the
// original error rethrown, a wait limit (P2024), a run-time limit (rollback + P2028), and whole
// re-runs on serialization failures and deadlocks. A COMMIT whose outcome is unknown rejects
// with maybeCommitted and is never re-run.

const native = require('./native')
const { closedError, paramsError, fromNative, nativePayload, PgWardenError } = require('./errors')
const { sleep, delayFor } = require('./retry')
const { retryEvent } = require('./telemetry')
const DEFAULTS = require('./defaults').transaction
const { scopeOf, runHolding, outsideScopes, entriesOf } = require('./request-scope')

const ISOLATION = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE'
}
/** Error kinds (as Rust classifies codes: 40001 and P2034 serialization, 40P01 deadlock) that re-run the callback. */
const RERUN_KINDS = new Set(['serialization', 'deadlock'])

function beginSql (opts) {
  let sql = 'BEGIN'
  if (opts.isolationLevel !== undefined) {
    const level = ISOLATION[opts.isolationLevel]
    if (!level) throw paramsError(`Unknown isolationLevel '${opts.isolationLevel}' (expected ${Object.keys(ISOLATION).join(', ')})`)
    sql += ` ISOLATION LEVEL ${level}`
  }
  if (opts.readOnly) sql += ' READ ONLY'
  return sql
}

/** The `tx` handed to the callback: a client that refuses work once the transaction ended. */
class Transaction {
  constructor (client) {
    this._client = client
    this._open = true
    // A server error aborts the transaction even if the callback catches it; any later
    // statement that succeeds (ROLLBACK TO SAVEPOINT) means it recovered.
    this._failure = null
  }

  _check () {
    if (!this._open) throw closedError('Transaction already closed: a query cannot run on a transaction that was committed, rolled back or timed out')
  }

  /** Runs one statement inside the transaction (same arguments as `pool.query`). */
  async query (text, values, opts) {
    this._check()
    try {
      const r = await this._client.query(text, values, opts)
      this._failure = null
      return r
    } catch (e) {
      if (e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) this._failure = e
      throw e
    }
  }

  /** `COPY … FROM STDIN` inside the transaction (see `Pool.copyFrom`). */
  copyFrom (sql, opts) {
    this._check()
    return this._client.copyFrom(sql, opts)
  }

  /** `COPY … TO STDOUT` inside the transaction (see `Pool.copyTo`). */
  copyTo (sql, opts) {
    this._check()
    return this._client.copyTo(sql, opts)
  }

  /** Runs a multi-statement script inside the transaction. */
  async executeScript (sql) {
    this._check()
    return this._client.executeScript(sql)
  }
}

function abortedError (cause) {
  const e = new PgWardenError({
    code: '25P02',
    kind: 'other',
    retryable: false,
    maybeCommitted: false,
    message: `Transaction rolled back: a statement inside it failed (${cause.code}: ${cause.message}) and the callback went on; nothing was committed`
  })
  e.cause = cause
  return e
}

function timeoutError (ms) {
  return fromNative(nativePayload(JSON.parse(native.transactionTimedOut(ms))))
}

/**
 * Applies request scope `context`'s settings to the transaction begun on `client`, once (its
 * statements then carry none), and gives the callback to run in the scope, which now holds
 * this connection (acquired at `callSite`).
 */
async function enterScope (context, client, fn, callSite) {
  const pairs = context.settingPairs()
  if (pairs !== undefined && pairs.length > 0) {
    const names = pairs.filter((_, i) => i % 2 === 0)
    await client.query(native.scopeSettingsSql(names), pairs) // $1 name, $2 value, …
  }
  const site = `pool.transaction() called\n${callSite.frames}`
  return (tx) => runHolding(context, site, () => fn(tx))
}

async function runOnce (pool, fn, opts, callSite) {
  const client = await pool.acquire({ maxWaitMs: opts.maxWaitMs !== undefined ? opts.maxWaitMs : DEFAULTS.maxWaitMs })
  const tx = new Transaction(client)
  const context = scopeOf(pool)
  const timeoutMs = opts.timeoutMs !== undefined ? opts.timeoutMs : DEFAULTS.timeoutMs
  let timer = null
  let destroy = false
  let timedOut = false
  let cancelling = null
  try {
    // What the connection has of the scope's settings once BEGIN and the settings statement ran:
    // so neither carries any, and later statements only what differs (an inner scope's).
    if (context !== null) client._appliedSettings = new Map(entriesOf(context.settingPairs()))
    await client.query(beginSql(opts))
    const callback = context === null ? fn : await enterScope(context, client, fn, callSite)
    const work = Promise.resolve().then(() => callback(tx))
    let result
    if (timeoutMs > 0) {
      const expired = new Promise((resolve, reject) => {
        timer = setTimeout(() => {
          timedOut = true
          tx._open = false
          // Stop whatever statement the callback is running (see the catch below).
          cancelling = client.cancel().catch(() => {})
          reject(timeoutError(timeoutMs))
        }, timeoutMs)
      })
      work.catch(() => {}) // a callback still running after the timeout must not go unhandled
      try {
        result = await Promise.race([work, expired])
      } catch (e) {
        throw timedOut ? timeoutError(timeoutMs) : e
      }
    } else {
      result = await work
    }
    clearTimeout(timer)
    // Past the deadline nothing commits, even if the callback settled in the same instant.
    if (timedOut) throw timeoutError(timeoutMs)
    tx._open = false
    if (tx._failure) throw abortedError(tx._failure)
    await client.query('COMMIT')
    return result
  } catch (err) {
    clearTimeout(timer)
    tx._open = false
    if (timedOut) {
      // A cancel request may land on whatever the connection runs next: never reuse it.
      // Closing it rolls the transaction back on the server.
      await cancelling
      destroy = true
    } else if (err && err.maybeCommitted) destroy = true
    else {
      try {
        // Outside any request scope: an aborted scope must not stop its own rollback.
        await outsideScopes(() => client.query('ROLLBACK'))
      } catch {
        destroy = true // the connection's state is unknown: never hand it out again
      }
    }
    throw err
  } finally {
    client.release(destroy)
  }
}

/**
 * Adds the frames of the code that called `pool.transaction` to an error raised inside the
 * callback (whose own async frames end at the callback: it runs under a timeout race).
 */
function withCallSite (err, callSite) {
  if (err instanceof PgWardenError && typeof err.stack === 'string' && !err.stack.includes(callSite.frames)) {
    err.stack += `\n${callSite.frames}`
  }
  return err
}

/** Runs `fn(tx)` in a transaction, re-running it on 40001/40P01 up to `retries` times. */
async function transaction (pool, fn, opts = {}) {
  const site = {}
  Error.captureStackTrace(site, transaction)
  const callSite = { frames: site.stack.split('\n').slice(1).join('\n') }
  if (typeof fn !== 'function') throw paramsError('transaction needs a callback')
  beginSql(opts) // validate options before taking a connection
  const retries = opts.retries !== undefined ? opts.retries : DEFAULTS.retries
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await runOnce(pool, fn, opts, callSite)
      if (attempt > 1) pool._native.recordRetrySucceeded()
      return value
    } catch (err) {
      const rerun = err && RERUN_KINDS.has(err.kind) && !err.maybeCommitted
      if (!rerun || attempt > retries) {
        if (rerun) pool._native.recordRetryExhausted()
        throw withCallSite(err, callSite)
      }
      pool._native.recordRetryAttempt()
      const delayMs = delayFor(DEFAULTS.rerun, attempt)
      retryEvent(attempt, err, delayMs)
      await sleep(delayMs)
    }
  }
}

module.exports = { transaction }
