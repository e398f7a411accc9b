/**
 * Signed commands through `vigil serve`: the profile's policy decides (422 naming command or
 * args), the command is signed and put on the log, the agent long-polls it, verifies it against
 * the published public key, and its result closes it. An agent credential bound to one node
 * cannot act for another.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { CommandVerifier } from '../../src/fleet/command-verifier.ts'
import { NonceStore } from '../../src/fleet/nonce-store.ts'
import { assertActsForNode as checkNode } from '../../src/access/index.ts'
import { isVigilError } from '../../src/errors.ts'
import { eventually, get, heartbeat, post, startFleetServer, tempDir } from './helpers.ts'

test('commands: policy, signing, long-poll, verification by the agent, the result', async (t) => {
  const dir = await tempDir(t)
  const server = await startFleetServer(dir, {
    policy: {
      '*': { commands: { 'run-scan': { args: { type: 'object', additionalProperties: false } } } },
      LockedVault: { commands: {} }
    }
  })
  t.after(() => server.close())
  const url = server.url
  const node = randomUUID()
  const locked = randomUUID()
  await post(`${url}/api/agent/heartbeat`, heartbeat(node))
  await post(`${url}/api/agent/heartbeat`, heartbeat(locked, { os_profile: 'LockedVault' }))
  await eventually(async () => ((await get(`${url}/api/fleet/summary`)).body.total === 2 ? true : undefined), 'two nodes')

  const policy = (await get(`${url}/api/fleet/policy`)).body as { profiles: Record<string, unknown> }
  assert.deepEqual(Object.keys(policy.profiles).sort(), ['*', 'LockedVault'])

  const refusals: Array<[body: unknown, status: number, field: string]> = [
    [{ node_id: node, command: 'reboot' }, 422, 'command'],
    [{ node_id: node, command: 'run-scan', args: { deep: true } }, 422, 'args'],
    [{ node_id: locked, command: 'run-scan' }, 422, 'command'],
    [{ command: 'run-scan' }, 400, 'node_id'],
    [{ node_id: node, os_profile: 'ArchVault', command: 'run-scan' }, 400, 'os_profile'],
    [{ node_id: node, command: 'run-scan', ttl_s: 10 ** 9 }, 400, 'ttl_s'],
    [{ node_id: randomUUID(), command: 'run-scan' }, 404, 'node_id'],
    [{ os_profile: 'NoSuchVault', command: 'run-scan' }, 404, 'os_profile'],
    [{ node_id: node }, 400, 'command']
  ]
  for (const [body, status, field] of refusals) {
    const answer = await post(`${url}/api/fleet/commands`, body)
    assert.equal(answer.status, status, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`)
    assert.equal(answer.body.field, field, JSON.stringify(answer.body))
  }

  const keys = ((await get(`${url}/api/fleet/public-keys`)).body as { keys: Array<{ key_id: string, public_key_pem: string }> }).keys
  assert.equal(keys.length, 1)
  const verifier = new CommandVerifier({
    nodeId: node,
    publicKeys: new Map(keys.map(k => [k.key_id, createPublicKey(k.public_key_pem)])),
    allowList: { 'run-scan': { args: { type: 'object' } } },
    nonces: new NonceStore(join(dir, 'agent-nonces'))
  })

  // Nothing pending: wait_ms=0 answers at once with an empty list.
  assert.deepEqual((await get(`${url}/api/agent/commands?node_id=${node}`)).body, { commands: [] })

  // A long-poll in flight is answered when the command is issued (had the command come first,
  // the poll would answer it at once: either way the agent gets it without waiting 20 s).
  const polled = get(`${url}/api/agent/commands?node_id=${node}&wait_ms=20000`)
  await new Promise(resolve => setTimeout(resolve, 100))
  const issued = await post(`${url}/api/fleet/commands`, { os_profile: 'ArchVault', command: 'run-scan', ttl_s: 60 })
  assert.equal(issued.status, 200, JSON.stringify(issued.body))
  const [command] = issued.body.commands as Array<Record<string, unknown>>
  assert.equal(command!.node_id, node)
  assert.match(command!.nonce as string, /^[0-9a-f]{32}$/)
  const delivered = (await polled).body.commands as Array<Record<string, unknown>>
  assert.deepEqual(delivered, [command])
  assert.equal(verifier.verify(delivered[0]).ok, true, 'the agent verifies it with the published key')
  assert.equal(verifier.verify(delivered[0]).ok, false, 'and never runs it twice')

  assert.equal((await post(`${url}/api/agent/command-result`, { node_id: node, nonce: command!.nonce, command: 'run-scan', status: 'success', exit_code: 0 })).status, 200)
  await eventually(async () => (((await get(`${url}/api/agent/commands?node_id=${node}`)).body.commands as unknown[]).length === 0 ? true : undefined), 'the result closes the command')
  const detail = (await get(`${url}/api/fleet/nodes/${node}`)).body
  assert.equal((detail.commands as Array<{ status: string }>)[0]!.status, 'success')

  // A long-poll with nothing to deliver answers an empty list after wait_ms.
  assert.deepEqual((await get(`${url}/api/agent/commands?node_id=${node}&wait_ms=50`)).body, { commands: [] })
  assert.equal((await get(`${url}/api/agent/commands?node_id=${node}&wait_ms=-1`)).body.field, 'wait_ms')
  assert.equal((await get(`${url}/api/agent/commands`)).body.field, 'node_id')
})

test('an agent credential bound to a node may act only for that node (403 naming both)', () => {
  const mine = randomUUID()
  const other = randomUUID()
  const request = { principal: { name: 'agent', roles: ['agent'], nodeId: mine } } as never
  assert.doesNotThrow(() => checkNode(request, mine.toUpperCase()))
  assert.throws(() => checkNode(request, other), (e: unknown) => isVigilError(e, 'VGL_ACCESS_WRONG_NODE') && e.statusCode === 403 && e.message.includes(mine) && e.message.includes(other))
  assert.doesNotThrow(() => checkNode({ principal: undefined } as never, other), 'no node binding: the shared token or open loopback')
})
