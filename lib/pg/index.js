'use strict'
// pgwarden/pg: node-postgres' API over pgwarden's pool. `require('pg')` becomes
// `require('pgwarden/pg')`; docs/API.md, "Coming from pg", lists what differs.

const types = require('pg-types')
const { Pool } = require('./pool')
const { Client } = require('./client')
const { Query } = require('./query')
const { Result } = require('./result')
const { PgWardenError } = require('../errors')
const { DatabaseError, defaults, TypeOverrides, escapeIdentifier, escapeLiteral } = require('./surface')

module.exports = {
  Pool, Client, Query, Result, types, defaults, TypeOverrides, DatabaseError, PgWardenError, escapeIdentifier, escapeLiteral
}
