'use strict'
// The types are checked as a TypeScript user meets them: `tsc --noEmit --strict` accepts a file
// using the whole public API (importing 'pgwarden', 'pgwarden/express' and 'pgwarden/prisma'
// through the package's exports map), and rejects each line of a file of misuses, each with the
// error it names, and no other line.

const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')

const TYPES = path.join(__dirname, 'types')
const TSC = require.resolve('typescript/bin/tsc') // a missing typescript fails here, loudly

/** Runs tsc --noEmit --strict on `file`; resolves to its diagnostics as [{ line, code }]. */
function typeErrors (file) {
  const args = [TSC, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--pretty', 'false', file]
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: path.join(__dirname, '..'), timeout: 60000 }, (err, stdout) => {
      if (err && err.code !== 2) return reject(err) // 2: compiled with errors
      const errors = [...stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+):/gm)].map((m) => ({ file: path.basename(m[1]), line: Number(m[2]), code: m[3] }))
      if (err && errors.length === 0) return reject(new Error(`tsc failed without diagnostics:\n${stdout}`))
      resolve(errors)
    })
  })
}

/** The lines of `file` that end with `// TSnnnn`: [{ line, code }]. */
function expectedErrors (file) {
  return fs.readFileSync(file, 'utf8').split('\n')
    .map((text, i) => ({ file: path.basename(file), line: i + 1, code: (text.match(/\/\/ (TS\d+)$/) || [])[1] }))
    .filter((e) => e.code !== undefined)
}

test('the whole public API compiles under --strict: pool, typed rows, stream, transaction, retry, errors, events, stats, health, express, prisma', async () => {
  expect(await typeErrors(path.join(TYPES, 'public-api.ts'))).toEqual([])
})

test('misuse does not compile: wrong option names and types, wrong event names and payloads, each with its error', async () => {
  const file = path.join(TYPES, 'misuse.ts')
  const expected = expectedErrors(file)
  expect(expected.length).toBeGreaterThanOrEqual(15)
  expect(await typeErrors(file)).toEqual(expected)
})
