/**
 * A real `vigil serve` for the console's tests: every server component (registry, audit with the
 * local store, pipelines, console) on an embedded log in a temp directory, port 0, one API token.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer, type VigilServer } from '../../src/server.ts'
import { serverComponents } from '../../src/components.ts'

export interface TestContext { after: (fn: () => unknown) => void }

export const token = 'console-test-token-0123456789'

export interface ConsoleServer {
  server: VigilServer
  url: string
  dir: string
  /** fetch with the API token; JSON bodies are sent and parsed. */
  call (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number, body: any, headers: Headers }>
}

export async function startConsoleServer (t: TestContext, fleet: Record<string, unknown> = {}): Promise<ConsoleServer> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-console-'))
  const config = validateConfig({
    log: { url: `embedded:${join(dir, 'vigil.db')}` },
    server: { port: 0, apiTokens: [token] },
    logging: { level: 'warn' },
    audit: { backend: 'local', flushIntervalMs: 100, local: { path: join(dir, 'audit') }, checkpoint: { keyFile: join(dir, 'key.pem'), intervalMs: 1000 } },
    fleet: { signing: { keyFiles: [join(dir, 'fleet-key.pem')] }, ...fleet }
  })
  const logger = createLogger(config, new Writable({ write (_chunk, _e, done) { done() } }))
  const server = await startServer(config, { logger, components: serverComponents })
  t.after(async () => {
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })
  await server.ready
  const call: ConsoleServer['call'] = async (method, path, body, headers = {}) => {
    const response = await fetch(server.url + path, {
      method,
      redirect: 'manual',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) })
    })
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch {}
    return { status: response.status, body: parsed, headers: response.headers }
  }
  return { server, url: server.url, dir, call }
}

/** Waits until `check` returns a truthy value (polling), or fails after `timeoutMs`. */
export async function waitFor<T> (check: () => Promise<T> | T, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
