'use strict'
// The pg drop-in: pg's Pool against pgwarden/pg's Pool running the same code, 100 callers,
// pool 20, 5 s per cell, each cell in its own process, two rounds. Not part of npm test.
//   node bench/pg-dropin.js
const { spawnSync } = require('node:child_process')
const ROOT = require('node:path').join(__dirname, '..')
const CELL = `
const [driver, url, sql, secs] = process.argv.slice(1)
const { Pool } = driver === 'pg' ? require('pg') : require('pgwarden/pg')
;(async () => {
  const pool = new Pool({ connectionString: url, max: 20 })
  const run = async (ms) => { let n = 0; const until = performance.now() + ms
    await Promise.all(Array.from({ length: 100 }, async () => { while (performance.now() < until) { await pool.query(sql); n++ } })); return n }
  await run(1000)
  const cpu = process.cpuUsage(); const n = await run(secs * 1000); const c = process.cpuUsage(cpu)
  console.log(JSON.stringify({ qps: n / secs, cpuPer1k: (c.user + c.system) / 1000 / n * 1000 }))
  await pool.end()
})()`
;(async () => {
  const { Cluster } = require('../lib/cluster')
  const cluster = await Cluster.start({ settings: { max_connections: 100 } })
  try {
    for (const [name, sql] of [['SELECT 1', 'SELECT 1'], ['100 rows', 'SELECT g, g::text AS t FROM generate_series(1, 100) g']]) {
      for (const round of [1, 2]) {
        for (const d of ['pg', 'pgwarden/pg']) {
          const out = spawnSync(process.execPath, ['-e', CELL, d, cluster.url, sql, '5'], { cwd: ROOT, encoding: 'utf8' })
          const r = JSON.parse(out.stdout.trim().split('\n').pop())
          console.log(`| ${name} | ${d} | round ${round} | ${Math.round(r.qps)} q/s | ${r.cpuPer1k.toFixed(1)} ms CPU per 1k |`)
        }
      }
    }
  } finally { await cluster.destroy() }
})()
