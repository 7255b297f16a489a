// Opens an HTML file in headless Chromium (puppeteer-core is ESM-only, so this runs as its own
// process): prints JSON { inked: [non-blank pixels per canvas], problems: [console errors,
// page errors, network requests] } and writes a screenshot.
// Usage: node render-html.mjs CHROMIUM FILE.html SHOT.png
import puppeteer from 'puppeteer-core'

const [chromium, file, shot] = process.argv.slice(2)
const browser = await puppeteer.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-gpu'] })
try {
  const tab = await browser.newPage()
  const problems = []
  tab.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
  tab.on('pageerror', (e) => problems.push(e.message))
  tab.on('request', (q) => { if (!q.url().startsWith('file:')) problems.push(`fetched ${q.url()}`) })
  await tab.setViewport({ width: 1100, height: 1200 })
  await tab.goto(`file://${file}`, { waitUntil: 'load' })
  const inked = await tab.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
    let n = 0
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++
    return n
  }))
  await tab.screenshot({ path: shot, fullPage: true })
  process.stdout.write(JSON.stringify({ inked, problems }))
} finally {
  await browser.close()
}
