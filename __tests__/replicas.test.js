'use strict'
// Read replicas against real streaming replicas (pg_basebackup -R) of a private primary:
// routing of `replica: true` reads, writes on the primary, round-robin, a replica stopped under
// read load (fallback, one warning, back in rotation), replay lag over maxReplicaLagMs, the
// 25006 error, per-replica settings, config errors and password redaction.

const path = require('node:path')
const util = require('node:util')
const { execFile } = require('node:child_process')
const { PgWardenError } = require('..')
const { ownedCluster } = require('./harness')
const { eventually, failure, thrownBy, poolFactory, recordingLogger, sleep } = require('./helpers/common')

const PW = 'r3plica-s3cret'
const WHERE = 'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port'

let primary, r1, r2
beforeAll(async () => {
  primary = await ownedCluster()
  await primary.admin('CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) VALUES (\'seed\')')
  r1 = await primary.replica()
  r2 = await primary.replica()
}, 120000)
afterAll(async () => {
  for (const c of [r2, r1, primary]) if (c) await c.destroy()
})

const { makePool, endPools } = poolFactory(() => primary.url)
afterEach(endPools)

/** Where a read with `opts` ran: `{ standby, port }`. */
const where = async (pool, opts = { replica: true }) => (await pool.query(WHERE, [], opts)).rows[0]
const replicaState = (pool, i = 0) => pool.getPoolStats().replicas.servers[i].state

describe('background errors', () => {
  test("a replica's idle connection that dies reaches the pool's error event, naming the replica", async () => {
    const pool = makePool({ replicaUrls: [r1.url], applicationName: 'pgw_replica_idle_error' })
    await where(pool) // one idle connection on the replica now
    const errors = []
    pool.on('error', (e) => errors.push(e))
    await r1.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgw_replica_idle_error'")
    await eventually(() => errors.length > 0)
    expect(errors[0]).toBeInstanceOf(PgWardenError)
    expect(errors[0].replica).toBe(`127.0.0.1:${r1.port}`)
  })
})

describe('routing', () => {
  test('replica: true reads reach the replica; everything else uses the primary', async () => {
    const pool = makePool({ replicaUrls: [r1.url] })
    expect(await where(pool)).toEqual({ standby: true, port: r1.port })
    expect(await where(pool, {})).toEqual({ standby: false, port: primary.port })
    expect(await where(pool, { replica: false })).toEqual({ standby: false, port: primary.port })
    expect((await pool.replica().query(WHERE)).rows[0]).toEqual({ standby: true, port: r1.port })
    expect((await pool.replica().query({ text: 'SELECT $1::int AS n', values: [7] })).rows).toEqual([{ n: 7 }])
    const streamed = []
    for await (const row of pool.stream(WHERE, [], { replica: true })) streamed.push(row)
    expect(streamed).toEqual([{ standby: true, port: r1.port }])
    const viaView = []
    for await (const row of pool.replica().stream(WHERE)) viaView.push(row)
    expect(viaView).toEqual([{ standby: true, port: r1.port }])
    // acquire() and transactions always use the primary, replica: true or not.
    const client = await pool.acquire()
    try {
      expect((await client.query(WHERE, [], { replica: true })).rows[0]).toEqual({ standby: false, port: primary.port })
    } finally {
      client.release()
    }
    const inTx = await pool.transaction((tx) => tx.query(WHERE, [], { replica: true }))
    expect(inTx.rows[0]).toEqual({ standby: false, port: primary.port })
    const s = pool.getPoolStats().replicas
    expect(s).toEqual({ fallbacks: 0, servers: [expect.objectContaining({ address: `127.0.0.1:${r1.port}`, state: 'healthy', queries: 5, errors: 0 })] })
    expect(pool.metrics()).toContain(`pgwarden_replica_queries_total{replica="127.0.0.1:${r1.port}"} 5\n`)
  })

  test('writes go to the primary and replicate; a write with replica: true rejects with 25006, never re-sent', async () => {
    const pool = makePool({ replicaUrls: [r1.url] })
    const { rows: [{ id }] } = await pool.query('INSERT INTO t (v) VALUES ($1) RETURNING id', ['written'])
    const seen = await eventually(async () => (await pool.query('SELECT v FROM t WHERE id = $1', [id], { replica: true })).rows, (r) => r.length === 1)
    expect(seen).toEqual([{ v: 'written' }])
    const before = (await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n
    const e = await failure(pool.query('INSERT INTO t (v) VALUES ($1)', ['nope'], { replica: true }))
    expect(e).toBeInstanceOf(PgWardenError)
    expect(e.code).toBe('25006')
    expect(e.message).toContain('read-only transaction')
    expect(e.message).toContain(`replica: true and ran on the read replica at \`127.0.0.1:${r1.port}\``)
    expect(e.message).toContain('not sent to the primary')
    expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(before)
    expect(pool.getPoolStats().replicas.servers[0].errors).toBe(1)
    expect(pool.getPoolStats().replicas.fallbacks).toBe(0)
  })

  test('round-robin across two replicas', async () => {
    const pool = makePool({ replicaUrls: [r1.url, r2.url] })
    const ports = []
    for (let i = 0; i < 8; i++) ports.push((await where(pool)).port)
    expect(new Set(ports)).toEqual(new Set([r1.port, r2.port]))
    for (let i = 1; i < ports.length; i++) expect(ports[i]).not.toBe(ports[i - 1])
    expect(pool.getPoolStats().replicas.servers.map((s) => s.queries)).toEqual([4, 4])
  })

  test('without replicas, replica: true simply uses the primary', async () => {
    const pool = makePool()
    expect(await where(pool)).toEqual({ standby: false, port: primary.port })
    expect((await pool.replica().query(WHERE)).rows[0]).toEqual({ standby: false, port: primary.port })
    expect(pool.getPoolStats().replicas).toEqual({ fallbacks: 0, servers: [] })
    expect(pool.metrics()).not.toContain('pgwarden_replica')
    expect((await failure(pool.query('SELECT 1', [], { replica: 'yes' }))).code).toBe('ERR_PGWARDEN_PARAMS')
  })

  test("a replica URL's query parameters override the primary's settings for that replica only", async () => {
    const pool = makePool({ applicationName: 'primary_app', replicaUrls: [`${r1.url}?application_name=replica_app`] })
    const app = async (opts) => (await pool.query("SELECT current_setting('application_name') AS a", [], opts)).rows[0].a
    expect(await app({ replica: true })).toBe('replica_app')
    expect(await app({})).toBe('primary_app')
  })
})

describe('pgwarden/prisma on replicas', () => {
  test('an adapter with replica: true reads from the replicas; its transactions and writes stay on the primary', async () => {
    const { PrismaPgWarden } = require('../lib/prisma')
    const pool = makePool({ replicaUrls: [r1.url] })
    const reads = await new PrismaPgWarden(pool, { replica: true }).connect()
    const standby = 'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port'
    const r = await reads.queryRaw({ sql: standby, args: [], argTypes: [] })
    expect(r.rows).toEqual([[true, r1.port]])
    const tx = await reads.startTransaction()
    const inTx = await tx.queryRaw({ sql: standby, args: [], argTypes: [] })
    await tx.executeRaw({ sql: 'ROLLBACK', args: [], argTypes: [] })
    await tx.rollback()
    expect(inTx.rows).toEqual([[false, primary.port]])
    const write = await failure(reads.executeRaw({ sql: 'CREATE TABLE nope (a int)', args: [], argTypes: [] }))
    expect(write.name).toBe('DriverAdapterError')
    expect(write.cause.originalCode).toBe('25006')
    const writes = await new PrismaPgWarden(pool).connect()
    expect((await writes.queryRaw({ sql: standby, args: [], argTypes: [] })).rows).toEqual([[false, primary.port]])
  })
})

describe('health', () => {
  test('a replica stopped under read load: no failed read beyond those in flight, fallback counted, one warning, back after restart', async () => {
    const logger = recordingLogger()
    const pool = makePool({ replicaUrls: [r1.url], logger })
    expect(await where(pool)).toEqual({ standby: true, port: r1.port })
    const WORKERS = 4
    let failed = 0
    let running = true
    const ports = []
    const worker = async () => {
      while (running) { // eslint-disable-line no-unmodified-loop-condition -- set false after the failover below
        try {
          ports.push((await where(pool)).port)
        } catch {
          failed++
        }
      }
    }
    const load = Array.from({ length: WORKERS }, worker)
    await sleep(200)
    await r1.stop()
    const stoppedAt = ports.length
    await sleep(500)
    running = false
    await Promise.all(load)
    // At most the reads in flight when it went down fail; every later read went to the primary.
    expect(failed).toBeLessThanOrEqual(WORKERS)
    expect(ports.slice(stoppedAt + WORKERS)).not.toContain(r1.port)
    expect(ports.slice(-5)).toEqual(Array(5).fill(primary.port))
    const s = pool.getPoolStats().replicas
    expect(s.servers[0].state).toBe('down')
    expect(s.fallbacks).toBeGreaterThan(0)
    const warnings = logger.calls.warn.filter((w) => w.includes('read replica'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`read replica 127.0.0.1:${r1.port} is down`)
    const health = await pool.healthCheck()
    expect(health.status).toBe('degraded')
    expect(health.details.reasons).toContain(`read replica 127.0.0.1:${r1.port} is down: reads skip it`)
    expect(pool.metrics()).toContain(`pgwarden_replica_state{replica="127.0.0.1:${r1.port}",state="down"} 1\n`)
    await r1.start()
    expect(await eventually(() => replicaState(pool), 'healthy', { ms: 10000, every: 100 })).toBe('healthy')
    expect(await where(pool)).toEqual({ standby: true, port: r1.port })
    expect((await pool.healthCheck()).status).toBe('healthy')
    expect(logger.calls.warn.filter((w) => w.includes('read replica'))).toHaveLength(1)
  }, 60000)

  test('a read that needs a new connection to a stopped replica is not retried there: it goes to the primary at once', async () => {
    await r1.stop()
    try {
      const pool = makePool({ replicaUrls: [r1.url], poolTimeoutMs: 3000 })
      const t0 = Date.now()
      expect(await where(pool)).toEqual({ standby: false, port: primary.port })
      expect(Date.now() - t0).toBeLessThan(1000)
      expect(pool.getPoolStats().replicas.fallbacks).toBe(1)
      expect(replicaState(pool)).toBe('down')
    } finally {
      await r1.start()
    }
  }, 30000)

  test('a replica with replay paused is skipped once over maxReplicaLagMs and used again after it catches up', async () => {
    const pool = makePool({ replicaUrls: [r2.url], maxReplicaLagMs: 300 })
    // A replayed transaction first, so the replica has a replay timestamp to measure from.
    const { rows: [{ id }] } = await pool.query('INSERT INTO t (v) VALUES ($1) RETURNING id', ['before pause'])
    await eventually(async () => (await pool.query('SELECT 1 FROM t WHERE id = $1', [id], { replica: true })).rows.length, 1)
    expect(await where(pool)).toEqual({ standby: true, port: r2.port })
    await r2.admin('SELECT pg_wal_replay_pause()')
    try {
      const writes = setInterval(() => { pool.query("INSERT INTO t (v) VALUES ('during pause')").catch(() => {}) }, 100)
      try {
        expect(await eventually(() => replicaState(pool), 'lagging', { ms: 10000, every: 100 })).toBe('lagging')
      } finally {
        clearInterval(writes)
      }
      const lagging = pool.getPoolStats().replicas
      expect(lagging.servers[0].lagMs).toBeGreaterThan(300)
      expect(await where(pool)).toEqual({ standby: false, port: primary.port })
      expect(pool.getPoolStats().replicas.fallbacks).toBeGreaterThan(lagging.fallbacks)
      expect((await pool.healthCheck()).status).toBe('degraded')
    } finally {
      await r2.admin('SELECT pg_wal_replay_resume()')
    }
    expect(await eventually(() => replicaState(pool), 'healthy', { ms: 10000, every: 100 })).toBe('healthy')
    expect(pool.getPoolStats().replicas.servers[0].lagMs).toBeLessThanOrEqual(300)
    expect(await where(pool)).toEqual({ standby: true, port: r2.port })
  }, 60000)
})

describe('configuration and redaction', () => {
  test('a bad replica URL is a config error that names it without its password', () => {
    for (const [url, says] of [
      [`mysql://u:${PW}@127.0.0.1/db`, 'replicaUrls'],
      [`postgres://u:${PW}@127.0.0.1/db?connection_limit=abc`, 'connectionLimit'],
      [`postgres://u:${PW}@127.0.0.1/db?sslmode=sometimes`, 'ssl']
    ]) {
      const e = thrownBy(() => makePool({ replicaUrls: [url] }))
      expect(e.code).toBe('ERR_PGWARDEN_CONFIG')
      expect(e.message).toContain(says)
      expect(e.message).not.toContain(PW)
    }
    const e = thrownBy(() => makePool({ replicaUrls: [r1.url], maxReplicaLagMs: -1 }))
    expect(e.message).toContain('maxReplicaLagMs')
  })

  test("the replica URL's password never shows in toJSON, inspect, stats, metrics, health, logs or errors", async () => {
    const logger = recordingLogger()
    const withPw = (c) => `postgres://postgres:${PW}@127.0.0.1:${c.port}/postgres`
    const down = `postgres://postgres:${PW}@127.0.0.1:1/postgres`
    const pool = makePool({ replicaUrls: [withPw(r2), down], logger, logLevel: 'debug' })
    const seen = []
    for (let i = 0; i < 4; i++) seen.push((await where(pool)).port)
    expect(seen).toContain(r2.port)
    await failure(pool.query("INSERT INTO t (v) VALUES ('x')", [], { replica: true })).then((e) => seen.push(e.message, e.stack))
    const shown = [
      JSON.stringify(pool), util.inspect(pool), String(pool), JSON.stringify(pool.getPoolStats()), pool.metrics(),
      JSON.stringify(await pool.healthCheck()), ...Object.values(logger.calls).flat(), ...seen.map(String)
    ].join('\n')
    expect(shown).toContain('127.0.0.1:1')
    expect(shown).not.toContain(PW)
  })

  test('pgwarden doctor lists the replicas with their state', async () => {
    const bin = path.join(__dirname, '..', 'bin', 'pgwarden.js')
    const env = { ...process.env, DATABASE_REPLICA_URLS: `${r1.url},postgres://postgres:${PW}@127.0.0.1:1/postgres` }
    const { code, stdout } = await new Promise((resolve) => {
      execFile(process.execPath, [bin, 'doctor', '--url', primary.url, '--json'], { env, timeout: 60000 }, (err, out) => resolve({ code: err ? err.code : 0, stdout: out }))
    })
    expect(stdout).not.toContain(PW)
    const report = JSON.parse(stdout)
    expect(report.replicas).toEqual([
      { address: `127.0.0.1:${r1.port}`, state: 'healthy', lagMs: 0 },
      { address: '127.0.0.1:1', state: 'down', lagMs: null }
    ])
    expect(report.warnings).toContain('read replica 127.0.0.1:1 is down: reads skip it')
    expect(code).toBe(1)
  })
})
