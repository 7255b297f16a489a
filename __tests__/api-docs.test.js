'use strict'
// docs/API.md cannot drift from the types: every export of index.d.ts, express.d.ts and
// prisma.d.ts, every option, per-call option, event, Pool method, error kind and error code the
// code raises appears in it (as `name`). docs/RELIABILITY.md cannot cite a test that is not
// there: every `file.test.js` › name it gives names a test file and words of that file's tests.

const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8')
const API = read('docs/API.md')
const INDEX = read('index.d.ts')

/** The body of `export interface name` or `export declare class name` in `source`. */
function body (source, name) {
  const start = source.search(new RegExp(`export (interface|declare class) ${name}\\b`))
  if (start < 0) throw new Error(`${name} is not in the types`)
  let depth = 0
  for (let i = source.indexOf('{', start); i < source.length; i++) {
    if (source[i] === '{') depth++
    if (source[i] === '}' && --depth === 0) return source.slice(source.indexOf('{', start) + 1, i)
  }
  throw new Error(`${name} has no closing brace`)
}

/** Names declared at the first level of an interface or class body (`  name?:`, `  name(`, `  name<`). */
const members = (source, name) => [...new Set([...body(source, name).matchAll(/^ {2}(?:readonly )?([a-zA-Z]+)\??[:(<]/gm)].map((m) => m[1]))]
const exportsOf = (source) => [...source.matchAll(/^export (?:declare )?(?:class|function|interface|type|const) ([A-Za-z]+)/gm)].map((m) => m[1])
const undocumented = (names) => names.filter((n) => !API.includes(`\`${n}\``) && !API.includes(`\`${n}(`))

test('every export of pgwarden, pgwarden/express and pgwarden/prisma is documented', () => {
  const names = [...exportsOf(INDEX), ...exportsOf(read('express.d.ts')), ...exportsOf(read('prisma.d.ts'))]
  expect(names.length).toBeGreaterThan(40)
  expect(undocumented(names)).toEqual([])
})

test('every Pool method and every option, per-call option and event is documented', () => {
  const names = ['Pool', 'PoolOptions', 'QueryOptions', 'StreamOptions', 'ScriptOptions', 'EndOptions', 'TransactionOptions', 'RetryOptions', 'TelemetryOptions', 'PoolEvents']
    .flatMap((name) => members(INDEX, name)).filter((n) => n !== 'constructor')
  expect(names).toEqual(expect.arrayContaining(['connectionLimit', 'query', 'once', 'batchSize', 'slowQuery', 'highUtilization']))
  expect(undocumented(names)).toEqual([])
})

test('every error kind and every error code the code raises is documented', () => {
  const kinds = [...INDEX.match(/export type ErrorKind =([^]*?)\n\n/)[1].matchAll(/'([a-z_]+)'/g)].map((m) => m[1])
  expect(kinds).toContain('pool_timeout')
  const sources = ['lib', 'src'].flatMap((dir) => fs.readdirSync(path.join(ROOT, dir), { recursive: true })
    .filter((f) => /\.(js|rs)$/.test(f)).map((f) => read(path.join(dir, f))))
  const codes = [...new Set(sources.flatMap((s) => [...s.matchAll(/\b(ERR_PGWARDEN_[A-Z_]+|P[12]\d{3})\b/g)].map((m) => m[1])))]
  expect(codes).toEqual(expect.arrayContaining(['P1001', 'P2024', 'ERR_PGWARDEN_CONFIG', 'ERR_PGWARDEN_NO_BINARY']))
  expect(undocumented([...kinds, ...codes])).toEqual([])
})

test('every test docs/RELIABILITY.md cites exists', () => {
  const doc = read('docs/RELIABILITY.md')
  const rows = doc.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| fault |'))
  const cited = []
  for (const row of rows) {
    const tests = row.slice(2, -2).split(' | ')[2] || '' // fault | what pgwarden does | test | seen to fail when
    // `file.test.js` › name › name …; a name ends at ';', '(' or the next file; '…' elides words.
    for (const m of tests.matchAll(/`(?:__tests__\/)?([\w.-]+\.test\.js)`((?:\s*›\s*[^;`›(|]+)*)/g)) {
      const file = path.join('__tests__', m[1])
      const parts = m[2].split(/[›…]/).map((s) => s.trim()).filter(Boolean)
      cited.push({ file, parts })
    }
  }
  expect(cited.length).toBeGreaterThan(40)
  const missing = []
  for (const { file, parts } of cited) {
    if (!fs.existsSync(path.join(ROOT, file))) {
      missing.push(file)
      continue
    }
    const source = read(file)
    for (const part of parts) if (!source.includes(part)) missing.push(`${file} › ${part}`)
  }
  expect(missing).toEqual([])
})
