'use strict'
// pg's `Query`: `client.query(new Query(text, values?, callback?))` returns the query, which
// emits 'row' per row, then 'end' with the result, or 'error' (to its callback instead, when it
// has one), as pg's does. pgwarden/pg's clients run it as any statement.

const { EventEmitter } = require('node:events')

class Query extends EventEmitter {
  constructor (config, values, callback) {
    super()
    const c = typeof config === 'string' ? { text: config } : { ...(config || {}) }
    if (typeof values === 'function') {
      callback = values
      values = undefined
    }
    this.text = c.text
    this.values = c.values !== undefined ? c.values : values
    this.rows = c.rows
    this.types = c.types
    this.name = c.name
    this.rowMode = c.rowMode
    this.callback = callback || c.callback
    this._config = { ...c, text: this.text, values: this.values }
    delete this._config.callback
  }

  /**
   * Runs on a pgwarden/pg client: `run(config)` resolves to pg's result. Events as pg's
   * Query emits them; the callback, if any, gets the outcome instead of an 'error' event.
   */
  _runWith (run) {
    run(this._config).then((result) => {
      const results = Array.isArray(result) ? result : [result]
      for (const r of results) for (const row of r.rows) this.emit('row', row, r)
      if (this.callback) this.callback(null, result)
      this.emit('end', result)
    }, (err) => {
      if (this.callback) this.callback(err)
      else this.emit('error', err)
    })
    return this
  }

  /** pg's protocol entry: a pgwarden/pg client runs the query itself (see `_runWith`). */
  submit () {
    throw new Error('pgwarden/pg: a Query runs on a pgwarden/pg client or pool (client.query(query))')
  }
}

module.exports = { Query }
