'use strict'
// pg's query arguments: `query(text, values?, callback?)` or `query(config, values?, callback?)`
// → what pgwarden's `query(text, values, opts)` takes, plus the callback and type parsers.

const pgTypes = require('pg-types')
const { paramsError } = require('../errors')
const { splitQuery } = require('../query-args')
const { PG_DRIVER_FIELDS, PG_TEXT_TYPES, PG_EXTENDED } = require('../pool')
const { textTypesFor } = require('./values')
const { defaults } = require('./surface')

const pad = (n, w = 2) => String(n).padStart(w, '0')

/**
 * A Date parameter as pg sends it: local time with the UTC offset (pg's dateToString), so a
 * `timestamp without time zone` column stores the local wall clock, as with pg.
 */
function localDateText (d) {
  if (Number.isNaN(d.getTime())) throw paramsError('invalid Date')
  if (defaults.parseInputDatesAsUTC) return utcDateText(d)
  let offset = -d.getTimezoneOffset()
  const y = d.getFullYear()
  const sign = offset < 0 ? '-' : '+'
  offset = Math.abs(offset)
  return `${pad(y < 1 ? 1 - y : y, 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}${sign}${pad(Math.floor(offset / 60))}:` +
    `${pad(offset % 60)}${y < 1 ? ' BC' : ''}`
}

/** A Date parameter in UTC, as pg sends it under `defaults.parseInputDatesAsUTC`. */
function utcDateText (d) {
  const y = d.getUTCFullYear()
  return `${pad(y < 1 ? 1 - y : y, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:` +
    `${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}+00:00${y < 1 ? ' BC' : ''}`
}

/** Values with Dates (also inside arrays) in pg's local form; the rest is pgwarden's to convert. */
function pgValues (values) {
  if (!Array.isArray(values)) return values
  const map = (v) => (v instanceof Date ? localDateText(v) : Array.isArray(v) ? v.map(map) : v)
  return values.some((v) => v instanceof Date || Array.isArray(v)) ? values.map(map) : values
}

/**
 * The text of a named query: a config with `name` and `text` names its text on `pool` (pg
 * prepares it on the connection); one with only the `name` runs that text again.
 */
function namedText (config, pool) {
  if (config === null || typeof config !== 'object' || typeof config.name !== 'string') return config
  if (config.text !== undefined) {
    pool._names.set(config.name, config.text)
    return config
  }
  const text = pool._names.get(config.name)
  if (text === undefined) throw paramsError(`pgwarden/pg: no query named "${config.name}" was run with its text before (pg: prepared statement "${config.name}" does not exist)`)
  return { ...config, text }
}

/**
 * `{ text, values, opts, callback, getTypeParser }` from pg's arguments. `pool` is the pg
 * Pool the query belongs to: its `types` option and its named queries.
 */
function queryArgs (config, values, callback, pool) {
  if (config === null || config === undefined) throw new TypeError('Client was passed a null or undefined query')
  if (typeof values === 'function') {
    callback = values
    values = undefined
  }
  // pg's values are an array: a second argument that is not one is not options here.
  const a = splitQuery(namedText(config, pool))
  const c = a.opts
  const opts = {}
  if (c.rowMode === 'array') opts.rowMode = 'array'
  if (c.query_timeout !== undefined) opts.timeoutMs = c.query_timeout
  for (const k of ['signal', 'timeoutMs', 'replica']) if (c[k] !== undefined) opts[k] = c[k]
  const t = c.types || pool._types || pgTypes
  const getTypeParser = (oid, format) => t.getTypeParser(oid, format)
  opts[PG_DRIVER_FIELDS] = true
  if (c.queryMode === 'extended') opts[PG_EXTENDED] = true
  const textTypes = textTypesFor(t)
  if (textTypes !== 0) opts[PG_TEXT_TYPES] = textTypes
  return {
    text: a.sql,
    values: pgValues(a.values !== undefined ? a.values : values),
    opts,
    callback: callback || (typeof c.callback === 'function' ? c.callback : undefined),
    getTypeParser
  }
}

/**
 * Runs `promise` for pg's two forms: with a callback, calls it (err, result) and returns
 * undefined; without, returns the promise (one of `PromiseClass`, pg's `Promise` option, when
 * given).
 */
function settle (promise, callback, PromiseClass = null) {
  if (!callback) return PromiseClass ? new PromiseClass((resolve, reject) => promise.then(resolve, reject)) : promise
  // Called outside the promise chain, so a callback that throws is an uncaught exception, as with pg.
  promise.then((r) => process.nextTick(callback, null, r), (e) => process.nextTick(callback, e))
  return undefined
}

module.exports = { queryArgs, settle }
