/**
 * Tamper evidence: a SHA-256 hash chain per log partition over RFC 8785 canonical JSON, and the
 * manifest that closes every archived file (first and last hash, count, Merkle root, the offsets
 * it holds and per-column value counts that queries use to skip files).
 *
 * Every stored record carries its link as `_chain: {p, o, prev, hash}`:
 *   hash = SHA-256("vigil-audit-chain-v1\n" + p + "\n" + o + "\n" + prev + "\n" + JCS(record without _chain))
 * where p/o are the record's partition and offset on the audit topic and prev is the hash of the
 * partition's previous archived record (64 zeros for the first). Editing a record changes its
 * hash; deleting one breaks the next record's prev; swapping two breaks both and their offsets.
 */
import { createHash, hash as oneShotHash } from 'node:crypto'
import { canonicalize } from './canonical.ts'
import { exactFilters, parseTs, type AuditRecord } from './record.ts'

export const genesisHash = '0'.repeat(64)
const chainDomain = 'vigil-audit-chain-v1\n'

export interface ChainLink {
  /** Partition of the audit topic. */
  p: number
  /** Offset on that partition. */
  o: number
  /** Hash of the partition's previous archived record. */
  prev: string
  hash: string
}

export type ChainedRecord = AuditRecord & { _chain: ChainLink }

export function linkHash (prev: string, partition: number, offset: number, canonicalRecord: string): string {
  return oneShotHash('sha256', `${chainDomain}${partition}\n${offset}\n${prev}\n${canonicalRecord}`, 'hex')
}

/** The stored line: the canonical record with its `_chain` link as the last key. */
export function storedLine (canonicalRecord: string, link: ChainLink): string {
  const chain = `"_chain":{"p":${link.p},"o":${link.o},"prev":"${link.prev}","hash":"${link.hash}"}}`
  return canonicalRecord === '{}' ? `{${chain}` : `${canonicalRecord.slice(0, -1)},${chain}`
}

/** The record as it was before the archiver added `_chain` (what the hash covers). */
export function withoutChain (record: Record<string, unknown>): Record<string, unknown> {
  if (!Object.hasOwn(record, '_chain')) return record
  const { _chain: _ignored, ...rest } = record
  return rest
}

/** Recomputes a stored record's hash from its content and its own `_chain` position. */
export function recomputeHash (record: Record<string, unknown>): string | undefined {
  const link = record._chain as Partial<ChainLink> | undefined
  if (link === undefined || typeof link !== 'object' || link === null || typeof link.prev !== 'string' ||
    typeof link.p !== 'number' || typeof link.o !== 'number') return undefined
  return linkHash(link.prev, link.p, link.o, canonicalize(withoutChain(record)))
}

/**
 * Merkle root (hex) over the records' chain hashes, shaped as RFC 6962's tree (left subtree the
 * largest power of two) with interior nodes SHA-256(0x01 || left || right). The leaves are the
 * chain hashes themselves: they are already domain-separated ("vigil-audit-chain-v1"), so they
 * are not hashed again. The empty tree is SHA-256("").
 */
export function merkleRoot (leafHashes: readonly string[]): string {
  if (leafHashes.length === 0) return createHash('sha256').digest('hex')
  let level: Buffer[] = leafHashes.map(h => Buffer.from(h, 'hex'))
  const node = Buffer.alloc(65)
  node[0] = 1
  // Pairing left to right and promoting an odd last node gives RFC 6962's shape for any n.
  while (level.length > 1) {
    const next: Buffer[] = new Array(Math.ceil(level.length / 2))
    for (let i = 0; i + 1 < level.length; i += 2) {
      (level[i] as Buffer).copy(node, 1)
      ;(level[i + 1] as Buffer).copy(node, 33)
      next[i / 2] = oneShotHash('sha256', node, 'buffer') as unknown as Buffer
    }
    if (level.length % 2 === 1) next[next.length - 1] = level[level.length - 1] as Buffer
    level = next
  }
  return (level[0] as Buffer).toString('hex')
}

/** Columns whose value counts the manifest keeps (exact filters, plus capability as the query sees it). */
export const statColumns = [...exactFilters, 'capability'] as const
const maxDistinctPerColumn = 256

export interface FileManifest {
  v: 1
  topic: string
  partition: number
  count: number
  /** Offsets held, in file order, as inclusive runs [first, last]. */
  offsets: Array<[number, number]>
  first_offset: number
  last_offset: number
  /** prev of the first record: the hash of the partition's record before it. */
  prev_hash: string
  first_hash: string
  last_hash: string
  merkle_root: string
  /** Oldest and newest parseable ts (epoch ms); null when none parse. */
  min_ts_ms: number | null
  max_ts_ms: number | null
  /** Records whose ts does not parse (stored, never returned by queries, as in CAIPE). */
  untimed: number
  /** Per column, value → records; null when the column has too many distinct values. */
  stats: Record<string, Record<string, number> | null>
  created_at: string
}

/** The value a filter compares against (strings as they are, other values as JSON, missing as null). */
export function columnValue (record: Record<string, unknown>, column: string): string | null {
  const value = column === 'capability' ? (record.capability ?? record.action) : record[column]
  if (value === undefined || value === null) return null
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function * manifestSteps (topic: string, partition: number, records: readonly ChainedRecord[], now: Date): Generator<void, FileManifest> {
  const offsets: Array<[number, number]> = []
  const counts: Array<Map<string, number> | null> = statColumns.map(() => new Map())
  let minTs = Number.POSITIVE_INFINITY
  let maxTs = Number.NEGATIVE_INFINITY
  let untimed = 0
  const leaves: string[] = new Array(records.length)
  for (let r = 0; r < records.length; r++) {
    const record = records[r] as ChainedRecord
    leaves[r] = record._chain.hash
    const o = record._chain.o
    const last = offsets[offsets.length - 1]
    if (last !== undefined && last[1] + 1 === o) last[1] = o
    else offsets.push([o, o])
    const ts = parseTs(record.ts)
    if (Number.isNaN(ts)) untimed++
    else {
      if (ts < minTs) minTs = ts
      if (ts > maxTs) maxTs = ts
    }
    for (let c = 0; c < statColumns.length; c++) {
      const map = counts[c]
      if (map === null || map === undefined) continue
      const value = columnValue(record, statColumns[c] as string)
      if (value === null) continue
      const n = map.get(value)
      if (n !== undefined) map.set(value, n + 1)
      else if (map.size >= maxDistinctPerColumn) counts[c] = null
      else map.set(value, 1)
    }
    if (r % 500 === 499) yield
  }
  const stats: Record<string, Record<string, number> | null> = {}
  for (let c = 0; c < statColumns.length; c++) {
    const map = counts[c]
    stats[statColumns[c] as string] = map === null || map === undefined ? null : Object.fromEntries(map)
  }
  const first = records[0]
  const lastRecord = records[records.length - 1]
  return {
    v: 1,
    topic,
    partition,
    count: records.length,
    offsets,
    first_offset: first?._chain.o ?? -1,
    last_offset: lastRecord?._chain.o ?? -1,
    prev_hash: first?._chain.prev ?? genesisHash,
    first_hash: first?._chain.hash ?? genesisHash,
    last_hash: lastRecord?._chain.hash ?? genesisHash,
    merkle_root: merkleRoot(leaves),
    min_ts_ms: Number.isFinite(minTs) ? minTs : null,
    max_ts_ms: Number.isFinite(maxTs) ? maxTs : null,
    untimed,
    stats,
    created_at: now.toISOString()
  }
}

export function buildManifest (topic: string, partition: number, records: readonly ChainedRecord[], now = new Date()): FileManifest {
  const steps = manifestSteps(topic, partition, records, now)
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}

/** buildManifest, yielding to the event loop every 500 records. */
export async function buildManifestAsync (topic: string, partition: number, records: readonly ChainedRecord[], now = new Date()): Promise<FileManifest> {
  const steps = manifestSteps(topic, partition, records, now)
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
    await new Promise(resolve => setImmediate(resolve))
  }
}

/** Expands a manifest's offset runs. */
export function manifestOffsets (manifest: Pick<FileManifest, 'offsets'>): number[] {
  const out: number[] = []
  for (const [a, b] of manifest.offsets) for (let o = a; o <= b; o++) out.push(o)
  return out
}

export function isManifest (value: unknown): value is FileManifest {
  const m = value as FileManifest | null
  return typeof m === 'object' && m !== null && m.v === 1 && typeof m.partition === 'number' && typeof m.count === 'number' &&
    Array.isArray(m.offsets) && typeof m.merkle_root === 'string'
}
