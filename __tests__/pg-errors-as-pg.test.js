'use strict'
// pgwarden/pg's server errors read as pg's: the same `name` ('error', pg's DatabaseError) and so
// the same `String(err)`, which tools such as TypeORM build their messages from; pgwarden's
// fields stay on them.

const pg = require('pg')
const compat = require('../lib/pg')
const { PgWardenError } = require('..')
const { failure, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgerrors', { setupSql: 'CREATE TABLE uniq (id int PRIMARY KEY); INSERT INTO uniq VALUES (1);' })
beforeAll(db.create)

/** The error a unique violation gives through `driver`. */
async function uniqueViolation (driver) {
  const pool = new driver.Pool({ connectionString: db.url, logger: false })
  try {
    return await failure(pool.query('INSERT INTO uniq VALUES (1)'))
  } finally {
    await pool.end()
  }
}

test("a server error's name and String() are pg's; pgwarden's fields stay", async () => {
  const [theirs, ours] = [await uniqueViolation(pg), await uniqueViolation(compat)]
  expect(ours.name).toBe(theirs.name)
  expect(String(ours)).toBe(String(theirs))
  expect(String(ours)).toBe('error: duplicate key value violates unique constraint "uniq_pkey"')
  expect([ours.code, ours.constraint, ours.detail]).toEqual([theirs.code, theirs.constraint, theirs.detail])
  expect(ours).toBeInstanceOf(PgWardenError)
  expect([ours.kind, ours.retryable, ours.maybeCommitted]).toEqual(['constraint', false, false])
})

test("a server error's class is pg's DatabaseError, by name and by instanceof", async () => {
  const [theirs, ours] = [await uniqueViolation(pg), await uniqueViolation(compat)]
  expect(ours.constructor.name).toBe(theirs.constructor.name)
  expect(ours).toBeInstanceOf(compat.DatabaseError)
})
