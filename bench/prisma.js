'use strict'
// Prisma through @prisma/adapter-pg and through pgwarden/prisma, side by side in one run:
//
//   node bench/prisma.js [--duration 10] [--concurrency 50] [--rounds 2] [--profile]
//
// On a throwaway PostgreSQL with the test schema (__tests__/prisma): findMany of 100 users with
// their posts, findUnique by id, and a create inside an interactive transaction, each with 50
// concurrent callers for --duration seconds. Each (adapter, workload) cell runs in its own
// process, the adapters' cells interleaved, round after round. The tables give operations/s,
// p99 latency and pgwarden's ratio per round, and the client CPU per 1,000 operations by
// thread; `--profile` adds a pass of profiled cells that splits the JS thread's CPU into
// Prisma's, the driver's (pgwarden's lib/; pg and adapter-pg), the collector's and the rest's.
// Not part of npm test.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { inChild } = require('./cell')
const { threadCpu, cpuSince, startProfile, shares } = require('./cpu-split')
const { parseArgs } = require('node:util')
const { Cluster } = require('../lib/cluster')

const ROOT = path.join(__dirname, '..')
const CLIENT_DIR = path.join(ROOT, 'node_modules', '.pgwarden-test-prisma')
const ADAPTERS = ['adapter-pg', 'pgwarden']
const WORKLOADS = {
  findManyInclude: (prisma) => prisma.user.findMany({ take: 100, include: { posts: true }, orderBy: { id: 'asc' } }),
  findUnique: (prisma) => prisma.user.findUnique({ where: { id: 1 + Math.floor(Math.random() * 100) } }),
  createInTransaction: (prisma) => prisma.$transaction(async (tx) => {
    const u = await tx.user.findUnique({ where: { id: 1 + Math.floor(Math.random() * 100) } })
    return tx.post.create({ data: { title: 'bench', authorId: u.id } })
  })
}
const POOL = 10

/**
 * Who owns a function the profile sampled: Prisma (its client runtime and query compiler),
 * the driver (pgwarden's lib/, or pg and adapter-pg), the garbage collector, or the rest
 * (Node's internals, the benchmark loop).
 */
function ownerOf ({ url: address, functionName }) {
  const url = address.startsWith('file://') ? address.slice('file://'.length) : address
  if (functionName === '(garbage collector)') return 'gc'
  if (url.includes('.pgwarden-test-prisma') || url.includes('@prisma/client') || url.startsWith('wasm://') || functionName.startsWith('js-to-wasm')) return 'prisma'
  if (url.startsWith(path.join(ROOT, 'lib'))) return 'driver'
  if (/node_modules\/(pg|pg-protocol|pg-types|pg-pool|postgres-array|@prisma\/adapter-pg)\//.test(url)) return 'driver'
  return 'rest'
}

/**
 * One cell in this process: prints `{ ops, p99, cpu }`, `cpu` being CPU ms per 1,000
 * operations by thread (`js`, `runtime`: pgwarden's workers, `helpers`: V8's and libuv's) and,
 * with `profile`, the JS thread's by owner (`prisma`, `driver`, `gc`, `rest`).
 */
async function cell (adapterName, workload, url, seconds, concurrency, profile) {
  const { PrismaClient } = require(CLIENT_DIR)
  const adapter = adapterName === 'pgwarden'
    ? new (require('../lib/prisma').PrismaPgWarden)({ connectionString: url, connectionLimit: POOL, logger: false })
    : new (require('@prisma/adapter-pg').PrismaPg)({ connectionString: url, max: POOL })
  const prisma = new PrismaClient({ adapter })
  const run = WORKLOADS[workload]
  const until = (ms) => performance.now() + ms
  const loop = async (end, lat) => {
    while (performance.now() < end) {
      const t = performance.now()
      await run(prisma)
      if (lat) lat.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => loop(until(1000)))) // warm-up
  const lat = []
  const profiler = profile ? await startProfile() : null
  const cpu0 = threadCpu()
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, () => loop(until(seconds * 1000), lat)))
  const elapsed = (performance.now() - started) / 1000
  const used = cpuSince(cpu0)
  const byOwner = profiler ? shares(await profiler.stop(), ownerOf) : {}
  lat.sort((a, b) => a - b)
  await prisma.$disconnect()
  const cpu = {}
  for (const [k, ms] of Object.entries(used)) cpu[k] = (1000 * ms) / lat.length
  for (const [owner, share] of Object.entries(byOwner)) cpu[owner] = share * cpu.js
  return { ops: lat.length / elapsed, p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))], cpu }
}

async function main () {
  const { values: o, positionals } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '2' },
      profile: { type: 'boolean', default: false },
      cell: { type: 'boolean' }
    },
    allowPositionals: true
  })
  if (o.cell) {
    const [adapterName, workload, url] = positionals
    const result = await cell(adapterName, workload, url, Number(o.duration), Number(o.concurrency), o.profile)
    process.stdout.write(JSON.stringify(result) + '\n')
    return
  }
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'prisma'), ['generate', '--schema', path.join(ROOT, '__tests__', 'prisma', 'schema.prisma')],
    { env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false' }, stdio: 'ignore' })
  const cluster = await Cluster.start({ settings: { max_connections: 100 } })
  try {
    await cluster.adminScript(fs.readFileSync(path.join(ROOT, '__tests__', 'prisma', 'schema.sql'), 'utf8'))
    await cluster.adminScript(`INSERT INTO "User" (email, name, big, balance, meta, tags)
      SELECT 'u' || g || '@example.com', 'User ' || g, g * 1000003, g * 1.25, jsonb_build_object('g', g), ARRAY['a', 'b']
      FROM generate_series(1, 100) g;
      INSERT INTO "Post" (title, "authorId") SELECT 'Post ' || g, 1 + g % 100 FROM generate_series(1, 300) g;`)
    const run = async (adapterName, workload, profile) => {
      const args = [adapterName, workload, cluster.url, '--duration', o.duration, '--concurrency', o.concurrency]
      const r = await inChild(__filename, profile ? [...args, '--profile'] : args)
      // Every cell starts from the same 300 posts (findMany reads them all).
      await cluster.adminScript('DELETE FROM "Post" WHERE title = \'bench\'')
      return r
    }
    const rounds = Number(o.rounds)
    const results = {} // workload → adapter → results by round
    for (let round = 0; round < rounds; round++) {
      for (const w of Object.keys(WORKLOADS)) {
        results[w] ??= { 'adapter-pg': [], pgwarden: [] }
        const order = round % 2 === 0 ? ADAPTERS : [...ADAPTERS].reverse()
        for (const a of order) results[w][a].push(await run(a, w, false))
        process.stderr.write(`round ${round + 1}, ${w}: ${ADAPTERS.map((a) => Math.round(results[w][a][round].ops)).join(' / ')} ops/s\n`)
      }
    }
    const profiles = {}
    if (o.profile) {
      for (const w of Object.keys(WORKLOADS)) {
        profiles[w] = {}
        for (const a of ADAPTERS) profiles[w][a] = (await run(a, w, true)).cpu
      }
    }
    console.log(tables(results, profiles, o.concurrency))
  } finally {
    await cluster.destroy()
  }
}

/** The Markdown tables of a run: throughput per round, CPU by thread, and (profiled) by owner. */
function tables (results, profiles, concurrency) {
  const each = (list, f) => list.map(f).join(' / ')
  const ms = (v) => v.toFixed(0)
  const out = [
    `| Prisma workload, ${concurrency} callers, pool ${POOL} | adapter-pg ops/s | pgwarden ops/s | ratio | adapter-pg p99 ms | pgwarden p99 ms |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const [w, r] of Object.entries(results)) {
    const [theirs, ours] = [r['adapter-pg'], r.pgwarden]
    out.push(`| ${w} | ${each(theirs, (x) => Math.round(x.ops))} | ${each(ours, (x) => Math.round(x.ops))} | ` +
      `${each(ours, (x, i) => (x.ops / theirs[i].ops).toFixed(2) + 'x')} | ${each(theirs, (x) => x.p99.toFixed(1))} | ${each(ours, (x) => x.p99.toFixed(1))} |`)
  }
  out.push('', '| client CPU ms per 1,000 operations | adapter | JS thread | runtime workers | V8 and libuv helpers | all |', '| --- | --- | ---: | ---: | ---: | ---: |')
  for (const [w, r] of Object.entries(results)) {
    for (const a of ADAPTERS) {
      const c = r[a].map((x) => x.cpu)
      out.push(`| ${w} | ${a} | ${each(c, (x) => ms(x.js))} | ${each(c, (x) => ms(x.runtime))} | ${each(c, (x) => ms(x.helpers))} | ${each(c, (x) => ms(x.js + x.runtime + x.helpers))} |`)
    }
  }
  if (Object.keys(profiles).length > 0) {
    // The profiler's own sampling thread counts among the helpers of a profiled cell: the
    // helpers' time is taken from the unprofiled rounds instead.
    out.push('', '| profiled, CPU ms per 1,000 operations | adapter | Prisma | driver JS | runtime workers | garbage collector | rest | driver share |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const [w, byAdapter] of Object.entries(profiles)) {
      for (const [a, profiled] of Object.entries(byAdapter)) {
        const rounds = results[w][a]
        const c = { ...profiled, helpers: rounds.reduce((sum, x) => sum + x.cpu.helpers, 0) / rounds.length }
        const all = c.js + c.runtime + c.helpers
        const driver = (c.driver || 0) + c.runtime
        out.push(`| ${w} | ${a} | ${ms(c.prisma || 0)} | ${ms(c.driver || 0)} | ${ms(c.runtime)} | ${ms(c.gc || 0)} | ${ms((c.rest || 0) + c.helpers)} | ${(100 * driver / all).toFixed(1)}% |`)
      }
    }
  }
  return out.join('\n')
}

main().catch((e) => { console.error(e); process.exit(1) })
