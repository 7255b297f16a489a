'use strict'
// The load test's verdict and its report as text (stdout) and JSON (--report-file).

/** The criteria of a PASS, each with its measured value; `limits` are the p95 bounds in ms. */
function assess (s, limits = { queryP95Ms: 500, acquireP95Ms: 1000 }) {
  const poolTimeouts = s.errors.filter((e) => e.code === 'P2024').reduce((a, e) => a + e.count, 0)
  const criteria = [
    { name: 'success rate', want: '> 99%', value: `${s.successRate}%`, pass: s.successRate > 99 },
    { name: 'connection acquire p95', want: `< ${limits.acquireP95Ms} ms`, value: `${s.acquireMs.p95} ms`, pass: s.acquireMs.p95 < limits.acquireP95Ms },
    { name: 'query p95', want: `< ${limits.queryP95Ms} ms`, value: `${s.queryMs.p95} ms`, pass: s.queryMs.p95 < limits.queryP95Ms },
    { name: 'error rate', want: '< 1%', value: `${s.errorRate}%`, pass: s.errorRate < 1 },
    { name: 'pool timeouts (P2024)', want: '0', value: String(poolTimeouts), pass: poolTimeouts === 0 },
    { name: 'active connections at the end', want: '0', value: String(s.finalActive), pass: s.finalActive === 0 }
  ]
  return { pass: criteria.every((c) => c.pass), criteria }
}

const ms = (l) => `avg ${l.avg}  p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max} (ms)`

/** The report people read at the end of a run. */
function text (r) {
  const c = r.config
  const s = r.summary
  const lines = [
    '',
    'pgwarden load test',
    `  target          ${c.target}`,
    `  clients         ${c.concurrent} (ramp-up ${c.rampUp}s), ${c.duration}s, query type ${c.queryType}, connectionLimit ${c.connectionLimit}`,
    '',
    `  statements      ${s.total} (${s.succeeded} ok, ${s.failed} failed), success ${s.successRate}%`,
    `  throughput      ${s.throughput} statements/s`,
    `  acquire         ${ms(s.acquireMs)}, of acquisitions that got a connection`,
    `  query           ${ms(s.queryMs)}, of every statement, failed ones included`,
    `  connections     peak active ${s.peakActive}, active at the end ${s.finalActive}`
  ]
  if (s.errors.length) {
    lines.push('  errors')
    for (const e of s.errors) lines.push(`    ${e.count} × ${e.kind} ${e.code}: ${e.example}`)
  }
  if (r.server) {
    lines.push(`  server          ${r.server.version}; connections by state: ${r.server.byState.map((x) => `${x.state} ${x.count}`).join(', ') || 'none'}`)
  }
  lines.push('', `  assessment      ${r.assessment.pass ? 'PASS' : 'FAIL'}`)
  for (const k of r.assessment.criteria) lines.push(`    ${k.pass ? 'ok  ' : 'FAIL'} ${k.name}: ${k.value} (want ${k.want})`)
  return lines.join('\n') + '\n'
}

module.exports = { assess, text }
