/**
 * Test helpers: `vigil serve` with the fleet component on an embedded log in a temp directory.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer, type VigilServer } from '../../src/server.ts'
import { createFleetComponent } from '../../src/fleet/index.ts'

export interface TestContext { after: (fn: () => unknown) => void }

export async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-fleet-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function startFleetServer (dir: string, fleet: Record<string, unknown> = {}): Promise<VigilServer> {
  const config = validateConfig({
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    server: { host: '127.0.0.1', port: 0 },
    logging: { level: 'silent' },
    fleet: { ...fleet, signing: { keyFiles: [join(dir, 'fleet-command-ed25519.pem')], ...(fleet.signing as object | undefined) } }
  })
  const server = await startServer(config, { logger: createLogger(config), components: [context => createFleetComponent(context)] })
  await server.ready
  return server
}

export function heartbeat (nodeId: string = randomUUID(), fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    node_id: nodeId,
    hostname: `host-${nodeId.slice(0, 8)}`,
    os_profile: 'ArchVault',
    cloudflare_ok: true,
    services_ok: true,
    vaultmesh_root: '/var/lib/vaultmesh',
    timestamp: new Date().toISOString(),
    ...fields
  }
}

export async function post (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

export async function get (url: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(url)
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

/** Polls until check() returns a value other than undefined (the projector applies records asynchronously). */
export async function eventually<T> (check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}
