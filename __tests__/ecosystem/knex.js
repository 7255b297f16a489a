'use strict'
// Knex 3 (pg client) through the driver module given on the command line: a subclass of
// knex's pg client whose _driver() returns that module, passed as `client:`.
//   node knex.js <databaseUrl> <pg|pgwarden>

const { run, FIXED, TYPED_SELECT, SERIES_SQL, digest } = require('./transcript')

run(async (t, { url, driverPath }) => {
  const Knex = require('knex')
  const PgClient = require('knex/lib/dialects/postgres')
  class DriverClient extends PgClient {
    _driver () { return require(driverPath) }
  }
  const knex = Knex({ client: DriverClient, connection: url, pool: { min: 0, max: 4 } })

  try {
    await t.step('schema', async () => {
      await knex.schema.dropTableIfExists('knex_book')
      await knex.schema.dropTableIfExists('knex_author')
      await knex.schema.dropTableIfExists('knex_vals')
      await knex.schema.createTable('knex_author', (tb) => {
        tb.increments('id')
        tb.text('name').notNullable().unique()
        tb.text('email')
      })
      await knex.schema.createTable('knex_book', (tb) => {
        tb.increments('id')
        tb.integer('author_id').notNullable().references('id').inTable('knex_author')
        tb.text('title').notNullable()
        tb.bigInteger('copies')
      })
      await knex.schema.createTable('knex_vals', (tb) => {
        tb.increments('id')
        tb.json('j'); tb.jsonb('jb')
        tb.timestamp('tstz', { useTz: true }); tb.timestamp('ts', { useTz: false }); tb.date('d')
        tb.bigInteger('i8'); tb.decimal('num', null); tb.specificType('ints', 'int[]'); tb.specificType('texts', 'text[]')
        tb.uuid('uid'); tb.binary('bin')
      })
      return knex('information_schema.columns').where({ table_name: 'knex_vals' }).orderBy('ordinal_position').pluck('column_name')
    })

    await t.step('insert returning', () => knex('knex_author')
      .insert([{ name: 'Ada', email: 'ada@example.com' }, { name: 'Grace', email: null }]).returning('*'))
    await t.step('insert books', () => knex('knex_book')
      .insert([{ author_id: 1, title: 'Notes', copies: FIXED.int8 }, { author_id: 2, title: 'COBOL', copies: 7 }]).returning(['id', 'copies']))
    await t.step('join', () => knex('knex_book as b').join('knex_author as a', 'a.id', 'b.author_id')
      .select('a.name', 'b.title', 'b.copies').orderBy('b.id'))
    await t.step('update count', () => knex('knex_author').where({ name: 'Grace' }).update({ email: 'grace@example.com' }))
    await t.step('count', () => knex('knex_author').count('* as n').first())

    await t.step('transaction committed', async () => {
      await knex.transaction(async (trx) => {
        await trx('knex_author').insert({ name: 'Alan' })
      })
      return knex('knex_author').where({ name: 'Alan' }).select('id', 'name')
    })
    await t.step('transaction rolled back', async () => {
      let thrown
      try {
        await knex.transaction(async (trx) => {
          await trx('knex_author').insert({ name: 'Ghost' })
          throw new Error('roll back')
        })
      } catch (e) { thrown = e.message }
      return { thrown, ghosts: await knex('knex_author').where({ name: 'Ghost' }).count('* as n').first() }
    })
    await t.step('unique violation', () => knex('knex_author').insert({ name: 'Ada' }))
    await t.step('unique violation in a transaction', () => knex.transaction(async (trx) => {
      await trx('knex_author').insert({ name: 'Linus' })
      await trx('knex_author').insert({ name: 'Linus' })
    }))
    await t.step('after failed transaction', () => knex('knex_author').orderBy('id').pluck('name'))

    await t.step('round trip: strings', async () => {
      const [row] = await knex('knex_vals').insert({
        j: JSON.stringify(FIXED.json), jb: FIXED.jsonb, tstz: FIXED.tstz, ts: FIXED.ts, d: FIXED.date,
        i8: FIXED.int8, num: FIXED.numeric, ints: FIXED.ints, texts: FIXED.texts, uid: FIXED.uuid, bin: FIXED.bytea
      }).returning('*')
      return { returned: row, selected: await knex('knex_vals').where({ id: row.id }).first() }
    })
    await t.step('round trip: JS values', async () => {
      const [row] = await knex('knex_vals').insert({
        j: JSON.stringify([FIXED.json]), jb: JSON.stringify([1, 'two']), tstz: FIXED.jsDate, ts: FIXED.jsDate, d: FIXED.jsDate,
        i8: 42n, num: 1.25, ints: [], texts: ['only'], uid: FIXED.uuid, bin: Buffer.alloc(0)
      }).returning('*')
      return row
    })
    await t.step('round trip: old dates', async () => {
      const [row] = await knex('knex_vals').insert({
        tstz: FIXED.tstzOld, ts: FIXED.tsOld, d: FIXED.dateOld
      }).returning(['tstz', 'ts', 'd'])
      const [js] = await knex('knex_vals').insert({ tstz: FIXED.jsDateOld, ts: FIXED.jsDateOld, d: FIXED.jsDateOld })
        .returning(['tstz', 'ts', 'd', knex.raw('tstz::text AS tstz_text'), knex.raw('ts::text AS ts_text'), knex.raw('d::text AS d_text')])
      return { strings: row, jsDates: js }
    })
    await t.step('typed select (raw)', async () => (await knex.raw(TYPED_SELECT)).rows)
    await t.step('raw result shape', async () => {
      const r = await knex.raw('SELECT ?::int AS a, ?::text AS b', [1, 'x'])
      return { command: r.command, rowCount: r.rowCount, rows: r.rows, fields: r.fields.map((f) => [f.name, f.dataTypeID]) }
    })
    await t.step('syntax error', () => knex.raw('SELEC 1'))

    await t.step('stream 2000 rows', async () => {
      const rows = []
      const stream = knex.raw(SERIES_SQL).stream({ highWaterMark: 100 })
      for await (const row of stream) rows.push(row)
      return digest(rows)
    })
    await t.step('stream via query builder', async () => {
      const rows = []
      await knex('knex_author').select('id', 'name').orderBy('id').stream((s) => { s.on('data', (r) => rows.push(r)) })
      return rows
    })
    await t.step('large select', async () => digest((await knex.raw(SERIES_SQL)).rows))
  } finally {
    await t.step('destroy', () => knex.destroy())
  }
})
