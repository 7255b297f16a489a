'use strict'
// A throwaway PostgreSQL cluster, driven by the stock binaries (initdb, pg_ctl, psql): the
// test harness's and the benchmarks' server, and `pgwarden load-test`'s when no URL is given.
// No npm dependencies on purpose: it must work before (and regardless of) the addon being built.
//
// Admin output format: psql -A -t -F '|' ; admin() resolves to an array of rows,
// each row an array of strings (NULL -> ''). Values containing '|' or newlines
// are not escaped: keep admin queries simple, use the pool for real data.

const fs = require('fs')
const os = require('os')
const path = require('path')
const net = require('net')
const { spawn, execFileSync } = require('child_process')

const ADMIN_APP = 'pgwarden_harness' // never matched by terminateBackends
const DEFAULT_SETTINGS = {
  listen_addresses: '127.0.0.1',
  fsync: 'off', // durability is pointless for a throwaway cluster
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: 100,
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

// Run a command, collect its output; reject with the command line and stderr.
// asPostgres: PostgreSQL refuses to run as root, so go through runuser then.
function exec (cmd, args, { input, env, cwd, timeoutMs = 60000, asPostgres = false } = {}) {
  if (asPostgres && isRoot()) {
    args = ['-u', 'postgres', '--', cmd, ...args]
    cmd = 'runuser'
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d })
    child.stdin.on('error', () => {}) // EPIPE if the child exits before reading
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${cmd}: ${e.message}`)) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) return resolve({ stdout, stderr })
      const how = signal ? `killed by ${signal}` : `exit ${code}`
      const err = new Error(`${[cmd, ...args].join(' ')} failed (${how}): ${stderr.trim() || stdout.trim()}`)
      reject(Object.assign(err, { exitCode: code, stdout, stderr }))
    })
    child.stdin.end(input == null ? '' : input)
  })
}

// pg_config may come from libpq-dev without a server: require initdb next to it.
function findBinDir () {
  const candidates = []
  if (process.env.PGWARDEN_PG_BINDIR) candidates.push(process.env.PGWARDEN_PG_BINDIR)
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
  } catch {}
  try {
    const versions = fs.readdirSync('/usr/lib/postgresql').filter((v) => /^\d+(\.\d+)?$/.test(v))
    versions.sort((a, b) => parseFloat(b) - parseFloat(a))
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`)
  } catch {}
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')))
  if (!found) {
    throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found (tried: ${candidates.join(', ') || 'nothing'}). ` +
      'Install them (apt-get install postgresql) or set PGWARDEN_PG_BINDIR.')
  }
  return found
}

function findPsql () {
  try {
    const p = path.join(findBinDir(), 'psql')
    if (fs.existsSync(p)) return p
  } catch {}
  return 'psql' // from PATH
}

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function postgresIds () {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    throw new Error("running as root needs a 'postgres' system user (PostgreSQL refuses to run as root)")
  }
}

const literal = (s) => `'${String(s).replace(/'/g, "''")}'`
const ident = (s) => `"${String(s).replace(/"/g, '""')}"`
const confValue = (v) => (typeof v === 'number' ? String(v) : literal(v))
// Accept a database name or a URL naming it.
const dbName = (db) => (String(db).includes('://') ? decodeURIComponent(new URL(db).pathname.slice(1)) : String(db))

function tail (file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch (e) {
    return `(no server log: ${e.message})`
  }
}

class Cluster {
  constructor ({ url, owned = false, baseDir = null, binDir = null, notOwnedReason } = {}) {
    const u = new URL(url)
    this.url = url
    this.host = u.hostname
    this.port = Number(u.port || 5432)
    this.owned = owned
    this.baseDir = baseDir
    this.dataDir = baseDir ? path.join(baseDir, 'data') : null
    this.socketDir = baseDir ? path.join(baseDir, 'sock') : null
    this.logFile = baseDir ? path.join(baseDir, 'server.log') : null
    this.binDir = binDir
    this.psqlPath = binDir && fs.existsSync(path.join(binDir, 'psql')) ? path.join(binDir, 'psql') : findPsql()
    this.destroyed = false
    this._notOwnedReason = notOwnedReason ||
      "this test needs the harness's own cluster (unset PGWARDEN_TEST_URL)"
    this._exitHook = null
    this._versionNum = null
  }

  // Wrap an existing server (e.g. PGWARDEN_TEST_URL). Admin only; no restarts.
  static fromUrl (url, { reason } = {}) {
    return new Cluster({ url, owned: false, notOwnedReason: reason })
  }

  // Create and start a private cluster. settings: extra postgresql.conf entries; binDir: where
  // initdb and pg_ctl are (default: the installed server binaries, as findBinDir() finds them).
  static async start ({ settings = {}, binDir = findBinDir() } = {}) {
    return Cluster._create(binDir, (dataDir, baseDir) => exec(path.join(binDir, 'initdb'),
      ['-D', dataDir, '--auth=trust', '--no-locale', '-E', 'UTF8', '-U', 'postgres', '--no-sync'],
      { cwd: baseDir, asPostgres: true }), settings)
  }

  // A streaming replica of this (owned, running) cluster: pg_basebackup -R copies its data and
  // writes primary_conninfo, and the copy starts as a hot standby on its own port. An owned
  // Cluster: stop/start/destroy it like any other. initdb's pg_hba trusts local replication.
  async replica ({ settings = {} } = {}) {
    this._requireOwned('replica()')
    return Cluster._create(this.binDir, (dataDir, baseDir) => exec(path.join(this.binDir, 'pg_basebackup'),
      ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync', '-h', this.host, '-p', String(this.port), '-U', 'postgres'],
      { cwd: baseDir, asPostgres: true, env: { PGAPPNAME: ADMIN_APP } }), settings)
  }

  // Promote this standby to primary; resolves once it accepts writes (pg_ctl promote -w).
  async promote () {
    this._requireOwned('promote()')
    await this._pgCtl(['-w', '-t', '60', 'promote'])
  }

  // Make this stopped cluster a standby of `primary` (standby.signal and primary_conninfo), as
  // an old primary brought back after a failover: it starts in recovery, so read-only. It may
  // not manage to stream from its new primary (their histories diverged); it stays a standby.
  followAs (primary) {
    this._requireOwned('followAs()')
    const signal = path.join(this.dataDir, 'standby.signal')
    const conf = path.join(this.dataDir, 'postgresql.conf')
    fs.writeFileSync(signal, '')
    fs.appendFileSync(conf, `primary_conninfo = 'host=${primary.host} port=${primary.port} user=postgres'\n`)
    if (isRoot()) {
      const { uid, gid } = postgresIds()
      fs.chownSync(signal, uid, gid)
    }
  }

  // A new base directory, its data directory made by `makeData(dataDir, baseDir)`, then started
  // on a free port with the harness settings (appended, so they win over copied ones).
  static async _create (binDir, makeData, settings) {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-pg-'))
    fs.mkdirSync(path.join(baseDir, 'sock'))
    if (isRoot()) {
      const { uid, gid } = postgresIds()
      fs.chownSync(baseDir, uid, gid)
      fs.chownSync(path.join(baseDir, 'sock'), uid, gid)
    }
    let cluster = null
    try {
      const dataDir = path.join(baseDir, 'data')
      await makeData(dataDir, baseDir)
      const confFile = path.join(dataDir, 'postgresql.conf')
      const baseConf = fs.readFileSync(confFile, 'utf8')
      // A free port can be taken between probing and binding: retry on a new one.
      for (let attempt = 1; ; attempt++) {
        const port = await freePort()
        // Settings go in postgresql.conf (not pg_ctl -o) so restarts keep them, no shell quoting.
        const all = { ...DEFAULT_SETTINGS, ...settings, port, unix_socket_directories: path.join(baseDir, 'sock') }
        const block = Object.entries(all).map(([k, v]) => `${k} = ${confValue(v)}`).join('\n')
        fs.writeFileSync(confFile, `${baseConf}\n# pgwarden test harness\n${block}\n`)
        cluster = new Cluster({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, owned: true, baseDir, binDir })
        try {
          await cluster.start()
          break
        } catch (e) {
          const busy = /could not bind|already in use/i.test(e.message)
          if (!busy || attempt >= 3) throw e
        }
      }
      return cluster
    } catch (e) {
      if (cluster) await cluster.destroy().catch(() => {})
      else fs.rmSync(baseDir, { recursive: true, force: true })
      throw e
    }
  }

  urlFor (db) {
    const u = new URL(this.url)
    u.pathname = '/' + encodeURIComponent(db)
    return u.toString()
  }

  _psqlArgs (url) {
    return ['-X', '-q', '-A', '-t', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-d', url]
  }

  _psql (args, input) {
    return exec(this.psqlPath, args, { input, env: { PGAPPNAME: ADMIN_APP, PGCONNECT_TIMEOUT: '10' } })
  }

  static _rows (stdout) {
    const text = stdout.replace(/\n$/, '')
    return text === '' ? [] : text.split('\n').map((line) => line.split('|'))
  }

  // One SQL string through psql -c (several statements run as one implicit transaction).
  async admin (sql, { database } = {}) {
    const url = database ? this.urlFor(dbName(database)) : this.url
    const { stdout } = await this._psql([...this._psqlArgs(url), '-c', sql])
    return Cluster._rows(stdout)
  }

  // A multi-statement script through stdin; each statement runs on its own.
  async adminScript (sql, { database } = {}) {
    const url = database ? this.urlFor(dbName(database)) : this.url
    const { stdout } = await this._psql([...this._psqlArgs(url), '-f', '-'], sql)
    return Cluster._rows(stdout)
  }

  async serverVersionNum () {
    if (this._versionNum == null) this._versionNum = Number((await this.admin('SHOW server_version_num'))[0][0])
    return this._versionNum
  }

  async createDatabase (name) {
    await this.admin(`CREATE DATABASE ${ident(name)}`)
    return this.urlFor(name)
  }

  async dropDatabase (name) {
    const force = (await this.serverVersionNum()) >= 130000 ? ' WITH (FORCE)' : ''
    await this.admin(`DROP DATABASE IF EXISTS ${ident(dbName(name))}${force}`)
  }

  // Kill client backends (never the harness's own admin sessions); resolves to how many.
  async terminateBackends ({ applicationName, database } = {}) {
    const where = ['pid <> pg_backend_pid()', "backend_type = 'client backend'", `application_name <> ${literal(ADMIN_APP)}`]
    if (applicationName != null) where.push(`application_name = ${literal(applicationName)}`)
    if (database != null) where.push(`datname = ${literal(dbName(database))}`)
    // PG 14+: wait (up to 5 s) until each backend is really gone, so callers see a dead connection.
    const wait = (await this.serverVersionNum()) >= 140000 ? ', 5000' : ''
    const rows = await this.admin(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid${wait})) FROM pg_stat_activity WHERE ${where.join(' AND ')}`)
    return Number(rows[0][0])
  }

  _requireOwned (what) {
    if (!this.owned) throw new Error(`${what}: ${this._notOwnedReason}`)
    if (this.destroyed) throw new Error(`${what}: cluster was destroyed`)
  }

  _pgCtl (args) {
    return exec(path.join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, ...args], { cwd: this.baseDir, asPostgres: true, timeoutMs: 90000 })
  }

  // Start (again) on the same port and data directory.
  async start () {
    this._requireOwned('start()')
    try {
      await this._pgCtl(['-w', '-t', '60', '-l', this.logFile, 'start'])
    } catch (e) {
      throw new Error(`PostgreSQL failed to start on port ${this.port}: ${e.message}\n--- server log (${this.logFile}) ---\n${tail(this.logFile)}`)
    }
    this._armExitHook()
  }

  async stop ({ mode = 'fast' } = {}) {
    this._requireOwned('stop()')
    await this._pgCtl(['-w', '-t', '60', '-m', mode, 'stop'])
  }

  async restart ({ mode = 'fast' } = {}) {
    this._requireOwned('restart()')
    await this.stop({ mode })
    await this.start()
  }

  // Stop the server (immediate) and delete everything. Safe to call twice; no-op if not owned.
  async destroy () {
    if (!this.owned || this.destroyed) return
    this.destroyed = true
    this._disarmExitHook()
    await exec(path.join(this.binDir, 'pg_ctl'), ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'],
      { cwd: this.baseDir, asPostgres: true }).catch(() => {}) // not running is fine
    fs.rmSync(this.baseDir, { recursive: true, force: true })
  }

  // Safety net: a crashed test run should not leave a postmaster behind.
  _armExitHook () {
    if (this._exitHook) return
    this._exitHook = () => {
      try {
        const args = ['-D', this.dataDir, '-m', 'immediate', 'stop']
        const pgCtl = path.join(this.binDir, 'pg_ctl')
        if (isRoot()) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore', cwd: this.baseDir })
        else execFileSync(pgCtl, args, { stdio: 'ignore' })
      } catch {}
      try { fs.rmSync(this.baseDir, { recursive: true, force: true }) } catch {}
    }
    process.on('exit', this._exitHook)
  }

  _disarmExitHook () {
    if (this._exitHook) process.removeListener('exit', this._exitHook)
    this._exitHook = null
  }

  toJSON () {
    return { url: this.url, host: this.host, port: this.port, owned: this.owned, dataDir: this.dataDir }
  }
}

module.exports = { Cluster, findBinDir, exec, freePort, ADMIN_APP }
