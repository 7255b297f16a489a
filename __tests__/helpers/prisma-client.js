'use strict'
// The Prisma client of __tests__/prisma/schema.prisma, generated offline (generate needs no
// engine binary, only a path that exists) into node_modules/.pgwarden-test-prisma, and the
// schema's DDL (__tests__/prisma/schema.sql) that the tests' databases are made with.

const path = require('node:path')
const fs = require('node:fs')
const { execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..', '..')
const CLIENT_DIR = path.join(ROOT, 'node_modules', '.pgwarden-test-prisma')
const SCHEMA_DIR = path.join(ROOT, '__tests__', 'prisma')

/** The schema's DDL. */
const PRISMA_DDL = fs.readFileSync(path.join(SCHEMA_DIR, 'schema.sql'), 'utf8')

/** Generates the client and returns its PrismaClient class. */
function generatedPrismaClient () {
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'prisma'),
    ['generate', '--schema', path.join(SCHEMA_DIR, 'schema.prisma')],
    { env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false' }, stdio: 'pipe' })
  return require(CLIENT_DIR).PrismaClient
}

module.exports = { generatedPrismaClient, PRISMA_DDL }
