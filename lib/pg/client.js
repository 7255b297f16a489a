'use strict'
// pg's clients: the one `pool.connect()` hands out (a held pgwarden connection), and the
// standalone `Client` (one connection, held from connect() to end()).

const { EventEmitter } = require('node:events')
const { Writable } = require('node:stream')
const { isCopyStream, adoptCopyStream } = require('./copy-streams')
const { queryArgs, settle } = require('./query-args')
const { toPgResult } = require('./result')
const { Query } = require('./query')
const { asPgError, escapeIdentifier, escapeLiteral } = require('./surface')
const { isSubmittable, submit } = require('./submittable')

/**
 * Re-emits the pool's `notification` and `notice` events on `client` while it has listeners
 * for them (the pool's events come from whichever of its connections received them: for a
 * standalone Client that is its one connection). `client._stopForwarding()` detaches.
 */
function forwardServerMessages (client, pool) {
  const forwards = new Map()
  client.on('newListener', (name) => {
    if ((name !== 'notification' && name !== 'notice') || forwards.has(name)) return
    const forward = (message) => client.emit(name, message)
    forwards.set(name, forward)
    pool.on(name, forward)
  })
  client._stopForwarding = () => {
    for (const [name, forward] of forwards) pool.off(name, forward)
    forwards.clear()
  }
}

/** Runs parsed pg arguments on a pgwarden pool or held client; the result in pg's shape. */
async function runPg (target, a) {
  let r
  try {
    r = await target.query(a.text, a.values, a.opts)
  } catch (e) {
    throw asPgError(e)
  }
  return toPgResult(r, a.opts.rowMode === 'array', a.getTypeParser)
}

/**
 * pg's `query(config, values?, callback?)` on a client, run by `run(args)`: arguments it cannot
 * run (a bad value, a name never given its text) reject, or reach the callback, on a later
 * tick, as pg reports them; only a null query throws, as pg's.
 */
function clientQuery (pool, config, values, callback, run) {
  let a
  try {
    a = queryArgs(config, values, callback, pool)
  } catch (e) {
    if (config === null || config === undefined) throw e
    const cb = typeof values === 'function' ? values : callback || (typeof config.callback === 'function' ? config.callback : undefined)
    return settle(Promise.reject(e), cb, pool._Promise)
  }
  return settle(run(a), a.callback, pool._Promise)
}

/**
 * A new connection as pg's `connect` event, `onConnect` and `verify` see it, before it serves
 * anyone: pg's `query(text | config, values?, callback?)` on pgwarden's setup client.
 */
class SetupPgClient extends EventEmitter {
  constructor (pool, setup) {
    super()
    this._pool = pool
    this._setup = setup
  }

  query (config, values, callback) {
    return clientQuery(this._pool, config, values, callback, (a) => runPg(this._setup, a))
  }
}

/** A connection from `pool.connect()`: pg's PoolClient. */
class PoolClient extends EventEmitter {
  constructor (pool, held) {
    super()
    this._pool = pool
    this._held = held
    this._released = false
    forwardServerMessages(this, pool)
    held._watchLost((err) => this._lost(err))
  }

  /**
   * The server closed this connection while it was held: pg's client emits `error` with what
   * the server said (a listener-less `error` is not thrown: it never crashes the process).
   */
  _lost (err) {
    this._connectionLost = true
    if (this.listenerCount('error') > 0) this.emit('error', asPgError(err))
    this.emit('lost')
  }

  /**
   * pg's `query(text | config, values?, callback?)`; a Query or a submittable (pg-cursor,
   * pg-query-stream), returned as pg returns it; pg-copy-streams' `from()`/`to()` too.
   */
  query (config, values, callback) {
    if (isCopyStream(config)) return adoptCopyStream(config, async (sql) => this._copy(config, sql))
    if (config instanceof Query) return config._runWith((c) => this._run(queryArgs(c, undefined, undefined, this._pool)))
    if (isSubmittable(config)) {
      submit(this._held, config, typeof values === 'function' ? values : callback)
      return config
    }
    return clientQuery(this._pool, config, values, callback, (a) => this._run(a))
  }

  /** pgwarden's COPY stream on this connection for a pg-copy-streams query. */
  _copy (query, sql) {
    return query instanceof Writable ? this._held.copyFrom(sql) : this._held.copyTo(sql)
  }

  _run (a) {
    return runPg(this._held, a)
  }

  /** Asks the server to cancel the statement running on this connection (pgwarden). */
  cancel () {
    return this._held.cancel()
  }

  /** pg's: the status of the connection's last ReadyForQuery, 'I', 'T' or 'E' (null before one). */
  getTransactionStatus () {
    return this._held._handle.transactionStatus()
  }

  /** Back to the pool; a truthy argument (an error, or true) closes the connection instead, as pg. */
  release (err) {
    if (this._released) throw new Error('Release called on client which has already been released to the pool.')
    this._released = true
    this._stopForwarding()
    this._pool._log(err ? 'remove client' : 'release client')
    this._pool.emit('release', err, this)
    this._held.release(Boolean(err))
    if (err) this._pool.emit('remove', this)
  }
}

/** The settings PostgreSQL reports to a client at startup (GUC_REPORT), as pg receives them. */
const REPORTED_SETTINGS = ['application_name', 'client_encoding', 'DateStyle', 'default_transaction_read_only',
  'in_hot_standby', 'integer_datetimes', 'IntervalStyle', 'is_superuser', 'server_encoding', 'server_version',
  'session_authorization', 'standard_conforming_strings', 'TimeZone']
const ANNOUNCE_SQL = 'SELECT pg_backend_pid() AS pid, n AS name, current_setting(n, true) AS value FROM unnest($1::text[]) n'

/**
 * pg's standalone Client: one session. It is a pgwarden pool of one connection, held from
 * connect() to end(), so session state (SET, temporary tables, LISTEN) lasts as in pg.
 */
class Client extends EventEmitter {
  constructor (config) {
    super()
    // Required here: pool.js requires this file for PoolClient.
    const { Pool } = require('./pool')
    const c = typeof config === 'string' ? { connectionString: config } : { ...(config || {}) }
    this._pool = new Pool({ ...c, max: 1, min: 0, idleTimeoutMillis: 0, maxLifetimeSeconds: 0 })
    this._pool.on('error', (e) => this._emitError(e))
    forwardServerMessages(this, this._pool)
    this._connecting = null
    this._client = null
    // pg's Connection, for what tools read of it: its `parameterStatus` messages at connect.
    this.connection = new EventEmitter()
    this.processID = null
    this.secretKey = null
    // Queries sent before connect() wait for it, as pg queues them until the client is ready.
    this._connectCalled = new Promise((resolve) => { this._onConnectCalled = resolve })
  }

  /** Opens the connection; a second call rejects, as pg's. */
  connect (callback) {
    if (this._connecting) {
      const e = new Error('Client has already been connected. You cannot reuse a client.')
      return settle(Promise.reject(e), callback, this._pool._Promise)
    }
    this._connecting = this._pool.connect().then(async (client) => {
      this._client = client
      // Its backend ended: pg's Client emits `error` (when listened to here), then `end`.
      client.on('error', (e) => this._emitError(e))
      client.on('lost', () => this._lost())
      await this._announce(client)
    })
    this._onConnectCalled()
    // pg's connect() resolves to the client.
    return settle(this._connecting.then(() => this), callback, this._pool._Promise)
  }

  /**
   * What pg's Client learns at startup: its backend's process id (`processID`, which Knex's
   * cancel uses) and the server's reported settings, emitted as `parameterStatus` messages on
   * `client.connection` (Sequelize reads server_version and standard_conforming_strings).
   * pgwarden's connections do not keep them, so one statement asks.
   */
  async _announce (client) {
    const r = await client._held.query(ANNOUNCE_SQL, [REPORTED_SETTINGS])
    for (const { pid, name, value } of r.rows) {
      this.processID = pid
      if (value !== null) this.connection.emit('parameterStatus', { parameterName: name, parameterValue: value })
    }
  }

  /** pg's `query`; before connect() settles it waits for it, as pg queues queries. */
  query (config, values, callback) {
    if (isCopyStream(config)) return adoptCopyStream(config, async (sql) => (await this._whenConnected())._copy(config, sql))
    if (config instanceof Query) {
      return config._runWith((c) => this._whenConnected().then((client) => client._run(queryArgs(c, undefined, undefined, this._pool))))
    }
    if (isSubmittable(config)) {
      submit(this._whenConnected().then((client) => client._held), config, typeof values === 'function' ? values : callback)
      return config
    }
    return clientQuery(this._pool, config, values, callback,
      (a) => this._drained(this._whenConnected().then((client) => client._run(a))))
  }

  /** pg's `error` event, when something listens (never thrown into the process otherwise). */
  _emitError (e) {
    if (this.listenerCount('error') > 0) this.emit('error', e)
  }

  /** After the client's `error` (PoolClient re-emits it to `error` listeners): `end`, once. */
  _lost () {
    if (this._endEmitted) return
    this._endEmitted = true
    this._stopForwarding()
    this.emit('end')
  }

  /** `running`, counted: once no query is left running, the client emits 'drain', as pg's. */
  _drained (running) {
    this._running = (this._running || 0) + 1
    const done = () => {
      if (--this._running === 0) this.emit('drain')
    }
    running.then(done, done)
    return running
  }

  async _whenConnected () {
    await this._connectCalled
    await this._connecting
    if (!this._client || this._client._released) throw new Error('Client was closed and is not queryable')
    return this._client
  }

  /** Closes the connection (never reused) and emits 'end'. */
  end (callback) {
    const closing = (async () => {
      if (this._connecting) await this._connecting.catch(() => {})
      else this._onConnectCalled() // queued queries then find the client closed
      if (this._client && !this._client._released) this._client._held.release(true)
      if (!this._pool.ending) await this._pool.end()
      this._stopForwarding()
      if (!this._endEmitted) {
        this._endEmitted = true
        this.emit('end')
      }
    })()
    return settle(closing, callback, this._pool._Promise)
  }

  /** pg's: the status of the connection's last ReadyForQuery, 'I', 'T' or 'E' (null before one). */
  getTransactionStatus () {
    return this._client && !this._client._released ? this._client.getTransactionStatus() : null
  }

  /** The pgwarden pool of this client's one connection (stats, metrics, events). */
  get pgwarden () {
    return this._pool.pgwarden
  }
}

for (const C of [PoolClient, Client]) {
  C.prototype.escapeIdentifier = escapeIdentifier
  C.prototype.escapeLiteral = escapeLiteral
}

module.exports = { PoolClient, SetupPgClient, Client, runPg }
