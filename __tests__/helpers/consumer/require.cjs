'use strict'
// Run from a project that installed pgwarden from its tarball: CommonJS require, a real query,
// and which .node file the loader picked.
const { Pool, withRetry, classifyError } = require('pgwarden')

async function main () {
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, logger: false })
  try {
    const r = await withRetry(() => pool.query('SELECT $1::int + 1 AS n', [41]))
    const binaries = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
    console.log(JSON.stringify({ rows: r.rows, binaries, classify: typeof classifyError }))
  } finally {
    await pool.end()
  }
}
main().catch((e) => { console.error(e); process.exit(1) })
