'use strict'
// Safety features: per-query AbortSignal (the query option `signal`), the optional circuit
// breaker against an unreachable server, connection retries inside poolTimeoutMs without it,
// and leak detection (leakDetectionThresholdMs).

const path = require('node:path')
const { Pool, PgWardenError } = require('..')
const { harness, freshDatabase, ownedCluster } = require('./harness')
const { sleep, appNames, eventuallyEquals, failure, timed, poolFactory, backendCounter } = require('./helpers/common')

const appName = appNames(`pgw_safety_${process.pid}`)
const THIS_FILE = path.basename(__filename)

let dbUrl
let h
beforeAll(async () => {
  h = harness()
  dbUrl = await freshDatabase('safety')
})

const { makePool, endPools, pools } = poolFactory(() => dbUrl)
afterEach(endPools)

/** Client backends of `app` running a statement that matches `like`. */
async function running (app, like) {
  const rows = await h.admin(`SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name = '${app}' AND state = 'active' AND query LIKE '${like}'`)
  return Number(rows[0][0])
}
/** Polls `fn` until it returns `want` or `ms` pass; returns the last value. */
const eventually = eventuallyEquals({ ms: 1000, every: 20 })
/** Client backends the server has for `app`. */
const backends = backendCounter(() => h)

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
    expect(await eventually(() => running(app, '%pg_sleep(5)%'), 0, 500)).toBe(0)
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
      expect(await eventually(() => running(app, '%pg_sleep(5)%'), 0, 500)).toBe(0)
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

describe('server down: circuit breaker and connection retries', () => {
  let cluster
  beforeAll(async () => {
    cluster = await ownedCluster()
  })
  afterAll(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()))
    if (cluster) await cluster.destroy()
  })

  function clusterPool (opts) {
    const pool = new Pool({ connectionString: cluster.url, logger: false, ...opts })
    pools.push(pool)
    return pool
  }

  test('circuitBreaker { failureThreshold: 2, cooldownMs: 500 }: fails fast while open, recovers after start + cooldown', async () => {
    const pool = clusterPool({ poolTimeoutMs: 5000, circuitBreaker: { failureThreshold: 2, cooldownMs: 500 } })
    await pool.query('SELECT 1')
    await cluster.stop()
    try {
      // the first two failures (connection refused) open the breaker
      for (let i = 0; i < 2; i++) {
        const { error } = await timed(pool.query('SELECT 1'))
        expect(error).toBeInstanceOf(PgWardenError)
        expect(error.code).toBe('P1001')
      }
      // now each query fails at once, naming the breaker
      for (let i = 0; i < 5; i++) {
        const { error, ms } = await timed(pool.query('SELECT 1'))
        expect(error).toBeInstanceOf(PgWardenError)
        expect(error.code).toBe('P1001')
        expect(error.kind).toBe('connection')
        expect(error.retryable).toBe(true)
        expect(error.message).toMatch(/circuit breaker/i)
        expect(ms).toBeLessThan(50)
      }
      // cooldown over but the server still down: one probe goes through, fails, reopens
      await sleep(600)
      const probe = await failure(pool.query('SELECT 1'))
      expect(probe.code).toBe('P1001')
      expect(probe.message).not.toMatch(/circuit breaker/i)
      const { error, ms } = await timed(pool.query('SELECT 1'))
      expect(error.message).toMatch(/circuit breaker/i)
      expect(ms).toBeLessThan(50)
    } finally {
      await cluster.start()
    }
    // started again: once the cooldown has passed, queries succeed
    await sleep(600)
    expect((await pool.query('SELECT 1 AS up')).rows).toEqual([{ up: 1 }])
    expect((await pool.query('SELECT 2 AS up')).rows).toEqual([{ up: 2 }])
  })

  test('the breaker counts consecutive failures: a success in between resets the count', async () => {
    const pool = clusterPool({ poolTimeoutMs: 5000, circuitBreaker: { failureThreshold: 2, cooldownMs: 5000 } })
    await pool.query('SELECT 1')
    await cluster.stop()
    try {
      expect((await failure(pool.query('SELECT 1'))).message).not.toMatch(/circuit breaker/i)
    } finally {
      await cluster.start()
    }
    expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }])
    await cluster.stop()
    try {
      // without the reset, the first failure below would already be the second in a row and
      // the next query would be refused by the breaker; with it, both reach the server
      expect((await failure(pool.query('SELECT 1'))).message).not.toMatch(/circuit breaker/i)
      expect((await failure(pool.query('SELECT 1'))).message).not.toMatch(/circuit breaker/i)
      // two consecutive failures: now open
      expect((await failure(pool.query('SELECT 1'))).message).toMatch(/circuit breaker/i)
    } finally {
      await cluster.start()
    }
  })

  test('without the breaker: connecting is retried until poolTimeoutMs (800 ms), then P1001', async () => {
    const pool = clusterPool({ poolTimeoutMs: 800 })
    await pool.query('SELECT 1')
    await cluster.stop()
    try {
      const failedBefore = pool.getPoolStats().connections.failed
      const { error, ms } = await timed(pool.query('SELECT 1'))
      expect(error).toBeInstanceOf(PgWardenError)
      expect(error.code).toBe('P1001')
      expect(error.message).not.toMatch(/circuit breaker/i)
      // retries with backoff fill (nearly) the whole poolTimeoutMs; never much beyond it
      expect(ms).toBeGreaterThanOrEqual(720)
      expect(ms).toBeLessThan(800 + 1000)
      expect(pool.getPoolStats().connections.failed - failedBefore).toBeGreaterThanOrEqual(3)
    } finally {
      await cluster.start()
    }
  })

  test('without the breaker: a server back within poolTimeoutMs is reached by the same query', async () => {
    const pool = clusterPool({ poolTimeoutMs: 10000 })
    await pool.query('SELECT 1')
    await cluster.stop()
    const restarted = sleep(300).then(() => cluster.start())
    const { value, error, ms } = await timed(pool.query('SELECT 3 AS back'))
    await restarted
    expect(error).toBeUndefined()
    expect(value.rows).toEqual([{ back: 3 }])
    expect(ms).toBeGreaterThanOrEqual(250)
  })
})

describe('leak detection', () => {
  function capturingLogger () {
    const lines = { debug: [], info: [], warn: [], error: [] }
    const logger = {}
    for (const level of Object.keys(lines)) logger[level] = (...args) => lines[level].push(args.map(String).join(' '))
    return { logger, lines }
  }

  test('a client held past leakDetectionThresholdMs logs one warning with the acquisition stack', async () => {
    const { logger, lines } = capturingLogger()
    const pool = makePool({ leakDetectionThresholdMs: 100, logger })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    await sleep(300)
    client.release()
    const leaks = lines.warn.filter((l) => /leak/i.test(l))
    expect(leaks).toHaveLength(1)
    expect(leaks[0]).toContain(THIS_FILE)
    expect(leaks[0]).toMatch(/100 ?ms/)
    expect(lines.error).toEqual([])
    await sleep(200)
    expect(lines.warn.filter((l) => /leak/i.test(l))).toHaveLength(1)
  })

  test('releasing before the threshold logs nothing', async () => {
    const { logger, lines } = capturingLogger()
    const pool = makePool({ leakDetectionThresholdMs: 100, logger })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    await sleep(20)
    client.release()
    await sleep(300)
    expect(lines.warn.filter((l) => /leak/i.test(l))).toEqual([])
  })

  test('a transaction held past the threshold is reported too', async () => {
    const { logger, lines } = capturingLogger()
    const pool = makePool({ leakDetectionThresholdMs: 100, logger })
    await pool.transaction(async (tx) => {
      await tx.query('SELECT 1')
      await sleep(300)
    })
    const leaks = lines.warn.filter((l) => /leak/i.test(l))
    expect(leaks).toHaveLength(1)
    expect(leaks[0]).toContain(THIS_FILE)
  })

  test('off by default (and with 0)', async () => {
    for (const opts of [{}, { leakDetectionThresholdMs: 0 }]) {
      const { logger, lines } = capturingLogger()
      const pool = makePool({ ...opts, logger })
      const client = await pool.acquire()
      await sleep(150)
      client.release()
      expect(lines.warn.filter((l) => /leak/i.test(l))).toEqual([])
    }
  })
})
