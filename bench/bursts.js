'use strict'
// Memory under bursts, pgwarden and pg side by side in one run: `--bursts` bursts of `--queries`
// `query('SELECT $1::int', [i])` issued at once on a pool of `--pool` connections, then one
// 50 MB result. Each driver runs in its own process (started with --expose-gc); RSS is read
// after a collection, the peak from VmHWM (reset before each burst through /proc/self/clear_refs).
//
//   node bench/bursts.js [--bursts 10] [--queries 50000] [--pool 8]
//
// On a throwaway PostgreSQL. Not part of npm test.

const fs = require('node:fs')
const path = require('node:path')
const { inChild } = require('./cell')
const { parseArgs } = require('node:util')
const { Cluster } = require('../lib/cluster')

const ROOT = path.join(__dirname, '..')
const DRIVERS = (process.env.BURST_DRIVERS || 'pgwarden,pg').split(',')
const MB = 1048576

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resident memory in MB after a full collection and a moment for the allocator to settle. */
async function settledRss () {
  for (let i = 0; i < 3; i++) {
    global.gc()
    await sleep(100)
  }
  return process.memoryUsage().rss / MB
}

/** The process's peak RSS (VmHWM) in MB since the last reset. */
function peakRss () {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/)
  return Number(m[1]) / 1024
}

function resetPeak () {
  fs.writeFileSync('/proc/self/clear_refs', '5')
}

/** A driver's pool with one `query(sql, params)` returning rows, and `end()`. */
function open (driver, url, size) {
  if (driver === 'pgwarden') {
    const { Pool } = require(ROOT)
    const pool = new Pool({ connectionString: url, connectionLimit: size, poolTimeoutMs: 600000, logger: false })
    return { query: async (sql, params) => (await pool.query(sql, params)).rows, end: () => pool.end() }
  }
  const pg = require('pg')
  const pool = new pg.Pool({ connectionString: url, max: size })
  return { query: async (sql, params) => (await pool.query(sql, params)).rows, end: () => pool.end() }
}

/** One driver in this process: prints its measurements as JSON. */
async function cell (driver, url, o) {
  const startRss = await settledRss()
  const pool = open(driver, url, o.pool)
  await Promise.all(Array.from({ length: o.pool }, (_, i) => pool.query('SELECT $1::int AS n', [i])))
  const warmRss = await settledRss()
  const warmHeap = process.memoryUsage().heapTotal / MB
  const bursts = []
  for (let b = 0; b < o.bursts; b++) {
    const before = await settledRss()
    const heapBefore = process.memoryUsage().heapUsed / MB
    resetPeak()
    const calls = []
    for (let i = 0; i < o.queries; i++) calls.push(pool.query('SELECT $1::int AS n', [i]))
    // Everything is queued now (the loop never yielded): the JS heap's share of the queue.
    const queuedHeap = process.memoryUsage().heapUsed / MB - heapBefore
    const rows = await Promise.all(calls)
    if (rows.length !== o.queries || rows[o.queries - 1][0].n !== o.queries - 1) throw new Error('wrong result')
    const after = await settledRss()
    bursts.push({ before, peak: peakRss(), after, queuedHeap, heapKept: process.memoryUsage().heapTotal / MB - warmHeap })
  }
  const beforeBig = await settledRss()
  // The result is dropped before measuring: what stays is what the driver kept.
  const length = (await pool.query("SELECT repeat('x', 1000) AS t FROM generate_series(1, 50000)")).length
  if (length !== 50000) throw new Error('wrong big result')
  const afterBig = await settledRss()
  await pool.end()
  const endRss = await settledRss()
  return { startRss, warmRss, bursts, beforeBig, afterBig, endRss, heapMB: process.memoryUsage().heapUsed / MB }
}

const f = (n) => n.toFixed(1)
/** The burst after which RSS stayed highest above the warm RSS. */
const worstAfter = (r) => r.bursts.reduce((w, b) => (b.after > w.after ? b : w))

function table (results, o) {
  const rows = [
    ['peak RSS growth per queued query (KB, worst burst)', (r) => f(Math.max(...r.bursts.map((b) => (b.peak - b.before) * 1024 / o.queries)))],
    ['of which JS heap while queued (KB per query)', (r) => f(Math.max(...r.bursts.map((b) => b.queuedHeap * 1024 / o.queries)))],
    ['peak RSS growth, one burst (MB, worst)', (r) => f(Math.max(...r.bursts.map((b) => b.peak - b.before)))],
    ['RSS warm, before the bursts (MB)', (r) => f(r.warmRss)],
    [`RSS after burst 1 → burst ${o.bursts} (MB)`, (r) => `${f(r.bursts[0].after)} → ${f(r.bursts[r.bursts.length - 1].after)}`],
    ['RSS after a burst − warm RSS (MB, worst)', (r) => f(worstAfter(r).after - r.warmRss)],
    ['of which V8 keeps as heap (MB, same burst)', (r) => f(worstAfter(r).heapKept)],
    ['RSS after a 50 MB result, dropped − before it (MB)', (r) => f(r.afterBig - r.beforeBig)],
    ['RSS after `end()` (MB; at start)', (r) => `${f(r.endRss)} (${f(r.startRss)})`],
    ['V8 heap used at the end (MB)', (r) => f(r.heapMB)]
  ]
  const lines = [`| ${o.bursts} bursts of ${o.queries.toLocaleString('en-US')} queries, pool of ${o.pool} | ${DRIVERS.join(' | ')} |`, `| --- |${DRIVERS.map(() => ' ---: |').join('')}`]
  for (const [label, fn] of rows) lines.push(`| ${label} | ${DRIVERS.map((d) => fn(results[d])).join(' | ')} |`)
  return lines.join('\n')
}

async function main () {
  const { values, positionals } = parseArgs({
    options: { bursts: { type: 'string', default: '10' }, queries: { type: 'string', default: '50000' }, pool: { type: 'string', default: '8' }, cell: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true
  })
  if (values.help) {
    process.stdout.write('node bench/bursts.js [--bursts 10] [--queries 50000] [--pool 8]\n' +
      'Memory under bursts of queued queries, pgwarden and pg side by side, on a throwaway PostgreSQL.\n')
    return
  }
  const o = { bursts: Number(values.bursts), queries: Number(values.queries), pool: Number(values.pool) }
  if (values.cell) {
    const [driver, url] = positionals
    process.stdout.write(JSON.stringify(await cell(driver, url, o)) + '\n')
    return
  }
  const cluster = await Cluster.start({ settings: { max_connections: 40 } })
  try {
    const results = {}
    const pass = ['--bursts', String(o.bursts), '--queries', String(o.queries), '--pool', String(o.pool)]
    for (const d of DRIVERS) {
      results[d] = await inChild(__filename, [d, cluster.url, ...pass], ['--expose-gc'])
      process.stderr.write(`${d}: ${JSON.stringify(results[d])}\n`)
    }
    console.log(table(results, o))
  } finally {
    await cluster.destroy()
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
