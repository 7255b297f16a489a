'use strict'
// Prisma through @prisma/adapter-pg and through pgwarden/prisma, side by side in one run:
//
//   node bench/prisma.js [--duration 10] [--concurrency 50]
//
// On a throwaway PostgreSQL with the test schema (__tests__/prisma): findMany of 100 users with
// their posts, findUnique by id, and a create inside an interactive transaction, each with 50
// concurrent callers for --duration seconds. Each (adapter, workload) cell runs in its own
// process; the table gives operations/s and p99 latency, with pgwarden's ratio. Not part of npm test.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { inChild } = require('./cell')
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
 * CPU time (ms) used so far by this process's JS thread and by its other threads (the native
 * runtime's workers, libuv's pool), from /proc: the split that says whose work an operation costs.
 */
function threadCpu () {
  const tick = 1000 / 100 // USER_HZ
  let js = 0
  let other = 0
  for (const tid of fs.readdirSync('/proc/self/task')) {
    // Fields after the command name: utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ms = (Number(f[11]) + Number(f[12])) * tick
    if (Number(tid) === process.pid) js += ms
    else other += ms
  }
  return { js, other }
}

/** One cell in this process: prints `{ ops, seconds, p99 }`. */
async function cell (adapterName, workload, url, seconds, concurrency) {
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
  const cpu0 = threadCpu()
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, () => loop(until(seconds * 1000), lat)))
  const elapsed = (performance.now() - started) / 1000
  const cpu1 = threadCpu()
  lat.sort((a, b) => a - b)
  await prisma.$disconnect()
  const perThousand = (ms) => (1000 * ms) / lat.length
  return {
    ops: lat.length / elapsed,
    p99: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))],
    jsMs: perThousand(cpu1.js - cpu0.js),
    otherMs: perThousand(cpu1.other - cpu0.other)
  }
}

async function main () {
  const { values: o, positionals } = parseArgs({
    options: { duration: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '50' }, cell: { type: 'boolean' } },
    allowPositionals: true
  })
  if (o.cell) {
    const [adapterName, workload, url] = positionals
    process.stdout.write(JSON.stringify(await cell(adapterName, workload, url, Number(o.duration), Number(o.concurrency))) + '\n')
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
    const lines = ['| Prisma workload, ' + o.concurrency + ' callers, pool ' + POOL + ' | adapter-pg ops/s | pgwarden ops/s | ratio | adapter-pg p99 ms | pgwarden p99 ms |', '| --- | ---: | ---: | ---: | ---: | ---: |']
    for (const w of Object.keys(WORKLOADS)) {
      const r = {}
      for (const a of ADAPTERS) r[a] = await inChild(__filename, [a, w, cluster.url, '--duration', o.duration, '--concurrency', o.concurrency])
      lines.push(`| ${w} | ${Math.round(r['adapter-pg'].ops)} | ${Math.round(r.pgwarden.ops)} | ${(r.pgwarden.ops / r['adapter-pg'].ops).toFixed(2)}x | ${r['adapter-pg'].p99.toFixed(1)} | ${r.pgwarden.p99.toFixed(1)} |`)
      process.stderr.write(lines[lines.length - 1] + '\n')
    }
    console.log(lines.join('\n'))
  } finally {
    await cluster.destroy()
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
