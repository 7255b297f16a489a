'use strict'
// pgwarden/express's requestContext in a real Express app over HTTP (127.0.0.1:0): a client
// that hangs up mid-statement has it cancelled on the server, one budget spans a request's
// statements, settings come from the request (an RLS policy sees them, the connection's next
// user does not), the route's tag reaches pg_stat_activity, and a nested acquire on a pool of
// one fails at once. The rules without HTTP: request-scope.test.js.

const http = require('node:http')
const express = require('express')
const { requestContext } = require('../lib/express')
const { harness } = require('./harness')
const { eventually } = require('./helpers/common')
const { ordersWithPolicy } = require('./helpers/rls')
const { httpServers } = require('./helpers/http-servers')

const rls = ordersWithPolicy('scope_http')
beforeAll(rls.create)
afterAll(rls.drop)
const servers = httpServers()
afterEach(async () => {
  await servers.closeAll()
  await rls.endPools()
})
const { policyPool } = rls

/** An app with `requestContext(pool, scopeOpts)`, `routes(app)`, and errors answered as JSON; its base URL. */
async function serve (pool, scopeOpts, routes) {
  const app = express()
  // An auth middleware after requestContext: settings read req.user when a statement runs.
  app.use(requestContext(pool, scopeOpts))
  app.use((req, res, next) => {
    req.user = { id: req.get('x-user') }
    next()
  })
  routes(app)
  app.use((err, req, res, next) => {
    res.status(500).json({ code: err.code, message: err.message })
  })
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  servers.add(server)
  return `http://127.0.0.1:${server.address().port}`
}

/** An async route handler whose rejection reaches the error middleware. */
const handler = (fn) => (req, res, next) => fn(req, res).catch(next)

/** The server's backends running a statement that matches `like` (the admin session excluded). */
async function running (like) {
  const rows = await harness().admin(`SELECT query FROM pg_stat_activity WHERE state = 'active' AND query LIKE '${like}' AND pid <> pg_backend_pid()`)
  return rows.map((r) => r[0])
}

test('a client that disconnects mid-pg_sleep(30): the statement is cancelled, the backend idle within 1 s', async () => {
  const pool = policyPool()
  const outcome = {}
  const base = await serve(pool, {}, (app) => {
    app.get('/slow', handler(async (req, res) => {
      try {
        await pool.query('SELECT pg_sleep(30) AS hung_up')
      } catch (e) {
        Object.assign(outcome, { code: e.code, message: e.message, maybeCommitted: e.maybeCommitted })
        throw e
      }
      res.json({ done: true })
    }))
  })
  const req = http.get(`${base}/slow`)
  req.on('error', () => {})
  expect(await eventually(() => running('%AS hung_up%'), (q) => q.length === 1)).toHaveLength(1)
  const hungUpAt = Date.now()
  req.destroy()
  expect(await eventually(() => running('%AS hung_up%'), (q) => q.length === 0, { ms: 1000 })).toEqual([])
  expect(Date.now() - hungUpAt).toBeLessThan(1000)
  await eventually(() => outcome.code)
  expect(outcome.code).toBe('57014')
  expect(outcome.message).toMatch(/HTTP request was closed by the client before the response was sent; the statement was cancelled on the server/)
  expect(outcome.maybeCommitted).toBe(false)
  expect(pool.getPoolStats().requestScopes.cancelledByHangUp).toBe(1)
  expect(pool.metrics()).toMatch(/pgwarden_scope_stops_total\{cause="hang_up"\} 1/)
})

test('a client that disconnects while its statement and its transaction wait for a connection: both reject unsent at once', async () => {
  const pool = policyPool()
  const outcomes = []
  const base = await serve(pool, {}, (app) => {
    app.get('/queued', handler(async (req, res) => {
      const settle = (p) => p.then(() => ({ ok: true }), (e) => ({ code: e.code, message: e.message, at: Date.now() }))
      outcomes.push(...await Promise.all([
        settle(pool.query("SELECT 'queued' AS never_sent")),
        settle(pool.transaction((tx) => tx.query("SELECT 'in a transaction' AS never_sent")))
      ]))
      res.json({ done: true })
    }))
  })
  const blocker = pool.query('SELECT pg_sleep(1.5)') // the pool's one connection, outside any request
  const req = http.get(`${base}/queued`)
  req.on('error', () => {})
  await eventually(() => pool.getPoolStats().pool.waiting === 2)
  const hungUpAt = Date.now()
  req.destroy()
  await eventually(() => outcomes.length === 2)
  for (const o of outcomes) {
    expect(o.code).toBe('57014')
    expect(o.message).toMatch(/HTTP request was closed by the client before the response was sent before the statement was sent/)
    expect(o.at - hungUpAt).toBeLessThan(500)
  }
  await blocker
  expect(await running('%never_sent%')).toEqual([])
})

test('a 200 ms budget across three sequential statements of one request', async () => {
  const pool = policyPool()
  const base = await serve(pool, { timeoutMs: 200 }, (app) => {
    app.get('/three', handler(async (req, res) => {
      for (let i = 0; i < 3; i++) await pool.query('SELECT pg_sleep(0.08)')
      res.json({ done: true })
    }))
  })
  const t0 = Date.now()
  const res = await fetch(`${base}/three`)
  const body = await res.json()
  expect(res.status).toBe(500)
  expect(body.code).toBe('P1008')
  expect(body.message).toMatch(/withContext timeoutMs: 200ms/)
  expect(Date.now() - t0).toBeLessThan(800)
})

test('settings from the request: the RLS policy filters rows; the connection\'s next statement outside a request sees no setting', async () => {
  const pool = policyPool()
  const base = await serve(pool, { settings: (req) => ({ 'app.user_id': req.user.id }) }, (app) => {
    app.get('/orders', handler(async (req, res) => {
      res.json((await pool.query('SELECT id FROM orders ORDER BY id')).rows.map((r) => r.id))
    }))
  })
  expect(await (await fetch(`${base}/orders`, { headers: { 'x-user': '42' } })).json()).toEqual([1, 2])
  expect(await (await fetch(`${base}/orders`, { headers: { 'x-user': '7' } })).json()).toEqual([3])
  const after = await pool.query("SELECT coalesce(current_setting('app.user_id', true), '') AS v, (SELECT count(*)::int FROM orders) AS n")
  expect(after.rows).toEqual([{ v: '', n: 0 }])
})

test('the route\'s tag is in pg_stat_activity.query', async () => {
  const pool = policyPool()
  const base = await serve(pool, { tags: (req) => ({ route: req.route && req.route.path }) }, (app) => {
    app.get('/orders/:id', handler(async (req, res) => {
      await pool.query('SELECT pg_sleep(0.4) AS tagged_route')
      res.json({ ok: true })
    }))
  })
  const response = fetch(`${base}/orders/17`)
  const seen = await eventually(() => running('%AS tagged_route%'), (q) => q.length === 1)
  expect(seen[0]).toBe("SELECT pg_sleep(0.4) AS tagged_route /*route='%2Forders%2F%3Aid'*/")
  expect((await response).status).toBe(200)
})

test('a nested acquire on a pool of 1 fails at once with ERR_PGWARDEN_SELF_DEADLOCK, naming where the connection was taken', async () => {
  const pool = policyPool({ poolTimeoutMs: 5000 })
  const base = await serve(pool, {}, (app) => {
    app.get('/nested', handler(async (req, res) => {
      await pool.transaction(async (tx) => {
        await tx.query('SELECT 1')
        const client = await pool.acquire()
        client.release()
      })
      res.json({ ok: true })
    }))
  })
  const t0 = Date.now()
  const res = await fetch(`${base}/nested`)
  const body = await res.json()
  expect(res.status).toBe(500)
  expect(body.code).toBe('ERR_PGWARDEN_SELF_DEADLOCK')
  expect(body.message).toContain('request-scope-http.test.js')
  expect(Date.now() - t0).toBeLessThan(1000)
})
