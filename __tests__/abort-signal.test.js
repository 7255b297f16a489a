'use strict'
// AbortSignal per query (the query option `signal`): the statement is cancelled on the server and
// rejects 57014 with the abort reason as cause; a signal already aborted sends nothing. Streams
// and scripts: bounded-statements.test.js.

const { PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, appNames, eventually, failure, timed, poolsOnFreshDatabase, backendCounter } = require('./helpers/common')

const appName = appNames(`pgw_abort_${process.pid}`)

const db = poolsOnFreshDatabase('abort')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

/** Client backends the server has for `app`. */
const backends = backendCounter(harness)
/** Client backends of `app` running a statement that matches `like`. */
const running = (app, like) => backends(app, `AND state = 'active' AND query LIKE '${like}'`)

describe('AbortSignal per query', () => {
  test('abort after 100 ms of pg_sleep(5): 57014 cancelled, cause = reason, stopped on the server', async () => {
    const app = appName('abort')
    const pool = makePool({ applicationName: app })
    await pool.query('SELECT 1')
    const ac = new AbortController()
    const reason = new Error('client went away')
    setTimeout(() => ac.abort(reason), 100)
    const { error, ms } = await timed(pool.query('SELECT pg_sleep(5)', [], { signal: ac.signal }))
    expect(error).toBeInstanceOf(PgWardenError)
    expect(error.code).toBe('57014')
    expect(error.kind).toBe('cancelled')
    expect(error.retryable).toBe(false)
    expect(error.cause).toBe(reason)
    expect(ms).toBeGreaterThanOrEqual(90)
    expect(ms).toBeLessThan(400)
    expect(await eventually(() => running(app, '%pg_sleep(5)%'), 0, { ms: 500 })).toBe(0)
    // the connection is still good
    expect((await pool.query('SELECT 7 AS x')).rows).toEqual([{ x: 7 }])
    expect(pool.getPoolStats().pool.total).toBe(1)
  })

  test('abort() without a reason: cause is the AbortError', async () => {
    const pool = makePool()
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const error = await failure(pool.query('SELECT pg_sleep(5)', { signal: ac.signal }))
    expect(error.code).toBe('57014')
    expect(error.cause).toBe(ac.signal.reason)
    expect(error.cause.name).toBe('AbortError')
  })

  test('an already aborted signal rejects without sending anything', async () => {
    const app = appName('preaborted')
    const pool = makePool({ applicationName: app })
    const reason = new Error('already gone')
    const { error, ms } = await timed(pool.query('SELECT 1', [], { signal: AbortSignal.abort(reason) }))
    expect(error).toBeInstanceOf(PgWardenError)
    expect(error.code).toBe('57014')
    expect(error.kind).toBe('cancelled')
    expect(error.cause).toBe(reason)
    expect(ms).toBeLessThan(100)
    await sleep(100)
    expect(await backends(app)).toBe(0)
    expect(pool.getPoolStats().pool.total).toBe(0)
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(0)
  })

  test('a signal that never aborts changes nothing', async () => {
    const pool = makePool()
    const ac = new AbortController()
    expect((await pool.query('SELECT $1::int AS v', [5], { signal: ac.signal })).rows).toEqual([{ v: 5 }])
    ac.abort() // after the query: no effect, no unhandled rejection
    expect((await pool.query('SELECT 1 AS v')).rows).toEqual([{ v: 1 }])
  })

  test('abort on an acquired client: cancelled on the server, client still usable', async () => {
    const app = appName('clientabort')
    const pool = makePool({ applicationName: app })
    const client = await pool.acquire()
    try {
      const ac = new AbortController()
      const reason = new Error('stop')
      setTimeout(() => ac.abort(reason), 100)
      const { error, ms } = await timed(client.query('SELECT pg_sleep(5)', [], { signal: ac.signal }))
      expect(error.code).toBe('57014')
      expect(error.cause).toBe(reason)
      expect(ms).toBeLessThan(400)
      expect(await eventually(() => running(app, '%pg_sleep(5)%'), 0, { ms: 500 })).toBe(0)
      expect((await client.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }])
    } finally {
      client.release()
    }
  })

  test('abort while waiting for a pooled connection rejects at once', async () => {
    const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 5000 })
    const held = await pool.acquire()
    try {
      const ac = new AbortController()
      const reason = new Error('no longer needed')
      setTimeout(() => ac.abort(reason), 100)
      const { error, ms } = await timed(pool.query('SELECT 1', [], { signal: ac.signal }))
      expect(error.code).toBe('57014')
      expect(error.cause).toBe(reason)
      expect(ms).toBeLessThan(500)
    } finally {
      held.release()
    }
    expect((await pool.query('SELECT 2 AS x')).rows).toEqual([{ x: 2 }])
  })
})
