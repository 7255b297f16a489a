'use strict'
// A password function (pg's convention, for rotating credentials such as IAM tokens) is asked
// for the password of each new connection, against a server that checks passwords (SCRAM).

const fs = require('node:fs')
const path = require('node:path')
const { Pool } = require('..')
const compat = require('../lib/pg')
const { ownedCluster } = require('./harness')
const { failure } = require('./helpers/common')

let cluster
beforeAll(async () => {
  cluster = await ownedCluster({ settings: { password_encryption: 'scram-sha-256' } })
  // TCP connections of `app` must give their password; the harness's own stay trusted.
  fs.writeFileSync(path.join(cluster.dataDir, 'pg_hba.conf'),
    'local all all trust\nhost all app 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n')
  await cluster.restart()
  await cluster.admin("CREATE ROLE app LOGIN PASSWORD 'first'")
})
afterAll(() => cluster && cluster.destroy())

const address = () => ({ host: '127.0.0.1', port: cluster.port, user: 'app', database: 'postgres' })

test.each([['pgwarden', Pool], ['pgwarden/pg', compat.Pool]])('%s: each new connection asks the function; a rotated password is used from then on', async (_, P) => {
  let current = 'first'
  let calls = 0
  const pool = new P({ ...address(), password: async () => { calls++; return current }, logger: false })
  try {
    expect((await pool.query('SELECT current_user AS u')).rows).toEqual([{ u: 'app' }])
    await cluster.admin("ALTER ROLE app PASSWORD 'second'")
    current = 'second'
    // A new connection, while the first is held: it must use the rotated password.
    const held = P === Pool ? await pool.acquire() : await pool.connect()
    try {
      expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }])
    } finally {
      held.release()
    }
    expect(calls).toBe(2)
  } finally {
    await pool.end()
    await cluster.admin("ALTER ROLE app PASSWORD 'first'")
  }
})

test('a wrong password from the function: the server refuses it (28P01), without the password in the error', async () => {
  const pool = new Pool({ ...address(), password: () => 'wrong-secret', logger: false, poolTimeoutMs: 1000 })
  try {
    const err = await failure(pool.query('SELECT 1'))
    expect(err.code).toBe('28P01')
    expect(err.message).not.toContain('wrong-secret')
  } finally {
    await pool.end()
  }
})
