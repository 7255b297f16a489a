'use strict'
// COPY of 1M rows in and out, side by side in one run: pgwarden's copyFrom/copyTo, pg with
// pg-copy-streams, postgres.js, and psql's \copy (the ceiling). Rows/s and the client's CPU per 1M rows.
//
//   node bench/copy.js [--rows 1000000]
//
// On a throwaway PostgreSQL (fsync off). Each cell runs in its own process. Not part of npm test.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { inChild } = require('./cell')
const { parseArgs } = require('node:util')
const { Cluster, exec } = require('../lib/cluster')

const ROOT = path.join(__dirname, '..')
const CELLS = ['pgwarden in', 'pg-copy-streams in', 'postgres.js in', 'psql in', 'pgwarden out', 'pg-copy-streams out', 'postgres.js out', 'psql out']

/** One cell in this process: prints `{ ms, cpuMs }`. */
async function cell (name, url, file) {
  const { pipeline } = require('node:stream/promises')
  const started = performance.now()
  const cpu = process.cpuUsage()
  const [driver, direction] = name.split(' ')
  const into = 'COPY bench_copy FROM STDIN WITH (FORMAT csv)'
  const outOf = 'COPY bench_copy TO STDOUT WITH (FORMAT csv)'
  if (driver === 'pgwarden') {
    const { Pool } = require(ROOT)
    const pool = new Pool({ connectionString: url, logger: false })
    if (direction === 'in') {
      await pool.query('TRUNCATE bench_copy')
      await pipeline(fs.createReadStream(file), pool.copyFrom(into))
    } else await pipeline(pool.copyTo(outOf), fs.createWriteStream(file + '.out'))
    await pool.end()
  } else if (driver === 'postgres.js') {
    const sql = require('postgres')(url, { onnotice: () => {} })
    if (direction === 'in') {
      await sql`TRUNCATE bench_copy`
      await pipeline(fs.createReadStream(file), await sql.unsafe(into).writable())
    } else await pipeline(await sql.unsafe(outOf).readable(), fs.createWriteStream(file + '.out'))
    await sql.end({ timeout: 5 })
  } else {
    const pg = require('pg')
    const { from, to } = require('pg-copy-streams')
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    if (direction === 'in') {
      await client.query('TRUNCATE bench_copy')
      await pipeline(fs.createReadStream(file), client.query(from(into)))
    } else await pipeline(client.query(to(outOf)), fs.createWriteStream(file + '.out'))
    await client.end()
  }
  const used = process.cpuUsage(cpu)
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 }
}

/** psql's \copy of the same statement: its wall time and its CPU (the child's rusage). */
async function psql (cluster, direction, file) {
  const copy = direction === 'in' ? `\\copy bench_copy FROM '${file}' WITH (FORMAT csv)` : `\\copy bench_copy TO '${file}.psql' WITH (FORMAT csv)`
  const started = performance.now()
  const before = process.resourceUsage()
  if (direction === 'in') await exec(cluster.psqlPath, ['-X', '-q', '-d', cluster.url, '-c', 'TRUNCATE bench_copy'])
  await exec(cluster.psqlPath, ['-X', '-q', '-d', cluster.url, '-c', copy], { timeoutMs: 600000 })
  return { ms: performance.now() - started, cpuMs: null, before }
}

async function main () {
  const { values: o, positionals } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, cell: { type: 'boolean' } }, allowPositionals: true })
  if (o.cell) {
    const [name, url, file] = positionals
    process.stdout.write(JSON.stringify(await cell(name, url, file)) + '\n')
    return
  }
  const rows = Number(o.rows)
  const cluster = await Cluster.start({ settings: { max_connections: 20 } })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-copy-'))
  fs.chmodSync(dir, 0o777)
  try {
    await cluster.admin('CREATE TABLE bench_copy (id int, label text, score numeric, at timestamptz)')
    const file = path.join(dir, 'rows.csv')
    const out = fs.createWriteStream(file)
    for (let i = 1; i <= rows; i++) out.write(`${i},"row ${i}, label",${i}.25,2026-01-01 00:00:${String(i % 60).padStart(2, '0')}+00\n`)
    await new Promise((resolve) => out.end(resolve))
    const mb = fs.statSync(file).size / 2 ** 20
    const lines = [`| COPY of ${rows.toLocaleString('en-US')} rows (${mb.toFixed(0)} MB CSV) | rows/s | client CPU ms |`, '| --- | ---: | ---: |']
    for (const name of CELLS) {
      const [driver, direction] = name.split(' ')
      const r = driver === 'psql' ? await psql(cluster, direction, file) : await inChild(__filename, [name, cluster.url, file])
      lines.push(`| ${name} | ${Math.round(rows / (r.ms / 1000)).toLocaleString('en-US')} | ${r.cpuMs == null ? '—' : Math.round(r.cpuMs)} |`)
      process.stderr.write(lines[lines.length - 1] + '\n')
    }
    console.log(lines.join('\n'))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await cluster.destroy()
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
