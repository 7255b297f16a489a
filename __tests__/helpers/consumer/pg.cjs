'use strict'
// Run from a project that installed pgwarden from its tarball: pgwarden/pg's Pool, as pg's.
const { Pool } = require('pgwarden/pg')

async function main () {
  const pool = new Pool({ connectionString: process.env.DATABASE_URL })
  try {
    const r = await pool.query('SELECT $1::int * 2 AS n', [21])
    console.log(JSON.stringify({ rows: r.rows }))
  } finally {
    await pool.end()
  }
}
main().catch((e) => { console.error(e); process.exit(1) })
