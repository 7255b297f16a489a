'use strict'
// Loads the addon through napi-rs' generated loader (native.js): a `.node` next to the package
// first (a local build wins in development), then the per-platform package. When neither
// loads, napi's own message blames an npm bug; ours says what was looked for and what to do.

const path = require('node:path')
const pkg = require('../package.json')

/** 'gnu' or 'musl' on Linux (as napi names the packages), '' elsewhere. */
function libcOf () {
  if (process.platform !== 'linux') return ''
  const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
  return report && report.header && report.header.glibcVersionRuntime ? 'gnu' : 'musl'
}

/** The platform part of the binary's and the package's names: linux-x64-gnu, darwin-arm64, win32-x64-msvc. */
function platformArchAbi (platform = process.platform, arch = process.arch, libc = libcOf()) {
  const abi = platform === 'linux' ? libc : platform === 'win32' ? 'msvc' : ''
  return [platform, arch, abi].filter(Boolean).join('-')
}

/** The message of a load that found no binary for this machine, or found one that would not load. */
function noBindingMessage (wanted, cause) {
  const binaryName = (pkg.napi && pkg.napi.binaryName) || pkg.name
  const platformPackage = `${pkg.name}-${wanted}`
  const available = Object.keys(pkg.optionalDependencies || {})
  const libc = libcOf()
  const buildFromSource = 'build from source: in a checkout of pgwarden with Rust installed, `npm install` then `npm run build` ' +
    '(it writes the .node file next to the package, which is loaded first).'
  const lines = [
    `pgwarden could not load its native binary for ${wanted} ` +
      `(platform ${process.platform}, arch ${process.arch}${libc ? `, libc ${libc === 'gnu' ? 'glibc' : libc}` : ''}).`,
    `It looked for ${path.join(path.dirname(__dirname), `${binaryName}.${wanted}.node`)} and the package ${platformPackage}.`,
    available.length > 0
      ? `Prebuilt binaries exist for: ${available.join(', ')}.`
      : 'This copy of pgwarden lists no prebuilt binary packages (a source checkout, or a pack made without the release step).'
  ]
  const reason = firstRealFailure(cause)
  if (reason) {
    lines.push(`A binary was found but failed to load: ${reason}`, `Reinstall pgwarden; if that does not help, ${buildFromSource}`)
  } else if (available.includes(platformPackage)) {
    lines.push(`Your platform is among them, so ${platformPackage} was not installed: install again without --omit=optional ` +
      '(or --no-optional); with a lockfile made on another platform, run `npm install` rather than `npm ci`.')
  } else {
    lines.push(`To run on this platform, ${buildFromSource}`)
  }
  return lines.join('\n')
}

/**
 * The first error in napi's chain of load errors that is not "Cannot find module": a binary that
 * exists but would not load (another libc, a corrupt file). napi's chain keeps messages only.
 */
function firstRealFailure (err) {
  for (let e = err, depth = 0; e && depth < 50; e = e.cause, depth++) {
    if (typeof e.message === 'string' && e.message !== '' && !e.message.startsWith('Cannot find module')) return e.message
  }
  return null
}

function load () {
  try {
    return require('../native.js')
  } catch (e) {
    if (!e || typeof e.message !== 'string' || !e.message.startsWith('Cannot find native binding')) throw e
    const err = new Error(noBindingMessage(platformArchAbi(), e.cause))
    err.code = 'ERR_PGWARDEN_NO_BINARY'
    err.cause = e
    throw err
  }
}

module.exports = load()
