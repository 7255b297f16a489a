'use strict'
// What the callers were told, kept to be checked against what the server holds at the end.
//
// Writes (inserts of unique keys, transfers) are made through withRetry: every invocation of
// the callback is a send of the same write, recorded with `sent(id)`; an attempt that rejects
// with `maybeCommitted: true` marks the id, and a send after that mark is a re-send the rule
// forbids (`withRetry` must give up on an unknown outcome). The final outcome is one of
// ACKED, MAYBE (the last error said maybeCommitted) or FAILED (it said not committed).
//
// Held-connection runs: statements issued on one acquired client without awaiting each; each
// statement's outcome is kept per run, with the order its promise settled in.

const PENDING = 0
const ACKED = 1
const MAYBE = 2
const FAILED = 3

/** A Uint8Array that grows (doubling) to hold any index written to it. */
class GrowingBytes {
  constructor (size = 1 << 16) { this.bytes = new Uint8Array(size) }
  get (i) { return i < this.bytes.length ? this.bytes[i] : 0 }
  set (i, v) {
    while (i >= this.bytes.length) {
      const bigger = new Uint8Array(this.bytes.length * 2)
      bigger.set(this.bytes)
      this.bytes = bigger
    }
    this.bytes[i] = v
  }
}

/** Outcomes of writes numbered 1, 2, 3, … (insert keys or transfer ids). */
class WriteLedger {
  constructor () {
    this.next = 1
    this.outcome = new GrowingBytes()
    this.sends = new GrowingBytes() // callback invocations, capped at 255
    this.unknownSeen = new GrowingBytes() // 1 once an attempt rejected with maybeCommitted
    this.resentAfterUnknown = [] // ids sent again after an attempt of unknown outcome
    this.resends = 0 // sends after the first, of any id
    this.unknownAttempts = 0 // attempts that rejected with maybeCommitted: true
  }

  /** A new id. */
  issue () { return this.next++ }

  /** The callback is about to send write `id` (again). */
  sent (id) {
    const n = this.sends.get(id)
    if (n > 0) this.resends++
    if (this.unknownSeen.get(id)) this.resentAfterUnknown.push(id)
    this.sends.set(id, Math.min(n + 1, 255))
  }

  /** One attempt of write `id` rejected with `error`. */
  attemptFailed (id, error) {
    if (!(error && error.maybeCommitted)) return
    this.unknownSeen.set(id, 1)
    this.unknownAttempts++
  }

  /** The caller's final answer for write `id`: resolved (no error) or rejected with `error`. */
  settle (id, error) {
    if (!error) this.outcome.set(id, ACKED)
    else this.outcome.set(id, error.maybeCommitted ? MAYBE : FAILED)
  }

  isAcked (id) { return this.outcome.get(id) === ACKED }

  /**
   * Compares with `copies` (a Map id → rows holding it on the server): every acknowledged write
   * present exactly once, an unknown one at most once, a failed one absent, nothing that was
   * never issued, nothing still pending. Returns `{ counts, problems }`.
   */
  check (copies, what) {
    const counts = { issued: this.next - 1, acked: 0, maybeCommitted: 0, maybeCommittedPresent: 0, failed: 0, resends: this.resends, unknownAttempts: this.unknownAttempts }
    const bad = { ackedMissing: [], ackedTwice: [], maybeTwice: [], failedPresent: [], pending: [], neverIssued: [] }
    for (let id = 1; id < this.next; id++) {
      const n = copies.get(id) || 0
      switch (this.outcome.get(id)) {
        case ACKED:
          counts.acked++
          if (n === 0) bad.ackedMissing.push(id)
          if (n > 1) bad.ackedTwice.push(id)
          break
        case MAYBE:
          counts.maybeCommitted++
          if (n > 0) counts.maybeCommittedPresent++
          if (n > 1) bad.maybeTwice.push(id)
          break
        case FAILED:
          counts.failed++
          if (n > 0) bad.failedPresent.push(id)
          break
        default:
          bad.pending.push(id)
      }
    }
    for (const id of copies.keys()) if (!(id >= 1 && id < this.next)) bad.neverIssued.push(id)
    const problems = describe(what, bad, {
      ackedMissing: 'acknowledged but missing',
      ackedTwice: 'acknowledged and present more than once',
      maybeTwice: 'of unknown outcome and present more than once',
      failedPresent: 'reported not committed (maybeCommitted false) but present',
      pending: 'never settled (a caller still waiting)',
      neverIssued: 'present but never issued'
    })
    if (this.resentAfterUnknown.length) {
      problems.push(`${what}: ${this.resentAfterUnknown.length} re-sent after an attempt rejected with maybeCommitted: true (e.g. ${sample(this.resentAfterUnknown)})`)
    }
    return { counts: { ...counts, resentAfterUnknown: this.resentAfterUnknown.length }, problems }
  }
}

/** Statements issued together on held connections, one run per acquire. */
class HeldRunLedger {
  constructor () {
    this.next = 1
    this.runs = new Map() // run → Uint8Array of outcomes, by issue index
    this.wrongResult = [] // "run/i got j"
    this.settledOutOfOrder = [] // runs whose promises settled out of issue order
  }

  /** A new run of `n` statements. */
  start (n) {
    const run = this.next++
    this.runs.set(run, new Uint8Array(n))
    return run
  }

  /** Statement `i` of `run` resolved with `returned` (the index its INSERT … RETURNING gave). */
  resolved (run, i, returned) {
    this.runs.get(run)[i] = ACKED
    if (returned !== i) this.wrongResult.push(`${run}/${i} got ${returned}`)
  }

  rejected (run, i, error) { this.runs.get(run)[i] = error.maybeCommitted ? MAYBE : FAILED }

  /**
   * The indexes of `run` in the order their promises settled. `exempt`: the index of a
   * statement cut short by its timeout or AbortSignal, which may settle before the statements
   * ahead of it (one aborted while it waits behind them rejects at once); the others must
   * settle in issue order.
   */
  settled (run, order, exempt = -1) {
    const others = order.filter((i) => i !== exempt)
    for (let k = 1; k < others.length; k++) {
      if (others[k] < others[k - 1]) return this.settledOutOfOrder.push(`${run} [${order.join(' ')}]`)
    }
  }

  get statements () {
    let n = 0
    for (const o of this.runs.values()) n += o.length
    return n
  }

  /**
   * Compares with `rows`, the server's rows as [run, i, copies, outOfOrder] (outOfOrder: the
   * server ran this statement after a later-issued one of its run): acknowledged statements
   * present once, unknown ones at most once, failed ones absent, the server's order the issue
   * order.
   */
  check (rows) {
    const copies = new Map()
    const serverOutOfOrder = new Set()
    for (const [run, i, n, outOfOrder] of rows) {
      copies.set(`${run}/${i}`, n)
      if (outOfOrder) serverOutOfOrder.add(run)
    }
    const bad = { ackedMissing: [], ackedTwice: [], maybeTwice: [], failedPresent: [], pending: [], neverIssued: [] }
    const counts = { runs: this.runs.size, statements: 0, acked: 0, maybeCommitted: 0, failed: 0 }
    for (const [run, outcomes] of this.runs) {
      outcomes.forEach((o, i) => {
        const key = `${run}/${i}`
        const n = copies.get(key) || 0
        copies.delete(key)
        counts.statements++
        if (o === ACKED) { counts.acked++; if (n === 0) bad.ackedMissing.push(key); if (n > 1) bad.ackedTwice.push(key) }
        if (o === MAYBE) { counts.maybeCommitted++; if (n > 1) bad.maybeTwice.push(key) }
        if (o === FAILED) { counts.failed++; if (n > 0) bad.failedPresent.push(key) }
        if (o === PENDING) bad.pending.push(key)
      })
    }
    bad.neverIssued = [...copies.keys()]
    const problems = describe('held-connection statements', bad, {
      ackedMissing: 'acknowledged but missing',
      ackedTwice: 'acknowledged and present more than once',
      maybeTwice: 'of unknown outcome and present more than once',
      failedPresent: 'reported not committed but present',
      pending: 'never settled',
      neverIssued: 'present but never issued'
    })
    const order = { serverOutOfOrder: [...serverOutOfOrder], settledOutOfOrder: this.settledOutOfOrder, wrongResult: this.wrongResult }
    if (order.serverOutOfOrder.length) problems.push(`held-connection runs: ${order.serverOutOfOrder.length} run on the server out of issue order (e.g. runs ${sample(order.serverOutOfOrder)})`)
    if (order.settledOutOfOrder.length) problems.push(`held-connection runs: ${order.settledOutOfOrder.length} whose promises settled out of issue order (run [settle order]: ${sample(order.settledOutOfOrder)})`)
    if (order.wrongResult.length) problems.push(`held-connection statements: ${order.wrongResult.length} resolved with another statement's result (${sample(order.wrongResult)})`)
    return {
      counts: { ...counts, orderViolations: order.serverOutOfOrder.length + order.settledOutOfOrder.length + order.wrongResult.length },
      problems
    }
  }
}

const sample = (list) => list.slice(0, 5).join(', ')

/** One problem line per non-empty list of `bad`, worded by `words`. */
function describe (what, bad, words) {
  const problems = []
  for (const [name, list] of Object.entries(bad)) {
    if (list.length) problems.push(`${what}: ${list.length} ${words[name]} (e.g. ${sample(list)})`)
  }
  return problems
}

module.exports = { WriteLedger, HeldRunLedger }
