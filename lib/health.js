'use strict'
// Health and server-side views: healthCheck never throws.

const DEFAULTS = require('./defaults').health

/** `{ status: 'healthy'|'degraded'|'unhealthy', latency, details }`. */
async function healthCheck (pool, opts = {}) {
  const started = performance.now()
  const slowMs = opts.slowMs !== undefined ? opts.slowMs : DEFAULTS.slowMs
  const stats = pool.getPoolStats()
  try {
    await pool.query('SELECT 1', [], { timeoutMs: opts.timeoutMs || DEFAULTS.timeoutMs })
    const latency = Math.round((performance.now() - started) * 100) / 100
    const reasons = []
    const busy = pool._native.busyReason(stats.pool.active, stats.pool.limit)
    if (busy) reasons.push(busy)
    // A replica out of rotation degrades the pool; reads still have the primary.
    reasons.push(...pool._native.replicaReasons())
    if (latency > slowMs) reasons.push(`response took ${latency}ms > ${slowMs}ms`)
    return { status: reasons.length ? 'degraded' : 'healthy', latency, details: { pool: stats.pool, replicas: stats.replicas, reasons } }
  } catch (e) {
    const latency = Math.round((performance.now() - started) * 100) / 100
    return {
      status: 'unhealthy',
      latency,
      details: { pool: stats.pool, error: { code: e && e.code, kind: e && e.kind, message: e && e.message } }
    }
  }
}

/** True when a round trip to the server succeeds. */
async function checkDatabaseConnection (pool) {
  try {
    await pool.query('SELECT 1', [], { timeoutMs: DEFAULTS.timeoutMs })
    return true
  } catch {
    return false
  }
}

/** This database's connections as the server sees them (pg_stat_activity). */
async function getConnectionPoolStats (pool) {
  const { rows } = await pool.query(`SELECT count(*)::int AS total_connections,
      count(*) FILTER (WHERE state = 'active')::int AS active_connections,
      count(*) FILTER (WHERE state = 'idle')::int AS idle_connections,
      count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int AS idle_in_transaction,
      current_setting('max_connections')::int AS max_connections
    FROM pg_stat_activity WHERE datname = current_database()`)
  return rows[0]
}

/** Database size and the largest tables. */
async function getDatabaseStats (pool, opts = {}) {
  const size = (await pool.query(`SELECT pg_database_size(current_database())::int8 AS bytes,
      pg_size_pretty(pg_database_size(current_database())) AS pretty`)).rows[0]
  const { rows } = await pool.query(`SELECT format('%I.%I', n.nspname, c.relname) AS table,
      pg_size_pretty(pg_total_relation_size(c.oid)) AS size, pg_total_relation_size(c.oid)::int8 AS bytes,
      greatest(c.reltuples, 0)::int8 AS rows
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    ORDER BY pg_total_relation_size(c.oid) DESC LIMIT $1`, [opts.limit || 10])
  return {
    databaseSize: size.pretty,
    databaseSizeBytes: Number(size.bytes),
    largestTables: rows.map((r) => ({ table: r.table, size: r.size, sizeBytes: Number(r.bytes), rows: Number(r.rows) }))
  }
}

module.exports = { healthCheck, checkDatabaseConnection, getConnectionPoolStats, getDatabaseStats }
