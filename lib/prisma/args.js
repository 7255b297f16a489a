'use strict'
// Arguments as Prisma sends them (SqlQuery.args with argTypes) → pgwarden parameters, as
// @prisma/adapter-pg maps them: dates to UTC text (or a date / a time for DATE and TIME
// columns), base64 bytes to a Buffer, lists element by element.

const pad = (n, z = 2) => String(n).padStart(z, '0')
const millis = (d) => (d.getUTCMilliseconds() ? '.' + pad(d.getUTCMilliseconds(), 3) : '')
const date = (d) => `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
const time = (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${millis(d)}`

/** One argument in the form pgwarden sends. */
function mapArg (arg, argType) {
  if (arg === null || arg === undefined) return null
  if (Array.isArray(arg) && argType.arity === 'list') return arg.map((v) => mapArg(v, argType))
  if (typeof arg === 'string' && argType.scalarType === 'datetime') arg = new Date(arg)
  if (arg instanceof Date) {
    if (argType.dbType === 'TIME' || argType.dbType === 'TIMETZ') return time(arg)
    if (argType.dbType === 'DATE') return date(arg)
    // Unlike adapter-pg, an instant says it is UTC: a timestamptz column then stores the same
    // instant whatever the session's TimeZone (a timestamp column ignores the offset).
    const zone = argType.dbType === 'TIMESTAMPTZ' || argType.dbType === 'TIMESTAMP' ? '+00:00' : ''
    return `${date(arg)} ${time(arg)}${zone}`
  }
  if (typeof arg === 'string' && argType.scalarType === 'bytes') return Buffer.from(arg, 'base64')
  if (ArrayBuffer.isView(arg) && !Buffer.isBuffer(arg)) return Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength)
  return arg
}

module.exports = { mapArg }
