/**
 * The client for external registries, run against Vigil's own routes over real HTTP and HTTPS:
 * basic auth, a path prefix (as Apicurio's /apis/ccompat/v7), a custom CA, certificate checks,
 * error codes mapped back to VGL codes, and an unreachable registry.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { registryRoutes } from '../../src/schema/registry-routes.ts'
import { createRegistryClient } from '../../src/schema/registry-client.ts'
import { createSerde } from '../../src/schema/serde.ts'
import { MemoryLog } from './helpers/memory-log.ts'
import { createRegistry, tempDir, userBad, userV1, userV2 } from './helpers/registry.ts'

async function serveRegistry (t: TestContext, options: { https?: { key: string, cert: string }, user?: string, password?: string, prefix?: string } = {}): Promise<string> {
  const registry = await createRegistry(t, new MemoryLog().asLog())
  const app = (options.https === undefined ? Fastify() : Fastify({ https: options.https })) as unknown as FastifyInstance
  if (options.user !== undefined) {
    const expected = `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.authorization !== expected) await reply.code(401).send({ error_code: 40101, message: 'Unauthorized' })
    })
  }
  const prefix = options.prefix ?? '/apis/ccompat/v7'
  await app.register(registryRoutes, { prefix, registry })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  t.after(() => app.close())
  return `${address}${prefix}`
}

test('the client speaks the Confluent API: register, read, config, compatibility, deletes, with basic auth and a path prefix', async (t) => {
  const url = await serveRegistry(t, { user: 'svc', password: 's3cret' })
  const client = createRegistryClient({ url, username: 'svc', password: 's3cret' })
  t.after(() => client.close())
  assert.deepEqual(await client.register('users-value', { schema: userV1 }), { id: 1 })
  assert.deepEqual(await client.register('users-value', { schema: userV2 }), { id: 2 })
  assert.deepEqual(await client.listSubjects(), ['users-value'])
  assert.deepEqual(await client.listVersions('users-value'), [1, 2])
  assert.equal((await client.getVersion('users-value', 'latest')).id, 2)
  assert.equal((await client.lookup('users-value', { schema: userV1 })).version, 1)
  assert.equal((await client.getSchemaById(1)).schemaType, 'AVRO')
  assert.deepEqual(await client.getVersionsById(1), [{ subject: 'users-value', version: 1 }])
  assert.equal(await client.getConfig(null), 'BACKWARD')
  assert.equal(await client.setConfig('users-value', 'FULL'), 'FULL')
  assert.equal(await client.getConfig('users-value'), 'FULL')
  const check = await client.checkCompatibility('users-value', 'latest', { schema: userBad })
  assert.equal(check.isCompatible, false)
  assert.match(check.messages.join('\n'), /country/)
  assert.equal(await client.getMode(null), 'READWRITE')
  assert.deepEqual(await client.schemaTypes(), ['AVRO', 'JSON'])
  assert.deepEqual(await client.deleteSubject('users-value'), [1, 2])
  assert.deepEqual(await client.deleteSubject('users-value', { permanent: true }), [1, 2])

  // Registry errors come back with their VGL code and the registry's own code.
  await assert.rejects(client.getVersion('nope', 1), (error: any) => error.code === 'VGL_SCHEMA_SUBJECT_NOT_FOUND' && error.context.registryErrorCode === 40401)
  await assert.rejects(client.register('x', { schema: '{"type":"nope"}' }), { code: 'VGL_SCHEMA_INVALID' })
  await assert.rejects(client.getSchemaById(77), { code: 'VGL_SCHEMA_NOT_FOUND' })

  // A serde over the client works like one over the local registry.
  await client.register('events-value', { schema: userV1 })
  const serde = createSerde({ registry: client })
  const record = await serde.encode('events-value', { id: 'u1', age: 30 })
  assert.deepEqual(JSON.parse(JSON.stringify((await serde.decode(record)).value)), { id: 'u1', age: 30 })

  const wrong = createRegistryClient({ url, username: 'svc', password: 'nope' })
  t.after(() => wrong.close())
  await assert.rejects(wrong.listSubjects(), { code: 'VGL_SCHEMA_REGISTRY_AUTH_FAILED' })
})

test('TLS: the registry\'s certificate is checked against caFile, or not when rejectUnauthorized is false', async (t) => {
  const dir = await tempDir(t)
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  } catch {
    t.skip('openssl is not available to make a test certificate')
    return
  }
  const url = await serveRegistry(t, { https: { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') } })
  assert.match(url, /^https:/)

  const strict = createRegistryClient({ url })
  t.after(() => strict.close())
  await assert.rejects(strict.listSubjects(), { code: 'VGL_SCHEMA_REGISTRY_AUTH_FAILED' })

  const trusting = createRegistryClient({ url, caFile: cert })
  t.after(() => trusting.close())
  assert.deepEqual(await trusting.register('s', { schema: userV1 }), { id: 1 })

  const unchecked = createRegistryClient({ url, rejectUnauthorized: false })
  t.after(() => unchecked.close())
  assert.deepEqual(await unchecked.listSubjects(), ['s'])
})

test('an unreachable registry is VGL_SCHEMA_REGISTRY_UNREACHABLE; a bad URL is a config error', async (t) => {
  const client = createRegistryClient({ url: 'http://127.0.0.1:1/registry', requestTimeoutMs: 2000 })
  t.after(() => client.close())
  await assert.rejects(client.listSubjects(), { code: 'VGL_SCHEMA_REGISTRY_UNREACHABLE' })
  assert.throws(() => createRegistryClient({ url: 'ftp://x' }), { code: 'VGL_CONFIG_INVALID' })
  assert.throws(() => createRegistryClient({ url: 'not a url' }), { code: 'VGL_CONFIG_INVALID' })
})
