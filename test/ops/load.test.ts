/**
 * The desired-state file: the DORA example loads and resolves as the seed says; bad files are
 * refused with VGL_OPS_FILE_INVALID naming the line and key of each problem. Pure logic, no log.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isVigilError } from '../../src/errors.ts'
import { loadDesiredState, parseDesiredState } from '../../src/ops/index.ts'

const example = 'examples/dora/vigil-ops.yaml'
const exampleFile = `${process.cwd()}/${example}`

function refusal (text: string): string {
  try {
    parseDesiredState(text, exampleFile)
  } catch (error) {
    assert.ok(isVigilError(error, 'VGL_OPS_FILE_INVALID'), String(error))
    return error.message
  }
  assert.fail('the file was accepted')
}

test('the DORA example resolves to the seed\'s topics, dead-letter topics, subjects, users and ACLs', () => {
  const state = loadDesiredState(example)
  const topic = (name: string) => state.topics.find(t => t.name === name)
  assert.equal(state.topics.length, 22)
  assert.deepEqual(topic('agent-events')?.configs, {
    'cleanup.policy': 'delete',
    'retention.ms': String(7 * 86_400_000),
    'max.message.bytes': String(1024 * 1024),
    'compression.type': 'snappy',
    'min.insync.replicas': '2',
    'segment.ms': String(86_400_000)
  })
  assert.equal(topic('audit-logs')?.partitions, 24)
  assert.equal(topic('audit-logs')?.configs['compression.type'], 'gzip')
  assert.equal(topic('audit-logs')?.configs['retention.ms'], String(6 * 365 * 86_400_000))
  assert.equal(topic('monitoring-metrics')?.configs['segment.ms'], String(3_600_000))
  assert.equal(topic('agent-events-dlq')?.deadLetterOf, 'agent-events')
  assert.equal(topic('agent-events-dlq')?.partitions, 12)
  for (const t of state.topics) assert.equal(t.replicationFactor, 3, t.name)
  assert.deepEqual(state.subjects.find(s => s.topic === 'agent-events')?.schemas.map(s => s.file), ['schemas/agent-event-v1.avsc', 'schemas/agent-event-v2.avsc'])
  assert.deepEqual(state.users.map(u => u.user), ['dora-admin', 'dora-agent-user', 'dora-orchestrator-user', 'dora-audit-user'])
  const agentAcls = state.acls.filter(a => a.principal === 'User:dora-agent-user').map(a => `${a.operation} ${a.resourceType} ${a.resourceName} ${a.patternType}`)
  assert.deepEqual(agentAcls.sort(), [
    'DESCRIBE TOPIC agent-events LITERAL', 'DESCRIBE TOPIC task-requests LITERAL', 'DESCRIBE TOPIC task-requests-dlq LITERAL', 'DESCRIBE TOPIC task-responses LITERAL',
    'DESCRIBE_CONFIGS TOPIC agent-events LITERAL', 'DESCRIBE_CONFIGS TOPIC task-requests-dlq LITERAL', 'DESCRIBE_CONFIGS TOPIC task-responses LITERAL',
    'IDEMPOTENT_WRITE CLUSTER kafka-cluster LITERAL', 'READ GROUP agent- PREFIXED', 'READ TOPIC task-requests LITERAL',
    'WRITE TOPIC agent-events LITERAL', 'WRITE TOPIC task-requests-dlq LITERAL', 'WRITE TOPIC task-responses LITERAL'
  ])
  assert.equal(state.lineOf('/topics/0/partitions'), 16)
})

test('JSON files load too', () => {
  const state = parseDesiredState(JSON.stringify({ version: 1, topics: [{ name: 'a', partitions: 3, retention: 60000 }] }), exampleFile)
  assert.equal(state.topics[0]?.configs['retention.ms'], '60000')
})

const base = `version: 1
topics:
  - name: orders
    partitions: 3
`

test('an unknown key is refused with its line and key', () => {
  const message = refusal(base + '    retentionDays: 7\n')
  assert.match(message, /vigil-ops\.yaml:5: topics\[0\]\.retentionDays: unknown key/)
})

test('a wrong type names the line and key', () => {
  assert.match(refusal(base.replace('partitions: 3', 'partitions: three')), /:4: topics\[0\]\.partitions: must be integer/)
  assert.match(refusal(base + '    retention: 7 days\n'), /:5: topics\[0\]\.retention: /)
})

test('a topic whose subject has no schema is refused with the line', () => {
  assert.match(refusal(base + '    subject:\n      compatibility: BACKWARD\n      schemas: []\n'), /:7: topics\[0\]\.subject\.schemas: must NOT have fewer than 1 items/)
  assert.match(refusal(base + '    subject:\n      compatibility: BACKWARD\n'), /:6: topics\[0\]\.subject: missing key schemas/)
  assert.match(refusal(base + '    subject: { compatibility: BACKWARD, schemas: [schemas/missing.avsc] }\n'), /:5: topics\[0\]\.subject\.schemas\[0\]: schema file schemas\/missing\.avsc cannot be read \(ENOENT\)/)
})

test('a service consuming with no group, or naming an undeclared topic, is refused with the line', () => {
  const services = base + 'services:\n  - name: billing\n    consumes:\n      - topics: [orders]\n'
  assert.match(refusal(services), /:8: services\[0\]\.consumes\[0\]: missing key group/)
  assert.match(refusal(base + 'services:\n  - name: billing\n    produces: [invoices]\n'), /:7: services\[0\]\.produces\[0\]: topic invoices is not declared in topics/)
  assert.match(refusal(base + 'services:\n  - name: idle\n'), /:6: services\[0\]: service idle produces and consumes nothing/)
})

test('duplicates, an impossible min.insync.replicas and malformed YAML are refused with the line', () => {
  assert.match(refusal(base + '  - name: orders\n    partitions: 1\n'), /:5: topics\[1\]\.name: topic orders is declared twice \(also at line 3\)/)
  assert.match(refusal(base + '    replicationFactor: 2\n    minInsyncReplicas: 3\n'), /:6: topics\[0\]\.minInsyncReplicas: min\.insync\.replicas 3 is more than the replication factor 2/)
  assert.match(refusal(base + '    partitions: 4\n'), /:5: .*(unique|duplicate)/i)
  assert.match(refusal('version: 1\ntopics: [ { name: a\n'), /vigil-ops\.yaml:\d+: /)
  assert.match(refusal('version: 2\ntopics: []\n'), /:1: version: must be 1/)
})

test('a missing file names the file', () => {
  assert.throws(() => loadDesiredState('/nonexistent/ops.yaml'), (e: unknown) => isVigilError(e, 'VGL_OPS_FILE_INVALID') && e.message.includes('/nonexistent/ops.yaml'))
})
