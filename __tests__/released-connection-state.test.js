'use strict'
// A connection given back to the pool carries neither a transaction nor session state to the
// next caller. Released inside a transaction ('T') or a failed one ('E'), it is rolled back
// before anyone else gets it (counted in connections.releasedInTransaction, reported by the
// 'releasedInTransaction' event, or one logged warning per cool-down without a listener);
// released after a session change (SET, set_config, LISTEN, a temporary table, an advisory
// lock, SET ROLE), it is reset to its startup settings (counted in connections.sessionResets),
// while SET LOCAL and plain statements cost nothing. The same through pool.query('BEGIN'),
// pgwarden/pg and pgwarden/prisma (prisma#29719: a transaction whose ROLLBACK never reached the
// server must not leave its writes for the next user). Every pool here has one connection, so
// the next caller surely gets the same backend (asserted by its pid).

const path = require('node:path')
const { Pool: PgPool } = require('../lib/pg')
const { PrismaPgWarden } = require('../lib/prisma')
const { harness } = require('./harness')
const { eventually, failure, poolsOnFreshDatabase, recordingLogger } = require('./helpers/common')

const h = harness()
const ROLE = `pgw_rcs_role_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
const THIS_FILE = path.basename(__filename)

const db = poolsOnFreshDatabase('released_state', {
  setupSql: `
    CREATE SCHEMA app_schema; CREATE SCHEMA other_schema;
    CREATE TABLE app_schema.where_am_i (v text); INSERT INTO app_schema.where_am_i VALUES ('app_schema');
    CREATE TABLE other_schema.where_am_i (v text); INSERT INTO other_schema.where_am_i VALUES ('other_schema');`
})
beforeAll(async () => {
  await db.create()
  await h.admin(`CREATE ROLE ${ROLE} NOLOGIN`)
})
afterAll(() => h.admin(`DROP ROLE IF EXISTS ${ROLE}`))

// Clients a test still holds when it fails are given back, so that ending its pool never waits.
const held = []
afterEach(async () => {
  for (const c of held.splice(0)) c.release()
  await db.endPools()
})
const { makePool } = db

/** A pool of one connection (logger off unless given), ended after the test. */
const onePool = (opts = {}) => makePool({ connectionLimit: 1, ...opts })

/** `pool.acquire()`, released after the test if the test did not release it. */
async function acquire (pool) {
  const client = await pool.acquire()
  held.push(client)
  return client
}

/** The backend pid of `target`'s connection (a held client, or a pool of one connection). */
async function backendPid (target) {
  return (await target.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
}

/**
 * The backend pid of the connection behind `target`, or, when that first statement is refused,
 * `rejected CODE: message` (so that an assertion shows why the statement failed).
 */
async function pidOrRefusal (target) {
  return backendPid(target).catch((e) => `rejected ${e.code}: ${e.message}`)
}

/** `SHOW name` on `target`. */
async function show (target, name) {
  return (await target.query(`SHOW ${name}`)).rows[0][name]
}

/**
 * The next caller after a client that did `dirty(client)` and was released without undoing it:
 * acquires the pool's connection, runs `dirty`, releases it, acquires again and asserts the
 * same backend pid. Resolves to the new holder.
 */
async function nextOnSameBackend (pool, dirty) {
  const first = await acquire(pool)
  const pid = await backendPid(first)
  await dirty(first)
  first.release()
  const next = await acquire(pool)
  expect(await pidOrRefusal(next)).toBe(pid)
  return next
}

/** A pgwarden/pg Pool of one connection, ended after the test. */
function onePgPool () {
  const pool = new PgPool({ connectionString: db.url, max: 1, logger: false })
  db.pools.push(pool)
  return pool
}

/** Like nextOnSameBackend, for pg's `pool.connect()` and `client.release()`. */
async function nextPgClientOnSameBackend (pool, dirty) {
  const first = await pool.connect()
  const pid = await backendPid(first)
  await dirty(first)
  first.release()
  const next = await pool.connect()
  held.push({ release: () => { if (!next._released) next.release() } })
  expect(await pidOrRefusal(next)).toBe(pid)
  return next
}

/** The held clients the rules hold for: pgwarden's `acquire()` and pgwarden/pg's `connect()`. */
const HELD_CLIENTS = [
  ['acquire()', { onePool: () => onePool(), next: (pool, dirty) => nextOnSameBackend(pool, dirty) }],
  ['pgwarden/pg connect()', { onePool: onePgPool, next: nextPgClientOnSameBackend }]
]

let tableSeq = 0
/** A fresh table `(note text)` for one test, created through `pool`; resolves to its name. */
async function notesTable (pool) {
  const t = `notes_${++tableSeq}`
  await pool.query(`CREATE TABLE ${t} (note text)`)
  return t
}

/** The notes committed in table `t`, read on a connection of another pool. */
async function committedNotes (t) {
  const { rows } = await makePool().query(`SELECT note FROM ${t} ORDER BY note`)
  return rows.map((r) => r.note)
}

/** The connections figures of `pool`'s stats (releasedInTransaction, sessionResets, …). */
const connectionStats = (pool) => pool.getPoolStats().connections

describe('a connection released inside a transaction is rolled back before the next caller gets it', () => {
  describe.each(HELD_CLIENTS)('through %s', (_, kind) => {
    test('forgotten COMMIT: the next caller is outside any transaction, and its COMMIT does not commit the leaked writes', async () => {
      const pool = kind.onePool()
      const t = await notesTable(pool)
      const next = await kind.next(pool, async (c) => {
        await c.query('BEGIN')
        await c.query(`INSERT INTO ${t} VALUES ('leaked')`)
      })
      await next.query(`INSERT INTO ${t} VALUES ('mine')`)
      await next.query('COMMIT')
      next.release()
      expect(await committedNotes(t)).toEqual(['mine'])
      expect(connectionStats(pool.pgwarden || pool).releasedInTransaction).toBe(1)
      // nothing of the leaked transaction is left on the connection: a savepoint has no block
      await expect(pool.query('SAVEPOINT s')).rejects.toMatchObject({ code: '25P01' })
    })

    test('failed transaction: the next caller\'s first statement runs instead of failing 25P02', async () => {
      const pool = kind.onePool()
      const next = await kind.next(pool, async (c) => {
        await c.query('BEGIN')
        expect((await failure(c.query('SELECT 1/0'))).code).toBe('22012')
      })
      // the pid query was the next caller's first statement; the rest of the session works too
      expect((await next.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    })
  })

  test('pool.query(\'BEGIN\') leaves no transaction for the next pool.query', async () => {
    const pool = onePool()
    const t = await notesTable(pool)
    const pid = await backendPid(pool)
    await pool.query('BEGIN')
    await pool.query(`INSERT INTO ${t} VALUES ('mine')`)
    expect(await backendPid(pool)).toBe(pid)
    // committed on its own (autocommit), not held in a transaction nobody will end
    expect(await committedNotes(t)).toEqual(['mine'])
  })

  test('getPoolStats().connections.releasedInTransaction counts each such release, and only those', async () => {
    const pool = onePool()
    const clean = await acquire(pool)
    await clean.query('SELECT 1')
    clean.release()
    const open = await acquire(pool)
    await open.query('BEGIN')
    open.release()
    const failed = await acquire(pool)
    await failed.query('BEGIN')
    await failure(failed.query('SELECT 1/0'))
    failed.release()
    await acquire(pool) // the connection came back: both releases were handled
    expect(connectionStats(pool).releasedInTransaction).toBe(2)
  })

  test('the \'releasedInTransaction\' event: state, rolledBack, lastStatement and the acquire() stack', async () => {
    const pool = onePool()
    const t = await notesTable(pool)
    const seen = []
    pool.on('releasedInTransaction', (e) => seen.push(e))
    const insert = `INSERT INTO ${t} VALUES ('leaked')`
    const open = await acquire(pool)
    await open.query('BEGIN')
    await open.query(insert)
    open.release()
    await pool.query('BEGIN') // no held client: no acquire() stack
    const failed = await acquire(pool)
    await failed.query('BEGIN')
    await failure(failed.query('SELECT 1/0'))
    failed.release()
    await eventually(() => seen.length >= 3)
    // A held client's event is told by JS (with its acquire() stack), a pool.query's by the
    // native side: the two channels may deliver in either order under load.
    expect(seen).toHaveLength(3)
    expect(seen).toEqual(expect.arrayContaining([
      { state: 'inTransaction', rolledBack: true, lastStatement: insert, acquiredAt: expect.stringContaining(THIS_FILE) },
      { state: 'inTransaction', rolledBack: true, lastStatement: 'BEGIN', acquiredAt: undefined },
      { state: 'failedTransaction', rolledBack: true, lastStatement: 'SELECT 1/0', acquiredAt: expect.stringContaining(THIS_FILE) }
    ]))
  })

  test('the event\'s lastStatement is cut as other events cut SQL: 500 characters plus "..."', async () => {
    const pool = onePool()
    const seen = []
    pool.on('releasedInTransaction', (e) => seen.push(e))
    const sql = `SELECT '${'x'.repeat(600)}' AS s`
    const client = await acquire(pool)
    await client.query('BEGIN')
    await client.query(sql)
    client.release()
    await eventually(() => seen.length >= 1)
    expect(seen.map((e) => e.lastStatement)).toEqual([sql.slice(0, 500) + '...'])
  })

  test('without a listener: one warning through the pool\'s logger per cool-down; with a listener: none', async () => {
    const quietLogger = recordingLogger()
    const listened = onePool({ logger: quietLogger })
    const seen = []
    listened.on('releasedInTransaction', (e) => seen.push(e))
    const loudLogger = recordingLogger()
    const unlistened = onePool({ logger: loudLogger })
    for (const pool of [listened, unlistened]) {
      for (let i = 0; i < 2; i++) {
        const c = await acquire(pool)
        await c.query('BEGIN')
        c.release()
      }
      await acquire(pool) // both releases handled
    }
    await eventually(() => seen.length >= 2)
    const warned = await eventually(() => loudLogger.calls.warn.filter((m) => /transaction/i.test(m)), (l) => l.length > 0, { ms: 1000 })
    expect(warned).toHaveLength(1) // two releases within one cool-down: one warning
    expect(quietLogger.calls.warn.filter((m) => /transaction/i.test(m))).toEqual([])
    expect(seen).toHaveLength(2)
  })

  test('release(true) inside a transaction closes the connection instead: the next caller gets a new backend', async () => {
    const pool = onePool()
    const t = await notesTable(pool)
    const first = await acquire(pool)
    const pid = await backendPid(first)
    await first.query('BEGIN')
    await first.query(`INSERT INTO ${t} VALUES ('leaked')`)
    first.release(true)
    const next = await acquire(pool)
    expect(await backendPid(next)).not.toBe(pid)
    next.release()
    expect(await committedNotes(t)).toEqual([])
  })
})

describe('session state a held client changed never reaches the next caller', () => {
  test.each(HELD_CLIENTS)('SET statement_timeout (no LOCAL) through %s: the next caller sees the value from before the SET', async (_, kind) => {
    const pool = kind.onePool()
    const before = await show(pool, 'statement_timeout')
    expect(before).not.toBe('1234ms')
    const next = await kind.next(pool, (c) => c.query('SET statement_timeout = 1234'))
    expect(await show(next, 'statement_timeout')).toBe(before)
  })

  test('the same for the next pool.query, not only the next acquire()', async () => {
    const pool = onePool()
    const before = await pool.query('SELECT pg_backend_pid() AS pid, current_setting(\'statement_timeout\') AS st')
    const c = await acquire(pool)
    await c.query('SET statement_timeout = 1234')
    c.release()
    const after = await pool.query('SELECT pg_backend_pid() AS pid, current_setting(\'statement_timeout\') AS st')
    expect(after.rows).toEqual(before.rows)
  })

  test('SET search_path on a pool made with `schema`: the next caller is back on that schema (the startup settings are the baseline)', async () => {
    const pool = onePool({ schema: 'app_schema' })
    const before = await show(pool, 'search_path')
    expect((await pool.query('SELECT v FROM where_am_i')).rows).toEqual([{ v: 'app_schema' }])
    const next = await nextOnSameBackend(pool, (c) => c.query('SET search_path = other_schema'))
    expect((await next.query('SELECT v FROM where_am_i')).rows).toEqual([{ v: 'app_schema' }])
    expect(await show(next, 'search_path')).toBe(before)
  })

  test('set_config(name, value, false): the next caller does not see the value', async () => {
    const pool = onePool()
    const next = await nextOnSameBackend(pool, (c) => c.query('SELECT set_config(\'app.x\', \'1\', false)'))
    const { rows } = await next.query('SELECT current_setting(\'app.x\', true) AS x')
    expect([null, '']).toContain(rows[0].x) // unset, or reset to its empty placeholder
  })

  test('LISTEN: the next caller listens to no channel', async () => {
    const pool = onePool()
    const next = await nextOnSameBackend(pool, (c) => c.query('LISTEN released_state_ch'))
    expect((await next.query('SELECT count(*)::int AS n FROM pg_listening_channels()')).rows).toEqual([{ n: 0 }])
  })

  test('CREATE TEMP TABLE: the table is gone for the next caller', async () => {
    const pool = onePool()
    const next = await nextOnSameBackend(pool, async (c) => {
      await c.query('CREATE TEMP TABLE scratch (id int)')
      await c.query('INSERT INTO scratch VALUES (1)')
    })
    expect((await next.query('SELECT to_regclass(\'pg_temp.scratch\') IS NULL AS gone')).rows).toEqual([{ gone: true }])
  })

  test('a session advisory lock is free once the client is released (pg_locks, seen from another connection)', async () => {
    const pool = onePool()
    const other = makePool()
    const locksOn42 = async () => (await other.query(`SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND objid = 42 AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0].n
    const c = await acquire(pool)
    await c.query('SELECT pg_advisory_lock(42)')
    expect(await locksOn42()).toBe(1)
    c.release()
    expect(await eventually(locksOn42, 0)).toBe(0)
  })

  test('pool.query statements that take a session advisory lock while the pool is busy never ride a convoy past the reset', async () => {
    const pool = onePool()
    const other = makePool()
    const locksOn43 = async () => (await other.query(`SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND objid = 43 AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0].n
    // The one connection is busy, so plain statements wait in the line and share it (convoys).
    const busy = pool.query('SELECT pg_sleep(0.2)')
    const rest = []
    for (let i = 0; i < 20; i++) rest.push(pool.query(i === 5 ? 'SELECT pg_advisory_lock(43)' : 'SELECT $1::int AS i', i === 5 ? [] : [i]))
    await Promise.all([busy, ...rest])
    expect(await eventually(locksOn43, 0)).toBe(0)
  })

  test('pool.stream: a statement that sets a session setting leaves nothing for the next caller', async () => {
    const pool = onePool()
    for await (const row of pool.stream("SELECT set_config('app.streamed', 'yes', false) AS v")) expect(row.v).toBe('yes')
    const { rows } = await pool.query("SELECT current_setting('app.streamed', true) AS v")
    expect([null, '']).toContain(rows[0].v)
  })

  test('SET ROLE: the next caller is the session user again', async () => {
    const pool = onePool()
    const before = (await pool.query('SELECT current_user AS u')).rows[0].u
    const next = await nextOnSameBackend(pool, async (c) => {
      await c.query(`SET ROLE ${ROLE}`)
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe(ROLE)
    })
    expect((await next.query('SELECT current_user AS u')).rows[0].u).toBe(before)
  })

  test('getPoolStats().connections.sessionResets counts one reset per release that changed session state', async () => {
    const pool = onePool()
    expect(connectionStats(pool).sessionResets).toBe(0)
    await nextOnSameBackend(pool, (c) => c.query('SET statement_timeout = 1234'))
    held.pop().release()
    expect(connectionStats(pool).sessionResets).toBe(1)
    await nextOnSameBackend(pool, async (c) => {
      await c.query('LISTEN released_state_ch')
      await c.query('CREATE TEMP TABLE scratch (id int)')
    })
    expect(connectionStats(pool).sessionResets).toBe(2)
  })

  test('SET LOCAL inside a transaction and plain SELECT/INSERT/UPDATE cost nothing: no reset, no rollback', async () => {
    const pool = onePool()
    const t = await notesTable(pool)
    const before = await show(pool, 'statement_timeout')
    const next = await nextOnSameBackend(pool, async (c) => {
      await c.query('BEGIN')
      await c.query('SET LOCAL statement_timeout = 1234')
      await c.query(`INSERT INTO ${t} VALUES ('a')`)
      await c.query(`UPDATE ${t} SET note = 'b'`)
      await c.query(`SELECT note FROM ${t}`)
      await c.query('COMMIT')
      await c.query(`SELECT count(*) FROM ${t}`)
    })
    next.release()
    await pool.query(`INSERT INTO ${t} VALUES ('c')`)
    await pool.transaction(async (tx) => {
      await tx.query('SET LOCAL statement_timeout = 1234')
      await tx.query(`UPDATE ${t} SET note = 'd' WHERE note = 'c'`)
    })
    expect(await show(pool, 'statement_timeout')).toBe(before)
    expect(await committedNotes(t)).toEqual(['b', 'd'])
    const s = connectionStats(pool)
    expect({ sessionResets: s.sessionResets, releasedInTransaction: s.releasedInTransaction })
      .toEqual({ sessionResets: 0, releasedInTransaction: 0 })
  })
})

describe('through pgwarden/prisma', () => {
  const raw = (sql) => ({ sql, args: [], argTypes: [] })

  // Prisma sends COMMIT / ROLLBACK itself, then calls the transaction's commit() / rollback(),
  // which give the connection back. Here the ROLLBACK never reaches the server (prisma#29719).
  test('a transaction whose ROLLBACK never reached the server leaves none of its writes for the next transaction', async () => {
    const pool = onePool()
    const t = await notesTable(pool)
    const adapter = await new PrismaPgWarden(pool).connect()
    const lost = await adapter.startTransaction()
    const pid = (await lost.queryRaw(raw('SELECT pg_backend_pid()'))).rows[0][0]
    await lost.executeRaw(raw(`INSERT INTO ${t} VALUES ('leaked')`))
    await lost.rollback() // without the ROLLBACK statement
    const next = await adapter.startTransaction()
    expect((await next.queryRaw(raw('SELECT pg_backend_pid()'))).rows[0][0]).toBe(pid)
    await next.executeRaw(raw(`INSERT INTO ${t} VALUES ('mine')`))
    await next.executeRaw(raw('COMMIT'))
    await next.commit()
    expect(await committedNotes(t)).toEqual(['mine'])
  })
})
