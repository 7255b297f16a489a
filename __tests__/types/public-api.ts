// Uses the whole public API as a TypeScript user would; `tsc --noEmit --strict` must accept it
// (typescript.test.js). Never run: only compiled.
import {
  Pool, Client, createPool, getPool, getPoolStats, withRetry, enableTelemetry, PgWardenError, classifyError, isRetryable,
  type PoolOptions, type QueryResult, type SlowQueryEvent, type QueryEvent, type HighUtilizationEvent, type PoolStatsSnapshot,
  type HealthResult, type Classification, type ErrorKind, type Transaction, type NotificationMessage, type NoticeMessage
} from 'pgwarden'
import { databaseRouter, errorHandler, requestContext } from 'pgwarden/express'
import { PrismaPgWarden } from 'pgwarden/prisma'
import { Pool as PgPool } from 'pgwarden/pg'

interface User { id: number; email: string }

const options: PoolOptions = {
  connectionString: 'postgres://localhost/app',
  connectionLimit: 10,
  minConnections: 1,
  poolTimeoutMs: 5000,
  queryTimeoutMs: 30000,
  password: async () => 'rotated',
  ssl: { mode: 'verify-full', ca: '...' },
  int8: 'bigint',
  logger: false,
  circuitBreaker: { failureThreshold: 5, cooldownMs: 1000 },
  replicaUrls: ['postgres://replica/app'],
  telemetry: { poolName: 'main' }
}

async function tour (): Promise<void> {
  const pool = new Pool(options)
  const other: Pool = createPool('postgres://localhost/app')
  const singleton: Pool = getPool()
  const stats0: PoolStatsSnapshot | null = getPoolStats()
  await pool.connect()

  // Query generics type the rows.
  const users: QueryResult<User> = await pool.query<User>('SELECT id, email FROM users WHERE id = $1', [1])
  const email: string = users.rows[0].email
  const count: number | null = users.rowCount
  await pool.query({ text: 'SELECT 1', values: [], timeoutMs: 100, rowMode: 'array' })
  await pool.query('SELECT 1', { signal: AbortSignal.timeout(1000), replica: true })
  await pool.replica().query<User>('SELECT * FROM users')

  // Streams yield typed rows.
  for await (const row of pool.stream<User>('SELECT id, email FROM users', [], { batchSize: 100, timeoutMs: 1000 })) {
    const id: number = row.id
    void id
  }

  // Transactions and retries.
  const total: number = await pool.transaction(async (tx: Transaction) => {
    const r = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM users')
    return r.rows[0].n
  }, { isolationLevel: 'Serializable', timeoutMs: 5000, retries: 3 })
  // A fleet's share, a limit by hand, a capped waiting line.
  const fleetPool = new Pool({ connectionLimit: 'auto', fleet: { name: 'orders', refreshMs: 5000 }, maxWaiting: 100 })
  fleetPool.resize(4)
  const share: number | null | undefined = fleetPool.getPoolStats().fleet?.share
  void share
  // A request scope.
  const inScope: number = await pool.withContext({ timeoutMs: 800, settings: { 'app.user_id': '42' }, tags: { route: '/orders/:id' } }, async () => {
    return (await pool.query<{ n: number }>('SELECT 1 AS n')).rows[0].n
  })
  void inScope
  const scoped = requestContext<{ user: { id: number } }>(pool, { timeoutMs: 2000, settings: (req) => ({ 'app.user_id': req.user.id }) })
  void scoped
  const viaPool: string = await pool.withRetry(async ({ attempt }) => `attempt ${attempt}`, { maxRetries: 2 })
  const viaFunction: number = await withRetry(async () => 1, { initialDelayMs: 10, retryIf: (err) => isRetryable(err) })

  // Errors.
  try {
    await pool.query('SELEC 1')
  } catch (e) {
    const c: Classification = classifyError(e)
    const kind: ErrorKind = c.kind
    if (e instanceof PgWardenError) {
      const code: string = e.code
      const maybe: boolean = e.maybeCommitted
      void code; void maybe
    }
    void kind
  }

  // Events: listeners get typed payloads; Pool is an EventEmitter.
  pool.on('slowQuery', (e: SlowQueryEvent) => { const ms: number = e.durationMs; void ms })
  pool.on('query', (e: QueryEvent) => { const failed: PgWardenError | undefined = e.error; void failed })
  const onHigh = (e: HighUtilizationEvent): void => { const u: number = e.utilization; void u }
  pool.once('highUtilization', onHigh)
  pool.off('highUtilization', onHigh)
  pool.on('error', (err) => { const code: string = err.code; void code })
  pool.on('notification', (m: NotificationMessage) => { const payload: string = m.payload; void payload })
  pool.addListener('notice', (m: NoticeMessage) => { const text: string = m.message; void text })
  const listening: number = pool.listenerCount('query')
  pool.removeAllListeners('query')

  // A held connection.
  const client: Client = await pool.acquire({ maxWaitMs: 1000 })
  await client.query('LISTEN jobs')
  client.release()

  // Stats, health and metrics.
  const stats: PoolStatsSnapshot = pool.getPoolStats()
  const utilization: number = stats.pool.utilization
  const health: HealthResult = await pool.healthCheck({ timeoutMs: 1000 })
  const ok: boolean = await pool.checkDatabaseConnection()
  const text: string = pool.metrics()
  enableTelemetry(pool, true)

  // Express and Prisma.
  const router = databaseRouter(pool, { health: { slowMs: 200 } })
  const onError = errorHandler({ retryAfterSeconds: 5 })
  const adapter = new PrismaPgWarden(pool, { schema: 'public' })
  const provider: 'postgres' = adapter.provider

  // The pg drop-in.
  const pgPool = new PgPool({ connectionString: 'postgres://localhost/app', max: 5 })
  await pgPool.query('SELECT 1')
  await pgPool.end()

  await pool.end({ timeoutMs: 1000 })
  void [other, singleton, stats0, email, count, total, viaPool, viaFunction, listening, utilization, health, ok, text, router, onError, provider]
}

void tour
