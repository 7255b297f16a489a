'use strict'
// Tests of the test harness itself: the shared server, and a private cluster
// through restarts, backend termination, stop/start and destroy.
const fs = require('fs')
const { spawn } = require('child_process')
const { harness, freshDatabase, ownedCluster, Cluster } = require('./harness')
const { eventually } = require('./helpers/common')

describe('shared server', () => {
  test('admin returns rows of strings', async () => {
    expect(await harness().admin('SELECT 1, NULL, 2')).toEqual([['1', '', '2']])
  })

  test('freshDatabase creates a distinct database and returns its URL', async () => {
    const a = await freshDatabase('harness')
    const b = await freshDatabase('harness')
    expect(a).not.toBe(b)
    const rows = await Cluster.fromUrl(a).admin('SELECT current_database()')
    expect(rows[0][0]).toBe(decodeURIComponent(new URL(a).pathname.slice(1)))
  })

  test('restart is refused on servers the caller does not own', async () => {
    await expect(harness().restart()).rejects.toThrow(/own cluster/)
    await expect(Cluster.fromUrl('postgres://u@127.0.0.1:1/db').stop()).rejects
      .toThrow("this test needs the harness's own cluster (unset PGWARDEN_TEST_URL)")
  })
})

describe('private cluster', () => {
  let c
  beforeAll(async () => { c = await ownedCluster({ settings: { max_connections: 20 } }) })
  afterAll(() => c && c.destroy())

  const startTime = async () => (await c.admin('SELECT pg_postmaster_start_time()'))[0][0]

  test('starts with the requested settings', async () => {
    expect(c.owned).toBe(true)
    expect(c.url).toBe(`postgres://postgres@127.0.0.1:${c.port}/postgres`)
    expect(fs.existsSync(c.dataDir)).toBe(true)
    expect(await c.admin('SHOW max_connections')).toEqual([['20']])
    expect(await c.createDatabase('made_here')).toBe(c.urlFor('made_here'))
    expect(await c.adminScript('CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2); SELECT a FROM t ORDER BY a;',
      { database: 'made_here' })).toEqual([['1'], ['2']])
  })

  test.each(['fast', 'immediate'])('restart(%s) keeps the port and data', async (mode) => {
    const before = await startTime()
    await c.restart({ mode })
    expect(await startTime()).not.toBe(before)
    expect(await c.admin('SELECT count(*) FROM t', { database: 'made_here' })).toEqual([['2']])
  })

  test('terminateBackends kills matching client connections and counts them', async () => {
    const bg = spawn(c.psqlPath, ['-X', '-d', c.url, '-c', 'SELECT pg_sleep(30)'],
      { env: { ...process.env, PGAPPNAME: 'harness_bg' }, stdio: 'ignore' })
    const exited = new Promise((resolve) => bg.on('close', resolve))
    const seen = async () => (await c.admin("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'harness_bg'"))[0][0] === '1'
    expect(await eventually(seen, true, { ms: 10000 })).toBe(true)
    expect(await c.terminateBackends({ applicationName: 'other' })).toBe(0)
    expect(await c.terminateBackends({ applicationName: 'harness_bg', database: 'postgres' })).toBe(1)
    expect(await exited).not.toBe(0)
    expect(await c.terminateBackends({ applicationName: 'harness_bg' })).toBe(0)
  })

  test('stop() then start() on the same port', async () => {
    await c.stop()
    await expect(c.admin('SELECT 1')).rejects.toThrow()
    await c.start()
    expect(await c.admin('SELECT 1')).toEqual([['1']])
  })

  test('destroy() removes the data directory and is idempotent', async () => {
    await c.destroy()
    expect(fs.existsSync(c.dataDir)).toBe(false)
    await c.destroy()
    await expect(c.restart()).rejects.toThrow(/destroyed/)
  })
})
