// Type definitions for pgwarden/express.
import type { Pool } from './index'

/** A minimal Express-compatible router type (express is an optional peer dependency). */
export interface RouterLike {
  (req: unknown, res: unknown, next: (err?: unknown) => void): void
}

export interface DatabaseRouterOptions {
  health?: { timeoutMs?: number; slowMs?: number }
}

/** GET /metrics/database, GET /health/ready, GET /metrics. */
export declare function databaseRouter(pool: Pool, opts?: DatabaseRouterOptions): RouterLike

/** 503 with Retry-After for pool timeouts, an unreachable server, too many connections. */
export declare function errorHandler(opts?: { retryAfterSeconds?: number }): (err: unknown, req: unknown, res: unknown, next: (err?: unknown) => void) => void
