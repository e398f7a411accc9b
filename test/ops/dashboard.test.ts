/**
 * The Grafana dashboard (ops/grafana/vigil-dora.json) is valid JSON whose every query names only
 * metrics a real `vigil serve` exports at /metrics (a histogram's _bucket/_sum/_count count as the
 * histogram), and it charts each alert's metric.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { exportedMetricNames } from './exported-metrics.ts'

interface Panel { title: string, targets?: Array<{ expr: string }> }

test('every query of the dashboard names a metric Vigil exports', async () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../ops/grafana/vigil-dora.json', import.meta.url), 'utf8')) as { panels: Panel[] }
  const exported = await exportedMetricNames()
  const queries = dashboard.panels.flatMap(p => (p.targets ?? []).map(t => ({ panel: p.title, expr: t.expr })))
  assert.ok(queries.length > 10)
  const named = new Set<string>()
  for (const { panel, expr } of queries) {
    const metrics = expr.match(/vigil_[a-z_]+/g) ?? []
    assert.ok(metrics.length > 0, `${panel}: ${expr} names no Vigil metric`)
    for (const metric of metrics) {
      const base = metric.replace(/_(bucket|sum|count)$/, '')
      assert.ok(exported.has(metric) || exported.has(base), `${panel}: ${metric} is not exported at /metrics`)
      named.add(metric)
    }
  }
  for (const metric of ['vigil_consumer_group_lag', 'vigil_log_disk_used_ratio', 'vigil_cluster_replication_lag_seconds', 'vigil_schema_registry_up',
    'vigil_cluster_offline_partitions', 'vigil_cluster_under_replicated_partitions', 'vigil_pipeline_records_dead_lettered_total', 'vigil_audit_verifications_total']) {
    assert.ok(named.has(metric), `the dashboard charts no ${metric}`)
  }
})
