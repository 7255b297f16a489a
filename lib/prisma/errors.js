'use strict'
// pgwarden errors → Prisma driver adapter errors. Prisma picks its P-code from `cause.kind`
// only, so each SQLSTATE is mapped to a kind as @prisma/adapter-pg maps it. pgwarden's own
// judgement stays on the error: `retryable` and `maybeCommitted`, and the original error as
// `cause.pgwarden`, so `withRetry(() => prisma…)` retries exactly what is safe.

const firstQuoted = (s) => (s || '').split('"').at(1)
const keyFields = (detail) => detail?.match(/Key \(([^)]+)\)/)?.at(1)?.split(', ')

/** `{ index }` from the constraint's name, else `{ fields }` from the column. */
const constraintOf = (e) => (e.column ? { fields: [e.column] } : e.constraint ? { index: e.constraint } : undefined)

/** The kind (and its fields) of a server error, by SQLSTATE. */
function serverKind (e) {
  switch (e.code) {
    case '22001': return { kind: 'LengthMismatch', column: e.column }
    case '22003': return { kind: 'ValueOutOfRange', cause: e.message }
    case '22P02': return { kind: 'InvalidInputValue', message: e.message }
    case '23505': {
      const fields = keyFields(e.detail)
      const constraint = e.constraint ? { index: e.constraint } : fields ? { fields } : undefined
      return { kind: 'UniqueConstraintViolation', constraint, table: e.table }
    }
    case '23502': {
      const fields = keyFields(e.detail)
      return { kind: 'NullConstraintViolation', constraint: fields ? { fields } : undefined }
    }
    case '23503': return { kind: 'ForeignKeyConstraintViolation', constraint: constraintOf(e) }
    case '23001': return { kind: 'RestrictViolation', constraint: constraintOf(e) }
    case '3D000': return { kind: 'DatabaseDoesNotExist', db: firstQuoted(e.message.split(' ').at(1)) }
    case '28000': return { kind: 'DatabaseAccessDenied', db: firstQuoted(e.message.split(',').find((s) => s.startsWith(' database'))) }
    case '28P01': return { kind: 'AuthenticationFailed', user: firstQuoted(e.message.split(' ').pop()) }
    case '40001':
    case '40P01': return { kind: 'TransactionWriteConflict' }
    case '42P01': return { kind: 'TableDoesNotExist', table: firstQuoted(e.message.split(' ').at(1)) }
    case '42703': {
      const raw = e.message.match(/^column (.+) does not exist$/)?.at(1)
      return { kind: 'ColumnNotFound', column: raw?.replace(/"((?:""|[^"])*)"/g, (_, id) => id.replaceAll('""', '"')) }
    }
    case '42P04': return { kind: 'DatabaseAlreadyExists', db: firstQuoted(e.message.split(' ').at(1)) }
    case '53300': return { kind: 'TooManyConnections', cause: e.message }
    default: return null
  }
}

/** The kind of a pgwarden connection-level error, by its P-code. */
function connectionKind (e) {
  switch (e.code) {
    case 'P1001': {
      const [, host, port] = /at `(.*):(\d+)`/.exec(e.message) || []
      return { kind: 'DatabaseNotReachable', host, port: port && Number(port) }
    }
    case 'P1002':
    case 'P1008': return { kind: 'SocketTimeout' }
    case 'P1011': return { kind: 'TlsConnectionError', reason: e.message }
    case 'P1017': return { kind: 'ConnectionClosed' }
    // No kind of Prisma's driver adapters gives P2024 (pool timeout): the nearest is
    // TooManyConnections (P2037). `cause.originalCode` keeps 'P2024' and `retryable` stays true.
    case 'P2024': return { kind: 'TooManyConnections', cause: e.message }
    default: return null
  }
}

/** A Prisma DriverAdapterError for any thrown value (Prisma recognises it by name and cause). */
function adapterError (e) {
  if (e && e.name === 'DriverAdapterError') return e
  const err = e instanceof Error ? e : new Error(String(e))
  const mapped = connectionKind(err) || serverKind(err) || {
    kind: 'postgres',
    code: err.code ?? 'N/A',
    severity: err.severity ?? 'ERROR',
    message: err.message,
    detail: err.detail,
    column: err.column,
    hint: err.hint
  }
  const out = driverAdapterError({ originalCode: err.code, originalMessage: err.message, ...mapped, pgwarden: err })
  out.code = err.code
  out.retryable = Boolean(err.retryable)
  out.maybeCommitted = Boolean(err.maybeCommitted)
  return out
}

/** An error Prisma reads as a driver adapter's, with `cause` its mapped kind. */
function driverAdapterError (cause) {
  const out = new Error(cause.originalMessage || cause.kind)
  out.name = 'DriverAdapterError'
  out.cause = cause
  return out
}

module.exports = { adapterError, driverAdapterError }
