'use strict'
// What a Prisma service meets when its pool is exhausted, and when a transaction's ROLLBACK
// never reaches the server (Prisma issue 29719): a pool timeout reaches Prisma as the nearest
// error its driver adapters have (P2037, with pgwarden's P2024 kept on the cause, retryable),
// and a connection given back inside the transaction never carries its writes to the next
// user: they are rolled back, not committed.

const path = require('node:path')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const pg = require('pg')
const { Pool } = require('..')
const { PrismaPgWarden } = require('../lib/prisma')
const { freshDatabase } = require('./harness')
const { failure } = require('./helpers/common')

const CLIENT_DIR = path.join(__dirname, '..', 'node_modules', '.pgwarden-test-prisma')
const DDL = fs.readFileSync(path.join(__dirname, 'prisma', 'schema.sql'), 'utf8')
let PrismaClient
let url

beforeAll(async () => {
  execFileSync(path.join(__dirname, '..', 'node_modules', '.bin', 'prisma'),
    ['generate', '--schema', path.join(__dirname, 'prisma', 'schema.prisma')],
    { env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false' }, stdio: 'pipe' })
  PrismaClient = require(CLIENT_DIR).PrismaClient
  url = await freshDatabase('prisma_pool')
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query(DDL)
  await c.end()
})

test('a pool timeout reaches Prisma as P2037 (TooManyConnections), pgwarden\'s P2024 and retryable kept', async () => {
  const pool = new Pool({ connectionString: url, connectionLimit: 1, poolTimeoutMs: 300, timeZone: 'UTC', logger: false })
  const prisma = new PrismaClient({ adapter: new PrismaPgWarden(pool) })
  try {
    const held = await pool.acquire()
    const err = await failure(prisma.user.count())
    held.release()
    expect(err.code).toBe('P2037')
    expect(err.meta.driverAdapterError.cause).toMatchObject({ kind: 'TooManyConnections', originalCode: 'P2024' })
    expect(err.meta.driverAdapterError.retryable).toBe(true)
    expect(await prisma.user.count()).toBe(0) // and the pool serves again
  } finally {
    await prisma.$disconnect()
    await pool.end()
  }
})

test("a transaction whose ROLLBACK never reached the server leaves nothing to the connection's next user", async () => {
  const pool = new Pool({ connectionString: url, connectionLimit: 1, timeZone: 'UTC', logger: false })
  const prisma = new PrismaClient({ adapter: new PrismaPgWarden(pool) })
  // The ROLLBACK Prisma sends is lost on the way: the adapter's statement resolves, nothing is sent.
  const adapter = await new PrismaPgWarden(pool).connect()
  const probe = await adapter.startTransaction()
  const Transaction = Object.getPrototypeOf(probe)
  await probe.executeRaw({ sql: 'ROLLBACK', args: [], argTypes: [] })
  await probe.rollback()
  const releasedBefore = pool.getPoolStats().connections.releasedInTransaction
  const send = Transaction.executeRaw
  Transaction.executeRaw = function (query) {
    return query.sql.trim().toUpperCase() === 'ROLLBACK' ? Promise.resolve(0) : send.call(this, query)
  }
  try {
    const err = await failure(prisma.$transaction(async (tx) => {
      await tx.user.create({ data: { email: 'lost-rollback@example.com' } })
      throw new Error('the handler failed')
    }))
    expect(err.message).toBe('the handler failed')
    // The next user of the only connection: not inside the transaction that wrote (which has a
    // transaction id), and the write is gone.
    const [{ fresh }] = await prisma.$queryRaw`SELECT txid_current_if_assigned() IS NULL AS fresh`
    expect(fresh).toBe(true)
    expect(await prisma.user.count({ where: { email: 'lost-rollback@example.com' } })).toBe(0)
    expect(pool.getPoolStats().connections.releasedInTransaction).toBe(releasedBefore + 1)
  } finally {
    Transaction.executeRaw = send
    await prisma.$disconnect()
    await pool.end()
  }
})
