/** Pure logic of the console's browser code: the Prometheus text parser and the SSE framing. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parsePrometheus, sumBy } from '../../console/src/prometheus.ts'
import { parseBlock } from '../../console/src/sse.ts'

test('parsePrometheus reads names, escaped labels and values; sumBy groups by a label', () => {
  const samples = parsePrometheus([
    '# HELP vigil_pipeline_records_succeeded_total x',
    '# TYPE vigil_pipeline_records_succeeded_total counter',
    'vigil_pipeline_records_succeeded_total{pipeline="billing",topic="a"} 5',
    'vigil_pipeline_records_succeeded_total{pipeline="billing",topic="b"} 7',
    'vigil_pipeline_records_succeeded_total{pipeline="quote\\"d"} 1',
    'vigil_log_up 1',
    'garbage line without value',
    ''
  ].join('\n'))
  assert.deepEqual(samples.find(s => s.name === 'vigil_log_up'), { name: 'vigil_log_up', labels: {}, value: 1 })
  assert.deepEqual([...sumBy(samples, 'vigil_pipeline_records_succeeded_total', 'pipeline')], [['billing', 12], ['quote"d', 1]])
})

test('parseBlock reads id, event and multi-line data, skips comments, and ignores a block without data', () => {
  assert.deepEqual(parseBlock('id: 0:42\nevent: heartbeat\ndata: {"a":1}\ndata: {"b":2}'), { id: '0:42', event: 'heartbeat', data: '{"a":1}\n{"b":2}' })
  assert.deepEqual(parseBlock(': keep-alive\ndata:x'), { id: undefined, event: 'message', data: 'x' })
  assert.equal(parseBlock(': keep-alive'), null)
  assert.equal(parseBlock('event: scan'), null)
})
