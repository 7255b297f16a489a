'use strict'
// A connection budget that holds across a fleet of app instances (`connectionLimit: 'auto'`
// with `fleet: { name, budget?, refreshMs?, headroom? }`), with the database as the only shared
// place. Each instance holds one beacon connection whose application_name is
// `pgwarden-fleet:<name>`: the instances of a fleet are the beacons the server has, and one that
// stops or dies (its session ends) is gone from the count at once. Every `refreshMs` each
// instance counts them, reads the server's limits, and resizes its pool to its share (the
// arithmetic is Rust's: src/fleet.rs). A new instance starts with one connection and takes its
// share after two refresh periods, once the others have shrunk to make room.

const native = require('./native')
const { configError } = require('./errors')

/** Defaults of the `fleet` option. */
const DEFAULTS = {
  name: undefined, // required
  budget: undefined, // the server's client slots (or the role's limit) × headroom
  beaconConnectionString: undefined, // behind PgBouncer: the server itself, where beacons are counted
  refreshMs: 5000,
  headroom: 0.8
}

const BEACON_PREFIX = 'pgwarden-fleet:'
const NAME = /^[A-Za-z0-9_.-]{1,40}$/

/** The `fleet` option, checked (with `connectionLimit: 'auto'`); null without one. */
function fleetOptions (options) {
  const f = options.fleet
  const auto = options.connectionLimit === 'auto'
  if (f === undefined || f === null) {
    if (auto) throw configError("connectionLimit: 'auto' needs the fleet option: { fleet: { name } }")
    return null
  }
  if (!auto) throw configError("The fleet option needs connectionLimit: 'auto' (the fleet sizes the pool)")
  if (typeof f !== 'object' || Array.isArray(f)) throw configError(`fleet must be an object, got ${typeof f}`)
  for (const k of Object.keys(f)) {
    if (!(k in DEFAULTS)) throw configError(`unknown fleet option "${k}" (known: ${Object.keys(DEFAULTS).join(', ')})`)
  }
  const o = { ...DEFAULTS, ...f }
  if (typeof o.name !== 'string' || !NAME.test(o.name)) throw configError('fleet.name must be 1 to 40 letters, digits, _ . or -')
  if (o.budget !== undefined && !(Number.isInteger(o.budget) && o.budget >= 1)) throw configError(`fleet.budget must be a whole number of connections of at least 1, got ${o.budget}`)
  if (!(Number.isFinite(o.refreshMs) && o.refreshMs >= 100)) throw configError(`fleet.refreshMs must be at least 100 ms, got ${o.refreshMs}`)
  if (!(typeof o.headroom === 'number' && o.headroom > 0 && o.headroom <= 1)) throw configError(`fleet.headroom must be above 0 and at most 1, got ${o.headroom}`)
  if (o.beaconConnectionString !== undefined && typeof o.beaconConnectionString !== 'string') throw configError('fleet.beaconConnectionString must be a connection string')
  return o
}

// What an instance reads at each refresh: the fleet's beacons, and the server's limits.
const REFRESH_SQL = `SELECT
  (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1) AS instances,
  current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int
    + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
  coalesce((SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user), -1) AS role_limit`

class Fleet {
  /**
   * The fleet membership of `pool`: `beacon` is a pool of one connection on the same server
   * (its application_name the fleet's), `opts` the checked fleet option.
   */
  constructor (pool, beacon, opts) {
    this.pool = pool
    this.beacon = beacon
    this.opts = opts
    this.client = null
    this.joinedAt = null
    this.timer = null
    this.refreshing = null
    this.failing = false
    this.stopped = false
    this.tooSmall = false
    this.state = { name: opts.name, instances: 0, budget: null, share: null, limit: 1, lastRefresh: null, lastError: null }
  }

  /** Joins the fleet (holds the beacon) and refreshes now, then every refreshMs. Never throws. */
  start () {
    this.timer = setInterval(() => this.refresh(), this.opts.refreshMs)
    this.timer.unref()
    return this.refresh()
  }

  /** One refresh: counts the fleet, resizes the pool. A failure is logged once, and retried next time. */
  refresh () {
    if (this.stopped) return Promise.resolve()
    if (this.refreshing !== null) return this.refreshing
    this.refreshing = this._refresh().catch((e) => {
      if (this.stopped) return
      this.state.lastError = `${e.code || ''} ${e.message}`.trim()
      // Its beacon may be gone, and the others then no longer count it: while it cannot tell,
      // it holds one connection, so the fleet stays within its budget.
      if (!this.failing) this.pool.logger.warn(`[pgwarden] fleet ${this.opts.name}: refresh failed (${this.state.lastError}); the pool holds one connection until a refresh succeeds`)
      this.failing = true
      this.resizeTo(1)
      if (this.client !== null) {
        this.client.release(true) // a new beacon next time
        this.client = null
      }
    }).finally(() => { this.refreshing = null })
    return this.refreshing
  }

  async _refresh () {
    if (this.client === null) {
      const client = await this.beacon.acquire()
      if (this.stopped) return client.release(true)
      this.client = client
      // The first join only: a beacon made again after a failure does not start over.
      if (this.joinedAt === null) this.joinedAt = performance.now()
    }
    const [row] = (await this.client.query(REFRESH_SQL, [BEACON_PREFIX + this.opts.name])).rows
    if (this.stopped) return
    const { budget, share, limit } = native.fleetShare(this.opts.budget, row.max_connections, row.reserved, row.role_limit, this.opts.headroom, row.instances)
    // New here: one connection until the others have had two refreshes to make room.
    const settling = performance.now() - this.joinedAt < 2 * this.opts.refreshMs
    const next = settling ? 1 : limit
    this.resizeTo(next)
    if (this.failing) this.pool.logger.info(`[pgwarden] fleet ${this.opts.name}: refreshing again`)
    this.failing = false
    if (share < 2 && !this.tooSmall) {
      this.pool.logger.warn(`[pgwarden] fleet ${this.opts.name}: a budget of ${budget} is too small for ${row.instances} instances: each still holds its beacon and one connection, ${2 * row.instances} in all`)
    }
    this.tooSmall = share < 2
    this.state = { name: this.opts.name, instances: row.instances, budget, share, limit: next, lastRefresh: new Date().toISOString(), lastError: null }
    if (settling) setTimeout(() => this.refresh(), 2 * this.opts.refreshMs - (performance.now() - this.joinedAt) + 10).unref()
  }

  /** Resizes the pool to `n` unless it has that limit already (set by the fleet only). */
  resizeTo (n) {
    if (this.stopped || n === this.state.limit) return
    this.pool._resize(n)
    this.state.limit = n
  }

  /** The fleet's gauges in Prometheus text, appended to `pool.metrics()`. */
  metrics () {
    const s = this.state
    return native.fleetMetrics(s.name, s.instances, s.budget ?? undefined, s.share ?? undefined)
  }

  /** `getPoolStats().fleet`. */
  stats () {
    return { ...this.state, refreshMs: this.opts.refreshMs }
  }

  /** Leaves the fleet: the beacon's session ends, so the others grow back at their next refresh. */
  async stop () {
    this.stopped = true
    clearInterval(this.timer)
    if (this.client !== null) this.client.release(true)
    this.client = null
    // Ending the beacon first rejects a refresh still waiting for it, so end() never waits on one.
    await this.beacon.end()
    await this.refreshing
  }
}

module.exports = { Fleet, fleetOptions, BEACON_PREFIX }
