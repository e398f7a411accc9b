import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VigilError, formatError, isVigilError } from '../src/errors.ts'

test('a VigilError carries code, hint, status, retryability and context', () => {
  const cause = new Error('ECONNREFUSED')
  const error = new VigilError('VGL_LOG_UNREACHABLE', 'brokers 127.0.0.1:1 unreachable', { brokers: ['127.0.0.1:1'], cause })
  assert.equal(error.code, 'VGL_LOG_UNREACHABLE')
  assert.equal(error.statusCode, 503)
  assert.equal(error.retryable, true)
  assert.equal(error.cause, cause)
  assert.deepEqual(error.context, { brokers: ['127.0.0.1:1'] })
  assert.match(error.hint, /brokers/)
  assert.deepEqual(JSON.parse(JSON.stringify(error)), { code: 'VGL_LOG_UNREACHABLE', message: 'brokers 127.0.0.1:1 unreachable', hint: error.hint, brokers: ['127.0.0.1:1'] })
  assert.ok(isVigilError(error, 'VGL_LOG_UNREACHABLE'))
  assert.ok(!isVigilError(error, 'VGL_LOG_CLOSED'))
  assert.ok(!isVigilError(new Error('plain')))
})

test('a caller can override the hint and the status', () => {
  const error = new VigilError('VGL_HTTP_BAD_REQUEST', 'unsupported media type', { hint: 'send JSON', statusCode: 415 })
  assert.equal(error.hint, 'send JSON')
  assert.equal(error.statusCode, 415)
})

test('formatError prints the code, context and hint for a terminal', () => {
  const text = formatError(new VigilError('VGL_LOG_TOPIC_NOT_FOUND', 'topic t does not exist', { topic: 't' }))
  assert.equal(text, 'error VGL_LOG_TOPIC_NOT_FOUND: topic t does not exist\n  context: topic=t\n  hint: Create it with `vigil topics create <name>`, or list topics with `vigil topics list`.')
  assert.equal(formatError(new Error('boom')), 'error: boom')
})
