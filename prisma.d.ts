import type { Pool, PoolOptions } from './index'

/** Options of the adapter. */
export interface PrismaPgWardenOptions {
  /** The schema Prisma's models live in (default: the connection's search_path). */
  schema?: string
  /**
   * Send statements to the pool's read replicas (`replicaUrls`), as `{ replica: true }` does;
   * transactions stay on the primary. Use it for a second PrismaClient that only reads.
   */
  replica?: boolean
}

/**
 * A Prisma 7 driver adapter over a pgwarden pool:
 * `new PrismaClient({ adapter: new PrismaPgWarden(pool) })`. Given a `Pool`, the adapter uses
 * it and leaves it open on `$disconnect`; given options or a connection string, it makes its
 * own pool and ends it then.
 */
export declare class PrismaPgWarden {
  constructor(poolOrOptions: Pool | PoolOptions | string, options?: PrismaPgWardenOptions)
  readonly provider: 'postgres'
  readonly adapterName: 'pgwarden'
  connect(): Promise<unknown>
}
