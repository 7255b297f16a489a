'use strict'
// Results: one JSON text per result (or per batch of results) from the native layer, laid out
// column by column: `{ cols: [[...], ...], n, fields, fix, ... }`. Arrays of plain values parse
// much faster than one object per row; the rows are then built by a constructor generated
// once per column set, so every row object shares one shape. A per-column fix-up rebuilds
// the types JSON cannot carry (see src/convert/mod.rs `Fix`). Many rows come instead as
// `{ parts: k, n, ... }` with k texts beside it, each `[[...], ...]` of some of the rows: V8
// would put everything parsed from one large text straight into its old generation (see
// src/convert/result.rs `PART_BYTES`). Past the first part, integer and text columns come
// instead as bytes in Buffers, the last `laneParts` parts (`lanes`, `lanesFrom`: see `laneColumns`).

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
  const lanes = r.lanes === undefined ? null : r.partTexts.slice(r.partTexts.length - r.laneParts).map(aligned)
  const jsonColumn = lanes === null ? 0 : firstJsonColumn(fields.length, r.lanes) // counts a part's rows past lanesFrom
  let at = 0
  for (const text of r.partTexts) {
    if (typeof text !== 'string') break // the lanes come last
    const cols = JSON.parse(text)
    fixColumns(cols, fix)
    const inLanes = lanes !== null && at >= r.lanesFrom // its lane columns are `[]`
    const n = cols[inLanes ? jsonColumn : 0].length
    if (inLanes) laneColumns(cols, r.lanes, lanes, at - r.lanesFrom, n)
    build(rows, at, n, ...cols)
    at += n
  }
  if (at < r.n) { // every column is in lanes from here on
    const cols = fields.map(() => null)
    laneColumns(cols, r.lanes, lanes, at - r.lanesFrom, r.n - at)
    build(rows, at, r.n - at, ...cols)
  }
  return rows
}

/** The first column not in lanes (past the first part, the others are `[]` in JSON parts). */
function firstJsonColumn (columns, lanes) {
  const inLanes = new Set(lanes.map((l) => l[0]))
  for (let c = 0; c < columns; c++) if (!inLanes.has(c)) return c
  return -1 // every column is in lanes: no JSON part follows the first
}

/** A Buffer whose bytes typed arrays can view: 8-byte aligned (a copy when it is not). */
function aligned (buf) {
  return buf.byteOffset % 8 === 0 ? buf : Buffer.from(buf)
}

/**
 * Puts into `cols` the values of the columns in lanes for their rows [from, from + n), from
 * the lanes' buffers (see src/convert/lanes.rs). Integers are read in place; each text is
 * decoded from its buffer (as Latin-1 when the column is all ASCII: the same characters,
 * decoded faster).
 */
function laneColumns (cols, lanes, buffers, from, n) {
  for (const lane of lanes) {
    const nulls = buffers[lane[lane.length - 1]] // undefined: no value is NULL
    if (lane[1] === 'i') {
      const all = buffers[lane[2]]
      const values = new Int32Array(all.buffer, all.byteOffset + from * 4, n)
      cols[lane[0]] = nulls === undefined ? values : Array.from(values, (v, i) => (nulls[from + i] === 1 ? null : v))
      continue
    }
    const endBytes = buffers[lane[2]]
    const ends = lane[5] === 1 // wide: past 4 GiB of text
      ? new Float64Array(endBytes.buffer, endBytes.byteOffset, from + n)
      : new Uint32Array(endBytes.buffer, endBytes.byteOffset, from + n)
    const text = buffers[lane[3]]
    const decode = lane[4] === 1 ? text.latin1Slice : text.utf8Slice
    const col = new Array(n)
    let start = from === 0 ? 0 : ends[from - 1]
    for (let i = 0; i < n; i++) {
      const end = ends[from + i]
      col[i] = nulls !== undefined && nulls[from + i] === 1 ? null : decode.call(text, start, end)
      start = end
    }
    cols[lane[0]] = col
  }
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
