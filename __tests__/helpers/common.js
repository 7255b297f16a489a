'use strict'
// Small helpers shared by the jest test files. Nothing here registers jest hooks: files wire
// `afterEach(endPools)` (or their own hook calling it) themselves so the hook order stays explicit.

const net = require('node:net')
const { Pool } = require('../..')

/** Resolves after `ms` milliseconds. */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** An ISO-8601 UTC timestamp with milliseconds, as Date#toISOString() writes it. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * A generator of unique application names: `appNames('pgw_pool_123')('lazy')` gives
 * `pgw_pool_123_lazy_1`, then `..._2` and so on (one counter per generator).
 */
function appNames (run) {
  let seq = 0
  return (what) => `${run}_${what}_${++seq}`
}

/**
 * Polls `fn` every `every` ms until `pred(value)` holds or `ms` pass; returns the last value
 * (never throws on timeout: the caller's assertion on the value reports the failure).
 */
async function pollUntil (fn, pred, ms = 3000, every = 50) {
  const end = Date.now() + ms
  let v
  while (true) {
    v = await fn()
    if (pred(v) || Date.now() > end) return v
    await sleep(every)
  }
}

/**
 * An `eventually(fn, want, ms = defaults.ms)` that polls `fn` every `defaults.every` ms until it
 * returns exactly (`===`) `want` or `ms` pass; returns the last value.
 */
function eventuallyEquals ({ ms: defaultMs = 3000, every = 50 } = {}) {
  return (fn, want, ms = defaultMs) => pollUntil(fn, (v) => v === want, ms, every)
}

/**
 * An `until(fn, ms = defaults.ms)` that polls `fn` every `defaults.every` ms until it returns
 * something truthy or `ms` pass; returns the last value.
 */
function untilTruthy ({ ms: defaultMs = 3000, every = 20 } = {}) {
  return (fn, ms = defaultMs) => pollUntil(fn, (v) => v, ms, every)
}

/**
 * Waits until `check()` resolves truthy, polling every `every` ms; THROWS
 * 'waitFor: timed out' once `timeoutMs` pass (unlike the polls above, which return the value).
 */
async function waitFor (check, timeoutMs = 10000, every = 50) {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error('waitFor: timed out')
    await sleep(every)
  }
}

/** Awaits a promise that must reject; returns the error (throws if it fulfils). */
async function failure (promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

/** Settles `p`, recording how long it took: { ok, value | error, ms }. */
async function timed (p) {
  const t0 = Date.now()
  try {
    const value = await p
    return { ok: true, value, ms: Date.now() - t0 }
  } catch (error) {
    return { ok: false, error, ms: Date.now() - t0 }
  }
}

/** A TCP port on 127.0.0.1 with nothing listening (bound, then released). */
function closedPort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** Same as closedPort(): a port that is free to listen on. */
const freePort = closedPort

/**
 * Pools that are ended together. `getUrl()` is read at each makePool call (the URL is usually
 * set in beforeAll); `end(pool)` is how endPools ends each one.
 *   const { makePool, endPools } = poolFactory(() => dbUrl)
 *   afterEach(endPools)
 */
function poolFactory (getUrl, { end = (pool) => pool.end() } = {}) {
  const pools = []
  /** A pool on `url` (default: getUrl()), logger off, ended by endPools(). */
  function makePool (opts = {}, url = getUrl()) {
    const pool = new Pool({ connectionString: url, logger: false, ...opts })
    pools.push(pool)
    return pool
  }
  /** Ends every pool made since the last call. */
  async function endPools () {
    await Promise.all(pools.splice(0).map(end))
  }
  return { makePool, endPools, pools }
}

/**
 * `backends(app, extra = '')`: client backends the server has for application_name `app`
 * (with an optional extra SQL condition), counted through `getAdmin().admin(sql)` — the
 * harness or an owned cluster, read at call time.
 */
function backendCounter (getAdmin) {
  return async function backends (app, extra = '') {
    const rows = await getAdmin().admin(`SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = '${app}' ${extra}`)
    return Number(rows[0][0])
  }
}

module.exports = {
  sleep,
  ISO,
  appNames,
  pollUntil,
  eventuallyEquals,
  untilTruthy,
  waitFor,
  failure,
  timed,
  closedPort,
  freePort,
  poolFactory,
  backendCounter
}
