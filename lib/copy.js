'use strict'
// COPY as Node streams: `copyFrom(sql)` a Writable that sends the data of a
// `COPY … FROM STDIN` (its `rowCount` set once it finished), `copyTo(sql)` a Readable of the
// data of a `COPY … TO STDOUT`. Chunks cross to the native side in batches (writev, and reads
// of at least 64 KB), and backpressure holds in both directions: the server is read only as
// fast as the Readable is consumed, and a write resolves only once the connection took it.

const { Readable, Writable } = require('node:stream')
const { fromNative } = require('./errors')

const READ_BYTES = 64 * 1024

/** The error of a native COPY step; an abort by the signal carries its reason, as queries do. */
function copyError (e, bounds) {
  const err = fromNative(e)
  if (bounds.signal && bounds.signal.aborted && err && err.code === '57014') err.cause = bounds.signal.reason
  return err
}

/**
 * A Readable over `start(timeoutMs, abortId)` (→ NativeCopyOut), started on the first read.
 * `bounds`: `{ timeoutMs, abortId, signal, done() }` of the COPY (each step is bounded).
 */
function copyTo (start, bounds) {
  let handle = null
  return new Readable({
    async read () {
      try {
        handle ??= await start(bounds.timeoutMs, bounds.abortId)
        const data = await handle.next(READ_BYTES)
        if (data === null) bounds.ended(null)
        this.push(data ?? null)
      } catch (e) {
        const err = copyError(e, bounds)
        bounds.ended(null, err)
        this.destroy(err)
      }
    },
    destroy (err, callback) {
      bounds.done()
      // Stopped early: the connection, with unread data on it, is closed.
      Promise.resolve(handle && handle.close()).then(() => callback(err), () => callback(err))
    }
  })
}

/** A Writable over `start(timeoutMs, abortId)` (→ NativeCopyIn), started on the first write or at the end. */
function copyFrom (start, bounds) {
  let handle = null
  let finished = false
  const writable = new Writable({
    async writev (chunks, callback) {
      try {
        handle ??= await start(bounds.timeoutMs, bounds.abortId)
        await handle.write(chunks.map((c) => c.chunk))
        callback()
      } catch (e) {
        const err = copyError(e, bounds)
        bounds.ended(null, err)
        callback(err)
      }
    },
    async final (callback) {
      try {
        handle ??= await start(bounds.timeoutMs, bounds.abortId)
        writable.rowCount = await handle.finish()
        finished = true
        bounds.ended(writable.rowCount)
        callback()
      } catch (e) {
        const err = copyError(e, bounds)
        bounds.ended(null, err)
        callback(err)
      }
    },
    destroy (err, callback) {
      bounds.done()
      // Destroyed before the end: CopyFail, nothing of this COPY is committed.
      if (!handle || finished) return callback(err)
      handle.abort().then(() => callback(err), () => callback(err))
    }
  })
  writable.rowCount = null
  return writable
}

module.exports = { copyTo, copyFrom }
