'use strict'
// A connection's life in pgwarden/pg, side by side with real pg on the same database: the
// `connect` event (once per new connection, before the caller gets it, with a client that runs
// statements; a SET issued there without awaiting is in place for the caller), `verify`, pg's
// `onConnect` option, the acquire/release/remove events, and `maxUses`.

const pg = require('pg')
const compat = require('../lib/pg')
const { harness } = require('./harness')
const { poolsOnFreshDatabase, failure, eventually, appNames, backendCounter, pgPools } = require('./helpers/common')

const db = poolsOnFreshDatabase('pglifecycle')
beforeAll(db.create)
const appName = appNames(`pgw_pglife_${process.pid}`)
const backends = backendCounter(harness)

/** A pool of `Pool` (pgwarden/pg's or pg's) on the test database, ended after each test. */
const { poolOf, endAll } = pgPools(() => db.url)
afterEach(endAll)

/** Runs `scenario(Pool, name)` on pgwarden/pg's Pool, then on pg's: { ours, theirs }. */
async function onBoth (scenario) {
  return { ours: await scenario(compat.Pool, 'ours'), theirs: await scenario(pg.Pool, 'pg') }
}

/** The backend pid and application_name a statement on `runner` (a pool or a client) finds. */
async function sessionOf (runner) {
  const { rows } = await runner.query("SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app")
  return rows[0]
}

/** `pids` as letters by first appearance: [7, 7, 9] → 'AAB'. */
function shape (pids) {
  const names = new Map()
  return pids.map((p) => names.get(p) ?? names.set(p, String.fromCharCode(65 + names.size)).get(p)).join('')
}

/** `log` (arrays of an event name and its arguments) with `client` written as 'client' and any other object as 'other'. */
const labelled = (log, client) => log.map((entry) => entry.map((v) => (v === client ? 'client' : v !== null && typeof v === 'object' ? 'other' : v)))

describe("the 'connect' event", () => {
  test('fires once per new connection, before the caller gets it, with a client that runs statements (promise and callback forms), as pg', async () => {
    const SQL = "SELECT 9007199254740993::int8 AS big, '2024-01-02'::date AS d, 1.50::numeric AS n, ARRAY[1, 2] AS a, '{\"k\": 1}'::json AS j"
    const { ours, theirs } = await onBoth(async (Pool) => {
      const pool = poolOf(Pool, { max: 2 })
      let connects = 0
      const results = []
      pool.on('connect', (client) => {
        connects++
        client.query(SQL).then((r) => results.push(['promise', r.rows]), (e) => results.push(['promise error', e.message]))
        client.query('SELECT $1::text AS t', ['called back'], (err, r) => results.push(err ? ['callback error', err.message] : ['callback', r.rows]))
      })
      const seenByCaller = []
      const a = await pool.connect()
      seenByCaller.push(connects)
      const b = await pool.connect()
      seenByCaller.push(connects)
      const pids = [(await sessionOf(a)).pid, (await sessionOf(b)).pid]
      a.release()
      b.release()
      // Reused connections: no more events.
      for (let i = 0; i < 4; i++) pids.push((await sessionOf(pool)).pid)
      const c = await pool.connect()
      pids.push((await sessionOf(c)).pid)
      c.release()
      await eventually(() => results.length >= 4)
      return { connects, seenByCaller, distinctPids: new Set(pids).size, results: results.sort((x, y) => x[0].localeCompare(y[0])) }
    })
    expect(ours).toEqual(theirs)
    expect(ours.connects).toBe(2)
    expect(ours.distinctPids).toBe(2)
    expect(ours.seenByCaller).toEqual([1, 2])
    expect(ours.results.map((r) => r[0])).toEqual(['callback', 'callback', 'promise', 'promise'])
    expect(ours.results[2][1]).toEqual([{ big: '9007199254740993', d: new Date(2024, 0, 2), n: '1.50', a: [1, 2], j: { k: 1 } }])
  })

  test('a SET issued in a connect listener without awaiting is seen by the first statement of pool.connect() and pool.query() callers, as pg', async () => {
    const { ours, theirs } = await onBoth(async (Pool, name) => {
      const app = appName(`listener_${name}`)
      const pool = poolOf(Pool, { max: 2, application_name: app })
      pool.on('connect', (client) => { client.query(`SET application_name = '${app}_connected'`) })
      const held = await pool.connect()
      try {
        const first = await sessionOf(held) // the held client's first statement
        const second = await sessionOf(pool) // a second connection, opened for pool.query
        return { apps: [first.app, second.app].map((a) => a.replace(app, 'APP')), twoConnections: first.pid !== second.pid }
      } finally {
        held.release()
      }
    })
    expect(ours).toEqual(theirs)
    expect(ours).toEqual({ apps: ['APP_connected', 'APP_connected'], twoConnections: true })
  })
})

describe('verify', () => {
  test("verify calling back an error: pool.connect() rejects with it (pg-pool's 'verifies a client with a callback')", async () => {
    const { ours, theirs } = await onBoth(async (Pool, name) => {
      const app = appName(`verify_no_${name}`)
      const pool = poolOf(Pool, { application_name: app, verify: (client, cb) => cb(new Error('nope')) })
      const promised = await failure(pool.connect())
      const calledBack = await new Promise((resolve) => pool.connect((err, client) => resolve({ err, client })))
      const left = await eventually(() => backends(app), 0)
      return {
        promised: [promised instanceof Error, promised.message],
        calledBack: [calledBack.err instanceof Error, calledBack.err && calledBack.err.message, calledBack.client],
        left
      }
    })
    expect(ours).toEqual(theirs)
    expect(ours).toEqual({ promised: [true, 'nope'], calledBack: [true, 'nope', undefined], left: 0 })
  })

  test('verify that runs a statement and calls back nothing lets the client through, once per new connection, as pg', async () => {
    const { ours, theirs } = await onBoth(async (Pool) => {
      const verified = []
      const pool = poolOf(Pool, {
        max: 2,
        verify: (client, cb) => client.query('SELECT 1 AS ok', (err, r) => {
          verified.push(err ? err.message : r.rows[0].ok)
          cb(err)
        })
      })
      const a = await pool.connect()
      const b = await pool.connect()
      const rows = [(await a.query('SELECT 2 AS two')).rows, (await b.query('SELECT 3 AS three')).rows]
      a.release()
      b.release()
      rows.push((await pool.query('SELECT 4 AS four')).rows)
      return { verified, rows }
    })
    expect(ours).toEqual(theirs)
    expect(ours).toEqual({ verified: [1, 1], rows: [[{ two: 2 }], [{ three: 3 }], [{ four: 4 }]] })
  })
})

describe("pg's onConnect option", () => {
  test('runs once per new connection before the caller gets it, as pg', async () => {
    const { ours, theirs } = await onBoth(async (Pool, name) => {
      const app = appName(`onconnect_${name}`)
      let calls = 0
      const pool = poolOf(Pool, {
        max: 2,
        application_name: app,
        onConnect: async (client) => {
          calls++
          await new Promise((resolve) => setTimeout(resolve, 50))
          await client.query(`SET application_name = '${app}_hooked'`)
        }
      })
      const a = await pool.connect()
      const b = await pool.connect()
      const seen = [await sessionOf(a), await sessionOf(b)]
      a.release()
      b.release()
      for (let i = 0; i < 3; i++) seen.push(await sessionOf(pool))
      return { calls, apps: seen.map((s) => s.app.replace(app, 'APP')), distinctPids: new Set(seen.map((s) => s.pid)).size }
    })
    expect(ours).toEqual(theirs)
    expect(ours).toEqual({ calls: 2, apps: Array(5).fill('APP_hooked'), distinctPids: 2 })
  })
})

describe('acquire, release and remove events', () => {
  test("pool.connect(), release() and release(true) fire them with pg's arguments", async () => {
    const { ours, theirs } = await onBoth(async (Pool) => {
      const pool = poolOf(Pool, { max: 1 })
      const log = []
      pool.on('acquire', (client) => log.push(['acquire', client]))
      pool.on('release', (err, client) => log.push(['release', err, client]))
      pool.on('remove', (client) => log.push(['remove', client]))
      const steps = []
      /** Runs `act(client)` (client: the one held now) and records the events it fired. */
      const step = async (what, act, client) => {
        log.length = 0
        const got = (await act()) || client
        if (what === 'release(true)') await eventually(() => log.length >= 2)
        steps.push([what, labelled(log, got)])
        return got
      }
      const first = await step('connect', () => pool.connect())
      await step('release()', () => { first.release() }, first)
      const second = await step('connect', () => pool.connect())
      await step('release(true)', () => { second.release(true) }, second)
      return steps
    })
    expect(ours).toEqual(theirs)
    expect(ours).toEqual([
      ['connect', [['acquire', 'client']]],
      ['release()', [['release', undefined, 'client']]],
      ['connect', [['acquire', 'client']]],
      ['release(true)', [['release', true, 'client'], ['remove', 'client']]]
    ])
  })
})

describe('maxUses', () => {
  test('maxUses 2 is accepted and the backend changes after every 2 checkouts (pool.query and connect), as pg', async () => {
    const { ours, theirs } = await onBoth(async (Pool) => {
      const pool = poolOf(Pool, { max: 1, maxUses: 2 })
      const pids = []
      for (let i = 0; i < 7; i++) {
        if (i % 2 === 0) {
          pids.push((await sessionOf(pool)).pid)
        } else {
          const client = await pool.connect()
          pids.push((await sessionOf(client)).pid)
          client.release()
        }
      }
      return shape(pids)
    })
    expect(ours).toEqual(theirs)
    expect(ours).toBe('AABBCCD')
  })

  test("maxUses Infinity (pg-pool's default) keeps the connection, as pg", async () => {
    const { ours, theirs } = await onBoth(async (Pool) => {
      const pool = poolOf(Pool, { max: 1, maxUses: Infinity })
      const pids = []
      for (let i = 0; i < 4; i++) pids.push((await sessionOf(pool)).pid)
      return shape(pids)
    })
    expect(ours).toEqual(theirs)
    expect(ours).toBe('AAAA')
  })
})

describe('allowExitOnIdle and log', () => {
  /** ms until a child process that runs one query on a pool of `driver` (and never ends it) exits. */
  async function exitAfterOneQuery (driver, config) {
    const { spawn } = require('node:child_process')
    const script = `
      const { Pool } = require(${JSON.stringify(driver)})
      const pool = new Pool({ connectionString: ${JSON.stringify(db.url)}, logger: false, ...${JSON.stringify(config)} })
      pool.query('SELECT 1').then(() => { process.send('queried') })`
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    let queried = 0
    child.on('message', () => { queried = Date.now() })
    const code = await new Promise((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
    expect(queried).toBeGreaterThan(0)
    return Date.now() - queried
  }

  test('idle connections keep the process alive until idleTimeoutMillis closes them; allowExitOnIdle lets it exit at once, as pg', async () => {
    const ours = require.resolve('../lib/pg')
    const held = { ours: await exitAfterOneQuery(ours, { idleTimeoutMillis: 1500 }), theirs: await exitAfterOneQuery('pg', { idleTimeoutMillis: 1500 }) }
    const free = { ours: await exitAfterOneQuery(ours, { idleTimeoutMillis: 1500, allowExitOnIdle: true }), theirs: await exitAfterOneQuery('pg', { idleTimeoutMillis: 1500, allowExitOnIdle: true }) }
    expect(held.theirs).toBeGreaterThan(1200) // pg: the idle socket holds the process until it closes
    expect(held.ours).toBeGreaterThan(1200)
    expect(held.ours).toBeLessThan(6000)
    expect(free.theirs).toBeLessThan(1000)
    expect(free.ours).toBeLessThan(1000)
  })

  test("log gets pg-pool's lifecycle lines", async () => {
    const lines = []
    const pool = poolOf(compat.Pool, { max: 1, log: (...args) => lines.push(args.join(' ')) })
    const client = await pool.connect()
    client.release()
    expect(lines).toEqual(expect.arrayContaining(['new client connected', 'acquire client', 'release client']))
  })
})
