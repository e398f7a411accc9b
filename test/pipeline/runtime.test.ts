import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { createPipeline, type PipelineDefinition } from '../../src/pipeline/runtime.ts'
import { permanentError, transientError } from '../../src/pipeline/classify.ts'
import { fromDeadLetterRecord, DlqHeader, headerText } from '../../src/pipeline/dead-letter.ts'
import { VigilError } from '../../src/errors.ts'
import { backends, captureLogger, committedLag, json, readAll, testSettings, topicName, waitFor, type OpenedLog } from './helpers.ts'

function start (opened: OpenedLog, definition: PipelineDefinition, settings = testSettings(), registry?: Registry) {
  const captured = captureLogger()
  const pipeline = createPipeline(definition, opened.log, { logger: captured.logger, settings, ...(registry === undefined ? {} : { registry }) })
  opened.defer(() => pipeline.stop())
  return { pipeline, captured }
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

for (const backend of backends) {
  describe(`pipeline runtime on ${backend.name}`, { skip: backend.skip, timeout: 120_000 }, () => {
    test('keeps per-key order while running different keys concurrently, and commits everything it handled', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 3 })
      const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`)
      const perKey = 15
      const records = []
      for (let seq = 0; seq < perKey; seq++) for (const key of keys) records.push({ key: Buffer.from(key), value: json({ event_type: 'tick', key, seq }) })
      await log.produce(topic, records)

      const seen = new Map<string, number[]>()
      const active = new Set<string>()
      let running = 0
      let maxRunning = 0
      let overlapSameKey = false
      const { pipeline } = start(opened, {
        name: 'order',
        topics: [topic],
        group: `g-${topic}`,
        concurrency: 8,
        handlers: {
          tick: async (event: { key: string, seq: number }) => {
            if (active.has(event.key)) overlapSameKey = true
            active.add(event.key)
            running++
            maxRunning = Math.max(maxRunning, running)
            await sleep(1 + (event.seq % 3))
            running--
            active.delete(event.key)
            const list = seen.get(event.key) ?? []
            list.push(event.seq)
            seen.set(event.key, list)
          }
        }
      })
      await pipeline.start()
      await waitFor(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === records.length, 'every record handled')
      for (const key of keys) assert.deepEqual(seen.get(key), Array.from({ length: perKey }, (_, i) => i), `order of ${key}`)
      assert.equal(overlapSameKey, false, 'two records of one key never run at once')
      assert.ok(maxRunning > 1, `different keys ran concurrently (max ${maxRunning})`)
      assert.ok(maxRunning <= 8, 'concurrency bound holds')
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'offsets committed')
    })

    test('a transient failure is retried in place while other keys go on; each record applies once', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 1 })
      await log.produce(topic, [
        { key: Buffer.from('slow'), value: json({ event_type: 'e', key: 'slow', seq: 0 }) },
        { key: Buffer.from('slow'), value: json({ event_type: 'e', key: 'slow', seq: 1 }) },
        ...Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(`fast-${i}`), value: json({ event_type: 'e', key: `fast-${i}`, seq: 0 }) }))
      ])
      const applied: string[] = []
      let fastDone = 0
      let slowFailures = 0
      const { pipeline, captured } = start(opened, {
        name: 'transient',
        topics: [topic],
        group: `g-${topic}`,
        retry: { maxAttempts: 100 },
        handlers: {
          e: (event: { key: string, seq: number }) => {
            if (event.key === 'slow' && event.seq === 0 && fastDone < 10) {
              slowFailures++
              throw transientError('backend busy', { retryAfterMs: 5 })
            }
            applied.push(`${event.key}#${event.seq}`)
            if (event.key.startsWith('fast')) fastDone++
          }
        }
      })
      await pipeline.start()
      await waitFor(() => applied.length === 12, 'all applied')
      assert.ok(slowFailures >= 1, 'the slow key failed at least once')
      assert.ok(applied.indexOf('slow#0') > applied.indexOf('fast-9'), 'other keys finished while slow#0 was retried')
      assert.ok(applied.indexOf('slow#1') > applied.indexOf('slow#0'), 'slow#1 waited for slow#0')
      assert.equal(new Set(applied).size, 12, 'nothing applied twice')
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'offsets committed')
      const retryLines = captured.lines().filter(l => l.msg === 'attempt failed, retrying: backend busy')
      assert.ok(retryLines.length >= 1)
      assert.equal(retryLines[0]?.code, 'VGL_PIPELINE_TRANSIENT')
    })

    test('permanent failures and exhausted retries are dead-lettered with full context; the pipeline keeps going', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 2 })
      const header: [string, Buffer] = ['trace-id', Buffer.from([0, 1, 2, 255])]
      // Recent: on Kafka the test broker checks retention every second, and a partition holding
      // only records older than the topic's retention (7 days) is emptied before it is read.
      const originalTimestamp = Date.now() - 60_000
      await log.produce(topic, [
        { key: Buffer.from('a'), value: json({ event_type: 'e', event_id: 'id-1', what: 'flaky' }), headers: [header], timestamp: originalTimestamp },
        { key: Buffer.from('b'), value: json({ event_type: 'e', event_id: 'id-2', what: 'refused' }) },
        { key: Buffer.from('c'), value: json({ event_type: 'e', event_id: 'id-3', what: 'ok' }) }
      ])
      const attempts = new Map<string, number>()
      const ok: string[] = []
      const registry = new Registry()
      const { pipeline } = start(opened, {
        name: 'perm',
        topics: [topic],
        group: `g-${topic}`,
        retry: { maxAttempts: 3 },
        secrets: ['s3cr3t-token-value'],
        handlers: {
          e: (event: { what: string }) => {
            attempts.set(event.what, (attempts.get(event.what) ?? 0) + 1)
            if (event.what === 'flaky') throw new Error('upstream said no (Authorization: Token abcdef123456, key s3cr3t-token-value)')
            if (event.what === 'refused') throw permanentError('HTTP 400: name already exists')
            ok.push(event.what)
          }
        }
      }, testSettings(), registry)
      await pipeline.start()
      const dlq = `${topic}-dlq`
      await waitFor(async () => (await readAll(log, dlq)).length === 2, 'two dead letters')
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'offsets committed')
      assert.deepEqual(ok, ['ok'])
      assert.equal(attempts.get('flaky'), 3, 'unclassified errors are retried up to maxAttempts')
      assert.equal(attempts.get('refused'), 1, 'permanent errors are not retried')

      const letters = (await readAll(log, dlq)).map(fromDeadLetterRecord)
      const flaky = letters.find(l => l.info.eventId === 'id-1')
      assert.ok(flaky !== undefined)
      assert.equal(flaky.key?.toString(), 'a')
      assert.deepEqual(JSON.parse(String(flaky.value)), { event_type: 'e', event_id: 'id-1', what: 'flaky' })
      assert.deepEqual(flaky.headers, [header], 'original headers kept byte for byte')
      assert.equal(flaky.info.original.topic, topic)
      assert.equal(flaky.info.original.timestamp, originalTimestamp)
      assert.equal(flaky.info.pipeline, 'perm')
      assert.equal(flaky.info.group, `g-${topic}`)
      assert.equal(flaky.info.handler, 'e')
      assert.equal(flaky.info.errorCode, 'VGL_PIPELINE_HANDLER_FAILED')
      assert.equal(flaky.info.attempts, 3)
      assert.equal(flaky.info.eventType, 'e')
      assert.ok(flaky.info.firstFailureAt <= flaky.info.lastFailureAt)
      assert.doesNotMatch(flaky.info.errorMessage, /abcdef123456|s3cr3t-token-value/, 'secrets are redacted')
      assert.match(flaky.info.errorMessage, /Token \*\*\*/)
      const refused = letters.find(l => l.info.eventId === 'id-2')
      assert.equal(refused?.info.errorCode, 'VGL_PIPELINE_PERMANENT')
      assert.equal(refused?.info.attempts, 1)

      const metrics = await registry.metrics()
      assert.match(metrics, new RegExp(`vigil_pipeline_records_dead_lettered_total\\{pipeline="perm",topic="${topic}",event_type="e"\\} 2`))
      assert.match(metrics, new RegExp(`vigil_pipeline_records_succeeded_total\\{pipeline="perm",topic="${topic}",event_type="e"\\} 1`))
      assert.match(metrics, new RegExp(`vigil_pipeline_records_retried_total\\{pipeline="perm",topic="${topic}",event_type="e"\\} 2`))
      assert.match(metrics, new RegExp(`vigil_pipeline_dlq_records\\{pipeline="perm",topic="${dlq}"\\} 2`))
      assert.match(metrics, /vigil_pipeline_consumer_lag\{pipeline="perm"/)
      assert.match(metrics, /vigil_pipeline_handler_duration_seconds_bucket/)
    })

    test('poison records never stop the pipeline: garbage, non-objects, null, unknown types, programmer errors', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 1 })
      await log.produce(topic, [
        { value: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
        { value: Buffer.from('[]') },
        { value: Buffer.from('"just a string"') },
        { value: null },
        { value: json({ event_type: 'who_knows' }) },
        { value: json({ event_type: 'buggy' }) },
        { value: json({ event_type: 'strict', n: 'not a number' }) },
        { value: json({ event_type: 'fine', n: 1 }) }
      ])
      let buggyCalls = 0
      const fine: unknown[] = []
      const { pipeline, captured } = start(opened, {
        name: 'poison',
        topics: [topic],
        group: `g-${topic}`,
        retry: { maxAttempts: 5 },
        handlers: {
          buggy: (event: { nested?: { x: number } }) => {
            buggyCalls++
            // A bug: reads a property of undefined.
            fine.push((event.nested as { x: number }).x)
          },
          strict: {
            validate: (value) => {
              const n = (value as { n: unknown }).n
              if (typeof n !== 'number') throw new Error(`n must be a number, got ${JSON.stringify(n)}`)
              return { n }
            },
            handle: () => {}
          },
          fine: (event: { n: number }) => { fine.push(event.n) }
        }
      })
      await pipeline.start()
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'everything committed')
      assert.deepEqual(fine, [1])
      assert.equal(buggyCalls, 1, 'a programmer error is never retried')
      const codes = (await readAll(log, `${topic}-dlq`)).map(r => headerText(r.headers, DlqHeader.errorCode))
      assert.deepEqual(codes, [
        'VGL_PIPELINE_DECODE_FAILED',
        'VGL_PIPELINE_NO_ROUTE',
        'VGL_PIPELINE_NO_ROUTE',
        'VGL_PIPELINE_DECODE_FAILED',
        'VGL_PIPELINE_NO_ROUTE',
        'VGL_PIPELINE_PROGRAMMER_ERROR',
        'VGL_PIPELINE_VALIDATION_FAILED'
      ])
      const bugLine = captured.lines().find(l => (l.error as { code?: string } | undefined)?.code === 'VGL_PIPELINE_PROGRAMMER_ERROR')
      assert.equal(bugLine?.level, 50, 'logged at ERROR')
      assert.match(String((bugLine?.error as { stack: string }).stack), /TypeError[\s\S]*runtime\.test\.ts/, 'with the handler\'s stack')
    })

    test('a failure of the target (a refused token) blocks without dead-lettering, and readiness says so', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 1 })
      await log.produce(topic, [{ value: json({ event_type: 'e', n: 1 }) }, { value: json({ event_type: 'e', n: 2 }) }])
      let tokenValid = false
      const applied: number[] = []
      const { pipeline } = start(opened, {
        name: 'blocked',
        topics: [topic],
        group: `g-${topic}`,
        retry: { maxAttempts: 1 },
        handlers: {
          e: (event: { n: number }) => {
            if (!tokenValid) throw new VigilError('VGL_DISPATCHER_AUTH_FAILED', 'CISO Assistant answered 401', { blocking: true })
            applied.push(event.n)
          }
        }
      }, testSettings({}, { maxDelayMs: 20 }))
      await pipeline.start()
      await waitFor(() => pipeline.readiness() !== null, 'readiness reports the block')
      assert.match(pipeline.readiness() ?? '', /VGL_DISPATCHER_AUTH_FAILED/)
      await sleep(100)
      assert.equal(pipeline.stats().deadLettered, 0, 'nothing dead-lettered while the target refuses everyone')
      tokenValid = true
      await waitFor(() => applied.length === 2, 'applied once the token works')
      assert.deepEqual(applied, [1, 2])
      assert.equal(pipeline.readiness(), null)
    })

    test('buffers stay bounded while a key is stuck in backoff, and stop() commits exactly what finished', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 1 })
      await log.produce(topic, [
        { key: Buffer.from('stuck'), value: json({ event_type: 'e', key: 'stuck', n: 0 }) },
        ...Array.from({ length: 300 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: json({ event_type: 'e', key: `k${i}`, n: i + 1 }) }))
      ])
      let maxBuffered = 0
      let handled = 0
      const { pipeline } = start(opened, {
        name: 'bounded',
        topics: [topic],
        group: `g-${topic}`,
        retry: { maxAttempts: 1000 },
        handlers: {
          e: (event: { key: string }) => {
            maxBuffered = Math.max(maxBuffered, pipeline.stats().buffered)
            if (event.key === 'stuck') throw transientError('not yet')
            handled++
          }
        }
      }, testSettings({ maxBufferedRecords: 50, maxUncommittedPerPartition: 100, pollMaxRecords: 20 }))
      await pipeline.start()
      await waitFor(() => handled >= 99, 'records behind the stuck one handled up to the bound')
      await sleep(200)
      assert.ok(maxBuffered <= 50, `buffered stayed within maxBufferedRecords (max ${maxBuffered})`)
      assert.ok(handled < 300, `the partition was paused by maxUncommittedPerPartition (handled ${handled})`)
      await pipeline.stop()
      const group = await log.admin.describeGroup(`g-${topic}`)
      assert.ok((group.offsets[0]?.committedOffset ?? 0) === 0, 'nothing past the stuck record is committed')
    })

    test('a member joining mid-stream takes partitions over: nothing lost, per-key order kept', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 4 })
      const keys = Array.from({ length: 16 }, (_, i) => `key-${i}`)
      const perKey = 25
      const records = []
      for (let seq = 0; seq < perKey; seq++) for (const key of keys) records.push({ key: Buffer.from(key), value: json({ event_type: 'e', key, seq }) })
      await log.produce(topic, records)
      const seen = new Map<string, number[]>()
      const handle = async (event: { key: string, seq: number }) => {
        await sleep(1)
        const list = seen.get(event.key) ?? []
        list.push(event.seq)
        seen.set(event.key, list)
      }
      const definition = { name: 'rebalance', topics: [topic], group: `g-${topic}`, concurrency: 4, handlers: { e: handle } }
      const a = start(opened, definition)
      await a.pipeline.start()
      await waitFor(() => [...seen.values()].reduce((n, l) => n + l.length, 0) >= records.length / 5, 'the first member to make progress')
      const b = start(opened, definition)
      await b.pipeline.start()
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'everything committed', 60_000)
      const total = [...seen.values()].reduce((n, l) => n + l.length, 0)
      // At-least-once: a rebalance commits what finished, so replays are rare, but a member that
      // misses its session (a loaded machine) loses partitions without a revoke.
      t.diagnostic(`records handled twice: ${total - records.length}`)
      assert.ok(total >= records.length)
      for (const key of keys) {
        const list = seen.get(key) ?? []
        assert.deepEqual([...new Set(list)].sort((x, y) => x - y), Array.from({ length: perKey }, (_, i) => i), `nothing of ${key} lost`)
        list.forEach((seq, i) => {
          if (i > 0) assert.ok(seq === (list[i - 1] as number) + 1 || seq <= (list[i - 1] as number), `${key} in order (a replay restarts earlier, never skips ahead): ${list.join(',')}`)
        })
      }
      assert.ok(b.pipeline.stats().succeeded > 0, 'the second member took part')
    })

    test('stop() finishes in-flight records and commits; a restart resumes exactly where it stopped', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 2 })
      await log.produce(topic, Array.from({ length: 200 }, (_, i) => ({ key: Buffer.from(`k${i % 10}`), value: json({ event_type: 'e', n: i }) })))
      const handled: number[] = []
      const definition = { name: 'restart', topics: [topic], group: `g-${topic}`, concurrency: 4, handlers: { e: async (event: { n: number }) => { await sleep(2); handled.push(event.n) } } }
      const first = start(opened, definition)
      await first.pipeline.start()
      await waitFor(() => handled.length >= 40, 'some progress')
      await first.pipeline.stop()
      const afterStop = handled.length
      assert.ok(afterStop < 200, 'stopped mid-stream')
      const group = await log.admin.describeGroup(`g-${topic}`)
      assert.equal(group.offsets.reduce((n, p) => n + (p.committedOffset ?? 0), 0), afterStop, 'exactly the finished records are committed')
      const second = start(opened, definition)
      await second.pipeline.start()
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'the rest handled')
      assert.equal(handled.length, 200, 'nothing handled twice')
      assert.deepEqual([...handled].sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i), 'nothing lost')
    })

    test('a hung handler times out, its signal is aborted, and it is retried then dead-lettered', async (t) => {
      const opened = await backend.open(t)
      const { log } = opened
      const topic = topicName()
      await log.admin.createTopic({ name: topic, partitions: 1 })
      await log.produce(topic, [{ value: json({ event_type: 'hang' }) }, { value: json({ event_type: 'ok' }) }])
      let aborted = 0
      let ok = 0
      const { pipeline } = start(opened, {
        name: 'timeout',
        topics: [topic],
        group: `g-${topic}`,
        retry: { maxAttempts: 2 },
        handlers: {
          hang: (_event: unknown, context) => new Promise<void>(() => { context.signal.addEventListener('abort', () => { aborted++ }) }),
          ok: () => { ok++ }
        }
      }, testSettings({ handlerTimeoutMs: 50 }))
      await pipeline.start()
      await waitFor(async () => await committedLag(log, `g-${topic}`, topic) === 0, 'committed')
      assert.equal(ok, 1)
      assert.equal(aborted, 2, 'each timed-out attempt saw its signal abort')
      const [letter] = await readAll(log, `${topic}-dlq`)
      assert.equal(headerText(letter?.headers ?? [], DlqHeader.errorCode), 'VGL_PIPELINE_HANDLER_TIMEOUT')
      assert.equal(headerText(letter?.headers ?? [], DlqHeader.attempts), '2')
    })
  })
}
