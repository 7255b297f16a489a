'use strict'
// pgwarden/prisma side by side with @prisma/adapter-pg: the same Prisma workload (every scalar
// type, relations, nested writes, interactive / batch / nested transactions at each isolation
// level, raw queries, constraint violations) on two identical databases must give the same
// results, the same Prisma error codes and the same final rows. On a database whose default
// TimeZone is not UTC, pgwarden's adapter still stores and reads the right instants. And 30
// interactive transactions with 60 queries at once through a pool of 4 all finish.

const pg = require('pg')
const { PrismaPg } = require('@prisma/adapter-pg')
const { Pool } = require('..')
const { PrismaPgWarden } = require('../lib/prisma')
const { harness, freshDatabase } = require('./harness')
const { failure } = require('./helpers/common')
const { startPgBouncer } = require('./helpers/pgbouncer')
const { generatedPrismaClient, PRISMA_DDL } = require('./helpers/prisma-client')

let PrismaClient

beforeAll(() => {
  PrismaClient = generatedPrismaClient()
})

/** A fresh database with the schema (and a default TimeZone when given). */
async function schemaDatabase (prefix, timeZone) {
  const url = await freshDatabase(prefix)
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query(PRISMA_DDL)
  if (timeZone) await c.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = '${timeZone}'`)
  await c.end()
  return url
}

const clients = []
afterAll(() => Promise.all(clients.map((c) => c.$disconnect())))
const prismaWith = (adapter) => {
  const client = new PrismaClient({ adapter })
  clients.push(client)
  return client
}

/** Values as comparable JSON: BigInt, Decimal, Buffer and Date tagged. */
const plain = (v) => JSON.parse(JSON.stringify(v, (k, x) => {
  if (typeof x === 'bigint') return `bigint:${x}`
  if (x && x.type === 'Buffer' && Array.isArray(x.data)) return `bytes:${Buffer.from(x.data).toString('hex')}`
  if (x && typeof x === 'object' && x.constructor && x.constructor.name === 'Decimal') return `decimal:${x}`
  return x
}))

/** A step's result, or its error as Prisma reports it. */
async function step (fn) {
  try {
    return { ok: plain(await fn()) }
  } catch (e) {
    return { error: e.code || e.name, message: String(e.message).split('\n').pop() }
  }
}

const FIXED = new Date('2024-02-29T13:14:15.123Z')

/** The workload: every step's outcome, in order. */
async function workload (prisma) {
  const out = []
  const run = async (name, fn) => out.push([name, await step(fn)])
  await run('nested create', () => prisma.user.create({
    data: {
      email: 'ada@example.com', name: 'Ada', big: 9007199254740993n, score: 1.5, balance: '12345.67', born: new Date('1815-12-10'),
      createdAt: FIXED, seen: FIXED, meta: { n: [1, 2, 3], deep: { big: 12345678901234567890 } }, avatar: Buffer.from([0, 1, 2, 250, 255]), // eslint-disable-line no-loss-of-precision -- JSON numbers arrive as doubles
      mood: 'happy', moods: ['sad', 'happy'], tags: ['a,b', 'c "d"', ''], posts: { create: [{ title: 'first' }, { title: 'second' }] }
    },
    include: { posts: true }
  }))
  await run('createMany', () => prisma.user.createMany({ data: [{ email: 'b@example.com', createdAt: FIXED }, { email: 'c@example.com', createdAt: FIXED, tags: [] }] }))
  await run('createManyAndReturn', () => prisma.user.createManyAndReturn({ data: [{ email: 'd@example.com', createdAt: FIXED }], select: { id: true, email: true, mood: true } }))
  await run('findMany include', () => prisma.user.findMany({ include: { posts: { orderBy: { id: 'asc' } } }, orderBy: { id: 'asc' } }))
  await run('findUnique', () => prisma.user.findUnique({ where: { email: 'ada@example.com' } }))
  await run('filters', () => prisma.user.findMany({ where: { big: { gt: 1n }, balance: { gte: '100' }, createdAt: { lte: FIXED }, moods: { has: 'sad' } }, select: { email: true } }))
  await run('update increment', () => prisma.user.update({ where: { email: 'ada@example.com' }, data: { big: { increment: 1 }, balance: { decrement: '0.67' }, score: { multiply: 2 } } }))
  await run('upsert', () => prisma.user.upsert({ where: { email: 'e@example.com' }, create: { email: 'e@example.com', createdAt: FIXED }, update: { name: 'never' } }))
  for (const isolationLevel of ['ReadUncommitted', 'ReadCommitted', 'RepeatableRead', 'Serializable']) {
    await run(`interactive ${isolationLevel}`, () => prisma.$transaction(async (tx) => {
      await tx.post.create({ data: { title: isolationLevel, authorId: 1 } })
      return tx.post.count()
    }, { isolationLevel }))
  }
  await run('interactive rollback', () => prisma.$transaction(async (tx) => {
    await tx.post.create({ data: { title: 'rolled back', authorId: 1 } })
    throw new Error('undo')
  }))
  await run('nested savepoint', () => prisma.$transaction(async (tx) => {
    await tx.post.create({ data: { title: 'outer', authorId: 1 } })
    await tx.$transaction(async (inner) => {
      await inner.post.create({ data: { title: 'inner, rolled back', authorId: 1 } })
      throw new Error('inner undo')
    }).catch(() => {})
    return tx.post.findMany({ where: { title: { in: ['outer', 'inner, rolled back'] } }, select: { title: true } })
  }))
  await run('batch transaction', () => prisma.$transaction([
    prisma.post.create({ data: { title: 'batch', authorId: 1 } }),
    prisma.user.update({ where: { email: 'b@example.com' }, data: { name: 'B' } })
  ]))
  await run('raw types', () => prisma.$queryRaw`SELECT 9007199254740993::int8 AS i8, 1.5::float4 AS f4, 'NaN'::float8 AS nan,
    12.50::numeric AS num, '$12.50'::money AS cash, true AS yes, '2024-01-02'::date AS d, '04:05:06.789'::time AS t,
    '04:05:06+02'::timetz AS tz, ${FIXED}::timestamptz AS tstz, '2024-01-02 03:04:05.678'::timestamp AS ts,
    '{"a": [1, 2.50]}'::jsonb AS jb, '[1,2]'::json AS j, '\\x00ff'::bytea AS b, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u,
    ARRAY[1, NULL]::int4[] AS ints, ARRAY[1]::int8[] AS bigs, ARRAY['x', 'y z'] AS texts, ARRAY['{"k": 1}']::jsonb[] AS jsons,
    ARRAY['2024-01-02 03:04:05'::timestamptz] AS stamps, ARRAY['\\x01'::bytea] AS bins, 'happy'::"Mood" AS m,
    ARRAY['sad', 'happy']::"Mood"[] AS ms, 'abc'::name AS nm, B'101' AS bits, '10.0.0.1'::inet AS ip`)
  await run('raw args', () => prisma.$queryRaw`SELECT ${42} AS n, ${'text'} AS s, ${FIXED} AS at, ${Buffer.from([1, 2])}::bytea AS bin, ${12345678901234567890n} AS bi`)
  await run('executeRaw', () => prisma.$executeRaw`UPDATE "User" SET name = 'raw' WHERE email LIKE ${'%@example.com'}`)
  await run('unsupported type', () => prisma.$queryRaw`SELECT '1 day'::interval AS iv`)
  await run('unique violation', () => prisma.user.create({ data: { email: 'ada@example.com', createdAt: FIXED } }))
  await run('foreign key violation', () => prisma.post.create({ data: { title: 'orphan', authorId: 999 } }))
  await run('null violation', () => prisma.$executeRaw`INSERT INTO "User" (email) VALUES (NULL)`)
  await run('raw error', () => prisma.$queryRaw`SELECT 1 / 0`)
  await run('missing table', () => prisma.$queryRaw`SELECT * FROM nowhere`)
  await run('deleteMany', () => prisma.post.deleteMany({ where: { title: 'batch' } }))
  await run('final users', () => prisma.user.findMany({ orderBy: { id: 'asc' } }))
  await run('final posts', () => prisma.post.findMany({ orderBy: { id: 'asc' } }))
  return out
}

describe('the same workload through @prisma/adapter-pg and pgwarden/prisma', () => {
  let theirs
  let ours
  let bouncer
  beforeAll(async () => {
    theirs = await workload(prismaWith(new PrismaPg({ connectionString: await schemaDatabase('prisma_pg') })))
    ours = await workload(prismaWith(new PrismaPgWarden({ connectionString: await schemaDatabase('prisma_pgw'), logger: false })))
  })
  afterAll(() => bouncer && bouncer.stop())

  test('every step gives the same result or the same Prisma error', () => {
    expect(ours.map(([name]) => name)).toEqual(theirs.map(([name]) => name))
    for (let i = 0; i < theirs.length; i++) expect(ours[i]).toEqual(theirs[i])
  })

  test('the same through PgBouncer in transaction mode (pgbouncer=true)', async () => {
    bouncer = await startPgBouncer(harness().port)
    const u = new URL(await schemaDatabase('prisma_bouncer'))
    u.port = String(bouncer.port)
    u.searchParams.set('pgbouncer', 'true')
    const behind = await workload(prismaWith(new PrismaPgWarden({ connectionString: u.toString(), logger: false })))
    for (let i = 0; i < theirs.length; i++) expect(behind[i]).toEqual(theirs[i])
  })

  test('the errors are the Prisma codes users handle', () => {
    const codes = Object.fromEntries(ours.filter(([, r]) => r.error).map(([name, r]) => [name, r.error]))
    expect(codes).toEqual({
      'interactive rollback': 'Error', // the callback's own error, rethrown
      'unsupported type': 'P2010',
      'unique violation': 'P2002',
      'foreign key violation': 'P2003',
      'null violation': 'P2010', // raw statements give P2010 for every server error
      'raw error': 'P2010',
      'missing table': 'P2010'
    })
  })
})

test('on a database whose default TimeZone is not UTC the instants stay right', async () => {
  const url = await schemaDatabase('prisma_tz', 'Asia/Kolkata')
  const prisma = prismaWith(new PrismaPgWarden({ connectionString: url, logger: false }))
  const user = await prisma.user.create({ data: { email: 'tz@example.com', createdAt: FIXED } })
  expect(user.createdAt).toEqual(FIXED)
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const { rows } = await c.query(`SELECT "createdAt" = '2024-02-29T13:14:15.123Z'::timestamptz AS same FROM "User"`)
    expect(rows).toEqual([{ same: true }]) // stored as the instant that was written
  } finally {
    await c.end()
  }
  expect((await prisma.user.findMany({ where: { createdAt: FIXED } })).length).toBe(1)
  const [{ now }] = await prisma.$queryRaw`SELECT now() AS now`
  expect(Math.abs(now.getTime() - Date.now())).toBeLessThan(60_000)
})

test('an untyped bytes parameter in $queryRaw gives what adapter-pg gives', async () => {
  const url = await schemaDatabase('prisma_bytes')
  const results = []
  for (const adapter of [new PrismaPg({ connectionString: url }), new PrismaPgWarden({ connectionString: url, logger: false })]) {
    const prisma = prismaWith(adapter)
    results.push(plain(await prisma.$queryRaw`SELECT ${Buffer.from('abc')} AS untyped, ${Buffer.from([0, 1, 255])}::bytea AS typed`))
  }
  expect(results[1]).toEqual(results[0])
  expect(results[1]).toEqual([{ untyped: 'abc', typed: { 0: 0, 1: 1, 2: 255 } }])
})

test('a pool passed in reads int8 and instants as adapter-pg does, whatever its int8 option', async () => {
  const url = await schemaDatabase('prisma_int8')
  const query = (prisma) => prisma.$queryRaw`SELECT 9007199254740993::int8 AS big, ARRAY[1, -9007199254740993]::int8[] AS bigs,
    ${FIXED}::timestamptz AS at, ARRAY['1843-09-01 15:53:28.5+00'::timestamptz, NULL] AS ats, '-infinity'::timestamp AS never`
  const expected = plain(await query(prismaWith(new PrismaPg({ connectionString: url }))))
  expect(expected[0].big).toBe('bigint:9007199254740993')
  for (const int8 of ['string', 'bigint', 'number']) {
    const pool = new Pool({ connectionString: url, int8, timeZone: 'UTC', logger: false })
    expect(plain(await query(prismaWith(new PrismaPgWarden(pool))))).toEqual(expected)
    await pool.end()
  }
})

test('a pool passed in stays open after $disconnect; errors keep pgwarden\'s judgement', async () => {
  const pool = new Pool({ connectionString: await schemaDatabase('prisma_own'), logger: false })
  const prisma = new PrismaClient({ adapter: new PrismaPgWarden(pool) })
  const conflict = await failure(prisma.$executeRaw`SELECT 1 / 0`)
  expect(conflict.code).toBe('P2010')
  expect(conflict.meta.driverAdapterError.cause.pgwarden.code).toBe('22012')
  expect(conflict.meta.driverAdapterError.retryable).toBe(false)
  await prisma.$disconnect()
  expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  await pool.end()
})

test('30 interactive transactions and 60 queries at once through a pool of 4 all finish', async () => {
  const url = await schemaDatabase('prisma_busy')
  const prisma = prismaWith(new PrismaPgWarden({ connectionString: url, connectionLimit: 4, logger: false }))
  const user = await prisma.user.create({ data: { email: 'busy@example.com', createdAt: FIXED } })
  const txs = Array.from({ length: 30 }, (_, i) => prisma.$transaction(async (tx) => {
    await tx.post.create({ data: { title: `tx ${i}`, authorId: user.id } })
    return tx.post.count({ where: { title: `tx ${i}` } })
  }, { maxWait: 20_000, timeout: 20_000 }))
  const reads = Array.from({ length: 60 }, () => prisma.user.findUnique({ where: { id: user.id } }))
  const [counts, found] = await Promise.all([Promise.all(txs), Promise.all(reads)])
  expect(counts).toEqual(Array(30).fill(1))
  expect(found.every((u) => u.id === user.id)).toBe(true)
  expect(await prisma.post.count()).toBe(30)
})

test('withRetry does not re-run a Prisma write whose outcome is unknown (connection reset after send)', async () => {
  const { TcpProxy } = require('./helpers/proxy')
  const { withRetry } = require('..')
  const { sleep } = require('./helpers/common')
  const direct = await schemaDatabase('prisma_retry')
  const setup = new pg.Client({ connectionString: direct })
  await setup.connect()
  // Every insert takes 300 ms on the server: time to cut the connection after it was sent.
  await setup.query(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$;
    CREATE TRIGGER slow BEFORE INSERT ON "User" FOR EACH ROW EXECUTE FUNCTION slow_insert()`)
  await setup.end()
  const url = new URL(direct)
  const proxy = new TcpProxy({ targetPort: Number(url.port) })
  url.port = String(await proxy.start())
  const pool = new Pool({ connectionString: url.toString(), connectionLimit: 1, logger: false })
  const prisma = new PrismaClient({ adapter: new PrismaPgWarden(pool) })
  try {
    await prisma.user.count()
    let calls = 0
    const run = withRetry(() => {
      calls++
      return prisma.user.create({ data: { email: 'once@example.com', createdAt: FIXED } })
    }, { maxRetries: 3, initialDelayMs: 10 })
    await sleep(100)
    proxy.reset()
    const err = await failure(run)
    expect(err.code).toBe('P1017')
    expect(err.meta.driverAdapterError.maybeCommitted).toBe(true)
    expect(calls).toBe(1)
  } finally {
    await prisma.$disconnect()
    await pool.end({ timeoutMs: 500 }).catch(() => {})
    await proxy.close()
  }
})
