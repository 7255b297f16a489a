'use strict'
// A statement has one lifecycle: a query, a stream and a COPY, failed or not, are reported the
// same way once they end. A slow one always reaches a `slowQuery` listener or, without one, the
// default "Slow query detected" warning, exactly as a slow successful query does; a fast one is
// reported only to `query` listeners.

const { Readable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { sleep, failure, poolsOnFreshDatabase, recordingLogger } = require('./helpers/common')

const db = poolsOnFreshDatabase('lifecycle', { setupSql: 'CREATE TABLE nums (n int);' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

const THRESHOLD = 100
// Sleeps 0.3 s, then divides by zero at run time (a constant 1/0 would fail while planning).
const SLOW_FAILURE = 'SELECT pg_sleep(0.3), (random() * 0)::int / 0 AS boom'
const SLOW_SUCCESS = 'SELECT pg_sleep(0.3), 1 AS one'

/** Every row of a stream, in an array. */
async function drain (iterable) {
  const rows = []
  for await (const row of iterable) rows.push(row)
  return rows
}

/** Everything a Readable gives, then its end. */
async function collect (readable) {
  const parts = []
  for await (const b of readable) parts.push(b)
  return Buffer.concat(parts)
}

/** A COPY FROM whose data comes in two parts 0.3 s apart, the second `last`. */
function slowUpload (pool, last) {
  async function * parts () {
    yield '1\n'
    await sleep(300)
    yield last
  }
  return pipeline(Readable.from(parts()), pool.copyFrom('COPY nums FROM STDIN'))
}

// Each kind of statement, run slow: `ok` succeeds, `failing` rejects with `code`.
const KINDS = {
  query: {
    sql: SLOW_FAILURE,
    okSql: SLOW_SUCCESS,
    ok: (pool) => pool.query(SLOW_SUCCESS),
    failing: (pool) => pool.query(SLOW_FAILURE),
    code: '22012'
  },
  'query on a held client': {
    sql: SLOW_FAILURE,
    okSql: SLOW_SUCCESS,
    ok: (pool) => onClient(pool, (c) => c.query(SLOW_SUCCESS)),
    failing: (pool) => onClient(pool, (c) => c.query(SLOW_FAILURE)),
    code: '22012'
  },
  stream: {
    sql: SLOW_FAILURE,
    okSql: SLOW_SUCCESS,
    ok: (pool) => drain(pool.stream(SLOW_SUCCESS)),
    failing: (pool) => drain(pool.stream(SLOW_FAILURE)),
    code: '22012'
  },
  copyTo: {
    sql: `COPY (${SLOW_FAILURE}) TO STDOUT`,
    okSql: `COPY (${SLOW_SUCCESS}) TO STDOUT`,
    ok: (pool) => collect(pool.copyTo(`COPY (${SLOW_SUCCESS}) TO STDOUT`)),
    failing: (pool) => collect(pool.copyTo(`COPY (${SLOW_FAILURE}) TO STDOUT`)),
    code: '22012'
  },
  copyFrom: {
    sql: 'COPY nums FROM STDIN',
    okSql: 'COPY nums FROM STDIN',
    ok: (pool) => slowUpload(pool, '2\n'),
    failing: (pool) => slowUpload(pool, 'not a number\n'),
    code: '22P02'
  }
}

async function onClient (pool, fn) {
  const client = await pool.acquire()
  try {
    return await fn(client)
  } finally {
    client.release()
  }
}

/** The `Slow query detected` warnings a recording logger got. */
const slowWarnings = (logger) => logger.calls.warn.filter((m) => m.startsWith('Slow query detected'))

describe.each(Object.keys(KINDS))('a slow %s', (name) => {
  const kind = KINDS[name]

  test('failed, without listeners: the default warning, as for a slow success', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: THRESHOLD, logger })
    await kind.ok(pool)
    const err = await failure(kind.failing(pool))
    expect(err.code).toBe(kind.code)
    const warned = slowWarnings(logger)
    expect(warned).toHaveLength(2)
    expect(warned[0]).toMatch(/^Slow query detected \(\d+ms\): /)
    expect(warned[0].replace(/^Slow query detected \(\d+ms\): /, '')).toBe(kind.okSql)
    expect(warned[1]).toMatch(/^Slow query detected \(\d+ms\): /)
    expect(warned[1].replace(/^Slow query detected \(\d+ms\): /, '')).toBe(kind.sql)
    for (const line of warned) expect(Number(/\((\d+)ms\)/.exec(line)[1])).toBeGreaterThanOrEqual(THRESHOLD)
  })

  test('failed, with only a slowQuery listener: one event shaped as a success\'s, no warning', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: THRESHOLD, logger })
    const seen = []
    pool.on('slowQuery', (e) => seen.push(e))
    await kind.ok(pool)
    await failure(kind.failing(pool))
    expect(seen).toHaveLength(2)
    const [ok, failed] = seen
    expect(Object.keys(failed).sort()).toEqual(Object.keys(ok).sort())
    expect(ok.query).toBe(kind.okSql)
    expect(failed.query).toBe(kind.sql)
    expect(failed.durationMs).toBeGreaterThanOrEqual(THRESHOLD)
    expect(failed.duration).toBe(Math.round(failed.durationMs))
    expect(slowWarnings(logger)).toEqual([])
  })
})

describe('fast statements', () => {
  test('a fast failure is neither logged nor a slowQuery event; a query listener hears it once', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 10000, logger })
    const slow = []
    pool.on('slowQuery', (e) => slow.push(e))
    await failure(pool.query('SELECT 1/0'))
    await failure(drain(pool.stream('SELECT (random() * 0)::int / 0')))
    await failure(collect(pool.copyTo('COPY (SELECT (random() * 0)::int / 0) TO STDOUT')))
    expect(slow).toEqual([])
    const seen = []
    pool.on('query', (e) => seen.push(e))
    const err = await failure(pool.query('SELECT 1/0'))
    expect(seen).toHaveLength(1)
    expect(seen[0].error).toBe(err)
    expect(seen[0].rowCount).toBeNull()
    expect(slowWarnings(logger)).toEqual([])
  })

  test('without listeners, fast statements of every kind log nothing', async () => {
    const logger = recordingLogger()
    const pool = makePool({ slowQueryThresholdMs: 10000, logger })
    await pool.query('SELECT 1')
    await failure(pool.query('SELECT 1/0'))
    await drain(pool.stream('SELECT 1'))
    await collect(pool.copyTo('COPY (SELECT 1) TO STDOUT'))
    await pipeline(Readable.from(['3\n']), pool.copyFrom('COPY nums FROM STDIN'))
    expect(logger.calls.warn).toEqual([])
  })
})

describe('an aborted statement', () => {
  test('a slow query aborted by its signal: 57014 with the reason as cause, reported slow', async () => {
    const pool = makePool({ slowQueryThresholdMs: THRESHOLD })
    const seen = []
    const slow = []
    pool.on('query', (e) => seen.push(e))
    pool.on('slowQuery', (e) => slow.push(e))
    const controller = new AbortController()
    const reason = new Error('stop')
    setTimeout(() => controller.abort(reason), 200)
    const err = await failure(pool.query('SELECT pg_sleep(5)', [], { signal: controller.signal }))
    expect(err).toMatchObject({ code: '57014', cause: reason })
    expect(seen).toHaveLength(1)
    expect(seen[0].error).toBe(err)
    expect(slow).toHaveLength(1)
    expect(slow[0].query).toBe('SELECT pg_sleep(5)')
  })
})

describe('a signal already aborted', () => {
  test('query, stream and COPY reject 57014 with its reason, send nothing, and are reported as failed', async () => {
    const pool = makePool()
    const seen = []
    pool.on('query', (e) => seen.push(e))
    const reason = new Error('gone')
    const signal = AbortSignal.abort(reason)
    const errors = [
      await failure(pool.query('SELECT 1', [], { signal })),
      await failure(drain(pool.stream('SELECT 2', [], { signal }))),
      (() => { try { pool.copyTo('COPY (SELECT 3) TO STDOUT', { signal }) } catch (e) { return e } })()
    ]
    for (const e of errors) expect(e).toMatchObject({ code: '57014', kind: 'cancelled', cause: reason })
    expect(seen.map((e) => [e.query, e.error])).toEqual([['SELECT 1', errors[0]], ['SELECT 2', errors[1]], ['COPY (SELECT 3) TO STDOUT', errors[2]]])
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(0)
  })
})
