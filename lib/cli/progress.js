'use strict'
// Live progress of a load test: a bar on a terminal (cli-progress), one plain line every few
// seconds elsewhere (CI logs).

const cliProgress = require('cli-progress')

const PLAIN_EVERY_S = 5

class Progress {
  constructor (io, cfg) {
    this.io = io
    this.total = Math.ceil(cfg.duration)
    this.elapsed = 0
    this.bar = null
    if (io.isTTY) {
      this.bar = new cliProgress.SingleBar({
        format: '{bar} {value}/{total}s | {throughput} q/s | p95 {p95} ms | errors {errors} | pool {utilization}%',
        hideCursor: true,
        stream: io.stream
      }, cliProgress.Presets.shades_classic)
      this.bar.start(this.total, 0, { throughput: 0, p95: 0, errors: 0, utilization: 0 })
    }
  }

  /** Called every second with the recorder and the pool's state. */
  update (rec, pool) {
    this.elapsed++
    const r = rec.recent()
    const fields = { throughput: r.throughput, p95: r.p95, errors: rec.failed, utilization: pool.utilization }
    if (this.bar) return this.bar.update(Math.min(this.elapsed, this.total), fields)
    if (this.elapsed % PLAIN_EVERY_S === 0) {
      this.io.out(`${this.elapsed}/${this.total}s  ${fields.throughput} q/s  p95 ${fields.p95} ms  errors ${fields.errors}  pool ${fields.utilization}% (${pool.active}/${pool.limit} active, ${pool.waiting} waiting)\n`)
    }
  }

  stop () {
    if (this.bar) this.bar.stop()
  }
}

module.exports = { Progress }
