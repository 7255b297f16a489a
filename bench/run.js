'use strict'
// Benchmark runner: pgwarden against pg, pg-native and postgres.js, with pgbench as the ceiling.
//
//   node bench/run.js [--duration 10] [--warmup 2] [--rounds 1] [--only select1,point]
//                     [--drivers pgwarden,pgwarden-depth1,pg,pg-named,pg-native,postgres,pgbench]
//                     [--long] [--write]
//
// Starts a throwaway PostgreSQL (the test harness's Cluster, fsync off), loads pgbench -i -s 10
// data plus a 1,000-row mixed-type table, then runs every (workload, driver) cell as its own
// child process (bench/worker.js), drivers interleaved within each workload (order rotated each
// round), and prints one table. --write also writes docs/BENCHMARKS.md. Not part of npm test.
// Workloads: select1, point, rows10k, mixed1k, lat1, lat10, idle. Drivers (all by default):
// pgwarden with its defaults; pgwarden-depth1, pgwarden with pipelineDepth: 1 (on the 100-caller
// workloads only: with fewer callers than connections no statement shares a connection); pg;
// pg-named, pg with named statements (not on idle, where it is pg); pg-native; postgres.js;
// pgbench.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { Cluster, exec } = require('../lib/cluster')

const ROOT = path.join(__dirname, '..')
const SCALE = 10
const POOL = 20

// Timed workloads (one cell per driver). select1 also gives the CPU row and latency at c=100.
const WORKLOADS = {
  select1: { concurrency: 100, pgbench: 'select1' },
  point: { concurrency: 100, pgbench: 'select-only' },
  rows10k: { concurrency: 4 },
  mixed1k: { concurrency: 4 },
  lat1: { concurrency: 1 },
  lat10: { concurrency: 10 },
  idle: { concurrency: 0 }
}

// The drivers, in the table's column order. `peer`: counted for "best peer". `runs(w)`: the
// workloads a variant is measured on (default: all).
const DRIVERS = {
  pgwarden: { label: 'pgwarden' },
  // Statements share a connection only while every connection is busy: with fewer callers than
  // connections pipelineDepth changes nothing, so the variant runs where callers outnumber them.
  'pgwarden-depth1': { label: 'pgwarden, pipelineDepth 1', runs: (w) => WORKLOADS[w].concurrency > POOL },
  pg: { label: 'pg', peer: true },
  // Loading the driver and holding idle connections is the same with or without names.
  'pg-named': { label: 'pg, named statements', peer: true, runs: (w) => w !== 'idle' },
  'pg-native': { label: 'pg-native', peer: true },
  postgres: { label: 'postgres.js', peer: true },
  pgbench: { label: 'pgbench' }
}
const ALL_DRIVERS = Object.keys(DRIVERS)
const PEERS = ALL_DRIVERS.filter((d) => DRIVERS[d].peer)
const LABEL = Object.fromEntries(ALL_DRIVERS.map((d) => [d, DRIVERS[d].label]))
/** Whether driver `d` is measured on workload `w`. */
const runsOn = (d, w) => !DRIVERS[d].runs || DRIVERS[d].runs(w)

// Environment variables pgwarden reads that change how it sends statements: set, they would make
// "pgwarden with its defaults" untrue.
const PGWARDEN_ENV = /^(DB_PIPELINE_DEPTH|DB_STATEMENT_CACHE_SIZE|PGWARDEN_WORKER_THREADS)$/

function parseArgs (argv) {
  const o = { duration: 10, warmup: 2, rounds: 1, only: null, drivers: ALL_DRIVERS, long: false, write: false, queries: 1000000 }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const next = () => {
      if (argv[i + 1] === undefined) throw new Error(`${k} needs a value`)
      return argv[++i]
    }
    if (k === '--duration') o.duration = Number(next())
    else if (k === '--warmup') o.warmup = Number(next())
    else if (k === '--rounds') o.rounds = Math.max(1, Math.floor(Number(next())))
    else if (k === '--only') o.only = next().split(',').map((s) => s.trim()).filter(Boolean)
    else if (k === '--drivers') o.drivers = next().split(',').map((s) => s.trim()).filter(Boolean)
    else if (k === '--queries') o.queries = Number(next())
    else if (k === '--long') o.long = true
    else if (k === '--write') o.write = true
    else if (k === '-h' || k === '--help') {
      const lines = fs.readFileSync(__filename, 'utf8').split('\n').slice(1)
      console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'))
      process.exit(0)
    } else throw new Error(`unknown option ${k}`)
  }
  for (const d of o.drivers) if (!ALL_DRIVERS.includes(d)) throw new Error(`unknown driver ${d} (${ALL_DRIVERS.join(', ')})`)
  for (const w of o.only || []) if (!WORKLOADS[w]) throw new Error(`unknown workload ${w} (${Object.keys(WORKLOADS).join(', ')})`)
  if (!(o.duration > 0) || !(o.warmup >= 0)) throw new Error('--duration must be > 0 and --warmup >= 0')
  return o
}

const median = (xs) => {
  const s = xs.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return null
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function runWorker (args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(__dirname, 'worker.js'), ...args],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = stdout.trim().split('\n').pop()
      let r
      try {
        r = JSON.parse(line)
      } catch {
        r = { error: `worker ${signal ? `killed by ${signal}` : `exit ${code}`}: ${(stderr || stdout).trim().slice(-2000)}` }
      }
      if (stderr.trim() && !r.error) r.stderr = stderr.trim().slice(-500)
      resolve(r)
    })
  })
}

/** pgbench -M prepared -c 20 -j 2; its CPU from the waiting shell's cutime/cstime. */
async function runPgbench (cluster, kind, seconds, scriptFile) {
  const pgbench = path.join(cluster.binDir, 'pgbench')
  const args = ['-n', '-M', 'prepared', '-c', String(POOL), '-j', '2', '-T', String(seconds),
    '-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres']
  if (kind === 'select-only') args.push('-S')
  else args.push('-f', scriptFile)
  args.push('postgres')
  const quoted = [pgbench, ...args].map((s) => `'${s.replace(/'/g, "'\\''")}'`).join(' ')
  const { stdout } = await exec('sh', ['-c', `${quoted}; ec=$?; echo "@@STAT $(cat /proc/$$/stat)"; exit $ec`],
    { timeoutMs: (seconds + 60) * 1000 })
  const tps = Number((stdout.match(/tps = ([\d.]+) \((?:without|excluding)/) || [])[1])
  const tx = Number((stdout.match(/number of transactions actually processed: (\d+)/) || [])[1])
  const stat = (stdout.match(/@@STAT (.*)/) || [])[1] || ''
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from #3 (state) on
  const tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  const cpuMs = ((Number(fields[13]) + Number(fields[14])) / tck) * 1000 // cutime + cstime
  return { driver: 'pgbench', ops: tx, qps: tps, cpuMs, cpuPer1k: tx ? (cpuMs / tx) * 1000 : null }
}

async function prepareData (cluster) {
  const pgbench = path.join(cluster.binDir, 'pgbench')
  const t = Date.now()
  await exec(pgbench, ['-i', '-q', '-s', String(SCALE), '-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', 'postgres'],
    { timeoutMs: 600000 })
  await cluster.adminScript(`
    CREATE TABLE bench_mixed (i4 int4, i8 int8, num numeric(14,4), txt text, ts timestamptz, js jsonb,
                              by bytea, b bool, u uuid, f8 float8);
    INSERT INTO bench_mixed
      SELECT g, g::int8 * 1000000007, g * 3.1416, 'row ' || g || ' ' || repeat('x', 24),
             timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute',
             jsonb_build_object('id', g, 'tags', jsonb_build_array('a', 'b'), 'ok', g % 2 = 0),
             decode(md5(g::text), 'hex'), g % 2 = 0, md5(g::text)::uuid, g / 7.0
      FROM generate_series(1, 1000) g;
    VACUUM ANALYZE bench_mixed;`)
  return Date.now() - t
}

function machine (serverVersion) {
  let cpu = 'unknown'
  try { cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || cpu } catch {}
  let nproc = String(os.cpus().length)
  try { nproc = execFileSync('nproc', { encoding: 'utf8' }).trim() } catch {}
  const ver = (m) => { try { return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', m, 'package.json'), 'utf8')).version } catch { return 'not installed' } }
  let addon = ''
  try {
    const f = fs.readdirSync(ROOT).find((n) => n.startsWith('pgwarden.') && n.endsWith('.node'))
    if (f) addon = `${f}, built ${fs.statSync(path.join(ROOT, f)).mtime.toISOString()}`
  } catch {}
  return {
    nproc,
    cpu,
    memGB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: serverVersion,
    drivers: `pg ${ver('pg')}, pg-native ${ver('pg-native')}, postgres.js ${ver('postgres')}`,
    addon
  }
}

// ---- table --------------------------------------------------------------------------------

const fmtInt = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'))
const fmtMs = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
const fmtMB = (x) => (x == null ? '—' : x.toFixed(1))

// Rows of the table: label, where the number comes from, unit formatter, and which way is better.
const ROWS = [
  { w: 'select1', label: 'SELECT 1, 100 callers, pool 20 (q/s, higher is better)', get: (r) => r.qps, fmt: fmtInt, higher: true, bench: (b) => b.qps },
  { w: 'point', label: 'Point select by random aid (pgbench -S query), 100 callers, pool 20 (q/s, higher is better)', get: (r) => r.qps, fmt: fmtInt, higher: true, bench: (b) => b.qps },
  { w: 'rows10k', label: '10,000 rows x 4 columns, 4 callers (rows/s, higher is better)', get: (r) => r.rowsPerSec, fmt: fmtInt, higher: true },
  { w: 'mixed1k', label: '1,000 rows x 10 mixed types, 4 callers (rows/s, higher is better)', get: (r) => r.rowsPerSec, fmt: fmtInt, higher: true },
  { w: 'select1', label: 'Client CPU per 1,000 SELECT 1, 100 callers (ms, lower is better)', get: (r) => r.cpuPer1k, fmt: fmtMs, higher: false, bench: (b) => b.cpuPer1k },
  { w: 'lat1', label: 'SELECT 1 latency p50, 1 caller (ms, lower is better)', get: (r) => r.p50Ms, fmt: fmtMs, higher: false },
  { w: 'lat1', label: 'SELECT 1 latency p99, 1 caller (ms, lower is better)', get: (r) => r.p99Ms, fmt: fmtMs, higher: false },
  { w: 'lat10', label: 'SELECT 1 latency p50, 10 callers (ms, lower is better)', get: (r) => r.p50Ms, fmt: fmtMs, higher: false },
  { w: 'lat10', label: 'SELECT 1 latency p99, 10 callers (ms, lower is better)', get: (r) => r.p99Ms, fmt: fmtMs, higher: false },
  { w: 'select1', label: 'SELECT 1 latency p50, 100 callers (ms, lower is better)', get: (r) => r.p50Ms, fmt: fmtMs, higher: false },
  { w: 'select1', label: 'SELECT 1 latency p99, 100 callers (ms, lower is better)', get: (r) => r.p99Ms, fmt: fmtMs, higher: false },
  { w: 'idle', label: 'RSS of loading the driver (MB, lower is better)', get: (r) => r.loadMB, fmt: fmtMB, higher: false },
  { w: 'idle', label: 'RSS growth, pool of 20 idle connections (MB, lower is better)', get: (r) => r.idleGrowthMB, fmt: fmtMB, higher: false }
]

function derive (r) {
  if (!r || r.error || r.skipped || r.ops == null || r.elapsedMs == null) return r
  const s = r.elapsedMs / 1000
  return {
    ...r,
    qps: r.ops / s,
    rowsPerSec: r.rows / s,
    cpuPer1k: r.ops ? ((r.cpuUserMs + r.cpuSysMs) / r.ops) * 1000 : null
  }
}

function buildTable (results, pgbenchResults, drivers, withPgbench, skipped) {
  const cols = ['pgwarden', 'pgwarden-depth1', ...PEERS].filter((d) => drivers.includes(d))
  // pgwarden's columns, each with its ratio to the best peer.
  const ours = ['pgwarden', 'pgwarden-depth1'].filter((d) => drivers.includes(d))
  const ratioHead = { pgwarden: 'pgwarden / best peer', 'pgwarden-depth1': 'pipelineDepth 1 / best peer' }
  // A "best peer" is only the best of all peers: with one missing, no ratio is claimed.
  const missing = PEERS.filter((d) => !drivers.includes(d) || skipped[d])
  const head = ['Workload', ...cols.map((d) => LABEL[d]), ...(withPgbench ? ['pgbench'] : []), ...ours.map((d) => ratioHead[d])]
  const title = missing.length
    ? `**Not measured: ${missing.map((d) => LABEL[d]).join(', ')}${missing.some((d) => skipped[d]) ? ` (${missing.filter((d) => skipped[d]).map((d) => `${LABEL[d]}: ${skipped[d]}`).join('; ')})` : ''}. No "best peer" ratio is computed without every peer.**\n\n`
    : ''
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const row of ROWS) {
    if (!results[row.w]) continue
    const vals = {}
    const cells = cols.map((d) => {
      const rs = results[row.w][d]
      if (!rs) return '—'
      if (rs.skipped) return 'skipped'
      if (rs.every((r) => r.error)) return 'error'
      const v = median(rs.filter((r) => !r.error).map((r) => row.get(derive(r))))
      vals[d] = v
      return row.fmt(v)
    })
    let bench = '—'
    if (row.bench && pgbenchResults[row.w] && pgbenchResults[row.w].length) bench = row.fmt(median(pgbenchResults[row.w].map(row.bench)))
    const peers = PEERS.filter((d) => runsOn(d, row.w)).map((d) => vals[d]).filter((v) => v != null && v > 0)
    const ratios = ours.map((d) => {
      if (vals[d] == null || !peers.length || missing.length) return '—'
      const best = row.higher ? Math.max(...peers) : Math.min(...peers)
      return `${(vals[d] / best).toFixed(2)}x`
    })
    lines.push(`| ${[row.label, ...cells, ...(withPgbench ? [bench] : []), ...ratios].join(' | ')} |`)
  }
  return title + lines.join('\n')
}

// ---- main ---------------------------------------------------------------------------------

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const command = ['node', 'bench/run.js', ...process.argv.slice(2)].join(' ')
  const wanted = Object.keys(WORKLOADS).filter((w) => !o.only || o.only.includes(w))
  const drivers = o.drivers.filter((d) => d !== 'pgbench')
  const withPgbench = o.drivers.includes('pgbench')
  const log = (s) => process.stderr.write(s + '\n')

  log(`pgwarden bench: ${command}`)
  const cluster = await Cluster.start({ settings: { max_connections: 100, shared_buffers: '256MB' } })
  const onSignal = () => { cluster.destroy().finally(() => process.exit(130)) }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const scriptFile = path.join(cluster.baseDir, 'select1.sql')
  fs.writeFileSync(scriptFile, 'SELECT 1;\n')
  try {
    const serverVersion = (await cluster.admin('SELECT version()'))[0][0]
    log(`PostgreSQL at ${cluster.url}: ${serverVersion}`)
    log(`loading pgbench -i -s ${SCALE} and bench_mixed ...`)
    log(`  done in ${((await prepareData(cluster)) / 1000).toFixed(1)} s`)

    const results = {}
    const pgbenchResults = {}
    const skipped = {}
    const oddities = []
    for (const k of Object.keys(process.env).filter((k) => PGWARDEN_ENV.test(k)).sort()) {
      oddities.push(`${k}=${process.env[k]} was set: pgwarden reads it, so its columns are not its defaults`)
    }
    const cellMs = (o.duration + o.warmup) * 1000
    for (const w of wanted) {
      results[w] = {}
      for (let round = 0; round < o.rounds; round++) {
        const here = drivers.filter((d) => runsOn(d, w))
        const order = here.slice(round % here.length).concat(here.slice(0, round % here.length))
        for (const d of order) {
          if (skipped[d]) { results[w][d] = { skipped: skipped[d] }; continue }
          const args = ['--driver', d, '--workload', w, '--duration', String(o.duration), '--warmup', String(o.warmup),
            '--concurrency', String(WORKLOADS[w].concurrency), '--pool', String(POOL), '--url', cluster.url, '--scale', String(SCALE)]
          const r = await runWorker(args, cellMs + 120000)
          if (r.skipped) {
            skipped[d] = r.skipped
            results[w][d] = { skipped: r.skipped }
            log(`  ${d}: skipped — ${r.skipped}`)
            continue
          }
          ;(results[w][d] = Array.isArray(results[w][d]) ? results[w][d] : []).push(r)
          const dr = derive(r)
          if (r.error) {
            oddities.push(`${w}/${d}: ${r.error.split('\n')[0]}`)
            log(`  ${w} ${d} round ${round + 1}: ERROR ${r.error.split('\n').slice(0, 3).join(' / ')}`)
          } else if (w === 'idle') {
            log(`  ${w} ${d}: load ${fmtMB(r.loadMB)} MB, +${fmtMB(r.idleGrowthMB)} MB for ${r.serverConnections} server connections`)
            if (r.serverConnections < POOL) oddities.push(`idle/${d}: only ${r.serverConnections} connections seen by the server`)
          } else {
            log(`  ${w} ${d} round ${round + 1}: ${fmtInt(dr.qps)} q/s, ${fmtInt(dr.rowsPerSec)} rows/s, ` +
              `p50 ${fmtMs(r.p50Ms)} ms, p99 ${fmtMs(r.p99Ms)} ms, cpu ${fmtMs(dr.cpuPer1k)} ms/1k` +
              (r.errors ? `, ${r.errors} errors (${r.firstError})` : ''))
            if (r.errors) oddities.push(`${w}/${d}: ${r.errors} query errors, first: ${r.firstError}`)
          }
          if (r.stderr) oddities.push(`${w}/${d} stderr: ${r.stderr.split('\n')[0]}`)
        }
        const kind = WORKLOADS[w].pgbench
        if (withPgbench && kind) {
          if (o.warmup > 0) await runPgbench(cluster, kind, Math.max(1, Math.round(o.warmup)), scriptFile).catch(() => {})
          try {
            const b = await runPgbench(cluster, kind, o.duration, scriptFile)
            ;(pgbenchResults[w] = pgbenchResults[w] || []).push(b)
            log(`  ${w} pgbench round ${round + 1}: ${fmtInt(b.qps)} q/s, cpu ${fmtMs(b.cpuPer1k)} ms/1k`)
          } catch (e) {
            oddities.push(`${w}/pgbench: ${e.message.split('\n')[0]}`)
            log(`  ${w} pgbench: ERROR ${e.message}`)
          }
        }
      }
    }

    let longResult = null
    if (o.long && drivers.includes('pgwarden')) {
      log(`long: pgwarden, ${fmtInt(o.queries)} x SELECT 1 at 100 callers ...`)
      longResult = await runWorker(['--driver', 'pgwarden', '--workload', 'long', '--queries', String(o.queries),
        '--concurrency', '100', '--pool', String(POOL), '--url', cluster.url], 3600000)
      if (longResult.error) oddities.push(`long/pgwarden: ${longResult.error.split('\n')[0]}`)
    }

    const table = buildTable(results, pgbenchResults, drivers, withPgbench, skipped)
    const info = machine(serverVersion)
    const notes = []
    for (const [d, why] of Object.entries(skipped)) notes.push(`${LABEL[d]} skipped: ${why}`)
    let longText = ''
    if (longResult && !longResult.error) {
      const growth = longResult.rssEndMB - longResult.rssFirstSampleMB
      longText = `pgwarden RSS over ${fmtInt(longResult.ops)} x SELECT 1 (100 callers, pool 20): ` +
        `${fmtMB(longResult.rssFirstSampleMB)} MB after the first 10%, ${fmtMB(longResult.rssEndMB)} MB at the end ` +
        `(${growth >= 0 ? '+' : ''}${fmtMB(growth)} MB), ${fmtInt(longResult.ops / (longResult.elapsedMs / 1000))} q/s, ` +
        `${longResult.errors} errors. Samples (queries: MB): ${longResult.samples.map((s) => `${s.queries / 1000}k: ${fmtMB(s.rssMB)}`).join(', ')}`
    }

    console.log('')
    console.log(table)
    if (longText) console.log('\n' + longText)
    for (const n of notes) console.log(`\nNote: ${n}`)
    for (const n of oddities) console.log(`Odd: ${n}`)
    console.log(`\n${info.nproc} CPUs (${info.cpu}), Node ${info.node}, ${info.postgres}`)

    if (o.write) {
      const file = path.join(ROOT, 'docs', 'BENCHMARKS.md')
      fs.writeFileSync(file, renderDoc({ o, command, table, info, longText, notes, oddities }) + handWritten(file))
      log(`wrote ${path.relative(ROOT, file)}`)
    }
  } finally {
    await cluster.destroy()
  }
}

// The sections this runner writes; everything after them in BENCHMARKS.md is written by hand
// (other benchmarks, profiles) and kept when the file is written again.
const GENERATED = ['Command', 'Machine', 'Results', 'How the numbers are taken']

/** The hand-written rest of `file`: from its first section this runner does not write. */
function handWritten (file) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
  const m = [...text.matchAll(/^## (.+)$/gm)].find((h) => !GENERATED.includes(h[1].trim()))
  return m ? '\n' + text.slice(m.index) : ''
}

function renderDoc ({ o, command, table, info, longText, notes, oddities }) {
  return `# Benchmarks

Produced by \`bench/run.js\` (\`npm run bench\`); not part of \`npm test\`. Re-run it after a change
that could matter and commit the new file.

How each ratio in the Results table was obtained:

- **pgwarden runs with its defaults, and at 100 callers that means shared connections.** With 100
  callers on 20 connections every connection is busy, and pgwarden then lets up to 8 statements
  share one connection (\`pipelineDepth\` 8, the default): the next statement to get a connection
  takes up to 7 waiting ones along and sends them in one write. pg and pg-native send one
  statement per connection at a time; postgres.js also sends statements on busy connections (its
  \`max_pipeline\`, 100 by default). The column "pgwarden, pipelineDepth 1" is pgwarden with
  sharing off (\`pipelineDepth: 1\`, one statement per connection at a time) on the same 100-caller
  cells, and "pipelineDepth 1 / best peer" is its ratio. At 1, 4 and 10 callers no statement waits
  for a connection, so none shares one and \`pipelineDepth\` changes nothing: those rows have no
  pipelineDepth 1 cell.
- **pgwarden and postgres.js reuse prepared statements; pg and pg-native parse every call.**
  pgwarden and postgres.js (\`prepare: true\`) prepare each statement text once per connection and
  then only bind and execute it. pg and pg-native send a statement without parameters as a simple
  query and one with parameters as an unnamed statement, so the server parses and plans it on every
  call. The column "pg, named statements" is pg given \`{ name, text, values }\`, which prepares each
  text once per connection and then reuses it.
- **"best peer"** is the best of pg, pg with named statements, pg-native and postgres.js in that
  row. pgbench is the ceiling, not a peer.

## Command

\`\`\`
${command}
\`\`\`

Run on ${new Date().toISOString().slice(0, 10)} (${new Date().toISOString()}).

## Machine

- CPUs: ${info.nproc} (${info.cpu}), memory ${info.memGB} GB, ${info.os}
- ${info.postgres}; local cluster started by the test harness (TCP on 127.0.0.1, fsync off,
  synchronous_commit off, shared_buffers 256MB), \`pgbench -i -s ${SCALE}\` data
- Node ${info.node}; ${info.drivers}
- pgwarden addon: ${info.addon || 'unknown'}

The server, the client under test and (for the ceiling) pgbench share these CPUs, so a faster client
also leaves more CPU to the server; absolute numbers are machine-specific, compare the ratios.

## Results

Each cell: a fresh process per driver and workload, ${o.warmup} s warm-up then ${o.duration} s measured,
closed loop (each caller sends its next query when the previous one returns), pool of ${POOL}
connections (pg \`max: 20\`, the same for pg with named statements; postgres.js \`max: 20, prepare: true\`;
pgwarden \`connectionLimit: 20\`, and \`pipelineDepth: 1\` in its second column).
Drivers run one after another within each workload, order rotated each round; ${o.rounds} round(s),
median shown. The ratio columns compare against the best peer (see the top of this file):
above 1 is better for throughput rows, below 1 is better for CPU, latency and memory rows.
pg with named statements has no memory cells: loading pg and holding idle connections do not
depend on how statements are sent.

${table}
${longText ? `\n${longText}\n` : ''}${notes.length ? '\n' + notes.map((n) => `- ${n}`).join('\n') + '\n' : ''}${oddities.length ? '\nIssues seen during the run:\n\n' + oddities.map((n) => `- ${n}`).join('\n') + '\n' : ''}
## How the numbers are taken

- Throughput: queries (or rows) completed inside the measured window / window length.
- Client CPU: \`process.cpuUsage()\` (user + system, all threads of the process, so pgwarden's
  Rust threads count) over the measured window / queries x 1000, from the same cells as the
  \`SELECT 1\` throughput row.
- Latency: per-query time from call to resolved promise, p50/p99 over the measured window; the
  100-caller row comes from the throughput cell (mostly time waiting for one of the 20 connections).
- pgbench: \`pgbench -n -M prepared -c 20 -j 2 -T ${o.duration}\` with \`-f\` a \`SELECT 1;\` script, and
  with \`-S\` (select-only, the same point query), after a ${Math.round(o.warmup)} s warm-up run;
  tps without connection time; its CPU from the waiting shell's cutime + cstime.
- Memory: RSS after loading the driver, then after opening 20 connections and returning them to
  the pool idle (gc run before both readings; the server confirms the connection count).
  \`--long\` adds pgwarden's RSS over 1M \`SELECT 1\`.
- Result types are each driver's defaults, so the mixed-types row measures what users get out of
  the box: int8 and numeric come back as strings in all four drivers (pgwarden's \`int8\` option
  can make int8 a bigint or a number).
`
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e && e.stack ? e.stack : e)
    process.exit(1)
  })
}

module.exports = { buildTable, renderDoc }
