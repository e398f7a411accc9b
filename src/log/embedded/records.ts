/**
 * Records on their way in and out of the records table: produce() calls packed for the writer
 * thread, their metadata once written, and stored rows as LogRecord objects.
 */
import type { LogRecord, ProduceRecord, RecordMetadata } from '../types.ts'
import { decodeHeaders, encodeHeaders } from './headers.ts'
import type { PackedProduceRecords, RecordRow } from './store.ts'

/**
 * Copies a produce() call's keys, values and headers into one buffer (the caller may reuse its
 * buffers once produce() returned). Records without a timestamp get `now`.
 */
export function packProduceRecords (records: readonly ProduceRecord[], now: number): PackedProduceRecords {
  const count = records.length
  const lengths = new Int32Array(3 * count)
  const timestamps = new Float64Array(count)
  const headers: Array<Buffer | null> = new Array(count)
  let total = 0
  for (let i = 0; i < count; i++) {
    const record = records[i] as ProduceRecord
    const key = record.key ?? null
    const value = record.value
    const encoded = encodeHeaders(record.headers)
    headers[i] = encoded
    lengths[3 * i] = key === null ? -1 : key.byteLength
    lengths[3 * i + 1] = value === null ? -1 : value.byteLength
    lengths[3 * i + 2] = encoded === null ? -1 : encoded.byteLength
    total += (key === null ? 0 : key.byteLength) + (value === null ? 0 : value.byteLength) + (encoded === null ? 0 : encoded.byteLength)
    timestamps[i] = record.timestamp ?? now
  }
  const data = new Uint8Array(total)
  let at = 0
  for (let i = 0; i < count; i++) {
    const record = records[i] as ProduceRecord
    const key = record.key ?? null
    const encoded = headers[i] ?? null
    if (key !== null) { data.set(key, at); at += key.byteLength }
    if (record.value !== null) { data.set(record.value, at); at += record.value.byteLength }
    if (encoded !== null) { data.set(encoded, at); at += encoded.byteLength }
  }
  return { data, lengths, timestamps }
}

/** The metadata of a written produce() call, from the first offset it got in each partition. */
export function producedMetadata (topic: string, partitions: Uint32Array, timestamps: Float64Array, firsts: readonly number[]): RecordMetadata[] {
  const next = [...firsts]
  const out: RecordMetadata[] = new Array(partitions.length)
  for (let i = 0; i < partitions.length; i++) {
    const partition = partitions[i] as number
    const offset = next[partition] as number
    next[partition] = offset + 1
    out[i] = { topic, partition, offset, timestamp: timestamps[i] as number }
  }
  return out
}

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
