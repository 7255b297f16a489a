// Type definitions for pgwarden.
import { EventEmitter } from 'node:events'

/** A console-like logger; pino works as is. */
export interface Logger {
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

/** TLS settings, as in `pg`: `true` verifies the certificate, `{ rejectUnauthorized: false }` does not. */
export type SslOption =
  | boolean
  | 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'
  | { mode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'; rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string }

/** Pool options. Precedence: option > URL query parameter > environment variable > default. */
export interface PoolOptions {
  /** postgres://user:password@host:port/db?params — default DATABASE_URL, else the parts below. */
  connectionString?: string
  /** Server host or socket directory (URL host, PGHOST). Default localhost. */
  host?: string
  /** Server port (PGPORT). Default 5432. */
  port?: number | string
  /** Role (PGUSER). Default postgres. */
  user?: string
  /** Password (PGPASSWORD; else looked up in the password file), or a function asked for each new connection (rotating credentials such as IAM tokens). */
  password?: string | (() => string | Promise<string>)
  /** Database (dbname, PGDATABASE). Default: named as the user. */
  database?: string
  /** libpq's password file (PGPASSFILE). Default ~/.pgpass. */
  passfile?: string
  /** Startup options, `-c name=value …` (PGOPTIONS). */
  options?: string
  /** Maximum connections (connection_limit, DB_CONNECTION_LIMIT, ...). Default cpus×2+1. `'auto'` with `fleet`: a share of the fleet's budget. */
  connectionLimit?: number | 'auto'
  /** With connectionLimit 'auto': instances of the fleet share its budget, found through the database. */
  fleet?: FleetOptions
  /** Connections kept open when idle; after the first statement the pool refills to this number when connections close or the server comes back (with backoff). Default 0. */
  minConnections?: number
  /** Longest wait for a pooled connection, ms (pool_timeout in s). Default 10000; 0 waits forever. */
  poolTimeoutMs?: number
  /** Callers that may wait for a connection at once; one more is refused at once with a retryable P2024. Default 0: no cap. */
  maxWaiting?: number
  /** Retry a connection attempt that sent nothing (refused, timed out) while poolTimeoutMs allows; false fails at once, as pg. Default true. */
  retryConnect?: boolean
  /** Longest wait to open one connection, ms (connect_timeout in s). Default 5000. */
  connectTimeoutMs?: number
  /** TCP keepalive on each connection (libpq's keepalives). Default true. */
  keepalives?: boolean
  /** Silence before the first keepalive probe, ms in whole seconds (keepalives_idle in s). Default 30000; 0: the system's. */
  keepalivesIdleMs?: number
  /** Time between unanswered keepalive probes, ms in whole seconds (keepalives_interval in s). Default 10000; 0: the system's. */
  keepalivesIntervalMs?: number
  /** Unanswered probes before the connection is dropped (keepalives_count). Default 3; 0: the system's. */
  keepalivesCount?: number
  /** How long sent data may stay unacknowledged before the connection is dropped, ms (tcp_user_timeout; Linux). Default 0: the system's. */
  tcpUserTimeoutMs?: number
  /** Idle connections above minConnections close after this, ms (idle_timeout in s). Default 60000. */
  idleTimeoutMs?: number
  /** Connections are replaced after this age, ms (max_lifetime in s). Default 1800000. */
  maxLifetimeMs?: number
  /** Statement timeout, ms; the statement is cancelled on the server (statement_timeout). Default 30000. */
  queryTimeoutMs?: number
  /** Server-side idle_in_transaction_session_timeout, ms. Default unset. */
  idleInTransactionTimeoutMs?: number
  /** Named prepared statements kept per connection (LRU). Default 100; forced 0 with pgbouncer. */
  statementCacheSize?: number
  /**
   * The most `pool.query` statements one connection carries at once when every connection is
   * busy: they are sent in one write and answered in order. Default 8; 1 sends one at a time.
   * Forced 1 with pgbouncer or statementCacheSize 0.
   */
  pipelineDepth?: number
  /** Running behind PgBouncer in transaction mode (no named statements). */
  pgbouncer?: boolean
  /** Statements slower than this are reported, ms. Default 1000. */
  slowQueryThresholdMs?: number
  /** Utilization (0..1] that raises highUtilization. Default 0.8. */
  utilizationAlertThreshold?: number
  /** Minimum time between two highUtilization events, ms. Default 10000; 0 alerts on every crossing. */
  utilizationAlertCooldownMs?: number
  /** Read replica URLs (DATABASE_REPLICA_URLS or DATABASE_REPLICA_URL, comma-separated); each gets a pool with the primary's settings unless its URL overrides them. */
  replicaUrls?: string[]
  /** Skip a replica whose replay lag is over this, ms, until it catches up. Default unset (lag ignored). */
  maxReplicaLagMs?: number
  /** application_name. Default 'pgwarden'. */
  applicationName?: string
  /** search_path for every connection. */
  schema?: string
  /** The sessions' TimeZone ('UTC', …). Default: the database's. */
  timeZone?: string
  /** TLS; libpq semantics (sslmode). Default 'prefer'. */
  ssl?: SslOption
  /** How int8 values arrive. Default 'string'. */
  int8?: 'string' | 'bigint' | 'number'
  /** Where pgwarden logs; `false` silences it. Default console. */
  logger?: Logger | false
  /** Allow parameters in logs and slow-query events. Default false. */
  logParams?: boolean
  /** Which server a new connection accepts among the hosts (libpq's target_session_attrs). Default 'any'. */
  targetSessionAttrs?: 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby'
  /** Try the hosts in a random order ('random') or as listed ('disable', the default). */
  loadBalanceHosts?: 'disable' | 'random'
  /** Most verbose native log level forwarded to `logger`. Default 'info'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
  /** Fail fast while the server is down: open after `failureThreshold` connection failures for `cooldownMs`, one probe per cool-down. Off by default. */
  circuitBreaker?: boolean | { failureThreshold?: number; cooldownMs?: number }
  /** Warn when a client is held longer than this, ms (0 = off). */
  leakDetectionThresholdMs?: number
  /** Run on each new connection before it serves anyone; a throw closes it (ERR_PGWARDEN_ON_CONNECT). */
  onConnect?: (client: SetupClient) => Promise<void> | void
  /** Close a connection after this many checkouts (0: never). */
  maxUses?: number
  /** Check a connection idle at least this long (ms) with one round trip before handing it out (0: never). Default 1000. */
  idleCheckMs?: number
  /** OpenTelemetry spans and metrics (needs @opentelemetry/api). Off by default. */
  telemetry?: boolean | TelemetryOptions
}

/** The object form of the `telemetry` option (and of `enableTelemetry`'s options). */
export interface TelemetryOptions {
  /** Where spans go. Default the global tracer provider. */
  tracerProvider?: { getTracer(name: string, version?: string): unknown }
  /** Where metrics go. Default the global meter provider. */
  meterProvider?: { getMeter(name: string, version?: string): unknown }
  /** A checkout that waited at least this long, ms, gets a `pgwarden.checkout` span. Default 10. */
  checkoutSpanThresholdMs?: number
  /** `db.client.connection.pool.name` of the pool's metrics. Default `host:port/database`. */
  poolName?: string
}

/** Per-statement options. */
export interface QueryOptions {
  /** Overrides queryTimeoutMs for this statement. */
  timeoutMs?: number
  /** A read for the read replicas (round-robin over those in rotation; the primary when none is). Ignored on a client or in a transaction, which always use the primary. */
  replica?: boolean
  /** Aborting cancels the statement on the server; it rejects with code 57014, kind 'cancelled'. */
  signal?: AbortSignal
  /** Rows as arrays instead of objects. */
  rowMode?: 'array'
}

/** A pg-style query config object. */
export interface QueryConfig extends QueryOptions {
  text: string
  values?: QueryValue[]
}

/** A value that can be sent as a parameter. */
export type QueryValue =
  | null | undefined | boolean | number | bigint | string | Date | Buffer | Uint8Array
  | QueryValue[] | { [key: string]: unknown }

/** A column of a result. */
export interface FieldInfo {
  name: string
  dataTypeID: number
}

/** A pg-compatible result. */
export interface QueryResult<R = Record<string, unknown>> {
  rows: R[]
  /** Rows returned or affected; null for commands without a count (DDL). */
  rowCount: number | null
  fields: FieldInfo[]
  /** SELECT, INSERT, UPDATE, DELETE, CREATE, ... */
  command: string
}

export interface StreamOptions extends QueryOptions {
  /** Rows fetched per round trip to the native layer. Default 500. */
  batchSize?: number
  /**
   * Bounds the start of the stream and each wait for the next batch (not the whole stream), ms;
   * default the pool's queryTimeoutMs. When it passes the statement is cancelled on the server (P1008).
   */
  timeoutMs?: number
}

export interface ScriptOptions {
  /** Bounds the script, ms; default the pool's queryTimeoutMs. The script is cancelled on the server (P1008). */
  timeoutMs?: number
  /** Cancels the script on the server when it aborts (57014, `cause` = the abort reason). */
  signal?: AbortSignal
}

export interface EndOptions {
  /**
   * How long work in flight may take to finish, ms. Default 5000. Statements still running then
   * are cancelled on the server and reject with ERR_PGWARDEN_CLOSED (maybeCommitted unless the
   * server confirmed the cancel).
   */
  timeoutMs?: number
}

export type ErrorKind =
  | 'connection' | 'timeout' | 'pool_timeout' | 'serialization' | 'deadlock'
  | 'too_many_connections' | 'server_unavailable' | 'constraint' | 'syntax' | 'permission'
  | 'data' | 'config' | 'params' | 'closed' | 'cancelled' | 'other'

/** Every rejection from pgwarden. */
export declare class PgWardenError extends Error {
  /** SQLSTATE for server errors, else P1001, P1002, P1008, P1011 (TLS refused), P1017, P2024, P2028, ERR_PGWARDEN_*. */
  code: string
  kind: ErrorKind
  retryable: boolean
  /** The statement may have taken effect (connection lost after it was sent). */
  maybeCommitted: boolean
  severity?: string
  detail?: string
  hint?: string
  position?: string
  internalPosition?: string
  internalQuery?: string
  where?: string
  schema?: string
  table?: string
  column?: string
  dataType?: string
  constraint?: string
  file?: string
  line?: string
  routine?: string
  /** The SQL text (never the parameters). */
  query?: string
  /** ERR_PGWARDEN_SELF_DEADLOCK: the stack of where its scope's held connection was acquired. */
  heldConnectionAcquiredAt?: string
}

export interface Classification {
  retryable: boolean
  kind: ErrorKind
  code: string | undefined
}

/** A connection held by `pool.acquire()`. */
export declare class Client {
  /**
   * Runs one statement. Text holding several statements (and no values) runs as pg runs it:
   * the simple protocol, one implicit transaction, and an array of results (cast the result);
   * with values it rejects `ERR_PGWARDEN_PARAMS` before anything is sent.
   */
  query<R = Record<string, unknown>>(text: string | QueryConfig, values?: QueryValue[] | QueryOptions, opts?: QueryOptions): Promise<QueryResult<R>>
  executeScript(sql: string, opts?: ScriptOptions): Promise<void>
  /**
   * Rows of a statement on this connection with bounded memory; it takes its place among this
   * connection's statements now and holds the connection until the loop ends (leaving early
   * cancels the statement and keeps the connection).
   */
  stream<R = Record<string, unknown>>(text: string, values?: QueryValue[], opts?: StreamOptions): AsyncGenerator<R, void, undefined>
  /** A Writable for `COPY … FROM STDIN` on this connection; `rowCount` once it finished. */
  copyFrom(sql: string, opts?: ScriptOptions): import('node:stream').Writable & { rowCount: number | null }
  /** A Readable of the data of `COPY … TO STDOUT` on this connection. */
  copyTo(sql: string, opts?: ScriptOptions): import('node:stream').Readable
  /** Asks the server to cancel the statement running on this connection, if any. */
  cancel(): Promise<void>
  /** Returns the connection; `release(true)` or `release(err)` closes it instead. */
  release(destroy?: boolean | Error): void
}

export interface PoolStatsSnapshot {
  /** utilization in percent. */
  pool: { active: number; idle: number; total: number; limit: number; waiting: number; utilization: number }
  queries: {
    queriesExecuted: number; slowQueries: number; queryErrors: number; pipelined: number; averageQueryTime: number
    p50: number; p95: number; p99: number; maxQueryTime: number
    /** percent */
    slowQueryRate: number; uptimeMs: number; lastResetTime: string
  }
  /** `rejectedLineFull`: callers refused at once because `maxWaiting` callers were waiting. */
  acquire: { count: number; averageMs: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; timeouts: number; rejectedLineFull: number }
  retries: { attempts: number; succeededAfterRetry: number; exhausted: number }
  /** With connectionLimit 'auto': the fleet seen at the last refresh; `share` counts the beacon, `limit` is the pool's. */
  fleet?: { name: string; instances: number; budget: number | null; share: number | null; limit: number; lastRefresh: string | null; lastError: string | null; refreshMs: number }
  /** Statements of request scopes (`withContext`) stopped by a client hanging up, or by the scope's deadline. */
  requestScopes: { cancelledByHangUp: number; stoppedByDeadline: number }
  /** `failed` counts every connection attempt that failed (the pool retries with backoff). */
  connections: { created: number; closed: number; failed: number; refusedTooManyClients: number; releasedInTransaction: number; sessionResets: number }
  /** Outages: runs of failed attempts until a connection opens (one outage, many failed attempts). */
  outages: { count: number; current: boolean; currentMs: number | null; lastDurationMs: number | null; lastError: { code: string; message: string } | null }
  errors: { byCode: Record<string, number> }
  /** The last 100. */
  slowQueries: { query: string; duration: number; timestamp: string }[]
  /** poolTimeout in seconds. */
  config: { connectionLimit: number; minConnections: number; poolTimeout: number; queryTimeout: number; slowQueryThreshold: number }
  /** Read replicas: reads that went to the primary instead (`fallbacks`), and each replica (`address` is host:port). */
  replicas: { fallbacks: number; servers: ReplicaStats[] }
  timestamp: string
}

export interface ReplicaStats {
  address: string
  state: 'healthy' | 'down' | 'lagging'
  /** Replay lag the last probe measured; null when unknown or not probed yet. */
  lagMs: number | null
  queries: number
  errors: number
}

/** `pool.replica()`: reads from the read replicas. */
export interface ReplicaView {
  query<R = Record<string, unknown>>(text: string | QueryConfig, values?: QueryValue[] | QueryOptions, opts?: QueryOptions): Promise<QueryResult<R>>
  stream<R = Record<string, unknown>>(text: string, values?: QueryValue[], opts?: StreamOptions): AsyncGenerator<R, void, undefined>
}

export interface RetryContext {
  /** 1 for the first call. */
  attempt: number
  signal?: AbortSignal
}

export interface RetryOptions {
  /** Retries after the first call (3 → at most 4 calls). Default 3. */
  maxRetries?: number
  /** Default 1000. */
  initialDelayMs?: number
  /** Default 2. */
  factor?: number
  /** Default 30000. */
  maxDelayMs?: number
  /** Relative spread of each delay. Default 0.2. */
  jitter?: number
  /** Decides what is retried (default: isRetryable). */
  retryIf?: (err: unknown, attempt: number) => boolean | Promise<boolean>
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void
  signal?: AbortSignal
  /** Stop retrying when the next delay would end past this many ms from the start. */
  deadlineMs?: number
}

/** The `fleet` option (with `connectionLimit: 'auto'`). */
export interface FleetOptions {
  /** The fleet's name: letters, digits, _ . - (1 to 40). */
  name: string
  /** Behind PgBouncer (required there): a direct connection to the server, where the beacons are counted. */
  beaconConnectionString?: string
  /** Connections for the whole fleet. Default: the server's client slots (or the role's limit) × headroom. Required behind PgBouncer. */
  budget?: number
  /** How often each instance re-counts the fleet, ms. Default 5000. */
  refreshMs?: number
  /** The share of the server's slots the fleet takes by default. Default 0.8. */
  headroom?: number
}

/**
 * A request scope's options (`pool.withContext`): what every statement, checkout, transaction,
 * stream and COPY run inside it inherits.
 */
export interface ContextOptions {
  /** One deadline for all the scope's work, ms (0: none): each gets what is left (the wait for a connection included). */
  timeoutMs?: number
  /** Aborts every statement of the scope. */
  signal?: AbortSignal
  /**
   * `set_config(name, value, true)` with each statement (inside `transaction()`, once after
   * BEGIN): seen by that statement's transaction only. Names: `[a-z_][a-z0-9_.]*`. A function is
   * called at each statement.
   */
  settings?: Record<string, string | number | boolean | null | undefined> | (() => Record<string, string | number | boolean | null | undefined>)
  /** A sqlcommenter comment appended to each statement; few distinct values. A function is called at each statement. */
  tags?: Record<string, string | number | boolean | null | undefined> | (() => Record<string, string | number | boolean | null | undefined>)
  /** Add each statement's W3C traceparent to its comment (sent unnamed); needs the pool's telemetry. */
  traceparent?: boolean
}

export interface TransactionOptions {
  isolationLevel?: 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead' | 'Serializable'
  readOnly?: boolean
  /** Wait for a connection at most this long (P2024). Default 5000. */
  maxWaitMs?: number
  /** Roll back and reject P2028 after this long. Default 10000. */
  timeoutMs?: number
  /** Re-runs of the whole callback on 40001/40P01. Default 3. */
  retries?: number
}

/** The `tx` of `pool.transaction`. */
export interface Transaction {
  /**
   * Runs one statement. Text holding several statements (and no values) runs as pg runs it:
   * the simple protocol, one implicit transaction, and an array of results (cast the result);
   * with values it rejects `ERR_PGWARDEN_PARAMS` before anything is sent.
   */
  query<R = Record<string, unknown>>(text: string | QueryConfig, values?: QueryValue[] | QueryOptions, opts?: QueryOptions): Promise<QueryResult<R>>
  executeScript(sql: string, opts?: ScriptOptions): Promise<void>
  /** A Writable for `COPY … FROM STDIN`; `rowCount` once it finished. */
  copyFrom(sql: string, opts?: ScriptOptions): import('node:stream').Writable & { rowCount: number | null }
  /** A Readable of the data of `COPY … TO STDOUT`. */
  copyTo(sql: string, opts?: ScriptOptions): import('node:stream').Readable
}

export interface HealthResult {
  status: 'healthy' | 'degraded' | 'unhealthy'
  /** ms */
  latency: number
  details: {
    pool: PoolStatsSnapshot['pool']
    replicas?: PoolStatsSnapshot['replicas']
    reasons?: string[]
    error?: { code?: string; kind?: string; message?: string }
  }
}

export interface ServerConnectionStats {
  total_connections: number
  active_connections: number
  idle_connections: number
  idle_in_transaction: number
  max_connections: number
}

export interface DatabaseStats {
  databaseSize: string
  databaseSizeBytes: number
  largestTables: { table: string; size: string; sizeBytes: number; rows: number }[]
}

export interface SlowQueryEvent { query: string; durationMs: number; duration: number; rowCount: number | null; timestamp: string; params?: QueryValue[] }
export interface QueryEvent { query: string; durationMs: number; rowCount: number | null; error?: PgWardenError; params?: QueryValue[] }
export interface HighUtilizationEvent { utilization: number; active: number; limit: number }

/** LISTEN/NOTIFY: a NOTIFY on a channel a connection of the pool LISTENs to (hold one with acquire()). */
export interface NotificationMessage { name: 'notification'; processId: number; channel: string; payload: string }
/** A NOTICE (RAISE NOTICE, "… does not exist, skipping") from any of the pool's connections. */
export interface NoticeMessage { name: 'notice'; severity: string; code: string; message: string; detail?: string; hint?: string; where?: string }

/** The client `onConnect` gets: a new connection, before it serves anyone. */
export interface SetupClient {
  /** Runs one statement on the new connection (in the order called). */
  query<R = Record<string, unknown>>(text: string, values?: QueryValue[]): Promise<QueryResult<R>>
}

/** A connection was given back inside a transaction and rolled back (or closed) before reuse. */
export interface ReleasedInTransactionEvent {
  /** Where the connection stood: inside a transaction, inside a failed one, or unknown (its last answer never came; it was closed). */
  state: 'inTransaction' | 'failedTransaction' | 'unknown'
  /** The transaction was rolled back (false: the connection was closed instead). */
  rolledBack: boolean
  /** The last SQL the connection ran, cut as events cut SQL. */
  lastStatement?: string
  /** The stack of the `acquire()` call (held clients, while a listener is attached, with leakDetectionThresholdMs, or after the pool's first such release). */
  acquiredAt?: string
}

/** The events of a Pool and the arguments of their listeners. */
export interface PoolEvents {
  /** A statement slower than slowQueryThresholdMs (without a listener, a warning is logged instead). */
  slowQuery: [event: SlowQueryEvent]
  /** Every statement, after it settled. */
  query: [event: QueryEvent]
  /** Utilization crossed utilizationAlertThreshold (at most once per utilizationAlertCooldownMs). */
  highUtilization: [event: HighUtilizationEvent]
  /** An idle connection failed (the pool replaces it); without a listener it is logged, never thrown. */
  error: [err: PgWardenError]
  notification: [message: NotificationMessage]
  notice: [message: NoticeMessage]
  /** A connection was given back inside a transaction (without a listener, a warning per cool-down). */
  releasedInTransaction: [event: ReleasedInTransactionEvent]
}

/** A listener of the Pool event `E`. */
export type PoolListener<E extends keyof PoolEvents> = (...args: PoolEvents[E]) => void

/** A Node.js EventEmitter: see PoolEvents for its events and their payloads. */
export declare class Pool extends EventEmitter {
  constructor(options?: PoolOptions | string)
  readonly logger: Logger
  /** Whether end() was called. */
  readonly ended: boolean
  /** Opens max(1, minConnections) connections now; rejects P1001 after three tries. */
  connect(): Promise<void>
  /**
   * Runs one statement. Text holding several statements (and no values) runs as pg runs it:
   * the simple protocol, one implicit transaction, and an array of results (cast the result);
   * with values it rejects `ERR_PGWARDEN_PARAMS` before anything is sent.
   */
  query<R = Record<string, unknown>>(text: string | QueryConfig, values?: QueryValue[] | QueryOptions, opts?: QueryOptions): Promise<QueryResult<R>>
  stream<R = Record<string, unknown>>(text: string, values?: QueryValue[], opts?: StreamOptions): AsyncGenerator<R, void, undefined>
  executeScript(sql: string, opts?: ScriptOptions): Promise<void>
  /** A Writable for `COPY … FROM STDIN`; `rowCount` once it finished. */
  copyFrom(sql: string, opts?: ScriptOptions): import('node:stream').Writable & { rowCount: number | null }
  /** A Readable of the data of `COPY … TO STDOUT`. */
  copyTo(sql: string, opts?: ScriptOptions): import('node:stream').Readable
  /** Reads from the read replicas: `pool.replica().query(...)` is `pool.query(..., { replica: true })`. */
  replica(): ReplicaView
  acquire(opts?: { maxWaitMs?: number }): Promise<Client>
  transaction<T>(fn: (tx: Transaction) => Promise<T>, opts?: TransactionOptions): Promise<T>
  withRetry<T>(fn: (ctx: RetryContext) => Promise<T>, opts?: RetryOptions | number, initialDelayMs?: number): Promise<T>
  /** Sets the connection limit now: growing opens connections as needed, shrinking closes idle ones first and the rest as they are released. */
  resize(n: number): void
  /** Runs `fn()` in a request scope of this pool (deadline, abort, settings, tags); see ContextOptions. */
  withContext<T>(opts: ContextOptions, fn: () => T | Promise<T>): Promise<T>
  getPoolStats(): PoolStatsSnapshot
  resetStats(): void
  /** Prometheus text exposition. */
  metrics(): string
  healthCheck(opts?: { timeoutMs?: number; slowMs?: number }): Promise<HealthResult>
  checkDatabaseConnection(): Promise<boolean>
  getConnectionPoolStats(): Promise<ServerConnectionStats>
  getDatabaseStats(opts?: { limit?: number }): Promise<DatabaseStats>
  end(opts?: EndOptions): Promise<void>
  disconnect(opts?: EndOptions): Promise<void>
  on<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  addListener<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  prependListener<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  once<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  prependOnceListener<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  off<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  removeListener<E extends keyof PoolEvents>(event: E, listener: PoolListener<E>): this
  removeAllListeners(event?: keyof PoolEvents): this
  emit<E extends keyof PoolEvents>(event: E, ...args: PoolEvents[E]): boolean
  listenerCount<E extends keyof PoolEvents>(event: E, listener?: PoolListener<E>): number
  listeners<E extends keyof PoolEvents>(event: E): PoolListener<E>[]
  toJSON(): Record<string, unknown>
}

export declare function createPool(options?: PoolOptions | string): Pool
/** The process-wide pool built from the environment on first call. */
export declare function getPool(options?: PoolOptions): Pool
/** The singleton's stats, or null before getPool(). */
export declare function getPoolStats(): PoolStatsSnapshot | null
export declare function withRetry<T>(fn: (ctx: RetryContext) => Promise<T>, opts?: RetryOptions | number, initialDelayMs?: number): Promise<T>
/** Turns OpenTelemetry on for `pool` (as the `telemetry` option does). */
export declare function enableTelemetry(pool: Pool, options?: TelemetryOptions | boolean): void
export declare function classifyError(err: unknown): Classification
export declare function isRetryable(err: unknown): boolean
