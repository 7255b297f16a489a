'use strict'
// One benchmark cell: one driver, one workload, in its own process. Prints one JSON line.
//
//   node --expose-gc bench/worker.js --driver DRIVER --workload NAME
//        --duration S --warmup S --concurrency N --pool 20 --url URL [--scale 10] [--queries N]
//
// DRIVER: pgwarden (its defaults, pipelineDepth 8), pgwarden-depth1 (pipelineDepth: 1, one
// statement per connection at a time), pg, pg-named (pg with { name, text, values }: each text
// prepared once per connection, then reused), pg-native or postgres.
//
// Every driver is reached through the same tiny adapter: query(text, params) → row count,
// open(n) → n connections opened and returned idle, close().

const path = require('node:path')
const { performance } = require('node:perf_hooks')

function parseArgs (argv) {
  const a = {}
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue
    const k = argv[i].slice(2)
    const v = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : 'true'
    a[k] = v
  }
  return a
}

const ADAPTERS = {
  pgwarden: (opts) => pgwardenAdapter(opts, {}),
  'pgwarden-depth1': (opts) => pgwardenAdapter(opts, { pipelineDepth: 1 }),
  pg ({ url, pool }) {
    const pg = require('pg')
    return pgPoolAdapter(new pg.Pool({ connectionString: url, max: pool }))
  },
  'pg-named' ({ url, pool }) {
    const pg = require('pg')
    return pgPoolAdapter(new pg.Pool({ connectionString: url, max: pool }), { named: true })
  },
  'pg-native' ({ url, pool }) {
    let native = null
    try {
      native = require('pg').native
    } catch (e) {
      throw skip(`pg-native failed to load: ${e.message}`)
    }
    if (!native) throw skip('pg-native is not installed (npm install pg-native; it needs libpq-dev and install scripts)')
    return pgPoolAdapter(new native.Pool({ connectionString: url, max: pool }))
  },
  postgres ({ url, pool }) {
    const postgres = require('postgres')
    const sql = postgres(url, { max: pool, prepare: true, onnotice: () => {} })
    return {
      query: async (text, params) => (await sql.unsafe(text, params || [], { prepare: true })).length,
      open: async (n) => {
        const rs = await Promise.all(Array.from({ length: n }, () => sql.reserve()))
        for (const r of rs) r.release()
      },
      close: () => sql.end({ timeout: 5 })
    }
  }
}

function pgwardenAdapter ({ url, pool }, options) {
  const { Pool } = require(path.join(__dirname, '..'))
  const p = new Pool({ connectionString: url, connectionLimit: pool, logger: false, ...options })
  return {
    query: async (text, params) => (await p.query(text, params)).rows.length,
    open: async (n) => {
      const cs = await Promise.all(Array.from({ length: n }, () => p.acquire()))
      for (const c of cs) c.release()
    },
    close: () => p.end()
  }
}

/**
 * pg's Pool. `named`: every call as `{ name, text, values }`, one name per text, so that each
 * connection prepares a text once and then only binds and executes it (pg's way of reusing a
 * prepared statement); otherwise pg parses every call.
 */
function pgPoolAdapter (p, { named = false } = {}) {
  p.on('error', () => {}) // an idle client error must not crash the cell
  const names = new Map()
  const nameOf = (text) => {
    if (!names.has(text)) names.set(text, `bench_${names.size}`)
    return names.get(text)
  }
  return {
    query: named
      ? async (text, params) => (await p.query({ name: nameOf(text), text, values: params })).rows.length
      : async (text, params) => (await p.query(text, params)).rows.length,
    open: async (n) => {
      const cs = await Promise.all(Array.from({ length: n }, () => p.connect()))
      for (const c of cs) c.release()
    },
    close: () => p.end()
  }
}

function skip (message) {
  return Object.assign(new Error(message), { skip: true })
}

// Each workload: the statement and, per call, its parameters.
function workloads (scale) {
  const accounts = scale * 100000
  const select1 = { text: 'SELECT 1' }
  return {
    select1,
    lat1: select1,
    lat10: select1,
    point: {
      text: 'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
      params: () => [1 + Math.floor(Math.random() * accounts)]
    },
    rows10k: { text: 'SELECT aid, bid, abalance, filler FROM pgbench_accounts WHERE aid <= 10000' },
    mixed1k: { text: 'SELECT i4, i8, num, txt, ts, js, by, b, u, f8 FROM bench_mixed' }
  }
}

const mb = (bytes) => bytes / 1048576
const gc = () => { if (global.gc) { global.gc(); global.gc() } }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/** Closed loop: `concurrency` callers, each issuing the next query when the last returns. */
async function timed (db, w, { duration, warmup, concurrency }) {
  let lat = new Float64Array(1 << 20)
  let ops = 0
  let rows = 0
  let errors = 0
  let firstError = null
  let measuring = false
  let stopped = false
  let t0 = 0
  let t1 = 0
  let cpu0 = null
  let cpu1 = null
  let rss0 = 0

  const caller = async () => {
    while (!stopped) {
      const start = performance.now()
      try {
        const n = await db.query(w.text, w.params ? w.params() : undefined)
        if (measuring && !stopped) {
          if (ops === lat.length) { const bigger = new Float64Array(lat.length * 2); bigger.set(lat); lat = bigger }
          lat[ops++] = performance.now() - start
          rows += n
        }
      } catch (e) {
        errors++
        if (!firstError) firstError = e && e.message
        if (errors > 1000) stopped = true
        await sleep(1)
      }
    }
  }

  const callers = Array.from({ length: concurrency }, caller)
  await sleep(warmup * 1000)
  rss0 = process.memoryUsage().rss
  cpu0 = process.cpuUsage()
  t0 = performance.now()
  measuring = true
  await sleep(duration * 1000)
  cpu1 = process.cpuUsage(cpu0)
  t1 = performance.now()
  stopped = true
  const rss1 = process.memoryUsage().rss
  await Promise.all(callers)

  const sorted = lat.subarray(0, ops).sort()
  return {
    ops,
    rows,
    errors,
    firstError,
    elapsedMs: t1 - t0,
    cpuUserMs: cpu1.user / 1000,
    cpuSysMs: cpu1.system / 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    rssBeforeMB: mb(rss0),
    rssAfterMB: mb(rss1)
  }
}

/** RSS of loading the driver, and its growth when the pool holds `n` idle connections. */
async function idle (db, n, rssStart) {
  gc()
  await sleep(300)
  gc()
  const rss0 = process.memoryUsage().rss
  await db.open(n)
  await sleep(1000)
  gc()
  await sleep(300)
  gc()
  const rss1 = process.memoryUsage().rss
  const conns = await db.query(
    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
  return { loadMB: mb(rss0 - rssStart), rssBeforeMB: mb(rss0), rssAfterMB: mb(rss1), idleGrowthMB: mb(rss1 - rss0), serverConnections: conns }
}

/** `queries` SELECT 1 at `concurrency`, sampling RSS every 10% of the way. */
async function long (db, { queries, concurrency }) {
  const samples = []
  const step = Math.max(1, Math.floor(queries / 10))
  let issued = 0
  let done = 0
  let errors = 0
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const caller = async () => {
    while (issued < queries) {
      issued++
      try { await db.query('SELECT 1') } catch { errors++ }
      if (++done % step === 0) samples.push({ queries: done, rssMB: mb(process.memoryUsage().rss) })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, caller))
  const cpu = process.cpuUsage(cpu0)
  gc()
  const end = mb(process.memoryUsage().rss)
  return {
    ops: done,
    errors,
    elapsedMs: performance.now() - t0,
    cpuUserMs: cpu.user / 1000,
    cpuSysMs: cpu.system / 1000,
    samples,
    rssFirstSampleMB: samples.length ? samples[0].rssMB : null,
    rssEndMB: end
  }
}

async function main () {
  const a = parseArgs(process.argv.slice(2))
  const opts = {
    driver: a.driver,
    workload: a.workload,
    url: a.url,
    duration: Number(a.duration || 10),
    warmup: Number(a.warmup || 2),
    concurrency: Number(a.concurrency || 100),
    pool: Number(a.pool || 20),
    scale: Number(a.scale || 10),
    queries: Number(a.queries || 1000000)
  }
  const out = { driver: opts.driver, workload: opts.workload, concurrency: opts.concurrency }
  const rssStart = process.memoryUsage().rss
  const make = ADAPTERS[opts.driver]
  if (!make) throw new Error(`unknown driver ${opts.driver} (${Object.keys(ADAPTERS).join(', ')})`)
  let db
  try {
    db = make(opts)
  } catch (e) {
    if (e.skip) return print({ ...out, skipped: e.message })
    throw e
  }
  try {
    let r
    if (opts.workload === 'idle') r = await idle(db, opts.pool, rssStart)
    else if (opts.workload === 'long') r = await long(db, opts)
    else {
      const w = workloads(opts.scale)[opts.workload]
      if (!w) throw new Error(`unknown workload ${opts.workload}`)
      r = await timed(db, w, opts)
    }
    Object.assign(out, r)
  } finally {
    await Promise.race([db.close(), sleep(10000)])
  }
  print(out)
}

function print (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(0))
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: (e && e.stack) || String(e) }) + '\n', () => process.exit(1))
})
