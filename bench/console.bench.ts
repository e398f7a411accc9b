/**
 * The web console's budgets (issue 16).
 *
 *   npm run bench:console      # or: node bench/console.bench.ts [--runs 9]
 *
 * 1. JavaScript size: console/dist/app.js gzipped (level 9, as a server or proxy would send it;
 *    Vigil itself sends it uncompressed on loopback). Budget < 200 KB.
 * 2. Time to interactive on loopback: a fresh browser context (empty cache) opens /console/ with
 *    a token in sessionStorage, and the clock stops when the overview shows the log's backend
 *    (the first figure fetched from the API, so the page is loaded, signed in and answering).
 *    Chromium from scripts/browser.ts, a real `vigil serve` (embedded log, temp dir, every
 *    component). Median of --runs runs after one warm-up. Budget < 1 s.
 * Not measured here (they need the fleet command center, issue 13, not on this branch): a live
 * event on screen after it is produced, and the fleet page's frame times over 100,000 nodes.
 * Exits 1 when a budget is missed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'
import { chromiumPath } from '../scripts/browser.ts'
import { validateConfig } from '../src/config/load.ts'
import { createLogger } from '../src/logger.ts'
import { startServer } from '../src/server.ts'
import { serverComponents } from '../src/components.ts'
import { consoleDistDir } from '../src/console/index.ts'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' } } })
const runs = Number(values.runs)
const token = 'console-bench-token-0123456789'

const js = readFileSync(join(consoleDistDir, 'app.js'))
const css = readFileSync(join(consoleDistDir, 'app.css'))
const jsGzip = gzipSync(js, { level: 9 }).length
const cssGzip = gzipSync(css, { level: 9 }).length
console.log(`console JS: ${(js.length / 1024).toFixed(1)} KB, ${(jsGzip / 1024).toFixed(1)} KB gzipped (budget 200 KB); CSS ${(cssGzip / 1024).toFixed(1)} KB gzipped`)

const dir = mkdtempSync(join(tmpdir(), 'vigil-console-bench-'))
const config = validateConfig({
  log: { url: `embedded:${join(dir, 'vigil.db')}` },
  server: { port: 0, apiTokens: [token] },
  logging: { level: 'warn' },
  audit: { backend: 'local', local: { path: join(dir, 'audit') }, checkpoint: { keyFile: join(dir, 'key.pem') } }
})
const server = await startServer(config, { logger: createLogger(config, new Writable({ write (_c, _e, done) { done() } })), components: serverComponents })
await server.ready
const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })

const timings: number[] = []
try {
  for (let run = 0; run <= runs; run++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.addInitScript(t => { sessionStorage.setItem('vigil.token', t) }, token)
    const page = await context.newPage()
    const started = performance.now()
    await page.goto(`${server.url}/console/`)
    await page.getByTestId('log-kind').filter({ hasText: 'embedded' }).waitFor()
    const elapsed = performance.now() - started
    if (run > 0) timings.push(elapsed)
    await context.close()
  }
} finally {
  await browser.close()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
timings.sort((a, b) => a - b)
const median = timings[Math.floor(timings.length / 2)] as number
console.log(`time to interactive (overview with the log's backend on screen, cold context, loopback): median ${median.toFixed(0)} ms, min ${timings[0]?.toFixed(0)} ms, max ${timings.at(-1)?.toFixed(0)} ms over ${timings.length} runs (budget 1000 ms)`)
console.log('not measured (needs the fleet, issue 13): live event on screen latency, fleet scroll frame times')
if (jsGzip >= 200 * 1024 || median >= 1000) process.exitCode = 1
