/**
 * Audit service benchmarks (issue 5). Prints medians of several runs.
 *
 *   npm run bench:audit                 everything (about 3–4 minutes on 2 cores)
 *   npm run bench:audit -- --only ingest|ingest-access|latency|archive|query|normalise
 *
 * 1. HTTP ingestion, batches of 500: `vigil serve` (embedded log, local store) in a child
 *    process, 8 keep-alive connections from this one; events/s acknowledged (202 = durable)
 *    over 5 s, after 2 s of the same load to warm the server up.
 *    `--only ingest-access`: the same against five principals with scrypt-hashed tokens, roles
 *    and the rate limiter, alternating with the open API, and the ratio.
 * 2. p95 request latency at a fixed 20k events/s (40 requests/s of 500 events, and 200/s of 100),
 *    over 5 s after 2 s of warm-up at the same rate. Requests are sent on schedule whether or
 *    not earlier ones were answered, so a stalled server shows up as latency.
 * 3. The archiver: 300k records on the audit topic, consumed, chained, gzipped and fsynced to
 *    NDJSON.gz files, offsets committed: records/s once running (after the first tenth), and
 *    counting its start; and the sink alone.
 * 4. A filtered query over 1M stored records (local NDJSON.gz; S3 Parquet on moto with --s3).
 * 5. `--only normalise`: the event loop's own work for one 500-event request, in this process:
 *    JSON.parse, normaliseEvents, and each record serialised as the service does; time and heap
 *    allocated per step (medians of 300; the heap figure is what young-generation GCs collect).
 */
import { spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { validateConfig } from '../src/config/load.ts'
import { createLog } from '../src/log/open.ts'
import { Archiver } from '../src/audit/archiver.ts'
import { encodeBatch, packRecords } from '../src/audit/batch-encoder.ts'
import { genesisHash } from '../src/audit/integrity.ts'
import { createLocalStore } from '../src/audit/local-store.ts'
import { createS3Store } from '../src/audit/s3-store.ts'
import { createAuditMetrics } from '../src/audit/metrics.ts'
import { normaliseEvents } from '../src/audit/record.ts'
import { queryStore } from '../src/audit/query.ts'
import { fileHex, warmManifests, type ArchiveStore, type RecordFilter } from '../src/audit/store.ts'
import { startS3 } from '../scripts/s3.ts'
import { hashToken, newToken } from '../src/access/index.ts'

const { values: args } = parseArgs({ options: { only: { type: 'string' }, s3: { type: 'boolean' }, records: { type: 'string' } } })
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const silent = pino({ level: 'silent' })
/** The archiver runs with the service's defaults (flushBatchSize, encodeThreads). */
const defaults = validateConfig({}).audit
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number }
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
const want = (name: string): boolean => args.only === undefined || args.only === name
/** Load before measuring, so that figures are of a warmed-up server (JIT-compiled, first GCs done), as a long-running one is. */
const warmUpMs = 2000

const types = ['auth', 'cas_grant', 'cas_decision', 'credential_action', 'tool_call', 'agent_delegation']
function event (i: number, tsMs: number): Record<string, unknown> {
  return {
    audit_event_id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    ts: new Date(tsMs).toISOString(),
    type: types[i % types.length],
    outcome: i % 10 === 0 ? 'deny' : 'allow',
    tenant_id: `tenant-${i % 20}`,
    component: 'caipe-ui',
    action: `action-${i % 50}`,
    actor_ref: `user:${i % 1000}`,
    resource_ref: `resource:${i % 5000}`,
    correlation_id: `corr-${Math.floor(i / 3)}`,
    user_email: `user${i % 1000}@example.com`,
    subject_hash: 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae'
  }
}

async function startServe (dir: string, audit: Record<string, unknown> = {}, access: Record<string, unknown> = {}): Promise<{ url: string, pid: number, stop: () => Promise<void> }> {
  const port = 19400 + Math.floor(Math.random() * 500)
  const configFile = join(dir, 'config.json')
  await writeFile(configFile, JSON.stringify({ log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { port }, logging: { level: 'warn' }, access, audit: { local: { path: join(dir, 'audit') }, checkpoint: { keyFile: join(dir, 'key.pem') }, maxBacklogRecords: 10_000_000, ...audit } }))
  const env = { ...process.env }
  delete env.VIGIL_CONFIG
  const child = spawn(process.execPath, [main, '--config', configFile, 'serve'], { stdio: ['ignore', 'ignore', 'inherit'], env })
  const exited = new Promise(resolve => child.once('exit', resolve))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${url}/readyz`)).status === 200) break } catch {}
    if (i > 300) throw new Error('vigil serve did not start')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return { url, pid: child.pid as number, stop: async () => { child.kill('SIGTERM'); await exited } }
}

function post (agent: Agent, url: string, body: Buffer, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL('/v1/audit/events', url)
    const req = request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers } }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

function bodies (count: number, size: number): Buffer[] {
  const now = Date.now()
  return Array.from({ length: count }, (_, b) => Buffer.from(JSON.stringify(Array.from({ length: size }, (_, i) => { const e = event(b * size + i, now); delete e.audit_event_id; delete e.ts; return e }))))
}

/** CPU seconds (user + system) a process has used, from /proc: unlike a rate, it does not move when other processes take the cores. */
async function cpuSeconds (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Acknowledged events/s of one `vigil serve` (8 connections, batches of 500, 5 s after the warm-up). */
async function ingestRate (access: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<number> {
  return (await ingestRun(access, headers)).rate
}

/** The same, with the server's CPU seconds per million events acknowledged. */
async function ingestRun (access: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<{ rate: number, cpuPerMillion: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-audit-'))
  const serve = await startServe(dir, {}, access)
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  const payloads = bodies(64, 500)
  let next = 0
  const load = async (durationMs: number): Promise<number> => {
    let acked = 0
    const started = performance.now()
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (performance.now() - started < durationMs) {
        const status = await post(agent, serve.url, payloads[next++ % payloads.length] as Buffer, headers)
        if (status !== 202) throw new Error(`HTTP ${status}`)
        acked += 500
      }
    }))
    return acked / ((performance.now() - started) / 1000)
  }
  await load(warmUpMs)
  const cpuBefore = await cpuSeconds(serve.pid)
  const rate = await load(5000)
  const cpuPerMillion = (await cpuSeconds(serve.pid) - cpuBefore) / (rate * 5 / 1e6)
  agent.destroy()
  await serve.stop()
  await rm(dir, { recursive: true, force: true })
  return { rate, cpuPerMillion }
}

async function benchIngest (): Promise<void> {
  const runs: number[] = []
  for (let run = 0; run < 3; run++) runs.push(await ingestRate())
  console.log(`ingest  POST /v1/audit/events, batches of 500, 8 connections, 202 after fsync: median ${fmt(median(runs))} events/s (runs: ${runs.map(fmt).join(', ')})`)
}

/**
 * The cost of access control on ingestion: the open API against five named principals with
 * scrypt-hashed tokens, roles and the per-principal rate limiter, alternating runs in one process.
 */
async function benchIngestWithAccess (): Promise<void> {
  const token = newToken()
  const principals = await Promise.all(['viewer', 'operator', 'admin', 'agent', 'producer'].map(async (role, i) => ({
    name: `bench-${role}`, roles: [role], tokenHash: await hashToken(role === 'producer' ? token : newToken()), ...(role === 'agent' ? { nodeId: `node-${i}` } : {})
  })))
  const open: Array<{ rate: number, cpuPerMillion: number }> = []
  const guarded: Array<{ rate: number, cpuPerMillion: number }> = []
  // Pairs run back to back, so that a noisy minute hits both sides of a pair. The server's CPU time
  // per event is the steadier figure on a shared machine: other processes slow the rate, not the cost.
  for (let run = 0; run < 5; run++) {
    open.push(await ingestRun())
    guarded.push(await ingestRun({ principals }, { authorization: `Bearer ${token}` }))
  }
  const rateRatios = guarded.map((g, i) => g.rate / (open[i] as { rate: number }).rate)
  const cpuRatios = guarded.map((g, i) => g.cpuPerMillion / (open[i] as { cpuPerMillion: number }).cpuPerMillion)
  console.log(`ingest with access control (5 hashed principals, roles, rate limiter) vs open: ${fmt(median(guarded.map(g => g.rate)))} vs ${fmt(median(open.map(o => o.rate)))} events/s, median pair ratio ${median(rateRatios).toFixed(3)}; server CPU per 1M events ${median(guarded.map(g => g.cpuPerMillion)).toFixed(2)} vs ${median(open.map(o => o.cpuPerMillion)).toFixed(2)} s, median pair ratio ${median(cpuRatios).toFixed(3)} (pairs guarded/open events/s: ${guarded.map((g, i) => `${fmt(g.rate)}/${fmt((open[i] as { rate: number }).rate)}`).join(', ')})`)
}

async function benchLatency (): Promise<void> {
  for (const size of [500, 100]) {
    const p95s: number[] = []
    const p50s: number[] = []
    const p99s: number[] = []
    for (let run = 0; run < 3; run++) {
      const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-audit-'))
      const serve = await startServe(dir)
      const agent = new Agent({ keepAlive: true, maxSockets: 16 })
      const payloads = bodies(32, size)
      const perSecond = 20_000 / size
      const latencies: number[] = []
      const inflight: Array<Promise<void>> = []
      const warmUp = (perSecond * warmUpMs) / 1000
      const started = performance.now()
      for (let i = 0; i < warmUp + perSecond * 5; i++) {
        const due = started + (i * 1000) / perSecond
        const wait = due - performance.now()
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        const t0 = performance.now()
        inflight.push(post(agent, serve.url, payloads[i % payloads.length] as Buffer).then(status => {
          if (status !== 202) throw new Error(`HTTP ${status}`)
          if (i >= warmUp) latencies.push(performance.now() - t0)
        }))
      }
      await Promise.all(inflight)
      p95s.push(pct(latencies, 0.95))
      p50s.push(pct(latencies, 0.5))
      p99s.push(pct(latencies, 0.99))
      agent.destroy()
      await serve.stop()
      await rm(dir, { recursive: true, force: true })
    }
    console.log(`latency 20k events/s as ${20_000 / size} req/s of ${size}: p95 median ${median(p95s).toFixed(2)} ms (runs ${p95s.map(x => x.toFixed(2)).join(', ')}), p50 ${median(p50s).toFixed(2)} ms, p99 ${median(p99s).toFixed(2)} ms`)
  }
}

async function benchArchive (): Promise<void> {
  const total = 300_000
  const e2e: number[] = []
  const withStartUp: number[] = []
  const sinkOnly: number[] = []
  for (let run = 0; run < 3; run++) {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-audit-'))
    const log = createLog(validateConfig({ log: { url: `embedded:${join(dir, 'vigil.db')}` } }))
    await log.connect()
    await log.admin.ensureTopic({ name: 'audit-events', partitions: 3 })
    const now = Date.now()
    for (let i = 0; i < total; i += 5000) {
      await log.produce('audit-events', normaliseEvents(Array.from({ length: 5000 }, (_, j) => event(i + j, now - (i + j)))).map(record => ({ value: Buffer.from(JSON.stringify(record)), partition: Math.floor(i / 5000) % 3 })))
    }
    const store = createLocalStore({ path: join(dir, 'audit'), gzip: true, gzipLevel: 1, diskWarningPercent: 85, diskCriticalPercent: 95 })
    const archiver = new Archiver({ log, topic: 'audit-events', group: 'bench', stores: [store], flushBatchSize: defaults.flushBatchSize, flushIntervalMs: 1000, retryInitialDelayMs: 100, retryMaxDelayMs: 1000, checkpointIntervalMs: 60_000, encodeThreads: defaults.encodeThreads, signingKey: undefined, logger: silent, metrics: createAuditMetrics(new Registry()) })
    const started = performance.now()
    await archiver.start()
    // Steady state: timed from the moment the first tenth is archived (encoder threads up, group joined).
    while (archiver.stats.flushedEvents < total / 10) await new Promise(resolve => setTimeout(resolve, 1))
    const warm = archiver.stats.flushedEvents
    const warmAt = performance.now()
    while (archiver.stats.flushedEvents < total) await new Promise(resolve => setTimeout(resolve, 1))
    const ended = performance.now()
    e2e.push((total - warm) / ((ended - warmAt) / 1000))
    withStartUp.push(total / ((ended - started) / 1000))
    await archiver.stop()
    await log.close()

    // The sink alone, on one thread: encode (decode, chain, index, manifest, gzip) + fsync/rename.
    const sink = createLocalStore({ path: join(dir, 'sink'), gzip: true, gzipLevel: 1, diskWarningPercent: 85, diskCriticalPercent: 95 })
    const values = Array.from({ length: total }, (_, i) => Buffer.from(JSON.stringify(event(i, now - i))))
    const t0 = performance.now()
    let head = genesisHash
    for (let i = 0; i < total; i += 20_000) {
      const batch = values.slice(i, i + 20_000).map((value, j) => ({ topic: 't', partition: 0, offset: i + j, timestamp: now, key: null, value, headers: [] }))
      const encoded = encodeBatch({ topic: 't', partition: 0, head, records: packRecords(batch), bucketMs: sink.bucketMs, format: sink.format, createdAtMs: now })
      head = encoded.head
      for (const f of encoded.files) await sink.writeEncoded(sink.fileName(f.bucketTimeMs, f.newestTsMs, fileHex('t', 0, f.firstOffset)), f.chunks)
    }
    sinkOnly.push(total / ((performance.now() - t0) / 1000))
    await rm(dir, { recursive: true, force: true })
  }
  console.log(`archive log → chain → NDJSON.gz (level 1) → fsync → commit, ${fmt(total)} records, 3 partitions: median ${fmt(median(e2e))} records/s once running (runs ${e2e.map(fmt).join(', ')}); ${fmt(median(withStartUp))} records/s counting the start (threads, group join)`)
  console.log(`archive sink alone, one thread (decode + chain + index + manifest + gzip + fsync + rename): median ${fmt(median(sinkOnly))} records/s (runs ${sinkOnly.map(fmt).join(', ')})`)
}

/** Writes `total` records spread over the last 20 h, as the archiver would (3 partitions, 10k-record batches). */
async function fill (store: ArchiveStore, total: number, nowMs: number): Promise<void> {
  const spanMs = 20 * 3_600_000
  const heads = [genesisHash, genesisHash, genesisHash]
  const offsets = [0, 0, 0]
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < total; i += 10_000) {
    const p = (i / 10_000) % 3
    const batch = []
    for (let j = i; j < Math.min(total, i + 10_000); j++) {
      const tsMs = nowMs - spanMs + Math.floor((j / total) * spanMs)
      const o = offsets[p] as number
      offsets[p] = o + 1
      batch.push({ topic: 'audit-events', partition: p, offset: o, timestamp: tsMs, key: null, value: Buffer.from(JSON.stringify(event(j, tsMs))), headers: [] })
    }
    const encoded = encodeBatch({ topic: 'audit-events', partition: p, head: heads[p] as string, records: packRecords(batch), bucketMs: store.bucketMs, format: store.format, createdAtMs: nowMs })
    heads[p] = encoded.head
    for (const f of encoded.files) {
      pending.push(store.writeEncoded(store.fileName(f.bucketTimeMs, f.newestTsMs, fileHex('audit-events', p, f.firstOffset)), f.chunks))
      if (pending.length >= 8) await Promise.all(pending.splice(0))
    }
  }
  await Promise.all(pending)
}

async function benchQuery (): Promise<void> {
  const total = Number(args.records ?? 1_000_000)
  const now = Date.now()
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-audit-'))
  // Each store with a way to open it again, cold (as after a restart).
  const stores: Array<[string, () => ArchiveStore, () => Promise<void>]> = args.s3 === true ? [] : [['local NDJSON.gz', () => createLocalStore({ path: join(dir, 'audit'), gzip: true, gzipLevel: 1, diskWarningPercent: 85, diskCriticalPercent: 95 }), async () => {}]]
  if (args.s3 === true) {
    // S3 runs alone (--only query --s3): moto is a Python server on the same two cores.
    const s3 = await startS3({ bucket: 'bench' })
    stores.push(['S3 Parquet (moto)', () => createS3Store({ bucket: 'bench', prefix: 'audit', region: s3.region, endpointUrl: s3.endpoint, forcePathStyle: true, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }), () => s3.stop()])
  }
  const range = { sinceMs: now - 24 * 3_600_000, untilMs: now }
  const queries: Array<[string, RecordFilter]> = [
    ['type=cas_grant (one filter: counted from the column index)', { ...range, exact: [['type', 'cas_grant']] }],
    ['tenant_id=tenant-10&outcome=deny (two filters: counted from the column index)', { ...range, exact: [['tenant_id', 'tenant-10'], ['outcome', 'deny']] }],
    ['user_email=user42@ (substring: counted from the column index, page read from the newest files)', { ...range, exact: [], userEmail: 'user42@' }],
    ['window=1h, no filter', { sinceMs: now - 3_600_000, untilMs: now, exact: [] }]
  ]
  for (const [name, open, stop] of stores) {
    const store = open()
    const t0 = performance.now()
    await fill(store, total, now)
    console.log(`query   ${name}: stored ${fmt(total)} records over 20 h in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    for (const [label, filter] of queries) {
      const times: number[] = []
      let result
      for (let run = 0; run < 5; run++) {
        const q0 = performance.now()
        result = await queryStore(store, { filter, limit: 100 })
        times.push(performance.now() - q0)
      }
      console.log(`query   ${name}, ${label}, limit 100: median ${median(times).toFixed(0)} ms (first ${times[0]?.toFixed(0)} ms, total ${fmt(result?.total ?? 0)})`)
    }
    await store.close()
    // After a restart: the first substring query of a cold store, and of one whose manifest cache
    // was warmed (as `vigil serve` does in the background at start).
    const [, substring] = queries[2] as [string, RecordFilter]
    const cold = open()
    let q0 = performance.now()
    await queryStore(cold, { filter: substring, limit: 100 })
    const coldMs = performance.now() - q0
    await cold.close()
    const warm = open()
    q0 = performance.now()
    const warmed = await warmManifests(warm, range.sinceMs, range.untilMs, () => false)
    const warmUpMs = performance.now() - q0
    q0 = performance.now()
    await queryStore(warm, { filter: substring, limit: 100 })
    console.log(`query   ${name}, after a restart, the substring query: ${coldMs.toFixed(0)} ms cold; ${(performance.now() - q0).toFixed(0)} ms once the manifests are warmed (${fmt(warmed)} files in ${warmUpMs.toFixed(0)} ms, in the background at start)`)
    await warm.close()
    await stop()
  }
  await rm(dir, { recursive: true, force: true })
}

/** Parse, normalise and serialise one 500-event body, as POST /v1/audit/events does; µs and heap KB per step. */
function benchNormalise (): void {
  const payloads = bodies(32, 500).map(body => body.toString('utf8'))
  const steps = ['JSON.parse', 'normaliseEvents', 'serialise'] as const
  const micros: number[][] = steps.map(() => [])
  const kilobytes: number[][] = steps.map(() => [])
  for (let i = 0; i < 400; i++) {
    const marks: Array<[number, number]> = [[performance.now(), process.memoryUsage().heapUsed]]
    const mark = (): void => { marks.push([performance.now(), process.memoryUsage().heapUsed]) }
    const parsed: unknown = JSON.parse(payloads[i % payloads.length] as string)
    mark()
    const records = normaliseEvents(parsed as Array<Record<string, unknown>>)
    mark()
    const values = records.map(record => Buffer.from(JSON.stringify(record)))
    mark()
    if (i < 100 || values.length !== 500) continue // warm-up
    for (let s = 0; s < steps.length; s++) {
      const [t0, h0] = marks[s] as [number, number]
      const [t1, h1] = marks[s + 1] as [number, number]
      micros[s]?.push((t1 - t0) * 1000)
      kilobytes[s]?.push((h1 - h0) / 1024)
    }
  }
  console.log(`normalise  one 500-event request on the event loop: ${steps.map((step, s) => `${step} ${fmt(median(micros[s] ?? []))} µs / ${fmt(median(kilobytes[s] ?? []))} KB`).join(', ')}`)
}

if (want('normalise')) benchNormalise()
if (want('ingest')) await benchIngest()
if (want('ingest-access')) await benchIngestWithAccess()
if (want('latency')) await benchLatency()
if (want('archive')) await benchArchive()
if (want('query')) await benchQuery()
