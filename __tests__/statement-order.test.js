'use strict'
// Statement order. Statements on one connection reach the server in the order JavaScript issued
// them (as pg, libpq and tokio-postgres guarantee), and their promises settle in that order (as
// pg's do): a caller may issue `CREATE TEMP TABLE t …`, `INSERT INTO t …`, `SELECT … FROM t` back to back
// on a held client, in a transaction or on a pgwarden/pg Client without awaiting each one.
// A timeout or an AbortSignal on one of them changes that statement's outcome only. And the line
// of `pool.query` callers waiting for a connection is first come, first served: on a pool of one
// connection the server runs them in the order they were called, with convoys (pipelineDepth) or
// without.
//
// Each statement INSERTs its issue index into `arrivals`, whose bigserial `seq` numbers rows in
// the order the server ran the INSERTs; the order is read back through the harness's admin
// session (psql), outside the pools under test. Several rounds per test, so that a race shows.

const pgCompat = require('../lib/pg') // pgwarden/pg
const { harness } = require('./harness')
const { sleep, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('stmtorder', {
  setupSql: 'CREATE TABLE arrivals (seq bigserial PRIMARY KEY, tag text NOT NULL, round int NOT NULL, i int NOT NULL);'
})
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

/** Records one statement's issue index `$3` for test `$1`, round `$2`; resolves to `{ i }`. */
const INSERT = 'INSERT INTO arrivals (tag, round, i) VALUES ($1, $2, $3) RETURNING i'
/** The same after `seconds` of pg_sleep on the server (a statement that takes a while). */
const slowInsert = (seconds) =>
  `INSERT INTO arrivals (tag, round, i) SELECT $1::text, $2::int, $3::int FROM pg_sleep(${seconds}) RETURNING i`

/** 0, 1, …, n - 1. */
const range = (n) => Array.from({ length: n }, (_, i) => i)

/**
 * Calls `run(i)` for i = 0 … n - 1 in one synchronous loop (nothing awaited in between: every
 * statement is issued before the first can settle) and waits for them all. Resolves to
 * `{ outcomes, settled }`: `outcomes[i]` is `{ value }` or `{ error }` of statement i, `settled`
 * the indexes in the order their promises settled.
 */
async function issueTogether (n, run) {
  const settled = []
  const outcome = (i, o) => { settled.push(i); return o }
  const promises = range(n).map((i) => run(i).then((value) => outcome(i, { value }), (error) => outcome(i, { error })))
  return { outcomes: await Promise.all(promises), settled }
}

/** The issue indexes test `tag` recorded, by round, in the order the server ran the INSERTs. */
async function serverOrder (tag) {
  const rows = await harness().admin(`SELECT round, i FROM arrivals WHERE tag = '${tag}' ORDER BY seq`, { database: db.url })
  const byRound = new Map()
  for (const [round, i] of rows) {
    const r = Number(round)
    if (!byRound.has(r)) byRound.set(r, [])
    byRound.get(r).push(Number(i))
  }
  return byRound
}

/** Where `got` first departs from `want`, as a short phrase; null when they are equal. */
function departure (got, want) {
  if (got.length === want.length && got.every((v, k) => v === want[k])) return null
  let k = 0
  while (k < want.length && got[k] === want[k]) k++
  const show = (a) => JSON.stringify(a.slice(k, k + 6))
  return `from position ${k}: ${show(got)} where ${show(want)} was expected (${got.length} of ${want.length})`
}

/**
 * What went wrong in rounds of statements 0 … n - 1 that should each have succeeded, in issue
 * order, except those listed in `failed` (their statement must have rejected, and left no
 * row): one line per problem, for one `expect(problems).toEqual([])` that shows them all.
 * `rounds[r]` is what `issueTogether` gave for round r.
 */
async function orderProblems (tag, rounds, { failed = [], settleOrder = true } = {}) {
  const server = await serverOrder(tag)
  const problems = []
  rounds.forEach(({ outcomes, settled }, round) => {
    const want = range(outcomes.length).filter((i) => !failed.includes(i))
    for (const i of want) {
      const { value, error } = outcomes[i]
      if (error) problems.push(`round ${round}: statement ${i} rejected ${error.code}: ${error.message}`)
      else if (value.rows[0].i !== i) problems.push(`round ${round}: statement ${i} got the result of statement ${value.rows[0].i}`)
    }
    const ran = departure(server.get(round) || [], want)
    if (ran) problems.push(`round ${round}: the server ran them out of order, ${ran}`)
    const told = settleOrder && departure(settled.filter((i) => !failed.includes(i)), want)
    if (told) problems.push(`round ${round}: the promises settled out of order, ${told}`)
  })
  return problems
}

describe('a held client (pool.acquire)', () => {
  test('300 statements issued without awaiting reach the server and resolve in issue order, round after round', async () => {
    const tag = 'held'
    const pool = makePool({ connectionLimit: 1 })
    const rounds = []
    for (let round = 0; round < 10; round++) {
      const client = await pool.acquire()
      try {
        rounds.push(await issueTogether(300, (i) => client.query(INSERT, [tag, round, i])))
      } finally {
        client.release()
      }
    }
    expect(await orderProblems(tag, rounds)).toEqual([])
  })

  test('a temporary table created by one statement is there for the statements issued right after it', async () => {
    const pool = makePool({ connectionLimit: 1 })
    const client = await pool.acquire()
    const problems = []
    try {
      for (let round = 0; round < 50; round++) {
        const t = `scratch_${round}`
        const sql = [
          `CREATE TEMP TABLE ${t} (n int)`,
          `INSERT INTO ${t} VALUES (1), (2)`,
          `SELECT count(*)::int AS n FROM ${t}`,
          `DROP TABLE ${t}`
        ]
        const { outcomes } = await issueTogether(sql.length, (k) => client.query(sql[k]))
        outcomes.forEach(({ error }, k) => {
          if (error) problems.push(`round ${round}: ${sql[k]} rejected ${error.code}: ${error.message}`)
        })
        if (!outcomes[2].error && outcomes[2].value.rows[0].n !== 2) problems.push(`round ${round}: the SELECT counted ${outcomes[2].value.rows[0].n} rows, not 2`)
      }
    } finally {
      client.release()
    }
    expect(problems).toEqual([])
  })

  test('a COPY takes its place when copyFrom/copyTo is called: a statement issued after it runs after it', async () => {
    const pool = makePool({ connectionLimit: 1 })
    const client = await pool.acquire()
    try {
      await client.query('CREATE TEMP TABLE copied (n int)')
      const writer = client.copyFrom('COPY copied FROM STDIN')
      const counted = client.query('SELECT count(*)::int AS n FROM copied') // issued after the COPY
      const reader = client.copyTo('COPY (SELECT count(*) FROM copied) TO STDOUT')
      const released = new Promise((resolve) => setImmediate(resolve)).then(() => client.release()) // after both
      await new Promise((resolve, reject) => writer.end('1\n2\n3\n', (e) => (e ? reject(e) : resolve())))
      expect((await counted).rows).toEqual([{ n: 3 }])
      let text = ''
      for await (const chunk of reader) text += chunk
      expect(text).toBe('3\n')
      await released
    } finally {
      if (!client._released) client.release()
    }
  })

  test('a statement timing out in the middle rejects P1008 (cancelled, connection kept); those before and after it run and resolve in order', async () => {
    const tag = 'timeout'
    const SLOW = 50
    const pool = makePool({ connectionLimit: 1 })
    const rounds = []
    const slowErrors = []
    const samePid = []
    for (let round = 0; round < 5; round++) {
      const client = await pool.acquire()
      try {
        const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
        const r = await issueTogether(100, (i) => i === SLOW
          ? client.query(slowInsert(1), [tag, round, i], { timeoutMs: 50 })
          : client.query(INSERT, [tag, round, i]))
        rounds.push(r)
        slowErrors.push(r.outcomes[SLOW].error || { resolved: r.outcomes[SLOW].value.rows })
        // docs/RELIABILITY.md: a timeout whose cancel the server confirmed keeps the connection.
        samePid.push((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid === pid)
      } finally {
        // Closed rather than reused by the next round: PostgreSQL sends a cancel request's
        // SIGINT to the backend and then to its process group, and on a loaded machine the
        // second one can come tens of ms later and stop whatever that backend runs then (seen
        // on the next round's pg_sleep as a bare 57014). That race is not what this test is about.
        client.release(true)
      }
    }
    // docs/API.md (P1008) and docs/RELIABILITY.md ("cancel confirmed"): cancelled on the server,
    // not committed, retryable. Held clients never share their connection (pipelineDepth), so
    // the "abandoned with the connection, maybeCommitted" case does not apply.
    expect(slowErrors).toMatchObject(range(5).map(() => ({ code: 'P1008', kind: 'timeout', maybeCommitted: false, retryable: true })))
    expect(samePid).toEqual(range(5).map(() => true))
    // The timed-out INSERT left no row; every other statement ran, in order. Where the
    // rejection falls among the other settlements is not asserted (the docs are silent).
    expect(await orderProblems(tag, rounds, { failed: [SLOW] })).toEqual([])
  })

  test('an AbortSignal aborted while its statement waits behind others: it rejects 57014 unsent, the rest run and resolve in order', async () => {
    const tag = 'abort'
    const ABORTED = 40
    const pool = makePool({ connectionLimit: 1 })
    const rounds = []
    const abortErrors = []
    const reasons = []
    for (let round = 0; round < 3; round++) {
      const client = await pool.acquire()
      try {
        const ac = new AbortController()
        const reason = new Error(`caller of round ${round} went away`)
        reasons.push(reason)
        // Statement 0 runs for 200 ms; statement 40 is aborted 50 ms in, still behind it.
        const settling = issueTogether(100, (i) => i === 0
          ? client.query(slowInsert(0.2), [tag, round, i])
          : client.query(INSERT, [tag, round, i], i === ABORTED ? { signal: ac.signal } : undefined))
        await sleep(50)
        ac.abort(reason)
        const r = await settling
        rounds.push(r)
        abortErrors.push(r.outcomes[ABORTED].error || { resolved: r.outcomes[ABORTED].value.rows })
      } finally {
        client.release()
      }
    }
    // docs/API.md: an aborted signal rejects 57014, kind cancelled, cause = the abort reason.
    // That a statement aborted before it was sent is not maybeCommitted is what the docs say of
    // a statement aborted in the pool's waiting line (and of an already aborted signal); for a
    // held client's own queue they are silent, and this is what a pg user would expect.
    expect(abortErrors).toMatchObject(reasons.map((reason) => ({ code: '57014', kind: 'cancelled', maybeCommitted: false, cause: reason })))
    // Not sent: no row for it. The others ran and resolved in order.
    expect(await orderProblems(tag, rounds, { failed: [ABORTED] })).toEqual([])
  })
})

test('pool.transaction: 300 statements issued together inside the callback run and resolve in issue order', async () => {
  const tag = 'tx'
  const pool = makePool({ connectionLimit: 2 })
  const rounds = []
  const problems = []
  for (let round = 0; round < 5; round++) {
    try {
      rounds.push(await pool.transaction((tx) => issueTogether(300, (i) => tx.query(INSERT, [tag, round, i]))))
    } catch (e) {
      problems.push(`round ${round}: the transaction rejected ${e.code}: ${e.message}`)
      rounds.push({ outcomes: [], settled: [] })
    }
  }
  problems.push(...await orderProblems(tag, rounds))
  expect(problems).toEqual([])
})

describe('pgwarden/pg', () => {
  test('Client: 300 queries issued without awaiting, before or after connect() settles, reach the server and resolve in call order', async () => {
    const tag = 'pgclient'
    const rounds = []
    for (let round = 0; round < 6; round++) {
      const client = new pgCompat.Client({ connectionString: db.url, logger: false })
      try {
        // pg queues queries issued before the connection is ready, in call order.
        let connecting
        if (round % 2 === 0) await client.connect()
        else {
          connecting = client.connect()
          connecting.catch(() => {}) // awaited below, after the queries
        }
        rounds.push(await issueTogether(300, (i) => client.query(INSERT, [tag, round, i])))
        await connecting
      } finally {
        await client.end()
      }
    }
    expect(await orderProblems(tag, rounds)).toEqual([])
  })

  test('pool.connect() client: 300 queries issued without awaiting reach the server and resolve in call order', async () => {
    const tag = 'pgpoolclient'
    const pool = new pgCompat.Pool({ connectionString: db.url, max: 2, logger: false })
    const rounds = []
    try {
      for (let round = 0; round < 6; round++) {
        const client = await pool.connect()
        try {
          rounds.push(await issueTogether(300, (i) => client.query(INSERT, [tag, round, i])))
        } finally {
          client.release()
        }
      }
    } finally {
      await pool.end()
    }
    expect(await orderProblems(tag, rounds)).toEqual([])
  })
})

describe('pool.query waits first come, first served', () => {
  /**
   * Rounds on `pool` (one connection): statement 0 holds the connection for 200 ms, and
   * statements 1 … 200, called in the same tick, wait for it. On one connection the server runs
   * statements one after another in the order they were sent, so first come, first served means
   * exactly that the server ran them in call order. That their promises also settle in call
   * order is what pg's pool of one does, and what "answered in order" (pipelineDepth, docs/API.md)
   * reads as; the docs say no more than that.
   */
  async function lineRounds (pool, tag, { settleOrder = true } = {}) {
    await pool.query('SELECT 1') // the one connection is open and idle: statement 0 takes it
    const rounds = []
    for (let round = 0; round < 5; round++) {
      rounds.push(await issueTogether(201, (i) => pool.query(i === 0 ? slowInsert(0.2) : INSERT, [tag, round, i])))
    }
    return orderProblems(tag, rounds, { settleOrder })
  }

  test('acquire() and pool.query share the line: called in one tick behind a busy connection, each is served in call order', async () => {
    const pool = makePool({ connectionLimit: 1, pipelineDepth: 1 })
    await pool.query('SELECT 1')
    const busy = pool.query('SELECT pg_sleep(0.2)')
    const calls = []
    for (let i = 0; i < 20; i++) {
      // Even calls hold a client and insert through it; odd calls are plain pool.query inserts.
      calls.push(i % 2 === 0
        ? pool.acquire().then(async (c) => { try { return await c.query(INSERT, ['mixed', 0, i]) } finally { c.release() } })
        : pool.query(INSERT, ['mixed', 0, i]))
    }
    await Promise.all([busy, ...calls])
    expect((await serverOrder('mixed')).get(0)).toEqual([...Array(20).keys()])
  })

  test('pipelineDepth 1: 200 statements called in one tick behind a busy connection run and resolve in call order', async () => {
    const pool = makePool({ connectionLimit: 1, pipelineDepth: 1 })
    expect(await lineRounds(pool, 'line1')).toEqual([])
    expect(pool.getPoolStats().queries.pipelined).toBe(0)
  })

  // With convoys a statement that gets the connection takes up to pipelineDepth - 1 of those
  // still waiting along (docs/CONFIGURATION.md, pipelineDepth). First come, first served is
  // about who is served first: the riders are the ones next in line, not any later caller, so
  // on one connection the server order is the call order. The promises of separate pool.query
  // calls are not promised to settle in call order (they are independent statements, as with
  // pg's pool: docs/API.md), so only the server order is asserted here.
  test('default pipelineDepth (convoys): 200 statements called in one tick behind a busy connection still run in call order', async () => {
    const pool = makePool({ connectionLimit: 1 })
    expect(await lineRounds(pool, 'line8', { settleOrder: false })).toEqual([])
    expect(pool.getPoolStats().queries.pipelined).toBeGreaterThan(0) // convoys did form
  })
})
