'use strict'
// COPY as Node streams: copyFrom (a Writable) and copyTo (a Readable), on the pool, on a held
// client and inside a transaction; text, CSV and binary; a bad row and an abort leave nothing
// committed and a usable pool.

const { Readable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { failure, poolsOnFreshDatabase } = require('./helpers/common')
const { harness } = require('./harness')
const { exec } = require('../lib/cluster')

const db = poolsOnFreshDatabase('copystreams', {
  setupSql: 'CREATE TABLE points (id int PRIMARY KEY, label text, score numeric); CREATE TABLE points_copy (LIKE points);'
})
beforeAll(db.create)
afterEach(db.endPools)
beforeEach(async () => {
  const p = db.makePool()
  await p.executeScript('TRUNCATE points, points_copy')
})

const N = 1000000
/** CSV lines of `n` rows, in chunks of 1,000 rows. */
function * csvRows (n, from = 1) {
  for (let i = from; i < from + n; i += 1000) {
    let chunk = ''
    for (let j = i; j < Math.min(i + 1000, from + n); j++) chunk += `${j},"point, ${j}",${j}.5\n`
    yield chunk
  }
}
const collect = async (readable) => {
  const parts = []
  for await (const b of readable) parts.push(b)
  return Buffer.concat(parts)
}
const summary = async (pool, table = 'points') =>
  (await pool.query(`SELECT count(*)::int AS n, sum(score)::text AS s, max(label) AS m FROM ${table}`)).rows[0]

test('1M rows: CSV in through pipeline, CSV out byte for byte as psql \\copy writes it', async () => {
  const pool = db.makePool({ connectionLimit: 2 })
  const sink = pool.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)')
  await pipeline(Readable.from(csvRows(N)), sink)
  expect(sink.rowCount).toBe(N)
  expect(await summary(pool)).toEqual({ n: N, s: '500001000000.0', m: 'point, 999999' })
  const copyOut = 'COPY (SELECT * FROM points ORDER BY id) TO STDOUT WITH (FORMAT csv)'
  const out = await collect(pool.copyTo(copyOut))
  expect(out.equals(Buffer.from([...csvRows(N)].join('')))).toBe(true)
  const psql = await exec(harness().psqlPath, ['-X', '-q', '-d', db.url, '-c', `\\${copyOut.replace('COPY', 'copy')}`], { timeoutMs: 120000 })
  expect(out.equals(Buffer.from(psql.stdout))).toBe(true)
  expect(pool.getPoolStats().pool.active).toBe(0)
})

test('binary format round trip between tables; text format too', async () => {
  const pool = db.makePool()
  await pipeline(Readable.from(csvRows(5000)), pool.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)'))
  const binary = await collect(pool.copyTo('COPY points TO STDOUT WITH (FORMAT binary)'))
  expect(binary.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0')
  const sink = pool.copyFrom('COPY points_copy FROM STDIN WITH (FORMAT binary)')
  await pipeline(Readable.from([binary]), sink)
  expect(sink.rowCount).toBe(5000)
  expect(await summary(pool, 'points_copy')).toEqual(await summary(pool))
  const text = (await collect(pool.copyTo("COPY (SELECT 1 AS a, 'x\ty' AS b) TO STDOUT"))).toString()
  expect(text).toBe('1\tx\\ty\n')
})

test('a bad row: its error names its line, nothing committed, the pool of 1 still works', async () => {
  const pool = db.makePool({ connectionLimit: 1 })
  const rows = ['1,a,1\n', '2,b,2\n', '3,c,not a number\n']
  const err = await failure(pipeline(Readable.from(rows), pool.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)')))
  expect(err.code).toBe('22P02')
  expect(err.where || err.message).toMatch(/line 3/)
  expect(await summary(pool)).toEqual({ n: 0, s: null, m: null })
})

test('destroyed in the middle: the COPY is aborted, nothing committed, the pool still works', async () => {
  const pool = db.makePool({ connectionLimit: 1 })
  const sink = pool.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)')
  const errors = []
  sink.on('error', (e) => errors.push(e.message))
  await new Promise((resolve) => sink.write([...csvRows(2000)].join(''), resolve))
  sink.destroy(new Error('the upload was cancelled'))
  await new Promise((resolve) => sink.on('close', resolve))
  expect(errors).toEqual(['the upload was cancelled'])
  expect(await summary(pool)).toEqual({ n: 0, s: null, m: null })
  const reader = pool.copyTo('COPY (SELECT g FROM generate_series(1, 1000000) g) TO STDOUT')
  for await (const chunk of reader) { void chunk; break } // eslint-disable-line no-unreachable-loop, no-void -- one chunk, then stop reading early
  expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
})

test('inside a transaction: rolled back with it; on a held client', async () => {
  const pool = db.makePool()
  await failure(pool.transaction(async (tx) => {
    await pipeline(Readable.from(csvRows(100)), tx.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)'))
    expect((await tx.query('SELECT count(*)::int AS n FROM points')).rows[0].n).toBe(100)
    throw new Error('undo')
  }))
  expect((await summary(pool)).n).toBe(0)
  const client = await pool.acquire()
  try {
    await pipeline(Readable.from(csvRows(10)), client.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)'))
    expect((await collect(client.copyTo('COPY (SELECT count(*) FROM points) TO STDOUT'))).toString()).toBe('10\n')
  } finally {
    client.release()
  }
})

test('copyFrom/copyTo take only the COPY they stream', async () => {
  const pool = db.makePool()
  const err = await failure(collect(pool.copyTo('SELECT 1')))
  expect(err.code).toBe('ERR_PGWARDEN_PARAMS')
  expect(err.message).toMatch(/COPY … TO STDOUT/)
})

describe('bounded like any statement', () => {
  test('timeoutMs: a COPY TO whose data does not come is cancelled on the server (P1008)', async () => {
    const pool = db.makePool({ connectionLimit: 1 })
    const err = await failure(collect(pool.copyTo('COPY (SELECT pg_sleep(5)) TO STDOUT', { timeoutMs: 300 })))
    expect(err).toMatchObject({ code: 'P1008', maybeCommitted: false })
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('signal: aborting a COPY FROM in the middle stops it with the reason as cause; nothing committed', async () => {
    const pool = db.makePool({ connectionLimit: 1 })
    const controller = new AbortController()
    async function * slowly () {
      yield [...csvRows(1000)].join('')
      controller.abort(new Error('user left'))
      yield [...csvRows(1000, 1001)].join('')
    }
    const err = await failure(pipeline(Readable.from(slowly()), pool.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)', { signal: controller.signal })))
    expect(err.code).toBe('57014')
    expect(err.cause && err.cause.message).toBe('user left')
    expect(await summary(pool)).toEqual({ n: 0, s: null, m: null })
  })

  test('a timeoutMs that is not a non-negative number is refused at once', () => {
    const pool = db.makePool()
    expect(() => pool.copyTo('COPY points TO STDOUT', { timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_PGWARDEN_PARAMS' }))
  })
})

test('counted like any statement: stats, and query events with the row count', async () => {
  const pool = db.makePool()
  const seen = []
  pool.on('query', (e) => seen.push([e.query, e.rowCount]))
  const before = pool.getPoolStats().queries.queriesExecuted
  await pipeline(Readable.from(csvRows(300)), pool.copyFrom('COPY points FROM STDIN WITH (FORMAT csv)'))
  await collect(pool.copyTo('COPY points TO STDOUT'))
  expect(pool.getPoolStats().queries.queriesExecuted - before).toBe(2)
  expect(seen).toEqual([['COPY points FROM STDIN WITH (FORMAT csv)', 300], ['COPY points TO STDOUT', null]])
})

test('backpressure: a slow reader of ~100 MB from COPY TO keeps memory bounded (data is read only as fast as consumed)', async () => {
  const pool = db.makePool()
  const retained = () => { global.gc(); return process.memoryUsage().rss }
  const base = retained()
  let peak = 0
  let bytes = 0
  let chunks = 0
  const reader = pool.copyTo("COPY (SELECT g, repeat('x', 200) FROM generate_series(1, 500000) g) TO STDOUT")
  for await (const chunk of reader) {
    bytes += chunk.length
    if (++chunks % 100 === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20)) // a slow consumer
      peak = Math.max(peak, retained() - base)
    }
  }
  expect(bytes).toBeGreaterThan(100e6)
  console.log(`copyTo ${Math.round(bytes / 2 ** 20)} MB: peak retained RSS growth ${(peak / 2 ** 20).toFixed(1)} MB`)
  expect(peak / 2 ** 20).toBeLessThan(40)
})
