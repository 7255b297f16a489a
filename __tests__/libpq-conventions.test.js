'use strict'
// libpq's conventions, as pg users and PaaS environments rely on them: the address from
// options (host, port, user, password, database) or from PGHOST/PGPORT/PGUSER/PGPASSWORD/
// PGDATABASE when there is no connection string, PGSSLMODE, PGAPPNAME, PGCONNECT_TIMEOUT,
// PGOPTIONS, and the password file (~/.pgpass or PGPASSFILE) with libpq's permission rule.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Pool } = require('..')
const { freshDatabase } = require('./harness')
const { thrownBy, recordingLogger } = require('./helpers/common')

let url
beforeAll(async () => {
  url = new URL(await freshDatabase('libpq'))
})

const PG_VARS = ['DATABASE_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGPASSFILE', 'PGOPTIONS', 'PGSSLMODE', 'PGAPPNAME', 'PGCONNECT_TIMEOUT']
let saved
beforeEach(() => {
  saved = Object.fromEntries(PG_VARS.map((k) => [k, process.env[k]]))
  for (const k of PG_VARS) delete process.env[k]
})
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v
})

const pools = []
afterEach(() => Promise.all(pools.splice(0).map((p) => p.end())))
const pool = (opts) => {
  const p = new Pool({ logger: false, ...opts })
  pools.push(p)
  return p
}
/** Each setting's source, as `pgwarden doctor` shows it. */
const sourcesOf = (p) => Object.fromEntries(JSON.parse(p._native.settingSources()).map((s) => [s.name, s.source]))
const database = () => decodeURIComponent(url.pathname.slice(1))

test('the address from PGHOST, PGPORT, PGUSER and PGDATABASE when there is no connection string', async () => {
  Object.assign(process.env, { PGHOST: url.hostname, PGPORT: url.port, PGUSER: 'postgres', PGDATABASE: database() })
  const p = pool()
  expect((await p.query('SELECT current_database() AS db, inet_server_port() AS port')).rows)
    .toEqual([{ db: database(), port: Number(url.port) }])
  expect(sourcesOf(p)).toEqual(expect.objectContaining({
    connectionString: 'default', host: 'environment variable PGHOST', port: 'environment variable PGPORT', database: 'environment variable PGDATABASE'
  }))
})

test('host, port, user and database as options (as pg takes them), over the environment', async () => {
  process.env.PGHOST = 'nowhere.invalid'
  const p = pool({ host: url.hostname, port: Number(url.port), user: 'postgres', database: database() })
  expect((await p.query('SELECT current_database() AS db')).rows).toEqual([{ db: database() }])
  expect(sourcesOf(p)).toEqual(expect.objectContaining({ host: 'option host', port: 'option port', database: 'option database' }))
})

test('PGAPPNAME, PGOPTIONS and PGCONNECT_TIMEOUT apply; PGSSLMODE is read', async () => {
  Object.assign(process.env, { PGAPPNAME: 'from_pgappname', PGOPTIONS: '-c statement_timeout=1234', PGCONNECT_TIMEOUT: '7', PGSSLMODE: 'disable' })
  const p = pool({ connectionString: url.toString() })
  const { rows } = await p.query("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st")
  expect(rows).toEqual([{ app: 'from_pgappname', st: '1234ms' }])
  expect(p.toJSON().connectTimeoutMs).toBe(7000)
  expect(sourcesOf(p)).toEqual(expect.objectContaining({ ssl: 'environment variable PGSSLMODE', options: 'environment variable PGOPTIONS' }))
})

describe('the password file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-pgpass-'))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  /** A password file with `lines` and `mode`. */
  function passfile (lines, mode) {
    const f = path.join(dir, `pgpass-${mode.toString(8)}-${Math.random().toString(36).slice(2)}`)
    fs.writeFileSync(f, lines.join('\n') + '\n')
    fs.chmodSync(f, mode)
    return f
  }

  test('gives the password of the first matching line; the password is never shown', () => {
    process.env.PGPASSFILE = passfile(['# ours', `other:*:*:*:nope`, `${url.hostname}:${url.port}:${database()}:postgres:from-the-file`], 0o600)
    const p = pool({ connectionString: url.toString() })
    expect(sourcesOf(p).password).toBe(`password file ${process.env.PGPASSFILE}`)
    const shown = JSON.stringify([JSON.parse(p._native.settingSources()), p.toJSON(), p.getPoolStats()])
    expect(shown).not.toContain('from-the-file')
  })

  test('a file others may read is ignored with a warning, as libpq does', () => {
    process.env.PGPASSFILE = passfile([`*:*:*:*:from-the-file`], 0o644)
    const logger = recordingLogger()
    const p = new Pool({ connectionString: url.toString(), logger })
    pools.push(p)
    expect(sourcesOf(p).password).toBe('default')
    expect(logger.calls.warn.join('\n')).toMatch(/has group or world access; permissions should be u=rw \(0600\) or less/)
  })
})

test('with no connection string, no address option and no PG variable, the pool cannot be made', () => {
  const err = thrownBy(() => new Pool({ logger: false }))
  expect(err.code).toBe('ERR_PGWARDEN_CONFIG')
  expect(err.message).toMatch(/No connection string/)
})
