'use strict'
// Result values in pg's conventions. pg reads every value as the server's text and runs a
// parser per type (pg-types, or one set with types.setTypeParser / a `types` option). pgwarden
// decodes natively only the types whose value equals pg's default parse (the native list,
// `pgDecodedTypes()`); every other column, and any of those the caller set a parser of its own
// for, comes as the server's own text, handed to the parser pg would use. So a parser sees
// exactly what it sees under pg: microseconds, the session's TimeZone, jsonb's spacing.

const pgTypes = require('pg-types')
const native = require('../native')

/** The types decoded natively in pg's style, in the order the textTypes bits mark them. */
const DECODED = native.pgDecodedTypes()
/** The `textTypes` bits of every natively decoded type: all values as the server's text. */
const ALL_TEXT_TYPES = 2 ** DECODED.length - 1
/** pg-types' parser for each, captured before any setTypeParser call. */
const DEFAULT_OF = new Map(DECODED.map((oid) => [oid, pgTypes.getTypeParser(oid, 'text')]))
/** pg-types' parser of types it has none for: the text as it is. */
const noParse = pgTypes.getTypeParser(-1, 'text')
/** timestamptz: pgwarden's Date is pg's; only 'infinity' / '-infinity' (strings) need the parser. */
const TIMESTAMPTZ = 1184

/**
 * The `textTypes` bits for `getTypeParser`: the natively decoded types it has a parser of the
 * caller's own for (0 when none, the common case).
 */
function textTypesOf (getTypeParser) {
  let bits = 0
  for (let i = 0; i < DECODED.length; i++) {
    const oid = DECODED[i]
    if (getTypeParser(oid, 'text') !== DEFAULT_OF.get(oid)) bits += 2 ** i
  }
  return bits
}

/**
 * Counts changes to pg-types' own parsers (`types.setTypeParser`, `defaults.parseInt8`, pg's
 * too when it shares this pg-types), so the bits of a statement on the default parsers are
 * computed once per change, not once per statement (46 lookups, about 1.4 µs).
 */
let parsersVersion = 0
const setTypeParser = pgTypes.setTypeParser
pgTypes.setTypeParser = function (...args) {
  parsersVersion++
  return setTypeParser.apply(this, args)
}
let defaultBits = { version: -1, bits: 0 }

/**
 * The `textTypes` bits for a statement whose parsers are `types` (pg-types, a `types` option or
 * a TypeOverrides): cached for pg-types itself, computed for any other.
 */
function textTypesFor (types) {
  if (types !== pgTypes) return textTypesOf((oid, format) => types.getTypeParser(oid, format))
  if (defaultBits.version !== parsersVersion) {
    defaultBits = { version: parsersVersion, bits: textTypesOf(pgTypes.getTypeParser) }
  }
  return defaultBits.bits
}

/**
 * The function turning a value of column type `oid` into pg's, or null when it already is
 * pg's. `getTypeParser` is pg-types' (or a `types` option's); the same one chose `textTypes`.
 */
function converter (oid, getTypeParser) {
  const parser = getTypeParser(oid, 'text')
  // The value is the server's text here: a parser that keeps it has nothing to do.
  if (parser === noParse) return null
  if (DEFAULT_OF.get(oid) !== parser) return parser
  if (oid === TIMESTAMPTZ) return (v) => (typeof v === 'string' ? parser(v) : v)
  return null
}

module.exports = { converter, textTypesFor, ALL_TEXT_TYPES }
