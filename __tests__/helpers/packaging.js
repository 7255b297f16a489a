'use strict'
// The path a user takes, from this checkout: the tarballs a release publishes (pgwarden with its
// optionalDependencies, and the linux-x64-gnu platform package holding the binary built here),
// installed into a fresh project outside the repository, so nothing resolves from its node_modules.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { withOptionalDependencies } = require('../../scripts/prepare-release')

const ROOT = path.join(__dirname, '..', '..')
const PLATFORM = 'linux-x64-gnu'
const run = promisify(execFile)

/** npm with the repository's scripts off: `prepare` would build the addon again. */
async function npm (args, cwd) {
  const { stdout } = await run('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund'], { cwd, maxBuffer: 64 << 20, env: cleanEnv() })
  return stdout
}

/** The environment without what could reach the repository's modules. */
function cleanEnv (extra = {}) {
  const env = { ...process.env, ...extra }
  delete env.NODE_PATH
  delete env.NODE_OPTIONS
  return env
}

/** `npm pack --dry-run --json` of `dir`: { size, unpackedSize, files: [paths] }. */
async function packListing (dir) {
  const [info] = JSON.parse(await npm(['pack', '--dry-run', '--json'], dir))
  return { size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path).sort() }
}

/** Packs `dir` into `dest`; resolves to the tarball's path. */
async function pack (dir, dest) {
  const [info] = JSON.parse(await npm(['pack', '--json', '--pack-destination', dest], dir))
  return path.join(dest, info.filename)
}

/**
 * Makes the release tarballs in a new temporary folder: pgwarden's files as `npm pack` selects
 * them, its manifest as scripts/prepare-release.js writes it, and npm/linux-x64-gnu with the
 * binary built here (what `napi artifacts` does in the release). Resolves to
 * { dir, main, platform } (tarball paths).
 */
async function releaseTarballs () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-pack-'))
  const stage = path.join(dir, 'stage')
  fs.mkdirSync(stage)
  await run('tar', ['xzf', await pack(ROOT, dir), '-C', stage])
  const manifest = path.join(stage, 'package', 'package.json')
  fs.writeFileSync(manifest, JSON.stringify(withOptionalDependencies(JSON.parse(fs.readFileSync(manifest, 'utf8'))), null, 2))
  const platformDir = path.join(stage, PLATFORM)
  fs.cpSync(path.join(ROOT, 'npm', PLATFORM), platformDir, { recursive: true })
  fs.copyFileSync(path.join(ROOT, `pgwarden.${PLATFORM}.node`), path.join(platformDir, `pgwarden.${PLATFORM}.node`))
  const out = path.join(dir, 'tarballs')
  fs.mkdirSync(out)
  return { dir, main: await pack(path.join(stage, 'package'), out), platform: await pack(platformDir, out) }
}

/**
 * A fresh project in a temporary folder with `specs` installed (tarball paths, registry specs).
 * Registry packages come from npm's cache when it has them.
 */
async function freshProject (specs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-app-'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pgwarden-user', version: '1.0.0', private: true }))
  await npm(['install', '--prefer-offline', ...specs], dir)
  return dir
}

/** Copies helpers/consumer/`name` into `project` and runs it there; resolves to its JSON output. */
async function runConsumer (project, name, env = {}) {
  fs.copyFileSync(path.join(__dirname, 'consumer', name), path.join(project, name))
  const { stdout } = await run(process.execPath, [name], { cwd: project, env: cleanEnv(env), timeout: 30000 })
  return JSON.parse(stdout)
}

/** Runs `node -e code` in `project`; resolves to { code, stdout, stderr } whatever the exit code. */
function nodeIn (project, code, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', code], { cwd: project, env: cleanEnv(env), timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr })
    })
  })
}

module.exports = { ROOT, PLATFORM, packListing, releaseTarballs, freshProject, runConsumer, nodeIn, run }
