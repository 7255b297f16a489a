'use strict'
// The Pool and its errors against a real server.

const path = require('node:path')
const { spawn } = require('node:child_process')
const { Pool, getPool, PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, appNames, eventually, failure, freePort, poolsOnFreshDatabase, backendCounter } = require('./helpers/common')

const appName = appNames(`pgw_pool_${process.pid}`)
const h = harness()

/** Pools on the test database, ended in afterEach. */
const db = poolsOnFreshDatabase('pool')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

/** Client backends the server has for `app` (seen from the harness's admin session). */
const backends = backendCounter(() => h)

describe('connecting', () => {
  test('lazy: no backend until the first query', async () => {
    const app = appName('lazy')
    const pool = makePool({ applicationName: app })
    await sleep(200)
    expect(await backends(app)).toBe(0)
    expect(pool.getPoolStats().pool.total).toBe(0)
    await pool.query('SELECT 1')
    expect(await backends(app)).toBe(1)
  })

  test('connect() opens one connection when minConnections is 0', async () => {
    const app = appName('warm1')
    const pool = makePool({ applicationName: app })
    await pool.connect()
    expect(await backends(app)).toBe(1)
    expect(pool.getPoolStats().pool).toMatchObject({ total: 1, idle: 1, active: 0 })
  })

  test('connect() opens minConnections connections', async () => {
    const app = appName('warm3')
    const pool = makePool({ applicationName: app, minConnections: 3, connectionLimit: 5 })
    await pool.connect()
    expect(await backends(app)).toBe(3)
    expect(pool.getPoolStats().pool).toMatchObject({ total: 3, idle: 3, active: 0 })
  })

  test('connect() to a closed port rejects P1001 (kind connection) within a bounded time', async () => {
    const port = await freePort()
    const pool = makePool({ connectTimeoutMs: 1000 }, `postgres://postgres@127.0.0.1:${port}/db`)
    const t0 = Date.now()
    const err = await failure(pool.connect())
    const dt = Date.now() - t0
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ code: 'P1001', kind: 'connection', retryable: true, maybeCommitted: false })
    expect(err.message).toContain(`127.0.0.1:${port}`)
    // Three tries with backoff (100 ms, 200 ms): at least ~300 ms, well under the pool timeout.
    expect(dt).toBeGreaterThanOrEqual(250)
    expect(dt).toBeLessThan(5000)
  })

  test('query() to a closed port rejects P1001', async () => {
    const port = await freePort()
    const pool = makePool({ poolTimeoutMs: 1000 }, `postgres://postgres@127.0.0.1:${port}/db`)
    const t0 = Date.now()
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'P1001', kind: 'connection' })
    // Retried with backoff inside poolTimeoutMs (1 s), then the last attempt's own error.
    const dt = Date.now() - t0
    expect(dt).toBeGreaterThanOrEqual(800)
    expect(dt).toBeLessThan(2500)
  })
})

describe('query', () => {
  let pool
  beforeAll(async () => {
    const p = new Pool({ connectionString: db.url, logger: false })
    await p.executeScript('CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE, qty int)')
    await p.end()
  })
  beforeEach(() => {
    pool = makePool({ applicationName: appName('q') })
  })

  test('SELECT result shape (pg-compatible)', async () => {
    const r = await pool.query('SELECT 1::int4 AS a, $1::text AS b, NULL::bool AS c', ['x'])
    expect(r).toEqual({
      rows: [{ a: 1, b: 'x', c: null }],
      rowCount: 1,
      fields: [{ name: 'a', dataTypeID: 23 }, { name: 'b', dataTypeID: 25 }, { name: 'c', dataTypeID: 16 }],
      command: 'SELECT'
    })
  })

  test('empty SELECT still has fields', async () => {
    const r = await pool.query('SELECT 1 AS a WHERE false')
    expect(r).toEqual({ rows: [], rowCount: 0, fields: [{ name: 'a', dataTypeID: 23 }], command: 'SELECT' })
  })

  test('INSERT / UPDATE / DELETE report command and rowCount', async () => {
    let r = await pool.query("INSERT INTO items (name, qty) VALUES ('a', 1), ('b', 2), ('c', 3)")
    expect(r).toMatchObject({ command: 'INSERT', rowCount: 3, rows: [] })
    r = await pool.query('UPDATE items SET qty = qty + 1 WHERE qty >= $1', [2])
    expect(r).toMatchObject({ command: 'UPDATE', rowCount: 2 })
    r = await pool.query("INSERT INTO items (name) VALUES ('d') RETURNING id, name")
    expect(r.command).toBe('INSERT')
    expect(r.rowCount).toBe(1)
    expect(r.rows[0].name).toBe('d')
    r = await pool.query('DELETE FROM items WHERE name = ANY($1)', [['c', 'd']])
    expect(r).toMatchObject({ command: 'DELETE', rowCount: 2 })
  })

  test('rowMode array', async () => {
    const r = await pool.query('SELECT 1 AS a, 2 AS b', [], { rowMode: 'array' })
    expect(r.rows).toEqual([[1, 2]])
    expect(r.fields.map((f) => f.name)).toEqual(['a', 'b'])
  })

  test('query(config) form', async () => {
    const r = await pool.query({ text: 'SELECT $1::int + 1 AS n', values: [41] })
    expect(r.rows).toEqual([{ n: 42 }])
  })

  test('executeScript runs several statements', async () => {
    const res = await pool.executeScript(`
      CREATE TABLE script_t (v int);
      INSERT INTO script_t VALUES (1);
      INSERT INTO script_t VALUES (2), (3);
      UPDATE script_t SET v = v * 10;
    `)
    expect(res).toBeUndefined()
    const r = await pool.query('SELECT array_agg(v ORDER BY v) AS vs FROM script_t')
    expect(r.rows[0].vs).toEqual([10, 20, 30])
  })

  test('executeScript stops at the first error and rejects with its SQLSTATE', async () => {
    await pool.executeScript('CREATE TABLE script_e (v int)')
    const err = await failure(pool.executeScript('INSERT INTO script_e VALUES (1); SELECT 1/0; INSERT INTO script_e VALUES (2);'))
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err.code).toBe('22012')
    // The simple protocol runs the script as one implicit transaction: nothing is kept.
    const r = await pool.query('SELECT count(*)::int AS n FROM script_e')
    expect(r.rows[0].n).toBe(0)
  })
})

describe('acquire / release', () => {
  test('same backend for every statement on one client; release twice is harmless', async () => {
    const pool = makePool({ applicationName: appName('acq'), connectionLimit: 3 })
    const client = await pool.acquire()
    const a = await client.query('SELECT pg_backend_pid() AS pid')
    await client.query('SET application_name = DEFAULT') // session state kept on the client
    const b = await client.query('SELECT pg_backend_pid() AS pid')
    expect(b.rows[0].pid).toBe(a.rows[0].pid)
    expect(pool.getPoolStats().pool.active).toBe(1)
    client.release()
    expect(() => client.release()).not.toThrow()
    await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED', kind: 'closed' })
    await expect(client.executeScript('SELECT 1')).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED' })
    expect(await eventually(() => pool.getPoolStats().pool.active, 0)).toBe(0)
  })

  test('a transaction on an acquired client', async () => {
    const pool = makePool({ applicationName: appName('tx') })
    await pool.query('CREATE TABLE IF NOT EXISTS acq_tx (v int)')
    const client = await pool.acquire()
    try {
      await client.query('BEGIN')
      await client.query('INSERT INTO acq_tx VALUES (1)')
      // Not yet visible to the pool's other connections.
      expect((await pool.query('SELECT count(*)::int AS n FROM acq_tx')).rows[0].n).toBe(0)
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    expect((await pool.query('SELECT count(*)::int AS n FROM acq_tx')).rows[0].n).toBe(1)
  })

  test('release(true): the connection is not reused', async () => {
    const pool = makePool({ applicationName: appName('destroy') })
    const client = await pool.acquire()
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    client.release(true)
    const pid2 = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    expect(pid2).not.toBe(pid)
  })

  test('release(true) closes the connection on the server (as pg does), without waiting for the next checkout', async () => {
    const app = appName('destroy2')
    const pool = makePool({ applicationName: app })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    client.release(true)
    expect(await eventually(() => backends(app), 0, { ms: 2000 })).toBe(0)
  })
})

describe('pool exhaustion', () => {
  test('connectionLimit 1, poolTimeoutMs 300: P2024 (kind pool_timeout) after ~300 ms', async () => {
    const pool = makePool({ applicationName: appName('exh'), connectionLimit: 1, poolTimeoutMs: 300 })
    const held = await pool.acquire()
    try {
      const t0 = Date.now()
      const err = await failure(pool.query('SELECT 1'))
      const dt = Date.now() - t0
      expect(err).toBeInstanceOf(PgWardenError)
      expect(err).toMatchObject({ code: 'P2024', kind: 'pool_timeout', retryable: true, maybeCommitted: false })
      expect(dt).toBeGreaterThanOrEqual(280)
      expect(dt).toBeLessThan(1000)
      expect(pool.getPoolStats().acquire.timeouts).toBe(1)
    } finally {
      held.release()
    }
    // Once released, the pool serves again.
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('waiters are served in turn when the connection frees up', async () => {
    const pool = makePool({ applicationName: appName('wait'), connectionLimit: 1, poolTimeoutMs: 5000 })
    const results = await Promise.all([1, 2, 3, 4].map((i) => pool.query('SELECT $1::int AS i, pg_sleep(0.05)', [i])))
    expect(results.map((r) => r.rows[0].i)).toEqual([1, 2, 3, 4])
  })
})

describe('query timeouts cancel on the server', () => {
  async function activeSleeps (tag) {
    return Number((await h.admin(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${tag}%' AND application_name <> 'pgwarden_harness'`))[0][0])
  }

  test('queryTimeoutMs: P1008, the statement is gone from pg_stat_activity, the pool still works', async () => {
    const app = appName('qt')
    const pool = makePool({ applicationName: app, queryTimeoutMs: 200, connectionLimit: 1 })
    const tag = `qt_tag_${process.pid}`
    const t0 = Date.now()
    const err = await failure(pool.query(`SELECT pg_sleep(10) /* ${tag} */`))
    const dt = Date.now() - t0
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toMatchObject({ code: 'P1008', kind: 'timeout', retryable: true })
    expect(err.query).toBe(`SELECT pg_sleep(10) /* ${tag} */`)
    expect(dt).toBeGreaterThanOrEqual(180)
    expect(dt).toBeLessThan(2500)
    // Right after the rejection: not running on the server any more.
    expect(await activeSleeps(tag)).toBe(0)
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('per-query timeoutMs overrides the pool default', async () => {
    const pool = makePool({ applicationName: appName('qt2'), queryTimeoutMs: 30000 })
    const tag = `qt2_tag_${process.pid}`
    const t0 = Date.now()
    await expect(pool.query(`SELECT pg_sleep(10) /* ${tag} */`, [], { timeoutMs: 150 })).rejects.toMatchObject({ code: 'P1008', kind: 'timeout' })
    expect(Date.now() - t0).toBeLessThan(2500)
    expect(await activeSleeps(tag)).toBe(0)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('timeoutMs on an acquired client; the client stays usable', async () => {
    const pool = makePool({ applicationName: appName('qt3') })
    const tag = `qt3_tag_${process.pid}`
    const client = await pool.acquire()
    try {
      await expect(client.query(`SELECT pg_sleep(10) /* ${tag} */`, [], { timeoutMs: 150 })).rejects.toMatchObject({ code: 'P1008' })
      expect(await activeSleeps(tag)).toBe(0)
      expect((await client.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }])
    } finally {
      client.release()
    }
  })

  test('a server-side cancel that is not ours is 57014 kind cancelled', async () => {
    const app = appName('cancel')
    const pool = makePool({ applicationName: app })
    const q = failure(pool.query('SELECT pg_sleep(10)'))
    await eventually(() => backends(app, "AND state = 'active'"), 1)
    await h.admin(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}'`)
    const err = await q
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toMatchObject({ code: '57014', kind: 'cancelled' })
  })
})

describe('broken connections are replaced', () => {
  test('after pg_terminate_backend of every pool connection, the next query succeeds', async () => {
    const app = appName('term')
    const pool = makePool({ applicationName: app, connectionLimit: 2 })
    await Promise.all([pool.query('SELECT pg_sleep(0.05)'), pool.query('SELECT pg_sleep(0.05)')])
    const pidsBefore = Number((await h.admin(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}'`))[0][0])
    expect(pidsBefore).toBe(2)
    expect(await h.terminateBackends({ applicationName: app })).toBe(2)

    const outcomes = []
    for (let i = 0; i < 4; i++) {
      outcomes.push(await pool.query('SELECT 1 AS one').then(() => 'ok', (e) => e.code))
    }
    // At most one failure in all, and the query right after the restart succeeds (the pool's promise).
    expect(outcomes.filter((o) => o !== 'ok').length).toBeLessThanOrEqual(1)
    expect(outcomes[0]).toBe('ok')
    expect(outcomes.slice(1)).toEqual(['ok', 'ok', 'ok'])
  })

  test('terminated while a query runs: that query rejects P1017/57P01, the next one succeeds', async () => {
    const app = appName('term2')
    const pool = makePool({ applicationName: app, connectionLimit: 1 })
    const q = failure(pool.query('SELECT pg_sleep(10)'))
    await eventually(() => backends(app, "AND state = 'active'"), 1)
    await h.terminateBackends({ applicationName: app })
    const err = await q
    expect(err).toBeInstanceOf(PgWardenError)
    expect(['57P01', 'P1017']).toContain(err.code)
    expect(err.retryable === true || err.maybeCommitted === true).toBe(true)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  test('a terminated acquired client: its query rejects, the pool replaces the connection', async () => {
    const app = appName('term3')
    const pool = makePool({ applicationName: app, connectionLimit: 1, poolTimeoutMs: 2000 })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    await h.terminateBackends({ applicationName: app })
    const err = await failure(client.query('SELECT 1'))
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err.kind === 'connection' || err.kind === 'server_unavailable').toBe(true)
    client.release()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })
})

describe('end()', () => {
  test('idempotent; new work rejects kind closed; in-flight work completes; no backend left', async () => {
    const app = appName('end')
    const pool = makePool({ applicationName: app, connectionLimit: 3 })
    await pool.query('SELECT 1')
    const inflight = pool.query('SELECT pg_sleep(0.3), 42 AS v')
    await sleep(50)
    const e1 = pool.end()
    const e2 = pool.end()
    expect(pool.ended).toBe(true)
    const closedErr = await failure(pool.query('SELECT 1'))
    expect(closedErr).toBeInstanceOf(PgWardenError)
    expect(closedErr).toMatchObject({ code: 'ERR_PGWARDEN_CLOSED', kind: 'closed', retryable: false })
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED' })
    await expect(pool.executeScript('SELECT 1')).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED' })
    await expect(pool.connect()).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED' })
    const r = await inflight
    expect(r.rows).toEqual([{ pg_sleep: '', v: 42 }])
    await expect(e1).resolves.toBeUndefined()
    await expect(e2).resolves.toBeUndefined()
    await expect(pool.end()).resolves.toBeUndefined()
    expect(await eventually(() => backends(app), 0)).toBe(0)
  })

  test('end() waits for a held client until timeoutMs, then closes', async () => {
    const app = appName('endheld')
    const pool = makePool({ applicationName: app })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    const t0 = Date.now()
    await pool.end({ timeoutMs: 300 })
    const dt = Date.now() - t0
    expect(dt).toBeGreaterThanOrEqual(250)
    expect(dt).toBeLessThan(2000)
    client.release()
    expect(await eventually(() => backends(app), 0)).toBe(0)
  })

  test('disconnect() is an alias', async () => {
    const app = appName('disc')
    const pool = makePool({ applicationName: app })
    await pool.query('SELECT 1')
    await expect(pool.disconnect()).resolves.toBeUndefined()
    expect(pool.ended).toBe(true)
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_PGWARDEN_CLOSED', kind: 'closed' })
    expect(await eventually(() => backends(app), 0)).toBe(0)
  })

  test('end() on a pool that never connected resolves at once', async () => {
    const pool = makePool()
    const t0 = Date.now()
    await pool.end()
    expect(Date.now() - t0).toBeLessThan(500)
  })
})

describe('getPool()', () => {
  const saved = process.env.DATABASE_URL
  afterEach(() => {
    if (saved === undefined) delete process.env.DATABASE_URL
    else process.env.DATABASE_URL = saved
  })

  test('a process-wide singleton built from DATABASE_URL', async () => {
    const app = appName('single')
    const u = new URL(db.url)
    u.searchParams.set('application_name', app)
    process.env.DATABASE_URL = u.toString()
    const a = getPool()
    const b = getPool()
    try {
      expect(a).toBeInstanceOf(Pool)
      expect(b).toBe(a)
      const r = await a.query('SELECT current_database() AS db, current_setting($1) AS app', ['application_name'])
      expect(r.rows).toEqual([{ db: u.pathname.slice(1), app }])
      expect(require('..').getPoolStats().pool.total).toBe(1)
    } finally {
      await a.end()
    }
  })
})

describe('process lifetime', () => {
  test('an idle pool without end() does not keep the process alive (exits within 5 s)', async () => {
    const root = path.resolve(__dirname, '..')
    const script = `
      const { Pool } = require(${JSON.stringify(root)})
      const pool = new Pool({ connectionString: ${JSON.stringify(db.url)}, logger: false, applicationName: 'pgw_idle_child' })
      pool.query('SELECT 1 AS one').then((r) => console.log('rows', JSON.stringify(r.rows)))
    `
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const t0 = Date.now()
    const code = await new Promise((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('killed after 5 s') }, 5000)
      child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
    })
    expect(out).toContain('rows [{"one":1}]')
    expect(code).toBe(0)
    expect(Date.now() - t0).toBeLessThan(5000)
  })

  test('a waiting acquire() keeps the process alive until it is served; released, the pool lets it exit', async () => {
    // Nothing else holds the event loop: the pending acquire() must (it has no napi promise).
    const root = path.resolve(__dirname, '..')
    const script = `
      const { Pool } = require(${JSON.stringify(root)})
      const pool = new Pool({ connectionString: ${JSON.stringify(db.url)}, logger: false, applicationName: 'pgw_acquire_child' })
      pool.acquire().then(async (client) => {
        console.log('rows', JSON.stringify((await client.query('SELECT 1 AS one')).rows))
        client.release()
      })
    `
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const code = await new Promise((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('killed after 5 s') }, 5000)
      child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
    })
    expect(out).toContain('rows [{"one":1}]')
    expect(code).toBe(0)
  })
})

describe('server errors keep their fields', () => {
  let pool
  beforeAll(async () => {
    pool = new Pool({ connectionString: db.url, logger: false, applicationName: appName('errs') })
    await pool.executeScript('CREATE TABLE uniq_t (id int CONSTRAINT uniq_t_pkey PRIMARY KEY, note text NOT NULL)')
    await pool.query('INSERT INTO uniq_t VALUES (1, $1)', ['x'])
  })
  afterAll(() => pool.end())

  test('23505 unique violation: constraint, detail, table, schema, query', async () => {
    const sql = 'INSERT INTO uniq_t VALUES ($1, $2)'
    const err = await failure(pool.query(sql, [1, 'y']))
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('PgWardenError')
    expect(err).toMatchObject({
      code: '23505',
      kind: 'constraint',
      retryable: false,
      maybeCommitted: false,
      severity: 'ERROR',
      constraint: 'uniq_t_pkey',
      table: 'uniq_t',
      schema: 'public',
      detail: 'Key (id)=(1) already exists.',
      query: sql
    })
    expect(err.message).toBe('duplicate key value violates unique constraint "uniq_t_pkey"')
    expect(typeof err.stack).toBe('string')
  })

  test('23502 not-null: column', async () => {
    const err = await failure(pool.query('INSERT INTO uniq_t VALUES (2, NULL)'))
    expect(err).toMatchObject({ code: '23502', kind: 'constraint', column: 'note', table: 'uniq_t' })
  })

  test('42601 syntax error: position (1-based, as pg gives it)', async () => {
    const sql = 'SELECT 1 FROMM uniq_t'
    const err = await failure(pool.query(sql))
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toMatchObject({ code: '42601', kind: 'syntax', retryable: false, query: sql })
    expect(Number(err.position)).toBe(sql.indexOf('uniq_t') + 1)
  })

  test('42P01 undefined table', async () => {
    const err = await failure(pool.query('SELECT * FROM no_such_table'))
    expect(err).toMatchObject({ code: '42P01', kind: 'syntax', position: '15' })
  })

  test('RAISE with HINT and DETAIL in a DO block', async () => {
    const sql = "DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0001', DETAIL = 'the detail', HINT = 'the hint'; END $$"
    const err = await failure(pool.query(sql))
    expect(err).toBeInstanceOf(PgWardenError)
    expect(err).toMatchObject({ code: 'P0001', message: 'custom failure', detail: 'the detail', hint: 'the hint', query: sql })
    expect(err.where).toMatch(/PL\/pgSQL/)
  })

  test('errors from executeScript and acquired clients carry the query too', async () => {
    const script = 'SELECT 1; SELECT 1/0'
    const e1 = await failure(pool.executeScript(script))
    expect(e1).toMatchObject({ code: '22012', kind: 'data', query: script })
    const client = await pool.acquire()
    try {
      const e2 = await failure(client.query('SELECT 1/0 AS boom'))
      expect(e2).toBeInstanceOf(PgWardenError)
      expect(e2).toMatchObject({ code: '22012', query: 'SELECT 1/0 AS boom' })
    } finally {
      client.release()
    }
  })

  test('a failed query leaves the connection usable', async () => {
    const client = await pool.acquire()
    try {
      await expect(client.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' })
      expect((await client.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }])
    } finally {
      client.release()
    }
  })

  test('parameter count mismatch rejects ERR_PGWARDEN_PARAMS before sending', async () => {
    await expect(pool.query('SELECT $1::int', [])).rejects.toMatchObject({ code: 'ERR_PGWARDEN_PARAMS', kind: 'params' })
    await expect(pool.query('SELECT 1', [1])).rejects.toMatchObject({ code: 'ERR_PGWARDEN_PARAMS' })
  })
})
