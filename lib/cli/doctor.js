'use strict'
// `pgwarden doctor`: where each setting came from, the server's limits and connections, a
// recommended connectionLimit per worker, warnings for contradicting settings, and the live
// problems operators otherwise look for by hand with SQL in this database (long queries, sessions idle in a
// transaction, lock waits). Exit 0 when healthy, 1 with warnings, 2 when the server cannot be reached.

const os = require('node:os')
const { Pool } = require('../pool')
const native = require('../native')
const { BEACON_PREFIX } = require('../fleet')
const { parse, integer, seconds, UsageError } = require('./options')

const OPTIONS = {
  url: { type: 'string' },
  workers: { type: 'string' },
  'server-cores': { type: 'string' },
  'long-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
}

const HELP = `Usage: pgwarden doctor [options]

Shows where each pgwarden setting came from, the server's limits and connections, the
connectionLimit to use per worker, warnings, and live problems. Exit 0 when healthy, 1 with
warnings, 2 when the server cannot be reached (or on bad usage).

  --url URL            database to examine (default: DATABASE_URL)
  --workers N          processes (cluster workers, pods) that each open a pool (default 1)
  --server-cores N     the server's CPU cores (default: this machine's, for a local server)
  --long-ms MS         a statement running longer than this is reported (default 5000)
  --json               print the findings as JSON
  -h, --help           this text
`

/** Share of the server's connection slots all pools together should stay under. */
const SHARE_OF_MAX = 0.6

const LOCAL = new Set(['localhost', '127.0.0.1', '::1', ''])

/** What the server says about itself and its sessions. */
async function examine (pool, longMs) {
  const one = async (sql, params) => (await pool.query(sql, params)).rows
  const [facts] = await one(`SELECT version() AS version, current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int AS reserved,
    current_setting('statement_timeout') AS statement_timeout`)
  const client = "backend_type = 'client backend' AND pid <> pg_backend_pid()"
  // Live problems are this database's: another database's sessions are another service's.
  const here = `${client} AND datname = current_database()`
  return {
    facts,
    byState: await one(`SELECT coalesce(state, 'unknown') AS state, count(*)::int AS count FROM pg_stat_activity
      WHERE ${client} GROUP BY 1 ORDER BY 2 DESC`),
    // Fleets (connectionLimit: 'auto'): each instance holds one beacon named for its fleet.
    fleets: await one(`SELECT substr(application_name, ${BEACON_PREFIX.length + 1}) AS name, count(*)::int AS instances
      FROM pg_stat_activity WHERE application_name LIKE '${BEACON_PREFIX}%' GROUP BY 1 ORDER BY 1`),
    byApplication: await one(`SELECT coalesce(nullif(application_name, ''), '(none)') AS application, count(*)::int AS count
      FROM pg_stat_activity WHERE ${client} GROUP BY 1 ORDER BY 2 DESC LIMIT 20`),
    longRunning: await one(`SELECT pid, application_name AS application,
      round(extract(epoch FROM clock_timestamp() - query_start) * 1000)::int8 AS ms, query
      FROM pg_stat_activity WHERE ${here} AND state = 'active'
      AND clock_timestamp() - query_start > $1::float8 * interval '1 millisecond' ORDER BY 3 DESC`, [longMs]),
    idleInTransaction: await one(`SELECT pid, application_name AS application,
      round(extract(epoch FROM clock_timestamp() - xact_start) * 1000)::int8 AS transaction_ms,
      round(extract(epoch FROM clock_timestamp() - state_change) * 1000)::int8 AS idle_ms, query AS last_statement
      FROM pg_stat_activity WHERE ${here} AND state LIKE 'idle in transaction%' ORDER BY 3 DESC`),
    lockWaits: await one(`SELECT w.pid AS waiting_pid, w.query AS waiting_statement,
      round(extract(epoch FROM clock_timestamp() - w.query_start) * 1000)::int8 AS waiting_ms,
      b.pid AS blocking_pid, b.state AS blocking_state, b.query AS blocking_statement
      FROM pg_stat_activity w CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
      JOIN pg_stat_activity b ON b.pid = blocker.pid WHERE w.datname = current_database() ORDER BY 3 DESC`)
  }
}

/** The connectionLimit per worker: (cores × 2) + 1 spindle, capped so all workers stay under 60%. */
function recommend (settings, server, cfg) {
  const local = LOCAL.has(settings.host)
  const cores = cfg.serverCores || (local ? os.cpus().length : null)
  const slots = server.facts.max_connections - server.facts.reserved
  const cap = Math.max(1, Math.floor((slots * SHARE_OF_MAX) / cfg.workers))
  const byCores = cores ? cores * 2 + 1 : null
  return {
    serverCores: cores,
    coresFrom: cfg.serverCores ? '--server-cores' : local ? 'this machine (the server is local)' : 'unknown: pass --server-cores',
    perWorker: byCores ? Math.min(byCores, cap) : cap,
    capPerWorker: cap,
    workers: cfg.workers,
    slots
  }
}

/**
 * Settings that contradict each other or the server, each as one sentence. `settings` are the
 * resolved values, `sources` where each came from (`[{ name, value, source }]`).
 */
function warnings (settings, sources, server, rec) {
  const from = (name) => (sources.find((s) => s.name === name) || {}).source
  const w = []
  const total = settings.connectionLimit * rec.workers
  if (total > rec.capPerWorker * rec.workers) {
    w.push(`connectionLimit ${settings.connectionLimit} × ${rec.workers} worker(s) = ${total} connections, over ${Math.round(SHARE_OF_MAX * 100)}% of the server's ${rec.slots} slots: use at most ${rec.capPerWorker} per worker`)
  }
  if (settings.ssl === 'disable' && !LOCAL.has(settings.host)) {
    w.push(`sslmode is disable for the non-local host ${settings.host}: passwords and data cross the network in clear text`)
  }
  if (settings.pgbouncer && from('statementCacheSize') !== 'default') {
    w.push(`statementCacheSize from ${from('statementCacheSize')} is ignored with pgbouncer=true: named statements do not survive transaction pooling, so every statement is unnamed`)
  }
  if (settings.poolTimeoutMs > 0 && settings.connectTimeoutMs >= settings.poolTimeoutMs) {
    w.push(`connectTimeoutMs ${settings.connectTimeoutMs} ≥ poolTimeoutMs ${settings.poolTimeoutMs}: a new connection cannot be made within the wait for one`)
  }
  const serverMs = toMs(server.facts.statement_timeout)
  if (serverMs > 0 && (settings.queryTimeoutMs === 0 || serverMs < settings.queryTimeoutMs)) {
    w.push(`the server's statement_timeout (${server.facts.statement_timeout}) fires before queryTimeoutMs ${settings.queryTimeoutMs}: statements end with 57014 instead of P1008`)
  }
  return w
}

/** A PostgreSQL duration setting ('0', '30s', '500ms', '1min') in ms. */
function toMs (v) {
  const m = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(String(v).trim())
  if (!m) return 0
  const unit = { ms: 1, s: 1000, min: 60000, h: 3600000, d: 86400000 }[m[2] || 'ms']
  return Number(m[1]) * unit
}

/** Client slots in use at or above which doctor reports the server as nearly full. */
const NEARLY_FULL = 0.9

/** The server's client connections against its slots, when they are nearly all taken (53300 next). */
function fullness (server) {
  const slots = server.facts.max_connections - server.facts.reserved
  const used = server.byState.reduce((n, s) => n + s.count, 0) + 1 // doctor's own connection too
  if (used < NEARLY_FULL * slots) return []
  return [`the server has ${used} client connections of its ${slots} slots (max_connections less superuser_reserved_connections): new connections are refused with 53300 (too many clients), which pgwarden pools wait out within poolTimeoutMs (counted in connections.refusedTooManyClients)`]
}

/** Live problems found on the server, each as one sentence. */
function problems (server, longMs) {
  const cut = (sql) => native.cutSql(String(sql || '').replace(/\s+/g, ' ').trim())
  return [
    ...fullness(server),
    ...server.longRunning.map((q) => `pid ${q.pid} (${q.application || 'no application'}) has run for ${q.ms} ms (over ${longMs}): ${cut(q.query)}`),
    ...server.idleInTransaction.map((s) => `pid ${s.pid} (${s.application || 'no application'}) is idle in a transaction open for ${s.transaction_ms} ms (idle ${s.idle_ms} ms); last statement: ${cut(s.last_statement)}`),
    ...server.lockWaits.map((l) => `pid ${l.waiting_pid} has waited ${l.waiting_ms} ms for a lock held by pid ${l.blocking_pid} (${l.blocking_state}); waiting: ${cut(l.waiting_statement)}; holding: ${cut(l.blocking_statement)}`)
  ]
}

function configure (args) {
  const v = parse(args, OPTIONS)
  if (v.help) return { help: true }
  return {
    url: v.url,
    workers: integer(v, 'workers', { fallback: 1 }),
    serverCores: integer(v, 'server-cores', { fallback: undefined }),
    longMs: seconds(v, 'long-ms', { fallback: 5000, unit: 'milliseconds' }),
    json: Boolean(v.json)
  }
}

/** `pgwarden doctor`; resolves to the exit code. */
async function doctor (args, io, env = process.env) {
  const cfg = configure(args)
  if (cfg.help) {
    io.out(HELP)
    return 0
  }
  const url = cfg.url || env.DATABASE_URL
  if (!url) throw new UsageError('doctor needs --url or DATABASE_URL')
  // Without --url the pool reads DATABASE_URL itself, so the report names it as the source.
  const pool = new Pool(cfg.url ? { connectionString: cfg.url, logger: false } : { logger: false })
  try {
    const sources = JSON.parse(pool._native.settingSources())
    const settings = { ...pool._settings, ssl: sources.find((s) => s.name === 'ssl').value }
    let server
    try {
      server = await examine(pool, cfg.longMs)
    } catch (e) {
      const full = e.code === '53300' ? ' (the server is full: every client slot is taken)' : ''
      io.err(`cannot examine ${redactUrl(url)}: ${e.code ? e.code + ' ' : ''}${e.message}${full}\n`)
      return 2
    }
    const rec = recommend(settings, server, cfg)
    // Each read replica answers one probe now, so its state is current.
    await pool._native.probeReplicas()
    const report = {
      settings: sources,
      server: { version: server.facts.version, maxConnections: server.facts.max_connections, superuserReservedConnections: server.facts.reserved, byState: server.byState, byApplication: server.byApplication, fleets: server.fleets },
      recommendation: rec,
      hosts: JSON.parse(await pool._native.hostRoles()),
      replicas: pool.getPoolStats().replicas.servers.map(({ address, state, lagMs }) => ({ address, state, lagMs })),
      warnings: [...warnings(settings, sources, server, rec), ...pool._native.replicaReasons()],
      problems: problems(server, cfg.longMs),
      live: { longRunning: server.longRunning, idleInTransaction: server.idleInTransaction, lockWaits: server.lockWaits }
    }
    io.out(cfg.json ? JSON.stringify(report, null, 2) + '\n' : text(report))
    return report.warnings.length + report.problems.length > 0 ? 1 : 0
  } finally {
    await pool.end()
  }
}

const redactUrl = (url) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')

function text (r) {
  const lines = ['pgwarden doctor', '', 'settings (value, from)']
  for (const s of r.settings) lines.push(`  ${s.name.padEnd(28)} ${String(s.value).padEnd(24)} ${s.source}`)
  const sv = r.server
  lines.push('', `server          ${sv.version}`,
    `  max_connections ${sv.maxConnections} (${sv.superuserReservedConnections} reserved for superusers)`,
    `  connections by state: ${sv.byState.map((x) => `${x.state} ${x.count}`).join(', ') || 'none'}`,
    `  connections by application: ${sv.byApplication.map((x) => `${x.application} ${x.count}`).join(', ') || 'none'}`,
    `  fleets (connectionLimit 'auto'): ${sv.fleets.map((x) => `${x.name} ${x.instances} instance(s)`).join(', ') || 'none'}`)
  const rec = r.recommendation
  lines.push('', `recommended connectionLimit per worker: ${rec.perWorker} ` +
    `((cores × 2) + 1 with ${rec.serverCores ?? '?'} cores from ${rec.coresFrom}; at most ${rec.capPerWorker} so ${rec.workers} worker(s) stay under ${Math.round(SHARE_OF_MAX * 100)}% of ${rec.slots} slots)`)
  lines.push('', `hosts (target_session_attrs=${r.settings.find((s) => s.name === 'targetSessionAttrs').value})`)
  for (const x of r.hosts) lines.push(`  ${x.address.padEnd(28)} ${x.role || `unreachable: ${x.error}`}`)
  lines.push('', r.replicas.length ? 'read replicas (state, lag)' : 'read replicas: none')
  for (const x of r.replicas) lines.push(`  ${x.address.padEnd(28)} ${x.state.padEnd(8)} ${x.lagMs === null ? 'unknown' : `${x.lagMs} ms`}`)
  lines.push('', r.warnings.length ? 'warnings' : 'warnings: none')
  for (const w of r.warnings) lines.push(`  ! ${w}`)
  lines.push('', r.problems.length ? 'live problems' : 'live problems: none')
  for (const p of r.problems) lines.push(`  ! ${p}`)
  lines.push('', r.warnings.length + r.problems.length ? 'verdict: attention needed' : 'verdict: healthy')
  return lines.join('\n') + '\n'
}

module.exports = { doctor, recommend, warnings, toMs }
