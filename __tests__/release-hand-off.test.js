'use strict'
// A connection released on the JS thread goes straight to the acquire() the waiting line gave
// its turn to, within the release call (src/handoff.rs), as pg-pool gives a released client to
// its next waiter: the waiter resumes in the same tick, not after a runtime thread and a later
// turn of the event loop. The line's order still decides who gets it.

const { eventually, failure, sleep, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('hand_off', { setupSql: 'CREATE TABLE marks (n int);' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

/** Whether `promise` settles within `turns` microtask turns of now (no macrotask can run). */
async function settlesWithinMicrotasks (promise, turns = 20) {
  const state = { settled: false }
  promise.then(() => { state.settled = true }, () => { state.settled = true })
  for (let i = 0; i < turns && !state.settled; i++) await null
  return state.settled
}

/** An acquire() waiting in the line (counted there), in a box so awaiting this does not await it. */
async function waitingAcquire (pool, waitingBefore) {
  const acquiring = pool.acquire()
  await eventually(() => pool.getPoolStats().pool.waiting, waitingBefore + 1)
  return [acquiring]
}

test('an acquire() that finds a free connection has it in the same tick', async () => {
  const pool = makePool({ connectionLimit: 2 })
  await pool.query('SELECT 1') // one connection open and idle
  expect(await settlesWithinMicrotasks(pool.acquire().then((c) => c.release()))).toBe(true)
  expect(pool.getPoolStats()).toMatchObject({ pool: { active: 0, idle: 1 }, connections: { created: 1 } })
})

test('a waiting acquire() gets the released connection in the same tick, and it works', async () => {
  const pool = makePool({ connectionLimit: 1 })
  const first = await pool.acquire()
  const { rows: [{ pid }] } = await first.query('SELECT pg_backend_pid() AS pid')
  const [second] = await waitingAcquire(pool, 0)
  first.release()
  expect(await settlesWithinMicrotasks(second)).toBe(true)
  const client = await second
  expect((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(pid)
  expect(pool.getPoolStats().pool).toMatchObject({ active: 1, idle: 0 })
  client.release()
  // A held client's statement lets go of its connection on the runtime just after its answer is
  // queued: a release called at once may finish there an instant later.
  expect(await eventually(() => pool.getPoolStats().pool.idle, 1)).toBe(1)
  expect(pool.getPoolStats().pool).toMatchObject({ active: 0, idle: 1 })
  expect(pool.getPoolStats().acquire.count).toBe(2)
})

test('hand-offs chain through a line of waiting acquire()s, each served once, in order', async () => {
  const pool = makePool({ connectionLimit: 2 })
  const held = [await pool.acquire(), await pool.acquire()]
  const order = []
  const waiting = Array.from({ length: 30 }, (_, n) => pool.acquire().then(async (client) => {
    order.push(n)
    await client.query('SELECT 1')
    client.release()
  }))
  await eventually(() => pool.getPoolStats().pool.waiting, 30)
  for (const c of held) c.release()
  await Promise.all(waiting)
  expect(order).toEqual(Array.from({ length: 30 }, (_, n) => n))
  expect(pool.getPoolStats()).toMatchObject({ pool: { waiting: 0, active: 0 }, connections: { created: 2 } })
})

test('a statement called before the waiting acquire() is served first: the hand-off keeps the line\'s order', async () => {
  const pool = makePool({ connectionLimit: 1 })
  const first = await pool.acquire()
  const order = []
  const statement = pool.query('SELECT pg_sleep(0.05)').then(() => order.push('statement'))
  await eventually(() => pool.getPoolStats().pool.waiting, 1)
  const second = (await waitingAcquire(pool, 1))[0].then((client) => {
    order.push('acquire')
    return client
  })
  first.release()
  expect(await settlesWithinMicrotasks(second)).toBe(false)
  await statement
  ;(await second).release()
  expect(order).toEqual(['statement', 'acquire'])
})

test('a connection released inside a transaction is rolled back before the waiting acquire() gets it', async () => {
  const pool = makePool({ connectionLimit: 1 })
  const first = await pool.acquire()
  await first.query('BEGIN')
  await first.query('INSERT INTO marks VALUES (1)')
  const [second] = await waitingAcquire(pool, 0)
  first.release()
  const client = await second
  // Outside any transaction (SAVEPOINT needs one), and the insert rolled back.
  expect((await failure(client.query('SAVEPOINT s'))).code).toBe('25P01')
  expect((await client.query('SELECT count(*)::int AS n FROM marks')).rows[0].n).toBe(0)
  client.release()
})

test('an acquire() its request scope gave up on passes the connection on to the next waiting one', async () => {
  const pool = makePool({ connectionLimit: 1 })
  const first = await pool.acquire()
  const ac = new AbortController()
  const abandoned = pool.withContext({ signal: ac.signal }, () => pool.acquire())
  await eventually(() => pool.getPoolStats().pool.waiting, 1)
  const [next] = await waitingAcquire(pool, 1)
  ac.abort()
  await failure(abandoned)
  first.release()
  const client = await Promise.race([next, sleep(3000).then(() => { throw new Error('the next acquire() was never served') })])
  expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  client.release()
  expect(pool.getPoolStats().pool).toMatchObject({ active: 0, waiting: 0 })
})
