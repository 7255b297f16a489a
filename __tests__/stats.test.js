'use strict'
// getPoolStats() counters move exactly after known workloads on a fresh pool.

const { getPool, getPoolStats, PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, ISO, eventually, freePort, failure, poolsOnFreshDatabase } = require('./helpers/common')

const h = harness()

// Fresh pools on the test database, ended in afterEach. The table is made outside any pool
// (db.create runs setupSql through the harness's admin session) so that no statement is
// counted by the pools under test.
const db = poolsOnFreshDatabase('stats', { setupSql: 'CREATE TABLE uniq (id int PRIMARY KEY);' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool, pools } = db

// The documented getPoolStats() example, used as a type template.
const EXAMPLE = {
  pool: { active: 5, idle: 7, total: 12, limit: 20, waiting: 0, utilization: 25.0 },
  queries: {
    queriesExecuted: 15234,
    slowQueries: 45,
    queryErrors: 3,
    averageQueryTime: 12.45,
    p50: 3.1,
    p95: 40.2,
    p99: 120.5,
    maxQueryTime: 1523,
    slowQueryRate: 0.30,
    uptimeMs: 3600000,
    lastResetTime: 'ISO-8601'
  },
  acquire: { count: 0, averageMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0, timeouts: 0, rejectedLineFull: 0 },
  retries: { attempts: 0, succeededAfterRetry: 0, exhausted: 0 },
  connections: { created: 0, closed: 0, failed: 0, refusedTooManyClients: 0, releasedInTransaction: 0, sessionResets: 0 },
  outages: { count: 0, current: false, currentMs: null, lastDurationMs: null, lastError: null },
  errors: { byCode: { '40P01': 2 } },
  slowQueries: [{ query: 'SELECT ...', duration: 1523, timestamp: 'ISO-8601' }],
  config: { connectionLimit: 20, poolTimeout: 20, queryTimeout: 10000, slowQueryThreshold: 1000 },
  timestamp: 'ISO-8601'
}

/** Every field of `template` exists in `actual` with the same JS type; returns a list of problems. */
function shapeProblems (template, actual, path = '') {
  const out = []
  for (const [k, tv] of Object.entries(template)) {
    const p = path ? `${path}.${k}` : k
    if (path === 'errors.byCode') continue // keys are data
    if (!(k in Object(actual))) {
      out.push(`${p} missing`)
      continue
    }
    const av = actual[k]
    if (Array.isArray(tv)) {
      if (!Array.isArray(av)) out.push(`${p}: expected array, got ${typeof av}`)
      else for (const [i, item] of av.entries()) out.push(...shapeProblems(tv[0], item, `${p}[${i}]`))
    } else if (tv !== null && typeof tv === 'object') {
      if (av === null || typeof av !== 'object' || Array.isArray(av)) out.push(`${p}: expected object, got ${JSON.stringify(av)}`)
      else out.push(...shapeProblems(tv, av, p))
    } else if (typeof av !== typeof tv) {
      out.push(`${p}: expected ${typeof tv}, got ${typeof av} (${JSON.stringify(av)})`)
    } else if (typeof av === 'number' && !Number.isFinite(av)) {
      out.push(`${p}: not finite (${av})`)
    }
  }
  return out
}

describe('shape', () => {
  test('a fresh pool: every field of getPoolStats() as docs/API.md shows it, with the right types, all zero', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const s = pool.getPoolStats()
    expect(shapeProblems(EXAMPLE, s)).toEqual([])
    expect(s.queries).toMatchObject({
      queriesExecuted: 0, slowQueries: 0, queryErrors: 0, averageQueryTime: 0,
      p50: 0, p95: 0, p99: 0, maxQueryTime: 0, slowQueryRate: 0
    })
    expect(s.acquire).toEqual({ count: 0, averageMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0, timeouts: 0, rejectedLineFull: 0 })
    expect(s.retries).toEqual({ attempts: 0, succeededAfterRetry: 0, exhausted: 0 })
    expect(s.connections).toEqual({ created: 0, closed: 0, failed: 0, refusedTooManyClients: 0, releasedInTransaction: 0, sessionResets: 0 })
    expect(s.errors).toEqual({ byCode: {} })
    expect(s.slowQueries).toEqual([])
    expect(s.pool).toEqual({ active: 0, idle: 0, total: 0, limit: 4, waiting: 0, utilization: 0 })
  })

  test('after a mixed workload every field is present with the right type (numbers are numbers)', async () => {
    const pool = makePool({ connectionLimit: 3, slowQueryThresholdMs: 0 })
    await pool.query('SELECT 1')
    await failure(pool.query('SELEC 1'))
    await pool.withRetry(async () => 1)
    const s = pool.getPoolStats()
    expect(shapeProblems(EXAMPLE, s)).toEqual([])
    expect(s.slowQueries.length).toBeGreaterThan(0)
    expect(typeof s.errors.byCode['42601']).toBe('number')
    // Survives a JSON round trip unchanged (what an HTTP endpoint would send).
    expect(JSON.parse(JSON.stringify(s))).toEqual(s)
  })

  test('timestamp and lastResetTime are ISO-8601 and current', async () => {
    const before = Date.now()
    const pool = makePool()
    const s = pool.getPoolStats()
    expect(s.timestamp).toMatch(ISO)
    expect(s.queries.lastResetTime).toMatch(ISO)
    expect(Date.parse(s.timestamp)).toBeGreaterThanOrEqual(before - 5)
    expect(Date.parse(s.timestamp)).toBeLessThanOrEqual(Date.now() + 5)
    // A new pool has never been reset: lastResetTime is its creation time.
    expect(Date.parse(s.queries.lastResetTime)).toBeGreaterThanOrEqual(before - 5)
    expect(Date.parse(s.queries.lastResetTime)).toBeLessThanOrEqual(Date.parse(s.timestamp))
    expect(s.queries.uptimeMs).toBeGreaterThanOrEqual(0)
    expect(s.queries.uptimeMs).toBeLessThan(5000)
    await sleep(60)
    expect(pool.getPoolStats().queries.uptimeMs).toBeGreaterThanOrEqual(50)
  })
})

describe('query counters', () => {
  test('N successful and M failing statements: queriesExecuted N+M, queryErrors M, byCode per code', async () => {
    const pool = makePool({ connectionLimit: 2, slowQueryThresholdMs: 10000 })
    const N = 7
    for (let i = 0; i < N - 1; i++) await pool.query('SELECT $1::int AS n', [i])
    await pool.query('INSERT INTO uniq VALUES (1)') // the 7th success
    const codes = []
    for (let i = 0; i < 3; i++) codes.push((await failure(pool.query('SELEC 1'))).code)
    for (let i = 0; i < 2; i++) codes.push((await failure(pool.query('INSERT INTO uniq VALUES (1)'))).code)
    codes.push((await failure(pool.query('SELECT 1/0'))).code)
    expect(codes).toEqual(['42601', '42601', '42601', '23505', '23505', '22012'])
    const M = codes.length

    const s = pool.getPoolStats()
    expect(s.queries.queriesExecuted).toBe(N + M)
    expect(s.queries.queryErrors).toBe(M)
    expect(s.errors.byCode).toEqual({ 42601: 3, 23505: 2, 22012: 1 })
    expect(s.queries.slowQueries).toBe(0)
    expect(s.queries.slowQueryRate).toBe(0)
    expect(s.slowQueries).toEqual([])
  })

  test('statements on an acquired client count like pool statements', async () => {
    const pool = makePool({ connectionLimit: 2, slowQueryThresholdMs: 10000 })
    const client = await pool.acquire()
    try {
      await client.query('SELECT 1')
      await client.query('SELECT 2')
      await failure(client.query('SELEC 3'))
    } finally {
      client.release()
    }
    const s = pool.getPoolStats()
    expect(s.queries.queriesExecuted).toBe(3)
    expect(s.queries.queryErrors).toBe(1)
    expect(s.errors.byCode).toEqual({ 42601: 1 })
  })

  test('K slow statements: slowQueries K, slowQueryRate K/total in percent, the list has K entries', async () => {
    const pool = makePool({ connectionLimit: 2, slowQueryThresholdMs: 50 })
    const t0 = Date.now()
    const fast = 5
    const K = 3
    for (let i = 0; i < fast; i++) await pool.query('SELECT 1')
    for (let i = 0; i < K; i++) await pool.query('SELECT pg_sleep(0.06)')
    const t1 = Date.now()
    const s = pool.getPoolStats()
    expect(s.queries.queriesExecuted).toBe(fast + K)
    expect(s.queries.slowQueries).toBe(K)
    expect(s.queries.slowQueryRate).toBe(Math.round((K / (fast + K)) * 100 * 100) / 100) // 37.5
    expect(s.slowQueries).toHaveLength(K)
    for (const e of s.slowQueries) {
      expect(Object.keys(e).sort()).toEqual(['duration', 'query', 'timestamp'])
      expect(e.query).toBe('SELECT pg_sleep(0.06)')
      expect(typeof e.duration).toBe('number')
      expect(e.duration).toBeGreaterThanOrEqual(50)
      expect(e.duration).toBeLessThan(5000)
      expect(e.timestamp).toMatch(ISO)
      expect(Date.parse(e.timestamp)).toBeGreaterThanOrEqual(t0 - 5)
      expect(Date.parse(e.timestamp)).toBeLessThanOrEqual(t1 + 5)
    }
    // Oldest first.
    const times = s.slowQueries.map((e) => Date.parse(e.timestamp))
    expect([...times].sort((a, b) => a - b)).toEqual(times)
  })

  test('slowQueryRate is rounded to 2 decimals', async () => {
    const pool = makePool({ connectionLimit: 1, slowQueryThresholdMs: 50 })
    await pool.query('SELECT pg_sleep(0.06)')
    await pool.query('SELECT 1')
    await pool.query('SELECT 1')
    const s = pool.getPoolStats()
    expect(s.queries.queriesExecuted).toBe(3)
    expect(s.queries.slowQueries).toBe(1)
    expect(s.queries.slowQueryRate).toBe(33.33)
  })

  test('the slowQueries list keeps only the last 100 (threshold 0: everything is slow)', async () => {
    const pool = makePool({ connectionLimit: 1, slowQueryThresholdMs: 0 })
    for (let i = 0; i < 105; i++) await pool.query(`SELECT ${i} AS i`)
    const s = pool.getPoolStats()
    expect(s.queries.queriesExecuted).toBe(105)
    expect(s.queries.slowQueries).toBe(105)
    expect(s.queries.slowQueryRate).toBe(100)
    expect(s.slowQueries).toHaveLength(100)
    expect(s.slowQueries[0].query).toBe('SELECT 5 AS i')
    expect(s.slowQueries[99].query).toBe('SELECT 104 AS i')
    expect(s.slowQueries.map((e) => e.query)).toEqual(Array.from({ length: 100 }, (_, i) => `SELECT ${i + 5} AS i`))
  })

  test('slow-query SQL is cut at 500 characters plus "..." (characters, not bytes)', async () => {
    const pool = makePool({ connectionLimit: 1, slowQueryThresholdMs: 0 })
    const ascii = `SELECT '${'x'.repeat(600)}' AS s`
    const accented = `SELECT '${'é'.repeat(600)}' AS s`
    const exact = `SELECT '${'y'.repeat(500 - 'SELECT \'\''.length)}'` // exactly 500: not cut
    expect(exact.length).toBe(500)
    await pool.query(ascii)
    await pool.query(accented)
    await pool.query(exact)
    const [a, b, c] = pool.getPoolStats().slowQueries
    expect(a.query).toBe(ascii.slice(0, 500) + '...')
    expect(a.query).toHaveLength(503)
    expect(b.query).toBe(accented.slice(0, 500) + '...')
    expect(c.query).toBe(exact)
  })

  test('p50/p95/p99/max/average are plausible and ordered', async () => {
    const pool = makePool({ connectionLimit: 1, slowQueryThresholdMs: 10000 })
    const durations = []
    pool.on('query', (e) => durations.push(e.durationMs))
    for (let i = 0; i < 20; i++) await pool.query('SELECT 1')
    for (let i = 0; i < 2; i++) await pool.query('SELECT pg_sleep(0.06)')
    const q = pool.getPoolStats().queries
    expect(durations).toHaveLength(22)
    const max = Math.max(...durations)
    for (const k of ['p50', 'p95', 'p99', 'maxQueryTime', 'averageQueryTime']) expect(typeof q[k]).toBe('number')
    expect(q.p50).toBeGreaterThan(0)
    expect(q.p50).toBeLessThanOrEqual(q.p95)
    expect(q.p95).toBeLessThanOrEqual(q.p99)
    expect(q.p99).toBeLessThanOrEqual(q.maxQueryTime)
    // 20 of 22 are fast: the median is far below the sleeps; 2/22 > 5%: p95 is in the sleeps' bucket.
    expect(q.p50).toBeLessThan(50)
    expect(q.p95).toBeGreaterThanOrEqual(50)
    expect(q.p99).toBeGreaterThanOrEqual(50)
    expect(q.maxQueryTime).toBeGreaterThanOrEqual(60)
    expect(q.maxQueryTime).toBeCloseTo(max, 1)
    const avg = durations.reduce((a, b) => a + b, 0) / durations.length
    expect(Math.abs(q.averageQueryTime - avg)).toBeLessThanOrEqual(0.02)
    expect(q.averageQueryTime).toBeLessThan(q.maxQueryTime)
  })
})

describe('acquire', () => {
  test('acquire.count equals the checkouts made (pool.query and acquire())', async () => {
    const pool = makePool({ connectionLimit: 2 })
    for (let i = 0; i < 5; i++) await pool.query('SELECT 1')
    const c1 = await pool.acquire()
    await c1.query('SELECT 1') // no extra checkout
    await c1.query('SELECT 2')
    c1.release()
    const c2 = await pool.acquire()
    c2.release()
    const a = pool.getPoolStats().acquire
    expect(a.count).toBe(7)
    expect(a.timeouts).toBe(0)
    expect(a.averageMs).toBeGreaterThanOrEqual(0)
    expect(a.p50Ms).toBeLessThanOrEqual(a.p95Ms)
    expect(a.p95Ms).toBeLessThanOrEqual(a.p99Ms)
    expect(a.p99Ms).toBeLessThanOrEqual(a.maxMs)
    expect(a.maxMs).toBeLessThan(5000)
  })

  test('acquire.timeouts counts P2024 (pool.query and acquire({ maxWaitMs }))', async () => {
    const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 200 })
    const held = await pool.acquire()
    try {
      const e1 = await failure(pool.query('SELECT 1'))
      expect(e1).toBeInstanceOf(PgWardenError)
      expect(e1.code).toBe('P2024')
      const e2 = await failure(pool.acquire({ maxWaitMs: 100 }))
      expect(e2.code).toBe('P2024')
      const a = pool.getPoolStats().acquire
      expect(a.timeouts).toBe(2)
      expect(a.count).toBe(1) // only the checkout that succeeded
    } finally {
      held.release()
    }
  })

  test('a slow checkout shows in acquire latency', async () => {
    const pool = makePool({ connectionLimit: 1 })
    const held = await pool.acquire()
    const waiting = pool.query('SELECT 1')
    await sleep(120)
    held.release()
    await waiting
    const a = pool.getPoolStats().acquire
    expect(a.count).toBe(2)
    expect(a.maxMs).toBeGreaterThanOrEqual(100)
    expect(a.p99Ms).toBeGreaterThanOrEqual(75)
  })
})

describe('connections', () => {
  test('created counts opened connections; closed counts closed ones; failed counts failed attempts', async () => {
    const pool = makePool({ connectionLimit: 3 })
    const clients = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()])
    expect(pool.getPoolStats().connections).toEqual({ created: 3, closed: 0, failed: 0, refusedTooManyClients: 0, releasedInTransaction: 0, sessionResets: 0 })
    clients[0].release(true) // destroys that connection
    clients[1].release()
    clients[2].release()
    expect(await eventually(() => pool.getPoolStats().connections.closed, 1)).toBe(1)
    await pool.query('SELECT 1')
    await pool.query('SELECT 1')
    expect(pool.getPoolStats().connections.created).toBe(3) // reused, none opened
    await pool.end()
    expect(await eventually(() => pool.getPoolStats().connections.closed, 3)).toBe(3)
    expect(pool.getPoolStats().connections).toEqual({ created: 3, closed: 3, failed: 0, refusedTooManyClients: 0, releasedInTransaction: 0, sessionResets: 0 })
  })

  test('failed counts connection attempts that failed (connect() to a closed port: 3 tries)', async () => {
    const port = await freePort()
    const pool = makePool({ connectTimeoutMs: 1000 }, `postgres://postgres@127.0.0.1:${port}/db`)
    const err = await failure(pool.connect())
    expect(err.code).toBe('P1001')
    const s = pool.getPoolStats()
    expect(s.connections).toEqual({ created: 0, closed: 0, failed: 3, refusedTooManyClients: 0, releasedInTransaction: 0, sessionResets: 0 })
    expect(s.queries.queriesExecuted).toBe(0)
  })

  test('a backend killed by the server counts as closed', async () => {
    const app = `pgw_stats_kill_${process.pid}`
    const pool = makePool({ connectionLimit: 1, applicationName: app })
    await pool.query('SELECT 1')
    expect(await h.terminateBackends({ applicationName: app })).toBe(1)
    expect(await eventually(() => pool.getPoolStats().connections.closed, 1)).toBe(1)
    await pool.query('SELECT 1')
    expect(pool.getPoolStats().connections.created).toBe(2)
  })
})

describe('pool section', () => {
  test('active/idle/total/limit/waiting/utilization while clients are held', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()]
    expect(pool.getPoolStats().pool).toEqual({ active: 3, idle: 0, total: 3, limit: 4, waiting: 0, utilization: 75 })

    held.push(await pool.acquire())
    const pending = pool.acquire({ maxWaitMs: 5000 })
    expect(await eventually(() => pool.getPoolStats().pool.waiting, 1)).toBe(1)
    expect(pool.getPoolStats().pool).toEqual({ active: 4, idle: 0, total: 4, limit: 4, waiting: 1, utilization: 100 })

    held.shift().release()
    held.push(await pending)
    expect(await eventually(() => pool.getPoolStats().pool.waiting, 0)).toBe(0)
    expect(pool.getPoolStats().pool).toMatchObject({ active: 4, total: 4, waiting: 0, utilization: 100 })

    held.splice(0, 2).forEach((c) => c.release())
    expect(await eventually(() => pool.getPoolStats().pool.active, 2)).toBe(2)
    expect(pool.getPoolStats().pool).toEqual({ active: 2, idle: 2, total: 4, limit: 4, waiting: 0, utilization: 50 })
    held.splice(0).forEach((c) => c.release())
    expect(await eventually(() => pool.getPoolStats().pool.idle, 4)).toBe(4)
    expect(pool.getPoolStats().pool).toEqual({ active: 0, idle: 4, total: 4, limit: 4, waiting: 0, utilization: 0 })
  })

  test('utilization is a percent with one decimal (1 of 3 → 33.3)', async () => {
    const pool = makePool({ connectionLimit: 3 })
    const c = await pool.acquire()
    try {
      expect(pool.getPoolStats().pool.utilization).toBe(33.3)
    } finally {
      c.release()
    }
  })
})

describe('config section', () => {
  test('connectionLimit, poolTimeout in seconds, queryTimeout and slowQueryThreshold in ms', () => {
    const pool = makePool({ connectionLimit: 7, poolTimeoutMs: 2500, queryTimeoutMs: 7000, slowQueryThresholdMs: 250 })
    expect(pool.getPoolStats().config).toEqual({ connectionLimit: 7, minConnections: 0, poolTimeout: 2.5, queryTimeout: 7000, slowQueryThreshold: 250 })
  })

  test('defaults: poolTimeout 10 s, queryTimeout 30000, slowQueryThreshold 1000', () => {
    const pool = makePool({ connectionLimit: 3 })
    expect(pool.getPoolStats().config).toEqual({ connectionLimit: 3, minConnections: 0, poolTimeout: 10, queryTimeout: 30000, slowQueryThreshold: 1000 })
  })

  test('URL parameters feed the config section (pool_timeout in seconds)', () => {
    const pool = makePool({}, `${db.url}?connection_limit=6&pool_timeout=20&statement_timeout=10000`)
    expect(pool.getPoolStats().config).toMatchObject({ connectionLimit: 6, poolTimeout: 20, queryTimeout: 10000 })
  })
})

describe('resetStats()', () => {
  test('zeroes every counter, empties lists and sets lastResetTime', async () => {
    const pool = makePool({ connectionLimit: 2, slowQueryThresholdMs: 0 })
    await pool.query('SELECT 1')
    await failure(pool.query('SELEC 1'))
    await pool.withRetry(async () => 1)
    const before = pool.getPoolStats()
    expect(before.queries.queriesExecuted).toBe(2)
    await sleep(30)
    const t = Date.now()
    pool.resetStats()
    const s = pool.getPoolStats()
    expect(s.queries).toMatchObject({
      queriesExecuted: 0, slowQueries: 0, queryErrors: 0, averageQueryTime: 0,
      p50: 0, p95: 0, p99: 0, maxQueryTime: 0, slowQueryRate: 0
    })
    expect(s.acquire).toEqual({ count: 0, averageMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0, timeouts: 0, rejectedLineFull: 0 })
    expect(s.retries).toEqual({ attempts: 0, succeededAfterRetry: 0, exhausted: 0 })
    expect(s.errors.byCode).toEqual({})
    expect(s.slowQueries).toEqual([])
    expect(s.queries.lastResetTime).toMatch(ISO)
    expect(Date.parse(s.queries.lastResetTime)).toBeGreaterThanOrEqual(t - 5)
    expect(Date.parse(s.queries.lastResetTime)).toBeGreaterThan(Date.parse(before.queries.lastResetTime))
    expect(s.queries.uptimeMs).toBeLessThan(before.queries.uptimeMs)
    // The live gauges are not counters: the open connection is still there.
    expect(s.pool).toMatchObject({ total: 1, idle: 1, limit: 2 })
    expect(s.config.connectionLimit).toBe(2)
    // Counting starts again from zero.
    await pool.query('SELECT 1')
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(1)
  })
})

describe('module-level getPoolStats()', () => {
  test('null before getPool(); then the singleton\'s stats', async () => {
    const saved = process.env.DATABASE_URL
    expect(getPoolStats()).toBeNull()
    process.env.DATABASE_URL = db.url
    let pool
    try {
      pool = getPool()
      pools.push(pool)
      expect(getPool()).toBe(pool)
      await pool.query('SELECT 1')
      await pool.query('SELECT 2')
      const s = getPoolStats()
      expect(s.queries.queriesExecuted).toBe(2)
      expect(shapeProblems(EXAMPLE, s)).toEqual([])
      const own = pool.getPoolStats()
      expect({ ...s.queries, uptimeMs: 0 }).toEqual({ ...own.queries, uptimeMs: 0 })
      expect(s.pool).toEqual(own.pool)
      expect(s.config).toEqual(own.config)
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL
      else process.env.DATABASE_URL = saved
    }
  })
})

describe('after end()', () => {
  test('stats stay readable, counters kept, gauges at zero', async () => {
    const pool = makePool({ connectionLimit: 3, slowQueryThresholdMs: 0 })
    await pool.query('SELECT 1')
    await failure(pool.query('SELEC 1'))
    await pool.end()
    const s = pool.getPoolStats()
    expect(shapeProblems(EXAMPLE, s)).toEqual([])
    expect(s.queries).toMatchObject({ queriesExecuted: 2, queryErrors: 1, slowQueries: 2 })
    expect(s.errors.byCode).toEqual({ 42601: 1 })
    expect(s.slowQueries).toHaveLength(2)
    expect(s.pool).toMatchObject({ active: 0, idle: 0, total: 0, limit: 3, waiting: 0, utilization: 0 })
    expect(s.config.connectionLimit).toBe(3)
    // A rejected statement after end() never ran: not counted.
    await failure(pool.query('SELECT 1'))
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(2)
    expect(() => pool.resetStats()).not.toThrow()
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(0)
  })
})

describe('outages', () => {
  test('a run of failed connection attempts is one outage, over when a connection opens; failed counts every attempt', async () => {
    const { TcpProxy } = require('./helpers/proxy')
    const target = new URL(db.url)
    const proxy = new TcpProxy({ targetPort: Number(target.port) })
    target.port = String(await proxy.start())
    const pool = db.makePool({ connectionLimit: 1, poolTimeoutMs: 400 }, target.toString())
    try {
      proxy.reset()
      await failure(pool.query('SELECT 1'))
      const during = pool.getPoolStats()
      expect(during.outages).toEqual(expect.objectContaining({ count: 1, current: true, lastError: expect.objectContaining({ code: expect.any(String) }) }))
      expect(during.connections.failed).toBeGreaterThanOrEqual(1)
      expect(pool.metrics()).toMatch(/^pgwarden_outage 1$/m)
      proxy.heal()
      await pool.query('SELECT 1')
      const after = pool.getPoolStats().outages
      expect(after).toEqual(expect.objectContaining({ count: 1, current: false, currentMs: null, lastDurationMs: expect.any(Number) }))
      expect(pool.metrics()).toMatch(/^pgwarden_outages_total 1$/m)
    } finally {
      await pool.end()
      await proxy.close()
    }
  })
})
