/**
 * Test helpers: a running `vigil serve` (embedded log, the audit component) on a temp directory,
 * with the local or the S3 store (moto from scripts/s3.ts, started once per test file).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer, type VigilServer } from '../../src/server.ts'
import { createAuditComponent } from '../../src/audit/component.ts'
import type { AuditService } from '../../src/audit/service.ts'
import { startS3, type S3Server } from '../../scripts/s3.ts'

export interface TestContext { after: (fn: () => unknown) => void }

let s3: Promise<S3Server> | undefined

/** One moto server per test process, stopped when the process ends. */
export function sharedS3 (): Promise<S3Server> {
  s3 ??= startS3().then(server => {
    process.once('beforeExit', () => { server.stop().catch(() => {}) })
    return server
  })
  return s3
}

export async function stopSharedS3 (): Promise<void> {
  if (s3 !== undefined) await (await s3).stop()
  s3 = undefined
}

export async function createBucket (server: S3Server, bucket = `audit-${randomUUID().slice(0, 8)}`): Promise<string> {
  const response = await fetch(`${server.endpoint}/${bucket}`, { method: 'PUT' })
  await response.arrayBuffer()
  if (!response.ok) throw new Error(`cannot create bucket ${bucket}: ${response.status}`)
  return bucket
}

export async function tempDir (t: TestContext, prefix = 'vigil-audit-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export type Backend = 'local' | 's3'

export interface AuditServer {
  server: VigilServer
  url: string
  service: AuditService
  dir: string
  logs: string[]
  config: Record<string, unknown>
  post (body: unknown): Promise<{ status: number, body: any }>
  get (path: string): Promise<{ status: number, body: any }>
  close (): Promise<void>
}

/** Starts `vigil serve` with the audit component; `audit` overrides audit config keys. */
export async function startAuditServer (t: TestContext, backend: Backend, audit: Record<string, any> = {}, options: { dir?: string, env?: Record<string, string> } = {}): Promise<AuditServer> {
  const owned = options.dir === undefined
  const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'vigil-audit-'))
  let s3Config = {}
  if (backend === 's3') {
    const server = await sharedS3()
    s3Config = { bucket: await createBucket(server), endpointUrl: server.endpoint, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, region: server.region, ...audit.s3 }
  }
  const auditConfig = {
    backend,
    flushIntervalMs: 100,
    retryInitialDelayMs: 50,
    retryMaxDelayMs: 200,
    ...audit,
    local: { path: join(dir, 'audit'), ...audit.local },
    s3: s3Config,
    checkpoint: { keyFile: join(dir, 'key.pem'), intervalMs: 1000, ...audit.checkpoint }
  }
  const config = validateConfig({ log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { port: 0 }, logging: { level: 'info' }, audit: auditConfig })
  const logs: string[] = []
  const logger = createLogger(config, new Writable({ write (chunk, _e, done) { logs.push(String(chunk)); done() } }))
  let component: ReturnType<typeof createAuditComponent> | undefined
  const server = await startServer(config, {
    logger,
    components: [context => (component = createAuditComponent(context, { env: options.env ?? {} }))]
  })
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await server.close()
  }
  // Close first (stopping writes a last checkpoint), then remove the directory.
  t.after(async () => {
    await close()
    if (owned) await rm(dir, { recursive: true, force: true })
  })
  await server.ready
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const response = await fetch(server.url + path, {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    })
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch {}
    return { status: response.status, body: parsed }
  }
  return {
    server,
    url: server.url,
    service: component?.service as AuditService,
    dir,
    logs,
    config: auditConfig,
    post: body => call('POST', '/v1/audit/events', body),
    get: path => call('GET', path),
    close
  }
}

/** Waits until `check` returns a truthy value (polling), or fails after `timeoutMs`. */
export async function waitFor<T> (check: () => Promise<T> | T, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Waits until the archiver has written every accepted event. */
export async function waitArchived (a: AuditServer, count: number): Promise<void> {
  await waitFor(async () => (await a.get('/v1/audit/status')).body.flushed_events >= count, 20_000, `${count} archived events`)
}
