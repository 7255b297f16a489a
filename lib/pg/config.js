'use strict'
// pg's Pool/Client configuration → pgwarden's Pool options. Keys pg has and pgwarden cannot
// honour are rejected when they would change behaviour; the harmless ones are ignored (listed
// in docs/API.md, "Coming from pg"). Defaults are pg's, not pgwarden's.

const native = require('../native')
const { configError } = require('../errors')
const { defaults } = require('./surface')

/**
 * The options pg has under the same name, or whose pg spelling is mapped below (the address
 * parts, `ssl`, `options`, `maxUses`, `onConnect`), and `int8`, which is pg's convention here.
 */
const MAPPED_FROM_PG = new Set(['connectionString', 'host', 'port', 'user', 'password', 'database', 'options', 'ssl',
  'maxUses', 'onConnect', 'int8'])

/** pgwarden's own option names (the settings table's, less the mapped ones), passed through. */
const PGWARDEN_KEYS = native.configOptionNames().filter((k) => !MAPPED_FROM_PG.has(k))

/** pg keys whose effect pgwarden cannot give: accepting them silently would change behaviour. */
const REJECTED = {
  binary: 'results always use pg\'s text conventions',
  pipeline: 'a client\'s statements run one after another; pool.query pipelines statements on shared connections (pipelineDepth)',
  replication: 'replication connections are not supported',
  stream: 'pgwarden opens its own sockets',
  Client: 'pgwarden opens its own connections',
  types: null // handled by the pool (custom type parsers), listed so it is not an unknown key
}

const SSL_KEYS = new Set(['ca', 'cert', 'key', 'rejectUnauthorized'])

/** pg's defaults that differ from pgwarden's (also what `pool.options` shows, as pg-pool's). */
const PG_DEFAULTS = { max: 10, idleTimeoutMillis: 10000, connectionTimeoutMillis: 0, maxLifetimeSeconds: 0 }

function checkRejected (config) {
  for (const [key, why] of Object.entries(REJECTED)) {
    if (why === null || config[key] === undefined || config[key] === false || config[key] === 0) continue
    throw configError(`pgwarden/pg: the pg option '${key}' is not supported (${why})`)
  }
  const ssl = config.ssl
  if (ssl !== null && typeof ssl === 'object') {
    const extra = Object.keys(ssl).filter((k) => !SSL_KEYS.has(k) && ssl[k] !== undefined)
    if (extra.length) throw configError(`pgwarden/pg: ssl option(s) ${extra.map((k) => `'${k}'`).join(', ')} not supported (ca, cert, key and rejectUnauthorized are)`)
  }
}

const env = (name) => (process.env[name] === '' ? undefined : process.env[name])

/**
 * A connection URL from host/port/user/password/database, each part encoded, falling back as
 * pg's do: the config, the PG* environment, then `pg.defaults`. A Unix socket directory goes
 * in the `host` query parameter.
 */
function connectionUrl (config, password) {
  const user = config.user ?? env('PGUSER') ?? defaults.user ?? 'postgres'
  const host = String(config.host ?? env('PGHOST') ?? defaults.host)
  const port = config.port ?? env('PGPORT') ?? defaults.port
  const database = config.database ?? env('PGDATABASE') ?? defaults.database ?? user
  const pass = password ?? env('PGPASSWORD') ?? defaults.password
  const auth = encodeURIComponent(user) + (pass !== undefined && pass !== null ? ':' + encodeURIComponent(pass) : '')
  const socket = host.startsWith('/')
  const hostPart = socket ? 'localhost' : host.includes(':') ? `[${host}]` : encodeURIComponent(host)
  const query = socket ? `?host=${encodeURIComponent(host)}` : ''
  return `postgres://${auth}@${hostPart}:${encodeURIComponent(port)}/${encodeURIComponent(database)}${query}`
}

/**
 * An ssl `ca`, `cert` or `key` as pg takes it (Node's tls options: PEM text as a string or a
 * Buffer, or an array of them) → the PEM text pgwarden takes. Anything else is refused:
 * pgwarden would read a string that is not PEM as a file path, which pg never does.
 */
function pemText (value, key) {
  const parts = (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v))
  if (parts.some((p) => typeof p !== 'string' || !p.includes('-----BEGIN'))) {
    throw configError(`pgwarden/pg: ssl.${key} must be PEM text (a string or Buffer, as pg takes it), e.g. fs.readFileSync('${key}.pem')`)
  }
  return parts.join('\n')
}

/** pg's `ssl`: undefined leaves the URL's sslmode (plain when it has none, as pg). */
function sslOption (config) {
  if (config.ssl === undefined || config.ssl === null) {
    return config.connectionString && /[?&]sslmode=/.test(config.connectionString) ? undefined : 'disable'
  }
  if (typeof config.ssl === 'boolean') return config.ssl
  const ssl = { ...config.ssl }
  for (const key of ['ca', 'cert', 'key']) if (ssl[key] !== undefined && ssl[key] !== null) ssl[key] = pemText(ssl[key], key)
  return ssl
}

const seconds = (s) => (s === undefined ? undefined : Number(s) * 1000)

/** An optional timeout in ms (pg's false, 0 or unset: none, 0). */
const timeoutMs = (t) => (t !== undefined && t !== null && Number(t) > 0 ? Number(t) : 0)

/**
 * pg's `keepAlive` and `keepAliveInitialDelayMillis` as pgwarden's `keepalives` and
 * `keepalivesIdleMs`, only where given: pg's defaults (off, 0) would turn keepalive off, so
 * pgwarden's stay (on, 30 s). The delay is taken in whole seconds, as Node's setKeepAlive and
 * pg's libpq mapping take it; 0 (pg's "leave it") keeps pgwarden's.
 */
function keepAlive (config, out) {
  if (typeof config.keepAlive === 'boolean') out.keepalives ??= config.keepAlive
  const delay = config.keepAliveInitialDelayMillis
  if (delay === undefined || delay === null || config.keepAlive === false) return
  const ms = Number(delay)
  if (!Number.isFinite(ms) || ms < 0) {
    throw configError(`pgwarden/pg: keepAliveInitialDelayMillis must be a non-negative number of ms, not ${String(delay)}`)
  }
  if (ms >= 1000) out.keepalivesIdleMs ??= Math.floor(ms / 1000) * 1000
}

/** A logger from pg-pool's `log(...args)` function: every level goes to it. */
function logFrom (log) {
  const f = (...args) => log(...args)
  return { debug: f, info: f, warn: f, error: f }
}

/**
 * pgwarden Pool options for a pg config. `password` is the resolved one (a function's
 * result), or undefined to read config.password.
 */
function poolOptions (config, password = config.password) {
  checkRejected({ ...sessionDefaults(), ...config })
  const c = { ...PG_DEFAULTS, ...sessionDefaults(), ...stripUndefined(config) }
  const out = {}
  for (const k of PGWARDEN_KEYS) if (config[k] !== undefined) out[k] = config[k]
  // pg reads any scheme its connection-string parser knows; pg:// is the short one.
  out.connectionString = config.connectionString ? config.connectionString.replace(/^pg:\/\//, 'postgres://') : connectionUrl(config, password)
  out.connectionLimit ??= c.max
  if (c.min !== undefined) out.minConnections ??= c.min
  out.idleTimeoutMs ??= c.idleTimeoutMillis
  out.poolTimeoutMs ??= c.connectionTimeoutMillis
  // pg rejects a failed connect at once: its connectionTimeoutMillis bounds the wait for a
  // client, it does not retry a refused server until then (with 0, forever).
  out.retryConnect ??= false
  out.connectTimeoutMs ??= c.connectionTimeoutMillis
  out.maxLifetimeMs ??= seconds(c.maxLifetimeSeconds)
  // pg's query_timeout is client-side: pgwarden's timeout, which also cancels the statement on
  // the server. Its statement_timeout is the server's setting, sent at startup as pg sends it
  // (SHOW shows it; the server cancels with 57014).
  out.queryTimeoutMs ??= timeoutMs(c.query_timeout)
  if (c.idle_in_transaction_session_timeout !== undefined) out.idleInTransactionTimeoutMs ??= c.idle_in_transaction_session_timeout
  // Startup options as libpq sends them; pg's lock_timeout and statement_timeout are `-c`s among them.
  const setting = (name) => (c[name] !== undefined && c[name] !== false ? `-c ${name}=${Number(c[name])}` : undefined)
  const startup = [c.options, setting('lock_timeout'), setting('statement_timeout')]
    .filter((o) => o !== undefined && o !== '')
  if (startup.length) out.options ??= startup.join(' ')
  keepAlive(config, out)
  // pg sends no application_name unless given: the server's default, ''.
  out.applicationName ??= c.application_name ?? c.fallback_application_name ?? ''
  const ssl = sslOption(config)
  if (ssl !== undefined) out.ssl = ssl
  if (typeof c.log === 'function' && out.logger === undefined) out.logger = logFrom(c.log)
  // pg-pool's maxUses (Infinity by default): pgwarden's 0 is "never".
  if (c.maxUses !== undefined) out.maxUses = c.maxUses === Infinity ? 0 : c.maxUses
  out.int8 = 'string' // pg's convention; setTypeParser(20, …) changes it per value
  return out
}

/** The `pg.defaults` a session setting falls back to, where set (pg's false: not set). */
const SESSION_DEFAULTS = ['application_name', 'fallback_application_name', 'options', 'statement_timeout', 'lock_timeout',
  'idle_in_transaction_session_timeout', 'query_timeout', 'binary']
function sessionDefaults () {
  const out = {}
  for (const k of SESSION_DEFAULTS) if (defaults[k] !== undefined && defaults[k] !== false) out[k] = defaults[k]
  return out
}

function stripUndefined (o) {
  const out = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out
}

/** A pg config from `new Pool(config)`'s argument (a connection string works too). */
function normalize (config) {
  if (typeof config === 'string') return { connectionString: config }
  return config !== null && typeof config === 'object' ? config : {}
}

/**
 * `options` with its password and its ssl key kept but not enumerable, as pg-pool keeps them:
 * `util.inspect` and `JSON.stringify` of a pool or client never show them. The ssl object is
 * copied (the caller's stays as it was).
 */
function withHiddenSecrets (options) {
  const hide = (o, key) => Object.defineProperty(o, key, { configurable: true, enumerable: false, writable: true, value: o[key] })
  if ('password' in options) hide(options, 'password')
  if (options.ssl !== null && typeof options.ssl === 'object') {
    options.ssl = { ...options.ssl }
    if ('key' in options.ssl) hide(options.ssl, 'key')
  }
  return options
}

module.exports = { poolOptions, normalize, withHiddenSecrets, PG_DEFAULTS }
