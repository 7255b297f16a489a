'use strict'
// A statement stopped by timeoutMs on a TLS connection is cancelled on the server, and the
// cancel request itself travels over TLS. The server (a private cluster, certificate from a
// throwaway CA as in tls.test.js) accepts TCP only through `hostssl` lines.
//
// PostgreSQL does not apply pg_hba.conf to cancel requests (libpq before 17 always sends them
// in plain text), so the server alone cannot tell how the cancel travelled: the pool connects
// through a proxy that records how each connection opens (SSLRequest or a plain CancelRequest).

const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { ownedCluster } = require('./harness')
const { appNames, eventually, failure, poolFactory, backendCounter, timed } = require('./helpers/common')

const SSL_REQUEST = 80877103 // the code after the length in the first packet of a connection
const CANCEL_REQUEST = 80877102
const ONLY_TLS_OVER_TCP = 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n'

const appName = appNames(`pgw_cancel_tls_${process.pid}`)
const backends = backendCounter(() => cluster)
const { makePool, endPools } = poolFactory(() => proxy.url)

let dir, cluster, proxy

/** Runs openssl in `dir`; a missing binary fails loudly, never skips. */
function openssl (...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A CA and a server certificate (v3, CN/SAN localhost) signed by it, readable by postgres. */
function makeServerCertificate () {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-cancel-tls-'))
  openssl('req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=pgwarden cancel CA', '-keyout', 'ca.key', '-out', 'ca.crt')
  openssl('req', '-new', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr')
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n')
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt')
  fs.chmodSync(path.join(dir, 'server.key'), 0o600)
  if (process.getuid() === 0) execFileSync('chown', ['-R', 'postgres', dir])
  fs.chmodSync(dir, 0o755)
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') }
}

/** Replaces pg_hba.conf with hostssl-only TCP rules; a restart makes them certainly in force. */
async function allowOnlyTlsOverTcp (c) {
  fs.writeFileSync(path.join(c.dataDir, 'pg_hba.conf'), ONLY_TLS_OVER_TCP)
  await c.restart()
}

/** A TCP forwarder to `targetPort`; `openings` lists the protocol code each connection opened with. */
function sniffingProxy (targetPort) {
  const openings = []
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1')
    let head = Buffer.alloc(0)
    client.on('data', (d) => {
      if (head && (head = Buffer.concat([head, d])).length >= 8) { openings.push(head.readUInt32BE(4)); head = null }
    })
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on('error', () => {})
      a.on('close', () => b.destroy())
      a.pipe(b)
    }
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ openings, port: server.address().port, server })))
}

beforeAll(async () => {
  const { ca, cert, key } = makeServerCertificate()
  cluster = await ownedCluster({ settings: { ssl: 'on', ssl_cert_file: cert, ssl_key_file: key } })
  await allowOnlyTlsOverTcp(cluster)
  proxy = await sniffingProxy(cluster.port)
  proxy.url = `postgres://postgres@127.0.0.1:${proxy.port}/postgres?sslmode=verify-ca&sslrootcert=${encodeURIComponent(ca)}`
}, 60000)

afterEach(endPools)

afterAll(async () => {
  if (proxy) await new Promise((resolve) => proxy.server.close(resolve))
  if (cluster) await cluster.destroy()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

test('control: pg_hba.conf refuses a connection without TLS', async () => {
  const pool = makePool({ connectTimeoutMs: 2000, poolTimeoutMs: 3000 }, `postgres://postgres@127.0.0.1:${cluster.port}/postgres?sslmode=disable`)
  const err = await failure(pool.query('SELECT 1'))
  expect(err).toMatchObject({ code: '28000', kind: 'permission', retryable: false, message: expect.stringMatching(/no pg_hba\.conf entry.*no encryption/) })
})

test('a timed-out statement is cancelled on the server over TLS and its connection reused', async () => {
  const app = appName('sleep')
  const pool = makePool({ applicationName: app, connectionLimit: 1 })
  const pid = async () => (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
  const pidBefore = await pid()
  expect(proxy.openings).toEqual([SSL_REQUEST]) // the pool's one connection

  const r = await timed(pool.query('SELECT pg_sleep(30)', [], { timeoutMs: 300 }))
  const running = await eventually(() => backends(app, "AND state = 'active' AND query LIKE '%pg_sleep(30)%'"), 0, { ms: 1000 })
  console.log(`[cancel-over-tls] rejected after ${r.ms}ms: ${r.error && r.error.message}; connections ${JSON.stringify(pool.getPoolStats().connections)}`)

  expect(r.ok).toBe(false)
  expect(r.error).toMatchObject({ code: 'P1008', maybeCommitted: false, retryable: true, message: expect.stringContaining('cancelled on the server') })
  expect(r.ms).toBeGreaterThanOrEqual(290)
  expect(r.ms).toBeLessThan(1000) // a cancel that does not land costs the 2 s cancel grace
  expect(running).toBe(0)
  expect(proxy.openings).toEqual([SSL_REQUEST, SSL_REQUEST]) // the cancel: over TLS, never a plain CancelRequest
  expect(proxy.openings).not.toContain(CANCEL_REQUEST)

  expect(await pid()).toBe(pidBefore)
  expect(pool.getPoolStats().connections).toEqual({ created: 1, closed: 0, failed: 0, refusedTooManyClients: 0, releasedInTransaction: 0, sessionResets: 0 })
  expect(proxy.openings).toHaveLength(2)
})
