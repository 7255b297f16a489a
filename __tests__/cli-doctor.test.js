'use strict'
// `pgwarden doctor`: where each setting came from (password redacted), the server's limits,
// the recommended connectionLimit, warnings, and the live problems of the database (a session
// idle in a transaction holding a lock, a statement waiting for it), with exit codes
// 0 healthy, 1 warnings, 2 unreachable or bad usage.

const path = require('node:path')
const { execFile } = require('node:child_process')
const pg = require('pg')
const { freshDatabase } = require('./harness')
const { eventually } = require('./helpers/common')

const BIN = path.join(__dirname, '..', 'bin', 'pgwarden.js')

/** Runs `pgwarden doctor …`; resolves to `{ code, stdout, stderr }`. */
function doctor (args, env = {}) {
  const childEnv = { ...process.env, ...env }
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'doctor', ...args], { env: childEnv, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}

let url
beforeAll(async () => {
  url = await freshDatabase('doctor')
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)')
  await c.end()
})

test('a quiet database with sane settings is healthy: exit 0, every setting with its source', async () => {
  const r = await doctor(['--url', url, '--json'])
  expect([r.code, r.stderr]).toEqual([0, ''])
  const report = JSON.parse(r.stdout)
  const row = (name) => report.settings.find((s) => s.name === name)
  expect(row('connectionString').source).toBe('option connectionString')
  expect(row('poolTimeoutMs')).toEqual({ name: 'poolTimeoutMs', value: 10000, source: 'default' })
  expect(report.server.maxConnections).toBeGreaterThan(0)
  expect(report.server.byState).toEqual(expect.any(Array))
  expect(report.recommendation.perWorker).toBeGreaterThan(0)
  expect(report.recommendation.perWorker).toBeLessThanOrEqual(report.recommendation.capPerWorker)
  expect(report.warnings).toEqual([])
  expect(report.problems).toEqual([])
})

test('settings from the URL and the environment, password redacted, and a limit over 60% of the slots warned', async () => {
  const u = new URL(url)
  u.username = 'postgres'
  u.password = 'hunter2-secret'
  u.searchParams.set('connection_limit', '90')
  const r = await doctor(['--workers', '4'], { DATABASE_URL: u.toString(), DB_QUERY_TIMEOUT: '7000' })
  expect(r.code).toBe(1)
  expect(r.stdout + r.stderr).not.toContain('hunter2')
  expect(r.stdout).toMatch(/connectionString\s+postgres:\/\/postgres@\S+\s+environment variable DATABASE_URL/)
  expect(r.stdout).toMatch(/connectionLimit\s+90\s+URL parameter connection_limit/)
  expect(r.stdout).toMatch(/queryTimeoutMs\s+7000\s+environment variable DB_QUERY_TIMEOUT/)
  expect(r.stdout).toMatch(/! connectionLimit 90 × 4 worker\(s\) = 360 connections, over 60% of the server's \d+ slots: use at most \d+ per worker/)
  expect(r.stdout).toMatch(/verdict: attention needed/)
})

test('finds a session idle in a transaction and the statement waiting for its lock', async () => {
  const holder = new pg.Client({ connectionString: url, application_name: 'doctor_holder' })
  const waiter = new pg.Client({ connectionString: url, application_name: 'doctor_waiter' })
  await holder.connect()
  await waiter.connect()
  try {
    await holder.query('BEGIN')
    await holder.query('UPDATE accounts SET balance = balance - 1 WHERE id = 1')
    const waiting = waiter.query('UPDATE accounts SET balance = balance + 1 WHERE id = 1').catch((e) => e)
    const seen = await eventually(async () => (await doctor(['--url', url, '--json', '--long-ms', '200'])), (r) => JSON.parse(r.stdout).live.longRunning.length > 0, { ms: 10000, every: 300 })
    expect(seen.code).toBe(1)
    const report = JSON.parse(seen.stdout)
    const holderPid = holder.processID
    const waiterPid = waiter.processID
    expect(report.live.idleInTransaction).toEqual([expect.objectContaining({ pid: holderPid, application: 'doctor_holder', last_statement: expect.stringContaining('UPDATE accounts') })])
    expect(report.live.lockWaits).toEqual([expect.objectContaining({ waiting_pid: waiterPid, blocking_pid: holderPid, blocking_state: 'idle in transaction' })])
    expect(report.live.longRunning.map((q) => q.pid)).toContain(waiterPid)
    expect(report.problems.join('\n')).toMatch(new RegExp(`pid ${holderPid} \\(doctor_holder\\) is idle in a transaction open for \\d+ ms`))
    expect(report.problems.join('\n')).toMatch(new RegExp(`pid ${waiterPid} has waited \\d+ ms for a lock held by pid ${holderPid} \\(idle in transaction\\)`))
    await holder.query('ROLLBACK')
    await waiting
  } finally {
    await holder.end()
    await waiter.end()
  }
})

test('an unreachable server: exit 2, one line, no password', async () => {
  const r = await doctor(['--url', 'postgres://me:pw-secret@127.0.0.1:1/none?pool_timeout=1'])
  expect(r.code).toBe(2)
  expect(r.stderr).toMatch(/cannot examine postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/none\?pool_timeout=1: P1001/)
  expect(r.stderr).not.toContain('pw-secret')
})

test('bad usage: exit 2 naming the problem', async () => {
  expect(await doctor(['--workers', '0', '--url', url])).toEqual(expect.objectContaining({ code: 2, stderr: "pgwarden: --workers must be an integer ≥ 1, got '0'\n" }))
  expect(await doctor([])).toEqual(expect.objectContaining({ code: 2, stderr: 'pgwarden: doctor needs --url or DATABASE_URL\n' }))
})

describe('warnings for settings that contradict each other or the server', () => {
  const { warnings } = require('../lib/cli/doctor')
  const base = { host: 'db.internal', connectionLimit: 5, ssl: 'require', pgbouncer: false, poolTimeoutMs: 10000, connectTimeoutMs: 5000, queryTimeoutMs: 30000 }
  const server = { facts: { statement_timeout: '0' } }
  const rec = { workers: 1, capPerWorker: 50, slots: 97 }
  const defaults = [{ name: 'statementCacheSize', value: 100, source: 'default' }]

  test.each([
    [{}, defaults, server, []],
    [{ ssl: 'disable' }, defaults, server, [/sslmode is disable for the non-local host db.internal/]],
    [{ ssl: 'disable', host: '127.0.0.1' }, defaults, server, []],
    [{ pgbouncer: true }, [{ name: 'statementCacheSize', value: 0, source: 'URL parameter statement_cache_size' }], server,
      [/statementCacheSize from URL parameter statement_cache_size is ignored with pgbouncer=true/]],
    [{ connectTimeoutMs: 10000 }, defaults, server, [/connectTimeoutMs 10000 ≥ poolTimeoutMs 10000/]],
    [{}, defaults, { facts: { statement_timeout: '5s' } }, [/the server's statement_timeout \(5s\) fires before queryTimeoutMs 30000/]],
    [{ connectionLimit: 60 }, defaults, server, [/connectionLimit 60 × 1 worker\(s\) = 60 connections, over 60% of the server's 97 slots: use at most 50 per worker/]]
  ])('%j', (changes, sources, srv, expected) => {
    const found = warnings({ ...base, ...changes }, sources, srv, rec)
    expect(found).toHaveLength(expected.length)
    expected.forEach((re, i) => expect(found[i]).toMatch(re))
  })
})

test('a server nearly out of client slots is a live problem naming 53300', async () => {
  const { ownedCluster } = require('./harness')
  const small = await ownedCluster({ settings: { max_connections: 5, superuser_reserved_connections: 0 } })
  const hogs = []
  try {
    for (let i = 0; i < 4; i++) {
      const c = new pg.Client({ connectionString: small.url })
      await c.connect()
      hogs.push(c)
    }
    const r = await doctor(['--url', small.url, '--json'])
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report.problems).toEqual([expect.stringMatching(/^the server has 5 client connections of its 5 slots .* refused with 53300 \(too many clients\)/)])
  } finally {
    await Promise.all(hogs.map((c) => c.end()))
    await small.destroy()
  }
}, 60000)
