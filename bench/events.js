'use strict'
// What statement events cost: SELECT 1 at 100 callers, pool 20, with no listener versus with
// `query` and `slowQuery` listeners attached, interleaved in fresh processes (one cell each).
//
//   node bench/events.js [--duration 5] [--rounds 3] [--url URL]
//
// Without --url it starts a throwaway cluster through the test harness.

const { spawnSync } = require('node:child_process')
const { Cluster } = require('../lib/cluster')

const CELL = `
const { Pool } = require(${JSON.stringify(require.resolve('..'))})
const [url, mode, duration] = process.argv.slice(1)
const pool = new Pool({ connectionString: url, connectionLimit: 20, logger: false })
let events = 0
if (mode === 'listening') {
  pool.on('query', () => { events++ })
  pool.on('slowQuery', () => { events++ })
}
;(async () => {
  let n = 0
  let measuring = false
  let stop = false
  const caller = async () => { while (!stop) { await pool.query('SELECT 1'); if (measuring) n++ } }
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
  console.log(JSON.stringify({ qps: n / s, cpuPer1k: (cpu.user + cpu.system) / 1000 / n * 1000, events }))
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
    const results = { quiet: [], listening: [] }
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 ? ['listening', 'quiet'] : ['quiet', 'listening']) {
        const out = spawnSync(process.execPath, ['-e', CELL, url, mode, String(duration)], { encoding: 'utf8' })
        if (out.status !== 0) throw new Error(`cell failed: ${out.stderr}`)
        const cell = JSON.parse(out.stdout.trim().split('\n').pop())
        results[mode].push(cell)
        console.log(`round ${r + 1} ${mode}: ${Math.round(cell.qps)} q/s, ${cell.cpuPer1k.toFixed(1)} ms CPU/1000 queries, ${cell.events} events`)
      }
    }
    const q = median(results.quiet.map((c) => c.qps))
    const l = median(results.listening.map((c) => c.qps))
    const cq = median(results.quiet.map((c) => c.cpuPer1k))
    const cl = median(results.listening.map((c) => c.cpuPer1k))
    console.log(`\n| SELECT 1, 100 callers, pool 20 | no listener | query + slowQuery listeners | ratio |`)
    console.log(`| --- | ---: | ---: | ---: |`)
    console.log(`| q/s (median of ${rounds}) | ${Math.round(q)} | ${Math.round(l)} | ${(l / q).toFixed(2)}x |`)
    console.log(`| client CPU per 1,000 queries (ms) | ${cq.toFixed(1)} | ${cl.toFixed(1)} | ${(cl / cq).toFixed(2)}x |`)
  } finally {
    if (cluster) await cluster.destroy()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
