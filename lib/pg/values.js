'use strict'
// Result values in pg's conventions. pgwarden decodes some types itself (numbers, booleans,
// json, bytea, timestamps) and gives every other type as PostgreSQL's text form; pg runs a
// text parser (pg-types) per type. A column whose pgwarden value already equals pg's default
// parse is left alone; any other column gets the PostgreSQL text form of pgwarden's value,
// handed to the parser pg would use (its default, or one set with types.setTypeParser).

const pgTypes = require('pg-types')

/** The parsers pg-types installs, captured before any setTypeParser call. */
const noParse = pgTypes.getTypeParser(-1, 'text')

/** Types whose pgwarden value is pg's default parse: bool, ints, oid, floats, int8 (string), json, bytea, text-like. */
const SAME = [16, 17, 20, 21, 23, 26, 114, 700, 701, 3802, 18, 19, 25, 142, 650, 774, 829, 869, 1042, 1043,
  1083, 1266, 1700, 2950,
  // arrays of those (pg-types parses each element the same way)
  1000, 1001, 1005, 1007, 1008, 1009, 1014, 1015, 1016, 1021, 1022, 1028, 1040, 1041, 651, 2951, 199, 3807, 1183, 1270, 791]
const DEFAULT_OF = new Map(SAME.map((oid) => [oid, pgTypes.getTypeParser(oid, 'text')]))
/** timestamptz: pgwarden's Date is pg's; only 'infinity' / '-infinity' (strings) need the parser. */
const TIMESTAMPTZ = 1184
const DEFAULT_TIMESTAMPTZ = pgTypes.getTypeParser(TIMESTAMPTZ, 'text')

/** Element types of the arrays whose elements need their type to be written as text. */
const ELEMENT_OF = { 1115: 1114, 1185: 1184, 199: 114, 3807: 3802 }
const JSON_TYPES = new Set([114, 3802])

const pad = (n, w = 2) => String(n).padStart(w, '0')

/** PostgreSQL's text of a timestamp pgwarden gave as a Date (its UTC fields are the value). */
function timestampText (d, withZone) {
  const y = d.getUTCFullYear()
  const text = `${pad(y <= 0 ? 1 - y : y, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
  return text + (withZone ? '+00' : '') + (y <= 0 ? ' BC' : '')
}

/** PostgreSQL's text of a float pgwarden gave as a number. */
const numberText = (n) => (Object.is(n, -0) ? '-0' : Number.isNaN(n) ? 'NaN' : String(n))

/** An array element as the server writes it in an array literal: quoted only when needed. */
function arrayElement (s) {
  if (s === '' || /[{}",\\\s]/.test(s) || s.toUpperCase() === 'NULL') return '"' + s.replace(/[\\"]/g, '\\$&') + '"'
  return s
}

/** PostgreSQL's text form of a pgwarden value of type `oid` (not null). */
function textOf (v, oid) {
  if (typeof v === 'string') return JSON_TYPES.has(oid) ? JSON.stringify(v) : v
  if (Array.isArray(v)) {
    const elem = ELEMENT_OF[oid] ?? 0
    return '{' + v.map((e) => (e === null ? 'NULL' : Array.isArray(e) ? textOf(e, oid) : arrayElement(textOf(e, elem)))).join(',') + '}'
  }
  if (JSON_TYPES.has(oid)) return JSON.stringify(v)
  if (typeof v === 'number') return numberText(v)
  if (typeof v === 'boolean') return v ? 't' : 'f'
  if (typeof v === 'bigint') return v.toString()
  if (Buffer.isBuffer(v)) return '\\x' + v.toString('hex')
  if (v instanceof Date) return timestampText(v, oid !== 1114 && oid !== 1115)
  return JSON.stringify(v)
}

/**
 * The function turning a pgwarden value of column type `oid` into pg's, or null when the value
 * is already pg's. `getTypeParser` is pg-types' (or a `types` option's).
 */
function converter (oid, getTypeParser) {
  const parser = getTypeParser(oid, 'text')
  if (DEFAULT_OF.get(oid) === parser) return null
  if (oid === TIMESTAMPTZ && parser === DEFAULT_TIMESTAMPTZ) return (v) => (typeof v === 'string' ? parser(v) : v)
  if (parser === noParse) return (v) => (typeof v === 'string' ? v : textOf(v, oid))
  return (v) => parser(textOf(v, oid))
}

module.exports = { converter }
