'use strict'
// pg's submittable protocol: `client.query(x)` where `x.submit(connection)` drives pg's
// Connection itself (pg-cursor, pg-query-stream, and through them the streams of Knex, TypeORM,
// Kysely and MikroORM). `SubmittedConnection` is the part of pg's Connection they use — parse,
// bind, describe, execute, flush, close and sync, and the messages back (handleRowDescription,
// handleDataRow, handlePortalSuspended, handleCommandComplete, handleError,
// handleReadyForQuery) — backed by a pgwarden row stream on the held connection, so a cursor
// reads with bounded memory as under pg. Values reach the submittable as the server's text,
// as pg's Connection gives them, for its own parsers.

const { EventEmitter } = require('node:events')
const { PG_DRIVER_FIELDS, PG_TEXT_TYPES } = require('../pool')
const { ALL_TEXT_TYPES } = require('./values')
const { pgField } = require('./result')
const { asPgError } = require('./surface')

/** Whether `config` is a submittable (pg: anything with a `submit` function). */
const isSubmittable = (config) => config !== null && typeof config === 'object' && typeof config.submit === 'function'

/** Rows read per batch when an Execute asks for all of them. */
const ALL_ROWS_BATCH = 500

/** pg's command tag text for a statement's command and row count (`INSERT 0 5`, `SELECT 5`). */
function commandTag (command, rows) {
  if (command === 'INSERT') return `INSERT 0 ${rows}`
  if (['SELECT', 'UPDATE', 'DELETE', 'MERGE', 'FETCH', 'MOVE', 'COPY'].includes(command)) return `${command} ${rows}`
  return command || ''
}

class SubmittedConnection extends EventEmitter {
  /**
   * Drives `submittable` on `client` (a held pgwarden client); `finished()` is called once,
   * after its ReadyForQuery.
   */
  constructor (client, submittable, finished) {
    super()
    this._client = client
    this._submittable = submittable
    this._finished = finished
    this._parse = null
    this._bind = null
    this._describe = false
    this._executeRows = null
    this._closing = false
    this._reader = null
    this._failed = false
    this._ended = false
    // Messages are answered in order, each after the one before, as the server answers them.
    this._work = Promise.resolve()
  }

  parse (msg) { this._parse = msg }
  bind (msg) { this._bind = msg }
  describe () { this._describe = true }
  execute (msg) { this._executeRows = (msg && msg.rows) || 0 }
  close () { this._closing = true }

  flush () {
    // The statement starts at once (its place on the connection is taken now).
    if (this._reader === null && this._parse !== null && this._bind !== null) this._start()
    const describe = this._describe
    const rows = this._executeRows
    this._describe = false
    this._executeRows = null
    this._then(async () => {
      if (describe) await this._answerDescribe()
      if (rows !== null) await this._answerExecute(rows)
    })
  }

  sync () {
    if (this._reader === null && this._parse !== null && this._bind !== null) this._start()
    this.flush()
    this._then(async () => {
      if (this._reader !== null && !this._reader.done) await this._reader.close().catch(() => {})
      this._end()
    })
  }

  /** pg's simple-protocol query: not something a cursor sends. */
  query () {
    throw new Error('pgwarden/pg: this submittable uses the simple query protocol, which pgwarden/pg does not drive; use client.query(text)')
  }

  /** Ends the submittable without a statement (its connection ended first). */
  end () {
    this._then(async () => this._end())
  }

  _start () {
    const values = this._bind.values || []
    const mapped = typeof this._bind.valueMapper === 'function' ? values.map(this._bind.valueMapper) : values
    const opts = { rowMode: 'array', [PG_DRIVER_FIELDS]: true, [PG_TEXT_TYPES]: ALL_TEXT_TYPES }
    try {
      this._reader = this._client._openRows(this._parse.text, mapped, opts)
    } catch (e) {
      this._reader = null
      this._fail(e)
    }
  }

  async _answerDescribe () {
    if (this._failed || this._reader === null) return
    try {
      await this._reader.read(0)
    } catch (e) {
      return this._fail(e)
    }
    const fields = this._reader.fields || []
    if (fields.length === 0) this.emit('noData')
    else {
      this.emit('rowDescription')
      this._submittable.handleRowDescription({ fields: fields.map(pgField) })
    }
  }

  async _answerExecute (limit) {
    if (this._failed || this._reader === null) return
    const reader = this._reader
    // pg's Execute: `limit` rows, or all of them when 0.
    const wanted = limit === 0 ? Infinity : limit
    let sent = 0
    try {
      while (!reader.done && sent < wanted) {
        const rows = await reader.read(Math.min(ALL_ROWS_BATCH, wanted - sent))
        for (const row of rows) this._submittable.handleDataRow({ fields: row })
        sent += rows.length
      }
    } catch (e) {
      return this._fail(e)
    }
    if (reader.done) this._submittable.handleCommandComplete({ text: commandTag(reader.command, reader.rowCount) })
    else this._submittable.handlePortalSuspended()
  }

  _fail (e) {
    this._failed = true
    this._submittable.handleError(asPgError(e), this)
  }

  _end () {
    if (this._ended) return
    this._ended = true
    this._submittable.handleReadyForQuery()
    this.emit('readyForQuery')
    this._finished()
  }

  _then (step) {
    this._work = this._work.then(step).catch((e) => this._fail(e))
  }
}

/**
 * Submits `submittable` on `client` (a held pgwarden client, or a promise of one): pg's
 * `client.query(submittable, callback?)`, which returns the submittable; failures reach it
 * through `handleError` on a later tick, as under pg. Resolves once it is finished.
 */
function submit (client, submittable, callback) {
  if (typeof callback === 'function') submittable.callback = submittable.callback || callback
  return new Promise((resolve) => {
    Promise.resolve(client).then((held) => {
      submittable.submit(new SubmittedConnection(held, submittable, resolve))
    }, (e) => {
      process.nextTick(() => {
        submittable.handleError(asPgError(e))
        resolve()
      })
    })
  })
}

module.exports = { isSubmittable, submit, SubmittedConnection }
