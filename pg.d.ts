// Type definitions for pgwarden/pg: node-postgres' API over a pgwarden pool.

import { EventEmitter } from 'node:events'
import type {
  Pool as PgWardenPool, PoolOptions, PgWardenError, PoolStatsSnapshot, HealthResult, RetryContext, RetryOptions,
  Transaction, TransactionOptions, QueryValue, ReplicaView, StreamOptions, ScriptOptions, Client as HeldClient,
  SlowQueryEvent, QueryEvent, HighUtilizationEvent
} from './index'

export { PgWardenError }

/** An error the server sent, named as pg's (`String(err)` is `error: …`); a PgWardenError. */
export declare class DatabaseError extends PgWardenError {}

/** pg's connection defaults (after the PG* environment) and `parseInt8`. */
export declare const defaults: {
  host: string
  user: string | undefined
  database: string | undefined
  password: string | null
  port: number
  application_name?: string
  fallback_application_name?: string
  options?: string
  statement_timeout: number | false
  lock_timeout: number | false
  idle_in_transaction_session_timeout: number | false
  query_timeout: number | false
  parseInputDatesAsUTC: boolean
  /** true: int8 (and int8[]) parsed to numbers, as pg's. */
  parseInt8: boolean
  [key: string]: unknown
}

/** Parsers of one pool, client or query, falling back to pg-types. */
export declare class TypeOverrides implements CustomTypes {
  constructor(userTypes?: CustomTypes)
  setTypeParser(oid: number, parser: (value: string) => unknown): void
  setTypeParser(oid: number, format: 'text' | 'binary', parser: (value: string) => unknown): void
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown
}

/** `"name"` with its double quotes doubled, as pg's. */
export declare function escapeIdentifier(str: string): string
/** `'text'` with quotes and backslashes doubled (` E'…'` with a backslash), as pg's. */
export declare function escapeLiteral(str: string): string

/** pg's Result: what a query resolves to; its methods build one from protocol messages, as pg's. */
export interface Result<R = any> extends QueryResult<R> {}
export declare class Result<R = any> {
  constructor(rowMode?: 'array', types?: CustomTypes)
  addFields(fields: FieldDef[]): void
  parseRow(rowData: (string | null)[]): R
  addRow(row: R): void
  addCommandComplete(msg: { text?: string; command?: string }): void
}

/** pg's Query: emits 'row' per row, then 'end' (or 'error', or its callback gets the outcome). */
export declare class Query<R = any> extends EventEmitter {
  constructor(config: string | QueryConfig, values?: QueryValue[], callback?: QueryCallback<R>)
  text: string
  values?: QueryValue[]
}

/** Anything pg submits itself (pg-cursor, pg-query-stream): `client.query(x)` returns it. */
export interface Submittable {
  submit(connection: unknown): void
}

/** pg-types, the same module pg exports as `types`. */
export declare const types: {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown
  setTypeParser(oid: number, parser: (value: string) => unknown): void
  setTypeParser(oid: number, format: 'text' | 'binary', parser: (value: string) => unknown): void
  builtins: Record<string, number>
}

export interface CustomTypes {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown
}

/** pg's configuration; pgwarden's PoolOptions are accepted too. */
export interface PoolConfig extends Omit<PoolOptions, 'ssl' | 'connectionString' | 'host' | 'port' | 'user' | 'password' | 'database' | 'options'> {
  connectionString?: string
  host?: string
  port?: number | string
  user?: string
  /** Called once, when the pool first connects (not per connection). */
  password?: string | (() => string | Promise<string>)
  database?: string
  /** Startup options, `-c name=value …`, sent as libpq sends them. */
  options?: string
  ssl?: boolean | { rejectUnauthorized?: boolean; ca?: string; cert?: string; key?: string }
  application_name?: string
  fallback_application_name?: string
  /** ms; sent as the startup option `-c lock_timeout=…`. */
  lock_timeout?: number
  /** ms; sent as the startup option `-c statement_timeout=…` (the server cancels: 57014). */
  statement_timeout?: number
  /** ms; the statement is cancelled on the server (error P1008). */
  query_timeout?: number
  idle_in_transaction_session_timeout?: number
  /** Sets pgwarden's `keepalives`; when not given, keepalives stay on (pgwarden's default, not pg's off). */
  keepAlive?: boolean
  /** Sets pgwarden's `keepalivesIdleMs`, in whole seconds as Node takes it; 0 (or under 1000) keeps the default, 30 s. */
  keepAliveInitialDelayMillis?: number
  /** Default 10. */
  max?: number
  min?: number
  /** Default 10000; 0 never closes idle connections. */
  idleTimeoutMillis?: number
  /** Wait for a connection (and to open one); default 0 = forever. */
  connectionTimeoutMillis?: number
  /** Default 0 = connections are never replaced for age. */
  maxLifetimeSeconds?: number
  /** Always the case with pgwarden: an idle pool never holds the process open. */
  allowExitOnIdle?: boolean
  log?: (...args: unknown[]) => void
  types?: CustomTypes
  /** The class of the promises its methods return (pg's option). */
  Promise?: PromiseConstructorLike
}

export interface FieldDef {
  name: string
  /** 0: not reported by pgwarden. */
  tableID: number
  /** 0: not reported by pgwarden. */
  columnID: number
  dataTypeID: number
  /** Built-in fixed-size types' size; -1 otherwise. */
  dataTypeSize: number
  /** -1: not reported by pgwarden. */
  dataTypeModifier: number
  format: 'text'
}

export interface QueryResult<R = any> {
  command: string
  rowCount: number | null
  oid: number | null
  rows: R[]
  fields: FieldDef[]
  rowAsArray: boolean
}

export interface QueryConfig {
  text: string
  values?: QueryValue[]
  rowMode?: 'array'
  types?: CustomTypes
  /** ms; cancelled on the server (P1008). */
  query_timeout?: number
  /** A query given `name` and `text` runs again later by its `name` alone, as pg's. */
  name?: string
  /** 'extended': text of several statements is refused by the server, as pg's. */
  queryMode?: 'extended'
  signal?: AbortSignal
}

export type QueryCallback<R = any> = (err: Error | null, result: QueryResult<R>) => void

interface Queryable {
  query<T extends Submittable>(submittable: T): T
  query<R = any>(text: string | QueryConfig, values?: QueryValue[]): Promise<QueryResult<R>>
  query<R = any>(text: string | QueryConfig, callback: QueryCallback<R>): void
  query<R = any>(text: string | QueryConfig, values: QueryValue[], callback: QueryCallback<R>): void
}

/** `notification` / `notice` events: those of every connection of its pool. */
export interface PoolClient extends Queryable, EventEmitter {
  /** A truthy argument closes the connection instead of returning it. Throws when called twice. */
  release(err?: Error | boolean): void
  /** Cancels the statement running on this connection (pgwarden). */
  cancel(): Promise<void>
  escapeIdentifier(str: string): string
  escapeLiteral(str: string): string
  /** 'I' idle, 'T' in a transaction, 'E' in a failed one (the last ReadyForQuery's). */
  getTransactionStatus(): 'I' | 'T' | 'E' | null
}

export declare class Pool extends EventEmitter implements Queryable {
  constructor(config?: PoolConfig | string)
  readonly options: PoolConfig
  readonly totalCount: number
  readonly idleCount: number
  readonly waitingCount: number
  readonly expiredCount: number
  ending: boolean
  ended: boolean
  /** The pgwarden pool behind this one. */
  readonly pgwarden: PgWardenPool
  query<T extends Submittable>(submittable: T): T
  query<R = any>(text: string | QueryConfig, values?: QueryValue[]): Promise<QueryResult<R>>
  query<R = any>(text: string | QueryConfig, callback: QueryCallback<R>): void
  query<R = any>(text: string | QueryConfig, values: QueryValue[], callback: QueryCallback<R>): void
  connect(): Promise<PoolClient>
  connect(callback: (err: Error | undefined, client: PoolClient | undefined, done: (err?: Error | boolean) => void) => void): void
  end(): Promise<void>
  end(callback: (err?: Error) => void): void
  // pgwarden's own methods (pgwarden's result conventions)
  getPoolStats(): PoolStatsSnapshot
  resetStats(): void
  metrics(): string
  healthCheck(opts?: { timeoutMs?: number; slowMs?: number }): Promise<HealthResult>
  withRetry<T>(fn: (ctx: RetryContext) => Promise<T>, opts?: RetryOptions | number, initialDelayMs?: number): Promise<T>
  transaction<T>(fn: (tx: Transaction) => Promise<T>, opts?: TransactionOptions): Promise<T>
  stream<R = Record<string, unknown>>(text: string, values?: QueryValue[], opts?: StreamOptions): AsyncGenerator<R, void, undefined>
  executeScript(sql: string, opts?: ScriptOptions): Promise<void>
  acquire(opts?: { maxWaitMs?: number }): Promise<HeldClient>
  replica(): ReplicaView
  on(event: 'acquire' | 'remove', listener: (client: PoolClient) => void): this
  on(event: 'release', listener: (err: Error | undefined, client: PoolClient) => void): this
  on(event: 'error', listener: (err: PgWardenError) => void): this
  /** Never fires: see README "Coming from pg". */
  on(event: 'connect', listener: (client: PoolClient) => void): this
  on(event: 'slowQuery', listener: (e: SlowQueryEvent) => void): this
  on(event: 'query', listener: (e: QueryEvent) => void): this
  on(event: 'highUtilization', listener: (e: HighUtilizationEvent) => void): this
}

/** One session: a pgwarden pool of one connection, held from connect() to end(). */
export declare class Client extends EventEmitter implements Queryable {
  constructor(config?: PoolConfig | string)
  readonly pgwarden: PgWardenPool
  /** The backend's process id, once connected. */
  processID: number | null
  /** Emits `parameterStatus` ({ parameterName, parameterValue }) at connect, as pg's Connection. */
  readonly connection: EventEmitter
  /** Resolves to the client, as pg's. */
  connect(): Promise<Client>
  connect(callback: (err?: Error) => void): void
  escapeIdentifier(str: string): string
  escapeLiteral(str: string): string
  /** 'I' idle, 'T' in a transaction, 'E' in a failed one; null before connect. */
  getTransactionStatus(): 'I' | 'T' | 'E' | null
  query<T extends Submittable>(submittable: T): T
  query<R = any>(text: string | QueryConfig, values?: QueryValue[]): Promise<QueryResult<R>>
  query<R = any>(text: string | QueryConfig, callback: QueryCallback<R>): void
  query<R = any>(text: string | QueryConfig, values: QueryValue[], callback: QueryCallback<R>): void
  end(): Promise<void>
  end(callback: (err?: Error) => void): void
  on(event: 'notification', listener: (m: Notification) => void): this
  on(event: 'notice', listener: (m: Notice) => void): this
  on(event: 'error', listener: (err: PgWardenError) => void): this
  on(event: 'end', listener: () => void): this
}

/** LISTEN/NOTIFY, as pg gives it. */
export interface Notification { name: 'notification'; processId: number; channel: string; payload: string }
/** A server NOTICE, as pg gives it (its main fields). */
export interface Notice { name: 'notice'; severity: string; code: string; message: string; detail?: string; hint?: string; where?: string }
