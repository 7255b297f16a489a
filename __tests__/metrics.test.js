'use strict'
// pool.metrics() is a well-formed Prometheus text exposition (format 0.0.4) of the
// same figures getPoolStats() reports. The parser below is deliberately strict.

const { Pool } = require('..')
const { eventually, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('metrics', { setupSql: 'CREATE TABLE uniq (id int PRIMARY KEY); INSERT INTO uniq VALUES (1);' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const NUMBER = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseNumber (text, where) {
  if (!NUMBER.test(text)) throw new Error(`${where}: bad number '${text}'`)
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  return Number(text)
}

/** Parses `{a="x",b="y"}` starting at `s[i] === '{'`; returns [labels, next index]. */
function parseLabels (s, i, where) {
  const labels = {}
  i++ // '{'
  while (true) {
    if (s[i] === '}') return [labels, i + 1]
    const eq = s.indexOf('=', i)
    if (eq < 0) throw new Error(`${where}: label without '='`)
    const name = s.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name '${name}'`)
    if (name in labels) throw new Error(`${where}: duplicate label '${name}'`)
    if (s[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`)
    let j = eq + 2
    let value = ''
    while (true) {
      const c = s[j]
      if (c === undefined) throw new Error(`${where}: unterminated label value`)
      if (c === '"') break
      if (c === '\\') {
        const n = s[j + 1]
        if (n === '\\') value += '\\'
        else if (n === '"') value += '"'
        else if (n === 'n') value += '\n'
        else throw new Error(`${where}: bad escape '\\${n}' in label value`)
        j += 2
        continue
      }
      if (c === '\n') throw new Error(`${where}: raw newline in label value`)
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (s[i] === ',') {
      i++
      if (s[i] === '}') return [labels, i + 1] // trailing comma is allowed by 0.0.4
    } else if (s[i] !== '}') {
      throw new Error(`${where}: expected ',' or '}' after label ${name}`)
    }
  }
}

/**
 * Strict 0.0.4 parser. Returns { families: Map(name → { help, type, samples: [{ name, labels, value }] }) }.
 * Throws on any malformed line, on a sample whose family has no HELP and TYPE before it, on
 * duplicate HELP/TYPE, on a family whose samples are not contiguous, and on duplicate series.
 */
function parseExposition (text) {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition does not end with a newline')
  const families = new Map()
  const seenSeries = new Set()
  const closed = new Set() // families whose sample group has ended
  let current = null
  const lines = text.split('\n')
  lines.pop() // after the final '\n'
  lines.forEach((line, idx) => {
    const where = `line ${idx + 1} (${JSON.stringify(line)})`
    if (line === '') throw new Error(`${where}: empty line`)
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
      if (!m) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`${where}: malformed ${line.slice(2, 6)} line`)
        return // a plain comment
      }
      const [, kind, name, rest] = m
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`)
      if (closed.has(name) || (families.get(name) && families.get(name).samples.length)) throw new Error(`${where}: ${kind} after samples of ${name}`)
      const f = families.get(name) || { help: undefined, type: undefined, samples: [] }
      families.set(name, f)
      if (current && current !== name) closed.add(current)
      current = name
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`)
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`)
        f.help = rest
      } else {
        if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`)
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`)
        f.type = rest
      }
      return
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)
    if (!m) throw new Error(`${where}: bad sample name`)
    const name = m[1]
    let i = name.length
    let labels = {}
    if (line[i] === '{') [labels, i] = parseLabels(line, i, where)
    if (line[i] !== ' ') throw new Error(`${where}: expected one space before the value`)
    const parts = line.slice(i + 1).split(' ')
    if (parts.length > 2 || parts.some((p) => p === '')) throw new Error(`${where}: bad value/timestamp part`)
    const value = parseNumber(parts[0], where)
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`)
    // Which family does it belong to?
    let family = name
    if (!families.has(name)) {
      const suffix = /_(bucket|sum|count)$/.exec(name)
      const base = suffix && name.slice(0, -suffix[0].length)
      if (base && families.has(base) && ['histogram', 'summary'].includes(families.get(base).type)) family = base
    }
    const f = families.get(family)
    if (!f) throw new Error(`${where}: sample of ${family} with no HELP/TYPE before it`)
    if (f.help === undefined) throw new Error(`${where}: no HELP before samples of ${family}`)
    if (f.type === undefined) throw new Error(`${where}: no TYPE before samples of ${family}`)
    if (closed.has(family) || current !== family) throw new Error(`${where}: samples of ${family} are not contiguous`)
    if (family !== name && f.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels)) throw new Error(`${where}: bucket without le`)
    const key = name + JSON.stringify(Object.entries(labels).sort())
    if (seenSeries.has(key)) throw new Error(`${where}: duplicate series`)
    seenSeries.add(key)
    f.samples.push({ name, labels, value })
  })
  return { families }
}

/** The value of one series (labels matched exactly), or undefined. */
function valueOf (parsed, name, labels = {}) {
  for (const f of parsed.families.values()) {
    for (const s of f.samples) {
      if (s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort())) return s.value
    }
  }
  return undefined
}

/** Histogram families checked: buckets cumulative, le ascending ending in +Inf, _count = +Inf. */
function histogramProblems (parsed) {
  const out = []
  for (const [name, f] of parsed.families) {
    if (f.type !== 'histogram') continue
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket`)
    const sums = f.samples.filter((s) => s.name === `${name}_sum`)
    const counts = f.samples.filter((s) => s.name === `${name}_count`)
    if (buckets.length < 2) out.push(`${name}: fewer than 2 buckets`)
    if (sums.length !== 1) out.push(`${name}: ${sums.length} _sum samples`)
    if (counts.length !== 1) out.push(`${name}: ${counts.length} _count samples`)
    const les = buckets.map((b) => b.labels.le)
    if (les[les.length - 1] !== '+Inf') out.push(`${name}: last bucket is le="${les[les.length - 1]}", not +Inf`)
    for (const le of les) if (le !== '+Inf' && !NUMBER.test(le)) out.push(`${name}: bad le '${le}'`)
    const bounds = les.map((le) => (le === '+Inf' ? Infinity : Number(le)))
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i] > bounds[i - 1])) out.push(`${name}: le not strictly ascending at ${les[i]}`)
    for (let i = 1; i < buckets.length; i++) if (buckets[i].value < buckets[i - 1].value) out.push(`${name}: bucket ${les[i]} decreases`)
    for (const b of buckets) if (!Number.isInteger(b.value) || b.value < 0) out.push(`${name}: bucket ${b.labels.le} not a count`)
    if (counts[0] && buckets.length && counts[0].value !== buckets[buckets.length - 1].value) {
      out.push(`${name}: _count ${counts[0].value} != +Inf bucket ${buckets[buckets.length - 1].value}`)
    }
    if (sums[0] && !(sums[0].value >= 0)) out.push(`${name}: _sum ${sums[0].value}`)
    const extra = f.samples.filter((s) => ![`${name}_bucket`, `${name}_sum`, `${name}_count`].includes(s.name))
    if (extra.length) out.push(`${name}: stray samples ${extra.map((s) => s.name)}`)
  }
  return out
}

describe('the parser itself', () => {
  test('accepts a well-formed exposition and rejects malformed ones', () => {
    const good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"\\\\\\n"} 3\n' +
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n'
    const p = parseExposition(good)
    expect(valueOf(p, 'a_total', { x: '1', y: 'q"\\\n' })).toBe(3)
    expect(histogramProblems(p)).toEqual([])
    const bad = [
      'a 1\n', // no HELP/TYPE
      '# TYPE a gauge\na 1\n', // no HELP
      '# HELP a A.\na 1\n', // no TYPE
      '# HELP a A.\n# TYPE a gauge\na 1', // no final newline
      '# HELP a A.\n# TYPE a gauge\na{x=1} 1\n', // unquoted label
      '# HELP a A.\n# TYPE a gauge\na  1\n', // two spaces
      '# HELP a A.\n# TYPE a gauge\na one\n', // not a number
      '# HELP a A.\n# TYPE a gauge\na 1\na 2\n', // duplicate series
      '# HELP a A.\n# TYPE a gauge\na{x="1"} 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x="2"} 1\n', // not contiguous
      '# HELP a A.\n# TYPE a thing\na 1\n', // unknown type
      '# HELP a A.\n# TYPE a gauge\n\na 1\n' // empty line
    ]
    for (const text of bad) expect(() => parseExposition(text)).toThrow()
    expect(histogramProblems(parseExposition('# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 0\nh_count 1\n'))).not.toEqual([])
  })
})

describe('pool.metrics()', () => {
  let pool
  let text
  let parsed
  let stats
  let held
  beforeAll(async () => {
    pool = new Pool({ connectionString: db.url, logger: false, connectionLimit: 4, slowQueryThresholdMs: 50, poolTimeoutMs: 150 })
    for (let i = 0; i < 10; i++) await pool.query('SELECT $1::int', [i])
    await pool.query('SELECT pg_sleep(0.06)')
    for (let i = 0; i < 3; i++) await pool.query('SELEC 1').catch(() => {})
    for (let i = 0; i < 2; i++) await pool.query('INSERT INTO uniq VALUES (1)').catch(() => {})
    await pool.withRetry(async ({ attempt }) => {
      if (attempt === 1) throw Object.assign(new Error('P1001: flaky'), { code: 'P1001' })
      return 1
    }, { initialDelayMs: 1, jitter: 0 })
    held = [await pool.acquire(), await pool.acquire(), await pool.acquire(), await pool.acquire()]
    await pool.acquire().catch(() => {}) // a P2024
    text = pool.metrics()
    stats = pool.getPoolStats()
    parsed = parseExposition(text)
  })
  afterAll(async () => {
    if (held) held.forEach((c) => c.release())
    if (pool) await pool.end()
  })

  test('is a string that parses strictly (HELP and TYPE before every sample)', () => {
    expect(typeof text).toBe('string')
    expect(parsed.families.size).toBeGreaterThan(5)
    for (const [name, f] of parsed.families) {
      expect({ name, help: typeof f.help, type: typeof f.type }).toEqual({ name, help: 'string', type: 'string' })
      expect(f.help.length).toBeGreaterThan(0)
      expect(f.samples.length).toBeGreaterThan(0)
    }
  })

  test('names match /^pgwarden_[a-z_]+$/ and counters end in _total', () => {
    for (const [name, f] of parsed.families) {
      expect(name).toMatch(/^pgwarden_[a-z_]+$/)
      if (f.type === 'counter') expect(name).toMatch(/_total$/)
      else expect(name).not.toMatch(/_total$/)
      if (f.type === 'histogram') expect(name).toMatch(/_seconds$/) // base unit
      for (const s of f.samples) expect(s.name).toMatch(/^pgwarden_[a-z_]+$/)
    }
  })

  test('histograms: cumulative non-decreasing buckets, le ascending ending in +Inf, _count = +Inf', () => {
    const hists = [...parsed.families].filter(([, f]) => f.type === 'histogram').map(([n]) => n)
    expect(hists).toEqual(expect.arrayContaining(['pgwarden_query_duration_seconds', 'pgwarden_acquire_duration_seconds']))
    expect(histogramProblems(parsed)).toEqual([])
  })

  test('values agree with getPoolStats()', () => {
    const q = stats.queries
    expect(q.queriesExecuted).toBe(16)
    expect(valueOf(parsed, 'pgwarden_queries_total')).toBe(q.queriesExecuted)
    expect(valueOf(parsed, 'pgwarden_query_errors_total')).toBe(q.queryErrors)
    expect(q.queryErrors).toBe(5)
    expect(valueOf(parsed, 'pgwarden_slow_queries_total')).toBe(q.slowQueries)
    expect(q.slowQueries).toBeGreaterThanOrEqual(1)
    expect(stats.errors.byCode).toEqual({ 42601: 3, 23505: 2 })
    for (const [code, n] of Object.entries(stats.errors.byCode)) expect(valueOf(parsed, 'pgwarden_errors_total', { code })).toBe(n)
    expect(parsed.families.get('pgwarden_errors_total').samples).toHaveLength(Object.keys(stats.errors.byCode).length)

    expect(valueOf(parsed, 'pgwarden_query_duration_seconds_count')).toBe(q.queriesExecuted)
    const sumMs = valueOf(parsed, 'pgwarden_query_duration_seconds_sum') * 1000
    expect(sumMs / q.queriesExecuted).toBeCloseTo(q.averageQueryTime, 1)
    expect(valueOf(parsed, 'pgwarden_query_duration_seconds_sum')).toBeGreaterThanOrEqual(0.06)
    // The 60 ms sleep is above the 50 ms bucket.
    const le50 = valueOf(parsed, 'pgwarden_query_duration_seconds_bucket', { le: '0.05' })
    expect(le50).toBeLessThanOrEqual(q.queriesExecuted - 1)

    expect(valueOf(parsed, 'pgwarden_acquire_duration_seconds_count')).toBe(stats.acquire.count)
    expect(valueOf(parsed, 'pgwarden_acquire_timeouts_total')).toBe(stats.acquire.timeouts)
    expect(stats.acquire.timeouts).toBe(1)

    expect(valueOf(parsed, 'pgwarden_connections_total', { event: 'created' })).toBe(stats.connections.created)
    expect(valueOf(parsed, 'pgwarden_connections_total', { event: 'closed' })).toBe(stats.connections.closed)
    expect(valueOf(parsed, 'pgwarden_connections_total', { event: 'failed' })).toBe(stats.connections.failed)

    expect(stats.retries).toEqual({ attempts: 1, succeededAfterRetry: 1, exhausted: 0 })
    expect(valueOf(parsed, 'pgwarden_retries_total', { outcome: 'attempt' })).toBe(1)
    expect(valueOf(parsed, 'pgwarden_retries_total', { outcome: 'succeeded' })).toBe(1)
    expect(valueOf(parsed, 'pgwarden_retries_total', { outcome: 'exhausted' })).toBe(0)
  })

  test('pool gauges agree with the pool section while clients are held', () => {
    expect(stats.pool).toMatchObject({ active: 4, idle: 0, limit: 4, utilization: 100 })
    expect(valueOf(parsed, 'pgwarden_pool_connections', { state: 'active' })).toBe(stats.pool.active)
    expect(valueOf(parsed, 'pgwarden_pool_connections', { state: 'idle' })).toBe(stats.pool.idle)
    expect(valueOf(parsed, 'pgwarden_pool_max_connections')).toBe(stats.pool.limit)
    expect(valueOf(parsed, 'pgwarden_pool_waiting')).toBe(stats.pool.waiting)
    expect(valueOf(parsed, 'pgwarden_pool_utilization_ratio')).toBeCloseTo(stats.pool.utilization / 100, 3)
    for (const f of ['pgwarden_pool_connections', 'pgwarden_pool_max_connections', 'pgwarden_pool_waiting', 'pgwarden_pool_utilization_ratio']) {
      expect(parsed.families.get(f).type).toBe('gauge')
    }
  })
})

describe('metrics() over time', () => {
  test('a fresh pool: zero counters, every histogram bucket 0, still well-formed', () => {
    const pool = makePool({ connectionLimit: 3 })
    const p = parseExposition(pool.metrics())
    expect(histogramProblems(p)).toEqual([])
    expect(valueOf(p, 'pgwarden_queries_total')).toBe(0)
    expect(valueOf(p, 'pgwarden_query_duration_seconds_count')).toBe(0)
    expect(valueOf(p, 'pgwarden_pool_max_connections')).toBe(3)
  })

  test('counters never decrease between scrapes (until resetStats)', async () => {
    const pool = makePool({ connectionLimit: 2 })
    await pool.query('SELECT 1')
    const a = parseExposition(pool.metrics())
    await pool.query('SELECT 1')
    await pool.query('SELEC 1').catch(() => {})
    const b = parseExposition(pool.metrics())
    for (const [, f] of a.families) {
      if (f.type !== 'counter' && f.type !== 'histogram') continue
      for (const s of f.samples) {
        if (s.name.endsWith('_sum')) continue
        const after = valueOf(b, s.name, s.labels)
        expect({ series: s.name + JSON.stringify(s.labels), ok: after >= s.value }).toEqual({ series: s.name + JSON.stringify(s.labels), ok: true })
      }
    }
    expect(valueOf(b, 'pgwarden_queries_total')).toBe(3)
    expect(valueOf(b, 'pgwarden_errors_total', { code: '42601' })).toBe(1)
    pool.resetStats()
    const c = parseExposition(pool.metrics())
    expect(valueOf(c, 'pgwarden_queries_total')).toBe(0)
    expect(valueOf(c, 'pgwarden_errors_total', { code: '42601' })).toBeUndefined()
  })

  test('still answers after end(), well-formed', async () => {
    const pool = makePool({ connectionLimit: 2 })
    await pool.query('SELECT 1')
    await pool.end()
    const p = parseExposition(pool.metrics())
    expect(histogramProblems(p)).toEqual([])
    expect(valueOf(p, 'pgwarden_queries_total')).toBe(1)
    expect(valueOf(p, 'pgwarden_pool_connections', { state: 'active' })).toBe(0)
    await eventually(() => pool.getPoolStats().connections.closed === 1)
    expect(valueOf(parseExposition(pool.metrics()), 'pgwarden_connections_total', { event: 'closed' })).toBe(1)
  })
})
