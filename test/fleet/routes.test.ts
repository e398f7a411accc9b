/**
 * The fleet in `vigil serve` (embedded log): VaultMesh's heartbeat registers a node, scans,
 * command results and operator events reach the state through the log, the queries answer it,
 * the clock turns a silent node heartbeat_stale with no event from it, and a restart replays
 * the topics into the same state.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { eventually, get, heartbeat, post, startFleetServer, tempDir } from './helpers.ts'

test('fleet: ingestion, queries, attention, the clock and a restart', async (t) => {
  const dir = await tempDir(t)
  const server = await startFleetServer(dir, { thresholds: { heartbeatStaleS: 3600 }, profiles: { FastVault: { heartbeatStaleS: 1 } } })
  let running = server
  t.after(() => running.close())
  const url = server.url
  const nodeA = randomUUID()
  const nodeB = randomUUID()

  assert.deepEqual(await post(`${url}/api/agent/heartbeat`, heartbeat(nodeA, { uptime_seconds: 12, load_avg: [0.1, 0.2, 0.3] })), { status: 200, body: { status: 'ok' } })
  assert.equal((await post(`${url}/api/agent/heartbeat`, heartbeat(nodeB, { os_profile: 'DebianVault', services_ok: false }))).status, 200)

  const listed = await eventually(async () => {
    const { body } = await get(`${url}/api/fleet/nodes?sort=hostname`)
    return body.total === 2 ? body : undefined
  }, 'two nodes registered')
  const a = (listed.nodes as Array<Record<string, unknown>>).find(n => n.node_id === nodeA)!
  assert.equal(a.state, 'attention')
  assert.deepEqual(a.reasons, ['never_scanned'])
  assert.equal(a.last_scan_at, null)
  assert.equal(a.critical, 0)

  assert.deepEqual(await post(`${url}/api/agent/scan`, { node_id: nodeA, ts: new Date().toISOString(), summary: { critical: 0, high: 2, medium: 1, low: 0 }, findings_real: true, receipt_hash: 'blake3:abc' }), { status: 200, body: { status: 'ok' } })
  const healthyA = await eventually(async () => {
    const { body } = await get(`${url}/api/fleet/nodes?state=healthy`)
    return body.total === 1 ? body : undefined
  }, 'node A healthy after its scan')
  assert.equal((healthyA.nodes as Array<{ node_id: string }>)[0]!.node_id, nodeA)

  const summary = (await get(`${url}/api/fleet/summary`)).body
  assert.deepEqual(summary, { total: 2, healthy: 1, attention: 1, by_reason: { never_scanned: 1, services_down: 1 }, by_profile: { ArchVault: { total: 1, attention: 0 }, DebianVault: { total: 1, attention: 1 } } })
  assert.equal((await get(`${url}/api/fleet/nodes?reason=services_down`)).body.total, 1)
  assert.equal((await get(`${url}/api/fleet/nodes?profile=ArchVault&q=${nodeA.slice(0, 6)}`)).body.total, 1)

  // A failed command turns the node command_failed.
  assert.equal((await post(`${url}/api/agent/command-result`, { node_id: nodeA, nonce: 'aa', command: 'restart-service', status: 'failed', exit_code: 3, stdout_digest: 'sha256:00' })).status, 200)
  await eventually(async () => ((await get(`${url}/api/fleet/nodes?reason=command_failed`)).body.total === 1 ? true : undefined), 'command_failed')

  // Operator events: server id and second-precision ts, X-VM-Author, body as alias, keys sorted.
  const stored = await post(`${url}/api/events`, { kind: 'incident', node_id: nodeA, body: { zeta: 1, alpha: { d: 1, c: 2 }, classified_at: new Date().toISOString() } }, { 'x-vm-author': 'alice' })
  assert.equal(stored.status, 200)
  assert.match(stored.body.ts as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  assert.equal(stored.body.author, 'alice')
  assert.deepEqual(Object.keys(stored.body.payload as object), ['alpha', 'classified_at', 'zeta'])
  assert.deepEqual(Object.keys((stored.body.payload as { alpha: object }).alpha), ['c', 'd'])
  assert.equal((await post(`${url}/api/events`, { kind: 'note', payload: { text: 'fleet-wide' } })).status, 200)

  const events = await eventually(async () => {
    const { body } = await get(`${url}/api/events?kind=incident,note`)
    return (body.events as unknown[]).length === 2 ? body.events as Array<Record<string, unknown>> : undefined
  }, 'two events')
  assert.equal(events[0]!.kind, 'note', 'newest first')
  assert.equal(((await get(`${url}/api/events?node_id=${nodeA}`)).body.events as unknown[]).length, 1)
  assert.equal(((await get(`${url}/api/events?limit=1`)).body.events as unknown[]).length, 1)

  const detail = (await get(`${url}/api/fleet/nodes/${nodeA}`)).body
  assert.equal((detail.heartbeat as { uptime_seconds: number }).uptime_seconds, 12)
  assert.equal((detail.scan as { receipt_hash: string }).receipt_hash, 'blake3:abc')
  assert.equal((detail.command_results as unknown[]).length, 1)
  const incidents = detail.incidents as Array<{ envelope_id: string, deadlines: Array<{ report: string, state: string }> }>
  assert.equal(incidents[0]!.envelope_id, stored.body.id)
  assert.deepEqual(incidents[0]!.deadlines.map(d => `${d.report}:${d.state}`), ['initial:ok', 'intermediate:ok', 'final:ok'])
  assert.equal((await get(`${url}/api/fleet/nodes/${randomUUID()}`)).status, 404)

  // The clock: a FastVault node (1 s threshold) that stops sending turns heartbeat_stale, no event from it.
  const silent = randomUUID()
  await post(`${url}/api/agent/heartbeat`, heartbeat(silent, { os_profile: 'FastVault' }))
  await post(`${url}/api/agent/scan`, { node_id: silent, ts: new Date().toISOString(), summary: { critical: 0, high: 0, medium: 0, low: 0 }, findings_real: false, receipt_hash: 'h' })
  await eventually(async () => {
    const { body } = await get(`${url}/api/fleet/nodes/${silent}`)
    return (body.node as { reasons?: string[] } | undefined)?.reasons?.includes('heartbeat_stale') === true ? true : undefined
  }, 'the silent node turns heartbeat_stale')

  // Restart: the replayed state equals the state before.
  const before = { summary: (await get(`${url}/api/fleet/summary`)).body, nodes: (await get(`${url}/api/fleet/nodes?sort=hostname`)).body, detail: (await get(`${url}/api/fleet/nodes/${nodeA}`)).body, events: (await get(`${url}/api/events`)).body }
  await server.close()
  running = await startFleetServer(dir, { thresholds: { heartbeatStaleS: 3600 }, profiles: { FastVault: { heartbeatStaleS: 1 } } })
  const after = { summary: (await get(`${running.url}/api/fleet/summary`)).body, nodes: (await get(`${running.url}/api/fleet/nodes?sort=hostname`)).body, detail: (await get(`${running.url}/api/fleet/nodes/${nodeA}`)).body, events: (await get(`${running.url}/api/events`)).body }
  assert.deepEqual(after, before)
})

test('fleet: bad input answers 4xx naming the field, never a 500, and the server stays healthy', async (t) => {
  const dir = await tempDir(t)
  const server = await startFleetServer(dir)
  t.after(() => server.close())
  const url = server.url
  const node = randomUUID()
  const scan = { node_id: node, ts: new Date().toISOString(), summary: { critical: 0, high: 0, medium: 0, low: 0 }, findings_real: true, receipt_hash: 'h' }
  const result = { node_id: node, nonce: 'n', command: 'c', status: 'success' }
  const cases: Array<[path: string, body: unknown, status: number, field: string]> = [
    ['/api/agent/heartbeat', '{"node_id": ', 400, 'body'],
    ['/api/agent/heartbeat', '', 400, 'body'],
    ['/api/agent/heartbeat', '[1,2]', 400, 'body'],
    ['/api/agent/heartbeat', { ...heartbeat(node), node_id: 'not-a-uuid' }, 400, 'node_id'],
    ['/api/agent/heartbeat', { ...heartbeat(node), cloudflare_ok: 'true' }, 400, 'cloudflare_ok'],
    ['/api/agent/heartbeat', { ...heartbeat(node), timestamp: 'yesterday' }, 400, 'timestamp'],
    ['/api/agent/heartbeat', { ...heartbeat(node), load_avg: [1, 'x'] }, 400, 'load_avg.1'],
    ['/api/agent/heartbeat', { ...heartbeat(node), hostname: undefined }, 400, 'hostname'],
    ['/api/agent/heartbeat', { ...heartbeat(node), hostname: 'x'.repeat(70_000) }, 413, ''],
    ['/api/agent/scan', { ...scan, summary: { ...scan.summary, critical: -1 } }, 400, 'summary.critical'],
    ['/api/agent/scan', { ...scan, summary: undefined }, 400, 'summary'],
    ['/api/agent/scan', { ...scan, findings_real: 1 }, 400, 'findings_real'],
    ['/api/agent/command-result', { ...result, status: 'maybe' }, 400, 'status'],
    ['/api/agent/command-result', { ...result, nonce: undefined }, 400, 'nonce'],
    ['/api/events', { kind: 'gossip' }, 400, 'kind'],
    ['/api/events', { kind: 'note', payload: 'text' }, 400, 'payload'],
    ['/api/events', { kind: 'note', node_id: 7 }, 400, 'node_id'],
    ['/api/events', '{', 400, 'body']
  ]
  for (const [path, body, status, field] of cases) {
    const answer = await post(`${url}${path}`, body)
    assert.equal(answer.status, status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(answer.body)}`)
    assert.equal(typeof answer.body.error, 'string')
    if (field !== '') assert.equal(answer.body.field, field, `${path}: ${JSON.stringify(answer.body)}`)
  }
  const queries: Array<[string, string]> = [
    ['/api/events?limit=0', 'limit'],
    ['/api/events?limit=abc', 'limit'],
    ['/api/events?kind=note,gossip', 'kind'],
    ['/api/events?since=soon', 'since'],
    ['/api/events?node_id=zzz', 'node_id'],
    ['/api/fleet/nodes?sort=color', 'sort'],
    ['/api/fleet/nodes?state=sad', 'state'],
    ['/api/fleet/nodes?offset=-1', 'offset'],
    ['/api/fleet/nodes?unknown=1', 'unknown'],
    ['/api/fleet/nodes/not-a-uuid', 'node_id']
  ]
  for (const [path, field] of queries) {
    const answer = await get(`${url}${path}`)
    assert.equal(answer.status, 400, `${path}: ${JSON.stringify(answer.body)}`)
    assert.equal(answer.body.field, field, `${path}: ${JSON.stringify(answer.body)}`)
  }
  assert.equal((await get(`${url}/healthz`)).status, 200)
  assert.equal((await post(`${url}/api/agent/heartbeat`, heartbeat(node))).status, 200, 'still accepting after all that')
})
