'use strict'
// Several hosts in one connection string (libpq's multi-host lists), target_session_attrs, and
// a real failover: a primary with a synchronous streaming standby, the primary stopped
// (immediate), the standby promoted. Writes under withRetry resume on the new primary, no
// acknowledged write is lost, none whose outcome was unknown is re-sent, and an old primary
// brought back read-only is never written to.

const { Pool, withRetry } = require('..')
const { Cluster, freePort } = require('../lib/cluster')
const { sleep, failure, thrownBy } = require('./helpers/common')
const { knownOutcomeWrites } = require('./helpers/known-outcome')

const pools = []
/** A pool on `hosts` (`[cluster or {host, port}, …]`) with URL parameters `params`. */
function poolOn (hosts, params = '', options = {}) {
  const list = hosts.map((c) => `${c.host}:${c.port}`).join(',')
  const pool = new Pool({ connectionString: `postgres://postgres@${list}/postgres${params && '?' + params}`, logger: false, ...options })
  pools.push(pool)
  return pool
}
afterEach(async () => { await Promise.all(pools.splice(0).map((p) => p.end())) })

/** The port of the server a statement of `pool` ran on, and whether it is a standby. */
async function where (pool) {
  const { rows } = await pool.query('SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby')
  return rows[0]
}

describe('hosts and target_session_attrs', () => {
  let primary, standby, closed
  beforeAll(async () => {
    primary = await Cluster.start()
    standby = await primary.replica()
    closed = { host: '127.0.0.1', port: await freePort() } // nothing listens there
  }, 120000)
  afterAll(async () => { await standby.destroy(); await primary.destroy() })

  test('read-write finds the primary whichever host comes first', async () => {
    for (const hosts of [[primary, standby], [standby, primary], [closed, standby, primary]]) {
      expect(await where(poolOn(hosts, 'target_session_attrs=read-write'))).toEqual({ port: primary.port, standby: false })
    }
  })

  test('each mode picks the server libpq would', async () => {
    const cases = [
      ['any', [standby, primary], standby],
      ['read-write', [standby, primary], primary],
      ['primary', [standby, primary], primary],
      ['read-only', [primary, standby], standby],
      ['standby', [primary, standby], standby],
      ['prefer-standby', [primary, standby], standby],
      ['prefer-standby', [primary, closed], primary] // no standby answers: any server
    ]
    for (const [mode, hosts, expected] of cases) {
      const got = await where(poolOn(hosts, `target_session_attrs=${mode}`))
      expect([mode, got.port]).toEqual([mode, expected.port])
    }
  })

  test('the targetSessionAttrs option and PGHOST-style host and port lists work as the URL does', async () => {
    const pool = new Pool({ host: `127.0.0.1,127.0.0.1`, port: `${standby.port},${primary.port}`, user: 'postgres', database: 'postgres', targetSessionAttrs: 'primary', logger: false })
    pools.push(pool)
    expect((await where(pool)).port).toBe(primary.port)
  })

  test('no server fits: P1001 naming every host and why, retryable, no password', async () => {
    const pool = new Pool({ connectionString: `postgres://postgres:s3cret-pw@${primary.host}:${primary.port},${closed.host}:${closed.port}/postgres?target_session_attrs=standby`, poolTimeoutMs: 1000, logger: false })
    pools.push(pool)
    const e = await failure(pool.query('SELECT 1'))
    expect(e.code).toBe('P1001')
    expect(e.retryable).toBe(true)
    expect(e.message).toContain('no server fits target_session_attrs=standby')
    expect(e.message).toContain(`${primary.host}:${primary.port} (primary)`)
    expect(e.message).toContain(`${closed.host}:${closed.port} (`)
    expect(JSON.stringify(e) + e.message + e.stack).not.toContain('s3cret-pw')
  })

  test('pgwarden doctor shows every host with its role', async () => {
    const { doctor } = require('../lib/cli/doctor')
    const list = [primary, standby, closed].map((c) => `${c.host}:${c.port}`).join(',')
    let out = ''
    await doctor(['--url', `postgres://postgres@${list}/postgres?target_session_attrs=read-write`, '--json'], { out: (t) => { out += t }, err: () => {} })
    expect(JSON.parse(out).hosts).toEqual([
      { address: `${primary.host}:${primary.port}`, role: 'primary' },
      { address: `${standby.host}:${standby.port}`, role: 'standby' },
      { address: `${closed.host}:${closed.port}`, error: expect.stringContaining('P1001') }
    ])
  })

  test('malformed host lists are config errors that never show the password', () => {
    const bad = [
      ['postgres://u:s3cret-pw@a:5432,,b:5433/db', 'an entry is empty'],
      ['postgres://u:s3cret-pw@a:5432,b:port/db', "Invalid port: 'port'"],
      ['postgres://u:s3cret-pw@a,b,c/db?port=1,2', '2 ports for 3 hosts'],
      ['postgres://u:s3cret-pw@a,b/db?target_session_attrs=writable', 'targetSessionAttrs']
    ]
    for (const [url, text] of bad) {
      const e = thrownBy(() => new Pool({ connectionString: url, logger: false }))
      expect(e.code).toBe('ERR_PGWARDEN_CONFIG')
      expect(e.message).toContain(text)
      expect(e.message).not.toContain('s3cret-pw')
    }
  })
})

describe('a server that turns read-only under a pool meant for writes', () => {
  let a, b
  beforeAll(async () => { [a, b] = await Promise.all([Cluster.start(), Cluster.start()]) }, 120000)
  afterAll(async () => { await Promise.all([a.destroy(), b.destroy()]) })
  // The reload reaches each session by a signal: give the idle ones a moment to take it.
  const readOnly = async (c, on) => {
    await c.adminScript(`ALTER SYSTEM SET default_transaction_read_only = ${on ? 'on' : 'off'}; SELECT pg_reload_conf();`)
    await sleep(300)
  }

  test('the refused write did nothing, is retryable, and the pool moves to the writable host', async () => {
    await Promise.all([a, b].map((c) => c.admin('CREATE TABLE IF NOT EXISTS moved (n int)')))
    const pool = poolOn([a, b], 'target_session_attrs=read-write')
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 2')]) // two connections on a
    expect((await where(pool)).port).toBe(a.port)
    await readOnly(a, true)
    try {
      const attempts = []
      await withRetry(() => pool.query('INSERT INTO moved VALUES (1)'), { maxRetries: 3, initialDelayMs: 10, onRetry: ({ error }) => attempts.push(error) })
      expect(attempts.map((e) => [e.code, e.retryable, e.maybeCommitted])).toEqual([['25006', true, false]])
      expect(attempts[0].message).toContain(`${a.host}:${a.port}\` is no longer the primary`)
      expect(await b.admin('SELECT count(*) FROM moved')).toEqual([['1']])
      expect(await a.admin('SELECT count(*) FROM moved')).toEqual([['0']])
      // The other connection to a is closed at its next checkout, not handed out.
      for (let i = 0; i < 4; i++) expect((await where(pool)).port).toBe(b.port)
      const f = pool.getPoolStats().failovers
      expect(f).toEqual({ count: 1, lastFrom: `${a.host}:${a.port}`, lastTo: `${b.host}:${b.port}` })
      await pool.end()
      expect(pool.getPoolStats().failovers).toEqual(f) // still answered after end(), as every counter
    } finally {
      await readOnly(a, false)
    }
  })

  test('a transaction the caller made read-only, or a function raising 25006, is no failover', async () => {
    const pool = poolOn([a, b], 'target_session_attrs=read-write')
    const inReadOnly = await failure(pool.transaction((tx) => tx.query('INSERT INTO moved VALUES (3)'), { readOnly: true }))
    const raised = await failure(pool.query("DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '25006'; END $$"))
    for (const e of [inReadOnly, raised]) expect([e.code, e.retryable, e.message]).toEqual(['25006', false, expect.not.stringContaining('no longer the primary')])
    expect((await where(pool)).port).toBe(a.port)
    expect(pool.getPoolStats().failovers.count).toBe(0)
  })

  test('without target_session_attrs a 25006 stays what the server said: not retryable', async () => {
    const pool = poolOn([a])
    await readOnly(a, true)
    try {
      const e = await failure(pool.query('INSERT INTO moved VALUES (2)'))
      expect([e.code, e.retryable]).toEqual(['25006', false])
    } finally {
      await readOnly(a, false)
    }
  })
})

describe('a real failover with synchronous replication', () => {
  let primary, standby
  beforeAll(async () => {
    primary = await Cluster.start({ settings: { synchronous_standby_names: '*', synchronous_commit: 'on' } })
    // Promoted, the standby runs alone: it must not wait for a synchronous standby of its own.
    standby = await primary.replica({ settings: { synchronous_commit: 'on', synchronous_standby_names: '' } })
    await primary.admin('CREATE TABLE acked (id int PRIMARY KEY)')
    // The standby must be streaming synchronously before the test counts on it.
    for (let i = 0; i < 100; i++) {
      const rows = await primary.admin("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")
      if (rows[0][0] === '1') break
      await sleep(100)
    }
  }, 120000)
  afterAll(async () => { await standby.destroy(); await primary.destroy() })

  test('writes resume on the promoted standby, nothing acknowledged is lost, nothing unknown re-sent; the old primary back read-only is never written to', async () => {
    const connectTimeoutMs = 2000
    // Room for the writers and the known-outcome writes: no statement queues behind a sleeping one.
    const pool = poolOn([primary, standby], 'target_session_attrs=read-write', { connectTimeoutMs, poolTimeoutMs: 20000, connectionLimit: 12 })
    const acked = []
    const unknown = []
    const sent = new Map() // id → times a statement inserting it was sent
    let next = 1
    const writing = { on: true } // turned off by the test once the failover is over
    let stoppedAt = null // the primary is down
    let resumedAt = null // the first write acknowledged after that
    const writer = async () => {
      while (writing.on) {
        const id = next++
        try {
          await withRetry(async () => {
            sent.set(id, (sent.get(id) || 0) + 1)
            await pool.query('INSERT INTO acked VALUES ($1)', [id])
          }, { maxRetries: 100, initialDelayMs: 50, maxDelayMs: 500 })
          acked.push(id)
          if (stoppedAt !== null && resumedAt === null) resumedAt = Date.now()
        } catch (e) {
          if (e.maybeCommitted) unknown.push(id)
          else throw e
        }
      }
    }
    const writers = Array.from({ length: 4 }, writer)
    // Writes of known outcome in flight when the primary stops: one kind committed (replicated
    // synchronously, so on the new primary), one not; each must be maybeCommitted and sent once.
    const known = await knownOutcomeWrites({ pool, admin: (sql) => primary.admin(sql), table: 'acked', column: 'id', firstKey: 3000000 })
    await sleep(500)
    const before = acked.length
    await primary.stop({ mode: 'immediate' })
    stoppedAt = Date.now()
    await standby.promote()
    const promotedAt = Date.now()
    await sleep(3000)
    writing.on = false
    await Promise.all(writers)
    await known.settle()

    expect(before).toBeGreaterThan(0)
    expect(resumedAt).not.toBeNull()
    const recoveryMs = resumedAt - stoppedAt
    // Every acknowledged write is on the new primary; a write of unknown outcome was sent once,
    // and the writes of known outcome say so too (the committed ones are there, the others not).
    const rows = await standby.admin('SELECT id FROM acked')
    const present = new Set(rows.map((r) => Number(r[0])))
    const knownSeen = known.check(present)
    console.log(`[failover] writes resumed ${recoveryMs} ms after the primary stopped, ${resumedAt - promotedAt} ms after the standby was promoted (promotion took ${promotedAt - stoppedAt} ms); ${acked.length} acknowledged, ${unknown.length} of unknown outcome; known-outcome writes ${JSON.stringify(knownSeen.map((w) => `${w.kind}:${w.code}`))}`)
    // Writes resume soon after the promotion: connection attempts are retried 50 ms, 100 ms,
    // 200 ms… apart (each asks every host its role), so the next attempt comes by about twice the
    // outage's length. A slower retry schedule (seen: one 20 times slower resumed 756 ms after
    // the promotion) fails here.
    expect(resumedAt - promotedAt).toBeLessThan(Math.max(500, promotedAt - stoppedAt))
    expect(acked.filter((id) => !present.has(id))).toEqual([])
    for (const id of unknown) expect(sent.get(id)).toBe(1)
    expect(pool.getPoolStats().failovers).toMatchObject({ count: 1, lastTo: `${standby.host}:${standby.port}` })

    // The old primary comes back as a standby (read-only), first in the list: never written to.
    primary.followAs(standby)
    await primary.start()
    const again = poolOn([primary, standby], 'target_session_attrs=read-write')
    for (let i = 0; i < 5; i++) await again.query('INSERT INTO acked VALUES ($1)', [1000000 + i])
    expect((await where(again)).port).toBe(standby.port)
    expect((await primary.admin('SELECT pg_is_in_recovery()'))[0][0]).toBe('t')
    await pool.query('INSERT INTO acked VALUES (2000000)')
    expect((await where(pool)).port).toBe(standby.port)
  }, 120000)
})
