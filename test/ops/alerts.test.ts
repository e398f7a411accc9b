/**
 * The shipped alert rules (ops/prometheus/vigil-alerts.yml) pass `promtool check rules`, and
 * their unit tests (vigil-alerts.test.yml) pass `promtool test rules`: each alert fires on what
 * it is for and not before. promtool comes from scripts/promtool.ts (Debian's prometheus package).
 * Every metric a rule names is one Vigil exports.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { ensurePromtool } from '../../scripts/promtool.ts'
import { exportedMetricNames } from './exported-metrics.ts'

const run = promisify(execFile)
const dir = new URL('../../ops/prometheus/', import.meta.url).pathname

test('promtool check rules accepts the alert rules', { timeout: 600_000 }, async () => {
  const promtool = await ensurePromtool()
  const { stdout } = await run(promtool, ['check', 'rules', 'vigil-alerts.yml'], { cwd: dir })
  assert.match(stdout, /SUCCESS: 11 rules found/)
})

test('promtool test rules: every alert fires when it should and not before', { timeout: 600_000 }, async () => {
  const promtool = await ensurePromtool()
  const { stdout } = await run(promtool, ['test', 'rules', 'vigil-alerts.test.yml'], { cwd: dir })
  assert.match(stdout, /SUCCESS/)
})

test('the rules cover the seed\'s five alerts and name only metrics Vigil exports', async () => {
  const rules = (parse(readFileSync(`${dir}/vigil-alerts.yml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string, expr: string }> }> }).groups.flatMap(g => g.rules)
  for (const alert of ['VigilConsumerLagHigh', 'VigilLogDiskAlmostFull', 'VigilReplicationLagHigh', 'VigilSchemaRegistryDown', 'VigilPartitionOffline',
    'VigilUnderReplicatedPartitions', 'VigilDeadLettersGrowing', 'VigilPipelineStalled', 'VigilAuditVerificationFailed', 'VigilFleetNodesNeedAttention']) {
    assert.ok(rules.some(r => r.alert === alert), alert)
  }
  const exported = await exportedMetricNames()
  for (const rule of rules) {
    for (const name of rule.expr.match(/vigil_[a-z_]+/g) ?? []) {
      assert.ok(exported.has(name), `${rule.alert} names ${name}, which /metrics does not export`)
    }
  }
})
