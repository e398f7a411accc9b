/**
 * A real `vigil serve` (embedded log, every component) with one principal per role, for the
 * access-control tests.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer, type ComponentFactory, type VigilServer } from '../../src/server.ts'
import { serverComponents } from '../../src/components.ts'
import { Type } from '@sinclair/typebox'
import { assertActsForNode, hashToken, newToken } from '../../src/access/index.ts'
import { roles, type Role } from '../../src/http/roles.ts'

export { waitFor } from '../audit/helpers.ts'

export interface TestContext { after: (fn: () => unknown) => void }

export interface AccessServer {
  server: VigilServer
  url: string
  dir: string
  logs: string[]
  /** One token per role, its principal named after the role. */
  tokens: Record<Role, string>
  call (method: string, path: string, options?: { token?: string, body?: unknown, headers?: Record<string, string>, dispatcher?: unknown }): Promise<{ status: number, body: any, headers: Headers }>
}

export const agentNode = '5f0c6a62-3d56-4a8e-9a55-0d3c6f1e2b11'

/** A route that acts for the node named in its body, as the fleet's agent routes do. */
export const nodeRoute: ComponentFactory = () => ({
  name: 'node-route',
  routes: {
    plugin: async (app) => {
      app.post<{ Body: { node_id: string } }>('/test/agent/ping', {
        config: { access: 'agent' },
        schema: { body: Type.Object({ node_id: Type.String() }) }
      }, async (request) => {
        assertActsForNode(request, request.body.node_id)
        return { status: 'ok' }
      })
    }
  }
})

export async function startAccessServer (t: TestContext, overrides: { access?: Record<string, unknown>, server?: Record<string, unknown>, dir?: string, components?: ComponentFactory[], tokens?: Record<Role, string> } = {}): Promise<AccessServer> {
  const dir = overrides.dir ?? await mkdtemp(join(tmpdir(), 'vigil-access-'))
  const tokens = overrides.tokens ?? Object.fromEntries(roles.map(role => [role, newToken()])) as Record<Role, string>
  const principals = await Promise.all(roles.map(async role => ({
    name: `${role}-user`,
    roles: [role],
    tokenHash: await hashToken(tokens[role]),
    ...(role === 'agent' ? { nodeId: agentNode } : {})
  })))
  const config = validateConfig({
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    server: { port: 0, ...overrides.server },
    logging: { level: 'info' },
    access: { principals, ...overrides.access },
    audit: { local: { path: join(dir, 'audit') }, flushIntervalMs: 100, checkpoint: { keyFile: join(dir, 'key.pem'), intervalMs: 1000 } },
    fleet: { signing: { keyFiles: [join(dir, 'fleet-key.pem')] } }
  })
  const logs: string[] = []
  const logger = createLogger(config, new Writable({ write (chunk, _e, done) { logs.push(String(chunk)); done() } }))
  const server = await startServer(config, { logger, components: [...serverComponents, ...overrides.components ?? []] })
  t.after(async () => {
    await server.close()
    if (overrides.dir === undefined) await rm(dir, { recursive: true, force: true })
  })
  await server.ready
  return {
    server,
    url: server.url,
    dir,
    logs,
    tokens,
    async call (method, path, options: { token?: string, body?: unknown, headers?: Record<string, string>, dispatcher?: unknown } = {}) {
      const headers: Record<string, string> = { ...options.headers }
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
      let body: string | undefined
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
        headers['content-type'] ??= 'application/json'
      }
      const response = await fetch(server.url + path, { method, headers, body, ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }) } as RequestInit)
      const text = await response.text()
      let parsed: unknown = text
      try { parsed = JSON.parse(text) } catch {}
      return { status: response.status, body: parsed, headers: response.headers }
    }
  }
}
