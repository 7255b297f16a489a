'use strict'
// Events and default logging. Statement events cost nothing when nobody listens:
// the duration already rides on each result, and nothing is built unless a listener exists.

const native = require('./native')
const { PgWardenError } = require('./errors')

/** SQL as events show it: cut where the native stats cut it (see `cutSql`). */
const cut = (sql) => native.cutSql(sql)

/** Emits without letting a throwing listener break the caller. */
function safeEmit (pool, name, payload) {
  try {
    pool.emit(name, payload)
  } catch (e) {
    pool.logger.error(`[pgwarden] a '${name}' listener threw: ${e && e.message}`)
  }
}

/** After each statement: slowQuery (or its log line) and query events. */
function observe (pool, sql, values, ms, slow, rowCount, error) {
  if (slow) {
    if (pool.listenerCount('slowQuery') > 0) {
      const payload = { query: cut(sql), durationMs: ms, duration: Math.round(ms), rowCount, timestamp: new Date().toISOString() }
      if (pool._settings.logParams && values !== undefined) payload.params = values
      safeEmit(pool, 'slowQuery', payload)
    } else {
      pool.logger.warn(`Slow query detected (${Math.round(ms)}ms): ${cut(sql)}`)
    }
  }
  if (pool.listenerCount('query') > 0) {
    const payload = { query: cut(sql), durationMs: ms, rowCount }
    if (error) payload.error = error
    if (pool._settings.logParams && values !== undefined) payload.params = values
    safeEmit(pool, 'query', payload)
  }
}

/** Background events from the native side (idle connection errors, utilization). */
function onNativeEvent (pool, json) {
  let e
  try {
    e = JSON.parse(json)
  } catch {
    return
  }
  if (e.event === 'error') {
    const err = new PgWardenError(e.data) // the same payload a rejected statement carries
    // A read replica's idle connection (its pool is the primary's too): named in the error.
    if (e.replica !== undefined) err.replica = e.replica
    const where = e.replica === undefined ? '' : ` on read replica ${e.replica}`
    if (pool.listenerCount('error') > 0) safeEmit(pool, 'error', err)
    else pool.logger.error(`[pgwarden] idle connection error${where} (the pool replaces it): ${err.code} ${err.message}`)
  } else if (e.event === 'log') {
    const fn = pool.logger[e.data.level] || pool.logger.info
    try {
      fn.call(pool.logger, e.data.message)
    } catch {}
  } else if (e.event === 'notification' || e.event === 'notice') {
    // LISTEN/NOTIFY and RAISE NOTICE, from whichever pooled connection got them (pg's shapes).
    if (pool.listenerCount(e.event) > 0) safeEmit(pool, e.event, serverMessage(e.event, e.data))
  } else if (e.event === 'connectionLost') {
    // A connection in use ended: the held client watching it, if any, is told.
    const client = pool._watchedClients.get(e.data.serial)
    if (client !== undefined && client._onLost) {
      try {
        client._onLost(new PgWardenError(e.data.error))
      } catch {}
    }
  } else if (e.event === 'releasedInTransaction') {
    // A pool.query statement (no held client) left its connection inside a transaction.
    require('./pool').releasedInTransaction(pool, e.data)
  } else if (e.event === 'highUtilization') {
    const d = e.data
    // Busy is not a problem by itself (a pool of 1 is always busy): the warning is for callers
    // that wait for a connection, which the native side logs as "Pool saturated".
    if (pool.listenerCount('highUtilization') > 0) safeEmit(pool, 'highUtilization', d)
    else pool.logger.debug(`High pool utilization: ${d.utilization.toFixed(1)}% (${d.active}/${d.limit})`)
  }
}

/**
 * A notification or notice in pg's shape; a notification has pg's `length` too (its protocol
 * message's length field: the length itself, the process id, and the two NUL-ended strings).
 */
function serverMessage (name, data) {
  const m = { name, ...data }
  if (name === 'notification') m.length = 4 + 4 + Buffer.byteLength(data.channel) + 1 + Buffer.byteLength(data.payload) + 1
  return m
}

const LEVELS = ['debug', 'info', 'warn', 'error']
const ignore = () => {}

/**
 * `logger` as pgwarden logs through it: the levels below `level` (logLevel) go nowhere; the
 * others go to the logger's method of that name (its `info`, or `log`, when it has none).
 */
function leveled (logger, level) {
  const lowest = Math.max(0, LEVELS.indexOf(level))
  const out = {}
  LEVELS.forEach((name, i) => {
    const fn = logger[name] || logger.info || logger.log
    out[name] = i < lowest || typeof fn !== 'function' ? ignore : (...args) => fn.apply(logger, args)
  })
  return out
}

module.exports = { leveled, observe, onNativeEvent, safeEmit }
