/** Read-side conversion of stored rows to LogRecord objects. */
import type { LogRecord } from '../types.ts'
import { decodeHeaders } from './headers.ts'
import type { RecordRow } from './store.ts'

export function rowToRecord (topic: string, partition: number, row: RecordRow): LogRecord {
  const key = row[2]
  const value = row[3]
  return {
    topic,
    partition,
    offset: row[0],
    timestamp: row[1],
    key: key === null ? null : Buffer.from(key.buffer, key.byteOffset, key.byteLength),
    value: value === null ? null : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    headers: decodeHeaders(row[4])
  }
}
