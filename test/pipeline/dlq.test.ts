import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { validateConfig } from '../../src/config/load.ts'
import { buildApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { createPipeline } from '../../src/pipeline/runtime.ts'
import { DeadLetterStore, redriveStateTopicOf } from '../../src/pipeline/dlq.ts'
import { dlqRoutes } from '../../src/pipeline/routes.ts'
import { RedriveHeader, headerText, redriveCountOf } from '../../src/pipeline/dead-letter.ts'
import { permanentError } from '../../src/pipeline/classify.ts'
import { runCli } from '../../src/cli/main.ts'
import type { LogRecord } from '../../src/log/types.ts'
import { captureLogger, committedLag, embedded, json, readAll, testSettings, topicName, waitFor, type OpenedLog } from './helpers.ts'

interface Harness {
  opened: OpenedLog
  topic: string
  dlq: string
  group: string
  /** Values whose handling fails (permanently) while in this set. */
  failing: Set<string>
  handled: Array<{ id: string, redrives: number }>
  store: DeadLetterStore
}

async function harness (t: { after: (fn: () => unknown) => void }, maxRedrives = 2): Promise<Harness> {
  const opened = await embedded().open(t)
  const topic = topicName('orders')
  await opened.log.admin.createTopic({ name: topic, partitions: 2 })
  const failing = new Set<string>()
  const handled: Harness['handled'] = []
  const group = `g-${topic}`
  const settings = validateConfig({ pipelines: { ...testSettings(), deadLetter: { maxRedrives } } }).pipelines
  const pipeline = createPipeline({
    name: 'orders',
    topics: [topic],
    group,
    handlers: {
      '*': (event: { id: string }, context) => {
        if (failing.has(event.id)) throw permanentError(`order ${event.id} refused`)
        handled.push({ id: event.id, redrives: redriveCountOf(context.record.headers) })
      }
    }
  }, opened.log, { logger: captureLogger().logger, settings })
  opened.defer(() => pipeline.stop())
  await pipeline.start()
  return { opened, topic, dlq: `${topic}-dlq`, group, failing, handled, store: new DeadLetterStore(opened.log, { maxRedrives }) }
}

async function settle (h: Harness): Promise<void> {
  await waitFor(async () => await committedLag(h.opened.log, h.group, h.topic) === 0, 'pipeline caught up')
}

test('list filters by topic, code, event type, time and state; show decodes; redrive is idempotent and counted', async (t) => {
  const h = await harness(t)
  for (const id of ['o1', 'o2', 'o3']) h.failing.add(id)
  await h.opened.log.produce(h.topic, [
    { key: Buffer.from('o1'), value: json({ event_type: 'order_created', event_id: 'e1', id: 'o1' }), headers: [['trace', Buffer.from('t-1')]] },
    { key: Buffer.from('o2'), value: json({ event_type: 'order_paid', id: 'o2' }) },
    { key: Buffer.from('ok'), value: json({ event_type: 'order_paid', id: 'ok' }) }
  ])
  await settle(h)
  const between = Date.now()
  await new Promise(resolve => setTimeout(resolve, 5))
  await h.opened.log.produce(h.topic, [{ key: Buffer.from('o3'), value: Buffer.from('not json at all') }])
  await settle(h)

  const all = await h.store.list(h.dlq)
  assert.equal(all.total, 3)
  assert.deepEqual((await h.store.list(h.dlq, { eventType: 'order_paid' })).items.map(i => i.eventId ?? i.eventType), ['order_paid'])
  assert.equal((await h.store.list(h.dlq, { errorCode: 'VGL_PIPELINE_DECODE_FAILED' })).total, 1)
  assert.equal((await h.store.list(h.dlq, { errorCode: 'VGL_PIPELINE_PERMANENT', topic: h.topic })).total, 2)
  assert.equal((await h.store.list(h.dlq, { topic: 'elsewhere' })).total, 0)
  assert.equal((await h.store.list(h.dlq, { since: between })).total, 1)
  assert.equal((await h.store.list(h.dlq, { until: between })).total, 2)
  assert.equal((await h.store.list(h.dlq, {}, 1)).items.length, 1, 'limit')

  const first = all.items.find(i => i.eventId === 'e1')
  assert.ok(first !== undefined)
  const shown = await h.store.show(first.id)
  assert.deepEqual(shown.value, { format: 'json', value: { event_type: 'order_created', event_id: 'e1', id: 'o1' } })
  assert.equal(shown.key, 'o1')
  assert.deepEqual(shown.headers, [{ name: 'trace', value: 't-1' }])
  assert.equal(shown.errorCode, 'VGL_PIPELINE_PERMANENT')
  assert.equal(shown.redrive, 'new')
  const garbage = all.items.find(i => i.errorCode === 'VGL_PIPELINE_DECODE_FAILED')
  assert.deepEqual((await h.store.show(garbage?.id ?? '')).value, { format: 'text', value: 'not json at all' })
  await assert.rejects(h.store.show(`${h.dlq}:0:999`), /VGL_DLQ_NOT_FOUND|no dead letter/)
  await assert.rejects(h.store.show('nonsense'), (e: Error & { code?: string }) => e.code === 'VGL_DLQ_ID_INVALID')

  // Dry run changes nothing.
  const dry = await h.store.redrive({ deadLetterTopic: h.dlq, filter: { errorCode: 'VGL_PIPELINE_PERMANENT' }, dryRun: true })
  assert.deepEqual(dry.outcomes.map(o => o.status), ['would-redrive', 'would-redrive'])
  assert.equal((await readAll(h.opened.log, h.topic)).length, 4)

  // Fix and redrive the permanent ones.
  h.failing.clear()
  const result = await h.store.redrive({ deadLetterTopic: h.dlq, filter: { errorCode: 'VGL_PIPELINE_PERMANENT' } })
  assert.equal(result.redriven, 2)
  await settle(h)
  await waitFor(() => h.handled.some(x => x.id === 'o2'), 'o2 handled')
  assert.deepEqual(h.handled.filter(x => x.id === 'o1' || x.id === 'o2').map(x => x.redrives).sort(), [1, 1], 'redriven with vigil.redrive.count=1')
  const redriven = (await readAll(h.opened.log, h.topic)).filter(r => headerText(r.headers, RedriveHeader.from) !== undefined)
  assert.equal(redriven.length, 2)
  const o1 = redriven.find(r => r.key?.toString() === 'o1') as LogRecord
  assert.deepEqual(o1.headers.map(([n]) => n), ['trace', RedriveHeader.count, RedriveHeader.from, RedriveHeader.at], 'original headers kept, redrive headers added')
  assert.equal(headerText(o1.headers, RedriveHeader.from), first.id)

  // Again: nothing happens, whichever way it is asked.
  const again = await h.store.redrive({ deadLetterTopic: h.dlq, all: true })
  assert.deepEqual(again.outcomes.map(o => [o.status, o.code]), [
    ['skipped', 'VGL_DLQ_ALREADY_REDRIVEN'], ['skipped', 'VGL_DLQ_ALREADY_REDRIVEN'], ['redriven', undefined]
  ], 'only the never-redriven one goes')
  assert.equal((await h.store.list(h.dlq, { state: 'redriven' })).total, 3)
  await assert.rejects(h.store.redrive({ deadLetterTopic: h.dlq }), (e: Error & { code?: string }) => e.code === 'VGL_DLQ_FILTER_INVALID')
})

test('a record that keeps failing is parked after maxRedrives redrives, not looped', async (t) => {
  const h = await harness(t, 2)
  h.failing.add('bad')
  await h.opened.log.produce(h.topic, [{ key: Buffer.from('bad'), value: json({ event_type: 'x', id: 'bad' }) }])
  for (let round = 1; round <= 2; round++) {
    await waitFor(async () => (await h.store.list(h.dlq, { state: 'new' })).total === 1, `dead letter of round ${round}`)
    const result = await h.store.redrive({ deadLetterTopic: h.dlq, all: true })
    assert.equal(result.redriven, 1)
    await settle(h)
  }
  const parked = `${h.dlq}-parked`
  await waitFor(async () => (await h.opened.log.admin.listTopics()).includes(parked) && (await readAll(h.opened.log, parked)).length === 1, 'parked')
  assert.equal((await h.store.list(h.dlq)).total, 2, 'two dead letters (before each redrive), then parked')
  const [letter] = (await h.store.list(parked)).items
  assert.equal(letter?.redriveCount, 2)
  const refused = await h.store.redrive({ deadLetterTopic: parked, all: true })
  assert.deepEqual(refused.outcomes.map(o => o.code), ['VGL_DLQ_PARKED'])
  // Once the cause is fixed, an operator can still force it through.
  h.failing.clear()
  const forced = await h.store.redrive({ deadLetterTopic: parked, all: true, force: true })
  assert.equal(forced.redriven, 1)
  await waitFor(() => h.handled.some(x => x.id === 'bad' && x.redrives === 3), 'handled after a forced redrive')
})

test('concurrent redrives of the same dead letters produce each record once; an interrupted redrive is in doubt', async (t) => {
  const h = await harness(t)
  for (let i = 0; i < 10; i++) h.failing.add(`c${i}`)
  await h.opened.log.produce(h.topic, Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`c${i}`), value: json({ event_type: 'x', id: `c${i}` }) })))
  await waitFor(async () => (await h.store.list(h.dlq)).total === 10, 'ten dead letters')
  h.failing.clear()
  const other = new DeadLetterStore(h.opened.log, { maxRedrives: 2 })
  const [a, b] = await Promise.all([h.store.redrive({ deadLetterTopic: h.dlq, all: true }), other.redrive({ deadLetterTopic: h.dlq, all: true })])
  assert.equal(a.redriven + b.redriven, 10, 'each dead letter redriven by exactly one of them')
  const copies = (await readAll(h.opened.log, h.topic)).filter(r => headerText(r.headers, RedriveHeader.from) !== undefined)
  assert.equal(copies.length, 10)
  assert.equal(new Set(copies.map(r => headerText(r.headers, RedriveHeader.from))).size, 10)

  // A redrive that crashed after its claim: the dead letter is in doubt until forced.
  h.failing.add('d')
  await h.opened.log.produce(h.topic, [{ key: Buffer.from('d'), value: json({ event_type: 'x', id: 'd' }) }])
  await waitFor(async () => (await h.store.list(h.dlq, { state: 'new' })).total === 1, 'a new dead letter')
  const [doubtful] = (await h.store.list(h.dlq, { state: 'new' })).items
  await h.opened.log.produce(redriveStateTopicOf(h.dlq), [{ key: Buffer.from(doubtful?.id ?? ''), value: json({ state: 'pending', claim: 'crashed', at: Date.now() }), partition: 0 }])
  assert.deepEqual((await h.store.redrive({ deadLetterTopic: h.dlq, ids: [doubtful?.id ?? ''] })).outcomes.map(o => o.code), ['VGL_DLQ_REDRIVE_IN_DOUBT'])
  assert.equal((await h.store.redrive({ deadLetterTopic: h.dlq, ids: [doubtful?.id ?? ''], force: true })).redriven, 1)
})

test('the /dlq HTTP API lists, shows and redrives, and answers 503 until the log is connected', async (t) => {
  const h = await harness(t)
  h.failing.add('h1')
  await h.opened.log.produce(h.topic, [{ key: Buffer.from('h1'), value: json({ event_type: 'x', id: 'h1' }) }])
  await waitFor(async () => (await h.store.list(h.dlq)).total === 1, 'dead letter')
  let ready = false
  const config = validateConfig({})
  const app = await buildApp({
    config,
    logger: createLogger({ logging: { level: 'silent' } }),
    metrics: createMetrics(),
    readiness: { check: async () => ({}) },
    plugins: [{ plugin: dlqRoutes as never, options: { store: () => ready ? h.store : undefined, topics: async () => [{ topic: h.dlq, records: 1 }] }, prefix: '/dlq' }]
  })
  t.after(() => app.close())
  const early = await app.inject(`/dlq/${h.dlq}/records`)
  assert.equal(early.statusCode, 503)
  assert.equal(early.json().code, 'VGL_DLQ_UNAVAILABLE')
  ready = true
  assert.deepEqual((await app.inject('/dlq')).json(), { topics: [{ topic: h.dlq, records: 1 }] })
  const listed = await app.inject(`/dlq/${h.dlq}/records?code=VGL_PIPELINE_PERMANENT&limit=5`)
  assert.equal(listed.statusCode, 200)
  const item = listed.json().items[0]
  assert.equal(item.errorCode, 'VGL_PIPELINE_PERMANENT')
  const [, partition, offset] = item.id.split(':')
  const shown = await app.inject(`/dlq/${h.dlq}/records/${partition}/${offset}`)
  assert.deepEqual(shown.json().value, { format: 'json', value: { event_type: 'x', id: 'h1' } })
  assert.equal((await app.inject(`/dlq/${h.dlq}/records/0/99999`)).statusCode, 404)
  assert.equal((await app.inject(`/dlq/${h.dlq}/records?since=yesterday`)).json().code, 'VGL_DLQ_FILTER_INVALID')
  assert.equal((await app.inject(`/dlq/${h.dlq}/records?limit=0`)).statusCode, 400)
  const bad = await app.inject({ method: 'POST', url: `/dlq/${h.dlq}/redrive`, payload: { idz: [] } })
  assert.equal(bad.statusCode, 400)
  assert.equal((await app.inject({ method: 'POST', url: `/dlq/${h.dlq}/redrive`, payload: {} })).json().code, 'VGL_DLQ_FILTER_INVALID')
  h.failing.clear()
  const redriven = await app.inject({ method: 'POST', url: `/dlq/${h.dlq}/redrive`, payload: { ids: [item.id] } })
  assert.equal(redriven.statusCode, 200)
  assert.equal(redriven.json().redriven, 1)
  const twice = await app.inject({ method: 'POST', url: `/dlq/${h.dlq}/redrive`, payload: { ids: [item.id] } })
  assert.equal(twice.json().outcomes[0].code, 'VGL_DLQ_ALREADY_REDRIVEN')
  await waitFor(() => h.handled.some(x => x.id === 'h1'), 'redriven record handled')
})

test('vigil dlq list | show | redrive', async (t) => {
  const h = await harness(t)
  h.failing.add('k1')
  await h.opened.log.produce(h.topic, [{ key: Buffer.from('k1'), value: json({ event_type: 'shipment', id: 'k1' }) }])
  await waitFor(async () => (await h.store.list(h.dlq)).total === 1, 'dead letter')
  const cli = async (...args: string[]) => {
    let out = ''
    let err = ''
    const code = await runCli(['--log', h.opened.url, ...args], {
      stdout: new Writable({ write (c, _e, d) { out += String(c); d() } }),
      stderr: new Writable({ write (c, _e, d) { err += String(c); d() } }),
      env: {}
    })
    return { code, out, err }
  }
  const list = await cli('dlq', 'list', '--dlq', h.dlq, '--event-type', 'shipment')
  assert.equal(list.code, 0, list.err)
  assert.match(list.out, /^ID\s+DEAD-LETTERED\s+TOPIC\s+EVENT TYPE\s+CODE/)
  assert.match(list.out, /shipment\s+VGL_PIPELINE_PERMANENT\s+1\s+0\s+new\s+order k1 refused/)
  assert.match(list.out, /1 of 1 dead letter\(s\)/)
  const id = (JSON.parse((await cli('dlq', 'list', '--dlq', h.dlq, '--json')).out) as { items: Array<{ id: string }> }).items[0]?.id ?? ''
  const shown = JSON.parse((await cli('dlq', 'show', id)).out) as { value: unknown, original: { topic: string } }
  assert.deepEqual(shown.value, { format: 'json', value: { event_type: 'shipment', id: 'k1' } })
  assert.equal(shown.original.topic, h.topic)
  const missing = await cli('dlq', 'show', `${h.dlq}:1:12345`)
  assert.equal(missing.code, 1)
  assert.match(missing.err, /VGL_DLQ_NOT_FOUND/)
  h.failing.clear()
  const dry = await cli('dlq', 'redrive', id, '--dry-run')
  assert.match(dry.out, /would-redrive +\S+\n1 would be redriven, 0 skipped \(dry run\)/)
  const redrive = await cli('dlq', 'redrive', id)
  assert.match(redrive.out, /redriven +\S+ -> /)
  assert.match(redrive.out, /1 redriven, 0 skipped/)
  const again = await cli('dlq', 'redrive', '--dlq', h.dlq, '--all')
  assert.match(again.out, /skipped .*VGL_DLQ_ALREADY_REDRIVEN/)
  const usage = await cli('dlq', 'redrive', id, '--all')
  assert.equal(usage.code, 2)
  await waitFor(() => h.handled.some(x => x.id === 'k1'), 'handled')
})
