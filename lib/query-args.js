'use strict'
// A statement's arguments in the two forms pg accepts and pgwarden keeps:
// `query(text, values?, opts?)` and `query({ text, values, ...opts }, values?, opts?)`.
// The one split of them: pgwarden's pool and clients, and pgwarden/pg, read their arguments
// through it.

/**
 * `{ sql, values, opts }` from either form. In the config form the options are the config's own
 * fields (with `opts` over them); a plain object in the place of `values` is the options.
 */
function splitQuery (text, values, opts) {
  if (text !== null && typeof text === 'object') {
    return { sql: text.text, values: text.values !== undefined ? text.values : values, opts: { ...text, ...(opts || {}) } }
  }
  if (values !== null && typeof values === 'object' && !Array.isArray(values)) return { sql: text, values: undefined, opts: values }
  return { sql: text, values, opts: opts || {} }
}

module.exports = { splitQuery }
