/**
 * Produce-side validation for topics bound to a subject, Vigil's own schemas (the schemas/ folder)
 * and openSchemaRegistry() wiring them from the configuration.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'
import { loadSchemaFolder, registerSchemaFolder } from '../../src/schema/builtin-schemas.ts'
import { openSchemaRegistry } from '../../src/schema/index.ts'
import { createSerde } from '../../src/schema/serde.ts'
import { createProduceValidator } from '../../src/schema/validation.ts'
import { MemoryLog } from './helpers/memory-log.ts'
import { createRegistry, openEmbeddedLog, tempDir, userV1 } from './helpers/registry.ts'

const json = (value: unknown) => Buffer.from(JSON.stringify(value))

test('a bound topic: JSON records are encoded with the subject\'s schema, bad ones refused before the log', async (t) => {
  const registry = await createRegistry(t, new MemoryLog().asLog())
  const serde = createSerde({ registry })
  await registry.register('users-value', { schema: userV1 })
  const validator = createProduceValidator({ serde, registry, bindings: [{ topic: 'users', strategy: 'TopicNameStrategy', format: 'avro' }] })

  assert.ok(validator.isBound('users'))
  assert.ok(!validator.isBound('other'))
  const [encoded, tombstone] = await validator.prepare('users', [{ key: Buffer.from('k'), value: json({ id: 'u1', age: 3 }) }, { value: null }])
  assert.deepEqual(JSON.parse(JSON.stringify((await serde.decode(encoded?.value as Buffer)).value)), { id: 'u1', age: 3 })
  assert.deepEqual(encoded?.key, Buffer.from('k'))
  assert.equal(tombstone?.value, null)

  // Already framed with the subject's schema: passes untouched.
  const framed = await serde.encode('users-value', { id: 'u2', age: 4 })
  assert.deepEqual((await validator.prepare('users', [{ value: framed }]))[0]?.value, framed)

  await assert.rejects(validator.prepare('users', [{ value: json({ id: 'u1', age: 3 }) }, { value: json({ id: 'u1', age: 'three' }) }]), (error: unknown) => {
    assert.ok(isVigilError(error, 'VGL_SCHEMA_SERDE_MISMATCH'))
    assert.match(error.message, /Record 1 refused for topic users/)
    assert.match(error.message, /age: "three"/)
    assert.equal(error.context.index, 1)
    return true
  })
  await assert.rejects(validator.prepare('users', [{ value: Buffer.from('not json') }]), { code: 'VGL_SCHEMA_SERDE_MISMATCH' })

  // Framed with a schema that is not under the bound subject.
  const { id: otherId } = await registry.register('other-value', { schema: JSON.stringify({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] }) })
  const foreign = (await serde.encoderForId(otherId)).encode({ x: 1 })
  await assert.rejects(validator.prepare('users', [{ value: foreign }]), /not registered under subject users-value/)
  // A corrupt framed body.
  await assert.rejects(validator.prepare('users', [{ value: framed.subarray(0, 7) }]), { code: 'VGL_SCHEMA_SERDE_TRUNCATED' })
  // Unbound topics are left alone.
  assert.deepEqual(await validator.prepare('other', [{ value: Buffer.from('anything') }]), [{ value: Buffer.from('anything') }])
  // Per-record results for callers that dead-letter only the bad ones.
  const results = await validator.check('users', [{ value: json({ id: 'a', age: 1 }) }, { value: json({}) }])
  assert.ok(!isVigilError(results[0]))
  assert.ok(isVigilError(results[1], 'VGL_SCHEMA_SERDE_MISMATCH'))
})

test('record-name strategies accept framed records of any registered record type, and JSON topics use JSON Schema', async (t) => {
  const registry = await createRegistry(t, new MemoryLog().asLog())
  const serde = createSerde({ registry })
  await registerSchemaFolder(registry)
  await registry.register('heartbeats-json-value', { schemaType: 'JSON', schema: JSON.stringify({ type: 'object', properties: { node_id: { type: 'string' } }, required: ['node_id'] }) })
  const validator = createProduceValidator({
    serde,
    registry,
    bindings: [
      { topic: 'observation', strategy: 'RecordNameStrategy', format: 'avro' },
      { topic: 'heartbeats-json', strategy: 'TopicNameStrategy', format: 'json' }
    ]
  })
  const event = {
    event_id: randomUUID(),
    occurred_at: Date.now(),
    source: 'test',
    selector: { filters: { ref_id: 'AC-1' }, target: 'single' },
    values: { status: 'active', observation: null, eta: '2026-03-01', progress_field: 50 }
  }
  const framed = await serde.encode('io.vigil.ciso.UpdateAppliedControlStatus', event)
  assert.equal((await validator.prepare('observation', [{ value: framed }]))[0]?.value, framed)
  await assert.rejects(validator.prepare('observation', [{ value: json(event) }]), /RecordNameStrategy/)

  const [ok] = await validator.prepare('heartbeats-json', [{ value: json({ node_id: 'n1' }) }])
  assert.deepEqual((await serde.decode(ok?.value as Buffer)).value, { node_id: 'n1' })
  await assert.rejects(validator.prepare('heartbeats-json', [{ value: json({ node: 'n1' }) }]), /node_id/)
  await assert.rejects(validator.prepare('heartbeats-json', [{ value: framed }]), /takes JSON/)
})

test('Vigil\'s own schemas: every file parses, is named, and registers idempotently', async (t) => {
  const files = loadSchemaFolder()
  assert.deepEqual(files.map(f => f.subject).sort(), [
    'com.dora.compliance.agent.AgentEvent',
    'io.vigil.EventEnvelope',
    'io.vigil.audit.AuditEvent',
    'io.vigil.ciso.AttachEvidenceToAppliedControl',
    'io.vigil.ciso.UpdateAppliedControlStatus',
    'io.vigil.ciso.UpdateRequirementAssessmentStatus',
    'io.vigil.fleet.Command',
    'io.vigil.fleet.CommandResult',
    'io.vigil.fleet.Heartbeat',
    'io.vigil.fleet.Scan'
  ])
  const registry = await createRegistry(t, new MemoryLog().asLog())
  const first = await registerSchemaFolder(registry)
  assert.ok(first.every(r => 'id' in r), JSON.stringify(first))
  const second = await registerSchemaFolder(registry)
  assert.deepEqual(second, first)
  for (const subject of await registry.listSubjects()) assert.deepEqual(await registry.listVersions(subject), [1])
})

test('openSchemaRegistry: the local registry on the log with built-in schemas and bindings from config', async (t) => {
  const dir = await tempDir(t)
  const log = await openEmbeddedLog(t, join(dir, 'vigil.db'))
  const config = validateConfig({
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    schemaRegistry: { defaultCompatibility: 'FULL', topicSubjects: [{ topic: 'agent-events', subject: 'com.dora.compliance.agent.AgentEvent' }] }
  })
  const services = await openSchemaRegistry(config, log)
  t.after(() => services.close())
  assert.ok(services.local !== undefined)
  assert.equal(services.builtin.length, 10)
  assert.equal(await services.registry.getConfig(null), 'FULL')
  assert.ok(services.validator.isBound('agent-events'))
  await assert.rejects(services.validator.prepare('agent-events', [{ value: json({ agentId: 'a' }) }]), { code: 'VGL_SCHEMA_SERDE_MISMATCH' })

  const external = await openSchemaRegistry(validateConfig({ schemaRegistry: { url: 'http://127.0.0.1:1/' } }), log)
  t.after(() => external.close())
  assert.equal(external.local, undefined)
  assert.deepEqual(external.builtin, [])
})
