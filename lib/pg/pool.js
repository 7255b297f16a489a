'use strict'
// pg's Pool over a pgwarden Pool: pg's methods, properties and events; pgwarden's own methods
// and events reached through it. The pgwarden pool is made at once (a `password` function is
// asked for each new connection, as pg asks it).

const { EventEmitter } = require('node:events')
const { Pool: PgWardenPool } = require('../pool')
const { poolOptions, normalize, withHiddenSecrets, PG_DEFAULTS } = require('./config')
const { queryArgs, settle } = require('./query-args')
const { PoolClient, SetupPgClient, runPg } = require('./client')
const { Query } = require('./query')
const { isSubmittable, submit } = require('./submittable')

/** Events of the pgwarden pool re-emitted by this one, subscribed only while someone listens. */
const FORWARDED = ['error', 'slowQuery', 'highUtilization', 'query', 'notification', 'notice']

/** A connection that verify or onConnect refused: the call fails with their own error, as pg's. */
function setupFailure (e) {
  throw e && e.code === 'ERR_PGWARDEN_ON_CONNECT' && e.cause !== undefined ? e.cause : e
}

class Pool extends EventEmitter {
  constructor (config) {
    super()
    const c = normalize(config)
    this.options = withHiddenSecrets({ ...PG_DEFAULTS, ...c })
    this._types = c.types
    // pg's `Promise` option: the class of the promises its methods return.
    this._Promise = typeof c.Promise === 'function' ? c.Promise : null
    // Named queries' texts by name (pg keeps them per connection; any connection here).
    this._names = new Map()
    this.ending = false
    this.ended = false
    this._inner = null
    this._forwarders = new Map()
    // pg-pool's `log`: called with its lifecycle lines (pgwarden's own log lines go to it too).
    this._log = typeof c.log === 'function' ? c.log : () => {}
    // pg-pool's sockets keep the process alive while it has connections, unless allowExitOnIdle;
    // the native pool's never do, so a timer stands in for them (see `_holdProcess`).
    this._holding = null
    // A configuration pgwarden refuses fails the pool's first query or connect, as pg reports
    // a bad configuration, not the constructor.
    this._configError = null
    try {
      const passwordFn = typeof c.password === 'function' ? c.password : null
      const options = poolOptions(c, passwordFn ? '' : c.password)
      // Each new connection is set up as pg-pool sets one up: verify, the `connect` event, onConnect.
      options.onConnect = (setup) => this._setUp(new SetupPgClient(this, setup), c)
      // pgwarden's Pool asks a password function for each new connection, as pg does.
      this._adopt(new PgWardenPool(passwordFn ? { ...options, password: passwordFn } : options))
    } catch (e) {
      this._configError = e
    }
    this.on('newListener', (name) => this._subscribe(name))
    this.on('removeListener', (name) => this._unsubscribe(name))
  }

  /** The pgwarden pool (a rejection when its configuration was refused). */
  _ready () {
    return this._configError ? Promise.reject(this._configError) : Promise.resolve(this._inner)
  }

  _adopt (inner) {
    this._inner = inner
    for (const name of FORWARDED) if (this.listenerCount(name) > 0) this._subscribe(name)
    return inner
  }

  /**
   * A new connection, before it serves anyone, as pg-pool takes one in: `onConnect(client)`,
   * the `connect` event, then `verify(client, cb)`. A failure closes the connection and fails
   * the call that opened it with that failure (see `setupFailure`).
   */
  async _setUp (client, config) {
    this._log('new client connected')
    if (typeof config.onConnect === 'function') await config.onConnect(client)
    this.emit('connect', client)
    if (typeof config.verify === 'function') {
      await new Promise((resolve, reject) => config.verify(client, (err) => (err ? reject(err) : resolve())))
    }
  }

  _subscribe (name) {
    if (!FORWARDED.includes(name) || !this._inner || this._forwarders.has(name)) return
    const forward = (payload) => this.emit(name, payload)
    this._forwarders.set(name, forward)
    this._inner.on(name, forward)
  }

  _unsubscribe (name) {
    const forward = this._forwarders.get(name)
    // Without listeners the pgwarden pool logs instead (slow queries, idle connection errors).
    if (!forward || this.listenerCount(name) > 0) return
    this._inner.off(name, forward)
    this._forwarders.delete(name)
  }

  /**
   * Keeps the process alive while the pool has connections, as pg-pool's idle sockets do
   * unless `allowExitOnIdle` is true: a timer, checked each second, gone once the pool has no
   * connection left (idleTimeoutMillis closed them) or is ending.
   */
  _holdProcess () {
    if (this._holding !== null || this.options.allowExitOnIdle === true) return
    this._holding = setInterval(() => {
      if (this.ending || this._count('total') === 0) this._letProcessGo()
    }, 1000)
  }

  _letProcessGo () {
    if (this._holding !== null) clearInterval(this._holding)
    this._holding = null
  }

  /**
   * pg's `query(text | config, values?, callback?)`; a promise without a callback. A Query or
   * a submittable runs on a client of its own, given back once it finished.
   */
  query (config, values, callback) {
    this._holdProcess()
    if (config instanceof Query) return config._runWith((c) => this.query(c))
    if (isSubmittable(config)) {
      const client = this._acquire()
      const done = submit(client.then((c) => c._held), config, typeof values === 'function' ? values : callback)
      done.then(() => client.then((c) => c.release(), () => {}))
      return config
    }
    let a
    try {
      a = queryArgs(config, values, callback, this)
    } catch (e) {
      // pg-pool reports a query it cannot run through the callback or promise, not a throw.
      return settle(Promise.reject(e), typeof values === 'function' ? values : callback, this._Promise)
    }
    const run = this._inner ? runPg(this._inner, a) : this._ready().then((inner) => runPg(inner, a))
    return settle(run.catch(setupFailure), a.callback, this._Promise)
  }

  /** pg's `connect()`: a client to `release()`; or `connect((err, client, done) => …)`. */
  connect (callback) {
    this._holdProcess()
    const acquiring = this._acquire()
    if (!callback) return settle(acquiring, undefined, this._Promise)
    acquiring.then((client) => process.nextTick(callback, undefined, client, (err) => client.release(err)),
      (e) => process.nextTick(callback, e, undefined, () => {}))
    return undefined
  }

  async _acquire () {
    const inner = await this._ready()
    const client = new PoolClient(this, await inner.acquire().catch(setupFailure))
    this._log('acquire client')
    this.emit('acquire', client)
    return client
  }

  /** pg's `end()`: a second call rejects, as pg's. Work in flight gets pgwarden's end timeout (5 s). */
  end (callback) {
    if (this.ending) return settle(Promise.reject(new Error('Called end on pool more than once')), callback, this._Promise)
    this.ending = true
    this._letProcessGo()
    this._log('ending')
    const ending = (this._inner ? this._inner.end() : Promise.resolve()).then(() => {
      this.ended = true
    })
    return settle(ending, callback, this._Promise)
  }

  /** The pgwarden pool behind this one (built with it). */
  get pgwarden () {
    return this._inner
  }

  get totalCount () { return this._count('total') }
  get idleCount () { return this._count('idle') }
  get waitingCount () { return this._count('waiting') }
  get expiredCount () { return 0 }

  _count (key) {
    return this._inner ? this._inner.getPoolStats().pool[key] : 0
  }
}

/** pgwarden's methods that work before the pool opened (they wait for it). */
for (const name of ['healthCheck', 'checkDatabaseConnection', 'getConnectionPoolStats', 'getDatabaseStats',
  'transaction', 'executeScript', 'withRetry', 'acquire']) {
  Pool.prototype[name] = async function (...args) {
    return (await this._ready())[name](...args)
  }
}
/** pgwarden's synchronous methods: on the open pool. */
for (const name of ['getPoolStats', 'resetStats', 'metrics', 'replica']) {
  Pool.prototype[name] = function (...args) {
    return this.pgwarden[name](...args)
  }
}
/** pgwarden's bounded-memory row stream. */
Pool.prototype.stream = async function * (...args) {
  yield * (await this._ready()).stream(...args)
}

module.exports = { Pool }
