'use strict'
// pgwarden results → pg's Result shape: rows with pg's values, fields with pg's keys,
// command, rowCount, oid and rowAsArray.

const pgTypes = require('pg-types')
const { converter } = require('./values')

const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/

/**
 * pg's Result: what a query resolves to (pgwarden/pg's results are made as these), with pg's
 * methods for code that builds one from protocol messages (`addFields`, `parseRow`,
 * `addRow`, `addCommandComplete`), values parsed as pg parses them.
 */
class Result {
  constructor (rowMode, types) {
    this.command = null
    this.rowCount = null
    this.oid = null
    this.rows = []
    this.fields = []
    this._parsers = undefined
    this._types = types
    this.RowCtor = null
    this.rowAsArray = rowMode === 'array'
  }

  addCommandComplete (msg) {
    const match = COMMAND_TAG.exec(msg.text || msg.command)
    if (!match) return
    this.command = match[1]
    if (match[3]) {
      this.oid = parseInt(match[2], 10)
      this.rowCount = parseInt(match[3], 10)
    } else if (match[2]) {
      this.rowCount = parseInt(match[2], 10)
    }
  }

  addFields (fieldDescriptions) {
    this.fields = fieldDescriptions
    const types = this._types || pgTypes
    this._parsers = fieldDescriptions.map((d) => types.getTypeParser(d.dataTypeID, d.format || 'text'))
  }

  parseRow (rowData) {
    const parse = (raw, i) => (raw === null ? null : this._parsers[i](raw))
    if (this.rowAsArray) return rowData.map(parse)
    const row = {}
    for (let i = 0; i < rowData.length; i++) row[this.fields[i].name] = parse(rowData[i], i)
    return row
  }

  addRow (row) {
    this.rows.push(row)
  }
}

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
  const result = new Result(arrayMode ? 'array' : undefined)
  result.command = r.command
  result.rowCount = r.rowCount
  // Tables have no OIDs since PostgreSQL 12: an INSERT's tag always says 0.
  result.oid = r.command === 'INSERT' ? 0 : null
  result.rows = r.rows
  result.fields = r.fields.map(pgField)
  return result
}

/** A pgwarden result (or the array a multi-statement text gives) in pg's shape. */
function toPgResult (r, arrayMode, getTypeParser) {
  return Array.isArray(r) ? r.map((one) => pgResult(one, arrayMode, getTypeParser)) : pgResult(r, arrayMode, getTypeParser)
}

module.exports = { toPgResult, pgField, Result }
