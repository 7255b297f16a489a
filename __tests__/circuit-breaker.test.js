'use strict'
// A server that is down: the optional circuit breaker (circuitBreaker { failureThreshold,
// cooldownMs }) fails checkouts fast while open, with one probe per cool-down; without it,
// connecting is retried inside poolTimeoutMs. A private cluster, stopped and started.

const { PgWardenError } = require('..')
const { ownedCluster } = require('./harness')
const { sleep, failure, timed, poolFactory } = require('./helpers/common')

describe('server down: circuit breaker and connection retries', () => {
  let cluster
  beforeAll(async () => {
    cluster = await ownedCluster()
  })
  afterAll(async () => {
    if (cluster) await cluster.destroy()
  })

  /** Pools on the private cluster, ended in afterEach. */
  const { makePool, endPools } = poolFactory(() => cluster.url)
  afterEach(endPools)

  test('circuitBreaker { failureThreshold: 2, cooldownMs: 500 }: fails fast while open, recovers after start + cooldown', async () => {
    const pool = makePool({ poolTimeoutMs: 5000, circuitBreaker: { failureThreshold: 2, cooldownMs: 500 } })
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
    const pool = makePool({ poolTimeoutMs: 5000, circuitBreaker: { failureThreshold: 2, cooldownMs: 5000 } })
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
    const pool = makePool({ poolTimeoutMs: 800 })
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
    const pool = makePool({ poolTimeoutMs: 10000 })
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
