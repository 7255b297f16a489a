'use strict'
// pgwarden/pg against real pg on the same database: the same rows, values and fields, the same
// callbacks, client lifecycle and events, setTypeParser honoured; and pgwarden's own features
// reachable from a pgwarden/pg pool. A time zone with an offset makes local-time dates visible.
process.env.TZ = 'America/New_York'

const pg = require('pg')
const compat = require('../lib/pg')
const { harness } = require('./harness')
const { poolsOnFreshDatabase, failure, eventually, appNames, backendCounter, pgPools } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgcompat', {
  setupSql: `CREATE TABLE item (id serial PRIMARY KEY, name text, at timestamp, born date);
    CREATE TYPE mood AS ENUM ('happy', 'so so');`
})
beforeAll(db.create)
const appName = appNames(`pgw_pgcompat_${process.pid}`)
const backends = backendCounter(harness)

/** A pool of `Pool` (pgwarden/pg's or pg's) on the test database, ended after each test. */
const { poolOf, endAll } = pgPools(() => db.url)
afterEach(endAll)

/** The same statement through pgwarden/pg and pg: [ours, pg's] results. */
async function both (text, values, config) {
  const ours = poolOf(compat.Pool, config)
  const theirs = poolOf(pg.Pool, config)
  return Promise.all([ours.query(text, values), theirs.query(text, values)])
}

/**
 * The field keys compared with pg's: all of them, except user types' sizes (not reported).
 */
const knownFields = (fields) => fields.map((f) => ({
  name: f.name,
  dataTypeID: f.dataTypeID,
  format: f.format,
  dataTypeSize: f.dataTypeID < 16384 ? f.dataTypeSize : 'user type',
  tableID: f.tableID,
  columnID: f.columnID,
  dataTypeModifier: f.dataTypeModifier
}))

describe('values and fields match pg', () => {
  test("a table's columns: fields carry their table, column number and type modifier as pg's", async () => {
    // Created once (both drivers at once would race on the table's type).
    await poolOf(pg.Pool).query('CREATE TABLE IF NOT EXISTS fielded (id serial PRIMARY KEY, code varchar(20), price numeric(10,2))')
    const [ours, theirs] = await both('SELECT id, code, price, 1 AS computed FROM fielded')
    expect(ours.fields).toEqual(theirs.fields)
    expect(ours.fields.map((f) => [f.columnID, f.dataTypeModifier])).toEqual([[1, -1], [2, 24], [3, 655366], [0, -1]])
    expect(ours.fields[0].tableID).toBeGreaterThan(0)
  })

  test.each([
    ['int2, int4, int8, oid', 'SELECT 1::int2 AS a, -7::int4 AS b, 9223372036854775807::int8 AS c, 4294967295::oid AS d, count(*) AS e FROM pg_class WHERE false'],
    ['numeric, float', "SELECT 1.50::numeric AS n, 'NaN'::numeric AS nan, 0.1::float8 AS f, 'Infinity'::float4 AS inf, '-0'::float8 AS negz"],
    ['date (local midnight)', "SELECT '2024-03-10'::date AS d, '0044-03-15 BC'::date AS bc, 'infinity'::date AS inf"],
    ['interval', "SELECT '1 year 2 mons 3 days 04:05:06.789'::interval AS i, '-1 day'::interval AS neg, '0'::interval AS z"],
    ['timestamps', "SELECT '2024-03-10 02:30:00.123456'::timestamp AS t, '2024-03-10 02:30:00.123+05'::timestamptz AS tz, '-infinity'::timestamptz AS ninf, 'infinity'::timestamp AS inf"],
    ['json, jsonb', `SELECT '{"a": [1, 2.5, "x"], "b": null}'::json AS j, '"text"'::jsonb AS s, '12345678901234567890'::jsonb AS big`],
    ['bytea', "SELECT '\\x00ff10'::bytea AS b, ''::bytea AS empty"],
    ['arrays', "SELECT ARRAY[1, NULL, 3]::int4[] AS i, ARRAY['a b', '', NULL, 'x\"y', 'NULL']::text[] AS t, ARRAY[1.5, 2]::numeric[] AS n, ARRAY[9223372036854775807]::int8[] AS big, ARRAY[[true, false], [false, true]] AS nested"],
    ['arrays of dates, intervals, json, bytea', `SELECT ARRAY['2024-01-01'::date] AS d, ARRAY['1 day'::interval] AS i, ARRAY['{"a":1}'::jsonb] AS j, ARRAY['\\x01'::bytea] AS b, ARRAY['2024-01-01 10:00'::timestamp] AS t`],
    ['text-like and others', "SELECT 'x'::text AS t, 'y'::varchar(3) AS v, 'z'::char(2) AS c, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '10.0.0.1/8'::inet AS ip, '12:34'::time AS tm, point(1, 2) AS p, 'happy'::mood AS m, ARRAY['happy', 'so so']::mood[] AS ms, ARRAY['10.0.0.1'::inet] AS ips"],
    ['NULLs of every kind', 'SELECT NULL::int4 AS a, NULL::date AS b, NULL::interval AS c, NULL::json AS d, NULL::int4[] AS e']
  ])('%s', async (_, sql) => {
    const [ours, theirs] = await both(sql)
    expect(ours.rows).toEqual(theirs.rows)
    expect(knownFields(ours.fields)).toEqual(knownFields(theirs.fields))
    expect(ours.command).toBe(theirs.command)
    expect(ours.rowCount).toBe(theirs.rowCount)
  })

  test('parameters: Dates go in as local time, as pg sends them', async () => {
    const at = new Date(2024, 6, 4, 12, 30, 15, 250)
    const [ours, theirs] = await both('SELECT $1::timestamp AS t, $1::timestamptz AS tz, $1::date AS d, $2::timestamp[] AS arr', [at, [at, null]])
    expect(ours.rows).toEqual(theirs.rows)
  })

  test("rowMode 'array', duplicate column names, multi-statement text", async () => {
    const [ours, theirs] = await both({ text: "SELECT 1 AS a, '2024-01-01'::date AS a", rowMode: 'array' })
    expect(ours.rows).toEqual(theirs.rows)
    expect(ours.rowAsArray).toBe(true)
    const [o2, t2] = await both("SELECT '2024-01-01'::date AS a, 1 AS a")
    expect(o2.rows).toEqual(t2.rows)
    const [o3, t3] = await both("SELECT '1 day'::interval AS i; SELECT 2 AS b")
    expect(o3.map((r) => r.rows)).toEqual(t3.map((r) => r.rows))
  })

  test('command, rowCount and oid of INSERT, UPDATE, DDL', async () => {
    const ours = poolOf(compat.Pool)
    const theirs = poolOf(pg.Pool)
    for (const sql of ["INSERT INTO item (name) VALUES ('a'), ('b')", "UPDATE item SET name = 'c' WHERE name = 'zz'", 'CREATE TEMP TABLE t (x int)']) {
      const [o, t] = [await ours.query(sql), await theirs.query(sql)]
      expect({ command: o.command, rowCount: o.rowCount, oid: o.oid }).toEqual({ command: t.command, rowCount: t.rowCount, oid: t.oid })
    }
  })

  test('server errors carry pg\'s fields and pgwarden\'s', async () => {
    const [ours, theirs] = await Promise.all([failure(poolOf(compat.Pool).query('SELEC 1')), failure(poolOf(pg.Pool).query('SELEC 1'))])
    for (const key of ['code', 'position', 'severity', 'message']) expect(ours[key]).toBe(theirs[key])
    expect(ours).toMatchObject({ kind: 'syntax', retryable: false, maybeCommitted: false })
  })
})

describe('types.setTypeParser', () => {
  /** Sets parsers on pg-types (shared by pg and pgwarden/pg) for the test, restoring pg's afterwards. */
  function withParsers (parsers, run) {
    const saved = Object.keys(parsers).map((oid) => [oid, compat.types.getTypeParser(Number(oid))])
    for (const [oid, fn] of Object.entries(parsers)) compat.types.setTypeParser(Number(oid), fn)
    return run().finally(() => { for (const [oid, fn] of saved) compat.types.setTypeParser(Number(oid), fn) })
  }

  test('is the same module as pg.types', () => {
    expect(compat.types).toBe(pg.types)
  })

  test('parsers get PostgreSQL text for types pgwarden decodes and for those it does not', async () => {
    const seen = []
    const tag = (name) => (text) => { seen.push([name, text]); return `${name}:${text}` }
    await withParsers({ 23: tag('int4'), 1082: tag('date'), 16: tag('bool'), 1700: tag('numeric'), 1007: tag('int4[]') }, async () => {
      const [ours, theirs] = await both("SELECT 42 AS i, '2024-01-02'::date AS d, true AS b, 1.20::numeric AS n, ARRAY[1, 2] AS a")
      expect(ours.rows).toEqual(theirs.rows)
      expect(ours.rows[0]).toEqual({ i: 'int4:42', d: 'date:2024-01-02', b: 'bool:t', n: 'numeric:1.20', a: 'int4[]:{1,2}' })
    })
  })

  test('int8 as a number, dates as strings: the usual overrides', async () => {
    await withParsers({ 20: (t) => parseInt(t, 10), 1082: (t) => t }, async () => {
      const [ours, theirs] = await both("SELECT 5::int8 AS n, '2024-01-02'::date AS d, ARRAY[5]::int8[] AS arr")
      expect(ours.rows).toEqual(theirs.rows)
    })
  })

  test('a `types` option of the query is honoured', async () => {
    const types = { getTypeParser: (oid) => (oid === 23 ? (t) => Number(t) * 2 : compat.types.getTypeParser(oid)) }
    const ours = await poolOf(compat.Pool).query({ text: 'SELECT 21 AS x', types })
    expect(ours.rows).toEqual([{ x: 42 }])
  })
})

describe('callbacks', () => {
  test('query(text, callback) and query(text, values, callback) return undefined and call back', async () => {
    const pool = poolOf(compat.Pool)
    const got = await new Promise((resolve) => {
      expect(pool.query('SELECT $1::int AS x', [7], (err, r) => resolve([err, r.rows]))).toBeUndefined()
    })
    expect(got).toEqual([null, [{ x: 7 }]])
    const err = await new Promise((resolve) => pool.query('SELEC', (e) => resolve(e)))
    expect(err.code).toBe('42601')
  })

  test('connect((err, client, done) => …) and end(callback)', async () => {
    const pool = poolOf(compat.Pool)
    const rows = await new Promise((resolve, reject) => pool.connect((err, client, done) => {
      if (err) return reject(err)
      client.query('SELECT 1 AS one', (e, r) => {
        done()
        return e ? reject(e) : resolve(r.rows)
      })
    }))
    expect(rows).toEqual([{ one: 1 }])
    await new Promise((resolve) => pool.end(resolve))
    expect(pool.ended).toBe(true)
  })
})

describe('connect, release, destroy, end', () => {
  /** The backend pid of one client taken from `pool` and released with `releaseArg`. */
  async function pidOf (pool, releaseArg) {
    const client = await pool.connect()
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid')
    client.release(releaseArg)
    return rows[0].pid
  }

  test('release() keeps the connection, release(err) destroys it, as pg', async () => {
    for (const Pool of [compat.Pool, pg.Pool]) {
      const pool = poolOf(Pool, { max: 1 })
      const first = await pidOf(pool)
      expect(await pidOf(pool, new Error('broken'))).toBe(first)
      expect(await pidOf(pool)).not.toBe(first)
    }
  })

  test('events acquire, release (err, client) and remove fire with pg\'s arguments', async () => {
    const pool = poolOf(compat.Pool, { max: 1 })
    const log = []
    pool.on('acquire', (c) => log.push(['acquire', c]))
    pool.on('release', (err, c) => log.push(['release', err, c]))
    pool.on('remove', (c) => log.push(['remove', c]))
    const client = await pool.connect()
    const err = new Error('x')
    client.release(err)
    expect(log).toEqual([['acquire', client], ['release', err, client], ['remove', client]])
  })

  test('a second release throws and a second end rejects, as pg', async () => {
    const pool = poolOf(compat.Pool)
    const client = await pool.connect()
    client.release()
    expect(() => client.release()).toThrow('already been released')
    await pool.end()
    expect((await failure(pool.end())).message).toMatch('more than once')
    expect(pool.ending && pool.ended).toBe(true)
  })

  test('totalCount, idleCount, waitingCount', async () => {
    const pool = poolOf(compat.Pool, { max: 2 })
    const [a, b] = await Promise.all([pool.connect(), pool.connect()])
    expect([pool.totalCount, pool.idleCount]).toEqual([2, 0])
    const third = pool.connect()
    expect(await eventually(() => pool.waitingCount, 1)).toBe(1)
    a.release()
    ;(await third).release()
    b.release()
    expect(await eventually(() => pool.idleCount, 2)).toBe(2)
  })

  test('Client: one session from connect() to end()', async () => {
    const app = appName('client')
    const client = new compat.Client({ connectionString: db.url, application_name: app, logger: false })
    const pending = client.query("SELECT set_config('my.v', 'kept', false)") // queued until connected, as pg
    await client.connect()
    await pending
    expect((await client.query("SELECT current_setting('my.v') AS v")).rows).toEqual([{ v: 'kept' }])
    expect(await backends(app)).toBe(1)
    const ended = new Promise((resolve) => client.on('end', resolve))
    await client.end()
    await ended
    expect(await eventually(() => backends(app), 0)).toBe(0)
  })
})

describe('configuration', () => {
  test('host/port/user/database parts and a password function', async () => {
    const u = new URL(db.url)
    let calls = 0
    const pool = poolOf(compat.Pool, {
      connectionString: undefined,
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      database: decodeURIComponent(u.pathname.slice(1)),
      password: async () => { calls++; return 'p@ss:/word' }
    })
    expect((await pool.query('SELECT current_database() AS d')).rows[0].d).toBe(decodeURIComponent(u.pathname.slice(1)))
    expect(calls).toBe(1)
    // As pg does, each new connection asks again (rotating credentials such as IAM tokens).
    const held = [await pool.connect(), await pool.connect()]
    held.forEach((c) => c.release())
    expect(calls).toBe(2)
  })

  test("pg's defaults and option names become pgwarden's settings", async () => {
    const pool = poolOf(compat.Pool, { idleTimeoutMillis: 2500, maxLifetimeSeconds: 60, statement_timeout: 800, query_timeout: 900, application_name: 'app1' })
    expect(pool.pgwarden.toJSON()).toMatchObject({
      connectionLimit: 10, idleTimeoutMs: 2500, maxLifetimeMs: 60000, poolTimeoutMs: 0, queryTimeoutMs: 900, applicationName: 'app1'
    })
    // statement_timeout is the server's setting, sent at startup as pg sends it.
    expect((await pool.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '800ms' }])
  })

  test("pg's keepAlive and keepAliveInitialDelayMillis set pgwarden's keepalive only where given", async () => {
    const settings = (config) => poolOf(compat.Pool, config).pgwarden.toJSON()
    const keepalive = (config) => { const s = settings(config); return [s.keepalives, s.keepalivesIdleMs] }
    expect(keepalive({})).toEqual([true, 30000]) // pgwarden's defaults, not pg's (off)
    expect(keepalive({ keepAlive: true, keepAliveInitialDelayMillis: 10500 })).toEqual([true, 10000]) // whole seconds, as Node
    expect(keepalive({ keepAliveInitialDelayMillis: 20000 })).toEqual([true, 20000])
    expect(keepalive({ keepAlive: true, keepAliveInitialDelayMillis: 0 })).toEqual([true, 30000]) // 0: pg's "leave it"
    expect(keepalive({ keepAlive: false, keepAliveInitialDelayMillis: 10000 })).toEqual([false, 30000])
    expect(keepalive({ keepAlive: true, keepAliveInitialDelayMillis: 20000, keepalives: false, keepalivesIdleMs: 5000 })).toEqual([false, 5000])
    const bad = poolOf(compat.Pool, { keepAliveInitialDelayMillis: -1 })
    expect(await failure(bad.query('SELECT 1')))
      .toMatchObject({ code: 'ERR_PGWARDEN_CONFIG', message: expect.stringContaining('keepAliveInitialDelayMillis') })
  })

  // As pg reports a bad configuration: the constructor takes it, the first query or connect fails.
  test.each([['binary', { binary: true }], ['ssl servername', { ssl: { servername: 'x' } }], ['pipeline', { pipeline: true }]])(
    'an option pgwarden cannot honour is rejected on query and connect: %s', async (_, config) => {
      const pool = new compat.Pool({ connectionString: db.url, ...config })
      expect(await failure(pool.query('SELECT 1'))).toMatchObject({ code: 'ERR_PGWARDEN_CONFIG' })
      expect(await failure(pool.connect())).toMatchObject({ code: 'ERR_PGWARDEN_CONFIG' })
      const client = new compat.Client({ connectionString: db.url, ...config })
      expect(await failure(client.connect())).toMatchObject({ code: 'ERR_PGWARDEN_CONFIG' })
      await pool.end()
    })

  test('options and lock_timeout reach the server as startup options, as libpq sends them', async () => {
    const sql = "SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt"
    const [ours, theirs] = await both(sql, [], { options: '-c statement_timeout=4321', lock_timeout: 1500 })
    expect(ours.rows).toEqual([{ st: '4321ms', lt: '1500ms' }])
    expect(ours.rows).toEqual(theirs.rows)
  })

  test('a Client hears LISTEN/NOTIFY and RAISE NOTICE as pg\'s Client does', async () => {
    /** What `Client` (ours or pg's) hears after LISTEN, a NOTIFY from elsewhere and a NOTICE. */
    async function heard (Client) {
      const client = new Client({ connectionString: db.url })
      await client.connect()
      const got = { notification: [], notice: [] }
      client.on('notification', (m) => got.notification.push({ name: m.name, channel: m.channel, payload: m.payload }))
      client.on('notice', (m) => got.notice.push({ name: m.name, message: m.message, severity: m.severity, code: m.code }))
      try {
        await client.query('LISTEN jobs')
        const other = new pg.Client({ connectionString: db.url })
        await other.connect()
        await other.query("SELECT pg_notify('jobs', 'job 1')")
        await other.end()
        await client.query("DO $$ BEGIN RAISE NOTICE 'almost done'; END $$")
        await eventually(() => got.notification.length, 1)
        return got
      } finally {
        await client.end()
      }
    }
    const [ours, theirs] = [await heard(compat.Client), await heard(pg.Client)]
    expect(ours).toEqual(theirs)
    expect(ours.notification).toEqual([{ name: 'notification', channel: 'jobs', payload: 'job 1' }])
    expect(ours.notice).toEqual([{ name: 'notice', message: 'almost done', severity: 'NOTICE', code: '00000' }])
  })

  test("pg-copy-streams' from() and to() work on a client as with pg", async () => {
    const { from, to } = require('pg-copy-streams')
    const { pipeline } = require('node:stream/promises')
    const { Readable } = require('node:stream')
    /** Loads rows with from() and reads them back with to(), through `Pool` (ours or pg's). */
    async function roundTrip (Pool, table) {
      const pool = poolOf(Pool)
      const client = await pool.connect()
      try {
        await client.query(`CREATE TABLE ${table} (id int, label text)`)
        const sink = client.query(from(`COPY ${table} FROM STDIN WITH (FORMAT csv)`))
        await pipeline(Readable.from(['1,one\n2,"two, too"\n', '3,three\n']), sink)
        const parts = []
        for await (const chunk of client.query(to(`COPY ${table} TO STDOUT WITH (FORMAT csv)`))) parts.push(chunk)
        return { rowCount: sink.rowCount, out: Buffer.concat(parts).toString() }
      } finally {
        client.release()
      }
    }
    const ours = await roundTrip(compat.Pool, 'copied_ours')
    expect(ours).toEqual(await roundTrip(pg.Pool, 'copied_theirs'))
    expect(ours).toEqual({ rowCount: 3, out: '1,one\n2,"two, too"\n3,three\n' })
  })
})

describe("pgwarden's features on a pgwarden/pg pool", () => {
  test('stats, metrics, health, slowQuery events', async () => {
    const pool = poolOf(compat.Pool, { slowQueryThresholdMs: 1 })
    const slow = []
    pool.on('slowQuery', (e) => slow.push(e))
    await pool.query('SELECT pg_sleep(0.01)')
    expect(slow).toHaveLength(1)
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(1)
    expect(pool.metrics()).toMatch(/pgwarden_/)
    expect((await pool.healthCheck()).status).not.toBe('unhealthy')
  })

  test('query_timeout cancels the statement on the server; withRetry classifies errors', async () => {
    const app = appName('timeout')
    const pool = poolOf(compat.Pool, { query_timeout: 200, application_name: app })
    const err = await failure(pool.query('SELECT pg_sleep(30)'))
    expect(err).toMatchObject({ code: 'P1008', kind: 'timeout' })
    const running = () => backends(app, "AND state = 'active' AND query LIKE '%pg_sleep(30)%'")
    expect(await eventually(running, 0)).toBe(0)
    let attempts = 0
    const e = await failure(pool.withRetry(() => { attempts++; return pool.query('SELEC') }, { initialDelayMs: 1 }))
    expect([e.code, attempts]).toEqual(['42601', 1])
  })
})
