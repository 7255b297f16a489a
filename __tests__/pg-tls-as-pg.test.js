'use strict'
// pg's `ssl` option through pgwarden/pg, against pg 8 on the same servers: the certificates as
// Node's TLS takes them (PEM in Buffers, arrays of them), a `ca` that is not PEM refused rather
// than read as a file path, and a server with an old X.509 v1 certificate reached with
// `rejectUnauthorized: false`, as pg (OpenSSL) reaches it.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const pg = require('pg')
const compat = require('../lib/pg')
const { ownedCluster } = require('./harness')
const { failure } = require('./helpers/common')

const isRoot = process.getuid && process.getuid() === 0
const SSL_IN_USE = 'SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS ssl'

let dir
const clusters = {}

function openssl (...args) {
  // CI installs openssl; a missing binary must fail loudly, never skip.
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A private cluster serving TLS with `cert` / `key` (files in `dir`). */
function tlsCluster (cert, key) {
  fs.chmodSync(path.join(dir, key), 0o600)
  if (isRoot) execFileSync('chown', ['-R', 'postgres', dir])
  return ownedCluster({ settings: { ssl: 'on', ssl_cert_file: path.join(dir, cert), ssl_key_file: path.join(dir, key) } })
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-pgtls-'))
  fs.chmodSync(dir, 0o755)
  // A v3 chain: a CA, and a server certificate for localhost it signed.
  openssl('req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=pgwarden test CA', '-keyout', 'ca.key', '-out', 'ca.crt')
  openssl('req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=another CA', '-keyout', 'other.key', '-out', 'other.crt')
  openssl('req', '-new', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr')
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n')
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt')
  // An X.509 v1 certificate: signed by its own key, no extensions, no version field.
  openssl('req', '-new', '-nodes', '-subj', '/CN=localhost', '-keyout', 'v1.key', '-out', 'v1.csr')
  openssl('x509', '-req', '-in', 'v1.csr', '-signkey', 'v1.key', '-days', '2', '-out', 'v1.crt')
  expect(execFileSync('openssl', ['x509', '-in', path.join(dir, 'v1.crt'), '-noout', '-text'], { encoding: 'utf8' })).toMatch(/Version: 1 \(0x0\)/)
  clusters.v3 = await tlsCluster('server.crt', 'server.key')
  clusters.v1 = await tlsCluster('v1.crt', 'v1.key')
}, 60000)

afterAll(async () => {
  await Promise.all(Object.values(clusters).map((c) => c.destroy()))
})

/** `localhost` URL of a cluster (the name its certificate has). */
const urlOf = (cluster) => cluster.url.replace('127.0.0.1', 'localhost')

/** Whether a pool of `driver` with `ssl` reaches `cluster` over TLS; the error's code or message if not. */
async function reach (driver, cluster, ssl) {
  const pool = new driver.Pool({ connectionString: urlOf(cluster), ssl, connectionTimeoutMillis: 5000 })
  try {
    return (await pool.query(SSL_IN_USE)).rows[0].ssl
  } catch (e) {
    return 'refused'
  } finally {
    await pool.end()
  }
}

const both = (cluster, ssl) => Promise.all([reach(pg, cluster, ssl), reach(compat, cluster, ssl)])
const read = (file) => fs.readFileSync(path.join(dir, file))

test('a CA given as a Buffer, as text, or in an array verifies the server, as with pg', async () => {
  for (const ca of [read('ca.crt'), read('ca.crt').toString(), [read('other.crt'), read('ca.crt')]]) {
    expect(await both(clusters.v3, { ca })).toEqual([true, true])
  }
})

test('a CA that did not sign the server certificate is refused, as with pg', async () => {
  expect(await both(clusters.v3, { ca: read('other.crt') })).toEqual(['refused', 'refused'])
})

test('a ca that is not PEM text is refused, never read as a file path', async () => {
  const file = path.join(dir, 'ca.crt')
  expect(await both(clusters.v3, { ca: file })).toEqual(['refused', 'refused'])
  const pool = new compat.Pool({ connectionString: urlOf(clusters.v3), ssl: { ca: file } })
  expect(await failure(pool.query('SELECT 1'))).toMatchObject({ code: 'ERR_PGWARDEN_CONFIG', message: expect.stringContaining('PEM text') })
  await pool.end()
})

test('a server with an X.509 v1 certificate is reached with rejectUnauthorized: false, as with pg', async () => {
  expect(await both(clusters.v1, { rejectUnauthorized: false })).toEqual([true, true])
})
