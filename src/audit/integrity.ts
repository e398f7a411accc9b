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
import { buildColumnIndex, columnCodes, type ColumnIndex } from './column-index.ts'
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
  // Hex in, hex out: hash() returning a Buffer costs three times as much as returning hex.
  let level = leafHashes
  const node = Buffer.alloc(65)
  node[0] = 1
  // Pairing left to right and promoting an odd last node gives RFC 6962's shape for any n.
  while (level.length > 1) {
    const next: string[] = new Array(Math.ceil(level.length / 2))
    for (let i = 0; i + 1 < level.length; i += 2) {
      node.write(level[i] as string, 1, 32, 'hex')
      node.write(level[i + 1] as string, 33, 32, 'hex')
      next[i / 2] = oneShotHash('sha256', node, 'hex')
    }
    if (level.length % 2 === 1) next[next.length - 1] = level[level.length - 1] as string
    level = next
  }
  return level[0] as string
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
  /** Per column, each row's value (files written before Vigil 0.2 have none). */
  index?: ColumnIndex
  created_at: string
}

/** What a file's manifest is computed from, in file order. */
export interface ManifestRows {
  hashes: readonly string[]
  offsets: ArrayLike<number>
  /** Each record's ts (epoch ms), NaN when it does not parse. */
  tsMs: ArrayLike<number>
  /** prev of the first record. */
  prevHash: string
  index: ColumnIndex
}

export function manifestOf (topic: string, partition: number, rows: ManifestRows, now: Date): FileManifest {
  const { hashes, tsMs } = rows
  const offsets: Array<[number, number]> = []
  let minTs = Number.POSITIVE_INFINITY
  let maxTs = Number.NEGATIVE_INFINITY
  let untimed = 0
  for (let r = 0; r < hashes.length; r++) {
    const o = rows.offsets[r] as number
    const last = offsets[offsets.length - 1]
    if (last !== undefined && last[1] + 1 === o) last[1] = o
    else offsets.push([o, o])
    const ts = tsMs[r] as number
    if (Number.isNaN(ts)) untimed++
    else {
      if (ts < minTs) minTs = ts
      if (ts > maxTs) maxTs = ts
    }
  }
  const count = hashes.length
  return {
    v: 1,
    topic,
    partition,
    count,
    offsets,
    first_offset: count > 0 ? rows.offsets[0] as number : -1,
    last_offset: count > 0 ? rows.offsets[count - 1] as number : -1,
    prev_hash: count > 0 ? rows.prevHash : genesisHash,
    first_hash: hashes[0] ?? genesisHash,
    last_hash: hashes[count - 1] ?? genesisHash,
    merkle_root: merkleRoot(hashes),
    min_ts_ms: Number.isFinite(minTs) ? minTs : null,
    max_ts_ms: Number.isFinite(maxTs) ? maxTs : null,
    untimed,
    stats: statsOf(rows.index),
    index: rows.index,
    created_at: now.toISOString()
  }
}

/** Value counts per stat column, from the column index. */
function statsOf (index: ColumnIndex): Record<string, Record<string, number> | null> {
  const stats: Record<string, Record<string, number> | null> = {}
  for (const column of statColumns) {
    const indexed = index.columns[column]
    if (indexed === null || indexed === undefined || indexed.values.length > maxDistinctPerColumn) {
      stats[column] = null
      continue
    }
    const counts = new Array<number>(indexed.values.length + 1).fill(0)
    for (const code of columnCodes(indexed, index.rows)) counts[code] = (counts[code] as number) + 1
    stats[column] = Object.fromEntries(indexed.values.map((value, i) => [value, counts[i + 1] as number]))
  }
  return stats
}

/** The manifest of a file holding these chained records, in this order. */
export function buildManifest (topic: string, partition: number, records: readonly ChainedRecord[], now = new Date()): FileManifest {
  return manifestOf(topic, partition, {
    hashes: records.map(r => r._chain.hash),
    offsets: records.map(r => r._chain.o),
    tsMs: records.map(r => parseTs(r.ts)),
    prevHash: records[0]?._chain.prev ?? genesisHash,
    index: buildColumnIndex(records, records.length)
  }, now)
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
