'use strict'
// events (slowQuery, query, highUtilization, error), their default log lines,
// listeners that throw, and the native logger bridge.

const { PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, ISO, appNames, eventually, failure, poolsOnFreshDatabase, recordingLogger } = require('./helpers/common')

const appName = appNames(`pgw_events_${process.pid}`)
const h = harness()

const db = poolsOnFreshDatabase('events', { setupSql: 'CREATE TABLE uniq (id int PRIMARY KEY); INSERT INTO uniq VALUES (1);' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

describe('slowQuery', () => {
  test('payload { query, durationMs, duration, rowCount, timestamp }, no params by default', async () => {
    const pool = makePool({ slowQueryThresholdMs: 50 })
    const seen = []
    pool.on('slowQuery', (e) => seen.push(e))
    const sql = 'SELECT pg_sleep(0.06), $1::int AS n'
    const t0 = Date.now()
    await pool.query(sql, [7])
    await pool.query('SELECT 1') // fast: no event
    expect(seen).toHaveLength(1)
    const e = seen[0]
    expect(Object.keys(e).sort()).toEqual(['duration', 'durationMs', 'query', 'rowCount', 'timestamp'])
    expect(e.query).toBe(sql)
    expect(typeof e.durationMs).toBe('number')
    expect(e.durationMs).toBeGreaterThanOrEqual(50)
    expect(e.durationMs).toBeLessThan(5000)
    expect(e.duration).toBe(Math.round(e.durationMs))
    expect(e.rowCount).toBe(1)
    expect(e.timestamp).toMatch(ISO)
    expect(Date.parse(e.timestamp)).toBeGreaterThanOrEqual(t0 - 5)
    expect(Date.parse(e.timestamp)).toBeLessThanOrEqual(Date.now() + 5)
    expect(JSON.stringify(e)).not.toContain('7]')
  })

  test('params only with logParams: true', async () => {
    const pool = makePool({ slowQueryThresholdMs: 50, logParams: true })
    const seen = []
    pool.on('slowQuery', (e) => seen.push(e))
    await pool.query('SELECT pg_sleep(0.06), $1::text AS s', ['secret-ish'])
    expect(seen).toHaveLength(1)
    expect(seen[0].params).toEqual(['secret-ish'])
  })

  test('with a listener the default warning is not logged', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 50, logger })
    pool.on('slowQuery', () => {})
    await pool.query('SELECT pg_sleep(0.06)')
    expect(logger.calls.warn.filter((m) => m.includes('Slow query'))).toEqual([])
  })

  test('no listener: the logger warns exactly `Slow query detected (NNNms): SELECT ...`', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 50, logger })
    await pool.query('SELECT pg_sleep(0.06)')
    await pool.query('SELECT 1')
    const slow = logger.calls.warn.filter((m) => m.includes('Slow query'))
    expect(slow).toHaveLength(1)
    expect(slow[0]).toMatch(/^Slow query detected \(\d+ms\): SELECT pg_sleep\(0\.06\)$/)
    const ms = Number(/\((\d+)ms\)/.exec(slow[0])[1])
    expect(ms).toBeGreaterThanOrEqual(50)
    expect(ms).toBeLessThan(5000)
  })

  test('the logged SQL is cut at 500 characters plus "..."', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 0, logger })
    const sql = `SELECT '${'x'.repeat(600)}' AS s`
    await pool.query(sql)
    const slow = logger.calls.warn.filter((m) => m.startsWith('Slow query'))
    expect(slow).toHaveLength(1)
    expect(slow[0]).toMatch(/^Slow query detected \(\d+ms\): /)
    expect(slow[0].replace(/^Slow query detected \(\d+ms\): /, '')).toBe(sql.slice(0, 500) + '...')
  })

  test('parameters never reach the default log line', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 0, logger })
    await pool.query('SELECT $1::text AS s', ['p4ssw0rd-value'])
    expect(logger.calls.warn).toHaveLength(1)
    expect(logger.calls.warn[0]).not.toContain('p4ssw0rd-value')
  })
})

describe('query event', () => {
  test('fires once for every statement, failed ones included (error is the PgWardenError)', async () => {
    const pool = makePool({ connectionLimit: 2 })
    const seen = []
    pool.on('query', (e) => seen.push(e))
    await pool.query('SELECT 1 AS a')
    await pool.query('SELECT $1::int AS b', [2])
    const e1 = await failure(pool.query('SELEC 1'))
    const e2 = await failure(pool.query('INSERT INTO uniq VALUES (1)'))
    const client = await pool.acquire()
    try {
      await client.query('SELECT generate_series(1, 3) AS c')
      await failure(client.query('SELECT 1/0'))
    } finally {
      client.release()
    }
    await pool.transaction(async (tx) => { await tx.query('SELECT 4 AS d') })
    // 7 statements issued by the test (the transaction's BEGIN/COMMIT are the pool's own).
    const ours = seen.filter((e) => !/^(BEGIN|COMMIT|ROLLBACK)/i.test(e.query))
    expect(ours.map((e) => e.query)).toEqual([
      'SELECT 1 AS a', 'SELECT $1::int AS b', 'SELEC 1', 'INSERT INTO uniq VALUES (1)',
      'SELECT generate_series(1, 3) AS c', 'SELECT 1/0', 'SELECT 4 AS d'
    ])
    for (const e of seen) {
      expect(typeof e.durationMs).toBe('number')
      expect(e.durationMs).toBeGreaterThanOrEqual(0)
      expect(e).not.toHaveProperty('params')
    }
    expect(ours.map((e) => e.rowCount)).toEqual([1, 1, null, null, 3, null, 1])
    expect(ours.map((e) => (e.error ? e.error.code : undefined))).toEqual([undefined, undefined, '42601', '23505', undefined, '22012', undefined])
    expect(ours[2].error).toBe(e1)
    expect(ours[3].error).toBe(e2)
    expect(ours[2].error).toBeInstanceOf(PgWardenError)
    for (const e of [ours[0], ours[1], ours[4], ours[6]]) expect('error' in e).toBe(false)
  })

  test('exact count after N statements', async () => {
    const pool = makePool({ connectionLimit: 3 })
    let n = 0
    pool.on('query', () => { n++ })
    const N = 25
    const jobs = []
    for (let i = 0; i < N; i++) jobs.push(i % 5 === 4 ? pool.query('SELEC 1').catch(() => {}) : pool.query('SELECT $1::int', [i]))
    await Promise.all(jobs)
    expect(n).toBe(N)
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(N)
  })

  test('params in the query event only with logParams: true', async () => {
    const pool = makePool({ logParams: true })
    const seen = []
    pool.on('query', (e) => seen.push(e))
    await pool.query('SELECT $1::int AS n', [5])
    expect(seen[0].params).toEqual([5])
  })

  test('a pool.stream statement fires a query event too (it counts in queriesExecuted)', async () => {
    const pool = makePool()
    const seen = []
    pool.on('query', (e) => seen.push(e))
    const rows = []
    for await (const row of pool.stream('SELECT generate_series(1, 3) AS n')) rows.push(row.n)
    expect(rows).toEqual([1, 2, 3])
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(1)
    expect(seen.map((e) => e.query)).toEqual(['SELECT generate_series(1, 3) AS n'])
  })
})

describe('highUtilization', () => {
  test('the default cool-down keeps a flapping pool to one alert per 10 s', async () => {
    const pool = makePool({ connectionLimit: 4, utilizationAlertThreshold: 0.75 })
    const seen = []
    pool.on('highUtilization', (e) => seen.push(e))
    for (let round = 0; round < 5; round++) {
      const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()] // 75%
      held.forEach((c) => c.release()) // 0%: re-armed, but within the cool-down
    }
    await sleep(100)
    expect(seen).toEqual([{ utilization: 75, active: 3, limit: 4 }])
  })

  test('fires once on reaching the threshold, not again while above, re-arms 10 points below', async () => {
    const pool = makePool({ connectionLimit: 4, utilizationAlertThreshold: 0.75, utilizationAlertCooldownMs: 0 })
    const seen = []
    pool.on('highUtilization', (e) => seen.push(e))
    const held = [await pool.acquire(), await pool.acquire()]
    await sleep(50)
    expect(seen).toEqual([]) // 50%
    held.push(await pool.acquire()) // 75% ≥ 75%
    await eventually(() => seen.length >= 1)
    expect(seen).toEqual([{ utilization: 75, active: 3, limit: 4 }])
    held.push(await pool.acquire()) // 100%: still above, no second event
    await sleep(100)
    expect(seen).toHaveLength(1)

    // Down to 2 of 4 (50% ≤ 65%): re-armed; up to 3 again: fires again.
    held.splice(0, 2).forEach((c) => c.release())
    await eventually(() => pool.getPoolStats().pool.active === 2)
    expect(pool.getPoolStats().pool.utilization).toBe(50)
    held.push(await pool.acquire())
    await eventually(() => seen.length >= 2, true, { ms: 1000 })
    try {
      expect(seen).toEqual([{ utilization: 75, active: 3, limit: 4 }, { utilization: 75, active: 3, limit: 4 }])
    } finally {
      held.splice(0).forEach((c) => c.release())
    }
  })

  test('re-arms when a checkout itself sees utilization 10 points below (1 → 2 → 3 of 4)', async () => {
    const pool = makePool({ connectionLimit: 4, utilizationAlertThreshold: 0.75, utilizationAlertCooldownMs: 0 })
    const seen = []
    pool.on('highUtilization', (e) => seen.push(e))
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()]
    await eventually(() => seen.length >= 1)
    held.splice(0, 2).forEach((c) => c.release())
    await eventually(() => pool.getPoolStats().pool.active === 1)
    held.push(await pool.acquire()) // a checkout at 2/4 = 50%
    held.push(await pool.acquire()) // 3/4 again
    await eventually(() => seen.length >= 2, true, { ms: 1000 })
    try {
      expect(seen).toHaveLength(2)
    } finally {
      held.splice(0).forEach((c) => c.release())
    }
  })

  test('does not re-arm less than 10 points below (70% with threshold 0.75)', async () => {
    // 7/10 = 70% > 65%: no re-arm; back to 8/10 = 80%: no second event.
    const pool = makePool({ connectionLimit: 10, utilizationAlertThreshold: 0.75 })
    const seen = []
    pool.on('highUtilization', (e) => seen.push(e))
    const held = []
    for (let i = 0; i < 8; i++) held.push(await pool.acquire())
    await eventually(() => seen.length >= 1)
    expect(seen).toEqual([{ utilization: 80, active: 8, limit: 10 }])
    held.splice(0, 2).forEach((c) => c.release())
    await eventually(() => pool.getPoolStats().pool.active === 6)
    held.push(await pool.acquire()) // checkout at 7/10
    held.push(await pool.acquire()) // 8/10
    await sleep(100)
    try {
      expect(seen).toHaveLength(1)
    } finally {
      held.splice(0).forEach((c) => c.release())
    }
  })

  test('when nobody listens, busy alone is only a debug line (shown with logLevel debug) `High pool utilization: 75.0% (3/4)`', async () => {
    const logger = recordingLogger()
    const pool = makePool({ connectionLimit: 4, utilizationAlertThreshold: 0.75, logger, logLevel: 'debug' })
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()]
    try {
      const lines = await eventually(() => {
        const l = logger.calls.debug.filter((m) => m.includes('utilization'))
        return l.length ? l : null
      })
      expect(lines).toEqual(['High pool utilization: 75.0% (3/4)'])
      expect(logger.calls.warn).toEqual([])
    } finally {
      held.forEach((c) => c.release())
    }
  })

  test('a pool of 1 doing its job says nothing; callers waiting for a connection draw one "Pool saturated" warning', async () => {
    const logger = recordingLogger()
    // pipelineDepth 1: each waiting caller takes the connection itself (no convoy carries
    // both), so each checkout waited, and only the cool-down keeps it to one warning.
    const pool = makePool({ connectionLimit: 1, logger, pipelineDepth: 1 })
    for (let i = 0; i < 20; i++) await pool.query('SELECT 1')
    expect(logger.calls.warn).toEqual([])
    const held = await pool.acquire()
    const waiting = [pool.query('SELECT 1'), pool.query('SELECT 2')]
    setTimeout(() => held.release(), 200)
    await Promise.all(waiting)
    await eventually(() => logger.calls.warn.filter((m) => m.includes('Pool saturated')), (l) => l.length > 1, { ms: 300 })
    const saturated = logger.calls.warn.filter((m) => m.includes('Pool saturated'))
    expect(saturated).toHaveLength(1) // one per cool-down, not one per waiting caller
    expect(saturated[0]).toMatch(/a caller waited \d+ ms for a connection \(1\/1 in use\)/)
  })

  test('pool.query checkouts raise it as well', async () => {
    const pool = makePool({ connectionLimit: 2, utilizationAlertThreshold: 1 })
    const seen = []
    pool.on('highUtilization', (e) => seen.push(e))
    await Promise.all([pool.query('SELECT pg_sleep(0.1)'), pool.query('SELECT pg_sleep(0.1)')])
    await eventually(() => seen.length >= 1)
    expect(seen).toEqual([{ utilization: 100, active: 2, limit: 2 }])
  })
})

describe('listeners that throw', () => {
  test('a throwing query/slowQuery listener never breaks the query; logger.error hears of it', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 0, logger })
    pool.on('query', () => { throw new Error('query listener boom') })
    pool.on('slowQuery', () => { throw new Error('slow listener boom') })
    const r = await pool.query('SELECT 41 + 1 AS answer')
    expect(r.rows).toEqual([{ answer: 42 }])
    // Failed statements too: the original error is what rejects.
    const e = await failure(pool.query('SELEC 1'))
    expect(e.code).toBe('42601')
    expect(logger.calls.error.some((m) => m.includes('query listener boom'))).toBe(true)
    expect(logger.calls.error.some((m) => m.includes('slow listener boom'))).toBe(true)
    // On an acquired client as well.
    const client = await pool.acquire()
    try {
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    } finally {
      client.release()
    }
  })

  test('a throwing highUtilization listener does not crash anything', async () => {
    const logger = recordingLogger()
    const pool = makePool({ connectionLimit: 1, utilizationAlertThreshold: 1, logger })
    pool.on('highUtilization', () => { throw new Error('util listener boom') })
    const r = await pool.query('SELECT 1 AS one')
    expect(r.rows).toEqual([{ one: 1 }])
    await eventually(() => logger.calls.error.length > 0)
    expect(logger.calls.error.some((m) => m.includes('util listener boom'))).toBe(true)
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
  })
})

describe("'error' event: an idle connection dies", () => {
  test('the event carries a PgWardenError 57P01/P1017; no crash; the next query succeeds', async () => {
    const app = appName('idle')
    const pool = makePool({ applicationName: app, connectionLimit: 2 })
    const errors = []
    pool.on('error', (e) => errors.push(e))
    await Promise.all([pool.query('SELECT pg_sleep(0.05)'), pool.query('SELECT pg_sleep(0.05)')])
    await sleep(20)
    expect(await h.terminateBackends({ applicationName: app })).toBe(2)
    await eventually(() => errors.length >= 2)
    expect(errors.length).toBeGreaterThanOrEqual(1)
    for (const e of errors) {
      expect(e).toBeInstanceOf(PgWardenError)
      expect(['57P01', 'P1017']).toContain(e.code)
      expect(typeof e.message).toBe('string')
      expect(e.message.length).toBeGreaterThan(0)
    }
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('with no listener: logged through logger.error, nothing throws, the next query succeeds', async () => {
    const app = appName('idle_nolistener')
    const logger = recordingLogger()
    const pool = makePool({ applicationName: app, connectionLimit: 1, logger })
    await pool.query('SELECT 1')
    await sleep(20)
    expect(await h.terminateBackends({ applicationName: app })).toBe(1)
    await eventually(() => logger.calls.error.length > 0)
    expect(logger.calls.error).toHaveLength(1)
    expect(logger.calls.error[0]).toMatch(/57P01|P1017/)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('a connection killed while in use is reported to its statement, not as an error event', async () => {
    // The race between the statement failing and the socket closing is repeated a few times.
    const app = appName('busy')
    const pool = makePool({ applicationName: app, connectionLimit: 1 })
    const errors = []
    pool.on('error', (e) => errors.push(e))
    const statementCodes = []
    for (let i = 0; i < 4; i++) {
      const q = failure(pool.query('SELECT pg_sleep(5)'))
      await eventually(async () => Number((await h.admin(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}' AND state = 'active'`))[0][0]) === 1)
      await h.terminateBackends({ applicationName: app })
      const err = await q
      expect(err).toBeInstanceOf(PgWardenError)
      statementCodes.push(err.code)
      await sleep(100)
    }
    for (const c of statementCodes) expect(['57P01', 'P1017']).toContain(c)
    expect(errors.map((e) => `${e.code}: ${e.message}`)).toEqual([])
  })
})

describe('logger bridge', () => {
  test("logLevel 'debug' forwards native debug lines ('connection opened') to logger.debug", async () => {
    const logger = recordingLogger()
    const pool = makePool({ logger, logLevel: 'debug' })
    await pool.query('SELECT 1')
    const lines = await eventually(() => logger.calls.debug.filter((m) => m.includes('connection opened')).length > 0 && logger.calls.debug)
    expect(lines.some((m) => m.includes('connection opened'))).toBe(true)
  })

  test('the default level does not forward debug lines', async () => {
    const logger = recordingLogger()
    const pool = makePool({ logger })
    await pool.query('SELECT 1')
    await sleep(150)
    expect(logger.calls.debug.filter((m) => m.includes('connection opened'))).toEqual([])
  })

  test("one pool's debug lines do not reach another pool's logger", async () => {
    const a = recordingLogger()
    const b = recordingLogger()
    makePool({ logger: a, logLevel: 'debug' })
    const poolB = makePool({ logger: b, logLevel: 'debug' })
    await poolB.query('SELECT 1')
    await eventually(() => b.calls.debug.some((m) => m.includes('connection opened')))
    await sleep(50)
    expect(a.calls.debug.filter((m) => m.includes('connection opened'))).toEqual([])
  })

  test('logger: false silences everything (slow query, utilization, idle error)', async () => {
    const spies = ['log', 'debug', 'info', 'warn', 'error'].map((m) => jest.spyOn(console, m).mockImplementation(() => {}))
    try {
      const app = appName('silent')
      const pool = makePool({ applicationName: app, logger: false, logLevel: 'debug', connectionLimit: 1, utilizationAlertThreshold: 1, slowQueryThresholdMs: 0 })
      pool.on('query', () => { throw new Error('listener boom') })
      await pool.query('SELECT 1')
      await sleep(20)
      await h.terminateBackends({ applicationName: app })
      await sleep(200)
      await pool.query('SELECT 1')
      await sleep(100)
      for (const s of spies) expect(s).not.toHaveBeenCalled()
    } finally {
      spies.forEach((s) => s.mockRestore())
    }
  })
})
