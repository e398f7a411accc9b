import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { allowedTypes, applyVerbosity, normaliseEvents, parseIsoTime, payloadEvents, subjectHash } from '../../src/audit/record.ts'
import { canonicalize, sortKeys } from '../../src/audit/canonical.ts'
import { resolveAuditConfig } from '../../src/audit/settings.ts'
import { validateConfig } from '../../src/config/load.ts'
import { isVigilError } from '../../src/errors.ts'

test('payload shapes: an object, an array, {events:[…]}; anything else is a 400', () => {
  assert.deepEqual(payloadEvents({ type: 'a' }), [{ type: 'a' }])
  assert.deepEqual(payloadEvents([{ type: 'a' }, { type: 'b' }]), [{ type: 'a' }, { type: 'b' }])
  assert.deepEqual(payloadEvents({ events: [{ type: 'a' }] }), [{ type: 'a' }])
  for (const bad of ['text', 5, null, [1], [{ a: 1 }, 'x']]) {
    assert.throws(() => payloadEvents(bad), (e: unknown) => isVigilError(e, 'VGL_AUDIT_PAYLOAD_INVALID') && e.statusCode === 400)
  }
})

test('normalisation follows CAIPE: uuid4 id, UTC ts …Z, unknown fields kept, nulls dropped, string ts kept as sent', () => {
  const now = new Date('2026-06-20T01:00:00.123Z')
  const [a, b, c] = normaliseEvents([{ type: 'auth', custom: { x: 1 }, outcome: null }, { ts: '2026-01-01T00:00:00+02:00', audit_event_id: 'mine' }, { ts: 1781917200 }], now)
  assert.match(a?.audit_event_id ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.equal(a?.ts, '2026-06-20T01:00:00.123000Z')
  assert.deepEqual(a?.custom, { x: 1 })
  assert.equal(Object.hasOwn(a ?? {}, 'outcome'), false)
  assert.equal(b?.ts, '2026-01-01T00:00:00+02:00')
  assert.equal(b?.audit_event_id, 'mine')
  assert.equal(c?.ts, '2026-06-20T01:00:00Z')
  // Ids made for one batch: every one a UUIDv4, none repeated, in and across batches.
  const uuid4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
  const ids = [...normaliseEvents(Array.from({ length: 5000 }, () => ({}))), ...normaliseEvents([{}, {}])].map(r => r.audit_event_id)
  for (const id of ids) assert.match(id, uuid4)
  assert.equal(new Set(ids).size, ids.length)
})

test('a wrong type is a 400 naming the event index and the field (CAIPE: 500)', () => {
  assert.throws(() => normaliseEvents([{ type: 'ok' }, { type: 'ok' }, { outcome: 5 }]), (e: unknown) => {
    assert.ok(isVigilError(e, 'VGL_AUDIT_EVENT_INVALID'))
    assert.equal(e.statusCode, 400)
    assert.equal(e.context.index, 2)
    assert.equal(e.context.field, 'outcome')
    assert.match(e.message, /event 2: field outcome/)
    return true
  })
  assert.throws(() => normaliseEvents([{ ts: true }]), /event 0: field ts/)
  assert.throws(() => normaliseEvents([{ action: ['x'] }, { tenant_id: {} }]), (e: unknown) => isVigilError(e) && (e.context.errors as unknown[]).length === 2)
})

test('verbosity presets match CAIPE; verbose, il5 and unknown keep all; restrictive presets drop untyped events', () => {
  const events = [{ type: 'auth' }, { type: 'cas_grant' }, { type: 'agent_delegation' }, {}]
  assert.deepEqual(applyVerbosity(events, allowedTypes('minimal')), [{ type: 'cas_grant' }])
  assert.deepEqual(applyVerbosity(events, allowedTypes('soc2')), [{ type: 'auth' }, { type: 'cas_grant' }, { type: 'agent_delegation' }])
  for (const preset of ['verbose', 'il5', 'whatever']) assert.equal(applyVerbosity(events, allowedTypes(preset)).length, 4)
})

test('subject_hash is "sha256:" + sha256(salt:subject)', () => {
  assert.equal(subjectHash('alice', 'caipe-098-audit'), 'sha256:' + createHash('sha256').update('caipe-098-audit:alice').digest('hex'))
})

test('ISO parsing: Z, offsets, no zone = UTC, garbage = NaN', () => {
  assert.equal(parseIsoTime('2026-06-20T01:00:00Z'), Date.UTC(2026, 5, 20, 1))
  assert.equal(parseIsoTime('2026-06-20T01:00:00'), Date.UTC(2026, 5, 20, 1))
  assert.equal(parseIsoTime('2026-06-20T03:00:00+02:00'), Date.UTC(2026, 5, 20, 1))
  assert.equal(parseIsoTime('2026-06-20T01:00:00.123456Z'), Date.UTC(2026, 5, 20, 1, 0, 0, 123))
  assert.ok(Number.isNaN(parseIsoTime('garbage')))
  assert.ok(Number.isNaN(parseIsoTime('2026-02-30T00:00:00Z')))
  assert.ok(Number.isNaN(parseIsoTime('2026-06-20T24:00:00Z')), 'hour 24 (Date.parse takes it as the next midnight; Python refuses it)')
  assert.ok(Number.isNaN(parseIsoTime('2026-06-20T01:00:00.12xZ')))
  // Years below 100 are those years (Date.UTC would read them as 19xx).
  assert.equal(parseIsoTime('0001-01-01T00:00:00Z'), Date.parse('0001-01-01T00:00:00Z'))
  assert.equal(parseIsoTime('0099-03-01T00:00:00.500Z'), Date.parse('0099-03-01T00:00:00.500Z'))
  assert.ok(Number.isNaN(parseIsoTime('0001-02-29T00:00:00Z')))
  // The digit-by-digit path for …T…Z agrees with V8's parser over many instants.
  for (let ms = Date.UTC(1969, 11, 31); ms < Date.UTC(2100, 0, 1); ms += 86_399_937 * 7) {
    const iso = new Date(ms).toISOString()
    assert.equal(parseIsoTime(iso), ms, iso)
    assert.equal(parseIsoTime(iso.slice(0, 19) + 'Z'), Math.floor(ms / 1000) * 1000, iso)
    assert.equal(parseIsoTime(iso.slice(0, 23) + '456Z'), ms, iso)
  }
})

test('RFC 8785 canonical JSON: sorted keys, ES number form, JSON.stringify strings', () => {
  // RFC 8785 §3.2.3 example (sorting) and number serialisation examples.
  assert.equal(canonicalize({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', דּ: 'Hebrew Letter Dalet With Dagesh', 1: 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', ö: 'Latin Small Letter O With Diaeresis' }),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}')
  assert.equal(canonicalize({ numbers: [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], string: '\u20ac$\u000F\u000aA\'\u0042\u0022\u005c\\"/', literals: [null, true, false] }),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
  assert.throws(() => canonicalize({ a: Number.NaN }))
})

test('sortKeys orders keys as Array.prototype.sort does (UTF-16 code units), by insertion up to 32 keys and by sort above', () => {
  const alphabet = ['a', 'B', '_', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33', '\r', 'aa', 'a_', '']
  let seed = 7
  const random = (n: number): number => { seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31; return seed % n }
  for (const size of [0, 1, 2, 12, 32, 33, 200]) {
    for (let round = 0; round < 20; round++) {
      const keys = new Set<string>()
      while (keys.size < size) keys.add(Array.from({ length: 1 + random(3) }, () => alphabet[random(alphabet.length)]).join(''))
      const shuffled = [...keys].sort(() => random(3) - 1)
      assert.deepEqual(sortKeys([...shuffled]), [...shuffled].sort(), `${size} keys`)
    }
  }
})

test('CAIPE environment variables are aliases of the audit config, parsed as CAIPE parses them', () => {
  const base = validateConfig({}).audit
  const c = resolveAuditConfig(base, {
    AUDIT_SERVICE_BACKEND: 'S3',
    AUDIT_SERVICE_S3_BUCKET: 'b',
    AUDIT_SERVICE_LOCAL_GZIP: 'on',
    AUDIT_SERVICE_LOCAL_RETENTION_DAYS: '0',
    AUDIT_SERVICE_QUEUE_MAX_SIZE: 'lots',
    AUDIT_SERVICE_FLUSH_BATCH_SIZE: '250',
    AUDIT_SERVICE_FLUSH_INTERVAL_SECONDS: '0.5',
    AUDIT_SERVICE_LOCAL_DISK_WARNING_PERCENT: '90',
    AUDIT_SERVICE_LOCAL_DISK_CRITICAL_PERCENT: '50',
    AUDIT_LOG_VERBOSITY: 'minimal',
    AUDIT_SERVICE_READ_MAX_DAYS: '7',
    VIGIL_AUDIT_READ_MAX_DAYS: '9'
  })
  assert.equal(c.backend, 's3')
  assert.equal(c.s3.bucket, 'b')
  assert.equal(c.local.gzip, true)
  assert.equal(c.local.retentionDays, 1, 'raised to CAIPE\'s minimum')
  assert.equal(c.maxBacklogRecords, base.maxBacklogRecords, 'unparseable falls back to the default')
  assert.equal(c.flushBatchSize, 250)
  assert.equal(c.flushIntervalMs, 500)
  assert.equal(c.local.diskCriticalPercent, 90, 'critical is at least warning')
  assert.equal(c.verbosity, 'minimal')
  assert.equal(c.read.maxDays, base.read.maxDays, 'a VIGIL_ variable wins over its alias')
  assert.throws(() => resolveAuditConfig(base, { AUDIT_SERVICE_BACKEND: 'gcs' }), /AUDIT_SERVICE_BACKEND/)
  assert.throws(() => resolveAuditConfig(base, { AUDIT_SERVICE_BACKEND: 's3' }), /audit.s3.bucket/)
})
