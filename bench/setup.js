#!/usr/bin/env node
'use strict'
// Makes every peer of the benchmark runnable here: pg-native needs libpq's C addon, which npm
// (which runs no dependency install scripts) never builds. This installs libpq-dev when it is
// missing (apt-get, as root or through sudo) and builds node_modules/libpq with node-gyp
// against the running Node's headers. `npm run bench` runs it first; it is idempotent.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const LIBPQ = path.join(ROOT, 'node_modules', 'libpq')
const ADDON = path.join(LIBPQ, 'build', 'Release', 'addon.node')

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', ...opts })
const has = (cmd) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false } }

/** libpq's headers and pg_config, from the distribution's libpq-dev. */
function ensureLibpqDev () {
  if (has('pg_config') && fs.existsSync('/usr/include/postgresql/libpq-fe.h')) return
  const apt = ['apt-get', 'install', '-y', '-qq', 'libpq-dev']
  const [cmd, ...args] = process.getuid && process.getuid() === 0 ? apt : ['sudo', ...apt]
  console.error('bench/setup: installing libpq-dev (pg-native builds against it)')
  run(cmd, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

/** Node's own headers: the distribution's (/usr/include/node), else node-gyp downloads them. */
function nodeDir () {
  const prefix = path.dirname(path.dirname(process.execPath))
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? ['--nodedir', prefix] : []
}

/** Whether the built addon loads in this Node (an addon built for another Node does not). */
function loads () {
  try {
    require(ADDON)
    return true
  } catch {
    return false
  }
}

function main () {
  if (!fs.existsSync(LIBPQ)) throw new Error('node_modules/libpq is missing: run npm ci first (libpq and pg-native are dev dependencies)')
  if (fs.existsSync(ADDON) && loads()) return
  ensureLibpqDev()
  console.error('bench/setup: building libpq (pg-native) with node-gyp')
  run(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', ...nodeDir()], { cwd: LIBPQ })
  if (!loads()) throw new Error(`libpq was built but ${ADDON} does not load`)
}

main()
