/** The stores' shared parts that need no store: the manifest cache, and queries over a store's manifests and scans. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildManifest, genesisHash, type ChainedRecord } from '../../src/audit/integrity.ts'
import { decodeCursor, queryStore } from '../../src/audit/query.ts'
import { ManifestCache, recordMatches, type ArchiveStore, type RecordFilter, type ScanHit, type StoredFile } from '../../src/audit/store.ts'

function manifestOf (rows: number): ReturnType<typeof buildManifest> {
  const records = Array.from({ length: rows }, (_, i) => ({
    audit_event_id: `id-${i}`,
    ts: new Date(Date.UTC(2026, 5, 20) + i).toISOString(),
    type: `type-${i % 50}`,
    user_email: `u${i % 200}@x`,
    _chain: { p: 0, o: i, prev: genesisHash, hash: genesisHash }
  })) as ChainedRecord[]
  return buildManifest('audit-events', 0, records)
}

test('the manifest cache keeps manifests up to its memory budget, forgetting the least recently used first', () => {
  const small = manifestOf(10)
  const large = manifestOf(5000)
  const cache = new ManifestCache<{ manifest: typeof small | null }>(400_000)
  for (let i = 0; i < 100; i++) cache.set(`small-${i}`, { manifest: small })
  assert.equal(cache.get('small-0')?.manifest, small, 'a hundred small manifests fit')
  assert.equal(cache.hasRoom, true)
  cache.set('large', { manifest: large })
  assert.equal(cache.get('large')?.manifest, large, 'the entry just set stays, even when it is large')
  assert.equal(cache.get('small-1'), undefined, 'the least recently used went to make room')
  assert.equal(cache.get('small-0')?.manifest, small, 'the one just read is kept')
  cache.set('missing', { manifest: null })
  assert.deepEqual(cache.get('missing'), { manifest: null }, 'a file without a manifest is remembered too')
  cache.delete('large')
  assert.equal(cache.get('large'), undefined)
  const huge = new ManifestCache<{ manifest: typeof small }>(1)
  huge.set('only', { manifest: large })
  assert.equal(huge.get('only')?.manifest, large, 'one entry over the whole budget is still kept (until the next)')
  assert.equal(huge.hasRoom, false)
})

/** A store in memory, one file per minute, that counts the files it is asked to read. */
function memoryStore (files: ChainedRecord[][]): { store: ArchiveStore, scanned: string[] } {
  const scanned: string[] = []
  const byName = new Map(files.map((records, i) => [`f${i}`, records]))
  const manifests = new Map(files.map((records, i) => [`f${i}`, buildManifest('audit-events', 0, records)]))
  const stored: StoredFile[] = files.map((records, i) => ({ name: `f${i}`, bucketTimeMs: Date.parse(records[0]?.ts as string), nameTimeMs: Date.parse(records[records.length - 1]?.ts as string) }))
  const store = {
    scanConcurrency: 4,
    listFiles: async () => stored,
    readManifest: async (file: StoredFile) => manifests.get(file.name) ?? null,
    scan: async (file: StoredFile, filter: RecordFilter, withRecords: boolean, rows?: Uint8Array): Promise<ScanHit[]> => {
      scanned.push(file.name)
      const hits: ScanHit[] = []
      for (const [i, record] of (byName.get(file.name) ?? []).entries()) {
        if (rows !== undefined && rows[i] !== 1) continue
        const ts = recordMatches(record, filter)
        if (!Number.isNaN(ts)) hits.push({ tsMs: ts, partition: 0, offset: record._chain.o, ...(withRecords ? { record } : {}) })
      }
      return hits
    }
  }
  return { store: store as unknown as ArchiveStore, scanned }
}

test('a query returns what a scan of every record would, page by page, and reads only the files its page needs', async () => {
  const start = Date.UTC(2026, 5, 20)
  // 40 one-minute files of 30 records; user u7 appears once per file, type=auth in a third of records.
  const files = Array.from({ length: 40 }, (_, f) => Array.from({ length: 30 }, (_, i) => ({
    audit_event_id: `e-${f}-${i}`,
    ts: new Date(start + f * 60_000 + i * 1000).toISOString(),
    type: ['auth', 'tool_call', 'cas_grant'][(f + i) % 3] as string,
    user_email: `u${(f + i) % 30}@example.com`,
    _chain: { p: 0, o: f * 30 + i, prev: genesisHash, hash: genesisHash }
  })) as ChainedRecord[])
  const all = files.flat()
  const range = { sinceMs: start + 90_000, untilMs: start + 38 * 60_000 + 15_000 } // cuts the first and last files
  const filters: RecordFilter[] = [
    { ...range, exact: [] },
    { ...range, exact: [['type', 'auth']] },
    { ...range, exact: [], userEmail: 'u7@' },
    { ...range, exact: [['type', 'cas_grant']], userEmail: 'u1' }
  ]
  for (const filter of filters) {
    const expected = all.filter(r => !Number.isNaN(recordMatches(r, filter))).sort((a, b) => b._chain.o - a._chain.o).map(r => r.audit_event_id)
    for (const limit of [1, 3, 7, 100, 2000]) {
      const { store } = memoryStore(files)
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const result = await queryStore(store, { filter, limit, cursor: cursor === null ? undefined : decodeCursor(cursor) })
        assert.equal(result.total, expected.length, `${JSON.stringify(filter)} limit ${limit}: total`)
        assert.ok(result.records.length <= limit)
        seen.push(...result.records.map(r => r.audit_event_id as string))
        cursor = result.next_cursor
      } while (cursor !== null)
      assert.deepEqual(seen, expected, `${JSON.stringify(filter)} limit ${limit}: pages`)
    }
  }
  // One match per file, counted from the manifests: a page of 3 reads the file the range cuts
  // (its count is unknown), then the 3 newest files, not a window of scanConcurrency.
  const { store, scanned } = memoryStore(files)
  const page = await queryStore(store, { filter: { ...range, exact: [], userEmail: 'u7@' }, limit: 3 })
  assert.equal(page.records.length, 3)
  assert.deepEqual(scanned, ['f38', 'f37', 'f36', 'f35'])
})
