/**
 * Interoperability with a real client: @kafkajs/confluent-schema-registry (major 4) pointed at
 * Vigil's registry over HTTP (`vigil serve` mounts it under /registry). It registers, encodes and
 * decodes; records cross both ways between that client and Vigil's serde.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import confluent from '@kafkajs/confluent-schema-registry'
import { builtinSchemasDir } from '../../src/schema/builtin-schemas.ts'
import { createSerde } from '../../src/schema/serde.ts'
import { createRegistry, createRegistryApp, openEmbeddedLog, tempDir } from './helpers/registry.ts'

const { SchemaRegistry, SchemaType, COMPATIBILITY } = confluent

/** Drops avsc's record classes: compare values, not prototypes. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

async function serve (t: TestContext): Promise<{ host: string, serde: ReturnType<typeof createSerde> }> {
  const dir = await tempDir(t)
  const log = await openEmbeddedLog(t, join(dir, 'vigil.db'))
  const registry = await createRegistry(t, log)
  const app = await createRegistryApp(t, registry)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  return { host: `${address}/registry`, serde: createSerde({ registry }) }
}

const envelopeSchema = readFileSync(join(builtinSchemasDir, 'vigil/event-envelope.avsc'), 'utf8')
const agentEventSchema = readFileSync(join(builtinSchemasDir, 'dora/agent-event.avsc'), 'utf8')

test('@kafkajs/confluent-schema-registry registers, encodes and decodes against Vigil, both ways', async (t) => {
  const { host, serde } = await serve(t)
  const client = new SchemaRegistry({ host }, { [SchemaType.AVRO]: {} })

  // Register through the client under an explicit subject (TopicNameStrategy).
  const { id } = await client.register({ type: SchemaType.AVRO, schema: envelopeSchema }, { subject: 'observation-value' })
  assert.equal(id, 1)
  assert.equal(await client.getLatestSchemaId('observation-value'), 1)
  assert.equal(await client.getRegistryIdBySchema('observation-value', { type: SchemaType.AVRO, schema: envelopeSchema }), 1)
  // Registering again is idempotent.
  assert.equal((await client.register({ type: SchemaType.AVRO, schema: envelopeSchema }, { subject: 'observation-value' })).id, 1)

  const event = {
    event_id: randomUUID(),
    event_type: 'update_applied_control_status',
    version: 1,
    occurred_at: 1767225600000,
    source: 'ciso-assistant-connector',
    payload: '{"selector":{"ref_id":"AC-1"},"values":{"status":"active"}}'
  }

  // Client → Vigil.
  const fromClient = await client.encode(id, event)
  assert.equal(fromClient[0], 0)
  assert.equal(fromClient.readUInt32BE(1), id)
  const decoded = await serde.decode(fromClient)
  assert.equal(decoded.schemaId, id)
  assert.equal(decoded.subject, 'observation-value')
  const value = decoded.value as Omit<typeof event, 'occurred_at'> & { occurred_at: unknown }
  assert.equal(value.event_id, event.event_id)
  assert.equal(value.payload, event.payload)
  assert.ok(value.occurred_at instanceof Date)
  assert.equal((value.occurred_at as Date).getTime(), event.occurred_at)

  // Vigil → client, from plain JSON with an ISO timestamp.
  const fromVigil = await serde.encode('observation-value', { ...event, occurred_at: new Date(event.occurred_at).toISOString() })
  assert.deepEqual(fromVigil, fromClient, 'both sides write the same bytes')
  assert.deepEqual(plain(await client.decode(fromVigil)), event)
})

test('records with unions, enums, maps, nested records and logical types cross both ways (RecordNameStrategy subject)', async (t) => {
  const { host, serde } = await serve(t)
  const client = new SchemaRegistry({ host })
  // Without a subject the client uses the record's full name, as RecordNameStrategy does.
  const { id } = await client.register({ type: SchemaType.AVRO, schema: agentEventSchema })
  const latest = await serde.encoderFor('com.dora.compliance.agent.AgentEvent')
  assert.equal(latest.schemaId, id)

  const event = {
    eventId: randomUUID(),
    agentId: 'agent-7',
    version: '1.2.0',
    timestamp: 1767225600123,
    eventType: 'RESOURCE_ALERT',
    agentType: 'RISK_ASSESSMENT_AGENT',
    status: 'DEGRADED',
    nodeId: 'node-1',
    podId: null,
    message: 'memory high',
    taskId: null,
    metadata: { region: 'eu-west-1' },
    resourceUsage: { cpuUsagePercent: 93.5, memoryUsageMB: 1024, diskUsageMB: null, networkBytesSent: 10, networkBytesReceived: 20 },
    errorDetails: { errorCode: 'E42', errorMessage: 'oom soon', stackTrace: null, severity: 'HIGH' }
  }
  const fromClient = await client.encode(id, event)
  const decoded = (await serde.decodeToJson(fromClient)).value as Record<string, unknown>
  assert.deepEqual({ ...decoded, timestamp: Date.parse(decoded.timestamp as string) }, event)

  const fromVigil = latest.encode(event)
  assert.deepEqual(plain(await client.decode(fromVigil)), event)
})

test('JSON Schema subjects: the client\'s JSON records decode in Vigil and the other way round', async (t) => {
  const { host, serde } = await serve(t)
  const client = new SchemaRegistry({ host })
  const schema = JSON.stringify({ $id: 'https://vigil.dev/heartbeat.json', title: 'Heartbeat', type: 'object', properties: { node_id: { type: 'string' }, ok: { type: 'boolean' } }, required: ['node_id'] })
  const { id } = await client.register({ type: SchemaType.JSON, schema }, { subject: 'heartbeats-value' })
  const record = { node_id: 'n-1', ok: true }
  const fromClient = await client.encode(id, record)
  assert.deepEqual((await serde.decode(fromClient)).value, record)
  const fromVigil = await serde.encode('heartbeats-value', record)
  assert.deepEqual(await client.decode(fromVigil), record)
  await assert.rejects(serde.encode('heartbeats-value', { ok: 'yes' }), { code: 'VGL_SCHEMA_SERDE_MISMATCH' })
})

test('GET /contexts answers Confluent\'s default context alone: ["."]', async (t) => {
  const { host } = await serve(t)
  const response = await fetch(`${host}/contexts`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /application\/vnd\.schemaregistry\.v1\+json/)
  assert.deepEqual(await response.json(), ['.'])
})

test('POST /compatibility/subjects/{s}/versions checks the latest version only unless the level is transitive, as Confluent does', async (t) => {
  const { host } = await serve(t)
  const client = new SchemaRegistry({ host }, { [SchemaType.AVRO]: {} })
  const subject = 'drift-value'
  const record = (fields: unknown[]): string => JSON.stringify({ type: 'record', name: 'Drift', fields })
  const v1 = record([{ name: 'a', type: 'int' }])
  const v2 = record([{ name: 'b', type: 'string' }])

  // Two versions that cannot read each other's data, registered under NONE through the client
  // (its register() sets the subject's level first). The client has no call for the
  // all-versions check, so that route is called over HTTP as Confluent documents it.
  await client.register({ type: SchemaType.AVRO, schema: v1 }, { subject, compatibility: COMPATIBILITY.NONE })
  await client.register({ type: SchemaType.AVRO, schema: v2 }, { subject, compatibility: COMPATIBILITY.NONE })

  const post = async (path: string, body: unknown, method = 'POST'): Promise<{ is_compatible: boolean, messages?: string[] }> => {
    const response = await fetch(`${host}${path}`, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify(body)
    })
    assert.equal(response.status, 200, `${method} ${path}`)
    return await response.json() as { is_compatible: boolean, messages?: string[] }
  }
  const checkAll = (verbose = false) => post(`/compatibility/subjects/${subject}/versions${verbose ? '?verbose=true' : ''}`, { schema: v2 })
  const setLevel = (compatibility: string) => post(`/config/${subject}`, { compatibility }, 'PUT')

  // BACKWARD: v2 as the candidate reads the latest (v2) fine; v1 is not looked at.
  await setLevel('BACKWARD')
  assert.deepEqual(await checkAll(), { is_compatible: true })
  // The per-version route agrees: compatible with the latest, not with version 1.
  assert.equal((await post(`/compatibility/subjects/${subject}/versions/latest`, { schema: v2 })).is_compatible, true)
  assert.equal((await post(`/compatibility/subjects/${subject}/versions/1`, { schema: v2 })).is_compatible, false)

  // BACKWARD_TRANSITIVE: every version counts, so version 1 makes it incompatible.
  await setLevel('BACKWARD_TRANSITIVE')
  assert.equal((await checkAll()).is_compatible, false)
  const verbose = await checkAll(true)
  assert.equal(verbose.is_compatible, false)
  assert.ok(verbose.messages?.some(m => m.includes('oldSchemaVersion:1')), JSON.stringify(verbose.messages))
  assert.ok(!verbose.messages?.some(m => m.includes('oldSchemaVersion:2')), 'v2 is identical to the candidate')

  // FULL (non-transitive) also looks at the latest only.
  await setLevel('FULL')
  assert.deepEqual(await checkAll(), { is_compatible: true })
})
