'use strict'
// Pool: the JS face of the native pool. It converts arguments, decodes results and errors,
// and carries events and logging; connections, timeouts and counters live in Rust.

const { EventEmitter } = require('node:events')
const util = require('node:util')
const native = require('./native')
const { fromNative, nativePayload, closedError, internalError, paramsError, configError } = require('./errors')
const { withRetry } = require('./retry')
const { transaction } = require('./transaction')
const { leveled, onNativeEvent, safeEmit } = require('./observe')
const health = require('./health')
const { prepareParams } = require('./params')
const { decodeResult } = require('./result')
const copy = require('./copy')
const { telemetryOptions, Telemetry } = require('./telemetry')
const { StatementScope, QUERY, COPY, SCRIPT } = require('./statement-scope')
const { splitQuery } = require('./query-args')
const { RowReader, rowsOf } = require('./row-stream')
const requestScope = require('./request-scope')
const { Fleet, fleetOptions, BEACON_PREFIX } = require('./fleet')
const { scopeOf } = requestScope

const ENV_NAMES = native.configEnvNames()
const DEFAULT_BATCH = 500
const silent = { debug () {}, info () {}, warn () {}, error () {} }

/** Options as JSON for the native side: the logger stays here, non-finite numbers become text. */
function nativeOptions (options) {
  const out = {}
  for (const [k, v] of Object.entries(options)) {
    // The logger, telemetry, the fleet, and a password function (asked per connection, below),
    // stay on this side.
    if (k === 'logger' || k === 'telemetry' || k === 'fleet' || v === undefined || typeof v === 'function') continue
    out[k] = typeof v === 'number' && !Number.isFinite(v) ? String(v) : typeof v === 'bigint' ? String(v) : v
  }
  return out
}

function envSnapshot () {
  const env = {}
  for (const name of ENV_NAMES) if (process.env[name] !== undefined) env[name] = process.env[name]
  return env
}

async function call (fn) {
  try {
    return await fn()
  } catch (e) {
    throw fromNative(e)
  }
}

const NO_OPTS = Object.freeze({})
const NO_PARAMS = Object.freeze([])
/** Query option (for `pgwarden/prisma`): values as Prisma's driver adapters give them. */
const PRISMA_VALUES = Symbol('pgwarden.prismaValues')
/** Query option (for `pgwarden/pg`): fields with their source table, column and type modifier. */
const PG_DRIVER_FIELDS = Symbol('pgwarden.pgDriverFields')

/** The conventions a statement's result values follow (undefined: pgwarden's own). */
const styleOf = (opts) => (opts[PRISMA_VALUES] ? native.ValueStyle.Prisma : opts[PG_DRIVER_FIELDS] ? native.ValueStyle.PgDriver : undefined)

/** Query option (for `pgwarden/pg`): the types to have as the server's text (see `pgDecodedTypes`). */
const PG_TEXT_TYPES = Symbol('pgwarden.pgTextTypes')

/** Query option (for `pgwarden/pg`'s `queryMode: 'extended'`): never the simple protocol. */
const PG_EXTENDED = Symbol('pgwarden.pgExtended')

/**
 * A statement's native options (`StatementOptions`) from its `scope` (timeout, abort, request
 * scope's settings and noWait), or undefined when it has none.
 */
function statementOptions (scope, replica, opts = NO_OPTS) {
  const { timeoutMs, abortId, settings, noWait, deadlineOf, sentAs } = scope
  const textTypes = opts[PG_TEXT_TYPES]
  const extended = opts[PG_EXTENDED]
  if (timeoutMs === undefined && !replica && abortId === undefined && !textTypes && !extended && scope.context === null) return undefined
  return { timeoutMs, replica, abortId, textTypes, extended, settings, noWait, deadlineOf, sentAs }
}

/** A stream's `batchSize` option (rows per batch read from the server). */
const batchSizeOf = (opts) => Math.max(1, Math.floor(opts.batchSize || DEFAULT_BATCH))

/**
 * Starts a streamed statement on `target` (the native pool, or a held client's handle) now,
 * and returns its RowReader (see lib/row-stream.js).
 */
function openRows (pool, target, text, values, opts, client) {
  const a = splitQuery(text, values, opts)
  checkSql(a.sql)
  const params = prepareParams(a.values)
  const replica = replicaOf(a.opts)
  // The signal stays armed for the whole stream: it cancels the start or any batch. The
  // scope ends (span, events) once the handle is closed, however the reading ended.
  const scope = new StatementScope(pool, target, a.sql, a.values, a.opts, QUERY, client)
  const options = statementOptions(scope, replica, a.opts)
  const open = () => target.stream(scope.text, params, styleOf(a.opts), options)
  return new RowReader(scope, open, a.opts.rowMode === 'array', batchSizeOf(a.opts))
}

function checkSql (sql) {
  if (typeof sql !== 'string') throw paramsError(`Query text must be a string, got ${typeof sql}`)
}

/** A statement's `replica` option: true sends a read to the replicas, anything else the primary. */
function replicaOf (opts) {
  const r = opts.replica
  if (r !== undefined && typeof r !== 'boolean') throw paramsError(`replica must be true or false, got ${typeof r}`)
  return r === true
}

/**
 * Runs one statement through `target` (native pool or client) in its scope (events, span,
 * signal, request scope); `client`: the held client it runs on, if any.
 */
async function runQuery (pool, target, text, values, opts, client) {
  // The common call, query(text) or query(text, array), skips the argument juggling.
  let sql = text
  let vals = values
  let o = NO_OPTS
  if (!(typeof text === 'string' && opts === undefined && (values === undefined || Array.isArray(values)))) {
    const a = splitQuery(text, values, opts)
    sql = a.sql
    vals = a.values
    o = a.opts
  }
  checkSql(sql)
  const params = vals === undefined ? NO_PARAMS : prepareParams(vals)
  const arrayMode = o.rowMode === 'array'
  // A client (acquire, transactions) is a primary connection: it ignores `replica`.
  const replica = o === NO_OPTS ? false : replicaOf(o)
  const style = o === NO_OPTS ? undefined : styleOf(o)
  // Opened once every argument was checked, so a throw never leaves its span or signal behind
  // (for the common call it is the one object this function allocates).
  const scope = new StatementScope(pool, target, sql, vals, o, QUERY, client)
  let json
  try {
    json = await target.query(scope.text, params, style, statementOptions(scope, replica, o))
  } catch (raw) {
    // Built here, inside the caller's await chain, so err.stack names the caller's functions.
    const e = withSetupCause(pool, fromNative(raw))
    if (scope.noWait) withHeldSite(e, scope.context.heldAt())
    throw scope.failed(e)
  }
  const r = decodeResult(json, arrayMode)
  scope.answered(r)
  return r.result
}

/** Runs a script on `target` (native pool or client) in its scope: span and signal, no events. */
async function runScript (pool, target, sql, opts, client) {
  const scope = new StatementScope(pool, target, sql, undefined, opts, SCRIPT, client)
  refuseUnscoped(scope, 'A script (executeScript)')
  try {
    await target.executeScript(scope.sentAs || scope.text, scope.timeoutMs, scope.abortId)
  } catch (e) {
    throw scope.failed(fromNative(e))
  }
  scope.ended(null)
}

/** The scope of a COPY on `target`: each of its steps is bounded, and aborted, as the one statement. */
function copyScope (pool, target, sql, opts = NO_OPTS, client) {
  const scope = new StatementScope(pool, target, sql, undefined, opts, COPY, client)
  refuseUnscoped(scope, 'A COPY')
  return scope
}

/**
 * A script or COPY cannot carry its request scope's settings (they go with the extended
 * protocol's statements): outside a transaction, which applied them, it is refused unsent
 * rather than run without them.
 */
function refuseUnscoped (scope, what) {
  if (scope.settings === undefined) return
  throw scope.failed(paramsError(`${what} cannot carry the settings of its withContext scope: run it inside pool.transaction() in the scope (the settings then apply to the whole transaction)`))
}

/**
 * The native hook for the `onConnect` option: it hands the user's function a `SetupClient` for
 * the new connection and settles once the function has (a throw closes that connection).
 */
function connectHook (pool, onConnect) {
  if (typeof onConnect !== 'function') throw configError(`onConnect must be a function, got ${typeof onConnect}`)
  return async (setup) => {
    try {
      await onConnect(new SetupClient(setup))
    } catch (e) {
      pool._setupFailure = e // the `cause` of the ERR_PGWARDEN_ON_CONNECT it becomes
      throw e
    }
  }
}

/** An error from native: ERR_PGWARDEN_ON_CONNECT carries what onConnect threw as its `cause`. */
function withSetupCause (pool, e) {
  if (e && e.code === 'ERR_PGWARDEN_ON_CONNECT' && pool._setupFailure !== undefined && e.cause === undefined) {
    e.cause = pool._setupFailure
    pool._setupFailure = undefined // each failure is the cause of one rejection, never a later one
  }
  return e
}

/**
 * The native half of `acquire()`: its handle. At once when a connection is free; else its
 * outcome comes through the completion queue as a statement's does (no napi promise per
 * acquire), or from the release on this thread that gave it its connection (`releaseHandle`,
 * as pg-pool gives a released client to its next waiter; see src/handoff.rs).
 */
async function nativeAcquire (pool, wait, noWait) {
  const id = (pool._lastId = (pool._lastId + 1) >>> 0)
  let now
  try {
    now = pool._native.acquire(wait, noWait, id)
  } catch (e) {
    throw fromNative(e)
  }
  if (now !== null) return now // a connection was free
  const outcome = new Promise((resolve, reject) => pool._waiting.set(id, { resolve, reject }))
  let handle
  try {
    handle = await outcome // a handle (handed over), or null (its connection waits in takeAcquired)
  } catch (e) {
    // Built here, in the caller's await chain, so err.stack names the caller's functions.
    throw fromNative(e)
  }
  handle ??= pool._native.takeAcquired(id)
  if (handle === null) throw internalError('acquire() ended without a connection or an error (a bug)')
  return handle
}

/**
 * Releases native client `handle` (`discard`: closes its connection). Returns null, or a
 * promise (the connection goes back once the work queued on it ended, or it was tidied);
 * when the connection went at once to a waiting acquire(), that one gets its client here.
 */
function releaseHandle (pool, handle, discard) {
  const released = handle.release(discard)
  if (released === null || typeof released.then === 'function') return released
  const id = released.acquireId()
  const waiter = pool._waiting.get(id)
  pool._waiting.delete(id)
  if (waiter !== undefined) waiter.resolve(released)
  else releaseHandle(pool, released, false) // no such acquire (cannot happen): the connection goes back
  return null
}

/**
 * `acquire()` in request scope `context`: its wait counts against the scope's deadline, the
 * scope's abort ends it, and it is refused at once (naming where) when the scope holds a
 * connection of this pool already and none is free.
 */
async function acquireInScope (pool, context, opts) {
  if (context.stopped()) throw context.stoppedError()
  const left = context.timeoutFor(undefined) // undefined: no deadline
  let wait = opts.maxWaitMs === undefined ? pool._settings.poolTimeoutMs : opts.maxWaitMs
  if (left !== undefined && (wait === 0 || wait > left)) wait = Math.max(1, left) // 0 would mean no limit
  const heldAt = context.heldAt()
  const acquiring = nativeAcquire(pool, wait, heldAt !== undefined)
  // The scope's abort (a hang-up, its signal, the deadline) ends the wait at once; a connection
  // that comes after all goes straight back.
  let onAbort
  const aborted = new Promise((resolve, reject) => {
    onAbort = () => reject(context.stoppedError())
    context.listen(onAbort)
  })
  try {
    return await Promise.race([acquiring, aborted])
  } catch (e) {
    if (context.aborted) acquiring.then((handle) => releaseHandle(pool, handle, false), () => {})
    if (e.code === 'P2024' && context.stopped()) throw context.stoppedError()
    throw withHeldSite(e, heldAt)
  } finally {
    context.unlisten(onAbort)
  }
}

/** ERR_PGWARDEN_SELF_DEADLOCK names where the connection its scope holds was acquired. */
function withHeldSite (e, heldAt) {
  if (e && e.code === 'ERR_PGWARDEN_SELF_DEADLOCK' && heldAt) {
    e.heldConnectionAcquiredAt = heldAt
    e.message += `. The held connection was acquired at:\n${heldAt.split('\n').slice(1).join('\n')}`
  }
  return e
}

/** The client `onConnect` gets: a new connection, before it serves anyone. */
class SetupClient {
  constructor (handle) {
    this._handle = handle
  }

  /** Runs one statement on the new connection (statements run in the order called). */
  async query (text, values) {
    checkSql(text)
    const params = values === undefined ? NO_PARAMS : prepareParams(values)
    const [json, ...parts] = await call(() => this._handle.query(text, params))
    const payload = JSON.parse(json)
    if (payload.parts !== undefined) payload.partTexts = parts
    return decodeResult(payload, false).result
  }
}

/** A connection held by `pool.acquire()`; give it back with `release()`. */
class Client {
  constructor (handle, pool) {
    this._handle = handle
    this._pool = pool
    this._released = false
    // A held connection is the primary's: its native submit ignores `replica`.
    this._submitter = pool._submitterFor((id, sql, params, style, options) =>
      handle.submit(id, sql, params, style, options), (id, why, ms) => handle.abort(id, why, ms))
  }

  /** Runs one statement on this connection (same arguments as `pool.query`). */
  async query (text, values, opts) {
    if (this._released) throw closedError('The client was released')
    this._lastStatement = text // for the report of a release inside a transaction
    return runQuery(this._pool, this._submitter, text, values, opts, this)
  }

  /** Runs a multi-statement script (simple protocol, no parameters); `opts`: `{ timeoutMs, signal }`. */
  async executeScript (sql, opts = {}) {
    checkSql(sql)
    if (this._released) throw closedError('The client was released')
    this._lastStatement = sql
    await runScript(this._pool, this._handle, sql, opts, this)
  }

  /**
   * Streams rows of a statement on this connection with bounded memory (as `pool.stream`); it
   * takes its place among this connection's statements now, and holds the connection until
   * the loop ends. Leaving the loop early cancels the statement and keeps the connection.
   */
  stream (text, values, opts = {}) {
    if (this._released) throw closedError('The client was released')
    this._lastStatement = text
    return rowsOf(this._openRows(text, values, opts))
  }

  /** The RowReader of a statement on this connection, started now (pgwarden/pg's cursors). */
  _openRows (text, values, opts = {}) {
    if (this._released) throw closedError('The client was released')
    return openRows(this._pool, this._handle, text, values, opts, this)
  }

  /** A Writable for `COPY … FROM STDIN` on this connection (inside a transaction, its part of it). */
  copyFrom (sql, opts) {
    checkSql(sql)
    if (this._released) throw closedError('The client was released')
    // Begun now: the COPY takes its place among this connection's statements as asked.
    const scope = copyScope(this._pool, this._handle, sql, opts, this)
    return copy.copyFrom((t, id) => this._handle.copyIn(scope.text, t, id), scope, { eager: true })
  }

  /** A Readable of the data of `COPY … TO STDOUT` on this connection. */
  copyTo (sql, opts) {
    checkSql(sql)
    if (this._released) throw closedError('The client was released')
    const scope = copyScope(this._pool, this._handle, sql, opts, this)
    return copy.copyTo((t, id) => this._handle.copyOut(scope.text, t, id), scope, { eager: true })
  }

  /**
   * Asks the server to cancel the statement running on this connection, if any (a cancel
   * request on a separate connection, as pg's and psql's). Resolves once it was sent.
   */
  cancel () {
    return call(() => this._handle.cancel())
  }

  /**
   * Calls `onLost(err)` if the server closes this connection while it is held (pgwarden/pg's
   * clients emit pg's `error` then): the native side tells a connection's end at once.
   */
  _watchLost (onLost) {
    this._onLost = onLost
    this._serial = this._handle.connectionSerial()
    this._pool._watchedClients.set(this._serial, this)
  }

  /**
   * Returns the connection to the pool once the statements issued before have ended;
   * `release(true)` or `release(err)` closes it instead. Idempotent. A connection left inside a
   * transaction is rolled back first, and one whose session changed (SET, LISTEN, temporary
   * tables, advisory locks…) is reset: the next caller never inherits either.
   */
  release (destroy) {
    if (this._released) return
    this._released = true
    if (this._scope !== undefined) this._scope.released(this)
    if (this._onLost) this._pool._watchedClients.delete(this._serial)
    if (this._leakTimer) clearTimeout(this._leakTimer)
    const released = releaseHandle(this._pool, this._handle, Boolean(destroy))
    if (released === null) return
    released.then((report) => {
      if (report !== null) releasedInTransaction(this._pool, JSON.parse(report), this)
    }, () => {})
  }
}

/**
 * A connection was given back inside a transaction, and rolled back (or closed): the
 * `releasedInTransaction` event, or a warning at most once per cool-down. `client`: the held
 * client it was, which knows its last statement and where it was acquired.
 */
function releasedInTransaction (pool, report, client) {
  const { log, ...payload } = report
  pool._reportsAcquireSites = true // from now on, acquire() notes where it was called
  if (client !== undefined) {
    if (typeof client._lastStatement === 'string') payload.lastStatement = native.cutSql(client._lastStatement)
    else if (client._lastStatement && typeof client._lastStatement.text === 'string') payload.lastStatement = native.cutSql(client._lastStatement.text)
    payload.acquiredAt = client._acquiredAt === undefined ? undefined : client._acquiredAt.stack
  }
  if (pool.listenerCount('releasedInTransaction') > 0) return safeEmit(pool, 'releasedInTransaction', payload)
  if (!log) return
  const where = payload.acquiredAt ? `; acquired at:\n${payload.acquiredAt}` : ''
  pool.logger.warn(`[pgwarden] A connection was given back inside a transaction (${payload.state}); it was ${payload.rolledBack ? 'rolled back' : 'closed'} before anyone else could get it. Last statement: ${payload.lastStatement}${where}`)
}

class Pool extends EventEmitter {
  /**
   * @param {object|string} [options] options or a connection string
   */
  constructor (options = {}) {
    super()
    if (typeof options === 'string') options = { connectionString: options }
    if (options === null || typeof options !== 'object') options = {}
    const telemetry = telemetryOptions(options.telemetry) // validated before anything starts
    const fleet = fleetOptions(options)
    if (fleet !== null && options.minConnections > 1) throw configError("minConnections cannot be used with connectionLimit: 'auto' (the fleet sizes the pool)")
    // A fleet's pool starts with one connection: its share comes with the first refreshes.
    const own = fleet === null ? options : { ...options, connectionLimit: 1 }
    try {
      this._native = new native.NativePool(nativeOptions(own), envSnapshot())
    } catch (e) {
      throw fromNative(e)
    }
    // A password function is asked for each new connection, as pg does (rotating credentials).
    if (typeof options.password === 'function') {
      const passwordFn = options.password
      this._native.setPasswordProvider(async () => String(await passwordFn()))
    }
    if (options.onConnect !== undefined && options.onConnect !== null) this._native.setConnectHook(connectHook(this, options.onConnect))
    this._settings = JSON.parse(this._native.describe())
    if (fleet !== null && this._settings.pgbouncer && (fleet.budget === undefined || fleet.beaconConnectionString === undefined)) {
      this._native.close() // nothing was opened: the pool is lazy
      throw configError('A fleet behind PgBouncer (pgbouncer=true) needs fleet.budget (the server cannot tell the bouncer\'s pool size, which is the budget there) and fleet.beaconConnectionString (a direct connection to the server, where the beacons are counted)')
    }
    // pgwarden's own lines below logLevel reach no logger, the default console included.
    this.logger = options.logger === false ? silent : leveled(options.logger || console, this._settings.logLevel)
    this._ended = null
    this._telemetry = telemetry === null ? null : new Telemetry(this, telemetry)
    for (const w of this._native.warnings()) this.logger.warn(`[pgwarden] ${w}`)
    this._native.setEventSink((json) => onNativeEvent(this, json))
    // Statements (and acquire()s) go out with `submit` (`acquire`) and come back in batches
    // (see src/completion.rs); an acquire() may also be served by a release (releaseHandle).
    this._waiting = new Map()
    // Held clients that asked to be told when their connection ends, by connection serial.
    this._watchedClients = new Map()
    this._lastId = 0
    this._native.setCompletionSink(() => this._drain())
    const handle = this._native
    this._submitter = this._submitterFor((id, sql, params, style, options) =>
      handle.submit(id, sql, params, style, options), (id, why, ms) => handle.abort(id, why, ms))
    this._fleet = null
    if (fleet !== null) {
      // The beacon: one connection on the same server, named for the fleet (see lib/fleet.js).
      const direct = fleet.beaconConnectionString === undefined ? {} : { connectionString: fleet.beaconConnectionString, pgbouncer: false }
      const beacon = new Pool({ ...options, ...direct, connectionLimit: 1, fleet: undefined, onConnect: undefined, telemetry: undefined, logger: false, applicationName: BEACON_PREFIX + fleet.name })
      this._fleet = new Fleet(this, beacon, fleet)
      this._fleet.start()
    }
  }

  /**
   * A statement target (`query`, `abort`) whose statements go out with `submit` (the pool's, or
   * a held client's) and settle from this pool's completion queue: no promise per statement.
   */
  _submitterFor (submit, abort) {
    const waiting = this._waiting
    return {
      query: (sql, params, style, options) => new Promise((resolve, reject) => {
        const id = (this._lastId = (this._lastId + 1) >>> 0)
        waiting.set(id, { resolve, reject })
        try {
          submit(id, sql, params, style, options)
        } catch (e) {
          waiting.delete(id)
          reject(e)
        }
      }),
      abort
    }
  }

  /** Opens max(1, minConnections) connections now (three tries, exponential backoff). */
  async connect () {
    await call(() => this._native.connect())
  }

  /**
   * Runs one statement. `opts`: `{ timeoutMs, rowMode: 'array', replica: true }` (`replica`:
   * a read for the read replicas, round-robin; the primary when none is in rotation).
   * @returns {Promise<{rows: any[], rowCount: number|null, fields: {name: string, dataTypeID: number}[], command: string}>}
   */
  query (text, values, opts) {
    return runQuery(this, this._submitter, text, values, opts)
  }

  /** Takes every finished statement in one crossing and settles their promises. */
  _drain () {
    const taken = this._native.takeCompletions()
    const batch = JSON.parse(typeof taken === 'string' ? taken : taken[0])
    let part = 1 // results with their rows in parts take them in order from taken[1…]
    for (let i = 0; i < batch.length; i++) {
      const [id, failed, payload] = batch[i]
      if (!failed && payload !== null && payload.parts !== undefined) { // null: an acquire()'s
        payload.partTexts = taken.slice(part, part + payload.parts)
        part += payload.parts
      }
      const w = this._waiting.get(id)
      if (w === undefined) continue
      this._waiting.delete(id)
      // The error object is built by the awaiting caller (runQuery), so its stack is theirs.
      if (failed) w.reject(nativePayload(payload))
      else w.resolve(payload)
    }
  }

  /**
   * Streams rows with bounded memory: rows are read from the server only as fast as the
   * loop consumes them. Breaking out of the loop cancels the statement.
   */
  async * stream (text, values, opts = {}) {
    yield * rowsOf(openRows(this, this._native, text, values, opts))
  }

  /**
   * A view whose `query` and `stream` read from the replicas (as with `{ replica: true }`).
   * Writes and transactions belong on the pool itself.
   */
  replica () {
    const pool = this
    const onReplica = (text, values, opts) => {
      const a = splitQuery(text, values, opts)
      return [a.sql, a.values, { ...a.opts, replica: true }]
    }
    return {
      query: (text, values, opts) => pool.query(...onReplica(text, values, opts)),
      stream: (text, values, opts) => pool.stream(...onReplica(text, values, opts))
    }
  }

  /** Runs a multi-statement script with the simple protocol (no parameters); `opts`: `{ timeoutMs, signal }`. */
  async executeScript (sql, opts = {}) {
    checkSql(sql)
    await runScript(this, this._native, sql, opts)
  }

  /**
   * A Writable that sends the data of `COPY … FROM STDIN` (text, CSV or binary, as the
   * statement says) on a connection of its own; `rowCount` is set once it finished. Destroying
   * it before the end aborts the COPY (nothing committed). `opts`: `{ timeoutMs, signal }`,
   * bounding each step (a batch written, the end), as for any statement.
   */
  copyFrom (sql, opts) {
    checkSql(sql)
    const scope = copyScope(this, this._native, sql, opts)
    return copy.copyFrom((t, id) => this._native.copyIn(scope.text, t, id), scope)
  }

  /**
   * A Readable of the data of `COPY … TO STDOUT` (Buffers), read as fast as it is consumed.
   * `opts`: `{ timeoutMs, signal }`, bounding each wait for data.
   */
  copyTo (sql, opts) {
    checkSql(sql)
    const scope = copyScope(this, this._native, sql, opts)
    return copy.copyTo((t, id) => this._native.copyOut(scope.text, t, id), scope)
  }

  /**
   * Checks out a connection for several statements; always `release()` it.
   * `maxWaitMs` overrides poolTimeoutMs for this wait (P2024 when it runs out).
   */
  async acquire (opts = {}) {
    // Where it is acquired, for leak reports: captured here, before any await, and formatted
    // only if read. Capturing costs ~10 µs (a tenth of an acquire and release), so only while
    // something reads it: leak detection, a releasedInTransaction listener, or once this pool
    // has seen a connection given back inside a transaction.
    // In a request scope it is noted too: a later wait on this pool there names it.
    const threshold = this._settings.leakDetectionThresholdMs
    const context = scopeOf(this)
    let acquiredAt
    if (threshold > 0 || context !== null || this._reportsAcquireSites || this.listenerCount('releasedInTransaction') > 0) {
      acquiredAt = {}
      Error.captureStackTrace(acquiredAt, this.acquire)
    }
    const asked = performance.now()
    let handle
    try {
      if (context === null) handle = await nativeAcquire(this, opts.maxWaitMs, false)
      else handle = await acquireInScope(this, context, opts)
    } catch (e) {
      throw withSetupCause(this, e)
    }
    if (this._telemetry !== null) this._telemetry.acquired(performance.now() - asked)
    const client = new Client(handle, this)
    client._acquiredAt = acquiredAt
    if (context !== null) {
      client._scope = context
      context.acquired(client)
    }
    if (threshold > 0) {
      const stack = acquiredAt.stack.split('\n').slice(1).join('\n')
      client._leakTimer = setTimeout(() => {
        this.logger.warn(`[pgwarden] Possible connection leak: a client has been held for more than ${threshold}ms without release(). Acquired at:\n${stack}`)
      }, threshold)
      client._leakTimer.unref()
    }
    return client
  }

  /**
   * Runs `fn(tx)` in a transaction: commit on resolve, rollback on throw (the error is
   * rethrown), re-run on 40001/40P01 up to `retries` times, P2024 after `maxWaitMs`,
   * rollback and P2028 after `timeoutMs`.
   */
  transaction (fn, opts) {
    if (this._telemetry === null) return transaction(this, fn, opts)
    return this._telemetry.transaction(() => transaction(this, fn, opts))
  }

  /**
   * Runs `fn()` in a request scope of this pool: every statement, checkout, transaction, stream
   * and COPY inside it (however deep in `fn`'s async calls) gets what is left of `timeoutMs`,
   * is aborted with `signal`, carries `settings` (`set_config(name, value, true)`, scoped to
   * the statement's transaction) and `tags` (a sqlcommenter comment); see docs/API.md.
   */
  withContext (opts, fn) {
    return requestScope.withContext(this, opts, fn)
  }

  /** `withRetry` counted in this pool's stats. */
  withRetry (fn, a, b) {
    const n = this._native
    return withRetry(fn, a, b, {
      attempt: () => n.recordRetryAttempt(),
      succeeded: () => n.recordRetrySucceeded(),
      exhausted: () => n.recordRetryExhausted()
    })
  }

  /**
   * Sets the connection limit to `n` (at least 1) now. Growing lets waiting callers in at once
   * and opens connections as demand needs them; shrinking closes idle connections now and the
   * others as they are given back: no statement or held client is interrupted.
   */
  resize (n) {
    if (this._fleet !== null) throw paramsError("resize cannot be called on a pool with connectionLimit: 'auto': its fleet sets the limit")
    this._resize(n)
  }

  _resize (n) {
    if (typeof n !== 'number') throw paramsError(`resize needs a number of connections, got ${typeof n}`)
    try {
      this._native.resize(n)
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** Pool, statement, acquire, retry, connection and error figures. */
  getPoolStats () {
    const s = JSON.parse(this._native.stats())
    if (this._fleet !== null) s.fleet = this._fleet.stats()
    s.timestamp = new Date().toISOString()
    return s
  }

  /** Zeroes the counters and histograms. */
  resetStats () {
    this._native.resetStats()
  }

  /** Prometheus text exposition of the same figures. */
  metrics () {
    const text = this._native.metrics()
    return this._fleet === null ? text : text + this._fleet.metrics()
  }

  /** `{ status: 'healthy'|'degraded'|'unhealthy', latency, details }`; never throws. */
  healthCheck (opts) {
    return health.healthCheck(this, opts)
  }

  /** True when a round trip to the server succeeds. */
  checkDatabaseConnection () {
    return health.checkDatabaseConnection(this)
  }

  /** This database's connections as the server sees them (pg_stat_activity). */
  getConnectionPoolStats () {
    return health.getConnectionPoolStats(this)
  }

  /** Database size and largest tables. */
  getDatabaseStats (opts) {
    return health.getDatabaseStats(this, opts)
  }

  /**
   * Graceful shutdown: new work rejects at once (code ERR_PGWARDEN_CLOSED), work in flight
   * gets `timeoutMs` (default 5000) to finish, then every connection closes. Idempotent.
   */
  end (opts = {}) {
    if (!this._ended) {
      this._native.close() // synchronously: new work rejects from this line on
      if (this._telemetry !== null) this._telemetry.stop()
      const leaving = this._fleet === null ? null : this._fleet.stop()
      this._ended = Promise.all([call(() => this._native.end(opts.timeoutMs)), leaving]).then(() => undefined)
    }
    return this._ended
  }

  /** Alias of `end()`. */
  disconnect (opts) {
    return this.end(opts)
  }

  /** Whether `end()` was called. */
  get ended () {
    return this._ended !== null
  }

  toString () {
    const s = this._settings
    return `Pool(postgres://${s.user}@${s.host}:${s.port}/${s.database})`
  }

  toJSON () {
    return { ...this._settings }
  }

  [util.inspect.custom] () {
    return `Pool ${util.inspect({ ...this._settings, ended: this.ended })}`
  }
}

/** Same as `new Pool(options)`. */
const createPool = (options) => new Pool(options)

let singleton = null
/** The process-wide pool, built from the environment (DATABASE_URL, ...) on first call. */
function getPool (options) {
  if (!singleton || singleton.ended) singleton = new Pool(options || {})
  return singleton
}

/** The singleton's stats (null when `getPool()` was never called). */
const getPoolStats = () => (singleton ? singleton.getPoolStats() : null)

module.exports = { Pool, Client, createPool, getPool, getPoolStats, releasedInTransaction, PRISMA_VALUES, PG_DRIVER_FIELDS, PG_TEXT_TYPES, PG_EXTENDED }
