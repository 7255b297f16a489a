'use strict'
// Types without an exact binary decoder (contrib extensions, reg*, tsquery, snapshots, money,
// ranges and records) come back as PostgreSQL's own text, exactly what `pg` returns on the same
// server; arrays of them as arrays of their element texts. Both the named-statement path and
// the unnamed path (statementCacheSize 0, as behind PgBouncer) are checked.

const pg = require('pg')
const { poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('textfmt')
let pgPool
const pools = {}

beforeAll(async () => {
  pgPool = new pg.Pool({ connectionString: await db.create(), max: 2 })
  await pgPool.query(`
    CREATE EXTENSION hstore; CREATE EXTENSION ltree; CREATE EXTENSION cube;
    CREATE EXTENSION isn; CREATE EXTENSION citext; CREATE EXTENSION pg_trgm;
    CREATE DOMAIN tags AS hstore;
    CREATE TYPE pair AS (k text, v hstore);
    CREATE TABLE docs (id int PRIMARY KEY, attrs hstore, path ltree, box cube, isbn isbn13, name citext);
    INSERT INTO docs VALUES (1, 'a=>1, "b c"=>NULL', 'top.science.astronomy', '(1,2),(3,4)', '978-0-393-04002-9', 'MiXeD');
  `)
  pools.named = db.makePool({ connectionLimit: 2 })
  pools.unnamed = db.makePool({ connectionLimit: 2, statementCacheSize: 0 })
})

afterAll(async () => {
  await Promise.all([pgPool.end(), db.endPools()])
})

const SCALARS = [
  ["'a=>1, \"b c\"=>NULL'::hstore"],
  ["'a.b.c'::ltree"],
  ["'*.b.*'::lquery"],
  ["'(1,2),(3,4)'::cube"],
  ["'978-0-393-04002-9'::isbn13"],
  ["'0-393-04002-X'::isbn"],
  ["'MiXeD'::citext"],
  ["'fat & (rat | !cat)'::tsquery"],
  ["'pg_class'::regclass"],
  ["'int4'::regtype"],
  ["'now'::regproc"],
  ["'int4pl(int4,int4)'::regprocedure"],
  ["'pg_catalog'::regnamespace"],
  ["'english'::regconfig"],
  ['txid_current_snapshot()'],
  ['pg_current_snapshot()'],
  ["'12.34'::money"],
  ["'a=>1'::tags"],
  ["ROW(1, 'a=>1'::hstore)"],
  ["ROW('k', 'x=>y')::pair"],
  ['int4range(1, 10)'],
  ["show_trgm('cat')"],
  ["similarity('word', 'two words')"]
]

const ARRAYS = [
  ["ARRAY['a=>1'::hstore, 'b=>\"x,y\"', NULL]"],
  ["ARRAY['a.b'::ltree, 'c']"],
  ["ARRAY[ARRAY['(1)'::cube], ARRAY['(2,3)'::cube]]"],
  ["ARRAY['a=>1'::tags]"],
  ["ARRAY[ROW('k', 'x=>y')::pair]"],
  ["'{}'::hstore[]"]
]

/** The value of `expr` as `pool` returns it. */
async function valueOf (pool, expr) {
  return (await pool.query(`SELECT ${expr} AS v`)).rows[0].v
}

describe.each(['named', 'unnamed'])('%s statements', (path) => {
  test.each(SCALARS)('%s is the text pg returns', async (expr) => {
    const want = await valueOf(pgPool, expr)
    const got = await valueOf(pools[path], expr)
    // Snapshots move between two calls: compare their shape, and the rest exactly.
    if (/snapshot/.test(expr)) expect(got).toMatch(/^\d+:\d+:(\d+(,\d+)*)?$/)
    else expect(got).toEqual(want)
  })

  test.each(ARRAYS)('%s is an array of the element texts pg returns', async (expr) => {
    const text = await valueOf(pgPool, expr) // pg leaves arrays of types it does not know as text
    const want = typeof text === 'string' ? pg.types.arrayParser.create(text, (s) => s).parse() : text
    expect(await valueOf(pools[path], expr)).toEqual(want)
  })

  test('table columns of extension types, with fields and their type OIDs', async () => {
    const sql = 'SELECT id, attrs, path, box, isbn, name FROM docs'
    const [want, got] = await Promise.all([pgPool.query(sql), pools[path].query(sql)])
    expect(got.rows).toEqual(want.rows)
    expect(got.fields.map((f) => [f.name, f.dataTypeID])).toEqual(want.fields.map((f) => [f.name, f.dataTypeID]))
  })

  test('a result with no rows still names its columns', async () => {
    const r = await pools[path].query('SELECT attrs, path FROM docs WHERE false')
    expect(r.fields.map((f) => f.name)).toEqual(['attrs', 'path'])
    expect(r.rows).toEqual([])
  })

  test('binary and text columns side by side keep their JavaScript types', async () => {
    const r = await pools[path].query("SELECT 1::int4 AS i, 'a=>1'::hstore AS h, now() AS t, ARRAY[1,2] AS a, 'x'::citext AS c, '\\x01'::bytea AS b")
    const row = r.rows[0]
    expect(row.i).toBe(1)
    expect(row.h).toBe('"a"=>"1"')
    expect(row.t).toBeInstanceOf(Date)
    expect(row.a).toEqual([1, 2])
    expect(row.c).toBe('x')
    expect(row.b).toEqual(Buffer.from([1]))
  })

  test('ranges and records follow the session TimeZone', async () => {
    const client = await pools[path].acquire()
    try {
      await client.query("SET TimeZone = 'America/New_York'")
      const r = (await client.query("SELECT tstzrange('2020-01-01 00:00+00', '2020-01-02 12:30+00') AS r, ROW('2020-01-01 00:00+00'::timestamptz) AS rec")).rows[0]
      expect(r.r).toBe('["2019-12-31 19:00:00-05","2020-01-02 07:30:00-05")')
      expect(r.rec).toBe('("2019-12-31 19:00:00-05")')
    } finally {
      await client.query('RESET ALL')
      client.release()
    }
  })
})

test('streamed rows of extension types are the same text', async () => {
  const rows = []
  for await (const row of pools.named.stream('SELECT attrs, ARRAY[path] AS paths FROM docs')) rows.push(row)
  expect(rows).toEqual([{ attrs: '"a"=>"1", "b c"=>NULL', paths: ['top.science.astronomy'] }])
})
