/**
 * Audit events as CAIPE's audit-service accepts them (models.py `AuditEvent`, main.py
 * `_normalize_payload`): the payload shapes, the known fields and their types, the defaults
 * (`audit_event_id` uuid4, `ts` now in UTC ISO `…Z`), unknown fields kept, the verbosity presets
 * and the `subject_hash` helper.
 *
 * Where Vigil differs on purpose: a field of the wrong type is a 400 naming the event index and
 * the field (CAIPE's unhandled ValidationError is a 500).
 */
import { createHash, randomFillSync } from 'node:crypto'
import { VigilError } from '../errors.ts'
import { sortKeys } from './canonical.ts'

/** One stored audit record: CAIPE's fields plus whatever else the producer sent. */
export type AuditRecord = Record<string, unknown> & { audit_event_id: string, ts: string }

/** Known string fields of CAIPE's AuditEvent (all optional, string or null). */
export const knownStringFields = [
  'audit_event_id', 'type', 'tenant_id', 'subject_hash', 'subject_ref', 'actor_ref', 'action', 'outcome',
  'reason_code', 'correlation_id', 'component', 'resource_ref', 'pdp', 'source'
] as const
const knownStringFieldSet = new Set<string>(knownStringFields)

/** CAIPE's string index columns (storage.py), in Parquet column order. */
export const indexColumns = [
  'ts', 'type', 'outcome', 'component', 'correlation_id', 'tenant_id', 'source', 'action', 'capability',
  'resource_ref', 'subject_hash', 'subject_ref', 'actor_ref', 'reason_code', 'agent_name', 'tool_name', 'user_email'
] as const
export type IndexColumn = typeof indexColumns[number]

/** Exact-match query filters (main.py); `capability` falls back to `action`, `user_email` is a substring. */
export const exactFilters = [
  'type', 'outcome', 'component', 'correlation_id', 'tenant_id', 'source', 'action', 'resource_ref',
  'subject_hash', 'reason_code', 'agent_name', 'tool_name'
] as const
export type ExactFilter = typeof exactFilters[number]

export interface EventProblem {
  index: number
  field: string
  message: string
}

/**
 * Splits a POST body into events as CAIPE does: an object is one event, an array is a batch, and
 * `{"events": [...]}` is a batch. Anything else, or a non-object element, is a 400.
 */
export function payloadEvents (body: unknown): Array<Record<string, unknown>> {
  let events: unknown[]
  if (Array.isArray(body)) {
    events = body
  } else if (isPlainObject(body)) {
    events = Array.isArray(body.events) ? body.events : [body]
  } else {
    throw new VigilError('VGL_AUDIT_PAYLOAD_INVALID', 'payload must be an audit event object, an array of events, or {"events": [...]}', {})
  }
  for (let i = 0; i < events.length; i++) {
    if (!isPlainObject(events[i])) {
      throw new VigilError('VGL_AUDIT_PAYLOAD_INVALID', `event ${i} is not an object`, { index: i })
    }
  }
  return events as Array<Record<string, unknown>>
}

/**
 * Validates and normalises a batch in place of CAIPE's `AuditEvent(**item).to_record()`.
 * Throws VGL_AUDIT_EVENT_INVALID naming every bad field (index and name) before anything is kept.
 */
export function normaliseEvents (events: ReadonlyArray<Record<string, unknown>>, now?: Date): AuditRecord[] {
  const problems: EventProblem[] = []
  const out: AuditRecord[] = new Array(events.length)
  let nowIso: string | undefined
  let ids: UuidBatch | undefined
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Record<string, unknown>
    // Keys go in in RFC 8785 order (the defaults at their place), so the record's JSON text is
    // already canonical and the archiver's hashing takes canonicalize()'s fast path.
    const keys = sortKeys(Object.keys(event))
    const record: Record<string, unknown> = {}
    for (const key of keys) {
      if (record.audit_event_id === undefined && key > 'audit_event_id') record.audit_event_id = (ids ??= new UuidBatch(events.length)).take()
      if (record.ts === undefined && key > 'ts') record.ts = nowIso ??= (now === undefined ? utcNowIso() : isoZ(now))
      const value = event[key]
      if (value === null || value === undefined) continue // exclude_none=True
      if (key === '__proto__') {
        problems.push({ index: i, field: key, message: 'is not allowed' })
        continue
      }
      if (key === 'ts') {
        if (typeof value === 'string') {
          record.ts = value // kept exactly as sent, like pydantic's datetime|str union
        } else if (typeof value === 'number' && Number.isFinite(value)) {
          record.ts = epochToIso(value)
        } else {
          problems.push({ index: i, field: 'ts', message: `must be an ISO 8601 string, an epoch number or null, got ${describeType(value)}` })
        }
        continue
      }
      if (knownStringFieldSet.has(key) && typeof value !== 'string') {
        problems.push({ index: i, field: key, message: `must be a string or null, got ${describeType(value)}` })
        continue
      }
      record[key] = value
    }
    if (record.audit_event_id === undefined) record.audit_event_id = (ids ??= new UuidBatch(events.length)).take()
    if (record.ts === undefined) record.ts = nowIso ??= (now === undefined ? utcNowIso() : isoZ(now))
    out[i] = record as AuditRecord
  }
  if (problems.length > 0) {
    const first = problems[0] as EventProblem
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : ''
    throw new VigilError('VGL_AUDIT_EVENT_INVALID', `event ${first.index}: field ${first.field} ${first.message}${more}`, {
      index: first.index, field: first.field, errors: problems.slice(0, 100)
    })
  }
  return out
}

/**
 * Random (version 4) UUIDs for one batch, from one read of the CSPRNG. crypto.randomUUID() builds
 * each id from 20 string concatenations: for a 500-event request that was 0.15 ms and 325 KB of
 * short-lived strings (young-generation GCs on the ingest path); this is 0.06 ms and 32 KB.
 */
class UuidBatch {
  readonly #random: Buffer
  readonly #text: Buffer
  #next = 0

  constructor (count: number) {
    this.#random = randomFillSync(Buffer.allocUnsafe(16 * count))
    this.#text = Buffer.allocUnsafe(36 * count)
  }

  take (): string {
    const k = this.#next++
    const random = this.#random
    const text = this.#text
    const r = 16 * k
    random[r + 6] = ((random[r + 6] as number) & 0x0f) | 0x40 // version 4
    random[r + 8] = ((random[r + 8] as number) & 0x3f) | 0x80 // RFC 9562 variant
    let o = 36 * k
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text[o++] = 0x2d // '-'
      const byte = random[r + i] as number
      text[o++] = hexDigits[byte >> 4] as number
      text[o++] = hexDigits[byte & 0x0f] as number
    }
    return text.toString('latin1', 36 * k, 36 * k + 36)
  }
}

const hexDigits = Buffer.from('0123456789abcdef', 'latin1')

/**
 * Now, as CAIPE's `utc_now_iso()` writes it: `datetime.now(timezone.utc).isoformat()` with
 * `+00:00` as `Z`, to the microsecond ("2026-06-20T01:00:00.123456Z"; Python leaves the fraction
 * out when it is exactly 0). Date has milliseconds only: the microseconds come from the
 * monotonic clock, kept in step with the wall clock (re-synced when they drift 1 ms apart), so
 * ids made in one millisecond still order by time.
 */
export function utcNowIso (): string {
  const wallUs = Date.now() * 1000
  let us = Number(process.hrtime.bigint() / 1000n) + monoToWallUs
  if (!(Math.abs(us - wallUs) < 1000)) {
    monoToWallUs = wallUs - Number(process.hrtime.bigint() / 1000n)
    us = wallUs
  }
  return isoMicros(us)
}
let monoToWallUs = Number.NaN

/** A UTC time in microseconds since the epoch, as Python's isoformat() with `Z`. */
export function isoMicros (us: number): string {
  const ms = Math.floor(us / 1000)
  const micros = us - ms * 1000
  const iso = new Date(ms).toISOString()
  const fraction = (ms % 1000) * 1000 + micros
  return fraction === 0 ? iso.slice(0, 19) + 'Z' : `${iso.slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`
}

/** `datetime.isoformat()` of a UTC time, with `+00:00` written `Z`, as CAIPE's `_utc_now_iso`. */
export function isoZ (date: Date): string {
  // Python prints microseconds; JS has milliseconds: "2026-06-20T01:00:00.123000Z".
  const iso = date.toISOString() // 2026-06-20T01:00:00.123Z
  return iso.slice(0, 23) + '000Z'
}

/** Pydantic turns a numeric epoch (seconds, or milliseconds when large) into a UTC datetime. */
function epochToIso (value: number): string {
  const ms = Math.abs(value) > 2e10 ? value : value * 1000
  const date = new Date(ms)
  if (Number.isNaN(date.getTime())) return String(value)
  const iso = date.toISOString()
  return (iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23) + '000') + 'Z'
}

/**
 * Parses a stored `ts` as CAIPE's `_record_matches` does: ISO 8601, `Z` allowed, no zone = UTC.
 * NaN when it does not parse (such records are stored but never returned by a query).
 */
export function parseTs (ts: unknown): number {
  if (typeof ts !== 'string') return Number.NaN
  return parseIsoTime(ts)
}

const isoPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|z|[+-]\d{2}:?\d{2})?$/

/** ISO 8601 as Python's datetime.fromisoformat reads it; a time without a zone is UTC. NaN otherwise. */
export function parseIsoTime (text: string): number {
  const fast = parseUtcIso(text)
  if (fast !== undefined) return fast
  const m = isoPattern.exec(text.trim())
  if (m === null) return Number.NaN
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return Number.NaN
  let ms = utc(Number(y), month - 1, day, Number(h), Number(mi), Number(s), Number((frac + '000').slice(0, 3)))
  if (new Date(ms).getUTCDate() !== day) return Number.NaN
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000
  }
  return ms
}

/**
 * The layouts Vigil and most producers write, `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`, read digit by
 * digit (the archiver parses every record's ts). Anything else, or a value out of range, is left
 * to the general parser (undefined).
 */
function parseUtcIso (t: string): number | undefined {
  const n = t.length
  if ((n !== 20 && n !== 24 && n !== 27) || t.charCodeAt(n - 1) !== 90 || t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 ||
    t.charCodeAt(10) !== 84 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58 || (n > 20 && t.charCodeAt(19) !== 46)) return undefined
  const year = digits(t, 0, 4)
  const month = digits(t, 5, 2)
  const day = digits(t, 8, 2)
  const hour = digits(t, 11, 2)
  const minute = digits(t, 14, 2)
  const second = digits(t, 17, 2)
  const ms = n > 20 ? digits(t, 20, 3) : 0
  if (n === 27 && digits(t, 23, 3) < 0) return undefined
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
    second < 0 || second > 59 || ms < 0) return undefined
  const time = utc(year, month - 1, day, hour, minute, second, ms)
  // Date.UTC rolls Feb 30 over into March; Python refuses it, and so does the general parser.
  return new Date(time).getUTCDate() === day ? time : undefined
}

/** Date.UTC, but years 0 to 99 are those years (Date.UTC reads them as 1900 to 1999). */
function utc (year: number, monthIndex: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  if (year >= 100) return Date.UTC(year, monthIndex, day, hour, minute, second, ms)
  const date = new Date(Date.UTC(2000, monthIndex, day, hour, minute, second, ms))
  date.setUTCFullYear(year)
  return date.getTime()
}

/** The decimal number in text[at, at + count), or -1 when one of them is not a digit. */
function digits (text: string, at: number, count: number): number {
  let value = 0
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}

/** CAIPE's subject_hash helper: `"sha256:" + sha256(salt + ":" + subject)`. */
export function subjectHash (subject: string, salt: string): string {
  return 'sha256:' + createHash('sha256').update(`${salt}:${subject}`).digest('hex')
}

/** CAIPE's verbosity presets (verbosity.py); null means every type is kept. */
export const verbosityPresets: Readonly<Record<string, ReadonlySet<string> | null>> = Object.freeze({
  minimal: new Set(['cas_grant', 'cas_reconcile']),
  standard: new Set(['cas_grant', 'cas_reconcile', 'auth', 'cas_decision', 'credential_action']),
  il2: new Set(['auth', 'cas_grant', 'cas_decision', 'credential_action']),
  soc2: new Set(['auth', 'cas_grant', 'cas_decision', 'credential_action', 'agent_delegation']),
  verbose: null,
  il5: null
})

/** The types a preset keeps, or null for all (verbose, il5 and unknown presets). */
export function allowedTypes (preset: string): ReadonlySet<string> | null {
  return verbosityPresets[preset.trim().toLowerCase()] ?? null
}

/** Drops the events a restrictive preset does not keep (events without a type are dropped too). */
export function applyVerbosity<T extends Record<string, unknown>> (events: T[], allowed: ReadonlySet<string> | null): T[] {
  if (allowed === null) return events
  return events.filter(e => typeof e.type === 'string' && allowed.has(e.type))
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describeType (value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}
