'use strict'
// Command-line options: node's util.parseArgs (strict), then one check per value. A bad
// option or value is a UsageError: one line naming it, exit code 2.

const { parseArgs } = require('node:util')

class UsageError extends Error {}

/** A positive integer option (or its default when absent). */
function integer (values, name, { min = 1, fallback } = {}) {
  const raw = values[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${raw}'`)
  return n
}

/** A number (of seconds, or of `unit`) ≥ `min`, or the default. */
function seconds (values, name, { min = 0, fallback, unit = 'seconds' } = {}) {
  const raw = values[name]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number of ${unit} ≥ ${min}, got '${raw}'`)
  return n
}

/** One of `choices` (or the default). */
function oneOf (values, name, choices, fallback) {
  const raw = values[name]
  if (raw === undefined) return fallback
  if (!choices.includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${raw}'`)
  return raw
}

/** util.parseArgs with its errors turned into one-line UsageErrors. */
function parse (args, options) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values
  } catch (e) {
    throw new UsageError(e.message.split('\n')[0])
  }
}

module.exports = { UsageError, parse, integer, seconds, oneOf }
