'use strict'
// COPY through the connection (FROM STDIN / TO STDOUT) cannot run through query() or
// executeScript(): it is refused before anything is sent. And whatever the pool does not
// understand on a connection (a protocol desync) discards that connection: the next caller on a
// pool of 1 never inherits it.

const { failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('copyq', { setupSql: 'CREATE TABLE items (id int);' })
beforeAll(db.create)
afterEach(db.endPools)

test.each([
  ['query, COPY FROM STDIN', (p) => p.query('COPY items FROM STDIN')],
  ['query, COPY TO STDOUT', (p) => p.query('copy (SELECT 1) to stdout with (format csv)')],
  ['executeScript, COPY FROM STDIN', (p) => p.executeScript('COPY items FROM STDIN')],
  ['stream, COPY TO STDOUT', async (p) => { for await (const row of p.stream('COPY items TO STDOUT')) void row }], // eslint-disable-line no-void -- drains the stream
])('%s: ERR_PGWARDEN_PARAMS before anything is sent; the connection stays good', async (_, run) => {
  const pool = db.makePool({ connectionLimit: 1 })
  await pool.query('SELECT 1')
  const err = await failure(run(pool))
  expect(err.code).toBe('ERR_PGWARDEN_PARAMS')
  expect(err.message).toMatch(/cannot run through query\(\) or executeScript\(\)/)
  expect((await pool.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }])
  expect(pool.getPoolStats().connections).toEqual(expect.objectContaining({ created: 1, closed: 0 }))
})

test('a COPY hidden inside a script desyncs the protocol: the error discards that connection, the next query gets a fresh one', async () => {
  const pool = db.makePool({ connectionLimit: 1 })
  await pool.query('SELECT 1')
  const err = await failure(pool.executeScript('SELECT 1; COPY items FROM STDIN'))
  expect(err.code).toBe('ERR_PGWARDEN_INTERNAL')
  // Discarded at once: not left for the release's tidy-up to give up on after its 2 s grace.
  const t0 = Date.now()
  expect((await pool.query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }])
  expect(Date.now() - t0).toBeLessThan(1000)
  expect(pool.getPoolStats().connections.created).toBe(2)
})
