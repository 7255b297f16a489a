'use strict'
// pool.resize(n) at runtime and the waiting line's cap (maxWaiting): a shrink under load fails
// nothing and the server's connections follow it down (idle ones at once, busy ones as they are
// given back), a grow lets waiting callers in, and a caller beyond maxWaiting is refused at once
// with a retryable P2024, counted.

const { harness } = require('./harness')
const { sleep, eventually, failure, timed, thrownBy, appNames, backendCounter, poolsOnFreshDatabase } = require('./helpers/common')

const appName = appNames(`pgw_resize_${process.pid}`)
const db = poolsOnFreshDatabase('resize')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db
const backends = backendCounter(harness)

/** Runs `callers` loops of `sql` until `stop()` is true; resolves to the count of failures. */
function load (pool, callers, sql, stop) {
  let failures = 0
  const loop = async () => {
    while (!stop()) {
      try {
        await pool.query(sql)
      } catch (e) {
        if (e.code === 'ERR_PGWARDEN_CLOSED') return // the test ended (or failed) and its pool with it
        failures++
        console.log(`[resize] ${e.code}: ${e.message}`)
      }
    }
  }
  return Promise.all(Array.from({ length: callers }, loop)).then(() => failures)
}

test('resize down under load fails nothing; the server\'s connections follow it down, then up again', async () => {
  const app = appName('load')
  const pool = makePool({ applicationName: app, connectionLimit: 8, pipelineDepth: 1 })
  let done = false
  const running = load(pool, 40, 'SELECT pg_sleep(0.02)', () => done)
  expect(await eventually(() => backends(app), (n) => n === 8)).toBe(8)
  pool.resize(2)
  expect(pool.getPoolStats().pool.limit).toBe(2)
  // Busy connections close as they are given back: within a few statements' time.
  expect(await eventually(() => backends(app), (n) => n <= 2, { ms: 2000 })).toBeLessThanOrEqual(2)
  const samples = []
  for (let i = 0; i < 10; i++) {
    samples.push(await backends(app))
    await sleep(100)
  }
  expect(Math.max(...samples)).toBeLessThanOrEqual(2)
  pool.resize(6)
  expect(await eventually(() => backends(app), (n) => n === 6, { ms: 3000 })).toBe(6)
  done = true
  expect(await running).toBe(0)
  const s = pool.getPoolStats()
  expect(s.pool.limit).toBe(6)
  expect(s.queries.queryErrors).toBe(0)
})

test('a shrink below the held clients closes each as it is released; the ones kept still work', async () => {
  const app = appName('held')
  const pool = makePool({ applicationName: app, connectionLimit: 3 })
  const clients = [await pool.acquire(), await pool.acquire(), await pool.acquire()]
  pool.resize(1)
  expect(await backends(app)).toBe(3) // nobody interrupted
  expect((await clients[2].query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }])
  clients[0].release()
  clients[1].release()
  expect(await eventually(() => backends(app), (n) => n === 1)).toBe(1)
  const queued = timed(pool.query('SELECT 4 AS n')) // waits for the one turn left
  await sleep(100)
  clients[2].release()
  const r = await queued
  expect(r.value.rows).toEqual([{ n: 4 }])
  expect(r.ms).toBeGreaterThanOrEqual(90)
  expect(await backends(app)).toBe(1)
})

test('resize refuses a limit that is not a whole number of at least 1', () => {
  const pool = makePool()
  for (const bad of [0, -1, 1.5, NaN, '3']) {
    const e = thrownBy(() => pool.resize(bad))
    expect(e.code).toBe('ERR_PGWARDEN_PARAMS')
  }
})

test('maxWaiting: a caller beyond the cap is refused at once with a retryable P2024; the ones waiting are served', async () => {
  const pool = makePool({ connectionLimit: 1, maxWaiting: 2, poolTimeoutMs: 5000 })
  const held = await pool.acquire()
  const waiting = [pool.query('SELECT 1 AS n'), pool.acquire().then((c) => c.release())]
  await eventually(() => pool.getPoolStats().pool.waiting === 2)
  const { error, ms } = await timed(pool.query('SELECT 2 AS n'))
  expect(error.code).toBe('P2024')
  expect(error.kind).toBe('pool_timeout')
  expect(error.retryable).toBe(true)
  expect(error.message).toMatch(/2 callers are already waiting \(maxWaiting: 2, connection limit: 1\), so this call was refused at once/)
  expect(ms).toBeLessThan(100)
  const acquireRefused = await failure(pool.acquire())
  expect(acquireRefused.code).toBe('P2024')
  held.release()
  await Promise.all(waiting)
  const s = pool.getPoolStats()
  expect(s.acquire.rejectedLineFull).toBe(2)
  expect(pool.metrics()).toMatch(/pgwarden_acquire_rejected_line_full_total 2/)
  expect((await pool.query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }])
})

test('after a shrink the waiting line has the new number of turns: maxWaiting counts from there', async () => {
  const pool = makePool({ connectionLimit: 2, maxWaiting: 1, poolTimeoutMs: 5000 })
  pool.resize(1)
  const held = await pool.acquire()
  const waits = pool.query('SELECT 1 AS n') // the one place in the line
  await eventually(() => pool.getPoolStats().pool.waiting === 1)
  const refused = await failure(pool.query('SELECT 2 AS n'))
  expect(refused.code).toBe('P2024')
  expect(refused.message).toMatch(/maxWaiting: 1, connection limit: 1/)
  held.release()
  expect((await waits).rows).toEqual([{ n: 1 }])
})
