import type { Pool, PoolOptions } from './index'

/** Options of the adapter. */
export interface PrismaPgWardenOptions {
  /** The schema Prisma's models live in (default: the connection's search_path). */
  schema?: string
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
