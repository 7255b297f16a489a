#!/usr/bin/env node
'use strict'
// The pgwarden command: `pgwarden load-test`, `pgwarden doctor`, `--help`, `--version`.

const { UsageError } = require('../lib/cli/options')

const COMMANDS = {
  'load-test': () => require('../lib/cli/load-test').loadTest,
  doctor: () => require('../lib/cli/doctor').doctor
}

const HELP = `Usage: pgwarden <command> [options]

Commands:
  load-test   run virtual clients against PostgreSQL and assess the pool (PASS/FAIL)
  doctor      show where each setting came from, the server's limits, warnings and live problems

Run \`pgwarden <command> --help\` for a command's options. \`pgwarden --version\` prints the version.
`

const io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stderr.isTTY),
  stream: process.stderr
}

async function main (argv) {
  const [command, ...args] = argv
  if (command === '--version' || command === '-v') {
    io.out(`${require('../package.json').version}\n`)
    return 0
  }
  if (command === undefined || command === '--help' || command === '-h') {
    io.out(HELP)
    return command === undefined ? 2 : 0
  }
  const run = COMMANDS[command]
  if (!run) throw new UsageError(`unknown command '${command}' (expected ${Object.keys(COMMANDS).join(' or ')})`)
  return run()(args, io)
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (e) => {
    if (e instanceof UsageError) {
      io.err(`pgwarden: ${e.message}\n`)
      process.exitCode = 2
    } else {
      io.err(`pgwarden: ${e && e.stack ? e.stack : e}\n`)
      process.exitCode = 1
    }
  }
)
