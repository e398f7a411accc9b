import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { validateConfig } from '../../src/config/load.ts'
import { startServer } from '../../src/server.ts'
import { createLogger } from '../../src/logger.ts'
import { createPipelinesComponent } from '../../src/pipeline/component.ts'
import { isVigilError } from '../../src/errors.ts'
import { committedLag, embedded, waitFor } from '../pipeline/helpers.ts'
import { legacy, startSeededFake } from './setup.ts'

test('in vigil serve: the connector runs as a component, with /readyz, /metrics and the /dlq API', { timeout: 60_000 }, async (t) => {
  const { url: logUrl, log } = await embedded().open(t)
  const { fake, ids } = await startSeededFake(t)
  const topic = `observation-${randomUUID()}`
  const config = validateConfig({
    log: { url: logUrl },
    server: { port: 0 },
    pipelines: { commitIntervalMs: 20, pollTimeoutMs: 100 },
    dispatcher: { enabled: true, topic, group: `g-${topic}`, api: { url: fake.url, token: fake.token } }
  })
  await log.admin.createTopic({ name: topic, partitions: 1 })
  await log.produce(topic, [
    legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-1' }, values: { status: 'active' } }),
    legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-404' }, values: { status: 'active' } })
  ])
  const server = await startServer(config, { logger: createLogger({ logging: { level: 'silent' } }), components: [context => createPipelinesComponent(context)] })
  t.after(() => server.close())
  await server.ready
  await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'connector caught up')
  assert.equal(fake.appliedControls.get(ids.ac1)?.status, 'active')

  const ready = await fetch(`${server.url}/readyz`)
  assert.equal(ready.status, 200)
  assert.equal(((await ready.json()) as { checks: Record<string, unknown> }).checks.pipelines, null)
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  assert.match(metrics, new RegExp(`vigil_pipeline_records_succeeded_total\\{pipeline="ciso-assistant",topic="${topic}",event_type="update_applied_control"\\} 1`))
  assert.match(metrics, new RegExp(`vigil_pipeline_records_dead_lettered_total\\{pipeline="ciso-assistant",topic="${topic}",event_type="update_applied_control"\\} 1`))
  assert.match(metrics, new RegExp(`vigil_pipeline_dlq_records\\{pipeline="ciso-assistant",topic="${topic}-dlq"\\} 1`))
  assert.match(metrics, new RegExp(`vigil_pipeline_consumer_lag\\{pipeline="ciso-assistant",group="g-${topic}",topic="${topic}",partition="0"\\} 0`))
  assert.match(metrics, /vigil_pipeline_handler_duration_seconds_bucket\{pipeline="ciso-assistant",.*outcome="succeeded",le="\+Inf"\} 1/)

  const topics = await (await fetch(`${server.url}/dlq`)).json() as { topics: Array<{ topic: string, records: number }> }
  assert.ok(topics.topics.some(x => x.topic === `${topic}-dlq` && x.records === 1))
  const listed = await (await fetch(`${server.url}/dlq/${topic}-dlq/records?code=VGL_DISPATCHER_NO_MATCH`)).json() as { items: Array<{ id: string, eventType: string }> }
  assert.equal(listed.items[0]?.eventType, 'update_applied_control')

  fake.addAppliedControl({ name: 'late', ref_id: 'AC-404' })
  const redrive = await fetch(`${server.url}/dlq/${topic}-dlq/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: [listed.items[0]?.id] }) })
  assert.equal(((await redrive.json()) as { redriven: number }).redriven, 1)
  await waitFor(() => [...fake.appliedControls.values()].some(c => c.ref_id === 'AC-404' && c.status === 'active'), 'redriven and applied')
})

test('vigil serve refuses to start an enabled connector without a token', async () => {
  const config = validateConfig({ dispatcher: { enabled: true }, server: { port: 0 } })
  await assert.rejects(startServer(config, { logger: createLogger({ logging: { level: 'silent' } }), components: [context => createPipelinesComponent(context)] }),
    (e) => isVigilError(e, 'VGL_CONFIG_INVALID') && /dispatcher.api.token/.test(e.message))
})
