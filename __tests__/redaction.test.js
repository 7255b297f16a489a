'use strict'
// "The password never appears in any error, log line, stats object,
// inspect/toString output or report."

const fs = require('node:fs')
const path = require('node:path')
const util = require('node:util')
const { Pool, PgWardenError } = require('..')
const { harness, freshDatabase, ownedCluster } = require('./harness')
const { freePort, failure, thrownBy } = require('./helpers/common')

const PW = 'Sup3r-S3cret!'
const NEEDLES = [PW, encodeURIComponent(PW), 'S3cret']
const APP = `pgw_redact_${process.pid}`

/** Every way a value can be shown: none may contain the password. */
function renderings (v) {
  const out = [util.inspect(v, { depth: null, showHidden: true }), String(v)]
  try { out.push(JSON.stringify(v)) } catch (e) { out.push(`unserializable: ${e.message}`) }
  if (v instanceof Error) out.push(v.message, v.stack || '', util.format('%s %o', v, v))
  return out
}

function expectClean (v) {
  for (const text of renderings(v)) {
    for (const needle of NEEDLES) {
      if (text && text.includes(needle)) {
        throw new Error(`password (${needle}) leaked in: ${text.slice(0, 400)}`)
      }
    }
  }
}

function capturingLogger () {
  const lines = []
  const rec = (level) => (...args) => lines.push(`${level} ${util.format(...args)}`)
  return { lines, logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') } }
}

/** The error thrown by `new Pool(opts)`; fails when nothing is thrown. */
function ctorError (opts) {
  const err = thrownBy(() => new Pool({ logger: false, ...opts }).end())
  expect(err).toBeInstanceOf(PgWardenError)
  expect(err.code).toBe('ERR_PGWARDEN_CONFIG')
  return err
}

/** `url` with the password PW set and optional query parameters. */
function withPassword (url, user = 'postgres', params = {}) {
  const u = new URL(url)
  u.username = user
  u.password = PW
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v))
  return u.toString()
}

let dbUrl
const savedUrl = process.env.DATABASE_URL
beforeAll(async () => {
  dbUrl = await freshDatabase('redact')
})
afterEach(() => {
  if (savedUrl === undefined) delete process.env.DATABASE_URL
  else process.env.DATABASE_URL = savedUrl
})

describe('config errors never show the password', () => {
  // Each string is a connection string a user could plausibly write; all are invalid.
  const cases = [
    ['unparsable host', `postgres://u:${PW}@[bad/db`],
    ['bad port', `postgres://u:${PW}@localhost:99999/db`],
    ['bad connection_limit', `postgres://u:${PW}@localhost/db?connection_limit=abc`],
    ['unknown sslmode', `postgres://u:${PW}@localhost/db?sslmode=bogus`],
    ['wrong scheme', `mysql://u:${PW}@localhost/db`],
    ['space in host', `postgres://u:${PW}@local host/db`],
    ['missing scheme', `u:${PW}@localhost/db`],
    ['unencoded / in the password', `postgres://u:${PW}/x@localhost/db`],
    ['unencoded # in the password', `postgres://u:${PW}#x@localhost/db`],
    ['unencoded ? in the password', `postgres://u:${PW}?x@localhost/db`],
    ['password as a query parameter of an unparsable URL', `postgres://u@[bad/db?password=${encodeURIComponent(PW)}`]
  ]

  test.each(cases)('option connectionString: %s', (_, url) => {
    const err = ctorError({ connectionString: url })
    expect(err.message).toMatch(/connectionString|connection_limit|sslmode|port/)
    expectClean(err)
  })

  test.each(cases)('env DATABASE_URL: %s', (_, url) => {
    process.env.DATABASE_URL = url
    expectClean(ctorError({}))
  })

  test.each(cases)('replicaUrls: %s', (_, url) => {
    // Some of these parse (replicas connect lazily, on the first replica read): then the pool must not show it.
    let pool
    try {
      pool = new Pool({ connectionString: dbUrl, replicaUrls: [url], logger: false })
    } catch (e) {
      expect(e.code).toBe('ERR_PGWARDEN_CONFIG')
      expectClean(e)
      return
    }
    try {
      expectClean(pool)
      expectClean(pool.toJSON())
    } finally {
      pool.end()
    }
  })

  test('bad option values next to a password URL', () => {
    const url = withPassword(dbUrl)
    for (const opts of [{ connectionLimit: -1 }, { poolTimeoutMs: NaN }, { int8: 'x' }, { utilizationAlertThreshold: 2 }, { ssl: 'bogus' }, { connectionLimit: 0 }]) {
      expectClean(ctorError({ connectionString: url, ...opts }))
    }
  })
})

describe('a pool built with a password never shows it', () => {
  const urls = () => [
    withPassword(dbUrl, 'postgres', { application_name: APP }),
    (() => { const u = new URL(dbUrl); u.searchParams.set('password', PW); u.searchParams.set('application_name', APP); return u.toString() })()
  ]

  test('inspect, String, JSON.stringify, toJSON, getPoolStats, logger — before and after queries and errors', async () => {
    for (const url of urls()) {
      const { lines, logger } = capturingLogger()
      const pool = new Pool({
        connectionString: url + '&unknown_param=1',
        replicaUrls: [withPassword('postgres://127.0.0.1:1/replica')],
        slowQueryThresholdMs: 1,
        logger
      })
      try {
        expectClean(pool)
        expectClean(pool.toJSON())
        expect(String(pool)).toMatch(/^Pool\(postgres:\/\/postgres@/)
        expectClean(pool.getPoolStats())
        await pool.query('SELECT pg_sleep(0.01), $1::text AS t', ['x'])
        await expect(pool.query('SELEC 1')).rejects.toBeInstanceOf(PgWardenError)
        const err = await failure(pool.query('SELECT 1/0'))
        expect(err.code).toBe('22012')
        expectClean(err)
        expectClean(pool)
        expectClean(pool.getPoolStats())
        expect(lines.length).toBeGreaterThan(0) // the unknown parameter warning at least
        for (const line of lines) expectClean(line)
      } finally {
        await pool.end()
      }
      expectClean(pool)
      // After end() the query rejects (closed) or, if it ever did not, resolves: neither may show the password.
      expectClean(await pool.query('SELECT 1').then((result) => result, (err) => err))
      for (const line of lines) expectClean(line)
    }
  })
})

describe('replica URLs with a password', () => {
  test.each([
    ['in the userinfo', withPassword('postgres://127.0.0.1:1/replica', 'r')],
    ['as a password= query parameter', `postgres://r@127.0.0.1:1/replica?password=${encodeURIComponent(PW)}`]
  ])('%s: not shown by inspect/toJSON/String', (_, replica) => {
    const pool = new Pool({ connectionString: dbUrl, replicaUrls: [replica], logger: false })
    try {
      expect(pool.toJSON().replicas).toHaveLength(1)
      expectClean(pool)
      expectClean(pool.toJSON())
    } finally {
      pool.end()
    }
  })

  test('DATABASE_REPLICA_URL with a password: not shown', () => {
    const saved = process.env.DATABASE_REPLICA_URL
    process.env.DATABASE_REPLICA_URL = `${withPassword('postgres://127.0.0.1:1/r1', 'r')},postgres://r@127.0.0.1:1/r2?password=${encodeURIComponent(PW)}`
    try {
      const pool = new Pool({ connectionString: dbUrl, logger: false })
      try {
        expect(pool.toJSON().replicas).toHaveLength(2)
        expectClean(pool)
      } finally {
        pool.end()
      }
    } finally {
      if (saved === undefined) delete process.env.DATABASE_REPLICA_URL
      else process.env.DATABASE_REPLICA_URL = saved
    }
  })
})

describe('connection errors never show the password', () => {
  test('P1001 (closed port) from connect() and query()', async () => {
    const port = await freePort()
    const { lines, logger } = capturingLogger()
    const pool = new Pool({ connectionString: withPassword(`postgres://127.0.0.1:${port}/db`), connectTimeoutMs: 1000, poolTimeoutMs: 2000, logger })
    try {
      const e1 = await failure(pool.connect())
      expect(e1).toBeInstanceOf(PgWardenError)
      expect(e1.code).toBe('P1001')
      expect(e1.message).toContain(`127.0.0.1:${port}`)
      expectClean(e1)
      const e2 = await failure(pool.query('SELECT 1'))
      expect(e2.code).toBe('P1001')
      expectClean(e2)
      expectClean(pool.getPoolStats())
      for (const line of lines) expectClean(line)
    } finally {
      await pool.end()
    }
  })

  test('unknown host', async () => {
    const pool = new Pool({ connectionString: withPassword('postgres://no-such-host.invalid:5432/db'), connectTimeoutMs: 1000, poolTimeoutMs: 2000, logger: false })
    try {
      const err = await failure(pool.query('SELECT 1'))
      expect(err).toBeInstanceOf(PgWardenError)
      expect(err.kind).toBe('connection')
      expectClean(err)
    } finally {
      await pool.end()
    }
  })

  test('database that does not exist (3D000)', async () => {
    const u = new URL(withPassword(harness().url))
    u.pathname = '/no_such_db_' + process.pid
    const pool = new Pool({ connectionString: u.toString(), logger: false })
    try {
      const err = await failure(pool.query('SELECT 1'))
      expect(err).toBeInstanceOf(PgWardenError)
      expect(err.code).toBe('3D000')
      expectClean(err)
    } finally {
      await pool.end()
    }
  })

  describe('password authentication (private cluster with scram-sha-256)', () => {
    let cluster
    const ROLE = 'pgw_pw_user'
    beforeAll(async () => {
      cluster = await ownedCluster()
      await cluster.admin(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PW}'`)
      // Trust for the harness's own postgres sessions, passwords for everyone else.
      fs.writeFileSync(path.join(cluster.dataDir, 'pg_hba.conf'), [
        'local all all trust',
        'host all postgres 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 scram-sha-256',
        ''
      ].join('\n'))
      await cluster.admin('SELECT pg_reload_conf()')
    }, 60000)
    afterAll(async () => {
      if (cluster) await cluster.destroy()
    })

    test('the right password works and is never shown', async () => {
      const { lines, logger } = capturingLogger()
      const pool = new Pool({ connectionString: withPassword(cluster.url, ROLE), logger })
      try {
        const r = await pool.query('SELECT current_user AS u')
        expect(r.rows).toEqual([{ u: ROLE }])
        expectClean(pool)
        expectClean(pool.getPoolStats())
        for (const line of lines) expectClean(line)
      } finally {
        await pool.end()
      }
    })

    test('a wrong password fails with 28P01 and shows neither password', async () => {
      const { lines, logger } = capturingLogger()
      const u = new URL(cluster.url)
      u.username = ROLE
      u.password = 'Wr0ng-' + PW
      const pool = new Pool({ connectionString: u.toString(), logger })
      try {
        const err = await failure(pool.connect())
        expect(err).toBeInstanceOf(PgWardenError)
        expect(err.code).toBe('28P01')
        expect(err.kind).toBe('permission')
        expect(err.retryable).toBe(false)
        expectClean(err)
        const err2 = await failure(pool.query('SELECT 1'))
        expect(err2.code).toBe('28P01')
        expectClean(err2)
        expectClean(pool)
        expectClean(pool.getPoolStats())
        for (const line of lines) expectClean(line)
      } finally {
        await pool.end()
      }
    })
  })
})
