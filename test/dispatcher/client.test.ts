import { test } from 'node:test'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { CisoClient } from '../../src/dispatcher/client.ts'
import { classifyError } from '../../src/pipeline/classify.ts'
import { isVigilError, type VigilError } from '../../src/errors.ts'
import { startFakeCisoAssistant, type FakeCisoAssistant } from '../fakes/ciso-assistant/server.ts'

async function setup (t: { after: (fn: () => unknown) => void }, timeoutMs = 2000, pageSize = 2): Promise<{ fake: FakeCisoAssistant, client: CisoClient }> {
  const fake = await startFakeCisoAssistant({ pageSize })
  const client = new CisoClient({ url: fake.url, token: fake.token, requestTimeoutMs: timeoutMs, verifyCertificate: true, maxConnections: 8 })
  t.after(async () => {
    await client.close()
    await fake.close()
  })
  return { fake, client }
}

async function failure (promise: Promise<unknown>): Promise<VigilError> {
  try {
    await promise
  } catch (error) {
    if (isVigilError(error)) return error
    throw error
  }
  throw new Error('expected a failure')
}

const single = (filters: Array<[string, string]>) => ({ filters, target: 'single' as const })
const multiple = (filters: Array<[string, string]>) => ({ filters, target: 'multiple' as const })

test('a selector GET follows relative next links across pages and sends the token', async (t) => {
  const { fake, client } = await setup(t)
  const ids = Array.from({ length: 5 }, (_, i) => fake.addAppliedControl({ name: `c${i}`, ref_id: 'shared', category: 'technical' }).id)
  fake.addAppliedControl({ name: 'other', ref_id: 'other' })
  assert.deepEqual(await client.resolve('applied-controls', multiple([['ref_id', 'shared'], ['category', 'technical']])), ids)
  const gets = fake.requests.filter(r => r.method === 'GET')
  assert.equal(gets.length, 3, 'three pages of two')
  assert.match(gets[1]?.query ?? '', /page=2/)
  assert.ok(gets.every(r => r.headers.authorization === `Token ${fake.token}` && r.headers.accept === 'application/json'))
})

test('no match and too many matches are permanent errors that report the count', async (t) => {
  const { fake, client } = await setup(t)
  fake.addAppliedControl({ name: 'a', ref_id: 'dup' })
  fake.addAppliedControl({ name: 'b', ref_id: 'dup' })
  fake.addAppliedControl({ name: 'c', ref_id: 'dup' })
  const none = await failure(client.resolve('applied-controls', single([['ref_id', 'missing']])))
  assert.equal(none.code, 'VGL_DISPATCHER_NO_MATCH')
  assert.equal(none.context.matches, 0)
  const many = await failure(client.resolve('applied-controls', single([['ref_id', 'dup']])))
  assert.equal(many.code, 'VGL_DISPATCHER_TOO_MANY_MATCHES')
  assert.equal(many.context.matches, 3)
  assert.match(many.message, /but 3 match/)
  assert.equal(classifyError(many).retryable, false)
})

test('the fake, like the backend, ignores unknown filters: the match widens (which is why the connector refuses them)', async (t) => {
  const { fake, client } = await setup(t)
  fake.addAppliedControl({ name: 'a', ref_id: 'one' })
  fake.addAppliedControl({ name: 'b', ref_id: 'two' })
  assert.equal((await client.resolve('applied-controls', multiple([['ref_idd', 'one']]))).length, 2)
})

test('HTTP failures are classified: 5xx and 429 retryable with Retry-After, 401 blocking, other 4xx permanent', async (t) => {
  const { fake, client } = await setup(t)
  const control = fake.addAppliedControl({ name: 'a', ref_id: 'x' })
  fake.inject({ kind: 'status', status: 503, retryAfter: '2' })
  const unavailable = await failure(client.patch('applied-controls', control.id, { status: 'active' }))
  assert.equal(unavailable.code, 'VGL_DISPATCHER_HTTP_RETRYABLE')
  assert.deepEqual(classifyError(unavailable), { error: unavailable, retryable: true, blocking: false, retryAfterMs: 2000, programmer: false })

  fake.inject({ kind: 'status', status: 429, retryAfter: new Date(Date.now() + 3000).toUTCString() })
  const limited = classifyError(await failure(client.patch('applied-controls', control.id, { status: 'active' })))
  assert.equal(limited.retryable, true)
  assert.ok((limited.retryAfterMs ?? 0) > 1000 && (limited.retryAfterMs ?? 0) <= 3000)

  for (const status of [502, 504, 500]) {
    fake.inject({ kind: 'status', status })
    assert.equal(classifyError(await failure(client.patch('applied-controls', control.id, { status: 'active' }))).retryable, true, `${status} is transient`)
  }

  const rejected = await failure(client.patch('applied-controls', control.id, { status: 'nonsense' }))
  assert.equal(rejected.code, 'VGL_DISPATCHER_HTTP_REJECTED')
  assert.match(rejected.message, /PATCH \/api\/applied-controls\/.+\/ answered 400: .*not a valid choice/)
  assert.equal(classifyError(rejected).retryable, false)

  const noToken = new CisoClient({ url: fake.url, token: 'wrong-token-value', requestTimeoutMs: 2000, verifyCertificate: true, maxConnections: 1 })
  t.after(() => noToken.close())
  const refused = await failure(noToken.get('applied-controls', control.id))
  assert.equal(refused.code, 'VGL_DISPATCHER_AUTH_FAILED')
  assert.deepEqual([classifyError(refused).retryable, classifyError(refused).blocking], [true, true])
  assert.doesNotMatch(refused.message, /wrong-token-value/)
  assert.equal(fake.mutations.length, 0, 'no failed call changed anything')
})

test('timeouts and connection resets are transient network failures', async (t) => {
  const { fake, client } = await setup(t, 300)
  const control = fake.addAppliedControl({ name: 'a', ref_id: 'x' })
  fake.inject({ kind: 'timeout' })
  const slow = await failure(client.patch('applied-controls', control.id, { status: 'active' }))
  assert.equal(slow.code, 'VGL_DISPATCHER_TIMEOUT')
  assert.equal(classifyError(slow).retryable, true)
  fake.inject({ kind: 'reset' })
  const reset = await failure(client.patch('applied-controls', control.id, { status: 'active' }))
  assert.equal(reset.code, 'VGL_DISPATCHER_NETWORK')
  assert.deepEqual([classifyError(reset).retryable, classifyError(reset).blocking], [true, false], 'a reset counts against maxAttempts')
  await client.patch('applied-controls', control.id, { status: 'active' })
  assert.equal(fake.appliedControls.get(control.id)?.status, 'active')
  assert.equal(fake.appliedControls.get(control.id)?.progress_field, 100, 'active forces progress 100')
  assert.equal(fake.mutations.length, 1)
})

test('an unreachable API is a network error; a bad URL or an empty token is refused at start', async (t) => {
  const { fake } = await setup(t)
  const port = new URL(fake.url).port
  await fake.close()
  const client = new CisoClient({ url: `http://127.0.0.1:${port}/api`, token: 't0ken-value', requestTimeoutMs: 1000, verifyCertificate: true, maxConnections: 1 })
  t.after(() => client.close())
  const down = await failure(client.get('applied-controls', 'x'))
  assert.equal(down.code, 'VGL_DISPATCHER_NETWORK')
  assert.deepEqual([classifyError(down).retryable, classifyError(down).blocking], [true, true], 'an unreachable API blocks rather than dead-letters the backlog')
  assert.throws(() => new CisoClient({ url: 'not a url', token: 'x', requestTimeoutMs: 1, verifyCertificate: true, maxConnections: 1 }), (e) => isVigilError(e, 'VGL_CONFIG_INVALID'))
  assert.throws(() => new CisoClient({ url: 'http://h/api', token: '', requestTimeoutMs: 1, verifyCertificate: true, maxConnections: 1 }), /personal access token/)
})

test('a next link with another origin is followed on the API\'s own origin only (the token never leaves)', async (t) => {
  const { fake, client } = await setup(t, 2000, 1)
  fake.addAppliedControl({ name: 'a', ref_id: 'x' })
  fake.addAppliedControl({ name: 'b', ref_id: 'x' })
  // A proxy that rewrites next links to an internal host.
  fake.nextOrigin = 'http://internal-backend.invalid:8000'
  const ids = await client.resolve('applied-controls', multiple([['ref_id', 'x']]))
  assert.equal(ids.length, 2)
  assert.ok(fake.requests.every(r => r.headers.host === new URL(fake.url).host))
})

test('TLS: the certificate is verified against the system CAs or dispatcher.api.caFile; verification can be turned off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' })
  if (made.status !== 0) {
    t.skip(`openssl could not make a certificate: ${made.stderr}`)
    return
  }
  const fake = await startFakeCisoAssistant({ tls: { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') } })
  t.after(() => fake.close())
  const control = fake.addAppliedControl({ name: 'a', ref_id: 'tls' })
  const client = (options: { verifyCertificate: boolean, caFile?: string }) => {
    const c = new CisoClient({ url: fake.url, token: fake.token, requestTimeoutMs: 2000, maxConnections: 1, ...options })
    t.after(() => c.close())
    return c
  }
  assert.match(fake.url, /^https:/)
  const untrusted = await failure(client({ verifyCertificate: true }).get('applied-controls', control.id))
  assert.equal(untrusted.code, 'VGL_DISPATCHER_NETWORK')
  assert.match(untrusted.message, /certificate/i)
  assert.equal(classifyError(untrusted).blocking, true)
  assert.match(untrusted.hint, /dispatcher.api.caFile/)
  assert.equal((await client({ verifyCertificate: true, caFile: join(dir, 'cert.pem') }).get('applied-controls', control.id)).ref_id, 'tls')
  assert.equal((await client({ verifyCertificate: false }).get('applied-controls', control.id)).ref_id, 'tls')
  assert.throws(() => client({ verifyCertificate: true, caFile: join(dir, 'missing.pem') }), /cannot read dispatcher.api.caFile/)
})
