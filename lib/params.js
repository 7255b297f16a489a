'use strict'
// Parameters, JavaScript → PostgreSQL text input form (sent as parameters, never interpolated).
// The server infers each parameter's type, so a string works for any column, as in `pg`. A
// Buffer (or other Uint8Array) is sent as `pg` sends it: in binary format, its bytes as they
// are (a bytea's bytes, or a text's UTF-8). It crosses to the native layer as NUL and its hex,
// which no text parameter can be (PostgreSQL text never holds NUL).

const { paramsError } = require('./errors')

/** Converts `values` for the native layer: an array of strings and nulls. */
function prepareParams (values) {
  if (values === undefined || values === null) return []
  if (!Array.isArray(values)) throw paramsError(`Query parameters must be an array, got ${typeof values}`)
  const out = new Array(values.length)
  for (let i = 0; i < values.length; i++) {
    try {
      const v = values[i]
      out[i] = v instanceof Uint8Array ? binaryParam(v) : toText(v, new Set())
    } catch (e) {
      if (e && e.code === 'ERR_PGWARDEN_PARAMS') throw paramsError(`Parameter $${i + 1}: ${e.message}`)
      throw paramsError(`Parameter $${i + 1}: cannot be sent (${e && e.message})`)
    }
  }
  return out
}

/** A parameter sent in binary format: NUL, then its bytes in hex (see the file's head). */
const binaryParam = (v) => '\u0000' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')

function toText (v, seen) {
  if (v === null || v === undefined) return null
  switch (typeof v) {
    case 'string':
      if (v.charCodeAt(0) === 0) throw paramsError('a string cannot hold NUL (PostgreSQL text cannot); send bytes as a Buffer')
      return v
    case 'number': return Object.is(v, -0) ? '-0' : String(v)
    case 'bigint': return v.toString()
    case 'boolean': return v ? 'true' : 'false'
    case 'object': return objectToText(v, seen)
    default: throw paramsError(`unsupported value of type ${typeof v}`)
  }
}

function objectToText (v, seen) {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw paramsError('invalid Date')
    return dateText(v)
  }
  // Bytes inside an array literal: bytea's hex text (a parameter of its own goes binary).
  if (v instanceof Uint8Array) return '\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')
  if (seen.has(v)) throw paramsError('circular structure')
  if (Array.isArray(v)) {
    seen.add(v)
    const s = arrayLiteral(v, seen)
    seen.delete(v)
    return s
  }
  if (typeof v.toPostgres === 'function') return toText(v.toPostgres(), seen)
  try {
    return JSON.stringify(v)
  } catch (e) {
    throw paramsError(/circular/i.test(e.message) ? 'circular structure' : e.message)
  }
}

const pad = (n, w) => String(n).padStart(w, '0')

/** ISO text PostgreSQL parses, including years before 1 (BC) and after 9999. */
function dateText (d) {
  const y = d.getUTCFullYear()
  if (y >= 1 && y <= 9999) return d.toISOString()
  const year = y <= 0 ? 1 - y : y
  return `${pad(year, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}+00` +
    (y <= 0 ? ' BC' : '')
}

/** A PostgreSQL array literal: `{1,NULL,"a \"b\""}`, nested for more dimensions. */
function arrayLiteral (arr, seen) {
  let s = '{'
  for (let i = 0; i < arr.length; i++) {
    if (i > 0) s += ','
    const el = arr[i]
    if (el === null || el === undefined) s += 'NULL'
    else if (Array.isArray(el)) {
      if (seen.has(el)) throw paramsError('circular structure')
      seen.add(el)
      s += arrayLiteral(el, seen)
      seen.delete(el)
    } else s += '"' + toText(el, seen).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'
  }
  return s + '}'
}

module.exports = { prepareParams }
