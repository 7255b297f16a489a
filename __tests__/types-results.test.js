'use strict'
// Values read: PostgreSQL → JavaScript against a real server, type by type, and the shape of a
// result (rows, fields, command, rowCount, streamed rows). Every assertion is on an exact value;
// where the documented form is "PostgreSQL's text form", the expected value is the server's own
// `::text` of the same value, computed in the same query. Values sent: types-params.test.js;
// types without an exact binary decoder, against pg: types-text-format.test.js.

const pg = require('pg')
const { Pool } = require('..')
const { typesDatabase, utc } = require('./helpers/types-database')

const types = typesDatabase('types_results')
let url
let pool
beforeAll(async () => {
  ({ url, pool } = await types.setUp())
})
afterAll(types.tearDown)
const { one, withText } = types

// ---------------------------------------------------------------------------------------------
describe('bool, integers, oid', () => {
  test('bool: true, false, NULL', async () => {
    const r = await one('SELECT true AS t, false AS f, NULL::bool AS n')
    expect(r).toEqual({ t: true, f: false, n: null })
  })

  test('int2 bounds', async () => {
    const r = await one('SELECT (-32768)::int2 AS lo, 32767::int2 AS hi, 0::int2 AS z')
    expect(r).toEqual({ lo: -32768, hi: 32767, z: 0 })
    expect(typeof r.lo).toBe('number')
  })

  test('int4 bounds', async () => {
    const r = await one('SELECT (-2147483648)::int4 AS lo, 2147483647::int4 AS hi, (-1)::int4 AS m')
    expect(r).toEqual({ lo: -2147483648, hi: 2147483647, m: -1 })
    expect(typeof r.hi).toBe('number')
  })

  test('oid: 0 and 4294967295 (unsigned)', async () => {
    const r = await one("SELECT 0::oid AS z, 4294967295::oid AS hi, 2147483648::oid AS mid, 'pg_class'::regclass::oid AS c")
    expect(r).toEqual({ z: 0, hi: 4294967295, mid: 2147483648, c: 1259 })
  })

  test("int8 default ('string'): bounds as exact strings", async () => {
    const r = await one('SELECT (-9223372036854775808)::int8 AS lo, 9223372036854775807::int8 AS hi, 0::int8 AS z, count(*) AS c FROM (VALUES (1), (2), (3)) v(x)')
    expect(r).toEqual({ lo: '-9223372036854775808', hi: '9223372036854775807', z: '0', c: '3' })
  })

  test("int8 'bigint' and 'number' options", async () => {
    const sql = 'SELECT (-9223372036854775808)::int8 AS lo, 9223372036854775807::int8 AS hi, 9007199254740993::int8 AS odd, ' +
      '0::int8 AS z, ARRAY[1, NULL, -9223372036854775808]::int8[] AS arr, 5::big AS dom, $1::int8 AS p'
    const pb = new Pool({ connectionString: url, connectionLimit: 1, int8: 'bigint', logger: false })
    const pn = new Pool({ connectionString: url, connectionLimit: 1, int8: 'number', logger: false })
    const ps = new Pool({ connectionString: url, connectionLimit: 1, int8: 'string', logger: false })
    try {
      const b = (await pb.query(sql, [9223372036854775807n])).rows[0]
      expect(b).toEqual({
        lo: -9223372036854775808n,
        hi: 9223372036854775807n,
        odd: 9007199254740993n,
        z: 0n,
        arr: [1n, null, -9223372036854775808n],
        dom: 5n,
        p: 9223372036854775807n
      })
      expect(typeof b.hi).toBe('bigint')

      const n = (await pn.query(sql, ['-12'])).rows[0]
      expect(n).toEqual({
        lo: Number('-9223372036854775808'),
        hi: Number('9223372036854775807'),
        odd: Number('9007199254740993'),
        z: 0,
        arr: [1, null, Number('-9223372036854775808')],
        dom: 5,
        p: -12
      })
      expect(typeof n.hi).toBe('number')

      const s = (await ps.query(sql, [1n])).rows[0]
      expect(s).toEqual({
        lo: '-9223372036854775808',
        hi: '9223372036854775807',
        odd: '9007199254740993',
        z: '0',
        arr: ['1', null, '-9223372036854775808'],
        dom: '5',
        p: '1'
      })
    } finally {
      await Promise.all([pb.end(), pn.end(), ps.end()])
    }
  })
})

// ---------------------------------------------------------------------------------------------
describe('float4 / float8', () => {
  test('float8 special and edge values', async () => {
    const r = await one(`SELECT 'NaN'::float8 AS nan, 'Infinity'::float8 AS inf, '-Infinity'::float8 AS ninf,
      '-0'::float8 AS negz, 0::float8 AS z, 1e308::float8 AS big, '5e-324'::float8 AS tiny, 0.1::float8 AS tenth,
      '1.7976931348623157e308'::float8 AS max, '-2.2250738585072014e-308'::float8 AS minnorm, 123456789012345678::float8 AS i`)
    expect(r.nan).toBeNaN()
    expect(r.inf).toBe(Infinity)
    expect(r.ninf).toBe(-Infinity)
    expect(Object.is(r.negz, -0)).toBe(true)
    expect(Object.is(r.z, 0)).toBe(true)
    expect(r.big).toBe(1e308)
    expect(r.tiny).toBe(5e-324)
    expect(r.tenth).toBe(0.1)
    expect(r.max).toBe(Number.MAX_VALUE)
    expect(r.minnorm).toBe(-2.2250738585072014e-308)
    expect(r.i).toBe(123456789012345680)
  })

  test('float4 special and edge values', async () => {
    const r = await one(`SELECT 'NaN'::float4 AS nan, 'Infinity'::float4 AS inf, '-Infinity'::float4 AS ninf,
      '-0'::float4 AS negz, 0.1::float4 AS tenth, '3.4028235e38'::float4 AS max, 1.5::float4 AS h, '1e-45'::float4 AS tiny`)
    expect(r.nan).toBeNaN()
    expect(r.inf).toBe(Infinity)
    expect(r.ninf).toBe(-Infinity)
    expect(Object.is(r.negz, -0)).toBe(true)
    expect(r.tenth).toBe(0.1)
    expect(r.max).toBe(3.4028235e38)
    expect(r.h).toBe(1.5)
    expect(r.tiny).toBe(1e-45)
  })

  test.each([
    'NaN', 'Infinity', '-Infinity', '-0', '0', '0.1', '1e308', '5e-324', '-1.5', '1e15', '1e-5', '123.456', '2.5e-310'
  ])('float8 %s equals Number(its server text)', async (lit) => {
    const r = await withText(`'${lit}'::float8`)
    expect(typeof r.v).toBe('number')
    expect(Object.is(r.v, Number(r.text))).toBe(true)
  })

  test.each(['0.1', '3.4028235e38', '1e-45', '-0', '16777217', '1.1', '0.3'])('float4 %s equals Number(its server text)', async (lit) => {
    const r = await withText(`'${lit}'::float4`)
    expect(typeof r.v).toBe('number')
    expect(Object.is(r.v, Number(r.text))).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
describe('numeric (lossless strings)', () => {
  test('explicit values', async () => {
    const r = await one(`SELECT 1e-30::numeric AS tiny, 1234567890123456789012345678901234567890::numeric AS forty,
      -12.345::numeric AS neg, 'NaN'::numeric AS nan, 'Infinity'::numeric AS inf, '-Infinity'::numeric AS ninf,
      1.500::numeric(10,3) AS trailing, 0::numeric AS zero, 0.000::numeric AS zeros, 1.5::numeric(10,0) AS rounded,
      100000000::numeric AS hundredm, 0.0001::numeric AS small, '-0.00012300'::numeric AS negsmall,
      1e100::numeric AS googol, 12345678.90123456789::numeric AS mixed`)
    expect(r).toEqual({
      tiny: '0.000000000000000000000000000001',
      forty: '1234567890123456789012345678901234567890',
      neg: '-12.345',
      nan: 'NaN',
      inf: 'Infinity',
      ninf: '-Infinity',
      trailing: '1.500',
      zero: '0',
      zeros: '0.000',
      rounded: '2',
      hundredm: '100000000',
      small: '0.0001',
      negsmall: '-0.00012300',
      googol: '1' + '0'.repeat(100),
      mixed: '12345678.90123456789'
    })
  })

  test.each([
    '0', '-0', '1', '-1', '9999', '10000', '10001', '0.5', '-0.5', '123456789.987654321', '1e-30', '1e30', '-1.00000000000000000001',
    '99999999999999999999999999999999999999.99999999999999999999', '0.00000001', 'NaN', 'Infinity', '-Infinity', '1.500', '2.5e-5'
  ])('numeric %s equals its server text', async (lit) => {
    const r = await withText(`'${lit}'::numeric`)
    expect(r.v).toBe(r.text)
  })
})

// ---------------------------------------------------------------------------------------------
describe('text-like types', () => {
  test('text, varchar, bpchar (padded), name, xml, "char", domain over text, enum', async () => {
    const r = await one(`SELECT 'abc'::text AS t, 'abc'::varchar(10) AS vc, 'ab'::char(5) AS bp, 'x'::char AS c1,
      'pg_class'::name AS nm, repeat('x', 100)::name AS longname, '<a b="1">t</a>'::xml AS x, 'q'::"char" AS ch,
      'hello'::short_text AS dom, 'so-so'::mood AS en, $1::char(4) AS bpparam`, ['ab'])
    expect(r).toEqual({
      t: 'abc',
      vc: 'abc',
      bp: 'ab   ',
      c1: 'x',
      nm: 'pg_class',
      longname: 'x'.repeat(63),
      x: '<a b="1">t</a>',
      ch: 'q',
      dom: 'hello',
      en: 'so-so',
      bpparam: 'ab  '
    })
  })

  test('enum labels with spaces, quotes and commas, and arrays of them', async () => {
    const r = await one(`SELECT 'q"uote'::weird AS q, enum_range(NULL::weird) AS all, ARRAY['c,omma', NULL, 'NULL']::weird[] AS arr`)
    expect(r).toEqual({
      q: 'q"uote',
      all: ['a b', 'q"uote', 'c,omma', 'ünï', 'NULL'],
      arr: ['c,omma', null, 'NULL']
    })
  })
})

// ---------------------------------------------------------------------------------------------
describe('json / jsonb', () => {
  const doc = { a: 1, b: [1, 2.5, -3e-7, { c: null, d: [true, false] }], s: 'é😀"\\\n\t\u0001', nested: { deep: { deeper: [[], {}] } }, '': 'empty key' }

  test('nested objects and arrays, from literals', async () => {
    const lit = JSON.stringify(doc).replace(/'/g, "''")
    const r = await one(`SELECT '${lit}'::json AS j, '${lit}'::jsonb AS jb`)
    expect(r.j).toEqual(doc)
    expect(r.jb).toEqual(doc)
  })

  test('numbers, scalars, json null vs SQL NULL', async () => {
    const r = await one(`SELECT '1.50'::json AS n1, '1.5e3'::jsonb AS n2, '-0'::json AS nz, '12345678901234567890'::json AS bigj,
      '"str"'::json AS s, 'true'::jsonb AS t, 'null'::json AS jnull, 'null'::jsonb AS jbnull, NULL::jsonb AS sqlnull,
      ('null'::jsonb IS NULL) AS jnull_is_sql_null, '[]'::jsonb AS ea, '{}'::json AS eo`)
    expect(r).toEqual({
      n1: 1.5,
      n2: 1500,
      nz: -0,
      bigj: 12345678901234567890, // eslint-disable-line no-loss-of-precision -- JSON numbers arrive as doubles
      s: 'str',
      t: true,
      jnull: null,
      jbnull: null,
      sqlnull: null,
      jnull_is_sql_null: false,
      ea: [],
      eo: {}
    })
  })

  test('unicode escapes', async () => {
    const r = await one(String.raw`SELECT '{"a":"\u00e9\ud83d\ude00","b":"\"q\"\\","c":"\u0000"}'::json AS j, '{"a":"\u00e9\ud83d\ude00","b":"\u001f"}'::jsonb AS jb`)
    expect(r.j).toEqual({ a: 'é😀', b: '"q"\\', c: '\u0000' })
    expect(r.jb).toEqual({ a: 'é😀', b: '\u001f' })
  })

  test.each([
    '{"a":1,"a":2}', '[1,"two",null,{"x":[]}]', '{"k":1e400}', '{"f":0.1}', '"\\u2028"', '{"b":2,"aa":1,"a":3}'
  ])('json and jsonb %s equal JSON.parse of their server text', async (lit) => {
    const r = await one(`SELECT j, j::text AS jt, jb, jb::text AS jbt FROM (SELECT '${lit}'::json AS j, '${lit}'::jsonb AS jb) s`)
    expect(r.j).toEqual(JSON.parse(r.jt))
    expect(r.jb).toEqual(JSON.parse(r.jbt))
  })

  test('arrays of json and jsonb', async () => {
    const r = await one(`SELECT ARRAY['{"a":1}'::json, '[1,2]'::json, NULL, '"s"'::json] AS ja,
      ARRAY['{"a":{"b":[null]}}'::jsonb, 'null'::jsonb] AS jba, $1::jsonb[] AS pa`, [[{ x: 'a"b' }, { y: [1, 'c,d}'] }, null]])
    expect(r.ja).toEqual([{ a: 1 }, [1, 2], null, 's'])
    expect(r.jba).toEqual([{ a: { b: [null] } }, null])
    expect(r.pa).toEqual([{ x: 'a"b' }, { y: [1, 'c,d}'] }, null])
  })
})

// ---------------------------------------------------------------------------------------------
describe('bytea', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

  test('bytea built by the server reads back as the same bytes', async () => {
    const r = await one("SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex') AS b FROM generate_series(0, 255) i")
    expect(Buffer.isBuffer(r.b)).toBe(true)
    expect(r.b.equals(all)).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
describe('dates and times', () => {
  test('timestamptz → Date (exact ms), with offsets', async () => {
    const r = await one(`SELECT '2020-01-02 03:04:05.678+00'::timestamptz AS a, '2020-01-02 08:34:05.678+05:30'::timestamptz AS b,
      '2000-01-01 00:00:00+00'::timestamptz AS pgepoch, '1970-01-01 00:00:00+00'::timestamptz AS unixepoch, 'epoch'::timestamptz AS ep`)
    for (const k of ['a', 'b']) {
      expect(r[k]).toBeInstanceOf(Date)
      expect(r[k].getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    }
    expect(r.pgepoch.getTime()).toBe(Date.UTC(2000, 0, 1))
    expect(r.unixepoch.getTime()).toBe(0)
    expect(r.ep.getTime()).toBe(0)
  })

  test('timestamp (without time zone) is read as UTC', async () => {
    const r = await one("SELECT '2020-01-02 03:04:05.678'::timestamp AS a, '1999-12-31 23:59:59.999'::timestamp AS b")
    expect(r.a).toBeInstanceOf(Date)
    expect(r.a.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    expect(r.b.getTime()).toBe(Date.UTC(1999, 11, 31, 23, 59, 59, 999))
  })

  test('microseconds are truncated to milliseconds (after and before the epochs)', async () => {
    const r = await one(`SELECT '2020-01-02 03:04:05.678999+00'::timestamptz AS a, '2020-01-02 03:04:05.678999'::timestamp AS b,
      '1969-12-31 23:59:59.999999+00'::timestamptz AS c, '1999-12-31 23:59:59.9995'::timestamp AS d, '2000-01-01 00:00:00.000001'::timestamp AS e`)
    expect(r.a.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    expect(r.b.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    expect(r.c.getTime()).toBe(Date.UTC(1969, 11, 31, 23, 59, 59, 999))
    expect(r.d.getTime()).toBe(Date.UTC(1999, 11, 31, 23, 59, 59, 999))
    expect(r.e.getTime()).toBe(Date.UTC(2000, 0, 1))
  })

  test("'infinity' / '-infinity' timestamps are strings", async () => {
    const r = await one(`SELECT 'infinity'::timestamptz AS a, '-infinity'::timestamptz AS b, 'infinity'::timestamp AS c, '-infinity'::timestamp AS d,
      ARRAY['infinity'::timestamptz, '2020-01-01 00:00:00+00', NULL] AS arr`)
    expect(r.a).toBe('infinity')
    expect(r.b).toBe('-infinity')
    expect(r.c).toBe('infinity')
    expect(r.d).toBe('-infinity')
    expect(r.arr).toEqual(['infinity', new Date(Date.UTC(2020, 0, 1)), null])
  })

  test('timestamps before 1970 and BC', async () => {
    const r = await one(`SELECT '1900-01-01 00:00:00+00'::timestamptz AS a, '1066-10-14 09:00:00'::timestamp AS b,
      '0044-03-15 12:00:00+00 BC'::timestamptz AS c, '0001-01-01 00:00:00 BC'::timestamp AS d, '4713-01-01 00:00:00+00 BC'::timestamptz AS e`)
    expect(r.a.getTime()).toBe(Date.UTC(1900, 0, 1))
    expect(r.b.getTime()).toBe(Date.UTC(1066, 9, 14, 9))
    expect(r.c.getTime()).toBe(utc(-43, 2, 15, 12).getTime())
    expect(r.d.getTime()).toBe(utc(0, 0, 1).getTime())
    expect(r.e.getTime()).toBe(utc(-4712, 0, 1).getTime())
  })

  test("date → 'YYYY-MM-DD' (BC, infinity, far future)", async () => {
    const r = await one(`SELECT '2020-02-29'::date AS a, '1969-07-20'::date AS b, '0044-03-15 BC'::date AS c, '0001-01-01'::date AS d,
      '0001-12-31 BC'::date AS e, 'infinity'::date AS f, '-infinity'::date AS g, '10000-01-01'::date AS h, $1::date AS p`, ['2024-12-31'])
    expect(r).toEqual({
      a: '2020-02-29',
      b: '1969-07-20',
      c: '0044-03-15 BC',
      d: '0001-01-01',
      e: '0001-12-31 BC',
      f: 'infinity',
      g: '-infinity',
      h: '10000-01-01',
      p: '2024-12-31'
    })
  })

  test.each([
    '2020-02-29', '1969-07-20', '0044-03-15 BC', '4713-01-01 BC', '5874897-12-31', '0001-01-01', '1999-12-31', '2000-01-01', 'infinity', '-infinity'
  ])('date %s equals its server text', async (lit) => {
    const r = await withText(`'${lit}'::date`)
    expect(r.v).toBe(r.text)
  })

  test.each([
    '00:00:00', '23:59:59.999999', '12:34:56.5', '24:00:00', '00:00:00.000001', '01:02:03.1'
  ])('time %s equals its server text', async (lit) => {
    const r = await withText(`'${lit}'::time`)
    expect(r.v).toBe(r.text)
  })

  test.each([
    '12:34:56+05:30', '00:00:00-08', '23:59:59.999999+14', '12:00:00-03:30:15', '24:00:00+00', '06:07:08.9-00:30'
  ])('timetz %s equals its server text', async (lit) => {
    const r = await withText(`'${lit}'::timetz`)
    expect(r.v).toBe(r.text)
  })

  test.each([
    '1 year 2 months 3 days 04:05:06.789', '-1 year -2 mons +3 days -04:05:06', '00:00:00', '1 day -01:00:00', '-1 days',
    '3 mons', '-00:00:00.000001', '100 hours', '1.5 years', '-1 year', '1 mon -1 days', '-1 mons +1 days', '178000000 years',
    '-178000000 years', '2562047788 hours', '-2 days +03:00:00', '1 year -1 mons'
  ])('interval %s equals its server text', async (lit) => {
    const r = await withText(`'${lit}'::interval`)
    expect(r.v).toBe(r.text)
  })

  test('time, timetz and interval exact strings', async () => {
    const r = await one("SELECT '12:34:56.789'::time AS t, '12:34:56+05:30'::timetz AS tz, '1 day -01:00:00'::interval AS i, '0'::interval AS z")
    expect(r).toEqual({ t: '12:34:56.789', tz: '12:34:56+05:30', i: '1 day -01:00:00', z: '00:00:00' })
  })

  test('date and timestamptz do not depend on the session TimeZone or DateStyle', async () => {
    const c = await pool.acquire()
    try {
      await c.query("SET TimeZone = 'America/New_York'")
      await c.query("SET DateStyle = 'German, DMY'")
      const r = (await c.query("SELECT '2020-01-02 03:04:05.678+00'::timestamptz AS a, '2020-02-29'::date AS d, '2020-01-02 03:04:05.678'::timestamp AS b")).rows[0]
      expect(r.a.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
      expect(r.b.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
      expect(r.d).toBe('2020-02-29')
    } finally {
      await c.query('RESET ALL').catch(() => {})
      c.release()
    }
  })

  test('text form of a tstzrange follows the session TimeZone', async () => {
    const c = await pool.acquire()
    try {
      await c.query("SET TimeZone = 'America/New_York'")
      const r = (await c.query("SELECT v, format('%s', v) AS text FROM (SELECT tstzrange('2020-01-01 00:00:00+00', '2020-01-02 12:30:00+00') AS v) s")).rows[0]
      expect(r.v).toBe(r.text)
    } finally {
      await c.query('RESET ALL').catch(() => {})
      c.release()
    }
  })
})

// ---------------------------------------------------------------------------------------------
describe('uuid and network types → their server text', () => {
  test.each([
    ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"],
    ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid"],
    ["'{a0eebc999c0b4ef8bb6d6bb9bd380a11}'::uuid"],
    ["'00000000-0000-0000-0000-000000000000'::uuid"],
    ["'192.168.0.1'::inet"],
    ["'192.168.0.1/24'::inet"],
    ["'10.0.0.0/8'::inet"],
    ["'0.0.0.0/0'::inet"],
    ["'255.255.255.255'::inet"],
    ["'::1'::inet"],
    ["'::'::inet"],
    ["'2001:db8::1/64'::inet"],
    ["'2001:0db8:0000:0000:0001:0000:0000:0001'::inet"],
    ["'fe80::1:2:3:4'::inet"],
    ["'::ffff:1.2.3.4'::inet"],
    ["'::1.2.3.4'::inet"],
    ["'1::'::inet"],
    ["'10.0.0.0/8'::cidr"],
    ["'192.168.1'::cidr"],
    ["'2001:db8::/32'::cidr"],
    ["'::/0'::cidr"],
    ["'10.1.2.3/32'::cidr"],
    ["'08:00:2b:01:02:03'::macaddr"],
    ["'08-00-2B-01-02-03'::macaddr"],
    ["'08:00:2b:01:02:03:04:05'::macaddr8"],
    ["'08:00:2b:01:02:03'::macaddr8"]
  ])('%s', async (expr) => {
    const r = await withText(expr)
    expect(typeof r.v).toBe('string')
    expect(r.v).toBe(r.text)
  })

  test('exact strings', async () => {
    const r = await one("SELECT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS u, '192.168.0.1/24'::inet AS i, '::1'::inet AS i6, '10.0.0.0/8'::cidr AS c, '08-00-2B-01-02-03'::macaddr AS m")
    expect(r).toEqual({ u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', i: '192.168.0.1/24', i6: '::1', c: '10.0.0.0/8', m: '08:00:2b:01:02:03' })
  })
})

// ---------------------------------------------------------------------------------------------
describe('enums and domains', () => {
  test('enum → its label, domains → their base type mapping', async () => {
    const r = await one(`SELECT 'happy'::mood AS e, 7::posint AS di, 12.5::money_amount AS dn, '2020-01-02 03:04:05.678+00'::stamp AS dt,
      '\\x00ff'::blob AS db, 'NaN'::real_num AS df, 'x'::short_text AS dtx, ARRAY[1, NULL, 3]::int_list AS dl,
      ARRAY['happy', 'sad']::mood[] AS ea, ARRAY[1, 2]::posint[] AS da`)
    expect(r.e).toBe('happy')
    expect(r.di).toBe(7)
    expect(r.dn).toBe('12.50')
    expect(r.dt).toBeInstanceOf(Date)
    expect(r.dt.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678))
    expect(Buffer.isBuffer(r.db) && r.db.equals(Buffer.from([0, 255]))).toBe(true)
    expect(r.df).toBeNaN()
    expect(r.dtx).toBe('x')
    expect(r.dl).toEqual([1, null, 3])
    expect(r.ea).toEqual(['happy', 'sad'])
    expect(r.da).toEqual([1, 2])
  })
})

// ---------------------------------------------------------------------------------------------
describe('arrays', () => {
  test('1-D, 2-D, 3-D, with NULLs, empty, non-1 lower bound', async () => {
    const r = await one(`SELECT ARRAY[1, 2, 3] AS a1, '{{1,2},{3,4}}'::int4[] AS a2, '{{{1,2},{3,4}},{{5,6},{7,NULL}}}'::int4[] AS a3,
      ARRAY[NULL, 1, NULL]::int4[] AS an, ARRAY[NULL]::int4[] AS onlynull, '{}'::int4[] AS e, '{}'::text[] AS et,
      '[0:2]={1,2,3}'::int4[] AS lb, '{{NULL,NULL},{NULL,NULL}}'::int2[] AS allnull, ARRAY[true, false, NULL] AS bools,
      ARRAY[1.5, NULL, -0.001]::numeric[] AS nums, ARRAY['2020-01-01', '0044-03-15 BC']::date[] AS dates,
      ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']::uuid[] AS uuids, ARRAY['1 day', '-00:00:01']::interval[] AS ivs,
      ARRAY['a'::char(3), NULL] AS bp`)
    expect(r).toEqual({
      a1: [1, 2, 3],
      a2: [[1, 2], [3, 4]],
      a3: [[[1, 2], [3, 4]], [[5, 6], [7, null]]],
      an: [null, 1, null],
      onlynull: [null],
      e: [],
      et: [],
      lb: [1, 2, 3],
      allnull: [[null, null], [null, null]],
      bools: [true, false, null],
      nums: ['1.5', null, '-0.001'],
      dates: ['2020-01-01', '0044-03-15 BC'],
      uuids: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
      ivs: ['1 day', '-00:00:01'],
      bp: ['a  ', null]
    })
  })

  test('text[] with quotes, commas, braces, backslashes, NULL-like strings', async () => {
    const r = await one(String.raw`SELECT ARRAY['a,b', '{c}', '"q"', 'back\slash', 'NULL', NULL, '', ' sp ', 'null', 'ünï 😀', E'tab\there'] AS a,
      '{"x\"y","z\\w",NULL,"NULL"}'::text[] AS b, '{{"a,b","c"},{"}","{"}}'::varchar[] AS c`)
    expect(r.a).toEqual(['a,b', '{c}', '"q"', 'back\\slash', 'NULL', null, '', ' sp ', 'null', 'ünï 😀', 'tab\there'])
    expect(r.b).toEqual(['x"y', 'z\\w', null, 'NULL'])
    expect(r.c).toEqual([['a,b', 'c'], ['}', '{']])
  })

  test('timestamptz[] → Dates, bytea[] → Buffers, float8[] with NaN', async () => {
    const r = await one(`SELECT ARRAY['2020-01-02 03:04:05.678+00'::timestamptz, NULL, '1969-12-31 23:59:59.999+00'] AS ts,
      ARRAY['2020-01-02 03:04:05.678'::timestamp] AS tsn, '{{"2020-01-01 00:00:00+00"},{"2021-01-01 00:00:00+00"}}'::timestamptz[] AS ts2,
      ARRAY['\\x00ff'::bytea, ''::bytea, NULL] AS by, ARRAY['NaN', 'Infinity', '-Infinity', '-0', '1.5', NULL]::float8[] AS fl,
      ARRAY['NaN', '0.1']::float4[] AS f4`)
    expect(r.ts).toEqual([new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678)), null, new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999))])
    expect(r.ts[0]).toBeInstanceOf(Date)
    expect(r.tsn).toEqual([new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678))])
    expect(r.ts2).toEqual([[new Date(Date.UTC(2020, 0, 1))], [new Date(Date.UTC(2021, 0, 1))]])
    expect(r.by).toHaveLength(3)
    expect(Buffer.isBuffer(r.by[0]) && r.by[0].equals(Buffer.from([0, 255]))).toBe(true)
    expect(Buffer.isBuffer(r.by[1]) && r.by[1].length === 0).toBe(true)
    expect(r.by[2]).toBe(null)
    expect(r.fl).toEqual([NaN, Infinity, -Infinity, -0, 1.5, null])
    expect(Object.is(r.fl[3], -0)).toBe(true)
    expect(r.f4).toEqual([NaN, 0.1])
  })

  test('arrays of composites and ranges are arrays of their text forms', async () => {
    const r = await one(`SELECT a, ARRAY(SELECT a[i]::text FROM generate_subscripts(a, 1) i ORDER BY i) AS texts,
      ra, ARRAY(SELECT ra[i]::text FROM generate_subscripts(ra, 1) i ORDER BY i) AS rtexts
      FROM (SELECT ARRAY[ROW(1, 'a b', 1.5, true)::comp, NULL, ROW(NULL, '', NULL, false)::comp] AS a,
                   ARRAY[int4range(1, 5), 'empty'::int4range] AS ra) s`)
    expect(r.a).toEqual(r.texts)
    expect(r.ra).toEqual(r.rtexts)
  })

  test.each([
    ['ARRAY[point(1.5, 2), NULL, point(1e-5, -0.25)]'],
    ["ARRAY['(0,1)'::tid, '(2,3)'::tid]"],
    ["ARRAY['1234.5'::money, '-1'::money]"],
    ["ARRAY[B'101'::varbit, B'']"]
  ])('%s is an array of its elements\' text forms', async (expr) => {
    const r = await one(`SELECT a, ARRAY(SELECT format('%s', a[i]) FROM generate_subscripts(a, 1) i ORDER BY i) AS texts,
      ARRAY(SELECT a[i] IS NULL FROM generate_subscripts(a, 1) i ORDER BY i) AS nulls FROM (SELECT ${expr} AS a) s`)
    expect(r.a).toEqual(r.texts.map((t, i) => (r.nulls[i] ? null : t)))
  })
})

// ---------------------------------------------------------------------------------------------
describe('any other type → its PostgreSQL text form', () => {
  test.each([
    ['point(1.5, -2)'],
    ["'(1e-05,0.1)'::point"],
    ["'(-0,1e+20)'::point"],
    ["'1234.56'::money"],
    ["'-1234567.89'::money"],
    ["'0'::money"],
    ['int4range(1, 10)'],
    ["'(,5]'::int4range"],
    ["'empty'::int4range"],
    ["'(,)'::int4range"],
    ["numrange(1.5, 2.50, '[]')"],
    ["tsrange('2020-01-01 00:00:00', '2020-01-02 12:30:00.5')"],
    ["tsrange(NULL, 'infinity')"],
    ["tstzrange('2020-01-01 00:00:00+00', '2020-01-02 00:00:00+00')"],
    ["daterange('2020-01-01', '2020-02-01')"],
    ['int8range(-9223372036854775808, 9223372036854775807)'],
    ["textrange('a\"b', 'c d')"],
    ["ROW(1, 'a b', 1.5, true)::comp"],
    ["ROW(NULL, '', NULL, NULL)::comp"],
    ["ROW(2, 'x,y(z)', -0.5, false)::comp"],
    ["ROW(3, 'say \"hi\"', 1, true)::comp"],
    ["ROW(4, 'back\\slash', 1, true)::comp"],
    ["ROW(ROW(1, 'in ner', 2, true)::comp, 'lbl', ARRAY[1,2], '2020-01-01 00:00:00+00'::timestamptz, '\\x00ff'::bytea)::comp_outer"],
    ["ROW(1, 'a b', NULL)"],
    ["ROW(1::int8, 2.5::float8, 'x'::text, true, '2020-01-01'::date, '{1,2}'::int4[], NULL::text)"],
    ["ROW(ROW(1, 'nested anon'), 'z')"],
    ["ROW(1, 'happy'::mood)"],
    ["ROW('-0'::float8, 1e-5::float8, 'NaN'::float8, 1e16::float8, 123456789012345678::float8)"],
    ['ROW(0.1::float4, 1.1::float4)'],
    ["ROW(E'line\\nbreak', E'bell\\x07')"],
    ["ROW('{\"a\": [1, 2]}'::jsonb, '{\"b\" : 1}'::json, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '1 day'::interval)"],
    ["'<?xml version=\"1.0\"?><a>x</a>'::xml"],
    ["B'101'::bit(3)"],
    ["B'1010101010'::varbit"],
    ["''::varbit"],
    ["'16/B374D848'::pg_lsn"],
    ["'0/0'::pg_lsn"],
    ["'a fat cat sat on a mat'::tsvector"],
    ["to_tsvector('simple', 'The quick brown fox')"],
    ["'((0,0),(1,1))'::box"],
    ["'<(1,2),3>'::circle"],
    ["'[(0,0),(1,1)]'::lseg"],
    ["'{1,-1,0}'::line"],
    ["'((0,0),(1,1),(2,0))'::polygon"],
    ["'[(0,0),(1,1)]'::path"],
    ["'(0,1)'::tid"],
    ["'42'::xid"],
    ['int4multirange(int4range(1, 3), int4range(5, 7))'],
    ["'\\x00ff'::bytea::text"]
  ])('%s', async (expr) => {
    const r = await withText(expr)
    expect(r.v).toBe(r.text)
  })

  // Types without a binary decoder are asked for in text format: the server's own text.
  test.each([
    ["ROW(1, ROW(1, 'named', 2, true)::comp)"],
    ["ROW(1::posint, 'x'::short_text)"],
    ["'fat & (rat | cat)'::tsquery"],
    ["'pg_class'::regclass"],
    ["'int4'::regtype"],
    ["'now'::regproc"],
  ])('text format: %s', async (expr) => {
    const r = await withText(expr)
    expect(r.v).toBe(r.text)
  })
})

// ---------------------------------------------------------------------------------------------
describe('result shape', () => {
  test("rowMode: 'array'", async () => {
    const r = await pool.query("SELECT 1 AS a, 'x' AS a, '2020-01-01 00:00:00+00'::timestamptz AS t, '\\x01'::bytea AS b, 'NaN'::float8 AS f, NULL AS n FROM generate_series(1, 2)",
      [], { rowMode: 'array' })
    expect(r.rows).toHaveLength(2)
    for (const row of r.rows) {
      expect(Array.isArray(row)).toBe(true)
      expect(row).toHaveLength(6)
      expect(row[0]).toBe(1)
      expect(row[1]).toBe('x')
      expect(row[2]).toBeInstanceOf(Date)
      expect(row[2].getTime()).toBe(Date.UTC(2020, 0, 1))
      expect(Buffer.isBuffer(row[3]) && row[3].equals(Buffer.from([1]))).toBe(true)
      expect(row[4]).toBeNaN()
      expect(row[5]).toBe(null)
    }
    expect(r.fields.map((f) => f.name)).toEqual(['a', 'a', 't', 'b', 'f', 'n'])
    // Object mode: the last of duplicate names wins, as in pg.
    expect((await one("SELECT 1 AS a, 'x' AS a")).a).toBe('x')
  })

  test('fields: name and dataTypeID', async () => {
    const moodOid = Number((await one("SELECT 'mood'::regtype::oid AS o")).o)
    const r = await pool.query(`SELECT 1::int4 AS i, 'x'::text AS t, 1::int8 AS b, true AS bo, now() AS ts, '{}'::jsonb AS j, 1::numeric AS n,
      'happy'::mood AS e, ARRAY[1] AS ai, NULL AS u, '\\x'::bytea AS by, 1.5::float8 AS f, CURRENT_DATE AS d, "Mixed Case" FROM (SELECT 1 AS "Mixed Case") s`)
    expect(r.fields).toMatchObject([
      { name: 'i', dataTypeID: 23 },
      { name: 't', dataTypeID: 25 },
      { name: 'b', dataTypeID: 20 },
      { name: 'bo', dataTypeID: 16 },
      { name: 'ts', dataTypeID: 1184 },
      { name: 'j', dataTypeID: 3802 },
      { name: 'n', dataTypeID: 1700 },
      { name: 'e', dataTypeID: moodOid },
      { name: 'ai', dataTypeID: 1007 },
      { name: 'u', dataTypeID: 25 },
      { name: 'by', dataTypeID: 17 },
      { name: 'f', dataTypeID: 701 },
      { name: 'd', dataTypeID: 1082 },
      { name: 'Mixed Case', dataTypeID: 23 }
    ])
    expect(r.rows[0]['Mixed Case']).toBe(1)
  })

  test('fields are present for an empty result', async () => {
    const r = await pool.query('SELECT 1::int4 AS a, NULL::text AS b WHERE false')
    expect(r.rows).toEqual([])
    expect(r.rowCount).toBe(0)
    expect(r.command).toBe('SELECT')
    expect(r.fields).toMatchObject([{ name: 'a', dataTypeID: 23 }, { name: 'b', dataTypeID: 25 }])
  })

  test('command and rowCount for CREATE, INSERT, SELECT, UPDATE, DELETE', async () => {
    const create = await pool.query('CREATE TABLE cmd2 (id int4 PRIMARY KEY, v text)')
    expect(create.command).toBe('CREATE')
    expect(create.rowCount).toBe(null)
    expect(create.rows).toEqual([])

    const ins = await pool.query("INSERT INTO cmd2 VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    expect(ins).toMatchObject({ command: 'INSERT', rowCount: 3, rows: [] })

    const insRet = await pool.query("INSERT INTO cmd2 VALUES (4, 'd') RETURNING id")
    expect(insRet).toMatchObject({ command: 'INSERT', rowCount: 1, rows: [{ id: 4 }] })

    const sel = await pool.query('SELECT id FROM cmd2 ORDER BY id')
    expect(sel).toMatchObject({ command: 'SELECT', rowCount: 4, rows: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }] })

    const upd = await pool.query("UPDATE cmd2 SET v = 'z' WHERE id <= 2")
    expect(upd).toMatchObject({ command: 'UPDATE', rowCount: 2, rows: [] })

    const upd0 = await pool.query("UPDATE cmd2 SET v = 'z' WHERE id > 100")
    expect(upd0).toMatchObject({ command: 'UPDATE', rowCount: 0 })

    const del = await pool.query('DELETE FROM cmd2 WHERE id IN (1, 3, 4) RETURNING v')
    expect(del.command).toBe('DELETE')
    expect(del.rowCount).toBe(3)
    expect(del.rows.map((x) => x.v).sort()).toEqual(['c', 'd', 'z'])

    const cte = await pool.query('WITH d AS (DELETE FROM cmd2 RETURNING id) SELECT count(*) AS n FROM d')
    expect(cte).toMatchObject({ command: 'SELECT', rowCount: 1, rows: [{ n: '1' }] })

    const drop = await pool.query('DROP TABLE cmd2')
    expect(drop.command).toBe('DROP')
    expect(drop.rowCount).toBe(null)
  })

  test('streamed rows carry the same types', async () => {
    const rows = []
    for await (const row of pool.stream("SELECT i, '2020-01-01 00:00:00+00'::timestamptz + make_interval(days => i) AS t, int4send(i) AS b, 'Infinity'::float8 AS f FROM generate_series(1, 3) i", [], { batchSize: 2 })) {
      rows.push(row)
    }
    expect(rows).toEqual([1, 2, 3].map((i) => ({ i, t: new Date(Date.UTC(2020, 0, 1 + i)), b: Buffer.from([0, 0, 0, i]), f: Infinity })))
  })

  // Results of many rows reach JS in parts of about 64 KiB (src/convert/result.rs, PART_BYTES):
  // every row, in order, with the per-column fix-ups (Date, Buffer, NaN) applied in every part.
  test('results of many rows: every row in order with its types, in both row modes, several at once', async () => {
    const sql = `SELECT i, 'ü "' || i || E'\\n' AS t, '2020-01-01 00:00:00+00'::timestamptz + make_interval(secs => i) AS ts,
                        int4send(i) AS b, CASE WHEN i % 1000 = 0 THEN 'NaN'::float8 ELSE i / 4.0 END AS f
                 FROM generate_series($1::int, $2::int) i`
    const expected = (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, k) => {
      const i = lo + k
      return { i, t: `ü "${i}\n`, ts: new Date(Date.UTC(2020, 0, 1) + i * 1000), b: Buffer.from([i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]), f: i % 1000 === 0 ? NaN : i / 4 }
    })
    const [a, b, c] = await Promise.all([pool.query(sql, [1, 30000]), pool.query(sql, [40001, 60000]), pool.query({ text: sql, values: [1, 25000], rowMode: 'array' })])
    expect(a.rowCount).toBe(30000)
    expect(a.rows).toEqual(expected(1, 30000))
    expect(b.rows).toEqual(expected(40001, 60000))
    expect(c.rowCount).toBe(25000)
    expect(c.rows).toEqual(expected(1, 25000).map((r) => [r.i, r.t, r.ts, r.b, r.f]))
  })

  // Past a result's first part (16 KiB), int2/int4 and text columns travel as bytes (src/convert/lanes.rs):
  // NULLs that first appear there, bounds, empty texts, a column that turns non-ASCII late, and
  // pg's own values for the same query as the reference.
  test('results of many rows: integer and text columns read past the first part equal pg\'s', async () => {
    const sql = `SELECT i, CASE WHEN i = 20000 THEN (-2147483648)::int4 WHEN i = 20001 THEN 2147483647 WHEN i % 997 = 0 AND i > 5000 THEN NULL ELSE i END AS n,
                        (i % 65535 - 32767)::int2 AS s,
                        CASE WHEN i % 1009 = 0 AND i > 5000 THEN NULL WHEN i % 3 = 0 THEN '' WHEN i > 25000 THEN 'é😀 ' || i ELSE 'a "\\' || i || E'\n' END AS t,
                        lpad(i::text, 84)::char(84) AS c, ('n' || i)::name AS nm, ('v' || i)::varchar(20) AS v
                 FROM generate_series(1, 30000) i`
    const reference = new pg.Client({ connectionString: url })
    await reference.connect()
    try {
      const expected = await reference.query(sql)
      const expectedArrays = await reference.query({ text: sql, rowMode: 'array' })
      const [objects, arrays] = await Promise.all([pool.query(sql), pool.query({ text: sql, rowMode: 'array' })])
      expect(objects.rowCount).toBe(30000)
      expect(objects.rows).toEqual(expected.rows)
      expect(arrays.rows).toEqual(expectedArrays.rows)
      expect(objects.rows[19999].n).toBe(-2147483648)
      expect(objects.rows[29998].t).toBe('é😀 29999')
      // The first part ends at 16 KiB: with 8 bytes a row ('1000000,'), at row 2,049.
      const ending = 'SELECT 1000000 AS v FROM generate_series(1, $1::int)'
      for (const n of [2048, 2049, 2050, 2051]) {
        expect((await pool.query(ending, [n])).rows).toEqual((await reference.query(ending, [n])).rows)
      }
      const held = await pool.acquire()
      try {
        expect((await held.query(sql)).rows).toEqual(expected.rows)
      } finally {
        held.release()
      }
    } finally {
      await reference.end()
    }
  })
})
