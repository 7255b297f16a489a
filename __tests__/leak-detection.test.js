'use strict'
// Leak detection (leakDetectionThresholdMs): a client or transaction held past the threshold
// logs one warning with the stack of the code that acquired it; off by default.

const path = require('node:path')
const { sleep, poolsOnFreshDatabase, recordingLogger } = require('./helpers/common')

const THIS_FILE = path.basename(__filename)

const db = poolsOnFreshDatabase('leak')
beforeAll(db.create)
afterEach(db.endPools)
const { makePool } = db

describe('leak detection', () => {
  test('a client held past leakDetectionThresholdMs logs one warning with the acquisition stack', async () => {
    const logger = recordingLogger()
    const pool = makePool({ leakDetectionThresholdMs: 100, logger })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    await sleep(300)
    client.release()
    const leaks = logger.calls.warn.filter((l) => /leak/i.test(l))
    expect(leaks).toHaveLength(1)
    expect(leaks[0]).toContain(THIS_FILE)
    expect(leaks[0]).toMatch(/100 ?ms/)
    expect(logger.calls.error).toEqual([])
    await sleep(200)
    expect(logger.calls.warn.filter((l) => /leak/i.test(l))).toHaveLength(1)
  })

  test('releasing before the threshold logs nothing', async () => {
    const logger = recordingLogger()
    const pool = makePool({ leakDetectionThresholdMs: 100, logger })
    const client = await pool.acquire()
    await client.query('SELECT 1')
    await sleep(20)
    client.release()
    await sleep(300)
    expect(logger.calls.warn.filter((l) => /leak/i.test(l))).toEqual([])
  })

  test('a transaction held past the threshold is reported too', async () => {
    const logger = recordingLogger()
    const pool = makePool({ leakDetectionThresholdMs: 100, logger })
    await pool.transaction(async (tx) => {
      await tx.query('SELECT 1')
      await sleep(300)
    })
    const leaks = logger.calls.warn.filter((l) => /leak/i.test(l))
    expect(leaks).toHaveLength(1)
    expect(leaks[0]).toContain(THIS_FILE)
  })

  test('off by default (and with 0)', async () => {
    for (const opts of [{}, { leakDetectionThresholdMs: 0 }]) {
      const logger = recordingLogger()
      const pool = makePool({ ...opts, logger })
      const client = await pool.acquire()
      await sleep(150)
      client.release()
      expect(logger.calls.warn.filter((l) => /leak/i.test(l))).toEqual([])
    }
  })
})
