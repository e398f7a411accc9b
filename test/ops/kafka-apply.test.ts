/**
 * `vigil plan` / `vigil apply` of the DORA example on a real 3-broker cluster with SASL/SCRAM
 * and Kafka's StandardAuthorizer (scripts/kafka.ts, one cluster for this file): plan exits 2,
 * apply makes every topic (partitions, replication, configs), ACL, SCRAM user and schema, plan
 * then finds no drift and a second apply changes nothing; a derived user may do what its ACLs
 * say and the broker refuses it the rest; partitions grow but never shrink; ACLs the file no
 * longer grants are removed only with --allow-delete.
 *
 * Runs where the other Kafka tests run (TEST_KAFKA set: Java and mvn are there); it starts its
 * own cluster, so it is in scripts/test.ts' soloTests.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AclOperations, AclPermissionTypes, ConfigResourceTypes, ResourcePatternTypes, ResourceTypes, type Admin } from '@platformatic/kafka'
import { startKafka, type KafkaCluster } from '../../scripts/kafka.ts'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'
import { createKafkaLog } from '../../src/log/kafka/kafka-log.ts'
import type { Log } from '../../src/log/types.ts'
import { applyPlan, loadDesiredState, openOpsTarget, planChanges } from '../../src/ops/index.ts'
import { cli } from './cli-harness.ts'

const skip = process.env.TEST_KAFKA === undefined || process.env.TEST_KAFKA === ''
  ? 'TEST_KAFKA not set; npm test starts Kafka'
  : false
const adminPassword = `pw-${randomUUID()}`
const passwords = {
  DORA_ADMIN_PASSWORD: `admin-${randomUUID()}`,
  DORA_AGENT_PASSWORD: `agent-${randomUUID()}`,
  DORA_ORCHESTRATOR_PASSWORD: `orch-${randomUUID()}`,
  DORA_AUDIT_PASSWORD: `audit-${randomUUID()}`
}
const dir = mkdtempSync(join(tmpdir(), 'vigil-ops-kafka-'))
const example = join(dir, 'dora', 'vigil-ops.yaml')
const configFile = join(dir, 'vigil.json')
let cluster: KafkaCluster | undefined

before(async () => {
  cpSync('examples/dora', join(dir, 'dora'), { recursive: true })
  if (skip !== false) return
  cluster = await startKafka({ brokers: 3, heapMb: 384, security: { users: { vigil: adminPassword }, authorizer: { superUsers: ['vigil'] } } })
  writeFileSync(configFile, JSON.stringify({
    log: { url: `kafka://${cluster.bootstrap}`, kafka: { sasl: { mechanism: 'SCRAM-SHA-256', username: 'vigil', password: adminPassword } } }
  }))
  Object.assign(process.env, passwords)
}, { timeout: 300_000 })
after(async () => {
  await cluster?.stop()
  rmSync(dir, { recursive: true, force: true })
})

function logAs (username: string, password: string): Log {
  const { bootstrap } = cluster as KafkaCluster
  const config = validateConfig({ log: { url: `kafka://${bootstrap}`, kafka: { sasl: { mechanism: 'SCRAM-SHA-256', username, password } } } })
  return createKafkaLog({ brokers: bootstrap.split(','), ...config.log.kafka })
}

async function withAdmin<T> (work: (admin: Admin, log: Log) => Promise<T>): Promise<T> {
  const log = logAs('vigil', adminPassword)
  await log.connect()
  try {
    return await work((log as Log & { adminClient: () => Admin }).adminClient(), log)
  } finally {
    await log.close()
  }
}

test('plan exits 2 on a fresh cluster, apply makes every topic, config, ACL, user and schema, and plan then finds no drift', { skip, timeout: 300_000 }, async () => {
  const first = await cli(['--config', configFile, 'plan', example])
  assert.equal(first.code, 2, first.stderr)
  assert.match(first.stdout, /create topic audit-logs: 24 partitions, replication 3/)
  assert.match(first.stdout, /add ACL: User:dora-agent-user may READ group agent-\*/)
  assert.match(first.stdout, /create SCRAM user dora-agent-user \(SCRAM-SHA-256, password from \$DORA_AGENT_PASSWORD\)/)
  for (const password of Object.values(passwords)) assert.ok(!first.stdout.includes(password))

  const applied = await cli(['--config', configFile, 'apply', example])
  assert.equal(applied.code, 0, applied.stderr)
  const again = await cli(['--config', configFile, 'plan', example])
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.match(again.stdout, /no changes: the kafka target matches/)
  const second = await cli(['--config', configFile, 'apply', '--json', example])
  assert.equal(second.code, 0, second.stderr)
  assert.deepEqual((JSON.parse(second.stdout) as { applied: unknown[] }).applied, [])

  const state = loadDesiredState(example)
  await withAdmin(async (admin, log) => {
    const names = state.topics.map(t => t.name)
    const metadata = await admin.metadata({ topics: names, forceUpdate: true })
    const described = await admin.describeConfigs({
      resources: names.map(resourceName => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName, configurationKeys: [] }))
    })
    for (const topic of state.topics) {
      const meta = metadata.topics.get(topic.name)
      assert.equal(meta?.partitionsCount, topic.partitions, topic.name)
      assert.ok(meta?.partitions.every(p => p.replicas.length === 3), topic.name)
      const configs = new Map(described.find(d => d.resourceName === topic.name)?.configs.map(c => [c.name, c.value]))
      for (const [name, value] of Object.entries(topic.configs)) assert.equal(configs.get(name), value, `${topic.name} ${name}`)
    }
    const acls = await admin.describeAcls({
      filter: { resourceType: ResourceTypes.ANY, resourceName: null, resourcePatternType: ResourcePatternTypes.ANY, principal: null, host: null, operation: AclOperations.ANY, permissionType: AclPermissionTypes.ANY }
    })
    assert.equal(acls.reduce((n, r) => n + r.acls.length, 0), state.acls.length)
    const target = await openOpsTarget(validateConfig({ log: { url: 'kafka://127.0.0.1:1' } }), log)
    try {
      for (const subject of state.subjects) {
        assert.equal((await target.registry.listVersions(subject.subject)).length, subject.schemas.length, subject.subject)
        assert.equal(await target.registry.getConfig(subject.subject), subject.compatibility, subject.subject)
      }
      assert.deepEqual([...(await target.readUsers(state.users.map(u => u.user))).keys()].sort(), state.users.map(u => u.user).sort())
    } finally {
      await target.close()
    }
  })
})

test('a derived user may do what its ACLs allow, and the broker refuses it the rest', { skip, timeout: 120_000 }, async (t) => {
  const agent = logAs('dora-agent-user', passwords.DORA_AGENT_PASSWORD)
  t.after(() => agent.close())
  await agent.connect()
  const [written] = await agent.produce('agent-events', [{ key: Buffer.from('agent-7'), value: Buffer.from('{}') }])
  assert.equal(written?.topic, 'agent-events')
  const refused = await agent.produce('audit-logs', [{ key: Buffer.from('e-1'), value: Buffer.from('{}') }]).then(() => undefined, (e: unknown) => e)
  assert.ok(isVigilError(refused, 'VGL_LOG_NOT_AUTHORIZED'), String(refused))
})

test('partitions grow on Kafka but never shrink, and ACLs the file no longer grants go only with --allow-delete', { skip, timeout: 180_000 }, async () => {
  const text = readFileSync(example, 'utf8')
  const fewer = join(dir, 'dora', 'fewer.yaml')
  writeFileSync(fewer, text.replace('  - name: task-requests\n    partitions: 12', '  - name: task-requests\n    partitions: 6'))
  const refused = await cli(['--config', configFile, 'apply', fewer])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /remove partitions from topic task-requests: 12 → 6 \(line 26\)\s+REFUSED/)

  const changed = join(dir, 'dora', 'changed.yaml')
  writeFileSync(changed, text
    .replace('  - name: policy-updates\n    partitions: 6', '  - name: policy-updates\n    partitions: 8')
    .replace('  - name: policy-updates\n    partitions: 8\n    retention: 365d', '  - name: policy-updates\n    partitions: 8\n    retention: 400d')
    .replace('    produces: [audit-logs, user-activities, data-access]', '    produces: [audit-logs, user-activities]'))
  const plan = await cli(['--config', configFile, 'plan', changed])
  assert.equal(plan.code, 2)
  assert.match(plan.stdout, /add partitions to topic policy-updates: 6 → 8/)
  assert.match(plan.stdout, /alter topic policy-updates: retention\.ms 31536000000 → 34560000000/)
  assert.match(plan.stdout, /remove ACL: User:dora-audit-user may WRITE topic data-access\s+DESTRUCTIVE/)
  const withoutFlag = await cli(['--config', configFile, 'apply', changed])
  assert.equal(withoutFlag.code, 1)
  assert.match(withoutFlag.stderr, /VGL_OPS_DESTRUCTIVE.*--allow-delete/s)
  const withFlag = await cli(['--config', configFile, 'apply', '--allow-delete', changed])
  assert.equal(withFlag.code, 0, withFlag.stderr)
  const after = await cli(['--config', configFile, 'plan', changed])
  assert.equal(after.code, 0, after.stdout)

  // The removed ACL is enforced at once: the audit user may no longer write data-access.
  const audit = logAs('dora-audit-user', passwords.DORA_AUDIT_PASSWORD)
  try {
    await audit.connect()
    await audit.produce('audit-logs', [{ value: Buffer.from('{}') }])
    const denied = await audit.produce('data-access', [{ value: Buffer.from('{}') }]).then(() => undefined, (e: unknown) => e)
    assert.ok(isVigilError(denied, 'VGL_LOG_NOT_AUTHORIZED'), String(denied))
  } finally {
    await audit.close()
  }
  // The API refuses the same plan too, and a missing password stops apply before any change.
  await withAdmin(async (_admin, log) => {
    const target = await openOpsTarget(validateConfig({ log: { url: 'kafka://127.0.0.1:1' } }), log)
    try {
      const state = loadDesiredState(fewer)
      await assert.rejects(applyPlan(await planChanges(state, target), state, target), (e: unknown) => isVigilError(e, 'VGL_OPS_DESTRUCTIVE'))
    } finally {
      await target.close()
    }
  })
})
