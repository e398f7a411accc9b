/**
 * CAIPE's audit-service behaviours 1–10 (shared/specs/audit-service.md), each against a running
 * `vigil serve` with the local store and with the S3 store (moto on loopback). Where Vigil is
 * meant to be better, the test checks Vigil's behaviour and says how CAIPE differs.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetBucketLifecycleConfigurationCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { parquetMetadata } from 'hyparquet'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'
import { createS3Store, type S3Store } from '../../src/audit/s3-store.ts'
import type { ListOptions } from '../../src/audit/store.ts'
import { createBucket, sharedS3, startAuditServer, stopSharedS3, waitArchived, waitFor, type AuditServer, type Backend } from './helpers.ts'

after(stopSharedS3)

const backends: Backend[] = ['local', 's3']
const statusFields = ['running', 'backend', 'queue_size', 'queue_max_size', 'flush_batch_size', 'flush_interval_seconds', 'accepted_events', 'rejected_events',
  'flushed_events', 'failed_flushes', 'last_received_at', 'last_flush_at', 'last_error', 'local_path', 'local_gzip', 'local_retention_days', 's3_bucket', 's3_prefix', 'storage']

async function s3Client (): Promise<{ client: S3Client, close: () => void }> {
  const s3 = await sharedS3()
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } })
  return { client, close: () => client.destroy() }
}

/** Counts the commands `client` sends that `counts` picks, from now on. */
function countSends (client: S3Client, counts: (command: unknown) => boolean): { count: number } {
  const seen = { count: 0 }
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>
  ;(client as unknown as { send: typeof send }).send = async command => {
    if (counts(command)) seen.count++
    return await send(command)
  }
  return seen
}

function bucketOf (a: AuditServer): string {
  return (a.config.s3 as { bucket: string }).bucket
}

async function allRecords (a: AuditServer, query = ''): Promise<any[]> {
  return (await a.get(`/v1/audit/events?limit=10000&window=7d${query}`)).body.records
}

for (const backend of backends) {
  test(`[${backend}] 1. POST takes an object, an array or {events:[…]} and answers 202 {accepted, queued} once durable`, async (t) => {
    const a = await startAuditServer(t, backend)
    const tag = randomUUID()
    for (const body of [{ type: 'auth', tag }, [{ type: 'auth', tag }, { type: 'auth', tag }], { events: [{ type: 'auth', tag }, { type: 'auth', tag }, { type: 'auth', tag }] }]) {
      const answer = await a.post(body)
      assert.equal(answer.status, 202)
      assert.deepEqual(Object.keys(answer.body).sort(), ['accepted', 'queued'])
      assert.equal(typeof answer.body.queued, 'number')
    }
    for (const bad of ['"text"', '42', '[1, 2]', '[{"type":"a"}, "x"]']) {
      const answer = await a.post(bad)
      assert.equal(answer.status, 400, bad)
      assert.equal(typeof answer.body.detail, 'string')
    }
    // 202 means on the log: the events are there even before the archiver wrote them.
    const topic = await a.server.log.admin.describeTopic('audit-events')
    assert.equal(topic.partitions.reduce((n, p) => n + p.highOffset, 0), 6)
    await waitArchived(a, 6)
    assert.equal((await allRecords(a, '&type=auth')).filter(r => r.tag === tag).length, 6)
  })

  test(`[${backend}] 2. a batch that would overflow the backlog bound is refused whole: 503 "audit queue full", rejected_events += n`, async (t) => {
    // The bound is the archiver's backlog; a long flush interval keeps events unarchived.
    const a = await startAuditServer(t, backend, { maxBacklogRecords: 5, flushIntervalMs: 600_000 })
    assert.equal((await a.post([{ type: 'a' }, { type: 'a' }, { type: 'a' }, { type: 'a' }])).status, 202)
    const full = await a.post([{ type: 'a' }, { type: 'a' }])
    assert.equal(full.status, 503)
    assert.equal(full.body.detail, 'audit queue full')
    // Larger than the bound itself: it can never fit, so Vigil says so (413 naming the limit)
    // where CAIPE answers 503 (issue 17 §3); CAIPE's test_rejects_when_queue_is_full expects 503.
    const tooBig = await a.post(Array.from({ length: 6 }, () => ({ type: 'a' })))
    assert.equal(tooBig.status, 413)
    assert.equal(tooBig.body.code, 'VGL_AUDIT_BATCH_TOO_LARGE')
    const status = (await a.get('/v1/audit/status')).body
    assert.equal(status.rejected_events, 8)
    assert.equal(status.accepted_events, 4)
    assert.equal(status.queue_max_size, 5)
    assert.ok(status.queue_size >= 4)
  })

  test(`[${backend}] 3. missing ts becomes UTC ISO …Z, missing audit_event_id a UUIDv4; unknown fields are kept`, async (t) => {
    const a = await startAuditServer(t, backend)
    const tag = randomUUID()
    assert.equal((await a.post({ type: 'auth', tag, extra: { nested: [1, 2] }, trace_id: 't-1' })).status, 202)
    await waitArchived(a, 1)
    const [record] = (await allRecords(a)).filter(r => r.tag === tag)
    assert.match(record.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)
    assert.match(record.audit_event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.deepEqual(record.extra, { nested: [1, 2] })
    assert.equal(record.trace_id, 't-1')
  })

  test(`[${backend}] 3b. a wrong type is a 400 naming the event index and field (CAIPE answers 500 and keeps nothing either)`, async (t) => {
    const a = await startAuditServer(t, backend)
    const answer = await a.post([{ type: 'auth' }, { type: 'auth', outcome: 5 }])
    assert.equal(answer.status, 400)
    assert.equal(answer.body.index, 1)
    assert.equal(answer.body.field, 'outcome')
    assert.match(answer.body.detail, /event 1: field outcome/)
    assert.equal((await a.get('/v1/audit/status')).body.accepted_events, 0)
  })

  test(`[${backend}] 4. the verbosity preset drops disallowed types before the log; all dropped is 202 accepted 0 (Vigil's default keeps all)`, async (t) => {
    const a = await startAuditServer(t, backend, { verbosity: 'minimal' })
    assert.deepEqual((await a.post([{ type: 'auth' }, { action: 'untyped' }])).body.accepted, 0)
    assert.equal((await a.post([{ type: 'cas_grant' }, { type: 'auth' }])).body.accepted, 1)
    const info = (await a.get('/v1/audit/verbosity')).body
    assert.equal(info.verbosity, 'minimal')
    assert.deepEqual(info.allowed_types, ['cas_grant', 'cas_reconcile'])
    // CAIPE's default is minimal; Vigil's is verbose (DORA: record all ICT events).
    assert.equal(validateConfig({}).audit.verbosity, 'verbose')
    const b = await startAuditServer(t, backend)
    assert.equal((await b.post([{ type: 'auth' }, { action: 'untyped' }])).body.accepted, 2)
  })

  test(`[${backend}] 5. flush at flushBatchSize or after flushIntervalMs; a failed flush counts, sets the fixed last_error, and is retried, not dropped (CAIPE drops it)`, async (t) => {
    const a = await startAuditServer(t, backend, { flushBatchSize: 10, flushIntervalMs: 600_000, partitions: 1 })
    await a.post(Array.from({ length: 10 }, (_, i) => ({ type: 'batch', i })))
    await waitArchived(a, 10) // by size: the interval is ten minutes
    const b = await startAuditServer(t, backend, { flushBatchSize: 100_000, flushIntervalMs: 200, partitions: 1 })
    await b.post([{ type: 'interval' }, { type: 'interval' }, { type: 'interval' }])
    await waitArchived(b, 3) // by interval: the batch size is never reached

    // A store that fails: local, a file where the year directory should be; S3, a missing bucket.
    const c = await startAuditServer(t, backend, { flushIntervalMs: 100, partitions: 1 })
    const { client, close } = await s3Client()
    t.after(close)
    const yearPath = join(c.dir, 'audit', String(new Date().getUTCFullYear()))
    if (backend === 'local') {
      await mkdir(join(c.dir, 'audit'), { recursive: true })
      await writeFile(yearPath, 'in the way')
    } else {
      await client.send(new DeleteBucketCommand({ Bucket: bucketOf(c) }))
    }
    const tag = randomUUID()
    assert.equal((await c.post(Array.from({ length: 5 }, () => ({ type: 'retry', tag })))).status, 202)
    const failing = await waitFor(async () => { const s = (await c.get('/v1/audit/status')).body; return s.failed_flushes >= 2 ? s : undefined }, 15_000, 'failed flushes')
    assert.equal(failing.last_error, 'audit flush failed; see audit-service logs')
    assert.equal(failing.flushed_events, 0)
    if (backend === 'local') await rm(yearPath)
    else await client.send(new CreateBucketCommand({ Bucket: bucketOf(c) }))
    await waitArchived(c, 5)
    assert.equal((await allRecords(c)).filter(r => r.tag === tag).length, 5, 'nothing was dropped')
  })

  test(`[${backend}] 6. GET defaults to the last 24 h, takes only the 8 windows, and refuses ranges over 31 days or since > until`, async (t) => {
    const a = await startAuditServer(t, backend)
    const tag = randomUUID()
    const old = new Date(Date.now() - 25 * 3_600_000).toISOString()
    await a.post([{ type: 'w', tag, ts: old }, { type: 'w', tag }])
    await waitArchived(a, 2)
    const recent = (await a.get('/v1/audit/events?type=w')).body
    assert.equal(recent.records.length, 1)
    assert.equal((await a.get('/v1/audit/events?type=w&window=7d')).body.total, 2)
    for (const w of ['5m', '15m', '30m', '1h', '6h', '12h', '24h', '7d']) assert.equal((await a.get(`/v1/audit/events?window=${w}`)).status, 200, w)
    for (const w of ['2h', '1d', 'x']) assert.equal((await a.get(`/v1/audit/events?window=${w}`)).status, 400, w)
    const bad = await a.get('/v1/audit/events?since=yesterday')
    assert.equal(bad.status, 400)
    assert.equal(bad.body.detail, 'invalid ISO timestamp')
    assert.equal((await a.get('/v1/audit/events?since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z')).status, 400)
    assert.equal((await a.get('/v1/audit/events?since=2026-01-02T00:00:00&until=2026-01-01T00:00:00')).status, 400)
    assert.equal((await a.get('/v1/audit/events?from=2026-01-01T00:00:00&to=2026-01-31T00:00:00Z')).status, 200)
    assert.equal((await a.get('/v1/audit/events?time_resolution=second')).status, 400)
    assert.equal((await a.get('/v1/audit/events?time_resolution=minute')).status, 200)
  })

  test(`[${backend}] 7. newest first, min(limit, maxLimit), total and truncated; exact filters, user_email substring, capability → action; cursor pages`, async (t) => {
    const a = await startAuditServer(t, backend, { read: { maxLimit: 5 } })
    const base = Date.now() - 3_600_000
    const events = Array.from({ length: 12 }, (_, i) => ({
      type: i % 3 === 0 ? 'auth' : 'tool',
      outcome: i % 2 === 0 ? 'allow' : 'deny',
      ts: new Date(base + i * 60_000).toISOString(),
      user_email: i === 4 ? 'Alice.Smith@Example.com' : `user${i}@example.com`,
      i,
      ...(i === 7 ? { capability: 'admin' } : { action: i === 8 ? 'admin' : 'read' })
    }))
    // Sent out of order and in two batches (two partitions): the answer is still by ts.
    await a.post(events.slice(6).reverse())
    await a.post(events.slice(0, 6))
    await waitArchived(a, 12)
    const page = (await a.get('/v1/audit/events?limit=100')).body
    assert.equal(page.limit, 5)
    assert.equal(page.total, 12)
    assert.equal(page.truncated, true)
    assert.deepEqual(page.records.map((r: any) => r.i), [11, 10, 9, 8, 7])
    assert.equal((await a.get('/v1/audit/events?limit=0')).status, 422)
    assert.deepEqual((await a.get('/v1/audit/events?type=auth&outcome=deny')).body.records.map((r: any) => r.i), [9, 3])
    assert.deepEqual((await a.get('/v1/audit/events?user_email=alice.SMITH')).body.records.map((r: any) => r.i), [4])
    assert.deepEqual((await a.get('/v1/audit/events?capability=admin')).body.records.map((r: any) => r.i), [8, 7])
    const small = (await a.get('/v1/audit/events?type=tool&limit=3')).body
    assert.equal(small.truncated, true)
    assert.equal(small.total, 8)
    // Paging with the opaque cursor: every match exactly once, newest first.
    const seen: number[] = []
    let cursor: string | null = null
    do {
      const answer: any = (await a.get(`/v1/audit/events?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`)).body
      assert.equal(answer.total, 12)
      seen.push(...answer.records.map((r: any) => r.i))
      cursor = answer.next_cursor
    } while (cursor !== null)
    assert.deepEqual(seen, [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    assert.equal((await a.get('/v1/audit/events?cursor=not-a-cursor')).status, 400)
  })

  test(`[${backend}] 7b. a damaged stored file is skipped and named in skipped_files (CAIPE skips unreadable S3 objects); a store that cannot be read still fails the query`, async (t) => {
    const a = await startAuditServer(t, backend)
    await a.post(Array.from({ length: 4 }, (_, i) => ({ type: 'auth', i })))
    await waitArchived(a, 4)
    const clean = (await a.get('/v1/audit/events')).body
    assert.equal(clean.total, 4)
    assert.equal(clean.skipped_files, undefined, 'absent when nothing was skipped, as in CAIPE\'s answer')
    // A file in the window whose bytes are not gzip / Parquet.
    const now = new Date(Date.now() - 60_000).toISOString()
    const stamp = `${now.slice(0, 4)}${now.slice(5, 7)}${now.slice(8, 10)}T${now.slice(11, 13)}${now.slice(14, 16)}${now.slice(17, 19)}Z`
    const garbage = Buffer.from('these bytes were damaged on disk')
    // Only the S3 backend needs a client of its own (the local one must not start moto).
    const s3 = backend === 's3' ? await s3Client() : undefined
    if (s3 !== undefined) t.after(s3.close)
    let damaged: string
    if (s3 === undefined) {
      damaged = `${now.slice(0, 4)}/${now.slice(5, 7)}/${now.slice(8, 10)}/audit-${stamp}-0123456789ab.ndjson.gz`
      await writeFile(join(a.dir, 'audit', damaged), garbage)
    } else {
      const { client } = s3
      damaged = `audit/${now.slice(0, 4)}/${now.slice(5, 7)}/${now.slice(8, 10)}/${now.slice(11, 13)}/${now.slice(14, 16)}/audit-${stamp}-0123456789ab.parquet`
      await client.send(new PutObjectCommand({ Bucket: bucketOf(a), Key: damaged, Body: garbage }))
    }
    for (const query of ['', '?type=auth', '?user_email=nobody']) {
      const answer = await a.get(`/v1/audit/events${query}`)
      assert.equal(answer.status, 200, query)
      assert.deepEqual(answer.body.skipped_files, [damaged], query)
    }
    const answer = (await a.get('/v1/audit/events')).body
    assert.deepEqual(answer.records.map((r: any) => r.i).sort(), [0, 1, 2, 3])
    assert.equal(answer.total, 4)
    assert.ok(a.logs.some(line => line.includes('audit query skipped damaged files') && line.includes(damaged)))
    // Unreadable is not unreachable: with the store itself gone, the query fails.
    if (s3 === undefined) {
      // A file that cannot be read at all (EISDIR; permissions would not stop root).
      await rm(join(a.dir, 'audit', damaged))
      await mkdir(join(a.dir, 'audit', damaged))
    } else {
      const { client } = s3
      await client.send(new DeleteObjectCommand({ Bucket: bucketOf(a), Key: damaged }))
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucketOf(a) }))
      for (const object of listed.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucketOf(a), Key: object.Key }))
      await client.send(new DeleteBucketCommand({ Bucket: bucketOf(a) }))
    }
    assert.equal((await a.get('/v1/audit/events')).status, 503)
  })

  test(`[${backend}] 8. /healthz is always ok; /readyz is 503 when the storage probe fails, else 200 with the status`, async (t) => {
    const a = await startAuditServer(t, backend)
    assert.deepEqual((await a.get('/healthz')).body, { status: 'ok' })
    const ready = await a.get('/v1/audit/readyz')
    assert.equal(ready.status, 200)
    assert.equal(ready.body.status, 'ready')
    for (const field of statusFields) assert.ok(Object.hasOwn(ready.body, field), field)
    assert.equal((await a.get('/readyz')).status, 200)
    const status = (await a.get('/v1/audit/status')).body
    for (const field of statusFields) assert.ok(Object.hasOwn(status, field), field)
    assert.equal(status.storage.status, 'healthy')
    const { client, close } = await s3Client()
    t.after(close)
    if (backend === 'local') {
      await rm(join(a.dir, 'audit'), { recursive: true, force: true })
      await writeFile(join(a.dir, 'audit'), 'not a directory')
    } else {
      await client.send(new DeleteBucketCommand({ Bucket: bucketOf(a) }))
    }
    const down = await a.get('/v1/audit/readyz')
    assert.equal(down.status, 503)
    assert.equal(down.body.detail, 'storage unavailable')
    await waitFor(async () => (await a.get('/readyz')).status === 503, 10_000, 'vigil /readyz to report the audit store')
    assert.equal((await a.get('/readyz')).body.checks.audit, 'storage unavailable')
    assert.equal((await a.get('/v1/audit/status')).body.storage.status, 'down')
    assert.deepEqual((await a.get('/healthz')).body, { status: 'ok' })
  })

  test(`[${backend}] 10 (service side). the TypeScript producer client delivers through a running vigil serve`, async (t) => {
    const { createAuditClient } = await import('../../src/audit/client.ts')
    const a = await startAuditServer(t, backend)
    const client = createAuditClient({ url: a.url, flushIntervalMs: 50 })
    const tag = randomUUID()
    for (let i = 0; i < 250; i++) client.record({ type: 'client', tag, i })
    await client.close()
    assert.equal(client.stats.sent, 250)
    await waitArchived(a, 250)
    assert.equal((await allRecords(a)).filter(r => r.tag === tag).length, 250)
  })
}

test('[local] 9. files are YYYY/MM/DD/audit-<ts>-<12hex>.ndjson.gz, written atomically, placed by each record\'s own ts; retention at start and on its interval (default 1 day)', async (t) => {
  assert.equal(validateConfig({}).audit.local.retentionDays, 1)
  const { startAuditServer: start } = await import('./helpers.ts')
  const dir = (await import('./helpers.ts')).tempDir
  const root = await dir(t)
  // An old file from a previous run: removed by the retention run at start.
  const oldDay = new Date(Date.now() - 3 * 86_400_000).toISOString()
  const oldDir = join(root, 'audit', oldDay.slice(0, 4), oldDay.slice(5, 7), oldDay.slice(8, 10))
  await mkdir(oldDir, { recursive: true })
  const oldName = `audit-${oldDay.slice(0, 10).replaceAll('-', '')}T000000Z-0123456789ab.ndjson.gz`
  await writeFile(join(oldDir, oldName), gzipSync('{"ts":"x"}\n'))
  const a = await start(t, 'local', { local: { retentionIntervalMs: 1000 } }, { dir: root })
  await waitFor(async () => !(await readdir(join(root, 'audit'), { recursive: true })).some(f => f.endsWith(oldName)), 10_000, 'retention at start')

  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000 + 60_000).toISOString()
  await a.post([{ type: 'p', ts: twoDaysAgo }, { type: 'p' }])
  await waitArchived(a, 2)
  const files = (await readdir(join(root, 'audit'), { recursive: true })).filter(f => /^\d{4}\/.*audit-\d/.test(f))
  assert.equal(files.some(f => f.endsWith('.tmp')), false)
  for (const f of files) assert.match(f, /^\d{4}\/\d{2}\/\d{2}\/audit-\d{8}T\d{6}Z-[0-9a-f]{12}\.ndjson\.gz$/)
  // Record-level partitioning: the old record is in its own day (CAIPE puts both in today's).
  assert.ok(files.some(f => f.startsWith(twoDaysAgo.slice(0, 10).replaceAll('-', '/'))), files.join(','))
  assert.equal(files.length, 2)
  // ... and a narrow query for its day finds it.
  const narrow = (await a.get(`/v1/audit/events?since=${twoDaysAgo.slice(0, 10)}T00:00:00Z&until=${twoDaysAgo.slice(0, 10)}T23:59:59Z`)).body
  assert.equal(narrow.total, 1)
  // The hourly run (every second here) removes files older than a day: the two-day-old one goes.
  await waitFor(async () => (await readdir(join(root, 'audit'), { recursive: true })).filter(f => /^\d{4}\/.*audit-\d/.test(f)).length === 1, 10_000, 'retention on its interval')
  assert.equal((await a.get('/v1/audit/retention')).body.retention_days, 1)
  assert.equal((await a.service.verify({})).every(r => r.ok), true, 'files removed by retention are in the ledger, not reported missing')
  const put = await fetch(`${a.url}/v1/audit/retention`, { method: 'PUT', body: '{"days":3}', headers: { 'content-type': 'application/json' } })
  assert.equal(put.status, 400, 'PUT retention is S3 only, as in CAIPE')
})

test('[s3] 9. keys are <prefix>/YYYY/MM/DD/HH/mm/audit-<ts>-<12hex>.parquet, snappy Parquet with the string index columns plus record_json; retention is a lifecycle rule', async (t) => {
  const a = await startAuditServer(t, 's3')
  const { client, close } = await s3Client()
  t.after(close)
  const old = new Date(Date.now() - 3 * 3_600_000).toISOString()
  await a.post([{ type: 'p', ts: old }, { type: 'p', outcome: 'allow' }])
  await waitArchived(a, 2)
  const keys = ((await client.send(new ListObjectsV2Command({ Bucket: bucketOf(a), Prefix: 'audit/' }))).Contents ?? []).map(o => o.Key as string).filter(k => k.endsWith('.parquet'))
  assert.equal(keys.length, 2, 'one object per minute bucket: each record by its own ts')
  for (const k of keys) assert.match(k, /^audit\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d{2}\/audit-\d{8}T\d{6}Z-[0-9a-f]{12}\.parquet$/)
  assert.ok(keys.some(k => k.startsWith(`audit/${old.slice(0, 4)}/${old.slice(5, 7)}/${old.slice(8, 10)}/${old.slice(11, 13)}/${old.slice(14, 16)}/`)))
  const head = await client.send(new HeadObjectCommand({ Bucket: bucketOf(a), Key: keys[0] }))
  assert.equal(head.ContentType, 'application/vnd.apache.parquet')
  const body = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucketOf(a), Key: keys[0] }))).Body?.transformToByteArray() as Uint8Array)
  const metadata = parquetMetadata(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer)
  const columns = metadata.schema.slice(1).map(s => s.name)
  assert.deepEqual(columns, ['ts', 'type', 'outcome', 'component', 'correlation_id', 'tenant_id', 'source', 'action', 'capability', 'resource_ref', 'subject_hash', 'subject_ref', 'actor_ref', 'reason_code', 'agent_name', 'tool_name', 'user_email', 'record_json'])
  for (const s of metadata.schema.slice(1)) assert.equal(s.converted_type, 'UTF8')
  for (const c of metadata.row_groups[0]?.columns ?? []) assert.equal(c.meta_data?.codec, 'SNAPPY')

  assert.equal((await fetch(`${a.url}/v1/audit/retention`, { method: 'PUT', body: '{"days":-1}', headers: { 'content-type': 'application/json' } })).status, 400)
  assert.equal((await fetch(`${a.url}/v1/audit/retention`, { method: 'PUT', body: '{"weeks":1}', headers: { 'content-type': 'application/json' } })).status, 400)
  assert.equal((await fetch(`${a.url}/v1/audit/retention`, { method: 'PUT', body: '{"days":7}', headers: { 'content-type': 'application/json' } })).status, 200)
  const rules = (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucketOf(a) }))).Rules ?? []
  const rule = rules.find(r => r.ID === 'caipe-audit-retention')
  assert.equal(rule?.Expiration?.Days, 7)
  assert.equal(rule?.Filter?.Prefix ?? (rule as { Prefix?: string } | undefined)?.Prefix, 'audit/')
  assert.equal((await a.get('/v1/audit/retention')).body.retention_days, 7)
  assert.equal((await fetch(`${a.url}/v1/audit/retention`, { method: 'PUT', body: '{"days":0}', headers: { 'content-type': 'application/json' } })).status, 200)
  assert.equal((await a.get('/v1/audit/retention')).body.retention_days, 0)
  const storage = (await a.get('/v1/audit/storage')).body
  assert.equal(storage.backend, 's3')
  assert.ok(storage.object_count >= 2)
})

test('[s3] queries read no Parquet footers: the archiver caches the manifest of each object it writes, and a restarted service warms its cache for the last 24 h', async (t) => {
  const a = await startAuditServer(t, 's3')
  const hours = [0, 2, 5].map(h => new Date(Date.now() - h * 3_600_000 - 1000).toISOString())
  await a.post(hours.flatMap((ts, i) => Array.from({ length: 5 }, (_, j) => ({ type: 'auth', ts, n: i * 5 + j }))))
  await waitArchived(a, 15)
  const footerReads = (server: AuditServer): { count: number } => countSends(server.service.s3?.client as S3Client,
    command => command instanceof GetObjectCommand && command.input.Range?.startsWith('bytes=-') === true)
  const before = footerReads(a)
  assert.equal((await a.get('/v1/audit/events')).body.total, 15)
  assert.equal(before.count, 0, 'the objects the archiver wrote are cached already')
  await a.close()

  const b = await startAuditServer(t, 's3', { s3: { bucket: bucketOf(a) } }, { dir: a.dir })
  await waitFor(() => b.logs.some(line => line.includes('audit manifest cache warmed')), 15_000, 'the warm-up')
  const warmed = JSON.parse(b.logs.find(line => line.includes('audit manifest cache warmed')) as string)
  assert.equal(warmed.files, 3, 'one object per minute bucket, all in the last 24 h')
  const after = footerReads(b)
  const answer = (await b.get('/v1/audit/events?type=auth')).body
  assert.equal(answer.total, 15)
  assert.equal(after.count, 0, 'the warm-up read them')

  // With the store gone at start, the warm-up fails with a warning and the service runs on.
  const c = await startAuditServer(t, 's3', { s3: { bucket: `missing-${randomUUID().slice(0, 8)}` } })
  await waitFor(() => c.logs.some(line => line.includes('audit manifest cache warm-up failed')), 15_000, 'the warm-up to give up')
  assert.deepEqual((await c.get('/healthz')).body, { status: 'ok' })
  assert.equal((await c.get('/v1/audit/events')).status, 503)
})

test('[s3] queries reuse the listing of a prefix whose hour has passed for listingCacheMs; this process\'s writes and deletes show at once, the newest prefixes are always listed, verify lists afresh', async (t) => {
  const server = await sharedS3()
  const bucket = await createBucket(server)
  const settings = { bucket, prefix: 'audit', region: server.region, endpointUrl: server.endpoint, forcePathStyle: true, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }
  const ours = createS3Store({ ...settings, listingCacheMs: 60_000 })
  const other = createS3Store(settings) // another writer on the bucket
  const caipeLike = createS3Store({ ...settings, listingCacheMs: 0 })
  t.after(async () => { await ours.close(); await other.close(); await caipeLike.close() })
  const lists = countSends(ours.client, command => command instanceof ListObjectsV2Command)
  const now = Date.now()
  const put = async (store: S3Store, atMs: number, hex: string): Promise<string> => {
    const name = store.fileName(Math.floor(atMs / 60_000) * 60_000, atMs, hex)
    await store.writeEncoded(name, [Buffer.from('not Parquet: listing is all this test looks at')])
    return name
  }
  // CAIPE's default window (24 h: hour prefixes), ending a little ahead so that it covers the writes below.
  const until = now + 5 * 60_000
  const names = async (options: ListOptions = {}): Promise<string[]> => (await ours.listFiles(until - 86_400_000, until, options)).map(f => f.name).sort()
  const old = now - 3 * 3_600_000
  const x = await put(ours, old, '00000000000a')
  assert.deepEqual(await names(), [x])
  lists.count = 0
  assert.deepEqual(await names(), [x])
  assert.ok(lists.count <= 2, `only the newest prefixes are listed again (${lists.count} listings for 25 hour prefixes)`)
  const y = await put(other, old, '00000000000b')
  assert.deepEqual(await names(), [x], 'another writer\'s object in a past hour shows after at most listingCacheMs')
  assert.deepEqual(await names({ fresh: true }), [x, y], 'fresh (verify) lists every prefix')
  const z = await put(ours, old + 1000, '00000000000c')
  assert.ok((await names()).includes(z), 'what this process writes shows at once')
  const w = await put(other, Date.now(), '00000000000d')
  assert.ok((await names()).includes(w), 'the newest prefixes are always listed')
  await ours.deleteFile(x)
  assert.equal((await names()).includes(x), false, 'what this process deletes goes at once')
  const all = (await caipeLike.listFiles(until - 86_400_000, until)).map(f => f.name).sort()
  assert.deepEqual(all, [y, z, w].sort(), 'listingCacheMs 0 lists every prefix, as CAIPE does')
})

test('[s3] an S3 endpoint that accepts connections and never answers fails reads and writes after requestTimeoutMs (3 tries), instead of holding them forever', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer(socket => { sockets.add(socket) }) // reads nothing, answers nothing
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const socket of sockets) socket.destroy(); silent.close() })
  const port = (silent.address() as AddressInfo).port
  const store = createS3Store({ bucket: 'audit', prefix: 'audit', region: 'us-east-1', endpointUrl: `http://127.0.0.1:${port}`, forcePathStyle: true, accessKeyId: 'k', secretAccessKey: 's', requestTimeoutMs: 200 })
  t.after(() => store.close())
  const started = Date.now()
  await assert.rejects(store.listFiles(Date.now() - 3_600_000, Date.now()), (e: unknown) => isVigilError(e, 'VGL_AUDIT_STORE_READ_FAILED'))
  await assert.rejects(store.writeEncoded(store.fileName(Date.now(), Date.now(), '00000000000e'), [Buffer.from('x')]), (e: unknown) => isVigilError(e, 'VGL_AUDIT_STORE_WRITE_FAILED'))
  assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`)
})

test('local and S3 give the same answers to the same queries', async (t) => {
  const local = await startAuditServer(t, 'local', { partitions: 1 })
  const s3 = await startAuditServer(t, 's3', { partitions: 1 })
  const base = Date.now() - 2 * 3_600_000
  const events = Array.from({ length: 60 }, (_, i) => ({ audit_event_id: `e-${i}`, type: ['auth', 'tool', 'cas_grant'][i % 3], outcome: i % 4 === 0 ? 'deny' : 'allow', user_email: `u${i % 5}@x.io`, ts: new Date(base + i * 97_000).toISOString() }))
  for (const a of [local, s3]) { await a.post(events); await waitArchived(a, 60) }
  for (const q of ['window=24h', 'type=auth', 'outcome=deny&type=tool', 'user_email=U3', 'limit=7', 'window=1h', 'capability=none', 'window=1h&type=auth&limit=3', 'window=1h&user_email=u1&limit=2']) {
    const [l, s] = await Promise.all([local.get(`/v1/audit/events?${q}`), s3.get(`/v1/audit/events?${q}`)])
    assert.equal(l.body.total, s.body.total, q)
    assert.deepEqual(l.body.records.map((r: any) => r.audit_event_id), s.body.records.map((r: any) => r.audit_event_id), q)
  }
})
