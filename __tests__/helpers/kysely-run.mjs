// Kysely is ESM only, which jest's CommonJS runtime cannot load: pg-kysely.test.js runs its
// steps here, in a child process, over a pgwarden/pg Pool. Usage: node kysely-run.mjs <url> <step>.
// Prints the step's outcome as JSON (Dates as ISO text, BigInts as strings).
import { createRequire } from 'node:module'
import { Kysely, PostgresDialect, sql } from 'kysely'

const require = createRequire(import.meta.url)
const { Pool } = require('../../lib/pg')

/** The columns of `table` as information_schema lists them, in order. */
async function columnsOf (db, table) {
  const { rows } = await sql`SELECT column_name FROM information_schema.columns WHERE table_name = ${table} ORDER BY ordinal_position`.execute(db)
  return rows.map((r) => r.column_name)
}

const steps = {
  async ddl (db) {
    await db.schema.createTable('person')
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('born', 'date')
      .execute()
    await db.schema.alterTable('person').addColumn('balance', 'numeric(12, 2)', (c) => c.defaultTo(0)).execute()
    await db.schema.createIndex('person_name').on('person').column('name').execute()
    return { columns: await columnsOf(db, 'person') }
  },

  async crud (db) {
    const inserted = await db.insertInto('person')
      .values([{ name: 'Ada', born: '1815-12-10' }, { name: 'Alan', born: '1912-06-23' }])
      .returning(['id', 'born', 'balance']).execute()
    const updated = await db.updateTable('person').set({ balance: '12.50' }).where('name', '=', 'Ada').executeTakeFirst()
    const ada = await db.selectFrom('person').select(['name', 'balance']).where('name', '=', 'Ada').executeTakeFirstOrThrow()
    const { count } = await db.selectFrom('person').select(db.fn.countAll().as('count')).executeTakeFirstOrThrow()
    const deleted = await db.deleteFrom('person').where('name', '=', 'Alan').executeTakeFirst()
    const bornLocalMidnight = inserted[0].born.getTime() === new Date(1815, 11, 10).getTime()
    return { inserted, bornLocalMidnight, updated: updated.numUpdatedRows, ada, count, deleted: deleted.numDeletedRows }
  },

  async transaction (db) {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('person').values({ name: 'Grace' }).execute()
    })
    let rolledBack = null
    try {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('person').values({ name: 'Ghost' }).execute()
        throw new Error('roll back')
      })
    } catch (e) {
      rolledBack = e.message
    }
    const names = await db.selectFrom('person').select('name').orderBy('name').execute()
    return { rolledBack, names: names.map((r) => r.name) }
  },

  async stats (db, pool) {
    const before = pool.getPoolStats().queries.queriesExecuted
    await db.selectFrom('person').selectAll().execute()
    return { counted: pool.getPoolStats().queries.queriesExecuted - before }
  }
}

const [url, step] = process.argv.slice(2)
const pool = new Pool({ connectionString: url, logger: false })
const db = new Kysely({ dialect: new PostgresDialect({ pool }) })
try {
  const out = await steps[step](db, pool)
  process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? v.toString() : v)))
} finally {
  await db.destroy()
}
