/**
 * Turns one archiver batch into the files one store keeps: each record decoded, put in RFC 8785
 * form, linked into its partition's hash chain, grouped by the time bucket of its own `ts`, and
 * each group encoded as the store's format (NDJSON, gzip or not, closed by a manifest member; or
 * Parquet with the manifest in the footer) with its manifest and column index.
 *
 * Pure CPU work with no I/O, so it runs in the encoder threads (encode-pool.ts) while the event
 * loop goes on serving: its input and output are plain data that cross threads cheaply (the
 * records' values packed into one buffer; the files as byte chunks).
 */
import { gzipSync } from 'node:zlib'
import type { LogRecord } from '../log/types.ts'
import { canonicalize } from './canonical.ts'
import { ColumnIndexBuilder } from './column-index.ts'
import { linkHash, manifestOf, type FileManifest } from './integrity.ts'
import { encodeParquet, parquetColumnValue } from './parquet-format.ts'
import { indexColumns, isoZ, parseTs } from './record.ts'

export type FileFormat =
  | { kind: 'ndjson', gzip: boolean, gzipLevel: number }
  | { kind: 'parquet' }

/** A batch of log records as flat arrays: one buffer of values back to back, and per-record numbers. */
export interface PackedRecords {
  values: Uint8Array
  /** End of each record's value in `values` (a null value is empty). */
  ends: Uint32Array
  offsets: Float64Array
  timestamps: Float64Array
}

export interface EncodeRequest {
  topic: string
  partition: number
  /** Chain head before the first record. */
  head: string
  /** The records to encode (none of them in the store yet). */
  records: PackedRecords
  /** Width of the store's time buckets (a day locally, a minute on S3). */
  bucketMs: number
  format: FileFormat
  createdAtMs: number
}

export interface EncodedFile {
  bucketTimeMs: number
  /** The newest parseable ts in the file (the bucket's start when none parses). */
  newestTsMs: number
  firstOffset: number
  count: number
  /** The file's bytes, in order. */
  chunks: Uint8Array[]
}

export interface EncodeResult {
  /** Chain head after the last record. */
  head: string
  files: EncodedFile[]
}

export function packRecords (records: readonly LogRecord[]): PackedRecords {
  const batch = new RecordBatch()
  for (const record of records) batch.push(record)
  return batch.packed(0)
}

/**
 * A partition's records waiting to be archived, kept as bytes rather than as LogRecord objects:
 * the archiver holds a batch for up to flushIntervalMs, and thousands of live objects would be
 * copied by every young-generation GC of the event loop that answers HTTP requests.
 */
export class RecordBatch {
  #values: Uint8Array
  #ends: Uint32Array
  #offsets: Float64Array
  #timestamps: Float64Array
  #length = 0
  #bytes = 0

  /** Room for `expectedRecords` records of about 512 bytes at first (it grows as needed). */
  constructor (expectedRecords = 1024) {
    const records = Math.min(65_536, Math.max(16, expectedRecords))
    this.#values = new Uint8Array(records * 512)
    this.#ends = new Uint32Array(records)
    this.#offsets = new Float64Array(records)
    this.#timestamps = new Float64Array(records)
  }

  get length (): number {
    return this.#length
  }

  offsetAt (i: number): number {
    return this.#offsets[i] as number
  }

  push (record: LogRecord): void {
    const value = record.value
    const size = value === null ? 0 : value.length
    if (this.#bytes + size > this.#values.length) this.#values = grow(this.#values, this.#bytes + size)
    if (this.#length === this.#ends.length) {
      this.#ends = grow(this.#ends, this.#length + 1)
      this.#offsets = grow(this.#offsets, this.#length + 1)
      this.#timestamps = grow(this.#timestamps, this.#length + 1)
    }
    if (value !== null) this.#values.set(value, this.#bytes)
    this.#bytes += size
    this.#ends[this.#length] = this.#bytes
    this.#offsets[this.#length] = record.offset
    this.#timestamps[this.#length] = record.timestamp
    this.#length++
  }

  /**
   * Frees the buffers now (the batch is empty afterwards). Without it they would wait for a full
   * GC: a batch lives long enough (until its files are written and committed) for the young
   * generation to promote it, and the MB of buffers it holds then pile up as external memory
   * until V8 runs a mark-compact to get them back (measured: one every few seconds, pausing the
   * event loop 6–14 ms, at 20k audit events/s).
   */
  release (): void {
    for (const array of [this.#values, this.#ends, this.#offsets, this.#timestamps]) free(array)
    this.#length = 0
    this.#bytes = 0
  }

  /** A copy of the records from index `from` on, in buffers of their own (an encoder thread takes them over). */
  packed (from: number): PackedRecords {
    const start = from === 0 ? 0 : this.#ends[from - 1] as number
    const ends = this.#ends.slice(from, this.#length)
    if (start > 0) for (let i = 0; i < ends.length; i++) ends[i] = (ends[i] as number) - start
    return {
      values: this.#values.slice(start, this.#bytes),
      ends,
      offsets: this.#offsets.slice(from, this.#length),
      timestamps: this.#timestamps.slice(from, this.#length)
    }
  }
}

function grow<T extends Uint8Array | Uint32Array | Float64Array> (array: T, needed: number): T {
  const next = new (array.constructor as new (length: number) => T)(Math.max(needed, array.length * 2))
  next.set(array)
  free(array)
  return next
}

/** Gives the array's memory back at once (see RecordBatch.release); the array is empty afterwards. */
function free (array: Uint8Array | Uint32Array | Float64Array): void {
  const buffer = array.buffer as ArrayBuffer
  buffer.transfer(0)
}

interface Group {
  bucketTimeMs: number
  newestTsMs: number
  hashes: string[]
  offsets: number[]
  tsMs: number[]
  prevHash: string
  index: ColumnIndexBuilder
  /** NDJSON: the lines' bytes so far. */
  body: LineBuffer | undefined
  /** Parquet: the lines and index columns. */
  lines: string[]
  columns: Array<Array<string | null>>
}

export function encodeBatch (request: EncodeRequest): EncodeResult {
  const { partition, records, format } = request
  const bytes = Buffer.from(records.values.buffer, records.values.byteOffset, records.values.byteLength)
  const count = records.ends.length
  const groups = new Map<number, Group>()
  let prev = request.head
  for (let i = 0; i < count; i++) {
    const start = i === 0 ? 0 : records.ends[i - 1] as number
    const offset = records.offsets[i] as number
    const timestamp = records.timestamps[i] as number
    const value = decodeValue(bytes.toString('utf8', start, records.ends[i]), partition, offset, timestamp)
    const canonical = canonicalize(value)
    const hash = linkHash(prev, partition, offset, canonical)
    const ts = parseTs(value.ts)
    const bucketTimeMs = Math.floor((Number.isNaN(ts) ? timestamp : ts) / request.bucketMs) * request.bucketMs
    let group = groups.get(bucketTimeMs)
    if (group === undefined) {
      group = {
        bucketTimeMs,
        newestTsMs: Number.NaN,
        hashes: [],
        offsets: [],
        tsMs: [],
        prevHash: prev,
        index: new ColumnIndexBuilder(count),
        body: format.kind === 'ndjson' ? new LineBuffer() : undefined,
        lines: [],
        columns: format.kind === 'parquet' ? indexColumns.map(() => []) : []
      }
      groups.set(bucketTimeMs, group)
    }
    const chain = `"_chain":{"p":${partition},"o":${offset},"prev":"${prev}","hash":"${hash}"}}`
    if (group.body !== undefined) {
      group.body.writeLine(canonical, chain)
    } else {
      group.lines.push(canonical === '{}' ? `{${chain}` : `${canonical.slice(0, -1)},${chain}`)
      for (let c = 0; c < indexColumns.length; c++) (group.columns[c] as Array<string | null>).push(parquetColumnValue(value, indexColumns[c] as string))
    }
    group.hashes.push(hash)
    group.offsets.push(offset)
    group.tsMs.push(ts)
    group.index.add(value)
    if (!(group.newestTsMs >= ts)) group.newestTsMs = ts
    prev = hash
  }
  const createdAt = new Date(request.createdAtMs)
  const files: EncodedFile[] = []
  for (const group of groups.values()) {
    const manifest = manifestOf(request.topic, partition, { hashes: group.hashes, offsets: group.offsets, tsMs: group.tsMs, prevHash: group.prevHash, index: group.index.build() }, createdAt)
    files.push({
      bucketTimeMs: group.bucketTimeMs,
      newestTsMs: Number.isNaN(group.newestTsMs) ? group.bucketTimeMs : group.newestTsMs,
      firstOffset: group.offsets[0] as number,
      count: group.hashes.length,
      chunks: encodeGroup(format, group, manifest)
    })
  }
  return { head: prev, files }
}

function encodeGroup (format: FileFormat, group: Group, manifest: FileManifest): Uint8Array[] {
  if (format.kind === 'parquet') return [encodeParquet(group.columns, group.lines, manifest)]
  const lines = group.body as LineBuffer
  const body = lines.bytes()
  const tail = Buffer.from(JSON.stringify({ _manifest: manifest }) + '\n')
  // The manifest is a gzip member of its own, so a reader finds it from the file's end.
  if (!format.gzip) return [body, tail]
  const compressed = [gzipSync(body, { level: format.gzipLevel }), gzipSync(tail, { level: format.gzipLevel })]
  lines.release()
  return compressed
}

/** The record a log value holds; a value that is not a JSON object is kept, wrapped, rather than blocking the partition. */
function decodeValue (text: string, partition: number, offset: number, timestamp: number): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {}
  return { audit_event_id: `log-${partition}-${offset}`, invalid_value: text, ts: isoZ(new Date(timestamp)), type: 'vigil_invalid_record' }
}

/**
 * Line buffers kept from one batch to the next: a batch's lines take megabytes, and allocating
 * them anew each time makes V8 run full collections for the external memory (measured: a tenth
 * of an encoder thread's time went to its GC helpers).
 */
const spareBuffers: Buffer[] = []
const maxSpareBuffers = 4

/** NDJSON lines written straight into one growing buffer (no joined string, no second copy). */
class LineBuffer {
  #buffer: Buffer
  #length = 0

  constructor () {
    this.#buffer = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(64 * 1024)
  }

  /** Gives the buffer back for the next batch (once its bytes are compressed, so not needed any more). */
  release (): void {
    if (spareBuffers.length < maxSpareBuffers) spareBuffers.push(this.#buffer)
    this.#length = 0
  }

  /** Writes `canonical` with its closing brace replaced by `,` + chain (which closes the object), then a newline. */
  writeLine (canonical: string, chain: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = (canonical.length + chain.length) * 3 + 2
    if (this.#length + most > this.#buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.#buffer.length * 2, this.#length + most))
      this.#buffer.copy(grown, 0, 0, this.#length)
      this.#buffer = grown
    }
    const b = this.#buffer
    this.#length += b.write(canonical, this.#length) - 1
    if (canonical.length > 2) b[this.#length++] = 0x2c // ','
    this.#length += b.write(chain, this.#length, 'latin1')
    b[this.#length++] = 0x0a
  }

  bytes (): Buffer {
    return this.#buffer.subarray(0, this.#length)
  }
}
