'use strict'
// Runs the same statements through pg (traced by @opentelemetry/instrumentation-pg, stable
// database conventions) and through pgwarden (telemetry on), and prints both sets of client
// spans as JSON: `node otel-compare.js <url>`. A child process, because instrumentation-pg
// patches `pg` through Node's own module loader, which jest's module registry bypasses.

process.env.OTEL_SEMCONV_STABILITY_OPT_IN = 'database'
const api = require('@opentelemetry/api')
const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { registerInstrumentations } = require('@opentelemetry/instrumentation')
const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg')

api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const exporter = new InMemorySpanExporter()
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
registerInstrumentations({ tracerProvider, instrumentations: [new PgInstrumentation()] })

const pg = require('pg')
const { Pool } = require('../..')

const STATEMENTS = [['SELECT $1::int AS n', [1]], ['SELECT nope', []]]

/** The client spans ended since the last call, as plain objects. */
async function spans () {
  await tracerProvider.forceFlush()
  const out = exporter.getFinishedSpans()
    .filter((s) => s.kind === api.SpanKind.CLIENT)
    .map((s) => ({ name: s.name, kind: s.kind, attributes: s.attributes, status: s.status }))
  exporter.reset()
  return out
}

async function main () {
  const url = process.argv[2]
  const result = {}
  const pgPool = new pg.Pool({ connectionString: url, max: 1 })
  await pgPool.query('SELECT 0') // connects (its connect span is not a statement's)
  await spans()
  for (const [sql, values] of STATEMENTS) await pgPool.query(sql, values).catch(() => {})
  result.pg = await spans()
  await pgPool.end()

  const pool = new Pool({ connectionString: url, connectionLimit: 1, logger: false, telemetry: { tracerProvider } })
  for (const [sql, values] of STATEMENTS) await pool.query(sql, values).catch(() => {})
  result.pgwarden = await spans()
  await pool.end()
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
