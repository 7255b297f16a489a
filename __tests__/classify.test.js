'use strict'
// classifyError / isRetryable for every shape of error users have: ours (from a
// real failing query where the server can produce it), pg's DatabaseError, Prisma's known-request
// and initialization errors, Node system errors, plain 'CODE: message' errors, and non-errors.

const { Pool, PgWardenError, classifyError, isRetryable } = require('..')
const { freshDatabase } = require('./harness')
const { freePort, failure, thrownBy } = require('./helpers/common')

// The retryable list, with the kind each code has.
const RETRYABLE = {
  P1001: 'connection',
  P1002: 'timeout',
  P1008: 'timeout',
  P1017: 'connection',
  P2024: 'pool_timeout',
  P2034: 'serialization',
  40001: 'serialization',
  '40P01': 'deadlock',
  53300: 'too_many_connections',
  '57P01': 'server_unavailable',
  '57P02': 'server_unavailable',
  '57P03': 'server_unavailable',
  '08000': 'connection',
  '08001': 'connection',
  '08003': 'connection',
  '08004': 'connection',
  '08006': 'connection',
  ECONNREFUSED: 'connection',
  ECONNRESET: 'connection',
  ETIMEDOUT: 'timeout',
  ENOTFOUND: 'connection',
  EAI_AGAIN: 'connection',
  EPIPE: 'connection'
}
const RETRYABLE_CODES = Object.keys(RETRYABLE)

// Non-retryable codes; the kind where docs/API.md names one (undefined: only "not retryable").
const NON_RETRYABLE = {
  23505: 'constraint',
  42601: 'syntax',
  '28P01': 'permission',
  '3D000': undefined,
  '22P02': 'data',
  '42P01': 'syntax',
  P2028: 'timeout',
  ERR_PGWARDEN_CONFIG: 'config',
  ERR_PGWARDEN_PARAMS: 'params'
}
const NON_RETRYABLE_CODES = Object.keys(NON_RETRYABLE)

const isSystem = (code) => /^E[A-Z_]+$/.test(code) && !code.startsWith('ERR_')

// --- the shapes users have ---------------------------------------------------------------

/** pg's DatabaseError (pg-protocol): an Error with SQLSTATE `code` and server fields. */
class DatabaseError extends Error {
  constructor (message, code) {
    super(message)
    this.name = 'error'
    this.code = code
    this.severity = 'ERROR'
    this.length = 100
  }
}
const pgError = (code) => Object.assign(new Error(`pg failed with ${code}`), { code, severity: 'ERROR' })

/** Prisma's PrismaClientKnownRequestError: `code`, `clientVersion`, `meta`. */
class PrismaClientKnownRequestError extends Error {
  constructor (message, { code, clientVersion, meta }) {
    super(message)
    this.name = 'PrismaClientKnownRequestError'
    this.code = code
    this.clientVersion = clientVersion
    this.meta = meta
  }

  get [Symbol.toStringTag] () {
    return 'PrismaClientKnownRequestError'
  }
}

/** Prisma's PrismaClientInitializationError: `errorCode` (may be undefined), no `code`. */
class PrismaClientInitializationError extends Error {
  constructor (message, clientVersion, errorCode) {
    super(message)
    this.name = 'PrismaClientInitializationError'
    this.clientVersion = clientVersion
    this.errorCode = errorCode
  }
}

const ERRNO = { ECONNREFUSED: -111, ECONNRESET: -104, ETIMEDOUT: -110, ENOTFOUND: -3008, EAI_AGAIN: -3001, EPIPE: -32 }
/** A Node system error as net/dns raise it. */
const systemError = (code) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), {
  code, errno: ERRNO[code], syscall: code.startsWith('EAI') || code === 'ENOTFOUND' ? 'getaddrinfo' : 'connect', address: '127.0.0.1', port: 5432
})

function expectClass (err, retryable, kind, code) {
  const c = classifyError(err)
  expect(c).toEqual(expect.objectContaining({ retryable, code }))
  if (kind !== undefined) expect(c.kind).toBe(kind)
  expect(isRetryable(err)).toBe(retryable)
}

// --- retryable / non-retryable across shapes ---------------------------------------------

describe.each(RETRYABLE_CODES)('retryable %s', (code) => {
  const kind = RETRYABLE[code]

  test('pg DatabaseError-like object', () => {
    expectClass(pgError(code), true, kind, code)
    expectClass(new DatabaseError('x', code), true, kind, code)
  })

  test('PrismaClientKnownRequestError shape', () => {
    expectClass(new PrismaClientKnownRequestError('Prisma failed', { code, clientVersion: '6.19.0', meta: {} }), true, kind, code)
  })

  test('PrismaClientInitializationError shape (errorCode, no code)', () => {
    const e = new PrismaClientInitializationError(`Can't reach database server`, '6.19.0', code)
    expect(e.code).toBeUndefined()
    expectClass(e, true, kind, code)
  })

  test("plain Error whose message starts with the code ('CODE: ...')", () => {
    expectClass(new Error(`${code}: something went wrong`), true, kind, code)
  })

  if (isSystem(code)) {
    test('Node system error', () => {
      expectClass(systemError(code), true, kind, code)
    })
  }

  test('our PgWardenError with the code', () => {
    const e = new PgWardenError({ code, kind, retryable: true, message: 'x' })
    expectClass(e, true, kind, code)
  })

  test('maybeCommitted: true makes it non-retryable (every shape)', () => {
    for (const e of [
      Object.assign(pgError(code), { maybeCommitted: true }),
      Object.assign(new PrismaClientKnownRequestError('x', { code, clientVersion: '6' }), { maybeCommitted: true }),
      Object.assign(new Error(`${code}: x`), { maybeCommitted: true }),
      new PgWardenError({ code, kind, retryable: true, maybeCommitted: true, message: 'x' })
    ]) {
      expect(classifyError(e).retryable).toBe(false)
      expect(classifyError(e).code).toBe(code)
      expect(isRetryable(e)).toBe(false)
    }
  })
})

describe.each(NON_RETRYABLE_CODES)('non-retryable %s', (code) => {
  const kind = NON_RETRYABLE[code]

  test('pg DatabaseError-like / Prisma / plain message shapes', () => {
    expectClass(pgError(code), false, kind, code)
    expectClass(new PrismaClientKnownRequestError('x', { code, clientVersion: '6.19.0' }), false, kind, code)
    expectClass(new PrismaClientInitializationError('x', '6.19.0', code), false, kind, code)
    if (!code.startsWith('ERR_')) expectClass(new Error(`${code}: nope`), false, kind, code)
  })
})

test('Prisma codes in both shapes', () => {
  expectClass(new PrismaClientKnownRequestError('Timed out fetching a new connection from the connection pool.', { code: 'P2024', clientVersion: '6.19.0', meta: { connection_limit: 5, timeout: 10 } }), true, 'pool_timeout', 'P2024')
  expectClass(new PrismaClientKnownRequestError('Transaction failed due to a write conflict or a deadlock. Please retry your transaction', { code: 'P2034', clientVersion: '6.19.0' }), true, 'serialization', 'P2034')
  expectClass(new PrismaClientKnownRequestError('Unique constraint failed on the fields: (`email`)', { code: 'P2002', clientVersion: '6.19.0' }), false, undefined, 'P2002')
  expectClass(new PrismaClientInitializationError("Can't reach database server at `db:5432`", '6.19.0', 'P1001'), true, 'connection', 'P1001')
  // an initialization error without an errorCode is not classifiable
  expectClass(new PrismaClientInitializationError('Unknown failure', '6.19.0', undefined), false, 'other', undefined)
})

test("Node's AggregateError from happy-eyeballs connects carries the code", () => {
  const e = new AggregateError([systemError('ECONNREFUSED'), systemError('ECONNREFUSED')], '')
  e.code = 'ECONNREFUSED'
  expectClass(e, true, 'connection', 'ECONNREFUSED')
})

test("plain new Error('P1002: Database timeout')", () => {
  expectClass(new Error('P1002: Database timeout'), true, 'timeout', 'P1002')
  // a code somewhere else in the message does not count
  expect(classifyError(new Error('the server said P1002 later')).retryable).toBe(false)
  expect(classifyError(new Error('Database timeout')).retryable).toBe(false)
})

test('non-errors classify as non-retryable other', () => {
  for (const v of ['ECONNREFUSED', 'P1001: x', 'boom', '', undefined, null, 0, 42, NaN, true, {}, [], Symbol('s'), () => {}, 10n]) {
    const c = classifyError(v)
    expect(c.retryable).toBe(false)
    expect(c.kind).toBe('other')
    expect(isRetryable(v)).toBe(false)
  }
  // an Error with no code
  expect(classifyError(new Error('whatever'))).toEqual(expect.objectContaining({ retryable: false, kind: 'other' }))
  // codes that are not strings do not count
  expect(classifyError({ code: 40001 }).retryable).toBe(false)
})

test('57014: statement timeout is a timeout, a cancel is cancelled; neither retryable', () => {
  expect(classifyError(pgError('57014'))).toEqual(expect.objectContaining({ retryable: false, code: '57014' }))
  expect(classifyError(Object.assign(new Error('canceling statement due to user request'), { code: '57014' })).kind).toBe('cancelled')
  expect(classifyError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })).kind).toBe('timeout')
})

// --- our PgWardenError from real failures -----------------------------------------------

describe('PgWardenError from real failures', () => {
  let pool
  let dbUrl
  beforeAll(async () => {
    dbUrl = await freshDatabase('classify')
    pool = new Pool({ connectionString: dbUrl, logger: false, connectionLimit: 2 })
    await pool.query('CREATE TABLE uniq (id int PRIMARY KEY)')
    await pool.query('INSERT INTO uniq VALUES (1)')
  })
  afterAll(() => pool.end())

  /** Checks the error's own fields agree with classifyError. */
  function expectOurs (e, code, retryable, kind) {
    expect(e).toBeInstanceOf(PgWardenError)
    expect(e).toBeInstanceOf(Error)
    expect(e.code).toBe(code)
    expect(e.retryable).toBe(retryable)
    expect(e.maybeCommitted).toBe(false)
    if (kind !== undefined) expect(e.kind).toBe(kind)
    expectClass(e, retryable, kind, code)
  }

  test.each([
    ['23505', 'INSERT INTO uniq VALUES (1)', 'constraint'],
    ['42601', 'SELEC 1', 'syntax'],
    ['42P01', 'SELECT * FROM no_such_table', 'syntax'],
    ['22P02', "SELECT 'x'::int", 'data']
  ])('%s from a real query', async (code, sql, kind) => {
    const e = await failure(pool.query(sql))
    expectOurs(e, code, false, kind)
    expect(e.severity).toBe('ERROR')
  })

  test('23505 carries the server fields', async () => {
    const e = await failure(pool.query('INSERT INTO uniq VALUES (1)'))
    expect(e.constraint).toBe('uniq_pkey')
    expect(e.table).toBe('uniq')
    expect(e.detail).toMatch(/already exists/)
  })

  // The server raises any SQLSTATE on demand: a real server error with that code.
  test.each(['40001', '40P01', '53300', '08000', '08001', '08003', '08004', '08006'])(
    'retryable %s raised by the server', async (code) => {
      const e = await failure(pool.query(`DO $$ BEGIN RAISE EXCEPTION 'raised %', '${code}' USING ERRCODE = '${code}'; END $$`))
      expectOurs(e, code, true, RETRYABLE[code])
    })

  // 57P0x raised as a plain ERROR (RAISE): the server answered that the statement failed, and the
  // session lives on, so nothing was committed and it may be retried. Only a FATAL 57P0x (the
  // backend terminated mid-statement: faults.test.js, outcome-truth.test.js) is "maybe committed".
  test.each(['57P01', '57P02', '57P03'])('%s raised by the server as an ERROR: server_unavailable, not committed, retryable', async (code) => {
    const e = await failure(pool.query(`DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '${code}'; END $$`))
    expect(e).toBeInstanceOf(PgWardenError)
    expect(e.code).toBe(code)
    expect(e.kind).toBe('server_unavailable')
    expect(e.maybeCommitted).toBe(false)
    expect(e.retryable).toBe(true)
    expect(classifyError(e)).toEqual({ retryable: true, kind: 'server_unavailable', code })
  })

  test.each(['28P01', '3D000'])('non-retryable %s raised by the server', async (code) => {
    const e = await failure(pool.query(`DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '${code}'; END $$`))
    expectOurs(e, code, false, NON_RETRYABLE[code])
  })

  test('3D000 from connecting to a database that does not exist', async () => {
    const url = new URL(dbUrl)
    url.pathname = '/pgwarden_no_such_db'
    const p = new Pool({ connectionString: url.toString(), logger: false, poolTimeoutMs: 1000 })
    try {
      const e = await failure(p.query('SELECT 1'))
      expectOurs(e, '3D000', false, undefined)
    } finally {
      await p.end()
    }
  })

  test('40P01 from a real deadlock', async () => {
    await pool.query('CREATE TABLE dl (id int PRIMARY KEY, v int)')
    await pool.query('INSERT INTO dl VALUES (1, 0), (2, 0)')
    const a = await pool.acquire()
    const b = await pool.acquire()
    try {
      await a.query('BEGIN')
      await b.query('BEGIN')
      await a.query('UPDATE dl SET v = v + 1 WHERE id = 1')
      await b.query('UPDATE dl SET v = v + 1 WHERE id = 2')
      const results = await Promise.allSettled([
        a.query('UPDATE dl SET v = v + 1 WHERE id = 2'),
        b.query('UPDATE dl SET v = v + 1 WHERE id = 1')
      ])
      const failed = results.filter((r) => r.status === 'rejected')
      expect(failed).toHaveLength(1)
      expectOurs(failed[0].reason, '40P01', true, 'deadlock')
    } finally {
      await a.query('ROLLBACK').catch(() => {})
      await b.query('ROLLBACK').catch(() => {})
      a.release()
      b.release()
    }
  })

  test('57014 from a statement timeout and from an abort', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 50)
    const aborted = await failure(pool.query('SELECT pg_sleep(2)', [], { signal: ac.signal }))
    expectOurs(aborted, '57014', false, 'cancelled')
    const timedOut = await failure(pool.transaction(async (tx) => {
      await tx.query("SET LOCAL statement_timeout = '50ms'")
      await tx.query('SELECT pg_sleep(2)')
    }))
    expect(timedOut.message).toMatch(/statement timeout/)
    expectOurs(timedOut, '57014', false, 'timeout')
  })

  test('P1008 from a per-query timeoutMs', async () => {
    const e = await failure(pool.query('SELECT pg_sleep(2)', [], { timeoutMs: 50 }))
    expectOurs(e, 'P1008', true, 'timeout')
  })

  test('P2024 from a pool wait that runs out', async () => {
    const p = new Pool({ connectionString: dbUrl, logger: false, connectionLimit: 1 })
    const held = await p.acquire()
    try {
      const e = await failure(p.acquire({ maxWaitMs: 100 }))
      expectOurs(e, 'P2024', true, 'pool_timeout')
    } finally {
      held.release()
      await p.end()
    }
  })

  test('P1001 from a closed port', async () => {
    const port = await freePort()
    const p = new Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/x`, logger: false, poolTimeoutMs: 200 })
    try {
      const e = await failure(p.query('SELECT 1'))
      expectOurs(e, 'P1001', true, 'connection')
    } finally {
      await p.end()
    }
  })

  test('ERR_PGWARDEN_PARAMS from a wrong parameter count', async () => {
    const e = await failure(pool.query('SELECT $1::int', [1, 2]))
    expectOurs(e, 'ERR_PGWARDEN_PARAMS', false, 'params')
  })

  test('ERR_PGWARDEN_CONFIG from an invalid option', () => {
    // eslint-disable-next-line no-new
    const e = thrownBy(() => { new Pool({ connectionString: dbUrl, connectionLimit: -1, logger: false }) })
    expectOurs(e, 'ERR_PGWARDEN_CONFIG', false, 'config')
  })

  test('ERR_PGWARDEN_CLOSED from an ended pool', async () => {
    const p = new Pool({ connectionString: dbUrl, logger: false })
    await p.end()
    const e = await failure(p.query('SELECT 1'))
    expectOurs(e, 'ERR_PGWARDEN_CLOSED', false, 'closed')
  })
})
