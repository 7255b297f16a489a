'use strict'
// Prisma inside a request scope (pool.withContext): its queries, through pgwarden/prisma, carry
// the scope's settings, so a row-level-security policy filters what Prisma reads and the next
// user of the connection sees no setting (what Prisma users build by hand: Prisma issues 5128
// and 12735), and the scope's deadline bounds them.

const { Pool } = require('..')
const { PrismaPgWarden } = require('../lib/prisma')
const { harness, freshDatabase } = require('./harness')
const { failure } = require('./helpers/common')
const { generatedPrismaClient, PRISMA_DDL } = require('./helpers/prisma-client')

const ROLE = `pgw_prisma_scope_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
let PrismaClient
let url

beforeAll(async () => {
  PrismaClient = generatedPrismaClient()
  const adminUrl = await freshDatabase('prisma_scope')
  await harness().admin(`CREATE ROLE ${ROLE} LOGIN`)
  await harness().adminScript(`${PRISMA_DDL};
    INSERT INTO "User" (id, email) VALUES (1, 'a@x'), (2, 'b@x');
    INSERT INTO "Post" (title, "authorId") VALUES ('a1', 1), ('a2', 1), ('b1', 2);
    ALTER TABLE "Post" ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own_posts ON "Post" USING ("authorId"::text = current_setting('app.user_id', true));
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ROLE};`, { database: adminUrl })
  const u = new URL(adminUrl)
  u.username = ROLE
  url = u.toString()
})
afterAll(() => harness().admin(`DROP OWNED BY ${ROLE} CASCADE; DROP ROLE IF EXISTS ${ROLE}`).catch(() => {}))

async function withPrisma (opts, fn) {
  const pool = new Pool({ connectionString: url, connectionLimit: 1, timeZone: 'UTC', logger: false, ...opts })
  const prisma = new PrismaClient({ adapter: new PrismaPgWarden(pool) })
  try {
    return await fn(prisma, pool)
  } finally {
    await prisma.$disconnect()
    await pool.end()
  }
}

const titles = (posts) => posts.map((p) => p.title).sort()

test('findMany and an interactive transaction in a scope see its setting through the RLS policy; outside it nothing is set', async () => {
  await withPrisma({}, async (prisma, pool) => {
    const asUser1 = await pool.withContext({ settings: { 'app.user_id': '1' } }, () => prisma.post.findMany())
    expect(titles(asUser1)).toEqual(['a1', 'a2'])
    const inTx = await pool.withContext({ settings: { 'app.user_id': '2' } }, () =>
      prisma.$transaction(async (tx) => [await tx.post.findMany(), await tx.post.count()]))
    expect(titles(inTx[0])).toEqual(['b1'])
    expect(inTx[1]).toBe(1)
    // An isolation level: SET TRANSACTION right after BEGIN, which no settings may precede.
    const serializable = await pool.withContext({ settings: { 'app.user_id': '1' } }, () =>
      prisma.$transaction((tx) => tx.post.count(), { isolationLevel: 'Serializable' }))
    expect(serializable).toBe(2)
    // The same connection (a pool of one), outside any scope: no setting, no rows.
    expect(await prisma.post.findMany()).toEqual([])
    const [{ v }] = await prisma.$queryRaw`SELECT coalesce(current_setting('app.user_id', true), '') AS v`
    expect(v).toBe('')
  })
})

test('the scope\'s deadline bounds a Prisma query: cancelled on the server, reported through Prisma', async () => {
  await withPrisma({}, async (prisma, pool) => {
    const t0 = Date.now()
    const err = await failure(pool.withContext({ timeoutMs: 200 }, () => prisma.$queryRaw`SELECT pg_sleep(2)`))
    expect(Date.now() - t0).toBeLessThan(1500)
    const cause = err.meta.driverAdapterError.cause
    expect(cause.originalCode).toBe('P1008')
    expect(cause.originalMessage).toBe('The deadline of its request scope passed (withContext timeoutMs: 200ms); the statement was cancelled on the server')
    expect(cause.pgwarden.maybeCommitted).toBe(false)
    expect(await prisma.user.count()).toBe(2)
  })
})
