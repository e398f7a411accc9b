/**
 * Principals from a token file reloaded without a restart, `vigil access` tokens, per-principal
 * rate limits on write routes, the bound on requests in flight, and CLI actions in the audit trail.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { runCli } from '../../src/cli/main.ts'
import { startAccessServer, waitFor } from './helpers.ts'

async function cli (args: string[], stdin = ''): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const code = await runCli(args, {
    stdin: Readable.from([stdin]),
    stdout: new Writable({ write (c, _e, d) { out += String(c); d() } }),
    stderr: new Writable({ write (c, _e, d) { err += String(c); d() } }),
    env: {}
  })
  return { code, out, err }
}

async function createToken (name: string, ...roles: string[]): Promise<{ token: string, entry: any }> {
  const made = await cli(['access', 'create-token', '--name', name, '--role', ...roles])
  assert.equal(made.code, 0, made.err)
  const token = /token \(shown once, keep it secret\): (\S+)/.exec(made.err)?.[1] as string
  return { token, entry: JSON.parse(made.out) }
}

test('vigil access create-token and hash-token: the entry holds a hash, never the token; bad usage is named', async () => {
  const { token, entry } = await createToken('ci-producer', 'producer')
  assert.match(token, /^vgl_[0-9a-f]{12}_/)
  assert.equal(entry.name, 'ci-producer')
  assert.deepEqual(entry.roles, ['producer'])
  assert.match(entry.tokenHash, /^scrypt\$/)
  assert.ok(!entry.tokenHash.includes(token))
  const hashed = await cli(['access', 'hash-token'], 'a-hand-made-token-of-enough-length\n')
  assert.equal(hashed.code, 0)
  assert.match(hashed.out, /^scrypt\$-\$/)
  const noNode = await cli(['access', 'create-token', '--name', 'n1', '--role', 'agent'])
  assert.equal(noNode.code, 2)
  assert.match(noNode.err, /--node-id/)
  const badRole = await cli(['access', 'create-token', '--name', 'n1', '--role', 'root'])
  assert.equal(badRole.code, 2)
})

test('the token file is reloaded without a restart; an invalid file keeps the previous principals', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-tokens-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'tokens.json')
  const alice = await createToken('alice', 'viewer')
  const bob = await createToken('bob', 'admin')
  await writeFile(file, JSON.stringify({ principals: [alice.entry] }))
  const s = await startAccessServer(t, { access: { tokenFile: file } })
  assert.equal((await s.call('GET', '/v1/access/whoami', { token: alice.token })).body.name, 'alice')
  assert.equal((await s.call('GET', '/v1/access/whoami', { token: bob.token })).status, 401)

  await writeFile(file, JSON.stringify({ principals: [bob.entry] }))
  await waitFor(async () => (await s.call('GET', '/v1/access/whoami', { token: bob.token })).status === 200, 10_000, 'bob after the file changed')
  assert.equal((await s.call('GET', '/v1/access/whoami', { token: alice.token })).status, 401, 'a principal removed from the file is refused at once')

  await writeFile(file, '{"principals": [ {"name": "x"')
  const refused = await s.call('POST', '/v1/access/tokens/reload', { token: s.tokens.admin })
  assert.equal(refused.status, 422)
  assert.equal(refused.body.code, 'VGL_ACCESS_TOKEN_FILE_INVALID')
  assert.match(refused.body.message, /tokens\.json/)
  assert.equal((await s.call('GET', '/v1/access/whoami', { token: bob.token })).status, 200, 'the previous principals stay')
  assert.equal((await s.call('POST', '/v1/access/tokens/reload', { token: s.tokens.operator })).status, 403, 'reloading is admin\'s')
})

test('write routes are rate limited per principal (429 with Retry-After); reads and other principals are not', async (t) => {
  const s = await startAccessServer(t, { access: { writeRateLimitPerMinute: 3 } })
  const event = { type: 'login', actor_ref: 'u1' }
  for (let i = 0; i < 3; i++) assert.equal((await s.call('POST', '/v1/audit/events', { token: s.tokens.producer, body: event })).status, 202)
  const limited = await s.call('POST', '/v1/audit/events', { token: s.tokens.producer, body: event })
  assert.equal(limited.status, 429)
  assert.equal(limited.body.code, 'VGL_ACCESS_RATE_LIMITED')
  assert.match(limited.body.detail, /producer-user/)
  assert.ok(Number(limited.headers.get('retry-after')) >= 1)
  assert.equal((await s.call('GET', '/v1/audit/status', { token: s.tokens.viewer })).status, 200)
  assert.equal((await s.call('PUT', '/registry/config', { token: s.tokens.admin, body: { compatibility: 'FULL' } })).status, 200, 'another principal has its own budget')
})

test('beyond access.maxConcurrentRequests a request gets 503 with Retry-After; health probes still answer', async (t) => {
  const s = await startAccessServer(t, { access: { maxConcurrentRequests: 1 } })
  const { port } = new URL(s.url)
  // A request whose body never ends holds its place.
  const held = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/audit/events', headers: { authorization: `Bearer ${s.tokens.producer}`, 'content-type': 'application/json', 'content-length': '100' } })
  held.on('error', () => {})
  held.write('[')
  await new Promise(resolve => setTimeout(resolve, 200))
  const refused = await s.call('GET', '/v1/audit/status', { token: s.tokens.viewer })
  assert.equal(refused.status, 503)
  assert.equal(refused.body.code, 'VGL_ACCESS_OVERLOADED')
  assert.equal(refused.headers.get('retry-after'), '1')
  assert.equal((await s.call('GET', '/healthz')).status, 200)
  held.destroy()
  await waitFor(async () => (await s.call('GET', '/v1/audit/status', { token: s.tokens.viewer })).status === 200, 5000, 'room again after the held request went away')
})

test('a CLI command that changes the log is recorded in the audit trail with the OS user', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cli-audit-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const created = await cli(['--log', `embedded:${join(dir, 'vigil.db')}`, 'topics', 'create', 'orders', '--partitions', '2'])
  assert.equal(created.code, 0, created.err)
  const listed = await cli(['--log', `embedded:${join(dir, 'vigil.db')}`, 'topics', 'list'])
  assert.equal(listed.code, 0, listed.err)
  const s = await startAccessServer(t, { dir })
  const records = await waitFor(async () => {
    const { body } = await s.call('GET', '/v1/audit/events?type=vigil.action&source=cli', { token: s.tokens.viewer })
    return body.records?.length >= 1 ? body.records : undefined
  }, 30_000, 'the CLI action')
  assert.equal(records.length, 1, 'reads are not recorded')
  assert.equal(records[0].action, 'cli: vigil topics create')
  assert.equal(records[0].resource_ref, 'orders')
  assert.match(records[0].actor_ref, /^os:/)
})

test('agent routes are rate limited per node, also when a fleet shares one token', async (t) => {
  const shared = 'fleet-shared-token-0123456789abcdef'
  const s = await startAccessServer(t, { access: { writeRateLimitPerMinute: 3 }, server: { apiTokens: [shared] } })
  const heartbeat = (i: number) => ({ node_id: `00000000-0000-4000-8000-00000000000${i}`, hostname: `n${i}`, os_profile: 'DebianVault', cloudflare_ok: true, services_ok: true, vaultmesh_root: '/', timestamp: new Date().toISOString() })
  for (let i = 0; i < 5; i++) assert.equal((await s.call('POST', '/api/agent/heartbeat', { token: shared, body: heartbeat(i) })).status, 200, `node ${i} has a budget of its own`)
  for (let i = 0; i < 2; i++) assert.equal((await s.call('POST', '/api/agent/heartbeat', { token: shared, body: heartbeat(0) })).status, 200)
  const limited = await s.call('POST', '/api/agent/heartbeat', { token: shared, body: heartbeat(0) })
  assert.equal(limited.status, 429)
  assert.ok(Number(limited.headers.get('retry-after')) >= 1)
})

test('at start, an invalid token file, a bad token hash or unreadable TLS files stop vigil serve with the file and key named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-access-start-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const tokens = join(dir, 'tokens.json')
  await writeFile(tokens, '{"principals": [{"name": "x", "roles": ["root"], "tokenHash": "scrypt$-$1$1$1$a$b"}]}')
  await assert.rejects(startAccessServer(t, { dir, access: { tokenFile: tokens } }), (e: any) => e.code === 'VGL_ACCESS_TOKEN_FILE_INVALID' && e.message.includes('tokens.json') && e.message.includes('roles'))
  await assert.rejects(startAccessServer(t, { dir, access: { principals: [{ name: 'x', roles: ['admin'], tokenHash: 'scrypt$-$3$8$1$c2FsdHNhbHQ$aGFzaA' }] } }), (e: any) => e.code === 'VGL_ACCESS_TOKEN_HASH_INVALID' && e.message.includes('access.principals[0].tokenHash'))
  await assert.rejects(startAccessServer(t, { dir, server: { tls: { certFile: join(dir, 'missing.pem'), keyFile: join(dir, 'missing.key') } } }), (e: any) => e.code === 'VGL_ACCESS_TLS_INVALID' && e.message.includes('server.tls.certFile') && e.message.includes('missing.pem'))
  await writeFile(join(dir, 'garbage.pem'), 'not a certificate')
  await assert.rejects(startAccessServer(t, { dir, server: { tls: { certFile: join(dir, 'garbage.pem'), keyFile: join(dir, 'garbage.pem') } } }), (e: any) => e.code === 'VGL_ACCESS_TLS_INVALID' && /does not load/.test(e.message))
  await assert.rejects(startAccessServer(t, { dir, server: { tls: { certFile: join(dir, 'garbage.pem'), keyFile: join(dir, 'garbage.pem'), clientCertificates: 'require' } } }), (e: any) => e.code === 'VGL_ACCESS_TLS_INVALID' && e.message.includes('server.tls.caFile'))
})
