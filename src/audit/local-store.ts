/**
 * The local store: CAIPE's layout, `<root>/YYYY/MM/DD/audit-<YYYYmmddTHHMMSSZ>-<12hex>.ndjson.gz`,
 * one compact JSON object per line. Vigil places each record by its own `ts` (CAIPE uses the
 * batch's newest), names each file after its newest record, and ends it with a manifest line
 * `{"_manifest": {…}}` written as a second gzip member, so that it can be read from the file's
 * tail without inflating the records (gunzip, zcat and CAIPE's reader see one more line, which
 * has no `ts` and so never matches a query).
 *
 * Writes go to `.<name>.tmp`, are fsynced, renamed, and the directory is fsynced: a file is
 * either whole or absent after a crash.
 */
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { promisify } from 'node:util'
import { gunzip, gunzipSync } from 'node:zlib'
import { isVigilError, VigilError } from '../errors.ts'
import type { FileFormat } from './batch-encoder.ts'
import type { FileManifest } from './integrity.ts'
import { isManifest } from './integrity.ts'
import {
  ManifestCache, compactTime, defaultManifestCacheBytes, parseCompactTime, recordMatches,
  type ArchiveStore, type FileContent, type RecordFilter, type ScanHit, type StorageHealth, type StoredFile, type StoredLine
} from './store.ts'

const gunzipAsync = promisify(gunzip)

export interface LocalStoreOptions {
  path: string
  gzip: boolean
  gzipLevel: number
  diskWarningPercent: number
  diskCriticalPercent: number
  /** Memory for cached manifests (default audit.read.manifestCacheMb). */
  manifestCacheBytes?: number
}

const dayMs = 86_400_000
const namePattern = /^audit-(\d{8}T\d{6}Z)-([0-9a-f]{12})\.ndjson(\.gz)?$/
const manifestTailBytes = 256 * 1024

export function createLocalStore (options: LocalStoreOptions): LocalStore {
  return new LocalStore(options)
}

export class LocalStore implements ArchiveStore {
  readonly kind = 'local' as const
  readonly scanConcurrency = 4
  readonly root: string
  readonly #options: LocalStoreOptions
  readonly #manifests: ManifestCache<{ size: number, mtimeMs: number, manifest: FileManifest | null }>
  readonly #madeDirs = new Set<string>()
  #probes = 0

  constructor (options: LocalStoreOptions) {
    this.#manifests = new ManifestCache(options.manifestCacheBytes ?? defaultManifestCacheBytes())
    this.#options = options
    this.root = options.path
  }

  readonly bucketMs = dayMs

  get format (): FileFormat {
    return { kind: 'ndjson', gzip: this.#options.gzip, gzipLevel: this.#options.gzipLevel }
  }

  fileName (bucketTimeMs: number, newestTsMs: number, uniqueHex: string): string {
    const day = new Date(bucketTimeMs).toISOString()
    return `${day.slice(0, 4)}/${day.slice(5, 7)}/${day.slice(8, 10)}/audit-${compactTime(newestTsMs)}-${uniqueHex}.ndjson${this.#options.gzip ? '.gz' : ''}`
  }

  async writeEncoded (name: string, chunks: readonly Uint8Array[]): Promise<void> {
    await this.#writeDurably(join(this.root, name), chunks)
    this.#manifests.delete(name)
  }

  async #ensureDir (dir: string): Promise<void> {
    if (this.#madeDirs.has(dir)) return
    await mkdir(dir, { recursive: true })
    // The new directory entries themselves must survive a crash: fsync up to the root.
    for (let d = dir; d.length > this.root.length && d !== dirname(d); d = dirname(d)) await syncDir(dirname(d))
    this.#madeDirs.add(dir)
  }

  async exists (name: string): Promise<boolean> {
    try {
      await stat(join(this.root, name))
      return true
    } catch {
      return false
    }
  }

  async deleteFile (name: string): Promise<void> {
    await rm(join(this.root, name), { force: true })
    this.#manifests.delete(name)
  }

  async listFiles (sinceMs: number, untilMs: number): Promise<StoredFile[]> {
    const files: StoredFile[] = []
    // A file is named after its newest record, to the second: skip files that end before since.
    for (let day = Math.floor(sinceMs / dayMs) * dayMs; day <= untilMs; day += dayMs) {
      for (const file of await this.#listDay(day)) if (file.nameTimeMs + 1000 > sinceMs) files.push(file)
    }
    return files
  }

  async listAllFiles (): Promise<StoredFile[]> {
    const files: StoredFile[] = []
    for (const year of await listDirs(this.root, /^\d{4}$/)) {
      for (const month of await listDirs(join(this.root, year), /^\d{2}$/)) {
        for (const day of await listDirs(join(this.root, year, month), /^\d{2}$/)) {
          const t = Date.UTC(Number(year), Number(month) - 1, Number(day))
          if (!Number.isNaN(t)) files.push(...await this.#listDay(t))
        }
      }
    }
    return files
  }

  /**
   * The bytes of every `*.ndjson` and `*.ndjson.gz` under the root, as CAIPE's `audit_dir_bytes`
   * counts them (files of other names too, e.g. CAIPE's own, not only the archiver's); a file
   * removed meanwhile counts 0.
   */
  async auditBytes (): Promise<number> {
    let entries
    try {
      entries = await readdir(this.root, { recursive: true, withFileTypes: true })
    } catch {
      return 0 // no root yet: nothing archived
    }
    let total = 0
    for (const entry of entries) {
      if (!entry.isFile() || !(entry.name.endsWith('.ndjson') || entry.name.endsWith('.ndjson.gz'))) continue
      try {
        total += (await stat(join(entry.parentPath, entry.name))).size
      } catch {
        // removed by retention between the listing and the stat
      }
    }
    return total
  }

  async #listDay (dayMsValue: number): Promise<StoredFile[]> {
    const d = new Date(dayMsValue).toISOString()
    const rel = `${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}`
    let names: string[]
    try {
      names = await readdir(join(this.root, rel))
    } catch {
      return []
    }
    const out: StoredFile[] = []
    for (const n of names) {
      const m = namePattern.exec(n)
      if (m === null) continue
      out.push({ name: `${rel}/${n}`, nameTimeMs: parseCompactTime(m[1] as string), bucketTimeMs: dayMsValue })
    }
    return out
  }

  manifestCacheHasRoom (): boolean {
    return this.#manifests.hasRoom
  }

  async readManifest (file: StoredFile): Promise<FileManifest | null> {
    const path = join(this.root, file.name)
    let info
    try {
      info = await stat(path)
    } catch {
      return null
    }
    const cached = this.#manifests.get(file.name)
    if (cached !== undefined && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached.manifest
    let manifest: FileManifest | null
    try {
      manifest = await this.#readManifestAt(path, info.size)
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot read ${path}: ${(cause as Error).message}`, { file: file.name, cause })
    }
    this.#manifests.set(file.name, { size: info.size, mtimeMs: info.mtimeMs, manifest })
    return manifest
  }

  async #readManifestAt (path: string, size: number): Promise<FileManifest | null> {
    const gz = path.endsWith('.gz')
    const handle = await open(path, 'r')
    try {
      // The manifest (with its column index) is usually well under the first tail read; a larger
      // one is found by reading a four times larger tail, up to the whole file.
      for (let tailBytes = manifestTailBytes; ; tailBytes *= 4) {
        const start = Math.max(0, size - tailBytes)
        const tail = Buffer.alloc(size - start)
        await handle.read(tail, 0, tail.length, start)
        const manifest = gz ? manifestInGzipTail(tail) : parseManifestLine(lastLine(tail.toString('utf8')))
        if (manifest !== null || start === 0) return manifest
      }
    } finally {
      await handle.close()
    }
  }

  /** The file's text; a read error as it came (ENOENT, EIO …), damaged gzip as VGL_AUDIT_FILE_UNREADABLE. */
  async #readText (path: string, name: string): Promise<string> {
    const raw = await readFile(path)
    if (!path.endsWith('.gz')) return raw.toString('utf8')
    try {
      return (await gunzipAsync(raw)).toString('utf8')
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_FILE_UNREADABLE', `${path} is not readable gzip: ${(cause as Error).message}`, { file: name, cause })
    }
  }

  async readFile (file: StoredFile): Promise<FileContent> {
    let text: string
    try {
      text = await this.#readText(join(this.root, file.name), file.name)
    } catch (cause) {
      if (isVigilError(cause)) throw cause
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot read ${join(this.root, file.name)}: ${(cause as Error).message}`, { file: file.name, cause })
    }
    const rawLines = text.split('\n')
    if (rawLines[rawLines.length - 1] === '') rawLines.pop()
    let manifest: FileManifest | null = null
    let manifestProblem: string | undefined
    const lastText = rawLines[rawLines.length - 1]
    if (lastText !== undefined && lastText.startsWith('{"_manifest"')) {
      rawLines.pop()
      manifest = parseManifestLine(lastText)
      if (manifest === null) manifestProblem = 'the manifest line does not parse'
    } else {
      manifestProblem = 'the file does not end with a manifest line'
    }
    const lines: StoredLine[] = rawLines.map((line, position) => ({ position, record: parseObject(line) }))
    return manifestProblem === undefined ? { lines, manifest } : { lines, manifest, manifestProblem }
  }

  async scan (file: StoredFile, filter: RecordFilter, withRecords: boolean, rows?: Uint8Array): Promise<ScanHit[]> {
    const path = join(this.root, file.name)
    let text: string
    try {
      text = await this.#readText(path, file.name)
    } catch (cause) {
      if (isVigilError(cause)) throw cause
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [] // removed by retention meanwhile
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot read ${path}: ${(cause as Error).message}`, { file: file.name, cause })
    }
    // Records are written as compact JSON, so an exact filter's `"field":"value"` text, and a
    // user_email substring (case-insensitively), must be on a matching line: jump from one
    // occurrence of the needle to the next (indexOf runs at memory speed) and parse only those lines.
    const needles = filter.exact.filter(([column]) => column !== 'capability').map(([column, value]) => `${JSON.stringify(column)}:${JSON.stringify(value)}`)
    const hits: ScanHit[] = []
    const consider = (start: number, end: number): void => {
      for (let i = 1; i < needles.length; i++) {
        const at = text.indexOf(needles[i] as string, start)
        if (at === -1 || at >= end) return
      }
      const record = parseObject(text.slice(start, end))
      if (record === undefined || Object.hasOwn(record, '_manifest')) return
      const ts = recordMatches(record, filter)
      if (Number.isNaN(ts)) return
      const link = record._chain as { p?: number, o?: number } | undefined
      const hit: ScanHit = { tsMs: ts, partition: link?.p ?? -1, offset: link?.o ?? -1 }
      if (withRecords) hit.record = record
      hits.push(hit)
    }
    if (rows !== undefined) {
      // The column index names the lines that pass the filters: parse those (and check their ts).
      let line = 0
      for (let start = 0; start < text.length && line < rows.length; line++) {
        let end = text.indexOf('\n', start)
        if (end === -1) end = text.length
        if (rows[line] === 1) consider(start, end)
        start = end + 1
      }
      return hits
    }
    let haystack = text
    let needle = needles[0]
    if (needle === undefined && filter.userEmail !== undefined) {
      const lowered = text.toLowerCase()
      if (lowered.length === text.length) {
        haystack = lowered
        needle = JSON.stringify(filter.userEmail).slice(1, -1)
      }
    }
    if (needle === undefined) {
      for (let start = 0; start < text.length;) {
        let end = text.indexOf('\n', start)
        if (end === -1) end = text.length
        if (end > start) consider(start, end)
        start = end + 1
      }
      return hits
    }
    for (let at = haystack.indexOf(needle); at !== -1;) {
      const start = text.lastIndexOf('\n', at) + 1
      let end = text.indexOf('\n', at)
      if (end === -1) end = text.length
      consider(start, end)
      at = haystack.indexOf(needle, end + 1)
    }
    return hits
  }

  async readDoc<T> (key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(join(this.root, '_vigil', key), 'utf8')) as T
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new VigilError('VGL_AUDIT_STORE_READ_FAILED', `cannot read ${join(this.root, '_vigil', key)}: ${(cause as Error).message}`, { file: key, cause })
    }
  }

  async writeDoc (key: string, value: unknown): Promise<void> {
    await this.#writeDurably(join(this.root, '_vigil', key), [Buffer.from(JSON.stringify(value))])
  }

  /**
   * Writes `.<name>.tmp` beside the file, fsyncs it, renames it over the file and fsyncs the
   * directory: the file is whole or absent, never partial, and survives a crash once this resolves.
   */
  async #writeDurably (file: string, chunks: readonly Uint8Array[]): Promise<void> {
    const dir = dirname(file)
    try {
      const temp = join(dir, `.${basename(file)}.tmp`)
      await this.#ensureDir(dir)
      let handle
      try {
        handle = await open(temp, 'w', 0o640)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        // The directory was removed meanwhile (retention, an operator): make it again.
        this.#madeDirs.delete(dir)
        await this.#ensureDir(dir)
        handle = await open(temp, 'w', 0o640)
      }
      try {
        await handle.writev(chunks)
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temp, file)
      await syncDir(dir)
    } catch (cause) {
      this.#madeDirs.delete(dir)
      throw new VigilError('VGL_AUDIT_STORE_WRITE_FAILED', `cannot write ${file}: ${(cause as Error).message}`, { file, cause })
    }
  }

  async listDocs (prefix: string): Promise<string[]> {
    const base = join(this.root, '_vigil')
    const out: string[] = []
    const walk = async (dir: string): Promise<void> => {
      let entries
      try {
        entries = await readdir(dir, { withFileTypes: true })
      } catch {
        return
      }
      for (const entry of entries) {
        const full = join(dir, entry.name)
        if (entry.isDirectory()) await walk(full)
        else if (!entry.name.endsWith('.tmp')) out.push(relative(base, full).split(sep).join('/'))
      }
    }
    await walk(join(base, prefix))
    return out.sort()
  }

  async probe (): Promise<void> {
    // CAIPE's .write-probe, made unique so concurrent probes do not trip over each other.
    const file = join(this.root, `.write-probe-${process.pid}-${++this.#probes}`)
    try {
      await mkdir(this.root, { recursive: true })
      await writeFile(file, 'ok')
      await unlink(file)
    } catch (cause) {
      throw new VigilError('VGL_AUDIT_STORE_UNAVAILABLE', `local audit store ${this.root} is not writable: ${(cause as Error).message}`, { path: this.root, cause })
    }
  }

  async health (): Promise<StorageHealth> {
    await mkdir(this.root, { recursive: true })
    const fs = await statfs(this.root)
    const total = fs.blocks * fs.bsize
    const free = fs.bavail * fs.bsize
    const used = total - fs.bfree * fs.bsize
    const usedPercent = total > 0 ? Math.round((used / total) * 10000) / 100 : 0
    const warning = this.#options.diskWarningPercent
    const critical = Math.max(warning, this.#options.diskCriticalPercent)
    const status = usedPercent >= critical ? 'down' : usedPercent >= warning ? 'warning' : 'healthy'
    const detail = status === 'healthy'
      ? 'local audit storage is healthy'
      : `local audit storage disk use is ${usedPercent}% (${status === 'down' ? 'critical' : 'warning'} threshold ${status === 'down' ? critical : warning}%)`
    return {
      backend: 'local',
      status,
      detail,
      total_bytes: total,
      used_bytes: used,
      free_bytes: free,
      used_percent: usedPercent,
      warning_percent: warning,
      critical_percent: critical
    }
  }

  describe (): Record<string, unknown> {
    return { backend: 'local', path: this.root, gzip: this.#options.gzip }
  }

  async close (): Promise<void> {}

  /** Streams a file's raw bytes (tests and tooling). */
  openRaw (name: string): NodeJS.ReadableStream {
    return createReadStream(join(this.root, name))
  }
}

const gzipMagic = Buffer.from([0x1f, 0x8b, 0x08])

/** The manifest in the last gzip member found in `tail` (member starts tried from the end backwards). */
function manifestInGzipTail (tail: Buffer): FileManifest | null {
  for (let i = tail.lastIndexOf(gzipMagic); i >= 0; i = i === 0 ? -1 : tail.lastIndexOf(gzipMagic, i - 1)) {
    let text: string
    try {
      text = gunzipSync(tail.subarray(i)).toString('utf8')
    } catch {
      continue
    }
    const manifest = parseManifestLine(lastLine(text))
    if (manifest !== null) return manifest
  }
  return null
}

function lastLine (text: string): string {
  const trimmed = text.endsWith('\n') ? text.slice(0, -1) : text
  return trimmed.slice(trimmed.lastIndexOf('\n') + 1)
}

function parseManifestLine (line: string): FileManifest | null {
  const parsed = parseObject(line)
  const manifest = parsed?._manifest
  return isManifest(manifest) ? manifest : null
}

function parseObject (line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

async function listDirs (dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter(e => e.isDirectory() && pattern.test(e.name)).map(e => e.name).sort()
  } catch {
    return []
  }
}

async function syncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
