'use strict'
// MikroORM 6 (@mikro-orm/postgresql) with the driver given on the command line. MikroORM takes
// no driver module: it requires 'pg' itself (PostgreSqlConnection, PostgreSqlPlatform, and
// knex's pg client). For pgwarden, swap-pg.js makes the request 'pg' resolve to pgwarden/pg
// before MikroORM loads. EntitySchema (no decorators). 6.x has no em.stream(): large results.
//   node mikro-orm.js <databaseUrl> <pg|pgwarden>

const { run, FIXED, TYPED_SELECT, SERIES_SQL, digest } = require('./transcript')

run(async (t, { url, driver, driverPath }) => {
  if (driver === 'pgwarden') require('./swap-pg')
  const { MikroORM, EntitySchema } = require('@mikro-orm/postgresql')
  t.note('pg module MikroORM loaded', require.resolve('pg', { paths: [require.resolve('@mikro-orm/postgresql')] }) === driverPath ||
    (driver === 'pg' && /node_modules\/pg\//.test(require.resolve('pg', { paths: [require.resolve('@mikro-orm/postgresql')] }))))

  const Author = new EntitySchema({
    name: 'Author',
    tableName: 'mikro_author',
    properties: {
      id: { type: 'number', primary: true },
      name: { type: 'string', columnType: 'text', unique: true },
      email: { type: 'string', columnType: 'text', nullable: true },
      books: { kind: '1:m', entity: 'Book', mappedBy: 'author' }
    }
  })
  const Book = new EntitySchema({
    name: 'Book',
    tableName: 'mikro_book',
    properties: {
      id: { type: 'number', primary: true },
      title: { type: 'string', columnType: 'text' },
      copies: { type: 'bigint', nullable: true },
      author: { kind: 'm:1', entity: 'Author' }
    }
  })
  const Vals = new EntitySchema({
    name: 'Vals',
    tableName: 'mikro_vals',
    properties: {
      id: { type: 'number', primary: true },
      j: { type: 'json', columnType: 'json', nullable: true },
      jb: { type: 'json', nullable: true },
      tstz: { type: 'Date', columnType: 'timestamptz(6)', nullable: true },
      ts: { type: 'Date', columnType: 'timestamp(6)', nullable: true },
      d: { type: 'date', nullable: true },
      i8: { type: 'bigint', nullable: true },
      num: { type: 'decimal', columnType: 'numeric', nullable: true },
      ints: { type: 'number[]', columnType: 'int[]', nullable: true },
      texts: { type: 'string[]', columnType: 'text[]', nullable: true },
      uid: { type: 'uuid', nullable: true },
      bin: { type: 'blob', nullable: true }
    }
  })

  let orm
  const plain = (x) => JSON.parse(JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? { bigint: v.toString() } : v)))
  try {
    await t.step('init', async () => {
      orm = await MikroORM.init({ clientUrl: url, entities: [Author, Book, Vals], debug: false, allowGlobalContext: true, pool: { min: 0, max: 4 } })
      return orm.isConnected()
    })
    const em = () => orm.em.fork()
    await t.step('schema (createSchema)', async () => {
      await orm.em.getConnection().execute('DROP TABLE IF EXISTS mikro_book, mikro_author, mikro_vals')
      await orm.schema.createSchema()
      return (await orm.em.getConnection().execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'mikro_vals' ORDER BY ordinal_position")).map((r) => r.column_name)
    })

    await t.step('persist and flush (insert returning)', async () => {
      const e = em()
      const a = e.create('Author', { name: 'Ada', email: 'ada@example.com' })
      const g = e.create('Author', { name: 'Grace' })
      await e.flush()
      return [plain(a), plain(g)]
    })
    await t.step('insert books', async () => {
      const e = em()
      const b1 = e.create('Book', { title: 'Notes', copies: FIXED.int8, author: 1 })
      const b2 = e.create('Book', { title: 'COBOL', copies: '7', author: 2 })
      await e.flush()
      return [b1.id, b2.id]
    })
    await t.step('find populate (join)', async () => plain(await em().find('Book', {}, { populate: ['author'], orderBy: { id: 'ASC' } })))
    await t.step('query builder join', () => em().createQueryBuilder('Book', 'b').select(['b.title', 'a.name', 'b.copies'])
      .join('b.author', 'a').orderBy({ 'b.id': 'ASC' }).execute('all'))
    await t.step('nativeUpdate', () => em().nativeUpdate('Author', { name: 'Grace' }, { email: 'grace@example.com' }))
    await t.step('count', () => em().count('Author'))

    await t.step('transaction committed', async () => {
      await orm.em.fork().transactional(async (tem) => { tem.create('Author', { name: 'Alan' }) })
      return plain(await em().find('Author', { name: 'Alan' }))
    })
    await t.step('transaction rolled back', async () => {
      let thrown
      try {
        await orm.em.fork().transactional(async (tem) => {
          tem.create('Author', { name: 'Ghost' })
          await tem.flush()
          throw new Error('roll back')
        })
      } catch (e) { thrown = e.message }
      return { thrown, ghosts: await em().count('Author', { name: 'Ghost' }) }
    })
    await t.step('unique violation', async () => {
      const e = em()
      e.create('Author', { name: 'Ada' })
      await e.flush()
    })
    await t.step('unique violation in a transaction', () => orm.em.fork().transactional(async (tem) => {
      await tem.insert('Author', { name: 'Linus' })
      await tem.insert('Author', { name: 'Linus' })
    }))
    await t.step('after failed transaction', async () => (await em().find('Author', {}, { orderBy: { id: 'ASC' } })).map((a) => a.name))

    await t.step('round trip: strings', async () => {
      const e = em()
      const v = e.create('Vals', {
        j: FIXED.json, jb: FIXED.jsonb, tstz: new Date(FIXED.tstz.replace(' ', 'T').replace('+00', 'Z')), ts: FIXED.jsDate, d: FIXED.date,
        i8: FIXED.int8, num: FIXED.numeric, ints: FIXED.ints, texts: FIXED.texts.filter((x) => x !== null), uid: FIXED.uuid, bin: FIXED.bytea
      })
      await e.flush()
      return { flushed: plain(v), found: plain(await em().findOne('Vals', v.id)) }
    })
    await t.step('round trip: old dates', async () => {
      const e = em()
      const v = e.create('Vals', { tstz: FIXED.jsDateOld, ts: FIXED.jsDateOld, d: FIXED.dateOld })
      await e.flush()
      const raw = await em().getConnection().execute('SELECT tstz::text AS tstz, ts::text AS ts, d::text AS d FROM mikro_vals WHERE id = ?', [v.id])
      return { found: plain(await em().findOne('Vals', v.id)), text: raw }
    })
    await t.step('typed select (execute)', () => em().getConnection().execute(TYPED_SELECT))
    await t.step('syntax error', () => em().getConnection().execute('SELEC 1'))
    await t.step('large result (execute, 2000 rows)', async () => digest(await em().getConnection().execute(SERIES_SQL)))
    await t.step('large result (find, 2000 rows)', async () => {
      await em().insertMany('Book', Array.from({ length: 2000 }, (_, i) => ({ title: `t${i}`, copies: String(i * 1000000), author: 1 + (i % 3) })))
      return digest(plain(await em().find('Book', {}, { orderBy: { id: 'ASC' } })))
    })
  } finally {
    await t.step('close', () => orm && orm.close(true))
  }
})
