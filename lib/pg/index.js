'use strict'
// pgwarden/pg: node-postgres' API over pgwarden's pool. `require('pg')` becomes
// `require('pgwarden/pg')`; docs/API.md, "Coming from pg", lists what differs.

const types = require('pg-types')
const { Pool } = require('./pool')
const { Client } = require('./client')
const { PgWardenError } = require('../errors')

module.exports = { Pool, Client, types, DatabaseError: PgWardenError, PgWardenError }
