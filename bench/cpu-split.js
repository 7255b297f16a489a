'use strict'
// Whose work a benchmark cell's CPU time is: per thread from /proc (the JS thread, pgwarden's
// runtime workers, the rest: V8's and libuv's helpers), and the JS thread's share per owner
// from a V8 CPU profile of the same interval. Linux only, as the benchmarks.

const fs = require('node:fs')
const inspector = require('node:inspector')

const TICK_MS = 1000 / 100 // USER_HZ

/** CPU ms used so far by this process's threads: `{ js, runtime, helpers }`. */
function threadCpu () {
  const used = { js: 0, runtime: 0, helpers: 0 }
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let stat
    let name
    try {
      stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      name = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8')
    } catch {
      continue // the thread ended meanwhile
    }
    // Fields after the command name: utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ms = (Number(f[11]) + Number(f[12])) * TICK_MS
    if (Number(tid) === process.pid) used.js += ms
    else if (name.startsWith('tokio-rt-worker')) used.runtime += ms
    else used.helpers += ms
  }
  return used
}

/** CPU ms per thread kind between two `threadCpu()` readings. */
function cpuSince (before) {
  const now = threadCpu()
  return { js: now.js - before.js, runtime: now.runtime - before.runtime, helpers: now.helpers - before.helpers }
}

/** A V8 CPU profile of the JS thread from now until `stop()` resolves with it. */
async function startProfile (intervalUs = 250) {
  const session = new inspector.Session()
  session.connect()
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))))
  await post('Profiler.enable')
  await post('Profiler.setSamplingInterval', { interval: intervalUs })
  await post('Profiler.start')
  return {
    async stop () {
      const { profile } = await post('Profiler.stop')
      session.disconnect()
      return profile
    }
  }
}

/** Frames V8 names itself: their time is theirs, never a caller's. */
const OWN_FRAMES = new Set(['(idle)', '(program)', '(garbage collector)', '(root)'])

/**
 * The JS thread's busy samples of `profile` by owner, as shares of 1: `ownerOf(callFrame)`
 * names each function's owner; idle samples are left out. A built-in, native or Node-internal
 * function (no file of its own, or a `node:` one) belongs to the nearest caller that has an
 * owner: JSON.parse or a napi call to the driver that called it, a socket write to pg.
 */
function shares (profile, ownerOf) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parents = new Map()
  for (const n of profile.nodes) for (const child of n.children || []) parents.set(child, n.id)
  const lent = (frame) => !OWN_FRAMES.has(frame.functionName) && (frame.url === '' || frame.url.startsWith('node:'))
  const ownerAt = (id) => {
    for (let at = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at).callFrame
      if (!lent(frame)) return ownerOf(frame)
    }
    return ownerOf(nodes.get(id).callFrame)
  }
  const counts = new Map()
  let busy = 0
  for (const id of profile.samples) {
    if (nodes.get(id).callFrame.functionName === '(idle)') continue
    const owner = ownerAt(id)
    counts.set(owner, (counts.get(owner) || 0) + 1)
    busy++
  }
  const out = {}
  for (const [owner, n] of counts) out[owner] = n / busy
  return out
}

module.exports = { threadCpu, cpuSince, startProfile, shares }
