'use strict'
// A real PgBouncer in transaction pool mode in front of the harness's server, for the tests
// that prove pgwarden (and pgwarden/prisma) work behind one. A missing binary fails loudly.

const fs = require('fs')
const os = require('os')
const path = require('path')
const net = require('net')
const { execFileSync } = require('child_process')
const { exec } = require('../../lib/cluster')
const { freePort, eventually } = require('./common')

const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => fs.existsSync(p))
const isRoot = process.getuid && process.getuid() === 0

/** Starts PgBouncer for the server on `targetPort`; resolves to `{ port, stop() }`. */
async function startPgBouncer (targetPort) {
  // CI installs pgbouncer; a missing binary must fail loudly, never skip.
  if (!PGBOUNCER) throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer): this test needs it')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-bouncer-'))
  const ini = path.join(dir, 'pgbouncer.ini')
  fs.writeFileSync(path.join(dir, 'userlist.txt'), '"postgres" ""\n')
  fs.writeFileSync(ini, [
    '[databases]',
    `* = host=127.0.0.1 port=${targetPort}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    'default_pool_size = 2',
    'max_client_conn = 200',
    'ignore_startup_parameters = extra_float_digits,options',
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    ''
  ].join('\n'))
  if (isRoot) execFileSync('chown', ['-R', 'postgres', dir])
  await exec(PGBOUNCER, ['-d', ini], { asPostgres: true })
  const accepts = () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) }).on('error', () => resolve(false))
  })
  await eventually(accepts, true, { ms: 5000, every: 100 })
  const stop = () => {
    try {
      process.kill(Number(fs.readFileSync(path.join(dir, 'pgbouncer.pid'), 'utf8')), 'SIGTERM')
    } catch {}
  }
  return { port, stop }
}

module.exports = { startPgBouncer }
