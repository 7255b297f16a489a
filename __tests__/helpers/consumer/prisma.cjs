'use strict'
// Run from a project that installed pgwarden from its tarball: pgwarden/prisma's adapter
// answers a raw query as Prisma would send it.
const { PrismaPgWarden } = require('pgwarden/prisma')

async function main () {
  const factory = new PrismaPgWarden(process.env.DATABASE_URL)
  const adapter = await factory.connect()
  try {
    const r = await adapter.queryRaw({ sql: 'SELECT $1::int AS n', args: [7], argTypes: [{ scalarType: 'int', arity: 'scalar' }] })
    console.log(JSON.stringify({ provider: adapter.provider, adapterName: adapter.adapterName, columnNames: r.columnNames, rows: r.rows }))
  } finally {
    await adapter.dispose()
  }
}
main().catch((e) => { console.error(e); process.exit(1) })
