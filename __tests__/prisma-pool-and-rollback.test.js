'use strict'
// What a Prisma service meets when its pool is exhausted, and when a transaction's ROLLBACK
// never reaches the server (Prisma issue 29719): a pool timeout reaches Prisma as the nearest
// error its driver adapters have (P2037, with pgwarden's P2024 kept on the cause, retryable),
// and a connection given back inside the transaction never carries its writes to the next
// user: they are rolled back, not committed.

const pg = require('pg')
const { Pool } = require('..')
const { PrismaPgWarden } = require('../lib/prisma')
const { freshDatabase } = require('./harness')
const { failure } = require('./helpers/common')
const { generatedPrismaClient, PRISMA_DDL } = require('./helpers/prisma-client')

let PrismaClient
let url

beforeAll(async () => {
  PrismaClient = generatedPrismaClient()
  url = await freshDatabase('prisma_pool')
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query(PRISMA_DDL)
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
