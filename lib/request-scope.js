'use strict'
// Request scopes (`pool.withContext`): database work that belongs to one request, carried by
// Node's AsyncLocalStorage. Every statement, checkout, transaction, stream and COPY run inside
// a scope gets what is left of its deadline, is aborted when the scope is (its deadline, its
// signal, the HTTP request's client hanging up), carries the scope's settings (applied with
// `set_config(…, true)` on the server, see src/scope.rs) and its tags (a sqlcommenter comment),
// and is refused at once rather than left waiting when the scope already holds a connection of
// the same pool and every connection is busy (a self-deadlock).
//
// The storage is created on the first scope: a process that never opens one pays a null check
// per statement, and nothing of AsyncLocalStorage.

const { AsyncLocalStorage } = require('node:async_hooks')
const native = require('./native')
const { fromNative, nativePayload, paramsError } = require('./errors')

let storage = null

/** What aborts a scope: its deadline, or its request's client leaving (`hangUp`); else a signal. */
const DEADLINE = 'deadline'
const HANG_UP = 'hangUp'

const MAX_TIMER_MS = 2 ** 31 - 1

const KNOWN_OPTIONS = new Set(['timeoutMs', 'signal', 'settings', 'tags', 'traceparent'])

/** The request scope of `pool` the caller runs in, or null (the one check of a statement without one). */
function scopeOf (pool) {
  if (storage === null) return null
  for (let s = storage.getStore(); s !== undefined; s = s.outer) {
    if (s.pool === pool) return s
  }
  return null
}

/** Checks `withContext`'s options (for `pool`) before anything runs. */
function checkOptions (pool, opts) {
  if (opts === null || typeof opts !== 'object') throw paramsError('withContext needs an options object')
  for (const k of Object.keys(opts)) {
    if (!KNOWN_OPTIONS.has(k)) throw paramsError(`Unknown withContext option "${k}" (known: ${[...KNOWN_OPTIONS].join(', ')})`)
  }
  const t = opts.timeoutMs
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
    throw paramsError(`withContext timeoutMs must be a non-negative finite number of milliseconds, got ${typeof t === 'number' ? t : typeof t}`)
  }
  const sig = opts.signal
  if (sig !== undefined && !(sig && typeof sig.aborted === 'boolean' && typeof sig.addEventListener === 'function')) {
    throw paramsError('withContext signal must be an AbortSignal')
  }
  for (const k of ['settings', 'tags']) {
    const v = opts[k]
    if (v !== undefined && typeof v !== 'function' && (v === null || typeof v !== 'object')) {
      throw paramsError(`withContext ${k} must be an object (or a function returning one), got ${v === null ? 'null' : typeof v}`)
    }
  }
  if (opts.settings !== undefined && typeof opts.settings === 'object') checkNames(Object.keys(opts.settings))
  if (opts.traceparent !== undefined && typeof opts.traceparent !== 'boolean') throw paramsError('withContext traceparent must be true or false')
  if (opts.traceparent === true && pool._telemetry === null) {
    throw paramsError("withContext traceparent needs the pool's OpenTelemetry on (telemetry: true): the traceparent is each statement's span")
  }
}

/**
 * Checks setting names by the native rule, when a scope opens with them (a function's are
 * checked natively as each statement is submitted: nothing is sent with a bad one).
 */
function checkNames (names) {
  if (names.length === 0) return
  try {
    native.scopeSettingsSql(names)
  } catch (e) {
    throw fromNative(e)
  }
}

/** `{ name: value }` as name, value… pairs, values as text (null and undefined left out). */
function settingPairs (settings) {
  const pairs = []
  for (const n of Object.keys(settings)) {
    const v = settings[n]
    if (v === undefined || v === null) continue
    pairs.push(n, String(v))
  }
  return pairs
}

/** A value of `source` (an object, or a function returning one), for each statement. */
const valueOf = (source) => (typeof source === 'function' ? source() : source)

// A scope's abort is a flag and a set of callbacks, not an AbortController: a scope is made per
// request (often per statement), and an AbortController with EventTarget listeners cost a
// statement ~20 µs of client CPU (measured: bench/events.js --scope).
class RequestScope {
  /**
   * A scope of `pool` inside `outer` (the caller's store: another pool's scope, or this pool's
   * enclosing scope, which this one narrows). `parent`: this pool's enclosing scope, if any.
   */
  constructor (pool, outer, opts, parent = scopeOf(pool)) {
    this.pool = pool
    this.outer = outer
    this.parent = parent
    const now = performance.now()
    let deadline = parent === null ? Infinity : parent.deadline
    let timeoutMs = parent === null ? undefined : parent.timeoutMs
    if (opts.timeoutMs !== undefined && opts.timeoutMs > 0 && now + opts.timeoutMs < deadline) {
      deadline = now + opts.timeoutMs
      timeoutMs = opts.timeoutMs
    }
    this.deadline = deadline
    this.timeoutMs = timeoutMs // the timeout whose deadline this is, for its errors
    this.settings = opts.settings
    this.tags = opts.tags
    this.comments = undefined // the comment of `tags` (an object), made once
    this.traceparent = opts.traceparent === true || (parent !== null && parent.traceparent)
    this.held = undefined // where the connection this (transaction) scope holds was acquired
    this.heldClients = null // clients acquired in this scope and not yet released
    this.aborted = false
    this.why = undefined // what aborted it: DEADLINE, HANG_UP, or undefined (a signal)
    this.reason = undefined
    this.listeners = null // called once when it is aborted
    this.timer = null
    this.unfollow = null
    // Whether anything can abort it (a deadline, a signal, a hang-up: see `mayAbort`). Only then
    // are its statements armed: an abortable statement runs on a connection of its own, never
    // in a convoy, so a scope that cannot be aborted keeps convoys for its statements.
    this.abortable = deadline !== Infinity || opts.signal !== undefined || (parent !== null && parent.abortable)
    if (parent !== null) this._followScope(parent)
    if (opts.signal !== undefined) this._followSignal(opts.signal)
    // Node's timers take at most 2^31 − 1 ms; a deadline further away is left to the statements' timeouts.
    if (deadline !== Infinity && !this.aborted && deadline - now <= MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.abort(DEADLINE), Math.max(0, deadline - now))
      this.timer.unref()
    }
  }

  /** Aborted with `parent`, for the same reason. */
  _followScope (parent) {
    if (parent.aborted) return this.abort(parent.why, parent.reason)
    const onAbort = () => this.abort(parent.why, parent.reason)
    parent.listen(onAbort)
    this._onClose(() => parent.unlisten(onAbort))
  }

  /** Aborted with the caller's AbortSignal `signal`, its reason as the cause. */
  _followSignal (signal) {
    if (signal.aborted) return this.abort(undefined, signal.reason)
    const onAbort = () => this.abort(undefined, signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    this._onClose(() => signal.removeEventListener('abort', onAbort))
  }

  _onClose (f) {
    this.unfollow = this.unfollow === null ? [f] : [...this.unfollow, f]
  }

  /** It may be aborted by a caller of `abort` (pgwarden/express, when the client hangs up). */
  mayAbort () {
    this.abortable = true
  }

  /** Calls `fn()` once when the scope is aborted (until `unlisten(fn)`). */
  listen (fn) {
    if (this.listeners === null) this.listeners = new Set()
    this.listeners.add(fn)
  }

  unlisten (fn) {
    if (this.listeners !== null) this.listeners.delete(fn)
  }

  /** Aborts every statement of the scope: `why` is DEADLINE, HANG_UP or undefined (a signal). */
  abort (why, reason) {
    if (this.aborted) return
    this.aborted = true
    this.why = why
    this.reason = reason !== undefined ? reason : why === DEADLINE ? deadlineReason(this.timeoutMs) : why === HANG_UP ? hangUpReason() : abortReason()
    if (this.timer !== null) clearTimeout(this.timer)
    const listeners = this.listeners
    this.listeners = null
    if (listeners !== null) for (const fn of listeners) fn()
  }

  /** Ends the scope: its timer and its links to outer signals go. */
  close () {
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.unfollow !== null) for (const f of this.unfollow) f()
  }

  /** A statement's timeout (undefined: the pool's): its own or the pool's (if any) or what is left of the deadline, whichever is smaller. */
  timeoutFor (own, poolDefault) {
    if (this.deadline === Infinity) return own
    // The statement's own timeout, else the pool's queryTimeoutMs (0: none).
    const base = own === undefined ? poolDefault : own
    const left = Math.max(1, Math.ceil(this.deadline - performance.now()))
    return base === undefined || base === 0 || left < base ? left : own
  }

  /** Whether the deadline passed. */
  expired () {
    return this.deadline !== Infinity && performance.now() >= this.deadline
  }

  /** Whether it was aborted or its deadline passed: nothing more is sent. */
  stopped () {
    return this.aborted || this.expired()
  }

  /** What stopped it: DEADLINE, HANG_UP or undefined (a signal). */
  stoppedBy () {
    return this.aborted ? this.why : DEADLINE
  }

  /** The error of a statement refused unsent because the scope was aborted (or its deadline passed). */
  stoppedError () {
    const e = fromNative(nativePayload(JSON.parse(native.abortedBeforeSend(this.stoppedBy(), this.timeoutMs))))
    e.cause = this.aborted ? this.reason : deadlineReason(this.timeoutMs)
    return e
  }

  /** The settings of this scope and its enclosing ones (inner ones win), as name, value… pairs. */
  settingPairs () {
    const merged = this._merged('settings')
    return merged === null ? undefined : settingPairs(merged)
  }

  /** The tags of this scope and its enclosing ones now (inner ones win), or null when none. */
  tagsNow () {
    return this._merged('tags')
  }

  /**
   * The sqlcommenter comment of `tags` (from `tagsNow`), or '' when there are none; with the W3C
   * `traceparent` of `spanContext` (a statement's span) when given.
   */
  comment (tags, spanContext) {
    // Tags given as objects all the way up: the comment is the same for every statement.
    if (spanContext === undefined && this.comments !== undefined) return this.comments
    if (spanContext !== undefined) {
      const c = spanContext
      return sqlComment({ ...tags, traceparent: `00-${c.traceId}-${c.spanId}-0${(c.traceFlags & 1).toString(16)}` })
    }
    const comment = tags === null ? '' : sqlComment(tags)
    if (this._fixedTags()) this.comments = comment
    return comment
  }

  /** Whether this scope's tags and its enclosing ones' are all objects (or absent). */
  _fixedTags () {
    for (let s = this; s !== null; s = s.parent) if (typeof s.tags === 'function') return false
    return true
  }

  _merged (key) {
    const own = this[key] === undefined ? null : valueOf(this[key])
    const outer = this.parent === null ? null : this.parent._merged(key)
    if (own === null || own === undefined) return outer
    return outer === null ? own : { ...outer, ...own }
  }

  /**
   * Where a connection of this pool held in this scope (or an enclosing one) was acquired, if
   * one is: a statement or checkout on the pool that would wait must then fail at once.
   */
  heldAt () {
    for (let s = this; s !== null; s = s.parent) {
      if (s.held !== undefined) return s.held
      const client = s.heldClients === null ? undefined : s.heldClients.values().next().value
      if (client !== undefined) return client._acquiredAt === undefined ? '' : client._acquiredAt.stack
    }
    return undefined
  }

  /** Notes a client acquired in this scope (until `released`). */
  acquired (client) {
    if (this.heldClients === null) this.heldClients = new Set()
    this.heldClients.add(client)
  }

  released (client) {
    if (this.heldClients !== null) this.heldClients.delete(client)
  }

  /**
   * The scope of the callback of a transaction holding a connection acquired at `site`: this
   * one's child, with nothing of its own but that (it ends with `close()`).
   */
  holding (site) {
    const s = new RequestScope(this.pool, this.outer, {}, this)
    s.held = site
    return s
  }
}

function deadlineReason (ms) {
  const e = new Error(`The request scope's deadline passed (withContext timeoutMs: ${ms}ms)`)
  e.name = 'TimeoutError'
  return e
}

function abortReason () {
  const e = new Error('The request scope was aborted')
  e.name = 'AbortError'
  return e
}

function hangUpReason () {
  const e = new Error('The HTTP request was closed by its client before the response was sent')
  e.name = 'AbortError'
  return e
}

/**
 * A sqlcommenter comment (https://google.github.io/sqlcommenter/spec/): keys and values
 * URL-encoded, values in single quotes, sorted by key, comma-separated.
 */
function sqlComment (tags) {
  const parts = []
  for (const k of Object.keys(tags).sort()) {
    const v = tags[k]
    if (v === undefined || v === null) continue
    parts.push(`${encode(k)}='${encode(String(v))}'`)
  }
  return parts.length === 0 ? '' : `/*${parts.join(',')}*/`
}

// RFC 3986 encoding: what encodeURIComponent leaves (! ' ( ) *) is encoded too, so a value can
// neither close its quotes nor the comment (the spec's escaping of ' is then never needed).
// Tags repeat (route patterns): encodings are remembered, up to ENCODED_KEPT of them.
const ENCODED_KEPT = 1000
const encoded = new Map()
function encode (s) {
  let e = encoded.get(s)
  if (e === undefined) {
    e = encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    if (encoded.size >= ENCODED_KEPT) encoded.clear()
    encoded.set(s, e)
  }
  return e
}

/**
 * `sql` with `comment` appended (before a final semicolon). A statement that already holds a
 * comment is left as it is, as the sqlcommenter spec asks.
 */
function withComment (sql, comment) {
  if (comment === '' || sql.includes('/*') || sql.includes('--')) return sql
  const m = /;\s*$/.exec(sql)
  return m === null ? `${sql} ${comment}` : `${sql.slice(0, m.index)} ${comment}${sql.slice(m.index)}`
}

/**
 * Runs `fn` in a new scope of `pool` (see `Pool#withContext`); the scope ends when `fn`'s
 * promise settles. `onScope(scope)`, if given, gets the scope first (pgwarden/express aborts
 * it when the client hangs up).
 */
async function withContext (pool, opts, fn, onScope) {
  checkOptions(pool, opts)
  if (typeof fn !== 'function') throw paramsError('withContext needs a callback')
  if (storage === null) storage = new AsyncLocalStorage()
  const scope = new RequestScope(pool, storage.getStore(), opts)
  if (onScope !== undefined) onScope(scope)
  try {
    // Awaited inside the scope: a lazy thenable (a PrismaPromise starts its query in `then`)
    // must start there, not in the caller's context after run() returned.
    return await storage.run(scope, async () => await fn())
  } finally {
    scope.close()
  }
}

/** Runs `fn` (a transaction's callback) in a child of `scope` that holds a connection acquired at `site`. */
async function runHolding (scope, site, fn) {
  const holding = scope.holding(site)
  try {
    return await storage.run(holding, async () => await fn())
  } finally {
    holding.close()
  }
}

/** `[name, value]`s of name, value… pairs (none for undefined). */
function entriesOf (pairs) {
  const out = []
  if (pairs !== undefined) for (let i = 0; i < pairs.length; i += 2) out.push([pairs[i], pairs[i + 1]])
  return out
}

/** Runs `fn` outside every request scope (a transaction's ROLLBACK). */
const outsideScopes = (fn) => (storage === null ? fn() : storage.exit(fn))

module.exports = { withContext, scopeOf, runHolding, outsideScopes, entriesOf, withComment, sqlComment, DEADLINE, HANG_UP }
