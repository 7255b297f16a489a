'use strict'
// the documented rules (health): healthCheck, checkDatabaseConnection, getConnectionPoolStats,
// getDatabaseStats against a real server; a private cluster for the "server stopped" cases.

const { harness, freshDatabase, ownedCluster } = require('./harness')
const { sleep, eventually, freePort, poolsOnFreshDatabase } = require('./helpers/common')

const h = harness()
const db = poolsOnFreshDatabase('health')
let cluster
beforeAll(async () => {
  ;[, cluster] = await Promise.all([db.create(), ownedCluster()])
})
afterAll(async () => {
  if (cluster) await cluster.destroy()
})
afterEach(db.endPools)
const { makePool } = db

describe('healthCheck()', () => {
  test('healthy: latency is a number, details.pool is the pool section', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const r = await pool.healthCheck()
    expect(r.status).toBe('healthy')
    expect(typeof r.latency).toBe('number')
    expect(Number.isFinite(r.latency)).toBe(true)
    expect(r.latency).toBeGreaterThanOrEqual(0)
    expect(r.latency).toBeLessThan(5000)
    expect(r.details.pool).toEqual(expect.objectContaining({ limit: 4, waiting: 0 }))
    for (const k of ['active', 'idle', 'total', 'limit', 'waiting', 'utilization']) expect(typeof r.details.pool[k]).toBe('number')
    expect(r.details.error).toBeUndefined()
  })

  test("'degraded' under high utilization (clients held so utilization ≥ threshold)", async () => {
    const pool = makePool({ connectionLimit: 5 }) // default threshold 0.8: 4 of 5 held
    const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()])
    try {
      const r = await pool.healthCheck()
      expect(r.status).toBe('degraded')
      expect(r.details.pool.utilization).toBeGreaterThanOrEqual(80)
      expect(r.details.reasons.join(' ')).toMatch(/utilization/)
    } finally {
      held.forEach((c) => c.release())
    }
    await eventually(() => pool.getPoolStats().pool.active === 0)
    expect((await pool.healthCheck()).status).toBe('healthy')
  })

  test("'degraded' with a custom threshold (utilizationAlertThreshold 0.5, 2 of 4 held)", async () => {
    const pool = makePool({ connectionLimit: 4, utilizationAlertThreshold: 0.5 })
    const held = await Promise.all([pool.acquire(), pool.acquire()])
    try {
      expect((await pool.healthCheck()).status).toBe('degraded')
    } finally {
      held.forEach((c) => c.release())
    }
  })

  test("'degraded' when slow ({ slowMs: 0 })", async () => {
    const pool = makePool()
    const r = await pool.healthCheck({ slowMs: 0 })
    expect(r.status).toBe('degraded')
    expect(r.details.reasons.join(' ')).toMatch(/took/)
    expect(r.latency).toBeGreaterThan(0)
  })

  test("'unhealthy' (never throws) after pool.end(); checkDatabaseConnection() false", async () => {
    const pool = makePool()
    expect(await pool.checkDatabaseConnection()).toBe(true)
    await pool.end()
    const r = await pool.healthCheck()
    expect(r.status).toBe('unhealthy')
    expect(typeof r.latency).toBe('number')
    expect(r.details.error).toMatchObject({ code: 'ERR_PGWARDEN_CLOSED', kind: 'closed' })
    expect(typeof r.details.error.message).toBe('string')
    expect(await pool.checkDatabaseConnection()).toBe(false)
  })

  test("'unhealthy' on a closed port, within a bounded time", async () => {
    const port = await freePort()
    const pool = makePool({ poolTimeoutMs: 500 }, `postgres://postgres@127.0.0.1:${port}/db`)
    const t0 = Date.now()
    const r = await pool.healthCheck()
    expect(r.status).toBe('unhealthy')
    expect(r.details.error.code).toBe('P1001')
    // Connection attempts are retried inside poolTimeoutMs (500 ms), then reported.
    const ms = Date.now() - t0
    console.log(`[health] closed port: unhealthy after ${ms} ms (poolTimeoutMs 500)`)
    expect(ms).toBeGreaterThanOrEqual(400)
    expect(ms).toBeLessThan(1500)
    expect(await pool.checkDatabaseConnection()).toBe(false)
  })
})

describe('server stopped (owned cluster)', () => {
  test("healthCheck 'unhealthy' and checkDatabaseConnection false while stopped; healthy again after start", async () => {
    const pool = makePool({ poolTimeoutMs: 1000, connectTimeoutMs: 1000 }, cluster.url)
    expect((await pool.healthCheck()).status).toBe('healthy')
    expect(await pool.checkDatabaseConnection()).toBe(true)
    await cluster.stop()
    try {
      const t0 = Date.now()
      const r = await pool.healthCheck()
      expect(r.status).toBe('unhealthy')
      expect(r.details.error).toBeDefined()
      expect(typeof r.details.error.code).toBe('string')
      const ms = Date.now() - t0
      console.log(`[health] server stopped: unhealthy after ${ms} ms (poolTimeoutMs 1000), ${r.details.error.code}`)
      expect(ms).toBeGreaterThanOrEqual(800)
      expect(ms).toBeLessThan(2500)
      expect(await pool.checkDatabaseConnection()).toBe(false)
    } finally {
      await cluster.start()
    }
    const after = await eventually(async () => (await pool.healthCheck()).status === 'healthy', true, { ms: 5000 })
    expect(after).toBe(true)
    expect(await pool.checkDatabaseConnection()).toBe(true)
  })
})

describe('getConnectionPoolStats()', () => {
  test("matches pg_stat_activity for the pool's database", async () => {
    const dbName = decodeURIComponent(new URL(db.url).pathname.slice(1))
    const pool = makePool({ minConnections: 3, connectionLimit: 5 })
    await pool.connect()
    expect(pool.getPoolStats().pool.total).toBe(3)
    const s = await pool.getConnectionPoolStats()
    expect(Object.keys(s).sort()).toEqual(['active_connections', 'idle_connections', 'idle_in_transaction', 'max_connections', 'total_connections'])
    for (const v of Object.values(s)) expect(typeof v).toBe('number')
    const [[total, maxConn]] = await h.admin(`SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = '${dbName}'), current_setting('max_connections')`)
    expect(s.total_connections).toBe(Number(total))
    expect(s.total_connections).toBe(3)
    expect(s.active_connections).toBe(1) // the statement asking
    expect(s.idle_connections).toBe(2)
    expect(s.idle_in_transaction).toBe(0)
    expect(s.max_connections).toBe(Number(maxConn))
  })

  test('counts idle-in-transaction and active sessions', async () => {
    const pool = makePool({ connectionLimit: 5 })
    const inTx = await pool.acquire()
    const busy = await pool.acquire()
    await inTx.query('BEGIN')
    await inTx.query('SELECT 1')
    const sleeping = busy.query('SELECT pg_sleep(1)')
    try {
      await sleep(150)
      const s = await pool.getConnectionPoolStats()
      expect(s.idle_in_transaction).toBe(1)
      expect(s.active_connections).toBe(2) // the sleeper and the statement asking
      expect(s.total_connections).toBe(3)
      expect(s.idle_connections).toBe(0)
    } finally {
      await inTx.query('ROLLBACK')
      inTx.release()
      await sleeping
      busy.release()
    }
  })
})

describe('getDatabaseStats()', () => {
  test('size in bytes and largest tables ordered by size, rows after ANALYZE', async () => {
    const url = await freshDatabase('health_sizes')
    await h.adminScript(`
      CREATE TABLE big (id int, pad text);
      INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;
      CREATE TABLE medium (id int, pad text);
      INSERT INTO medium SELECT g, repeat('y', 100) FROM generate_series(1, 1000) g;
      CREATE TABLE small (id int);
      INSERT INTO small SELECT g FROM generate_series(1, 10) g;
      CREATE TABLE empty (id int);
      ANALYZE;`, { database: url })
    const pool = makePool({}, url)
    const s = await pool.getDatabaseStats()
    expect(typeof s.databaseSize).toBe('string')
    expect(s.databaseSize).toMatch(/^\d+(\.\d+)? (bytes|kB|MB|GB)$/)
    expect(typeof s.databaseSizeBytes).toBe('number')
    expect(s.databaseSizeBytes).toBeGreaterThan(0)
    const [[dbBytes]] = await h.admin('SELECT pg_database_size(current_database())', { database: url })
    expect(Math.abs(s.databaseSizeBytes - Number(dbBytes))).toBeLessThan(1024 * 1024)

    expect(Array.isArray(s.largestTables)).toBe(true)
    for (const t of s.largestTables) {
      expect(Object.keys(t).sort()).toEqual(['rows', 'size', 'sizeBytes', 'table'])
      expect(typeof t.table).toBe('string')
      expect(typeof t.size).toBe('string')
      expect(typeof t.sizeBytes).toBe('number')
      expect(typeof t.rows).toBe('number')
    }
    const sizes = s.largestTables.map((t) => t.sizeBytes)
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes)
    const byName = Object.fromEntries(s.largestTables.map((t) => [t.table.replace(/^public\./, ''), t]))
    expect(s.largestTables.slice(0, 3).map((t) => t.table)).toEqual(['public.big', 'public.medium', 'public.small'])
    expect(byName.big.rows).toBe(5000)
    expect(byName.medium.rows).toBe(1000)
    expect(byName.small.rows).toBe(10)
    expect(byName.empty.rows).toBe(0)
    const [[bigBytes]] = await h.admin("SELECT pg_total_relation_size('big')", { database: url })
    expect(byName.big.sizeBytes).toBe(Number(bigBytes))
    expect(byName.big.sizeBytes).toBeGreaterThan(byName.medium.sizeBytes)
    // No system tables.
    expect(s.largestTables.some((t) => /^(pg_catalog|information_schema|pg_toast)/.test(t.table))).toBe(false)
    // limit option
    expect((await pool.getDatabaseStats({ limit: 2 })).largestTables.map((t) => t.table)).toEqual(['public.big', 'public.medium'])
  })
})
