/**
 * Pipeline benchmarks.
 *
 *   npm run bench:pipeline      # or: node bench/pipeline.bench.ts [--records 200000] [--runs 3] [--kafka host:port]
 *                               #     [--connector-records 4000] [--keys 400] [--concurrency 64] [--latency-ms 5]
 *
 * 1. The runtime alone: Avro event envelopes (Confluent-framed, decoded through Vigil's serde)
 *    consumed by a pipeline with a no-op handler (routing, lanes per key, metrics, commits), on
 *    the embedded log and, when a broker is given (--kafka or TEST_KAFKA), on Kafka.
 *    Peer, same run, same topic: a bare poll → decode loop on the same Log consumer committing
 *    at the same interval, so the ratio is the cost of the runtime itself (routing, lanes per key,
 *    retry bookkeeping, metrics, contiguous-prefix commits). Target ≥ 100k records/s.
 * 2. The CISO Assistant connector against the fake API (its own process, like a real backend)
 *    answering every request in 5 ms:
 *    update_applied_control messages across many keys (one GET and one PATCH each). Target
 *    ≥ 2,000 records/s.
 * Medians of --runs runs (after one untimed warm-up round); the process exits 1 when a target is missed. Logs are at WARN (an INFO
 * line per record is what the pipeline writes in production; pino's cost is not measured here).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Registry } from 'prom-client'
import { Agent, request } from 'undici'
import { validateConfig } from '../src/config/load.ts'
import { createLog } from '../src/log/open.ts'
import type { Log, LogRecord } from '../src/log/types.ts'
import { createLogger } from '../src/logger.ts'
import { createPipeline } from '../src/pipeline/runtime.ts'
import { createSerde, type Serde, type SerdeRegistry } from '../src/schema/serde.ts'
import { createCisoDispatcher } from '../src/dispatcher/connector.ts'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    kafka: { type: 'string', default: process.env.TEST_KAFKA ?? '' },
    'connector-records': { type: 'string', default: '4000' },
    keys: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '64' },
    'latency-ms': { type: 'string', default: '5' },
    only: { type: 'string', default: '' }
  }
})
const records = Number(args.records)
const runs = Number(args.runs)
const logger = createLogger({ logging: { level: 'warn' } })
const settings = validateConfig({ pipelines: { commitIntervalMs: 100 } }).pipelines
const results: Array<{ name: string, value: string, target?: string, ok?: boolean }> = []

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const fmt = (n: number) => `${Math.round(n).toLocaleString('en-US')}`

// ---- 1. the runtime alone ------------------------------------------------------------------------

const schemaText = readFileSync(new URL('../schemas/vigil/event-envelope.avsc', import.meta.url), 'utf8')
const registry: SerdeRegistry = {
  async getSchemaById () { return { schema: schemaText, schemaType: 'AVRO' } },
  async getVersion () { return { subject: 'observation-value', version: 1, id: 1, schema: schemaText, schemaType: 'AVRO' } }
}

async function fill (log: Log, topic: string, serde: Serde, partitions: number): Promise<void> {
  await log.admin.createTopic({ name: topic, partitions })
  const encoder = await serde.encoderFor('observation-value')
  const types = ['update_applied_control_status', 'update_requirement_assessment_status', 'attach_evidence_to_applied_control']
  const now = Date.now()
  for (let i = 0; i < records; i += 5000) {
    const batch = []
    for (let j = i; j < Math.min(records, i + 5000); j++) {
      batch.push({
        key: Buffer.from(`AC-${j % 10_000}`),
        value: encoder.encode({ event_id: randomUUID(), event_type: types[j % 3], version: 1, occurred_at: now, source: 'bench', payload: '{"selector":{"ref_id":"AC-1"},"values":{"status":"active"}}' })
      })
    }
    await log.produce(topic, batch)
  }
}

async function runPipeline (log: Log, topic: string, serde: Serde): Promise<{ handledPerS: number, committedPerS: number }> {
  let handled = 0
  let done: () => void = () => {}
  const finished = new Promise<void>(resolve => { done = resolve })
  const noop = () => { if (++handled === records) done() }
  const group = `bench-${randomUUID()}`
  const pipeline = createPipeline({
    name: 'bench',
    topics: [topic],
    group,
    decode: (record: LogRecord) => {
      const value = record.value as Buffer
      const cached = serde.decodeCached(value)
      return cached === undefined ? serde.decode(value).then(d => d.value) : cached.value
    },
    handlers: { update_applied_control_status: noop, update_requirement_assessment_status: noop, attach_evidence_to_applied_control: noop }
  }, log, { logger, registry: new Registry(), settings })
  const started = performance.now()
  await pipeline.start()
  await finished
  const handledMs = performance.now() - started
  for (;;) {
    const lag = (await log.admin.describeGroup(group)).totalLag
    if (lag === 0) break
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  const committedMs = performance.now() - started
  await pipeline.stop()
  return { handledPerS: records / handledMs * 1000, committedPerS: records / committedMs * 1000 }
}

/** The peer: the same consumer and decode, committing at the same interval, without the runtime. */
async function runBareLoop (log: Log, topic: string, serde: Serde): Promise<number> {
  const consumer = log.consumer({ group: `bare-${randomUUID()}`, topics: [topic], autoOffsetReset: 'earliest' })
  const started = performance.now()
  let seen = 0
  let sink = 0
  let lastCommit = started
  const next = new Map<string, { topic: string, partition: number, offset: number }>()
  while (seen < records) {
    const batch = await consumer.poll({ maxRecords: settings.pollMaxRecords, timeoutMs: 500 })
    for (const record of batch) {
      const value = record.value as Buffer
      const decoded = serde.decodeCached(value) ?? await serde.decode(value)
      if ((decoded.value as { event_type: string }).event_type.length > 0) sink++
      next.set(`${record.topic}:${record.partition}`, { topic: record.topic, partition: record.partition, offset: record.offset + 1 })
    }
    seen += batch.length
    if (performance.now() - lastCommit >= settings.commitIntervalMs || seen >= records) {
      await consumer.commit([...next.values()])
      lastCommit = performance.now()
    }
  }
  const ms = performance.now() - started
  await consumer.close()
  if (sink !== records) throw new Error('bare loop miscounted')
  return records / ms * 1000
}

async function benchRuntime (name: string, url: string, partitions: number): Promise<void> {
  const log = createLog(validateConfig({ log: { url } }))
  await log.connect()
  try {
    const serde = createSerde({ registry, resolveSubjects: false })
    const topic = `bench-pipeline-${randomUUID()}`
    const fillStarted = performance.now()
    await fill(log, topic, serde, partitions)
    process.stderr.write(`${name}: ${fmt(records)} records produced in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s\n`)
    const pipelineRates: number[] = []
    const committedRates: number[] = []
    const bareRates: number[] = []
    // One untimed round of each, so both are measured with warm code.
    await runBareLoop(log, topic, serde)
    await runPipeline(log, topic, serde)
    for (let run = 0; run < runs; run++) {
      const bare = await runBareLoop(log, topic, serde)
      const { handledPerS, committedPerS } = await runPipeline(log, topic, serde)
      bareRates.push(bare)
      pipelineRates.push(handledPerS)
      committedRates.push(committedPerS)
      process.stderr.write(`${name} run ${run + 1}: pipeline ${fmt(handledPerS)} rec/s (committed ${fmt(committedPerS)}), bare loop ${fmt(bare)} rec/s\n`)
    }
    const p = median(pipelineRates)
    results.push({ name: `runtime, no-op handler, Avro decode (${name}, ${partitions} partitions, 10k keys)`, value: `${fmt(p)} rec/s`, target: '≥ 100,000 rec/s', ok: p >= 100_000 })
    results.push({ name: `  … until every offset is committed (${name})`, value: `${fmt(median(committedRates))} rec/s` })
    results.push({ name: `  peer: bare poll → decode loop, same commit interval (${name})`, value: `${fmt(median(bareRates))} rec/s (pipeline / bare: ${(p / median(bareRates) * 100).toFixed(0)}%)` })
    await log.admin.deleteTopic(topic).catch(() => {})
  } finally {
    await log.close()
  }
}

// ---- 2. the connector against a 5 ms API --------------------------------------------------------

/** The fake API in a process of its own, as the real backend would be. */
async function startFakeProcess (latencyMs: number, controls: number): Promise<{ url: string, token: string, stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../test/fakes/ciso-assistant/main.ts', import.meta.url)), '--latency-ms', String(latencyMs), '--controls', String(controls)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\n')) resolve(text.split('\n')[0] as string)
    })
    child.once('exit', code => reject(new Error(`the fake API exited (${code})`)))
  })
  const { url, token } = JSON.parse(line) as { url: string, token: string }
  return {
    url,
    token,
    stop: async () => {
      child.stdin.end()
      if (child.exitCode === null) await new Promise(resolve => child.once('exit', resolve))
    }
  }
}

async function benchConnector (): Promise<void> {
  const total = Number(args['connector-records'])
  const keys = Number(args.keys)
  const concurrency = Number(args.concurrency)
  const latencyMs = Number(args['latency-ms'])
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-connector-'))
  const fake = await startFakeProcess(latencyMs, keys)
  const rates: number[] = []
  const rawRates: number[] = []
  try {
    for (let run = 0; run < runs; run++) {
      const raw = await rawHttp(fake.url, fake.token, total, keys, concurrency)
      rawRates.push(raw)
      const topic = `observation-${randomUUID()}`
      const config = validateConfig({
        log: { url: `embedded:${join(dir, `run-${run}.db`)}` },
        pipelines: { commitIntervalMs: 100, maxBufferedRecords: 4000 },
        dispatcher: { topic, group: `bench-${run}`, concurrency, api: { url: fake.url, token: fake.token, maxConnections: concurrency } }
      })
      const log = createLog(config)
      await log.connect()
      await log.admin.createTopic({ name: topic, partitions: 6 })
      const batch = []
      for (let i = 0; i < total; i++) {
        const key = `AC-${i % keys}`
        batch.push({ key: Buffer.from(key), value: Buffer.from(JSON.stringify({ message_type: 'update_applied_control', selector: { ref_id: key }, values: { observation: `run ${run} #${i}` } })) })
      }
      await log.produce(topic, batch)
      const connector = createCisoDispatcher(config, log, { logger, registry: new Registry() })
      const started = performance.now()
      await connector.start()
      while (connector.pipeline.stats().succeeded + connector.pipeline.stats().deadLettered < total) await new Promise(resolve => setTimeout(resolve, 2))
      const rate = total / (performance.now() - started) * 1000
      await connector.stop()
      await log.close()
      if (connector.pipeline.stats().deadLettered > 0) throw new Error('records were dead-lettered during the benchmark')
      rates.push(rate)
      process.stderr.write(`connector run ${run + 1}: ${fmt(rate)} rec/s (${total} records, ${keys} keys, concurrency ${concurrency}, API latency ${latencyMs} ms); raw HTTP ${fmt(raw)} rec/s\n`)
    }
  } finally {
    await fake.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const m = median(rates)
  results.push({ name: `CISO Assistant connector, API answering in ${latencyMs} ms (GET + PATCH per record, ${keys} keys, concurrency ${concurrency}, embedded log)`, value: `${fmt(m)} rec/s`, target: '≥ 2,000 rec/s', ok: m >= 2000 })
  results.push({ name: '  peer: the same GET + PATCH pairs from a bare undici loop, same concurrency, no log', value: `${fmt(median(rawRates))} rec/s (connector / bare: ${(m / median(rawRates) * 100).toFixed(0)}%)` })
}

/** The ceiling: GET (selector) + PATCH per record from `concurrency` bare loops, no log, no pipeline. */
async function rawHttp (url: string, token: string, total: number, keys: number, concurrency: number): Promise<number> {
  const agent = new Agent({ connections: concurrency })
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < total; i = next++) {
      const headers = { authorization: `Token ${token}`, accept: 'application/json' }
      const found = await request(`${url}/applied-controls/?ref_id=AC-${i % keys}`, { dispatcher: agent, headers })
      const id = (JSON.parse(await found.body.text()) as { results: Array<{ id: string }> }).results[0]?.id ?? ''
      const patched = await request(`${url}/applied-controls/${id}/`, { dispatcher: agent, method: 'PATCH', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ observation: `raw #${i}` }) })
      await patched.body.text()
    }
  }))
  const rate = total / (performance.now() - started) * 1000
  await agent.close()
  return rate
}

// ---- run ----------------------------------------------------------------------------------------

process.stderr.write(`Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`)
if (args.only === '' || args.only === 'runtime') {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-pipeline-'))
  try {
    await benchRuntime('embedded', `embedded:${join(dir, 'log.db')}`, 6)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  if (args.kafka !== '') await benchRuntime('kafka', `kafka://${args.kafka}`, 6)
  else results.push({ name: 'runtime on Kafka', value: 'skipped: pass --kafka host:port (or set TEST_KAFKA)' })
}
if (args.only === '' || args.only === 'connector') await benchConnector()

const width = Math.max(...results.map(r => r.name.length))
process.stdout.write(`\n${'benchmark'.padEnd(width)}  result\n`)
for (const r of results) process.stdout.write(`${r.name.padEnd(width)}  ${r.value}${r.target === undefined ? '' : `  (target ${r.target}: ${r.ok === true ? 'met' : 'MISSED'})`}\n`)
if (results.some(r => r.ok === false)) process.exitCode = 1
