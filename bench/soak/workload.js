'use strict'
// What the soak's callers do, each in a loop until the end: inserts of unique keys and transfers
// between accounts (both through pool.withRetry, every send recorded in the ledger), point reads
// on the primary and on the read replica, and runs of statements issued without awaiting each on
// a held connection. During a fault window (see faults.js) some statements carry a tight
// `timeoutMs` or an AbortSignal that fires while they run, and sleep on the server before they
// write, so that timeouts and aborts land before, during and after the write.

const ACCOUNTS = 50
const START_BALANCE = 1000
// No unique keys on the written ids: a write made twice must show as two rows, not as a 23505.
// soak_order.seq numbers the held-connection rows in the order the server ran the INSERTs.
const SCHEMA_SQL = `
  CREATE TABLE soak_keys (k bigint NOT NULL);
  CREATE INDEX ON soak_keys (k);
  CREATE TABLE soak_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
  INSERT INTO soak_accounts SELECT g, ${START_BALANCE} FROM generate_series(1, ${ACCOUNTS}) g;
  CREATE TABLE soak_transfers (id bigint NOT NULL, src int NOT NULL, dst int NOT NULL, amount int NOT NULL);
  CREATE INDEX ON soak_transfers (id);
  CREATE TABLE soak_order (seq bigserial PRIMARY KEY, run bigint NOT NULL, i int NOT NULL);
`

const INSERT_KEY = 'INSERT INTO soak_keys (k) VALUES ($1)'
const SLOW_INSERT_KEY = 'INSERT INTO soak_keys (k) SELECT $1::bigint FROM pg_sleep($2::float8)'
const READ_KEY = 'SELECT count(*)::int AS n FROM soak_keys WHERE k = $1'
const INSERT_ORDER = 'INSERT INTO soak_order (run, i) VALUES ($1, $2) RETURNING i'
const SLOW_INSERT_ORDER = 'INSERT INTO soak_order (run, i) SELECT $1::bigint, $2::int FROM pg_sleep($3::float8) RETURNING i'

const { sleep } = require('../../lib/retry')
const randomInt = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1))

/**
 * During a timeout or abort window, half the statements are cut short: `{ sleepS, opts, done }`
 * (sleep that long on the server before writing; pass `opts` to the query; call `done` once it
 * settled), else null. The sleep is drawn around the deadline so that some statements are cut
 * while sleeping (nothing written), some while writing and some just after they committed.
 */
function cutShort (ctx) {
  const now = Date.now()
  if (now < ctx.windows.timeoutUntil && Math.random() < 0.5) {
    const timeoutMs = randomInt(10, 50)
    ctx.cut.timeout++
    return { sleepS: (Math.random() * 2 * timeoutMs) / 1000, opts: { timeoutMs }, done () {} }
  }
  if (now < ctx.windows.abortUntil && Math.random() < 0.5) {
    const afterMs = randomInt(0, 300) // past the wait in the line, so that most fire on a running statement
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new Error('soak: aborted by the caller')), afterMs)
    ctx.cut.abort++
    return { sleepS: Math.random() * 0.3, opts: { signal: controller.signal }, done: () => clearTimeout(timer) }
  }
  return null
}

/** Counts an error surfaced to a caller of `op`, keeping the first message of each code. */
function surfaced (ctx, op, error) {
  const key = `${op}:${(error && (error.code || error.name)) || 'unknown'}`
  ctx.errors[key] = (ctx.errors[key] || 0) + 1
  if (!(key in ctx.errorMessages)) ctx.errorMessages[key] = String(error && error.message).slice(0, 200)
  ctx.errorTotal++
  if (error && error.maybeCommitted) ctx.unknown[op] = (ctx.unknown[op] || 0) + 1
}

/**
 * A statement of `op` that asked for no timeout and no abort rejected with `error`. The pool
 * sends cancel requests only for statements that did, so a 57014 "canceling statement due to
 * user request" here is a cancel that reached a statement it was not meant for.
 */
function checkUnasked (ctx, op, error) {
  if (!error || error.code !== '57014') return
  const now = Date.now()
  const windows = Object.entries(ctx.windows).filter(([, until]) => now < until).map(([name]) => name.replace('Until', ' window'))
  ctx.unaskedCancels.push(`${((now - ctx.startedAt) / 1000).toFixed(1)}s ${op}${windows.length ? ` (${windows.join(', ')})` : ''}: ${String(error.message).slice(0, 200)}`)
}

/**
 * Runs write `id` of `ledger` through pool.withRetry (its defaults): `send()` is one attempt,
 * recorded before it goes out and marked when it rejects with maybeCommitted. Resolves to the
 * final error, or null when the write was acknowledged.
 */
async function ledgeredWrite (ctx, ledger, id, send) {
  let error = null
  try {
    await ctx.pool.withRetry(async () => {
      ledger.sent(id)
      try {
        return await send()
      } catch (e) {
        ledger.attemptFailed(id, e)
        throw e
      }
    })
  } catch (e) {
    error = e
  }
  ledger.settle(id, error)
  return error
}

/** One attempt to insert key `k`: plain, or cut short during a fault window. */
async function sendInsert (ctx, k) {
  const cut = cutShort(ctx)
  if (!cut) return ctx.pool.query(INSERT_KEY, [k]).catch((e) => { checkUnasked(ctx, 'insert', e); throw e })
  try {
    return await ctx.pool.query(SLOW_INSERT_KEY, [k, cut.sleepS], cut.opts)
  } finally {
    cut.done()
  }
}

async function insert (ctx) {
  const k = ctx.keys.issue()
  const error = await ledgeredWrite(ctx, ctx.keys, k, () => sendInsert(ctx, k))
  if (error) return surfaced(ctx, 'insert', error)
  ctx.ok.insert++
  ctx.recovery.acked(k)
}

/**
 * A point read of a random key on the primary. A key acknowledged before the read started must
 * be there exactly once (read committed sees every commit acknowledged before the statement).
 */
async function read (ctx) {
  const k = randomInt(1, Math.max(1, ctx.keys.next - 1))
  const acked = ctx.keys.isAcked(k)
  try {
    const { rows } = await ctx.pool.query(READ_KEY, [k])
    ctx.ok.read++
    if (acked && rows[0].n !== 1) ctx.readAnomalies.push(`key ${k}: acknowledged, read back ${rows[0].n} times`)
  } catch (e) {
    checkUnasked(ctx, 'read', e)
    surfaced(ctx, 'read', e)
  }
}

/** The same read on the read replica (it may lag: nothing is checked but the answer). */
async function replicaRead (ctx) {
  const k = randomInt(1, Math.max(1, ctx.keys.next - 1))
  try {
    await ctx.pool.query(READ_KEY, [k], { replica: true })
    ctx.ok.replicaRead++
  } catch (e) {
    checkUnasked(ctx, 'replicaRead', e)
    surfaced(ctx, 'replicaRead', e)
  }
}

/** Moves a random amount between two random accounts in a transaction, recorded in soak_transfers. */
async function transfer (ctx) {
  const id = ctx.transfers.issue()
  const src = randomInt(1, ACCOUNTS)
  const dst = 1 + ((src + randomInt(0, ACCOUNTS - 2)) % ACCOUNTS) // any account but src
  const amount = randomInt(1, 20)
  const error = await ledgeredWrite(ctx, ctx.transfers, id, () => ctx.pool.transaction(async (tx) => {
    await tx.query('UPDATE soak_accounts SET balance = balance - $1 WHERE id = $2', [amount, src])
    await tx.query('UPDATE soak_accounts SET balance = balance + $1 WHERE id = $2', [amount, dst])
    await tx.query('INSERT INTO soak_transfers (id, src, dst, amount) VALUES ($1, $2, $3, $4)', [id, src, dst, amount])
  }).catch((e) => { checkUnasked(ctx, 'transfer', e); throw e }))
  if (error) return surfaced(ctx, 'transfer', error)
  ctx.ok.transfer++
}

/**
 * Holds a connection and issues 5–20 numbered INSERTs on it in one synchronous loop (none
 * awaited before the next is issued); during a fault window the middle one may be cut short.
 * The ledger keeps each outcome and the order the promises settled in; the server's order is
 * read back at the end (soak_order.seq numbers rows in the order the server ran them).
 */
async function heldRun (ctx) {
  let client
  try {
    client = await ctx.pool.acquire()
  } catch (e) {
    return surfaced(ctx, 'held', e)
  }
  const n = randomInt(5, 20)
  const run = ctx.held.start(n)
  const settledOrder = []
  const middle = Math.floor(n / 2)
  const statements = []
  let exempt = -1
  for (let i = 0; i < n; i++) {
    const cut = i === middle ? cutShort(ctx) : null
    if (cut) exempt = i
    const sent = cut ? client.query(SLOW_INSERT_ORDER, [run, i, cut.sleepS], cut.opts) : client.query(INSERT_ORDER, [run, i])
    const settled = () => { settledOrder.push(i); if (cut) cut.done() }
    statements.push(sent.then(
      (r) => { settled(); ctx.held.resolved(run, i, r.rows[0].i); ctx.ok.heldStatement++ },
      (e) => { settled(); ctx.held.rejected(run, i, e); if (!cut) checkUnasked(ctx, 'held', e); surfaced(ctx, 'held', e) }
    ))
  }
  await Promise.all(statements)
  client.release()
  ctx.held.settled(run, settledOrder, exempt)
  ctx.ok.heldRun++
}

// Convoys (pipelineDepth) form only while no caller that needs a connection of its own
// (acquire(), transaction(), a statement with an AbortSignal) waits in the line: riders never
// pass it. A steady mix of both kinds on a saturated pool leaves such a caller waiting nearly
// all the time, and the default path would hardly be taken. So the load runs in cycles: 6 s of
// pool.query statements only (inserts, reads, replica reads: convoys), then 4 s with transfers
// and held-connection runs mixed in. Faults fall in either phase.
// Each cycle starts with a pause of half a second that lets the line empty: today, once a
// caller of the second kind has waited in a line that never empties (statements of a few ms,
// every connection busy), convoys do not form again even when only pool.query callers are
// left; past 4 × connectionLimit × pipelineDepth waiting statements the same happens with
// pool.query callers alone (docs/RELIABILITY.md, Soak; the pause can go once that is fixed).
const CONVOY_MIX = [[0.6, insert], [0.2, read], [0.2, replicaRead]]
const FULL_MIX = [[0.45, insert], [0.15, read], [0.15, replicaRead], [0.15, transfer], [0.10, heldRun]]
const CYCLE = { pauseMs: 500, convoyMs: 6000, fullMs: 4000 }
const CYCLE_MS = CYCLE.pauseMs + CYCLE.convoyMs + CYCLE.fullMs

/** Where the cycle is now: `{ pauseLeftMs }` during the pause, else `{ mix }`. */
function phaseAt (ctx) {
  const t = (Date.now() - ctx.startedAt) % CYCLE_MS
  if (t < CYCLE.pauseMs) return { pauseLeftMs: CYCLE.pauseMs - t }
  return { mix: t < CYCLE.pauseMs + CYCLE.convoyMs ? CONVOY_MIX : FULL_MIX }
}

/** An operation drawn from `mix` by weight. */
function draw (mix) {
  let r = Math.random()
  for (const [weight, op] of mix) if ((r -= weight) < 0) return op
  return mix[0][1]
}

/** One caller: operations drawn from the phase's mix until `until`; a short pause after a surfaced error. */
async function caller (ctx, until) {
  ctx.inFlight++
  try {
    while (Date.now() < until) {
      const { pauseLeftMs, mix } = phaseAt(ctx)
      if (pauseLeftMs) {
        await sleep(pauseLeftMs)
        continue
      }
      const before = ctx.errorTotal
      await draw(mix)(ctx)
      if (ctx.errorTotal > before) await sleep(20) // do not spin on a server that is down
    }
  } finally {
    ctx.inFlight--
  }
}

module.exports = { SCHEMA_SQL, ACCOUNTS, START_BALANCE, caller }
