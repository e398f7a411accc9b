/**
 * The console in a real browser (Debian's chromium via playwright-core, installed by
 * scripts/browser.ts when missing) against a real `vigil serve` with real data. It walks each
 * page as a person would: a bad token is refused; a dead letter is redriven and arrives on its
 * topic, and a second redrive of one another operator just redrove says so and changes nothing;
 * an audit record edited on disk shows up as a finding at its file and position; a bad search
 * filter and a pasted schema that is not JSON get a clear message; the fleet pages say the fleet
 * is not enabled. Each page is checked with axe-core (no serious or critical violation) and
 * photographed at 1280 and 390 px into test-output/console/.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync, gzipSync } from 'node:zlib'
import { chromium, type Page } from 'playwright-core'
import { chromiumPath } from '../../scripts/browser.ts'
import { toDeadLetter } from '../../src/pipeline/dead-letter.ts'
import { startConsoleServer, token, waitFor, type ConsoleServer } from './helpers.ts'

const outputDir = fileURLToPath(new URL('../../test-output/console/', import.meta.url))
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** The seeded fleet node. */
const nodeId = '3b6f2a1e-8c4d-4f5a-9b7e-2d1c0a9f8e7d'

async function seed (s: ConsoleServer): Promise<void> {
  const log = s.server.log
  await log.admin.createTopic({ name: 'orders', partitions: 1 })
  await log.admin.createTopic({ name: 'orders-dlq', partitions: 1 })
  const produced = await log.produce('orders', [0, 1, 2].map(i => ({ key: Buffer.from(`order-${i}`), value: Buffer.from(JSON.stringify({ event_type: 'order.created', id: `order-${i}`, amount: i * 10 })) })))
  const originals = await log.read('orders', 0, produced[0]!.offset, 3)
  await log.produce('orders-dlq', originals.map((record, i) => toDeadLetter(record, {
    pipeline: 'billing',
    group: 'billing',
    handler: 'charge',
    errorCode: 'VGL_PIPELINE_PERMANENT',
    errorMessage: `card declined for order-${i}`,
    attempts: 3,
    firstFailureAt: Date.now() - 5000,
    lastFailureAt: Date.now() - 1000,
    eventType: 'order.created',
    eventId: `order-${i}`
  })))

  const base = Date.now() - 60_000
  const events = Array.from({ length: 20 }, (_, i) => ({ type: 'auth', outcome: i % 2 === 0 ? 'allow' : 'deny', action: `login-${i}`, user_email: `user${i}@example.com`, ts: new Date(base + i * 10).toISOString() }))
  assert.equal((await s.call('POST', '/v1/audit/events', events)).status, 202)
  await waitFor(async () => (await s.call('GET', '/v1/audit/status')).body.flushed_events >= 20, 'audit events archived')

  const heartbeat = { node_id: nodeId, hostname: 'web-1', os_profile: 'DebianVault', cloudflare_ok: true, services_ok: true, vaultmesh_root: '/var/lib/vaultmesh', timestamp: new Date().toISOString() }
  const beat = await s.call('POST', '/api/agent/heartbeat', heartbeat)
  assert.equal(beat.status, 200, JSON.stringify(beat.body))

  const v1 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] }
  const v2 = { type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'amount', type: 'long', default: 0 }] }
  for (const schema of [v1, v2]) {
    const r = await s.call('POST', '/registry/subjects/orders-value/versions', { schema: JSON.stringify(schema) })
    assert.equal(r.status, 200, JSON.stringify(r.body))
  }
}

async function checkPage (page: Page, name: string): Promise<void> {
  await page.addScriptTag({ content: axeSource })
  // Runs in the page (DOM types are not in this project's lib, hence the shapes spelt out).
  const violations = await page.evaluate(async () => {
    const inPage = globalThis as unknown as { document: unknown, axe: { run: (context: unknown) => Promise<{ violations: Array<{ id: string, impact: string, help: string, nodes: Array<{ target: unknown }> }> }> } }
    const result = await inPage.axe.run(inPage.document)
    return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map(n => n.target))}`)
  })
  assert.deepEqual(violations, [], `${name}: accessibility violations`)
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 })
    await page.screenshot({ path: join(outputDir, `${name}-${width}.png`), fullPage: true })
  }
  await page.setViewportSize({ width: 1280, height: 900 })
}

async function auditFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ndjson.gz')) out.push(join(entry.parentPath, entry.name))
  }
  return out.sort()
}

test('the console, page by page, in chromium against a real vigil serve', async (t) => {
  await mkdir(outputDir, { recursive: true })
  console.log(`screenshots: ${outputDir}`)
  // A short heartbeat threshold, so that the seeded node goes stale while the test runs.
  const s = await startConsoleServer(t, { thresholds: { heartbeatStaleS: 8 }, clockIntervalMs: 200 })
  await seed(s)
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  t.after(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const pageErrors: string[] = []
  page.on('pageerror', e => pageErrors.push(e.message))

  await t.test('sign-in: / redirects to the console, a bad token is refused, the right one signs in', async () => {
    await page.goto(s.url + '/')
    assert.equal(new URL(page.url()).pathname, '/console/')
    await page.getByLabel('API token').fill('not-the-token-at-all')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: 'That token was refused' }).waitFor()
    await checkPage(page, 'sign-in')
    await page.getByLabel('API token').fill(token)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vigil.token')), token)
  })

  await t.test('overview: the log, dead letters in red linking to their page, the fleet', async () => {
    await page.getByTestId('log-kind').filter({ hasText: 'embedded' }).waitFor()
    const red = page.locator('a.bad', { hasText: 'orders-dlq: 3 records' })
    await red.waitFor()
    assert.equal(await red.getAttribute('href'), '#/dead-letters?topic=orders-dlq')
    await page.getByText(/1 nodes, /).waitFor()
    await checkPage(page, 'overview')
  })

  await t.test('dead letters: redrive one from the console and it arrives; a redrive another operator just did is reported, not repeated', async () => {
    await page.locator('a.bad', { hasText: 'orders-dlq' }).click()
    await page.getByRole('heading', { name: 'Dead letters', level: 1 }).waitFor()
    await page.getByText('3 dead letters match').waitFor()
    await checkPage(page, 'dead-letters')
    const before = (await s.server.log.admin.describeTopic('orders')).partitions[0]!.highOffset

    await page.getByLabel('Select orders-dlq:0:0').check()
    await page.getByRole('button', { name: 'Redrive selected (1)' }).click()
    await page.getByRole('alertdialog').filter({ hasText: 'Redrive 1 dead letter from orders-dlq' }).waitFor()
    await page.getByRole('button', { name: 'Redrive 1' }).click()
    await page.getByRole('status').filter({ hasText: 'Redriven: 1. Skipped: 0.' }).waitFor()
    const arrived = await waitFor(async () => {
      const records = await s.server.log.read('orders', 0, before, 10)
      return records.find(r => r.key?.toString() === 'order-0')
    }, 'the redriven record on orders')
    assert.deepEqual(JSON.parse(arrived!.value!.toString()), { event_type: 'order.created', id: 'order-0', amount: 0 })

    // Another operator redrives orders-dlq:0:1 between this console's confirmation and its click.
    await page.getByLabel('Select orders-dlq:0:1').check()
    await page.getByRole('button', { name: 'Redrive selected (1)' }).click()
    await page.getByRole('alertdialog').filter({ hasText: 'Redrive 1 dead letter' }).waitFor()
    const other = await s.call('POST', '/dlq/orders-dlq/redrive', { ids: ['orders-dlq:0:1'] })
    assert.equal(other.body.redriven, 1)
    const afterOther = (await s.server.log.admin.describeTopic('orders')).partitions[0]!.highOffset
    await page.getByRole('button', { name: 'Redrive 1' }).click()
    await page.getByRole('status').filter({ hasText: 'Redriven: 0. Skipped: 1.' }).waitFor()
    await page.getByText(/orders-dlq:0:1: .*VGL_DLQ_ALREADY_REDRIVEN/).waitFor()
    assert.equal((await s.server.log.admin.describeTopic('orders')).partitions[0]!.highOffset, afterOther, 'nothing was produced twice')

    // A dead letter's detail: its bytes decoded and its failure context.
    await page.getByRole('row', { name: /order-2|orders:0:2/ }).getByRole('button', { name: 'Show' }).click()
    await page.getByRole('region', { name: 'Dead letter orders-dlq:0:2' }).getByText('card declined for order-2').waitFor()
  })

  await t.test('audit: search, a bad filter gets a clear message, an edited record is a finding at its file and position', async () => {
    await page.goto(s.url + '/console/#/audit')
    await page.getByLabel('type', { exact: true }).fill('auth')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('status').filter({ hasText: '20 records match' }).waitFor()
    // The redrives above were written to the audit trail (Vigil's self-audit), naming who did them.
    await page.getByLabel('type', { exact: true }).fill('vigil.action')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('status').filter({ hasText: /[1-9]\d* records? match/ }).waitFor()
    await page.getByRole('cell', { name: 'POST /dlq/:topic/redrive' }).first().waitFor()
    await checkPage(page, 'audit-search')
    await page.getByLabel('Since (ISO 8601)').fill('yesterday-ish')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('alert').filter({ hasText: /since/ }).waitFor()

    await page.getByRole('link', { name: 'Verify' }).click()
    await page.getByRole('button', { name: 'Verify' }).click()
    await page.getByTestId('verify-result').filter({ hasText: 'Verified' }).waitFor()

    const root = join(s.dir, 'audit')
    const file = (await auditFiles(root))[0]!
    const lines = gunzipSync(await readFile(file)).toString().split('\n').filter(l => l !== '')
    const edited = JSON.parse(lines[3]!)
    edited.outcome = 'allow-forged'
    lines[3] = JSON.stringify(edited)
    await writeFile(file, gzipSync(lines.join('\n') + '\n'))

    await page.getByRole('button', { name: 'Verify' }).click()
    await page.getByTestId('verify-result').filter({ hasText: 'Tampering found' }).waitFor()
    const row = page.getByRole('row').filter({ hasText: 'modified' }).filter({ hasText: relative(root, file) })
    await row.first().waitFor()
    assert.match(await row.first().innerText(), /\b3\b/)
    await checkPage(page, 'audit-verify')
  })

  await t.test('schemas: versions, a diff, the level, a pasted schema that is not JSON and one that is incompatible', async () => {
    await page.goto(s.url + '/console/#/schemas?subject=orders-value')
    await page.getByTestId('compat-level').filter({ hasText: 'BACKWARD' }).waitFor()
    await page.locator('pre.diff .add', { hasText: 'amount' }).first().waitFor()
    await page.getByLabel(/Check a schema against orders-value/).fill('{ this is not json')
    await page.getByRole('button', { name: 'Check compatibility' }).click()
    await page.getByRole('alert').filter({ hasText: 'The pasted schema is not JSON' }).waitFor()
    await page.getByLabel(/Check a schema against orders-value/).fill(JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'amount', type: 'long', default: 0 }, { name: 'currency', type: 'string' }] }))
    await page.getByRole('button', { name: 'Check compatibility' }).click()
    await page.getByTestId('compat-result').filter({ hasText: 'Not compatible' }).waitFor()
    assert.match(await page.getByTestId('compat-result').innerText(), /currency/)
    await checkPage(page, 'schemas')
  })

  await t.test('topics and groups: offsets, retention and a decoded sample', async () => {
    await page.goto(s.url + '/console/#/topics')
    await page.getByRole('link', { name: 'orders', exact: true }).click()
    const detail = page.getByRole('region', { name: 'Topic orders' })
    await detail.getByText(/0:0 at .* key order-0 \(json\)/).waitFor()
    await checkPage(page, 'topics')
  })

  await t.test('fleet: a node that stops heartbeating turns red live on its page, and shows in the table', async () => {
    await page.goto(`${s.url}/console/#/fleet`)
    await page.getByRole('table', { name: 'Nodes' }).getByText('web-1').waitFor()
    await checkPage(page, 'fleet')
    await page.getByRole('link', { name: 'web-1' }).click()
    // A heartbeat while the page is open arrives live (so its stream is up) and ends heartbeat_stale;
    // then the agent falls silent, and the attention clock turns it heartbeat_stale, live, with no event from it.
    const live = page.getByRole('region', { name: 'Live' })
    await waitFor(async () => {
      await s.call('POST', '/api/agent/heartbeat', { node_id: nodeId, hostname: 'web-1', os_profile: 'DebianVault', cloudflare_ok: true, services_ok: true, vaultmesh_root: '/var/lib/vaultmesh', timestamp: new Date().toISOString() })
      return await live.getByText(/^heartbeat: /).count() > 0
    }, 'a heartbeat shown live on the node page')
    await live.getByText(/^attention: .*heartbeat_stale/).first().waitFor({ timeout: 30_000 })
    await page.getByRole('heading', { level: 2 }).filter({ hasText: /attention: .*heartbeat_stale/ }).waitFor()
    await checkPage(page, 'fleet-node')
  })

  await t.test('signing out forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('API token').waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vigil.token')), null)
  })

  assert.deepEqual(pageErrors, [], 'no uncaught error in the page')
})
