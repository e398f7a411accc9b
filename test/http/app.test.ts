import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import type { InjectOptions } from 'fastify'
import { buildApp } from '../../src/http/app.ts'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { VigilError } from '../../src/errors.ts'

function logSink (): { stream: Writable, lines: string[] } {
  const lines: string[] = []
  return { lines, stream: new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } }) }
}

async function app (t: { after: (fn: () => unknown) => void }, server: Record<string, unknown> = {}, ready = true) {
  const config = validateConfig({ server: { bodyLimitBytes: 1024, ...server } })
  const sink = logSink()
  const instance = await buildApp({
    config,
    logger: createLogger({ logging: { level: 'info' } }, sink.stream),
    metrics: createMetrics(),
    readiness: { check: async () => ({ log: ready ? null : 'VGL_LOG_UNREACHABLE: brokers down' }) },
    plugins: [{
      prefix: '/t',
      plugin: async (child) => {
        child.post('/echo', { config: { access: 'producer' }, schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async (request) => request.body)
        child.get('/boom', { config: { access: 'viewer' } }, async () => { throw new Error('secret internals') })
        child.get('/coded', { config: { access: 'viewer' } }, async () => { throw new VigilError('VGL_LOG_TOPIC_NOT_FOUND', 'topic x does not exist', { topic: 'x' }) })
      }
    }]
  })
  t.after(() => instance.close())
  return { instance, sink }
}

test('healthz is 200; readyz is 200 when every check passes and 503 with the reason otherwise', async (t) => {
  const { instance } = await app(t)
  assert.equal((await instance.inject('/healthz')).statusCode, 200)
  assert.deepEqual((await instance.inject('/readyz')).json(), { status: 'ready', checks: { log: null } })
  const down = await app(t, {}, false)
  const response = await down.instance.inject('/readyz')
  assert.equal(response.statusCode, 503)
  assert.match(response.json().checks.log, /VGL_LOG_UNREACHABLE/)
})

test('metrics are in Prometheus text format and count requests', async (t) => {
  const { instance } = await app(t)
  await instance.inject('/healthz')
  const response = await instance.inject('/metrics')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /text\/plain/)
  assert.match(response.body, /vigil_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/)
  assert.match(response.body, /vigil_process_/)
})

test('bad input gets a coded 4xx naming the problem, never a 500', async (t) => {
  const { instance } = await app(t)
  const cases: Array<[InjectOptions, number, string, RegExp]> = [
    [{ method: 'POST', url: '/t/echo', payload: '{"n": ', headers: { 'content-type': 'application/json' } }, 400, 'VGL_HTTP_BAD_REQUEST', /JSON/i],
    [{ method: 'POST', url: '/t/echo', payload: { n: 'x' } }, 400, 'VGL_HTTP_BAD_REQUEST', /body\/n must be integer/],
    [{ method: 'POST', url: '/t/echo', payload: {} }, 400, 'VGL_HTTP_BAD_REQUEST', /must have required property 'n'/],
    [{ method: 'POST', url: '/t/echo', payload: { n: 1, pad: 'x'.repeat(2000) } }, 413, 'VGL_HTTP_PAYLOAD_TOO_LARGE', /body/i],
    [{ method: 'POST', url: '/t/echo', payload: 'n=1', headers: { 'content-type': 'text/csv' } }, 415, 'VGL_HTTP_BAD_REQUEST', /content-type/i],
    [{ method: 'GET', url: '/nope' }, 404, 'VGL_HTTP_NOT_FOUND', /GET \/nope/],
    [{ method: 'GET', url: '/t/coded' }, 404, 'VGL_LOG_TOPIC_NOT_FOUND', /topic x/]
  ]
  for (const [request, status, code, message] of cases) {
    const response = await instance.inject(request)
    assert.equal(response.statusCode, status, JSON.stringify(request))
    assert.equal(response.json().code, code)
    assert.match(response.json().message, message)
    assert.ok(response.json().hint.length > 0)
  }
})

test('an unexpected error is a coded 500 that hides internals from the client and logs them', async (t) => {
  const { instance, sink } = await app(t)
  const response = await instance.inject('/t/boom')
  assert.equal(response.statusCode, 500)
  assert.equal(response.json().code, 'VGL_HTTP_INTERNAL')
  assert.ok(!response.body.includes('secret internals'))
  assert.ok(sink.lines.some(line => line.includes('secret internals')))
})

test('with apiTokens set, every route but health needs the token (Bearer or Basic), and tokens are never logged', async (t) => {
  const token = 'tok-0123456789abcdef'
  const { instance, sink } = await app(t, { apiTokens: [token] })
  assert.equal((await instance.inject('/healthz')).statusCode, 200)
  assert.equal((await instance.inject('/readyz')).statusCode, 200)
  const denied = await instance.inject('/metrics')
  assert.equal(denied.statusCode, 401)
  assert.equal(denied.json().code, 'VGL_HTTP_UNAUTHORIZED')
  assert.equal((await instance.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-000000' } })).statusCode, 401)
  assert.equal((await instance.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  const basic = Buffer.from(`any:${token}`).toString('base64')
  assert.equal((await instance.inject({ url: '/metrics', headers: { authorization: `Basic ${basic}` } })).statusCode, 200)
  assert.ok(!sink.lines.join('').includes(token))
})

test('the OpenAPI document lists the routes', async (t) => {
  const { instance } = await app(t)
  const doc = (await instance.inject('/openapi.json')).json()
  assert.equal(doc.openapi.slice(0, 2), '3.')
  assert.ok(doc.paths['/readyz'] !== undefined)
})
