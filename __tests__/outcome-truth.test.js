'use strict'
// A statement's outcome is reported as what is known, never better: only a cancel the server
// confirmed (57014 for that statement) is "not committed" and retryable. A statement that was
// sent and not answered (blackholed, reset, lost during COMMIT) is maybeCommitted: true,
// not retryable, and neither withRetry nor transaction() sends it again.

const { harness } = require('./harness')
const { TcpProxy } = require('./helpers/proxy')
const { sleep, timed, failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('outcome', {
  setupSql: `
    CREATE TABLE writes (k text PRIMARY KEY);
    -- A COMMIT that takes 400 ms on the server: a deferred trigger sleeps at commit time.
    CREATE TABLE slow_commits (k text PRIMARY KEY);
    CREATE FUNCTION sleep_at_commit() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN PERFORM pg_sleep(0.4); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_commits
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sleep_at_commit();
  `,
  end: (p) => p.end({ timeoutMs: 500 }).catch(() => {})
})
const proxies = []
beforeAll(db.create)
afterEach(async () => {
  await db.endPools()
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})
const { makePool } = db

/** A pool whose only way to the server is a TCP proxy the test can cut. */
async function proxiedPool (opts = {}) {
  const proxy = new TcpProxy({ targetPort: Number(new URL(db.url).port) })
  proxies.push(proxy)
  const u = new URL(db.url)
  u.port = String(await proxy.start())
  const pool = makePool({ connectionLimit: 1, connectTimeoutMs: 1000, ...opts }, u.toString())
  await pool.query('SELECT 1') // the connection exists before the cut
  return { proxy, pool }
}

/** Whether key `k` was written to `table` (read directly, not through the proxy). */
async function written (k, table = 'writes') {
  const rows = await harness().admin(`SELECT count(*) FROM ${table} WHERE k = '${k}'`, { database: db.url })
  return Number(rows[0][0]) === 1
}

/** An INSERT of `k` that runs on the server for `ms` before it commits. */
const slowInsert = (k, ms) => `INSERT INTO writes SELECT '${k}' FROM pg_sleep(${ms / 1000})`

test('a confirmed cancel is P1008, not committed and retryable', async () => {
  const pool = makePool()
  const err = await failure(pool.query(slowInsert('cancelled', 5000), [], { timeoutMs: 300 }))
  expect(err).toMatchObject({ code: 'P1008', kind: 'timeout', maybeCommitted: false, retryable: true })
  expect(err.message).toMatch(/cancelled on the server/)
  expect(await written('cancelled')).toBe(false)
})

test('blackholed after send: the cancel is never confirmed, so the outcome is unknown and withRetry does not re-send', async () => {
  const { proxy, pool } = await proxiedPool()
  let calls = 0
  const run = pool.withRetry(() => {
    calls++
    return pool.query(slowInsert('blackholed', 200), [], { timeoutMs: 500 })
  }, { maxRetries: 3, initialDelayMs: 10 })
  await sleep(100) // the INSERT reached the server; its answer will not come back
  proxy.blackhole()
  const r = await timed(run)
  expect(r.ok).toBe(false)
  expect(r.error).toMatchObject({ code: 'P1008', maybeCommitted: true, retryable: false })
  expect(r.error.message).toMatch(/outcome is unknown/)
  expect(calls).toBe(1)
  expect(r.ms).toBeLessThan(500 + 2000 + 1000)
  // It did commit: "not committed" would have been a lie.
  expect(await written('blackholed')).toBe(true)
})

test('completed on the server while the timeout fired: the real result, never "not committed"', async () => {
  const { proxy, pool } = await proxiedPool()
  const run = timed(pool.query(slowInsert('raced', 100), [], { timeoutMs: 500 }))
  await sleep(50)
  // The INSERT commits at ~100 ms; its answer is held until after the timeout has fired and
  // the cancel was sent (which then finds nothing to cancel), inside the cancel grace.
  proxy.blackhole()
  await sleep(900)
  proxy.heal()
  const r = await run
  expect(r.error).toBeUndefined()
  expect(r.value).toMatchObject({ command: 'INSERT', rowCount: 1 })
  expect(r.ms).toBeGreaterThan(500)
  expect(await written('raced')).toBe(true)
})

test('reset after send: P1017 with maybeCommitted, never re-sent by withRetry', async () => {
  const { proxy, pool } = await proxiedPool()
  let calls = 0
  const run = pool.withRetry(() => {
    calls++
    return pool.query(slowInsert('reset', 300), [], { timeoutMs: 5000 })
  }, { maxRetries: 3, initialDelayMs: 10 })
  await sleep(100)
  proxy.reset()
  const err = await failure(run)
  expect(err).toMatchObject({ code: 'P1017', maybeCommitted: true, retryable: false })
  expect(calls).toBe(1)
})

test('connection lost during COMMIT: maybeCommitted, not re-run by transaction() nor withRetry()', async () => {
  const { proxy, pool } = await proxiedPool()
  let callbacks = 0
  let attempts = 0
  const err = await failure(pool.withRetry(() => {
    attempts++
    return pool.transaction(async (tx) => {
      callbacks++
      await tx.query("INSERT INTO slow_commits VALUES ('in_tx')")
      // The COMMIT goes out when this returns and runs for 400 ms: cut the network inside it.
      setTimeout(() => proxy.reset(), 150)
    }, { retries: 3 })
  }, { maxRetries: 3, initialDelayMs: 10 }))
  expect(err).toMatchObject({ code: 'P1017', maybeCommitted: true, retryable: false })
  expect(callbacks).toBe(1)
  expect(attempts).toBe(1)
  await sleep(500)
  expect(await written('in_tx', 'slow_commits')).toBe(true) // the server did commit it
})

test('a statement killed with its connection (pg_terminate_backend) is maybeCommitted', async () => {
  const pool = makePool({ applicationName: `pgw_outcome_${process.pid}` })
  const run = failure(pool.query(slowInsert('terminated', 3000)))
  await sleep(500)
  await harness().admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgw_outcome_${process.pid}'`)
  const err = await run
  expect(['57P01', 'P1017']).toContain(err.code)
  expect(err.maybeCommitted).toBe(true)
  expect(err.retryable).toBe(false)
})
