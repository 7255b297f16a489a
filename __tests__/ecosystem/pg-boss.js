'use strict'
// pg-boss 10 with the driver given on the command line. pg-boss's documented injection point
// is the `db` option (an object with executeSql(text, values)): here a Pool of the driver
// module behind it. Its own schema (eco_pgboss), dropped first so each run starts fresh.
// Job ids are random uuids and timestamps come from now(): the transcript names jobs by order
// and keeps only what does not depend on the clock.
//   node pg-boss.js <databaseUrl> <pg|pgwarden>

const { run, FIXED } = require('./transcript')

const SCHEMA = 'eco_pgboss'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

run(async (t, { url, pg }) => {
  const PgBoss = require('pg-boss')
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const db = { executeSql: (text, values) => pool.query(text, values) }
  const boss = new PgBoss({ db, schema: SCHEMA, supervise: false, schedule: false, migrate: true })
  const bossErrors = []
  boss.on('error', (e) => bossErrors.push(e.message))

  const ids = new Map()
  const named = (id) => {
    if (typeof id !== 'string' || !UUID.test(id)) return { notAUuid: id }
    if (!ids.has(id)) ids.set(id, `job-${ids.size + 1}`)
    return ids.get(id)
  }
  const job = (j) => j && { id: named(j.id), name: j.name, data: j.data, state: j.state, output: j.output, retryCount: j.retryCount, priority: j.priority, singletonKey: j.singletonKey }

  try {
    await t.step('fresh schema', () => pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).then((r) => r.command))
    await t.step('start (creates its schema)', async () => { await boss.start(); return (await pool.query('SELECT version FROM eco_pgboss.version')).rows })
    await t.step('createQueue', async () => {
      await boss.createQueue('eco-jobs')
      await boss.createQueue('eco-work')
      const q = await boss.getQueue('eco-jobs')
      return { name: q.name, policy: q.policy }
    })
    await t.step('send', async () => named(await boss.send('eco-jobs', { n: 1, at: FIXED.tstz, big: FIXED.int8, list: FIXED.texts })))
    await t.step('send with singletonKey, twice', async () => [
      named(await boss.send('eco-jobs', { n: 2 }, { singletonKey: 'only-one' })),
      named(await boss.send('eco-jobs', { n: 3 }, { singletonKey: 'only-one' }))
    ])
    await t.step('send to a missing queue', () => boss.send('eco-missing', { n: 4 }))
    await t.step('queue size', () => boss.getQueueSize('eco-jobs'))
    await t.step('fetch', async () => (await boss.fetch('eco-jobs', { batchSize: 1 })).map(job))
    await t.step('complete', async () => {
      const r = await boss.complete('eco-jobs', [...ids.keys()][0], { done: true })
      return { ...r, jobs: r.jobs.map(named) }
    })
    await t.step('getJobById after complete', async () => job(await boss.getJobById('eco-jobs', [...ids.keys()][0])))
    await t.step('fetch the rest, fail one', async () => {
      // Jobs of one priority come back in no promised order: sorted by their data.
      const jobs = (await boss.fetch('eco-jobs', { batchSize: 5 })).sort((a, b) => a.data.n - b.data.n)
      const r = await boss.fail('eco-jobs', jobs[0].id, { reason: 'nope' })
      return { jobs: jobs.map(job), failed: r.affected, after: job(await boss.getJobById('eco-jobs', jobs[0].id)) }
    })
    await t.step('work: a handler completes a job', async () => {
      const done = new Promise((resolve) => {
        boss.work('eco-work', { pollingIntervalSeconds: 0.5 }, async ([j]) => { resolve(j.data); return { handled: j.data.n * 2 } })
      })
      const id = await boss.send('eco-work', { n: 21 })
      const data = await done
      let after
      for (let i = 0; i < 40; i++) {
        after = await boss.getJobById('eco-work', id)
        if (after && after.state === 'completed') break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return { data, after: job(after) }
    })
    await t.step('offWork', () => boss.offWork('eco-work'))
  } finally {
    await t.step('stop', () => boss.stop({ graceful: false, wait: true, timeout: 1000 }))
    await t.step('pool.end', () => pool.end())
    t.note('boss errors', bossErrors)
  }
})
