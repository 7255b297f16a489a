'use strict'
// PgWardenError and classification of any thrown value.
// Native errors cross the boundary as a JSON payload in `message`; `fromNative` is the one
// decoder that turns it into a PgWardenError, keeping every server field.

const native = require('./native')

const SERVER_FIELDS = ['severity', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery',
  'where', 'schema', 'table', 'column', 'dataType', 'constraint', 'file', 'line', 'routine']

class PgWardenError extends Error {
  constructor (payload) {
    super(payload.message)
    this.name = 'PgWardenError'
    this.code = payload.code
    this.kind = payload.kind
    this.retryable = Boolean(payload.retryable)
    this.maybeCommitted = Boolean(payload.maybeCommitted)
    for (const f of SERVER_FIELDS) if (payload[f] !== undefined) this[f] = payload[f]
    if (payload.query !== undefined) this.query = payload.query
  }
}

function makeError (code, message, extra) {
  const c = native.classifyCode(code, message, false)
  return new PgWardenError({ code, message, kind: c.kind, retryable: c.retryable, ...extra })
}

/** A configuration error raised by the JS layer (same shape as the native ones). */
const configError = (message) => makeError('ERR_PGWARDEN_CONFIG', message)
/** A parameter error: raised before anything is sent. */
const paramsError = (message) => makeError('ERR_PGWARDEN_PARAMS', message)
/** The pool, client or stream was closed. */
const closedError = (message) => makeError('ERR_PGWARDEN_CLOSED', message)
/** A state the code should never reach (a bug), reported rather than hung on. */
const internalError = (message) => makeError('ERR_PGWARDEN_INTERNAL', message)

const PAYLOAD_PREFIX = '{"$pgwarden"'

/** A native error payload that has not become an Error yet (see `fromNative`). */
class NativePayload {
  constructor (payload) {
    this.payload = payload
  }
}

/** Wraps a parsed payload for `fromNative` to turn into a PgWardenError later. */
const nativePayload = (payload) => new NativePayload(payload)

/**
 * Turns an error thrown by the native addon (or a `nativePayload`) into a PgWardenError;
 * others pass unchanged. Called in the caller's async chain, so the new error's stack holds
 * the caller's frames (the native error's own stack holds none).
 */
function fromNative (err) {
  if (err instanceof NativePayload) return new PgWardenError(err.payload)
  const m = err && err.message
  if (typeof m === 'string' && m.startsWith(PAYLOAD_PREFIX)) return new PgWardenError(JSON.parse(m))
  return err
}

const CODE_PREFIX = /^([A-Z0-9]{5}|P\d{4}|E[A-Z_]+)\s*:/

/** The code of any thrown value: ours, pg's, Prisma's, Node's, or `'P1002: ...'` messages. */
function codeOf (err) {
  if (err === null || (typeof err !== 'object' && typeof err !== 'function')) return undefined
  if (typeof err.code === 'string' && err.code) return err.code
  if (typeof err.errorCode === 'string' && err.errorCode) return err.errorCode
  const m = typeof err.message === 'string' && err.message.match(CODE_PREFIX)
  return m ? m[1] : undefined
}

/** `{ retryable, kind, code }` for any thrown value. */
function classifyError (err) {
  // pgwarden's own errors carry Rust's judgement already: read it, never re-derive it.
  // An outcome that may have committed is never retryable, whatever the error says.
  if (err instanceof PgWardenError && typeof err.kind === 'string' && typeof err.retryable === 'boolean') {
    return { retryable: err.retryable && !err.maybeCommitted, kind: err.kind, code: err.code }
  }
  const code = codeOf(err)
  const message = err && typeof err.message === 'string' ? err.message : ''
  // A Prisma error from pgwarden/prisma carries pgwarden's judgement on its driver adapter error.
  const adapter = err && err.meta && err.meta.driverAdapterError
  const maybeCommitted = Boolean(err && (err.maybeCommitted || (adapter && adapter.maybeCommitted)))
  const c = native.classifyCode(code, message, maybeCommitted)
  return { retryable: c.retryable, kind: c.kind, code }
}

/** Whether retrying is safe and likely to help. */
const isRetryable = (err) => classifyError(err).retryable

module.exports = {
  nativePayload, PgWardenError, fromNative, configError, paramsError, closedError, internalError, classifyError, isRetryable }
