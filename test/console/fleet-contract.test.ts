/**
 * The fleet pages against the fleet API CONTRACT, not the fleet: the fleet command center (issue
 * 13) is not on this branch, so the browser's /api/fleet/* requests are answered by
 * playwright's page.route() with contract-shaped data (100,000 nodes, paged by offset/limit).
 * This checks the console's side of the contract (the table pages and sorts through the query
 * string, a node's page shows its incident clocks and the policy before a command is signed);
 * the real end-to-end walk (a killed agent turning red live) waits for the fleet to merge.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Route } from 'playwright-core'
import { chromiumPath } from '../../scripts/browser.ts'
import { startConsoleServer, token } from './helpers.ts'

const total = 100_000
const nodeId = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
const node = (n: number) => ({
  node_id: nodeId(n),
  hostname: `host-${n}`,
  os_profile: 'debian-12',
  last_seen: new Date(1_700_000_000_000 - n * 1000).toISOString(),
  state: n % 100 === 0 ? 'attention' : 'healthy',
  reasons: n % 100 === 0 ? ['stale_heartbeat'] : [],
  cloudflare_ok: true,
  services_ok: true,
  last_scan_at: null,
  critical: 0
})

test('fleet pages against a contract-shaped (stubbed) fleet API', async (t) => {
  const s = await startConsoleServer(t)
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  t.after(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  await context.addInitScript(value => { sessionStorage.setItem('vigil.token', value) }, token)
  const page = await context.newPage()
  const nodeQueries: URLSearchParams[] = []
  const commands: unknown[] = []
  await page.route('**/api/fleet/**', async (route: Route) => {
    const url = new URL(route.request().url())
    const auth = route.request().headers().authorization
    assert.equal(auth, `Bearer ${token}`, 'the console sends the token to the fleet API')
    if (url.pathname === '/api/fleet/summary') {
      return await route.fulfill({ json: { total, healthy: total - 1000, attention: 1000, by_reason: { stale_heartbeat: 1000 }, by_profile: { 'debian-12': { total, attention: 1000 } } } })
    }
    if (url.pathname === '/api/fleet/nodes') {
      nodeQueries.push(url.searchParams)
      const offset = Number(url.searchParams.get('offset'))
      const limit = Number(url.searchParams.get('limit'))
      return await route.fulfill({ json: { total, offset, nodes: Array.from({ length: Math.min(limit, total - offset) }, (_, i) => node(offset + i)) } })
    }
    if (url.pathname === `/api/fleet/nodes/${nodeId(0)}`) {
      return await route.fulfill({
        json: {
          node: node(0),
          heartbeat: {},
          scan: null,
          events: [],
          commands: [],
          incidents: [{ envelope_id: 'env-1', classified_at: '2026-12-07T10:00:00Z', detected_at: '2026-12-07T09:00:00Z', deadlines: [{ report: 'initial', due_at: '2026-12-07T14:00:00Z', state: 'overdue' }] }]
        }
      })
    }
    if (url.pathname === '/api/fleet/policy') {
      return await route.fulfill({ json: { profiles: { 'debian-12': { commands: { restart_service: { args: { type: 'object', properties: { service: { type: 'string', enum: ['cloudflared'] } } } } } } } } })
    }
    if (url.pathname === '/api/fleet/commands') {
      commands.push(route.request().postDataJSON())
      return await route.fulfill({ json: { commands: [{ command_id: 'c-1', command: 'restart_service' }] } })
    }
    return await route.fulfill({ status: 404, json: { code: 'VGL_HTTP_NOT_FOUND' } })
  })
  await page.route('**/api/stream**', route => route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: ': nothing yet\n\n' }))

  await page.goto(`${s.url}/console/#/fleet`)
  await page.getByText('100000 nodes: 99000 healthy').waitFor()
  await page.getByRole('link', { name: 'host-0', exact: true }).waitFor()
  assert.deepEqual([nodeQueries[0]?.get('offset'), nodeQueries[0]?.get('limit'), nodeQueries[0]?.get('sort')], ['0', '200', 'attention'])
  // Only the rows on screen exist in the page, not 100,000.
  assert.ok(await page.locator('.fleet-row').count() < 100)

  // Scrolling to the end fetches the last page only.
  await page.locator('.fleet-viewport').evaluate(el => { (el as unknown as { scrollTop: number, scrollHeight: number }).scrollTop = (el as unknown as { scrollHeight: number }).scrollHeight })
  await page.getByRole('link', { name: `host-${total - 1}`, exact: true }).waitFor()
  assert.ok(nodeQueries.some(q => q.get('offset') === String(Math.floor((total - 1) / 200) * 200)))
  assert.ok(nodeQueries.length < 10, `pages fetched: ${nodeQueries.length}`)

  // Sorting and filtering go to the server.
  await page.locator('.fleet-head').getByRole('link', { name: 'Host' }).click()
  await page.waitForURL(/sort=hostname/)
  await page.getByRole('link', { name: 'host-0', exact: true }).waitFor()
  assert.equal(nodeQueries.at(-1)?.get('sort'), 'hostname')
  assert.equal(nodeQueries.at(-1)?.get('order'), 'asc')

  // A node's page: its incident clock, and the policy shown before a command is signed.
  await page.goto(`${s.url}/console/#/fleet?node=${nodeId(0)}`)
  await page.getByText('initial report due 2026-12-07 14:00:00Z: overdue').waitFor()
  await page.getByText('"cloudflared"').waitFor()
  await page.getByLabel('Arguments (JSON)').fill('{ not json')
  await page.getByRole('button', { name: 'Sign and issue' }).click()
  await page.getByRole('alert').filter({ hasText: 'Arguments are not JSON' }).waitFor()
  assert.equal(commands.length, 0, 'nothing is sent for arguments that are not JSON')
  await page.getByLabel('Arguments (JSON)').fill('{"service":"cloudflared"}')
  await page.getByRole('button', { name: 'Sign and issue' }).click()
  await page.getByRole('status').filter({ hasText: 'Issued' }).waitFor()
  assert.deepEqual(commands, [{ node_id: nodeId(0), command: 'restart_service', args: { service: 'cloudflared' } }])
})
