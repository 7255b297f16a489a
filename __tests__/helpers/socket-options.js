'use strict'
// The TCP options of one of this process's own sockets, as the kernel holds them (Linux): the
// socket is found by its ports in /proc/net/tcp(6), its descriptor in /proc/self/fd, and a
// child process given a copy of that descriptor asks getsockopt(2). Node has no getsockopt;
// perl (perl-base, on every Debian) does, with the constants of its Socket module.

const fs = require('node:fs')
const { spawnSync } = require('node:child_process')

/** Reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT of fd 3. */
const GETSOCKOPT = `
use strict;
use Socket qw(SOL_SOCKET SO_KEEPALIVE IPPROTO_TCP TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT TCP_USER_TIMEOUT);
open(my $s, '+<&=', 3) or die "fd 3: $!";
my @v;
for my $o ([SOL_SOCKET, SO_KEEPALIVE], [IPPROTO_TCP, TCP_KEEPIDLE], [IPPROTO_TCP, TCP_KEEPINTVL],
           [IPPROTO_TCP, TCP_KEEPCNT], [IPPROTO_TCP, TCP_USER_TIMEOUT]) {
  my $r = getsockopt($s, $o->[0], $o->[1]);
  defined $r or die "getsockopt: $!";
  push @v, unpack('i', $r);
}
print join(' ', @v), "\\n";
`

/** The inode of the TCP socket from `localPort` to `remotePort`, from /proc/net/tcp and tcp6. */
function socketInode (localPort, remotePort) {
  const hex = (port) => port.toString(16).toUpperCase().padStart(4, '0')
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '01') continue // established only
      if (f[1].endsWith(`:${hex(localPort)}`) && f[2].endsWith(`:${hex(remotePort)}`)) return f[9]
    }
  }
  throw new Error(`no TCP socket from port ${localPort} to port ${remotePort}`)
}

/** This process's descriptor of socket `inode`. */
function ownDescriptor (inode) {
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === `socket:[${inode}]`) return Number(fd)
    } catch {} // the descriptor of readdir itself is gone by now
  }
  throw new Error(`socket ${inode} is not open in this process`)
}

/**
 * The keepalive options of this process's TCP socket from `localPort` to `remotePort`:
 * `{ keepalive, idle, interval, count, userTimeout }` (0/1, s, s, probes, ms) as the kernel
 * reports them (an option never set reads as the system's value; TCP_USER_TIMEOUT as 0).
 */
function clientSocketOptions (localPort, remotePort) {
  const fd = ownDescriptor(socketInode(localPort, remotePort))
  const run = spawnSync('perl', ['-e', GETSOCKOPT], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' })
  if (run.error || run.status !== 0) throw new Error(`getsockopt failed: ${run.error ?? run.stderr}`)
  const [keepalive, idle, interval, count, userTimeout] = run.stdout.trim().split(' ').map(Number)
  return { keepalive, idle, interval, count, userTimeout }
}

/** The system's keepalive values (what a socket reads when they are not set on it). */
function systemKeepalive () {
  const read = (name) => Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'))
  return { idle: read('tcp_keepalive_time'), interval: read('tcp_keepalive_intvl'), count: read('tcp_keepalive_probes') }
}

module.exports = { clientSocketOptions, systemKeepalive }
