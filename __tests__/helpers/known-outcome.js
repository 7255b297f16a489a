'use strict'
// Writes whose real outcome a fault test knows, put in flight before the fault hits.
//
// A restart, a terminate or a failover that hits a statement in flight leaves its outcome
// unknown to the pool; the test, though, can know it. `committed` writes commit their row inside
// a procedure and then sleep, so they committed though no answer will ever come; `uncommitted`
// writes sleep before their row is written, so they die without it. The pool must report every
// one `maybeCommitted: true` and withRetry must send each once: a pool that called a lost
// statement "not committed" lets withRetry send it again (a 23505 on a committed row, a second
// row attempt on the other), and `check` sees it.

const { eventually } = require('./common')

const SLEEP_S = 60 // longer than any test: the fault, not the sleep, must end these statements

/**
 * Starts `perKind` writes of each kind on `pool` into `table(column int PRIMARY KEY)` (column `k` unless told), keys from
 * `firstKey`, and resolves once the server shows every one running (and the committed rows
 * there). `admin(sql)` runs SQL on the server outside the pool and resolves to rows of strings.
 * Returns `{ settle, check(presentKeys) }`; `check` asserts and returns what each write saw.
 */
async function knownOutcomeWrites ({ pool, admin, table, column = 'k', firstKey, perKind = 3 }) {
  await admin(`CREATE PROCEDURE ${table}_commit_then_sleep(k int, secs float8) LANGUAGE plpgsql AS $$ ` +
    `BEGIN INSERT INTO ${table}(${column}) VALUES (k); COMMIT; PERFORM pg_sleep(secs); END $$`)
  const kinds = {
    committed: (k, secs) => pool.query(`CALL ${table}_commit_then_sleep($1, $2)`, [k, secs], { timeoutMs: 2 * SLEEP_S * 1000 }),
    uncommitted: (k, secs) => pool.query(`INSERT INTO ${table}(${column}) SELECT $1 FROM pg_sleep($2)`, [k, secs], { timeoutMs: 2 * SLEEP_S * 1000 })
  }
  const writes = []
  let k = firstKey
  for (const [kind, send] of Object.entries(kinds)) {
    for (let i = 0; i < perKind; i++, k++) {
      const w = { kind, k, sent: 0, error: null }
      // Only the first send sleeps: a wrong re-send shows at once instead of hanging the test.
      w.done = pool.withRetry(() => send(w.k, w.sent++ === 0 ? SLEEP_S : 0), { initialDelayMs: 50, maxRetries: 20 })
        .then(() => { w.error = 'resolved' }, (e) => { w.error = e })
      writes.push(w)
    }
  }
  const count = async (sql) => Number((await admin(sql))[0][0])
  const running = await eventually(() => count(
    `SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%${table}%'`), writes.length, { ms: 10000 })
  if (running !== writes.length) {
    const early = writes.filter((w) => w.error).map((w) => `${w.kind}: ${w.error.code || ''} ${w.error.message || w.error}`)
    throw new Error(`only ${running} of ${writes.length} known-outcome writes are running; ended early: ${early.join('; ')}`)
  }
  const committed = await count(`SELECT count(*) FROM ${table} WHERE ${column} >= ${firstKey}`)
  if (committed !== perKind) throw new Error(`${committed} committed rows, expected ${perKind}`)
  return {
    settle: () => Promise.all(writes.map((w) => w.done)),
    check (present) {
      const seen = writes.map((w) => ({
        kind: w.kind,
        k: w.k,
        sent: w.sent,
        present: present.has(w.k),
        code: w.error && w.error.code,
        maybeCommitted: w.error && w.error.maybeCommitted,
        retryable: w.error && w.error.retryable
      }))
      expect(seen).toEqual(writes.map((w) => ({
        kind: w.kind, k: w.k, sent: 1, present: w.kind === 'committed', code: expect.any(String), maybeCommitted: true, retryable: false
      })))
      return seen
    }
  }
}

module.exports = { knownOutcomeWrites }
