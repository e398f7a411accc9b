/**
 * `vigil plan` / `vigil apply` of the DORA example on the embedded log: plan exits 2 on a fresh
 * log, apply creates every topic and registers every schema with its compatibility level, a
 * second plan finds no drift and a second apply changes nothing; fewer partitions, changed
 * settings and an incompatible schema are refused with the line named, and nothing is applied.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'
import { createLog } from '../../src/log/open.ts'
import { applyPlan, loadDesiredState, openOpsTarget, planChanges } from '../../src/ops/index.ts'
import { cli } from './cli-harness.ts'

const dir = mkdtempSync(join(tmpdir(), 'vigil-ops-'))
const url = `embedded:${join(dir, 'vigil.db')}`
const example = join(dir, 'dora', 'vigil-ops.yaml')

before(() => { cpSync('examples/dora', join(dir, 'dora'), { recursive: true }) })
after(() => { rmSync(dir, { recursive: true, force: true }) })

async function withTarget<T> (work: (target: Awaited<ReturnType<typeof openOpsTarget>>) => Promise<T>): Promise<T> {
  const config = validateConfig({ log: { url } })
  const log = createLog(config)
  await log.connect()
  const target = await openOpsTarget(config, log)
  try {
    return await work(target)
  } finally {
    await target.close()
    await log.close()
  }
}

test('plan on a fresh log lists every topic and schema and exits 2; apply makes them; plan again finds nothing', async () => {
  const first = await cli(['--log', url, 'plan', example])
  assert.equal(first.code, 2, first.stderr)
  assert.match(first.stdout, /create topic agent-events: 12 partitions/)
  assert.match(first.stdout, /register schema schemas\/agent-event-v2\.avsc under subject agent-events-value \(line 24\)/)
  assert.match(first.stderr, /VGL_OPS_DRIFT/)

  const json = await cli(['--log', url, 'plan', '--json', example])
  assert.equal(json.code, 2)
  const plan = JSON.parse(json.stdout) as { changes: Array<{ kind: string }> }
  assert.equal(plan.changes.filter(c => c.kind === 'create-topic').length, 22)
  assert.equal(plan.changes.filter(c => c.kind === 'register-schema').length, 12)
  assert.equal(plan.changes.filter(c => c.kind === 'set-compatibility').length, 11)

  const applied = await cli(['--log', url, 'apply', example])
  assert.equal(applied.code, 0, applied.stderr)
  assert.match(applied.stdout, /applied 45 change\(s\)/)

  const again = await cli(['--log', url, 'plan', example])
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.match(again.stdout, /no changes/)
  const second = await cli(['--log', url, 'apply', example])
  assert.equal(second.code, 0)
  assert.match(second.stdout, /no changes: the embedded target already matches/)

  await withTarget(async (target) => {
    const state = loadDesiredState(example)
    const topics = await target.readTopics(state.topics.map(t => t.name), [])
    for (const topic of state.topics) {
      const have = topics.get(topic.name)
      assert.equal(have?.partitions, topic.partitions, topic.name)
      assert.equal(have?.configs['retention.ms'], topic.configs['retention.ms'], topic.name)
      assert.equal(have?.configs['max.message.bytes'], topic.configs['max.message.bytes'], topic.name)
    }
    assert.deepEqual(await target.registry.listVersions('agent-events-value'), [1, 2])
    assert.equal(await target.registry.getConfig('audit-logs-value'), 'FULL_TRANSITIVE')
  })
})

test('fewer partitions, changed settings and an incompatible schema are refused with their lines, and nothing is applied', async () => {
  const text = readFileSync(example, 'utf8')
  // Schema v3 adds a required field with no default: BACKWARD refuses it (old records lack it).
  const v2 = JSON.parse(readFileSync(join(dir, 'dora', 'schemas', 'agent-event-v2.avsc'), 'utf8')) as { fields: unknown[] }
  v2.fields.push({ name: 'tenant', type: 'string' })
  writeFileSync(join(dir, 'dora', 'schemas', 'agent-event-v3.avsc'), JSON.stringify(v2))
  const changed = join(dir, 'dora', 'changed.yaml')
  writeFileSync(changed, text
    .replace('  - name: task-requests\n    partitions: 12', '  - name: task-requests\n    partitions: 6')
    .replace('  - name: policy-updates\n    partitions: 6\n    retention: 365d', '  - name: policy-updates\n    partitions: 6\n    retention: 400d')
    .replace('schemas/agent-event-v2.avsc]', 'schemas/agent-event-v2.avsc, schemas/agent-event-v3.avsc]'))
  const result = await cli(['--log', url, 'apply', changed])
  assert.equal(result.code, 1)
  assert.match(result.stderr, /VGL_OPS_DESTRUCTIVE/)
  assert.match(result.stderr, /remove partitions from topic task-requests: 12 → 6 \(line 26\)\s+REFUSED: .*cannot remove partitions/)
  assert.match(result.stderr, /alter topic policy-updates: retention\.ms 31536000000 → 34560000000 \(line 61\)\s+REFUSED: the embedded log cannot change the settings/)
  assert.match(result.stderr, /register schema schemas\/agent-event-v3\.avsc under subject agent-events-value \(line 24\)\s+REFUSED: .*not BACKWARD compatible.*tenant/)
  await withTarget(async (target) => {
    assert.deepEqual(await target.registry.listVersions('agent-events-value'), [1, 2])
    const state = loadDesiredState(changed)
    const plan = await planChanges(state, target)
    await assert.rejects(applyPlan(plan, state, target), (e: unknown) => isVigilError(e, 'VGL_OPS_DESTRUCTIVE'))
  })
})
