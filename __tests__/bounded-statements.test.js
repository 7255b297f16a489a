'use strict'
// Every statement is bounded: streams and scripts honour timeoutMs, the pool's queryTimeoutMs
// and AbortSignal like query() does; end({ timeoutMs }) cancels what is still running; a
// timeoutMs that is not a non-negative finite number is rejected before anything is sent.

const { harness } = require('./harness')
const { sleep, failure, timed, eventually, poolsOnFreshDatabase, appNames, backendCounter } = require('./helpers/common')

const db = poolsOnFreshDatabase('bounded')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db
const appName = appNames(`pgw_bounded_${process.pid}`)
const backends = backendCounter(harness)

/** Backends of `app` still running a pg_sleep, polled until none or 1 s. */
function sleepersLeft (app) {
  return eventually(() => backends(app, "AND state = 'active' AND query LIKE '%pg_sleep%'"), 0, { ms: 1000 })
}

/** Every row of a stream, in an array. */
async function drain (iterable) {
  const rows = []
  for await (const row of iterable) rows.push(row)
  return rows
}

// A stream whose first batch comes at once and whose second waits 5 s on the server.
const STALLING = 'SELECT g, pg_sleep(CASE WHEN g = 3 THEN 5 ELSE 0 END) FROM generate_series(1, 4) g'

describe('stream()', () => {
  test('timeoutMs bounds each wait for a batch: P1008, cancelled on the server', async () => {
    const app = appName('stream_timeout')
    const pool = makePool({ applicationName: app })
    const r = await timed(drain(pool.stream(STALLING, [], { timeoutMs: 300, batchSize: 2 })))
    expect(r.ok).toBe(false)
    expect(r.error).toMatchObject({ code: 'P1008', maybeCommitted: false })
    expect(r.ms).toBeLessThan(1500)
    expect(await sleepersLeft(app)).toBe(0)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test("the pool's queryTimeoutMs applies to streams", async () => {
    const pool = makePool({ queryTimeoutMs: 300 })
    const err = await failure(drain(pool.stream('SELECT pg_sleep(5)')))
    expect(err.code).toBe('P1008')
  })

  test('an AbortSignal cancels a stream waiting for rows: 57014 with the reason as cause', async () => {
    const app = appName('stream_abort')
    const pool = makePool({ applicationName: app })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('user left')), 200)
    const err = await failure(drain(pool.stream('SELECT pg_sleep(5)', [], { signal: controller.signal })))
    expect(err).toMatchObject({ code: '57014', kind: 'cancelled', maybeCommitted: false })
    expect(err.cause.message).toBe('user left')
    expect(await sleepersLeft(app)).toBe(0)
  })

  test('a stream that finishes within its timeout returns every row', async () => {
    const pool = makePool()
    const rows = await drain(pool.stream('SELECT g FROM generate_series(1, 1000) g', [], { timeoutMs: 5000, batchSize: 100 }))
    expect(rows).toHaveLength(1000)
  })
})

describe('executeScript()', () => {
  test('timeoutMs on the pool and on a client: P1008', async () => {
    const pool = makePool()
    expect((await failure(pool.executeScript('SELECT pg_sleep(5); SELECT 1', { timeoutMs: 300 }))).code).toBe('P1008')
    const client = await pool.acquire()
    try {
      expect((await failure(client.executeScript('SELECT pg_sleep(5)', { timeoutMs: 300 }))).code).toBe('P1008')
    } finally {
      client.release()
    }
  })

  test('an AbortSignal cancels a script', async () => {
    const pool = makePool()
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 200)
    const err = await failure(pool.executeScript('SELECT pg_sleep(5)', { signal: controller.signal }))
    expect(err).toMatchObject({ code: '57014', kind: 'cancelled' })
  })
})

describe('end({ timeoutMs })', () => {
  test('statements still running when the timeout passes are cancelled and reject as closed', async () => {
    const app = appName('end')
    const pool = makePool({ applicationName: app })
    await pool.query('SELECT 1')
    const running = failure(pool.query('SELECT pg_sleep(10)'))
    await sleep(100)
    const ended = await timed(pool.end({ timeoutMs: 300 }))
    expect(ended.ms).toBeLessThan(1500)
    const err = await running
    expect(err).toMatchObject({ code: 'ERR_PGWARDEN_CLOSED', kind: 'closed', maybeCommitted: false })
    expect(err.message).toMatch(/cancelled on the server/)
    expect(await sleepersLeft(app)).toBe(0)
  })
})

describe('timeoutMs is validated before anything is sent', () => {
  test.each([[-1], [NaN], [Infinity], ['100'], [null]])('timeoutMs %p', async (timeoutMs) => {
    const pool = makePool()
    for (const p of [
      pool.query('SELECT 1', [], { timeoutMs }),
      drain(pool.stream('SELECT 1', [], { timeoutMs })),
      pool.executeScript('SELECT 1', { timeoutMs })
    ]) {
      const err = await failure(p)
      expect(err.code).toBe('ERR_PGWARDEN_PARAMS')
      expect(err.message).toMatch(/timeoutMs/)
    }
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(0)
  })
})
