/**
 * The Confluent REST surface through app.inject(), on a real embedded log: status codes, error
 * codes, content type, idempotent registration, soft and permanent deletes, config, mode,
 * compatibility, and bad input that gets the documented 4xx (never a 500).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { contentType, createRegistry, createRegistryApp, openEmbeddedLog, tempDir, userBad, userV1, userV2 } from './helpers/registry.ts'

async function setup (t: TestContext): Promise<(method: string, url: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number, body: any, type: string }>> {
  const dir = await tempDir(t)
  const log = await openEmbeddedLog(t, join(dir, 'vigil.db'))
  const registry = await createRegistry(t, log)
  const app: FastifyInstance = await createRegistryApp(t, registry)
  return async (method, url, body, headers = {}) => {
    const response = await app.inject({
      method: method as 'GET',
      url: `/registry${url}`,
      headers: { 'content-type': contentType, ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) })
    })
    let parsed: unknown = response.body
    try { parsed = JSON.parse(response.body) } catch {}
    return { status: response.statusCode, body: parsed, type: String(response.headers['content-type']) }
  }
}

test('register, look up and read back: ids are idempotent and global, versions count per subject', async (t) => {
  const call = await setup(t)
  const first = await call('POST', '/subjects/users-value/versions', { schema: userV1 })
  assert.equal(first.status, 200)
  assert.match(first.type, /^application\/vnd\.schemaregistry\.v1\+json/)
  assert.deepEqual(first.body, { id: 1 })

  // Same schema, same subject: same id, no new version (whitespace and key order do not matter).
  const pretty = JSON.stringify(JSON.parse(userV1), null, 2)
  assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: pretty })).body, { id: 1 })
  assert.deepEqual((await call('GET', '/subjects/users-value/versions')).body, [1])

  // Same schema under another subject: same id.
  assert.deepEqual((await call('POST', '/subjects/other-value/versions', { schema: userV1 })).body, { id: 1 })

  const second = await call('POST', '/subjects/users-value/versions', { schema: userV2 })
  assert.deepEqual(second.body, { id: 2 })
  assert.deepEqual((await call('GET', '/subjects/users-value/versions')).body, [1, 2])
  assert.deepEqual((await call('GET', '/subjects')).body, ['other-value', 'users-value'])

  const latest = await call('GET', '/subjects/users-value/versions/latest')
  assert.equal(latest.status, 200)
  assert.equal(latest.body.subject, 'users-value')
  assert.equal(latest.body.version, 2)
  assert.equal(latest.body.id, 2)
  assert.equal(latest.body.schemaType, undefined, 'AVRO is implied, as Confluent does')
  assert.deepEqual(JSON.parse(latest.body.schema), JSON.parse(userV2))
  assert.equal((await call('GET', '/subjects/users-value/versions/-1')).body.version, 2)
  assert.equal((await call('GET', '/subjects/users-value/versions/1')).body.id, 1)

  const raw = await call('GET', '/subjects/users-value/versions/1/schema')
  assert.deepEqual(raw.body, JSON.parse(userV1))

  const lookup = await call('POST', '/subjects/users-value', { schema: userV1 })
  assert.deepEqual({ ...lookup.body, schema: undefined }, { subject: 'users-value', version: 1, id: 1, schema: undefined })

  assert.deepEqual(JSON.parse((await call('GET', '/schemas/ids/2')).body.schema), JSON.parse(userV2))
  assert.deepEqual((await call('GET', '/schemas/ids/2/schema')).body, JSON.parse(userV2))
  assert.deepEqual((await call('GET', '/schemas/ids/1/versions')).body, [{ subject: 'other-value', version: 1 }, { subject: 'users-value', version: 1 }])
  assert.deepEqual((await call('GET', '/schemas/ids/1/subjects')).body, ['other-value', 'users-value'])
  assert.deepEqual((await call('GET', '/schemas/types')).body, ['AVRO', 'JSON'])
  assert.equal((await call('GET', '/schemas')).body.length, 3)
  assert.deepEqual((await call('GET', '/subjects/users-value/versions/1/referencedby')).body, [])
})

test('an incompatible schema is refused with 409 naming the field; the compatibility endpoints agree', async (t) => {
  const call = await setup(t)
  await call('POST', '/subjects/users-value/versions', { schema: userV1 })
  const refused = await call('POST', '/subjects/users-value/versions', { schema: userBad })
  assert.equal(refused.status, 409)
  assert.equal(refused.body.error_code, 409)
  assert.match(refused.body.message, /country/)
  assert.match(refused.body.message, /READER_FIELD_MISSING_DEFAULT_VALUE/)

  assert.deepEqual((await call('POST', '/compatibility/subjects/users-value/versions/latest', { schema: userBad })).body, { is_compatible: false })
  const verbose = await call('POST', '/compatibility/subjects/users-value/versions/1?verbose=true', { schema: userBad })
  assert.equal(verbose.body.is_compatible, false)
  assert.match(verbose.body.messages.join('\n'), /country/)
  assert.deepEqual((await call('POST', '/compatibility/subjects/users-value/versions', { schema: userV2 })).body, { is_compatible: true })
  // No subject yet: anything is compatible with "latest".
  assert.deepEqual((await call('POST', '/compatibility/subjects/new-value/versions/latest', { schema: userBad })).body, { is_compatible: true })
  assert.equal((await call('POST', '/compatibility/subjects/new-value/versions/3', { schema: userBad })).body.error_code, 40401)
  assert.equal((await call('POST', '/compatibility/subjects/users-value/versions/7', { schema: userBad })).body.error_code, 40402)

  // Registering the incompatible schema works once the subject's level is NONE.
  assert.deepEqual((await call('PUT', '/config/users-value', { compatibility: 'NONE' })).body, { compatibility: 'NONE' })
  assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: userBad })).body, { id: 2 })
})

test('config: global and per subject, with Confluent\'s answers', async (t) => {
  const call = await setup(t)
  assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'BACKWARD' })
  assert.deepEqual((await call('PUT', '/config', { compatibility: 'full_transitive' })).body, { compatibility: 'FULL_TRANSITIVE' })
  assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'FULL_TRANSITIVE' })

  const missing = await call('GET', '/config/users-value')
  assert.equal(missing.status, 404)
  assert.equal(missing.body.error_code, 40408)
  assert.deepEqual((await call('GET', '/config/users-value?defaultToGlobal=true')).body, { compatibilityLevel: 'FULL_TRANSITIVE' })
  assert.deepEqual((await call('PUT', '/config/users-value', { compatibility: 'FORWARD' })).body, { compatibility: 'FORWARD' })
  assert.deepEqual((await call('GET', '/config/users-value')).body, { compatibilityLevel: 'FORWARD' })
  assert.deepEqual((await call('DELETE', '/config/users-value')).body, { compatibilityLevel: 'FORWARD' })
  assert.equal((await call('GET', '/config/users-value')).status, 404)
  assert.deepEqual((await call('DELETE', '/config')).body, { compatibilityLevel: 'FULL_TRANSITIVE' })
  assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'BACKWARD' })
})

test('soft and permanent deletes of versions and subjects follow Confluent\'s rules and codes', async (t) => {
  const call = await setup(t)
  await call('POST', '/subjects/users-value/versions', { schema: userV1 })
  await call('POST', '/subjects/users-value/versions', { schema: userV2 })

  // Permanent before soft: 40407.
  const notSoft = await call('DELETE', '/subjects/users-value/versions/1?permanent=true')
  assert.equal(notSoft.status, 404)
  assert.equal(notSoft.body.error_code, 40407)

  assert.deepEqual((await call('DELETE', '/subjects/users-value/versions/1')).body, 1)
  assert.deepEqual((await call('GET', '/subjects/users-value/versions')).body, [2])
  assert.deepEqual((await call('GET', '/subjects/users-value/versions?deleted=true')).body, [1, 2])
  assert.equal((await call('GET', '/subjects/users-value/versions/1')).body.error_code, 40402)
  assert.equal((await call('GET', '/subjects/users-value/versions/1?deleted=true')).body.id, 1)
  // A soft-deleted schema stays readable by id (consumers still hold records written with it).
  assert.equal((await call('GET', '/schemas/ids/1')).status, 200)
  assert.equal((await call('DELETE', '/subjects/users-value/versions/1')).body.error_code, 40406)

  assert.deepEqual((await call('DELETE', '/subjects/users-value/versions/1?permanent=true')).body, 1)
  assert.equal((await call('GET', '/schemas/ids/1')).body.error_code, 40403)
  assert.equal((await call('GET', '/subjects/users-value/versions/1?deleted=true')).body.error_code, 40402)

  // Subjects: permanent before soft is 40405; soft twice is 40404.
  assert.equal((await call('DELETE', '/subjects/users-value?permanent=true')).body.error_code, 40405)
  assert.deepEqual((await call('DELETE', '/subjects/users-value')).body, [2])
  assert.deepEqual((await call('GET', '/subjects')).body, [])
  assert.deepEqual((await call('GET', '/subjects?deleted=true')).body, ['users-value'])
  assert.equal((await call('DELETE', '/subjects/users-value')).body.error_code, 40404)
  assert.equal((await call('GET', '/subjects/users-value/versions')).body.error_code, 40401)

  // Re-registering a soft-deleted schema makes a new version with the same id.
  assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: userV2 })).body, { id: 2 })
  assert.deepEqual((await call('GET', '/subjects/users-value/versions')).body, [3])
  await call('DELETE', '/subjects/users-value')
  assert.deepEqual((await call('DELETE', '/subjects/users-value?permanent=true')).body, [2, 3])
  assert.deepEqual((await call('GET', '/subjects?deleted=true')).body, [])

  // Ids are never reused, even after the schema holding the highest id is gone.
  assert.deepEqual((await call('POST', '/subjects/fresh-value/versions', { schema: userBad })).body, { id: 3 })
})

test('mode: READONLY refuses writes with 42205, READWRITE allows them again', async (t) => {
  const call = await setup(t)
  assert.deepEqual((await call('GET', '/mode')).body, { mode: 'READWRITE' })
  assert.deepEqual((await call('PUT', '/mode', { mode: 'READONLY' })).body, { mode: 'READONLY' })
  const refused = await call('POST', '/subjects/users-value/versions', { schema: userV1 })
  assert.equal(refused.status, 422)
  assert.equal(refused.body.error_code, 42205)
  assert.deepEqual((await call('PUT', '/mode', { mode: 'READWRITE' })).body, { mode: 'READWRITE' })
  assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: userV1 })).body, { id: 1 })

  assert.equal((await call('GET', '/mode/users-value')).body.error_code, 40409)
  assert.deepEqual((await call('PUT', '/mode/users-value', { mode: 'READONLY' })).body, { mode: 'READONLY' })
  assert.equal((await call('DELETE', '/subjects/users-value')).body.error_code, 42205)
  assert.deepEqual((await call('GET', '/mode/users-value')).body, { mode: 'READONLY' })
  assert.deepEqual((await call('DELETE', '/mode/users-value')).body, { mode: 'READONLY' })
  assert.deepEqual((await call('GET', '/mode/users-value?defaultToGlobal=true')).body, { mode: 'READWRITE' })

  assert.equal((await call('PUT', '/mode', { mode: 'SIDEWAYS' })).body.error_code, 42204)
  assert.equal((await call('PUT', '/mode', { mode: 'IMPORT' })).body.error_code, 42205, 'IMPORT needs an empty registry or force=true')
})

test('bad input gets the documented error code and a 4xx, never a 500', async (t) => {
  const call = await setup(t)
  await call('POST', '/subjects/users-value/versions', { schema: userV1 })
  const cases: Array<[string, string, unknown, number, number, Record<string, string>?]> = [
    ['POST', '/subjects/s/versions', { schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"strng"}]}' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: 'not json at all' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: '{"type":"record","fields":[]}' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"int","default":"x"}]}' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: '{"type":"enum","name":"E","symbols":["A","A"]}' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: '' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: userV1, schemaType: 'PROTOBUF' }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: userV1, references: [{ name: 'a', subject: 'b', version: 1 }] }, 422, 42201],
    ['POST', '/subjects/s/versions', { schema: { type: 'string' } }, 422, 422],
    ['POST', '/subjects/s/versions', ['schema'], 422, 422],
    ['POST', '/subjects/s/versions', '{"schema": "unterminated', 400, 400],
    ['POST', '/subjects/s/versions', '', 422, 422],
    ['POST', '/subjects/s/versions', '{"schema": 1}', 422, 422, { 'content-type': 'application/json' }],
    ['POST', '/subjects/s/versions', '{oops', 400, 400, { 'content-type': 'application/octet-stream' }],
    ['POST', '/subjects/s/versions', '{oops', 400, 400, { 'content-type': 'text/plain' }],
    ['GET', '/subjects/nope/versions', undefined, 404, 40401],
    ['GET', '/subjects/nope/versions/1', undefined, 404, 40401],
    ['GET', '/subjects/users-value/versions/9', undefined, 404, 40402],
    ['GET', '/subjects/users-value/versions/0', undefined, 422, 42202],
    ['GET', '/subjects/users-value/versions/abc', undefined, 422, 42202],
    ['GET', '/subjects/users-value/versions/99999999999', undefined, 422, 42202],
    ['DELETE', '/subjects/users-value/versions/-5', undefined, 422, 42202],
    ['POST', '/subjects/nope', { schema: userV1 }, 404, 40401],
    ['POST', '/subjects/users-value', { schema: userV2 }, 404, 40403],
    ['POST', '/subjects/users-value', { schema: '{"type":' }, 422, 42201],
    ['GET', '/schemas/ids/42', undefined, 404, 40403],
    ['GET', '/schemas/ids/42/schema', undefined, 404, 40403],
    ['GET', '/schemas/ids/42/versions', undefined, 404, 40403],
    ['GET', '/schemas/ids/nope', undefined, 404, 404],
    ['PUT', '/config', { compatibility: 'SORT_OF' }, 422, 42203],
    ['PUT', '/config', {}, 422, 42203],
    ['PUT', '/config/users-value', { compatibility: 42 }, 422, 42203],
    ['PUT', '/config', '{"compatibility":', 400, 400],
    ['PUT', '/mode', {}, 422, 42204],
    ['DELETE', '/subjects/nope', undefined, 404, 40401],
    ['GET', '/no/such/route', undefined, 404, 404],
    ['POST', '/compatibility/subjects/users-value/versions/latest', { schema: '{"type":"nope"}' }, 422, 42201]
  ]
  for (const [method, url, body, status, code, headers] of cases) {
    const response = await call(method, url, body, headers)
    assert.equal(response.status, status, `${method} ${url} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`)
    assert.equal(response.body.error_code, code, `${method} ${url}: ${JSON.stringify(response.body)}`)
    assert.equal(typeof response.body.message, 'string')
    assert.match(response.type, /^application\/vnd\.schemaregistry\.v1\+json/)
  }
})

test('every accepted media type is parsed, JSON Schema subjects work, and subject names may hold slashes', async (t) => {
  const call = await setup(t)
  for (const [i, type] of ['application/vnd.schemaregistry.v1+json', 'application/vnd.schemaregistry+json', 'application/json', 'application/octet-stream'].entries()) {
    const schema = JSON.stringify({ type: 'record', name: `R${i}`, fields: [{ name: 'a', type: 'int' }] })
    const response = await call('POST', `/subjects/m-${i}/versions`, { schema }, { 'content-type': type })
    assert.equal(response.status, 200, `${type}: ${JSON.stringify(response.body)}`)
  }
  const jsonSchema = JSON.stringify({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] })
  const registered = await call('POST', '/subjects/json-value/versions', { schema: jsonSchema, schemaType: 'JSON' })
  assert.equal(registered.status, 200)
  const read = await call('GET', '/subjects/json-value/versions/latest')
  assert.equal(read.body.schemaType, 'JSON')
  assert.equal((await call('GET', `/schemas/ids/${registered.body.id as number}`)).body.schemaType, 'JSON')
  const stricter = JSON.stringify({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['a', 'b'] })
  const refused = await call('POST', '/subjects/json-value/versions', { schema: stricter, schemaType: 'JSON' })
  assert.equal(refused.status, 409)
  assert.match(refused.body.message, /'b'/)

  const slashed = await call('POST', `/subjects/${encodeURIComponent('team/a-value')}/versions`, { schema: userV1 })
  assert.equal(slashed.status, 200)
  assert.ok((await call('GET', '/subjects')).body.includes('team/a-value'))
})

test('IMPORT mode keeps the ids and versions given, refusing ones that clash (42207)', async (t) => {
  const call = await setup(t)
  assert.deepEqual((await call('PUT', '/mode', { mode: 'IMPORT' })).body, { mode: 'IMPORT' })
  assert.deepEqual((await call('POST', '/subjects/users-value/versions', { schema: userV1, id: 100, version: 5 })).body, { id: 100 })
  const read = await call('GET', '/subjects/users-value/versions/5')
  assert.equal(read.body.id, 100)
  const clash = await call('POST', '/subjects/other-value/versions', { schema: userV2, id: 100, version: 1 })
  assert.equal(clash.status, 422)
  assert.equal(clash.body.error_code, 42207)
  assert.equal((await call('POST', '/subjects/other-value/versions', { schema: userV2, id: 'x' })).body.error_code, 422)
  await call('PUT', '/mode', { mode: 'READWRITE' })
  // New ids continue above the imported ones.
  assert.deepEqual((await call('POST', '/subjects/other-value/versions', { schema: userV2 })).body, { id: 101 })
})
