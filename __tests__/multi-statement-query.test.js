'use strict'
// `pool.query` with several statements and no parameters runs as pg runs it: the simple
// protocol, one implicit transaction, an array of results. Values read the same as from a
// single statement (binary format) and as pg returns them. With parameters it rejects before
// anything is sent, naming executeScript.

const pg = require('pg')
const { failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('multistmt')
let pgPool
beforeAll(async () => {
  pgPool = new pg.Pool({ connectionString: await db.create(), max: 1 })
  await pgPool.query(`
    CREATE EXTENSION hstore;
    CREATE TYPE mood AS ENUM ('sad', 'ok');
    CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
    CREATE TABLE marks (id int PRIMARY KEY)`)
})
afterAll(() => pgPool.end())
afterEach(db.endPools)
const { makePool } = db

const VALUES = `SELECT 1::int2 AS i2, -2::int4 AS i4, 9007199254740993::int8 AS i8, 1.5::float4 AS f4,
  'NaN'::float8 AS nan, '-Infinity'::float8 AS ninf, 1e100::float8 AS big, 12.50::numeric AS num,
  true AS yes, '{"a":[1,null]}'::json AS js, '{"b": 2}'::jsonb AS jsb, '\\x00ff'::bytea AS bin,
  '2024-02-29 13:14:15.123456+05:30'::timestamptz AS tstz, '1999-12-31 23:59:59.9995'::timestamp AS ts,
  '0044-03-15 12:00:00 BC'::timestamp AS bc, 'infinity'::timestamptz AS inf, '2024-01-02'::date AS d,
  '1 day 02:03:04'::interval AS iv, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id,
  ARRAY['a,b', NULL, 'c"d'] AS texts, '{{1,2},{3,NULL}}'::int4[] AS grid,
  ARRAY['2000-01-01 00:00:00+00'::timestamptz] AS stamps, ARRAY['\\x01'::bytea] AS bins,
  'ok'::mood AS m, 3::posint AS pi, 'a=>1'::hstore AS h, ARRAY['(1,1),(0,0)'::box, '(2,2),(1,1)'] AS boxes,
  NULL::int4 AS nothing`

describe('several statements without parameters', () => {
  test('give an array of results, one per statement, as pg does', async () => {
    const pool = makePool()
    const sql = 'SELECT 1 AS a; SELECT 2 AS b, 3 AS c UNION ALL SELECT 4, 5'
    const results = await pool.query(sql)
    expect(Array.isArray(results)).toBe(true)
    expect(results.map((r) => [r.command, r.rowCount, r.rows])).toEqual([
      ['SELECT', 1, [{ a: 1 }]],
      ['SELECT', 2, [{ b: 2, c: 3 }, { b: 4, c: 5 }]]
    ])
    const theirs = await pgPool.query(sql)
    expect(results.map((r) => r.rows)).toEqual(theirs.map((r) => r.rows))
    expect(results.map((r) => r.fields.map((f) => [f.name, f.dataTypeID])))
      .toEqual(theirs.map((r) => r.fields.map((f) => [f.name, f.dataTypeID])))
  })

  test('read every value as the same statement alone does, and as pg does', async () => {
    const pool = makePool()
    const alone = await pool.query(VALUES)
    const [first, second] = await pool.query(`SELECT 0 AS warmup; ${VALUES}`)
    expect(first.rows).toEqual([{ warmup: 0 }])
    expect(second.rows).toEqual(alone.rows)
    expect(second.fields).toEqual(alone.fields)
    expect(second.rows[0].tstz).toEqual(new Date('2024-02-29T07:44:15.123Z'))
    expect(second.rows[0].bins[0]).toEqual(Buffer.from([1]))
    // pg's own choices differ for date (a Date there, the text here): compared with the alone form only.
    const [, theirs] = await pgPool.query(`SELECT 0; ${VALUES}`)
    for (const k of ['i2', 'i4', 'i8', 'f4', 'num', 'yes', 'js', 'jsb', 'bin', 'tstz', 'id', 'texts', 'grid', 'stamps', 'm', 'pi', 'h', 'nothing']) {
      expect([k, second.rows[0][k]]).toEqual([k, theirs.rows[0][k]])
    }
  })

  test('report commands and row counts of DDL and DML as pg does', async () => {
    const pool = makePool()
    const sql = (t) => `CREATE TABLE ${t} (a int); INSERT INTO ${t} VALUES (1), (2); UPDATE ${t} SET a = a + 1; DELETE FROM ${t} WHERE a = 3; DROP TABLE ${t}`
    const ours = await pool.query(sql('counted_a'))
    const theirs = await pgPool.query(sql('counted_b'))
    expect(ours.map((r) => [r.command, r.rowCount])).toEqual(theirs.map((r) => [r.command, r.rowCount]))
    expect(ours.map((r) => r.command)).toEqual(['CREATE', 'INSERT', 'UPDATE', 'DELETE', 'DROP'])
  })

  test('run as one implicit transaction: a failing statement undoes the ones before it', async () => {
    const pool = makePool()
    const err = await failure(pool.query('INSERT INTO marks VALUES (1); SELECT 1 / 0'))
    expect(err.code).toBe('22012')
    expect((await pool.query('SELECT count(*)::int AS n FROM marks')).rows[0].n).toBe(0)
  })

  test('honour rowMode array, timeoutMs and transactions', async () => {
    const pool = makePool()
    const rows = (await pool.query({ text: 'SELECT 1 AS a, 2 AS b; SELECT 3', rowMode: 'array' })).map((r) => r.rows)
    expect(rows).toEqual([[[1, 2]], [[3]]])
    const timedOut = await failure(pool.query('SELECT 1; SELECT pg_sleep(5)', [], { timeoutMs: 300 }))
    expect([timedOut.code, timedOut.maybeCommitted]).toEqual(['P1008', false])
    const inTx = await pool.transaction((tx) => tx.query('SELECT 1 AS a; SELECT 2 AS b'))
    expect(inTx.map((r) => r.rows[0])).toEqual([{ a: 1 }, { b: 2 }])
  })

  test('a single statement with a trailing semicolon or comment stays one prepared statement', async () => {
    const pool = makePool()
    const r = await pool.query("SELECT $1::int AS n, ';' AS s; -- trailing ; comment\n;", [7])
    expect(r.rows).toEqual([{ n: 7, s: ';' }])
    const dollar = await pool.query('SELECT $$a;b$$ AS t, $1::text AS u', ['x'])
    expect(dollar.rows).toEqual([{ t: 'a;b', u: 'x' }])
  })
})

describe('several statements with parameters', () => {
  test('reject before anything is sent, naming executeScript', async () => {
    const pool = makePool()
    const err = await failure(pool.query('INSERT INTO marks VALUES (2); SELECT $1::int', [1]))
    expect(err.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(err.message).toMatch(/several statements/)
    expect(err.message).toMatch(/executeScript/)
    expect((await pgPool.query('SELECT count(*)::int AS n FROM marks WHERE id = 2')).rows[0].n).toBe(0)
  })
})
