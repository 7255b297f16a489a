'use strict'
// pgwarden/pg's configuration as pg's, side by side with pg itself: a server that refuses
// connections rejects the caller at once under pg's default connectionTimeoutMillis (0); the
// password and an ssl key never show in util.inspect or JSON.stringify; and every pgwarden
// option of the settings table reaches the pool.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const util = require('node:util')
const { execFileSync } = require('node:child_process')
const pg = require('pg')
const compat = require('../lib/pg')
const native = require('../lib/native')
const { failure, freePort, poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('pgconfig')
beforeAll(db.create)

const SECRET = 'pw-S3cret-never-shown'
const DRIVERS = [['pg', pg], ['pgwarden/pg', compat]]

/** A client certificate and its key (PEM), made with openssl. */
function clientCertificate () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-pgconfig-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'),
      '-out', path.join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=pgwarden-test'], { stdio: 'ignore' })
    return { key: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8') }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe.each(DRIVERS)('%s', (name, driver) => {
  test('a server refusing connections rejects the caller at once under connectionTimeoutMillis 0', async () => {
    const port = await freePort() // nothing listens there
    const pool = new driver.Pool({ host: '127.0.0.1', port, user: 'nobody', database: 'none', logger: false })
    try {
      const started = Date.now()
      const e = await failure(pool.query('SELECT 1'))
      expect(Date.now() - started).toBeLessThan(1000)
      expect(String(e.message)).toMatch(/ECONNREFUSED|refused/i)
    } finally {
      await pool.end()
    }
  })

  test('the password and the ssl key never show in util.inspect or JSON.stringify', async () => {
    const { key, cert } = clientCertificate()
    const config = { host: '127.0.0.1', port: 1, user: 'u', password: SECRET, database: 'd', ssl: { rejectUnauthorized: false, key, cert } }
    const pool = new driver.Pool(config)
    const client = new driver.Client(config)
    try {
      for (const shown of [pool, client]) {
        const text = util.inspect(shown, { depth: 10 }) + JSON.stringify(shown)
        expect(text).not.toContain(SECRET)
        expect(text).not.toContain('PRIVATE KEY')
      }
      expect(pool.options.password).toBe(SECRET) // kept, only hidden
      expect(config.ssl.key).toBe(key) // the caller's object untouched
    } finally {
      await pool.end()
    }
  })
})

describe('pgwarden options through pgwarden/pg', () => {
  test("every option of the settings table that pg has no spelling for reaches pgwarden's pool", async () => {
    const pool = new compat.Pool({
      connectionString: db.url,
      pipelineDepth: 3,
      targetSessionAttrs: 'any',
      loadBalanceHosts: 'disable',
      retryConnect: true,
      logger: false
    })
    try {
      await pool.query('SELECT 1')
      const settings = pool._inner._settings
      expect(settings.pipelineDepth).toBe(3)
      expect(settings.retryConnect).toBe(true)
      expect(native.configOptionNames()).toEqual(expect.arrayContaining(['pipelineDepth', 'targetSessionAttrs', 'loadBalanceHosts', 'telemetry', 'passfile']))
    } finally {
      await pool.end()
    }
  })
})
