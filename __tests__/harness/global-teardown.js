'use strict'
// jest globalTeardown: destroy the shared cluster, or on an external server
// (PGWARDEN_TEST_URL) drop the databases this run created with freshDatabase().
const fs = require('fs')
const { Cluster } = require('../../lib/cluster')

module.exports = async function globalTeardown () {
  const file = process.env.PGWARDEN_HARNESS_FILE
  const cluster = globalThis.__PGWARDEN_CLUSTER__
  try {
    if (cluster) {
      await cluster.destroy()
    } else if (file && fs.existsSync(file)) {
      const { url, runId } = JSON.parse(fs.readFileSync(file, 'utf8'))
      const server = Cluster.fromUrl(url)
      const rows = await server.admin(`SELECT datname FROM pg_database WHERE starts_with(datname, 'pgw_${runId}_')`)
      for (const [name] of rows) await server.dropDatabase(name)
    }
  } finally {
    if (file) fs.rmSync(file, { force: true })
    delete globalThis.__PGWARDEN_CLUSTER__
  }
}
