'use strict'
// pgwarden/prisma: a Prisma 7 driver adapter over a pgwarden pool. Prisma sees what it sees
// with @prisma/adapter-pg (column types, value encodings, error kinds, the transaction
// protocol), while every statement goes through pgwarden: server-side cancels, stats,
// events and metrics. Prisma's engine assumes its sessions run in UTC (it writes and reads
// timestamps in JSON and in raw SQL as UTC wall clocks): the pools the adapter makes run their
// sessions in UTC (`timeZone: 'UTC'`), and a pool given to it is checked once and warned about
// when its sessions do not.

const { Pool, PRISMA_VALUES } = require('./pool')
const { columnType, valueReader, UnsupportedType } = require('./prisma/columns')
const { adapterError, driverAdapterError } = require('./prisma/errors')
const { mapArg } = require('./prisma/args')

const ADAPTER_NAME = 'pgwarden'

/** Reads or writes through `target` (the pool, or a transaction's client). */
class Queryable {
  constructor (target, replica = false) {
    this._target = target
    this._replica = replica
    this.provider = 'postgres'
    this.adapterName = ADAPTER_NAME
  }

  async queryRaw (query) {
    const { fields, rows } = await this._run(query)
    const columnNames = new Array(fields.length)
    const columnTypes = new Array(fields.length)
    let readers = null // the rare columns whose values need converting (see lib/prisma/columns.js)
    for (let c = 0; c < fields.length; c++) {
      const oid = fields[c].dataTypeID
      columnNames[c] = fields[c].name
      try {
        columnTypes[c] = columnType(oid)
      } catch (e) {
        if (e instanceof UnsupportedType) throw driverAdapterError({ kind: 'UnsupportedNativeDataType', type: e.type })
        throw e
      }
      const reader = valueReader(oid)
      if (reader !== null) (readers ??= new Array(fields.length).fill(null))[c] = reader
    }
    if (readers !== null) {
      for (const row of rows) {
        for (let c = 0; c < readers.length; c++) if (readers[c] !== null && row[c] !== null) row[c] = readers[c](row[c])
      }
    }
    return { columnNames, columnTypes, rows }
  }

  async executeRaw (query) {
    return (await this._run(query)).rowCount ?? 0
  }

  async _run ({ sql, args, argTypes }) {
    const values = args.map((arg, i) => mapArg(arg, argTypes[i]))
    try {
      return await this._target.query({ text: sql, values, rowMode: 'array', replica: this._replica, [PRISMA_VALUES]: true })
    } catch (e) {
      throw adapterError(e)
    }
  }
}

/** One interactive transaction on one pooled connection (Prisma sends BEGIN's partners). */
class Transaction extends Queryable {
  constructor (client) {
    super(client)
    this.options = { usePhantomQuery: false }
  }

  // Prisma sends COMMIT / ROLLBACK itself (usePhantomQuery: false); these give the connection back.
  async commit () {
    this._target.release()
  }

  async rollback () {
    this._target.release()
  }

  async createSavepoint (name) {
    await this.executeRaw({ sql: `SAVEPOINT ${name}`, args: [], argTypes: [] })
  }

  async rollbackToSavepoint (name) {
    await this.executeRaw({ sql: `ROLLBACK TO SAVEPOINT ${name}`, args: [], argTypes: [] })
  }

  async releaseSavepoint (name) {
    await this.executeRaw({ sql: `RELEASE SAVEPOINT ${name}`, args: [], argTypes: [] })
  }
}

/** The adapter Prisma talks to: the whole pool. */
class Adapter extends Queryable {
  constructor (pool, owned, schema, replica) {
    super(pool, replica)
    this._owned = owned
    this._schema = schema
  }

  async startTransaction (isolationLevel) {
    let client
    try {
      client = await this._target.acquire()
    } catch (e) {
      throw adapterError(e)
    }
    const tx = new Transaction(client)
    try {
      await tx.executeRaw({ sql: 'BEGIN', args: [], argTypes: [] })
      if (isolationLevel) {
        await tx.executeRaw({ sql: `SET TRANSACTION ISOLATION LEVEL ${isolationLevel}`, args: [], argTypes: [] })
      }
      return tx
    } catch (e) {
      client.release(true) // its state is unknown: never hand it out again
      throw e
    }
  }

  async executeScript (script) {
    try {
      await this._target.executeScript(script)
    } catch (e) {
      throw adapterError(e)
    }
  }

  getConnectionInfo () {
    return { schemaName: this._schema, supportsRelationJoins: true }
  }

  async dispose () {
    if (this._owned) await this._target.end()
  }
}

/**
 * `new PrismaClient({ adapter: new PrismaPgWarden(poolOrOptions, { schema, replica }) })`.
 * Given a pgwarden `Pool`, the adapter uses it and leaves it open on `$disconnect` (its owner
 * ends it); given options or a connection string, it makes its own pool and ends it then.
 * `replica: true` sends the adapter's statements to the pool's read replicas (transactions
 * stay on the primary): a second PrismaClient for reads.
 */
class PrismaPgWarden {
  constructor (poolOrOptions, { schema, replica = false } = {}) {
    this.provider = 'postgres'
    this.adapterName = ADAPTER_NAME
    this._poolOrOptions = poolOrOptions
    this._schema = schema
    this._replica = replica === true
  }

  async connect () {
    const given = this._poolOrOptions
    if (given instanceof Pool) {
      await warnUnlessUtc(given)
      return new Adapter(given, false, this._schema, this._replica)
    }
    const options = typeof given === 'string' ? { connectionString: given } : { ...given }
    if (this._schema !== undefined && options.schema === undefined) options.schema = this._schema
    if (options.timeZone === undefined) options.timeZone = 'UTC'
    return new Adapter(new Pool(options), true, this._schema, this._replica)
  }
}

/** TimeZone names that are UTC. */
const UTC_ZONES = new Set(['utc', 'etc/utc', 'etc/uct', 'uct', 'zulu', 'etc/zulu', 'gmt', 'etc/gmt', 'universal', 'etc/universal', 'utc0', 'gmt0'])

/**
 * A pool the user made: its sessions must be in UTC for Prisma's timestamps to be the right
 * instants (create it with `timeZone: 'UTC'`). Checked once, with one statement; a warning
 * through the pool's logger says what to change (the adapter still works on it).
 */
async function warnUnlessUtc (pool) {
  let zone
  try {
    zone = (await pool.query('SHOW TimeZone')).rows[0].TimeZone
  } catch {
    return // the first statement reports an unreachable server in Prisma's terms
  }
  if (!UTC_ZONES.has(String(zone).toLowerCase())) {
    pool.logger.warn(`[pgwarden] pgwarden/prisma: this pool's sessions run in TimeZone '${zone}', but Prisma assumes UTC: ` +
      "timestamps in raw queries and relation joins would be read and written shifted. Create the pool with timeZone: 'UTC'.")
  }
}

module.exports = { PrismaPgWarden }
