'use strict'
// COPY as Node streams: `copyFrom(sql)` a Writable that sends the data of a
// `COPY … FROM STDIN` (its `rowCount` set once it finished), `copyTo(sql)` a Readable of the
// data of a `COPY … TO STDOUT`. Chunks cross to the native side in batches (writev, and reads
// of at least 64 KB), and backpressure holds in both directions: the server is read only as
// fast as the Readable is consumed, and a write resolves only once the connection took it.

const { Readable, Writable } = require('node:stream')
const { fromNative } = require('./errors')

const READ_BYTES = 64 * 1024

/**
 * Starts a COPY once: `begin()` calls `start(timeoutMs, abortId)` the first time and gives its
 * promise after. `eager`: begun now, so that on a held connection the COPY takes its place
 * among the statements in the order it was asked for.
 */
function starter (start, scope, eager) {
  let starting = null
  const begin = () => (starting ??= start(scope.timeoutMs, scope.abortId))
  if (eager) begin().catch(() => {}) // its error is the stream's, when it first needs the COPY
  return { begin, started: () => starting }
}

/**
 * A Readable over `start(timeoutMs, abortId)` (→ NativeCopyOut), started on the first read
 * (or at once with `eager`). `scope`: the COPY's StatementScope (lib/statement-scope.js): each
 * step is bounded by its timeoutMs and signal, and it reports how the COPY ended.
 */
function copyTo (start, scope, { eager = false } = {}) {
  const copy = starter(start, scope, eager)
  let handle = null
  return new Readable({
    async read () {
      try {
        handle ??= await copy.begin()
        const data = await handle.next(READ_BYTES)
        if (data === null) scope.ended(null)
        this.push(data ?? null)
      } catch (e) {
        this.destroy(scope.failed(fromNative(e)))
      }
    },
    destroy (err, callback) {
      scope.disarm()
      // Stopped early: the connection, with unread data on it, is closed.
      const started = copy.started()
      Promise.resolve(started && started.then((h) => h.close())).then(() => callback(err), () => callback(err))
    }
  })
}

/**
 * A Writable over `start(timeoutMs, abortId)` (→ NativeCopyIn), started on the first write or
 * at the end (or at once with `eager`); `scope` as for copyTo.
 */
function copyFrom (start, scope, { eager = false } = {}) {
  const copy = starter(start, scope, eager)
  let handle = null
  let finished = false
  const writable = new Writable({
    async writev (chunks, callback) {
      try {
        handle ??= await copy.begin()
        await handle.write(chunks.map((c) => c.chunk))
        callback()
      } catch (e) {
        callback(scope.failed(fromNative(e)))
      }
    },
    async final (callback) {
      try {
        handle ??= await copy.begin()
        writable.rowCount = await handle.finish()
        finished = true
        scope.ended(writable.rowCount)
        callback()
      } catch (e) {
        callback(scope.failed(fromNative(e)))
      }
    },
    destroy (err, callback) {
      scope.disarm()
      // Destroyed before the end: CopyFail, nothing of this COPY is committed.
      const started = copy.started()
      if (!started || finished) return callback(err)
      started.then((h) => h.abort()).then(() => callback(err), () => callback(err))
    }
  })
  writable.rowCount = null
  return writable
}

module.exports = { copyTo, copyFrom }
