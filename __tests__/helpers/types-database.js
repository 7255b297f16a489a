'use strict'
// What types-params.test.js and types-results.test.js share: a fresh database with the enums,
// domains, composites, range and tables their statements name, one pool on it, and the small
// readers the tests use. Registers no hooks: each file wires setUp/tearDown itself.

const { poolsOnFreshDatabase } = require('./common')

const SCHEMA = `
  CREATE TYPE mood AS ENUM ('happy', 'sad', 'so-so');
  CREATE TYPE weird AS ENUM ('a b', 'q"uote', 'c,omma', 'ünï', 'NULL');
  CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);
  CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
  CREATE DOMAIN money_amount AS numeric(12, 2);
  CREATE DOMAIN stamp AS timestamptz;
  CREATE DOMAIN blob AS bytea;
  CREATE DOMAIN real_num AS float8;
  CREATE DOMAIN big AS int8;
  CREATE DOMAIN int_list AS int4[];
  CREATE TYPE comp AS (i int4, t text, n numeric, b bool);
  CREATE TYPE comp_outer AS (c comp, label text, arr int4[], ts timestamptz, raw bytea);
  CREATE TYPE textrange AS RANGE (subtype = text);
  CREATE TABLE inj (id serial PRIMARY KEY, v text);
  CREATE TABLE cmd (id int4 PRIMARY KEY, v text);
`

/**
 * The types database of one test file:
 *   const types = typesDatabase('types_params')
 *   beforeAll(async () => { ({ url, pool } = await types.setUp()) })
 *   afterAll(types.tearDown)
 *   const { one } = types
 * setUp() makes the database and the pool (connectionLimit 4), creates SCHEMA through that pool
 * and resolves to { url, pool }; tearDown() ends the pool.
 */
function typesDatabase (prefix) {
  const db = poolsOnFreshDatabase(prefix)
  let pool
  return {
    async setUp () {
      const url = await db.create()
      pool = db.makePool({ connectionLimit: 4 })
      await pool.executeScript(SCHEMA)
      return { url, pool }
    },
    tearDown: db.endPools,
    /** The first row of `sql`. */
    async one (sql, values) {
      const r = await pool.query(sql, values)
      return r.rows[0]
    },
    /**
     * `{ v, text }`: the value as the pool decodes it and the server's text output of the same value
     * (`format('%s', v)` calls the type's output function, as `v::text` does for almost every type; for
     * inet `::text` is a function that always appends the mask, while the output function does not).
     */
    async withText (expr, values) {
      const r = await pool.query(`SELECT v, format('%s', v) AS text FROM (SELECT ${expr} AS v) s`, values)
      return r.rows[0]
    }
  }
}

/** A Date whose UTC year may be below 100 (Date.UTC maps 0..99 to 1900..1999). */
function utc (year, month, day, h = 0, mi = 0, s = 0, ms = 0) {
  const d = new Date(Date.UTC(2000, month, day, h, mi, s, ms))
  d.setUTCFullYear(year)
  return d
}

module.exports = { typesDatabase, utc }
