'use strict'
// Values sent: JavaScript parameters → PostgreSQL against a real server, type by type. Each value
// is checked as the server saw it (its text, length, md5, comparisons in the same statement) or
// as it reads back; values the server refuses reject with its SQLSTATE, and values that cannot
// be sent reject ERR_PGWARDEN_PARAMS before anything is sent. Values read: types-results.test.js.

const crypto = require('crypto')
const { Pool, PgWardenError } = require('..')
const { harness } = require('./harness')
const { failure } = require('./helpers/common')
const { typesDatabase, utc } = require('./helpers/types-database')

const types = typesDatabase('types_params')
let url
let pool
beforeAll(async () => {
  ({ url, pool } = await types.setUp())
})
afterAll(types.tearDown)
const { one } = types

async function expectPgError (promise, codes) {
  const err = await failure(promise)
  expect(err).toBeInstanceOf(PgWardenError)
  expect(err).toBeInstanceOf(Error)
  expect(codes).toContain(err.code)
  return err
}

// ---------------------------------------------------------------------------------------------
describe('numeric (lossless strings)', () => {
  test('numeric from a parameter keeps every digit', async () => {
    const big = '-123456789012345678901234567890.123456789012345678901234567890'
    const r = await one('SELECT $1::numeric AS v, $2::money_amount AS m, $3::numeric AS n', [big, '12.3', 0.1])
    expect(r).toEqual({ v: big, m: '12.30', n: '0.1' })
  })
})

// ---------------------------------------------------------------------------------------------
describe('text-like types', () => {
  test('empty string is not NULL', async () => {
    const r = await one("SELECT ''::text AS e, NULL::text AS n, ''::varchar AS ev, $1::text AS pe, $2::text AS pn, ($1::text IS NULL) AS pe_null", ['', null])
    expect(r).toEqual({ e: '', n: null, ev: '', pe: '', pn: null, pe_null: false })
  })

  const tricky = [
    ['emoji', '😀👍🏽🇫🇷'],
    ['CJK', '漢字かなカナ한국어'],
    ['combining marks', 'e\u0301 a\u0308\u0304 Z\u0351\u0363'],
    ['astral and BMP edge', '\u{10FFFF}\uFFFD\u2028\u2029\uFEFF'],
    ['quotes', `it's "quoted" \`back\``],
    ['backslashes', 'C:\\path\\to\\file \\\\ \\x00 \\n'],
    ['control characters', '\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f'],
    ['SQL-ish', "'; DROP TABLE inj; --"],
    ['placeholder text', '$1 $2 ? :name'],
    ['JSON-ish', '{"a":[1,2]}'],
    ['long', 'ab😀'.repeat(50000)]
  ]

  test.each(tricky)('%s round-trips as a parameter and as a literal', async (_name, s) => {
    const r = await one('SELECT $1::text AS p, $1::varchar AS vc, length($1::text) AS len, md5($1::text) AS md5', [s])
    expect(r.p).toBe(s)
    expect(r.vc).toBe(s)
    expect(r.len).toBe([...s].length)
    expect(r.md5).toBe(crypto.createHash('md5').update(s, 'utf8').digest('hex'))
    // A literal built by the server (no parameter) reads back the same.
    const lit = "'" + s.replace(/'/g, "''") + "'"
    if (s.length < 1000) expect((await one(`SELECT ${lit}::text AS v`)).v).toBe(s)
  })

  test('NUL in text is rejected by the server with a PgWardenError carrying the SQLSTATE', async () => {
    const e1 = await expectPgError(pool.query('SELECT $1::text AS v', ['a\u0000b']), ['22021', '22P05'])
    expect(typeof e1.message).toBe('string')
    await expectPgError(pool.query("SELECT '\"a\\u0000b\"'::jsonb AS v"), ['22021', '22P05'])
    await expectPgError(pool.query("SELECT E'a\\\\000b'::text, convert_from('\\x610062'::bytea, 'UTF8') AS v"), ['22021', '22P05'])
    // The pool is still usable afterwards.
    expect((await one('SELECT 1 AS x')).x).toBe(1)
  })
})

// ---------------------------------------------------------------------------------------------
describe('json / jsonb', () => {
  const doc = { a: 1, b: [1, 2.5, -3e-7, { c: null, d: [true, false] }], s: 'é😀"\\\n\t\u0001', nested: { deep: { deeper: [[], {}] } }, '': 'empty key' }

  test('plain objects as parameters to json and jsonb', async () => {
    const r = await one('SELECT $1::json AS j, $1::jsonb AS jb, $2::jsonb AS withdate, jsonb_typeof($1::jsonb) AS ty, ($1::jsonb)->>\'s\' AS s', [doc, { d: new Date(0), n: null }])
    expect(r.j).toEqual(doc)
    expect(r.jb).toEqual(doc)
    expect(r.withdate).toEqual({ d: '1970-01-01T00:00:00.000Z', n: null })
    expect(r.ty).toBe('object')
    expect(r.s).toBe(doc.s)
  })
})

// ---------------------------------------------------------------------------------------------
describe('bytea', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

  test('all 256 byte values round-trip as a Buffer parameter', async () => {
    const r = await one('SELECT $1::bytea AS b, length($1::bytea) AS len, md5($1::bytea) AS md5, get_byte($1::bytea, 255) AS last', [all])
    expect(Buffer.isBuffer(r.b)).toBe(true)
    expect(r.b.equals(all)).toBe(true)
    expect(r.len).toBe(256)
    expect(r.last).toBe(255)
    expect(r.md5).toBe(crypto.createHash('md5').update(all).digest('hex'))
  })

  test('Uint8Array parameters (including a view with an offset) and empty bytea', async () => {
    const backing = new Uint8Array([9, 9, 0, 1, 254, 255, 9])
    const view = backing.subarray(2, 6)
    const r = await one("SELECT $1::bytea AS u, $2::bytea AS v, ''::bytea AS e, $3::bytea AS pe, NULL::bytea AS n, $4::blob AS dom",
      [new Uint8Array([1, 2, 3]), view, Buffer.alloc(0), Buffer.from('hi')])
    expect(r.u.equals(Buffer.from([1, 2, 3]))).toBe(true)
    expect(r.v.equals(Buffer.from([0, 1, 254, 255]))).toBe(true)
    expect(Buffer.isBuffer(r.e) && r.e.length === 0).toBe(true)
    expect(Buffer.isBuffer(r.pe) && r.pe.length === 0).toBe(true)
    expect(r.n).toBe(null)
    expect(Buffer.isBuffer(r.dom) && r.dom.equals(Buffer.from('hi'))).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
describe('enums and domains', () => {
  test('enum and domain parameters', async () => {
    const r = await one('SELECT $1::mood AS e, $2::posint AS d, $3::mood[] AS ea', ['sad', 5, ['happy', 'so-so']])
    expect(r).toEqual({ e: 'sad', d: 5, ea: ['happy', 'so-so'] })
  })
})

// ---------------------------------------------------------------------------------------------
describe('arrays', () => {
  test('int[] parameter, text[] parameter with tricky strings, 2-D parameter, empty array parameter', async () => {
    const tricky = ['a,b', '{c}', '"q"', 'back\\slash', 'NULL', null, '', ' sp ', 'null', '😀', "'; DROP TABLE inj; --", '\\"', '}{', '\t\n']
    const r = await one(`SELECT $1::int4[] AS ints, $2::text[] AS texts, $3::int4[] AS two, array_dims($3::int4[]) AS dims,
      $4::int4[] AS empty, cardinality($4::int4[]) AS card, $5::int8[] AS bigs, $6::bool[] AS bools, $7::float8[] AS floats,
      $8::numeric[] AS nums`, [[1, -2, null, 2147483647], tricky, [[1, 2], [3, 4]], [], [1n, -9223372036854775808n], [true, false, null],
      [NaN, Infinity, -Infinity, 0.1], ['1.50', 2]])
    expect(r.ints).toEqual([1, -2, null, 2147483647])
    expect(r.texts).toEqual(tricky)
    expect(r.two).toEqual([[1, 2], [3, 4]])
    expect(r.dims).toBe('[1:2][1:2]')
    expect(r.empty).toEqual([])
    expect(r.card).toBe(0)
    expect(r.bigs).toEqual(['1', '-9223372036854775808'])
    expect(r.bools).toEqual([true, false, null])
    expect(r.floats).toEqual([NaN, Infinity, -Infinity, 0.1])
    expect(r.nums).toEqual(['1.50', '2'])
    // The server saw each element exactly (independent of how arrays are decoded).
    const { rows } = await pool.query('SELECT x, x IS NULL AS isnull FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n', [tricky])
    expect(rows.map((row) => row.x)).toEqual(tricky)
  })

  test('arrays of Dates, Buffers and objects as parameters', async () => {
    const dates = [new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678)), null, new Date(-1)]
    const bufs = [Buffer.from([0, 1, 2, 255]), Buffer.alloc(0), new Uint8Array([34, 92])]
    const r = await one('SELECT $1::timestamptz[] AS d, $2::bytea[] AS b, $3::jsonb[] AS j', [dates, bufs, [{ a: '"}' }, { b: [1, '{x}'] }]])
    expect(r.d).toEqual(dates)
    expect(r.b.map((x) => Buffer.isBuffer(x) && x.toString('hex'))).toEqual(['000102ff', '', '225c'])
    expect(r.j).toEqual([{ a: '"}' }, { b: [1, '{x}'] }])
  })
})

// ---------------------------------------------------------------------------------------------
describe('parameters', () => {
  test('null and undefined → NULL', async () => {
    const r = await one('SELECT $1::int4 AS a, $2::text AS b, $1::int4 IS NULL AS an, $2::text IS NULL AS bn', [null, undefined])
    expect(r).toEqual({ a: null, b: null, an: true, bn: true })
  })

  test('booleans', async () => {
    const r = await one('SELECT $1::bool AS t, $2::bool AS f, $1::bool AND NOT $2::bool AS both', [true, false])
    expect(r).toEqual({ t: true, f: false, both: true })
  })

  test('numbers, including NaN and ±Infinity into float8', async () => {
    const r = await one(`SELECT $1::int4 AS i, $2::float8 AS f, $3::float8 AS nan, $4::float8 AS inf, $5::float8 AS ninf, $6::float8 AS big,
      $7::int8 AS safe, $8::numeric AS num, $9::float8 AS tiny, $10::int2 AS neg`,
    [42, 0.1, NaN, Infinity, -Infinity, 1e308, Number.MAX_SAFE_INTEGER, 1.5, 5e-324, -32768])
    expect(r.i).toBe(42)
    expect(r.f).toBe(0.1)
    expect(r.nan).toBeNaN()
    expect(r.inf).toBe(Infinity)
    expect(r.ninf).toBe(-Infinity)
    expect(r.big).toBe(1e308)
    expect(r.safe).toBe('9007199254740991')
    expect(r.num).toBe('1.5')
    expect(r.tiny).toBe(5e-324)
    expect(r.neg).toBe(-32768)
  })

  test('-0 into float8 keeps its sign', async () => {
    const r = await one('SELECT $1::float8 AS z, $1::float8::text AS t', [-0])
    expect(r.t).toBe('-0')
    expect(Object.is(r.z, -0)).toBe(true)
  })

  test('bigint into int8', async () => {
    const r = await one('SELECT $1::int8 AS hi, $2::int8 AS lo, $1::int8 = 9223372036854775807 AS exact', [9223372036854775807n, -9223372036854775808n])
    expect(r).toEqual({ hi: '9223372036854775807', lo: '-9223372036854775808', exact: true })
  })

  test('strings into any type (the server parses them)', async () => {
    const r = await one(`SELECT $1::int4 AS i, $2::date AS d, $3::int4[] AS arr, $4::jsonb AS j, $5::bool AS b, $6::numeric AS n,
      $7::float8 AS f, $8::uuid AS u, $9::timestamptz AS ts, $10::interval AS iv, $11::inet AS ip, $12::bytea AS by, $13::mood AS e`,
    ['42', '2020-01-02', '{1,2,3}', '{"a":1}', 'true', '3.14', 'NaN', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2020-01-02 03:04:05.678+00',
      '1 day 2 hours', '10.0.0.1/8', '\\x00ff', 'happy'])
    expect(r.i).toBe(42)
    expect(r.d).toBe('2020-01-02')
    expect(r.arr).toEqual([1, 2, 3])
    expect(r.j).toEqual({ a: 1 })
    expect(r.b).toBe(true)
    expect(r.n).toBe('3.14')
    expect(r.f).toBeNaN()
    expect(r.u).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
    expect(r.ts.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    expect(r.iv).toBe('1 day 02:00:00')
    expect(r.ip).toBe('10.0.0.1/8')
    expect(r.by.equals(Buffer.from([0, 255]))).toBe(true)
    expect(r.e).toBe('happy')
  })

  test('an untyped parameter is text', async () => {
    const r = await pool.query('SELECT $1 AS v', [42])
    expect(r.rows[0].v).toBe('42')
    expect(r.fields[0].dataTypeID).toBe(25)
  })

  test('Date parameters into timestamptz, timestamp and date', async () => {
    const d = new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    const old = new Date(Date.UTC(1900, 5, 15, 23, 59, 59, 1))
    const r = await one('SELECT $1::timestamptz AS tz, $1::timestamp AS ts, $1::date AS d, $2::timestamptz AS old, $3::timestamptz AS neg', [d, old, new Date(-1)])
    expect(r.tz.getTime()).toBe(d.getTime())
    expect(r.ts.getTime()).toBe(d.getTime())
    expect(r.d).toBe('2020-01-02')
    expect(r.old.getTime()).toBe(old.getTime())
    expect(r.neg.getTime()).toBe(-1)
  })

  test('a Date read back from a BC timestamptz round-trips as a parameter', async () => {
    const bc = (await one("SELECT '0044-03-15 12:00:00+00 BC'::timestamptz AS v")).v
    expect(bc.getTime()).toBe(utc(-43, 2, 15, 12).getTime())
    const r = await one('SELECT $1::timestamptz AS v, $1::timestamptz = \'0044-03-15 12:00:00+00 BC\'::timestamptz AS same', [bc])
    expect(r.v.getTime()).toBe(bc.getTime())
    expect(r.same).toBe(true)
  })

  test('a Date after year 9999 round-trips as a parameter', async () => {
    const far = new Date(Date.UTC(10000, 0, 2, 3, 4, 5, 6))
    const r = await one("SELECT $1::timestamptz AS v, $1::timestamptz = '10000-01-02 03:04:05.006+00'::timestamptz AS same", [far])
    expect(r.v.getTime()).toBe(far.getTime())
    expect(r.same).toBe(true)
  })

  test('Buffer parameter', async () => {
    const b = Buffer.from('héllo\u0000\u00ff', 'utf8')
    const r = await one('SELECT $1::bytea AS v, length($1::bytea) AS n', [b])
    expect(r.v.equals(b)).toBe(true)
    expect(r.n).toBe(b.length)
  })

  test('SQL injection text stays data', async () => {
    const evil = ["'; DROP TABLE inj; --", '$1', "x'); DELETE FROM inj; --", '\\\'; SELECT 1; --', '$$; DROP TABLE inj; $$', 'E\'\\x27\'']
    for (const s of evil) {
      const r = await one('INSERT INTO inj (v) VALUES ($1) RETURNING id, v', [s])
      expect(r.v).toBe(s)
      const back = await one('SELECT v FROM inj WHERE id = $1', [r.id])
      expect(back.v).toBe(s)
    }
    const { rows } = await pool.query('SELECT v FROM inj ORDER BY id')
    expect(rows.map((x) => x.v)).toEqual(evil)
    const exists = await one("SELECT to_regclass('public.inj') IS NOT NULL AS e")
    expect(exists.e).toBe(true)
    const lit = await one("SELECT $1::text AS p, '$1' AS literal", ['$1'])
    expect(lit).toEqual({ p: '$1', literal: '$1' })
  })
})

// ---------------------------------------------------------------------------------------------
describe('ERR_PGWARDEN_PARAMS before anything is sent', () => {
  const circular = { a: 1 }
  circular.self = circular
  const circularArray = [1]
  circularArray.push(circularArray)

  const bad = [
    ['too many parameters', 'SELECT $1::int4 AS v', [1, 2]],
    ['too few parameters', 'SELECT $1::int4 AS a, $2::int4 AS b', [1]],
    ['parameters for a statement without placeholders', 'SELECT 1', [1]],
    ['no parameters for a placeholder', 'SELECT $1::text', undefined],
    ['a function', 'SELECT $1::text', [() => 1]],
    ['a Symbol', 'SELECT $1::text', [Symbol('s')]],
    ['a circular object', 'SELECT $1::jsonb', [circular]],
    ['a circular array', 'SELECT $1::int4[]', [circularArray]],
    ['a function inside an array', 'SELECT $1::text[]', [['a', () => 1]]],
    ['an invalid Date', 'SELECT $1::timestamptz', [new Date('nope')]],
    ['a BigInt inside an object', 'SELECT $1::jsonb', [{ n: 1n }]],
    ['values that is a string', 'SELECT $1::text', 'abc'],
    ['values that is a number', 'SELECT $1::int4', 42]
  ]

  test('each bad call rejects with ERR_PGWARDEN_PARAMS and the fresh pool never connects', async () => {
    const app = `typetest-${process.pid}-${Date.now().toString(36)}`
    const fresh = new Pool({ connectionString: url, applicationName: app, connectionLimit: 2, logger: false })
    const count = async () => Number((await harness().admin(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}'`))[0][0])
    try {
      for (const [name, sql, values] of bad) {
        const err = await failure(fresh.query(sql, values))
        expect({ name, isPgWardenError: err instanceof PgWardenError, code: err && err.code, kind: err && err.kind, retryable: err && err.retryable })
          .toEqual({ name, isPgWardenError: true, code: 'ERR_PGWARDEN_PARAMS', kind: 'params', retryable: false })
      }
      expect(await count()).toBe(0)
      expect(fresh.getPoolStats().connections.created).toBe(0)
      // The probe is meaningful: once a good query runs, the pool's connection is visible.
      expect((await fresh.query('SELECT $1::int4 AS v', [1])).rows).toEqual([{ v: 1 }])
      expect(await count()).toBeGreaterThanOrEqual(1)
    } finally {
      await fresh.end()
    }
  })

  test.each(bad)('%s (on the shared pool, which stays usable)', async (_name, sql, values) => {
    await expect(pool.query(sql, values)).rejects.toMatchObject({ code: 'ERR_PGWARDEN_PARAMS', kind: 'params' })
    await expect(pool.query(sql, values)).rejects.toBeInstanceOf(PgWardenError)
    expect((await one('SELECT 1 AS ok')).ok).toBe(1)
  })
})
