/**
 * The attention rules and the clock's queue, as pure logic: each reason, the next deadline a
 * node can change at, DORA's incident clocks, and a heap that hands out only what is due.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { evaluateAttention, incidentDeadlines, type AttentionInput } from '../../src/fleet/attention.ts'
import { DueQueue } from '../../src/fleet/clock.ts'

const thresholds = { heartbeatStaleS: 90, scanStaleS: 3600, incidentNearS: 600 }
const t0 = Date.parse('2026-12-07T10:00:00Z')
const healthy = (): AttentionInput => ({
  lastSeen: t0,
  cloudflareOk: true,
  servicesOk: true,
  scan: { node_id: 'n', ts: '2026-12-07T10:00:00Z', summary: { critical: 0, high: 1, medium: 0, low: 0 }, findings_real: true, receipt_hash: 'h' },
  scanAt: t0,
  lastCommandResult: null,
  incidents: []
})

test('a healthy node has no reasons and its next deadline is the heartbeat threshold', () => {
  const verdict = evaluateAttention(healthy(), thresholds, t0 + 1000)
  assert.deepEqual(verdict.reasons, [])
  assert.equal(verdict.nextDueAt, t0 + 90_000)
})

test('a silent node turns heartbeat_stale at its threshold, and then scan_stale', () => {
  assert.deepEqual(evaluateAttention(healthy(), thresholds, t0 + 89_999).reasons, [])
  const stale = evaluateAttention(healthy(), thresholds, t0 + 90_000)
  assert.deepEqual(stale.reasons, ['heartbeat_stale'])
  assert.equal(stale.nextDueAt, t0 + 3600_000, 'the next change is the scan going stale')
  assert.deepEqual(evaluateAttention(healthy(), thresholds, t0 + 3600_000).reasons, ['heartbeat_stale', 'scan_stale'])
})

test('never_scanned, critical_findings, services_down, cloudflare_down, command_failed', () => {
  assert.deepEqual(evaluateAttention({ ...healthy(), scan: null, scanAt: null }, thresholds, t0).reasons, ['never_scanned'])
  const input: AttentionInput = {
    ...healthy(),
    scan: { ...healthy().scan!, summary: { critical: 2, high: 0, medium: 0, low: 0 } },
    servicesOk: false,
    cloudflareOk: false,
    lastCommandResult: { node_id: 'n', nonce: 'x', command: 'restart', status: 'failed', exit_code: 1 }
  }
  assert.deepEqual(evaluateAttention(input, thresholds, t0).reasons, ['critical_findings', 'services_down', 'cloudflare_down', 'command_failed'])
  assert.deepEqual(evaluateAttention({ ...healthy(), lastCommandResult: { ...input.lastCommandResult!, status: 'success' } }, thresholds, t0).reasons, [])
})

test('DORA deadlines: initial at 4 h after classification but at most 24 h after detection, intermediate 72 h, final one month', () => {
  const classifiedAt = Date.parse('2026-01-31T12:00:00Z')
  const d = incidentDeadlines({ classifiedAt, detectedAt: classifiedAt })
  assert.equal(d.initial, classifiedAt + 4 * 3600_000)
  assert.equal(d.intermediate, classifiedAt + 72 * 3600_000)
  assert.equal(new Date(d.final).toISOString(), '2026-02-28T12:00:00.000Z', 'one calendar month on, ending on February\'s last day')
  const late = incidentDeadlines({ classifiedAt, detectedAt: classifiedAt - 22 * 3600_000 })
  assert.equal(late.initial, classifiedAt + 2 * 3600_000, 'detected 22 h before classification: 2 h left')
})

test('an open incident turns near, then overdue; a filed report stops its clock', () => {
  const incident = { envelopeId: 'e', classifiedAt: t0, detectedAt: t0, done: new Set<'initial' | 'intermediate' | 'final'>() }
  const input = { ...healthy(), lastSeen: t0 + 10 * 3600_000, scanAt: t0 + 10 * 3600_000, incidents: [incident] }
  const early = evaluateAttention(input, thresholds, t0 + 1000)
  assert.deepEqual(early.reasons, [])
  assert.equal(early.nextDueAt, t0 + 4 * 3600_000 - 600_000, 'the next change is the initial report turning near')
  assert.deepEqual(evaluateAttention(input, thresholds, t0 + 4 * 3600_000 - 600_000).reasons, ['incident_report_near'])
  assert.deepEqual(evaluateAttention(input, thresholds, t0 + 4 * 3600_000).reasons, ['incident_report_overdue'])
  incident.done.add('initial')
  assert.deepEqual(evaluateAttention(input, thresholds, t0 + 4 * 3600_000).reasons, [])
})

test('the due queue hands out only what is due, earliest first', () => {
  const queue = new DueQueue()
  const times = [50, 10, 40, 30, 20, 60, 5]
  times.forEach((t, i) => queue.push(`n${i}`, t))
  queue.push('never', Infinity)
  assert.equal(queue.size, times.length, 'Infinity is never queued')
  assert.deepEqual(queue.popDue(4), [])
  assert.deepEqual(queue.popDue(30).map(e => e.dueAt), [5, 10, 20, 30])
  assert.deepEqual(queue.popDue(1000).map(e => e.nodeId), ['n2', 'n0', 'n5'])
  assert.equal(queue.size, 0)
})
