/**
 * The Kafka log over SASL_SSL: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN over TLS with a CA file,
 * against a broker this file starts itself (scripts/kafka.ts with `security`: a throwaway CA,
 * SCRAM credentials formatted into the metadata log). Refused credentials and an untrusted
 * certificate are VGL_LOG_AUTH_FAILED, and the password never shows in the error.
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
import type { Log } from '../../src/log/types.ts'
import { pollCount } from './contract.ts'

const skip = process.env.TEST_KAFKA === undefined || process.env.TEST_KAFKA === ''
  ? 'TEST_KAFKA not set; npm test starts Kafka'
  : false
const password = `pw-${randomUUID()}`
let cluster: KafkaCluster | undefined

before(async () => {
  if (skip === false) cluster = await startKafka({ security: { users: { vigil: password }, tls: true }, heapMb: 384 })
}, { timeout: 180_000 })
after(async () => { await cluster?.stop() })

function secureLog (kafka: Record<string, unknown>): Log {
  const { bootstrap } = cluster as KafkaCluster
  const config = validateConfig({ log: { url: `kafka://${bootstrap}`, kafka: { connectTimeoutMs: 5000, ...kafka } } })
  return createKafkaLog({ brokers: bootstrap.split(','), ...config.log.kafka })
}

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const) {
  test(`SASL ${mechanism} over TLS: produce and consume`, { skip, timeout: 120_000 }, async (t) => {
    const log = secureLog({ tls: { enabled: true, caFile: cluster?.caFile }, sasl: { mechanism, username: 'vigil', password } })
    t.after(() => log.close())
    await log.connect()
    assert.ok(!log.url.includes(password))
    const topic = `secure-${randomUUID()}`
    await log.admin.createTopic({ name: topic })
    await log.produce(topic, [{ key: Buffer.from('k'), value: Buffer.from(mechanism) }])
    const consumer = log.consumer({ group: `g-${randomUUID()}`, topics: [topic], autoOffsetReset: 'earliest' })
    t.after(() => consumer.close())
    const [record] = await pollCount(consumer, 1, 60_000, 1)
    assert.equal(record?.value?.toString(), mechanism)
    await log.admin.deleteTopic(topic)
  })
}

test('a wrong password is VGL_LOG_AUTH_FAILED, and the password is in no part of the error', { skip, timeout: 60_000 }, async (t) => {
  const wrong = `wrong-${randomUUID()}`
  const log = secureLog({ tls: { enabled: true, caFile: cluster?.caFile }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'vigil', password: wrong } })
  t.after(() => log.close())
  const error = await log.connect().then(() => undefined, (e: unknown) => e)
  assert.ok(isVigilError(error, 'VGL_LOG_AUTH_FAILED'), String(error))
  for (const text of [error.message, String(error.stack), JSON.stringify(error), JSON.stringify(error.context)]) {
    assert.ok(!text.includes(wrong) && !text.includes(password))
  }
})

test('a broker certificate from an unknown CA is VGL_LOG_AUTH_FAILED', { skip, timeout: 60_000 }, async (t) => {
  const log = secureLog({ tls: { enabled: true }, sasl: { mechanism: 'SCRAM-SHA-256', username: 'vigil', password } })
  t.after(() => log.close())
  await assert.rejects(log.connect(), (e) => {
    assert.ok(isVigilError(e, 'VGL_LOG_AUTH_FAILED'), String(e))
    assert.match(e.message, /TLS/)
    return true
  })
})

test('an unreadable CA file is a configuration error naming the key', { skip: false }, async () => {
  const config = validateConfig({ log: { url: 'kafka://127.0.0.1:1', kafka: { tls: { enabled: true, caFile: '/nonexistent/ca.pem' } } } })
  const log = createKafkaLog({ brokers: ['127.0.0.1:1'], ...config.log.kafka })
  await assert.rejects(log.connect(), (e) => isVigilError(e, 'VGL_CONFIG_INVALID') && /log\.kafka\.tls\.caFile/.test(e.message))
})
