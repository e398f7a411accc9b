/** The stores' shared parts that need no store: the manifest cache. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildManifest, genesisHash, type ChainedRecord } from '../../src/audit/integrity.ts'
import { ManifestCache } from '../../src/audit/store.ts'

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

test('the manifest cache keeps manifests up to its memory budget, forgetting the least recently set first', () => {
  const small = manifestOf(10)
  const large = manifestOf(5000)
  const cache = new ManifestCache<{ manifest: typeof small | null }>(400_000)
  for (let i = 0; i < 100; i++) cache.set(`small-${i}`, { manifest: small })
  assert.equal(cache.get('small-0')?.manifest, small, 'a hundred small manifests fit')
  cache.set('large', { manifest: large })
  assert.equal(cache.get('large')?.manifest, large, 'the entry just set stays, even when it is large')
  assert.equal(cache.get('small-0'), undefined, 'the oldest went to make room')
  cache.set('missing', { manifest: null })
  assert.deepEqual(cache.get('missing'), { manifest: null }, 'a file without a manifest is remembered too')
  cache.delete('large')
  assert.equal(cache.get('large'), undefined)
  const huge = new ManifestCache<{ manifest: typeof small }>(1)
  huge.set('only', { manifest: large })
  assert.equal(huge.get('only')?.manifest, large, 'one entry over the whole budget is still kept (until the next)')
})
