'use strict'
// Statements beyond the connection limit wait in a line (src/pool/waiting.rs) holding a small
// record: they are counted as waiting, all served, bounded by poolTimeout and by
// their AbortSignal (nothing sent), and a graceful end() still serves them. Each rule is proved
// twice: with the default pipelineDepth the first waiting statements are offered to convoys (a
// task each waits for its turn or a convoy) and those beyond what convoys are offered lead
// their own; with pipelineDepth 1 each runs alone. A statement that leads or runs alone waits
// with no task unless it has an AbortSignal (src/pool/untasked.rs).

const { sleep, eventually, failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('waiting', { setupSql: 'CREATE TABLE arrivals (n int, at timestamptz DEFAULT clock_timestamp());' })
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

/** Holds the only connection (a checked-out client) until `release()`. */
async function occupy (pool) {
  const client = await pool.acquire()
  return { release: () => client.release() }
}

for (const depth of [{}, { pipelineDepth: 1 }]) {
  describe(`pipelineDepth ${depth.pipelineDepth ?? 'default'}`, () => {
    // 40: more than convoys are offered at connectionLimit 1 (4 × 1 × pipelineDepth 8).
    test('queued statements count as waiting, and every one runs once the connection is free', async () => {
      const pool = makePool({ connectionLimit: 1, ...depth })
      await pool.query('DELETE FROM arrivals') // the other depth's rows
      const busy = await occupy(pool)
      const queued = Array.from({ length: 40 }, (_, n) => pool.query('INSERT INTO arrivals (n) VALUES ($1)', [n]))
      expect(await eventually(() => pool.getPoolStats().pool.waiting, 40)).toBe(40)
      busy.release()
      await Promise.all(queued)
      expect(pool.getPoolStats().pool.waiting).toBe(0)
      const { rows } = await pool.query('SELECT n FROM arrivals WHERE n >= 0 ORDER BY n')
      expect(rows.map((r) => r.n)).toEqual(Array.from({ length: 40 }, (_, n) => n))
    })

    test('a statement that waits past poolTimeout rejects with P2024, counted, and the line moves on', async () => {
      const pool = makePool({ connectionLimit: 1, poolTimeoutMs: 300, ...depth })
      const busy = await occupy(pool)
      const started = Date.now()
      const e = await failure(pool.query('SELECT 1'))
      expect(e.code).toBe('P2024')
      expect(Date.now() - started).toBeGreaterThanOrEqual(280)
      expect(pool.getPoolStats().pool.waiting).toBe(0)
      expect(pool.getPoolStats().acquire.timeouts).toBe(1)
      busy.release()
      expect((await pool.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }])
    })

    test('an aborted waiting statement rejects as never sent and gives up its place', async () => {
      const pool = makePool({ connectionLimit: 1, ...depth })
      const busy = await occupy(pool)
      const controller = new AbortController()
      const aborted = pool.query('INSERT INTO arrivals (n) VALUES (-1)', [], { signal: controller.signal })
      const after = pool.query('SELECT 3 AS n')
      expect(await eventually(() => pool.getPoolStats().pool.waiting, 2)).toBe(2)
      controller.abort()
      const e = await failure(aborted)
      expect(e.maybeCommitted).toBe(false)
      expect(await eventually(() => pool.getPoolStats().pool.waiting, 1)).toBe(1)
      busy.release()
      expect((await after).rows).toEqual([{ n: 3 }])
      expect((await pool.query('SELECT count(*)::int AS c FROM arrivals WHERE n = -1')).rows).toEqual([{ c: 0 }])
    })

    test('end() serves the statements still waiting in the line before it closes', async () => {
      const pool = makePool({ connectionLimit: 1, ...depth })
      const busy = await occupy(pool)
      const queued = Array.from({ length: 5 }, (_, n) => pool.query('SELECT $1::int AS n', [n]))
      expect(await eventually(() => pool.getPoolStats().pool.waiting, 5)).toBe(5)
      const ended = pool.end({ timeoutMs: 5000 })
      await sleep(50)
      busy.release()
      expect((await Promise.all(queued)).map((r) => r.rows[0].n)).toEqual([0, 1, 2, 3, 4])
      await ended
    })

    test('end() out of time rejects the statements still waiting as never sent', async () => {
      const pool = makePool({ connectionLimit: 1, ...depth })
      const busy = await occupy(pool)
      const queued = Array.from({ length: 3 }, (_, n) => failure(pool.query('INSERT INTO arrivals (n) VALUES ($1)', [100 + n])))
      expect(await eventually(() => pool.getPoolStats().pool.waiting, 3)).toBe(3)
      const ended = pool.end({ timeoutMs: 100 })
      for (const e of await Promise.all(queued)) {
        expect(e.kind).toBe('closed')
        expect(e.maybeCommitted).toBe(false)
      }
      busy.release()
      await ended
      const check = makePool()
      expect((await check.query('SELECT count(*)::int AS c FROM arrivals WHERE n >= 100')).rows).toEqual([{ c: 0 }])
    })
  })
}
