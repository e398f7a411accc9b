/**
 * Dead letters: the failed record's key, value bytes and headers unchanged, plus `vigil.dlq.*`
 * headers describing the failure. All header values are UTF-8 text: numbers in decimal, times in
 * ISO-8601 UTC, so any Kafka tool shows them readably.
 *
 * | header | value |
 * |---|---|
 * | vigil.dlq.topic / .partition / .offset / .timestamp | where the record was, and its timestamp |
 * | vigil.dlq.pipeline / .group / .handler | who failed it (handler `(decode)` when it never got that far) |
 * | vigil.dlq.error.code / .error.message | the VGL_* code and the message, secrets redacted |
 * | vigil.dlq.attempts / .first-failure / .last-failure | how hard it was tried |
 * | vigil.dlq.event-type / .event-id | when the record could be decoded |
 *
 * A redriven record carries `vigil.redrive.count` (how many times it was redriven),
 * `vigil.redrive.from` (the dead letter's id) and `vigil.redrive.at`.
 */
import type { Header, LogRecord, ProduceRecord } from '../log/types.ts'
import { VigilError } from '../errors.ts'

export const dlqHeaderPrefix = 'vigil.dlq.'
export const redriveHeaderPrefix = 'vigil.redrive.'

export const DlqHeader = {
  topic: 'vigil.dlq.topic',
  partition: 'vigil.dlq.partition',
  offset: 'vigil.dlq.offset',
  timestamp: 'vigil.dlq.timestamp',
  pipeline: 'vigil.dlq.pipeline',
  group: 'vigil.dlq.group',
  handler: 'vigil.dlq.handler',
  errorCode: 'vigil.dlq.error.code',
  errorMessage: 'vigil.dlq.error.message',
  attempts: 'vigil.dlq.attempts',
  firstFailure: 'vigil.dlq.first-failure',
  lastFailure: 'vigil.dlq.last-failure',
  eventType: 'vigil.dlq.event-type',
  eventId: 'vigil.dlq.event-id'
} as const

export const RedriveHeader = {
  count: 'vigil.redrive.count',
  from: 'vigil.redrive.from',
  at: 'vigil.redrive.at'
} as const

/** Longest error message kept in a header (characters). */
const maxMessageLength = 2000

export interface FailureInfo {
  pipeline: string
  group: string
  handler: string
  errorCode: string
  errorMessage: string
  attempts: number
  firstFailureAt: number
  lastFailureAt: number
  eventType?: string | undefined
  eventId?: string | undefined
}

export interface DeadLetterInfo extends FailureInfo {
  /** `<dead-letter topic>:<partition>:<offset>` */
  id: string
  dlqTopic: string
  dlqPartition: number
  dlqOffset: number
  /** When it was dead-lettered (the dead letter's own timestamp). */
  deadLetteredAt: number
  original: { topic: string, partition: number, offset: number, timestamp: number }
  /** How many times the original record had been redriven before it failed this time. */
  redriveCount: number
}

export interface DeadLetter {
  info: DeadLetterInfo
  key: Buffer | null
  value: Buffer | null
  /** The original headers, without vigil.dlq.* */
  headers: Header[]
}

/** Builds the dead-letter record of `record`: same key, value and headers, plus the failure headers. */
export function toDeadLetter (record: LogRecord, failure: FailureInfo): ProduceRecord {
  const headers: Header[] = record.headers.filter(([name]) => !name.startsWith(dlqHeaderPrefix))
  const add = (name: string, value: string | number) => { headers.push([name, Buffer.from(String(value))]) }
  add(DlqHeader.topic, record.topic)
  add(DlqHeader.partition, record.partition)
  add(DlqHeader.offset, record.offset)
  add(DlqHeader.timestamp, new Date(record.timestamp).toISOString())
  add(DlqHeader.pipeline, failure.pipeline)
  add(DlqHeader.group, failure.group)
  add(DlqHeader.handler, failure.handler)
  add(DlqHeader.errorCode, failure.errorCode)
  add(DlqHeader.errorMessage, truncate(failure.errorMessage, maxMessageLength))
  add(DlqHeader.attempts, failure.attempts)
  add(DlqHeader.firstFailure, new Date(failure.firstFailureAt).toISOString())
  add(DlqHeader.lastFailure, new Date(failure.lastFailureAt).toISOString())
  if (failure.eventType !== undefined) add(DlqHeader.eventType, failure.eventType)
  if (failure.eventId !== undefined) add(DlqHeader.eventId, failure.eventId)
  return { key: record.key, value: record.value, headers }
}

export function headerText (headers: readonly Header[], name: string): string | undefined {
  let found: string | undefined
  // The last one wins, as with Kafka's lastHeader().
  for (const [n, v] of headers) if (n === name) found = v.toString('utf8')
  return found
}

export function redriveCountOf (headers: readonly Header[]): number {
  const text = headerText(headers, RedriveHeader.count)
  const n = text === undefined ? 0 : Number(text)
  return Number.isSafeInteger(n) && n >= 0 ? n : 0
}

export function deadLetterId (topic: string, partition: number, offset: number): string {
  return `${topic}:${partition}:${offset}`
}

export function parseDeadLetterId (id: string): { topic: string, partition: number, offset: number } {
  const m = /^([a-zA-Z0-9._-]{1,249}):(\d{1,9}):(\d{1,16})$/.exec(id)
  if (m === null) throw new VigilError('VGL_DLQ_ID_INVALID', `dead-letter id ${JSON.stringify(id)} is not <topic>:<partition>:<offset>`, { id })
  return { topic: m[1] as string, partition: Number(m[2]), offset: Number(m[3]) }
}

/** Reads a record of a dead-letter topic; throws VGL_DLQ_NOT_A_DEAD_LETTER when it lacks the headers. */
export function fromDeadLetterRecord (record: LogRecord): DeadLetter {
  const h = (name: string): string | undefined => headerText(record.headers, name)
  const id = deadLetterId(record.topic, record.partition, record.offset)
  const topic = h(DlqHeader.topic)
  const partition = Number(h(DlqHeader.partition))
  const offset = Number(h(DlqHeader.offset))
  if (topic === undefined || !Number.isInteger(partition) || !Number.isInteger(offset)) {
    throw new VigilError('VGL_DLQ_NOT_A_DEAD_LETTER', `record ${id} has no vigil.dlq.topic/partition/offset headers`, { id })
  }
  const time = (name: string): number => {
    const text = h(name)
    const t = text === undefined ? Number.NaN : Date.parse(text)
    return Number.isNaN(t) ? record.timestamp : t
  }
  const headers = record.headers.filter(([name]) => !name.startsWith(dlqHeaderPrefix))
  return {
    info: {
      id,
      dlqTopic: record.topic,
      dlqPartition: record.partition,
      dlqOffset: record.offset,
      deadLetteredAt: record.timestamp,
      original: { topic, partition, offset, timestamp: time(DlqHeader.timestamp) },
      pipeline: h(DlqHeader.pipeline) ?? '',
      group: h(DlqHeader.group) ?? '',
      handler: h(DlqHeader.handler) ?? '',
      errorCode: h(DlqHeader.errorCode) ?? '',
      errorMessage: h(DlqHeader.errorMessage) ?? '',
      attempts: Number(h(DlqHeader.attempts) ?? 0),
      firstFailureAt: time(DlqHeader.firstFailure),
      lastFailureAt: time(DlqHeader.lastFailure),
      eventType: h(DlqHeader.eventType),
      eventId: h(DlqHeader.eventId),
      redriveCount: redriveCountOf(headers)
    },
    key: record.key,
    value: record.value,
    headers
  }
}

/** The record a redrive produces: the original key, value and headers, with the redrive headers replaced. */
export function toRedriveRecord (deadLetter: DeadLetter, now: number): ProduceRecord {
  const headers: Header[] = deadLetter.headers.filter(([name]) => !name.startsWith(redriveHeaderPrefix))
  headers.push([RedriveHeader.count, Buffer.from(String(deadLetter.info.redriveCount + 1))])
  headers.push([RedriveHeader.from, Buffer.from(deadLetter.info.id)])
  headers.push([RedriveHeader.at, Buffer.from(new Date(now).toISOString())])
  const record: ProduceRecord = { key: deadLetter.key, value: deadLetter.value, headers }
  // Unkeyed records go back to their partition, so their order relative to the partition holds.
  if (deadLetter.key === null) record.partition = deadLetter.info.original.partition
  return record
}

function truncate (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

const secretPatterns: RegExp[] = [
  /\b(Token|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi,
  /\b(password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]+/gi,
  /(\/\/[^/\s:@]+:)[^@\s/]+@/g,
  /\b(X-Amz-Signature|X-Amz-Credential|Signature)=[^&\s]+/gi
]

/**
 * Removes secrets from a message meant for a header or a log line: the given secret values
 * (tokens, passwords from config) wherever they appear, auth schemes' credentials, `key=value`
 * pairs with secret-sounding keys and URL user-info passwords.
 */
export function redactSecrets (text: string, secrets: readonly string[] = []): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***')
  out = out.replace(secretPatterns[0] as RegExp, '$1 ***')
  out = out.replace(secretPatterns[1] as RegExp, '$1$2***')
  out = out.replace(secretPatterns[2] as RegExp, '$1***@')
  out = out.replace(secretPatterns[3] as RegExp, '$1=***')
  return out
}
