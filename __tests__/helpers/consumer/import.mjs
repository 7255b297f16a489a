// Run from a project that installed pgwarden from its tarball: ESM named imports and a real query.
import { Pool, withRetry, classifyError, PgWardenError } from 'pgwarden'
import defaultExport from 'pgwarden'

const pool = new Pool({ connectionString: process.env.DATABASE_URL, logger: false })
try {
  const r = await withRetry(() => pool.query('SELECT $1::text AS s', ['esm']))
  const bad = await pool.query('SELEC 1').catch((e) => e)
  console.log(JSON.stringify({
    rows: r.rows,
    syntax: classifyError(bad).kind,
    isPgWardenError: bad instanceof PgWardenError,
    defaultHasPool: defaultExport.Pool === Pool
  }))
} finally {
  await pool.end()
}
