'use strict'
// A statement whose rows are read in batches, on the pool (a connection of its own) or on a
// held client (after the work asked of it before). The native stream is started when the
// reader is made, so on a held client it takes its place in the client's line at that call;
// `pool.stream()` / `client.stream()` and pgwarden/pg's cursors read through it.

const { fromNative } = require('./errors')
const { buildRows } = require('./result')

class RowReader {
  /**
   * Starts `open()` (→ a NativeStream) now, in `scope` (the statement's StatementScope).
   * `arrayMode`: rows as arrays; `batchSize`: rows per batch for `rowsOf`.
   */
  constructor (scope, open, arrayMode, batchSize) {
    this._scope = scope
    this._arrayMode = arrayMode
    this.batchSize = batchSize
    this._meta = null
    this._ended = false
    this.rowCount = 0
    this.command = null
    this.done = false
    // Rejects with the native payload: the error is built by the read that awaits it, so its
    // stack names the caller's functions. A failed start is reported by the first read (or
    // close), never as an unhandled rejection.
    this._handle = (async () => open())()
    this._handle.catch(() => {})
  }

  /** pgwarden's fields (`{ name, dataTypeID, … }`), once the first batch arrived. */
  get fields () {
    return this._meta ? this._meta.fields : null
  }

  /**
   * Up to `n` more rows ([] once done; with `n` 0, none, but `fields` is known after it); a
   * failure ends the statement and is thrown.
   */
  async read (n) {
    if (this.done) return []
    try {
      let json
      try {
        json = await (await this._handle).next(n)
      } catch (e) {
        throw fromNative(e)
      }
      const batch = JSON.parse(json)
      if (batch.fields) this._meta = batch
      this.command = batch.command
      const rows = this._meta ? buildRows(batch, this._meta.fields, this._meta.fix, this._arrayMode) : []
      this.rowCount += rows.length
      this.done = batch.done
      if (this.done) this._end()
      return rows
    } catch (e) {
      this.done = true
      this._end(e)
      throw e
    }
  }

  /** Stops reading: an unfinished statement is cancelled on the server. Idempotent. */
  async close () {
    if (this._ended) return
    this._scope.disarm()
    const handle = await this._handle.catch(() => null)
    if (handle !== null && !this.done) await handle.close()
    this.done = true
    this._end()
  }

  /** Reports how the statement ended, once. */
  _end (failure) {
    if (this._ended) return
    this._ended = true
    this._scope.disarm()
    if (failure) this._scope.failed(failure, this.rowCount)
    else this._scope.ended(this.rowCount)
  }
}

/** The rows of `reader`, `reader.batchSize` at a time, as an async iterable; leaving the loop early closes it. */
async function * rowsOf (reader) {
  try {
    while (!reader.done) {
      const rows = await reader.read(reader.batchSize)
      for (const row of rows) yield row
    }
  } finally {
    await reader.close()
  }
}

module.exports = { RowReader, rowsOf }
