'use strict'
// A require hook for tools that load `pg` themselves and take no driver module (MikroORM):
// the request 'pg' — exactly that, from anywhere — resolves to pgwarden/pg (lib/pg/index.js).
// Deep requests (`pg/lib/...`, as pg-cursor makes) and other packages are left alone.
// Load it before the tool: `node -r ./__tests__/ecosystem/swap-pg.js …`, or require() it first.

const Module = require('node:module')
const { PGWARDEN_PG } = require('./transcript')

const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === 'pg') return PGWARDEN_PG
  return resolve.call(this, request, ...rest)
}

module.exports = { PGWARDEN_PG }
