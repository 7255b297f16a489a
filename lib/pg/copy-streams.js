'use strict'
// pg-copy-streams' `from(sql)` / `to(sql)` query objects, as pg users pass them to
// `client.query(...)`: their stream is kept (the caller writes to or reads from it) and wired to
// pgwarden's copyFrom / copyTo on the same connection.

const { Writable, Readable } = require('node:stream')

/** Whether `config` is a pg-copy-streams query (a stream that pg would `submit`). */
function isCopyStream (config) {
  return config !== null && typeof config === 'object' && typeof config.submit === 'function' &&
    typeof config.text === 'string' && /^\s*copy\b/i.test(config.text) && (config instanceof Writable || config instanceof Readable)
}

/**
 * Wires pg-copy-streams' `query` to pgwarden: `open(sql)` resolves to pgwarden's Writable (for
 * `from`) or Readable (for `to`). Returns `query`, as pg's `client.query(submittable)` does.
 */
function adoptCopyStream (query, open) {
  return query instanceof Writable ? intoWritable(query, open) : fromReadable(query, open)
}

function intoWritable (query, open) {
  let opened = null
  const sink = () => (opened ??= open(query.text).then((s) => {
    s.on('error', (e) => query.destroy(e))
    return s
  }))
  const send = (chunks, cb) => sink().then((s) => {
    let ok = true
    for (const c of chunks) ok = s.write(c.chunk, c.encoding)
    if (ok) cb()
    else s.once('drain', () => cb())
  }, cb)
  query._write = (chunk, encoding, cb) => send([{ chunk, encoding }], cb)
  query._writev = (chunks, cb) => send(chunks, cb)
  query._final = (cb) => sink().then((s) => {
    s.once('finish', () => {
      query.rowCount = s.rowCount
      cb()
    })
    s.end()
  }, cb)
  query._destroy = (err, cb) => {
    if (opened && err) opened.then((s) => s.destroy(err), () => {})
    cb(err)
  }
  query.uncork() // pg-copy-streams corks until the server is ready; pgwarden's stream waits itself
  return query
}

function fromReadable (query, open) {
  let stream = null
  let starting = false
  query._read = () => {
    if (stream) return stream.resume()
    if (starting) return
    starting = true
    open(query.text).then((s) => {
      stream = s
      s.on('data', (d) => { if (!query.push(d)) s.pause() })
      s.on('end', () => query.push(null))
      s.on('error', (e) => query.destroy(e))
    }, (e) => query.destroy(e))
  }
  query._destroy = (err, cb) => {
    // Stopped early: pgwarden's stream closes its connection.
    if (stream) stream.destroy()
    cb(err)
  }
  return query
}

module.exports = { isCopyStream, adoptCopyStream }
