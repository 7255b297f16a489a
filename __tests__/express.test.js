'use strict'
// the documented rules (pgwarden/express): databaseRouter endpoints and errorHandler, in a real
// Express 5 app on 127.0.0.1:0, exercised with fetch.

const express = require('express')
const { databaseRouter, errorHandler } = require('../lib/express')
const { ownedCluster } = require('./harness')
const { eventually, freePort, poolsOnFreshDatabase } = require('./helpers/common')
const { httpServers } = require('./helpers/http-servers')

const db = poolsOnFreshDatabase('express', { setupSql: 'CREATE TABLE uniq (id int PRIMARY KEY); INSERT INTO uniq VALUES (1);' })
let cluster
beforeAll(async () => {
  ;[, cluster] = await Promise.all([db.create(), ownedCluster()])
})
afterAll(async () => {
  if (cluster) await cluster.destroy()
})

const { makePool } = db
const servers = httpServers()
afterEach(async () => {
  await servers.closeAll()
  await db.endPools()
})

/**
 * Starts `app.use(databaseRouter(pool)); <routes>; app.use(errorHandler(opts)); [finalHandler]`
 * on 127.0.0.1:0; resolves to its base URL.
 */
async function serve (pool, { routes, handlerOpts, finalHandler } = {}) {
  const app = express()
  app.use(databaseRouter(pool))
  if (routes) routes(app)
  app.use(errorHandler(handlerOpts))
  if (finalHandler) app.use(finalHandler)
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  servers.add(server)
  return `http://127.0.0.1:${server.address().port}`
}

async function get (url) {
  const res = await fetch(url)
  const body = await res.text()
  let json
  try { json = JSON.parse(body) } catch {}
  return { status: res.status, headers: res.headers, body, json }
}

describe('databaseRouter', () => {
  test('GET /metrics/database → 200 JSON with the stats shape', async () => {
    const pool = makePool({ connectionLimit: 3 })
    await pool.query('SELECT 1')
    await pool.query('SELEC 1').catch(() => {})
    const base = await serve(pool)
    const r = await get(`${base}/metrics/database`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^application\/json/)
    const s = r.json
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['pool', 'queries', 'acquire', 'retries', 'connections', 'errors', 'slowQueries', 'config', 'timestamp']))
    expect(s.pool).toMatchObject({ limit: 3 })
    for (const k of ['active', 'idle', 'total', 'limit', 'waiting', 'utilization']) expect(typeof s.pool[k]).toBe('number')
    expect(s.queries).toMatchObject({ queriesExecuted: 2, queryErrors: 1 })
    expect(s.errors.byCode).toEqual({ 42601: 1 })
    expect(s.config).toMatchObject({ connectionLimit: 3, poolTimeout: 10 })
    expect(typeof s.timestamp).toBe('string')
    expect(Number.isNaN(Date.parse(s.timestamp))).toBe(false)
  })

  test('GET /health/ready → 200 with the health result when healthy', async () => {
    const pool = makePool()
    const base = await serve(pool)
    const r = await get(`${base}/health/ready`)
    expect(r.status).toBe(200)
    expect(r.json.status).toBe('healthy')
    expect(typeof r.json.latency).toBe('number')
    expect(r.json.details.pool).toBeDefined()
  })

  test('GET /health/ready → 200 when degraded', async () => {
    const pool = makePool({ connectionLimit: 2, utilizationAlertThreshold: 0.5 })
    const held = await pool.acquire()
    try {
      const base = await serve(pool)
      const r = await get(`${base}/health/ready`)
      expect(r.json.status).toBe('degraded')
      expect(r.status).toBe(200)
    } finally {
      held.release()
    }
  })

  test('GET /health/ready → 503 when the (owned) server is stopped, 200 again after start', async () => {
    const pool = makePool({ poolTimeoutMs: 1000, connectTimeoutMs: 1000 }, cluster.url)
    const base = await serve(pool)
    expect((await get(`${base}/health/ready`)).status).toBe(200)
    await cluster.stop()
    let down
    try {
      down = await get(`${base}/health/ready`)
    } finally {
      await cluster.start()
    }
    expect(down.status).toBe(503)
    expect(down.json.status).toBe('unhealthy')
    const up = await eventually(() => get(`${base}/health/ready`), (r) => r.status === 200, { ms: 2000, every: 100 })
    expect(up.status).toBe(200)
  })

  test('GET /health/ready → 503 after pool.end()', async () => {
    const pool = makePool()
    const base = await serve(pool)
    await pool.end()
    const r = await get(`${base}/health/ready`)
    expect(r.status).toBe(503)
    expect(r.json.status).toBe('unhealthy')
  })

  test('GET /metrics → 200 text/plain (0.0.4) with pgwarden_ lines', async () => {
    const pool = makePool()
    await pool.query('SELECT 1')
    const base = await serve(pool)
    const r = await get(`${base}/metrics`)
    expect(r.status).toBe(200)
    const ct = r.headers.get('content-type')
    expect(ct).toMatch(/^text\/plain/)
    expect(ct).toMatch(/version=0\.0\.4/)
    const samples = r.body.split('\n').filter((l) => l && !l.startsWith('#'))
    expect(samples.length).toBeGreaterThan(10)
    for (const l of samples) expect(l).toMatch(/^pgwarden_[a-z_]+(\{[^}]*\})? \S+$/)
    expect(r.body).toContain('pgwarden_queries_total 1\n')
    expect(r.body).toBe(pool.metrics())
  })

  test('other paths are not taken by the router (404 from Express)', async () => {
    const pool = makePool()
    const base = await serve(pool)
    expect((await get(`${base}/metrics/other`)).status).toBe(404)
    expect((await fetch(`${base}/health/ready`, { method: 'POST' })).status).toBe(404)
  })
})

describe('errorHandler', () => {
  test('a real pool timeout (P2024) → 503 with Retry-After', async () => {
    const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 200 })
    const held = await pool.acquire()
    try {
      const base = await serve(pool, {
        routes: (app) => app.get('/busy', async (req, res) => res.json((await pool.query('SELECT 1 AS one')).rows))
      })
      const t0 = Date.now()
      const r = await get(`${base}/busy`)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150)
      expect(r.status).toBe(503)
      expect(r.headers.get('retry-after')).toBe('5')
      expect(r.json).toMatchObject({ code: 'P2024', kind: 'pool_timeout' })
      expect(typeof r.json.error).toBe('string')
    } finally {
      held.release()
    }
  })

  test('Retry-After follows retryAfterSeconds', async () => {
    const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 100 })
    const held = await pool.acquire()
    try {
      const base = await serve(pool, {
        handlerOpts: { retryAfterSeconds: 2 },
        routes: (app) => app.get('/busy', async (req, res) => res.json((await pool.query('SELECT 1')).rows))
      })
      const r = await get(`${base}/busy`)
      expect(r.status).toBe(503)
      expect(r.headers.get('retry-after')).toBe('2')
    } finally {
      held.release()
    }
  })

  test('a real P1001 (pool to a closed port) → 503', async () => {
    const port = await freePort()
    const dead = makePool({ poolTimeoutMs: 300 }, `postgres://postgres@127.0.0.1:${port}/db`)
    const base = await serve(dead, {
      routes: (app) => app.get('/dead', async (req, res) => res.json((await dead.query('SELECT 1')).rows))
    })
    const r = await get(`${base}/dead`)
    expect(r.status).toBe(503)
    expect(r.headers.get('retry-after')).toBe('5')
    expect(r.json).toMatchObject({ code: 'P1001', kind: 'connection' })
    // The response never leaks connection details beyond the code and kind.
    expect(r.body).not.toContain(String(port))
  })

  test('a 53300-like error object (too many connections) → 503', async () => {
    const pool = makePool()
    const base = await serve(pool, {
      routes: (app) => app.get('/full', async () => {
        throw Object.assign(new Error('sorry, too many clients already'), { code: '53300' })
      })
    })
    const r = await get(`${base}/full`)
    expect(r.status).toBe(503)
    expect(r.headers.get('retry-after')).toBe('5')
    expect(r.json).toMatchObject({ code: '53300', kind: 'too_many_connections' })
  })

  test('a 23505 from a real query is passed on: Express default handler → 500, not 503', async () => {
    const pool = makePool()
    const base = await serve(pool, {
      routes: (app) => app.get('/dup', async (req, res) => res.json(await pool.query('INSERT INTO uniq VALUES (1)')))
    })
    const r = await get(`${base}/dup`)
    expect(r.status).toBe(500)
    expect(r.headers.get('retry-after')).toBeNull()
  })

  test('a 23505 reaches a custom final handler (500 JSON with the original error)', async () => {
    const pool = makePool()
    const seen = []
    const base = await serve(pool, {
      routes: (app) => app.get('/dup', async (req, res) => res.json(await pool.query('INSERT INTO uniq VALUES (1)'))),
      finalHandler: (err, req, res, next) => {
        seen.push(err)
        res.status(500).json({ code: err.code, kind: err.kind })
      }
    })
    const r = await get(`${base}/dup`)
    expect(r.status).toBe(500)
    expect(r.json).toEqual({ code: '23505', kind: 'constraint' })
    expect(r.headers.get('retry-after')).toBeNull()
    expect(seen).toHaveLength(1)
    expect(seen[0].constraint).toBe('uniq_pkey')
  })

  test('a plain non-database error is passed on unchanged', async () => {
    const pool = makePool()
    const seen = []
    const boom = new Error('boom')
    const base = await serve(pool, {
      routes: (app) => app.get('/boom', () => { throw boom }),
      finalHandler: (err, req, res, next) => {
        seen.push(err)
        res.status(500).json({ message: err.message })
      }
    })
    const r = await get(`${base}/boom`)
    expect(r.status).toBe(500)
    expect(seen[0]).toBe(boom)
  })
})
