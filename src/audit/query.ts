/**
 * Queries over a store, as CAIPE's GET /v1/audit/events answers them: newest ts first, `total`
 * counting every match, `truncated = total > limit`. Vigil adds an opaque cursor for paging.
 *
 * Pruning and push-down: the store lists only the day directories (local) or hour/day prefixes
 * (S3) of the range and drops files by the time in their names; each file's manifest (the local
 * file's last gzip member, or the Parquet footer, read alone) then rules files out by their
 * oldest/newest ts and their column index, and for files wholly inside the range gives the count
 * for any mix of exact filters and a user_email substring without reading a record. Only the
 * files that can hold a record of the requested page are read, and of those only the lines the
 * index marks are parsed.
 *
 * A damaged file (VGL_AUDIT_FILE_UNREADABLE) is skipped, as CAIPE skips unreadable S3 objects,
 * and named in `skipped_files` (absent when nothing was skipped); a store that cannot be read
 * at all still fails the query.
 */
import { isVigilError, VigilError } from '../errors.ts'
import type { FileManifest } from './integrity.ts'
import { manifestVerdict, mapLimited, type ArchiveStore, type RecordFilter, type ScanHit, type StoredFile } from './store.ts'

export interface Cursor {
  /** ts (ms), partition and offset of the last record returned. */
  t: number
  p: number
  o: number
  /** The query's range, kept so every page counts the same total. */
  s: number
  u: number
}

export interface QueryOptions {
  filter: RecordFilter
  limit: number
  cursor?: Cursor | undefined
  resolution?: 'auto' | 'minute' | 'hour' | 'day'
}

export interface QueryResult {
  records: Array<Record<string, unknown>>
  total: number
  limit: number
  truncated: boolean
  next_cursor: string | null
  skipped_files?: string[]
}

export function encodeCursor (cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.t, cursor.p, cursor.o, cursor.s, cursor.u])).toString('base64url')
}

export function decodeCursor (text: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (Array.isArray(value) && value.length === 5 && value.every(n => typeof n === 'number' && Number.isFinite(n))) {
      const [t, p, o, s, u] = value as number[]
      return { t: t as number, p: p as number, o: o as number, s: s as number, u: u as number }
    }
  } catch {}
  throw new VigilError('VGL_AUDIT_QUERY_INVALID', 'cursor is not one this service returned', { field: 'cursor' })
}

/** Newest first: ts, then partition, then offset, all descending. */
function before (a: ScanHit, b: ScanHit): number {
  return b.tsMs - a.tsMs || b.partition - a.partition || b.offset - a.offset
}

function afterCursor (hit: ScanHit, cursor: Cursor | undefined): boolean {
  if (cursor === undefined) return true
  return hit.tsMs < cursor.t || (hit.tsMs === cursor.t && (hit.partition < cursor.p || (hit.partition === cursor.p && hit.offset < cursor.o)))
}

export async function queryStore (store: ArchiveStore, options: QueryOptions): Promise<QueryResult> {
  const { filter, limit, cursor } = options
  interface Candidate { file: StoredFile, manifest: FileManifest | null, maxTs: number, minTs: number, known: number | undefined, rows: Uint8Array | undefined }
  const skipped: string[] = []
  const scan = async (c: Candidate, withRecords: boolean): Promise<ScanHit[]> => {
    try {
      return await store.scan(c.file, filter, withRecords, c.rows)
    } catch (error) {
      if (!isVigilError(error) || error.code !== 'VGL_AUDIT_FILE_UNREADABLE') throw error
      skipped.push(c.file.name)
      return []
    }
  }
  const files = await store.listFiles(filter.sinceMs, filter.untilMs, { resolution: options.resolution })
  const manifests = await mapLimited(files, 16, file => store.readManifest(file))
  const candidates: Candidate[] = []
  let total = 0
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as StoredFile
    const manifest = manifests[i] ?? null
    const verdict = manifestVerdict(manifest, filter)
    if (verdict.kind === 'none') continue
    const known = verdict.kind === 'count' ? verdict.count : undefined
    if (known !== undefined) total += known
    candidates.push({
      file,
      manifest,
      known,
      rows: verdict.rows,
      maxTs: manifest?.max_ts_ms ?? file.nameTimeMs + 999,
      minTs: manifest?.min_ts_ms ?? Number.NEGATIVE_INFINITY
    })
  }
  candidates.sort((a, b) => b.maxTs - a.maxTs)

  let page: ScanHit[] = []
  const trim = (): void => {
    page.sort(before)
    if (page.length > limit) page = page.slice(0, limit)
  }
  const worst = (): number => page.length >= limit ? (page[limit - 1] as ScanHit).tsMs : Number.NEGATIVE_INFINITY
  const countOnly: Candidate[] = []
  // Newest files first, up to scanConcurrency at a time but no more than the manifests' counts
  // say can fill the page; once no older file can enter the page, the rest are only counted
  // (those the manifest cannot count).
  for (let next = 0; next < candidates.length;) {
    const window: Candidate[] = []
    // Hits this window's files add to the page (a full page: each can displace the worst).
    let expected = page.length >= limit ? 0 : page.length
    while (next < candidates.length && window.length < store.scanConcurrency && (window.length === 0 || expected < limit)) {
      const c = candidates[next++] as Candidate
      const canEnter = c.maxTs >= worst() && (cursor === undefined || c.minTs <= cursor.t)
      if (canEnter) {
        window.push(c)
        expected += c.known ?? limit
      } else if (c.known === undefined) countOnly.push(c)
    }
    const scanned = await Promise.all(window.map(c => scan(c, true)))
    for (let i = 0; i < window.length; i++) {
      const hits = scanned[i] as ScanHit[]
      if ((window[i] as Candidate).known === undefined) total += hits.length
      for (const hit of hits) if (afterCursor(hit, cursor)) page.push(hit)
    }
    if (page.length >= limit) trim()
  }
  const counts = await mapLimited(countOnly, store.scanConcurrency, async c => (await scan(c, false)).length)
  for (const n of counts) total += n
  trim()
  const records = page.map(hit => hit.record as Record<string, unknown>)
  const lastHit = page[page.length - 1]
  const more = lastHit !== undefined && page.length === limit && hasMore(total, page.length, cursor)
  return {
    records,
    total,
    limit,
    truncated: total > limit,
    next_cursor: more && lastHit !== undefined ? encodeCursor({ t: lastHit.tsMs, p: lastHit.partition, o: lastHit.offset, s: filter.sinceMs, u: filter.untilMs }) : null,
    ...(skipped.length > 0 ? { skipped_files: skipped.sort() } : {})
  }
}

/** Whether records remain after this page; exact when there is no cursor, conservative otherwise. */
function hasMore (total: number, returned: number, cursor: Cursor | undefined): boolean {
  return cursor === undefined ? total > returned : true
}
