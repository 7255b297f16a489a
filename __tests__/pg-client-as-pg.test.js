'use strict'
// pg's Client and module surface through pgwarden/pg, each point run through pg 8 and through
// pgwarden/pg on the same server and compared: what connect() resolves to, the session a
// Client gets (application_name, statement_timeout and its 57014), the transaction status,
// named queries, notifications, drain, the Promise option, parameter values, URLs, where a
// bad configuration is reported, and pg's escapes, TypeOverrides and defaults.parseInt8.

const pg = require('pg')
const compat = require('../lib/pg')
const { failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgclient')
beforeAll(db.create)

/** Runs `steps(client, driver)` on a connected standalone Client of `driver`, then ends it. */
async function withClient (driver, steps, config = {}) {
  const client = new driver.Client({ connectionString: db.url, ...config })
  await client.connect()
  try {
    return await steps(client, driver)
  } finally {
    await client.end()
  }
}

/** The same steps through pg and through pgwarden/pg: [pg's, pgwarden/pg's]. */
const both = (steps, config) => Promise.all([withClient(pg, steps, config), withClient(compat, steps, config)])

test('connect() resolves to the client', async () => {
  for (const driver of [pg, compat]) {
    const client = new driver.Client(db.url)
    expect(await client.connect()).toBe(client)
    await client.end()
  }
})

test('a Client\'s session: application_name as the server\'s default, statement_timeout as a setting', async () => {
  const [theirs, ours] = await both(async (client) => {
    const settings = (await client.query("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st")).rows
    const e = await failure(client.query('SELECT pg_sleep(2)'))
    return { settings, error: [e.code, e.message] }
  }, { statement_timeout: 150 })
  expect(ours).toEqual(theirs)
  expect(ours).toEqual({ settings: [{ app: '', st: '150ms' }], error: ['57014', 'canceling statement due to statement timeout'] })
})

/** The transaction status after each step; `pause` waits a little before each read. */
async function statuses (client, pause) {
  const read = async () => {
    if (pause) await new Promise((resolve) => setTimeout(resolve, 20))
    return client.getTransactionStatus()
  }
  const seen = [await read()]
  await client.query('BEGIN')
  seen.push(await read())
  await client.query('SELEC 1').catch(() => {})
  seen.push(await read())
  await client.query('ROLLBACK')
  seen.push(await read())
  return seen
}

test('getTransactionStatus() follows the session: I, T, E, I', async () => {
  // pg's can lag one message behind right after a failed query (it answers at the
  // ErrorResponse, before the ReadyForQuery): compared after a pause.
  const [theirs, ours] = await both((client) => statuses(client, true))
  expect(ours).toEqual(theirs)
  // pgwarden/pg's failed query is answered once the ReadyForQuery is read: right at once.
  expect(await withClient(compat, (client) => statuses(client, false))).toEqual(['I', 'T', 'E', 'I'])
})

test('a named query runs again by its name alone', async () => {
  const [theirs, ours] = await both(async (client) => {
    await client.query({ name: 'double', text: 'SELECT $1::int * 2 AS n', values: [1] })
    return (await client.query({ name: 'double', values: [21] })).rows
  })
  expect(ours).toEqual(theirs)
  expect(ours).toEqual([{ n: 42 }])
})

test("a notification has pg's fields, length included", async () => {
  const [theirs, ours] = await both(async (client) => {
    await client.query('LISTEN ecosystem_chan')
    const heard = new Promise((resolve) => client.once('notification', resolve))
    await client.query("NOTIFY ecosystem_chan, 'héllo'")
    const { name, channel, payload, length } = await heard
    return { name, channel, payload, length }
  })
  expect(ours).toEqual(theirs)
  expect(ours.length).toBe(4 + 4 + 'ecosystem_chan'.length + 1 + Buffer.byteLength('héllo') + 1)
})

test("'drain' once the client has no query left", async () => {
  const [theirs, ours] = await both(async (client) => {
    let drains = 0
    client.on('drain', () => drains++)
    await Promise.all([client.query('SELECT 1'), client.query('SELECT 2')])
    await new Promise((resolve) => setImmediate(resolve))
    return drains
  })
  expect(ours).toEqual(theirs)
  expect(ours).toBe(1)
})

test('the Promise option makes the promises its methods return', async () => {
  class Tagged extends Promise {}
  const [theirs, ours] = await both(async (client) => {
    const p = client.query('SELECT 1 AS one')
    return [p instanceof Tagged, (await p).rows]
  }, { Promise: Tagged })
  expect(ours).toEqual(theirs)
  expect(ours[0]).toBe(true)
})

test('an empty Buffer parameter reads back as an empty text and bytea', async () => {
  const [theirs, ours] = await both(async (client) =>
    (await client.query('SELECT $1::text AS t, length($2::bytea) AS n', [Buffer.alloc(0), Buffer.alloc(0)])).rows)
  expect(ours).toEqual(theirs)
  expect(ours).toEqual([{ t: '', n: 0 }])
})

test('a pg:// URL connects, as with pg', async () => {
  const url = db.url.replace(/^postgres(ql)?:\/\//, 'pg://')
  for (const driver of [pg, compat]) {
    const client = new driver.Client(url)
    await client.connect()
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await client.end()
  }
})

test('processID is the backend\'s, and server_version comes as a parameterStatus message at connect', async () => {
  const [theirs, ours] = await Promise.all([pg, compat].map(async (driver) => {
    const client = new driver.Client(db.url)
    const reported = {}
    client.connection.on('parameterStatus', (m) => { reported[m.parameterName] = m.parameterValue })
    await client.connect()
    const { pid, version } = (await client.query("SELECT pg_backend_pid() AS pid, current_setting('server_version') AS version")).rows[0]
    await client.end()
    return { samePid: client.processID === pid, version: reported.server_version === version, scs: reported.standard_conforming_strings }
  }))
  expect(ours).toEqual(theirs)
  expect(ours).toEqual({ samePid: true, version: true, scs: 'on' })
})

/** A connected Client of `driver` whose backend another connection terminates; its events and next query. */
async function terminated (driver, listen = true) {
  const client = new driver.Client(db.url)
  await client.connect()
  const events = []
  if (listen) client.on('error', (e) => events.push(`error: ${e.message}`))
  client.on('end', () => events.push('end'))
  const other = new driver.Client(db.url)
  await other.connect()
  await other.query('SELECT pg_terminate_backend($1)', [client.processID])
  await other.end()
  await new Promise((resolve) => setTimeout(resolve, 300))
  const next = await failure(client.query('SELECT 1'))
  const seen = [...events] // before end(), which emits its own 'end'
  await client.end().catch(() => {})
  return { events: seen, next: [next.message, next.code] }
}

test("a Client whose backend is terminated emits the server's error, then end, as pg's", async () => {
  const [theirs, ours] = [await terminated(pg), await terminated(compat)]
  const serverSaid = 'error: terminating connection due to administrator command'
  // pg emits a second error, 'Connection terminated unexpectedly', between the two.
  expect(theirs.events).toEqual([serverSaid, 'error: Connection terminated unexpectedly', 'end'])
  expect(ours.events).toEqual([serverSaid, 'end'])
  // The next query: pg's words for a closed connection (pg: 'not queryable'), with pgwarden's code.
  expect(ours.next).toEqual(['Connection terminated unexpectedly', 'P1017'])
})

test('with no error listener, a terminated backend never crashes the process (pg would throw)', async () => {
  const ours = await terminated(compat, false)
  expect(ours.events).toEqual(['end'])
})

test("a client of pool.connect() emits the server's error when its backend is terminated", async () => {
  const pool = new compat.Pool({ connectionString: db.url })
  const client = await pool.connect()
  const errors = []
  client.on('error', (e) => errors.push([e.code, e.constructor.name]))
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
  await pool.query('SELECT pg_terminate_backend($1)', [pid])
  await new Promise((resolve) => setTimeout(resolve, 300))
  client.release(true)
  await pool.end()
  expect(errors).toEqual([['57P01', 'DatabaseError']])
})

test("pg's escapes, TypeOverrides and defaults.parseInt8", async () => {
  const samples = ['plain', 'it\'s', 'back\\slash', 'both \\ \'', 'quo"te', '']
  for (const s of samples) {
    expect(compat.escapeLiteral(s)).toBe(pg.escapeLiteral(s))
    expect(compat.escapeIdentifier(s)).toBe(pg.escapeIdentifier(s))
    expect(new compat.Client().escapeLiteral(s)).toBe(pg.escapeLiteral(s))
  }
  // One after the other: pg and pgwarden/pg share pg-types, which parseInt8 changes.
  const run = async (driver) => {
    const types = new driver.TypeOverrides()
    types.setTypeParser(1700, parseFloat)
    const pool = new driver.Pool({ connectionString: db.url, types })
    const sql = 'SELECT 1.5::numeric AS n, count(*) AS c, ARRAY[1, 2]::int8[] AS a FROM generate_series(1, 3)'
    const before = (await pool.query(sql)).rows
    driver.defaults.parseInt8 = true
    try {
      return { before, after: (await pool.query(sql)).rows }
    } finally {
      driver.defaults.parseInt8 = false
      await pool.end()
    }
  }
  const theirs = await run(pg)
  const ours = await run(compat)
  expect(ours).toEqual(theirs)
  expect(ours).toEqual({ before: [{ n: 1.5, c: '3', a: ['1', '2'] }], after: [{ n: 1.5, c: 3, a: [1, 2] }] })
})

test('a query pg cannot run rejects on a later tick, not thrown from query()', async () => {
  const [theirs, ours] = await both(async (client) => {
    let returned
    try {
      returned = client.query('SELECT $1::timestamptz', [new Date(NaN)])
    } catch {
      return 'thrown'
    }
    return returned.then(() => 'fulfilled', () => 'rejected')
  })
  expect(ours).toEqual(theirs)
  expect(ours).toBe('rejected')
})

test("results are pg's Result, and a Result built from messages parses as pg's", async () => {
  const [theirs, ours] = await both(async (client, driver) => {
    const r = await client.query('SELECT 1 AS one')
    const built = new driver.Result()
    built.addFields([{ name: 'n', dataTypeID: 20, format: 'text' }, { name: 'd', dataTypeID: 1082, format: 'text' }])
    built.addRow(built.parseRow(['12', '2024-06-01']))
    built.addCommandComplete({ text: 'SELECT 1' })
    const array = new driver.Result('array')
    array.addFields([{ name: 'n', dataTypeID: 23, format: 'text' }])
    return {
      instance: r instanceof driver.Result,
      built: [built.command, built.rowCount, built.rows],
      array: array.parseRow(['7']),
      keys: Object.keys(r).filter((k) => !k.startsWith('_')).sort()
    }
  })
  expect(ours).toEqual(theirs)
  expect(ours.instance).toBe(true)
})

test("queryMode 'extended': text of several statements is the server's error, as pg's", async () => {
  const [theirs, ours] = await both(async (client) => {
    const e = await failure(client.query({ text: 'SELECT 1; SELECT 2', queryMode: 'extended' }))
    const one = (await client.query({ text: 'SELECT 1 AS one', queryMode: 'extended' })).rows
    return { error: [e.code, e.message], one }
  })
  expect(ours).toEqual(theirs)
  expect(ours.error[0]).toBe('42601')
})

test('a Buffer parameter is its bytes, as pg sends it: into bytea, and into text as its UTF-8', async () => {
  const [theirs, ours] = await both(async (client) =>
    (await client.query('SELECT $1::text AS t, $2::bytea AS b, $1 AS untyped', [Buffer.from('héllo'), Buffer.from([0, 1, 255])])).rows)
  expect(ours).toEqual(theirs)
  expect(ours).toEqual([{ t: 'héllo', b: Buffer.from([0, 1, 255]), untyped: 'héllo' }])
})
