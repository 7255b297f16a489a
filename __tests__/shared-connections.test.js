'use strict'
// While every connection is busy, pool.query statements share one (src/pool/convoy.rs): the next
// statement to get a connection takes up to pipelineDepth - 1 of those still waiting along and
// sends them in one write. Each keeps its own answer and error; a timeout sends no cancel
// request while statements sent with it are unanswered (it could stop one of them), so its
// outcome is unknown; alone, it is cancelled as usual. pipelineDepth 1 turns sharing off.

const { eventually, failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('shared', { setupSql: 'CREATE TABLE marks (id serial, n int);' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

/**
 * Queues `statements` (functions of the pool giving a promise) behind a held connection of a
 * pool of one, one after another (each waiting before the next is sent, so the line's order
 * is theirs), then frees it: they go out together.
 */
async function sentTogether (pool, statements) {
  const held = await pool.acquire()
  const pending = []
  for (const run of statements) {
    pending.push(run(pool))
    await eventually(() => pool.getPoolStats().pool.waiting, pending.length)
  }
  held.release()
  return pending
}

/** Settles every promise, keeping each outcome and when it came (ms since the call). */
function outcomes (promises) {
  const started = Date.now()
  const settled = (outcome) => ({ ...outcome, at: Date.now() - started })
  return Promise.all(promises.map((p) => p.then((value) => settled({ value }), (error) => settled({ error }))))
}

test('statements sent together each get their own answer and their own error', async () => {
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 8 })
  const [a, zero, missing, b, c] = await outcomes(await sentTogether(pool, [
    (p) => p.query('SELECT $1::int AS n', [1]),
    (p) => p.query('SELECT 1 / $1::int AS n', [0]),
    (p) => p.query('SELECT * FROM no_such_table'),
    (p) => p.query("SELECT $1::text || '!' AS s", ['two']),
    (p) => p.query('INSERT INTO marks (n) VALUES ($1)', [3])
  ]))
  expect(a.value.rows).toEqual([{ n: 1 }])
  expect(zero.error).toMatchObject({ code: '22012', maybeCommitted: false })
  // Refused as it was prepared: it never ran, and the others went on.
  expect(missing.error).toMatchObject({ code: '42P01', maybeCommitted: false })
  expect(b.value.rows).toEqual([{ s: 'two!' }])
  expect(c.value).toMatchObject({ command: 'INSERT', rowCount: 1 })
  const stats = pool.getPoolStats()
  expect(stats.queries.pipelined).toBe(4)
  // The held connection, the statement that got it, and the four it took along.
  expect(stats.acquire.count).toBe(6)
  expect((await pool.query('SELECT n FROM marks')).rows).toEqual([{ n: 3 }])
})

test('at most pipelineDepth statements share a connection; they run in the order they waited', async () => {
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 3 })
  await Promise.all(await sentTogether(pool, Array.from({ length: 7 }, (_, i) => (p) => p.query('INSERT INTO marks (n) VALUES ($1)', [100 + i]))))
  const { rows } = await pool.query('SELECT n FROM marks WHERE n >= 100 ORDER BY id')
  expect(rows.map((r) => r.n)).toEqual([100, 101, 102, 103, 104, 105, 106])
  // 3 + 3 together, and the last one alone.
  expect(pool.getPoolStats().queries.pipelined).toBe(6)
})

test('a timeout while statements sent with it are unanswered: no cancel request, outcome unknown, the others answered', async () => {
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 8 })
  const [slow, after] = await outcomes(await sentTogether(pool, [
    (p) => p.query('SELECT pg_sleep(1)', [], { timeoutMs: 200 }),
    (p) => p.query('SELECT 2 AS n')
  ]))
  expect(slow.error).toMatchObject({ code: 'P1008', maybeCommitted: true })
  expect(slow.error.message).toMatch(/carrying other statements not yet answered/)
  // Told at its timeout, not when the statement behind it is answered.
  expect(slow.at).toBeLessThan(after.at - 300)
  // Not cancelled: the statement behind it ran once the sleep was over.
  expect(after.value.rows).toEqual([{ n: 2 }])
  expect((await pool.query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }])
})

test("a statement's timeout counts from when a convoy took it, across its prepare and its run", async () => {
  // Another pool holds a lock that blocks the Parse of any statement on the table.
  const locker = await makePool({ connectionLimit: 1 }).acquire()
  await locker.query('BEGIN')
  await locker.query('LOCK TABLE marks IN ACCESS EXCLUSIVE MODE')
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 8 })
  try {
    const [first, blocked, after] = await outcomes(await sentTogether(pool, [
      (p) => p.query('SELECT 1 AS n'),
      (p) => p.query('SELECT count(*) FROM marks', [], { timeoutMs: 500 }),
      (p) => p.query('SELECT n FROM marks WHERE n = $1', [1], { timeoutMs: 500 })
    ]))
    expect(first.value.rows).toEqual([{ n: 1 }])
    // Its Parse was cancelled: nothing ran.
    expect(blocked.error).toMatchObject({ code: 'P1008', maybeCommitted: false })
    // Its time ran out while the one before it was being prepared: never sent, and told
    // then, not after a fresh timeout of its own.
    expect(after.error).toMatchObject({ code: 'P1008', maybeCommitted: false })
    expect(after.at).toBeLessThan(850)
  } finally {
    await locker.query('ROLLBACK')
    locker.release()
  }
})

test('the last unanswered statement sent together is cancelled on the server as usual', async () => {
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 8 })
  const [first, slow] = await outcomes(await sentTogether(pool, [
    (p) => p.query('SELECT 1 AS n'),
    (p) => p.query('SELECT pg_sleep(5)', [], { timeoutMs: 300 })
  ]))
  expect(first.value.rows).toEqual([{ n: 1 }])
  expect(slow.error).toMatchObject({ code: 'P1008', maybeCommitted: false })
  expect(slow.error.message).toMatch(/cancelled on the server/)
})

test('pipelineDepth 1: one statement per connection, a timeout cancels even with others waiting', async () => {
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 1 })
  const [slow, after] = await outcomes(await sentTogether(pool, [
    (p) => p.query('SELECT pg_sleep(5)', [], { timeoutMs: 300 }),
    (p) => p.query('SELECT 2 AS n')
  ]))
  expect(slow.error).toMatchObject({ code: 'P1008', maybeCommitted: false })
  expect(after.value.rows).toEqual([{ n: 2 }])
  expect(pool.getPoolStats().queries.pipelined).toBe(0)
})

test('statements with an AbortSignal, several statements in one text, and commands that change the session never share', async () => {
  const pool = makePool({ connectionLimit: 1, pipelineDepth: 8 })
  const signal = new AbortController().signal
  const results = await Promise.all(await sentTogether(pool, [
    (p) => p.query('SELECT 1 AS n', [], { signal }),
    (p) => p.query('SELECT 2 AS n; SELECT 3 AS n'),
    (p) => p.query("SET application_name = 'shared'"),
    (p) => p.query('SELECT 4 AS n', [], { signal })
  ]))
  expect(results[0].rows).toEqual([{ n: 1 }])
  expect(results[1].map((r) => r.rows)).toEqual([[{ n: 2 }], [{ n: 3 }]])
  expect(results[2].command).toBe('SET')
  expect(results[3].rows).toEqual([{ n: 4 }])
  expect(pool.getPoolStats().queries.pipelined).toBe(0)
  // Each kind first in the line, a plain statement behind it (nothing waiting alone ahead of
  // them, so the plain one would be taken along if the first could share).
  for (const first of [
    (p) => p.query('SELECT 1 AS n', [], { signal }),
    (p) => p.query('SELECT 2 AS n; SELECT 3 AS n'),
    (p) => p.query("SELECT set_config('application_name', 'shared', false) AS s")
  ]) {
    await Promise.all(await sentTogether(pool, [first, (p) => p.query('SELECT 5 AS n')]))
    expect(pool.getPoolStats().queries.pipelined).toBe(0)
  }
})

test('pipelineDepth is at least 1, and 1 behind PgBouncer or without a statement cache', async () => {
  expect(() => makePool({ pipelineDepth: 0 })).toThrow(expect.objectContaining({ code: 'ERR_PGWARDEN_CONFIG' }))
  expect(makePool({ pipelineDepth: 4 }).toJSON().pipelineDepth).toBe(4)
  expect(makePool({ pipelineDepth: 4, pgbouncer: true }).toJSON().pipelineDepth).toBe(1)
  expect(makePool({ pipelineDepth: 4, statementCacheSize: 0 }).toJSON().pipelineDepth).toBe(1)
  const e = await failure(Promise.resolve().then(() => makePool({ pipelineDepth: 'deep' })))
  expect(e.code).toBe('ERR_PGWARDEN_CONFIG')
})
