/**
 * The archiver's batch encoding (batch-encoder.ts) and the column index it writes: the buffers a
 * batch waits in, the stored lines and their chain, the manifest, and the index that queries
 * trust instead of reading files.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { gunzipSync } from 'node:zlib'
import { encodeBatch, RecordBatch, type EncodedFile } from '../../src/audit/batch-encoder.ts'
import { buildColumnIndex, countRows, matchingRows } from '../../src/audit/column-index.ts'
import { buildManifest, genesisHash, recomputeHash, type ChainedRecord, type FileManifest } from '../../src/audit/integrity.ts'
import { recordMatches } from '../../src/audit/store.ts'
import type { LogRecord } from '../../src/log/types.ts'

function logRecord (offset: number, value: string | null, timestamp = 1_780_000_000_000 + offset): LogRecord {
  return { topic: 'audit-events', partition: 1, offset, timestamp, key: null, value: value === null ? null : Buffer.from(value), headers: [] }
}

/** The lines of an encoded NDJSON.gz file, the manifest (its last line) apart. */
function linesOf (file: EncodedFile): { records: ChainedRecord[], manifest: FileManifest } {
  const text = file.chunks.map(chunk => gunzipSync(chunk).toString('utf8')).join('')
  const lines = text.trimEnd().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
  const last = lines.pop() as { _manifest: FileManifest }
  return { records: lines as ChainedRecord[], manifest: last._manifest }
}

test('a RecordBatch keeps values, offsets and timestamps as bytes, grows past its first buffers, and hands out copies from any record on', () => {
  const batch = new RecordBatch()
  const values: Array<string | null> = []
  for (let i = 0; i < 3000; i++) values.push(i % 500 === 7 ? null : i % 500 === 8 ? '' : `{"n":${i},"pad":"${'x'.repeat(i % 90)}"}`)
  values.forEach((value, i) => batch.push(logRecord(100 + i, value, 5000 + i)))
  assert.equal(batch.length, 3000)
  assert.equal(batch.offsetAt(2999), 3099)
  for (const from of [0, 1, 1234]) {
    const packed = batch.packed(from)
    assert.equal(packed.ends.length, 3000 - from)
    const bytes = Buffer.from(packed.values)
    for (let i = 0; i < packed.ends.length; i++) {
      const start = i === 0 ? 0 : packed.ends[i - 1] as number
      assert.equal(bytes.toString('utf8', start, packed.ends[i]), values[from + i] ?? '', `record ${from + i}`)
      assert.equal(packed.offsets[i], 100 + from + i)
      assert.equal(packed.timestamps[i], 5000 + from + i)
    }
  }
  // Copies: an encoder thread may take one over (detach it) while the batch is still needed for a retry.
  const first = batch.packed(0)
  first.values.fill(0)
  assert.equal(Buffer.from(batch.packed(0).values).toString('utf8', 0, 7), '{"n":0,')
  // release() frees the batch's own buffers at once; what packed() handed out stays whole.
  const kept = batch.packed(1234)
  batch.release()
  assert.equal(batch.length, 0)
  assert.equal(Buffer.from(kept.values).toString('utf8', 0, 10), '{"n":1234,')
  assert.equal(kept.offsets[0], 1334)
})

test('encoded lines carry their chain link, in canonical form, grouped by each record\'s own ts; the manifest and column index match the lines', () => {
  const day = 86_400_000
  const base = Date.UTC(2026, 5, 20, 12)
  const values = [
    JSON.stringify({ audit_event_id: 'a', outcome: 'allow', ts: new Date(base).toISOString(), type: 'auth' }),
    // Not canonical as sent: keys out of order, spaces. Stored (and hashed) in RFC 8785 form.
    '{ "type": "cas_grant", "ts": "' + new Date(base + 1).toISOString() + '", "audit_event_id": "b", "user_email": "Ann@Example.com" }',
    // A day earlier: its own file.
    JSON.stringify({ audit_event_id: 'c', ts: new Date(base - day).toISOString(), type: 'auth' }),
    // Not JSON: kept, wrapped, rather than blocking the partition.
    'not json {',
    JSON.stringify({ audit_event_id: 'e', ts: new Date(base + 2).toISOString(), type: 'auth', tenant_id: 't1', capability: 'cap' })
  ]
  const batch = new RecordBatch()
  values.forEach((value, i) => batch.push(logRecord(40 + i, value, base + 10)))
  const result = encodeBatch({ topic: 'audit-events', partition: 1, head: genesisHash, records: batch.packed(0), bucketMs: day, format: { kind: 'ndjson', gzip: true, gzipLevel: 1 }, createdAtMs: base })
  assert.equal(result.files.length, 2)
  const files = result.files.map(linesOf)
  const all = files.flatMap(f => f.records).sort((a, b) => a._chain.o - b._chain.o)
  assert.deepEqual(all.map(r => r._chain.o), [40, 41, 42, 43, 44])
  let prev = genesisHash
  for (const record of all) {
    assert.equal(record._chain.p, 1)
    assert.equal(record._chain.prev, prev, `offset ${record._chain.o} links to the record before it`)
    assert.equal(recomputeHash(record), record._chain.hash, `offset ${record._chain.o} hashes to its stored hash`)
    prev = record._chain.hash
  }
  assert.equal(result.head, prev)
  assert.equal(all[1]?.user_email, 'Ann@Example.com')
  assert.equal(all[3]?.type, 'vigil_invalid_record')
  assert.equal(all[3]?.invalid_value, 'not json {')
  for (const [i, file] of result.files.entries()) {
    const { records, manifest } = files[i] as { records: ChainedRecord[], manifest: FileManifest }
    assert.equal(file.count, records.length)
    assert.equal(file.bucketTimeMs % day, 0)
    for (const record of records) assert.equal(Math.floor(Date.parse(record.ts) / day) * day, file.bucketTimeMs, 'placed by its own ts')
    const expected = buildManifest('audit-events', 1, records, new Date(base))
    assert.deepEqual(manifest, expected)
  }
  // The next batch (line buffers are reused between batches) continues the chain with its own lines only.
  const next = new RecordBatch()
  next.push(logRecord(45, JSON.stringify({ audit_event_id: 'f', ts: new Date(base + 3).toISOString(), type: 'auth' }), base + 10))
  const second = encodeBatch({ topic: 'audit-events', partition: 1, head: result.head, records: next.packed(0), bucketMs: day, format: { kind: 'ndjson', gzip: true, gzipLevel: 1 }, createdAtMs: base })
  const { records: [only, ...rest] } = linesOf(second.files[0] as EncodedFile)
  assert.equal(rest.length, 0)
  assert.equal(only?.audit_event_id, 'f')
  assert.equal(only?._chain.prev, result.head)
  assert.equal(recomputeHash(only as ChainedRecord), only?._chain.hash)
})

test('the column index answers filters as a scan of the records would; a column with too many distinct values is left out, whatever the batch size, except user_email', () => {
  const rows = 3000
  const records = Array.from({ length: rows }, (_, i) => ({
    audit_event_id: `id-${i}`,
    ts: new Date(Date.UTC(2026, 5, 20) + i).toISOString(),
    type: ['auth', 'cas_grant', 'tool_call'][i % 3] as string,
    tenant_id: `tenant-${i % 7}`,
    outcome: i % 11 === 0 ? 'deny' : 'allow',
    ...(i % 5 === 0 ? { capability: `cap-${i % 4}` } : { action: `act-${i % 4}` }),
    user_email: `User${i % 40}@Example.com`,
    correlation_id: `corr-${i}`, // one value per row: not indexed
    ...(i % 13 === 0 ? { reason_code: 42 } : {}) // not a string: filtered as its JSON text
  }))
  const index = buildColumnIndex(records, rows)
  assert.equal(index.columns.correlation_id, null)
  // Built with a larger expected size (as the archiver does for a batch spread over files) or none: the same index.
  assert.deepEqual(buildColumnIndex(records, rows * 4), index)
  assert.deepEqual(buildColumnIndex(records), index)
  const filters = [
    { exact: [['type', 'auth']] as Array<[string, string]> },
    { exact: [['tenant_id', 'tenant-3'], ['outcome', 'deny']] as Array<[string, string]> },
    { exact: [['capability', 'act-1']] as Array<[string, string]> },
    { exact: [['capability', 'cap-0']] as Array<[string, string]> },
    { exact: [['reason_code', '42']] as Array<[string, string]> },
    { exact: [], userEmail: 'user1' },
    { exact: [['type', 'cas_grant']] as Array<[string, string]>, userEmail: 'user3@' },
    { exact: [['type', 'nothing-like-it']] as Array<[string, string]> }
  ]
  for (const filter of filters) {
    const expected = records.filter(r => recordMatches(r, { sinceMs: 0, untilMs: Number.MAX_SAFE_INTEGER, ...filter })).length
    const rowsMatching = matchingRows(index, filter)
    assert.equal(rowsMatching === null ? 0 : countRows(rowsMatching as Uint8Array), expected, JSON.stringify(filter))
  }
  assert.equal(matchingRows(index, { exact: [['correlation_id', 'corr-5']] }), undefined, 'a column left out of the index means: read the file')
  // user_email stays indexed with a value per row: nothing else answers its substring filter.
  const unique = buildColumnIndex(records.map((r, i) => ({ ...r, user_email: `person-${i}@example.com` })), rows)
  assert.equal(unique.columns.correlation_id, null)
  assert.equal(unique.columns.user_email?.values.length, rows)
  assert.equal(countRows(matchingRows(unique, { exact: [], userEmail: 'person-12' }) as Uint8Array), 111) // 12, 120–129, 1200–1299
})
