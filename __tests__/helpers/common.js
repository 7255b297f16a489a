'use strict'
// Small helpers shared by the jest test files, one per idea. Nothing here registers jest hooks:
// files wire `beforeAll(db.create)`, `afterEach(endPools)` (or their own hooks calling them)
// themselves so the hook order stays explicit.

const { Pool } = require('../..')
const { harness, freshDatabase } = require('../harness')
const { freePort } = require('../../lib/cluster')

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
 * Polls `read()` (sync or async) every `every` ms until `until` holds or `ms` pass, and returns
 * the last value read. `until` is a predicate of the value, or a value the result must be
 * (`===`); without it, any truthy value will do. It never throws on timeout: the caller's
 * assertion on the returned value reports the failure.
 *   expect(await eventually(() => backends(app), 0)).toBe(0)
 *   await eventually(() => seen.length >= 2, true, { ms: 1000 })
 */
async function eventually (read, until = (v) => Boolean(v), { ms = 3000, every = 20 } = {}) {
  const holds = typeof until === 'function' ? until : (v) => v === until
  const end = Date.now() + ms
  while (true) {
    const v = await read()
    if (holds(v) || Date.now() > end) return v
    await sleep(every)
  }
}

/** The rejection of `promise`: awaits it and returns the error; throws if it fulfils. */
async function failure (promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

/** The error `fn()` throws (synchronously); throws if it returns. */
function thrownBy (fn) {
  try {
    fn()
  } catch (e) {
    return e
  }
  throw new Error('expected a throw, but nothing was thrown')
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

/**
 * Pools that are ended together. `getUrl()` is read at each makePool call (the URL is usually
 * set in beforeAll); `end(pool)` is how endPools ends each one.
 *   const { makePool, endPools } = poolFactory(() => dbUrl)
 *   afterEach(endPools)
 * `pools` is the list endPools ends: push a pool made elsewhere (getPool()) to have it ended too.
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
 * A database of the test file's own (freshDatabase(prefix)) and a poolFactory on it:
 *   const db = poolsOnFreshDatabase('stats', { setupSql: 'CREATE TABLE uniq (id int PRIMARY KEY);' })
 *   beforeAll(db.create)
 *   afterEach(db.endPools)
 *   const { makePool } = db
 * `db.create()` makes the database, runs `setupSql` in it through the harness's admin session
 * (outside any pool, so no pool counts it) and resolves to its URL; `db.url` is that URL from
 * then on. `end` is poolFactory's option.
 */
function poolsOnFreshDatabase (prefix, { setupSql, end } = {}) {
  const db = {
    url: undefined,
    async create () {
      db.url = await freshDatabase(prefix)
      if (setupSql) await harness().adminScript(setupSql, { database: db.url })
      return db.url
    },
    ...poolFactory(() => db.url, { end })
  }
  return db
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

/**
 * A logger whose calls are recorded: `logger.calls.warn` is an array of message strings (the
 * arguments, each through String(), joined by spaces); likewise debug, info and error.
 */
function recordingLogger () {
  const calls = { debug: [], info: [], warn: [], error: [] }
  const logger = { calls }
  for (const level of Object.keys(calls)) logger[level] = (...args) => calls[level].push(args.map(String).join(' '))
  return logger
}

/**
 * Pools of a pg-shaped `Pool` class (pgwarden/pg's or pg's) on `url()`'s database:
 * `poolOf(Pool, config)` makes one, `endAll()` ends every one made (wire it to afterEach).
 */
function pgPools (url) {
  const opened = []
  return {
    poolOf (Pool, config = {}) {
      const pool = new Pool({ connectionString: url(), logger: false, ...config })
      opened.push(pool)
      return pool
    },
    endAll: () => Promise.all(opened.splice(0).map((p) => (p.ending ? undefined : p.end())))
  }
}

module.exports = {
  pgPools,
  sleep,
  ISO,
  appNames,
  eventually,
  failure,
  thrownBy,
  timed,
  freePort,
  poolFactory,
  poolsOnFreshDatabase,
  backendCounter,
  recordingLogger
}
