'use strict'
// pg's module-level surface besides Pool and Client: `DatabaseError`, `defaults`,
// `TypeOverrides`, `escapeIdentifier` / `escapeLiteral`, as pg defines them.

const pgTypes = require('pg-types')
const { PgWardenError } = require('../errors')

/**
 * The class of an error the server sent, as pg names it (`err.constructor.name`,
 * `String(err)`): still a PgWardenError, with kind, retryable and maybeCommitted.
 */
class DatabaseError extends PgWardenError {}
Object.defineProperty(DatabaseError.prototype, 'name', { value: 'error', writable: true, configurable: true })

/**
 * A server error (it has a severity) made pg's DatabaseError; a connection the server closed
 * (P1017) worded as pg words it, `Connection terminated unexpectedly` (its `maybeCommitted`
 * still says what is known of the statement); any other value as it is.
 */
function asPgError (e) {
  if (!(e instanceof PgWardenError)) return e
  if (e.severity !== undefined && !(e instanceof DatabaseError)) {
    Object.setPrototypeOf(e, DatabaseError.prototype)
    e.name = 'error'
  } else if (e.code === 'P1017') {
    e.message = 'Connection terminated unexpectedly'
  }
  return e
}

const parseBigInteger = pgTypes.getTypeParser(20, 'text')
const parseBigIntegerArray = pgTypes.getTypeParser(1016, 'text')

/**
 * pg's `defaults`: the connection defaults a config falls back to after the PG* environment
 * (read by lib/pg/config.js), and `parseInt8`, which sets int8's parser as pg's does.
 */
const defaults = {
  host: 'localhost',
  user: process.platform === 'win32' ? process.env.USERNAME : process.env.USER,
  database: undefined,
  password: null,
  connectionString: undefined,
  port: 5432,
  rows: 0,
  binary: false,
  max: 10,
  idleTimeoutMillis: 30000,
  client_encoding: '',
  ssl: false,
  application_name: undefined,
  fallback_application_name: undefined,
  options: undefined,
  parseInputDatesAsUTC: false,
  statement_timeout: false,
  lock_timeout: false,
  idle_in_transaction_session_timeout: false,
  query_timeout: false,
  connect_timeout: 0,
  keepalives: 1,
  keepalives_idle: 0
}
Object.defineProperty(defaults, 'parseInt8', {
  enumerable: false,
  get () {
    return pgTypes.getTypeParser(20, 'text') !== parseBigInteger
  },
  set (val) {
    pgTypes.setTypeParser(20, 'text', val ? pgTypes.getTypeParser(23, 'text') : parseBigInteger)
    pgTypes.setTypeParser(1016, 'text', val ? pgTypes.getTypeParser(1007, 'text') : parseBigIntegerArray)
  }
})

/** pg's TypeOverrides: parsers of one pool or client, falling back to `userTypes` (pg-types). */
class TypeOverrides {
  constructor (userTypes) {
    this._types = userTypes || pgTypes
    this.text = {}
    this.binary = {}
  }

  getOverrides (format) {
    if (format === 'text') return this.text
    if (format === 'binary') return this.binary
    return {}
  }

  setTypeParser (oid, format, parseFn) {
    if (typeof format === 'function') {
      parseFn = format
      format = 'text'
    }
    this.getOverrides(format)[oid] = parseFn
  }

  getTypeParser (oid, format = 'text') {
    return this.getOverrides(format)[oid] || this._types.getTypeParser(oid, format)
  }
}

/** pg's escapeIdentifier: `"name"`, its double quotes doubled. */
const escapeIdentifier = (str) => '"' + str.replace(/"/g, '""') + '"'

/** pg's escapeLiteral: `'text'`, quotes and backslashes doubled, ` E'…'` when it has a backslash. */
function escapeLiteral (str) {
  if (typeof str !== 'string') return "''"
  let escaped = "'"
  let hasBackslash = false
  for (const c of str) {
    if (c === "'") escaped += c + c
    else if (c === '\\') {
      escaped += c + c
      hasBackslash = true
    } else escaped += c
  }
  escaped += "'"
  return hasBackslash ? ' E' + escaped : escaped
}

module.exports = { DatabaseError, asPgError, defaults, TypeOverrides, escapeIdentifier, escapeLiteral }
