'use strict'
// pgwarden speaks only when it matters: nothing below logLevel reaches the default console, a
// busy pool whose callers never wait says nothing, a connection slow to open is no saturation,
// an outage is two lines however many attempts it takes, a replica's outage reaches the user's
// logger, and a near-miss option name is named.

const compat = require('../lib/pg')
const { TcpProxy } = require('./helpers/proxy')
const { sleep, eventually, failure, freePort, poolsOnFreshDatabase, recordingLogger } = require('./helpers/common')

const db = poolsOnFreshDatabase('quietlogs')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

const CONSOLE = ['log', 'debug', 'info', 'warn', 'error']

/** Runs `fn` with the console recorded (and silenced): every line printed, as text. */
async function consoleDuring (fn) {
  const printed = []
  const spies = CONSOLE.map((m) => jest.spyOn(console, m).mockImplementation((...args) => printed.push(`${m}: ${args.map(String).join(' ')}`)))
  try {
    await fn()
    await sleep(50) // background lines arrive through the event loop
  } finally {
    spies.forEach((s) => s.mockRestore())
  }
  return printed
}

/** `n` callers each running `SELECT 1` one after another for `ms`. */
async function callersFor (pool, n, ms) {
  const until = Date.now() + ms
  await Promise.all(Array.from({ length: n }, async () => {
    while (Date.now() < until) await pool.query('SELECT 1')
  }))
}

describe('the default logger', () => {
  test.each([1, 2, 4])('a pool of %i, busy but never waited on, prints nothing', async (limit) => {
    const printed = await consoleDuring(async () => {
      const pool = makePool({ connectionLimit: limit, logger: undefined })
      await callersFor(pool, limit, 400)
    })
    expect(printed).toEqual([])
  })

  test('a pgwarden/pg Client prints nothing on a normal run', async () => {
    const printed = await consoleDuring(async () => {
      const client = new compat.Client({ connectionString: db.url })
      await client.connect()
      await client.query('SELECT 1')
      await client.end()
    })
    expect(printed).toEqual([])
  })

  test('logLevel debug lets the debug lines through', async () => {
    const printed = await consoleDuring(async () => {
      const pool = makePool({ connectionLimit: 1, logger: undefined, logLevel: 'debug' })
      await pool.query('SELECT 1')
    })
    expect(printed.some((l) => l.startsWith('debug: High pool utilization: 100.0% (1/1)'))).toBe(true)
  })
})

describe('saturation', () => {
  test('a connection slow to open is not saturation; callers queued behind busy connections are', async () => {
    const logger = recordingLogger()
    const pool = makePool({ connectionLimit: 1, pipelineDepth: 1, logger, onConnect: () => sleep(150) })
    await pool.query('SELECT 1') // waits ~150 ms, for the connection to open
    expect(logger.calls.warn).toEqual([])
    // The control: the same pool, callers waiting for its busy connection.
    await Promise.all([pool.query('SELECT pg_sleep(0.1)'), pool.query('SELECT 1')])
    const saturated = await eventually(() => logger.calls.warn.filter((m) => m.includes('Pool saturated')), (l) => l.length > 0)
    expect(saturated).toHaveLength(1)
  })
})

describe('outages', () => {
  test('an outage of 30 attempts and more prints two lines: when it begins and when it ends', async () => {
    const target = new URL(db.url)
    const proxy = new TcpProxy({ targetPort: Number(target.port) })
    target.port = String(await proxy.start())
    const logger = recordingLogger()
    // Slow failed statements are not what this test counts.
    const pool = makePool({ connectionLimit: 10, poolTimeoutMs: 1500, slowQueryThresholdMs: 60000, logger }, target.toString())
    try {
      proxy.reset()
      await Promise.all(Array.from({ length: 10 }, () => failure(pool.query('SELECT 1'))))
      expect(pool.getPoolStats().connections.failed).toBeGreaterThanOrEqual(30)
      proxy.heal()
      await pool.query('SELECT 1')
      const lines = await eventually(() => [...logger.calls.warn, ...logger.calls.error], (l) => l.length >= 2)
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(/^\[pgwarden\] cannot open a connection: .*an outage begins/)
      expect(lines[1]).toMatch(/^\[pgwarden\] connections open again after an outage of \d+ ms \(\d+ failed attempts\)$/)
      expect(Number(lines[1].match(/\((\d+) failed/)[1])).toBe(pool.getPoolStats().connections.failed)
    } finally {
      await pool.end()
      await proxy.close()
    }
  })

  test("a read replica's pool logs through the user's logger, naming it; its outage is one warning", async () => {
    const port = await freePort() // nothing listens there
    const logger = recordingLogger()
    const pool = makePool({ logger, logLevel: 'debug', replicaUrls: [`postgres://nobody:secret@127.0.0.1:${port}/none`] })
    expect((await pool.query('SELECT 1 AS one', [], { replica: true })).rows).toEqual([{ one: 1 }]) // read by the primary
    // The replica's own pool: its failed attempt, labelled (its outage is the probe's to announce).
    const own = await eventually(() => logger.calls.debug.filter((m) => m.startsWith(`[pgwarden] read replica 127.0.0.1:${port}: cannot open a connection`)), (l) => l.length > 0)
    expect(own.length).toBeGreaterThan(0)
    const warnings = logger.calls.warn.filter((m) => m.includes(`read replica 127.0.0.1:${port}`))
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^\\[pgwarden\\] read replica 127\\.0\\.0\\.1:${port} is down \\(P1001`))])
    expect(JSON.stringify(logger.calls)).not.toContain('secret')
  })
})

describe('near-miss option names', () => {
  test('poolTimeout is named as poolTimeoutMs in its warning', async () => {
    const logger = recordingLogger()
    makePool({ poolTimeout: 20, logger })
    expect(logger.calls.warn).toEqual([
      "[pgwarden] Unknown option 'poolTimeout' ignored: did you mean poolTimeoutMs (milliseconds; Prisma's pool_timeout is in seconds)?"
    ])
    const e = await failure(Promise.resolve().then(() => makePool({ poolTimeoutMs: 'soon' })))
    expect(e.code).toBe('ERR_PGWARDEN_CONFIG')
  })
})
