'use strict'
// The ssl setting (libpq sslmode semantics) over real TLS: a private cluster with ssl=on and a certificate
// signed by a throwaway CA. libpq semantics: prefer and require encrypt without verifying,
// verify-ca checks the chain, verify-full also the host name.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Pool } = require('..')
const { ownedCluster } = require('./harness')

const isRoot = process.getuid && process.getuid() === 0
const SSL_IN_USE = 'SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS ssl'

let dir, cluster, ca, otherCa

function openssl (...args) {
  // CI installs openssl; a missing binary must fail loudly, never skip.
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-tls-'))
  openssl('req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=pgwarden test CA', '-keyout', 'ca.key', '-out', 'ca.crt')
  openssl('req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=another CA', '-keyout', 'other.key', '-out', 'other.crt')
  openssl('req', '-new', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr')
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n')
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt')
  fs.chmodSync(path.join(dir, 'server.key'), 0o600)
  if (isRoot) execFileSync('chown', ['-R', 'postgres', dir])
  fs.chmodSync(dir, 0o755)
  ca = path.join(dir, 'ca.crt')
  otherCa = path.join(dir, 'other.crt')
  cluster = await ownedCluster({
    settings: { ssl: 'on', ssl_cert_file: path.join(dir, 'server.crt'), ssl_key_file: path.join(dir, 'server.key') }
  })
})

afterAll(async () => {
  if (cluster) await cluster.destroy()
})

async function sslUsed (connectionString, opts = {}) {
  const pool = new Pool({ connectionString, logger: false, connectTimeoutMs: 3000, poolTimeoutMs: 3000, ...opts })
  try {
    return (await pool.query(SSL_IN_USE)).rows[0].ssl
  } finally {
    await pool.end()
  }
}

const at = (host, params = '') => `postgres://postgres@${host}:${cluster.port}/postgres${params}`

test('sslmode=disable connects in plain text', async () => {
  expect(await sslUsed(at('127.0.0.1', '?sslmode=disable'))).toBe(false)
})

test('the default (prefer) and sslmode=require encrypt', async () => {
  expect(await sslUsed(at('127.0.0.1'))).toBe(true)
  expect(await sslUsed(at('127.0.0.1', '?sslmode=require'))).toBe(true)
  expect(await sslUsed(at('127.0.0.1'), { ssl: { rejectUnauthorized: false } })).toBe(true)
})

test('verify-full with the right CA and host name connects', async () => {
  expect(await sslUsed(at('localhost', `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`))).toBe(true)
  expect(await sslUsed(at('localhost'), { ssl: { ca: fs.readFileSync(ca, 'utf8') } })).toBe(true)
})

test('verify-ca accepts a host name the certificate does not name; verify-full refuses it', async () => {
  expect(await sslUsed(at('127.0.0.1', `?sslmode=verify-ca&sslrootcert=${encodeURIComponent(ca)}`))).toBe(true)
  await expect(sslUsed(at('127.0.0.1', `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`)))
    .rejects.toMatchObject({ code: 'P1011', kind: 'connection', retryable: false, message: expect.stringMatching(/certificate/i) })
})

test('a certificate from another CA is refused by verify-ca, at once (a certificate is not retried)', async () => {
  const t0 = Date.now()
  await expect(sslUsed(at('localhost', `?sslmode=verify-ca&sslrootcert=${encodeURIComponent(otherCa)}`)))
    .rejects.toMatchObject({ code: 'P1011', retryable: false, message: expect.stringMatching(/certificate|issuer/i) })
  expect(Date.now() - t0).toBeLessThan(1500)
})

test('a missing root certificate file is a config error naming it', () => {
  expect(() => new Pool({ connectionString: at('localhost', '?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt'), logger: false }))
    .toThrow(expect.objectContaining({ code: 'ERR_PGWARDEN_CONFIG', message: expect.stringMatching(/nonexistent\/ca\.crt/) }))
})
