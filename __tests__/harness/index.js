'use strict'
// What test files use. One shared server per jest run (started by global-setup.js,
// or PGWARDEN_TEST_URL); each test file makes its own database with freshDatabase()
// so files running in parallel do not collide. Tests that restart or stop the server
// use ownedCluster() (a private cluster; destroy it in afterAll).

const fs = require('fs')
const os = require('os')
const path = require('path')
const crypto = require('crypto')
const { Cluster } = require('../../lib/cluster')

const SHARED_REASON = 'the shared test server is used by other test files in parallel; ' +
  'this test needs its own cluster: call ownedCluster()'

const infoFile = (pid) => path.join(os.tmpdir(), `pgwarden-harness-${pid}.json`)

// Connection info written by global-setup.js: env var first; ppid/pid cover workers and --runInBand.
function readInfo () {
  const files = [process.env.PGWARDEN_HARNESS_FILE, infoFile(process.ppid), infoFile(process.pid)].filter(Boolean)
  for (const f of files) {
    try { return JSON.parse(fs.readFileSync(f, 'utf8')) } catch {}
  }
  if (process.env.PGWARDEN_TEST_URL) return { url: process.env.PGWARDEN_TEST_URL, owned: false, runId: 'x' + process.pid }
  throw new Error('no shared PostgreSQL for tests: run through jest with globalSetup ' +
    '__tests__/harness/global-setup.js, or set PGWARDEN_TEST_URL')
}

let shared = null
// Cluster-like handle on the shared server: admin, adminScript, url, urlFor, createDatabase,
// dropDatabase, terminateBackends. restart/stop/start reject (use ownedCluster()).
function harness () {
  if (shared) return shared
  const info = readInfo()
  shared = Cluster.fromUrl(info.url, info.owned ? { reason: SHARED_REASON } : {})
  shared.runId = info.runId
  return shared
}

// jest reloads this module for every test file, possibly in the same worker: the random
// tag keeps names unique across files, the counter within one.
const tag = crypto.randomBytes(3).toString('hex')
let counter = 0
// Create a uniquely named database (run id, prefix, worker pid, tag, counter); resolves to its URL.
// global-teardown drops them all when the server is not the harness's own.
async function freshDatabase (prefix = 't') {
  const h = harness()
  const clean = String(prefix).toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 24)
  const name = `pgw_${h.runId}_${clean}_${process.pid}${tag}_${++counter}`
  return h.createDatabase(name)
}

// A private cluster for this test file (restarts, stops, settings). Call destroy() in afterAll.
async function ownedCluster (opts) {
  try {
    return await Cluster.start(opts)
  } catch (e) {
    if (process.env.PGWARDEN_TEST_URL) e.message = `this test needs the harness's own cluster (PGWARDEN_TEST_URL is not enough): ${e.message}`
    throw e
  }
}

module.exports = { harness, freshDatabase, ownedCluster, Cluster, infoFile }
