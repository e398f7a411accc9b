/**
 * Agent credentials: enrolment with the secret gives a token bound to one node; it cannot act
 * for another node nor reach operator, viewer or producer routes; a revoked node is refused at
 * once, by every Vigil process on the log, and cannot enrol again until reinstated.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nodeRoute, startAccessServer, waitFor } from './helpers.ts'

const secret = 'enrol-secret-0123456789abcdef'
const nodeA = '0b7c8a8e-1a52-4c1e-8f2b-7b9a0d1e2f3a'
const nodeB = '7d3f1c2b-9e4a-4b5c-8d6e-1f2a3b4c5d6e'

test('enrolment: a wrong or missing secret is refused; a node gets a token that acts for it alone', async (t) => {
  const s = await startAccessServer(t, { access: { enrolmentSecret: secret }, components: [nodeRoute] })
  const wrong = await s.call('POST', '/api/agent/enroll', { body: { node_id: nodeA, enrolment_secret: 'guess' } })
  assert.equal(wrong.status, 401)
  assert.equal(wrong.body.code, 'VGL_ACCESS_ENROLMENT_REFUSED')
  const missing = await s.call('POST', '/api/agent/enroll', { body: { node_id: nodeA } })
  assert.equal(missing.status, 400)
  assert.match(missing.body.message, /enrolment_secret/)
  const badId = await s.call('POST', '/api/agent/enroll', { body: { node_id: 'a b/../c', enrolment_secret: secret } })
  assert.equal(badId.status, 400)
  assert.match(badId.body.message, /node_id/)

  const enrolled = await s.call('POST', '/api/agent/enroll', { body: { node_id: nodeA, enrolment_secret: secret, hostname: 'web-1' } })
  assert.equal(enrolled.status, 200)
  const token = enrolled.body.token as string
  assert.deepEqual((await s.call('GET', '/v1/access/whoami', { token })).body, { name: `agent:${nodeA}`, roles: ['agent'], nodeId: nodeA })

  assert.equal((await s.call('POST', '/test/agent/ping', { token, body: { node_id: nodeA } })).status, 200)
  const other = await s.call('POST', '/test/agent/ping', { token, body: { node_id: nodeB } })
  assert.equal(other.status, 403)
  assert.equal(other.body.code, 'VGL_ACCESS_WRONG_NODE')
  assert.match(other.body.message, new RegExp(`${nodeA}.*${nodeB}`))
  for (const [method, path, body] of [['POST', '/dlq/orders-dlq/redrive', { all: true }], ['GET', '/v1/audit/events', undefined], ['POST', '/v1/audit/events', { type: 'x' }], ['DELETE', '/registry/subjects/x', undefined], ['POST', `/v1/access/agents/${nodeB}/revoke`, undefined]] as const) {
    assert.equal((await s.call(method, path, { token, body })).status, 403, `${method} ${path} with an agent token`)
  }
  // The fleet's own agent routes, VaultMesh's heartbeat among them.
  const heartbeat = (nodeId: string) => ({ node_id: nodeId, hostname: 'web-1', os_profile: 'DebianVault', cloudflare_ok: true, services_ok: true, vaultmesh_root: '/var/lib/vaultmesh', timestamp: new Date().toISOString() })
  assert.equal((await s.call('POST', '/api/agent/heartbeat', { token, body: heartbeat(nodeA) })).status, 200)
  const forged = await s.call('POST', '/api/agent/heartbeat', { token, body: heartbeat(nodeB) })
  assert.equal(forged.status, 403)
  assert.equal(forged.body.code, 'VGL_ACCESS_WRONG_NODE')
  assert.equal((await s.call('GET', `/api/agent/commands?node_id=${nodeB}`, { token })).status, 403)
  assert.equal((await s.call('POST', '/api/fleet/commands', { token, body: { node_id: nodeA, command: 'status' } })).status, 403, 'an agent cannot issue commands')

  const listed = await s.call('GET', '/v1/access/agents', { token: s.tokens.viewer })
  assert.equal(listed.body.agents.length, 1)
  assert.equal(listed.body.agents[0].hostname, 'web-1')
  assert.ok(!JSON.stringify(listed.body).includes('scrypt'), 'no credential is listed')
})

test('a revoked node is refused at once, here and by another process on the same log, until reinstated and enrolled again', async (t) => {
  const s = await startAccessServer(t, { access: { enrolmentSecret: secret, agentRefreshIntervalMs: 100 }, components: [nodeRoute] })
  const other = await startAccessServer(t, { dir: s.dir, tokens: s.tokens, access: { enrolmentSecret: secret, agentRefreshIntervalMs: 100 }, components: [nodeRoute] })
  const token = (await s.call('POST', '/api/agent/enroll', { body: { node_id: nodeA, enrolment_secret: secret } })).body.token as string
  await waitFor(async () => (await other.call('POST', '/test/agent/ping', { token, body: { node_id: nodeA } })).status === 200, 10_000, 'the other process to know the new agent')

  assert.equal((await s.call('POST', `/v1/access/agents/${nodeA}/revoke`, { token: s.tokens.viewer })).status, 403, 'revoking is an operator\'s')
  assert.equal((await s.call('POST', `/v1/access/agents/${nodeA}/revoke`, { token: s.tokens.operator })).status, 200)
  const refused = await s.call('POST', '/test/agent/ping', { token, body: { node_id: nodeA } })
  assert.equal(refused.status, 403)
  assert.equal(refused.body.code, 'VGL_ACCESS_NODE_REVOKED')
  const beat = await s.call('POST', '/api/agent/heartbeat', { token, body: { node_id: nodeA, hostname: 'web-1', os_profile: 'DebianVault', cloudflare_ok: true, services_ok: true, vaultmesh_root: '/', timestamp: new Date().toISOString() } })
  assert.equal(beat.status, 403, 'a revoked node\'s heartbeat is refused at once')
  await waitFor(async () => (await other.call('POST', '/test/agent/ping', { token, body: { node_id: nodeA } })).status === 403, 10_000, 'the other process to refuse the revoked node')
  const again = await s.call('POST', '/api/agent/enroll', { body: { node_id: nodeA, enrolment_secret: secret } })
  assert.equal(again.status, 403)
  assert.equal(again.body.code, 'VGL_ACCESS_NODE_REVOKED')

  assert.equal((await s.call('POST', `/v1/access/agents/${nodeA}/reinstate`, { token: s.tokens.operator })).status, 200)
  assert.equal((await s.call('POST', '/test/agent/ping', { token, body: { node_id: nodeA } })).status, 401, 'the old token stays dead')
  const fresh = (await s.call('POST', '/api/agent/enroll', { body: { node_id: nodeA, enrolment_secret: secret } })).body.token as string
  assert.equal((await s.call('POST', '/test/agent/ping', { token: fresh, body: { node_id: nodeA } })).status, 200)

  const actions = await waitFor(async () => {
    const { body } = await s.call('GET', '/v1/audit/events?type=vigil.action&limit=100', { token: s.tokens.viewer })
    const names = (body.records ?? []).map((r: any) => `${r.actor_ref} ${r.action} ${r.outcome}`)
    return names.includes('operator-user POST /v1/access/agents/:nodeId/revoke success') && names.filter((n: string) => n.includes('access.agents.enrol')).length >= 3 ? names : undefined
  }, 30_000, 'revocation and enrolments in the audit trail')
  assert.ok(actions.includes(`agent:${nodeA} access.agents.enrol denied`))
})
