'use strict'
// What a load test measured: every statement's latency as its caller saw it (failed statements
// included: a statement that waited 10 s for a connection and then failed took 10 s), errors by
// code, and a per-second series (statements that succeeded, latency percentiles of all of them,
// errors, pool state). The time to acquire a connection comes from the pool's own histogram
// (getPoolStats().acquire), which holds the acquisitions that got a connection.

/** avg, p50, p95, p99 and max of `values` (ms, rounded to 0.01), or zeros when empty. */
function summarize (values) {
  if (values.length === 0) return { avg: 0, p50: 0, p95: 0, p99: 0, max: 0 }
  const sorted = Float64Array.from(values).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  const round = (v) => Math.round(v * 100) / 100
  const sum = sorted.reduce((a, b) => a + b, 0)
  return { avg: round(sum / sorted.length), p50: round(at(0.5)), p95: round(at(0.95)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]) }
}

class Recorder {
  constructor () {
    this.started = performance.now()
    this.query = []
    this.ok = 0
    this.failed = 0
    this.errors = new Map() // "kind code" → { kind, code, count, example }
    this.series = []
    this._second = this._newSecond(0)
    this.peakActive = 0
  }

  _newSecond (t) {
    return { t, queries: 0, errors: 0, latencies: [] }
  }

  /** One statement: its time (ms) from call to answer or error, and its error if it failed. */
  record (queryMs, error) {
    const s = this._second
    this.query.push(queryMs)
    s.latencies.push(queryMs)
    if (error) {
      this.failed++
      s.errors++
      const key = `${error.kind} ${error.code}`
      const e = this.errors.get(key) || { kind: error.kind || 'other', code: error.code || 'unknown', count: 0, example: String(error.message).slice(0, 200) }
      e.count++
      this.errors.set(key, e)
      return
    }
    this.ok++
    s.queries++
  }

  /** Closes the current second with the pool's state (`getPoolStats().pool`). */
  tick (pool) {
    const s = this._second
    const lat = summarize(s.latencies)
    this.peakActive = Math.max(this.peakActive, pool.active)
    this.series.push({ t: s.t + 1, throughput: s.queries, p50: lat.p50, p95: lat.p95, errors: s.errors,
      active: pool.active, idle: pool.idle, waiting: pool.waiting, utilization: pool.utilization })
    this._second = this._newSecond(s.t + 1)
  }

  /** Closes the last, partial second if anything happened in it. */
  flush (pool) {
    if (this._second.queries + this._second.errors > 0) this.tick(pool)
  }

  /** The last `n` seconds' throughput and p95, for the progress display. */
  recent (n = 3) {
    const last = this.series.slice(-n)
    const q = last.reduce((a, s) => a + s.throughput, 0)
    return { throughput: last.length ? Math.round(q / last.length) : 0, p95: last.length ? last[last.length - 1].p95 : 0 }
  }

  /** Totals and latency summaries. */
  summary () {
    const total = this.ok + this.failed
    const seconds = (performance.now() - this.started) / 1000
    return {
      total,
      succeeded: this.ok,
      failed: this.failed,
      successRate: total ? Math.round((this.ok / total) * 10000) / 100 : 0,
      errorRate: total ? Math.round((this.failed / total) * 10000) / 100 : 0,
      throughput: Math.round(total / Math.max(seconds, 0.001)),
      queryMs: summarize(this.query),
      errors: [...this.errors.values()].sort((a, b) => b.count - a.count),
      peakActive: this.peakActive
    }
  }
}

module.exports = { Recorder, summarize }
