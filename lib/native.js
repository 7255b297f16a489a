'use strict'
// Loads the addon through napi-rs' generated loader (local build, then per-platform package).
module.exports = require('../native.js')
