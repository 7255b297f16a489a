'use strict'
// One benchmark cell in its own Node process, so that each driver starts from a fresh heap
// and its CPU time is its own. The cell prints its result as the last line of JSON.
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..')

/**
 * Runs `script --cell ...args` (with Node flags `nodeFlags`, e.g. `--expose-gc`) and resolves
 * with the JSON of its last output line.
 */
function inChild (script, args, nodeFlags = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, script, '--cell', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.on('close', (code) => {
      try { resolve(JSON.parse(out.trim().split('\n').pop())) } catch { reject(new Error(`${path.basename(script)} cell ${args.join(' ')} exited ${code} without a result`)) }
    })
  })
}

module.exports = { inChild }
