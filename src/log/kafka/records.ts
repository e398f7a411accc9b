/**
 * Kafka record batches (as @platformatic/kafka parses them from a Fetch response) → LogRecords,
 * and the other direction's size estimate.
 */
import type { RecordsBatch } from '@platformatic/kafka'
import type { Header, LogRecord, ProduceRecord } from '../types.ts'

const isControl = 0x20
const logAppendTime = 0x08
const empty = Buffer.alloc(0)

export interface Appended {
  /** The offset after the last batch (the next one to fetch), or undefined when there was none. */
  next: number | undefined
  /** recordBytes() of the records appended. */
  bytes: number
}

/**
 * Appends the records of `batches` with offsets >= `from` to `out`. Control batches (transaction
 * markers) are skipped but still move the next offset. Keys, values and header values are views
 * into the fetch response (no copy).
 */
export function appendRecords (out: LogRecord[], topic: string, partition: number, batches: readonly RecordsBatch[], from: number): Appended {
  let next: number | undefined
  let bytes = 0
  for (const batch of batches) {
    const first = Number(batch.firstOffset)
    next = first + batch.lastOffsetDelta + 1
    if ((batch.attributes & isControl) !== 0) continue
    const appendTime = (batch.attributes & logAppendTime) !== 0 ? Number(batch.maxTimestamp) : undefined
    const firstTimestamp = Number(batch.firstTimestamp)
    for (const record of batch.records) {
      const offset = first + record.offsetDelta
      if (offset < from) continue
      const headers: Header[] = record.headers.length === 0 ? [] : new Array(record.headers.length)
      for (let i = 0; i < record.headers.length; i++) {
        const [name, value] = record.headers[i] as [Buffer | null, Buffer | null]
        headers[i] = [name === null ? '' : name.toString('utf8'), value ?? empty]
      }
      const appended: LogRecord = {
        topic,
        partition,
        offset,
        timestamp: appendTime ?? firstTimestamp + Number(record.timestampDelta),
        key: record.key,
        value: record.value,
        headers
      }
      bytes += recordBytes(appended)
      out.push(appended)
    }
  }
  return { next, bytes }
}

/** Key, value and headers (names as UTF-8): what maxMessageBytes counts on the embedded log. */
export function payloadBytes (record: ProduceRecord): number {
  let size = (record.key?.length ?? 0) + (record.value?.length ?? 0)
  if (record.headers !== undefined) {
    for (const [name, value] of record.headers) size += Buffer.byteLength(name) + value.length
  }
  return size
}

/** Bytes a record takes in a Kafka batch, rounded up (varint lengths counted at their widest). */
export function recordBatchBytes (record: ProduceRecord): number {
  return 36 + payloadBytes(record) + 10 * (record.headers?.length ?? 0)
}

/** Bytes of a polled record, for the consumer's buffer limits. */
export function recordBytes (record: LogRecord): number {
  let size = 64 + (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const [name, value] of record.headers) size += name.length + value.length
  return size
}
