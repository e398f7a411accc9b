/**
 * A quick throughput and latency check of the embedded log (not a test, not a gate):
 *   node bench/embedded-log-throughput.ts [records=500000] [valueBytes=100]
 * Prints produce records/s (large calls and many small concurrent calls), consume records/s
 * (a consumer group, committing after every poll) and produce-to-consume latency at 10k rec/s,
 * with the producer in this process and in another one.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { validateConfig } from '../src/config/load.ts'
import { createEmbeddedLog } from '../src/log/embedded/embedded-log.ts'
import type { Log, ProduceRecord } from '../src/log/types.ts'

const total = Number(process.argv[2] === 'producer' ? 0 : process.argv[2] ?? 500_000)
const valueBytes = Number(process.argv[2] === 'producer' ? 100 : process.argv[3] ?? 100)
const { embedded } = validateConfig({}).log

if (process.argv[2] === 'producer') {
  // The child of crossProcessLatency: produces one-record calls at the given rate.
  const [, , , path = '', rate = '10000', seconds = '5'] = process.argv
  const child = createEmbeddedLog({ path, ...embedded })
  await child.connect()
  const perTick = Number(rate) * 5 / 1000
  const start = performance.now()
  for (let tick = 0; tick < Number(seconds) * 200; tick++) {
    const wait = start + tick * 5 - performance.now()
    if (wait > 0) await sleep(wait)
    for (let i = 0; i < perTick; i++) {
      const value = Buffer.alloc(valueBytes)
      value.writeDoubleLE(performance.timeOrigin + performance.now(), 0)
      child.produce('latency-x', [{ value }]).catch((error: unknown) => { console.error(error) })
    }
  }
  await child.close()
  process.exit(0)
}

const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-'))
const path = join(dir, 'bench.db')
const log = createEmbeddedLog({ path, ...embedded })
await log.connect()

function makeRecords (count: number, keyed: boolean): ProduceRecord[] {
  const value = Buffer.alloc(valueBytes, 120)
  return Array.from({ length: count }, (_, i) => ({ key: keyed ? Buffer.from(`key-${i % 1000}`) : null, value }))
}

async function produceAll (topic: string, callSize: number, inFlight: number): Promise<number> {
  const batch = makeRecords(callSize, true)
  const calls = Math.ceil(total / callSize)
  let next = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < calls) {
      next++
      await log.produce(topic, batch)
    }
  }))
  return total / ((performance.now() - start) / 1000)
}

async function consumeAll (topic: string, group: string): Promise<number> {
  const consumer = log.consumer({ group, topics: [topic], autoOffsetReset: 'earliest' })
  let seen = 0
  const start = performance.now()
  while (seen < total) {
    const records = await consumer.poll({ maxRecords: 5000, timeoutMs: 1000 })
    if (records.length === 0) break
    seen += records.length
    const last = new Map<number, number>()
    for (const r of records) last.set(r.partition, r.offset + 1)
    await consumer.commit([...last].map(([partition, offset]) => ({ topic, partition, offset })))
  }
  const rate = seen / ((performance.now() - start) / 1000)
  await consumer.close()
  if (seen !== total) throw new Error(`consumed ${seen} of ${total}`)
  return rate
}

async function latency (log: Log, ratePerSecond: number, seconds: number): Promise<number[]> {
  await log.admin.createTopic({ name: 'latency', partitions: 4 })
  const consumer = log.consumer({ group: 'latency', topics: ['latency'] })
  await consumer.poll({ timeoutMs: 50 })
  const latencies: number[] = []
  const state = { producing: true }
  const consuming = (async () => {
    while (state.producing || latencies.length < ratePerSecond * seconds) {
      const records = await consumer.poll({ timeoutMs: 200 })
      const now = performance.now()
      for (const r of records) latencies.push(now - (r.value as Buffer).readDoubleLE(0))
      if (!state.producing && records.length === 0) break
    }
  })()
  const tickMs = 5
  const perTick = ratePerSecond * tickMs / 1000
  const start = performance.now()
  for (let tick = 0; tick < seconds * 1000 / tickMs; tick++) {
    const due = start + tick * tickMs
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    for (let i = 0; i < perTick; i++) {
      const value = Buffer.alloc(valueBytes)
      value.writeDoubleLE(performance.now(), 0)
      log.produce('latency', [{ value }]).catch((error: unknown) => { console.error(error) })
    }
  }
  state.producing = false
  await consuming
  await consumer.close()
  return latencies.sort((a, b) => a - b)
}

/** Same as latency(), with the producer in another process (writes noticed through PRAGMA data_version). */
async function crossProcessLatency (path: string, ratePerSecond: number, seconds: number): Promise<number[]> {
  await log.admin.createTopic({ name: 'latency-x', partitions: 4 })
  const consumer = log.consumer({ group: 'latency-x', topics: ['latency-x'] })
  await consumer.poll({ timeoutMs: 50 })
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'producer', path, String(ratePerSecond), String(seconds)], { stdio: 'inherit' })
  const latencies: number[] = []
  const state = { done: false }
  child.on('exit', () => { state.done = true })
  for (let idle = 0; idle < 10;) {
    const records = await consumer.poll({ timeoutMs: 200 })
    const now = performance.timeOrigin + performance.now()
    for (const r of records) latencies.push(now - (r.value as Buffer).readDoubleLE(0))
    idle = records.length === 0 && state.done ? idle + 1 : 0
  }
  await consumer.close()
  return latencies.sort((a, b) => a - b)
}

const pct = (sorted: number[], p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN).toFixed(2)
const summary = (sorted: number[]): string =>
  `(${sorted.length} records): p50 ${pct(sorted, 0.5)} ms, p95 ${pct(sorted, 0.95)} ms, p99 ${pct(sorted, 0.99)} ms, max ${pct(sorted, 1)} ms`

await log.admin.createTopic({ name: 'big-calls', partitions: 4 })
await log.admin.createTopic({ name: 'small-calls', partitions: 4 })
const big = await produceAll('big-calls', 1000, 8)
console.log(`produce, calls of 1000 records, 8 in flight:  ${Math.round(big).toLocaleString('en')} records/s`)
const small = await produceAll('small-calls', 10, 1000)
console.log(`produce, calls of 10 records, 1000 in flight: ${Math.round(small).toLocaleString('en')} records/s`)
const consumed = await consumeAll('big-calls', 'bench')
console.log(`consume (group, poll 5000, commit each poll): ${Math.round(consumed).toLocaleString('en')} records/s`)
const sorted = await latency(log, 10_000, 5)
console.log(`produce-to-consume latency at 10k rec/s, one process ${summary(sorted)}`)
const crossSorted = await crossProcessLatency(path, 10_000, 5)
console.log(`produce-to-consume latency at 10k rec/s, producer in another process ${summary(crossSorted)}`)
await log.close()
await rm(dir, { recursive: true, force: true })
