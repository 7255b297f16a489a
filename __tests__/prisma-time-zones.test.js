'use strict'
// Prisma through pgwarden/prisma on databases whose default TimeZone is UTC, Asia/Kolkata and
// America/St_Johns (-03:30), with this process in a fourth zone (Pacific/Chatham, +12:45):
// every path a timestamp takes gives the instant that was written. Typed columns (timestamptz,
// timestamp, date, a pre-1900 instant), relation joins (the relationJoins preview, which reads
// timestamps out of the server's JSON), raw parameters and literals, now(), dates and times,
// and arrays. The adapter's own pools run their sessions in UTC; a pool passed in is right
// with `timeZone: 'UTC'`, and one without it draws a warning.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const pg = require('pg')
const { Pool } = require('..')
const { PrismaPgWarden } = require('../lib/prisma')
const { freshDatabase } = require('./harness')

const ZONES = ['UTC', 'Asia/Kolkata', 'America/St_Johns']
const savedTz = process.env.TZ
const CLIENT_DIR = path.join(__dirname, '..', 'node_modules', '.pgwarden-test-prisma-joins')
const DDL = fs.readFileSync(path.join(__dirname, 'prisma', 'schema.sql'), 'utf8')
let PrismaClient
const clients = []

beforeAll(() => {
  process.env.TZ = 'Pacific/Chatham' // the client process in a zone none of the databases has
  // The test schema, generated with the relationJoins preview into a client of its own.
  const schema = fs.readFileSync(path.join(__dirname, 'prisma', 'schema.prisma'), 'utf8')
    .replace(/generator client \{[^}]*\}/, `generator client {\n  provider = "prisma-client-js"\n  output = ${JSON.stringify(CLIENT_DIR)}\n  previewFeatures = ["relationJoins"]\n}`)
  // Beside the generated client, under node_modules, where prisma finds @prisma/client.
  const file = `${CLIENT_DIR}.schema.prisma`
  fs.writeFileSync(file, schema)
  execFileSync(path.join(__dirname, '..', 'node_modules', '.bin', 'prisma'), ['generate', '--schema', file],
    { env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false' }, stdio: 'pipe' })
  PrismaClient = require(CLIENT_DIR).PrismaClient
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
  if (savedTz === undefined) delete process.env.TZ
  else process.env.TZ = savedTz
})

/** A fresh database with the test schema and `zone` as its default TimeZone. */
async function zonedDatabase (zone) {
  const url = await freshDatabase('prisma_zone')
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query(DDL)
  await c.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = '${zone}'`)
  await c.end()
  return url
}

const prismaOn = (adapter) => {
  const client = new PrismaClient({ adapter })
  clients.push(client)
  return client
}

const FIXED = new Date('2024-02-29T13:14:15.123Z')
const OLD = new Date('1843-09-01T10:11:12.345Z') // local mean time offsets with seconds before 1900
const BORN = new Date('1815-12-10T00:00:00.000Z')

/** Every path's [name, value] as Prisma gave it must equal [name, the instant written]. */
function expectInstants (rows) {
  expect(rows.map(([name, got]) => [name, got])).toEqual(rows.map(([name, , want]) => [name, want]))
}

/** Every timestamp path, as [name, what Prisma gave, what it must be]. */
async function paths (prisma) {
  const out = []
  const user = await prisma.user.create({ data: { email: `z${Date.now()}@example.com`, createdAt: FIXED, seen: FIXED, born: BORN } })
  const old = await prisma.user.create({ data: { email: `o${Date.now()}@example.com`, createdAt: OLD, seen: OLD, posts: { create: [{ title: 'p' }] } }, include: { posts: true } })
  out.push(['typed timestamptz', user.createdAt, FIXED], ['typed timestamp', user.seen, FIXED], ['typed date', user.born, BORN])
  out.push(['pre-1900 instant returned by create with include', old.createdAt, OLD])
  const read = await prisma.user.findUnique({ where: { id: user.id } })
  out.push(['read back timestamptz', read.createdAt, FIXED], ['read back timestamp', read.seen, FIXED])
  const [joined] = await prisma.post.findMany({ where: { authorId: old.id }, include: { author: true }, relationLoadStrategy: 'join' })
  out.push(['relation join timestamptz (JSON)', joined.author.createdAt, OLD], ['relation join timestamp (JSON)', joined.author.seen, OLD])
  const withPosts = await prisma.user.findUnique({ where: { id: old.id }, include: { posts: true }, relationLoadStrategy: 'join' })
  out.push(['relation join, parent row', withPosts.createdAt, OLD])
  const [raw] = await prisma.$queryRaw`SELECT ${FIXED}::timestamptz AS tz, ${FIXED}::timestamp AS ts, ARRAY[${FIXED}::timestamptz] AS arr,
    '2024-06-01'::date AS d, '12:34:56.789'::time AS t, '2024-02-29 13:14:15.123+00'::timestamptz AS literal`
  out.push(['raw timestamptz parameter', raw.tz, FIXED], ['raw timestamp parameter', raw.ts, FIXED], ['raw timestamptz[]', raw.arr[0], FIXED])
  out.push(['raw date', raw.d, new Date('2024-06-01T00:00:00.000Z')], ['raw time', raw.t, new Date('1970-01-01T12:34:56.789Z')])
  out.push(['raw literal', raw.literal, FIXED])
  await prisma.$executeRaw`UPDATE "User" SET "createdAt" = ${FIXED} WHERE id = ${old.id}`
  const [stored] = await prisma.$queryRaw`SELECT "createdAt" = '2024-02-29 13:14:15.123+00'::timestamptz AS same FROM "User" WHERE id = ${old.id}`
  out.push(['raw write stored the instant', stored.same, true])
  const [{ now, wall }] = await prisma.$queryRaw`SELECT now() AS now, now()::timestamp AS wall`
  out.push(['now() within a minute', Math.abs(now.getTime() - Date.now()) < 60_000, true])
  out.push(['now()::timestamp is the UTC wall clock', Math.abs(wall.getTime() - now.getTime()) < 1000, true])
  const text = (v) => (!(v instanceof Date) ? v : Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString())
  return out.map(([name, got, want]) => [name, text(got), text(want)])
}

describe.each(ZONES)('a database in %s', (zone) => {
  let url
  beforeAll(async () => { url = await zonedDatabase(zone) })

  test('the adapter\'s own pool: every timestamp path gives the instant written', async () => {
    const prisma = prismaOn(new PrismaPgWarden({ connectionString: url, logger: false }))
    expectInstants(await paths(prisma))
  })

  test("a pool passed in with timeZone 'UTC': the same, and no warning", async () => {
    const warnings = []
    const pool = new Pool({ connectionString: url, timeZone: 'UTC', logger: { debug () {}, info () {}, warn: (m) => warnings.push(m), error () {} } })
    const prisma = prismaOn(new PrismaPgWarden(pool))
    expectInstants(await paths(prisma))
    expect(warnings).toEqual([])
    await prisma.$disconnect()
    await pool.end()
  })
})

test('a pool passed in whose sessions are not in UTC draws a warning naming the fix', async () => {
  const url = await zonedDatabase('Asia/Kolkata')
  const warnings = []
  const pool = new Pool({ connectionString: url, logger: { debug () {}, info () {}, warn: (m) => warnings.push(m), error () {} } })
  const prisma = prismaOn(new PrismaPgWarden(pool))
  await prisma.$queryRaw`SELECT 1`
  expect(warnings).toEqual([expect.stringContaining("sessions run in TimeZone 'Asia/Kolkata', but Prisma assumes UTC")])
  expect(warnings[0]).toContain("timeZone: 'UTC'")
  await prisma.$disconnect()
  await pool.end()
})
