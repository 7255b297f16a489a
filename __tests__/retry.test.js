'use strict'
// withRetry (module-level and pool.withRetry) — what is retried, how often, with
// which delays, what is rethrown, abort and deadline; and a real outage end to end.

const { Pool, withRetry, PgWardenError } = require('..')
const { freshDatabase, ownedCluster } = require('./harness')
const { sleep, failure } = require('./helpers/common')

/** A retryable error in pg's shape (SQLSTATE 40001). */
const serialization = () => Object.assign(new Error('could not serialize access due to concurrent update'), { code: '40001', severity: 'ERROR' })
/** A non-retryable error in pg's shape (SQLSTATE 23505). */
const uniqueViolation = () => Object.assign(new Error('duplicate key value violates unique constraint "users_pkey"'), { code: '23505', severity: 'ERROR' })

/** Prisma's PrismaClientKnownRequestError shape: the class must survive the rethrow. */
class PrismaClientKnownRequestError extends Error {
  constructor (message, { code, clientVersion }) {
    super(message)
    this.name = 'PrismaClientKnownRequestError'
    this.code = code
    this.clientVersion = clientVersion
  }
}

/**
 * fn that fails with `errors[i]` on call i (a function makes a fresh error) and then resolves
 * `value`; it records every call's argument and (possibly fake) time.
 */
function script (errors, value = 'done') {
  const calls = []
  const fn = jest.fn(async (arg) => {
    calls.push({ arg, at: Date.now() })
    const i = calls.length - 1
    if (i < errors.length) {
      const e = errors[i]
      throw typeof e === 'function' ? e() : e
    }
    return value
  })
  fn.calls = calls
  return fn
}

/** Settles a promise while fake timers run; returns { value } or { error }. */
async function settleWithFakeTimers (promise) {
  const out = promise.then((value) => ({ value }), (error) => ({ error }))
  await jest.runAllTimersAsync()
  return out
}

const gaps = (calls) => calls.slice(1).map((c, i) => c.at - calls[i].at)

describe('withRetry with fake timers', () => {
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('defaults: 3 retries (4 calls), attempt from 1, delays ≈1 s, 2 s, 4 s ±20%', async () => {
    const err = serialization()
    const fn = script([err, err, err, err, err])
    const retries = []
    const { error } = await settleWithFakeTimers(withRetry(fn, { onRetry: (r) => retries.push(r) }))
    expect(error).toBe(err)
    expect(fn).toHaveBeenCalledTimes(4)
    expect(fn.calls.map((c) => c.arg.attempt)).toEqual([1, 2, 3, 4])
    expect(error.attempts).toBe(4)

    const bounds = [[800, 1200], [1600, 2400], [3200, 4800]]
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3])
    retries.forEach((r, i) => {
      expect(r.error).toBe(err)
      expect(r.delayMs).toBeGreaterThanOrEqual(bounds[i][0])
      expect(r.delayMs).toBeLessThanOrEqual(bounds[i][1])
    })
    // the waits actually taken between calls are those delays
    const actual = gaps(fn.calls)
    actual.forEach((g, i) => {
      expect(g).toBeGreaterThanOrEqual(bounds[i][0])
      expect(g).toBeLessThanOrEqual(bounds[i][1])
      expect(Math.abs(g - retries[i].delayMs)).toBeLessThanOrEqual(1)
    })
  })

  test('defaults use jitter: delays are not all exactly 1000/2000/4000', async () => {
    const seen = new Set()
    for (let run = 0; run < 5; run++) {
      const retries = []
      await settleWithFakeTimers(withRetry(script([serialization]), { onRetry: (r) => retries.push(r.delayMs) }))
      seen.add(retries[0])
    }
    expect(seen.size).toBeGreaterThan(1)
  })

  test('jitter: 0 gives exact delays initialDelayMs × factor^(n-1), capped at maxDelayMs', async () => {
    const err = serialization()
    const fn = script(Array(10).fill(err))
    const retries = []
    const { error } = await settleWithFakeTimers(withRetry(fn, {
      maxRetries: 6, initialDelayMs: 100, factor: 3, maxDelayMs: 2000, jitter: 0, onRetry: (r) => retries.push(r.delayMs)
    }))
    expect(error).toBe(err)
    expect(error.attempts).toBe(7)
    expect(retries).toEqual([100, 300, 900, 2000, 2000, 2000])
    expect(gaps(fn.calls)).toEqual([100, 300, 900, 2000, 2000, 2000])
  })

  test('positional form withRetry(fn, 5, 20): 5 retries, first delay 20 ms ±20%, doubling', async () => {
    const err = serialization()
    const fn = script(Array(10).fill(err))
    const { error } = await settleWithFakeTimers(withRetry(fn, 5, 20))
    expect(error).toBe(err)
    expect(fn).toHaveBeenCalledTimes(6)
    expect(error.attempts).toBe(6)
    gaps(fn.calls).forEach((g, i) => {
      const base = 20 * 2 ** i
      expect(g).toBeGreaterThanOrEqual(Math.floor(base * 0.8))
      expect(g).toBeLessThanOrEqual(Math.ceil(base * 1.2))
    })
  })

  test('positional maxRetries alone keeps the default initial delay', async () => {
    const fn = script([serialization, serialization, serialization])
    const { error } = await settleWithFakeTimers(withRetry(fn, 1))
    expect(fn).toHaveBeenCalledTimes(2)
    expect(error.attempts).toBe(2)
    const [g] = gaps(fn.calls)
    expect(g).toBeGreaterThanOrEqual(800)
    expect(g).toBeLessThanOrEqual(1200)
  })

  test('maxRetries: 0 calls once', async () => {
    const err = serialization()
    const fn = script([err])
    const { error } = await settleWithFakeTimers(withRetry(fn, { maxRetries: 0 }))
    expect(error).toBe(err)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(error.attempts).toBe(1)
  })
})

describe('withRetry (real timers, small delays)', () => {
  test('resolves with fn’s value after retryable failures', async () => {
    const fn = script([serialization, () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' })], 42)
    await expect(withRetry(fn, { initialDelayMs: 5 })).resolves.toBe(42)
    expect(fn).toHaveBeenCalledTimes(3)
  })

  test('fn receives { attempt, signal }', async () => {
    const ac = new AbortController()
    const fn = script([serialization])
    await withRetry(fn, { initialDelayMs: 1, signal: ac.signal })
    expect(fn.calls.map((c) => c.arg)).toEqual([{ attempt: 1, signal: ac.signal }, { attempt: 2, signal: ac.signal }])
    const bare = script([])
    await withRetry(bare)
    expect(bare.calls[0].arg).toEqual(expect.objectContaining({ attempt: 1 }))
  })

  test('a non-retryable error is thrown at once (attempts 1)', async () => {
    const err = uniqueViolation()
    const fn = script([err])
    const onRetry = jest.fn()
    const started = Date.now()
    await expect(withRetry(fn, { initialDelayMs: 1000, onRetry })).rejects.toBe(err)
    expect(Date.now() - started).toBeLessThan(200)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(err.attempts).toBe(1)
    expect(onRetry).not.toHaveBeenCalled()
  })

  test.each([
    ['a plain Error', () => new Error('boom')],
    ['a TypeError', () => new TypeError('x is not a function')],
    ['P2028', () => Object.assign(new Error('Transaction API error'), { code: 'P2028' })],
    ['a retryable code with maybeCommitted', () => Object.assign(new Error('connection lost during COMMIT'), { code: 'P1017', maybeCommitted: true })]
  ])('%s is not retried', async (_, make) => {
    const err = make()
    const fn = script([err])
    await expect(withRetry(fn, { initialDelayMs: 1 })).rejects.toBe(err)
    expect(fn).toHaveBeenCalledTimes(1)
  })

  test('non-errors thrown are not retried and rethrown as is', async () => {
    const fn = jest.fn(async () => { throw 'just a string' }) // eslint-disable-line no-throw-literal
    await expect(withRetry(fn, { initialDelayMs: 1 })).rejects.toBe('just a string')
    expect(fn).toHaveBeenCalledTimes(1)
  })

  test('a real 23505 from the server is thrown at once', async () => {
    const url = await freshDatabase('retry_uniq')
    const pool = new Pool({ connectionString: url, logger: false })
    try {
      await pool.query('CREATE TABLE u (id int PRIMARY KEY)')
      await pool.query('INSERT INTO u VALUES (1)')
      let calls = 0
      const err = await failure(withRetry(() => { calls++; return pool.query('INSERT INTO u VALUES (1)') }, { initialDelayMs: 1 }))
      expect(err).toBeInstanceOf(PgWardenError)
      expect(err.code).toBe('23505')
      expect(err.attempts).toBe(1)
      expect(calls).toBe(1)
    } finally {
      await pool.end()
    }
  })

  test('retryIf(err, attempt) overrides the classification both ways', async () => {
    const nonRetryable = uniqueViolation()
    const seen = []
    const fn = script([nonRetryable, nonRetryable], 'ok')
    await expect(withRetry(fn, {
      initialDelayMs: 1,
      retryIf: (err, attempt) => { seen.push([err, attempt]); return true }
    })).resolves.toBe('ok')
    expect(fn).toHaveBeenCalledTimes(3)
    expect(seen).toEqual([[nonRetryable, 1], [nonRetryable, 2]])

    const retryable = serialization()
    const fn2 = script([retryable, retryable])
    await expect(withRetry(fn2, { initialDelayMs: 1, retryIf: () => false })).rejects.toBe(retryable)
    expect(fn2).toHaveBeenCalledTimes(1)
    expect(retryable.attempts).toBe(1)

    // retryIf may stop on a given attempt
    const err3 = serialization()
    const fn3 = script(Array(10).fill(err3))
    await expect(withRetry(fn3, { maxRetries: 9, initialDelayMs: 1, retryIf: (e, attempt) => attempt < 3 })).rejects.toBe(err3)
    expect(fn3).toHaveBeenCalledTimes(3)
    expect(err3.attempts).toBe(3)
  })

  test('retryIf still respects maxRetries', async () => {
    const err = new Error('custom')
    const fn = script(Array(10).fill(err))
    await expect(withRetry(fn, { maxRetries: 2, initialDelayMs: 1, retryIf: () => true })).rejects.toBe(err)
    expect(fn).toHaveBeenCalledTimes(3)
    expect(err.attempts).toBe(3)
  })

  test('onRetry gets { error, attempt, delayMs } before each retry', async () => {
    const e1 = serialization()
    const e2 = Object.assign(new Error('P2024: Timed out fetching a new connection'), {})
    const onRetry = jest.fn()
    const fn = script([e1, e2], 'v')
    await expect(withRetry(fn, { initialDelayMs: 10, jitter: 0, onRetry })).resolves.toBe('v')
    expect(onRetry.mock.calls).toEqual([
      [{ error: e1, attempt: 1, delayMs: 10 }],
      [{ error: e2, attempt: 2, delayMs: 20 }]
    ])
  })

  test('the final error is the same object, same class, with attempts = calls made', async () => {
    const err = new PrismaClientKnownRequestError('Timed out fetching a new connection from the connection pool.', { code: 'P2024', clientVersion: '6.19.0' })
    const fn = script(Array(5).fill(err))
    const caught = await failure(withRetry(fn, { maxRetries: 2, initialDelayMs: 1 }))
    expect(caught).toBe(err)
    expect(caught).toBeInstanceOf(PrismaClientKnownRequestError)
    expect(caught.name).toBe('PrismaClientKnownRequestError')
    expect(caught.code).toBe('P2024')
    expect(caught.clientVersion).toBe('6.19.0')
    expect(caught.attempts).toBe(3)
    expect(fn).toHaveBeenCalledTimes(3)

    // a different error on the last call is the one rethrown
    const last = uniqueViolation()
    const fn2 = script([serialization, serialization, last])
    const caught2 = await failure(withRetry(fn2, { initialDelayMs: 1 }))
    expect(caught2).toBe(last)
    expect(caught2.attempts).toBe(3)
  })

  test('an abort during the wait rejects at once with the signal’s reason', async () => {
    const ac = new AbortController()
    const reason = new Error('shutting down')
    const fn = script(Array(5).fill(serialization))
    const started = Date.now()
    setTimeout(() => ac.abort(reason), 50)
    const caught = await failure(withRetry(fn, { initialDelayMs: 5000, jitter: 0, signal: ac.signal }))
    const elapsed = Date.now() - started
    expect(caught).toBe(reason)
    expect(elapsed).toBeLessThan(1000)
    expect(fn).toHaveBeenCalledTimes(1)
  })

  test('abort with no explicit reason rejects with the AbortError reason', async () => {
    const ac = new AbortController()
    const fn = script(Array(5).fill(serialization))
    setTimeout(() => ac.abort(), 30)
    const caught = await failure(withRetry(fn, { initialDelayMs: 5000, signal: ac.signal }))
    expect(caught).toBe(ac.signal.reason)
    expect(caught.name).toBe('AbortError')
  })

  test('an already aborted signal: fn is never called', async () => {
    const reason = new Error('too late')
    const fn = script([])
    await expect(withRetry(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(fn).not.toHaveBeenCalled()
  })

  test('deadlineMs stops retrying when the next delay would pass it', async () => {
    const err = serialization()
    const fn = script(Array(10).fill(err))
    const started = Date.now()
    const onRetry = jest.fn()
    // delays 100, 200, ...: after the 2nd call (~100 ms) the next wait ends at ~300 > 250.
    const caught = await failure(withRetry(fn, { maxRetries: 10, initialDelayMs: 100, jitter: 0, deadlineMs: 250, onRetry }))
    const elapsed = Date.now() - started
    expect(caught).toBe(err)
    expect(fn).toHaveBeenCalledTimes(2)
    expect(caught.attempts).toBe(2)
    expect(onRetry).toHaveBeenCalledTimes(1)
    expect(elapsed).toBeGreaterThanOrEqual(95)
    expect(elapsed).toBeLessThan(250)
  })

  test('rejects without a function', async () => {
    await expect(withRetry('SELECT 1')).rejects.toThrow()
  })
})

describe('pool.withRetry', () => {
  let pool
  beforeAll(async () => {
    pool = new Pool({ connectionString: await freshDatabase('retry_stats'), logger: false })
  })
  afterAll(() => pool.end())

  test('counts attempts, successes after retry and exhaustion exactly', async () => {
    expect(pool.getPoolStats().retries).toEqual({ attempts: 0, succeededAfterRetry: 0, exhausted: 0 })

    // success at once: nothing counted
    await expect(pool.withRetry(script([], 1), { initialDelayMs: 1 })).resolves.toBe(1)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 0, succeededAfterRetry: 0, exhausted: 0 })

    // two retryable failures, then success: 2 retries, 1 success after retry
    await expect(pool.withRetry(script([serialization, serialization], 2), { initialDelayMs: 1 })).resolves.toBe(2)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 2, succeededAfterRetry: 1, exhausted: 0 })

    // always failing with maxRetries 2: 2 retries, exhausted once
    const err = serialization()
    await expect(pool.withRetry(script(Array(5).fill(err)), { maxRetries: 2, initialDelayMs: 1 })).rejects.toBe(err)
    expect(err.attempts).toBe(3)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 4, succeededAfterRetry: 1, exhausted: 1 })

    // non-retryable: thrown at once, nothing counted
    await expect(pool.withRetry(script([uniqueViolation]), { initialDelayMs: 1 })).rejects.toMatchObject({ code: '23505' })
    expect(pool.getPoolStats().retries).toEqual({ attempts: 4, succeededAfterRetry: 1, exhausted: 1 })

    // positional form also counts: one retry then success
    await expect(pool.withRetry(script([serialization], 3), 3, 1)).resolves.toBe(3)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 5, succeededAfterRetry: 2, exhausted: 1 })

    // real queries through the pool
    const r = await pool.withRetry(({ attempt }) => pool.query('SELECT $1::int AS a', [attempt]))
    expect(r.rows).toEqual([{ a: 1 }])
    expect(pool.getPoolStats().retries).toEqual({ attempts: 5, succeededAfterRetry: 2, exhausted: 1 })
  })

  test('the module-level withRetry does not touch a pool’s stats', async () => {
    const before = pool.getPoolStats().retries
    await withRetry(script([serialization]), { initialDelayMs: 1 })
    expect(pool.getPoolStats().retries).toEqual(before)
  })
})

describe('end to end: a server outage', () => {
  let cluster
  beforeAll(async () => {
    cluster = await ownedCluster()
  })
  afterAll(async () => {
    if (cluster) await cluster.destroy()
  })

  test('withRetry around a query rides out a stopped server started again after ~300 ms', async () => {
    const pool = new Pool({ connectionString: cluster.url, logger: false, poolTimeoutMs: 200, connectTimeoutMs: 1000 })
    try {
      await pool.query('SELECT 1') // a live connection that the stop will break
      await cluster.stop()
      const restarted = sleep(300).then(() => cluster.start())
      const errors = []
      const started = Date.now()
      const r = await pool.withRetry(() => pool.query('SELECT 42 AS answer'), {
        maxRetries: 30, initialDelayMs: 50, factor: 1.5, maxDelayMs: 500, onRetry: ({ error }) => errors.push(error)
      })
      await restarted
      expect(r.rows).toEqual([{ answer: 42 }])
      expect(errors.length).toBeGreaterThanOrEqual(1)
      for (const e of errors) {
        expect(e).toBeInstanceOf(PgWardenError)
        expect(e.retryable).toBe(true)
        // refused while down, a broken connection, 'the database system is starting up', ...
        expect(['P1001', 'P1002', 'P1017', 'P2024', '57P01', '57P03', '08006']).toContain(e.code)
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      const stats = pool.getPoolStats().retries
      expect(stats.attempts).toBe(errors.length)
      expect(stats.succeededAfterRetry).toBe(1)
      expect(stats.exhausted).toBe(0)
    } finally {
      await pool.end()
    }
  })
})
