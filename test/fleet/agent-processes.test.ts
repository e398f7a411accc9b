/**
 * Real `vigil agent` processes against `vigil serve`: they register by heartbeat, keep their
 * node id across a restart, run the signed commands of their allow-list, refuse (and report)
 * one outside it, and an agent that is killed turns heartbeat_stale on the stream within its
 * profile's threshold.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventually, get, post, startFleetServer, tempDir } from './helpers.ts'

const vigilBin = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url))

function spawnAgent (env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [vigilBin, 'agent'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr!.on('data', chunk => { if (process.env.DEBUG_AGENT !== undefined) process.stderr.write(chunk) })
  child.stdout!.resume()
  return child
}
const exited = (child: ChildProcess): Promise<unknown> => new Promise(resolve => child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve))

test('vigil agent processes: heartbeats, kept node id, signed commands run or refused, a killed agent turns stale on the stream', async (t) => {
  const dir = await tempDir(t)
  const server = await startFleetServer(dir, { profiles: { AgentVault: { heartbeatStaleS: 3 } } })
  t.after(() => server.close())
  const url = server.url
  const keysFile = join(dir, 'keys.json')
  writeFileSync(keysFile, JSON.stringify((await get(`${url}/api/fleet/public-keys`)).body))
  const allowList = join(dir, 'allow.json')
  writeFileSync(allowList, JSON.stringify({ commands: { 'run-scan': { args: { type: 'object' }, run: [process.execPath, '-e', 'process.stdout.write("scanned")'] } } }))
  const root = join(dir, 'vaultmesh-root')
  mkdirSync(root)
  const agents: ChildProcess[] = []
  t.after(async () => { for (const a of agents) { a.kill('SIGKILL'); await exited(a) } })
  const envFor = (name: string): Record<string, string> => ({
    VAULTMESH_CC_URL: url,
    VAULTMESH_OS_PROFILE: 'AgentVault',
    VAULTMESH_ROOT: root,
    VAULTMESH_HEARTBEAT_SECS: '0.5',
    VIGIL_AGENT_PUBLIC_KEYS: keysFile,
    VIGIL_AGENT_ALLOW_LIST: allowList,
    VIGIL_AGENT_STATE_DIR: join(dir, name)
  })
  agents.push(spawnAgent(envFor('a')), spawnAgent(envFor('b')))
  const nodes = await eventually(async () => {
    const { body } = await get(`${url}/api/fleet/nodes?profile=AgentVault`)
    return body.total === 2 ? body.nodes as Array<{ node_id: string, services_ok: boolean }> : undefined
  }, 'both agents registered')
  assert.ok(nodes.every(n => n.services_ok), 'VAULTMESH_ROOT exists: services_ok')
  const idA = readFileSync(join(dir, 'a', 'node-id'), 'utf8').trim()
  const idB = readFileSync(join(dir, 'b', 'node-id'), 'utf8').trim()

  // A restart keeps the node id: still two nodes.
  agents[0]!.kill('SIGTERM')
  await exited(agents[0]!)
  agents[0] = spawnAgent(envFor('a'))
  assert.equal(readFileSync(join(dir, 'a', 'node-id'), 'utf8').trim(), idA)

  const issued = await post(`${url}/api/fleet/commands`, { os_profile: 'AgentVault', command: 'run-scan' })
  assert.equal(issued.status, 200, JSON.stringify(issued.body))
  const refused = await post(`${url}/api/fleet/commands`, { node_id: idA, command: 'collect-logs', args: { lines: 10 } })
  assert.equal(refused.status, 200, 'the server policy allows it; the agent\'s allow-list does not')
  const commandsOf = async (nodeId: string): Promise<Array<{ command: string, status: string, result: { reason?: string, stdout_digest?: string } | null }>> =>
    (await get(`${url}/api/fleet/nodes/${nodeId}`)).body.commands as never
  await eventually(async () => {
    const a = await commandsOf(idA)
    const b = await commandsOf(idB)
    return a.every(c => c.status !== 'pending') && b.every(c => c.status !== 'pending') ? true : undefined
  }, 'every command answered')
  const a = await commandsOf(idA)
  assert.equal(a.find(c => c.command === 'run-scan')!.status, 'success')
  assert.equal(a.find(c => c.command === 'run-scan')!.result!.stdout_digest, 'sha256:' + (await import('node:crypto')).createHash('sha256').update('scanned').digest('hex'))
  const logs = a.find(c => c.command === 'collect-logs')!
  assert.equal(logs.status, 'refused')
  assert.match(logs.result!.reason!, /^not_allowed: /)
  assert.equal((await commandsOf(idB))[0]!.status, 'success')

  // Kill agent B: its heartbeat_stale comes over the stream, from the clock.
  const controller = new AbortController()
  t.after(() => controller.abort())
  const stream = await fetch(`${url}/api/stream?attention=true&node_id=${idB}`, { signal: controller.signal })
  agents[1]!.kill('SIGKILL')
  await exited(agents[1]!)
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  while (!/"reasons":\["heartbeat_stale"/.test(text)) {
    const { value, done } = await reader.read()
    if (done) throw new Error('stream ended')
    text += value
  }
  assert.match(text, /id: clock\./)
  controller.abort()
})
