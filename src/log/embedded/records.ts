/**
 * Records on their way in and out of the records table: produce() calls packed for the writer
 * thread, their metadata once written, and stored records as LogRecord objects.
 */
import type { LogRecord, ProduceRecord, RecordMetadata } from '../types.ts'
import { decodeHeaders, encodeHeaders } from './headers.ts'
import type { PackedProduceRecords, StoredRecords } from './store.ts'

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

/**
 * The records of a StoredRecords read, oldest first. Keys, values and header values are views
 * into the read's buffers (no copy).
 */
export function storedToRecords (topic: string, partition: number, stored: StoredRecords): LogRecord[] {
  const { offsets, timestamps } = stored
  const count = offsets.length
  const keys = slicer(stored.keys, stored.keyLengths)
  const values = slicer(stored.values, stored.valueLengths)
  const headers = slicer(stored.headers, stored.headerLengths)
  const out: LogRecord[] = new Array(count)
  let ordered = true
  for (let i = 0; i < count; i++) {
    const offset = offsets[i] as number
    if (i > 0 && offset <= (offsets[i - 1] as number)) ordered = false
    const header = headers(i)
    out[i] = { topic, partition, offset, timestamp: timestamps[i] as number, key: keys(i), value: values(i), headers: header === null ? [] : decodeHeaders(header) }
  }
  // The aggregates follow the subquery's ORDER BY; should SQLite ever feed them otherwise, the records still pair up.
  return ordered ? out : out.sort((a, b) => a.offset - b.offset)
}

/** Record i's bytes of a concatenation, as a view (null when the record has none); to be called with i = 0, 1, 2 … */
function slicer (bytes: Uint8Array | null, lengths: ReadonlyArray<number | null>): (i: number) => Buffer | null {
  const all = bytes === null ? Buffer.alloc(0) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  return (i) => {
    const length = lengths[i]
    if (length === null || length === undefined) return null
    at += length
    return all.subarray(at - length, at)
  }
}
