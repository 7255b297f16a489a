'use strict'
// What a new connection goes through before it serves anyone, and when a connection is let go:
// the `onConnect` hook (run once per connection, before its first caller, in the order its
// statements were issued; a failing hook closes the connection and fails the statement that
// opened it; a session a caller changed is not reset but replaced, so the hook's state holds;
// replica connections are set up too), `maxUses` (a connection closes after that many
// checkouts) and `idleCheckMs` (a connection that sat idle is checked before use, so one that a
// NAT or firewall silently dropped never gets a caller's statement).

const { harness } = require('./harness')
const { TcpProxy } = require('./helpers/proxy')
const {
  poolsOnFreshDatabase, appNames, backendCounter, eventually, failure, thrownBy, timed, sleep, recordingLogger
} = require('./helpers/common')

const db = poolsOnFreshDatabase('connsetup')
beforeAll(db.create)
const proxies = []
afterEach(async () => {
  await db.endPools()
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})
const { makePool } = db
const appName = appNames(`pgw_connsetup_${process.pid}`)
const backends = backendCounter(harness)

/**
 * An onConnect hook that counts its calls (`hook.calls`) and runs `body(client, call)` (`call`
 * is 1 for the first connection, 2 for the next…).
 */
function countingHook (body) {
  const hook = async (client) => {
    hook.calls++
    await body(client, hook.calls)
  }
  hook.calls = 0
  return hook
}

/**
 * A hook that sets application_name to `name`, after a pause: a connection handed out before
 * its hook finished would show the pool's own application_name instead.
 */
const settingHook = (name) => countingHook(async (client) => {
  await sleep(100)
  await client.query(`SET application_name = '${name}'`)
})

/** What a statement on `runner` (a pool, a held client) finds: its application_name and backend pid. */
async function sessionOf (runner, opts) {
  const { rows } = await runner.query("SELECT current_setting('application_name') AS app, pg_backend_pid() AS pid", [], opts)
  return rows[0]
}

/** The backend pid a statement on `runner` (a pool, a held client) ran on. */
async function pidOf (runner) {
  return (await runner.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
}

/** `p`, or a marker rejection after `ms`, so a hang shows as a failed assertion rather than a jest timeout. */
function bounded (p, ms) {
  let timer
  const guard = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`HUNG after ${ms}ms`), { code: 'HUNG' })), ms)
  })
  return Promise.race([p, guard]).finally(() => clearTimeout(timer))
}

describe('onConnect runs on each new connection before it serves anyone', () => {
  test('three held clients: the first statement of each, on three connections, sees what the hook set', async () => {
    const app = appName('held')
    const hook = settingHook(`${app}_set_up`)
    const pool = makePool({ applicationName: app, connectionLimit: 3, onConnect: hook })
    const clients = await Promise.all([1, 2, 3].map(() => pool.acquire()))
    try {
      const seen = await Promise.all(clients.map((c) => sessionOf(c)))
      expect(seen.map((s) => s.app)).toEqual([`${app}_set_up`, `${app}_set_up`, `${app}_set_up`])
      expect(new Set(seen.map((s) => s.pid)).size).toBe(3)
    } finally {
      clients.forEach((c) => c.release())
    }
    expect(hook.calls).toBe(3)
    // Nothing of the pool's own name is left on the server: every connection was set up.
    expect(await backends(app)).toBe(0)
    expect(await backends(`${app}_set_up`)).toBe(3)
  })

  test('pool.query: the first statement on each of three new connections sees what the hook set', async () => {
    const app = appName('query')
    const hook = settingHook(`${app}_set_up`)
    // pipelineDepth 1: three statements at once need three connections.
    const pool = makePool({ applicationName: app, connectionLimit: 3, pipelineDepth: 1, onConnect: hook })
    const sql = "SELECT current_setting('application_name') AS app, pg_backend_pid() AS pid FROM pg_sleep(0.2)"
    const seen = (await Promise.all([1, 2, 3].map(() => pool.query(sql)))).map((r) => r.rows[0])
    expect(seen.map((s) => s.app)).toEqual([`${app}_set_up`, `${app}_set_up`, `${app}_set_up`])
    expect(new Set(seen.map((s) => s.pid)).size).toBe(3)
    expect(hook.calls).toBe(3)
  })

  test('it runs once per connection: calls equal connections.created, replacements included', async () => {
    const app = appName('once')
    const hook = settingHook(`${app}_set_up`)
    const pool = makePool({ applicationName: app, connectionLimit: 3, onConnect: hook })
    const work = async (i) => {
      if (i % 3) return pool.query('SELECT $1::int AS i FROM pg_sleep(0.02)', [i])
      const client = await pool.acquire()
      try {
        return await client.query('SELECT $1::int AS i', [i])
      } finally {
        client.release()
      }
    }
    await Promise.all(Array.from({ length: 30 }, (_, i) => work(i)))
    await Promise.all(Array.from({ length: 30 }, (_, i) => work(i)))
    const before = pool.getPoolStats().connections.created
    expect(before).toBeGreaterThanOrEqual(1)
    expect(hook.calls).toBe(before)
    // Connections killed behind the pool's back are replaced, and each replacement is set up.
    expect(await harness().terminateBackends({ applicationName: `${app}_set_up` })).toBe(before)
    await eventually(async () => (await timed(pool.query('SELECT 1'))).ok, true)
    expect((await sessionOf(pool)).app).toBe(`${app}_set_up`)
    const after = pool.getPoolStats().connections.created
    expect(after).toBeGreaterThan(before)
    expect(hook.calls).toBe(after)
  })

  test("statements the hook issues without awaiting run in order, and all before the first caller's", async () => {
    const errors = []
    const hook = countingHook((client) => {
      // Each depends on the one before; none is awaited, and the hook returns at once.
      for (const sql of ['CREATE TEMP TABLE hooked (n int)', 'INSERT INTO hooked VALUES (1)',
        'UPDATE hooked SET n = n * 10', 'INSERT INTO hooked VALUES (2)']) {
        client.query(sql).catch((e) => errors.push(`${sql}: ${e.message}`))
      }
    })
    const pool = makePool({ applicationName: appName('order'), connectionLimit: 1, onConnect: hook })
    // Read only: a caller that changed the session would make the pool close this connection.
    expect((await pool.query('SELECT n FROM hooked ORDER BY n')).rows).toEqual([{ n: 2 }, { n: 10 }])
    expect(errors).toEqual([])
    const client = await pool.acquire()
    try {
      expect((await client.query('SELECT count(*)::int AS c FROM hooked')).rows).toEqual([{ c: 2 }])
    } finally {
      client.release()
    }
    expect(hook.calls).toBe(1)
  })
})

describe('a failing onConnect', () => {
  test('a throw on the first connection: the statement rejects ERR_PGWARDEN_ON_CONNECT, the backend is gone, the next connection works', async () => {
    const app = appName('throws')
    const seenDuringHook = []
    const logger = recordingLogger()
    const hook = countingHook(async (client, call) => {
      if (call === 1) {
        await client.query(`SET application_name = '${app}_doomed'`)
        seenDuringHook.push(await backends(`${app}_doomed`))
        throw new Error('hook says no')
      }
      await client.query(`SET application_name = '${app}_ok'`)
    })
    const pool = makePool({ applicationName: app, connectionLimit: 1, onConnect: hook, logger })
    const err = await failure(pool.query('SELECT 1 AS one'))
    expect(err.code).toBe('ERR_PGWARDEN_ON_CONNECT')
    expect(err.message).toContain('hook says no')
    // The backend existed while the hook ran, and was closed when it threw.
    expect(seenDuringHook).toEqual([1])
    expect(await eventually(() => backends(`${app}_doomed`), 0)).toBe(0)
    // Logged too.
    expect(logger.calls.warn.concat(logger.calls.error).some((m) => m.includes('hook says no'))).toBe(true)
    // The next statement opens another connection, whose hook succeeds.
    expect(await sessionOf(pool)).toEqual({ app: `${app}_ok`, pid: expect.any(Number) })
    expect(hook.calls).toBe(2)
    expect(await backends(`${app}_ok`)).toBe(1)
  })

  test('a hook statement that fails: acquire() rejects ERR_PGWARDEN_ON_CONNECT with the server\'s message', async () => {
    const app = appName('badsql')
    const hook = countingHook(async (client, call) => {
      await client.query(`SET application_name = '${app}_${call}'`)
      if (call === 1) await client.query('SELECT no_such_function()')
    })
    const pool = makePool({ applicationName: app, connectionLimit: 1, onConnect: hook })
    const err = await failure(pool.acquire())
    expect(err.code).toBe('ERR_PGWARDEN_ON_CONNECT')
    expect(err.message).toContain('function no_such_function() does not exist')
    expect(await eventually(() => backends(`${app}_1`), 0)).toBe(0)
    const client = await pool.acquire()
    try {
      expect((await sessionOf(client)).app).toBe(`${app}_2`)
    } finally {
      client.release()
    }
  })

  test('a hook that leaves a transaction open: the connection is never handed out, the caller gets ERR_PGWARDEN_ON_CONNECT', async () => {
    const pool = makePool({ connectionLimit: 1, onConnect: async (client) => { await client.query('BEGIN') } })
    const err = await failure(pool.query('SELECT 1'))
    expect(err.code).toBe('ERR_PGWARDEN_ON_CONNECT')
    expect(err.message).toContain('inside a transaction')
  })

  test.each([['a string', 'SET x = 1'], ['an object', { query: 'SET x = 1' }], ['a number', 1]])(
    'onConnect that is %s is ERR_PGWARDEN_CONFIG at construction', (_, onConnect) => {
      const err = thrownBy(() => makePool({ onConnect }))
      expect(err.code).toBe('ERR_PGWARDEN_CONFIG')
      expect(err.message).toContain('onConnect')
    })
})

describe('a connection set up by onConnect keeps what the hook set', () => {
  /** A pool whose hook sets pgw.origin = 'hook'; the caller changes statement_timeout on a held client. */
  async function afterSessionChange (onConnect) {
    const pool = makePool({ applicationName: appName('reset'), connectionLimit: 1, onConnect })
    const client = await pool.acquire()
    let first
    try {
      first = (await client.query("SELECT pg_backend_pid() AS pid, current_setting('pgw.origin', true) AS origin")).rows[0]
      await client.query('SET statement_timeout = 1234')
      expect((await client.query("SELECT current_setting('statement_timeout') AS st")).rows[0].st).toBe('1234ms')
    } finally {
      client.release()
    }
    const next = (await pool.query("SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS st, " +
      "current_setting('pgw.origin', true) AS origin")).rows[0]
    return { first, next }
  }

  test('a held client changed its session: the next caller gets a new connection, set up by the hook, without the change', async () => {
    const hook = countingHook((client) => client.query("SET pgw.origin = 'hook'"))
    const { first, next } = await afterSessionChange(hook)
    expect(first.origin).toBe('hook')
    expect(next.st).not.toBe('1234ms')
    expect(next.origin).toBe('hook')
    expect(next.pid).not.toBe(first.pid)
    expect(hook.calls).toBe(2)
  })

  test('without onConnect the same change is reset on the same connection (the contrast)', async () => {
    const { first, next } = await afterSessionChange(undefined)
    expect(next.st).not.toBe('1234ms')
    expect(next.pid).toBe(first.pid)
  })
})

describe('onConnect on replica connections', () => {
  test('replica: true reads run on connections the hook set up', async () => {
    // The test server stands in for a replica (a server not in recovery is kept in rotation);
    // its own application_name tells its connections from the primary's.
    const app = appName('primary')
    const replicaApp = appName('replica')
    const hookedOn = []
    const hook = countingHook(async (client) => {
      hookedOn.push((await client.query("SELECT current_setting('application_name') AS app")).rows[0].app)
      await client.query("SET pgw.origin = 'hook'")
    })
    const replicaUrl = new URL(db.url)
    replicaUrl.searchParams.set('application_name', replicaApp)
    const pool = makePool({ applicationName: app, replicaUrls: [replicaUrl.toString()], onConnect: hook })
    const sql = "SELECT current_setting('application_name') AS app, current_setting('pgw.origin', true) AS origin"
    expect((await pool.query(sql, [], { replica: true })).rows).toEqual([{ app: replicaApp, origin: 'hook' }])
    expect((await pool.replica().query(sql)).rows).toEqual([{ app: replicaApp, origin: 'hook' }])
    expect((await pool.query(sql)).rows).toEqual([{ app, origin: 'hook' }])
    expect(hookedOn).toEqual(expect.arrayContaining([replicaApp, app]))
    const { servers } = pool.getPoolStats().replicas
    expect(servers).toEqual([expect.objectContaining({ state: 'healthy', queries: 2, errors: 0 })])
  })
})

describe('maxUses', () => {
  /** The backend pid of each of `n` checkouts in turn, alternating pool.query and acquire(). */
  async function pidsOfCheckouts (pool, n) {
    const pids = []
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) {
        pids.push(await pidOf(pool))
      } else {
        const client = await pool.acquire()
        try {
          pids.push(await pidOf(client))
        } finally {
          client.release()
        }
      }
    }
    return pids
  }

  /** `pids` as letters by first appearance: [7, 7, 9] → 'AAB'. */
  const shape = (pids) => {
    const names = new Map()
    return pids.map((p) => names.get(p) ?? names.set(p, String.fromCharCode(65 + names.size)).get(p)).join('')
  }

  test('maxUses 3: the backend changes after every 3 checkouts, pool.query and acquire() both counting', async () => {
    const pool = makePool({ applicationName: appName('maxuses'), connectionLimit: 1, maxUses: 3 })
    expect(shape(await pidsOfCheckouts(pool, 8))).toBe('AAABBBCC')
  })

  test('maxUses 0 (the default): one backend for every checkout (the contrast)', async () => {
    const pool = makePool({ applicationName: appName('maxuses0'), connectionLimit: 1 })
    expect(shape(await pidsOfCheckouts(pool, 8))).toBe('AAAAAAAA')
  })
})

describe('idleCheckMs', () => {
  /**
   * A pool (connectionLimit 1) whose only way to the server is a TCP proxy; one statement ran,
   * then the connection sat idle 400 ms, then the proxy silently forgot it. Resolves to what
   * the next `SELECT 1` did, and the pool.
   */
  async function afterSilentDrop (opts) {
    const proxy = new TcpProxy({ targetPort: Number(new URL(db.url).port) })
    proxies.push(proxy)
    const u = new URL(db.url)
    u.port = String(await proxy.start())
    const pool = makePool({ applicationName: appName('idle'), connectionLimit: 1, connectTimeoutMs: 1000, queryTimeoutMs: 3000, ...opts }, u.toString())
    const firstPid = await pidOf(pool)
    await sleep(400)
    expect(proxy.forget()).toBe(1)
    const r = await bounded(timed(pool.query('SELECT 1 AS one, pg_backend_pid() AS pid')), 15000).catch((error) => ({ ok: false, error }))
    return { r, firstPid, pool }
  }

  test('idleCheckMs 200: a connection silently dropped while idle is checked, closed and replaced; the statement succeeds', async () => {
    const { r, firstPid, pool } = await afterSilentDrop({ idleCheckMs: 200 })
    console.log(`[connection-setup] idleCheckMs 200, after a silent drop: ${r.ok ? 'ok' : r.error.code} in ${r.ms}ms`)
    expect(r.error).toBeUndefined()
    expect(r.value.rows[0].one).toBe(1)
    expect(r.value.rows[0].pid).not.toBe(firstPid)
    // The check waited connectTimeoutMs (1000) at most, well before queryTimeoutMs (3000).
    expect(r.ms).toBeLessThan(2500)
    expect(pool.getPoolStats().connections.created).toBe(2)
  })

  test('idleCheckMs 0: the same statement goes into the dead connection and times out (P1008) (the contrast)', async () => {
    const { r } = await afterSilentDrop({ idleCheckMs: 0 })
    console.log(`[connection-setup] idleCheckMs 0, after a silent drop: ${r.ok ? 'ok' : r.error.code} in ${r.ms}ms`)
    expect(r.ok).toBe(false)
    expect(r.error.code).toBe('P1008')
    expect(r.ms).toBeGreaterThanOrEqual(2900)
  })
})
