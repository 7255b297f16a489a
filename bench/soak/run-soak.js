'use strict'
// runSoak(opts): the soak of pgwarden's defaults, shared by `node bench/soak.js` (10 minutes,
// 200 callers) and __tests__/soak-defaults.test.js (about a minute, 100 callers).
//
// A pool with every default (pipelineDepth 8: pool.query statements share a busy connection),
// given only where the servers are: a multi-host primary URL (primary and synchronous standby
// behind TCP proxies, target_session_attrs=read-write) and a read replica. Callers (workload.js)
// write through withRetry, read, transfer, and issue statements on held connections while
// faults.js terminates, restarts, cuts the network, times out, aborts and fails over. At the
// end the ledger is checked against the tables. Resolves to the report; `report.integrity.ok`
// is the verdict.

const fs = require('node:fs')
const { Pool } = require('../..')
const { Topology } = require('./topology')
const { WriteLedger, HeldRunLedger } = require('./ledger')
const { SCHEMA_SQL, ACCOUNTS, START_BALANCE, caller } = require('./workload')
const { FAULTS, RecoveryWatch, injectFaults } = require('./faults')

const { sleep } = require('../../lib/retry')
const memory = () => ({ rssMB: +(process.memoryUsage().rss / 1048576).toFixed(1), fds: fs.readdirSync('/proc/self/fd').length })

/** The pool's logger: counts what it logs by level and keeps the first lines of each level. */
function countingLogger () {
  const logged = { debug: 0, info: 0, warn: 0, error: 0 }
  const firstLines = { info: [], warn: [], error: [] }
  const logger = { logged, firstLines }
  for (const level of Object.keys(logged)) {
    logger[level] = (...args) => {
      logged[level]++
      const kept = firstLines[level]
      if (kept && kept.length < 5) kept.push(args.map(String).join(' ').slice(0, 300))
    }
  }
  return logger
}

/** Everything the callers, the injector and the checks share. */
function newContext () {
  return {
    pool: null,
    topology: null,
    keys: new WriteLedger(),
    transfers: new WriteLedger(),
    held: new HeldRunLedger(),
    ok: { insert: 0, read: 0, replicaRead: 0, transfer: 0, heldRun: 0, heldStatement: 0 },
    errors: {}, // `${op}:${code}` → count
    errorMessages: {}, // `${op}:${code}` → the first message
    errorTotal: 0,
    unaskedCancels: [], // 57014 on statements that asked for no timeout or abort
    unknown: {}, // op → errors surfaced with maybeCommitted: true
    readAnomalies: [],
    windows: { timeoutUntil: 0, abortUntil: 0 },
    cut: { timeout: 0, abort: 0 },
    faults: {},
    faultLog: [],
    faultFailures: [],
    recovery: new RecoveryWatch(),
    startedAt: 0,
    inFlight: 0
  }
}

/** `SELECT id, count(*) … GROUP BY id` through the admin session, as a Map id → count. */
async function copiesOf (cluster, table, column) {
  const rows = await cluster.admin(`SELECT ${column}, count(*) FROM ${table} GROUP BY ${column}`)
  return new Map(rows.map(([id, n]) => [Number(id), Number(n)]))
}

/** Balances: the total kept, and each account equal to its start plus the transfers in the table. */
async function balanceProblems (cluster) {
  const problems = []
  const [[sum]] = await cluster.admin('SELECT sum(balance) FROM soak_accounts')
  if (Number(sum) !== ACCOUNTS * START_BALANCE) problems.push(`balances: total ${sum}, expected ${ACCOUNTS * START_BALANCE}`)
  const [[drift]] = await cluster.admin(`SELECT count(*) FROM soak_accounts a WHERE a.balance <> ${START_BALANCE}
    + coalesce((SELECT sum(amount) FROM soak_transfers WHERE dst = a.id), 0) - coalesce((SELECT sum(amount) FROM soak_transfers WHERE src = a.id), 0)`)
  if (Number(drift) !== 0) problems.push(`balances: ${drift} accounts whose balance does not match soak_transfers`)
  return problems
}

/**
 * Each held-connection statement's row count, and whether the server ran it after a statement
 * issued later on the same connection (seq numbers rows in the order the server ran them).
 */
async function heldRows (cluster) {
  const rows = await cluster.admin(`SELECT run, i, count(*), bool_or(coalesce(i < ran_before, false)) FROM (
      SELECT run, i, max(i) OVER (PARTITION BY run ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ran_before
      FROM soak_order) o GROUP BY run, i`)
  return rows.map(([run, i, n, outOfOrder]) => [Number(run), Number(i), Number(n), outOfOrder === 't'])
}

/** The ledger against the tables of the current primary. */
async function checkIntegrity (ctx) {
  const primary = ctx.topology.primary
  const keys = ctx.keys.check(await copiesOf(primary, 'soak_keys', 'k'), 'inserts')
  const transfers = ctx.transfers.check(await copiesOf(primary, 'soak_transfers', 'id'), 'transfers')
  const held = ctx.held.check(await heldRows(primary))
  const problems = [...keys.problems, ...transfers.problems, ...(await balanceProblems(primary)), ...held.problems]
  if (ctx.readAnomalies.length) problems.push(`reads: ${ctx.readAnomalies.length} acknowledged keys not read back exactly once (${ctx.readAnomalies.slice(0, 5).join('; ')})`)
  return { ok: problems.length === 0, problems, keys: keys.counts, transfers: transfers.counts, held: held.counts, readAnomalies: ctx.readAnomalies.length }
}

/** Resolves once every caller has returned, or after `ms` (a hang): how many are still out. */
async function drained (ctx, callers, ms) {
  let timer
  const timeout = new Promise((resolve) => { timer = setTimeout(resolve, ms) })
  await Promise.race([Promise.all(callers), timeout])
  clearTimeout(timer)
  return ctx.inFlight
}

/** One progress line. */
function progressLine (ctx, label) {
  const s = ctx.pool.getPoolStats()
  const m = memory()
  return `[soak ${label}] ok ${JSON.stringify(ctx.ok)}, errors ${ctx.errorTotal} ${JSON.stringify(ctx.errors)}, ` +
    `unknown outcomes ${JSON.stringify(ctx.unknown)}, faults ${JSON.stringify(ctx.faults)}, ` +
    `pool ${JSON.stringify({ active: s.pool.active, idle: s.pool.idle, total: s.pool.total, waiting: s.pool.waiting })}, ` +
    `pipelined ${s.queries.pipelined}, rss ${m.rssMB} MB, fds ${m.fds}`
}

/** The pool's figures worth a report. */
function poolFigures (pool) {
  const s = pool.getPoolStats()
  const settings = pool.toJSON()
  return {
    connectionLimit: settings.connectionLimit,
    pipelineDepth: settings.pipelineDepth,
    poolTimeoutMs: settings.poolTimeoutMs,
    statements: s.queries.queriesExecuted,
    pipelined: s.queries.pipelined,
    retries: s.retries,
    connections: s.connections,
    outages: { count: s.outages.count },
    failovers: s.failovers,
    replicas: { fallbacks: s.replicas.fallbacks, servers: s.replicas.servers.map((r) => ({ queries: r.queries, errors: r.errors, state: r.state })) }
  }
}

/**
 * The callers and the injector from now for `durationS`, a progress line every `progressEveryS`;
 * resolves `{ elapsedS, stillOut }` (stillOut: callers not back `drainMs` after the end).
 */
async function runLoad (ctx, { durationS, concurrency, faultEveryMs, quietTailS, drainMs, progressEveryS, say }) {
  const startedAt = ctx.startedAt = Date.now()
  const until = startedAt + durationS * 1000
  const progress = setInterval(() => say(progressLine(ctx, `${Math.round((Date.now() - startedAt) / 1000)}s`)), progressEveryS * 1000)
  try {
    const callers = Array.from({ length: concurrency }, () => caller(ctx, until))
    const injector = injectFaults(ctx, { everyMs: faultEveryMs, quietFrom: until - quietTailS * 1000, startedAt })
    await sleep(until - Date.now())
    const stillOut = await drained(ctx, callers, drainMs)
    await injector
    return { elapsedS: (Date.now() - startedAt) / 1000, stillOut }
  } finally {
    clearInterval(progress)
  }
}

/** The report `runSoak` resolves to. */
function report (ctx, { durationS, concurrency, elapsedS, pool, logger, mem, integrity }) {
  const ok = ctx.ok
  return {
    settings: { durationS, concurrency, connectionLimit: pool.connectionLimit, poolTimeoutMs: pool.poolTimeoutMs, pipelineDepth: pool.pipelineDepth },
    elapsedS,
    ok,
    okPerS: Math.round((ok.insert + ok.read + ok.replicaRead + ok.transfer + ok.heldStatement) / elapsedS),
    faults: ctx.faults,
    faultFailures: ctx.faultFailures,
    faultLog: ctx.faultLog,
    cutShort: ctx.cut,
    recovery: ctx.recovery.summary(),
    errors: ctx.errors,
    errorMessages: ctx.errorMessages,
    unaskedCancels: ctx.unaskedCancels,
    unknownOutcomes: ctx.unknown,
    resends: { inserts: ctx.keys.resends, transfers: ctx.transfers.resends },
    pool,
    poolLogged: { ...logger.logged, firstLines: logger.firstLines },
    memory: mem,
    integrity
  }
}

/**
 * Runs the soak. Options: durationS (600), concurrency (200), connectionLimit and poolTimeoutMs
 * (the pool's defaults when left out), faultEveryMs ([3000, 5000]), quietTailS (no fault starts
 * in the last 8 s, so the end is measured on a healthy topology), drainMs (how long callers may
 * take to return after the end before it counts as a hang: 40 s, past the default 30 s
 * queryTimeoutMs), progressEveryS (30), log (console.log; null for silence).
 */
async function runSoak ({
  durationS = 600, concurrency = 200, connectionLimit, poolTimeoutMs, faultEveryMs = [3000, 5000],
  quietTailS = 8, drainMs = 40000, progressEveryS = 30, log = console.log
} = {}) {
  const say = log || (() => {})
  const ctx = newContext()
  const memAtStart = memory()
  ctx.topology = await Topology.start(SCHEMA_SQL)
  const logger = countingLogger()
  try {
    // Only where the servers are, and what the command line asked for: every other option is the default.
    const sizing = { ...(connectionLimit ? { connectionLimit } : {}), ...(poolTimeoutMs ? { poolTimeoutMs } : {}) }
    ctx.pool = new Pool({ connectionString: ctx.topology.primaryUrl, replicaUrls: [ctx.topology.replicaUrl], logger, ...sizing })
    await ctx.pool.connect()
    const memWarm = memory()
    const { connectionLimit: limit, pipelineDepth } = ctx.pool.toJSON()
    say(`[soak] ${durationS} s, ${concurrency} callers, ${limit} connections, pipelineDepth ${pipelineDepth}; faults in turn: ${FAULTS.join(', ')}`)

    const { elapsedS, stillOut } = await runLoad(ctx, { durationS, concurrency, faultEveryMs, quietTailS, drainMs, progressEveryS, say })
    say(progressLine(ctx, `end ${elapsedS.toFixed(1)}s`))
    await sleep(2000) // backends of writes that ended unknown finish; connections settle before fds are counted
    const memEnd = memory()
    const pool = poolFigures(ctx.pool)
    await ctx.pool.end()
    await sleep(1500) // end() resolves before every socket has closed
    const memAfterEnd = memory() // before the check, which reads every row into this process
    const integrity = await checkIntegrity(ctx)
    if (stillOut) integrity.problems.unshift(`hang: ${stillOut} callers still waiting ${drainMs} ms after the end`)
    integrity.ok = integrity.problems.length === 0
    const mem = { start: memAtStart, warm: memWarm, end: memEnd, afterEnd: memAfterEnd }
    return report(ctx, { durationS, concurrency, elapsedS, pool, logger, mem, integrity })
  } finally {
    if (ctx.pool && !ctx.pool.ended) await ctx.pool.end({ timeoutMs: 1000 }).catch(() => {})
    await ctx.topology.destroy()
  }
}

/** The report as lines for people. */
function describeReport (r) {
  const i = r.integrity
  return [
    `[soak] ${r.elapsedS.toFixed(1)} s, ${r.settings.concurrency} callers, ${r.settings.connectionLimit} connections, pipelineDepth ${r.settings.pipelineDepth}, poolTimeoutMs ${r.settings.poolTimeoutMs}`,
    `[soak] succeeded: ${JSON.stringify(r.ok)} (${r.okPerS}/s); statements ${r.pool.statements}, pipelined ${r.pool.pipelined}`,
    `[soak] faults: ${JSON.stringify(r.faults)}${r.faultFailures.length ? `; NOT INJECTED: ${r.faultFailures.map((f) => f.split('\n')[0]).join('; ')}` : ''}`,
    `[soak] statements cut short: ${JSON.stringify(r.cutShort)}; writes back after: ${JSON.stringify(r.recovery)}`,
    `[soak] errors surfaced: ${JSON.stringify(r.errors)}`,
    `[soak] statements cancelled (57014) that asked for no timeout or abort: ${r.unaskedCancels.length}${r.unaskedCancels.length ? ` (${r.unaskedCancels.slice(0, 5).join('; ')})` : ''}`,
    `[soak] unknown outcomes (maybeCommitted): ${JSON.stringify(r.unknownOutcomes)}; withRetry re-sends: ${JSON.stringify(r.resends)}`,
    `[soak] pool: retries ${JSON.stringify(r.pool.retries)}, connections ${JSON.stringify(r.pool.connections)}, outages ${r.pool.outages.count}, failovers ${JSON.stringify(r.pool.failovers)}, replicas ${JSON.stringify(r.pool.replicas)}`,
    `[soak] pool logged: ${JSON.stringify({ warn: r.poolLogged.warn, error: r.poolLogged.error, info: r.poolLogged.info })}; first errors: ${JSON.stringify(r.poolLogged.firstLines.error)}`,
    `[soak] rss/fds: start ${r.memory.warm.rssMB} MB/${r.memory.warm.fds}, end ${r.memory.end.rssMB} MB/${r.memory.end.fds}, after end() ${r.memory.afterEnd.rssMB} MB/${r.memory.afterEnd.fds}`,
    `[soak] ledger: inserts ${JSON.stringify(i.keys)}; transfers ${JSON.stringify(i.transfers)}; held ${JSON.stringify(i.held)}; read anomalies ${i.readAnomalies}`,
    i.ok
      ? '[soak] integrity OK: every acknowledged write present exactly once, every unknown one at most once, none reported not committed present, none re-sent after maybeCommitted, balances equal to the transfers, held-connection statements in issue order'
      : `[soak] INTEGRITY FAILED:\n  ${i.problems.join('\n  ')}`
  ]
}

module.exports = { runSoak, describeReport }
