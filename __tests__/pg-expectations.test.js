'use strict'
// What users of pg expect: minConnections is kept (refilled after closes and outages), and
// every rejection carries the stack frames of the function that made the call.

const { harness } = require('./harness')
const { failure, eventually, poolsOnFreshDatabase, appNames, freePort, sleep, backendCounter } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgexpect')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db
const appName = appNames(`pgw_pgexpect_${process.pid}`)

/** Client backends the server has for `app`. */
const backends = backendCounter(harness)

describe('minConnections', () => {
  test('refilled after every connection was terminated, and shown in getPoolStats()', async () => {
    const app = appName('min')
    const pool = makePool({ applicationName: app, minConnections: 2, idleTimeoutMs: 1000 })
    await pool.query('SELECT 1')
    expect(pool.getPoolStats().config.minConnections).toBe(2)
    expect(await eventually(() => backends(app), 2, { ms: 3000 })).toBe(2)
    await harness().admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}'`)
    expect(await eventually(() => backends(app), 0, { ms: 2000 })).toBe(0)
    expect(await eventually(() => backends(app), 2, { ms: 5000 })).toBe(2)
    expect(pool.getPoolStats().pool.total).toBeGreaterThanOrEqual(2)
  })

  test('a pool that was never used stays lazy', async () => {
    const app = appName('lazy')
    makePool({ applicationName: app, minConnections: 2, idleTimeoutMs: 1000 })
    await sleep(800)
    expect(await backends(app)).toBe(0)
  })
})

describe("rejections carry the caller's stack", () => {
  /** The error `run()` rejects with when awaited from a function with a distinctive name. */
  async function rejectionIn (run) {
    async function theCallingFunctionOfTheTest () {
      await run()
    }
    return failure(theCallingFunctionOfTheTest())
  }

  test.each([
    ['query', (pool) => pool.query('SELEC 1')],
    ['stream', async (pool) => { for await (const row of pool.stream('SELEC 1')) void row }], // eslint-disable-line no-void -- drains the stream
    ['executeScript', (pool) => pool.executeScript('SELEC 1')],
    ['client query', async (pool) => {
      const c = await pool.acquire()
      try { await c.query('SELEC 1') } finally { c.release() }
    }],
    ['transaction', (pool) => pool.transaction((tx) => tx.query('SELEC 1'))]
  ])('%s', async (_, run) => {
    const pool = makePool()
    const err = await rejectionIn(() => run(pool))
    expect(err.code).toBe('42601')
    expect(err.stack).toMatch(/theCallingFunctionOfTheTest/)
  })

  test.each([
    ['acquire', (pool) => pool.acquire()],
    ['transaction', (pool) => pool.transaction(async () => {})]
  ])('%s on an unreachable server', async (_, run) => {
    const pool = makePool({ poolTimeoutMs: 300, connectTimeoutMs: 200 }, `postgres://u@127.0.0.1:${await freePort()}/db`)
    const err = await rejectionIn(() => run(pool))
    expect(err.code).toBe('P1001')
    expect(err.stack).toMatch(/theCallingFunctionOfTheTest/)
  })
})

describe('more parameters than the protocol carries', () => {
  test('rejects before sending with ERR_PGWARDEN_PARAMS naming the limit; the connection stays usable', async () => {
    const pool = makePool({ connectionLimit: 1 })
    const n = 65536
    const sql = `SELECT ${Array.from({ length: n }, (_, i) => `$${i + 1}::int`).join(' + ')} AS s`
    const err = await failure(pool.query(sql, Array(n).fill(1)))
    expect(err.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(err.message).toMatch(/at most 65535/)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    expect(pool.getPoolStats().connections.created).toBeLessThanOrEqual(1)
  })
})

describe('LISTEN/NOTIFY and notices on the pool', () => {
  test("a held connection that LISTENs: the pool emits 'notification' and 'notice' in pg's shapes", async () => {
    const pool = makePool()
    const notes = []
    const notices = []
    pool.on('notification', (m) => notes.push(m))
    pool.on('notice', (m) => notices.push(m))
    const listener = await pool.acquire()
    try {
      await listener.query('LISTEN orders')
      await pool.query("SELECT pg_notify('orders', '42')")
      await pool.query("DO $$ BEGIN RAISE NOTICE 'heads up'; END $$")
      // Both come from the connections' own streams, beside the statements' answers: waited for.
      expect(await eventually(() => notes.length, 1)).toBe(1)
      expect(await eventually(() => notices.length, 1)).toBe(1)
      expect(notes[0]).toEqual({ name: 'notification', processId: expect.any(Number), channel: 'orders', payload: '42', length: 18 })
      expect(notices).toEqual([expect.objectContaining({ name: 'notice', severity: 'NOTICE', code: '00000', message: 'heads up' })])
    } finally {
      listener.release()
    }
  })
})
