/**
 * The ops gauges at GET /metrics of a real `vigil serve` on the embedded log: consumer lag per
 * group and partition, the registry's availability and the log volume's use. (Under-replicated
 * and offline partitions need brokers: test/ops/kafka-apply.test.ts kills one.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serverComponents } from '../../src/components.ts'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer } from '../../src/server.ts'

function value (text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

test('/metrics has consumer lag per group and partition, registry availability and disk use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ops-metrics-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const config = validateConfig({ log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { port: 0 } })
  const server = await startServer(config, { logger: createLogger({ logging: { level: 'silent' } }), components: serverComponents })
  t.after(() => server.close())
  await server.ready
  await server.log.admin.createTopic({ name: 'agent-events', partitions: 2 })
  await server.log.produce('agent-events', [0, 0, 0, 1].map(partition => ({ value: Buffer.from('x'), partition })))
  const consumer = server.log.consumer({ group: 'orchestrator-1', topics: ['agent-events'], autoOffsetReset: 'earliest' })
  t.after(() => consumer.close())
  for (let read = 0; read < 4;) read += (await consumer.poll({ timeoutMs: 2000 })).length
  await consumer.commit([{ topic: 'agent-events', partition: 0, offset: 1 }])

  const text = await (await fetch(`${server.url}/metrics`)).text()
  assert.equal(value(text, 'vigil_consumer_group_lag{group="orchestrator-1",topic="agent-events",partition="0"}'), 2)
  assert.equal(value(text, 'vigil_consumer_group_lag{group="orchestrator-1",topic="agent-events",partition="1"}'), 1)
  assert.equal(value(text, 'vigil_schema_registry_up'), 1)
  const ratio = value(text, 'vigil_log_disk_used_ratio')
  assert.ok(ratio !== undefined && ratio > 0 && ratio < 1, String(ratio))
  assert.ok((value(text, 'vigil_log_disk_used_bytes') ?? 0) > 0)
  // Kafka-only gauges are listed on the embedded log too (brokers 0, no partitions).
  assert.match(text, /# TYPE vigil_cluster_under_replicated_partitions gauge/)
  assert.equal(value(text, 'vigil_cluster_brokers'), 0)
})
