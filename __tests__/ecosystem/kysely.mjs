// Kysely (ESM only) with PostgresDialect over a Pool of the driver module given on the command
// line, and the real pg-cursor for .stream(): `new PostgresDialect({ pool, cursor: Cursor })`.
//   node kysely.mjs <databaseUrl> <pg|pgwarden>
import { createRequire } from 'node:module'
import { Kysely, PostgresDialect, sql } from 'kysely'

const require = createRequire(import.meta.url)
const { run, FIXED, TYPED_SELECT, SERIES_SQL, digest } = require('./transcript')
const Cursor = require('pg-cursor')

run(async (t, { url, pg }) => {
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const db = new Kysely({ dialect: new PostgresDialect({ pool, cursor: Cursor }) })

  try {
    await t.step('schema', async () => {
      await db.schema.dropTable('kysely_book').ifExists().execute()
      await db.schema.dropTable('kysely_author').ifExists().execute()
      await db.schema.dropTable('kysely_vals').ifExists().execute()
      await db.schema.createTable('kysely_author')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('email', 'text').execute()
      await db.schema.createTable('kysely_book')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('author_id', 'integer', (c) => c.notNull().references('kysely_author.id'))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('copies', 'int8').execute()
      await db.schema.createTable('kysely_vals')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('j', 'json').addColumn('jb', 'jsonb')
        .addColumn('tstz', 'timestamptz').addColumn('ts', 'timestamp').addColumn('d', 'date')
        .addColumn('i8', 'int8').addColumn('num', 'numeric')
        .addColumn('ints', sql`int[]`).addColumn('texts', sql`text[]`)
        .addColumn('uid', 'uuid').addColumn('bin', 'bytea').execute()
      const { rows } = await sql`SELECT column_name FROM information_schema.columns WHERE table_name = ${'kysely_vals'} ORDER BY ordinal_position`.execute(db)
      return rows.map((r) => r.column_name)
    })

    await t.step('insert returning', () => db.insertInto('kysely_author')
      .values([{ name: 'Ada', email: 'ada@example.com' }, { name: 'Grace', email: null }]).returningAll().execute())
    await t.step('insert books', () => db.insertInto('kysely_book')
      .values([{ author_id: 1, title: 'Notes', copies: FIXED.int8 }, { author_id: 2, title: 'COBOL', copies: 7 }])
      .returning(['id', 'copies']).execute())
    await t.step('join', () => db.selectFrom('kysely_book as b').innerJoin('kysely_author as a', 'a.id', 'b.author_id')
      .select(['a.name', 'b.title', 'b.copies']).orderBy('b.id').execute())
    await t.step('update', () => db.updateTable('kysely_author').set({ email: 'grace@example.com' }).where('name', '=', 'Grace').executeTakeFirst())
    await t.step('count', () => db.selectFrom('kysely_author').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow())

    await t.step('transaction committed', async () => {
      await db.transaction().execute(async (trx) => { await trx.insertInto('kysely_author').values({ name: 'Alan' }).execute() })
      return db.selectFrom('kysely_author').select(['id', 'name']).where('name', '=', 'Alan').execute()
    })
    await t.step('transaction rolled back', async () => {
      let thrown
      try {
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('kysely_author').values({ name: 'Ghost' }).execute()
          throw new Error('roll back')
        })
      } catch (e) { thrown = e.message }
      return { thrown, ghosts: await db.selectFrom('kysely_author').select(db.fn.countAll().as('n')).where('name', '=', 'Ghost').executeTakeFirst() }
    })
    await t.step('unique violation', () => db.insertInto('kysely_author').values({ name: 'Ada' }).execute())
    await t.step('unique violation in a transaction', () => db.transaction().execute(async (trx) => {
      await trx.insertInto('kysely_author').values({ name: 'Linus' }).execute()
      await trx.insertInto('kysely_author').values({ name: 'Linus' }).execute()
    }))
    await t.step('after failed transaction', async () => (await db.selectFrom('kysely_author').select('name').orderBy('id').execute()).map((r) => r.name))

    await t.step('round trip: strings', async () => {
      const row = await db.insertInto('kysely_vals').values({
        j: JSON.stringify(FIXED.json), jb: JSON.stringify(FIXED.jsonb), tstz: FIXED.tstz, ts: FIXED.ts, d: FIXED.date,
        i8: FIXED.int8, num: FIXED.numeric, ints: FIXED.ints, texts: FIXED.texts, uid: FIXED.uuid, bin: FIXED.bytea
      }).returningAll().executeTakeFirstOrThrow()
      return { returned: row, selected: await db.selectFrom('kysely_vals').selectAll().where('id', '=', row.id).executeTakeFirst() }
    })
    await t.step('round trip: JS values', () => db.insertInto('kysely_vals').values({
      j: JSON.stringify([FIXED.json]), jb: JSON.stringify([1, 'two']), tstz: FIXED.jsDate, ts: FIXED.jsDate, d: FIXED.jsDate,
      i8: 42n, num: 1.25, ints: [], texts: ['only'], uid: FIXED.uuid, bin: Buffer.alloc(0)
    }).returningAll().executeTakeFirstOrThrow())
    await t.step('round trip: old dates', async () => ({
      strings: await db.insertInto('kysely_vals').values({ tstz: FIXED.tstzOld, ts: FIXED.tsOld, d: FIXED.dateOld })
        .returning(['tstz', 'ts', 'd']).executeTakeFirst(),
      jsDates: await db.insertInto('kysely_vals').values({ tstz: FIXED.jsDateOld, ts: FIXED.jsDateOld, d: FIXED.jsDateOld })
        .returning(['tstz', 'ts', 'd', sql`tstz::text`.as('tstz_text'), sql`ts::text`.as('ts_text')]).executeTakeFirst()
    }))
    await t.step('typed select (sql)', async () => (await sql.raw(TYPED_SELECT).execute(db)).rows)
    await t.step('sql result shape', async () => {
      const r = await sql`UPDATE kysely_author SET email = email WHERE id < ${3}`.execute(db)
      return r
    })
    await t.step('syntax error', () => sql.raw('SELEC 1').execute(db))

    await t.step('stream 2000 rows (pg-cursor)', async () => {
      const rows = []
      for await (const row of db.selectFrom(sql.raw(`(${SERIES_SQL})`).as('s')).selectAll().orderBy('n').stream(100)) rows.push(row)
      return digest(rows)
    })
    await t.step('stream then break early', async () => {
      const rows = []
      for await (const row of db.selectFrom('kysely_author').select(['id', 'name']).orderBy('id').stream(1)) {
        rows.push(row)
        if (rows.length === 2) break
      }
      return { rows, after: await db.selectFrom('kysely_author').select(db.fn.countAll().as('n')).executeTakeFirst() }
    })
    await t.step('large select', async () => digest((await sql.raw(SERIES_SQL).execute(db)).rows))
  } finally {
    await t.step('destroy', () => db.destroy())
  }
})
