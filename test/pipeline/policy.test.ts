import { test } from 'node:test'
import assert from 'node:assert/strict'
import { classifyError, parseRetryAfter, permanentError, transientError } from '../../src/pipeline/classify.ts'
import { backoffDelay, decideRetry, defaultRetryPolicy, type RetryPolicy } from '../../src/pipeline/retry.ts'
import {
  DlqHeader, RedriveHeader, deadLetterId, fromDeadLetterRecord, parseDeadLetterId, redactSecrets, toDeadLetter, toRedriveRecord
} from '../../src/pipeline/dead-letter.ts'
import { compileRouter, defineHandler } from '../../src/pipeline/router.ts'
import { VigilError, isVigilError } from '../../src/errors.ts'
import type { LogRecord } from '../../src/log/types.ts'

const policy: RetryPolicy = { maxAttempts: 4, initialDelayMs: 100, multiplier: 3, maxDelayMs: 1000, jitterRatio: 0, maxRetryAfterMs: 5000 }

test('backoff grows by the multiplier, is capped, and jitter spreads it both ways', () => {
  assert.deepEqual([1, 2, 3, 4].map(n => backoffDelay(policy, n)), [100, 300, 900, 1000])
  const jittered = { ...policy, jitterRatio: 0.5 }
  assert.equal(backoffDelay(jittered, 1, () => 0), 50)
  assert.equal(backoffDelay(jittered, 1, () => 1), 150)
  assert.equal(backoffDelay(jittered, 4, () => 1), 1000, 'jitter never exceeds the cap')
  assert.deepEqual(defaultRetryPolicy.maxAttempts, 3)
})

test('retry decisions: transient retried up to maxAttempts, permanent never, Retry-After honoured and capped, blocking unbounded', () => {
  const transient = classifyError(transientError('busy'))
  assert.deepEqual(decideRetry(policy, transient, 1), { action: 'retry', delayMs: 100 })
  assert.deepEqual(decideRetry(policy, transient, 3), { action: 'retry', delayMs: 900 })
  assert.deepEqual(decideRetry(policy, transient, 4), { action: 'dead-letter' })
  assert.deepEqual(decideRetry(policy, classifyError(permanentError('no')), 1), { action: 'dead-letter' })
  assert.deepEqual(decideRetry(policy, classifyError(transientError('slow down', { retryAfterMs: 2500 })), 1), { action: 'retry', delayMs: 2500 })
  assert.deepEqual(decideRetry(policy, classifyError(transientError('slow down', { retryAfterMs: 60_000 })), 1), { action: 'retry', delayMs: 5000 })
  const blocking = classifyError(new VigilError('VGL_DISPATCHER_AUTH_FAILED', '401', { blocking: true }))
  assert.deepEqual(decideRetry(policy, blocking, 0, Math.random, 1), { action: 'retry', delayMs: 100 }, 'blocking failures back off too')
  assert.deepEqual(decideRetry(policy, blocking, 100, Math.random, 100), { action: 'retry', delayMs: 1000 }, 'never dead-lettered')
})

test('classification: coded errors by the catalog, network and timeouts transient, programmer errors permanent', () => {
  const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) })
  const network = classifyError(fetchFailed)
  assert.equal(network.retryable, true, 'fetch failed is a network error, not a bug')
  assert.match(network.error.message, /ECONNRESET/)
  assert.equal(classifyError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).retryable, true)
  assert.equal(classifyError(new DOMException('The operation timed out.', 'TimeoutError')).error.code, 'VGL_PIPELINE_HANDLER_TIMEOUT')
  for (const bug of [new TypeError('x is not a function'), new RangeError('Invalid array length'), new ReferenceError('y is not defined')]) {
    const c = classifyError(bug)
    assert.deepEqual([c.error.code, c.retryable, c.programmer], ['VGL_PIPELINE_PROGRAMMER_ERROR', false, true])
    assert.equal(c.error.cause, bug, 'the original error and its stack are kept')
  }
  assert.deepEqual([classifyError(new Error('odd')).error.code, classifyError(new Error('odd')).retryable], ['VGL_PIPELINE_HANDLER_FAILED', true])
  assert.equal(classifyError('a string').error.code, 'VGL_PIPELINE_HANDLER_FAILED')
  assert.equal(classifyError(new VigilError('VGL_LOG_UNREACHABLE', 'down')).retryable, true)
  assert.equal(classifyError(new VigilError('VGL_SCHEMA_SERDE_UNKNOWN_ID', 'id 9')).retryable, false)
})

test('Retry-After: delta seconds or an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.equal(parseRetryAfter('7', now), 7000)
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000)
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:05 GMT', now), 0)
  assert.equal(parseRetryAfter('soon', now), undefined)
  assert.equal(parseRetryAfter(undefined, now), undefined)
})

test('dead-letter headers round-trip; original key, value and headers are kept; redrive bumps the count', () => {
  const record: LogRecord = {
    topic: 'observation',
    partition: 2,
    offset: 41,
    timestamp: Date.parse('2026-01-02T03:04:05.678Z'),
    key: Buffer.from([1, 2, 3]),
    value: Buffer.from([0, 0, 0, 0, 7, 99]),
    headers: [['a', Buffer.from([255])], ['a', Buffer.from('second')], [RedriveHeader.count, Buffer.from('1')]]
  }
  const produced = toDeadLetter(record, {
    pipeline: 'p', group: 'g', handler: 'h', errorCode: 'VGL_PIPELINE_PERMANENT', errorMessage: 'no', attempts: 3, firstFailureAt: 1000, lastFailureAt: 2000, eventType: 'e', eventId: 'id'
  })
  assert.deepEqual(produced.key, record.key)
  assert.deepEqual(produced.value, record.value)
  const stored: LogRecord = { ...record, topic: 'observation-dlq', partition: 0, offset: 7, timestamp: 3000, headers: [...(produced.headers ?? [])] }
  const letter = fromDeadLetterRecord(stored)
  assert.deepEqual(letter.headers, record.headers, 'original headers, in order, byte for byte')
  assert.equal(letter.info.id, 'observation-dlq:0:7')
  assert.deepEqual(letter.info.original, { topic: 'observation', partition: 2, offset: 41, timestamp: record.timestamp })
  assert.deepEqual([letter.info.attempts, letter.info.firstFailureAt, letter.info.lastFailureAt, letter.info.redriveCount], [3, 1000, 2000, 1])
  assert.ok(stored.headers.some(([n]) => n === DlqHeader.errorCode))

  const redriven = toRedriveRecord(letter, 5000)
  const names = (redriven.headers ?? []).map(([n]) => n)
  assert.deepEqual(names, ['a', 'a', RedriveHeader.count, RedriveHeader.from, RedriveHeader.at])
  assert.equal(String((redriven.headers ?? [])[2]?.[1]), '2')
  assert.equal(String((redriven.headers ?? [])[3]?.[1]), 'observation-dlq:0:7')
  assert.equal(redriven.partition, undefined, 'keyed records go where their key hashes')
  assert.equal(toRedriveRecord({ ...letter, key: null }, 5000).partition, 2, 'unkeyed records go back to their partition')

  assert.throws(() => fromDeadLetterRecord({ ...stored, headers: [] }), (e) => isVigilError(e, 'VGL_DLQ_NOT_A_DEAD_LETTER'))
  assert.deepEqual(parseDeadLetterId(deadLetterId('obs-dlq', 3, 99)), { topic: 'obs-dlq', partition: 3, offset: 99 })
  assert.throws(() => parseDeadLetterId('obs-dlq/3/99'), (e) => isVigilError(e, 'VGL_DLQ_ID_INVALID'))
})

test('secrets are redacted from messages', () => {
  assert.equal(redactSecrets('GET failed: Authorization: Token 0123456789abcdef'), 'GET failed: Authorization: Token ***')
  assert.equal(redactSecrets('Bearer abc.def.ghi rejected'), 'Bearer *** rejected')
  assert.equal(redactSecrets('connect http://user:hunter22@host:9000/x'), 'connect http://user:***@host:9000/x')
  assert.equal(redactSecrets('password=hunter2&user=bob'), 'password=***&user=bob')
  assert.equal(redactSecrets('{"token": "abcd1234"}'), '{"token": "***"}')
  assert.equal(redactSecrets('the key s3cr3tvalue leaked', ['s3cr3tvalue']), 'the key *** leaked')
  assert.equal(redactSecrets('X-Amz-Signature=deadbeef&x=1'), 'X-Amz-Signature=***&x=1')
})

test('router: by field, header or function; typed handlers validate; a fallback takes unknown routes', () => {
  const record = { topic: 't', partition: 0, offset: 0, timestamp: 0, key: null, value: null, headers: [['type', Buffer.from('h')]] } as LogRecord
  const byField = compileRouter({ field: 'meta.kind' }, { a: () => {} })
  assert.equal(byField.routeOf({ meta: { kind: 'a' } }, record), 'a')
  assert.equal(byField.routeOf({}, record), '(none)')
  assert.throws(() => byField.handlerFor('b', record), (e) => isVigilError(e, 'VGL_PIPELINE_NO_ROUTE') && /known: a/.test(e.message))
  assert.equal(compileRouter({ header: 'type' }, { h: () => {} }).routeOf({}, record), 'h')
  assert.equal(compileRouter((v) => (v as { t: string }).t, { x: () => {} }).routeOf({ t: 'x' }, record), 'x')
  const withFallback = compileRouter({ field: 'event_type' }, { '*': () => {} })
  assert.equal(withFallback.handlerFor('anything', record).name, '*')
  const typed = defineHandler((v) => { if (typeof v !== 'number') throw new Error('not a number'); return v }, () => {})
  assert.equal(typed.validate?.(3, record), 3)
  assert.throws(() => compileRouter({ field: 'x' }, {}), (e) => isVigilError(e, 'VGL_PIPELINE_DEFINITION_INVALID'))
})
