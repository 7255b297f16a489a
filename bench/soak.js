#!/usr/bin/env node
'use strict'
// The soak of pgwarden's defaults under faults (not part of npm test; its one-minute version,
// __tests__/soak-defaults.test.js, is). Private servers: a primary with a synchronous standby and
// a read replica, each behind a TCP proxy; a pool with every default but where the servers are;
// `concurrency` callers writing through withRetry, reading, transferring and issuing statements
// on held connections, while a fault every 3-5 s terminates the pool's backends, restarts the
// primary (fast or immediate), blackholes or resets the network, times out or aborts statements
// in flight, or fails over to the standby. Prints progress every `interval` s, then the report
// and the integrity check of the ledger (bench/soak/).
//
//   node bench/soak.js [--duration 600] [--concurrency 200] [--connection-limit N]
//                      [--pool-timeout ms] [--interval 30] [--json]
// --connection-limit and --pool-timeout override the pool's defaults (cpus×2+1 and 10000 ms).
// Exit code 0 when the integrity check passes, 1 otherwise.

const { runSoak, describeReport } = require('./soak/run-soak')

const NUMERIC = { duration: 600, concurrency: 200, connectionLimit: undefined, poolTimeout: undefined, interval: 30 }

/** `--name value` or `--name=value` for NUMERIC's options (positive numbers), and `--json`. */
function parseArgs (argv) {
  const o = { ...NUMERIC, json: false }
  for (let i = 0; i < argv.length; i++) {
    const m = argv[i].match(/^--([a-z-]+)(?:=(.*))?$/)
    if (!m) throw new Error(`unknown argument ${argv[i]}`)
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (key === 'json') { o.json = true; continue }
    if (!(key in NUMERIC)) throw new Error(`unknown option --${m[1]}`)
    const v = Number(m[2] !== undefined ? m[2] : argv[++i])
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${m[1]} needs a positive number`)
    o[key] = v
  }
  return o
}

async function main () {
  const o = parseArgs(process.argv.slice(2))
  const report = await runSoak({
    durationS: o.duration,
    concurrency: o.concurrency,
    connectionLimit: o.connectionLimit,
    poolTimeoutMs: o.poolTimeout,
    progressEveryS: o.interval
  })
  console.log(`[soak] faults, in order:\n  ${report.faultLog.join('\n  ')}`)
  for (const failure of report.faultFailures) console.log(`[soak] fault not injected: ${failure}`)
  console.log(`[soak] first message of each error: ${JSON.stringify(report.errorMessages, null, 1)}`)
  console.log(`[soak] first lines the pool logged: ${JSON.stringify(report.poolLogged.firstLines, null, 1)}`)
  for (const line of describeReport(report)) console.log(line)
  if (o.json) console.log(JSON.stringify({ ...report, faultLog: undefined }))
  process.exitCode = report.integrity.ok ? 0 : 1
}

// Exit through process.exit on Ctrl-C, so that the servers' exit hooks stop them.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))

main().catch((e) => {
  console.error('[soak] failed:', e)
  process.exitCode = 1
})
