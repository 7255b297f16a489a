'use strict'
// The load test's report as one self-contained HTML file: uPlot and its stylesheet are
// inlined (no network fetch), the data is embedded, and three charts are drawn over time
// (throughput, latency percentiles, pool connections) above the summary table.

const fs = require('node:fs')
const path = require('node:path')

const UPLOT_DIR = path.join(path.dirname(require.resolve('uplot/package.json')), 'dist')

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])

function summaryRows (r) {
  const s = r.summary
  const lat = (l) => `avg ${l.avg} · p50 ${l.p50} · p95 ${l.p95} · p99 ${l.p99} · max ${l.max}`
  const rows = [
    ['Target', r.config.target],
    ['Clients', `${r.config.concurrent} over ${r.config.rampUp}s ramp-up, ${r.config.duration}s, ${r.config.queryType}`],
    ['Statements', `${s.total} (${s.succeeded} ok, ${s.failed} failed) · success ${s.successRate}%`],
    ['Throughput', `${s.throughput} statements/s`],
    ['Acquire (ms), of acquisitions that got a connection', lat(s.acquireMs)],
    ['Query (ms), of every statement, failed ones included', lat(s.queryMs)],
    ['Connections', `peak active ${s.peakActive}, active at the end ${s.finalActive}`],
    ['Assessment', r.assessment.pass ? 'PASS' : 'FAIL'],
    ...r.assessment.criteria.map((c) => [`${c.pass ? '✓' : '✗'} ${c.name}`, `${c.value} (want ${c.want})`])
  ]
  return rows.map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join('\n')
}

/** The HTML text of `report`. */
function html (report) {
  const js = fs.readFileSync(path.join(UPLOT_DIR, 'uPlot.iife.min.js'), 'utf8')
  const css = fs.readFileSync(path.join(UPLOT_DIR, 'uPlot.min.css'), 'utf8')
  const data = JSON.stringify(report.series).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pgwarden load test</title>
<style>${css}
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222 }
table { border-collapse: collapse; margin-top: 16px } th, td { text-align: left; padding: 4px 12px; border-bottom: 1px solid #ddd }
.chart { margin: 12px 0 }</style></head>
<body><h1>pgwarden load test: ${report.assessment.pass ? 'PASS' : 'FAIL'}</h1>
<div id="throughput" class="chart"></div><div id="latency" class="chart"></div><div id="pool" class="chart"></div>
<table>${summaryRows(report)}</table>
<script>${js}</script>
<script>
const series = ${data};
const t = series.map((s) => s.t);
const width = Math.min(1000, document.body.clientWidth - 20);
function chart (id, title, unit, lines) {
  const opts = { title, width, height: 240, scales: { x: { time: false } },
    axes: [{ label: 'seconds' }, { label: unit }],
    series: [{ label: 's' }, ...lines.map(([label, , stroke]) => ({ label, stroke, width: 2 }))] };
  new uPlot(opts, [t, ...lines.map(([, key]) => series.map((s) => s[key]))], document.getElementById(id));
}
chart('throughput', 'Throughput', 'statements/s', [['succeeded', 'throughput', '#1f77b4'], ['failed', 'errors', '#d62728']]);
chart('latency', 'Latency of every statement, failed ones included', 'ms', [['p50', 'p50', '#2ca02c'], ['p95', 'p95', '#ff7f0e']]);
chart('pool', 'Pool connections', 'connections', [['active', 'active', '#9467bd'], ['idle', 'idle', '#8c564b'], ['waiting', 'waiting', '#e377c2']]);
</script></body></html>
`
}

module.exports = { html }
