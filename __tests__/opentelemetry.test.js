'use strict'
// OpenTelemetry (opt-in): a client span per statement with the database semantic conventions'
// attributes, parents captured at the call across the native boundary, no parameters unless
// logParams, transaction and retry structure, checkout spans, pool metrics equal to
// getPoolStats(), nothing loaded when off, and the attributes next to instrumentation-pg's.

const path = require('node:path')
const { execFile } = require('node:child_process')
const api = require('@opentelemetry/api')
const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { MeterProvider, InMemoryMetricExporter, PeriodicExportingMetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics')
const { enableTelemetry, withRetry } = require('..')
const { sleep, eventually, failure, thrownBy, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('otel', { setupSql: 'CREATE SEQUENCE tx_tries; CREATE SEQUENCE retry_tries;' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

const contextManager = new AsyncLocalStorageContextManager().enable()
api.context.setGlobalContextManager(contextManager)
afterAll(() => api.context.disable())

/** A tracer provider whose finished spans `spans()` returns (and forgets). */
function tracing () {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  const spans = async () => {
    await tracerProvider.forceFlush()
    const out = exporter.getFinishedSpans()
    exporter.reset()
    return out
  }
  // The statements' spans only: a first checkout that opens a connection may take long enough
  // to get a checkout span of its own.
  const statements = async () => (await spans()).filter((span) => span.kind === api.SpanKind.CLIENT)
  return { tracerProvider, tracer: tracerProvider.getTracer('test'), spans, statements }
}

/** A meter provider whose `collect()` returns `{ name: [[attributes, value], …] }`. */
function metering (temporality = AggregationTemporality.CUMULATIVE) {
  const exporter = new InMemoryMetricExporter(temporality)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const collect = async () => {
    exporter.reset()
    await reader.forceFlush()
    const out = {}
    for (const rm of exporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) out[m.descriptor.name] = m.dataPoints.map((d) => [d.attributes, d.value])
      }
    }
    return out
  }
  return { meterProvider, collect }
}

const parentOf = (span) => span.parentSpanContext && span.parentSpanContext.spanId
const idOf = (span) => span.spanContext().spanId
const named = (spans, name) => spans.filter((s) => s.name === name)
const statementSpans = (spans) => spans.filter((s) => s.kind === api.SpanKind.CLIENT)

/** A statement that fails with `sqlstate` its first `times` runs (a sequence counts them: no rollback undoes it). */
const failFirst = (sequence, sqlstate, times) => `DO $$ BEGIN IF nextval('${sequence}') <= ${times} THEN RAISE EXCEPTION 'try again' USING ERRCODE = '${sqlstate}'; END IF; END $$`

describe('statement spans', () => {
  test('a query gives one client span named and attributed by the semantic conventions', async () => {
    const { tracerProvider, statements: spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider } })
    await pool.query('SELECT $1::int AS n', [41])
    const [span] = await spans()
    const s = pool._settings
    expect(span.name).toBe(`SELECT ${s.database}`)
    expect(span.kind).toBe(api.SpanKind.CLIENT)
    expect(span.attributes).toEqual({
      'db.system.name': 'postgresql',
      'db.namespace': s.database,
      'db.operation.name': 'SELECT',
      'db.query.text': 'SELECT $1::int AS n',
      'server.address': s.host,
      'server.port': s.port
    })
    expect(span.status.code).toBe(api.SpanStatusCode.UNSET)
    expect(span.instrumentationScope.name).toBe('pgwarden')
  })

  test('a failed statement: status error with the code, SQLSTATE and error.type, the exception recorded', async () => {
    const { tracerProvider, statements: spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider } })
    const e = await failure(pool.query('SELECT * FROM no_such_table'))
    const [span] = await spans()
    expect(span.status).toEqual({ code: api.SpanStatusCode.ERROR, message: '42P01' })
    expect(span.attributes['db.response.status_code']).toBe('42P01')
    expect(span.attributes['error.type']).toBe('42P01')
    expect(span.events.map((ev) => ev.name)).toEqual(['exception'])
    expect(span.events[0].attributes['exception.message']).toBe(e.message)
  })

  test('a pgwarden error (no SQLSTATE) sets error.type only', async () => {
    const { tracerProvider, statements: spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider }, queryTimeoutMs: 100 })
    const e = await failure(pool.query('SELECT pg_sleep(5)'))
    const [span] = await spans()
    expect(e.code).toBe('P1008')
    expect(span.attributes['error.type']).toBe('P1008')
    expect(span.attributes['db.response.status_code']).toBeUndefined()
    expect(span.status.message).toBe('P1008')
  })

  test('parameters stay out of spans unless logParams', async () => {
    const quiet = tracing()
    const pool = makePool({ telemetry: { tracerProvider: quiet.tracerProvider } })
    await pool.query('SELECT $1::text AS secret', ['hunter2'])
    expect(JSON.stringify((await quiet.statements())[0].attributes)).not.toContain('hunter2')

    const loud = tracing()
    const logged = makePool({ logParams: true, telemetry: { tracerProvider: loud.tracerProvider } })
    await logged.query('SELECT $1::text AS a, $2::int AS b', ['hunter2', 7])
    const [span] = await loud.statements()
    expect(span.attributes['db.query.parameter.0']).toBe('hunter2')
    expect(span.attributes['db.query.parameter.1']).toBe('7')
  })

  test('the parent is the context active at the call, across awaits and concurrent callers', async () => {
    const { tracerProvider, tracer, spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider }, connectionLimit: 2 })
    const traced = (name, ms) => tracer.startActiveSpan(name, async (parent) => {
      await sleep(ms)
      await pool.query('SELECT pg_sleep(0.05)')
      await pool.query('SELECT 1')
      parent.end()
    })
    await Promise.all([traced('first', 5), traced('second', 0)])
    const all = await spans()
    for (const name of ['first', 'second']) {
      const [parent] = named(all, name)
      const children = all.filter((s) => parentOf(s) === idOf(parent))
      expect(children.map((s) => s.attributes['db.query.text']).sort()).toEqual(['SELECT 1', 'SELECT pg_sleep(0.05)'])
    }
    // With no active span a statement starts its own trace.
    await pool.query('SELECT 2')
    const [alone] = await spans()
    expect(parentOf(alone)).toBeUndefined()
  })

  test('stream and executeScript get a span each', async () => {
    const { tracerProvider, spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider } })
    let rows = 0
    for await (const row of pool.stream('SELECT g FROM generate_series(1, 1200) g', [], { batchSize: 500 })) rows += row ? 1 : 0
    await pool.executeScript('SELECT 1; SELECT 2')
    const all = statementSpans(await spans())
    expect(rows).toBe(1200)
    expect(all.map((s) => s.attributes['db.query.text'])).toEqual(['SELECT g FROM generate_series(1, 1200) g', 'SELECT 1; SELECT 2'])
  })
})

describe('transactions, retries and checkouts', () => {
  test('a transaction span holds its statements; a re-run is an event on it', async () => {
    const { tracerProvider, spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider } })
    await pool.transaction(async (tx) => {
      await tx.query(failFirst('tx_tries', '40001', 1))
      await tx.query('SELECT 1')
    })
    const all = await spans()
    const [txSpan] = all.filter((s) => s.name.startsWith('transaction '))
    expect(txSpan.status.code).toBe(api.SpanStatusCode.UNSET)
    expect(txSpan.events.filter((ev) => ev.name === 'retry').map((ev) => ev.attributes['error.type'])).toEqual(['40001'])
    const children = all.filter((s) => parentOf(s) === idOf(txSpan)).map((s) => s.attributes['db.operation.name'])
    // First run: BEGIN, the failing DO, ROLLBACK; the re-run: BEGIN, DO, SELECT, COMMIT.
    expect(children).toEqual(['BEGIN', 'DO', 'ROLLBACK', 'BEGIN', 'DO', 'SELECT', 'COMMIT'])
  })

  test('withRetry attempts are events on the active span', async () => {
    const { tracerProvider, tracer, spans } = tracing()
    const pool = makePool({ telemetry: { tracerProvider } })
    await tracer.startActiveSpan('work', async (span) => {
      await withRetry(() => pool.query(failFirst('retry_tries', '40P01', 2)), { maxRetries: 3, initialDelayMs: 1 })
      span.end()
    })
    const [work] = named(await spans(), 'work')
    expect(work.events.map((ev) => [ev.name, ev.attributes.attempt, ev.attributes['error.type']])).toEqual([['retry', 1, '40P01'], ['retry', 2, '40P01']])
  })

  test('a checkout that waited past the threshold is a child span of its statement', async () => {
    const { tracerProvider, spans } = tracing()
    const pool = makePool({ connectionLimit: 1, telemetry: { tracerProvider, checkoutSpanThresholdMs: 30 } })
    await pool.query('SELECT 1') // quick checkout: no span
    expect(named(await spans(), 'pgwarden.checkout')).toHaveLength(0)
    const held = await pool.acquire()
    const waiting = pool.query('SELECT 2')
    await sleep(80)
    held.release()
    await waiting
    const all = await spans()
    const [checkout] = named(all, 'pgwarden.checkout')
    const [statement] = all.filter((s) => s.attributes['db.query.text'] === 'SELECT 2')
    expect(parentOf(checkout)).toBe(idOf(statement))
    const waitedMs = (checkout.endTime[0] - checkout.startTime[0]) * 1000 + (checkout.endTime[1] - checkout.startTime[1]) / 1e6
    expect(waitedMs).toBeGreaterThanOrEqual(60)
  })
})

describe('metrics', () => {
  test('connection count, max and pending requests equal getPoolStats(); durations and waits are recorded', async () => {
    const { meterProvider, collect } = metering()
    const pool = makePool({ connectionLimit: 3, telemetry: { meterProvider } })
    await pool.query('SELECT 1')
    const held = [await pool.acquire(), await pool.acquire(), await pool.acquire()]
    const queued = pool.query('SELECT 2')
    expect(await eventually(() => pool.getPoolStats().pool.waiting, 1)).toBe(1)
    const m = await collect()
    const stats = pool.getPoolStats().pool
    const poolName = `${pool._settings.host}:${pool._settings.port}/${pool._settings.database}`
    const byState = Object.fromEntries(m['db.client.connection.count'].map(([a, v]) => [a['db.client.connection.state'], v]))
    expect(byState).toEqual({ idle: stats.idle, used: stats.active })
    expect(stats.active).toBe(3)
    expect(m['db.client.connection.max']).toEqual([[{ 'db.client.connection.pool.name': poolName }, 3]])
    expect(m['db.client.connection.pending_requests']).toEqual([[{ 'db.client.connection.pool.name': poolName }, 1]])
    held.forEach((c) => c.release())
    await queued
    const after = await collect()
    const durations = after['db.client.operation.duration']
    const selects = durations.find(([a]) => a['db.operation.name'] === 'SELECT')[1]
    expect(selects.count).toBe(2)
    expect(after['db.client.connection.wait_time'][0][1].count).toBe(5) // 2 queries + 3 acquires
    const queries = pool.getPoolStats().queries.queriesExecuted
    expect(durations.reduce((n, [, v]) => n + v.count, 0)).toBe(queries)
  })

  test('after end() the pool is no longer observed', async () => {
    // Delta: a series with no observation in a collection has no point in it.
    const { meterProvider, collect } = metering(AggregationTemporality.DELTA)
    const pool = makePool({ telemetry: { meterProvider } })
    await pool.query('SELECT 1')
    expect((await collect())['db.client.connection.max']).toHaveLength(1)
    await pool.end()
    expect((await collect())['db.client.connection.max'] || []).toHaveLength(0)
  })
})

describe('switching it on', () => {
  test('enableTelemetry(pool, …) turns it on for a pool built without it', async () => {
    const { tracerProvider, statements: spans } = tracing()
    const pool = makePool()
    await pool.query('SELECT 1')
    expect(await spans()).toHaveLength(0)
    enableTelemetry(pool, { tracerProvider })
    await pool.query('SELECT 2')
    expect((await spans()).map((s) => s.attributes['db.query.text'])).toEqual(['SELECT 2'])
  })

  test('telemetry: true uses the global providers', async () => {
    const { tracerProvider, statements: spans } = tracing()
    api.trace.setGlobalTracerProvider(tracerProvider)
    try {
      const pool = makePool({ telemetry: true })
      await pool.query('SELECT 3')
      expect((await spans()).map((s) => s.attributes['db.query.text'])).toEqual(['SELECT 3'])
    } finally {
      api.trace.disable()
    }
  })

  test('bad telemetry options are a config error before anything starts', () => {
    for (const [value, text] of [['yes', 'telemetry must be true, false or an options object'], [{ tracer: 1 }, 'unknown telemetry option "tracer"'], [{ checkoutSpanThresholdMs: -1 }, 'checkoutSpanThresholdMs']]) {
      const e = thrownBy(() => makePool({ telemetry: value }))
      expect(e.code).toBe('ERR_PGWARDEN_CONFIG')
      expect(e.message).toContain(text)
    }
  })

  test('off, nothing of OpenTelemetry is loaded', async () => {
    const script = `const { Pool } = require(${JSON.stringify(path.join(__dirname, '..'))})
      const pool = new Pool({ connectionString: process.argv[1], logger: false })
      pool.transaction((tx) => tx.query('SELECT 1')).then(() => pool.end()).then(() => {
        console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'))))
      })`
    const out = await new Promise((resolve, reject) => execFile(process.execPath, ['-e', script, db.url], { timeout: 30000 }, (err, stdout) => err ? reject(err) : resolve(stdout)))
    expect(JSON.parse(out)).toEqual([])
  })
})

describe('next to @opentelemetry/instrumentation-pg', () => {
  // Differences, on purpose (see docs/API.md, OpenTelemetry):
  // - the span name is the conventions' `{db.operation.name} {db.namespace}`; instrumentation-pg
  //   prefixes it with `pg.query:`;
  // - pgwarden adds db.operation.name, and on failure error.type and db.response.status_code;
  // - the status message is the error's code (instrumentation-pg: its message, which the
  //   recorded exception carries here);
  // - instrumentation-pg adds a `pg-pool.connect` span to every pool query; pgwarden adds a
  //   `pgwarden.checkout` span only to a checkout that waited (checkoutSpanThresholdMs).
  const EXTRA = ['db.operation.name', 'error.type', 'db.response.status_code']

  test('every attribute instrumentation-pg sets on a statement, pgwarden sets to the same value', async () => {
    const helper = path.join(__dirname, 'helpers', 'otel-compare.js')
    const out = await new Promise((resolve, reject) => execFile(process.execPath, [helper, db.url], { timeout: 60000 }, (err, stdout, stderr) => err ? reject(new Error(stderr || err.message)) : resolve(stdout)))
    const { pg, pgwarden } = JSON.parse(out)
    const pgStatements = pg.filter((s) => s.name.startsWith('pg.query:'))
    expect(pgStatements).toHaveLength(2)
    expect(pgwarden).toHaveLength(2)
    for (let i = 0; i < 2; i++) {
      expect(pgwarden[i].kind).toBe(pgStatements[i].kind)
      expect(`pg.query:${pgwarden[i].name}`).toBe(pgStatements[i].name)
      expect(pgwarden[i].status.code).toBe(pgStatements[i].status.code)
      const ours = { ...pgwarden[i].attributes }
      for (const k of EXTRA) delete ours[k]
      expect(ours).toEqual(pgStatements[i].attributes)
    }
    expect(Object.keys(pgwarden[1].attributes).filter((k) => !(k in pgStatements[1].attributes)).sort()).toEqual([...EXTRA].sort())
  })
})

describe('request scopes (withContext)', () => {
  test('spans carry the scope\'s tags; with traceparent each statement\'s text carries its own span, sent unnamed so the statement cache keeps one entry', async () => {
    const { tracerProvider, statements } = tracing()
    const pool = makePool({ connectionLimit: 1, telemetry: { tracerProvider } })
    await pool.withContext({ tags: { route: '/r' } }, () => pool.query('SELECT 1'))
    const [tagged] = await statements()
    expect(tagged.attributes['pgwarden.tag.route']).toBe('/r')
    const sql = 'SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()'
    const texts = await pool.withContext({ tags: { route: '/r' }, traceparent: true }, async () => {
      const out = []
      for (let i = 0; i < 30; i++) out.push((await pool.query(sql)).rows[0].query)
      return out
    })
    const spans = await statements()
    expect(spans).toHaveLength(30)
    texts.forEach((text, i) => {
      const c = spans[i].spanContext()
      expect(text).toBe(`${sql} /*route='%2Fr',traceparent='00-${c.traceId}-${c.spanId}-01'*/`)
    })
    // Split, so this statement's own text does not match.
    const prepared = await pool.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%trace' || 'parent%'")
    expect(prepared.rows).toEqual([{ n: 0 }])
  })

  test('traceparent without the pool\'s telemetry is refused before anything runs', async () => {
    const pool = makePool()
    const e = await failure(pool.withContext({ traceparent: true }, () => pool.query('SELECT 1')))
    expect(e.code).toBe('ERR_PGWARDEN_PARAMS')
    expect(e.message).toMatch(/traceparent needs the pool's OpenTelemetry on/)
  })
})
