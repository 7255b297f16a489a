'use strict'
// The ecosystem matrix: real tools built on pg (pinned devDependencies), each run through real
// `pg` and through pgwarden/pg, with the database in two time zones and the client process in a
// third. Each tool's script (ecosystem/<tool>.js) prints a JSON transcript of what the tool
// returned, threw or never settled; the transcript through pgwarden/pg must equal pg's.
// A script that exits non-zero (a harness failure), prints no transcript, or hangs fails the
// test with its stderr. A missing tool fails too (the script cannot load it): nothing skips.

const path = require('node:path')
const { spawn } = require('node:child_process')
const { harness } = require('./harness')
const { poolsOnFreshDatabase } = require('./helpers/common')
const { SERVED_PREFIX } = require('./ecosystem/transcript')

const TOOLS = [
  ['knex', 'knex.js'],
  ['drizzle', 'drizzle.js'],
  ['kysely', 'kysely.mjs'],
  ['typeorm', 'typeorm.js'],
  ['sequelize', 'sequelize.js'],
  ['mikro-orm', 'mikro-orm.js'],
  ['pg-boss', 'pg-boss.js']
]
const ZONES = ['UTC', 'Asia/Kolkata']
// The client process's zone: neither database zone, with a half-hour offset and a pre-1900 LMT.
const CLIENT_TZ = 'America/St_Johns'
const CHILD_TIMEOUT_MS = 30000

// One database per zone; every tool's script keeps to its own tables (or schema) in it.
const databases = Object.fromEntries(ZONES.map((zone) => [zone, poolsOnFreshDatabase('ecosystem')]))

beforeAll(async () => {
  for (const zone of ZONES) {
    const url = await databases[zone].create()
    const name = decodeURIComponent(new URL(url).pathname.slice(1))
    await harness().admin(`ALTER DATABASE "${name}" SET timezone TO '${zone}'`)
  }
}, 30000)

/** Runs `node <script> <url> <driver>`; { code, signal, hung, stdout, stderr, ms }. */
function runScript (script, url, driver) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [path.join(__dirname, 'ecosystem', script), url, driver], {
      env: { ...process.env, TZ: CLIENT_TZ, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    let hung = false
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => { hung = true; child.kill('SIGKILL') }, CHILD_TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, hung, stdout, stderr, ms: Date.now() - t0 })
    })
  })
}

/** How many statements pgwarden's pools ran in a run, as its script reported on stderr. */
function servedByPgwarden (r) {
  const line = r.stderr.split('\n').find((l) => l.startsWith(SERVED_PREFIX))
  return line === undefined ? null : Number(line.slice(SERVED_PREFIX.length))
}

/** The last lines of `text`, for a failure message. */
const tail = (text, lines = 40) => text.split('\n').slice(-lines).join('\n')

/**
 * The transcript a run printed (its last stdout line), and any other stdout lines (a tool or
 * driver printing to stdout is part of what the user sees). Throws with the run's stderr when
 * there is none: a hang, a non-zero exit, or output that is not a transcript.
 */
function transcriptOf (tool, zone, driver, r) {
  const where = `${tool} through ${driver} (database in ${zone}, client TZ ${CLIENT_TZ})`
  const why = r.hung
    ? `hung: killed after ${CHILD_TIMEOUT_MS} ms`
    : r.code !== 0 ? `exited with code ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}` : null
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '')
  let transcript
  if (!why) {
    try {
      transcript = JSON.parse(lines[lines.length - 1])
    } catch {}
  }
  if (why || !transcript || typeof transcript !== 'object') {
    throw new Error(`${where}: ${why || 'printed no transcript'}\n--- stdout (tail) ---\n${tail(r.stdout)}\n--- stderr (tail) ---\n${tail(r.stderr)}`)
  }
  return { transcript, otherStdout: lines.slice(0, -1) }
}

for (const [tool, script] of TOOLS) {
  for (const zone of ZONES) {
    test(`${tool}, database in ${zone}: same transcript through pgwarden/pg as through pg`, async () => {
      const url = databases[zone].url
      const pgRun = await runScript(script, url, 'pg')
      const expected = transcriptOf(tool, zone, 'pg', pgRun)
      const pgwRun = await runScript(script, url, 'pgwarden')
      const actual = transcriptOf(tool, zone, 'pgwarden', pgwRun)
      // Each run went through the driver it names: pg's never touched pgwarden, pgwarden's did.
      expect([servedByPgwarden(pgRun), servedByPgwarden(pgwRun) > 0]).toEqual([0, true])
      try {
        expect(actual).toEqual(expected)
      } catch (e) {
        e.message += `\n\n${tool} through pgwarden/pg (database in ${zone}, client TZ ${CLIENT_TZ}), stderr (tail):\n${tail(pgwRun.stderr, 25)}`
        throw e
      }
    }, 2 * CHILD_TIMEOUT_MS + 15000)
  }
}
