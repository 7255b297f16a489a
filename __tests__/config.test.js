'use strict'
// every row of the configuration table — option, URL parameter (with its unit),
// environment names (first one set wins), default — with precedence
// option > URL > env > default, observed through toJSON()/inspect and, where the setting has a
// visible effect, on the server. Invalid values throw ERR_PGWARDEN_CONFIG naming source and value.

const os = require('node:os')
const util = require('node:util')
const { Pool, createPool, PgWardenError } = require('..')
const { freshDatabase } = require('./harness')
const { failure, thrownBy, recordingLogger } = require('./helpers/common')
const { clientSocketOptions, systemKeepalive } = require('./helpers/socket-options')

const APP = `pgw_config_${process.pid}`
const silent = { debug () {}, info () {}, warn () {}, error () {} }

// Every environment variable docs/CONFIGURATION.md names, saved and cleared around each test.
const ENV_NAMES = [
  'DATABASE_URL', 'DB_CONNECTION_LIMIT', 'DATABASE_CONNECTION_LIMIT', 'DATABASE_POOL_SIZE',
  'DB_POOL_TIMEOUT', 'DATABASE_POOL_TIMEOUT', 'DATABASE_CONNECT_TIMEOUT', 'DB_QUERY_TIMEOUT',
  'DATABASE_QUERY_TIMEOUT', 'DATABASE_STATEMENT_TIMEOUT', 'DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT',
  'DB_STATEMENT_CACHE_SIZE', 'DB_PIPELINE_DEPTH', 'DB_SLOW_QUERY_THRESHOLD', 'SLOW_QUERY_THRESHOLD', 'DATABASE_REPLICA_URL',
  'DATABASE_REPLICA_URLS'
]
let savedEnv
beforeEach(() => {
  savedEnv = {}
  for (const n of ENV_NAMES) {
    savedEnv[n] = process.env[n]
    delete process.env[n]
  }
})
afterEach(() => {
  for (const n of ENV_NAMES) {
    if (savedEnv[n] === undefined) delete process.env[n]
    else process.env[n] = savedEnv[n]
  }
})

let dbUrl
beforeAll(async () => {
  dbUrl = await freshDatabase('config')
})

/** `dbUrl` with extra query parameters. */
function withParams (base, params) {
  const u = new URL(base)
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, String(v))
  return u.toString()
}

/** A pool on the test database that is never used for I/O (config only). */
function settingsOf (opts = {}, params = {}) {
  const pool = new Pool({ connectionString: withParams(dbUrl, params), logger: silent, ...opts })
  const json = pool.toJSON()
  pool.end()
  return json
}

/** Runs `fn` with a pool and always ends it. */
async function withPool (opts, fn) {
  const pool = new Pool({ logger: silent, ...opts })
  try {
    return await fn(pool)
  } finally {
    await pool.end()
  }
}

/** The config error thrown by `new Pool(opts)` (fails the test if nothing is thrown). */
function configError (opts) {
  const err = thrownBy(() => new Pool({ logger: silent, ...opts }).end())
  expect(err).toBeInstanceOf(PgWardenError)
  expect(err).toBeInstanceOf(Error)
  expect(err.code).toBe('ERR_PGWARDEN_CONFIG')
  expect(err.kind).toBe('config')
  expect(err.retryable).toBe(false)
  return err
}

// Numeric rows of the table: option, URL parameter, env names, ms per URL/env unit, default.
const NUMERIC_ROWS = [
  { option: 'connectionLimit', url: 'connection_limit', env: ['DB_CONNECTION_LIMIT', 'DATABASE_CONNECTION_LIMIT', 'DATABASE_POOL_SIZE'], unit: 1, def: os.availableParallelism() * 2 + 1, values: [3, 7, 9, 11, 13] },
  { option: 'poolTimeoutMs', url: 'pool_timeout', env: ['DB_POOL_TIMEOUT', 'DATABASE_POOL_TIMEOUT'], unit: 1000, def: 10000, values: [1500, 3, 4, 6] },
  { option: 'connectTimeoutMs', url: 'connect_timeout', env: ['DATABASE_CONNECT_TIMEOUT'], unit: 1000, def: 5000, values: [2500, 3, 7] },
  { option: 'keepalivesIdleMs', url: 'keepalives_idle', env: [], unit: 1000, def: 30000, values: [7000, 12] },
  { option: 'keepalivesIntervalMs', url: 'keepalives_interval', env: [], unit: 1000, def: 10000, values: [4000, 3] },
  { option: 'keepalivesCount', url: 'keepalives_count', env: [], unit: 1, def: 3, values: [5, 6] },
  { option: 'tcpUserTimeoutMs', url: 'tcp_user_timeout', env: [], unit: 1, def: 0, values: [1500, 2500] },
  { option: 'idleTimeoutMs', url: 'idle_timeout', env: [], unit: 1000, def: 60000, values: [1234, 12] },
  { option: 'maxLifetimeMs', url: 'max_lifetime', env: [], unit: 1000, def: 1800000, values: [4321, 120] },
  { option: 'queryTimeoutMs', url: 'statement_timeout', env: ['DB_QUERY_TIMEOUT', 'DATABASE_QUERY_TIMEOUT', 'DATABASE_STATEMENT_TIMEOUT'], unit: 1, def: 30000, values: [111, 222, 333, 444, 555] },
  { option: 'statementCacheSize', url: 'statement_cache_size', env: ['DB_STATEMENT_CACHE_SIZE'], unit: 1, def: 100, values: [5, 6, 7] },
  { option: 'pipelineDepth', url: 'pipeline_depth', env: ['DB_PIPELINE_DEPTH'], unit: 1, def: 8, values: [2, 3, 4] },
  { option: 'slowQueryThresholdMs', url: null, env: ['DB_SLOW_QUERY_THRESHOLD', 'SLOW_QUERY_THRESHOLD'], unit: 1, def: 1000, values: [250, 350, 450, 550] },
  { option: 'minConnections', url: null, env: [], unit: 1, def: 0, values: [2] },
  { option: 'utilizationAlertThreshold', url: null, env: [], unit: 1, def: 0.8, values: [0.5] }
]

describe.each(NUMERIC_ROWS)('$option', (row) => {
  const [optV, urlV, ...envVs] = row.values

  test(`default is ${row.def}`, () => {
    expect(settingsOf()[row.option]).toBe(row.def)
  })

  test('option is used as given (ms)', () => {
    expect(settingsOf({ [row.option]: optV })[row.option]).toBe(optV)
  })

  test('option wins over URL parameter and environment', () => {
    for (const n of row.env) process.env[n] = String(envVs[0])
    const params = row.url ? { [row.url]: urlV } : {}
    expect(settingsOf({ [row.option]: optV }, params)[row.option]).toBe(optV)
  })

  if (row.url) {
    test(`URL parameter ${row.url} (×${row.unit} ms) wins over environment and default`, () => {
      for (const n of row.env) process.env[n] = String(envVs[0])
      expect(settingsOf({}, { [row.url]: urlV })[row.option]).toBe(urlV * row.unit)
    })
  }

  row.env.forEach((name, i) => {
    test(`environment ${name} (×${row.unit} ms) is read when no option/URL value`, () => {
      process.env[name] = String(envVs[i])
      expect(settingsOf()[row.option]).toBe(envVs[i] * row.unit)
    })
  })

  if (row.env.length > 1) {
    test('the first environment name set wins', () => {
      row.env.forEach((n, i) => { process.env[n] = String(envVs[i]) })
      for (let i = 0; i < row.env.length; i++) {
        expect(settingsOf()[row.option]).toBe(envVs[i] * row.unit)
        delete process.env[row.env[i]]
      }
      expect(settingsOf()[row.option]).toBe(row.def)
    })
  }

  test('invalid option values throw ERR_PGWARDEN_CONFIG naming the option and the value', () => {
    for (const bad of [-1, NaN, 'abc']) {
      const err = configError({ connectionString: dbUrl, [row.option]: bad })
      expect(err.message).toContain(`option ${row.option}`)
      expect(err.message).toContain(String(bad))
    }
  })

  if (row.url) {
    test(`invalid URL parameter ${row.url} throws naming the parameter and the value`, () => {
      for (const bad of ['-5', 'soon']) {
        const err = configError({ connectionString: withParams(dbUrl, { [row.url]: bad }) })
        expect(err.message).toContain(`URL parameter ${row.url}`)
        expect(err.message).toContain(bad)
      }
    })
  }

  row.env.forEach((name) => {
    test(`invalid environment ${name} throws naming the variable and the value`, () => {
      for (const bad of ['soon', '-3', 'NaN']) {
        process.env[name] = bad
        const err = configError({ connectionString: dbUrl })
        expect(err.message).toContain(`environment variable ${name}`)
        expect(err.message).toContain(bad)
      }
    })
  })
})

describe('defaults', () => {
  test('resolved defaults of every setting', () => {
    const s = settingsOf()
    expect(s).toMatchObject({
      connectionLimit: os.availableParallelism() * 2 + 1,
      minConnections: 0,
      poolTimeoutMs: 10000,
      connectTimeoutMs: 5000,
      keepalives: true,
      keepalivesIdleMs: 30000,
      keepalivesIntervalMs: 10000,
      keepalivesCount: 3,
      tcpUserTimeoutMs: 0,
      idleTimeoutMs: 60000,
      maxLifetimeMs: 1800000,
      queryTimeoutMs: 30000,
      statementCacheSize: 100,
      pipelineDepth: 8,
      pgbouncer: false,
      slowQueryThresholdMs: 1000,
      utilizationAlertThreshold: 0.8,
      replicas: [],
      applicationName: 'pgwarden',
      int8: 'string',
      logParams: false
    })
  })

  test('inspect and toJSON show the same resolved settings', () => {
    const pool = new Pool({ connectionString: withParams(dbUrl, { connection_limit: 4 }), logger: silent, queryTimeoutMs: 1234 })
    try {
      const text = util.inspect(pool)
      expect(text).toContain('connectionLimit: 4')
      expect(text).toContain('queryTimeoutMs: 1234')
      expect(text).toContain('ended: false')
      expect(pool.toJSON()).toMatchObject({ connectionLimit: 4, queryTimeoutMs: 1234 })
    } finally {
      pool.end()
    }
  })

  test('createPool(options) is new Pool(options)', () => {
    const pool = createPool({ connectionString: dbUrl, logger: silent, connectionLimit: 2 })
    expect(pool).toBeInstanceOf(Pool)
    expect(pool.toJSON().connectionLimit).toBe(2)
    pool.end()
  })
})

describe('TCP keepalive and tcp_user_timeout reach the client socket', () => {
  // Read back from the kernel with getsockopt on the pool's own socket (found by the port the
  // server sees it connect from): the values the kernel uses, not pgwarden's own record of them.
  const linux = process.platform === 'linux' ? test : test.skip

  /** The keepalive options of the socket of a connection of `opts`'s pool. */
  async function socketOf (opts, params = {}) {
    return withPool({ connectionString: withParams(dbUrl, params), connectionLimit: 1, ...opts }, async (pool) => {
      const { rows } = await pool.query('SELECT inet_client_port() AS client, inet_server_port() AS server')
      expect(rows[0].client).toEqual(expect.any(Number)) // a TCP connection, not a Unix socket
      return clientSocketOptions(rows[0].client, rows[0].server)
    })
  }

  linux('by default: on, first probe after 30 s, every 10 s, 3 probes; TCP_USER_TIMEOUT the system\'s', async () => {
    expect(await socketOf({})).toEqual({ keepalive: 1, idle: 30, interval: 10, count: 3, userTimeout: 0 })
  })

  linux('the options set each value', async () => {
    const opts = { keepalivesIdleMs: 7000, keepalivesIntervalMs: 3000, keepalivesCount: 4, tcpUserTimeoutMs: 12345 }
    expect(await socketOf(opts)).toEqual({ keepalive: 1, idle: 7, interval: 3, count: 4, userTimeout: 12345 })
  })

  linux("libpq's URL keys set each value (seconds, and ms for tcp_user_timeout)", async () => {
    const params = { keepalives: 1, keepalives_idle: 8, keepalives_interval: 2, keepalives_count: 5, tcp_user_timeout: 4321 }
    expect(await socketOf({}, params)).toEqual({ keepalive: 1, idle: 8, interval: 2, count: 5, userTimeout: 4321 })
  })

  linux('keepalives=0 (or false) leaves SO_KEEPALIVE off', async () => {
    expect((await socketOf({}, { keepalives: 0 })).keepalive).toBe(0)
    expect((await socketOf({ keepalives: false })).keepalive).toBe(0)
  })

  linux("0 leaves the system's value", async () => {
    const got = await socketOf({ keepalivesIdleMs: 0, keepalivesIntervalMs: 0, keepalivesCount: 0, tcpUserTimeoutMs: 0 })
    expect(got).toEqual({ keepalive: 1, ...systemKeepalive(), userTimeout: 0 })
  })

  test('bad values are config errors before anything is sent', () => {
    for (const [opts, words] of [
      [{ keepalivesIdleMs: 1500 }, 'Invalid keepalivesIdleMs: 1500 from option keepalivesIdleMs (expected whole seconds'],
      [{ keepalivesCount: 128 }, 'Invalid keepalivesCount: 128 from option keepalivesCount (expected from 0 to 127)'],
      [{ keepalives: 'sometimes' }, "Invalid keepalives: 'sometimes' from option keepalives (expected true or false)"]
    ]) {
      expect(configError({ connectionString: dbUrl, ...opts }).message).toContain(words)
    }
    const err = configError({ connectionString: withParams(dbUrl, { keepalives_interval: 0.5 }) })
    expect(err.message).toBe("Invalid keepalivesIntervalMs: '0.5' from URL parameter keepalives_interval (expected whole seconds from 0 to 32767)")
  })
})

describe('connectionString / DATABASE_URL', () => {
  test('DATABASE_URL is used when no option is given', async () => {
    process.env.DATABASE_URL = dbUrl
    await withPool({ applicationName: APP }, async (pool) => {
      const db = new URL(dbUrl).pathname.slice(1)
      expect(pool.toJSON().database).toBe(db)
      const r = await pool.query('SELECT current_database() AS db')
      expect(r.rows[0].db).toBe(db)
    })
  })

  test('option connectionString wins over DATABASE_URL', () => {
    process.env.DATABASE_URL = 'postgres://someone@elsewhere.invalid:1111/otherdb'
    const s = settingsOf()
    expect(s.database).toBe(new URL(dbUrl).pathname.slice(1))
    expect(s.host).not.toBe('elsewhere.invalid')
  })

  test('a string argument is the connection string', () => {
    const pool = new Pool(dbUrl)
    expect(pool.toJSON().database).toBe(new URL(dbUrl).pathname.slice(1))
    pool.end()
  })

  test('missing connection string is a clear config error', () => {
    const err = configError({})
    expect(err.message).toMatch(/connectionString/)
    expect(err.message).toMatch(/DATABASE_URL/)
  })

  test('unparsable URL is a config error naming the source', () => {
    let err = configError({ connectionString: 'not a url' })
    expect(err.message).toContain('option connectionString')
    expect(err.message).toContain('not a url')
    err = configError({ connectionString: 'mysql://u@h/db' })
    expect(err.message).toContain('option connectionString')
    process.env.DATABASE_URL = 'postgres://u@[bad'
    err = configError({})
    expect(err.message).toContain('environment variable DATABASE_URL')
  })

  test('connectionString that is not a string is a config error', () => {
    const err = configError({ connectionString: 42 })
    expect(err.message).toContain('option connectionString')
    expect(err.message).toContain('42')
  })
})

describe('connectionLimit specifics', () => {
  test('0 and fractions are rejected', () => {
    let err = configError({ connectionString: dbUrl, connectionLimit: 0 })
    expect(err.message).toContain('option connectionLimit')
    err = configError({ connectionString: dbUrl, connectionLimit: 1.5 })
    expect(err.message).toContain('1.5')
    err = configError({ connectionString: withParams(dbUrl, { connection_limit: 'abc' }) })
    expect(err.message).toContain('URL parameter connection_limit')
    expect(err.message).toContain('abc')
  })

  test('the limit is enforced on the server: never more backends than connectionLimit', async () => {
    const app = `${APP}_limit`
    await withPool({ connectionString: withParams(dbUrl, { connection_limit: 2 }), applicationName: app }, async (pool) => {
      await Promise.all(Array.from({ length: 6 }, () => pool.query('SELECT pg_sleep(0.05)')))
      const r = await pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app])
      expect(r.rows[0].n).toBeLessThanOrEqual(2)
      expect(pool.getPoolStats().pool.limit).toBe(2)
    })
  })

  test('minConnections above connectionLimit is rejected', () => {
    const err = configError({ connectionString: dbUrl, connectionLimit: 2, minConnections: 3 })
    expect(err.message).toContain('minConnections')
  })
})

describe('queryTimeoutMs from URL statement_timeout (ms) takes effect', () => {
  test('statement_timeout=150 cancels pg_sleep with P1008', async () => {
    await withPool({ connectionString: withParams(dbUrl, { statement_timeout: 150 }), applicationName: `${APP}_st` }, async (pool) => {
      const t0 = Date.now()
      await expect(pool.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: 'P1008', kind: 'timeout' })
      expect(Date.now() - t0).toBeLessThan(3000)
    })
  })

  test('DB_QUERY_TIMEOUT (ms) takes effect', async () => {
    process.env.DB_QUERY_TIMEOUT = '150'
    await withPool({ connectionString: dbUrl, applicationName: `${APP}_st2` }, async (pool) => {
      expect(pool.toJSON().queryTimeoutMs).toBe(150)
      await expect(pool.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: 'P1008' })
    })
  })
})

describe('poolTimeoutMs from URL pool_timeout (s) takes effect', () => {
  test('pool_timeout=0.3 → P2024 after about 300 ms', async () => {
    await withPool({ connectionString: withParams(dbUrl, { pool_timeout: 0.3, connection_limit: 1 }), applicationName: `${APP}_pt` }, async (pool) => {
      const held = await pool.acquire()
      try {
        const t0 = Date.now()
        await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'P2024', kind: 'pool_timeout' })
        const dt = Date.now() - t0
        expect(dt).toBeGreaterThanOrEqual(250)
        expect(dt).toBeLessThan(1500)
      } finally {
        held.release()
      }
    })
  })
})

describe('idleInTransactionTimeoutMs', () => {
  async function showIdleInTx (opts) {
    return withPool({ applicationName: `${APP}_iit`, ...opts }, async (pool) => {
      const r = await pool.query('SHOW idle_in_transaction_session_timeout')
      return r.rows[0].idle_in_transaction_session_timeout
    })
  }

  test('default: unset (server default 0)', async () => {
    expect(await showIdleInTx({ connectionString: dbUrl })).toBe('0')
  })

  test('option sets it on the server', async () => {
    expect(await showIdleInTx({ connectionString: dbUrl, idleInTransactionTimeoutMs: 1234 })).toBe('1234ms')
  })

  test('URL parameter idle_in_transaction_session_timeout (ms) sets it', async () => {
    expect(await showIdleInTx({ connectionString: withParams(dbUrl, { idle_in_transaction_session_timeout: 2345 }) })).toBe('2345ms')
  })

  test('environment DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT (ms) sets it', async () => {
    process.env.DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT = '3456'
    expect(await showIdleInTx({ connectionString: dbUrl })).toBe('3456ms')
  })

  test('precedence option > URL > env', async () => {
    process.env.DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT = '3456'
    const url = withParams(dbUrl, { idle_in_transaction_session_timeout: 2345 })
    expect(await showIdleInTx({ connectionString: url, idleInTransactionTimeoutMs: 1234 })).toBe('1234ms')
    expect(await showIdleInTx({ connectionString: url })).toBe('2345ms')
  })

  test('invalid values name their source', () => {
    let err = configError({ connectionString: dbUrl, idleInTransactionTimeoutMs: -1 })
    expect(err.message).toContain('option idleInTransactionTimeoutMs')
    err = configError({ connectionString: withParams(dbUrl, { idle_in_transaction_session_timeout: 'x1' }) })
    expect(err.message).toContain('URL parameter idle_in_transaction_session_timeout')
    expect(err.message).toContain('x1')
    process.env.DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT = 'later'
    err = configError({ connectionString: dbUrl })
    expect(err.message).toContain('environment variable DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT')
    expect(err.message).toContain('later')
  })
})

describe('applicationName', () => {
  async function appNameOnServer (opts) {
    return withPool(opts, async (pool) => {
      const r = await pool.query('SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()')
      return { server: r.rows[0].application_name, json: pool.toJSON().applicationName }
    })
  }

  test("default 'pgwarden'", async () => {
    expect(await appNameOnServer({ connectionString: dbUrl })).toEqual({ server: 'pgwarden', json: 'pgwarden' })
  })

  test('URL application_name', async () => {
    const name = `${APP}_url`
    expect(await appNameOnServer({ connectionString: withParams(dbUrl, { application_name: name }) })).toEqual({ server: name, json: name })
  })

  test('option wins over URL', async () => {
    const name = `${APP}_opt`
    const url = withParams(dbUrl, { application_name: `${APP}_loser` })
    expect(await appNameOnServer({ connectionString: url, applicationName: name })).toEqual({ server: name, json: name })
  })
})

describe('schema → search_path', () => {
  let base
  beforeAll(async () => {
    base = withParams(dbUrl, { application_name: `${APP}_schema` })
    await withPool({ connectionString: base }, (pool) =>
      pool.executeScript('CREATE SCHEMA IF NOT EXISTS app_a; CREATE SCHEMA IF NOT EXISTS app_b; CREATE TABLE IF NOT EXISTS app_a.t (v text); CREATE TABLE IF NOT EXISTS app_b.t (v text); INSERT INTO app_a.t VALUES (\'a\'); INSERT INTO app_b.t VALUES (\'b\')'))
  })

  async function searchPath (opts) {
    return withPool(opts, async (pool) => {
      const sp = (await pool.query('SHOW search_path')).rows[0].search_path
      return sp
    })
  }

  test('default: the server default', async () => {
    expect(await searchPath({ connectionString: base })).toBe('"$user", public')
  })

  test('option schema sets search_path and unqualified names resolve there', async () => {
    await withPool({ connectionString: base, schema: 'app_a' }, async (pool) => {
      expect((await pool.query('SHOW search_path')).rows[0].search_path).toBe('app_a')
      expect((await pool.query('SELECT v FROM t')).rows).toEqual([{ v: 'a' }])
    })
  })

  test('URL schema sets search_path', async () => {
    expect(await searchPath({ connectionString: withParams(base, { schema: 'app_b' }) })).toBe('app_b')
  })

  test('option wins over URL', async () => {
    expect(await searchPath({ connectionString: withParams(base, { schema: 'app_b' }), schema: 'app_a' })).toBe('app_a')
  })
})

describe('statementCacheSize (named prepared statements, LRU bound)', () => {
  /** Number of prepared statements on one connection after `n` distinct statements. */
  async function preparedAfter (opts, n) {
    return withPool({ connectionString: dbUrl, applicationName: `${APP}_cache`, ...opts }, async (pool) => {
      const client = await pool.acquire()
      try {
        for (let i = 0; i < n; i++) await client.query(`SELECT ${i} AS c${i}`)
        // Run twice: the counting statement itself is cached too.
        await client.query('SELECT count(*)::int AS n FROM pg_prepared_statements')
        return (await client.query('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0].n
      } finally {
        client.release()
      }
    })
  }

  test('default 100: every distinct statement stays prepared', async () => {
    expect(await preparedAfter({}, 8)).toBe(9)
  })

  test('option bounds the cache (LRU): 3', async () => {
    expect(await preparedAfter({ statementCacheSize: 3 }, 8)).toBe(3)
  })

  test('URL statement_cache_size bounds it', async () => {
    expect(await preparedAfter({ connectionString: withParams(dbUrl, { statement_cache_size: 4 }) }, 8)).toBe(4)
  })

  test('env DB_STATEMENT_CACHE_SIZE bounds it', async () => {
    process.env.DB_STATEMENT_CACHE_SIZE = '2'
    expect(await preparedAfter({}, 8)).toBe(2)
  })

  test('0 uses unnamed statements only', async () => {
    expect(await preparedAfter({ statementCacheSize: 0 }, 8)).toBe(0)
  })

  test('a recently used statement survives eviction (LRU, not FIFO)', async () => {
    await withPool({ connectionString: dbUrl, statementCacheSize: 3, applicationName: `${APP}_lru` }, async (pool) => {
      const client = await pool.acquire()
      try {
        await client.query('SELECT 1 AS keep_me')
        await client.query('SELECT 2 AS other1')
        await client.query('SELECT 1 AS keep_me') // touch
        await client.query('SELECT 3 AS other2') // evicts other1, not keep_me
        const r = await client.query('SELECT statement FROM pg_prepared_statements ORDER BY statement')
        const texts = r.rows.map((x) => x.statement)
        expect(texts).toContain('SELECT 1 AS keep_me')
        expect(texts).not.toContain('SELECT 2 AS other1')
        expect(texts.length).toBe(3)
      } finally {
        client.release()
      }
    })
  })
})

describe('pgbouncer', () => {
  test('pgbouncer=true: no named statements, cache forced to 0', async () => {
    const url = withParams(dbUrl, { pgbouncer: 'true', statement_cache_size: 50 })
    await withPool({ connectionString: url, applicationName: `${APP}_pgb` }, async (pool) => {
      expect(pool.toJSON()).toMatchObject({ pgbouncer: true, statementCacheSize: 0 })
      const client = await pool.acquire()
      try {
        for (let i = 0; i < 5; i++) await client.query(`SELECT $1::int + ${i} AS v`, [i])
        const r = await client.query('SELECT count(*)::int AS n FROM pg_prepared_statements')
        expect(r.rows[0].n).toBe(0)
      } finally {
        client.release()
      }
    })
  })

  test('option pgbouncer: true also forces cache 0 even with an explicit statementCacheSize', () => {
    expect(settingsOf({ pgbouncer: true, statementCacheSize: 20 })).toMatchObject({ pgbouncer: true, statementCacheSize: 0 })
  })

  test('default false; option wins over URL', () => {
    expect(settingsOf().pgbouncer).toBe(false)
    expect(settingsOf({ pgbouncer: false }, { pgbouncer: 'true' })).toMatchObject({ pgbouncer: false, statementCacheSize: 100 })
  })

  test('invalid pgbouncer value names its source', () => {
    const err = configError({ connectionString: withParams(dbUrl, { pgbouncer: 'maybe' }) })
    expect(err.message).toContain('URL parameter pgbouncer')
    expect(err.message).toContain('maybe')
  })
})

describe('utilizationAlertThreshold range', () => {
  test.each([0, 1.5, -0.1, NaN])('%p is rejected', (v) => {
    const err = configError({ connectionString: dbUrl, utilizationAlertThreshold: v })
    expect(err.message).toContain('utilizationAlertThreshold')
    expect(err.message).toContain(String(v))
  })

  test('1 is accepted', () => {
    expect(settingsOf({ utilizationAlertThreshold: 1 }).utilizationAlertThreshold).toBe(1)
  })
})

describe('replicaUrls', () => {
  test('default none', () => {
    expect(settingsOf().replicas).toEqual([])
  })

  test('option array', () => {
    expect(settingsOf({ replicaUrls: ['postgres://r1.invalid/db', 'postgres://r2.invalid/db'] }).replicas)
      .toEqual(['postgres://r1.invalid/db', 'postgres://r2.invalid/db'])
  })

  test('env DATABASE_REPLICA_URL is comma-separated', () => {
    process.env.DATABASE_REPLICA_URL = 'postgres://r1.invalid/db, postgres://r2.invalid/db'
    expect(settingsOf().replicas).toEqual(['postgres://r1.invalid/db', 'postgres://r2.invalid/db'])
  })

  test('option wins over env', () => {
    process.env.DATABASE_REPLICA_URL = 'postgres://r1.invalid/db'
    expect(settingsOf({ replicaUrls: ['postgres://r9.invalid/db'] }).replicas).toEqual(['postgres://r9.invalid/db'])
  })

  test('non-array option and unparsable replica URL are config errors', () => {
    let err = configError({ connectionString: dbUrl, replicaUrls: 42 })
    expect(err.message).toContain('option replicaUrls')
    err = configError({ connectionString: dbUrl, replicaUrls: ['nope'] })
    expect(err.message).toContain('replicaUrls')
  })
})

describe('ssl / sslmode', () => {
  test.each(['disable', 'prefer'])('sslmode=%s is accepted and connects (plain server)', async (mode) => {
    await withPool({ connectionString: withParams(dbUrl, { sslmode: mode }), applicationName: `${APP}_ssl` }, async (pool) => {
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    })
  })

  test('sslmode=require against a server without TLS: the query rejects with a connection error (libpq semantics)', async () => {
    const pool = new Pool({ connectionString: withParams(dbUrl, { sslmode: 'require' }), logger: silent, poolTimeoutMs: 2000 })
    try {
      const ssl = await withPool({ connectionString: dbUrl }, async (p) => (await p.query('SHOW ssl')).rows[0].ssl)
      expect(ssl).toBe('off') // the harness's server is plain; were it not, this test would prove nothing
      const err = await failure(pool.query('SELECT 1'))
      expect(err).toBeInstanceOf(PgWardenError)
      expect(err.kind).toBe('connection')
    } finally {
      await pool.end()
    }
  })

  test('unknown sslmode in the URL names the parameter and the value', () => {
    const err = configError({ connectionString: withParams(dbUrl, { sslmode: 'bogus' }) })
    expect(err.message).toContain('URL parameter sslmode')
    expect(err.message).toContain('bogus')
  })

  test('unknown ssl option mode names the option and the value', () => {
    const err = configError({ connectionString: dbUrl, ssl: 'sometimes' })
    expect(err.message).toContain('option ssl')
    expect(err.message).toContain('sometimes')
  })

  // libpq semantics for disable, prefer, require, verify-ca, verify-full.
  test.each(['require', 'verify-ca', 'verify-full'])('sslmode=%s is a valid configuration (constructor does not throw)', (mode) => {
    let err
    try {
      const p = new Pool({ connectionString: withParams(dbUrl, { sslmode: mode }), logger: silent })
      p.end()
    } catch (e) {
      err = e
    }
    expect(err && err.message).toBeUndefined()
  })
})

describe('int8', () => {
  const BIG = '9007199254740993'
  test.each([
    [undefined, 'string', BIG],
    ['string', 'string', BIG],
    ['bigint', 'bigint', 9007199254740993n],
    ['number', 'number', 9007199254740992]
  ])('int8 %p → %s', async (opt, shown, value) => {
    await withPool({ connectionString: dbUrl, int8: opt, applicationName: `${APP}_int8` }, async (pool) => {
      expect(pool.toJSON().int8).toBe(shown)
      const r = await pool.query(`SELECT ${BIG}::int8 AS v`)
      expect(r.rows[0].v).toStrictEqual(value)
    })
  })

  test('bad int8 is a config error naming the option and value', () => {
    const err = configError({ connectionString: dbUrl, int8: 'double' })
    expect(err.message).toContain('option int8')
    expect(err.message).toContain('double')
  })
})

describe('logger and logParams', () => {
  test('logParams default false, option true', () => {
    expect(settingsOf().logParams).toBe(false)
    expect(settingsOf({ logParams: true }).logParams).toBe(true)
  })

  test('unknown URL parameters: exactly one warning through the logger', () => {
    const logger = recordingLogger()
    const warnings = logger.calls.warn
    const pool = new Pool({ connectionString: withParams(dbUrl, { foo: 1, connection_limit: 2 }), logger })
    pool.end()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('foo')
  })

  test('several unknown URL parameters: still one warning per pool, naming each', () => {
    const logger = recordingLogger()
    const warnings = logger.calls.warn
    const pool = new Pool({ connectionString: withParams(dbUrl, { foo: 1, bar: 2 }), logger })
    pool.end()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('foo')
    expect(warnings[0]).toContain('bar')
  })

  test('the warning is not repeated by queries', async () => {
    const logger = recordingLogger()
    const warnings = logger.calls.warn
    await withPool({ connectionString: withParams(dbUrl, { foo: 1 }), logger, applicationName: `${APP}_warn` }, async (pool) => {
      await pool.query('SELECT 1')
      await pool.query('SELECT 2')
    })
    expect(warnings).toHaveLength(1)
  })

  test('no warning without unknown parameters', () => {
    const logger = recordingLogger()
    const warnings = logger.calls.warn
    const pool = new Pool({ connectionString: withParams(dbUrl, { connection_limit: 2, pool_timeout: 3 }), logger })
    pool.end()
    expect(warnings).toEqual([])
  })

  test('logger: false silences the warning', () => {
    const spy = jest.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const pool = new Pool({ connectionString: withParams(dbUrl, { foo: 1 }), logger: false })
      pool.end()
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })
})
