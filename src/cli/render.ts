/**
 * How records cross the terminal: NDJSON in (`vigil produce`), NDJSON out (`vigil consume`).
 * Bytes are shown as JSON when they are JSON text, as a string when they are other UTF-8, and
 * as base64 otherwise; the `*Format` fields say which, so nothing is ambiguous.
 */
import type { LogRecord } from '../log/types.ts'

export type BytesFormat = 'json' | 'text' | 'base64'

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function renderBytes (bytes: Buffer): { format: BytesFormat, value: unknown } {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { format: 'base64', value: bytes.toString('base64') }
  }
  if (/^\s*[[{"\d\-tfn]/.test(text)) {
    try {
      return { format: 'json', value: JSON.parse(text) }
    } catch {}
  }
  return { format: 'text', value: text }
}

export interface RenderedRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: string | null
  keyFormat?: 'base64'
  value: unknown
  valueFormat: BytesFormat | 'null' | string
  headers: Array<[string, string]>
  [extra: string]: unknown
}

/** `decodeValue` may turn the bytes into JSON (e.g. Avro); it returns undefined to leave them. */
export function renderRecord (record: LogRecord, decodeValue?: (value: Buffer) => { format: string, value: unknown, [extra: string]: unknown } | undefined): RenderedRecord {
  const key = record.key === null ? { format: 'null', value: null } : renderBytes(record.key)
  const decoded = record.value === null ? { format: 'null', value: null } : (decodeValue?.(record.value) ?? renderBytes(record.value))
  const { format: valueFormat, value, ...extra } = decoded
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: key.format === 'base64' ? key.value as string : key.format === 'null' ? null : record.key?.toString('utf8') ?? null,
    ...(key.format === 'base64' ? { keyFormat: 'base64' as const } : {}),
    value,
    valueFormat,
    ...extra,
    headers: record.headers.map(([name, bytes]) => {
      const rendered = renderBytes(bytes)
      return [name, rendered.format === 'base64' ? `base64:${rendered.value as string}` : bytes.toString('utf8')]
    })
  }
}
