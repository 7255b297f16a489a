'use strict'
// Real faults against the harness's own clusters (pool recovery, transactions, error classification, events):
// server restarts under a write load, terminated backends, max_connections exhausted, pool
// exhaustion, server-side statement cancel, network cuts through a TCP proxy, deadlocks and
// serialization failures. Every test is bounded in time and checks the data afterwards.

const { ownedCluster } = require('./harness')
const { TcpProxy } = require('./helpers/proxy')
const { knownOutcomeWrites } = require('./helpers/known-outcome')
const { sleep, appNames, timed, eventually, poolFactory, backendCounter } = require('./helpers/common')

const appName = appNames(`pgw_faults_${process.pid}`)

/** `p`, or a marker rejection after `ms` so a hang shows up as a failed assertion, not a jest timeout. */
function bounded (p, ms, what) {
  let timer
  const guard = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`HUNG: ${what} still pending after ${ms}ms`), { code: 'HUNG' })), ms)
  })
  return Promise.race([p, guard]).finally(() => clearTimeout(timer))
}

let cluster
let dbUrl
beforeAll(async () => {
  // synchronous_commit on: an immediate restart must not lose acknowledged commits (the harness
  // default is off, which would make "every acknowledged key is present" false for PostgreSQL's
  // own reasons). deadlock_timeout short so deadlocks resolve fast.
  cluster = await ownedCluster({ settings: { synchronous_commit: 'on', deadlock_timeout: '100ms' } })
  dbUrl = await cluster.createDatabase('faults')
}, 60000)

afterAll(async () => {
  if (cluster) await cluster.destroy()
}, 30000)

const { makePool, endPools } = poolFactory(() => dbUrl, { end: (p) => p.end({ timeoutMs: 1000 }).catch(() => {}) })
const proxies = []
afterEach(async () => {
  await endPools()
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

/** Client backends the server has for `app`, with an optional extra condition. */
const backends = backendCounter(() => cluster)

// ---------------------------------------------------------------------------------------------
describe('server restart during a write load', () => {
  /**
   * 10 workers insert unique keys 1..N through pool.withRetry, and on past N until a key is
   * acknowledged after the restart (so the fault always hits the load, however long the
   * restart takes). The server restarts (mode) once `restartAfter` keys are acknowledged,
   * while writes of known outcome are in flight. Checks what every key's call ended with
   * against the table.
   */
  async function loadWithRestart (mode, { N = 3000, workers = 10, restartAfter = 300 } = {}) {
    const table = `t_${mode}`
    await cluster.admin(`CREATE TABLE ${table} (k int PRIMARY KEY)`, { database: dbUrl })
    // Room for the workers and the known-outcome writes: nothing has to share a connection.
    const pool = makePool({ applicationName: appName(mode), connectionLimit: 20, poolTimeoutMs: 10000, queryTimeoutMs: 5000 })
    // Known-outcome keys far above any key the workers reach.
    const KNOWN_FROM = 10_000_000
    const known = await knownOutcomeWrites({ pool, admin: (sql) => cluster.admin(sql, { database: dbUrl }), table, firstKey: KNOWN_FROM })
    const acked = new Set()
    const failed = new Map() // k -> final error
    let retried = 0
    let next = 1
    let restart = null
    let restartDone = 0
    let ackedAfterRestart = 0
    const worker = async () => {
      while (next <= N || (restart && (!restartDone || ackedAfterRestart === 0))) {
        const k = next++
        try {
          await pool.withRetry(() => pool.query(`INSERT INTO ${table}(k) VALUES ($1)`, [k]),
            { initialDelayMs: 50, maxRetries: 20, onRetry: () => { retried++ } })
          acked.add(k)
          if (restartDone) ackedAfterRestart++
        } catch (e) {
          failed.set(k, e)
        }
        if (!restart && acked.size >= restartAfter) {
          restart = cluster.restart({ mode }).then(() => { restartDone = Date.now() })
        }
      }
    }
    const t0 = Date.now()
    await Promise.all(Array.from({ length: workers }, worker))
    if (restart) await restart
    await bounded(known.settle(), 20000, 'writes in flight at the restart')
    const loadMs = Date.now() - t0
    const issued = next - 1

    const rows = await cluster.admin(`SELECT k FROM ${table} ORDER BY k`, { database: dbUrl })
    const present = rows.map((r) => Number(r[0]))
    const [[total, distinct]] = await cluster.admin(`SELECT count(*), count(DISTINCT k) FROM ${table}`, { database: dbUrl })
    const presentSet = new Set(present)

    const maybe = [...failed].filter(([, e]) => e.maybeCommitted)
    const notMaybe = [...failed].filter(([, e]) => !e.maybeCommitted)
    const byCode = {}
    for (const [, e] of failed) byCode[`${e.code}${e.maybeCommitted ? ' (maybeCommitted)' : ''}`] = (byCode[`${e.code}${e.maybeCommitted ? ' (maybeCommitted)' : ''}`] || 0) + 1
    const maybePresent = maybe.filter(([k]) => presentSet.has(k)).length
    const stats = pool.getPoolStats()
    const knownSeen = known.check(presentSet)
    console.log(`[faults] restart ${mode}: ${issued} keys in ${loadMs}ms, acked ${acked.size}, failed ${failed.size} ${JSON.stringify(byCode)}, ` +
      `maybeCommitted present ${maybePresent}/absent ${maybe.length - maybePresent}, withRetry retries ${retried}, ` +
      `acked after restart ${ackedAfterRestart}, known-outcome writes ${JSON.stringify(knownSeen.map((w) => `${w.kind}:${w.code}`))}, ` +
      `stats.retries ${JSON.stringify(stats.retries)}, stats.connections ${JSON.stringify(stats.connections)}`)

    // The fault really hit the load: the server went away while workers were writing (every
    // connection had to be replaced) and came back before the load ended.
    expect(restart).not.toBeNull()
    expect(stats.connections.created).toBeGreaterThan(workers)
    expect(ackedAfterRestart).toBeGreaterThan(0)
    // Every key ends one way or the other.
    expect(acked.size + failed.size).toBe(issued)
    // No key twice.
    expect(Number(total)).toBe(Number(distinct))
    // Every acknowledged key is present.
    expect([...acked].filter((k) => !presentSet.has(k))).toEqual([])
    // A key whose final error was not maybeCommitted never reached the table.
    expect(notMaybe.filter(([k]) => presentSet.has(k)).map(([k, e]) => `${k}:${e.code}`)).toEqual([])
    // No retry ran into its own earlier, supposedly failed, insert.
    expect(byCode['23505'] || 0).toBe(0)
    // Nothing is present that nobody inserted (the known-outcome keys are far above the others).
    expect(present.filter((k) => k < KNOWN_FROM && !acked.has(k) && !failed.has(k))).toEqual([])
    // Only connection-loss codes surface.
    for (const [, e] of failed) expect(['57P01', 'P1017', '57P02', '57P03', 'P1001', 'P1002', 'P2024', '08006']).toContain(e.code)

    // The pool serves queries again.
    const after = await timed(pool.query('SELECT count(*)::int AS n FROM ' + table))
    expect(after.error).toBeUndefined()
    expect(after.value.rows[0].n).toBe(present.length)
  }

  test('fast restart: writes in flight are maybeCommitted and sent once (one committed, one not), acknowledged keys present once', async () => {
    await loadWithRestart('fast')
  }, 45000)

  test('immediate restart: writes in flight are maybeCommitted and sent once (one committed, one not), acknowledged keys present once', async () => {
    await loadWithRestart('immediate')
  }, 45000)
})

// ---------------------------------------------------------------------------------------------
describe('pg_terminate_backend of every pool connection', () => {
  test('idle: every connection terminated, the next queries succeed', async () => {
    const app = appName('term_idle')
    const pool = makePool({ applicationName: app, connectionLimit: 4 })
    await Promise.all([1, 2, 3, 4].map(() => pool.query('SELECT pg_sleep(0.1)')))
    expect(await backends(app)).toBe(4)
    expect(await cluster.terminateBackends({ applicationName: app })).toBe(4)
    // The next queries (one per dead connection, at once) all succeed on fresh connections.
    const results = await bounded(Promise.all([1, 2, 3, 4].map((i) => timed(pool.query('SELECT $1::int AS i', [i])))), 10000, 'queries after terminate')
    expect(results.map((r) => (r.ok ? 'ok' : `${r.error.code} maybeCommitted=${r.error.maybeCommitted}`))).toEqual(['ok', 'ok', 'ok', 'ok'])
    expect(await backends(app)).toBeGreaterThanOrEqual(1)
  }, 20000)

  test('busy: queries in flight reject with 57P01/P1017, then the pool recovers', async () => {
    const app = appName('term_busy')
    const pool = makePool({ applicationName: app, connectionLimit: 4 })
    const inflight = [1, 2, 3].map(() => timed(pool.query('SELECT pg_sleep(10)')))
    const seen = await eventually(() => backends(app, "AND state = 'active' AND query LIKE '%pg_sleep(10)%'"), 3, { ms: 5000 })
    expect(seen).toBe(3)
    const t0 = Date.now()
    expect(await cluster.terminateBackends({ applicationName: app })).toBe(3)
    const results = await bounded(Promise.all(inflight), 8000, 'busy queries after terminate')
    const took = Date.now() - t0
    for (const r of results) {
      expect(r.ok).toBe(false)
      expect(['57P01', 'P1017']).toContain(r.error.code)
      expect(['server_unavailable', 'connection']).toContain(r.error.kind)
      // Each was running on the server (seen active above) when its backend was killed: sent and
      // never answered, so its outcome is unknown and it must never be re-sent.
      expect(r.error.maybeCommitted).toBe(true)
      expect(r.error.retryable).toBe(false)
    }
    console.log(`[faults] terminate busy: ${results.map((r) => `${r.error.code}/${r.error.kind}/maybeCommitted=${r.error.maybeCommitted}`).join(', ')} in ${took}ms`)
    expect(took).toBeLessThan(6000)
    const next = await timed(pool.query('SELECT 1 AS one'))
    expect(next.error).toBeUndefined()
    expect(next.value.rows).toEqual([{ one: 1 }])
  }, 20000)
})

// ---------------------------------------------------------------------------------------------
describe('max_connections exhausted by another client', () => {
  let small
  beforeAll(async () => {
    small = await ownedCluster({ settings: { max_connections: 5, superuser_reserved_connections: 0 } })
  }, 60000)
  afterAll(async () => {
    if (small) await small.destroy()
  }, 30000)

  test('53300 too_many_connections within poolTimeoutMs, works once slots free up', async () => {
    const maxConn = (await small.admin('SHOW max_connections'))[0][0]
    const reserved = (await small.admin('SHOW superuser_reserved_connections'))[0][0]
    expect([maxConn, reserved]).toEqual(['5', '0'])
    // Another client takes every slot.
    const hog = makePool({ applicationName: appName('hog'), connectionLimit: 5 }, small.url)
    const held = []
    for (let i = 0; i < 5; i++) held.push(await hog.acquire())
    const pool = makePool({ applicationName: appName('starved'), connectionLimit: 2, poolTimeoutMs: 1500, connectTimeoutMs: 1000 }, small.url)
    const r = await bounded(timed(pool.query('SELECT 1 AS one')), 10000, 'query with max_connections exhausted')
    expect(r.ok).toBe(false)
    expect(r.error.code).toBe('53300')
    expect(r.error.kind).toBe('too_many_connections')
    expect(r.error.maybeCommitted).toBe(false)
    // Retried with backoff inside poolTimeoutMs (a refusal sent nothing), told when it runs out:
    // not at the first refusal (a few ms) and not past the wait plus one connect attempt.
    const attempts = pool.getPoolStats().connections.failed
    console.log(`[faults] max_connections: ${r.error.code}/${r.error.kind} after ${r.ms}ms (poolTimeoutMs 1500), ${attempts} refused attempts`)
    expect(r.ms).toBeGreaterThanOrEqual(1200)
    expect(r.ms).toBeLessThanOrEqual(1500 + 1000)
    expect(attempts).toBeGreaterThan(2)
    // Counted apart from other failed attempts: the server was full, not down.
    expect(pool.getPoolStats().connections.refusedTooManyClients).toBe(attempts)
    expect(pool.metrics()).toContain(`pgwarden_connections_total{event="refused_too_many"} ${attempts}`)
    for (const c of held) c.release()
    await hog.end()
    const ok = await timed(pool.query('SELECT 1 AS one'))
    expect(ok.error).toBeUndefined()
    expect(ok.value.rows).toEqual([{ one: 1 }])
  }, 30000)

  test('callers wait through 53300 refusals and succeed once a slot frees, never P1001', async () => {
    const hog = makePool({ applicationName: appName('hog2'), connectionLimit: 5 }, small.url)
    const held = []
    for (let i = 0; i < 5; i++) held.push(await hog.acquire())
    const pool = makePool({ applicationName: appName('waits'), connectionLimit: 2, poolTimeoutMs: 5000 }, small.url)
    const calls = [timed(pool.query('SELECT 1 AS one')), timed(pool.query('SELECT 2 AS two'))]
    await sleep(600)
    held.pop().release(true) // one slot frees: both callers are served through it
    const results = await Promise.all(calls)
    for (const r of results) {
      expect(r.error).toBeUndefined()
      expect(r.ms).toBeGreaterThanOrEqual(550)
    }
    expect(pool.getPoolStats().connections.refusedTooManyClients).toBeGreaterThan(0)
    for (const c of held) c.release()
  }, 30000)
})

// ---------------------------------------------------------------------------------------------
describe('pool exhaustion', () => {
  test('P2024 after ~poolTimeoutMs, active back to 0 after release', async () => {
    const pool = makePool({ applicationName: appName('exhaust'), connectionLimit: 2, poolTimeoutMs: 1000 })
    const a = await pool.acquire()
    const b = await pool.acquire()
    expect(pool.getPoolStats().pool.active).toBe(2)
    const r = await bounded(timed(pool.query('SELECT 1')), 5000, 'query on an exhausted pool')
    expect(r.ok).toBe(false)
    expect(r.error.code).toBe('P2024')
    expect(r.error.kind).toBe('pool_timeout')
    expect(r.ms).toBeGreaterThanOrEqual(950)
    expect(r.ms).toBeLessThan(1600)
    a.release()
    b.release()
    // release() hands the connection back asynchronously (a native task): active reaches 0
    // within a few ms rather than synchronously.
    const activeRightAfter = pool.getPoolStats().pool.active
    const active = await eventually(() => pool.getPoolStats().pool.active, 0, { ms: 500, every: 5 })
    console.log(`[faults] pool exhaustion: ${r.error.code} after ${r.ms}ms (poolTimeoutMs 1000); active right after release() ${activeRightAfter}, then ${active}`)
    expect(active).toBe(0)
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    expect(pool.getPoolStats().pool.active).toBe(0)
    expect(pool.getPoolStats().acquire.timeouts).toBe(1)
  }, 15000)
})

// ---------------------------------------------------------------------------------------------
describe('statement timeout', () => {
  test('P1008 and the statement is cancelled on the server', async () => {
    const app = appName('stmt_timeout')
    const pool = makePool({ applicationName: app, queryTimeoutMs: 300 })
    const r = await bounded(timed(pool.query('SELECT pg_sleep(10)')), 6000, 'timed-out query')
    expect(r.ok).toBe(false)
    expect(r.error.code).toBe('P1008')
    expect(r.error.kind).toBe('timeout')
    // The server confirmed the cancel (57014): nothing was committed, so it may be retried.
    expect(r.error.maybeCommitted).toBe(false)
    expect(r.error.retryable).toBe(true)
    expect(r.ms).toBeGreaterThanOrEqual(290)
    expect(r.ms).toBeLessThan(300 + 2500)
    const t0 = Date.now()
    const running = await eventually(() => backends(app, "AND state = 'active' AND query LIKE '%pg_sleep(10)%'"), 0, { ms: 1000 })
    expect(running).toBe(0)
    expect(Date.now() - t0).toBeLessThanOrEqual(1200)
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  }, 15000)
})

// ---------------------------------------------------------------------------------------------
describe('network cut through a TCP proxy', () => {
  async function proxied (opts) {
    const proxy = new TcpProxy({ targetPort: cluster.port })
    proxies.push(proxy)
    const port = await proxy.start()
    const u = new URL(dbUrl)
    u.port = String(port)
    const pool = makePool(opts, u.toString())
    return { proxy, pool }
  }

  /** Up to `n` attempts (each bounded by `timeoutMs`) until a query succeeds; returns the attempt count or the errors. */
  async function recovers (pool, n, timeoutMs) {
    const errors = []
    for (let i = 1; i <= n; i++) {
      const r = await bounded(timed(pool.query('SELECT 42 AS x', [], { timeoutMs })), timeoutMs + 15000, `recovery attempt ${i}`).catch((e) => ({ ok: false, error: e }))
      if (r.ok && r.value.rows[0].x === 42) return { attempts: i, errors }
      errors.push(r.error && r.error.code)
      await sleep(100)
    }
    return { attempts: null, errors }
  }

  test('blackhole: an in-flight query fails within its timeout (+ cancel grace), the pool recovers on heal', async () => {
    const { proxy, pool } = await proxied({ applicationName: appName('blackhole'), connectionLimit: 3, poolTimeoutMs: 1500, connectTimeoutMs: 1000 })
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    expect(proxy.connections).toBe(1)
    proxy.blackhole()
    // A statement sent into the void: its timeout fires, the cancel cannot land, the grace runs out.
    const inflight = await bounded(timed(pool.query('SELECT 1 AS one', [], { timeoutMs: 500 })), 10000, 'in-flight query while blackholed')
    console.log(`[faults] blackhole in-flight: ${inflight.ok ? 'ok' : inflight.error.code} after ${inflight.ms}ms`)
    expect(inflight.ok).toBe(false)
    expect(inflight.error.code).toBe('P1008')
    expect(inflight.ms).toBeGreaterThanOrEqual(480)
    expect(inflight.ms).toBeLessThan(500 + 2500 + 500)
    const { idle, total } = pool.getPoolStats().pool
    const openThroughProxy = proxy.active
    proxy.heal()
    const rec = await recovers(pool, 3, 3000)
    console.log(`[faults] blackhole heal: recovered after ${rec.attempts} attempt(s), errors ${JSON.stringify(rec.errors)}; ` +
      `before heal: pool idle ${idle}, total ${total}, sockets open through the proxy ${openThroughProxy}`)
    expect(rec.attempts).not.toBeNull()
    expect(rec.attempts).toBeLessThanOrEqual(3)
    // a connection found broken is discarded. The one whose cancel never landed must
    // not sit in the idle set (its socket still open, counted as idle) until a later checkout trips over it.
    // (openThroughProxy also counts the cancel request's socket, which the blackhole swallowed.)
    expect({ idle, total }).toEqual({ idle: 0, total: 0 })
  }, 30000)

  test('blackhole: a query needing a new connection fails within poolTimeoutMs + connectTimeoutMs instead of hanging', async () => {
    const { proxy, pool } = await proxied({ applicationName: appName('blackhole_new'), connectionLimit: 3, poolTimeoutMs: 1500, connectTimeoutMs: 1000 })
    proxy.blackhole()
    // TCP connects (the proxy accepts) but the startup never gets an answer.
    const fresh = await bounded(timed(pool.query('SELECT 2 AS two', [], { timeoutMs: 500 })), 8000, 'new query while blackholed')
      .catch((e) => ({ ok: false, error: e, ms: 8000 }))
    const waiting = pool.getPoolStats().pool.waiting
    const failed = pool.getPoolStats().connections.failed
    console.log(`[faults] blackhole new query: ${fresh.ok ? 'ok' : fresh.error.code} after ${fresh.ms}ms (pool.waiting ${waiting}, failed attempts ${failed})`)
    proxy.heal()
    const rec = await recovers(pool, 3, 3000)
    console.log(`[faults] blackhole_new heal: recovered after ${rec.attempts} attempt(s), errors ${JSON.stringify(rec.errors)}`)
    expect(rec.attempts).not.toBeNull()
    // Checked last so the recovery above is checked too.
    expect(fresh.ok).toBe(false)
    expect(fresh.error.code).not.toBe('HUNG')
    // Each attempt ends at connectTimeoutMs with its own P1002 and is retried inside poolTimeoutMs.
    expect(fresh.error.code).toBe('P1002')
    expect(failed).toBeGreaterThanOrEqual(2)
    expect(fresh.ms).toBeLessThanOrEqual(1500 + 1000 + 500)
  }, 30000)

  test('reset: in-flight query rejects fast with P1017 maybeCommitted, recovers on heal', async () => {
    const { proxy, pool } = await proxied({ applicationName: appName('reset'), connectionLimit: 3, poolTimeoutMs: 1500, connectTimeoutMs: 1000 })
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    const inflight = timed(pool.query('SELECT pg_sleep(5)'))
    await sleep(200)
    const t0 = Date.now()
    proxy.reset()
    const r = await bounded(inflight, 8000, 'in-flight query after reset')
    const took = Date.now() - t0
    console.log(`[faults] reset in-flight: ${r.ok ? 'ok' : `${r.error.code}/${r.error.kind}/maybeCommitted=${r.error.maybeCommitted}`} ${took}ms after the reset`)
    expect(r.ok).toBe(false)
    expect(r.error.code).toBe('P1017')
    expect(r.error.kind).toBe('connection')
    expect(r.error.maybeCommitted).toBe(true)
    expect(r.error.retryable).toBe(false)
    expect(took).toBeLessThan(1000)
    // While resetting, new work fails within poolTimeoutMs (+ one connect attempt).
    const during = await bounded(timed(pool.query('SELECT 2')), 10000, 'new query while resetting').catch((e) => ({ ok: false, error: e, ms: 10000 }))
    console.log(`[faults] reset new query: ${during.ok ? 'ok' : `${during.error.code}/${during.error.kind}`} after ${during.ms}ms`)
    expect(during.ok).toBe(false)
    expect(['P1001', 'P1017', 'P2024', 'P1002']).toContain(during.error.code)
    expect(during.ms).toBeLessThanOrEqual(1500 + 1000 + 500)
    proxy.heal()
    const rec = await recovers(pool, 3, 3000)
    console.log(`[faults] reset heal: recovered after ${rec.attempts} attempt(s), errors ${JSON.stringify(rec.errors)}`)
    expect(rec.attempts).toBe(1)
  }, 30000)
})

// ---------------------------------------------------------------------------------------------
describe('deadlocks and serialization failures under concurrency', () => {
  test('transfers re-run on 40P01/40001; total preserved; each committed transfer recorded once', async () => {
    await cluster.adminScript(`
      CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
      INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 5) g;
      CREATE TABLE ledger (id int PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL);
    `, { database: dbUrl })
    const pool = makePool({ applicationName: appName('transfers'), connectionLimit: 20 })
    const before = pool.getPoolStats().retries.attempts
    const seenCodes = {}
    const runs = new Map() // transfer id -> callback runs
    const note = (e) => { if (e && e.code) seenCodes[e.code] = (seenCodes[e.code] || 0) + 1; return e }
    const M = 40
    const transfers = Array.from({ length: M }, (_, i) => {
      const src = 1 + Math.floor(Math.random() * 5)
      let dst = 1 + Math.floor(Math.random() * 4)
      if (dst >= src) dst++
      return { id: i + 1, src, dst, amount: 1 + Math.floor(Math.random() * 50), serializable: i % 2 === 0 }
    })
    const outcome = await bounded(Promise.all(transfers.map((t) => timed(pool.transaction(async (tx) => {
      runs.set(t.id, (runs.get(t.id) || 0) + 1)
      try {
        if (t.serializable) {
          // Read-then-write under SERIALIZABLE: concurrent transfers conflict (40001).
          const { rows } = await tx.query('SELECT sum(balance)::int AS s FROM accounts')
          expect(rows[0].s).toBe(5000)
          await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [t.amount, t.src])
          await tx.query('SELECT pg_sleep(0.02)')
          await tx.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [t.amount, t.dst])
        } else {
          // Row locks taken in transfer order (random): opposite transfers deadlock (40P01).
          await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [t.amount, t.src])
          await tx.query('SELECT pg_sleep(0.05)')
          await tx.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [t.amount, t.dst])
        }
        await tx.query('INSERT INTO ledger (id, src, dst, amount) VALUES ($1, $2, $3, $4)', [t.id, t.src, t.dst, t.amount])
      } catch (e) {
        throw note(e)
      }
      return t.id
    }, { isolationLevel: t.serializable ? 'Serializable' : 'ReadCommitted', retries: 10, timeoutMs: 20000, maxWaitMs: 20000 })))), 60000, 'transfers')

    const committed = new Set()
    const errors = []
    outcome.forEach((r, i) => (r.ok ? committed.add(transfers[i].id) : errors.push({ id: transfers[i].id, error: r.error })))
    const ledger = (await cluster.admin('SELECT id, src, dst, amount FROM ledger ORDER BY id', { database: dbUrl })).map((r) => r.map(Number))
    const balances = new Map((await cluster.admin('SELECT id, balance FROM accounts', { database: dbUrl })).map((r) => r.map(Number)))
    const extraRuns = [...runs.values()].reduce((s, n) => s + n - 1, 0)
    const retries = pool.getPoolStats().retries.attempts - before
    console.log(`[faults] transfers: ${committed.size}/${M} committed, ${errors.length} errors ${JSON.stringify(errors.map((e) => e.error.code))}, ` +
      `codes seen in callbacks ${JSON.stringify(seenCodes)}, re-runs ${extraRuns}, stats.retries.attempts +${retries}`)

    // Total preserved exactly; each account's balance matches the ledger.
    expect([...balances.values()].reduce((s, b) => s + b, 0)).toBe(5000)
    for (const [id, balance] of balances) {
      const delta = ledger.reduce((s, [, src, dst, amount]) => s + (dst === id ? amount : 0) - (src === id ? amount : 0), 0)
      expect(balance).toBe(1000 + delta)
    }
    // Each committed transfer is in the ledger exactly once (PRIMARY KEY), nothing else is.
    expect(ledger.map(([id]) => id).sort((a, b) => a - b)).toEqual([...committed].sort((a, b) => a - b))
    // Failures, if any, are only retries exhausted on 40001/40P01.
    for (const { error } of errors) expect(['40001', '40P01']).toContain(error.code)
    // Conflicts happened and were re-run; the stats count each re-run.
    expect((seenCodes['40P01'] || 0) + (seenCodes['40001'] || 0)).toBeGreaterThan(0)
    expect(extraRuns).toBeGreaterThan(0)
    expect(retries).toBe(extraRuns)
  }, 70000)
})
