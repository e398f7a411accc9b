/**
 * Issue 17 §1: the behaviours CAIPE's own API tests (ai_platform_engineering/audit_service/
 * test_audit_service.py) check, against a running `vigil serve`. Each test names the CAIPE test
 * it mirrors; CAIPE's code is not part of this repository (it is read, not copied).
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatBytes } from '../../src/audit/caipe-info.ts'
import { RateMeter, retryAfterSeconds } from '../../src/audit/rate-meter.ts'
import { isoMicros, normaliseEvents, utcNowIso } from '../../src/audit/record.ts'
import { startAuditServer, stopSharedS3, waitArchived } from './helpers.ts'

after(stopSharedS3)

async function raw (url: string, init: RequestInit): Promise<{ status: number, body: any }> {
  const response = await fetch(url, init)
  const text = await response.text()
  let body: unknown = text
  try { body = JSON.parse(text) } catch {}
  return { status: response.status, body }
}

test('verbosity: CAIPE\'s shape for a restrictive and an allow-all preset (test_get_verbosity_minimal, test_get_verbosity_verbose, test_verbosity_endpoint_verbose, test_verbosity_filters_ingest)', async (t) => {
  const minimal = (await (await startAuditServer(t, 'local', { verbosity: 'minimal' })).get('/v1/audit/verbosity')).body
  assert.equal(minimal.verbosity, 'minimal')
  assert.deepEqual(minimal.allowed_types, ['cas_grant', 'cas_reconcile'])
  assert.equal(minimal.allow_all, false)
  assert.equal(minimal.label, 'Minimal — policy changes only')
  assert.equal(typeof minimal.description, 'string')
  assert.deepEqual(minimal.available_presets.map((p: any) => p.name), ['minimal', 'standard', 'verbose', 'il2', 'il5', 'soc2'])
  for (const preset of minimal.available_presets) {
    assert.deepEqual(Object.keys(preset).sort(), ['allow_all', 'allowed_types', 'description', 'label', 'name'])
    assert.ok(Array.isArray(preset.allowed_types), `${preset.name}: allowed_types is a list, never null`)
    assert.equal(preset.allow_all, preset.allowed_types.length === 0)
  }
  const verbose = (await (await startAuditServer(t, 'local', { verbosity: 'verbose' })).get('/v1/audit/verbosity')).body
  assert.equal(verbose.verbosity, 'verbose')
  assert.equal(verbose.allow_all, true)
  assert.deepEqual(verbose.allowed_types, [], 'CAIPE gives [] (not null) when every type is kept')
})

test('storage (local): audit_bytes of the files, its human form, local_path, retention_days, beside Vigil\'s disk health (test_get_storage_local)', async (t) => {
  const a = await startAuditServer(t, 'local', { local: { retentionDays: 90 } })
  const root = (a.config.local as { path: string }).path
  await a.post([{ type: 'auth' }, { type: 'auth' }])
  await waitArchived(a, 2)
  const archived = (await a.get('/v1/audit/storage')).body.audit_bytes
  assert.ok(archived > 0)
  // The same pre-seeded file CAIPE's test writes (512 bytes, a name the archiver never makes) counts too.
  await mkdir(join(root, '2026', '06', '20'), { recursive: true })
  await writeFile(join(root, '2026', '06', '20', 'audit-20260620T000000Z-abc.ndjson'), Buffer.alloc(512, 'x'))
  const storage = (await a.get('/v1/audit/storage')).body
  assert.equal(storage.backend, 'local')
  assert.equal(storage.audit_bytes, archived + 512)
  assert.equal(storage.audit_bytes_human, formatBytes(storage.audit_bytes))
  assert.equal(storage.local_path, root)
  assert.equal(storage.retention_days, 90)
  assert.equal(storage.status, 'healthy', 'Vigil\'s health fields stay beside CAIPE\'s')
  assert.equal(typeof storage.used_percent, 'number')
})

test('formatBytes is CAIPE\'s _format_bytes (B whole, KiB.. with one decimal)', () => {
  assert.equal(formatBytes(0), '0 B')
  assert.equal(formatBytes(512), '512 B')
  assert.equal(formatBytes(1536), '1.5 KiB')
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB')
  assert.equal(formatBytes(3 * 1024 ** 5), '3072.0 TiB')
})

test('retention (local): retention_days, configurable false and a note; PUT is 400 (test_get_retention_local, test_put_retention_local_returns_400)', async (t) => {
  const a = await startAuditServer(t, 'local', { local: { retentionDays: 7 } })
  const info = (await a.get('/v1/audit/retention')).body
  assert.equal(info.backend, 'local')
  assert.equal(info.retention_days, 7)
  assert.equal(info.configurable, false)
  assert.match(info.note, /AUDIT_SERVICE_LOCAL_RETENTION_DAYS/)
  const put = await raw(`${a.url}/v1/audit/retention`, { method: 'PUT', body: '{"days":14}', headers: { 'content-type': 'application/json' } })
  assert.equal(put.status, 400)
})

test('[s3] storage and retention: object_count/total_bytes/capped, retention_days/configurable true; PUT answers retention_days (test_get_storage_s3, test_get_retention_s3, test_put_retention_s3_sets_days, test_put_retention_invalid_body, test_put_retention_negative_days)', async (t) => {
  const a = await startAuditServer(t, 's3')
  await a.post([{ type: 'auth' }, { type: 'auth' }])
  await waitArchived(a, 2)
  const storage = (await a.get('/v1/audit/storage')).body
  assert.equal(storage.backend, 's3')
  assert.ok(storage.object_count >= 1)
  assert.ok(storage.total_bytes > 0)
  assert.equal(storage.total_bytes_human, formatBytes(storage.total_bytes))
  assert.equal(storage.capped, false)
  assert.equal(storage.bucket, (a.config.s3 as { bucket: string }).bucket)
  assert.equal(storage.prefix, 'audit')
  const put = (body: string): Promise<{ status: number, body: any }> => raw(`${a.url}/v1/audit/retention`, { method: 'PUT', body, headers: { 'content-type': 'application/json' } })
  const set = await put('{"days":30}')
  assert.equal(set.status, 200)
  assert.equal(set.body.retention_days, 30)
  assert.match(set.body.note, /lifecycle rule updated/)
  const info = (await a.get('/v1/audit/retention')).body
  assert.equal(info.backend, 's3')
  assert.equal(info.configurable, true)
  assert.equal(info.retention_days, 30)
  assert.equal((await put('{"not_days":5}')).status, 400)
  assert.equal((await put('{"days":-1}')).status, 400)
})

test('POST: malformed JSON and an empty body are 422 in FastAPI\'s list shape; a non-JSON content type, or none, is 400 (FastAPI\'s Body(...) as CAIPE\'s app answers)', async (t) => {
  const a = await startAuditServer(t, 'local')
  const url = `${a.url}/v1/audit/events`
  const malformed = await raw(url, { method: 'POST', body: '{"type": ', headers: { 'content-type': 'application/json' } })
  assert.equal(malformed.status, 422)
  assert.equal(malformed.body.detail[0].type, 'json_invalid')
  assert.equal(malformed.body.detail[0].loc[0], 'body')
  assert.equal(malformed.body.code, 'VGL_AUDIT_BODY_INVALID')
  for (const headers of [{ 'content-type': 'application/json' }, {}]) {
    const empty = await raw(url, { method: 'POST', body: '', headers })
    assert.equal(empty.status, 422, JSON.stringify(headers))
    assert.deepEqual(empty.body.detail, [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }])
  }
  const text = await raw(url, { method: 'POST', body: '{"type":"auth"}', headers: { 'content-type': 'text/plain' } })
  assert.equal(text.status, 400)
  assert.equal(text.body.code, 'VGL_AUDIT_PAYLOAD_INVALID')
  const xml = await raw(url, { method: 'POST', body: '<event/>', headers: { 'content-type': 'application/xml' } })
  assert.equal(xml.status, 400, 'any other type is 400 too, not 415')
  assert.match(xml.body.detail, /expected an event object/)
  // A Blob without a type sends no Content-Type at all: FastAPI does not read it as JSON either.
  const none = await raw(url, { method: 'POST', body: new Blob(['{"type":"auth"}']) })
  assert.equal(none.status, 400, JSON.stringify(none.body))
  assert.match(none.body.detail, /expected an event object/)
  assert.equal((await a.get('/v1/audit/status')).body.accepted_events, 0)
})

test('GET limit: "abc" is FastAPI\'s int_parsing error, 0 its greater_than_equal error, both 422 naming query.limit', async (t) => {
  const a = await startAuditServer(t, 'local')
  const abc = await a.get('/v1/audit/events?limit=abc')
  assert.equal(abc.status, 422)
  assert.equal(abc.body.detail[0].type, 'int_parsing')
  assert.deepEqual(abc.body.detail[0].loc, ['query', 'limit'])
  assert.equal(abc.body.detail[0].input, 'abc')
  assert.match(abc.body.detail[0].msg, /valid integer/)
  const zero = await a.get('/v1/audit/events?limit=0')
  assert.equal(zero.status, 422)
  assert.equal(zero.body.detail[0].type, 'greater_than_equal')
  assert.deepEqual(zero.body.detail[0].ctx, { ge: 1 })
  assert.equal((await a.get('/v1/audit/events?limit=1.5')).body.detail[0].type, 'int_parsing')
})

test('a server-set ts has microseconds, as datetime.now(timezone.utc).isoformat() (test_accepts_single_event_payload_and_defaults_timestamp)', async (t) => {
  const a = await startAuditServer(t, 'local')
  const before = Date.now()
  assert.equal((await a.post({ type: 'auth', outcome: 'allow' })).status, 202)
  await waitArchived(a, 1)
  const [record] = (await a.get('/v1/audit/events?outcome=allow')).body.records
  assert.match(record.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/)
  const ms = Date.parse(record.ts)
  assert.ok(ms >= before - 1 && ms <= Date.now() + 1, record.ts)
  assert.ok(record.audit_event_id)
})

test('utcNowIso: six fraction digits (none when exactly zero, as Python), never going back, in step with the wall clock', () => {
  assert.equal(isoMicros(Date.UTC(2026, 5, 20, 1) * 1000), '2026-06-20T01:00:00Z')
  assert.equal(isoMicros(Date.UTC(2026, 5, 20, 1) * 1000 + 123_456), '2026-06-20T01:00:00.123456Z')
  assert.equal(isoMicros(Date.UTC(2026, 5, 20, 1) * 1000 + 7), '2026-06-20T01:00:00.000007Z')
  let previous = ''
  for (let i = 0; i < 2000; i++) {
    const now = utcNowIso()
    assert.match(now, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/)
    assert.ok(now >= previous || now.length !== previous.length, `${now} after ${previous}`)
    assert.ok(Math.abs(Date.parse(now) - Date.now()) <= 2, now)
    previous = now
  }
  // An explicit time (tests pass one) keeps the millisecond form.
  assert.equal(normaliseEvents([{ type: 'a' }], new Date(Date.UTC(2026, 5, 20, 1, 0, 0, 123)))[0]?.ts, '2026-06-20T01:00:00.123000Z')
})

test('a batch larger than the backlog bound is 413 naming the limit; an overflowing one is 503 with Retry-After sized from the archiver\'s rate', async (t) => {
  const a = await startAuditServer(t, 'local', { maxBacklogRecords: 5, flushIntervalMs: 600_000, flushBatchSize: 1000 })
  const tooLarge = await a.post(Array.from({ length: 6 }, () => ({ type: 'auth' })))
  assert.equal(tooLarge.status, 413)
  assert.equal(tooLarge.body.code, 'VGL_AUDIT_BATCH_TOO_LARGE')
  assert.match(tooLarge.body.detail, /audit\.maxBacklogRecords \(AUDIT_SERVICE_QUEUE_MAX_SIZE\) = 5/)
  assert.equal((await a.get('/v1/audit/status')).body.rejected_events, 6)
  assert.equal((await a.post(Array.from({ length: 4 }, () => ({ type: 'auth' })))).status, 202)
  const response = await fetch(`${a.url}/v1/audit/events`, { method: 'POST', body: '[{"type":"auth"},{"type":"auth"}]', headers: { 'content-type': 'application/json' } })
  assert.equal(response.status, 503)
  assert.equal(((await response.json()) as { detail: string }).detail, 'audit queue full')
  // The archiver has archived nothing yet (its interval is ten minutes): no rate, the fallback.
  assert.equal(response.headers.get('retry-after'), '5')
})

test('retryAfterSeconds: the excess at the measured rate, rounded up, within 1..60; the fallback while no rate is known', () => {
  assert.equal(retryAfterSeconds(100, 1000), 1)
  assert.equal(retryAfterSeconds(2500, 1000), 3)
  assert.equal(retryAfterSeconds(1_000_000, 1000), 60)
  assert.equal(retryAfterSeconds(10, undefined), 5)
  assert.equal(retryAfterSeconds(10, 0), 5)
  const meter = new RateMeter(10_000, 250)
  meter.observe(0, 0)
  assert.equal(meter.perSecond(), undefined)
  meter.observe(100, 50) // closer than the spacing: skipped
  meter.observe(2000, 4000)
  assert.equal(meter.perSecond(), 2000)
  meter.observe(20_000, 4000) // the first sample leaves the window
  assert.equal(meter.perSecond(), 0)
})
