#!/usr/bin/env node
'use strict'
// Soak test (not part of npm test): a private PostgreSQL cluster, `concurrency` workers doing a
// mix of unique-key inserts (through pool.withRetry), point selects and small transactions,
// while a fault injector every 3-5 s terminates every pool backend, restarts the server (fast or
// immediate), times a statement out, or exhausts the pool. Prints progress every 30 s and a
// final report: operations, errors surfaced to callers by code, maybeCommitted count, retries,
// RSS and open file descriptors at start and end, and an integrity check of the data.
//
//   node bench/soak.js [--duration 600] [--concurrency 200] [--connection-limit 20]
//                      [--pool-timeout 3000] [--interval 30]
// Exit code 0 when the integrity check passes, 1 otherwise.

const fs = require('node:fs')
const { Pool } = require('..')
const { Cluster } = require('../lib/cluster')

function args (argv) {
  const o = { duration: 600, concurrency: 200, connectionLimit: 20, poolTimeout: 3000, interval: 30 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const m = a.match(/^--([a-z-]+)(?:=(.*))?$/)
    if (!m) throw new Error(`unknown argument ${a}`)
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(key in o)) throw new Error(`unknown option --${m[1]}`)
    const v = Number(m[2] !== undefined ? m[2] : argv[++i])
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${m[1]} needs a positive number`)
    o[key] = v
  }
  return o
}

const opts = args(process.argv.slice(2))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const APP = `pgwarden_soak_${process.pid}`
const ACCOUNTS = 50
const START_BALANCE = 1000

const mem = () => ({ rssMB: +(process.memoryUsage().rss / 1048576).toFixed(1), fds: fs.readdirSync('/proc/self/fd').length })

// Per-key outcome of inserts: 0 never tried, 1 acknowledged, 2 failed maybeCommitted, 3 failed (definitely not written).
let keyState = new Uint8Array(1 << 16)
let nextKey = 1
function setKey (k, v) {
  while (k >= keyState.length) {
    const bigger = new Uint8Array(keyState.length * 2)
    bigger.set(keyState)
    keyState = bigger
  }
  keyState[k] = v
}

const counts = { ok: { insert: 0, select: 0, transaction: 0 }, errors: {}, maybeCommitted: 0, faults: {} }
const transfers = { committed: new Set(), maybe: new Set(), nextId: 1 }
const faultLog = []

function surfaced (op, e) {
  const code = (e && e.code) || (e && e.name) || 'unknown'
  const key = `${op}:${code}`
  counts.errors[key] = (counts.errors[key] || 0) + 1
  if (e && e.maybeCommitted) counts.maybeCommitted++
}

async function doInsert (pool) {
  const k = nextKey++
  try {
    await pool.withRetry(() => pool.query('INSERT INTO soak_keys (k) VALUES ($1)', [k]), { initialDelayMs: 50, maxRetries: 20, maxDelayMs: 2000 })
    setKey(k, 1)
    counts.ok.insert++
  } catch (e) {
    setKey(k, e && e.maybeCommitted ? 2 : 3)
    surfaced('insert', e)
  }
}

async function doSelect (pool) {
  const k = 1 + Math.floor(Math.random() * Math.max(1, nextKey - 1))
  try {
    await pool.query('SELECT k FROM soak_keys WHERE k = $1', [k])
    counts.ok.select++
  } catch (e) {
    surfaced('select', e)
  }
}

async function doTransaction (pool) {
  const id = transfers.nextId++
  const src = 1 + Math.floor(Math.random() * ACCOUNTS)
  let dst = 1 + Math.floor(Math.random() * (ACCOUNTS - 1))
  if (dst >= src) dst++
  const amount = 1 + Math.floor(Math.random() * 20)
  try {
    await pool.transaction(async (tx) => {
      await tx.query('UPDATE soak_accounts SET balance = balance - $1 WHERE id = $2', [amount, src])
      await tx.query('UPDATE soak_accounts SET balance = balance + $1 WHERE id = $2', [amount, dst])
      await tx.query('INSERT INTO soak_ledger (id, src, dst, amount) VALUES ($1, $2, $3, $4)', [id, src, dst, amount])
    }, { retries: 5, maxWaitMs: opts.poolTimeout, timeoutMs: 10000 })
    transfers.committed.add(id)
    counts.ok.transaction++
  } catch (e) {
    if (e && e.maybeCommitted) transfers.maybe.add(id)
    surfaced('transaction', e)
  }
}

async function worker (pool, until) {
  while (Date.now() < until) {
    const r = Math.random()
    const before = Object.values(counts.errors).reduce((s, n) => s + n, 0)
    if (r < 0.5) await doInsert(pool)
    else if (r < 0.8) await doSelect(pool)
    else await doTransaction(pool)
    // After a surfaced error, back off a little rather than spin.
    if (Object.values(counts.errors).reduce((s, n) => s + n, 0) > before) await sleep(20)
  }
}

const FAULTS = ['terminate', 'restart-fast', 'restart-immediate', 'statement-timeout', 'pool-exhaustion']

async function inject (name, cluster, pool) {
  const t0 = Date.now()
  let note = ''
  switch (name) {
    case 'terminate':
      note = `${await cluster.terminateBackends({ applicationName: APP })} backends`
      break
    case 'restart-fast':
      await cluster.restart({ mode: 'fast' })
      break
    case 'restart-immediate':
      await cluster.restart({ mode: 'immediate' })
      break
    case 'statement-timeout': {
      const t = Date.now()
      const code = await pool.query('SELECT pg_sleep(5)', [], { timeoutMs: 200 }).then(() => 'resolved', (e) => e.code)
      note = `${code} after ${Date.now() - t}ms`
      break
    }
    case 'pool-exhaustion': {
      // Take every connection (the workers compete for them) and sit on them past poolTimeoutMs.
      const held = await Promise.allSettled(Array.from({ length: opts.connectionLimit }, () => pool.acquire({ maxWaitMs: 5000 })))
      const got = held.filter((h) => h.status === 'fulfilled').map((h) => h.value)
      await sleep(opts.poolTimeout + 500)
      for (const c of got) c.release()
      note = `held ${got.length}/${opts.connectionLimit} for ${opts.poolTimeout + 500}ms`
      break
    }
  }
  counts.faults[name] = (counts.faults[name] || 0) + 1
  faultLog.push(`${((t0 - startedAt) / 1000).toFixed(1)}s ${name}${note ? ` (${note})` : ''} ${Date.now() - t0}ms`)
}

async function injector (cluster, pool, until) {
  let i = 0
  while (Date.now() < until - 5000) {
    await sleep(3000 + Math.random() * 2000)
    if (Date.now() >= until - 5000) break
    // Round-robin so a short run still sees every kind of fault.
    const name = FAULTS[i++ % FAULTS.length]
    try {
      await inject(name, cluster, pool)
    } catch (e) {
      faultLog.push(`${((Date.now() - startedAt) / 1000).toFixed(1)}s ${name} FAILED: ${e.message.split('\n')[0]}`)
    }
  }
}

function line (pool, label) {
  const s = pool.getPoolStats()
  const ok = counts.ok.insert + counts.ok.select + counts.ok.transaction
  const errs = Object.values(counts.errors).reduce((a, n) => a + n, 0)
  const m = mem()
  return `[soak ${label}] ok ${ok} (insert ${counts.ok.insert}, select ${counts.ok.select}, tx ${counts.ok.transaction}), ` +
    `errors surfaced ${errs} ${JSON.stringify(counts.errors)}, maybeCommitted ${counts.maybeCommitted}, ` +
    `retries ${JSON.stringify(s.retries)}, pool ${JSON.stringify({ active: s.pool.active, idle: s.pool.idle, total: s.pool.total, waiting: s.pool.waiting })}, ` +
    `connections ${JSON.stringify(s.connections)}, faults ${JSON.stringify(counts.faults)}, rss ${m.rssMB}MB, fds ${m.fds}`
}

async function integrity (cluster) {
  const problems = []
  const [[total, distinct]] = await cluster.admin('SELECT count(*), count(DISTINCT k) FROM soak_keys')
  if (total !== distinct) problems.push(`duplicate keys: count ${total} vs distinct ${distinct}`)
  const present = new Uint8Array(keyState.length + 1)
  for (const [k] of await cluster.admin('SELECT k FROM soak_keys')) {
    const n = Number(k)
    if (n >= present.length) problems.push(`key ${n} present but never issued`)
    else present[n] = 1
  }
  let acked = 0; let ackedMissing = 0; let definiteFailPresent = 0; let maybeTotal = 0; let maybePresent = 0; let unknownPresent = 0
  for (let k = 1; k < keyState.length; k++) {
    const st = keyState[k]
    if (st === 1) { acked++; if (!present[k]) ackedMissing++ }
    if (st === 2) { maybeTotal++; if (present[k]) maybePresent++ }
    if (st === 3 && present[k]) definiteFailPresent++
    if (st === 0 && present[k]) unknownPresent++
  }
  if (ackedMissing) problems.push(`${ackedMissing} acknowledged keys missing`)
  if (definiteFailPresent) problems.push(`${definiteFailPresent} keys present although their insert failed without maybeCommitted`)
  if (unknownPresent) problems.push(`${unknownPresent} keys present that were never acknowledged or failed (insert still pending?)`)

  const [[sum]] = await cluster.admin('SELECT sum(balance) FROM soak_accounts')
  if (Number(sum) !== ACCOUNTS * START_BALANCE) problems.push(`total balance ${sum}, expected ${ACCOUNTS * START_BALANCE}`)
  const ledger = new Set((await cluster.admin('SELECT id FROM soak_ledger')).map((r) => Number(r[0])))
  const [[lt, ld]] = await cluster.admin('SELECT count(*), count(DISTINCT id) FROM soak_ledger')
  if (lt !== ld) problems.push(`duplicate ledger ids: ${lt} vs ${ld}`)
  let committedMissing = 0; let uncommittedPresent = 0; let maybeTxPresent = 0
  for (const id of transfers.committed) if (!ledger.has(id)) committedMissing++
  for (const id of ledger) {
    if (transfers.committed.has(id)) continue
    if (transfers.maybe.has(id)) maybeTxPresent++
    else uncommittedPresent++
  }
  if (committedMissing) problems.push(`${committedMissing} committed transfers missing from the ledger`)
  if (uncommittedPresent) problems.push(`${uncommittedPresent} transfers in the ledger that failed without maybeCommitted`)
  // Each account's balance must match the ledger exactly.
  const [[drift]] = await cluster.admin(`SELECT count(*) FROM soak_accounts a WHERE a.balance <> ${START_BALANCE}
    + coalesce((SELECT sum(amount) FROM soak_ledger WHERE dst = a.id), 0) - coalesce((SELECT sum(amount) FROM soak_ledger WHERE src = a.id), 0)`)
  if (Number(drift) !== 0) problems.push(`${drift} accounts whose balance does not match the ledger`)
  return {
    keys: { rows: Number(total), acked, maybeCommitted: maybeTotal, maybeCommittedPresent: maybePresent },
    transfers: { committed: transfers.committed.size, ledgerRows: ledger.size, maybeCommitted: transfers.maybe.size, maybeCommittedPresent: maybeTxPresent },
    problems
  }
}

let startedAt = Date.now()

async function main () {
  console.log(`[soak] duration ${opts.duration}s, concurrency ${opts.concurrency}, connectionLimit ${opts.connectionLimit}, poolTimeoutMs ${opts.poolTimeout}`)
  const memAtStart = mem()
  // synchronous_commit on: an immediate restart must not lose acknowledged commits.
  const cluster = await Cluster.start({ settings: { synchronous_commit: 'on', max_connections: 200, deadlock_timeout: '200ms' } })
  let pool = null
  let exitCode = 1
  try {
    await cluster.adminScript(`
      CREATE TABLE soak_keys (k bigint PRIMARY KEY);
      CREATE TABLE soak_accounts (id int PRIMARY KEY, balance bigint NOT NULL);
      INSERT INTO soak_accounts SELECT g, ${START_BALANCE} FROM generate_series(1, ${ACCOUNTS}) g;
      CREATE TABLE soak_ledger (id int PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL);
    `)
    pool = new Pool({
      connectionString: cluster.url,
      applicationName: APP,
      connectionLimit: opts.connectionLimit,
      poolTimeoutMs: opts.poolTimeout,
      queryTimeoutMs: 10000,
      logger: false
    })
    await pool.connect()
    const memWarm = mem()
    console.log(`[soak] start: rss ${memAtStart.rssMB}MB, fds ${memAtStart.fds} (process start); rss ${memWarm.rssMB}MB, fds ${memWarm.fds} (cluster up, pool warm)`)

    startedAt = Date.now()
    const until = startedAt + opts.duration * 1000
    const progress = setInterval(() => console.log(line(pool, `${Math.round((Date.now() - startedAt) / 1000)}s`)), opts.interval * 1000)
    await Promise.all([
      ...Array.from({ length: opts.concurrency }, () => worker(pool, until)),
      injector(cluster, pool, until)
    ])
    clearInterval(progress)
    const elapsed = (Date.now() - startedAt) / 1000
    console.log(line(pool, `end ${elapsed.toFixed(1)}s`))
    const ops = counts.ok.insert + counts.ok.select + counts.ok.transaction
    console.log(`[soak] throughput ${(ops / elapsed).toFixed(0)} ok ops/s`)
    console.log(`[soak] faults:\n  ${faultLog.join('\n  ')}`)

    // Connections settle, then measure again: leaks show up as fds that do not go back.
    await sleep(2000)
    const memEnd = mem()
    const result = await integrity(cluster)
    await pool.end({ timeoutMs: 5000 })
    pool = null
    await sleep(1500) // end() resolves before the sockets have closed
    const memClosed = mem()
    console.log(`[soak] rss/fds: start ${memWarm.rssMB}MB/${memWarm.fds}, end ${memEnd.rssMB}MB/${memEnd.fds}, after end() ${memClosed.rssMB}MB/${memClosed.fds}`)
    console.log(`[soak] integrity: ${JSON.stringify({ keys: result.keys, transfers: result.transfers })}`)
    if (result.problems.length) console.log(`[soak] INTEGRITY FAILED:\n  ${result.problems.join('\n  ')}`)
    else console.log('[soak] integrity OK: no duplicate keys, every acknowledged key present, no failed (not maybeCommitted) key present, balances preserved and matching the ledger')
    exitCode = result.problems.length ? 1 : 0
  } finally {
    if (pool) await pool.end({ timeoutMs: 1000 }).catch(() => {})
    await cluster.destroy()
  }
  process.exitCode = exitCode
}

main().catch((e) => {
  console.error('[soak] failed:', e)
  process.exitCode = 1
})
