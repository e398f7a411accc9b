/**
 * The Kafka log when its only broker dies and comes back: produce, ping and poll fail with
 * VGL_LOG_UNREACHABLE within their timeouts instead of hanging, and everything works again
 * (the same producer, the same consumer) once the broker is back. Starts its own broker
 * (scripts/kafka.ts), since it kills it.
 *
 * Runs where the other Kafka tests run (TEST_KAFKA set: Java and mvn are there).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startKafka, type KafkaCluster } from '../../scripts/kafka.ts'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'
import { createKafkaLog } from '../../src/log/kafka/kafka-log.ts'
import { nextOffsets, pollCount } from './contract.ts'

const skip = process.env.TEST_KAFKA === undefined || process.env.TEST_KAFKA === ''
  ? 'TEST_KAFKA not set; npm test starts Kafka'
  : false
let cluster: KafkaCluster | undefined

before(async () => {
  if (skip === false) cluster = await startKafka({ heapMb: 384 })
}, { timeout: 180_000 })
after(async () => { await cluster?.stop() })

test('the broker dies: produce, ping and poll say VGL_LOG_UNREACHABLE in time; it comes back: the same log and consumer go on', { skip, timeout: 240_000 }, async (t) => {
  const kafka = cluster as KafkaCluster
  const timeouts = { connectTimeoutMs: 1000, requestTimeoutMs: 4000 }
  const config = validateConfig({ log: { url: `kafka://${kafka.bootstrap}`, kafka: timeouts } })
  const log = createKafkaLog({ brokers: kafka.bootstrap.split(','), ...config.log.kafka })
  await log.connect()
  t.after(() => log.close())
  const topic = `down-${randomUUID()}`
  await log.admin.createTopic({ name: topic })
  const consumer = log.consumer({ group: `g-${randomUUID()}`, topics: [topic], autoOffsetReset: 'earliest' })
  t.after(() => consumer.close())
  await log.produce(topic, [{ value: Buffer.from('before') }])
  const before = await pollCount(consumer, 1, 60_000, 1)
  await consumer.commit(nextOffsets(before))

  await kafka.killBroker(0)

  let started = Date.now()
  await assert.rejects(log.ping(), (e) => isVigilError(e, 'VGL_LOG_UNREACHABLE'))
  assert.ok(Date.now() - started < timeouts.connectTimeoutMs + 1500, `ping failed within the connect timeout (${Date.now() - started} ms)`)

  started = Date.now()
  await assert.rejects(log.produce(topic, [{ value: Buffer.from('lost?') }]), (e) => {
    assert.ok(isVigilError(e, 'VGL_LOG_UNREACHABLE'), String(e))
    assert.match(e.message, new RegExp(kafka.bootstrap))
    return true
  })
  const took = Date.now() - started
  assert.ok(took < timeouts.requestTimeoutMs + timeouts.connectTimeoutMs + 1500, `produce failed within its timeouts (${took} ms)`)

  // poll() keeps trying in the background and reports the outage once it lasts requestTimeoutMs.
  started = Date.now()
  await assert.rejects(async () => {
    for (;;) assert.deepEqual(await consumer.poll({ timeoutMs: 500 }), [])
  }, (e) => isVigilError(e, 'VGL_LOG_UNREACHABLE'))
  assert.ok(Date.now() - started < 3 * timeouts.requestTimeoutMs, 'poll reported the outage')

  await kafka.startBroker(0)

  // The same log produces again (the failed call may or may not have stored its record)…
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      await log.produce(topic, [{ value: Buffer.from('after') }])
      break
    } catch (error) {
      if (!isVigilError(error, 'VGL_LOG_UNREACHABLE') || Date.now() > deadline) throw error
    }
  }
  await log.ping()
  // …and the same consumer reads on from its committed offset.
  const values: string[] = []
  const pollDeadline = Date.now() + 90_000
  while (!values.includes('after')) {
    assert.ok(Date.now() < pollDeadline, `the consumer resumed (got ${values.join(',')})`)
    try {
      values.push(...(await consumer.poll({ timeoutMs: 500 })).map(r => r.value?.toString() ?? ''))
    } catch (error) {
      if (!isVigilError(error, 'VGL_LOG_UNREACHABLE') && !isVigilError(error, 'VGL_LOG_NOT_ASSIGNED')) throw error
    }
  }
  assert.ok(!values.includes('before'), 'the committed record did not come back')
})
