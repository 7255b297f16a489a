'use strict'
// withRetry: retries only what is safe to retry, with exponential backoff and
// jitter; the final error is rethrown unchanged, with `attempts` set.

const native = require('./native')
const { isRetryable } = require('./errors')
const { retryEvent } = require('./telemetry')

const DEFAULTS = require('./defaults').retry

/** `withRetry(fn, opts)` or the positional `withRetry(fn, maxRetries, initialDelayMs)`. */
function retryOptions (a, b) {
  if (typeof a === 'number' || typeof b === 'number') {
    return { ...DEFAULTS, ...(a !== undefined ? { maxRetries: a } : {}), ...(b !== undefined ? { initialDelayMs: b } : {}) }
  }
  const o = { ...DEFAULTS }
  for (const [k, v] of Object.entries(a || {})) if (v !== undefined) o[k] = v
  return o
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep (ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    if (signal) signal.addEventListener('abort', onAbort, { once: true })
  })
}

function setAttempts (err, attempts) {
  if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
    try {
      err.attempts = attempts
    } catch {}
  }
}

/** The delay before retry number `retry` (1-based). */
function delayFor (o, retry) {
  return native.backoffDelay(retry, o.initialDelayMs, o.factor, o.maxDelayMs, o.jitter, Math.random())
}

/**
 * Calls `fn({ attempt, signal })` until it succeeds, an error is not retryable, retries run out,
 * the deadline passes or the signal aborts. `counters` (optional) records retries in pool stats.
 */
async function withRetry (fn, a, b, counters) {
  if (typeof fn !== 'function') throw new TypeError('withRetry needs a function')
  const o = retryOptions(a, b)
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    if (o.signal && o.signal.aborted) throw o.signal.reason
    try {
      const value = await fn({ attempt, signal: o.signal })
      if (attempt > 1 && counters) counters.succeeded()
      return value
    } catch (err) {
      const wanted = o.retryIf ? await o.retryIf(err, attempt) : isRetryable(err)
      const delayMs = wanted ? delayFor(o, attempt) : 0
      const outOfTime = o.deadlineMs !== undefined && Date.now() - started + delayMs > o.deadlineMs
      if (!wanted || attempt > o.maxRetries || outOfTime) {
        if (wanted && counters) counters.exhausted()
        setAttempts(err, attempt)
        throw err
      }
      if (o.onRetry) o.onRetry({ error: err, attempt, delayMs })
      retryEvent(attempt, err, delayMs)
      if (counters) counters.attempt()
      await sleep(delayMs, o.signal)
    }
  }
}

module.exports = { withRetry, sleep, delayFor }
