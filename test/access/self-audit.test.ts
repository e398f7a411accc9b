/**
 * Vigil's own record of who did what: a redrive, a schema registration and deletion and a failed
 * sign-in appear in GET /v1/audit/events with their principal, and `vigil audit verify` covers
 * them (they are chained and signed like any other record).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runCli } from '../../src/cli/main.ts'
import { startAccessServer, waitFor } from './helpers.ts'

test('redrive, schema changes and a failed sign-in are in the audit trail with their principal, and verify covers them', async (t) => {
  const s = await startAccessServer(t)
  const schema = JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] })
  assert.equal((await s.call('POST', '/registry/subjects/orders-value/versions', { token: s.tokens.admin, body: { schema } })).status, 200)
  assert.equal((await s.call('DELETE', '/registry/subjects/orders-value', { token: s.tokens.admin })).status, 200)
  const redrive = await s.call('POST', '/dlq/orders-dlq/redrive', { token: s.tokens.operator, body: { all: true } })
  assert.ok(redrive.status < 500, `redrive answered ${redrive.status}`)
  assert.equal((await s.call('DELETE', '/registry/subjects/orders-value', { token: s.tokens.viewer })).status, 403)
  assert.equal((await s.call('GET', '/v1/audit/events', { token: 'wrong-token-of-someone' })).status, 401)
  // Reads are not actions: they leave no record.
  await s.call('GET', '/registry/subjects', { token: s.tokens.admin })

  const actions = await waitFor(async () => {
    const { body } = await s.call('GET', '/v1/audit/events?type=vigil.action&limit=100', { token: s.tokens.viewer })
    return body.records?.length >= 4 ? body.records : undefined
  }, 30_000, 'four actions in the audit trail')
  const summary = actions.map((e: any) => `${e.actor_ref} ${e.action} ${e.outcome}`).sort()
  assert.deepEqual(summary, [
    'admin-user DELETE /registry/subjects/:subject success',
    'admin-user POST /registry/subjects/:subject/versions success',
    `operator-user POST /dlq/:topic/redrive ${redrive.status < 400 ? 'success' : 'failure'}`,
    'viewer-user DELETE /registry/subjects/:subject denied'
  ])
  assert.ok(actions.some((e: any) => e.resource_ref === 'subject=orders-value'))

  const failures = await waitFor(async () => {
    const { body } = await s.call('GET', '/v1/audit/events?type=vigil.sign_in_failure', { token: s.tokens.viewer })
    return body.records?.length >= 1 ? body.records : undefined
  }, 30_000, 'the failed sign-in in the audit trail')
  assert.equal(failures[0].outcome, 'failure')
  assert.equal(failures[0].action, 'sign-in GET /v1/audit/events')
  assert.ok(!JSON.stringify(failures).includes('wrong-token-of-someone'), 'the presented token is never recorded')

  await s.server.close()
  const configFile = join(s.dir, 'verify.json')
  await writeFile(configFile, JSON.stringify({ audit: { backend: 'local', local: { path: join(s.dir, 'audit') }, checkpoint: { keyFile: join(s.dir, 'key.pem') } } }))
  let out = ''
  const stdout = new Writable({ write (c, _e, d) { out += String(c); d() } })
  const stderr = new Writable({ write (_c, _e, d) { d() } })
  assert.equal(await runCli(['--config', configFile, 'audit', 'verify', '--json'], { stdout, stderr, env: {} }), 0, out)
  const report = JSON.parse(out)
  assert.equal(report.ok, true)
  assert.equal(report.signaturesChecked, true)
  assert.ok(report.reports[0].records >= 5, `verify covered ${report.reports[0].records} records`)
})
