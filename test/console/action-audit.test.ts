/**
 * A person's actions through the API (a redrive, a schema change) are written to the audit trail
 * with who did it, against a real `vigil serve`; reads and checks are not.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isAuditedAction } from '../../src/console/action-audit.ts'
import { toDeadLetter } from '../../src/pipeline/dead-letter.ts'
import { startConsoleServer, waitFor } from './helpers.ts'

test('isAuditedAction: mutating calls on action routes only', () => {
  const yes: Array<[string, string]> = [
    ['POST', '/dlq/:topic/redrive'], ['POST', '/api/fleet/commands'], ['PUT', '/v1/audit/retention'],
    ['POST', '/registry/subjects/:subject/versions'], ['DELETE', '/registry/subjects/:subject'], ['DELETE', '/registry/subjects/:subject/versions/:version'],
    ['PUT', '/registry/config'], ['PUT', '/registry/config/:subject'], ['DELETE', '/registry/mode/:subject']
  ]
  const no: Array<[string, string]> = [
    ['GET', '/dlq/:topic/redrive'], ['GET', '/registry/subjects/:subject/versions'], ['POST', '/registry/subjects/:subject'],
    ['POST', '/registry/compatibility/subjects/:subject/versions/:version'], ['POST', '/v1/audit/events'], ['POST', '/api/agent/heartbeat']
  ]
  for (const [method, route] of yes) assert.equal(isAuditedAction(method, route, '/registry'), true, `${method} ${route}`)
  for (const [method, route] of no) assert.equal(isAuditedAction(method, route, '/registry'), false, `${method} ${route}`)
  assert.equal(isAuditedAction('PUT', '/registry/config', ''), false, 'an external registry mounts nothing here')
})

test('a redrive and a schema registration are audit records naming the actor; a compatibility check is not', async (t) => {
  const s = await startConsoleServer(t)
  const log = s.server.log
  await log.admin.createTopic({ name: 'payments' })
  await log.admin.createTopic({ name: 'payments-dlq' })
  await log.produce('payments', [{ key: Buffer.from('p1'), value: Buffer.from('{"id":"p1"}') }])
  const [original] = await log.read('payments', 0, 0, 1)
  await log.produce('payments-dlq', [toDeadLetter(original!, { pipeline: 'pay', group: 'pay', handler: 'h', errorCode: 'VGL_PIPELINE_PERMANENT', errorMessage: 'no', attempts: 1, firstFailureAt: 1, lastFailureAt: 2 })])

  const redrive = await s.call('POST', '/dlq/payments-dlq/redrive', { all: true })
  assert.equal(redrive.body.redriven, 1)
  const schema = JSON.stringify({ type: 'record', name: 'P', fields: [{ name: 'id', type: 'string' }] })
  assert.equal((await s.call('POST', '/registry/subjects/payments-value/versions', { schema })).status, 200)
  assert.equal((await s.call('POST', '/registry/compatibility/subjects/payments-value/versions/latest', { schema })).status, 200)
  const badRedrive = await s.call('POST', '/dlq/payments-dlq/redrive', {})
  assert.equal(badRedrive.status, 400)

  const records = await waitFor(async () => {
    const found = (await s.call('GET', '/v1/audit/events?type=operator_action&window=1h')).body.records as any[]
    return found.length >= 3 ? found : null
  }, 'three operator_action audit records') as any[]
  const actions = records.map(r => `${r.action} ${r.outcome} ${r.resource_ref}`).sort()
  assert.deepEqual(actions, [
    'POST /dlq/:topic/redrive failure /dlq/payments-dlq/redrive',
    'POST /dlq/:topic/redrive success /dlq/payments-dlq/redrive',
    'POST /registry/subjects/:subject/versions success /registry/subjects/payments-value/versions'
  ])
  // Until access control names principals, the shared token is the actor.
  for (const r of records) assert.equal(typeof r.actor, 'string')
})
