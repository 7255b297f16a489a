'use strict'
// Kysely's PostgresDialect over a pgwarden/pg Pool: real queries, a transaction (committed and
// rolled back) and migration-style DDL, on a real server. Kysely is ESM only, so each step
// runs in helpers/kysely-run.mjs (a child process) and the test checks what it printed.

const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgkysely')
beforeAll(db.create)

/** Runs one Kysely step of helpers/kysely-run.mjs on the test database; its printed outcome. */
function kyselyStep (step) {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'helpers', 'kysely-run.mjs'), db.url, step],
    { encoding: 'utf8', env: { ...process.env, TZ: 'America/New_York' } })
  return JSON.parse(out)
}

// The steps build on each other (the table, then its rows): jest runs them in order.
test('migration-style DDL: createTable, alterTable, createIndex', () => {
  expect(kyselyStep('ddl')).toEqual({ columns: ['id', 'name', 'born', 'balance'] })
})

test("insert, select, update, delete with pg's values", () => {
  const r = kyselyStep('crud')
  expect(r.inserted).toHaveLength(2)
  expect(r.inserted[0].balance).toBe('0.00')
  expect(r.bornLocalMidnight).toBe(true) // pg's date: local midnight
  expect(r).toMatchObject({ updated: '1', ada: { name: 'Ada', balance: '12.50' }, count: '2', deleted: '1' })
})

test('a transaction commits, and one that throws rolls back', () => {
  expect(kyselyStep('transaction')).toEqual({ rolledBack: 'roll back', names: ['Ada', 'Grace'] })
})

test('statements go through pgwarden (counted in its stats)', () => {
  expect(kyselyStep('stats')).toEqual({ counted: 1 })
})
