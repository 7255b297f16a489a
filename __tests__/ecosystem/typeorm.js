'use strict'
// TypeORM 1.x (postgres) through the driver module given on the command line: the DataSource
// option `driver: require(driverModule)`. EntitySchema (no decorators), parseInt8: true.
//   node typeorm.js <databaseUrl> <pg|pgwarden>

const { run, FIXED, TYPED_SELECT, SERIES_SQL, digest } = require('./transcript')

run(async (t, { url, pg }) => {
  require('reflect-metadata')
  const { DataSource, EntitySchema } = require('typeorm')

  const Author = new EntitySchema({
    name: 'Author',
    tableName: 'typeorm_author',
    columns: {
      id: { type: 'int', primary: true, generated: 'increment' },
      name: { type: 'text', unique: true },
      email: { type: 'text', nullable: true }
    },
    relations: { books: { type: 'one-to-many', target: 'Book', inverseSide: 'author' } }
  })
  const Book = new EntitySchema({
    name: 'Book',
    tableName: 'typeorm_book',
    columns: {
      id: { type: 'int', primary: true, generated: 'increment' },
      title: { type: 'text' },
      copies: { type: 'bigint', nullable: true }
    },
    relations: { author: { type: 'many-to-one', target: 'Author', joinColumn: { name: 'author_id' }, nullable: false } }
  })
  const Vals = new EntitySchema({
    name: 'Vals',
    tableName: 'typeorm_vals',
    columns: {
      id: { type: 'int', primary: true, generated: 'increment' },
      j: { type: 'json', nullable: true },
      jb: { type: 'jsonb', nullable: true },
      tstz: { type: 'timestamptz', nullable: true },
      ts: { type: 'timestamp', nullable: true },
      d: { type: 'date', nullable: true },
      i8: { type: 'bigint', nullable: true },
      num: { type: 'numeric', nullable: true },
      ints: { type: 'int', array: true, nullable: true },
      texts: { type: 'text', array: true, nullable: true },
      uid: { type: 'uuid', nullable: true },
      bin: { type: 'bytea', nullable: true }
    }
  })

  const warnings = []
  const logger = {
    logQuery () {}, logQueryError () {}, logQuerySlow () {}, logSchemaBuild () {}, logMigration () {},
    log (level, message) { if (level === 'warn') warnings.push(String(message)) }
  }
  const ds = new DataSource({
    type: 'postgres',
    url,
    driver: pg,
    // pg-native is installed in this repo (a devDependency) and TypeORM would switch real pg to
    // pg.native when it can load it; users of plain pg do not have it: stay on the JS client.
    nativeDriver: false,
    parseInt8: true,
    poolSize: 4,
    entities: [Author, Book, Vals],
    synchronize: false,
    logger
  })

  try {
    await t.step('initialize', async () => { await ds.initialize(); return ds.isInitialized })
    await t.step('schema (synchronize)', async () => {
      await ds.query('DROP TABLE IF EXISTS typeorm_book, typeorm_author, typeorm_vals')
      await ds.synchronize()
      return (await ds.query('SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', ['typeorm_vals'])).map((r) => r.column_name)
    })
    const authors = ds.getRepository('Author')
    const books = ds.getRepository('Book')
    const vals = ds.getRepository('Vals')

    await t.step('insert returning', async () => {
      const r = await authors.insert([{ name: 'Ada', email: 'ada@example.com' }, { name: 'Grace' }])
      return { identifiers: r.identifiers, generatedMaps: r.generatedMaps, raw: r.raw }
    })
    await t.step('save', () => books.save([{ title: 'Notes', copies: FIXED.int8, author: { id: 1 } }, { title: 'COBOL', copies: 7, author: { id: 2 } }]))
    await t.step('find with relation (join)', () => books.find({ relations: { author: true }, order: { id: 'ASC' } }))
    await t.step('query builder join', () => ds.createQueryBuilder().select(['a.name AS name', 'b.title AS title', 'b.copies AS copies'])
      .from('typeorm_book', 'b').innerJoin('typeorm_author', 'a', 'a.id = b.author_id').orderBy('b.id').getRawMany())
    await t.step('update', async () => {
      const r = await authors.update({ name: 'Grace' }, { email: 'grace@example.com' })
      return { affected: r.affected, raw: r.raw }
    })
    await t.step('count', () => authors.count())
    await t.step('findOneBy', () => authors.findOneBy({ name: 'Grace' }))

    await t.step('transaction committed', async () => {
      await ds.transaction(async (em) => { await em.getRepository('Author').insert({ name: 'Alan' }) })
      return authors.findBy({ name: 'Alan' })
    })
    await t.step('transaction rolled back', async () => {
      let thrown
      try {
        await ds.transaction(async (em) => {
          await em.getRepository('Author').insert({ name: 'Ghost' })
          throw new Error('roll back')
        })
      } catch (e) { thrown = e.message }
      return { thrown, ghosts: await authors.countBy({ name: 'Ghost' }) }
    })
    await t.step('query runner transaction rolled back', async () => {
      const qr = ds.createQueryRunner()
      await qr.connect()
      try {
        await qr.startTransaction()
        await qr.manager.insert('Author', { name: 'Ghost2' })
        const inside = await qr.manager.countBy('Author', { name: 'Ghost2' })
        await qr.rollbackTransaction()
        return { inside, after: await authors.countBy({ name: 'Ghost2' }) }
      } finally {
        await qr.release()
      }
    })
    await t.step('unique violation', () => authors.insert({ name: 'Ada' }))
    await t.step('unique violation in a transaction', () => ds.transaction(async (em) => {
      await em.insert('Author', { name: 'Linus' })
      await em.insert('Author', { name: 'Linus' })
    }))
    await t.step('after failed transaction', async () => (await authors.find({ order: { id: 'ASC' } })).map((a) => a.name))

    await t.step('round trip: strings', async () => {
      const saved = await vals.save({
        j: FIXED.json, jb: FIXED.jsonb, tstz: FIXED.tstz, ts: FIXED.ts, d: FIXED.date, i8: FIXED.int8,
        num: FIXED.numeric, ints: FIXED.ints, texts: FIXED.texts, uid: FIXED.uuid, bin: FIXED.bytea
      })
      return { saved, found: await vals.findOneBy({ id: saved.id }) }
    })
    await t.step('round trip: JS values', async () => {
      const saved = await vals.save({ j: [FIXED.json], jb: [1, 'two'], tstz: FIXED.jsDate, ts: FIXED.jsDate, d: FIXED.jsDate, i8: 42, num: 1.25, ints: [], texts: ['only'], bin: Buffer.alloc(0) })
      return { saved, found: await vals.findOneBy({ id: saved.id }) }
    })
    await t.step('round trip: old dates', async () => {
      const a = await vals.save({ tstz: FIXED.tstzOld, ts: FIXED.tsOld, d: FIXED.dateOld })
      const b = await vals.save({ tstz: FIXED.jsDateOld, ts: FIXED.jsDateOld, d: FIXED.jsDateOld })
      return { strings: await vals.findOneBy({ id: a.id }), jsDates: await vals.findOneBy({ id: b.id }) }
    })
    await t.step('typed select (query)', () => ds.query(TYPED_SELECT))
    await t.step('syntax error', () => ds.query('SELEC 1'))

    await t.step('stream 2000 rows (queryBuilder.stream)', async () => {
      const qr = ds.createQueryRunner()
      try {
        const stream = await ds.createQueryBuilder(qr).select('s.*').from(`(${SERIES_SQL})`, 's').orderBy('s.n').stream()
        const rows = []
        for await (const row of stream) rows.push(row)
        return digest(rows)
      } finally {
        await qr.release()
      }
    })
    await t.step('large result (find, 2000 rows)', async () => {
      await books.insert(Array.from({ length: 2000 }, (_, i) => ({ title: `t${i}`, copies: String(i * 1000000), author: { id: 1 + (i % 3) } })))
      return digest(await books.find({ order: { id: 'ASC' } }))
    })
  } finally {
    await t.step('destroy', () => ds.isInitialized && ds.destroy())
    t.note('logger warnings', warnings)
  }
})
