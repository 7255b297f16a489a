'use strict'
// Results: one JSON text per result (or per batch of results) from the native layer, laid out
// column by column: `{ cols: [[...], ...], n, fields, fix, ... }`. Arrays of plain values parse
// much faster than one object per row; the rows are then built by a constructor generated
// once per column set, so every row object shares one shape. A per-column fix-up rebuilds
// the types JSON cannot carry (see src/convert/mod.rs `Fix`). Many rows come instead as
// `{ parts: k, n, ... }` with k texts beside it, each `[[...], ...]` of some of the rows: V8
// would put everything parsed from one large text straight into its old generation (see
// src/convert/result.rs `PART_BYTES`).

const CODES = JSON.parse(require('./native').fixCodes())
const FIXES = []
FIXES[CODES.date] = (v) => (typeof v === 'number' ? new Date(v) : v) // timestamp(tz) ms → Date; 'infinity' stays
FIXES[CODES.bytes] = (v) => Buffer.from(v, 'hex') // bytea
FIXES[CODES.float] = (v) => (typeof v === 'string' ? Number(v) : v) // NaN / ±Infinity
FIXES[CODES.bigint] = (v) => BigInt(v) // int8 as bigint

function deep (fix) {
  const f = (v) => (v === null ? v : Array.isArray(v) ? v.map(f) : fix(v))
  return f
}

/** Applies the column fixes in place to column arrays. */
function fixColumns (cols, fix) {
  if (!fix) return
  for (let c = 0; c < fix.length; c++) {
    if (fix[c] === 0) continue
    const f = deep(FIXES[fix[c]])
    const col = cols[c]
    for (let i = 0; i < col.length; i++) if (col[i] !== null) col[i] = f(col[i])
  }
}

const builders = new Map()
const MAX_BUILDERS = 2000

/** A function (rows, at, n, ...cols) → rows, filling rows[at..at+n), generated once per column set and row mode. */
function builder (fields, arrayMode) {
  const key = (arrayMode ? 'a\0' : 'o\0') + fields.map((f) => f.name).join('\0')
  let build = builders.get(key)
  if (build) return build
  const args = fields.map((_, i) => `c${i}`)
  // `__proto__` in an object literal would set the prototype: such column sets take the
  // generic path, which assigns own properties like pg does.
  if (!arrayMode && fields.some((f) => f.name === '__proto__')) {
    build = (rows, at, n, ...cols) => {
      for (let i = 0; i < n; i++) {
        const row = {}
        for (let c = 0; c < cols.length; c++) Object.defineProperty(row, fields[c].name, { value: cols[c][i], enumerable: true, writable: true, configurable: true })
        rows[at + i] = row
      }
      return rows
    }
  } else {
    const item = arrayMode
      ? `[${args.map((a) => `${a}[i]`).join(',')}]`
      : `{${fields.map((f, i) => `${JSON.stringify(f.name)}:c${i}[i]`).join(',')}}`
    // eslint-disable-next-line no-new-func
    build = new Function('rows', 'at', 'n', ...args, `for (let i = 0; i < n; i++) rows[at + i] = ${item}; return rows`)
  }
  if (builders.size >= MAX_BUILDERS) builders.clear()
  builders.set(key, build)
  return build
}

/** Rows from column arrays (`r.cols`), or from the texts of a result's parts (`r.partTexts`). */
function buildRows (r, fields, fix, arrayMode) {
  if (r.n === 0) return []
  const build = builder(fields, arrayMode)
  const rows = new Array(r.n)
  if (r.parts === undefined) {
    fixColumns(r.cols, fix)
    return build(rows, 0, r.n, ...r.cols)
  }
  let at = 0
  for (const text of r.partTexts) {
    const cols = JSON.parse(text)
    fixColumns(cols, fix)
    const n = cols[0].length
    build(rows, at, n, ...cols)
    at += n
  }
  return rows
}

/**
 * Decodes a native result (JSON text, or the object already parsed with its batch).
 * Returns the pg-compatible result `{ command, rowCount, rows, fields }` (an array of them for
 * several statements) plus, beside it, the
 * statement's duration in ms and whether it was slow (for events).
 */
function decodeResult (json, arrayMode) {
  const r = typeof json === 'string' ? JSON.parse(json) : json
  // Text holding several statements gives one result per statement, as pg does.
  const result = r.results === undefined ? pgResult(r, arrayMode) : r.results.map((one) => pgResult(one, arrayMode))
  // Events report one count: the last statement's, as its command tag is the last one seen.
  const rowCount = Array.isArray(result) ? (result.length > 0 ? result[result.length - 1].rowCount : null) : result.rowCount
  return { result, rowCount, ms: r.ms, slow: r.slow === true, waitMs: r.waitMs }
}

function pgResult (r, arrayMode) {
  return { command: r.command, rowCount: r.rowCount, rows: buildRows(r, r.fields, r.fix, arrayMode), fields: r.fields }
}

module.exports = { decodeResult, buildRows }
