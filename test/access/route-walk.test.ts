/**
 * Every route of the OpenAPI document, called by every role: 401 without or with a wrong token,
 * 403 for a role below the route's, and never 401/403 for a role that may call it. Only
 * /healthz and /readyz answer without credentials.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { roles, type Role, type RouteAccess } from '../../src/http/roles.ts'
import { mayCall } from '../../src/access/index.ts'
import { startAccessServer } from './helpers.ts'

interface Operation { method: string, path: string, access: RouteAccess }

function operationsOf (document: any): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries<Record<string, any>>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue
      operations.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, '1'), access: operation['x-vigil-access'] })
    }
  }
  return operations
}

/** The status only: the body is not read, so a live stream (SSE) or a long poll answers as soon as its headers are sent. */
async function statusOf (url: string, method: string, token?: string, body?: unknown): Promise<number> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) })
  await response.body?.cancel()
  return response.status
}

test('every route states its access level and answers each role accordingly', async (t) => {
  const s = await startAccessServer(t)
  const document = (await s.call('GET', '/openapi.json', { token: s.tokens.viewer })).body
  const operations = operationsOf(document)
  assert.ok(operations.length >= 40, `only ${operations.length} operations in the document`)

  const open = operations.filter(o => o.access === 'public').map(o => o.path).sort()
  // Enrolment is open to the network but its body carries the enrolment secret (test/access/agents.test.ts).
  assert.deepEqual(open, ['/api/agent/enroll', '/healthz', '/readyz', '/v1/audit/healthz'])
  for (const operation of operations) {
    assert.ok(operation.access !== undefined, `${operation.method} ${operation.path} states no access level`)
    const description = document.paths[Object.keys(document.paths).find(p => p.replace(/\{[^}]+\}/g, '1') === operation.path) as string][operation.method.toLowerCase()].description as string
    assert.match(description, /Access: /, `${operation.method} ${operation.path}: the description names its access`)
  }

  for (const { method, path, access } of operations) {
    const body = method === 'GET' || method === 'DELETE' ? undefined : {}
    const what = `${method} ${path} (${access})`
    if (path === '/api/agent/enroll') {
      assert.equal((await s.call(method, path, { body: { node_id: 'n1', enrolment_secret: 'guess' } })).status, 403, 'enrolment is disabled here')
      continue
    }
    if (access === 'public') {
      assert.equal((await s.call(method, path)).status, 200, what)
      continue
    }
    const url = s.url + path
    assert.equal(await statusOf(url, method, undefined, body), 401, `${what} without a token`)
    assert.equal(await statusOf(url, method, 'vgl_000000000000_notatokenthatanyoneholds0000000000', body), 401, `${what} with a wrong token`)
    for (const role of roles as readonly Role[]) {
      const status = await statusOf(url, method, s.tokens[role], body)
      if (mayCall({ name: role, roles: [role] }, access)) {
        assert.ok(status !== 401 && status !== 403, `${what} as ${role}: ${status}`)
        assert.ok(status < 500 || status === 503, `${what} as ${role}: ${status}`)
      } else {
        assert.equal(status, 403, `${what} as ${role}`)
      }
    }
  }
  const health = await s.call('GET', '/readyz')
  assert.equal(health.status, 200)
})

test('a 403 names the role needed and the principal\'s roles; Basic auth\'s password is the token', async (t) => {
  const s = await startAccessServer(t)
  const denied = await s.call('POST', '/dlq/orders-dlq/redrive', { token: s.tokens.viewer, body: { all: true } })
  assert.equal(denied.status, 403)
  assert.equal(denied.body.code, 'VGL_ACCESS_FORBIDDEN')
  assert.match(denied.body.message, /operator/)
  assert.match(denied.body.message, /viewer-user has viewer/)

  const basic = Buffer.from(`caipe:${s.tokens.producer}`).toString('base64')
  const posted = await s.call('POST', '/v1/audit/events', { headers: { authorization: `Basic ${basic}` }, body: { type: 'login', actor_ref: 'u1' } })
  assert.equal(posted.status, 202)
  const whoami = await s.call('GET', '/v1/access/whoami', { token: s.tokens.agent })
  assert.deepEqual(whoami.body, { name: 'agent-user', roles: ['agent'], nodeId: '5f0c6a62-3d56-4a8e-9a55-0d3c6f1e2b11' })
  // No log line carries a token.
  for (const token of Object.values(s.tokens)) assert.ok(!s.logs.join('').includes(token))
})
