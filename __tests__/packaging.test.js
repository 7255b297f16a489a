'use strict'
// What a user gets from `npm install pgwarden`: the tarballs a release publishes, installed into
// a fresh project outside the repository, then used through CommonJS, ESM, pgwarden/express,
// pgwarden/prisma, pgwarden/pg and the pgwarden bin against the real test server. Also: the
// tarball holds only what belongs, the platform packages stay in step with pgwarden's version,
// a .node next to the package wins, and no binary at all gives an error that says what to do.

const fs = require('node:fs')
const path = require('node:path')
const { freshDatabase } = require('./harness')
const { ROOT, PLATFORM, packListing, releaseTarballs, freshProject, runConsumer, nodeIn, run } = require('./helpers/packaging')
const { platformPackages, withOptionalDependencies, platformProblems } = require('../scripts/prepare-release')
const pkg = require('../package.json')

let url
let tarballs
let project
beforeAll(async () => {
  url = await freshDatabase('packaging')
  tarballs = await releaseTarballs()
  const express = `express@${require('express/package.json').version}`
  project = await freshProject([tarballs.main, tarballs.platform, express])
})
afterAll(() => {
  for (const dir of [tarballs && tarballs.dir, project]) if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** Paths `npm pack` may ship: the entry points, their types, lib/, bin/, docs/, the README and the LICENSE. */
const BELONGS = /^(bin\/[^/]+\.js|lib\/.+\.js|docs\/[A-Z]+\.md|(index|native)\.(js|d\.ts)|(express|prisma|pg)\.d\.ts|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/

test('the pgwarden tarball lists only what belongs: entry points, types, lib, bin, docs, the license', async () => {
  const listing = await packListing(ROOT)
  console.log(`npm pack: pgwarden ${(listing.size / 1024).toFixed(1)} kB packed, ${(listing.unpackedSize / 1024).toFixed(1)} kB unpacked, ` +
    `${listing.files.length} files; ${path.basename(tarballs.platform)} ${(fs.statSync(tarballs.platform).size / 1024 / 1024).toFixed(2)} MB`)
  expect(listing.files.filter((f) => !BELONGS.test(f))).toEqual([])
  expect(listing.files).toEqual(expect.arrayContaining([
    'index.js', 'index.d.ts', 'native.js', 'native.d.ts', 'express.d.ts', 'prisma.d.ts', 'pg.d.ts',
    'lib/native.js', 'lib/express.js', 'lib/prisma.js', 'lib/pg/index.js', 'bin/pgwarden.js', 'README.md', 'CHANGELOG.md', 'LICENSE', 'docs/API.md', 'docs/CONFIGURATION.md'
  ]))
  // Every exports target and the bin are in it.
  const targets = Object.values(pkg.exports).flatMap((e) => typeof e === 'string' ? [e] : Object.values(e))
  for (const t of [...targets, ...Object.values(pkg.bin)]) expect(listing.files).toContain(path.normalize(t))
})

test('the platform package holds its binary, its manifest and README, nothing else', async () => {
  const { stdout } = await run('tar', ['tzf', tarballs.platform])
  expect(stdout.trim().split('\n').sort()).toEqual(['package/README.md', 'package/package.json', `package/pgwarden.${PLATFORM}.node`])
})

test('the released manifest lists every platform package at pgwarden\'s version, and npm/* are in step', () => {
  const released = withOptionalDependencies(pkg)
  const dirs = fs.readdirSync(path.join(ROOT, 'npm')).sort()
  expect(Object.keys(released.optionalDependencies).sort()).toEqual(dirs.map((d) => `pgwarden-${d}`))
  expect(new Set(Object.values(released.optionalDependencies))).toEqual(new Set([pkg.version]))
  // The binaries come at release (napi artifacts): every other problem would stop it.
  const problems = platformPackages(pkg).flatMap((p) => platformProblems(ROOT, pkg, p)).filter((m) => !m.includes('napi artifacts'))
  expect(problems).toEqual([])
})

test('the release script names each target as napi does', async () => {
  const code = `const { parseTriple } = require('@napi-rs/cli')
    console.log(JSON.stringify(require('./package.json').napi.targets.map((t) => parseTriple(t).platformArchABI)))`
  const { stdout } = await run(process.execPath, ['-e', code], { cwd: ROOT })
  expect(platformPackages(pkg).map((p) => p.platform)).toEqual(JSON.parse(stdout))
})

test('CommonJS: require(\'pgwarden\') runs a query with the binary of the platform package', async () => {
  const out = await runConsumer(project, 'require.cjs', { DATABASE_URL: url })
  expect(out.rows).toEqual([{ n: 42 }])
  expect(out.binaries).toEqual([path.join(fs.realpathSync(project), 'node_modules', `pgwarden-${PLATFORM}`, `pgwarden.${PLATFORM}.node`)])
})

test('ESM: import { Pool, withRetry } from \'pgwarden\' runs a query; errors are classified', async () => {
  const out = await runConsumer(project, 'import.mjs', { DATABASE_URL: url })
  expect(out).toEqual({ rows: [{ s: 'esm' }], syntax: 'syntax', isPgWardenError: true, defaultHasPool: true })
})

test('pgwarden/express serves stats and readiness from the installed package', async () => {
  const out = await runConsumer(project, 'express.cjs', { DATABASE_URL: url })
  expect(out).toEqual({ executed: 1, ready: 200, health: 'healthy' })
})

test('pgwarden/prisma answers a raw query as Prisma sends it', async () => {
  const out = await runConsumer(project, 'prisma.cjs', { DATABASE_URL: url })
  expect(out).toEqual({ provider: 'postgres', adapterName: 'pgwarden', columnNames: ['n'], rows: [[7]] })
})

test('pgwarden/pg runs a query through pg\'s Pool interface', async () => {
  const out = await runConsumer(project, 'pg.cjs', { DATABASE_URL: url })
  expect(out).toEqual({ rows: [{ n: 42 }] })
})

test('the pgwarden bin: --version, and doctor reaches the server', async () => {
  const bin = path.join(project, 'node_modules', '.bin', 'pgwarden')
  expect((await run(bin, ['--version'])).stdout.trim()).toBe(pkg.version)
  const { stdout } = await run(bin, ['doctor', '--url', url, '--json']).catch((e) => e) // exit 1 only warns
  const report = JSON.parse(stdout)
  expect(report.server.maxConnections).toBeGreaterThan(0)
  expect(report.settings.find((s) => s.name === 'connectionString').source).toBe('option connectionString')
})

describe('which binary loads', () => {
  const pgwardenDir = () => path.join(project, 'node_modules', 'pgwarden')
  const platformDir = () => path.join(project, 'node_modules', `pgwarden-${PLATFORM}`)
  const loaded = 'require("pgwarden"); console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.endsWith(".node"))))'

  test('a .node next to the package wins over the platform package (a local build in development)', async () => {
    const local = path.join(pgwardenDir(), `pgwarden.${PLATFORM}.node`)
    fs.copyFileSync(path.join(ROOT, `pgwarden.${PLATFORM}.node`), local)
    try {
      const r = await nodeIn(project, loaded)
      expect(r.stderr).toBe('')
      expect(JSON.parse(r.stdout)).toEqual([fs.realpathSync(local)])
    } finally {
      fs.rmSync(local)
    }
  })

  /** `{ code, message }` of `require('pgwarden')` in the project with its platform package hidden. */
  async function loadErrorWithoutPlatformPackage () {
    const hidden = `${platformDir()}.hidden`
    fs.renameSync(platformDir(), hidden)
    try {
      const r = await nodeIn(project, 'try { require("pgwarden") } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }')
      return JSON.parse(r.stdout)
    } finally {
      fs.renameSync(hidden, platformDir())
    }
  }

  test('with no binary for the platform, the error names the platform, the packages that exist and what to do', async () => {
    const { code, message } = await loadErrorWithoutPlatformPackage()
    expect(code).toBe('ERR_PGWARDEN_NO_BINARY')
    expect(message).toContain(`native binary for ${PLATFORM} (platform linux, arch x64, libc glibc)`)
    expect(message).toContain(`the package pgwarden-${PLATFORM}`)
    expect(message).toContain(`Prebuilt binaries exist for: ${Object.keys(withOptionalDependencies(pkg).optionalDependencies).join(', ')}.`)
    expect(message).toContain(`so pgwarden-${PLATFORM} was not installed`)
    expect(message).not.toContain('npm has a bug')
  })

  test('a binary that will not load is reported with its loader error and the build-from-source advice', async () => {
    const local = path.join(pgwardenDir(), `pgwarden.${PLATFORM}.node`)
    fs.writeFileSync(local, 'not a shared object')
    try {
      const { code, message } = await loadErrorWithoutPlatformPackage()
      expect(code).toBe('ERR_PGWARDEN_NO_BINARY')
      expect(message).toMatch(/A binary was found but failed to load: .*pgwarden\.linux-x64-gnu\.node: (invalid ELF header|file too short)/)
      expect(message).toContain('`npm run build`')
    } finally {
      fs.rmSync(local)
    }
  })
})
