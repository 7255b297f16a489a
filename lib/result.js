'use strict'
// Results: one JSON text per result from the native layer, then a per-column fix-up for the
// types JSON cannot carry (see src/convert/mod.rs `Fix`).

const FIXES = [
  null,
  (v) => (typeof v === 'number' ? new Date(v) : v), // 1: timestamp(tz) ms → Date; 'infinity' stays
  (v) => Buffer.from(v, 'hex'), // 2: bytea
  (v) => (typeof v === 'string' ? Number(v) : v), // 3: NaN / ±Infinity
  (v) => BigInt(v) // 4: int8 as bigint
]

function deep (fix) {
  const f = (v) => (v === null ? v : Array.isArray(v) ? v.map(f) : fix(v))
  return f
}

/** Applies column fixes in place to parsed rows (objects, or arrays when `arrayMode`). */
function applyFixes (rows, fields, fix, arrayMode) {
  if (!fix || rows.length === 0) return
  for (let c = 0; c < fix.length; c++) {
    if (fix[c] === 0) continue
    const f = deep(FIXES[fix[c]])
    const key = arrayMode ? c : fields[c].name
    for (let r = 0; r < rows.length; r++) {
      const v = rows[r][key]
      if (v !== null) rows[r][key] = f(v)
    }
  }
}

/**
 * Decodes a native result (JSON text, or the object already parsed with its batch). Returns the pg-compatible result `{ command, rowCount, rows, fields }`
 * plus, beside it, the statement's duration in ms and whether it was slow (for events).
 */
function decodeResult (json, arrayMode) {
  const r = typeof json === 'string' ? JSON.parse(json) : json
  applyFixes(r.rows, r.fields, r.fix, arrayMode)
  return {
    result: { command: r.command, rowCount: r.rowCount, rows: r.rows, fields: r.fields },
    ms: r.ms,
    slow: r.slow === true
  }
}

module.exports = { decodeResult, applyFixes }
