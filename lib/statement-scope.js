'use strict'
// One statement's lifecycle on the JS side, the same for a query (on the pool or a held client),
// a stream, a COPY and a script: its validated `timeoutMs`, its AbortSignal wired to the native
// abort of the statement (and unwired once it ended), its telemetry span, its timing, and the one
// report of how it ended (`query` and `slowQuery` events, or the default slow-query warning).
// Connections, timeouts and the slow threshold live in Rust: this only carries what JS owns.
//
// The common query (no options, no signal, telemetry off) allocates the scope and nothing else:
// no closure, no span, no extra timing.

const native = require('./native')
const { fromNative, nativePayload, paramsError } = require('./errors')
const { observe } = require('./observe')
const { scopeOf, withComment, entriesOf } = require('./request-scope')

let lastAbortId = 0

/** What a kind of statement reports: a telemetry span (`traced`) and events (`observed`). */
const QUERY = Object.freeze({ traced: true, observed: true }) // query, stream, held clients' queries
const COPY = Object.freeze({ traced: false, observed: true }) // COPY gets events, no span
const SCRIPT = Object.freeze({ traced: true, observed: false }) // executeScript gets a span, no events

/** A statement's `timeoutMs` option: undefined (the pool's queryTimeoutMs) or a number ≥ 0. */
function timeoutOf (opts) {
  const t = opts.timeoutMs
  if (t === undefined) return undefined
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw paramsError(`timeoutMs must be a non-negative finite number of milliseconds, got ${typeof t === 'number' ? t : typeof t}`)
  }
  return t
}

/** The rejection of a statement whose signal was aborted before it was sent (57014). */
function abortError (signal) {
  const e = fromNative(nativePayload(JSON.parse(native.abortedBeforeSend())))
  e.cause = signal.reason
  return e
}

/**
 * What a transaction's connection, which has the settings `applied` (a Map), must be sent to
 * have `pairs`: the ones that differ, and '' for those it has that `pairs` lacks.
 */
function settingsDiff (applied, pairs) {
  const wanted = new Map(entriesOf(pairs))
  const diff = []
  for (const [name, value] of wanted) if (applied.get(name) !== value) diff.push(name, value)
  for (const name of applied.keys()) if (!wanted.has(name)) diff.push(name, '')
  return diff
}

/** Error codes of a statement stopped by its request scope (the deadline's, an abort's). */
const SCOPE_STOP_CODES = new Set(['P1008', '57014'])

class StatementScope {
  /**
   * Opens the scope of statement `sql` (with `values`, for events and spans) on `pool`, now:
   * its timing starts, its span too (synchronously, so the span's parent is the caller's active
   * context), and `opts.signal` is armed to abort it on `target` (the native pool or client
   * that knows the statement by `abortId`). Throws a bad `timeoutMs` before anything starts,
   * and the 57014 of a signal already aborted (reported as a failed statement).
   *
   * Inside a request scope of `pool` (see lib/request-scope.js) it also takes the scope's part:
   * what is left of its deadline, its abort, its settings (unless `client` is a transaction's,
   * which applied them once), its tags (`text`: the statement as sent), and `noWait` for a
   * statement on the pool while the scope holds one of its connections (`client` undefined).
   */
  constructor (pool, target, sql, values, opts, kind = QUERY, client = undefined) {
    this.timeoutMs = timeoutOf(opts)
    this.pool = pool
    this.sql = sql
    this.text = sql
    this.values = values
    this.observed = kind.observed
    this.signal = opts.signal
    this.abortId = undefined
    this.onAbort = null
    this.onScopeAbort = null
    this.context = scopeOf(pool)
    this.settings = undefined
    this.noWait = undefined
    this.deadlineOf = undefined
    this.sentAs = undefined
    this.tags = null
    this.span = null
    this.started = performance.now()
    const context = this.context
    if (context !== null) {
      try {
        this._enter(context, client)
      } catch (e) {
        throw this.failed(e) // a bad setting name, a settings or tags function that threw, a stopped scope
      }
    }
    this.span = kind.traced && pool._telemetry !== null ? pool._telemetry.start(sql, values, this.started, this.tags) : null
    // A traceparent differs at each statement: sent unnamed, the text without it stays the
    // key of its description, so the statement cache is not filled with one-off texts.
    if (context !== null && context.traceparent && this.span !== null) this.sentAs = withComment(sql, context.comment(this.tags, this.span.span.spanContext()))
    if (this.signal !== undefined || (context !== null && context.abortable)) this._arm(target)
  }

  /** Takes the request scope's part (see the constructor); refuses the statement once it was aborted. */
  _enter (context, client) {
    if (context.stopped()) throw context.stoppedError()
    const own = this.timeoutMs
    this.timeoutMs = context.timeoutFor(own, this.pool._settings.queryTimeoutMs)
    if (this.timeoutMs !== own) this.deadlineOf = context.timeoutMs // its expiry is the scope's deadline
    const pairs = context.settingPairs()
    if (client !== undefined && client._appliedSettings !== undefined) {
      // A transaction's connection: only what differs from what it has, and what it has is now this.
      const diff = settingsDiff(client._appliedSettings, pairs)
      if (diff.length > 0) {
        this.settings = diff
        client._appliedSettings = new Map(entriesOf(pairs))
      }
    } else if (pairs !== undefined && pairs.length > 0) {
      this.settings = pairs
    }
    if (client === undefined && context.heldAt() !== undefined) this.noWait = true
    this.tags = context.tagsNow()
    this.text = withComment(this.sql, context.comment(this.tags))
  }

  /** Aborting the signal aborts the statement natively, for as long as the scope is armed. */
  _arm (target) {
    const signal = this.signal
    if (signal !== undefined && signal.aborted) throw this.failed(abortError(signal))
    const id = (lastAbortId = (lastAbortId + 1) >>> 0)
    this.abortId = id
    if (signal !== undefined) {
      this.onAbort = () => target.abort(id)
      signal.addEventListener('abort', this.onAbort, { once: true })
    }
    const context = this.context
    if (context !== null) {
      this.onScopeAbort = () => target.abort(id, context.why, context.timeoutMs)
      context.listen(this.onScopeAbort)
    }
  }

  /** Unwires the signals (idempotent): what comes after can no longer be aborted by them. */
  disarm () {
    if (this.onAbort !== null) {
      this.signal.removeEventListener('abort', this.onAbort)
      this.onAbort = null
    }
    if (this.onScopeAbort !== null) {
      this.context.unlisten(this.onScopeAbort)
      this.onScopeAbort = null
    }
  }

  /**
   * A query answered: `r` is its decoded result, whose duration and slowness (`r.ms`, `r.slow`)
   * the native side measured. The span covers the whole call, its checkout's wait (`r.waitMs`)
   * included as its child.
   */
  answered (r) {
    this.disarm()
    if (this.span !== null) this.pool._telemetry.end(this.span, performance.now() - this.started, r.waitMs)
    if (this.observed) this._report(r.ms, r.slow, r.rowCount, undefined)
  }

  /** Ended well (a stream, COPY or script: timed here); `rowCount` for the events. */
  ended (rowCount) {
    this.disarm()
    const ms = performance.now() - this.started
    if (this.span !== null) this.pool._telemetry.end(this.span, ms)
    if (this.observed) this._report(ms, this.pool._native.isSlow(ms), rowCount, undefined)
  }

  /**
   * Ended with `e` (the error the caller throws, returned): a 57014 after the signal aborted
   * is that abort, and carries its reason as `cause`. `rowCount`: rows given before it failed.
   */
  failed (e, rowCount = null) {
    this.disarm()
    if (this.signal !== undefined && this.signal.aborted && e && e.code === '57014') e.cause = this.signal.reason
    const context = this.context
    if (context !== null && e && SCOPE_STOP_CODES.has(e.code) && context.stopped()) {
      if (e.cause === undefined && context.aborted) e.cause = context.reason
      const why = context.stoppedBy()
      if (why !== undefined) this.pool._native.recordScopeStop(why)
    }
    const ms = performance.now() - this.started
    if (this.span !== null) this.pool._telemetry.fail(this.span, e, ms)
    if (this.observed) this._report(ms, this.pool._native.isSlow(ms), rowCount, e)
    return e
  }

  /**
   * The one rule, for every statement however it ended: a slow one is always reported (its
   * `slowQuery` event, or the default warning without a listener); any other only when
   * someone listens to `query`.
   */
  _report (ms, slow, rowCount, error) {
    const pool = this.pool
    if (slow || pool.listenerCount('query') > 0) observe(pool, this.sql, this.values, ms, slow, rowCount, error)
  }
}

module.exports = { StatementScope, QUERY, COPY, SCRIPT }
