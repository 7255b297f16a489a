// Lines that must NOT compile. Each ends with the TypeScript error it must raise (`// TSnnnn`);
// typescript.test.js checks that exactly these lines fail, each with its code.
import { Pool, withRetry, classifyError } from 'pgwarden'
import { databaseRouter } from 'pgwarden/express'
import { PrismaPgWarden } from 'pgwarden/prisma'

async function misuse (pool: Pool): Promise<void> {
  new Pool({ connectionLimt: 5 }) // TS2561
  new Pool({ poolTimeout: 5000 }) // TS2561
  new Pool({ connectionLimit: '10' }) // TS2322
  new Pool({ int8: 'long' }) // TS2322
  pool.on('slowQuery', (e) => e.utilization) // TS2339
  pool.on('highUtilization', (e) => e.durationMs) // TS2339
  pool.on('error', (err: string) => err) // TS2345
  pool.once('slowquery', () => {}) // TS2345
  pool.off('notice', (m) => m.payload) // TS2339
  pool.emit('query', { utilization: 1 }) // TS2353
  const rows = await pool.query<{ id: number }>('SELECT 1 AS id')
  rows.rows[0].email // TS2339
  for await (const row of pool.stream<{ id: number }>('SELECT 1 AS id', [], { rowMode: 'object' })) void row // TS2322
  pool.stream('SELECT 1', [], { fetchSize: 10 }) // TS2353
  await pool.transaction(async (tx) => tx, { isolationLevel: 'serializable' }) // TS2820
  await withRetry(async () => 1, { retries: 3 }) // TS2353
  classifyError(new Error('x')).kind === 'timeout_error' // TS2367
  databaseRouter(pool, { healthCheck: {} }) // TS2353
  await pool.withContext({ deadlineMs: 5 }, async () => 1) // TS2353
  new PrismaPgWarden(pool, { replicas: true }) // TS2561
}

void misuse
