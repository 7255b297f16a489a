'use strict'
// OpenTelemetry, opt-in per pool (`telemetry: true` or `enableTelemetry(pool, …)`): a client
// span per statement, named and attributed by the database semantic conventions, a span per
// transaction with its statements as children, retries as span events, a span for a checkout
// that waited, and the connection-pool metrics. `@opentelemetry/api` is required only when a
// pool turns telemetry on: without it nothing is loaded and a statement pays one null check.

const native = require('./native')
const { configError } = require('./errors')
const { version } = require('../package.json')

/** Defaults of the `telemetry` option's object form. */
const DEFAULTS = {
  // A checkout that waited at least this long gets a span of its own (the statement's child).
  checkoutSpanThresholdMs: 10,
  tracerProvider: undefined, // the global provider
  meterProvider: undefined, // the global provider
  poolName: undefined // `host:port/database`
}

// Histogram buckets in seconds, as the semantic conventions advise for database durations.
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

// SQL texts whose operation name is remembered (statements repeat; the set is bounded).
const OPERATIONS_REMEMBERED = 1000

let api = null

/** `@opentelemetry/api`, loaded on first use; a clear error when it is not installed. */
function loadApi () {
  if (api !== null) return api
  try {
    api = require('@opentelemetry/api')
  } catch {
    throw configError('telemetry needs @opentelemetry/api: npm install @opentelemetry/api')
  }
  return api
}

/** The `telemetry` option as settings: null when off. */
function telemetryOptions (value) {
  if (value === undefined || value === false) return null
  if (value === true) {
    loadApi() // a missing @opentelemetry/api is a config error before the pool exists
    return { ...DEFAULTS }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw configError(`telemetry must be true, false or an options object, got ${value === null ? 'null' : typeof value}`)
  }
  for (const k of Object.keys(value)) {
    if (!(k in DEFAULTS)) throw configError(`unknown telemetry option "${k}" (known: ${Object.keys(DEFAULTS).join(', ')})`)
  }
  const o = { ...DEFAULTS, ...value }
  const t = o.checkoutSpanThresholdMs
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw configError(`telemetry.checkoutSpanThresholdMs must be a non-negative number of milliseconds, got ${t}`)
  }
  if (o.poolName !== undefined && typeof o.poolName !== 'string') throw configError('telemetry.poolName must be a string')
  loadApi()
  return o
}

/** Epoch milliseconds of a `performance.now()` reading: the time input spans accept. */
const epochMs = (perfNow) => performance.timeOrigin + perfNow

class Telemetry {
  constructor (pool, options) {
    const otel = loadApi()
    const s = pool._settings
    this._pool = pool
    this._otel = otel
    this._threshold = options.checkoutSpanThresholdMs
    this._logParams = s.logParams === true
    const tracerProvider = options.tracerProvider || otel.trace.getTracerProvider()
    this._tracer = tracerProvider.getTracer('pgwarden', version)
    // The attributes every span and duration carries.
    this._base = { 'db.system.name': 'postgresql', 'db.namespace': s.database, 'server.address': s.host, 'server.port': s.port }
    this._poolName = options.poolName || `${s.host}:${s.port}/${s.database}`
    this._operations = new Map()
    this._byOperation = new Map()
    this._metrics(options.meterProvider || otel.metrics.getMeterProvider())
  }

  _metrics (meterProvider) {
    const meter = meterProvider.getMeter('pgwarden', version)
    const pool = { 'db.client.connection.pool.name': this._poolName }
    this._duration = meter.createHistogram('db.client.operation.duration', {
      unit: 's', description: 'Duration of database client operations.', advice: { explicitBucketBoundaries: DURATION_BUCKETS }
    })
    this._waitTime = meter.createHistogram('db.client.connection.wait_time', {
      unit: 's', description: 'The time it took to obtain an open connection from the pool.', advice: { explicitBucketBoundaries: DURATION_BUCKETS }
    })
    const count = meter.createObservableUpDownCounter('db.client.connection.count', { unit: '{connection}', description: 'The number of connections that are currently in the state described by the state attribute.' })
    const max = meter.createObservableUpDownCounter('db.client.connection.max', { unit: '{connection}', description: 'The maximum number of open connections allowed.' })
    const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', { unit: '{request}', description: 'The number of current pending requests for an open connection.' })
    const idle = { ...pool, 'db.client.connection.state': 'idle' }
    const used = { ...pool, 'db.client.connection.state': 'used' }
    // Read from the same counters as getPoolStats(), once per collection.
    this._observe = (result) => {
      const p = JSON.parse(this._pool._native.stats()).pool
      result.observe(count, p.idle, idle)
      result.observe(count, p.active, used)
      result.observe(max, p.limit, pool)
      result.observe(pending, p.waiting, pool)
    }
    this._observed = [count, max, pending]
    this._meter = meter
    meter.addBatchObservableCallback(this._observe, this._observed)
    this._poolAttributes = pool
  }

  /** Stops observing the pool (it ended). */
  stop () {
    this._meter.removeBatchObservableCallback(this._observe, this._observed)
  }

  /**
   * Starts the span of a statement at `started` (a `performance.now()` reading), as a child of
   * the caller's active context: called synchronously at the call, so the context is the caller's.
   */
  start (sql, values, started, tags) {
    const operation = this._operationOf(sql)
    const b = this._base
    const attributes = {
      'db.system.name': 'postgresql',
      'db.namespace': b['db.namespace'],
      'server.address': b['server.address'],
      'server.port': b['server.port'],
      'db.operation.name': operation,
      'db.query.text': sql
    }
    if (this._logParams && values !== undefined) {
      for (let i = 0; i < values.length; i++) attributes[`db.query.parameter.${i}`] = String(values[i])
    }
    // A request scope's tags (withContext), as they go in the statement's comment.
    if (tags) for (const k of Object.keys(tags)) if (tags[k] !== undefined && tags[k] !== null) attributes[`pgwarden.tag.${k}`] = String(tags[k])
    const span = this._tracer.startSpan(`${operation} ${b['db.namespace']}`,
      { kind: this._otel.SpanKind.CLIENT, attributes, startTime: epochMs(started) }, this._otel.context.active())
    return { span, started, operation }
  }

  /** The statement's operation (Rust's rule, `commandOf`), remembered per SQL text. */
  _operationOf (sql) {
    let operation = this._operations.get(sql)
    if (operation === undefined) {
      if (this._operations.size >= OPERATIONS_REMEMBERED) this._operations.clear()
      operation = native.commandOf(sql)
      this._operations.set(sql, operation)
    }
    return operation
  }

  /** The attributes of a successful statement's duration, one object per operation. */
  _durationAttributes (operation) {
    let a = this._byOperation.get(operation)
    if (a === undefined) {
      a = { ...this._base, 'db.operation.name': operation }
      this._byOperation.set(operation, a)
    }
    return a
  }

  /** Ends a statement's span and records its duration; `waitMs` is its checkout's wait, if known. */
  end (handle, ms, waitMs) {
    const { span, started } = handle
    if (waitMs !== undefined) this._checkout(span, started, waitMs)
    span.end(epochMs(started + ms))
    this._duration.record(ms / 1000, this._durationAttributes(handle.operation))
  }

  /** Ends a statement's span as failed with `err` (a PgWardenError). */
  fail (handle, err, ms) {
    const { span, started } = handle
    const code = err.code
    const attributes = { ...this._base, 'db.operation.name': handle.operation, 'error.type': code || err.name }
    // A SQLSTATE only when the server answered (its errors carry a severity); pgwarden's own
    // codes (P1008, ERR_PGWARDEN_…) are not the server's.
    if (err.severity !== undefined) attributes['db.response.status_code'] = code
    // A pool timeout spent its whole time waiting for a connection.
    if (code === 'P2024') this._checkout(span, started, ms)
    span.setAttributes(attributes)
    span.recordException(err)
    span.setStatus({ code: this._otel.SpanStatusCode.ERROR, message: code })
    span.end(epochMs(started + ms))
    this._duration.record(ms / 1000, attributes)
  }

  /** A checkout's wait: in the wait-time histogram, and a span when it waited long enough. */
  _checkout (parent, started, waitMs) {
    this._waitTime.record(waitMs / 1000, this._poolAttributes)
    if (waitMs < this._threshold || !parent.isRecording()) return
    const ctx = this._otel.trace.setSpan(this._otel.context.active(), parent)
    this._tracer.startSpan('pgwarden.checkout', { kind: this._otel.SpanKind.INTERNAL, attributes: this._poolAttributes, startTime: epochMs(started) }, ctx)
      .end(epochMs(started + waitMs))
  }

  /** A connection checked out by `acquire()` (a held client or a transaction) after `waitMs`. */
  acquired (waitMs) {
    this._waitTime.record(waitMs / 1000, this._poolAttributes)
  }

  /** Runs `body()` inside a span for a transaction; its statements are the span's children. */
  async transaction (body) {
    const otel = this._otel
    const span = this._tracer.startSpan(`transaction ${this._base['db.namespace']}`, { kind: otel.SpanKind.INTERNAL, attributes: this._base })
    try {
      const value = await otel.context.with(otel.trace.setSpan(otel.context.active(), span), body)
      span.end()
      return value
    } catch (err) {
      if (err && err.code) span.setAttribute('error.type', err.code)
      span.recordException(err)
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: err && err.code })
      span.end()
      throw err
    }
  }
}

/**
 * A retry of `withRetry` or of a transaction's re-run, as an event on the active span (when
 * some pool turned telemetry on; otherwise nothing is loaded and this does nothing).
 */
function retryEvent (attempt, err, delayMs) {
  if (api === null) return
  const span = api.trace.getActiveSpan()
  if (span === undefined) return
  span.addEvent('retry', { attempt, 'error.type': (err && (err.code || err.name)) || 'Error', 'pgwarden.retry.delay_ms': delayMs })
}

/** Turns telemetry on for `pool` (see the `telemetry` option); idempotent per pool. */
function enableTelemetry (pool, options = {}) {
  const o = telemetryOptions(options === true ? true : options)
  if (o === null) return
  if (pool._telemetry) pool._telemetry.stop()
  pool._telemetry = new Telemetry(pool, o)
}

module.exports = { enableTelemetry, telemetryOptions, retryEvent, Telemetry }
