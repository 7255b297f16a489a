'use strict'
// pool.transaction — commit/rollback, isolation, read-only, wait and run-time
// limits, use after end, and whole re-runs on real serialization failures and deadlocks.

const { PgWardenError } = require('..')
const { harness } = require('./harness')
const { sleep, appNames, eventually, failure, poolsOnFreshDatabase } = require('./helpers/common')

const appName = appNames(`pgw_tx_${process.pid}`)
const h = harness()

const db = poolsOnFreshDatabase('tx')
beforeAll(async () => {
  await db.create()
  // real deadlocks are detected after deadlock_timeout: keep the suite fast
  await h.admin(`ALTER DATABASE "${new URL(db.url).pathname.slice(1)}" SET deadlock_timeout = '100ms'`)
})
afterEach(db.endPools)
const { makePool } = db

let tableSeq = 0
/** A fresh table name for one test. */
const table = (what) => `${what}_${++tableSeq}`

/**
 * A barrier for `n` parties: `wait()` resolves once n calls arrived. Only the first round
 * blocks; later calls (re-runs) pass at once.
 */
function barrier (n) {
  let arrived = 0
  let open
  const opened = new Promise((resolve) => { open = resolve })
  return {
    wait () {
      if (++arrived >= n) open()
      return opened
    }
  }
}

async function count (pool, t) {
  return (await pool.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n
}

describe('commit and rollback', () => {
  test('commit on resolve: the returned value, data visible afterwards from another connection', async () => {
    const pool = makePool({ connectionLimit: 3 })
    const t = table('items')
    await pool.query(`CREATE TABLE ${t} (id int PRIMARY KEY, name text)`)
    const value = await pool.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} VALUES ($1, $2)`, [1, 'a'])
      await tx.query(`INSERT INTO ${t} VALUES ($1, $2)`, [2, 'b'])
      const r = await tx.query(`SELECT count(*)::int AS n FROM ${t}`)
      return { n: r.rows[0].n }
    })
    expect(value).toEqual({ n: 2 })
    // a separate connection sees the data
    const other = makePool()
    expect((await other.query(`SELECT name FROM ${t} ORDER BY id`)).rows).toEqual([{ name: 'a' }, { name: 'b' }])
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('uncommitted data is invisible to other connections until the commit', async () => {
    const pool = makePool({ connectionLimit: 3 })
    const t = table('vis')
    await pool.query(`CREATE TABLE ${t} (id int)`)
    await pool.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} VALUES (1)`)
      expect(await count(pool, t)).toBe(0)
    })
    expect(await count(pool, t)).toBe(1)
  })

  test('rollback on throw: rejects with the SAME error object, nothing written', async () => {
    const pool = makePool()
    const t = table('rb')
    await pool.query(`CREATE TABLE ${t} (id int)`)
    class DomainError extends Error {}
    const thrown = new DomainError('insufficient funds')
    const caught = await failure(pool.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} VALUES (1)`)
      throw thrown
    }))
    expect(caught).toBe(thrown)
    expect(caught).toBeInstanceOf(DomainError)
    expect(await count(pool, t)).toBe(0)
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('a server error inside rolls back and rejects with that PgWardenError', async () => {
    const pool = makePool()
    const t = table('dup')
    await pool.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`)
    let inner
    const caught = await failure(pool.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} VALUES (1)`)
      try {
        await tx.query(`INSERT INTO ${t} VALUES (1)`)
      } catch (e) {
        inner = e
        throw e
      }
    }))
    expect(caught).toBe(inner)
    expect(caught).toBeInstanceOf(PgWardenError)
    expect(caught.code).toBe('23505')
    expect(await count(pool, t)).toBe(0)
  })

  test('a non-Error thrown value is rethrown as is', async () => {
    const pool = makePool()
    await expect(pool.transaction(async () => { throw 'nope' })).rejects.toBe('nope') // eslint-disable-line no-throw-literal
  })

  // A statement failed inside, the callback caught it and resolved: the server turns the COMMIT
  // into a ROLLBACK (command tag 'ROLLBACK', no error). Resolving would tell the caller that the
  // insert before the failure was committed when it was not: transaction() must reject.
  test('a callback that swallows a failed statement: not committed, so transaction() rejects', async () => {
    const pool = makePool()
    const t = table('swallow')
    await pool.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`)
    const outcome = await pool.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} VALUES (1)`)
      try {
        await tx.query(`INSERT INTO ${t} VALUES (1)`) // 23505: the transaction is now aborted
      } catch {}
      return 'resolved'
    }).then((value) => ({ value }), (error) => ({ error }))
    expect(await count(pool, t)).toBe(0) // the server rolled back
    expect(outcome.value).toBeUndefined() // so the promise must not resolve as a commit
    expect(outcome.error).toBeInstanceOf(PgWardenError)
    expect(pool.getPoolStats().pool.active).toBe(0)
  })

  test('the connection is reusable after a rollback (no transaction left open)', async () => {
    const pool = makePool({ connectionLimit: 1 })
    await failure(pool.transaction(async (tx) => {
      await tx.query('SELECT 1')
      throw new Error('x')
    }))
    const r = await pool.query('SELECT pg_current_xact_id_if_assigned() IS NULL AS noxid')
    expect(r.rows[0]).toEqual({ noxid: true })
    // not inside a transaction block: a savepoint fails
    await expect(pool.query('SAVEPOINT s')).rejects.toMatchObject({ code: '25P01' })
  })
})

describe('options', () => {
  test.each([
    ['ReadCommitted', 'read committed'],
    ['RepeatableRead', 'repeatable read'],
    ['Serializable', 'serializable'],
    [undefined, 'read committed']
  ])('isolationLevel %s', async (level, shown) => {
    const pool = makePool()
    const rows = await pool.transaction(async (tx) => (await tx.query('SHOW transaction_isolation')).rows,
      level === undefined ? {} : { isolationLevel: level })
    expect(rows).toEqual([{ transaction_isolation: shown }])
  })

  test('readOnly: a write inside rejects 25006 and nothing is written', async () => {
    const pool = makePool()
    const t = table('ro')
    await pool.query(`CREATE TABLE ${t} (id int)`)
    const shown = await pool.transaction(async (tx) => (await tx.query('SHOW transaction_read_only')).rows[0].transaction_read_only, { readOnly: true })
    expect(shown).toBe('on')
    const caught = await failure(pool.transaction(async (tx) => {
      await tx.query(`SELECT count(*) FROM ${t}`)
      await tx.query(`INSERT INTO ${t} VALUES (1)`)
    }, { readOnly: true }))
    expect(caught).toBeInstanceOf(PgWardenError)
    expect(caught.code).toBe('25006')
    expect(caught.retryable).toBe(false)
    expect(await count(pool, t)).toBe(0)
  })

  test('readOnly with an isolation level', async () => {
    const pool = makePool()
    const r = await pool.transaction(async (tx) => (await tx.query("SELECT current_setting('transaction_isolation') AS i, current_setting('transaction_read_only') AS ro")).rows[0],
      { isolationLevel: 'Serializable', readOnly: true })
    expect(r).toEqual({ i: 'serializable', ro: 'on' })
  })

  test.each(['SNAPSHOT', 'Bogus', '', 'READ COMMITTED; DROP TABLE x'])('unknown isolationLevel %p → ERR_PGWARDEN_PARAMS, callback not called', async (level) => {
    const pool = makePool()
    const fn = jest.fn(async () => 1)
    const caught = await failure(pool.transaction(fn, { isolationLevel: level }))
    expect(caught).toBeInstanceOf(PgWardenError)
    expect(caught.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(caught.kind).toBe('params')
    expect(fn).not.toHaveBeenCalled()
  })
})

describe('limits', () => {
  test('maxWaitMs: with the only connection held, rejects P2024 in ~200 ms', async () => {
    const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 10000 })
    const held = await pool.acquire()
    try {
      const fn = jest.fn(async () => 1)
      const started = Date.now()
      const caught = await failure(pool.transaction(fn, { maxWaitMs: 200 }))
      const elapsed = Date.now() - started
      expect(caught).toBeInstanceOf(PgWardenError)
      expect(caught.code).toBe('P2024')
      expect(caught.kind).toBe('pool_timeout')
      expect(elapsed).toBeGreaterThanOrEqual(180)
      expect(elapsed).toBeLessThan(1000)
      expect(fn).not.toHaveBeenCalled()
    } finally {
      held.release()
    }
    // the connection is free again: a transaction runs
    await expect(pool.transaction(async (tx) => (await tx.query('SELECT 1 AS x')).rows[0].x)).resolves.toBe(1)
  })

  test('timeoutMs: rollback, P2028, the statement stopped on the server', async () => {
    const app = appName('txtimeout')
    const pool = makePool({ applicationName: app, connectionLimit: 2 })
    const t = table('slow')
    await pool.query(`CREATE TABLE ${t} (id int)`)
    let later = null
    const started = Date.now()
    const caught = await failure(pool.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${t} VALUES (1)`)
      try {
        await tx.query('SELECT pg_sleep(5)')
      } catch (e) {
        // the callback goes on after the timeout: tx refuses further work
        later = await failure(tx.query(`INSERT INTO ${t} VALUES (2)`))
        throw e
      }
    }, { timeoutMs: 300 }))
    const elapsed = Date.now() - started
    expect(caught).toBeInstanceOf(PgWardenError)
    expect(caught.code).toBe('P2028')
    expect(caught.retryable).toBe(false)
    expect(elapsed).toBeGreaterThanOrEqual(280)
    expect(elapsed).toBeLessThan(2000)
    expect(await count(pool, t)).toBe(0)
    const sleeping = () => h.admin(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}' AND query LIKE '%pg_sleep(5)%' AND state = 'active'`).then((r) => Number(r[0][0]))
    expect(await eventually(sleeping, 0, { ms: 1000 })).toBe(0)
    const idleInTx = await h.admin(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}' AND state LIKE 'idle in transaction%'`)
    expect(Number(idleInTx[0][0])).toBe(0)
    await sleep(50)
    expect(later).toBeInstanceOf(PgWardenError)
    expect(later.code).toBe('ERR_PGWARDEN_CLOSED')
    expect(await count(pool, t)).toBe(0)
  })

  test('timeoutMs: a callback that does not await the database is also stopped', async () => {
    const pool = makePool()
    const started = Date.now()
    const caught = await failure(pool.transaction(() => new Promise(() => {}), { timeoutMs: 200 }))
    expect(caught.code).toBe('P2028')
    expect(Date.now() - started).toBeLessThan(1500)
    // release is asynchronous in the addon: the connection comes back promptly
    expect(await eventually(() => pool.getPoolStats().pool.active, 0, { ms: 1000 })).toBe(0)
  })

  // Once the deadline has passed, the outcome is the timeout (rollback + P2028), whatever the
  // callback does next. Here the callback settles in the same timer tick as the deadline, just
  // after it (its timer is armed in the same tick as the transaction's): as when it rethrows the
  // error of the statement the timeout just cancelled, or returns right then.
  test.each([
    ['fails', async () => { throw new Error('callback failed after the deadline') }],
    ['resolves', async () => 'value after the deadline']
  ])('timeoutMs: a callback that %s right after the deadline → rollback, P2028', async (_, settle) => {
    const pool = makePool()
    const t = table('late')
    await pool.query(`CREATE TABLE ${t} (id int)`)
    const outcome = await pool.transaction(async (tx) => {
      const insert = tx.query(`INSERT INTO ${t} VALUES (1)`)
      await sleep(250)
      await insert
      return settle()
    }, { timeoutMs: 250 }).then((value) => ({ value }), (error) => ({ code: error.code, message: error.message }))
    expect({ outcome, rowsCommitted: await count(pool, t) })
      .toEqual({ outcome: { code: 'P2028', message: expect.stringMatching(/timeout/) }, rowsCommitted: 0 })
  })

  test('tx used after the transaction ended rejects ERR_PGWARDEN_CLOSED (commit and rollback)', async () => {
    const pool = makePool()
    let committed
    await pool.transaction(async (tx) => { committed = tx })
    const e1 = await failure(committed.query('SELECT 1'))
    expect(e1).toBeInstanceOf(PgWardenError)
    expect(e1.code).toBe('ERR_PGWARDEN_CLOSED')
    expect(e1.kind).toBe('closed')
    expect(e1.message).toMatch(/transaction/i)

    let rolledBack
    await failure(pool.transaction(async (tx) => { rolledBack = tx; throw new Error('x') }))
    const e2 = await failure(rolledBack.query('SELECT 1'))
    expect(e2.code).toBe('ERR_PGWARDEN_CLOSED')
    const e3 = await failure(rolledBack.executeScript('SELECT 1; SELECT 2'))
    expect(e3.code).toBe('ERR_PGWARDEN_CLOSED')
  })

  test('a query not awaited inside the callback and fired after commit is refused', async () => {
    const pool = makePool()
    const t = table('late')
    await pool.query(`CREATE TABLE ${t} (id int)`)
    let tx2
    await pool.transaction(async (tx) => { tx2 = tx })
    await failure(tx2.query(`INSERT INTO ${t} VALUES (1)`))
    expect(await count(pool, t)).toBe(0)
  })
})

describe('re-runs on serialization failures and deadlocks', () => {
  /** Doctors on call: each transaction goes off call if at least two are on call. */
  async function setupDoctors (pool) {
    const t = table('doctors')
    await pool.query(`CREATE TABLE ${t} (id int PRIMARY KEY, on_call boolean NOT NULL)`)
    await pool.query(`INSERT INTO ${t} VALUES (1, true), (2, true)`)
    return t
  }

  function goOffCall (pool, t, id, gate, runs, retries) {
    return pool.transaction(async (tx) => {
      runs[id] = (runs[id] || 0) + 1
      const { rows } = await tx.query(`SELECT count(*)::int AS n FROM ${t} WHERE on_call`)
      await gate.wait() // both have read before either writes: a real write skew
      if (rows[0].n >= 2) await tx.query(`UPDATE ${t} SET on_call = false WHERE id = $1`, [id])
      return rows[0].n
    }, { isolationLevel: 'Serializable', retries })
  }

  test('write skew under Serializable with retries: both succeed, the invariant holds', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const t = await setupDoctors(pool)
    const gate = barrier(2)
    const runs = {}
    const results = await Promise.allSettled([goOffCall(pool, t, 1, gate, runs, 3), goOffCall(pool, t, 2, gate, runs, 3)])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
    // one went off call; the other, re-run, saw only one doctor left and stayed
    expect(await pool.query(`SELECT count(*)::int AS n FROM ${t} WHERE on_call`).then((r) => r.rows[0].n)).toBe(1)
    expect(runs[1] + runs[2]).toBeGreaterThanOrEqual(3)
    expect(results.map((r) => r.value).sort()).toEqual([1, 2])
    const retries = pool.getPoolStats().retries
    expect(retries.attempts).toBeGreaterThanOrEqual(1)
    expect(retries.succeededAfterRetry).toBeGreaterThanOrEqual(1)
    expect(retries.exhausted).toBe(0)
  })

  test('write skew with retries: 0 → the 40001 surfaces, one commits', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const t = await setupDoctors(pool)
    const gate = barrier(2)
    const runs = {}
    const results = await Promise.allSettled([goOffCall(pool, t, 1, gate, runs, 0), goOffCall(pool, t, 2, gate, runs, 0)])
    const rejected = results.filter((r) => r.status === 'rejected')
    expect(rejected).toHaveLength(1)
    const e = rejected[0].reason
    expect(e).toBeInstanceOf(PgWardenError)
    expect(e.code).toBe('40001')
    expect(e.kind).toBe('serialization')
    expect(e.retryable).toBe(true)
    expect(e.maybeCommitted).toBe(false)
    expect(runs).toEqual({ 1: 1, 2: 1 })
    expect(await pool.query(`SELECT count(*)::int AS n FROM ${t} WHERE on_call`).then((r) => r.rows[0].n)).toBe(1)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 0, succeededAfterRetry: 0, exhausted: 1 })
  })

  /** Moves `amount` from `from` to `to`, locking `from` first, meeting the other at the gate. */
  function transfer (pool, t, from, to, amount, gate, runs, retries) {
    return pool.transaction(async (tx) => {
      runs.push(from)
      await tx.query(`UPDATE ${t} SET balance = balance - $1 WHERE id = $2`, [amount, from])
      await gate.wait() // each holds its first row's lock: the second updates deadlock
      await tx.query(`UPDATE ${t} SET balance = balance + $1 WHERE id = $2`, [amount, to])
    }, { retries })
  }

  async function setupAccounts (pool) {
    const t = table('accounts')
    await pool.query(`CREATE TABLE ${t} (id int PRIMARY KEY, balance int NOT NULL)`)
    await pool.query(`INSERT INTO ${t} VALUES (1, 100), (2, 100)`)
    return t
  }

  test('deadlock 40P01 with retries: both transfers complete, totals preserved', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const t = await setupAccounts(pool)
    const gate = barrier(2)
    const runs = []
    const results = await Promise.allSettled([
      transfer(pool, t, 1, 2, 10, gate, runs, 3),
      transfer(pool, t, 2, 1, 20, gate, runs, 3)
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
    expect(runs.length).toBeGreaterThanOrEqual(3) // the victim ran again
    const rows = (await pool.query(`SELECT id, balance FROM ${t} ORDER BY id`)).rows
    expect(rows).toEqual([{ id: 1, balance: 110 }, { id: 2, balance: 90 }])
    const retries = pool.getPoolStats().retries
    expect(retries.attempts).toBeGreaterThanOrEqual(1)
    expect(retries.succeededAfterRetry).toBeGreaterThanOrEqual(1)
    expect(retries.exhausted).toBe(0)
  })

  test('deadlock with retries: 0 → 40P01 surfaces, the victim rolled back', async () => {
    const pool = makePool({ connectionLimit: 4 })
    const t = await setupAccounts(pool)
    const gate = barrier(2)
    const runs = []
    const results = await Promise.allSettled([
      transfer(pool, t, 1, 2, 10, gate, runs, 0),
      transfer(pool, t, 2, 1, 20, gate, runs, 0)
    ])
    const rejected = results.filter((r) => r.status === 'rejected')
    expect(rejected).toHaveLength(1)
    expect(rejected[0].reason).toBeInstanceOf(PgWardenError)
    expect(rejected[0].reason.code).toBe('40P01')
    expect(rejected[0].reason.kind).toBe('deadlock')
    expect(runs).toHaveLength(2)
    const total = (await pool.query(`SELECT sum(balance)::int AS s FROM ${t}`)).rows[0].s
    expect(total).toBe(200)
    const winner = results.findIndex((r) => r.status === 'fulfilled')
    const expected = winner === 0 ? [{ id: 1, balance: 90 }, { id: 2, balance: 110 }] : [{ id: 1, balance: 120 }, { id: 2, balance: 80 }]
    expect((await pool.query(`SELECT id, balance FROM ${t} ORDER BY id`)).rows).toEqual(expected)
  })

  test('re-runs stop after `retries` and the last 40001 is rethrown', async () => {
    const pool = makePool()
    let runs = 0
    const caught = await failure(pool.transaction(async (tx) => {
      runs++
      await tx.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$")
    }, { retries: 2 }))
    expect(caught.code).toBe('40001')
    expect(runs).toBe(3)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 2, succeededAfterRetry: 0, exhausted: 1 })
  })

  test('retries defaults to 3 (4 runs in all)', async () => {
    const pool = makePool()
    let runs = 0
    const caught = await failure(pool.transaction(async (tx) => {
      runs++
      await tx.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40P01'; END $$")
    }))
    expect(caught.code).toBe('40P01')
    expect(runs).toBe(4)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 3, succeededAfterRetry: 0, exhausted: 1 })
  })

  test('other errors are not re-run', async () => {
    const pool = makePool()
    let runs = 0
    const caught = await failure(pool.transaction(async (tx) => {
      runs++
      await tx.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '23505'; END $$")
    }, { retries: 3 }))
    expect(caught.code).toBe('23505')
    expect(runs).toBe(1)
    expect(pool.getPoolStats().retries).toEqual({ attempts: 0, succeededAfterRetry: 0, exhausted: 0 })
  })
})
