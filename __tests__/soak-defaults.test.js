'use strict'
// The soak of pgwarden's defaults, short: one minute of bench/soak (the code `node bench/soak.js`
// runs for ten), 100 callers on a pool with every default (pipelineDepth 8), a primary with a
// synchronous standby behind a multi-host URL and a read replica, all through TCP proxies, while
// every kind of fault comes at least once: terminate, fast and immediate restarts, a network
// blackhole and a reset, statement timeouts and aborts, a failover. The ledger of what callers
// were told must match the tables: every acknowledged write present exactly once, every unknown
// one at most once, none reported not committed present, none sent again by withRetry after an
// attempt rejected with maybeCommitted: true, balances equal to the transfers, statements on
// held connections run and settled in issue order. Seen to fail when withRetry re-sent after
// maybeCommitted (docs/RELIABILITY.md, Soak). Its own servers: it runs beside the other files.

const { runSoak, describeReport } = require('../bench/soak/run-soak')
const { FAULTS } = require('../bench/soak/faults')

const sum = (counts) => Object.values(counts).reduce((a, n) => a + n, 0)

test('a minute of every fault on the default pool: the ledger matches the tables', async () => {
  const report = await runSoak({ durationS: 60, concurrency: 100, faultEveryMs: [2000, 3000], drainMs: 30000, log: null })
  console.log(describeReport(report).join('\n'))

  expect(report.integrity.problems).toEqual([])
  // Every kind of fault was injected, and none failed to be.
  expect(report.faultFailures).toEqual([])
  expect(FAULTS.filter((kind) => !report.faults[kind])).toEqual([])
  expect(report.pool.failovers.count).toBe(report.faults.failover)
  // The default path was taken: statements shared connections, reads reached the replica.
  expect(report.settings.pipelineDepth).toBe(8)
  expect(report.pool.pipelined).toBeGreaterThan(0)
  expect(report.pool.replicas.servers[0].queries).toBeGreaterThan(0)
  // The checks had something to check: writes, held runs, and writes whose outcome was unknown.
  expect(report.integrity.keys.acked).toBeGreaterThan(1000)
  expect(report.integrity.transfers.acked).toBeGreaterThan(100)
  expect(report.integrity.held.runs).toBeGreaterThan(100)
  expect(report.integrity.keys.unknownAttempts + report.integrity.transfers.unknownAttempts).toBeGreaterThan(0)
  expect(sum(report.cutShort)).toBeGreaterThan(0)
}, 120000)
