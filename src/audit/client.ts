/**
 * The TypeScript producer client, following CAIPE's producer contract (ServiceBackend):
 * `record()` never blocks and never throws; events wait in a bounded buffer that is sent every
 * `flushIntervalMs` (1 s) or as soon as it holds `maxBatchEvents` (100); each POST times out
 * after `timeoutMs` (2 s); on failure the client warns and counts the dropped events.
 *
 * Opt-in durable spool (`spoolDir`): a batch that cannot be delivered (and events that overflow
 * the buffer, or are still buffered at close) are written to a file in the spool directory and
 * fsynced, then sent again with backoff until the service takes them, even after a restart of
 * the producer. Every event gets its `audit_event_id` on the client, so a batch sent twice
 * (the service stored it but the answer was lost) carries the same ids.
 *
 *   const audit = createAuditClient({ url: 'http://127.0.0.1:8080', spoolDir: './audit-spool' })
 *   audit.record({ type: 'auth', action: 'login', outcome: 'allow' })
 *   await audit.close()
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { open, readdir, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Agent } from 'undici'

export interface AuditClientOptions {
  /** Base URL of the audit service (CAIPE: AUDIT_SERVICE_URL, default http://audit-service:8010). */
  url?: string
  flushIntervalMs?: number
  maxBatchEvents?: number
  timeoutMs?: number
  /** Most events held in memory; more are dropped (or spooled). Default 10 000. */
  maxBufferEvents?: number
  /** Extra request headers, e.g. { authorization: 'Bearer …' }. */
  headers?: Record<string, string>
  /** PEM CA bundle that the service's HTTPS certificate must chain to (a private CA); the system's CAs otherwise. */
  ca?: string | Buffer
  /** Directory of the durable spool; off when undefined. */
  spoolDir?: string
  /** Largest spool in bytes; beyond it batches are dropped (and counted). Default 256 MiB. */
  maxSpoolBytes?: number
  /** Where warnings go (default: console.warn). Never receives the headers. */
  warn?: (message: string, details: Record<string, unknown>) => void
}

export interface AuditClientStats {
  /** Events the service acknowledged (202). */
  sent: number
  /** Events lost: buffer full without a spool, failed delivery without a spool, spool full. */
  dropped: number
  /** Requests that failed (timeout, network, non-2xx). */
  failedRequests: number
  /** Events waiting in the spool. */
  spooled: number
  /** Events waiting in memory. */
  buffered: number
}

export interface AuditClient {
  /** Queues one event; returns false when it had to be dropped. Never throws. */
  record (event: Record<string, unknown>): boolean
  /** Sends what is buffered now (and what the spool holds). Never throws. */
  flush (): Promise<void>
  /** Flushes, spools what could not be sent (with a spool), and stops the timer. */
  close (): Promise<void>
  readonly stats: Readonly<AuditClientStats>
}

export function createAuditClient (options: AuditClientOptions = {}): AuditClient {
  const url = `${(options.url ?? process.env.AUDIT_SERVICE_URL ?? 'http://audit-service:8010').replace(/\/+$/, '')}/v1/audit/events`
  const flushIntervalMs = options.flushIntervalMs ?? 1000
  const maxBatch = options.maxBatchEvents ?? 100
  const timeoutMs = options.timeoutMs ?? 2000
  const maxBuffer = options.maxBufferEvents ?? 10_000
  const maxSpoolBytes = options.maxSpoolBytes ?? 256 * 1024 * 1024
  const warn = options.warn ?? ((message: string, details: Record<string, unknown>) => console.warn(`audit client: ${message}`, details))
  const spoolDir = options.spoolDir
  if (spoolDir !== undefined) mkdirSync(spoolDir, { recursive: true })
  const stats: AuditClientStats = { sent: 0, dropped: 0, failedRequests: 0, spooled: 0, buffered: 0 }
  let buffer: Array<Record<string, unknown>> = []
  let overflow: Array<Record<string, unknown>> = []
  let sending: Promise<void> | undefined
  let closed = false
  let spoolBytes = 0
  let spoolSeq = 0
  let spoolRetryAt = 0
  let spoolFailures = 0
  const tls = tlsInit(options.ca)

  const post = async (events: Array<Record<string, unknown>>): Promise<string | null> => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(timeoutMs),
        ...tls
      } as RequestInit)
      await response.arrayBuffer().catch(() => {})
      if (response.status >= 200 && response.status < 300) return null
      return `HTTP ${response.status}`
    } catch (error) {
      const e = error as Error
      return e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : e.message
    }
  }

  const spool = async (events: Array<Record<string, unknown>>): Promise<boolean> => {
    if (spoolDir === undefined) return false
    const text = events.map(e => JSON.stringify(e)).join('\n') + '\n'
    if (spoolBytes + text.length > maxSpoolBytes) return false
    const file = join(spoolDir, `${Date.now().toString().padStart(15, '0')}-${process.pid}-${String(spoolSeq++).padStart(6, '0')}.ndjson`)
    try {
      const handle = await open(file, 'wx', 0o600)
      try {
        await handle.writeFile(text)
        await handle.sync()
      } finally {
        await handle.close()
      }
    } catch (error) {
      warn('cannot write to the spool', { spoolDir, error: (error as Error).message })
      return false
    }
    spoolBytes += text.length
    stats.spooled += events.length
    return true
  }

  const deliver = async (events: Array<Record<string, unknown>>): Promise<void> => {
    const problem = await post(events)
    if (problem === null) {
      stats.sent += events.length
      return
    }
    stats.failedRequests++
    if (await spool(events)) {
      warn('audit service unavailable; batch spooled to disk', { url, events: events.length, problem })
      return
    }
    stats.dropped += events.length
    warn('audit service unavailable; batch dropped', { url, events: events.length, problem, dropped: stats.dropped })
  }

  const replaySpool = async (): Promise<void> => {
    if (spoolDir === undefined || Date.now() < spoolRetryAt) return
    let files: string[]
    try {
      files = (await readdir(spoolDir)).filter(f => f.endsWith('.ndjson')).sort()
    } catch {
      return
    }
    for (const name of files) {
      const path = join(spoolDir, name)
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch {
        continue
      }
      const events = text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
      for (let i = 0; i < events.length; i += maxBatch) {
        const problem = await post(events.slice(i, i + maxBatch))
        if (problem !== null) {
          stats.failedRequests++
          spoolFailures++
          spoolRetryAt = Date.now() + Math.min(60_000, flushIntervalMs * 2 ** Math.min(spoolFailures, 6))
          return // keep the file: parts already sent are sent again later (same audit_event_ids)
        }
      }
      spoolFailures = 0
      await unlink(path).catch(() => {})
      spoolBytes = Math.max(0, spoolBytes - text.length)
      stats.spooled = Math.max(0, stats.spooled - events.length)
      stats.sent += events.length
    }
  }

  const flushOnce = async (): Promise<void> => {
    while (buffer.length > 0 || overflow.length > 0) {
      if (overflow.length > 0) {
        const spilled = overflow
        overflow = []
        if (!await spool(spilled)) {
          stats.dropped += spilled.length
          warn('audit buffer full; events dropped', { dropped: stats.dropped })
        }
      }
      const batch = buffer.slice(0, maxBatch)
      buffer = buffer.slice(batch.length)
      stats.buffered = buffer.length
      if (batch.length > 0) await deliver(batch)
    }
    await replaySpool()
  }

  const flush = (): Promise<void> => {
    sending ??= flushOnce().catch(error => warn('audit flush failed', { error: (error as Error).message })).finally(() => { sending = undefined })
    return sending
  }

  const timer = setInterval(() => { flush().catch(() => {}) }, flushIntervalMs)
  timer.unref()

  return {
    record (event) {
      if (closed) {
        stats.dropped++
        return false
      }
      try {
        const copy = { ...event }
        if (spoolDir !== undefined && (copy.audit_event_id === undefined || copy.audit_event_id === null)) copy.audit_event_id = randomUUID()
        if (buffer.length >= maxBuffer) {
          if (spoolDir === undefined) {
            stats.dropped++
            return false
          }
          overflow.push(copy)
        } else {
          buffer.push(copy)
          stats.buffered = buffer.length
        }
        if (buffer.length >= maxBatch && sending === undefined) flush().catch(() => {})
        return true
      } catch {
        stats.dropped++
        return false
      }
    },
    flush,
    async close () {
      closed = true
      clearInterval(timer)
      await sending
      await flush()
    },
    get stats () { return { ...stats } }
  }
}

/**
 * A single-event post, as CAIPE's direct producers do it (1 s timeout): resolves true when the
 * service took it, false (after a warning) otherwise. Never throws.
 */
export async function sendAuditEvent (event: Record<string, unknown>, options: { url?: string, timeoutMs?: number, headers?: Record<string, string>, ca?: string | Buffer, warn?: (message: string, details: Record<string, unknown>) => void } = {}): Promise<boolean> {
  const url = `${(options.url ?? process.env.AUDIT_SERVICE_URL ?? 'http://audit-service:8010').replace(/\/+$/, '')}/v1/audit/events`
  const warn = options.warn ?? ((message: string, details: Record<string, unknown>) => console.warn(`audit: ${message}`, details))
  const timeoutMs = options.timeoutMs ?? 1000
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...options.headers }, body: JSON.stringify(event), signal: AbortSignal.timeout(timeoutMs), ...tlsInit(options.ca) } as RequestInit)
    await response.arrayBuffer().catch(() => {})
    if (response.ok) return true
    warn('audit event dropped', { url, status: response.status })
  } catch (error) {
    const e = error as Error
    warn('audit event dropped', { url, problem: e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : e.message })
  }
  return false
}

/** fetch's options that make it check the server against a private CA (Node's fetch takes an undici dispatcher). */
function tlsInit (ca: string | Buffer | undefined): { dispatcher?: Agent } {
  return ca === undefined ? {} : { dispatcher: new Agent({ connect: { ca } }) }
}
