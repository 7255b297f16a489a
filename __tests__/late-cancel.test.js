'use strict'
// A statement stopped by its timeout (or an AbortSignal) is cancelled through a cancel request
// on a separate connection, which the server turns into a signal to the backend. When the
// statement ends on its own just as that request goes out, the signal may come after its answer:
// it must not reach the statement the connection runs next (an innocent 57014). With
// connectionLimit 1 every follow-up runs on the connection the cancel was aimed at.

const { poolsOnFreshDatabase } = require('./helpers/common')
const { TcpProxy } = require('./helpers/proxy')

const db = poolsOnFreshDatabase('late_cancel')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

// 4 runs of 80 attempts (about 3 s each); LATE_CANCEL_ATTEMPTS raises it for a longer stress.
const ATTEMPTS = Number(process.env.LATE_CANCEL_ATTEMPTS) || 80
const TIMEOUT_MS = 20
const FOLLOW_UPS = ['SELECT pg_sleep(0.01), 1 AS one', 'SELECT 1 AS one', 'SELECT 1 AS one']

/** Other pools keeping the server's CPUs busy until `stop()`, so backends get descheduled. */
function serverLoad () {
  const pool = makePool({ connectionLimit: 3 })
  const load = { running: true }
  const loops = [0, 1, 2].map(async () => {
    while (load.running) await pool.query('SELECT count(*) FROM generate_series(1, 300000)').catch(() => {})
  })
  return async () => {
    load.running = false
    await Promise.all(loops)
  }
}

/** Per-statement options that stop it after TIMEOUT_MS: its timeout, or an AbortSignal. */
function stopAfter (stop) {
  if (stop === 'timeout') return { opts: { timeoutMs: TIMEOUT_MS }, clear: () => {} }
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(new Error('stopped')), TIMEOUT_MS)
  return { opts: { signal: ac.signal }, clear: () => clearTimeout(timer) }
}

/**
 * The sleep that ends just as its stop fires. Where that edge lies depends on the machine (the
 * timer's lateness, the cancel's path: a proxy adds milliseconds), so the step grows while the
 * outcome repeats (0.1 ms doubling to 1.6 ms) and falls back to 0.1 ms when it flips: the edge
 * is found within a few attempts and then followed closely.
 */
function edgeTracker (startMs) {
  let run = 0
  let last = null
  const step = (outcome, sign) => {
    run = outcome === last ? run + 1 : 0
    last = outcome
    tracker.sleepMs = Math.max(0, tracker.sleepMs + sign * 0.1 * 2 ** Math.min(run, 4))
  }
  const tracker = {
    sleepMs: startMs,
    answered: () => step('answered', +1),
    cancelled: () => step('cancelled', -1)
  }
  return tracker
}

/**
 * Statements that end within about a millisecond of their stop (each answer lengthens the next
 * sleep, each cancel shortens it), each followed at once by FOLLOW_UPS on the same connection.
 * Returns the counts and the first failures.
 */
async function race (pool, stop) {
  const n = { attempts: 0, answered: 0, cancelled: 0, otherOutcomes: [], followUps: 0, followUpFailures: [] }
  const edge = edgeTracker(TIMEOUT_MS)
  for (let i = 0; i < ATTEMPTS; i++) {
    n.attempts++
    const { opts, clear } = stopAfter(stop)
    try {
      await pool.query('SELECT pg_sleep($1::float8 / 1000)', [edge.sleepMs], opts)
      n.answered++
      edge.answered()
    } catch (e) {
      if (['P1008', '57014'].includes(e.code) && e.maybeCommitted === false) n.cancelled++
      else n.otherOutcomes.push(`${e.code} maybeCommitted=${e.maybeCommitted}: ${e.message}`)
      edge.cancelled()
    } finally {
      clear()
    }
    for (const sql of FOLLOW_UPS) {
      n.followUps++
      try {
        const { rows } = await pool.query(sql)
        if (rows[0].one !== 1) n.followUpFailures.push(`attempt ${i}: ${sql}: wrong row`)
      } catch (e) {
        n.followUpFailures.push(`attempt ${i}: ${sql}: ${e.code} ${e.message}`)
      }
    }
  }
  return n
}

describe('a cancel that races a statement\'s own completion never reaches the next statement', () => {
  for (const stop of ['timeout', 'abort']) {
    for (const pipelineDepth of [undefined, 1]) {
      test(`stopped by ${stop === 'timeout' ? 'timeoutMs' : 'an AbortSignal'}, pipelineDepth ${pipelineDepth ?? 'default'}`, async () => {
        const pool = makePool({ connectionLimit: 1, ...(pipelineDepth && { pipelineDepth }) })
        await pool.query('SELECT 1')
        const stopLoad = serverLoad()
        const n = await race(pool, stop).finally(stopLoad)
        if (process.env.LATE_CANCEL_VERBOSE) console.log(stop, pipelineDepth ?? 'default', JSON.stringify({ ...n, followUpFailures: n.followUpFailures.length, first: n.followUpFailures.slice(0, 3) }))
        // Counts first, so that a failure shows how often it happened.
        expect({ followUpsFailed: n.followUpFailures.length, otherOutcomes: n.otherOutcomes.length, of: n.attempts })
          .toEqual({ followUpsFailed: 0, otherOutcomes: 0, of: ATTEMPTS })
        // The edge was met: some statements were cancelled, others answered as their stop fired.
        expect(n.cancelled).toBeGreaterThan(ATTEMPTS / 10)
        expect(n.answered).toBeGreaterThan(ATTEMPTS / 10)
        // And the connection stayed in use throughout: safe because the pool waits until the
        // server has signalled the backend, not because it replaced the connection each time.
        expect(pool.getPoolStats().connections.created).toBe(1)
      })
    }
  }
  // A proxy (Node's net, as many are) closes both ways when the client half-closes: a cancel
  // request that shut its write side down would get its EOF before the server had signalled
  // anything. The cancel requests here go through the proxy too.
  test('through a TCP proxy that closes both ways on a half-close, stopped by timeoutMs', async () => {
    const direct = new URL(db.url)
    const proxy = new TcpProxy({ targetPort: Number(direct.port) })
    await proxy.start()
    try {
      const url = new URL(db.url)
      url.hostname = '127.0.0.1'
      url.port = String(proxy.port)
      const pool = makePool({ connectionLimit: 1 }, url.toString())
      await pool.query('SELECT 1')
      const stopLoad = serverLoad()
      const n = await race(pool, 'timeout').finally(stopLoad)
      if (process.env.LATE_CANCEL_VERBOSE) console.log('proxy', JSON.stringify({ ...n, followUpFailures: n.followUpFailures.length, first: n.followUpFailures.slice(0, 3) }))
      expect({ followUpsFailed: n.followUpFailures.length, otherOutcomes: n.otherOutcomes.length, of: n.attempts })
        .toEqual({ followUpsFailed: 0, otherOutcomes: 0, of: ATTEMPTS })
      expect(n.cancelled).toBeGreaterThan(ATTEMPTS / 10)
      expect(n.answered).toBeGreaterThan(ATTEMPTS / 10)
      expect(pool.getPoolStats().connections.created).toBe(1)
    } finally {
      await proxy.close()
    }
  })
})
