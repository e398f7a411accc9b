/**
 * The registry inside `vigil serve` (startServer with the schema component): routes under
 * /registry behind the server's API tokens (Basic auth with the token as password, as registry
 * clients send it), Vigil's own schemas registered at start, and state kept across a restart.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import confluent from '@kafkajs/confluent-schema-registry'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer } from '../../src/server.ts'
import { createSchemaRegistryComponent } from '../../src/schema/component.ts'
import { tempDir, userV1 } from './helpers/registry.ts'

const { SchemaRegistry, SchemaType } = confluent
const token = 'a-test-token-of-some-length'

test('vigil serve: the registry under /registry, behind the API token, surviving a restart', async (t) => {
  const dir = await tempDir(t)
  const config = validateConfig({
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    server: { host: '127.0.0.1', port: 0, apiTokens: [token] },
    logging: { level: 'silent' }
  })
  const start = async () => {
    const server = await startServer(config, { logger: createLogger(config), components: [context => createSchemaRegistryComponent(context)] })
    await server.ready
    return server
  }

  const first = await start()
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.schemaregistry.v1+json' }
  const denied = await fetch(`${first.url}/registry/subjects`)
  assert.equal(denied.status, 401)
  assert.equal((await denied.json() as { error_code: number }).error_code, 40101)

  const subjects = await (await fetch(`${first.url}/registry/subjects`, { headers })).json() as string[]
  assert.ok(subjects.includes('io.vigil.EventEnvelope'), 'Vigil\'s own schemas are registered at start')
  assert.ok(subjects.includes('com.dora.compliance.agent.AgentEvent'))

  // A Confluent client with basic auth (the token as password).
  const client = new SchemaRegistry({ host: `${first.url}/registry`, auth: { username: 'any', password: token } })
  const { id } = await client.register({ type: SchemaType.AVRO, schema: userV1 }, { subject: 'users-value' })
  const record = await client.encode(id, { id: 'u1', age: 7 })
  assert.deepEqual({ ...await client.decode(record) }, { id: 'u1', age: 7 })
  const unknown = await fetch(`${first.url}/registry/schemas/ids/9999`, { headers })
  assert.equal(unknown.status, 404)
  assert.equal((await unknown.json() as { error_code: number }).error_code, 40403)
  await first.close()

  const second = await start()
  t.after(() => second.close())
  const latest = await (await fetch(`${second.url}/registry/subjects/users-value/versions/latest`, { headers })).json() as { id: number }
  assert.equal(latest.id, id)
  const again = new SchemaRegistry({ host: `${second.url}/registry`, auth: { username: 'any', password: token } })
  assert.deepEqual({ ...await again.decode(record) }, { id: 'u1', age: 7 })
})
