'use strict'
// Run from a project that installed pgwarden and express: pgwarden/express's routes answer
// over HTTP, after a real query.
const express = require('express')
const { Pool } = require('pgwarden')
const { databaseRouter, errorHandler } = require('pgwarden/express')

async function main () {
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, logger: false })
  const app = express()
  app.use(databaseRouter(pool))
  app.use(errorHandler())
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  try {
    await pool.query('SELECT 1')
    const stats = await (await fetch(`${base}/metrics/database`)).json()
    const ready = await fetch(`${base}/health/ready`)
    console.log(JSON.stringify({ executed: stats.queries.queriesExecuted, ready: ready.status, health: (await ready.json()).status }))
  } finally {
    server.close()
    await pool.end()
  }
}
main().catch((e) => { console.error(e); process.exit(1) })
