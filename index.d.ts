// Type definitions for pgwarden (contract sections 1-3 and 5).

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
  /** postgres://user:password@host:port/db?params — default DATABASE_URL. */
  connectionString?: string
  /** Maximum connections (connection_limit, DB_CONNECTION_LIMIT, ...). Default cpus×2+1. */
  connectionLimit?: number
  /** Connections kept open when idle. Default 0. */
  minConnections?: number
  /** Longest wait for a pooled connection, ms (pool_timeout in s). Default 10000; 0 waits forever. */
  poolTimeoutMs?: number
  /** Longest wait to open one connection, ms (connect_timeout in s). Default 5000. */
  connectTimeoutMs?: number
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
  /** Running behind PgBouncer in transaction mode (no named statements). */
  pgbouncer?: boolean
  /** Statements slower than this are reported, ms. Default 1000. */
  slowQueryThresholdMs?: number
  /** Utilization (0..1] that raises highUtilization. Default 0.8. */
  utilizationAlertThreshold?: number
  /** Read replica URLs (DATABASE_REPLICA_URL, comma-separated). */
  replicaUrls?: string[]
  /** application_name. Default 'pgwarden'. */
  applicationName?: string
  /** search_path for every connection. */
  schema?: string
  /** TLS; libpq semantics (sslmode). Default 'prefer'. */
  ssl?: SslOption
  /** How int8 values arrive. Default 'string'. */
  int8?: 'string' | 'bigint' | 'number'
  /** Where pgwarden logs; `false` silences it. Default console. */
  logger?: Logger | false
  /** Allow parameters in logs and slow-query events. Default false. */
  logParams?: boolean
  /** Warn when a client is held longer than this, ms (0 = off). */
  leakDetectionThresholdMs?: number
}

/** Per-statement options. */
export interface QueryOptions {
  /** Overrides queryTimeoutMs for this statement. */
  timeoutMs?: number
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
}

export interface EndOptions {
  /** How long work in flight may take to finish, ms. Default 5000. */
  timeoutMs?: number
}

export type ErrorKind =
  | 'connection' | 'timeout' | 'pool_timeout' | 'serialization' | 'deadlock'
  | 'too_many_connections' | 'server_unavailable' | 'constraint' | 'syntax' | 'permission'
  | 'data' | 'config' | 'params' | 'closed' | 'cancelled' | 'other'

/** Every rejection from pgwarden. */
export declare class PgWardenError extends Error {
  /** SQLSTATE for server errors, else P1001, P1002, P1008, P1017, P2024, P2028, ERR_PGWARDEN_*. */
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
}

export interface Classification {
  retryable: boolean
  kind: ErrorKind
  code: string | undefined
}

/** A connection held by `pool.acquire()`. */
export declare class Client {
  query<R = Record<string, unknown>>(text: string | QueryConfig, values?: QueryValue[] | QueryOptions, opts?: QueryOptions): Promise<QueryResult<R>>
  executeScript(sql: string): Promise<void>
  /** Returns the connection; `release(true)` or `release(err)` closes it instead. */
  release(destroy?: boolean | Error): void
}

export interface PoolStatsSnapshot {
  pool: { active: number; idle: number; total: number; limit: number; waiting: number; utilization: number }
  queries: { queriesExecuted: number; queryErrors: number }
  acquire: { timeouts: number }
  connections: { created: number; closed: number; failed: number }
  timestamp: string
}

export declare class Pool {
  constructor(options?: PoolOptions | string)
  readonly logger: Logger
  /** Whether end() was called. */
  readonly ended: boolean
  /** Opens max(1, minConnections) connections now; rejects P1001 after three tries. */
  connect(): Promise<void>
  query<R = Record<string, unknown>>(text: string | QueryConfig, values?: QueryValue[] | QueryOptions, opts?: QueryOptions): Promise<QueryResult<R>>
  stream<R = Record<string, unknown>>(text: string, values?: QueryValue[], opts?: StreamOptions): AsyncGenerator<R, void, undefined>
  executeScript(sql: string): Promise<void>
  acquire(): Promise<Client>
  getPoolStats(): PoolStatsSnapshot | null
  end(opts?: EndOptions): Promise<void>
  disconnect(opts?: EndOptions): Promise<void>
  on(event: string, listener: (...args: unknown[]) => void): this
  toJSON(): Record<string, unknown>
}

export declare function createPool(options?: PoolOptions | string): Pool
/** The process-wide pool built from the environment on first call. */
export declare function getPool(options?: PoolOptions): Pool
/** The singleton's stats, or null before getPool(). */
export declare function getPoolStats(): PoolStatsSnapshot | null
export declare function classifyError(err: unknown): Classification
export declare function isRetryable(err: unknown): boolean
