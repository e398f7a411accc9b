/**
 * The log benchmark, both backends (npm run bench:log):
 *
 *   npm run bench:log                              embedded and Kafka (a broker it starts)
 *   npm run bench:log -- --backend kafka --kafka 127.0.0.1:19092
 *   npm run bench:log -- --reps 5 --small 1000000 --large 200000
 *
 * For each backend, each repetition measures:
 * - produce throughput, 100-byte and 1 KiB values, unkeyed, in calls of 1000 records with 4 calls
 *   in flight (Kafka: idempotent producer, acks=all);
 * - consume throughput of the same records through a consumer group (clock from onAssign to the
 *   last record, so the group join is not counted; Kafka's tool reports the same "fetch" rate);
 * - produce-to-consume latency at a steady 10k records/s for a few seconds: each record carries
 *   the time it was due, so a stalled producer shows up as latency (no coordinated omission).
 * For Kafka it also runs, against the same broker, Apache Kafka's own ProducerPerformance
 * (acks=all, idempotent, batch.size=1 MiB and linger.ms=5 so that it batches as much as Vigil's
 * 1000-record calls do; with the default 16 KiB batches it is several times slower here) and
 * ConsumerPerformance (default 1 MiB per partition per fetch, as Vigil's consumer) with the same
 * record size and count, and prints Vigil's throughput as a ratio of theirs. Figures are medians
 * over the repetitions; MB is 2^20 bytes, as Kafka's tools count it.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { kafkaRuntime, kafkaVersion, startKafka, type KafkaCluster } from '../scripts/kafka.ts'
import { validateConfig } from '../src/config/load.ts'
import { createEmbeddedLog } from '../src/log/embedded/embedded-log.ts'
import { createKafkaLog } from '../src/log/kafka/kafka-log.ts'
import type { Log, ProduceRecord } from '../src/log/types.ts'

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'both' },
    kafka: { type: 'string' },
    reps: { type: 'string', default: '3' },
    small: { type: 'string', default: '1000000' },
    large: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '1' },
    'latency-seconds': { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (args.help === true) {
  process.stdout.write('Usage: npm run bench:log -- [--backend both|embedded|kafka] [--kafka host:port] [--reps 3] [--small 1000000] [--large 200000] [--partitions 1] [--latency-seconds 5]\n')
  process.exit(0)
}

const reps = Number(args.reps)
const partitions = Number(args.partitions)
const latencySeconds = Number(args['latency-seconds'])
const latencyRate = 10_000
const batchRecords = 1000
const callsInFlight = 4
const sizes = [{ label: '100 B', bytes: 100, count: Number(args.small) }, { label: '1 KiB', bytes: 1024, count: Number(args.large) }]
const MB = 1024 * 1024
const toolsProducerProps = ['acks=all', 'enable.idempotence=true', 'batch.size=1048576', 'linger.ms=5']

interface Rate { recordsPerSecond: number, mbPerSecond: number }
interface Latency {
  p50: number
  p95: number
  p99: number
  rate: number
  /** This process's event-loop delay meanwhile (ms): how long a ready callback waited for the CPU. */
  loopP99: number
}
/** Kafka's EndToEndLatency tool: one record at a time, produce → consume round trips (ms, whole numbers). */
interface ToolLatency { avg: number, p50: number, p99: number, p999: number }
interface Figures {
  produce: Map<string, Rate[]>
  consume: Map<string, Rate[]>
  latency: Latency[]
  kafkaProduce: Map<string, Rate[]>
  kafkaConsume: Map<string, Rate[]>
  kafkaLatency: ToolLatency[]
}

const newFigures = (): Figures => ({ produce: new Map(), consume: new Map(), latency: [], kafkaProduce: new Map(), kafkaConsume: new Map(), kafkaLatency: [] })
const push = (map: Map<string, Rate[]>, key: string, rate: Rate) => map.set(key, [...(map.get(key) ?? []), rate])
const rateOf = (count: number, bytes: number, seconds: number): Rate => ({ recordsPerSecond: count / seconds, mbPerSecond: count * bytes / MB / seconds })

// ── Vigil's side ────────────────────────────────────────────────────────────────────────────

async function produce (log: Log, topic: string, count: number, bytes: number): Promise<Rate> {
  const value = Buffer.alloc(bytes, 'x')
  const batch: ProduceRecord[] = Array.from({ length: batchRecords }, () => ({ value }))
  let sent = 0
  const started = performance.now()
  const worker = async () => {
    while (sent < count) {
      const n = Math.min(batchRecords, count - sent)
      sent += n
      await log.produce(topic, n === batchRecords ? batch : batch.slice(0, n))
    }
  }
  await Promise.all(Array.from({ length: callsInFlight }, worker))
  return rateOf(count, bytes, (performance.now() - started) / 1000)
}

async function consume (log: Log, topic: string, count: number, bytes: number): Promise<Rate> {
  let started = 0
  const consumer = log.consumer({ group: `bench-${randomUUID()}`, topics: [topic], autoOffsetReset: 'earliest', onAssign: () => { started = performance.now() } })
  try {
    let read = 0
    const deadline = Date.now() + 600_000
    while (read < count) {
      if (Date.now() > deadline) throw new Error(`consumed only ${read} of ${count} records`)
      const records = await consumer.poll({ maxRecords: 5000, timeoutMs: 1000 })
      read += records.length
    }
    return rateOf(count, bytes, (performance.now() - started) / 1000)
  } finally {
    await consumer.close()
  }
}

/** Records due at a steady rate; each carries its due time; the consumer measures now - due. */
async function latency (log: Log, topic: string): Promise<Latency> {
  const consumer = log.consumer({ group: `bench-${randomUUID()}`, topics: [topic], autoOffsetReset: 'latest' })
  try {
    while (consumer.assignment().length === 0) await consumer.poll({ timeoutMs: 100 })
    await consumer.poll({ timeoutMs: 200 })
    const total = latencyRate * latencySeconds
    const samples = new Float64Array(total)
    const loop = monitorEventLoopDelay({ resolution: 1 })
    loop.enable()
    let received = 0
    const reading = (async () => {
      const deadline = Date.now() + latencySeconds * 1000 + 60_000
      while (received < total && Date.now() < deadline) {
        const records = await consumer.poll({ maxRecords: 5000, timeoutMs: 500 })
        const now = performance.timeOrigin + performance.now()
        for (const r of records) if (received < total) samples[received++] = now - (r.value as Buffer).readDoubleBE(0)
      }
    })()
    // The producer sends whatever is due whenever no call is in flight (at most 2 calls): if the
    // log is slow, records wait, and their latency counts from when they were due.
    const start = performance.timeOrigin + performance.now()
    let due = 0
    let inFlight = 0
    await new Promise<void>((resolve, reject) => {
      const tick = () => {
        const now = performance.timeOrigin + performance.now()
        const target = Math.min(total, Math.floor((now - start) * latencyRate / 1000))
        if (target > due && inFlight < 2) {
          const records: ProduceRecord[] = []
          for (; due < target; due++) {
            const value = Buffer.alloc(100)
            value.writeDoubleBE(start + due * 1000 / latencyRate, 0)
            records.push({ value })
          }
          inFlight++
          log.produce(topic, records).then(() => { inFlight-- }, reject)
        }
        if (due >= total) resolve()
        else setTimeout(tick, 1)
      }
      tick()
    })
    await reading
    loop.disable()
    const sorted = Array.from(samples.subarray(0, received)).sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), rate: received / latencySeconds, loopP99: loop.percentile(99) / 1e6 }
  } finally {
    await consumer.close()
  }
}

async function benchVigil (log: Log, figures: Figures, rep: number, kafka?: { bootstrap: string }): Promise<void> {
  for (const size of sizes) {
    const topic = `bench-${size.bytes}-${randomUUID()}`
    await log.admin.createTopic({ name: topic, partitions, maxMessageBytes: 2 * MB })
    const produced = await produce(log, topic, size.count, size.bytes)
    push(figures.produce, size.label, produced)
    const consumed = await consume(log, topic, size.count, size.bytes)
    push(figures.consume, size.label, consumed)
    await log.admin.deleteTopic(topic)
    line(`  rep ${rep} ${size.label}: Vigil produce ${fmt(produced.recordsPerSecond)} rec/s, consume ${fmt(consumed.recordsPerSecond)} rec/s`)
    if (kafka !== undefined) {
      const theirs = `bench-tools-${size.bytes}-${randomUUID()}`
      await log.admin.createTopic({ name: theirs, partitions, maxMessageBytes: 2 * MB })
      const p = await producerPerformance(kafka.bootstrap, theirs, size.count, size.bytes)
      push(figures.kafkaProduce, size.label, p)
      const c = await consumerPerformance(kafka.bootstrap, theirs, size.count, size.bytes)
      push(figures.kafkaConsume, size.label, c)
      await log.admin.deleteTopic(theirs)
      line(`  rep ${rep} ${size.label}: Kafka tools produce ${fmt(p.recordsPerSecond)} rec/s, consume ${fmt(c.recordsPerSecond)} rec/s`)
    }
  }
  const topic = `bench-latency-${randomUUID()}`
  await log.admin.createTopic({ name: topic, partitions })
  const l = await latency(log, topic)
  figures.latency.push(l)
  await log.admin.deleteTopic(topic)
  line(`  rep ${rep} latency at ${fmt(l.rate)} rec/s: p50 ${l.p50.toFixed(2)} ms, p95 ${l.p95.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms (event-loop delay p99 ${l.loopP99.toFixed(1)} ms)`)
  if (kafka !== undefined) {
    const theirs = `bench-tools-latency-${randomUUID()}`
    await log.admin.createTopic({ name: theirs, partitions })
    const e2e = await endToEndLatency(kafka.bootstrap, theirs)
    figures.kafkaLatency.push(e2e)
    await log.admin.deleteTopic(theirs)
    line(`  rep ${rep} Kafka EndToEndLatency (one at a time): avg ${e2e.avg.toFixed(2)} ms, p50 ${e2e.p50} ms, p99 ${e2e.p99} ms, p99.9 ${e2e.p999} ms`)
  }
}

// ── Apache Kafka's own tools ───────────────────────────────────────────────────────────────

async function java (mainClass: string, toolArgs: string[]): Promise<string> {
  const runtime = await kafkaRuntime()
  const jvm = ['-Xmx512m', '-XX:+UseG1GC', `-Dlog4j2.configurationFile=${runtime.log4jToolsConfig}`, '-cp', runtime.classpath, mainClass, ...toolArgs]
  return await new Promise((resolve, reject) => {
    const child = spawn(runtime.java, jvm, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.once('error', reject)
    child.once('close', code => code === 0 ? resolve(out) : reject(new Error(`${mainClass} exited with ${code}:\n${err}${out}`)))
  })
}

async function producerPerformance (bootstrap: string, topic: string, count: number, bytes: number): Promise<Rate> {
  const out = await java('org.apache.kafka.tools.ProducerPerformance', [
    '--topic', topic, '--num-records', String(count), '--record-size', String(bytes), '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${bootstrap}`, ...toolsProducerProps
  ])
  const match = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(out.trim().split('\n').pop() ?? '')
  if (match === null) throw new Error(`cannot read ProducerPerformance's output:\n${out}`)
  return { recordsPerSecond: Number(match[2]), mbPerSecond: Number(match[3]) }
}

async function consumerPerformance (bootstrap: string, topic: string, count: number, bytes: number): Promise<Rate> {
  const out = await java('org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(count), '--group', `perf-${randomUUID()}`, '--hide-header', '--timeout', '60000'
  ])
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const fields = (out.trim().split('\n').pop() ?? '').split(',').map(f => f.trim())
  const consumed = Number(fields[4])
  const fetchMs = Number(fields[7])
  if (!(consumed >= count) || !(fetchMs > 0)) throw new Error(`cannot read ConsumerPerformance's output:\n${out}`)
  return rateOf(consumed, bytes, fetchMs / 1000)
}

async function endToEndLatency (bootstrap: string, topic: string): Promise<ToolLatency> {
  const out = await java('org.apache.kafka.tools.EndToEndLatency', [bootstrap, topic, String(latencyRate), 'all', '100'])
  const avg = /Avg latency: ([\d.]+) ms/.exec(out)
  const percentiles = /50th = (\d+), 99th = (\d+), 99\.9th = (\d+)/.exec(out)
  if (avg === null || percentiles === null) throw new Error(`cannot read EndToEndLatency's output:\n${out}`)
  return { avg: Number(avg[1]), p50: Number(percentiles[1]), p99: Number(percentiles[2]), p999: Number(percentiles[3]) }
}

// ── report ─────────────────────────────────────────────────────────────────────────────────

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const line = (text: string) => process.stderr.write(text + '\n')
const medianRate = (rates: Rate[] | undefined): Rate => ({ recordsPerSecond: median((rates ?? []).map(r => r.recordsPerSecond)), mbPerSecond: median((rates ?? []).map(r => r.mbPerSecond)) })

function report (name: string, figures: Figures, withTools: boolean): string {
  const rows: string[] = []
  const head = withTools
    ? '| measure | Vigil | Kafka\'s own tools | Vigil ÷ tools |\n|---|---:|---:|---:|'
    : '| measure | Vigil |\n|---|---:|'
  for (const [kind, vigil, tools] of [['produce', figures.produce, figures.kafkaProduce], ['consume', figures.consume, figures.kafkaConsume]] as const) {
    for (const size of sizes) {
      const v = medianRate(vigil.get(size.label))
      const cell = (r: Rate) => `${fmt(r.recordsPerSecond)} rec/s, ${r.mbPerSecond.toFixed(1)} MB/s`
      if (withTools) {
        const t = medianRate(tools.get(size.label))
        rows.push(`| ${kind} ${size.label} × ${fmt(size.count)} | ${cell(v)} | ${cell(t)} | ${(v.recordsPerSecond / t.recordsPerSecond).toFixed(2)}× |`)
      } else {
        rows.push(`| ${kind} ${size.label} × ${fmt(size.count)} | ${cell(v)} |`)
      }
    }
  }
  const m = (pick: (l: Latency) => number) => median(figures.latency.map(pick))
  const tools = figures.kafkaLatency
  const toolCell = tools.length === 0
    ? ''
    : ` EndToEndLatency, one record at a time: avg ${median(tools.map(x => x.avg)).toFixed(2)} ms, p50 ${median(tools.map(x => x.p50))} ms, p99 ${median(tools.map(x => x.p99))} ms | |`
  rows.push(`| produce→consume latency at ${fmt(latencyRate)} rec/s (achieved ${fmt(m(l => l.rate))}) | p50 ${m(l => l.p50).toFixed(2)} ms, p95 ${m(l => l.p95).toFixed(2)} ms, ` +
    `p99 ${m(l => l.p99).toFixed(2)} ms (event-loop delay p99 ${m(l => l.loopP99).toFixed(1)} ms) |${withTools ? toolCell : ''}`)
  return `### ${name}\n\n${head}\n${rows.join('\n')}\n`
}

// ── main ───────────────────────────────────────────────────────────────────────────────────

const config = validateConfig({})
const sections: string[] = []
const load = () => loadavg().map(l => l.toFixed(1)).join(' ')
const loadAtStart = load()
const header = () => `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, load average ${loadAtStart} at start and ${load()} at end; ` +
  `${reps} repetitions (medians), ${partitions} partition(s), Vigil produces in calls of ${batchRecords} records with ${callsInFlight} in flight; ` +
  `ProducerPerformance with ${toolsProducerProps.join(' ')}`

if (args.backend === 'both' || args.backend === 'embedded') {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-'))
  const path = join(dir, 'bench.db')
  const log = createEmbeddedLog({ path, ...config.log.embedded })
  await log.connect()
  const figures = newFigures()
  try {
    line(`embedded: ${path}`)
    for (let rep = 1; rep <= reps; rep++) await benchVigil(log, figures, rep)
  } finally {
    await log.close()
    await rm(dir, { recursive: true, force: true })
  }
  sections.push(report(`embedded (SQLite file on ${tmpdir()})`, figures, false))
}

if (args.backend === 'both' || args.backend === 'kafka') {
  let cluster: KafkaCluster | undefined
  let bootstrap = args.kafka
  if (bootstrap === undefined) {
    cluster = await startKafka({ log: line })
    bootstrap = cluster.bootstrap
  }
  const log = createKafkaLog({ brokers: bootstrap.split(','), ...config.log.kafka })
  const figures = newFigures()
  try {
    await log.connect()
    line(`kafka: ${bootstrap}`)
    for (let rep = 1; rep <= reps; rep++) await benchVigil(log, figures, rep, { bootstrap })
  } finally {
    await log.close()
    await cluster?.stop()
  }
  sections.push(report(`kafka (Apache Kafka ${kafkaVersion}, 1 broker on loopback${cluster === undefined ? `, ${bootstrap}` : ''}; acks=all, idempotent)`, figures, true))
}

process.stdout.write(`${header()}\n\n${sections.join('\n')}`)
