/**
 * The embedded log with other processes on the same file (test/fixtures/embedded-peer.ts):
 * reading and writing while this process writes, kill -9 durability of acknowledged records,
 * and a consumer group whose members live in different processes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { validateConfig } from '../../src/config/load.ts'
import { createEmbeddedLog } from '../../src/log/embedded/embedded-log.ts'
import { isVigilError } from '../../src/errors.ts'
import type { Log, LogRecord } from '../../src/log/types.ts'

type TestContext = { after: (fn: () => unknown) => void, diagnostic: (message: string) => void }

const deadlineMs = 30_000
const peerScript = new URL('../fixtures/embedded-peer.ts', import.meta.url).pathname

async function tempDb (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-embedded-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'log.db')
}

async function openLog (t: TestContext, path: string): Promise<Log> {
  const { embedded } = validateConfig({ log: { url: `embedded:${path}`, embedded: { maintenanceIntervalMs: 200 } } }).log
  const log = createEmbeddedLog({ path, ...embedded })
  await log.connect()
  t.after(() => log.close())
  return log
}

interface Peer {
  child: ChildProcess
  /** Every JSON line printed so far. */
  lines: Array<Record<string, unknown>>
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string>
  waitForLine: (predicate: (line: Record<string, unknown>) => boolean, what: string) => Promise<Record<string, unknown>>
}

function startPeer (t: TestContext, settings: Record<string, unknown>): Peer {
  const child = spawn(process.execPath, [peerScript, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Array<Record<string, unknown>> = []
  let stderr = ''
  const listeners = new Set<() => void>()
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>)
    for (const listener of listeners) listener()
  })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | string>(resolve => child.on('exit', (code, signal) => {
    resolve(code ?? signal ?? -1)
    for (const listener of listeners) listener()
  }))
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const waitForLine = (predicate: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(predicate)
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`peer exited before ${what}: ${stderr}`))
        }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for the peer: ${what}; stderr: ${stderr}`)) }, deadlineMs)
      const done = (): void => { clearTimeout(timer); listeners.delete(check) }
      listeners.add(check)
      check()
    })
  return { child, lines, exited, waitForLine }
}

async function readAll (log: Log, topic: string): Promise<LogRecord[]> {
  const { partitions } = await log.admin.describeTopic(topic)
  const records: LogRecord[] = []
  for (const { partition } of partitions) {
    for (let offset = 0; ;) {
      const batch = await log.read(topic, partition, offset, 1000)
      if (batch.length === 0) break
      records.push(...batch)
      offset = (batch.at(-1)?.offset ?? offset) + 1
    }
  }
  return records
}

test('another process writes while this one writes and consumes, and reads what this one wrote', async (t) => {
  const path = await tempDb(t)
  const log = await openLog(t, path)
  await log.admin.createTopic({ name: 'shared', partitions: 2 })
  const consumer = log.consumer({ group: 'here', topics: ['shared'], autoOffsetReset: 'earliest' })
  t.after(() => consumer.close())
  assert.deepEqual(await consumer.poll({ timeoutMs: 50 }), [])

  // Both processes append to the same partitions at the same time.
  const peer = startPeer(t, { mode: 'produce', path, topic: 'shared', count: 2000, prefix: 'there' })
  const received: LogRecord[] = []
  const consuming = (async () => {
    while (received.length < 4000) received.push(...await consumer.poll({ timeoutMs: deadlineMs }))
  })()
  for (let i = 0; i < 2000; i += 100) {
    await log.produce('shared', Array.from({ length: 100 }, (_, j) => ({ value: Buffer.from(`here-${i + j}`) })))
  }
  await peer.waitForLine(line => line.done === 2000, 'produced 2000')
  assert.equal(await peer.exited, 0)
  await consuming

  assert.equal(received.length, 4000)
  for (const partition of [0, 1]) {
    const offsets = received.filter(r => r.partition === partition).map(r => r.offset)
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${partition}: every offset once, in order, no holes`)
  }
  for (const prefix of ['here', 'there']) {
    const numbers = received.map(r => r.value?.toString() ?? '').filter(v => v.startsWith(`${prefix}-`)).map(v => Number(v.slice(prefix.length + 1)))
    assert.deepEqual([...numbers].sort((a, b) => a - b), Array.from({ length: 2000 }, (_, i) => i), `all records from ${prefix}`)
  }

  const reader = startPeer(t, { mode: 'read', path, topic: 'shared' })
  const { values } = await reader.waitForLine(line => Array.isArray(line.values), 'read') as { values: string[] }
  assert.equal(values.length, 4000)
  assert.equal(new Set(values).size, 4000)
})

test('kill -9: every record acknowledged to a producer survives', async (t) => {
  const path = await tempDb(t)
  const rounds = 5
  const acked: string[] = []
  for (let round = 0; round < rounds; round++) {
    const peer = startPeer(t, { mode: 'produce-loop', path, topic: 'durable', prefix: `r${round}` })
    await peer.waitForLine(line => Array.isArray(line.acked), 'a first acknowledgement')
    await new Promise(resolve => setTimeout(resolve, 50 + Math.random() * 400))
    peer.child.kill('SIGKILL')
    assert.equal(await peer.exited, 'SIGKILL')
    const ids = peer.lines.flatMap(line => line.acked as string[])
    t.diagnostic(`round ${round}: ${ids.length} records acknowledged before kill -9`)
    acked.push(...ids)
  }
  const log = await openLog(t, path)
  const stored = new Map<string, number>()
  for (const r of await readAll(log, 'durable')) {
    const id = r.value?.toString() ?? ''
    stored.set(id, (stored.get(id) ?? 0) + 1)
  }
  const missing = acked.filter(id => stored.get(id) !== 1)
  t.diagnostic(`${acked.length} acknowledged, ${stored.size} stored (unacknowledged writes may be stored too), ${missing.length} missing`)
  assert.ok(acked.length > 0)
  assert.deepEqual(missing, [], 'acknowledged records missing (or duplicated) after kill -9')
})

test('a group across processes: a killed member expires, a leaving member hands over; no committed record is handled again', async (t) => {
  const path = await tempDb(t)
  const log = await openLog(t, path)
  await log.admin.createTopic({ name: 'jobs', partitions: 4 })
  const total = 600
  await log.produce('jobs', Array.from({ length: 200 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(String(i)) })))

  // 1. A member in another process takes every partition, commits some work and is killed.
  const killed = startPeer(t, { mode: 'member', path, topic: 'jobs', group: 'jobs', sessionTimeoutMs: 1000 })
  await killed.waitForLine(line => Array.isArray(line.committed), 'the peer commits work')
  killed.child.kill('SIGKILL')
  await killed.exited

  // 2. A member here takes over once the dead one expires, from its committed offsets.
  const committedCount = new Map<string, number>()
  const count = (values: string[]): void => { for (const v of values) committedCount.set(v, (committedCount.get(v) ?? 0) + 1) }
  for (const line of killed.lines) if (Array.isArray(line.committed)) count(line.committed as string[])
  const handledHere: string[] = []
  const consumer = log.consumer({ group: 'jobs', topics: ['jobs'], autoOffsetReset: 'earliest', sessionTimeoutMs: 1000 })
  t.after(() => consumer.close())
  const stop = new AbortController()
  const running = (async () => {
    while (!stop.signal.aborted) {
      const records = await consumer.poll({ maxRecords: 20, timeoutMs: 100, signal: stop.signal })
      if (records.length === 0) continue
      const values = records.map(r => r.value?.toString() ?? '')
      handledHere.push(...values)
      const last = new Map<number, number>()
      for (const r of records) last.set(r.partition, r.offset + 1)
      try {
        await consumer.commit([...last].map(([partition, offset]) => ({ topic: 'jobs', partition, offset })))
        count(values)
      } catch (error) {
        if (!isVigilError(error, 'VGL_LOG_NOT_ASSIGNED')) throw error
      }
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  })()
  const handledByKilled = new Set(killed.lines.flatMap(line => (line.handled as string[] | undefined) ?? []))
  await log.produce('jobs', Array.from({ length: 200 }, (_, i) => ({ key: Buffer.from(`k${200 + i}`), value: Buffer.from(String(200 + i)) })))

  // 3. A second peer joins, takes half of the partitions, handles records and leaves cleanly.
  const leaving = startPeer(t, { mode: 'member', path, topic: 'jobs', group: 'jobs', sessionTimeoutMs: 1000, stopAfter: 50 })
  await leaving.waitForLine(line => Array.isArray(line.assigned) && (line.assigned as number[]).length > 0, 'the second peer gets partitions')
  await log.produce('jobs', Array.from({ length: 200 }, (_, i) => ({ key: Buffer.from(`k${400 + i}`), value: Buffer.from(String(400 + i)) })))
  await leaving.waitForLine(line => line.left === true, 'the second peer leaves')
  assert.equal(await leaving.exited, 0)
  for (const line of leaving.lines) if (Array.isArray(line.committed)) count(line.committed as string[])

  const handledByLeaving = leaving.lines.flatMap(line => (line.handled as string[] | undefined) ?? [])
  const handledAnywhere = (): Set<string> => new Set([...handledByKilled, ...handledByLeaving, ...handledHere])
  const deadline = Date.now() + deadlineMs
  while (handledAnywhere().size < total || (await log.admin.describeGroup('jobs')).totalLag > 0) {
    assert.ok(Date.now() < deadline, `timed out: ${handledAnywhere().size} of ${total} records handled`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  stop.abort()
  await running
  assert.equal(handledAnywhere().size, total, 'nothing lost')
  const twice = [...committedCount].filter(([, n]) => n > 1).map(([v]) => v)
  assert.deepEqual(twice, [], 'records committed by two members: a committed record was handled again')
  assert.ok(handledByLeaving.length >= 50, 'the second peer handled records')
  assert.equal(consumer.assignment().length, 4, 'the member here owns every partition again')
  const redelivered = handledHere.filter(v => handledByKilled.has(v)).length
  t.diagnostic(`records handled by the killed member and again here (never committed before the kill): ${redelivered}`)
  const description = await log.admin.describeGroup('jobs')
  assert.equal(description.members.length, 1)
  assert.equal(description.totalLag, 0)
})

test('a writer in another process holding the lock makes produce wait (busyTimeoutMs), or fail retryably when it holds it longer; the event loop runs on meanwhile', async (t) => {
  const path = await tempDb(t)
  const log = await openLog(t, path)
  await log.admin.createTopic({ name: 'locked' })
  const impatient = createEmbeddedLog({ path, ...validateConfig({ log: { embedded: { busyTimeoutMs: 50 } } }).log.embedded })
  await impatient.connect()
  t.after(() => impatient.close())

  const holder = startPeer(t, { mode: 'hold-lock', path, holdMs: 1000 })
  await holder.waitForLine(line => line.locked === true, 'the write lock')
  // Readers are never blocked by a writer (WAL).
  assert.deepEqual(await log.read('locked', 0, 0, 10), [])
  await assert.rejects(impatient.produce('locked', [{ value: Buffer.from('too early') }]),
    (e) => isVigilError(e, 'VGL_LOG_BACKEND_ERROR') && e.retryable && /locked/.test(e.message))
  // The default busyTimeoutMs (5 s) outlasts the other writer's transaction. The wait happens
  // on the log's writer thread: the event loop keeps its timers (a 10 ms tick is never late by
  // anything near the lock's remaining hold time).
  let latestTick = performance.now()
  let worstGapMs = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    worstGapMs = Math.max(worstGapMs, now - latestTick)
    latestTick = now
  }, 10)
  const [metadata] = await log.produce('locked', [{ value: Buffer.from('waited') }])
  clearInterval(ticker)
  assert.ok(worstGapMs < 500, `the event loop stalled for ${worstGapMs.toFixed(0)} ms while the write lock was held elsewhere`)
  assert.equal(await holder.exited, 0)
  assert.equal(metadata?.offset, 0)
  assert.deepEqual((await log.read('locked', 0, 0, 10)).map(r => r.value?.toString()), ['waited'])
})
