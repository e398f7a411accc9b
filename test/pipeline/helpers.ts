/**
 * Shared helpers of the pipeline and dispatcher tests: logs on the real backends (embedded, and
 * Kafka when TEST_KAFKA is set), quiet loggers that keep their lines, and polling waits.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { validateConfig } from '../../src/config/load.ts'
import { createEmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import type { Log, LogRecord } from '../../src/log/types.ts'
import { createLogger, type Logger } from '../../src/logger.ts'

export interface TestContext { after: (fn: () => unknown) => void }

export const kafkaBootstrap = process.env.TEST_KAFKA
export const kafkaSkip = kafkaBootstrap === undefined ? 'TEST_KAFKA not set (npm test starts a broker and sets it)' : false

export interface OpenedLog {
  log: Log
  url: string
  /** Runs `fn` after the test, before the log closes (last deferred, first run). */
  defer: (fn: () => unknown) => void
}

export interface Backend {
  name: 'embedded' | 'kafka'
  skip: string | false
  /** A connected log, closed after the test; `url` reuses the same storage. */
  open: (t: TestContext, url?: string) => Promise<OpenedLog>
}

function withCleanup (t: TestContext, log: Log, url: string): OpenedLog {
  const cleanups: Array<() => unknown> = []
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn()
    await log.close()
  })
  return { log, url, defer: (fn) => { cleanups.push(fn) } }
}

export const backends: Backend[] = [
  {
    name: 'embedded',
    skip: false,
    async open (t, url) {
      let logUrl = url
      if (logUrl === undefined) {
        const dir = mkdtempSync(join(tmpdir(), 'vigil-pipeline-'))
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        logUrl = `embedded:${join(dir, 'log.db')}`
      }
      const config = validateConfig({ log: { url: logUrl } })
      const log = createEmbeddedLog({ path: logUrl.slice('embedded:'.length), ...config.log.embedded })
      await log.connect()
      return withCleanup(t, log, logUrl)
    }
  },
  {
    name: 'kafka',
    skip: kafkaSkip,
    async open (t, url) {
      const logUrl = url ?? `kafka://${kafkaBootstrap as string}`
      const { createLog } = await import('../../src/log/open.ts')
      const log = createLog(validateConfig({ log: { url: logUrl, kafka: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 } } }))
      await log.connect()
      return withCleanup(t, log, logUrl)
    }
  }
]

export function embedded (): Backend {
  return backends[0] as Backend
}

export function topicName (prefix = 't'): string {
  return `${prefix}-${randomUUID()}`
}

export interface CapturedLogger {
  logger: Logger
  lines: () => Array<Record<string, unknown>>
  text: () => string
}

export function captureLogger (level = 'info'): CapturedLogger {
  const chunks: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { chunks.push(String(chunk)); done() } })
  const logger = createLogger({ logging: { level: level as 'info' } }, stream)
  return {
    logger,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
  }
}

export async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** Every record of a topic, all partitions. */
export async function readAll (log: Log, topic: string): Promise<LogRecord[]> {
  const description = await log.admin.describeTopic(topic)
  const out: LogRecord[] = []
  for (const p of description.partitions) {
    let offset = p.lowOffset
    while (offset < p.highOffset) {
      const batch = await log.read(topic, p.partition, offset, 1000)
      if (batch.length === 0) break
      out.push(...batch)
      offset = (batch[batch.length - 1] as LogRecord).offset + 1
    }
  }
  return out
}

/**
 * Records of `topic` the group has not committed, over every partition of the topic (a partition
 * the group never committed counts from its first stored offset). Infinity while unknown.
 */
export async function committedLag (log: Log, group: string, topic: string): Promise<number> {
  try {
    const [description, state] = await Promise.all([log.admin.describeTopic(topic), log.admin.describeGroup(group)])
    let lag = 0
    for (const p of description.partitions) {
      const committed = state.offsets.find(o => o.topic === topic && o.partition === p.partition)?.committedOffset ?? null
      lag += p.highOffset - (committed ?? p.lowOffset)
    }
    return lag
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

export function json (value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value))
}

/** Pipeline settings for tests: fast retries, fast commits. */
export function testSettings (overrides: Record<string, unknown> = {}, retry: Record<string, unknown> = {}) {
  return validateConfig({
    pipelines: {
      commitIntervalMs: 20,
      pollTimeoutMs: 100,
      stopTimeoutMs: 5000,
      ...overrides,
      retry: { initialDelayMs: 10, maxDelayMs: 50, jitterRatio: 0, ...retry }
    }
  }).pipelines
}
