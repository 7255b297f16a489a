#!/usr/bin/env node
'use strict'
// The release step between `napi artifacts` and `npm publish`, as `napi pre-publish` does it:
// every target of package.json's napi.targets has its package in npm/<platform>/ at the root's
// version, holding its binary, and the root package lists them all in optionalDependencies at
// that version, so that an install fetches the one for its machine. The list is written at
// release, not kept in the repository: a lockfile cannot hold packages not yet published, and
// `npm ci` refuses a package.json whose dependencies its lockfile lacks.
//   node scripts/prepare-release.js          checks npm/*, then writes optionalDependencies

const fs = require('node:fs')
const path = require('node:path')

// napi's names for the parts of a Rust target triple (as @napi-rs/cli's parseTriple gives them;
// that module is ESM-only inside, so jest cannot load it). An unknown part stops the release.
const ARCH = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }
const PLATFORM = { linux: 'linux', darwin: 'darwin', windows: 'win32' }
const ABI = { gnu: 'gnu', musl: 'musl', msvc: 'msvc', gnueabihf: 'gnueabihf', musleabihf: 'musleabihf' }

/** x86_64-unknown-linux-gnu → linux-x64-gnu, aarch64-apple-darwin → darwin-arm64. */
function platformArchAbi (triple) {
  const [arch, , os, abi] = triple.split('-')
  const parts = [ARCH[arch], PLATFORM[os], abi === undefined ? '' : ABI[abi]]
  if (parts.includes(undefined)) throw new Error(`prepare-release: no npm name for the target ${triple}`)
  return `${parts[1]}-${parts[0]}${parts[2] ? `-${parts[2]}` : ''}`
}

/** Each target's package: its folder under npm/, its name, and the binary it carries. */
function platformPackages (pkg) {
  const binaryName = pkg.napi.binaryName
  return pkg.napi.targets.map((triple) => {
    const platform = platformArchAbi(triple)
    return { triple, platform, dir: path.join('npm', platform), name: `${pkg.name}-${platform}`, binary: `${binaryName}.${platform}.node` }
  })
}

/** The root manifest as released: one optional dependency per platform package, at the root's version. */
function withOptionalDependencies (pkg) {
  const optionalDependencies = {}
  for (const p of platformPackages(pkg)) optionalDependencies[p.name] = pkg.version
  return { ...pkg, optionalDependencies }
}

/** What is wrong with one platform package folder (empty when it can be published). */
function platformProblems (root, pkg, p) {
  const manifestPath = path.join(root, p.dir, 'package.json')
  if (!fs.existsSync(manifestPath)) return [`${p.dir}/package.json is missing (napi create-npm-dirs makes it)`]
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
  const problems = []
  if (manifest.name !== p.name) problems.push(`${p.dir} is named ${manifest.name}, not ${p.name}`)
  if (manifest.version !== pkg.version) problems.push(`${p.dir} is at ${manifest.version}, pgwarden at ${pkg.version} (npm version runs napi version)`)
  if (manifest.main !== p.binary) problems.push(`${p.dir} main is ${manifest.main}, not ${p.binary}`)
  if (!fs.existsSync(path.join(root, p.dir, p.binary))) problems.push(`${p.dir}/${p.binary} is missing (napi artifacts puts it there)`)
  return problems
}

function main () {
  const root = path.join(__dirname, '..')
  const manifestPath = path.join(root, 'package.json')
  const pkg = JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
  const problems = platformPackages(pkg).flatMap((p) => platformProblems(root, pkg, p))
  if (problems.length > 0) {
    console.error(`prepare-release: not ready to publish:\n  ${problems.join('\n  ')}`)
    process.exit(1)
  }
  fs.writeFileSync(manifestPath, JSON.stringify(withOptionalDependencies(pkg), null, 2) + '\n')
  console.log(`prepare-release: pgwarden ${pkg.version} lists ${pkg.napi.targets.length} platform packages`)
}

if (require.main === module) main()

module.exports = { platformArchAbi, platformPackages, withOptionalDependencies, platformProblems }
