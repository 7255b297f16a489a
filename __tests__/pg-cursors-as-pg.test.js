'use strict'
// pg's submittable protocol through pgwarden/pg: the real pg-cursor and pg-query-stream (what
// Knex, TypeORM, Kysely and MikroORM stream with) and pg's own Query, run through pg and
// through pgwarden/pg on the same server, compared step by step. A cursor holds its client's
// connection: what the client is asked after it runs after it, an early close keeps the
// connection, and rows arrive as the server's text for pg's parsers.

const pg = require('pg')
const Cursor = require('pg-cursor')
const QueryStream = require('pg-query-stream')
const compat = require('../lib/pg')
const { poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgcursors')
beforeAll(db.create)

/** Runs `steps(client, driver)` on a client of a pool of `driver`; its result. */
async function onClient (driver, steps) {
  const pool = new driver.Pool({ connectionString: db.url, max: 2 })
  const client = await pool.connect()
  try {
    return await steps(client, driver)
  } finally {
    client.release()
    await pool.end()
  }
}

/** The same steps through pg and through pgwarden/pg: [pg's, pgwarden/pg's]. */
const both = (steps) => Promise.all([onClient(pg, steps), onClient(compat, steps)])

const TYPED = `SELECT g, g::text || $1 AS t, $2::timestamptz AS ts, '2024-06-01 12:34:56.123456'::timestamp AS local,
  (g * 3000000000)::int8 AS big, ARRAY[g, g + 1] AS arr, '{"a": [1, 2]}'::jsonb AS doc, '\\x0102'::bytea AS bin
  FROM generate_series(1, 7) g`

test("a cursor's reads, in batches, give pg's rows; then it is done", async () => {
  const [theirs, ours] = await both(async (client) => {
    const cursor = client.query(new Cursor(TYPED, ['x', new Date('2024-01-02T03:04:05.678Z')]))
    return [await cursor.read(3), await cursor.read(10), await cursor.read(10)]
  })
  expect(ours).toEqual(theirs)
  expect(ours.map((r) => r.length)).toEqual([3, 4, 0])
})

test('pg-query-stream streams every row, as pg', async () => {
  const [theirs, ours] = await both(async (client) => {
    const rows = []
    for await (const r of client.query(new QueryStream('SELECT g FROM generate_series(1, 2500) g', [], { batchSize: 100 }))) rows.push(r.g)
    return rows
  })
  expect(ours).toEqual(theirs)
  expect(ours).toHaveLength(2500)
})

test('what the client is asked after a cursor runs after it; an early close keeps the connection', async () => {
  const [theirs, ours] = await both(async (client) => {
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 1000000) g'))
    const after = client.query('SELECT 2 AS two') // asked while the cursor holds the connection
    const first = await cursor.read(5)
    await cursor.close()
    const samePid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid === pid
    return { first: first.length, after: (await after).rows, samePid }
  })
  expect(ours).toEqual(theirs)
  expect(ours).toEqual({ first: 5, after: [{ two: 2 }], samePid: true })
})

test("a cursor's server error reaches read() as pg's; the client goes on", async () => {
  const [theirs, ours] = await both(async (client) => {
    const e = await client.query(new Cursor('SELEC 1')).read(1).catch((err) => err)
    return { error: String(e), code: e.code, next: (await client.query('SELECT 3 AS three')).rows }
  })
  expect(ours).toEqual(theirs)
  expect(ours.code).toBe('42601')
})

test("pg's Query emits 'row' per row and 'end', as pg's", async () => {
  const [theirs, ours] = await both(async (client, driver) => {
    const query = client.query(new driver.Query('SELECT 1 AS x UNION ALL SELECT 2'))
    const rows = []
    query.on('row', (r) => rows.push(r))
    const result = await new Promise((resolve) => query.on('end', resolve))
    return { rows, rowCount: result.rowCount }
  })
  expect(ours).toEqual(theirs)
})

test('a null query is a TypeError from the client, as pg', async () => {
  const [theirs, ours] = await both(async (client) => {
    try {
      client.query(null)
    } catch (e) {
      return `${e.name}: ${e.message}`
    }
  })
  expect(ours).toEqual(theirs)
})
