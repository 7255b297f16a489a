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

/** requestContext's options: as ContextOptions, with settings and tags read from each request. */
export interface RequestContextOptions<Req = any> {
  /** The request's budget for all its database work, ms. */
  timeoutMs?: number
  /** Called at each statement with the request (so it sees req.user, req.route set later). */
  settings?: Record<string, string | number | boolean | null | undefined> | ((req: Req) => Record<string, string | number | boolean | null | undefined>)
  tags?: Record<string, string | number | boolean | null | undefined> | ((req: Req) => Record<string, string | number | boolean | null | undefined>)
  traceparent?: boolean
}

/**
 * Runs the rest of each request in a request scope of `pool`; a client that hangs up before the
 * response finished aborts it (statements cancelled on the server).
 */
export declare function requestContext<Req = any>(pool: Pool, opts?: RequestContextOptions<Req>): (req: Req, res: unknown, next: (err?: unknown) => void) => void

/** 503 with Retry-After for pool timeouts, an unreachable server, too many connections. */
export declare function errorHandler(opts?: { retryAfterSeconds?: number }): (err: unknown, req: unknown, res: unknown, next: (err?: unknown) => void) => void
