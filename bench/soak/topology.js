'use strict'
// The soak's servers: a primary with a synchronous standby and an asynchronous read replica,
// each behind a TCP proxy of its own. The pool only ever sees the proxies: its primary URL lists
// the two proxies of the primary/standby pair (target_session_attrs=read-write), its replica URL
// the replica's proxy. Network faults act on the proxies; restarts, terminates and failovers on
// the servers.
//
// A failover stops the primary (immediate) and promotes the standby. The old primary cannot
// simply follow the new one (killed mid-stream, its WAL may run past the point where the
// standby took over), so it is thrown away and a fresh standby is copied from the new primary
// (pg_basebackup) and put behind the old primary's proxy; the read replica, which streamed from
// the old primary, is copied afresh the same way. Only then is the failover over: the pair is
// back to a primary with a synchronous standby and can take any fault again, a failover too.

const fs = require('node:fs')
const path = require('node:path')
const { Cluster } = require('../../lib/cluster')
const { TcpProxy } = require('../../__tests__/helpers/proxy')

const { sleep } = require('../../lib/retry')

// The application_name the synchronous standby streams under. Only it is named in
// synchronous_standby_names: the read replica and pg_basebackup's own WAL streams (which
// connect as the harness's admin application) must never count as the synchronous standby,
// or an acknowledged write could be missing from the standby that gets promoted.
const SYNC_NAME = 'soak_sync_standby'

// synchronous_commit on (the harness default is off): an acknowledged commit is flushed on the
// primary and on the synchronous standby, so neither a restart nor a failover may lose it.
const SERVER_SETTINGS = { synchronous_commit: 'on', max_connections: 200, deadlock_timeout: '200ms' }
// A standby reconnects to a restarted primary within 200 ms (default 5 s): while the synchronous
// standby is away every commit on the primary waits.
const STANDBY_SETTINGS = { ...SERVER_SETTINGS, synchronous_standby_names: '', wal_retrieve_retry_interval: '200ms' }

/** Appends `name = 'value'` to a cluster's postgresql.conf (the last line wins) and reloads it. */
async function setConf (cluster, name, value) {
  fs.appendFileSync(path.join(cluster.dataDir, 'postgresql.conf'), `${name} = '${value}'\n`)
  await cluster.admin('SELECT pg_reload_conf()')
}

/**
 * Renames the application under which a standby made by `replica()` streams (pg_basebackup -R
 * wrote the admin application's name into primary_conninfo, after the primary_conninfo a
 * promoted source still carries); a reload restarts its WAL receiver.
 */
async function streamAs (standby, name) {
  const auto = path.join(standby.dataDir, 'postgresql.auto.conf')
  const text = fs.readFileSync(auto, 'utf8')
  if (!/application_name=/.test(text)) throw new Error(`no application_name in ${auto}`)
  fs.writeFileSync(auto, text.replace(/application_name=[^ ']+/g, `application_name=${name}`))
  await standby.admin('SELECT pg_reload_conf()')
}

/** Polls `check()` every 100 ms until it is true; throws `what` after `ms`. */
async function waitFor (check, what, ms) {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(100)
  }
}

/** The last `n` lines of a cluster's server log. */
function logTail (cluster, n = 20) {
  try {
    return fs.readFileSync(cluster.logFile, 'utf8').trimEnd().split('\n').slice(-n).join('\n')
  } catch (e) {
    return `(no log: ${e.message})`
  }
}

const isSync = async (primary) =>
  (await primary.admin(`SELECT count(*) FROM pg_stat_replication WHERE application_name = '${SYNC_NAME}' AND sync_state = 'sync'`))[0][0] === '1'

class Topology {
  constructor () {
    this.pair = [] // [{ cluster, proxy }, { cluster, proxy }]: the two hosts of the primary URL
    this.primaryIndex = 0 // which of `pair` is the primary now
    this.reader = null // { cluster, proxy }: the read replica
    this.failovers = 0
  }

  get primary () { return this.pair[this.primaryIndex].cluster }
  get standby () { return this.pair[1 - this.primaryIndex].cluster }
  get proxies () { return [...this.pair.map((h) => h.proxy), this.reader.proxy] }

  /** The pool's primary URL: both proxies, the writable one wanted. */
  get primaryUrl () {
    const hosts = this.pair.map((h) => `127.0.0.1:${h.proxy.port}`).join(',')
    return `postgres://postgres@${hosts}/postgres?target_session_attrs=read-write`
  }

  /** The read replica's URL (through its proxy). */
  get replicaUrl () { return `postgres://postgres@127.0.0.1:${this.reader.proxy.port}/postgres` }

  /** Starts the three servers and their proxies; `setupSql` runs on the primary first. */
  static async start (setupSql) {
    const t = new Topology()
    try {
      const primary = await Cluster.start({ settings: SERVER_SETTINGS })
      t.pair[0] = { cluster: primary, proxy: await proxyTo(primary) }
      await primary.adminScript(setupSql)
      const standby = await attachSyncStandby(primary)
      t.pair[1] = { cluster: standby, proxy: await proxyTo(standby) }
      const replica = await primary.replica({ settings: STANDBY_SETTINGS })
      t.reader = { cluster: replica, proxy: await proxyTo(replica) }
      return t
    } catch (e) {
      await t.destroy()
      throw e
    }
  }

  /**
   * Resolves once the standby streams synchronously (so a failover loses no acknowledged write);
   * else throws after `ms` with what the primary and the standby say, and their logs' last lines.
   */
  async waitSync (ms = 20000) {
    try {
      await waitFor(() => isSync(this.primary), 'the standby streaming synchronously', ms)
    } catch (e) {
      e.message += `\n${await this.replicationReport()}`
      e.standbyLost = true
      throw e
    }
  }

  /**
   * A standby that no longer streams synchronously holds every commit on the primary: the
   * primary stops waiting for it (synchronous_standby_names emptied), and a new standby copied
   * from the primary replaces it behind its proxy.
   */
  async replaceStandby () {
    await setConf(this.primary, 'synchronous_standby_names', '')
    const host = this.pair[1 - this.primaryIndex]
    await host.cluster.destroy()
    host.cluster = await attachSyncStandby(this.primary)
    host.proxy.targetPort = host.cluster.port
  }

  /** pg_stat_replication on the primary, pg_stat_wal_receiver on the standby, both logs' tails. */
  async replicationReport () {
    const ask = (cluster, sql) => cluster.admin(sql).then((rows) => JSON.stringify(rows), (e) => e.message.split('\n')[0])
    return [
      `primary ${this.primary.port} pg_stat_replication: ${await ask(this.primary, 'SELECT application_name, state, sync_state, sent_lsn, flush_lsn FROM pg_stat_replication')}`,
      `standby ${this.standby.port} pg_stat_wal_receiver: ${await ask(this.standby, 'SELECT status, flushed_lsn, sender_port, conninfo FROM pg_stat_wal_receiver')}`,
      `--- primary log ---\n${logTail(this.primary)}`,
      `--- standby log ---\n${logTail(this.standby)}`
    ].join('\n')
  }

  /**
   * Stops the primary (immediate) and promotes the standby; resolves `{ stoppedAt, promotedAt }`
   * once the promoted standby accepts writes. `rebuild()` then restores the pair.
   */
  async failover () {
    await this.waitSync()
    await this.primary.stop({ mode: 'immediate' })
    const stoppedAt = Date.now()
    await this.standby.promote()
    const promotedAt = Date.now()
    this.primaryIndex = 1 - this.primaryIndex
    this.failovers++
    return { stoppedAt, promotedAt }
  }

  /**
   * After a failover: a new synchronous standby copied from the new primary replaces the old
   * primary behind its proxy, and a new read replica replaces the old one behind its proxy.
   */
  async rebuild () {
    const oldHost = this.pair[1 - this.primaryIndex]
    await oldHost.cluster.destroy()
    oldHost.cluster = await attachSyncStandby(this.primary)
    oldHost.proxy.targetPort = oldHost.cluster.port
    const oldReplica = this.reader.cluster
    this.reader.cluster = await this.primary.replica({ settings: STANDBY_SETTINGS })
    this.reader.proxy.targetPort = this.reader.cluster.port
    await oldReplica.destroy()
  }

  async destroy () {
    const hosts = [...this.pair, this.reader].filter(Boolean)
    for (const h of hosts) if (h.proxy) await h.proxy.close()
    for (const h of hosts) await h.cluster.destroy()
  }
}

async function proxyTo (cluster) {
  const proxy = new TcpProxy({ targetPort: cluster.port })
  await proxy.start()
  return proxy
}

/** A new standby of `primary`, streaming synchronously (named in synchronous_standby_names). */
async function attachSyncStandby (primary) {
  const standby = await primary.replica({ settings: STANDBY_SETTINGS })
  await streamAs(standby, SYNC_NAME)
  await setConf(primary, 'synchronous_standby_names', SYNC_NAME)
  await waitFor(() => isSync(primary), 'a new standby streaming synchronously', 30000)
  return standby
}

module.exports = { Topology }
