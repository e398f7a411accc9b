/**
 * `vigil audit verify` and GET /v1/audit/verify: re-read a store and report every modified,
 * missing, inserted or reordered record with its file and position.
 *
 * Three layers of checks:
 * 1. Each record's hash is recomputed from its content and `_chain` position (modified), and on
 *    S3 each index column must equal record_json's value (a changed row).
 * 2. Each file's lines are aligned with its manifest's offset list (missing, inserted, reordered
 *    lines, with the position) and its Merkle root, count and column index are recomputed.
 * 3. Across files, each partition's records must link: every record's `prev` is the hash of the
 *    partition's previous record. A break where no other file (in or out of the range, or in the
 *    retention ledger) holds the offsets in between means records are missing, even if someone
 *    rewrote a file and its manifest consistently. Signed checkpoints must match the stored
 *    chain heads (catches a chain recomputed after the fact).
 */
import type { KeyObject } from 'node:crypto'
import { checkpointSignatureValid, type SignedCheckpoint } from './checkpoint.ts'
import { buildColumnIndex } from './column-index.ts'
import { genesisHash, manifestOffsets, merkleRoot, recomputeHash, type ChainLink, type FileManifest } from './integrity.ts'
import { fileHex, mapLimited, type ArchiveStore, type StoredFile } from './store.ts'
import { statePath } from './archiver.ts'

export type FindingKind = 'modified' | 'missing' | 'inserted' | 'reordered' | 'manifest' | 'checkpoint' | 'unreadable'

export interface Finding {
  kind: FindingKind
  store: 'local' | 's3'
  /** File path under the local root, or S3 key. */
  file?: string
  /** Line (local) or row (S3) in the file, from 0. */
  position?: number
  partition?: number
  offset?: number
  /** For missing records: the offsets lost, first to last (inclusive), and how many. */
  range?: { first: number, last: number, count: number }
  /**
   * For missing records: the file that held the first of them. Its full name when the archiver's
   * last batch lists it; otherwise `audit-*-<hex>…`, the hex being derived from the file's first
   * offset (the time in a name is its newest record's, which nothing else keeps).
   */
  lostFile?: string
  message: string
}

export interface VerifyOptions {
  topic: string
  sinceMs?: number | undefined
  untilMs?: number | undefined
  /** Checks checkpoint signatures when given. */
  publicKey?: KeyObject | undefined
  /** Stop collecting after this many findings (default 1000). */
  maxFindings?: number
}

export interface VerifyReport {
  ok: boolean
  store: 'local' | 's3'
  since: string | null
  until: string | null
  files: number
  records: number
  checkpoints: number
  findings: Finding[]
}

interface Seen { link: ChainLink, file: string, position: number }

/** The part of the archiver's batch intent (archiver.ts) that verify reads. */
interface BatchIntentDoc { last_offset: number, head_after: string, files: string[] }

export async function verifyStore (store: ArchiveStore, options: VerifyOptions): Promise<VerifyReport> {
  const maxFindings = options.maxFindings ?? 1000
  const findings: Finding[] = []
  const add = (f: Omit<Finding, 'store'>): void => { if (findings.length < maxFindings) findings.push({ store: store.kind, ...f }) }
  const ranged = options.sinceMs !== undefined || options.untilMs !== undefined
  const allFiles = await store.listAllFiles()
  const inRange = ranged
    ? await store.listFiles(options.sinceMs ?? 0, options.untilMs ?? Date.now() + 86_400_000, { fresh: true })
    : allFiles
  let records = 0
  const seen = new Map<number, Seen[]>()

  for (const file of inRange) {
    let content
    try {
      content = await store.readFile(file)
    } catch (error) {
      add({ kind: 'unreadable', file: file.name, message: `cannot read: ${(error as Error).message}` })
      continue
    }
    const { lines, manifest } = content
    if (manifest === null) add({ kind: 'manifest', file: file.name, message: content.manifestProblem ?? 'no manifest' })
    const actual: number[] = []
    const hashes: string[] = []
    for (const line of lines) {
      records++
      const link = line.record?._chain as ChainLink | undefined
      if (line.record === undefined) {
        add({ kind: 'modified', file: file.name, position: line.position, message: 'the line is not a JSON object' })
        actual.push(Number.NaN)
        continue
      }
      if (link === undefined || typeof link !== 'object' || typeof link.o !== 'number' || typeof link.hash !== 'string') {
        add({ kind: 'inserted', file: file.name, position: line.position, message: 'a record without a chain link (not written by the archiver)' })
        actual.push(Number.NaN)
        continue
      }
      actual.push(link.o)
      hashes.push(link.hash)
      const recomputed = recomputeHash(line.record)
      if (recomputed !== link.hash) {
        add({ kind: 'modified', file: file.name, position: line.position, partition: link.p, offset: link.o, message: `record at offset ${link.o} does not match its hash (content changed)` })
      } else if (line.problem !== undefined) {
        add({ kind: 'modified', file: file.name, position: line.position, partition: link.p, offset: link.o, message: line.problem })
      }
      if (manifest !== null && link.p !== manifest.partition) {
        add({ kind: 'inserted', file: file.name, position: line.position, partition: link.p, offset: link.o, message: `record of partition ${link.p} in a file of partition ${manifest.partition}` })
      }
      let list = seen.get(link.p)
      if (list === undefined) seen.set(link.p, list = [])
      list.push({ link, file: file.name, position: line.position })
    }
    if (manifest !== null) {
      const before = findings.length
      alignWithManifest(file, actual, manifest, add)
      const lineFindings = findings.length > before
      if (!lineFindings && (manifest.count !== lines.length || merkleRoot(hashes) !== manifest.merkle_root ||
        (hashes.length > 0 && (hashes[0] !== manifest.first_hash || hashes[hashes.length - 1] !== manifest.last_hash)))) {
        add({ kind: 'manifest', file: file.name, partition: manifest.partition, message: 'the manifest (count, Merkle root, first or last hash) does not match the records' })
      } else if (!lineFindings && manifest.index !== undefined && lines.every(l => l.record !== undefined) &&
        JSON.stringify(buildColumnIndex(lines.map(l => l.record as Record<string, unknown>), lines.length)) !== JSON.stringify(manifest.index)) {
        add({ kind: 'manifest', file: file.name, partition: manifest.partition, message: 'the manifest\'s column index does not match the records: queries of this file would miss or invent matches' })
      }
    }
  }

  // Offsets some file claims (in or out of range) or retention removed: a chain break across them is not a loss.
  const claimed = new Map<number, Array<[number, number]>>()
  const claim = (m: Pick<FileManifest, 'partition' | 'offsets'>): void => {
    let runs = claimed.get(m.partition)
    if (runs === undefined) claimed.set(m.partition, runs = [])
    runs.push(...m.offsets)
  }
  const inRangeNames = new Set(inRange.map(f => f.name))
  const others = allFiles.filter(f => !inRangeNames.has(f.name))
  for (const m of await mapLimited(others, 16, (f: StoredFile) => store.readManifest(f))) if (m !== null) claim(m)
  const expired = await store.listDocs(`expired/${options.topic}/`)
  for (const key of expired) {
    const m = await store.readDoc<FileManifest>(key)
    if (m !== undefined) claim(m)
  }
  const claimedBetween = (partition: number, lo: number, hi: number): boolean =>
    (claimed.get(partition) ?? []).some(([a, b]) => b > lo && a < hi)

  // The archiver's last batch per partition: its intent lists the files it wrote, by name.
  const intents = new Map<number, BatchIntentDoc>()
  for (const partition of new Set([...seen.keys(), ...claimed.keys()])) {
    const intent = await store.readDoc<BatchIntentDoc>(statePath(options.topic, partition))
    if (intent !== undefined) intents.set(partition, intent)
  }
  const lost = (partition: number, first: number, last: number): Pick<Finding, 'range' | 'lostFile'> & { described: string } => {
    const hex = fileHex(options.topic, partition, first)
    const named = intents.get(partition)?.files.find(f => f.includes(`-${hex}.`))
    const lostFile = named ?? `audit-*-${hex}.${store.kind === 's3' ? 'parquet' : 'ndjson*'}`
    const count = last - first + 1
    return { range: { first, last, count }, lostFile, described: `offsets ${first}..${last} of partition ${partition} (${count} record${count === 1 ? '' : 's'}) are missing: ${named === undefined ? 'the file that held them starts at offset ' + first + ', named ' : 'they were in '}${lostFile}` }
  }

  const byOffset = new Map<number, Map<number, Seen>>()
  for (const [partition, list] of seen) {
    list.sort((a, b) => a.link.o - b.link.o)
    const index = new Map<number, Seen>()
    byOffset.set(partition, index)
    for (let i = 0; i < list.length; i++) {
      const b = list[i] as Seen
      index.set(b.link.o, b)
      const a = list[i - 1]
      if (a === undefined) {
        if (!ranged && b.link.prev !== genesisHash && !claimedBetween(partition, -1, b.link.o)) {
          const { described, ...where } = lost(partition, 0, b.link.o - 1)
          add({ kind: 'missing', partition, offset: 0, ...where, message: `${described} (the prev of offset ${b.link.o}, ${b.file} position ${b.position}, is not the chain's start)` })
        }
        continue
      }
      if (a.link.o === b.link.o) {
        add({ kind: 'inserted', file: b.file, position: b.position, partition, offset: b.link.o, message: `offset ${b.link.o} of partition ${partition} is stored twice (also ${a.file} position ${a.position})` })
        continue
      }
      if (b.link.prev !== a.link.hash && !claimedBetween(partition, a.link.o, b.link.o)) {
        if (b.link.o > a.link.o + 1) {
          const { described, ...where } = lost(partition, a.link.o + 1, b.link.o - 1)
          add({ kind: 'missing', partition, offset: a.link.o + 1, ...where, message: `${described}; the chain goes from offset ${a.link.o} (${a.file} position ${a.position}) to ${b.link.o} (${b.file} position ${b.position})` })
        } else {
          add({ kind: 'missing', file: b.file, position: b.position, partition, offset: b.link.o, message: `the chain breaks before offset ${b.link.o} of partition ${partition}: its prev is not the hash of offset ${a.link.o} (${a.file} position ${a.position}); the record was rewritten` })
        }
      }
    }
  }

  // The archiver's last batch and the signed checkpoints name chain heads that must be stored.
  const heads: Array<{ partition: number, next: number, head: string, source: string }> = []
  for (const [partition, intent] of intents) heads.push({ partition, next: intent.last_offset + 1, head: intent.head_after, source: 'the archiver state' })
  const lostTails = new Map<number, { first: number, last: number, source: string }>()
  const checkpointKeys = await store.listDocs(`checkpoints/${options.topic}/`)
  for (const key of checkpointKeys) {
    const checkpoint = await store.readDoc<SignedCheckpoint>(key)
    if (checkpoint === undefined) continue
    if (options.publicKey !== undefined && !checkpointSignatureValid(checkpoint, options.publicKey)) {
      add({ kind: 'checkpoint', file: `_vigil/${key}`, message: 'the checkpoint\'s Ed25519 signature is not valid for the given public key' })
      continue
    }
    for (const p of checkpoint.partitions ?? []) heads.push({ partition: p.partition, next: p.next_offset, head: p.head, source: `checkpoint ${checkpoint.created_at}` })
  }
  for (const h of heads) {
    if (h.head === genesisHash) continue
    const record = byOffset.get(h.partition)?.get(h.next - 1)
    if (record !== undefined) {
      if (record.link.hash !== h.head) {
        add({ kind: 'checkpoint', file: record.file, position: record.position, partition: h.partition, offset: h.next - 1, message: `${h.source} says offset ${h.next - 1} of partition ${h.partition} has hash ${h.head.slice(0, 16)}…, the stored record has ${record.link.hash.slice(0, 16)}…: the chain was rewritten` })
      }
    } else if (!ranged && !claimedBetween(h.partition, h.next - 2, h.next)) {
      // The newest records are gone: the range runs from the newest one still stored (or claimed) to the head.
      const stored = [...(byOffset.get(h.partition)?.keys() ?? [])].filter(o => o < h.next - 1)
      const claimedBelow = (claimed.get(h.partition) ?? []).map(([, b]) => b).filter(b => b < h.next - 1)
      const first = Math.max(-1, ...stored, ...claimedBelow) + 1
      const known = lostTails.get(h.partition)
      if (known !== undefined && known.last >= h.next - 1) continue // a later head already named it
      lostTails.set(h.partition, { first, last: h.next - 1, source: h.source })
    }
  }
  for (const [partition, tail] of lostTails) {
    const { described, ...where } = lost(partition, tail.first, tail.last)
    add({ kind: 'missing', partition, offset: tail.first, ...where, message: `${described} (${tail.source} names offset ${tail.last} as archived, but no file holds it)` })
  }
  return {
    ok: findings.length === 0,
    store: store.kind,
    since: options.sinceMs === undefined ? null : new Date(options.sinceMs).toISOString(),
    until: options.untilMs === undefined ? null : new Date(options.untilMs).toISOString(),
    files: inRange.length,
    records,
    checkpoints: checkpointKeys.length,
    findings
  }
}

/** Walks the file's offsets against the manifest's, naming each line that is extra, absent or out of place. */
function alignWithManifest (file: StoredFile, actual: number[], manifest: FileManifest, add: (f: Omit<Finding, 'store'>) => void): void {
  const expected = manifestOffsets(manifest)
  const actualSet = new Set(actual)
  const expectedSet = new Set(expected)
  let i = 0
  let j = 0
  while (i < actual.length || j < expected.length) {
    const a = actual[i]
    const e = expected[j]
    if (a !== undefined && e !== undefined && a === e) { i++; j++; continue }
    if (a !== undefined && (Number.isNaN(a) || !expectedSet.has(a))) {
      if (!Number.isNaN(a)) add({ kind: 'inserted', file: file.name, position: i, partition: manifest.partition, offset: a, message: `line ${i} holds offset ${a}, which the manifest does not list` })
      i++
      continue
    }
    if (e !== undefined && !actualSet.has(e)) {
      add({ kind: 'missing', file: file.name, position: i, partition: manifest.partition, offset: e, message: `the record at offset ${e} (line ${j} when written) is missing` })
      j++
      continue
    }
    if (a !== undefined && e !== undefined) {
      add({ kind: 'reordered', file: file.name, position: i, partition: manifest.partition, offset: a, message: `line ${i} holds offset ${a}, the manifest has offset ${e} there` })
    }
    i++
    j++
  }
}
