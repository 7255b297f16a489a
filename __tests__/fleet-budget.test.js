'use strict'
// A connection budget that holds across a fleet (connectionLimit: 'auto', fleet): separate
// processes of one fleet on a server with max_connections 40, each under load, find each other
// through the database and each takes an equal share. Sampled from pg_stat_activity every
// 100 ms: together they never hold more than the budget once settled; one killed lets the others
// grow within two refresh periods; a fourth makes them shrink without a failed statement.

const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { Pool } = require('..')
const { ownedCluster } = require('./harness')
const { sleep, eventually, thrownBy } = require('./helpers/common')

const REFRESH_MS = 500
const FLEET = 'orders'
const APP = 'fleet_app'
// (max_connections 40 − 3 reserved for superusers) × 0.8
const BUDGET = 29

const CHILD = `
const { Pool } = require(${JSON.stringify(path.join(__dirname, '..'))})
const [url, name, app, refreshMs] = process.argv.slice(1)
const pool = new Pool({ connectionString: url, connectionLimit: 'auto', fleet: { name, refreshMs: Number(refreshMs) }, applicationName: app, poolTimeoutMs: 60000, logger: false })
let failures = 0
let stop = false
const loop = async () => {
  while (!stop) {
    try { await pool.query('SELECT pg_sleep(0.02)') } catch (e) { failures++; console.error(e.code, e.message) }
  }
}
const loops = Array.from({ length: 30 }, loop)
const report = () => {
  const s = pool.getPoolStats()
  process.stdout.write(JSON.stringify({ limit: s.pool.limit, total: s.pool.total, instances: s.fleet.instances, budget: s.fleet.budget, failures }) + '\\n')
}
const timer = setInterval(report, 100)
process.on('SIGTERM', async () => {
  stop = true
  await Promise.all(loops)
  clearInterval(timer)
  report()
  await pool.end()
  process.exit(0)
})
`

let server
const children = []
beforeAll(async () => {
  server = await ownedCluster({ settings: { max_connections: 40, superuser_reserved_connections: 3 } })
}, 60000)
afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL')
  if (server) await server.destroy()
}, 30000)

/** Starts one instance of the fleet; `child.last` is its latest report. */
function startInstance () {
  const proc = spawn(process.execPath, ['-e', CHILD, server.url, FLEET, APP, String(REFRESH_MS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const child = { proc, last: null, stderr: '' }
  readline.createInterface({ input: proc.stdout }).on('line', (line) => { child.last = JSON.parse(line) })
  proc.stderr.on('data', (d) => { child.stderr += d })
  children.push(child)
  return child
}

/** Stops `child` cleanly; resolves to its last report. */
function stopInstance (child) {
  return new Promise((resolve) => {
    child.proc.once('exit', () => resolve(child.last))
    child.proc.kill('SIGTERM')
  })
}

/** The fleet's connections on the server now: its pools' and its beacons. */
async function fleetConnections () {
  const rows = await server.admin(`SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('${APP}', 'pgwarden-fleet:${FLEET}')`)
  return Number(rows[0][0])
}

/** The most the fleet held over `ms`, sampled every 100 ms. */
async function peakOver (ms) {
  let peak = 0
  for (const end = Date.now() + ms; Date.now() < end;) {
    peak = Math.max(peak, await fleetConnections())
    await sleep(100)
  }
  return peak
}

/** Waits until every one of `live` reports `instances` and pool limit `limit`. */
const settled = (live, instances, limit, ms = 6000) =>
  eventually(() => live.every((c) => c.last && c.last.instances === instances && c.last.limit === limit), Boolean, { ms })

test('three instances share the budget, a killed one lets the others grow, a fourth makes them shrink without a failed statement', async () => {
  const [a, b, c] = [startInstance(), startInstance(), startInstance()]
  // Each: a third of 29 is 9 connections, its beacon and 8 in its pool.
  expect(await settled([a, b, c], 3, 8)).toBe(true)
  expect(a.last.budget).toBe(BUDGET)
  expect(await eventually(() => [a, b, c].every((x) => x.last.total === 8), Boolean, { ms: 3000 })).toBe(true)
  // pgwarden doctor sees the fleet.
  const out = []
  const io = { out: (t) => out.push(t), err: (t) => out.push(t) }
  await require('../lib/cli/doctor').doctor(['--url', server.url, '--json'], io)
  expect(JSON.parse(out.join('')).server.fleets).toEqual([{ name: FLEET, instances: 3 }])
  const peak = await peakOver(2000)
  console.log(`[fleet] three instances: at most ${peak} connections of a budget of ${BUDGET}`)
  expect(peak).toBeLessThanOrEqual(BUDGET)

  // One dies: its beacon's session ends, the other two grow to half within two refresh periods.
  c.proc.kill('SIGKILL')
  const died = Date.now()
  expect(await settled([a, b], 2, 13, 4 * REFRESH_MS)).toBe(true)
  console.log(`[fleet] one killed: the others took half (13 each) after ${Date.now() - died} ms`)
  expect(Date.now() - died).toBeLessThanOrEqual(2 * REFRESH_MS + 500)
  expect(await eventually(() => a.last.total === 13 && b.last.total === 13, Boolean, { ms: 3000 })).toBe(true)
  expect(await peakOver(1000)).toBeLessThanOrEqual(BUDGET)

  // A fourth joins: the others shrink back to a third, and it takes its share.
  const d = startInstance()
  expect(await settled([a, b, d], 3, 8)).toBe(true)
  expect(await eventually(() => [a, b].every((x) => x.last.total <= 8), Boolean, { ms: 3000 })).toBe(true)
  expect(await peakOver(1500)).toBeLessThanOrEqual(BUDGET)
  const finals = await Promise.all([a, b, d].map(stopInstance))
  for (const f of finals) expect(f.failures).toBe(0)
  expect(a.stderr + b.stderr + d.stderr).toBe('')
}, 120000)

test('getPoolStats().fleet and the fleet\'s gauges in metrics()', async () => {
  const pool = new Pool({ connectionString: server.url, connectionLimit: 'auto', fleet: { name: 'solo', refreshMs: 200, budget: 6 }, logger: false })
  try {
    expect(await eventually(() => pool.getPoolStats().fleet.limit === 5, Boolean, { ms: 3000 })).toBe(true)
    expect(pool.getPoolStats().fleet).toMatchObject({ name: 'solo', instances: 1, budget: 6, share: 6, limit: 5, lastError: null, refreshMs: 200 })
    expect(pool.getPoolStats().pool.limit).toBe(5)
    expect(pool.metrics()).toContain('pgwarden_fleet_instances{fleet="solo"} 1\n')
    expect(pool.metrics()).toContain('pgwarden_fleet_share{fleet="solo"} 6\n')
  } finally {
    await pool.end()
  }
})

test('the fleet option is checked before anything starts', () => {
  const url = 'postgres://x@127.0.0.1:1/x'
  expect(thrownBy(() => new Pool({ connectionString: url, connectionLimit: 'auto' })).message).toMatch(/needs the fleet option/)
  expect(thrownBy(() => new Pool({ connectionString: url, fleet: { name: 'a' } })).message).toMatch(/needs connectionLimit: 'auto'/)
  expect(thrownBy(() => new Pool({ connectionString: url, connectionLimit: 'auto', fleet: { name: 'a b' } })).code).toBe('ERR_PGWARDEN_CONFIG')
  expect(thrownBy(() => new Pool({ connectionString: url, connectionLimit: 'auto', fleet: { name: 'a', refreshMs: 10 } })).message).toMatch(/refreshMs/)
  expect(thrownBy(() => new Pool({ connectionString: url, connectionLimit: 'auto', fleet: { name: 'a', budget: 0 } })).message).toMatch(/budget/)
  expect(thrownBy(() => new Pool({ connectionString: url, connectionLimit: 'auto', fleet: { name: 'a', size: 3 } })).message).toMatch(/unknown fleet option "size"/)
  expect(thrownBy(() => new Pool({ connectionString: url, connectionLimit: 'auto', pgbouncer: true, fleet: { name: 'a' } })).message).toMatch(/PgBouncer.*budget/)
})
