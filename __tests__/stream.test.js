'use strict'
// pool.stream — rows in order, batchSize, rowMode, params, early exit releases and
// cancels, bounded memory, errors mid-stream.

const { PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, appNames, eventually, failure, poolsOnFreshDatabase } = require('./helpers/common')

const appName = appNames(`pgw_stream_${process.pid}`)
const h = harness()

const db = poolsOnFreshDatabase('stream')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

async function activeWith (tag) {
  const rows = await h.admin(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${tag}%' AND application_name <> 'pgwarden_harness'`)
  return Number(rows[0][0])
}

/**
 * Records how many rows each native batch returned (observes batchSize from outside the
 * iterator; relies on the pool's native stream handle exposing `next(batchSize)`).
 */
function recordBatches (pool) {
  const sizes = []
  const requested = []
  const orig = pool._native.stream.bind(pool._native)
  pool._native.stream = async (...args) => {
    const handle = await orig(...args)
    const next = handle.next.bind(handle)
    return {
      next: async (n) => {
        requested.push(n)
        const text = await next(n)
        sizes.push(JSON.parse(text).n) // rows in this batch (the wire format is column-major)
        return text
      },
      close: () => handle.close()
    }
  }
  return { sizes, requested }
}

describe('small results', () => {
  test('all rows in order, as objects', async () => {
    const pool = makePool({ applicationName: appName('order') })
    const rows = []
    for await (const row of pool.stream('SELECT g AS n, g::text AS t FROM generate_series(1, 1234) g ORDER BY g')) rows.push(row)
    expect(rows).toHaveLength(1234)
    expect(rows[0]).toEqual({ n: 1, t: '1' })
    expect(rows[1233]).toEqual({ n: 1234, t: '1234' })
    expect(rows.every((r, i) => r.n === i + 1)).toBe(true)
  })

  test('empty result', async () => {
    const pool = makePool({ applicationName: appName('empty') })
    const rows = []
    for await (const row of pool.stream('SELECT 1 AS a WHERE false')) rows.push(row)
    expect(rows).toEqual([])
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('batchSize is respected', async () => {
    const pool = makePool({ applicationName: appName('batch') })
    const { sizes, requested } = recordBatches(pool)
    const rows = []
    for await (const row of pool.stream('SELECT g FROM generate_series(1, 25) g', [], { batchSize: 10 })) rows.push(row.g)
    expect(rows).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
    expect(requested.every((n) => n === 10)).toBe(true)
    expect(sizes.slice(0, 3)).toEqual([10, 10, 5])
    expect(sizes.every((n) => n <= 10)).toBe(true)
  })

  test('batchSize 1 still yields every row', async () => {
    const pool = makePool({ applicationName: appName('batch1') })
    const { sizes } = recordBatches(pool)
    let n = 0
    for await (const row of pool.stream('SELECT g FROM generate_series(1, 7) g', [], { batchSize: 1 })) {
      expect(row.g).toBe(++n)
    }
    expect(n).toBe(7)
    expect(Math.max(...sizes)).toBe(1)
  })

  test('rowMode array', async () => {
    const pool = makePool({ applicationName: appName('array') })
    const rows = []
    for await (const row of pool.stream('SELECT g, g * 2 AS d FROM generate_series(1, 3) g', [], { rowMode: 'array', batchSize: 2 })) rows.push(row)
    expect(rows).toEqual([[1, 2], [2, 4], [3, 6]])
  })

  test('parameters', async () => {
    const pool = makePool({ applicationName: appName('params') })
    const rows = []
    for await (const row of pool.stream('SELECT g, $2::text AS label FROM generate_series(1, $1::int) g', [4, 'x'])) rows.push(row)
    expect(rows).toEqual([1, 2, 3, 4].map((g) => ({ g, label: 'x' })))
  })

  test('types are decoded as in query()', async () => {
    const pool = makePool({ applicationName: appName('types') })
    const sql = "SELECT 9007199254740993::int8 AS big, 1.5::numeric AS num, '{\"a\":1}'::jsonb AS j, true AS b, NULL::text AS n, '2024-01-02T03:04:05Z'::timestamptz AS ts"
    const rows = []
    for await (const row of pool.stream(sql)) rows.push(row)
    const q = await pool.query(sql)
    expect(rows).toEqual(q.rows)
    expect(rows[0]).toEqual({ big: '9007199254740993', num: '1.5', j: { a: 1 }, b: true, n: null, ts: new Date('2024-01-02T03:04:05Z') })
  })

  test('holds one connection while iterating, none after', async () => {
    const pool = makePool({ applicationName: appName('hold') })
    for await (const row of pool.stream('SELECT g FROM generate_series(1, 3) g', [], { batchSize: 1 })) {
      if (row.g === 2) expect(pool.getPoolStats().pool.active).toBe(1)
    }
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('wrong parameter count rejects ERR_PGWARDEN_PARAMS; a syntax error rejects 42601', async () => {
    const pool = makePool({ applicationName: appName('bad') })
    const consume = async (it) => { for await (const _ of it) {} } // eslint-disable-line no-unused-vars, no-empty -- drains the stream
    await expect(consume(pool.stream('SELECT $1::int', []))).rejects.toMatchObject({ code: 'ERR_PGWARDEN_PARAMS' })
    const err = await failure(consume(pool.stream('SELEC 1')))
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toMatchObject({ code: '42601', query: 'SELEC 1' })
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('after end(), stream rejects ERR_PGWARDEN_CLOSED', async () => {
    const pool = makePool()
    await pool.end()
    const it = pool.stream('SELECT 1')
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED', kind: 'closed' })
  })
})

describe('early exit', () => {
  test('break releases the connection, cancels the statement on the server; the pool keeps working', async () => {
    const app = appName('break')
    const pool = makePool({ applicationName: app, connectionLimit: 1, poolTimeoutMs: 3000 })
    const tag = `brk_${process.pid}`
    let n = 0
    for await (const row of pool.stream(`SELECT g /* ${tag} */ FROM generate_series(1, 50000000) g`, [], { batchSize: 100 })) {
      n++
      if (row.g === 150) break
    }
    expect(n).toBe(150)
    expect(pool.getPoolStats().pool.active).toBe(0)
    expect(await eventually(() => activeWith(tag), 0)).toBe(0)
    // connectionLimit 1: this only works if the connection came back (or was replaced).
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    const again = []
    for await (const row of pool.stream('SELECT g FROM generate_series(1, 3) g')) again.push(row.g)
    expect(again).toEqual([1, 2, 3])
  })

  test('throwing inside the loop releases too', async () => {
    const pool = makePool({ applicationName: appName('throw'), connectionLimit: 1, poolTimeoutMs: 3000 })
    await expect((async () => {
      for await (const row of pool.stream('SELECT g FROM generate_series(1, 1000000) g')) {
        if (row.g === 10) throw new Error('stop here')
      }
    })()).rejects.toThrow('stop here')
    expect(pool.getPoolStats().pool.active).toBe(0)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('backpressure: a paused consumer leaves the server waiting to write (ClientWrite)', async () => {
    const app = appName('bp')
    const pool = makePool({ applicationName: app })
    const tag = `bp_${process.pid}`
    const it = pool.stream(`SELECT g, repeat('x', 100) AS pad /* ${tag} */ FROM generate_series(1, 20000000) g`, [], { batchSize: 100 })[Symbol.asyncIterator]()
    const first = await it.next()
    expect(first.value.g).toBe(1)
    await sleep(300)
    const rows = await h.admin(`SELECT state, wait_event FROM pg_stat_activity WHERE application_name = '${app}'`)
    expect(rows).toEqual([['active', 'ClientWrite']])
    await it.return()
    expect(await eventually(() => activeWith(tag), 0)).toBe(0)
  })
})

describe('large results', () => {
  test('1,000,000 rows with bounded memory (RSS growth < 50 MB)', async () => {
    const pool = makePool({ applicationName: appName('big') })
    const gc = typeof global.gc === 'function' ? global.gc : () => {}
    gc()
    const base = process.memoryUsage().rss
    let peak = 0
    let n = 0
    let last = 0
    for await (const row of pool.stream('SELECT g, md5(g::text) AS h FROM generate_series(1, 1000000) g')) {
      n++
      if (row.g !== n) throw new Error(`row ${n} out of order: ${row.g}`)
      last = row.g
      if (n % 50000 === 0) {
        gc()
        peak = Math.max(peak, process.memoryUsage().rss - base)
      }
    }
    expect(n).toBe(1000000)
    expect(last).toBe(1000000)
    const mb = peak / 1024 / 1024
    console.log(`stream 1e6 rows: peak RSS growth ${mb.toFixed(1)} MB (gc ${typeof global.gc === 'function' ? 'exposed' : 'not exposed'})`)
    expect(mb).toBeLessThan(50)
    expect(pool.getPoolStats().pool.active).toBe(0)
  }, 60000)
})

describe('errors mid-stream', () => {
  test('division by zero at row 500 rejects the loop with 22012 after the rows before it', async () => {
    const pool = makePool({ applicationName: appName('err'), connectionLimit: 1, poolTimeoutMs: 3000 })
    const sql = 'SELECT 1/(g-500) AS v FROM generate_series(1,1000) g'
    const seen = []
    const err = await failure((async () => {
      for await (const row of pool.stream(sql, [], { batchSize: 100 })) seen.push(row.v)
    })())
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toMatchObject({ code: '22012', kind: 'data', query: sql })
    // Batches of 100: the 4 complete batches before row 500 arrive, the 5th fails.
    expect(seen.length).toBe(400)
    expect(seen[0]).toBe(0)
    expect(pool.getPoolStats().pool.active).toBe(0)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('with the default batch size too', async () => {
    const pool = makePool({ applicationName: appName('err2') })
    const consume = async () => { for await (const _ of pool.stream('SELECT 1/(g-500) FROM generate_series(1,1000) g')) {} } // eslint-disable-line no-unused-vars, no-empty -- drains the stream
    await expect(consume()).rejects.toMatchObject({ code: '22012' })
  })
})
