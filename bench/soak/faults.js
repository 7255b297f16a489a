'use strict'
// The soak's fault injector: one fault every few seconds, the kinds in turn so that even a short
// run sees each of them. Faults on servers act on the current primary; network faults act on
// every proxy at once (the pool's whole network).

// The failover comes last in a round: it takes longest (the pair is rebuilt), and a short run
// still sees every other kind before it.
const FAULTS = ['terminate', 'statement-timeout', 'restart-fast', 'blackhole', 'abort', 'reset', 'restart-immediate', 'failover']

const WINDOW_MS = 1500 // how long a timeout or abort window lasts
const { sleep } = require('../../lib/retry')
const between = ([lo, hi]) => lo + Math.random() * (hi - lo)

/**
 * How long writes took to come back after the server went away: from the moment the primary
 * was down (stopped, or stopped for a failover) to the first acknowledged insert issued after it.
 */
class RecoveryWatch {
  constructor () {
    this.current = null // { kind, since, fromKey }
    this.byKind = {} // kind → [ms, …]
  }

  /** Writes are down since `since`; keys issued from `fromKey` on can only land afterwards. */
  watch (kind, since, fromKey) { this.current = { kind, since, fromKey } }

  /** Insert `k` was acknowledged. */
  acked (k) {
    const c = this.current
    if (!c || k < c.fromKey) return
    ;(this.byKind[c.kind] = this.byKind[c.kind] || []).push(Date.now() - c.since)
    this.current = null
  }

  summary () {
    const out = {}
    for (const [kind, ms] of Object.entries(this.byKind)) {
      out[kind] = { count: ms.length, minMs: Math.min(...ms), medianMs: ms.sort((a, b) => a - b)[ms.length >> 1], maxMs: Math.max(...ms) }
    }
    return out
  }
}

/** Stops the primary with `mode`, marks writes down, starts it again. */
async function restart (ctx, mode) {
  const primary = ctx.topology.primary
  await primary.stop({ mode })
  ctx.recovery.watch(`restart-${mode}`, Date.now(), ctx.keys.next)
  await primary.start()
}

/** Opens a window in which half the statements carry a tight timeout (or an abort). */
async function cutWindow (ctx, which) {
  const before = ctx.cut[which]
  ctx.windows[`${which}Until`] = Date.now() + WINDOW_MS
  await sleep(WINDOW_MS)
  return `${ctx.cut[which] - before} statements given ${which === 'timeout' ? 'a 10-50 ms timeoutMs' : 'an AbortSignal firing at 0-300 ms'}`
}

const INJECT = {
  async terminate (ctx) {
    return `${await ctx.topology.primary.terminateBackends()} backends`
  },
  'restart-fast': (ctx) => restart(ctx, 'fast'),
  'restart-immediate': (ctx) => restart(ctx, 'immediate'),
  async blackhole (ctx) {
    const ms = Math.round(between([500, 1500]))
    for (const p of ctx.topology.proxies) p.blackhole()
    await sleep(ms)
    for (const p of ctx.topology.proxies) p.heal()
    return `${ms} ms`
  },
  async reset (ctx) {
    const proxies = ctx.topology.proxies
    const before = proxies.reduce((n, p) => n + p.resets, 0)
    for (const p of proxies) p.reset()
    await sleep(100) // new connections are reset too meanwhile
    for (const p of proxies) p.heal()
    return `${proxies.reduce((n, p) => n + p.resets, 0) - before} sockets reset`
  },
  'statement-timeout': (ctx) => cutWindow(ctx, 'timeout'),
  abort: (ctx) => cutWindow(ctx, 'abort'),
  async failover (ctx) {
    const { stoppedAt, promotedAt } = await ctx.topology.failover().catch(async (e) => {
      // No failover without a synchronous standby (it could lose acknowledged writes). Not
      // injected, and reported; the standby is replaced so that the run goes on.
      if (e.standbyLost) await ctx.topology.replaceStandby().then(() => { e.message += '\n(the standby was replaced)' })
      throw e
    })
    ctx.recovery.watch('failover', stoppedAt, ctx.keys.next)
    const t = Date.now()
    await ctx.topology.rebuild()
    return `promoted in ${promotedAt - stoppedAt} ms; new standby and replica copied in ${Date.now() - t} ms`
  }
}

/**
 * Injects faults every `everyMs` ([min, max]) until `quietFrom`, the kinds in turn. Each fault
 * is awaited before the next (a failover's rebuild included). Counts go to ctx.faults, one line
 * per fault to ctx.faultLog, and faults that could not be injected, with the error's whole
 * message, to ctx.faultFailures.
 */
async function injectFaults (ctx, { everyMs, quietFrom, startedAt }) {
  const at = (t) => `${((t - startedAt) / 1000).toFixed(1)}s`
  for (let i = 0; ; i++) {
    await sleep(Math.min(between(everyMs), Math.max(0, quietFrom - Date.now())))
    if (Date.now() >= quietFrom) return
    const kind = FAULTS[i % FAULTS.length]
    const t0 = Date.now()
    try {
      const note = await INJECT[kind](ctx)
      ctx.faults[kind] = (ctx.faults[kind] || 0) + 1
      ctx.faultLog.push(`${at(t0)} ${kind}${note ? ` (${note})` : ''} ${Date.now() - t0} ms`)
    } catch (e) {
      const failure = `${at(t0)} ${kind} FAILED: ${e.message}`
      ctx.faultFailures.push(failure) // with whatever diagnosis the message carries
      ctx.faultLog.push(failure.split('\n')[0])
    }
  }
}

module.exports = { FAULTS, RecoveryWatch, injectFaults }
