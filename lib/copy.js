'use strict'
// COPY as Node streams: `copyFrom(sql)` a Writable that sends the data of a
// `COPY … FROM STDIN` (its `rowCount` set once it finished), `copyTo(sql)` a Readable of the
// data of a `COPY … TO STDOUT`. Chunks cross to the native side in batches (writev, and reads
// of at least 64 KB), and backpressure holds in both directions: the server is read only as
// fast as the Readable is consumed, and a write resolves only once the connection took it.

const { Readable, Writable } = require('node:stream')
const { fromNative } = require('./errors')

const READ_BYTES = 64 * 1024

/** A Readable over `start()` (→ NativeCopyOut), started on the first read. */
function copyTo (start) {
  let handle = null
  return new Readable({
    async read () {
      try {
        handle ??= await start()
        this.push((await handle.next(READ_BYTES)) ?? null)
      } catch (e) {
        this.destroy(fromNative(e))
      }
    },
    destroy (err, callback) {
      // Stopped early: the connection, with unread data on it, is closed.
      Promise.resolve(handle && handle.close()).then(() => callback(err), () => callback(err))
    }
  })
}

/** A Writable over `start()` (→ NativeCopyIn), started on the first write or at the end. */
function copyFrom (start) {
  let handle = null
  let finished = false
  const writable = new Writable({
    async writev (chunks, callback) {
      try {
        handle ??= await start()
        await handle.write(chunks.map((c) => c.chunk))
        callback()
      } catch (e) {
        callback(fromNative(e))
      }
    },
    async final (callback) {
      try {
        handle ??= await start()
        writable.rowCount = await handle.finish()
        finished = true
        callback()
      } catch (e) {
        callback(fromNative(e))
      }
    },
    destroy (err, callback) {
      // Destroyed before the end: CopyFail, nothing of this COPY is committed.
      if (!handle || finished) return callback(err)
      handle.abort().then(() => callback(err), () => callback(err))
    }
  })
  writable.rowCount = null
  return writable
}

module.exports = { copyTo, copyFrom }
