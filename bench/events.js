'use strict'
// What statement events and OpenTelemetry cost: SELECT 1 at 100 callers, pool 20, interleaved
// in fresh processes (one cell each). Without --telemetry: no listener against `query` and
// `slowQuery` listeners. With --telemetry: telemetry off, on with the API's no-op providers (no
// SDK registered), and on with the SDK recording every span and metric in memory. With --scope:
// what a request scope (pool.withContext) costs a statement, each statement in a scope of its
// own (a request of one statement, the dearest case): none; for reference an AbortSignal per
// statement (an abortable statement runs on a connection of its own, outside convoys); a route
// tag; a deadline and a route tag (abortable); a setting (set_config sent before the
// statement); and, with the SDK in memory, a tag without and with traceparent (statements then
// sent unnamed).
//
//   node bench/events.js [--duration 5] [--rounds 3] [--url URL] [--telemetry | --scope]
//
// Without --url it starts a throwaway cluster through the test harness.

const { spawnSync } = require('node:child_process')
const { Cluster } = require('../lib/cluster')

const CELL = `
const { Pool } = require(${JSON.stringify(require.resolve('..'))})
const [url, mode, duration] = process.argv.slice(1)
const options = { connectionString: url, connectionLimit: 20, logger: false }
let spans = null
if (mode === 'noop') options.telemetry = true
if (mode === 'memory' || mode === 'otelTags' || mode === 'traceparent') {
  const { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace')
  const { MeterProvider, InMemoryMetricExporter, PeriodicExportingMetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics')
  spans = new InMemorySpanExporter()
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] })
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 1000 })
  options.telemetry = { tracerProvider, meterProvider: new MeterProvider({ readers: [reader] }) }
  setInterval(() => spans.reset(), 1000).unref() // what an exporter shipping them would free
}
const pool = new Pool(options)
let events = 0
if (mode === 'listening') {
  pool.on('query', () => { events++ })
  pool.on('slowQuery', () => { events++ })
}
;(async () => {
  let n = 0
  let measuring = false
  let stop = false
  const scopes = {
    tag: { tags: { route: '/orders/:id' } },
    deadline: { timeoutMs: 5000, tags: { route: '/orders/:id' } },
    setting: { timeoutMs: 5000, settings: { 'app.user_id': '42' } },
    otelTags: { timeoutMs: 5000, tags: { route: '/orders/:id' } },
    traceparent: { timeoutMs: 5000, tags: { route: '/orders/:id' }, traceparent: true }
  }
  const scope = scopes[mode]
  const signal = new AbortController().signal
  require('node:events').setMaxListeners(200, signal)
  const one = mode === 'signal'
    ? () => pool.query('SELECT 1', [], { signal })
    : scope === undefined ? () => pool.query('SELECT 1') : () => pool.withContext(scope, () => pool.query('SELECT 1'))
  const caller = async () => { while (!stop) { await one(); if (measuring) n++ } }
  const callers = Array.from({ length: 100 }, caller)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  measuring = true
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, Number(duration) * 1000))
  const cpu = process.cpuUsage(cpu0)
  const s = (performance.now() - t0) / 1000
  stop = true
  await Promise.all(callers)
  await pool.end()
  console.log(JSON.stringify({ qps: n / s, cpuPer1k: (cpu.user + cpu.system) / 1000 / n * 1000, events: spans ? 'spans' : events }))
})()
`

function arg (name, dflt) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

async function main () {
  const duration = Number(arg('duration', 5))
  const rounds = Number(arg('rounds', 3))
  let url = arg('url')
  let cluster = null
  if (!url) {
    cluster = await Cluster.start()
    url = cluster.url
  }
  try {
    const telemetry = process.argv.includes('--telemetry')
    const scope = process.argv.includes('--scope')
    const modes = scope ? ['quiet', 'signal', 'tag', 'deadline', 'setting', 'memory', 'otelTags', 'traceparent'] : telemetry ? ['quiet', 'noop', 'memory'] : ['quiet', 'listening']
    const labels = scope
      ? { quiet: 'no scope', signal: 'no scope, an AbortSignal', tag: 'scope: tag', deadline: 'scope: deadline + tag', setting: 'scope: a setting', memory: 'SDK in memory, no scope', otelTags: 'SDK, scope: tag', traceparent: 'SDK, scope: tag + traceparent' }
      : telemetry
        ? { quiet: 'telemetry off', noop: 'on, no-op providers', memory: 'on, SDK in memory' }
        : { quiet: 'no listener', listening: 'query + slowQuery listeners' }
    const results = Object.fromEntries(modes.map((m) => [m, []]))
    for (let r = 0; r < rounds; r++) {
      // The order rotates each round, so no mode always runs first.
      for (const mode of modes.map((_, i) => modes[(i + r) % modes.length])) {
        const out = spawnSync(process.execPath, ['-e', CELL, url, mode, String(duration)], { encoding: 'utf8' })
        if (out.status !== 0) throw new Error(`cell failed: ${out.stderr}`)
        const cell = JSON.parse(out.stdout.trim().split('\n').pop())
        results[mode].push(cell)
        console.log(`round ${r + 1} ${mode}: ${Math.round(cell.qps)} q/s, ${cell.cpuPer1k.toFixed(1)} ms CPU/1000 queries, ${cell.events} events`)
      }
    }
    const qps = modes.map((m) => median(results[m].map((c) => c.qps)))
    const cpu = modes.map((m) => median(results[m].map((c) => c.cpuPer1k)))
    const others = modes.slice(1)
    console.log(`\n| SELECT 1, 100 callers, pool 20 | ${modes.map((m) => labels[m]).join(' | ')} | ${others.map((m) => `${labels[m]} / ${labels.quiet}`).join(' | ')} |`)
    console.log(`| --- |${modes.map(() => ' ---: |').join('')}${others.map(() => ' ---: |').join('')}`)
    console.log(`| q/s (median of ${rounds}) | ${qps.map(Math.round).join(' | ')} | ${qps.slice(1).map((v) => `${(v / qps[0]).toFixed(2)}x`).join(' | ')} |`)
    console.log(`| client CPU per 1,000 queries (ms) | ${cpu.map((v) => v.toFixed(1)).join(' | ')} | ${cpu.slice(1).map((v) => `${(v / cpu[0]).toFixed(2)}x`).join(' | ')} |`)
    // Client CPU per query, what telemetry adds: (mode − off) per 1,000 queries → µs per query.
    if (telemetry || scope) console.log(`| added client CPU per query (µs) | — | ${cpu.slice(1).map((v) => (v - cpu[0]).toFixed(1)).join(' | ')} |${others.map(() => ' |').join('')}`)
  } finally {
    if (cluster) await cluster.destroy()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
