'use strict'
// Shared by the ecosystem scripts (__tests__/ecosystem/<tool>.js): the command line, the driver
// module (real `pg` or pgwarden/pg), fixed values to round-trip, and the transcript each script
// prints. A script is run as `node <script> <databaseUrl> <pg|pgwarden>`; it prints one JSON
// transcript on stdout and exits 0 by itself (its pools ended). Tool errors go into the
// transcript; only a harness failure (bad arguments, a bug in the script) exits non-zero.
// ecosystem-matrix.test.js runs each script through both drivers and compares the transcripts.

const path = require('node:path')
const crypto = require('node:crypto')

/** What `require('pgwarden/pg')` loads. */
const PGWARDEN_PG = path.join(__dirname, '..', '..', 'lib', 'pg', 'index.js')

/** The module path of a driver name: 'pg' (node-postgres) or 'pgwarden' (pgwarden/pg). */
function driverPath (driver) {
  if (driver === 'pg') return require.resolve('pg')
  if (driver === 'pgwarden') return PGWARDEN_PG
  throw new Error(`driver must be pg or pgwarden, not ${JSON.stringify(driver)}`)
}

/** The command line: { url, driver, driverPath }. Throws (a harness failure) when malformed. */
function cli () {
  const [url, driver] = process.argv.slice(2)
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new Error(`usage: node ${path.basename(process.argv[1])} <databaseUrl> <pg|pgwarden>`)
  return { url, driver, driverPath: driverPath(driver) }
}

/**
 * A value as JSON that keeps its JS type: Date → {Date: ISO}, Buffer → {Buffer: hex},
 * bigint → {bigint: '…'}, undefined → {undefined: true}, non-finite numbers → {number: 'NaN'};
 * arrays and objects recursively (an object that is not a plain one also names its class).
 */
function describe (v, seen = new Set()) {
  if (v === undefined) return { undefined: true }
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v
  if (typeof v === 'number') return Number.isFinite(v) ? v : { number: String(v) }
  if (typeof v === 'bigint') return { bigint: v.toString() }
  if (typeof v === 'function') return { function: v.name }
  if (typeof v === 'symbol') return { symbol: String(v) }
  if (v instanceof Date) return { Date: Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString() }
  if (Buffer.isBuffer(v)) return { Buffer: v.toString('hex') }
  if (v instanceof Uint8Array) return { [v.constructor.name]: Buffer.from(v).toString('hex') }
  if (seen.has(v)) return { circular: true }
  seen.add(v)
  try {
    if (Array.isArray(v)) return v.map((x) => describe(x, seen))
    const out = {}
    const proto = Object.getPrototypeOf(v)
    if (proto !== null && proto !== Object.prototype) out.$class = (v.constructor && v.constructor.name) || '(anonymous)'
    for (const k of Object.keys(v)) out[k] = describe(v[k], seen)
    return out
  } finally {
    seen.delete(v)
  }
}

// What a user matches on, beyond class and message (pg's DatabaseError fields, the ORMs' own).
const ERROR_FIELDS = ['code', 'severity', 'detail', 'constraint', 'table', 'schema', 'column', 'fields', 'sqlState', 'errno']
// Where wrapping errors keep the driver's error.
const ERROR_CAUSES = ['cause', 'parent', 'original', 'driverError', 'previous']

/**
 * An error as a user sees it: its class (constructor name), name, message, the fields above
 * that it has, whether it is the driver's DatabaseError (`err instanceof DatabaseError` with
 * DatabaseError from the driver module in use), and the errors it wraps (cause, parent, …).
 */
function errorOf (e, driver, depth = 0) {
  if (e === null || typeof e !== 'object') return { thrown: describe(e) }
  const out = { class: e.constructor ? e.constructor.name : null, name: e.name, message: e.message }
  for (const f of ERROR_FIELDS) if (e[f] !== undefined) out[f] = describe(e[f])
  if (driver && typeof driver.DatabaseError === 'function') out.isDriverDatabaseError = e instanceof driver.DatabaseError
  if (depth < 3) {
    for (const c of ERROR_CAUSES) {
      if (e[c] !== undefined && e[c] !== null && e[c] !== e) {
        // Sequelize keeps the same error as both parent and original: record it once.
        if (c === 'original' && e.original === e.parent) out.original = 'same as parent'
        else out[c] = errorOf(e[c], driver, depth + 1)
      }
    }
  }
  return out
}

/** Fixed values every script round-trips (no now(), no random values). */
const FIXED = {
  json: { a: 1, b: [true, null, 'x'], c: { d: 'é ü' } },
  jsonb: { k: 'v', n: 2.5, list: [1, 2, 3] },
  tstz: '2024-06-01 12:34:56.123456+00',
  tstzOld: '1880-03-04 05:06:07.5+00',
  ts: '2024-06-01 12:34:56.123456',
  tsOld: '1880-03-04 05:06:07.5',
  date: '2024-02-29',
  dateOld: '1815-12-10',
  int8: '9007199254740993',
  numeric: '12345678901234567890.123456789',
  ints: [1, -2, 3],
  texts: ['a', 'b,c', 'q"uote', 'back\\slash', null],
  uuid: '6f1c2a9e-8b3d-4c5e-9f70-1a2b3c4d5e6f',
  bytea: Buffer.from([0, 1, 2, 0x5c, 0xff]),
  // JS Dates as parameters (pg sends them in the client's local time).
  jsDate: new Date('2024-06-01T12:34:56.789Z'),
  jsDateOld: new Date('1880-03-04T05:06:07.500Z')
}

/** A SELECT of typed literals: how the driver parses each type, in the session's time zone. */
const TYPED_SELECT = `SELECT
  current_setting('TimeZone') AS session_zone,
  '{"a":1,"b":[true,null,"x"],"c":{"d":"é ü"}}'::json AS json,
  '{"k":"v","n":2.5,"list":[1,2,3]}'::jsonb AS jsonb,
  '${FIXED.tstz}'::timestamptz AS tstz,
  '${FIXED.tstzOld}'::timestamptz AS tstz_old,
  'infinity'::timestamptz AS tstz_infinity,
  '${FIXED.ts}'::timestamp AS ts,
  '${FIXED.tsOld}'::timestamp AS ts_old,
  '${FIXED.date}'::date AS d,
  '${FIXED.dateOld}'::date AS d_old,
  ${FIXED.int8}::int8 AS i8,
  ${FIXED.numeric}::numeric AS num,
  2::int2 AS i2, 2147483647::int4 AS i4, 1.5::float4 AS f4, 0.1::float8 AS f8, true AS bool,
  ARRAY[1,-2,3]::int[] AS ints,
  ARRAY['a','b,c','q"uote','back\\slash',NULL]::text[] AS texts,
  ARRAY['${FIXED.tstz}']::timestamptz[] AS tstzs,
  ARRAY[${FIXED.int8}]::int8[] AS i8s,
  '${FIXED.uuid}'::uuid AS id,
  '\\x000102ff'::bytea AS bin,
  '1 day 02:03:04.5'::interval AS iv,
  NULL::text AS nothing`

/** The rows of the 2,000-row query, generated server-side. */
const SERIES_SQL = `SELECT g AS n, 'row ' || g AS label, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute' AS at,
  g::int8 * 1000000000000 AS big FROM generate_series(1, 2000) g ORDER BY g`

/** A digest of many rows: count, first, last and a hash of them all (described). */
function digest (rows) {
  const described = rows.map((r) => describe(r))
  return {
    count: rows.length,
    first: described[0],
    last: described[described.length - 1],
    sha256: crypto.createHash('sha256').update(JSON.stringify(described)).digest('hex')
  }
}

/** How long one step may take before the transcript records it as { timeout } and moves on. */
const STEP_TIMEOUT_MS = 8000

/** Ordered steps: { name: { ok: described value } | { error: errorOf(e) } | { timeout } }. */
class Transcript {
  constructor (driver) {
    this.driver = driver
    this.steps = {}
  }

  /** Runs one step; its value (described) or its error goes into the transcript. */
  async step (name, fn) {
    if (name in this.steps) throw new Error(`step ${name} twice`)
    this.current = name
    process.stderr.write(`step> ${name}\n`)
    let timer
    const timeout = new Promise((resolve) => {
      timer = setTimeout(resolve, STEP_TIMEOUT_MS, { timeout: `not settled after ${STEP_TIMEOUT_MS} ms` })
    })
    try {
      const settled = await Promise.race([Promise.resolve().then(fn).then((v) => ({ ok: describe(v) })), timeout])
      this.steps[name] = settled
    } catch (e) {
      this.steps[name] = { error: errorOf(e, this.driver) }
    } finally {
      clearTimeout(timer)
    }
    this.current = null
    return this.steps[name]
  }

  /** Records a value directly. */
  note (name, value) {
    this.steps[name] = { ok: describe(value) }
  }
}

/** The stderr line that reports how many statements pgwarden's pools ran. */
const SERVED_PREFIX = 'pgwarden statements: '

/**
 * A count of the statements and connections pgwarden's own pool classes were asked for in
 * this process (0 when they were never loaded: a run through pg must not touch them). A spy
 * on the real methods, which still run.
 */
function countPgwardenStatements () {
  const file = require.resolve(path.join(__dirname, '..', '..', 'lib', 'pool.js'))
  if (!require.cache[file]) return () => 0
  const { Pool, Client } = require(file)
  let n = 0
  for (const [C, methods] of [[Pool, ['query', 'acquire']], [Client, ['query', '_openRows']]]) {
    for (const m of methods) {
      const real = C.prototype[m]
      C.prototype[m] = function (...args) {
        n++
        return real.apply(this, args)
      }
    }
  }
  return () => n
}

/**
 * A script's main: parses the command line, loads the driver module, runs `body(t, ctx)` and
 * prints the transcript. ctx: { url, driver, driverPath, pg } (pg: the driver module). The
 * process is left to exit by itself (an open handle keeps it alive: the jest side calls that
 * a hang). A throw outside a step is a harness failure: stack on stderr, exit code 1.
 */
function run (body) {
  let ctx
  try {
    ctx = cli()
  } catch (e) {
    console.error(e.message)
    process.exitCode = 2
    return
  }
  ctx.pg = require(ctx.driverPath)
  const served = countPgwardenStatements()
  const t = new Transcript(ctx.pg)
  let printed = false
  // The event loop emptied while a step was still pending (a promise nothing will settle): the
  // transcript so far, with the step that never finished, so the comparison shows it.
  process.on('exit', () => {
    if (printed || process.exitCode) return
    t.steps.$unfinished = { step: t.current, reason: 'the process ran out of work while this step was pending' }
    process.stdout.write(JSON.stringify(t.steps) + '\n')
  })
  Promise.resolve()
    .then(() => body(t, ctx))
    .then(() => {
      printed = true
      // Out of the compared transcript (it differs by driver): proof of which driver served.
      console.error(`${SERVED_PREFIX}${served()}`)
      process.stdout.write(JSON.stringify(t.steps) + '\n')
    })
    .catch((e) => {
      console.error('harness failure:', e && e.stack ? e.stack : e)
      console.error('transcript so far:', JSON.stringify(t.steps))
      process.exitCode = 1
    })
}

module.exports = { SERVED_PREFIX, PGWARDEN_PG, driverPath, cli, describe, errorOf, FIXED, TYPED_SELECT, SERIES_SQL, digest, Transcript, run }
