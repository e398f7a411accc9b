/**
 * The S3 store: CAIPE's layout, `<prefix>/YYYY/MM/DD/HH/mm/audit-<YYYYmmddTHHMMSSZ>-<12hex>.parquet`,
 * snappy Parquet with CAIPE's string index columns plus `record_json` (the whole record, with
 * its `_chain` link). Vigil places each record by its own `ts` (one object per minute bucket),
 * and puts the file's manifest in the Parquet footer's key-value metadata
 * (`vigil.audit.manifest`), so queries read a footer with one ranged GET to decide whether an
 * object can match before downloading it, then decode only the columns they need.
 *
 * Works with any S3-compatible endpoint (AWS, MinIO, moto, S3Proxy …) through the AWS SDK v3.
 */
import {
  DeleteBucketLifecycleCommand, DeleteObjectCommand, GetBucketLifecycleConfigurationCommand, GetObjectCommand,
  HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutBucketLifecycleConfigurationCommand, PutObjectCommand,
  S3Client, type LifecycleRule
} from '@aws-sdk/client-s3'
import { parquetMetadata, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet'
import { VigilError } from '../errors.ts'
import type { FileFormat } from './batch-encoder.ts'
import type { FileManifest } from './integrity.ts'
import { isManifest } from './integrity.ts'
import { manifestKey, parquetColumnValue } from './parquet-format.ts'
import { indexColumns, parseTs } from './record.ts'
import {
  ManifestCache, auditDefaults, compactTime, defaultManifestCacheBytes, mapLimited, parseCompactTime, recordMatches,
  type ArchiveStore, type FileContent, type ListOptions, type RecordFilter, type ScanHit, type StorageHealth, type StoredFile, type StoredLine
} from './store.ts'

export interface S3StoreOptions {
  bucket: string
  prefix: string
  region: string
  endpointUrl: string
  forcePathStyle: boolean
  accessKeyId: string
  secretAccessKey: string
  /** Memory for cached manifests (default audit.read.manifestCacheMb). */
  manifestCacheBytes?: number
  /** How long a listing of a prefix whose time has passed is reused (default audit.s3.listingCacheMs; 0: never). */
  listingCacheMs?: number
  /** Longest one request may take (default audit.s3.requestTimeoutMs; 0: no limit). */
  requestTimeoutMs?: number
}

/** Prefixes that ended less than this long ago are listed on every query (objects still arrive there). */
const openForMs = 10 * 60_000

export const lifecycleRuleId = 'caipe-audit-retention'
const minuteMs = 60_000
const hourMs = 3_600_000
const dayMs = 86_400_000
const keyPattern = /(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})\/audit-(\d{8}T\d{6}Z)-([0-9a-f]{12})\.parquet$/
const footerBytes = 64 * 1024
/** List requests in flight at once for one query. */
const listConcurrency = 8

interface S3File extends StoredFile { size: number }

/** A prefix's listing and when it was taken. */
interface Listing { listedAt: number, files: S3File[] }

export function createS3Store (options: S3StoreOptions): S3Store {
  return new S3Store(options)
}

export class S3Store implements ArchiveStore {
  readonly kind = 's3' as const
  readonly scanConcurrency = 16
  readonly client: S3Client
  readonly bucket: string
  readonly prefix: string
  readonly #options: S3StoreOptions
  readonly #manifests: ManifestCache<{ manifest: FileManifest | null }>
  /**
   * Listings of prefixes whose time has passed, by prefix: a query over a day lists its 24 hour
   * prefixes, and on a busy bucket that is most of its time (1,300 keys: ~330 ms on moto).
   * Tempo's queriers poll their blocklist the same way rather than list per query.
   */
  readonly #listings = new Map<string, Listing>()
  readonly #listingCacheMs: number

  constructor (options: S3StoreOptions) {
    this.#manifests = new ManifestCache(options.manifestCacheBytes ?? defaultManifestCacheBytes())
    this.#listingCacheMs = options.listingCacheMs ?? auditDefaults().s3.listingCacheMs
    if (options.bucket === '') {
      throw new VigilError('VGL_AUDIT_CONFIG_INVALID', 'audit.s3.bucket is empty but the backend writes to S3', { key: 'audit.s3.bucket', hint: 'Set audit.s3.bucket (or AUDIT_SERVICE_S3_BUCKET).' })
    }
    this.#options = options
    this.bucket = options.bucket
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '')
    const timeoutMs = options.requestTimeoutMs ?? auditDefaults().s3.requestTimeoutMs
    this.client = new S3Client({
      region: options.region,
      // Without a limit, a server that accepts the connection and never answers holds the
      // archiver (and its batches) and every query forever. The SDK only warns on a request
      // timeout unless told to throw.
      ...(timeoutMs > 0 ? { requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true } } : {}),
      ...(options.endpointUrl === '' ? {} : { endpoint: options.endpointUrl }),
      forcePathStyle: options.forcePathStyle,
      ...(options.accessKeyId === '' ? {} : { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3
    })
  }

  #key (rel: string): string {
    return this.prefix === '' ? rel : `${this.prefix}/${rel}`
  }

  readonly bucketMs = minuteMs
  readonly format: FileFormat = { kind: 'parquet' }

  fileName (bucketTimeMs: number, newestTsMs: number, uniqueHex: string): string {
    const t = new Date(bucketTimeMs).toISOString()
    return this.#key(`${t.slice(0, 4)}/${t.slice(5, 7)}/${t.slice(8, 10)}/${t.slice(11, 13)}/${t.slice(14, 16)}/audit-${compactTime(newestTsMs)}-${uniqueHex}.parquet`)
  }

  async writeEncoded (name: string, chunks: readonly Uint8Array[]): Promise<void> {
    const body = chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks)
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key: name, Body: body, ContentType: 'application/vnd.apache.parquet'
      }))
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_STORE_WRITE_FAILED', `cannot put s3://${this.bucket}/${name}: ${describeS3Error(cause)}`, { bucket: this.bucket, key: name, cause })
    }
    this.#listed(name, body.byteLength)
    // The footer is in hand: cache the manifest now instead of reading it back at the next query.
    try {
      this.#manifests.set(name, { manifest: manifestOf(parquetMetadata(toArrayBuffer(body.subarray(body.byteLength - footerLength(body))))) })
    } catch {
      this.#manifests.delete(name)
    }
  }

  async exists (name: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }))
      return true
    } catch (cause) {
      if (isNotFound(cause)) return false
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot head s3://${this.bucket}/${name}: ${describeS3Error(cause)}`, { key: name, cause })
    }
  }

  async deleteFile (name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: name }))
    this.#manifests.delete(name)
    for (const [prefix, listing] of this.#listings) {
      if (name.startsWith(prefix)) listing.files = listing.files.filter(f => f.name !== name)
    }
  }

  /** Adds an object this process wrote to the cached listings that cover it. */
  #listed (name: string, size: number): void {
    const file = s3File(name, size)
    if (file === undefined) return
    for (const [prefix, listing] of this.#listings) {
      if (name.startsWith(prefix) && !listing.files.some(f => f.name === name)) listing.files.push(file)
    }
  }

  async listFiles (sinceMs: number, untilMs: number, options: ListOptions = {}): Promise<StoredFile[]> {
    const resolution = options.resolution ?? 'auto'
    // CAIPE: hour prefixes for ranges up to a day (auto), day prefixes otherwise.
    const span = untilMs - sinceMs
    // The answer is the same at any granularity (keys are filtered by their time anyway); finer
    // listing only saves reading keys. Past a few hundred prefixes a coarser one is faster.
    let stepMs = resolution === 'minute' ? minuteMs : resolution === 'hour' || (resolution === 'auto' && span <= dayMs) ? hourMs : dayMs
    while (stepMs < dayMs && span / stepMs > 200) stepMs = stepMs === minuteMs ? hourMs : dayMs
    const prefixes: Array<{ prefix: string, endMs: number }> = []
    for (let t = Math.floor(sinceMs / stepMs) * stepMs; t <= untilMs; t += stepMs) {
      const iso = new Date(t).toISOString()
      const parts = [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10)]
      if (stepMs <= hourMs) parts.push(iso.slice(11, 13))
      if (stepMs === minuteMs) parts.push(iso.slice(14, 16))
      prefixes.push({ prefix: this.#key(parts.join('/') + '/'), endMs: t + stepMs })
    }
    const now = Date.now()
    const reuse = options.fresh !== true && this.#listingCacheMs > 0
    for (const [prefix, listing] of this.#listings) if (now - listing.listedAt >= this.#listingCacheMs) this.#listings.delete(prefix)
    // Prefixes are listed side by side: one after the other, a day's 24 hour prefixes cost 24
    // round trips (and an S3-compatible server may take long for each).
    const listed = await mapLimited(prefixes, listConcurrency, async ({ prefix, endMs }) => {
      const cacheable = reuse && endMs <= now - openForMs
      const known = cacheable ? this.#listings.get(prefix) : undefined
      if (known !== undefined) return known.files
      const files = await this.#list(prefix)
      if (cacheable) this.#listings.set(prefix, { listedAt: now, files })
      return files
    })
    const files: StoredFile[] = []
    for (const file of listed.flat()) {
      if (file.bucketTimeMs + minuteMs <= sinceMs || file.bucketTimeMs > untilMs) continue
      if (file.nameTimeMs + 1000 <= sinceMs) continue
      files.push(file)
    }
    return files
  }

  async listAllFiles (): Promise<StoredFile[]> {
    return await this.#list(this.prefix === '' ? '' : `${this.prefix}/`)
  }

  async #list (prefix: string, cap = Number.POSITIVE_INFINITY): Promise<S3File[]> {
    const out: S3File[] = []
    let token: string | undefined
    do {
      let page
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
      } catch (cause) {
        throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot list s3://${this.bucket}/${prefix}: ${describeS3Error(cause)}`, { bucket: this.bucket, prefix, cause })
      }
      for (const object of page.Contents ?? []) {
        const file = s3File(object.Key ?? '', object.Size ?? 0)
        if (file === undefined) continue
        out.push(file)
        if (out.length >= cap) return out
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return out
  }

  /** Objects and bytes under the prefix, counting at most `cap` objects (CAIPE caps at 10 000). */
  async usage (cap = 10_000): Promise<{ objects: number, bytes: number, truncated: boolean }> {
    const files = await this.#list(this.prefix === '' ? '' : `${this.prefix}/`, cap + 1)
    const counted = files.slice(0, cap)
    return { objects: counted.length, bytes: counted.reduce((n, f) => n + f.size, 0), truncated: files.length > cap }
  }

  manifestCacheHasRoom (): boolean {
    return this.#manifests.hasRoom
  }

  async readManifest (file: StoredFile): Promise<FileManifest | null> {
    const cached = this.#manifests.get(file.name)
    if (cached !== undefined) return cached.manifest
    let tail: Buffer
    try {
      tail = await this.#get(file.name, `bytes=-${footerBytes}`)
    } catch (cause) {
      if (isNotFound(cause)) return null
      throw cause
    }
    let metadata: FileMetaData
    try {
      // The footer's length is in the object's last 8 bytes: fetch exactly that much when the first read was short.
      const length = footerLength(tail)
      if (length > tail.length) tail = await this.#get(file.name, `bytes=-${length}`)
      metadata = parquetMetadata(toArrayBuffer(tail))
    } catch {
      // A damaged object: read it whole.
      try {
        metadata = parquetMetadata(toArrayBuffer(await this.#get(file.name)))
      } catch {
        this.#manifests.set(file.name, { manifest: null })
        return null
      }
    }
    const manifest = manifestOf(metadata)
    this.#manifests.set(file.name, { manifest })
    return manifest
  }

  async #get (key: string, range?: string): Promise<Buffer> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range === undefined ? {} : { Range: range }) }))
      const bytes = await answer.Body?.transformToByteArray()
      return Buffer.from(bytes ?? new Uint8Array())
    } catch (cause) {
      if (isNotFound(cause)) throw cause
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot get s3://${this.bucket}/${key}: ${describeS3Error(cause)}`, { bucket: this.bucket, key, cause })
    }
  }

  async readFile (file: StoredFile): Promise<FileContent> {
    const bytes = await this.#get(file.name)
    let metadata: FileMetaData
    let rows: Array<Record<string, unknown>>
    try {
      metadata = parquetMetadata(toArrayBuffer(bytes))
      rows = await parquetReadObjects({ file: memoryBuffer(bytes), metadata, columns: [...indexColumns, 'record_json'] })
    } catch (cause) {
      throw this.#unreadable(file.name, cause)
    }
    const lines: StoredLine[] = rows.map((row, position) => {
      const record = parseObject(row.record_json)
      const line: StoredLine = { position, record }
      if (record !== undefined) {
        // Queries filter on the index columns: they must say what record_json says.
        const wrong = indexColumns.find(column => (row[column] ?? null) !== parquetColumnValue(record, column))
        if (wrong !== undefined) line.problem = `column ${wrong} (${JSON.stringify(row[wrong] ?? null)}) disagrees with record_json (${JSON.stringify(parquetColumnValue(record, wrong))})`
      }
      return line
    })
    const manifest = manifestOf(metadata)
    return manifest === null ? { lines, manifest, manifestProblem: `the Parquet footer has no valid ${manifestKey}` } : { lines, manifest }
  }

  async scan (file: StoredFile, filter: RecordFilter, withRecords: boolean, rows?: Uint8Array): Promise<ScanHit[]> {
    // The column index, when the manifest has one, names the only rows that can match.
    const marked = rows === undefined ? undefined : markedRows(rows)
    if (marked?.length === 0) return []
    let bytes: Buffer
    try {
      bytes = await this.#get(file.name)
    } catch (cause) {
      if (isNotFound(cause)) return []
      throw cause
    }
    try {
      return await this.#scanBytes(bytes, filter, withRecords, marked)
    } catch (cause) {
      throw this.#unreadable(file.name, cause)
    }
  }

  #unreadable (key: string, cause: unknown): VigilError {
    return new VigilError('VGL_AUDIT_FILE_UNREADABLE', `s3://${this.bucket}/${key} is not a readable Parquet file: ${(cause as Error).message}`, { key, cause })
  }

  /** scan() of an object's bytes (throws when they are not Parquet as the archiver writes it). */
  async #scanBytes (bytes: Buffer, filter: RecordFilter, withRecords: boolean, marked: number[] | undefined): Promise<ScanHit[]> {
    const buffer = memoryBuffer(bytes)
    const metadata = parquetMetadata(buffer.whole)
    // Rows that pass, with their ts: the marked rows whose ts is in range, or, without an index,
    // the rows whose index columns pass. record_json is decoded only for those.
    let matched: Array<{ row: number, ts: number }>
    if (marked !== undefined) {
      const first = marked[0] as number
      const tsColumn = await parquetReadObjects({ file: buffer, metadata, columns: ['ts'], rowStart: first, rowEnd: (marked[marked.length - 1] as number) + 1 })
      matched = []
      for (const row of marked) {
        const ts = parseTs(tsColumn[row - first]?.ts)
        if (ts >= filter.sinceMs && ts <= filter.untilMs) matched.push({ row, ts })
      }
    } else {
      const columns = ['ts', ...filter.exact.flatMap(([c]) => c === 'capability' ? ['capability', 'action'] : [c]), ...(filter.userEmail === undefined ? [] : ['user_email'])]
      const decoded = await parquetReadObjects({ file: buffer, metadata, columns: [...new Set(columns)] })
      matched = []
      for (let i = 0; i < decoded.length; i++) {
        const ts = recordMatches(decoded[i] as Record<string, unknown>, filter)
        if (!Number.isNaN(ts)) matched.push({ row: i, ts })
      }
    }
    if (matched.length === 0) return []
    // Counting only: the index columns were enough.
    if (!withRecords) return matched.map(m => ({ tsMs: m.ts, partition: -1, offset: -1 }))
    const first = (matched[0] as { row: number }).row
    const last = (matched[matched.length - 1] as { row: number }).row
    const json = await parquetReadObjects({ file: buffer, metadata, columns: ['record_json'], rowStart: first, rowEnd: last + 1, useOffsetIndex: true })
    const hits: ScanHit[] = []
    for (const m of matched) {
      const record = parseObject(json[m.row - first]?.record_json)
      // What is returned must pass on the record itself, not only on its index columns.
      if (record === undefined || Number.isNaN(recordMatches(record, filter))) continue
      const link = record._chain as { p?: number, o?: number } | undefined
      hits.push({ tsMs: m.ts, partition: link?.p ?? -1, offset: link?.o ?? -1, record })
    }
    return hits
  }

  async readDoc<T> (key: string): Promise<T | undefined> {
    try {
      return JSON.parse((await this.#get(this.#key(`_vigil/${key}`))).toString('utf8')) as T
    } catch (cause) {
      if (isNotFound(cause)) return undefined
      throw cause
    }
  }

  async writeDoc (key: string, value: unknown): Promise<void> {
    const name = this.#key(`_vigil/${key}`)
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: name, Body: JSON.stringify(value), ContentType: 'application/json' }))
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_STORE_WRITE_FAILED', `cannot put s3://${this.bucket}/${name}: ${describeS3Error(cause)}`, { bucket: this.bucket, key: name, cause })
    }
  }

  async listDocs (prefix: string): Promise<string[]> {
    const base = this.#key('_vigil/')
    const out: string[] = []
    let token: string | undefined
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }))
      for (const object of page.Contents ?? []) if (object.Key !== undefined) out.push(object.Key.slice(base.length))
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return out.sort()
  }

  async probe (): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }))
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_STORE_UNAVAILABLE', `S3 bucket ${this.bucket} is not reachable: ${describeS3Error(cause)}`, { bucket: this.bucket, cause })
    }
  }

  async health (): Promise<StorageHealth> {
    const base = { backend: 's3' as const, bucket: this.bucket, prefix: this.prefix, region: this.#options.region, endpoint_url: this.#options.endpointUrl === '' ? null : this.#options.endpointUrl }
    try {
      await this.probe()
      return { ...base, status: 'healthy', detail: 's3 audit storage is reachable' }
    } catch {
      return { ...base, status: 'down', detail: 's3 audit storage is unreachable; see audit-service logs' }
    }
  }

  /** The lifecycle rule's expiration in days, or 0 when there is none. */
  async getRetentionDays (): Promise<number> {
    try {
      const answer = await this.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: this.bucket }))
      return answer.Rules?.find(r => r.ID === lifecycleRuleId)?.Expiration?.Days ?? 0
    } catch (cause) {
      if ((cause as { name?: string }).name === 'NoSuchLifecycleConfiguration') return 0
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot read the lifecycle of bucket ${this.bucket}: ${describeS3Error(cause)}`, { bucket: this.bucket, cause })
    }
  }

  /** CAIPE's PUT /v1/audit/retention: 0 removes the rule, N sets Expiration.Days on `<prefix>/`. */
  async setRetentionDays (days: number): Promise<void> {
    let rules: LifecycleRule[] = []
    try {
      rules = (await this.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: this.bucket }))).Rules ?? []
    } catch (cause) {
      if ((cause as { name?: string }).name !== 'NoSuchLifecycleConfiguration') {
        throw new VigilError('VGL_AUDIT_STORE_WRITE_FAILED', `cannot read the lifecycle of bucket ${this.bucket}: ${describeS3Error(cause)}`, { bucket: this.bucket, cause })
      }
    }
    const others = rules.filter(r => r.ID !== lifecycleRuleId)
    const next = days === 0 ? others : [...others, { ID: lifecycleRuleId, Status: 'Enabled' as const, Filter: { Prefix: `${this.prefix}/` }, Expiration: { Days: days } }]
    try {
      if (next.length === 0) await this.client.send(new DeleteBucketLifecycleCommand({ Bucket: this.bucket }))
      else await this.client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: this.bucket, LifecycleConfiguration: { Rules: next } }))
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_STORE_WRITE_FAILED', `cannot set the lifecycle of bucket ${this.bucket}: ${describeS3Error(cause)}`, { bucket: this.bucket, cause })
    }
  }

  describe (): Record<string, unknown> {
    return { backend: 's3', bucket: this.bucket, prefix: this.prefix, region: this.#options.region, endpoint_url: this.#options.endpointUrl === '' ? null : this.#options.endpointUrl }
  }

  async close (): Promise<void> {
    this.client.destroy()
  }
}

function manifestOf (metadata: FileMetaData): FileManifest | null {
  const entry = metadata.key_value_metadata?.find(kv => kv.key === manifestKey)
  if (entry?.value === undefined) return null
  try {
    const manifest: unknown = JSON.parse(entry.value)
    return isManifest(manifest) ? manifest : null
  } catch {
    return null
  }
}

/** The positions of the rows marked 1. */
function markedRows (rows: Uint8Array): number[] {
  const out: number[] = []
  for (let i = 0; i < rows.length; i++) if (rows[i] === 1) out.push(i)
  return out
}

function memoryBuffer (bytes: Buffer): AsyncBuffer & { whole: ArrayBuffer } {
  const whole = toArrayBuffer(bytes)
  return { byteLength: whole.byteLength, slice: (start: number, end?: number) => whole.slice(start, end), whole }
}

/** An audit object's key as a StoredFile (undefined for other keys). */
function s3File (key: string, size: number): S3File | undefined {
  const m = keyPattern.exec(key)
  if (m === null) return undefined
  const bucketTimeMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]))
  return { name: key, bucketTimeMs, nameTimeMs: parseCompactTime(m[6] as string), size }
}

/** Bytes at the end of a Parquet object that hold its footer (metadata, its length, the magic); 0 when too short to say. */
function footerLength (bytes: Uint8Array): number {
  if (bytes.byteLength < 8) return 0
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.byteLength - 8, true) + 8
}

function toArrayBuffer (bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

function parseObject (text: unknown): Record<string, unknown> | undefined {
  if (typeof text !== 'string') return undefined
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

function isNotFound (cause: unknown): boolean {
  const e = cause as { name?: string, $metadata?: { httpStatusCode?: number } }
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404
}

/** The S3 error's name and message, never its request (which carries signatures). */
export function describeS3Error (cause: unknown): string {
  const e = cause as { name?: string, message?: string, code?: string }
  return `${e.name ?? e.code ?? 'Error'}: ${e.message ?? String(cause)}`
}
