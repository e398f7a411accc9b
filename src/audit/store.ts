/**
 * What the archiver, the queries and `verify` need from a store. Two implementations:
 * local NDJSON(.gz) files (local-store.ts) and S3 Parquet objects (s3-store.ts). Both hold the
 * same records in the same layout CAIPE uses, plus Vigil's manifest at the end of each file and a
 * few small JSON documents under `_vigil/` (archiver state, signed checkpoints, retention ledger).
 */
import { createHash } from 'node:crypto'
import { validateConfig } from '../config/load.ts'
import type { VigilConfig } from '../config/schema.ts'
import type { FileFormat } from './batch-encoder.ts'
import type { FileManifest } from './integrity.ts'
import { columnValue, countRows, matchingRows } from './column-index.ts'
import { parseTs } from './record.ts'

export interface StoredFile {
  /** Path under the root (local) or key under the bucket (S3). */
  readonly name: string
  /** The time in the file name (the newest record's ts, to the second), epoch ms. */
  readonly nameTimeMs: number
  /** The time bucket of the directory or key prefix (day locally, minute on S3), epoch ms. */
  readonly bucketTimeMs: number
}

/** One line (local) or row (S3) of a stored file, as read back. */
export interface StoredLine {
  /** Position in the file, from 0. */
  position: number
  /** The parsed record, or undefined when the line is not a JSON object. */
  record: Record<string, unknown> | undefined
  /** What is wrong with the line beyond its content (e.g. an index column disagreeing with record_json). */
  problem?: string
}

export interface FileContent {
  lines: StoredLine[]
  manifest: FileManifest | null
  /** Why the manifest is missing or unreadable, when it is. */
  manifestProblem?: string
}

/** A compiled query filter: the time range and the CAIPE filters. */
export interface RecordFilter {
  sinceMs: number
  untilMs: number
  /** Exact matches, `capability` falling back to `action`. */
  exact: Array<[column: string, value: string]>
  /** Case-insensitive substring of user_email, lower-cased. */
  userEmail?: string | undefined
}

export interface ScanHit {
  tsMs: number
  partition: number
  offset: number
  record?: Record<string, unknown>
}

export interface StorageHealth {
  backend: 'local' | 's3'
  status: 'healthy' | 'warning' | 'down'
  detail: string
  [extra: string]: unknown
}

export interface ListOptions {
  /** Listing granularity (S3; CAIPE's time_resolution). */
  resolution?: 'auto' | 'minute' | 'hour' | 'day' | undefined
  /** List every prefix now, reusing no cached listing (verify). */
  fresh?: boolean
}

export interface ArchiveStore {
  readonly kind: 'local' | 's3'
  /** How many files a query reads at once (disk: a few; S3: more, to hide request latency). */
  readonly scanConcurrency: number
  /** How the store's files are encoded (batch-encoder.ts does it, off the event loop). */
  readonly format: FileFormat
  /** Width of the time buckets records are placed in by their own ts: a day locally, a minute on S3. */
  readonly bucketMs: number
  /** Key of the store's directory or key prefix for the file that holds records of this bucket. */
  fileName (bucketTimeMs: number, newestTsMs: number, uniqueHex: string): string
  /** Writes one encoded file; resolves only once it is durable (fsync + rename + fsync dir, or PUT completed). */
  writeEncoded (name: string, chunks: readonly Uint8Array[]): Promise<void>
  exists (name: string): Promise<boolean>
  deleteFile (name: string): Promise<void>
  /** Files whose bucket may hold records of [sinceMs, untilMs], pruned by the time in their path and name. */
  listFiles (sinceMs: number, untilMs: number, options?: ListOptions): Promise<StoredFile[]>
  listAllFiles (): Promise<StoredFile[]>
  /** The file's manifest, read from its end (cached by name). */
  readManifest (file: StoredFile): Promise<FileManifest | null>
  /** Whether the manifest cache has room left (warmManifests stops when it has none). */
  manifestCacheHasRoom (): boolean
  /** Every line or row, for verify. */
  readFile (file: StoredFile): Promise<FileContent>
  /**
   * Matching records; reads only what the format lets it (columns, lines that can match). `rows`
   * (from the manifest's column index) marks the only lines or rows that can match.
   */
  scan (file: StoredFile, filter: RecordFilter, withRecords: boolean, rows?: Uint8Array): Promise<ScanHit[]>
  /** Small JSON documents under `_vigil/` (state, checkpoints, retention ledger). */
  readDoc<T> (key: string): Promise<T | undefined>
  writeDoc (key: string, value: unknown): Promise<void>
  listDocs (prefix: string): Promise<string[]>
  /** Throws VGL_AUDIT_STORE_UNAVAILABLE when the store cannot be written (CAIPE's readiness probe). */
  probe (): Promise<void>
  health (): Promise<StorageHealth>
  describe (): Record<string, unknown>
  close (): Promise<void>
}

/**
 * The manifests a store keeps in memory, up to `maxBytes` (estimated): beyond, the least
 * recently used are forgotten. Counting entries would not do: a manifest with its column index
 * is a few hundred bytes for a small file and tens of KB for a large one, and a query over a
 * day of S3 minute objects needs thousands of them at once (a cache smaller than that is read
 * again from S3 on every query).
 */
export class ManifestCache<V extends { manifest: FileManifest | null }> {
  readonly maxBytes: number
  readonly #entries = new Map<string, { value: V, bytes: number }>()
  #bytes = 0

  constructor (maxBytes: number) {
    this.maxBytes = maxBytes
  }

  get (name: string): V | undefined {
    const entry = this.#entries.get(name)
    if (entry === undefined) return undefined
    // Most recently used last: eviction takes from the front.
    this.#entries.delete(name)
    this.#entries.set(name, entry)
    return entry.value
  }

  get hasRoom (): boolean {
    return this.#bytes < this.maxBytes
  }

  set (name: string, value: V): void {
    this.delete(name)
    const bytes = manifestBytes(value.manifest)
    this.#entries.set(name, { value, bytes })
    this.#bytes += bytes
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes || oldest === name) break
      this.#entries.delete(oldest)
      this.#bytes -= entry.bytes
    }
  }

  delete (name: string): void {
    const entry = this.#entries.get(name)
    if (entry === undefined) return
    this.#entries.delete(name)
    this.#bytes -= entry.bytes
  }
}

/**
 * About what a parsed manifest takes in memory once its column codes are decoded: within 3–14%
 * of what V8's heap and array buffers were measured to hold for manifests of 200, 770 and
 * 10,000 rows (the old estimate, which charged every string twice, was 50% over).
 */
function manifestBytes (manifest: FileManifest | null): number {
  if (manifest === null) return 64
  let bytes = 512 + manifest.offsets.length * 48
  for (const counts of Object.values(manifest.stats ?? {})) if (counts !== null) for (const value of Object.keys(counts)) bytes += stringBytes(value) + 16
  for (const column of Object.values(manifest.index?.columns ?? {})) {
    if (column === null) continue
    // The base64 codes, and once decoded a byte or two per row.
    bytes += stringBytes(column.codes) + manifest.count * (column.values.length < 256 ? 1 : 2) + 96
    for (const value of column.values) bytes += stringBytes(value)
  }
  return bytes
}

/** A string parsed from JSON, with its header and the slot that points at it: one byte a character when all are Latin-1, else two. */
function stringBytes (text: string): number {
  // eslint-disable-next-line no-control-regex
  return (/[^\u0000-\u00ff]/.test(text) ? 2 * text.length : text.length) + 24
}

/** The audit config's defaults, for stores made without the service (benchmarks, tests): the schema is their one source. */
let defaults: VigilConfig['audit'] | undefined
export function auditDefaults (): VigilConfig['audit'] {
  defaults ??= validateConfig({}).audit
  return defaults
}

/** Memory the manifest cache of a store may use unless told otherwise (audit.read.manifestCacheMb). */
export function defaultManifestCacheBytes (): number {
  return auditDefaults().read.manifestCacheMb * 1024 * 1024
}

/**
 * Reads the manifests of files in [sinceMs, untilMs] into the store's cache, newest first, until
 * the cache is full. After a restart, the first query over CAIPE's default 24 h would otherwise
 * read every footer itself (4.6–7 s for a day of S3 minute objects on moto). Returns how many it read.
 */
export async function warmManifests (store: ArchiveStore, sinceMs: number, untilMs: number, stopped: () => boolean): Promise<number> {
  const files = (await store.listFiles(sinceMs, untilMs)).sort((a, b) => b.nameTimeMs - a.nameTimeMs)
  let read = 0
  await mapLimited(files, 4, async file => {
    if (stopped() || !store.manifestCacheHasRoom()) return
    await store.readManifest(file)
    read++
  })
  return read
}

/** fn over every item, at most `limit` at a time; the results in the items' order. */
export async function mapLimited<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T)
    }
  }))
  return out
}

/** Deterministic 12 hex digits for a file: the same batch written again gets the same name. */
export function fileHex (topic: string, partition: number, firstOffset: number): string {
  return createHash('sha256').update(`${topic}/${partition}/${firstOffset}`).digest('hex').slice(0, 12)
}

/** `YYYYmmddTHHMMSSZ`, as in CAIPE's file names. */
export function compactTime (ms: number): string {
  const iso = new Date(ms).toISOString()
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`
}

export function parseCompactTime (text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text)
  if (m === null) return Number.NaN
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

/** Whether a record passes a filter (time range, exact matches, user_email substring). */
export function recordMatches (record: Record<string, unknown>, filter: RecordFilter): number {
  const ts = parseTs(record.ts)
  if (!(ts >= filter.sinceMs && ts <= filter.untilMs)) return Number.NaN
  for (const [column, value] of filter.exact) if (columnValue(record, column) !== value) return Number.NaN
  if (filter.userEmail !== undefined) {
    const email = record.user_email
    if (typeof email !== 'string' || !email.toLowerCase().includes(filter.userEmail)) return Number.NaN
  }
  return ts
}

/**
 * What a manifest says about a filter: `none` when no record can match, `count` with an exact
 * number when the manifest answers it without reading the file, `scan` otherwise. `rows` marks
 * the lines (rows) that pass the exact and user_email filters, when the column index has them:
 * a scan then parses only those.
 */
export type ManifestVerdict = { kind: 'none' } | { kind: 'count', count: number, rows?: Uint8Array } | { kind: 'scan', rows?: Uint8Array }

export function manifestVerdict (manifest: FileManifest | null, filter: RecordFilter): ManifestVerdict {
  if (manifest === null) return { kind: 'scan' }
  if (manifest.min_ts_ms === null || manifest.max_ts_ms === null) return { kind: 'none' }
  if (manifest.max_ts_ms < filter.sinceMs || manifest.min_ts_ms > filter.untilMs) return { kind: 'none' }
  const inside = manifest.min_ts_ms >= filter.sinceMs && manifest.max_ts_ms <= filter.untilMs
  const filtered = filter.exact.length > 0 || filter.userEmail !== undefined
  if (filtered && manifest.index !== undefined && manifest.index.rows === manifest.count) {
    const rows = matchingRows(manifest.index, filter)
    if (rows === null) return { kind: 'none' }
    if (rows !== undefined) return inside && manifest.untimed === 0 ? { kind: 'count', count: countRows(rows), rows } : { kind: 'scan', rows }
  }
  // Files without a usable index: the per-column value counts.
  let known: number | undefined = inside ? manifest.count - manifest.untimed : undefined
  for (const [column, value] of filter.exact) {
    const counts = manifest.stats[column]
    if (counts === null || counts === undefined) { known = undefined; continue }
    const n = counts[value] ?? 0
    if (n === 0) return { kind: 'none' }
    // One filter's count is exact only alone: several filters need the rows.
    known = inside && filter.exact.length === 1 && filter.userEmail === undefined && manifest.untimed === 0 ? n : undefined
  }
  if (filter.userEmail !== undefined) known = undefined
  return known === undefined ? { kind: 'scan' } : { kind: 'count', count: known }
}
