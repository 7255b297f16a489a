'use strict'
// Request scopes (pool.withContext): one deadline for the scope's work, its abort, settings
// with transaction scope (an RLS policy sees them, the next user of the connection does not),
// tags in pg_stat_activity, and a nested wait on a pool the scope holds refused at once.
// Over HTTP through pgwarden/express: request-scope-http.test.js.

const { PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, eventually, failure, timed } = require('./helpers/common')
const { ordersWithPolicy } = require('./helpers/rls')

const rls = ordersWithPolicy('request_scope')
beforeAll(rls.create)
afterEach(rls.endPools)
afterAll(rls.drop)
const { makePool, policyPool } = rls

/** The `query` text of the server's backends running something that matches `like`. */
async function activeQueries (like) {
  const rows = await harness().admin(`SELECT query FROM pg_stat_activity WHERE state = 'active' AND query LIKE '${like}' AND pid <> pg_backend_pid()`)
  return rows.map((r) => r[0])
}

describe('one deadline', () => {
  test('a 200 ms budget across three sequential statements: the third is stopped at the deadline, a fourth is not sent', async () => {
    const pool = makePool()
    await pool.query('SELECT 1')
    const done = []
    const { error, ms } = await timed(pool.withContext({ timeoutMs: 200 }, async () => {
      for (let i = 0; i < 3; i++) {
        await pool.query('SELECT pg_sleep(0.08)')
        done.push(i)
      }
    }))
    expect(done).toEqual([0, 1])
    expect(error).toBeInstanceOf(PgWardenError)
    expect(error.code).toBe('P1008')
    expect(error.kind).toBe('timeout')
    expect(error.message).toMatch(/deadline of its request scope passed \(withContext timeoutMs: 200ms\); the statement was cancelled on the server/)
    expect(error.maybeCommitted).toBe(false)
    expect(ms).toBeGreaterThanOrEqual(190)
    expect(ms).toBeLessThan(600)
    // After the deadline nothing more is sent.
    const late = await failure(pool.withContext({ timeoutMs: 20 }, async () => {
      await sleep(40)
      return pool.query('SELECT 1')
    }))
    expect(late.code).toBe('P1008')
    expect(late.message).toMatch(/withContext timeoutMs: 20ms\) before the statement was sent/)
    expect(late.cause.name).toBe('TimeoutError')
    expect(pool.getPoolStats().requestScopes.stoppedByDeadline).toBe(2)
    expect((await pool.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }])
  })

  test('the wait for a connection counts against the deadline: a queued statement rejects unsent at the deadline', async () => {
    const pool = makePool({ connectionLimit: 1 })
    const busy = pool.query('SELECT pg_sleep(0.6)')
    await sleep(50)
    const { error, ms } = await timed(pool.withContext({ timeoutMs: 150 }, () => pool.query("SELECT 'never sent'")))
    expect(error.code).toBe('P1008')
    expect(error.message).toMatch(/before the statement was sent/)
    expect(ms).toBeGreaterThanOrEqual(140)
    expect(ms).toBeLessThan(450)
    await busy
  })

  test('a statement\'s own smaller timeoutMs wins; a nested scope can only shorten the deadline', async () => {
    const pool = makePool()
    const own = await failure(pool.withContext({ timeoutMs: 2000 }, () => pool.query('SELECT pg_sleep(1)', [], { timeoutMs: 100 })))
    expect(own.code).toBe('P1008')
    expect(own.message).toMatch(/timed out after 100ms/)
    const { error, ms } = await timed(pool.withContext({ timeoutMs: 150 }, () =>
      pool.withContext({ timeoutMs: 5000 }, () => pool.query('SELECT pg_sleep(1)'))))
    expect(error.message).toMatch(/withContext timeoutMs: 150ms/)
    expect(ms).toBeLessThan(700)
  })

  test('a transaction in the scope is bounded by it and rolled back at the deadline', async () => {
    const pool = makePool()
    await pool.query('CREATE TABLE IF NOT EXISTS scope_tx (v int)')
    const error = await failure(pool.withContext({ timeoutMs: 200 }, () => pool.transaction(async (tx) => {
      await tx.query('INSERT INTO scope_tx VALUES (1)')
      await tx.query('SELECT pg_sleep(1)')
    })))
    expect(error.code).toBe('P1008')
    expect((await pool.query('SELECT count(*)::int AS n FROM scope_tx')).rows).toEqual([{ n: 0 }])
  })

  test('the scope\'s signal aborts its statements (57014, its reason as cause)', async () => {
    const pool = makePool()
    const ac = new AbortController()
    const reason = new Error('caller gave up')
    setTimeout(() => ac.abort(reason), 100)
    const { error, ms } = await timed(pool.withContext({ signal: ac.signal }, () => pool.query('SELECT pg_sleep(2)')))
    expect(error.code).toBe('57014')
    expect(error.cause).toBe(reason)
    expect(ms).toBeLessThan(800)
  })
})

describe('COPY in a scope', () => {
  test('a COPY carries the tag, is stopped at the deadline, and outside a transaction refuses to run without the settings', async () => {
    const pool = makePool()
    const { pipeline } = require('node:stream/promises')
    const { Writable } = require('node:stream')
    const sink = () => new Writable({ write (chunk, enc, cb) { cb() } })
    const copying = pool.withContext({ timeoutMs: 300, tags: { job: 'export' } }, () =>
      pipeline(pool.copyTo('COPY (SELECT pg_sleep(2) AS copy_tagged) TO STDOUT'), sink()))
    const seen = await eventually(() => activeQueries('%AS copy_tagged%'), (q) => q.length > 0)
    expect(seen[0]).toBe("COPY (SELECT pg_sleep(2) AS copy_tagged) TO STDOUT /*job='export'*/")
    const { error, ms } = await timed(copying)
    expect(error.code).toBe('P1008')
    expect(error.message).toMatch(/withContext timeoutMs: 300ms/)
    expect(ms).toBeLessThan(1500)
    const refused = await failure(pool.withContext({ settings: { 'app.user_id': '1' } }, async () => pool.copyTo('COPY (SELECT 1) TO STDOUT')))
    expect(refused.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(refused.message).toMatch(/A COPY cannot carry the settings of its withContext scope/)
  })
})

describe('settings with transaction scope', () => {
  test('an RLS policy reading app.user_id sees the scope\'s setting; the next statement on the same connection does not', async () => {
    const pool = policyPool()
    const inScope = await pool.withContext({ settings: { 'app.user_id': '42' } }, () => pool.query('SELECT id FROM orders ORDER BY id'))
    expect(inScope.rows).toEqual([{ id: 1 }, { id: 2 }])
    // One connection: the same backend, outside the scope.
    const after = await pool.query("SELECT current_setting('app.user_id', true) AS v, (SELECT count(*)::int FROM orders) AS n")
    expect(after.rows[0].v === null || after.rows[0].v === '').toBe(true)
    expect(after.rows[0].n).toBe(0)
    expect(pool.getPoolStats().pool.total).toBe(1)
  })

  test('values are parameters, never SQL; inner scopes add to outer ones', async () => {
    const pool = policyPool()
    const odd = "42' OR true --"
    const r = await pool.withContext({ settings: { 'app.user_id': odd, 'app.tenant': 't1' } }, () =>
      pool.withContext({ settings: { 'app.user_id': '7' } }, () =>
        pool.query("SELECT current_setting('app.tenant') AS tenant, array_agg(id) AS ids FROM orders")))
    expect(r.rows).toEqual([{ tenant: 't1', ids: [3] }])
    const r2 = await pool.withContext({ settings: { 'app.user_id': odd } }, () => pool.query("SELECT current_setting('app.user_id') AS v, count(*)::int AS n FROM orders"))
    expect(r2.rows).toEqual([{ v: odd, n: 0 }])
  })

  test('inside transaction() they are set once after BEGIN and last the whole transaction, then are gone', async () => {
    const pool = policyPool()
    const seen = await pool.withContext({ settings: { 'app.user_id': '42' } }, () => pool.transaction(async (tx) => {
      const a = await tx.query('SELECT count(*)::int AS n FROM orders')
      const b = await tx.query("SELECT current_setting('app.user_id') AS v")
      return [a.rows[0].n, b.rows[0].v]
    }))
    expect(seen).toEqual([2, '42'])
    const after = await pool.query("SELECT coalesce(current_setting('app.user_id', true), '') AS v")
    expect(after.rows).toEqual([{ v: '' }])
    // Transaction-local settings leave nothing to reset: no round trip at release.
    expect(pool.getPoolStats().connections.sessionResets).toBe(0)
  })

  test('an acquired client and a stream in the scope carry them too', async () => {
    const pool = policyPool({ connectionLimit: 2 })
    await pool.withContext({ settings: { 'app.user_id': '7' } }, async () => {
      const client = await pool.acquire()
      try {
        expect((await client.query('SELECT array_agg(id) AS ids FROM orders')).rows).toEqual([{ ids: [3] }])
      } finally {
        client.release()
      }
      const ids = []
      for await (const row of pool.stream('SELECT id FROM orders ORDER BY id')) ids.push(row.id)
      expect(ids).toEqual([3])
    })
  })

  test('a bad setting name is refused before anything is sent; a script outside a transaction is refused rather than run without them', async () => {
    const pool = makePool()
    const bad = await failure(pool.withContext({ settings: { "app.x'; DROP TABLE orders; --": '1' } }, async () => {}))
    expect(bad.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(bad.message).toMatch(/Setting name .* is not allowed/)
    const fromFn = await failure(pool.withContext({ settings: () => ({ 'App.User': '1' }) }, () => pool.query('SELECT 1')))
    expect(fromFn.code).toBe('ERR_PGWARDEN_PARAMS')
    const script = await failure(pool.withContext({ settings: { 'app.user_id': '1' } }, () => pool.executeScript('SELECT 1; SELECT 2')))
    expect(script.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(script.message).toMatch(/cannot carry the settings of its withContext scope/)
    const several = await failure(pool.withContext({ settings: { 'app.user_id': '1' } }, () => pool.query('SELECT 1; SELECT 2')))
    expect(several.code).toBe('ERR_PGWARDEN_PARAMS')
  })
})

describe('settings and the transactions they meet', () => {
  test('on a held client, statements that control the transaction carry none: an isolation level is set, a savepoint recovers, ROLLBACK works', async () => {
    const pool = policyPool()
    await pool.withContext({ settings: { 'app.user_id': '42' } }, async () => {
      const c = await pool.acquire()
      try {
        await c.query('BEGIN')
        await c.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE')
        expect((await c.query('SHOW transaction_isolation')).rows).toEqual([{ transaction_isolation: 'serializable' }])
        await c.query('SAVEPOINT a')
        await expect(c.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' })
        await c.query('ROLLBACK TO SAVEPOINT a')
        expect((await c.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 2 }])
        await expect(c.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' })
        await c.query('ROLLBACK')
      } finally {
        c.release()
      }
    })
  })

  test('inside pool.transaction an inner scope\'s settings apply to its statements, and the outer ones come back after it', async () => {
    const pool = policyPool()
    const seen = await pool.withContext({ settings: { 'app.user_id': '42' } }, () => pool.transaction(async (tx) => {
      const who = async () => (await tx.query("SELECT current_setting('app.user_id') AS v, count(*)::int AS n FROM orders")).rows[0]
      const before = await who()
      const inner = await pool.withContext({ settings: { 'app.user_id': '7' } }, who)
      const after = await who()
      return [before, inner, after]
    }))
    expect(seen).toEqual([{ v: '42', n: 2 }, { v: '7', n: 1 }, { v: '42', n: 2 }])
  })

  test('with tags too, a transaction in a scope leaves no session to reset', async () => {
    const pool = policyPool()
    await pool.withContext({ settings: { 'app.user_id': '42' }, tags: { route: '/t' } }, () => pool.transaction((tx) => tx.query('SELECT 1')))
    expect(pool.getPoolStats().connections.sessionResets).toBe(0)
  })
})

describe('edges', () => {
  test('the pool\'s queryTimeoutMs still bounds a statement in a longer scope; timeoutMs 0 is no deadline', async () => {
    const pool = makePool({ queryTimeoutMs: 150 })
    const e = await failure(pool.withContext({ timeoutMs: 5000 }, () => pool.query('SELECT pg_sleep(1)')))
    expect(e.code).toBe('P1008')
    expect(e.message).toMatch(/timed out after 150ms/)
    const r = await pool.withContext({ timeoutMs: 0 }, () => pool.query('SELECT 1 AS one', [], { timeoutMs: 1000 }))
    expect(r.rows).toEqual([{ one: 1 }])
  })

  test('a settings function that throws rejects the statement with its error, before anything is sent', async () => {
    const pool = makePool()
    const boom = new Error('no user on this request')
    const e = await failure(pool.withContext({ settings: () => { throw boom } }, () => pool.query('SELECT 1')))
    expect(e).toBe(boom)
    expect(pool.getPoolStats().queries.queriesExecuted).toBe(0)
  })
})

describe('tags', () => {
  test('tags go in a sqlcommenter comment, seen in pg_stat_activity.query', async () => {
    const pool = makePool()
    const running = pool.withContext({ tags: { route: '/orders/:id', app: "it's*/" } }, () => pool.query('SELECT pg_sleep(0.5) AS tagged'))
    const seen = await eventually(() => activeQueries('%AS tagged%'), (q) => q.length > 0)
    expect(seen[0]).toBe("SELECT pg_sleep(0.5) AS tagged /*app='it%27s%2A%2F',route='%2Forders%2F%3Aid'*/")
    await running
  })

  test('a statement that has a comment of its own is left as it is; a trailing semicolon stays last', async () => {
    const pool = makePool()
    const { withComment } = require('../lib/request-scope')
    expect(withComment('SELECT 1;', "/*a='b'*/")).toBe("SELECT 1 /*a='b'*/;")
    expect(withComment('SELECT 1 /* mine */', "/*a='b'*/")).toBe('SELECT 1 /* mine */')
    expect((await pool.withContext({ tags: { a: '*/' } }, () => pool.query('SELECT 1 AS one'))).rows).toEqual([{ one: 1 }])
  })
})

describe('no self-deadlock', () => {
  test('pool of 1: a pool.query inside a transaction in the scope fails at once, naming where the connection was taken', async () => {
    const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 5000 })
    const { error, ms } = await timed(pool.withContext({}, () => pool.transaction(async () => {
      await pool.query('SELECT 1')
    })))
    expect(error).toBeInstanceOf(PgWardenError)
    expect(error.code).toBe('ERR_PGWARDEN_SELF_DEADLOCK')
    expect(error.kind).toBe('other') // a programming error, not a busy database (no 503 from errorHandler)
    expect(error.retryable).toBe(false)
    expect(error.message).toMatch(/this request scope already holds one of them/)
    expect(error.message).toContain('request-scope.test.js')
    expect(ms).toBeLessThan(1000)
    // acquire() in a scope holding an acquired client: the same, at once.
    const nested = await failure(pool.withContext({}, async () => {
      const c = await pool.acquire()
      try {
        await pool.acquire()
      } finally {
        c.release()
      }
    }))
    expect(nested.code).toBe('ERR_PGWARDEN_SELF_DEADLOCK')
    expect(nested.heldConnectionAcquiredAt).toContain('request-scope.test.js')
    expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }])
  })

  test('with a connection free the nested statement runs; outside a scope the pool waits as before', async () => {
    const pool = makePool({ connectionLimit: 2 })
    const r = await pool.withContext({}, () => pool.transaction(async (tx) => {
      await tx.query('SELECT 1')
      return (await pool.query('SELECT 2 AS two')).rows
    }))
    expect(r).toEqual([{ two: 2 }])
    const one = makePool({ connectionLimit: 1, poolTimeoutMs: 200 })
    const waited = await failure(one.transaction(async () => { await one.query('SELECT 1') }))
    expect(waited.code).toBe('P2024')
  })
})
