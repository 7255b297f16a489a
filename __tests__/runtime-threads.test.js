'use strict'
// The native runtime's threads never cut in on the JS thread that woke them: they run under
// SCHED_BATCH (src/binding/runtime.rs), the JS thread under the policy it was given.

const fs = require('node:fs')
const { poolsOnFreshDatabase } = require('./helpers/common')

const db = poolsOnFreshDatabase('runtime_threads')
beforeAll(db.create)
afterEach(db.endPools)

const SCHED_OTHER = 0
const SCHED_BATCH = 3

/** This process's threads as `{ name, policy }`, read from /proc. */
function threads () {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    const sched = fs.readFileSync(`/proc/self/task/${tid}/sched`, 'utf8')
    return {
      tid: Number(tid),
      name: fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
      policy: Number(/^policy\s*:\s*(\d+)/m.exec(sched)[1])
    }
  })
}

test('the runtime threads that ran the statements are SCHED_BATCH, the JS thread is not', async () => {
  const pool = db.makePool({ connectionLimit: 4 })
  await Promise.all(Array.from({ length: 20 }, () => pool.query('SELECT pg_sleep(0.01)')))
  const all = threads()
  const workers = all.filter((t) => t.name.startsWith('tokio-rt-worker'))
  expect(workers.length).toBeGreaterThanOrEqual(2)
  expect(workers.map((t) => t.policy)).toEqual(workers.map(() => SCHED_BATCH))
  expect(all.find((t) => t.tid === process.pid).policy).toBe(SCHED_OTHER)
})
