'use strict'
// jest globalSetup: one shared server for the whole run. Env vars set here are
// inherited by test workers; the Cluster object stays in this process for teardown.
const fs = require('fs')
const { Cluster } = require('../../lib/cluster')
const { infoFile } = require('./index')

module.exports = async function globalSetup () {
  const runId = Date.now().toString(36)
  let info
  if (process.env.PGWARDEN_TEST_URL) {
    info = { url: process.env.PGWARDEN_TEST_URL, owned: false, runId }
    await Cluster.fromUrl(info.url).admin('SELECT 1') // fail now, loudly, if unreachable
  } else {
    const cluster = await Cluster.start()
    globalThis.__PGWARDEN_CLUSTER__ = cluster
    info = { ...cluster.toJSON(), runId }
  }
  const file = infoFile(process.pid)
  fs.writeFileSync(file, JSON.stringify(info))
  process.env.PGWARDEN_HARNESS_FILE = file
}
