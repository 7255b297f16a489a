'use strict'
// pgbouncer=true through a real PgBouncer in transaction pool mode (the pgbouncer=true setting): unnamed
// statements only, so queries keep working when consecutive statements land on different
// server connections. The control case shows named statements do break there (26000).

const { Pool } = require('..')
const { harness, freshDatabase } = require('./harness')
const { failure } = require('./helpers/common')
const { startPgBouncer } = require('./helpers/pgbouncer')

let bouncer, url, dbName

beforeAll(async () => {
  const dbUrl = await freshDatabase('bouncer')
  dbName = new URL(dbUrl).pathname.slice(1)
  bouncer = await startPgBouncer(harness().port)
  url = `postgres://postgres@127.0.0.1:${bouncer.port}/${dbName}`
  const setup = new Pool({ connectionString: harness().urlFor(dbName), logger: false })
  await setup.query('CREATE TABLE items (id int PRIMARY KEY, name text)')
  await setup.end()
})

afterAll(() => bouncer && bouncer.stop())

test('pgbouncer=true: many clients, parameterized statements and transactions all work', async () => {
  const pool = new Pool({ connectionString: `${url}?pgbouncer=true`, connectionLimit: 10, logger: false })
  try {
    expect(pool.toJSON().statementCacheSize).toBe(0)
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      pool.query('SELECT $1::int AS n, $2::text AS s', [i, `v${i}`])))
    results.forEach((r, i) => expect(r.rows[0]).toEqual({ n: i, s: `v${i}` }))
    await Promise.all(Array.from({ length: 20 }, (_, i) => pool.transaction(async (tx) => {
      await tx.query('INSERT INTO items VALUES ($1, $2)', [i, `item ${i}`])
      const r = await tx.query('SELECT name FROM items WHERE id = $1', [i])
      expect(r.rows[0].name).toBe(`item ${i}`)
    })))
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM items')
    expect(rows[0].n).toBe(20)
  } finally {
    await pool.end()
  }
})

test('control: named statements through the same bouncer fail with 26000, which is why pgbouncer=true exists', async () => {
  const pool = new Pool({ connectionString: url, connectionLimit: 10, logger: false })
  try {
    // Whether a statement lands on another server connection than the one it was prepared on
    // depends on timing: up to five rounds of 200 (a loaded machine can serialize one round).
    let failed = []
    for (let round = 0; round < 5 && failed.length === 0; round++) {
      const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, i) =>
        pool.query(`SELECT $1::int AS n, ${i % 7} AS k`, [i])))
      failed = outcomes.filter((o) => o.status === 'rejected')
    }
    expect(failed.length).toBeGreaterThan(0)
    expect(failed.map((o) => o.reason.code)).toContain('26000')
  } finally {
    await pool.end()
  }
})

test('a timed-out statement behind the bouncer is abandoned with its connection, not cancelled: its outcome is unknown', async () => {
  const pool = new Pool({ connectionString: `${url}?pgbouncer=true`, connectionLimit: 2, logger: false })
  try {
    const t0 = Date.now()
    const err = await failure(pool.query('SELECT pg_sleep(3)', [], { timeoutMs: 200 }))
    expect(err).toMatchObject({ code: 'P1008', maybeCommitted: true, retryable: false })
    expect(err.message).toMatch(/outcome is unknown/)
    expect(Date.now() - t0).toBeLessThan(1500)
    const { rows } = await pool.query('SELECT 1 AS one')
    expect(rows[0].one).toBe(1)
  } finally {
    await pool.end()
  }
})

test('enum columns and arrays from many fresh connections: their types are looked up with unnamed statements', async () => {
  const setup = new Pool({ connectionString: harness().urlFor(dbName), logger: false })
  await setup.executeScript("CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE TABLE moods (m mood, ms mood[]); INSERT INTO moods VALUES ('ok', '{ok,sad}')")
  await setup.end()
  const pools = Array.from({ length: 30 }, () => new Pool({ connectionString: `${url}?pgbouncer=true`, connectionLimit: 2, logger: false }))
  try {
    const results = await Promise.allSettled(pools.flatMap((p) => [p.query('SELECT m, ms FROM moods'), p.query('SELECT ms, m FROM moods')]))
    const failed = results.filter((r) => r.status === 'rejected').map((r) => `${r.reason.code} ${r.reason.message}`)
    expect(failed).toEqual([])
    expect(results[0].value.rows).toEqual([{ m: 'ok', ms: ['ok', 'sad'] }])
  } finally {
    await Promise.all(pools.map((p) => p.end()))
  }
})
