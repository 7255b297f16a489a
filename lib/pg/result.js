'use strict'
// pgwarden results → pg's Result shape: rows with pg's values, fields with pg's keys,
// command, rowCount, oid and rowAsArray.

const { converter } = require('./values')

/**
 * Storage size of the built-in fixed-size types (pg_type.typlen), for `dataTypeSize`; every
 * other type is variable-length (-1). The native layer does not report it.
 */
const TYPLEN = {
  16: 1, 18: 1, 19: 64, 20: 8, 21: 2, 23: 4, 26: 4, 27: 6, 28: 4, 29: 4, 600: 16, 601: 32, 603: 32, 628: 24,
  700: 4, 701: 8, 718: 24, 774: 8, 790: 8, 829: 6, 1082: 4, 1083: 8, 1114: 8, 1184: 8, 1186: 16, 1266: 12,
  2950: 16, 3220: 8
}

/**
 * A field with pg's keys. The native side reports the source table, column and type modifier
 * for statements of this entry; text holding several statements (simple protocol) has none,
 * so they read 0, 0 and -1 (what pg gives for a computed column).
 */
function pgField (f) {
  return {
    name: f.name,
    tableID: f.tableID ?? 0,
    columnID: f.columnID ?? 0,
    dataTypeID: f.dataTypeID,
    dataTypeSize: TYPLEN[f.dataTypeID] ?? -1,
    dataTypeModifier: f.dataTypeModifier ?? -1,
    format: 'text'
  }
}

/** `[key, convert]` per column that needs converting; in object rows a repeated name keeps its last column, as pg. */
function conversions (fields, arrayMode, getTypeParser) {
  const out = []
  const seen = new Set()
  for (let c = fields.length - 1; c >= 0; c--) {
    const key = arrayMode ? c : fields[c].name
    if (seen.has(key)) continue
    seen.add(key)
    const convert = converter(fields[c].dataTypeID, getTypeParser)
    if (convert !== null) out.push([key, convert])
  }
  return out
}

/** Converts the rows in place to pg's values. */
function convertRows (rows, todo) {
  if (todo.length === 0) return
  for (const row of rows) {
    for (const [key, convert] of todo) {
      const v = row[key]
      if (v !== null && v !== undefined) row[key] = convert(v)
    }
  }
}

/** One pgwarden result as pg's Result. */
function pgResult (r, arrayMode, getTypeParser) {
  convertRows(r.rows, conversions(r.fields, arrayMode, getTypeParser))
  return {
    command: r.command,
    rowCount: r.rowCount,
    // Tables have no OIDs since PostgreSQL 12: an INSERT's tag always says 0.
    oid: r.command === 'INSERT' ? 0 : null,
    rows: r.rows,
    fields: r.fields.map(pgField),
    rowAsArray: arrayMode
  }
}

/** A pgwarden result (or the array a multi-statement text gives) in pg's shape. */
function toPgResult (r, arrayMode, getTypeParser) {
  return Array.isArray(r) ? r.map((one) => pgResult(one, arrayMode, getTypeParser)) : pgResult(r, arrayMode, getTypeParser)
}

module.exports = { toPgResult, pgField }
