'use strict'
// Sequelize 6 (postgres) through the driver module given on the command line: the option
// `dialectModule: require(driverModule)`.
//   node sequelize.js <databaseUrl> <pg|pgwarden>

const { run, FIXED, TYPED_SELECT, SERIES_SQL, digest } = require('./transcript')

run(async (t, { url, pg }) => {
  const { Sequelize, DataTypes, QueryTypes, Transaction } = require('sequelize')
  const sequelize = new Sequelize(url, { dialect: 'postgres', dialectModule: pg, logging: false, pool: { max: 4, min: 0 } })

  const Author = sequelize.define('Author', {
    name: { type: DataTypes.TEXT, allowNull: false, unique: true },
    email: DataTypes.TEXT
  }, { tableName: 'sequelize_author', timestamps: false })
  const Book = sequelize.define('Book', {
    title: { type: DataTypes.TEXT, allowNull: false },
    copies: DataTypes.BIGINT
  }, { tableName: 'sequelize_book', timestamps: false })
  Author.hasMany(Book, { foreignKey: { name: 'author_id', allowNull: false } })
  Book.belongsTo(Author, { foreignKey: { name: 'author_id', allowNull: false } })
  const Vals = sequelize.define('Vals', {
    j: DataTypes.JSON,
    jb: DataTypes.JSONB,
    tstz: DataTypes.DATE(6),
    ts: 'TIMESTAMP(6) WITHOUT TIME ZONE',
    d: DataTypes.DATEONLY,
    i8: DataTypes.BIGINT,
    num: DataTypes.DECIMAL,
    ints: DataTypes.ARRAY(DataTypes.INTEGER),
    texts: DataTypes.ARRAY(DataTypes.TEXT),
    uid: DataTypes.UUID,
    bin: DataTypes.BLOB
  }, { tableName: 'sequelize_vals', timestamps: false })
  const plain = (rows) => Array.isArray(rows) ? rows.map((r) => r.get({ plain: true })) : rows && rows.get({ plain: true })

  try {
    await t.step('authenticate', () => sequelize.authenticate())
    await t.step('database version', () => /^\d+\.\d+\.\d+$/.test(sequelize.options.databaseVersion))
    await t.step('schema (sync force)', async () => {
      await sequelize.query('DROP TABLE IF EXISTS sequelize_book, sequelize_author, sequelize_vals')
      await sequelize.sync({ force: true })
      return (await sequelize.query('SELECT column_name FROM information_schema.columns WHERE table_name = :t ORDER BY ordinal_position',
        { replacements: { t: 'sequelize_vals' }, type: QueryTypes.SELECT })).map((r) => r.column_name)
    })

    await t.step('bulkCreate returning', async () => plain(await Author.bulkCreate([{ name: 'Ada', email: 'ada@example.com' }, { name: 'Grace' }], { returning: true })))
    await t.step('create books', async () => plain(await Book.bulkCreate([{ author_id: 1, title: 'Notes', copies: FIXED.int8 }, { author_id: 2, title: 'COBOL', copies: 7 }], { returning: true })))
    await t.step('findAll include (join)', async () => plain(await Book.findAll({ include: Author, order: [['id', 'ASC']] })))
    await t.step('update', () => Author.update({ email: 'grace@example.com' }, { where: { name: 'Grace' } }))
    await t.step('update returning', async () => {
      const [n, rows] = await Author.update({ email: 'ada@example.org' }, { where: { name: 'Ada' }, returning: true })
      return { n, rows: plain(rows) }
    })
    await t.step('count', () => Author.count())

    await t.step('transaction committed (managed)', async () => {
      await sequelize.transaction(async (transaction) => { await Author.create({ name: 'Alan' }, { transaction }) })
      return plain(await Author.findAll({ where: { name: 'Alan' } }))
    })
    await t.step('transaction rolled back (managed)', async () => {
      let thrown
      try {
        await sequelize.transaction(async (transaction) => {
          await Author.create({ name: 'Ghost' }, { transaction })
          throw new Error('roll back')
        })
      } catch (e) { thrown = e.message }
      return { thrown, ghosts: await Author.count({ where: { name: 'Ghost' } }) }
    })
    await t.step('transaction rolled back (unmanaged, serializable)', async () => {
      const transaction = await sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE })
      await Author.create({ name: 'Ghost2' }, { transaction })
      const inside = await Author.count({ where: { name: 'Ghost2' }, transaction })
      const level = await sequelize.query('SHOW transaction_isolation', { type: QueryTypes.SELECT, transaction })
      await transaction.rollback()
      return { inside, level, after: await Author.count({ where: { name: 'Ghost2' } }) }
    })
    await t.step('unique violation', () => Author.create({ name: 'Ada' }))
    await t.step('unique violation in a transaction', () => sequelize.transaction(async (transaction) => {
      await Author.create({ name: 'Linus' }, { transaction })
      await Author.create({ name: 'Linus' }, { transaction })
    }))
    await t.step('after failed transaction', async () => (await Author.findAll({ order: [['id', 'ASC']] })).map((a) => a.name))

    await t.step('round trip: strings', async () => {
      const row = await Vals.create({
        j: FIXED.json, jb: FIXED.jsonb, tstz: FIXED.tstz, ts: FIXED.ts, d: FIXED.date, i8: FIXED.int8,
        num: FIXED.numeric, ints: FIXED.ints, texts: FIXED.texts, uid: FIXED.uuid, bin: FIXED.bytea
      })
      return { created: plain(row), found: plain(await Vals.findByPk(row.id)) }
    })
    await t.step('round trip: JS values', async () => {
      const row = await Vals.create({ j: [FIXED.json], jb: [1, 'two'], tstz: FIXED.jsDate, ts: FIXED.jsDate, d: FIXED.jsDate, i8: 42, num: 1.25, ints: [], texts: ['only'], bin: Buffer.alloc(0) })
      return { created: plain(row), found: plain(await Vals.findByPk(row.id)) }
    })
    await t.step('round trip: old dates', async () => {
      const a = await Vals.create({ tstz: FIXED.tstzOld, ts: FIXED.tsOld, d: FIXED.dateOld })
      const b = await Vals.create({ tstz: FIXED.jsDateOld, ts: FIXED.jsDateOld, d: FIXED.jsDateOld })
      return { strings: plain(await Vals.findByPk(a.id)), jsDates: plain(await Vals.findByPk(b.id)) }
    })
    await t.step('typed select (query)', () => sequelize.query(TYPED_SELECT, { type: QueryTypes.SELECT }))
    await t.step('raw query with bind', () => sequelize.query('SELECT $1::int AS a, $2::text AS b, $3::timestamptz AS c', { bind: [1, 'x', FIXED.jsDate], type: QueryTypes.SELECT }))
    await t.step('syntax error', () => sequelize.query('SELEC 1'))
    await t.step('large result (query, 2000 rows)', async () => digest(await sequelize.query(SERIES_SQL, { type: QueryTypes.SELECT })))
    await t.step('large result (findAll, 2000 rows)', async () => {
      await Book.bulkCreate(Array.from({ length: 2000 }, (_, i) => ({ title: `t${i}`, copies: String(i * 1000000), author_id: 1 + (i % 3) })))
      return digest(plain(await Book.findAll({ order: [['id', 'ASC']] })))
    })
  } finally {
    await t.step('close', () => sequelize.close())
  }
})
