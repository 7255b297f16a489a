'use strict'
// Drizzle ORM (node-postgres driver) over a Pool of the driver module given on the command
// line: `drizzle(new Pool(...))`, as its docs show.
//   node drizzle.js <databaseUrl> <pg|pgwarden>

const { run, FIXED, TYPED_SELECT, SERIES_SQL, digest } = require('./transcript')

run(async (t, { url, pg }) => {
  const { drizzle } = require('drizzle-orm/node-postgres')
  const { sql, eq, count } = require('drizzle-orm')
  const p = require('drizzle-orm/pg-core')

  const bytea = p.customType({ dataType: () => 'bytea' })
  const author = p.pgTable('drizzle_author', {
    id: p.serial('id').primaryKey(),
    name: p.text('name').notNull().unique(),
    email: p.text('email')
  })
  const book = p.pgTable('drizzle_book', {
    id: p.serial('id').primaryKey(),
    authorId: p.integer('author_id').notNull().references(() => author.id),
    title: p.text('title').notNull(),
    copies: p.bigint('copies', { mode: 'bigint' })
  })
  const vals = p.pgTable('drizzle_vals', {
    id: p.serial('id').primaryKey(),
    j: p.json('j'),
    jb: p.jsonb('jb'),
    tstz: p.timestamp('tstz', { withTimezone: true, mode: 'date', precision: 6 }),
    tstzText: p.timestamp('tstz_text', { withTimezone: true, mode: 'string', precision: 6 }),
    ts: p.timestamp('ts', { mode: 'date', precision: 6 }),
    tsText: p.timestamp('ts_text', { mode: 'string', precision: 6 }),
    d: p.date('d', { mode: 'date' }),
    dText: p.date('d_text', { mode: 'string' }),
    i8: p.bigint('i8', { mode: 'bigint' }),
    i8n: p.bigint('i8n', { mode: 'number' }),
    num: p.numeric('num'),
    ints: p.integer('ints').array(),
    texts: p.text('texts').array(),
    uid: p.uuid('uid'),
    bin: bytea('bin'),
    iv: p.interval('iv')
  })

  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const db = drizzle(pool)

  try {
    await t.step('schema', async () => {
      await db.execute(sql.raw('DROP TABLE IF EXISTS drizzle_book, drizzle_author, drizzle_vals'))
      await db.execute(sql.raw(`CREATE TABLE drizzle_author (id serial PRIMARY KEY, name text NOT NULL UNIQUE, email text);
        CREATE TABLE drizzle_book (id serial PRIMARY KEY, author_id int NOT NULL REFERENCES drizzle_author (id), title text NOT NULL, copies int8);
        CREATE TABLE drizzle_vals (id serial PRIMARY KEY, j json, jb jsonb, tstz timestamptz, tstz_text timestamptz, ts timestamp, ts_text timestamp,
          d date, d_text date, i8 int8, i8n int8, num numeric, ints int[], texts text[], uid uuid, bin bytea, iv interval)`))
      const r = await db.execute(sql`SELECT column_name FROM information_schema.columns WHERE table_name = ${'drizzle_vals'} ORDER BY ordinal_position`)
      return r.rows.map((x) => x.column_name)
    })

    await t.step('insert returning', () => db.insert(author).values([{ name: 'Ada', email: 'ada@example.com' }, { name: 'Grace' }]).returning())
    await t.step('insert books', () => db.insert(book)
      .values([{ authorId: 1, title: 'Notes', copies: BigInt(FIXED.int8) }, { authorId: 2, title: 'COBOL', copies: 7n }])
      .returning({ id: book.id, copies: book.copies }))
    await t.step('join', () => db.select({ name: author.name, title: book.title, copies: book.copies })
      .from(book).innerJoin(author, eq(author.id, book.authorId)).orderBy(book.id))
    await t.step('relational-style left join', () => db.select().from(author).leftJoin(book, eq(author.id, book.authorId)).orderBy(author.id))
    await t.step('update', async () => {
      const r = await db.update(author).set({ email: 'grace@example.com' }).where(eq(author.name, 'Grace'))
      return { rowCount: r.rowCount, command: r.command }
    })
    await t.step('count', () => db.select({ n: count() }).from(author))

    await t.step('transaction committed', async () => {
      await db.transaction(async (tx) => { await tx.insert(author).values({ name: 'Alan' }) })
      return db.select({ id: author.id, name: author.name }).from(author).where(eq(author.name, 'Alan'))
    })
    await t.step('transaction rolled back (tx.rollback)', async () => {
      let thrown
      try {
        await db.transaction(async (tx) => {
          await tx.insert(author).values({ name: 'Ghost' })
          tx.rollback()
        })
      } catch (e) { thrown = { class: e.constructor.name, message: e.message } }
      return { thrown, ghosts: await db.select({ n: count() }).from(author).where(eq(author.name, 'Ghost')) }
    })
    await t.step('transaction rolled back (throw)', async () => {
      let thrown
      try {
        await db.transaction(async (tx) => {
          await tx.insert(author).values({ name: 'Ghost' })
          throw new Error('roll back')
        })
      } catch (e) { thrown = e.message }
      return { thrown, ghosts: await db.select({ n: count() }).from(author).where(eq(author.name, 'Ghost')) }
    })
    await t.step('unique violation', () => db.insert(author).values({ name: 'Ada' }))
    await t.step('unique violation in a transaction', () => db.transaction(async (tx) => {
      await tx.insert(author).values({ name: 'Linus' })
      await tx.insert(author).values({ name: 'Linus' })
    }))
    await t.step('after failed transaction', async () => (await db.select({ name: author.name }).from(author).orderBy(author.id)).map((r) => r.name))

    await t.step('round trip', async () => {
      const [row] = await db.insert(vals).values({
        j: FIXED.json,
        jb: FIXED.jsonb,
        tstz: FIXED.jsDate,
        tstzText: FIXED.tstz,
        ts: FIXED.jsDate,
        tsText: FIXED.ts,
        d: FIXED.jsDate,
        dText: FIXED.date,
        i8: BigInt(FIXED.int8),
        i8n: 42,
        num: FIXED.numeric,
        ints: FIXED.ints,
        texts: FIXED.texts.filter((x) => x !== null),
        uid: FIXED.uuid,
        bin: FIXED.bytea,
        iv: '1 day 02:03:04.5'
      }).returning()
      const [selected] = await db.select().from(vals).where(eq(vals.id, row.id))
      return { returned: row, selected }
    })
    await t.step('round trip: old dates', async () => {
      const [row] = await db.insert(vals).values({ tstz: FIXED.jsDateOld, tstzText: FIXED.tstzOld, ts: FIXED.jsDateOld, tsText: FIXED.tsOld, d: FIXED.jsDateOld, dText: FIXED.dateOld })
        .returning({ tstz: vals.tstz, tstzText: vals.tstzText, ts: vals.ts, tsText: vals.tsText, d: vals.d, dText: vals.dText })
      return row
    })
    await t.step('typed select (execute)', async () => (await db.execute(sql.raw(TYPED_SELECT))).rows)
    await t.step('execute result shape', async () => {
      const r = await db.execute(sql`SELECT ${1}::int AS a, ${'x'}::text AS b`)
      return { command: r.command, rowCount: r.rowCount, rows: r.rows, fields: r.fields.map((f) => [f.name, f.dataTypeID]) }
    })
    await t.step('syntax error', () => db.execute(sql.raw('SELEC 1')))
    await t.step('large result (execute, 2000 rows)', async () => digest((await db.execute(sql.raw(SERIES_SQL))).rows))
    await t.step('large result (query builder, 2000 rows)', async () => {
      await db.insert(book).values(Array.from({ length: 2000 }, (_, i) => ({ authorId: 1 + (i % 3), title: `t${i}`, copies: BigInt(i) * 1000000000000n })))
      return digest(await db.select().from(book).orderBy(book.id))
    })
  } finally {
    await t.step('pool.end', () => pool.end())
  }
})
