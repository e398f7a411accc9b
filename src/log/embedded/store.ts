/**
 * Every SQL statement of the embedded log, on one `node:sqlite` connection. All methods are
 * synchronous and each write is one short `BEGIN IMMEDIATE` transaction, so nothing else can
 * interleave with it and other processes wait at most busyTimeoutMs for the write lock.
 * Statements are prepared once and return raw arrays (no per-row key objects).
 *
 * A process opens two: the event loop's reads only (rows, bounds, groups), and the writer
 * thread's (writer-thread.ts), which runs every write, so the event loop never waits for the
 * write lock, a transaction or an fsync.
 */
import { mkdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, resolve } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { VigilError } from '../../errors.ts'
import type { GroupDescription, GroupPartitionLag, TopicConfig, TopicPartition, TopicPartitionOffset } from '../types.ts'
import { assignPartitions, type GroupMember } from './assignor.ts'
import { schemaSql, schemaVersion, timeIndexInterval } from './schema.ts'

export interface TopicInfo {
  readonly id: number
  readonly name: string
  readonly config: Readonly<TopicConfig>
  /** Row id of each partition in `partitions`, indexed by partition number. */
  readonly tpIds: readonly number[]
}

/**
 * The records of one produce() call as the writer thread takes them: each record's key, value
 * and encoded headers back to back in `data` (one buffer moves between threads, not thousands).
 */
export interface PackedProduceRecords {
  data: Uint8Array
  /** Per record, three byte lengths in `data`: key, value, headers; -1 is null. */
  lengths: Int32Array
  timestamps: Float64Array
}

/** A produce() call in a group commit. */
export interface ProduceWrite {
  readonly kind: 'produce'
  readonly topic: TopicInfo
  readonly records: PackedProduceRecords
  /** The partition chosen for each record. */
  readonly partitions: Uint32Array
  /** The distinct partitions of `partitions`. */
  readonly used: readonly number[]
}

/** A consumer commit in a group commit (it shares the transaction and fsync). */
export interface CommitWrite {
  readonly kind: 'commit'
  readonly group: string
  readonly memberId: string
  readonly offsets: readonly TopicPartitionOffset[]
}

export type WriteOp = ProduceWrite | CommitWrite

/**
 * What a group commit did with each op: for a produce, the first offset it gave in each
 * partition it used, indexed by partition (a call's records get consecutive offsets per
 * partition, in order); undefined for a commit that succeeded; or the error that refused that
 * op alone.
 */
export type WriteOutcome = number[] | VigilError | undefined

/**
 * Stored records of one partition, read in one row: offsets and timestamps, and each of keys,
 * values and encoded headers as one buffer of the records' bytes back to back with each record's
 * byte length (null: the record has none). Same order in every array.
 */
export interface StoredRecords {
  offsets: number[]
  timestamps: number[]
  keyLengths: Array<number | null>
  keys: Uint8Array | null
  valueLengths: Array<number | null>
  values: Uint8Array | null
  headerLengths: Array<number | null>
  headers: Uint8Array | null
}

export interface SyncResult {
  generation: number
  /** What the deterministic assignment gives this member now. */
  target: TopicPartition[]
  /** What this member owns in the database after the sync (including `claimed`). */
  owned: TopicPartition[]
  /** Partitions claimed in this sync (free before). */
  claimed: TopicPartition[]
}

interface PartitionState {
  tp: number
  next: number
  first: number
  maxTs: number
  prevMaxTs: number
  indexed: number
  addedBytes: number
}

/** Page size of a new database file (see the constructor). */
const pageSize = 65536

const recordSize = 'ifnull(length(key), 0) + ifnull(length(value), 0) + ifnull(length(headers), 0)'

export class Store {
  readonly path: string
  readonly #db: DatabaseSync
  readonly #s: ReturnType<typeof prepareStatements>

  constructor (path: string, busyTimeoutMs: number) {
    this.path = path
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true })
      this.#db = new DatabaseSync(path, { timeout: busyTimeoutMs })
    } catch (cause) {
      throw unreachable(path, cause)
    }
    try {
      const db = this.#db
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`)
      // 64 KiB pages for a new file (an existing file keeps its own): a record of up to ~16 KiB
      // stays on its B-tree page instead of spilling to overflow pages (at 4 KiB, anything above
      // ~1 KB does), and a commit writes a few large WAL frames instead of many small ones.
      // Measured (BENCHMARKS.md, page sizes): produce of 1 KiB records 37k → 227k rec/s, consume 271k → 648k.
      // Must come before WAL mode, which fixes the page size.
      db.exec(`PRAGMA page_size = ${pageSize}`)
      const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode
      if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL is needed (is the file system local?)`)
      // FULL: every commit fsyncs the WAL, so an acknowledged record survives power loss.
      db.exec('PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -32768')
      db.exec('BEGIN IMMEDIATE')
      try {
        const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0)
        if (version > schemaVersion) {
          throw new Error(`the file has schema version ${version}, written by a newer Vigil (this one knows ${schemaVersion})`)
        }
        if (version < schemaVersion) {
          db.exec(schemaSql)
          db.exec(`PRAGMA user_version = ${schemaVersion}`)
        }
        db.exec('COMMIT')
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK')
        throw error
      }
      this.#s = prepareStatements(db)
    } catch (cause) {
      try { this.#db.close() } catch {}
      throw unreachable(path, cause)
    }
  }

  close (): void {
    if (this.#db.isOpen) this.#db.close()
  }

  /** Runs `fn` in one write transaction (taking the write lock up front). */
  #tx<T> (fn: () => T): T {
    const s = this.#s
    try {
      s.begin.run()
    } catch (cause) {
      throw backendError(cause, this.path)
    }
    try {
      const result = fn()
      s.commit.run()
      return result
    } catch (error) {
      if (this.#db.isTransaction) s.rollback.run()
      throw error instanceof VigilError ? error : backendError(error, this.path)
    }
  }

  /** Increases whenever another connection (this process or another) commits. */
  dataVersion (): number {
    return (this.#s.dataVersion.get() as unknown as [number])[0]
  }

  ping (): void {
    this.#s.ping.get()
  }

  // ---------------------------------------------------------------------------------- topics

  loadTopic (name: string): TopicInfo | undefined {
    const row = this.#s.topicByName.get(name) as unknown as [number, number, number, number, number, string, number] | undefined
    if (row === undefined) return undefined
    const [id, partitions, replicationFactor, retentionMs, retentionBytes, cleanupPolicy, maxMessageBytes] = row
    const tpIds: number[] = new Array(partitions)
    for (const [partition, tp] of this.#s.partitionsOfTopic.all(id) as unknown as Array<[number, number]>) tpIds[partition] = tp
    return {
      id,
      name,
      config: Object.freeze({
        partitions,
        replicationFactor,
        retentionMs,
        retentionBytes,
        cleanupPolicy: cleanupPolicy === 'compact' ? 'compact' : 'delete',
        maxMessageBytes
      }),
      tpIds
    }
  }

  listTopicNames (): string[] {
    return (this.#s.topicNames.all() as unknown as Array<[string]>).map(r => r[0])
  }

  /** Creates the topic; returns undefined when one with this name exists already. */
  createTopic (name: string, config: TopicConfig, now: number): TopicInfo | undefined {
    const s = this.#s
    const created = this.#tx(() => {
      if (s.topicByName.get(name) !== undefined) return false
      const { lastInsertRowid } = s.insertTopic.run(name, config.partitions, config.replicationFactor, config.retentionMs,
        config.retentionBytes, config.cleanupPolicy, config.maxMessageBytes, now)
      for (let p = 0; p < config.partitions; p++) s.insertPartition.run(lastInsertRowid, p)
      return true
    })
    return created ? this.loadTopic(name) : undefined
  }

  /**
   * Deletes the topic, its group offsets and ownerships at once; its records are removed later
   * by the maintenance (dropped_partitions), in small transactions. Returns false when missing.
   */
  deleteTopic (name: string): boolean {
    const s = this.#s
    return this.#tx(() => {
      const row = s.topicByName.get(name) as unknown as [number] | undefined
      if (row === undefined) return false
      const id = row[0]
      for (const [, tp] of s.partitionsOfTopic.all(id) as unknown as Array<[number, number]>) s.insertDropped.run(tp)
      s.deletePartitionsOfTopic.run(id)
      s.deleteTopic.run(id)
      for (const [group] of s.groupsOwningTopic.all(name) as unknown as Array<[string]>) s.bumpGeneration.run(group)
      s.deleteOwnersOfTopic.run(name)
      s.deleteOffsetsOfTopic.run(name)
      return true
    })
  }

  /** The offset the next record of a partition gets (0 when the partition no longer exists). */
  nextOffset (tp: number): number {
    const row = this.#s.nextOffset.get(tp) as unknown as [number] | undefined
    return row === undefined ? 0 : row[0]
  }

  /** [lowOffset, highOffset] of a partition; undefined when the partition no longer exists. */
  partitionBounds (tp: number): [number, number] | undefined {
    const high = this.#s.nextOffset.get(tp) as unknown as [number] | undefined
    if (high === undefined) return undefined
    const low = this.#s.firstOffset.get(tp) as unknown as [number] | undefined
    return [low === undefined ? high[0] : low[0], high[0]]
  }

  // ---------------------------------------------------------------------------- group commit

  /**
   * Writes a batch of produce and commit operations in one transaction (one fsync). Offsets are
   * assigned here, from the partition rows, so several processes can append to one partition.
   * Returns one outcome per op (see WriteOutcome). Throws (nothing written) when the transaction
   * itself fails.
   */
  writeBatch (ops: readonly WriteOp[]): WriteOutcome[] {
    const s = this.#s
    return this.#tx(() => {
      const states = new Map<number, PartitionState | null>()
      const outcomes: WriteOutcome[] = new Array(ops.length)
      const now = Date.now()
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i] as WriteOp
        outcomes[i] = op.kind === 'produce' ? this.#writeProduce(op, states) : this.#writeCommit(op, now)
      }
      for (const state of states.values()) {
        if (state === null || state.first === -1) continue
        if (state.first - state.indexed >= timeIndexInterval) {
          s.insertTimeIndex.run(state.tp, state.first, state.prevMaxTs)
          state.indexed = state.first
        }
        s.updatePartition.run(state.next, state.addedBytes, state.maxTs, state.indexed, state.tp)
      }
      return outcomes
    })
  }

  #writeProduce (op: ProduceWrite, states: Map<number, PartitionState | null>): number[] | VigilError {
    const s = this.#s
    const { topic, partitions } = op
    const { data, lengths, timestamps } = op.records
    const local: Array<PartitionState | undefined> = new Array(topic.config.partitions)
    const firsts: number[] = new Array(topic.config.partitions)
    for (const p of op.used) {
      const tp = topic.tpIds[p] as number
      let state = states.get(tp)
      if (state === undefined) {
        const row = s.partitionForWrite.get(tp) as unknown as [number, number, number] | undefined
        state = row === undefined
          ? null
          : { tp, next: row[0], first: -1, maxTs: row[1], prevMaxTs: row[1], indexed: row[2], addedBytes: 0 }
        states.set(tp, state)
      }
      if (state === null) {
        return new VigilError('VGL_LOG_TOPIC_NOT_FOUND', `topic ${topic.name} was deleted`, { topic: topic.name })
      }
      local[p] = state
      firsts[p] = state.next
    }
    const insert = s.insertRecord
    let at = 0
    for (let i = 0; i < partitions.length; i++) {
      const state = local[partitions[i] as number] as PartitionState
      const offset = state.next++
      if (state.first === -1) state.first = offset
      const ts = timestamps[i] as number
      const keyBytes = lengths[3 * i] as number
      const valueBytes = lengths[3 * i + 1] as number
      const headerBytes = lengths[3 * i + 2] as number
      const key = keyBytes < 0 ? null : data.subarray(at, at += keyBytes)
      const value = valueBytes < 0 ? null : data.subarray(at, at += valueBytes)
      const headers = headerBytes < 0 ? null : data.subarray(at, at += headerBytes)
      insert.run(state.tp, offset, ts, key, value, headers)
      state.addedBytes += Math.max(0, keyBytes) + Math.max(0, valueBytes) + Math.max(0, headerBytes)
      if (ts > state.maxTs) state.maxTs = ts
    }
    return firsts
  }

  #writeCommit (op: CommitWrite, now: number): VigilError | undefined {
    const s = this.#s
    for (const { topic, partition } of op.offsets) {
      const owner = s.ownerOf.get(op.group, topic, partition) as unknown as [string] | undefined
      if (owner?.[0] !== op.memberId) {
        return new VigilError('VGL_LOG_NOT_ASSIGNED',
          `consumer ${op.memberId} of group ${op.group} no longer owns ${topic}/${partition}; its commit was refused`,
          { group: op.group, topic, partition, memberId: op.memberId })
      }
    }
    for (const { topic, partition, offset } of op.offsets) s.upsertOffset.run(op.group, topic, partition, offset, now)
    return undefined
  }

  // ------------------------------------------------------------------------------------ reads

  /** Up to `limit` stored records of a partition from `offset` on (gaps skipped). */
  readRecords (tp: number, offset: number, limit: number): StoredRecords {
    const row = this.#s.readRecords.get(tp, offset, limit) as unknown as [string, string, string, Uint8Array | null, string, Uint8Array | null, string, Uint8Array | null]
    return {
      offsets: JSON.parse(row[0]) as number[],
      timestamps: JSON.parse(row[1]) as number[],
      keyLengths: JSON.parse(row[2]) as Array<number | null>,
      keys: row[3],
      valueLengths: JSON.parse(row[4]) as Array<number | null>,
      values: row[5],
      headerLengths: JSON.parse(row[6]) as Array<number | null>,
      headers: row[7]
    }
  }

  offsetForTimestamp (tp: number, timestamp: number): number {
    const s = this.#s
    const entry = s.timeIndexBefore.get(tp, timestamp) as unknown as [number] | undefined
    const found = s.firstAtOrAfterTs.get(tp, entry === undefined ? 0 : entry[0], timestamp) as unknown as [number] | undefined
    if (found !== undefined) return found[0]
    const high = s.nextOffset.get(tp) as unknown as [number] | undefined
    return high === undefined ? 0 : high[0]
  }

  // ----------------------------------------------------------------------------------- groups

  generation (group: string): number {
    const row = this.#s.generation.get(group) as unknown as [number] | undefined
    return row === undefined ? 0 : row[0]
  }

  committedOffset (group: string, topic: string, partition: number): number | null {
    const row = this.#s.committed.get(group, topic, partition) as unknown as [number] | undefined
    return row === undefined ? null : row[0]
  }

  /**
   * Joins (or refreshes) the member, expires silent members, computes the assignment and claims
   * the target partitions nobody owns. Partitions owned by others are left to them: they release
   * them after their onRevoke, or lose them when they expire.
   */
  syncMember (group: string, memberId: string, clientId: string, topics: readonly string[], sessionTimeoutMs: number): SyncResult {
    const s = this.#s
    return this.#tx(() => {
      const now = Date.now()
      s.insertGroup.run(group, now)
      const topicsJson = JSON.stringify(topics)
      let bump = s.refreshMember.run(now, topicsJson, sessionTimeoutMs, group, memberId).changes === 0
      if (bump) s.insertMember.run(group, memberId, clientId, topicsJson, sessionTimeoutMs, now, now)
      if (this.#expireMembers(group, now) > 0) bump = true
      const target = this.#assignment(group).get(memberId) ?? []
      const owned = (s.ownedBy.all(group, memberId) as unknown as Array<[string, number]>)
        .map(([topic, partition]) => ({ topic, partition }))
      const ownedKeys = new Set(owned.map(tpKey))
      const claimed: TopicPartition[] = []
      for (const tp of target) {
        if (ownedKeys.has(tpKey(tp))) continue
        if (s.claim.run(group, tp.topic, tp.partition, memberId).changes === 1) claimed.push(tp)
      }
      if (bump) s.bumpGeneration.run(group)
      return { generation: this.generation(group), target, owned: [...owned, ...claimed], claimed }
    })
  }

  /** Refreshes the member's heartbeat and expires silent members; false when this member was expired. */
  heartbeat (group: string, memberId: string): { alive: boolean, generation: number } {
    const s = this.#s
    return this.#tx(() => {
      const now = Date.now()
      const alive = s.heartbeat.run(now, group, memberId).changes === 1
      if (this.#expireMembers(group, now) > 0) s.bumpGeneration.run(group)
      return { alive, generation: this.generation(group) }
    })
  }

  /** Gives partitions back (after onRevoke ran) so that their new owner can claim them. */
  release (group: string, memberId: string, partitions: readonly TopicPartition[]): number {
    const s = this.#s
    return this.#tx(() => {
      for (const { topic, partition } of partitions) s.releaseOwner.run(group, topic, partition, memberId)
      s.bumpGeneration.run(group)
      return this.generation(group)
    })
  }

  leave (group: string, memberId: string): void {
    const s = this.#s
    this.#tx(() => {
      s.deleteOwnersOfMember.run(group, memberId)
      if (s.deleteMember.run(group, memberId).changes === 1) s.bumpGeneration.run(group)
    })
  }

  #expireMembers (group: string, now: number): number {
    const s = this.#s
    const expired = s.expiredMembers.all(group, now) as unknown as Array<[string]>
    // A member of a process on this machine that is gone (kill -9) is expired at once instead of
    // after its session timeout: otherwise a restarted server's consumers wait that long (10 s by
    // default) for the partitions the dead process still owns, and do nothing meanwhile.
    for (const member of this.#members(group)) {
      if (expired.some(([id]) => id === member.memberId)) continue
      if (processIsGone(member.clientId)) expired.push([member.memberId])
    }
    for (const [memberId] of expired) {
      s.deleteOwnersOfMember.run(group, memberId)
      s.deleteMember.run(group, memberId)
    }
    return expired.length
  }

  #members (group: string): Array<GroupMember & { clientId: string }> {
    return (this.#s.members.all(group) as unknown as Array<[string, string, string]>)
      .map(([memberId, clientId, topics]) => ({ memberId, clientId, topics: JSON.parse(topics) as string[] }))
  }

  #assignment (group: string, members = this.#members(group)): Map<string, TopicPartition[]> {
    const partitionsByTopic = new Map<string, number>()
    for (const member of members) {
      for (const topic of member.topics) {
        if (partitionsByTopic.has(topic)) continue
        const row = this.#s.topicPartitionCount.get(topic) as unknown as [number] | undefined
        if (row !== undefined) partitionsByTopic.set(topic, row[0])
      }
    }
    return assignPartitions(members, partitionsByTopic)
  }

  listGroups (): string[] {
    return (this.#s.groupNames.all() as unknown as Array<[string]>).map(r => r[0])
  }

  describeGroup (group: string): GroupDescription | undefined {
    const s = this.#s
    if (s.generation.get(group) === undefined) return undefined
    const members = this.#members(group)
    const owners = s.ownersOfGroup.all(group) as unknown as Array<[string, number, string]>
    const ownedBy = new Map<string, TopicPartition[]>()
    const ownerOf = new Map<string, string>()
    for (const [topic, partition, memberId] of owners) {
      ownerOf.set(tpKey({ topic, partition }), memberId)
      const list = ownedBy.get(memberId) ?? []
      list.push({ topic, partition })
      ownedBy.set(memberId, list)
    }
    const target = this.#assignment(group, members)
    let stable = true
    for (const [memberId, partitions] of target) {
      for (const tp of partitions) if (ownerOf.get(tpKey(tp)) !== memberId) stable = false
    }
    const committed = new Map<string, number>()
    for (const [topic, partition, offset] of s.offsetsOfGroup.all(group) as unknown as Array<[string, number, number]>) {
      committed.set(tpKey({ topic, partition }), offset)
    }
    const topics = new Set<string>(members.flatMap(m => m.topics))
    for (const key of committed.keys()) topics.add(key.slice(0, key.lastIndexOf('\0')))
    const offsets: GroupPartitionLag[] = []
    for (const topic of [...topics].sort()) {
      const info = this.loadTopic(topic)
      if (info === undefined) continue
      for (let partition = 0; partition < info.config.partitions; partition++) {
        const [low, high] = this.partitionBounds(info.tpIds[partition] as number) ?? [0, 0]
        const committedOffset = committed.get(tpKey({ topic, partition })) ?? null
        offsets.push({ topic, partition, committedOffset, highOffset: high, lag: Math.max(0, high - (committedOffset ?? low)) })
      }
    }
    return {
      group,
      state: members.length === 0 ? 'Empty' : stable ? 'Stable' : 'PreparingRebalance',
      members: members.map(m => ({ memberId: m.memberId, clientId: m.clientId, assignment: ownedBy.get(m.memberId) ?? [] })),
      offsets,
      totalLag: offsets.reduce((sum, o) => sum + o.lag, 0)
    }
  }

  // ------------------------------------------------------------------------------ maintenance

  /** Partitions that still exist, with their topic's config. */
  maintenanceTargets (): Array<{ tp: number, topic: string, partition: number, config: TopicConfig }> {
    const out: Array<{ tp: number, topic: string, partition: number, config: TopicConfig }> = []
    for (const name of this.listTopicNames()) {
      const info = this.loadTopic(name)
      if (info === undefined) continue
      info.tpIds.forEach((tp, partition) => out.push({ tp, topic: name, partition, config: info.config }))
    }
    return out
  }

  /** Deletes, from the head, up to `limit` records older than `cutoff`; returns how many. */
  deleteOlderThan (tp: number, cutoff: number, limit: number): number {
    const s = this.#s
    // Checked first without the write lock: most passes find nothing to do.
    const head = s.firstTs.get(tp) as unknown as [number] | undefined
    if (head === undefined || head[0] >= cutoff) return 0
    return this.#tx(() => {
      const rows = s.headSizes.all(tp, limit) as unknown as Array<[number, number, number]>
      let count = 0
      let bytes = 0
      for (const [, ts, size] of rows) {
        if (ts >= cutoff) break
        count++
        bytes += size
      }
      if (count > 0) this.#deleteHead(tp, (rows[count - 1] as [number, number, number])[0], bytes)
      return count
    })
  }

  /** Deletes, from the head, up to `limit` records while the partition is above `maxBytes`. */
  deleteOverSize (tp: number, maxBytes: number, limit: number): number {
    const s = this.#s
    const size = s.partitionBytes.get(tp) as unknown as [number] | undefined
    if (size === undefined || size[0] <= maxBytes) return 0
    return this.#tx(() => {
      const row = s.partitionBytes.get(tp) as unknown as [number] | undefined
      if (row === undefined || row[0] <= maxBytes) return 0
      let excess = row[0] - maxBytes
      const rows = s.headSizes.all(tp, limit) as unknown as Array<[number, number, number]>
      let count = 0
      let bytes = 0
      for (const [, , size] of rows) {
        if (excess <= 0) break
        count++
        bytes += size
        excess -= size
      }
      if (count > 0) this.#deleteHead(tp, (rows[count - 1] as [number, number, number])[0], bytes)
      return count
    })
  }

  #deleteHead (tp: number, lastOffset: number, bytes: number): void {
    const s = this.#s
    s.deleteUpTo.run(tp, lastOffset)
    s.subtractBytes.run(bytes, tp)
    s.pruneTimeIndex.run(tp, lastOffset)
  }

  /**
   * Compacts up to `limit` records after the cleaner point: for each keyed record, the previous
   * record of the same key is deleted and the key now points at this one. A tombstone (null
   * value) is noted with the time it was seen, for purgeTombstones. Returns records processed.
   */
  compact (tp: number, limit: number): number {
    const s = this.#s
    const dirty = s.dirtyRange.get(tp) as unknown as [number, number] | undefined
    if (dirty === undefined || dirty[0] >= dirty[1]) return 0
    return this.#tx(() => {
      const clean = s.cleanOffset.get(tp) as unknown as [number] | undefined
      if (clean === undefined) return 0
      const rows = s.dirtyKeys.all(tp, clean[0], limit) as unknown as Array<[number, Uint8Array | null, number]>
      if (rows.length === 0) return 0
      const now = Date.now()
      let bytes = 0
      for (const [off, key, isTombstone] of rows) {
        if (key === null) continue
        const previous = s.compactKey.get(tp, key) as unknown as [number] | undefined
        if (previous !== undefined && previous[0] < off) {
          const deleted = s.deleteRecord.get(tp, previous[0]) as unknown as [number] | undefined
          if (deleted !== undefined) bytes += deleted[0]
        }
        s.upsertCompactKey.run(tp, key, off, isTombstone === 1 ? now : null)
      }
      const last = (rows[rows.length - 1] as [number, Uint8Array | null, number])[0]
      s.setCleanOffset.run(last + 1, bytes, tp)
      return rows.length
    })
  }

  /** Removes up to `limit` tombstones that were compacted before `before`; returns how many. */
  purgeTombstones (tp: number, before: number, limit: number): number {
    const s = this.#s
    if (s.oldTombstones.get(tp, before, 1) === undefined) return 0
    return this.#tx(() => {
      const rows = s.oldTombstones.all(tp, before, limit) as unknown as Array<[Uint8Array, number]>
      let bytes = 0
      for (const [key, off] of rows) {
        const deleted = s.deleteRecord.get(tp, off) as unknown as [number] | undefined
        if (deleted !== undefined) bytes += deleted[0]
        s.deleteCompactKey.run(tp, key)
      }
      if (bytes > 0) s.subtractBytes.run(bytes, tp)
      return rows.length
    })
  }

  /** Removes up to `limit` records of deleted topics; returns how many. */
  purgeDropped (limit: number): number {
    const s = this.#s
    if (s.firstDropped.get() === undefined) return 0
    return this.#tx(() => {
      const row = s.firstDropped.get() as unknown as [number] | undefined
      if (row === undefined) return 0
      const tp = row[0]
      const last = s.nthOffset.get(tp, limit - 1) as unknown as [number] | undefined
      if (last === undefined) {
        s.deleteAllRecords.run(tp)
        s.deleteTimeIndex.run(tp)
        s.deleteCompactKeys.run(tp)
        s.deleteDropped.run(tp)
        return limit // this partition is done; ask for another round in case more were dropped
      }
      return Number(s.deleteUpTo.run(tp, last[0]).changes)
    })
  }
}

export function tpKey (tp: TopicPartition): string {
  return `${tp.topic}\0${tp.partition}`
}

function prepareStatements (db: DatabaseSync) {
  const prep = (sql: string): StatementSync => {
    const statement = db.prepare(sql)
    statement.setReturnArrays(true)
    return statement
  }
  return {
    begin: prep('BEGIN IMMEDIATE'),
    commit: prep('COMMIT'),
    rollback: prep('ROLLBACK'),
    ping: prep('SELECT 1'),
    dataVersion: prep('PRAGMA data_version'),

    topicByName: prep(`SELECT id, partitions, replication_factor, retention_ms, retention_bytes, cleanup_policy, max_message_bytes
      FROM topics WHERE name = ?`),
    topicPartitionCount: prep('SELECT partitions FROM topics WHERE name = ?'),
    topicNames: prep('SELECT name FROM topics ORDER BY name'),
    partitionsOfTopic: prep('SELECT partition, id FROM partitions WHERE topic_id = ? ORDER BY partition'),
    insertTopic: prep(`INSERT INTO topics (name, partitions, replication_factor, retention_ms, retention_bytes, cleanup_policy,
      max_message_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    insertPartition: prep('INSERT INTO partitions (topic_id, partition) VALUES (?, ?)'),
    deleteTopic: prep('DELETE FROM topics WHERE id = ?'),
    deletePartitionsOfTopic: prep('DELETE FROM partitions WHERE topic_id = ?'),
    insertDropped: prep('INSERT OR IGNORE INTO dropped_partitions (tp) VALUES (?)'),
    groupsOwningTopic: prep('SELECT DISTINCT group_name FROM group_owners WHERE topic = ?'),
    deleteOwnersOfTopic: prep('DELETE FROM group_owners WHERE topic = ?'),
    deleteOffsetsOfTopic: prep('DELETE FROM group_offsets WHERE topic = ?'),

    nextOffset: prep('SELECT next_offset FROM partitions WHERE id = ?'),
    firstOffset: prep('SELECT off FROM records WHERE tp = ? ORDER BY off LIMIT 1'),
    partitionForWrite: prep('SELECT next_offset, max_ts, indexed_offset FROM partitions WHERE id = ?'),
    insertRecord: prep('INSERT INTO records (tp, off, ts, key, value, headers) VALUES (?, ?, ?, ?, ?, ?)'),
    updatePartition: prep(`UPDATE partitions SET next_offset = ?, bytes = bytes + ?, max_ts = ?, indexed_offset = ?
      WHERE id = ?`),
    insertTimeIndex: prep('INSERT OR REPLACE INTO time_index (tp, off, max_ts) VALUES (?, ?, ?)'),
    // One row for many records (StoredRecords): node:sqlite would otherwise make an array and a
    // buffer of its own for every record, which costs three times as much. group_concat keeps a
    // blob's bytes exactly (NUL bytes, invalid UTF-8); the aggregates see the rows in one pass,
    // so position i of every array is the same record.
    readRecords: prep(`SELECT json_group_array(off), json_group_array(ts),
      json_group_array(octet_length(key)), CAST(group_concat(key, '') AS BLOB),
      json_group_array(octet_length(value)), CAST(group_concat(value, '') AS BLOB),
      json_group_array(octet_length(headers)), CAST(group_concat(headers, '') AS BLOB)
      FROM (SELECT off, ts, key, value, headers FROM records WHERE tp = ? AND off >= ? ORDER BY off LIMIT ?)`),
    timeIndexBefore: prep('SELECT off FROM time_index WHERE tp = ? AND max_ts < ? ORDER BY max_ts DESC, off DESC LIMIT 1'),
    firstAtOrAfterTs: prep('SELECT off FROM records WHERE tp = ? AND off >= ? AND ts >= ? ORDER BY off LIMIT 1'),

    generation: prep('SELECT generation FROM groups WHERE name = ?'),
    groupNames: prep('SELECT name FROM groups ORDER BY name'),
    insertGroup: prep('INSERT OR IGNORE INTO groups (name, generation, created_at) VALUES (?, 0, ?)'),
    bumpGeneration: prep('UPDATE groups SET generation = generation + 1 WHERE name = ?'),
    refreshMember: prep(`UPDATE group_members SET heartbeat_at = ?, topics = ?, session_timeout_ms = ?
      WHERE group_name = ? AND member_id = ?`),
    insertMember: prep(`INSERT INTO group_members (group_name, member_id, client_id, topics, session_timeout_ms, joined_at,
      heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    heartbeat: prep('UPDATE group_members SET heartbeat_at = ? WHERE group_name = ? AND member_id = ?'),
    expiredMembers: prep('SELECT member_id FROM group_members WHERE group_name = ? AND heartbeat_at + session_timeout_ms < ?'),
    deleteMember: prep('DELETE FROM group_members WHERE group_name = ? AND member_id = ?'),
    members: prep('SELECT member_id, client_id, topics FROM group_members WHERE group_name = ? ORDER BY member_id'),
    ownedBy: prep('SELECT topic, partition FROM group_owners WHERE group_name = ? AND member_id = ? ORDER BY topic, partition'),
    ownersOfGroup: prep('SELECT topic, partition, member_id FROM group_owners WHERE group_name = ? ORDER BY topic, partition'),
    ownerOf: prep('SELECT member_id FROM group_owners WHERE group_name = ? AND topic = ? AND partition = ?'),
    claim: prep('INSERT OR IGNORE INTO group_owners (group_name, topic, partition, member_id) VALUES (?, ?, ?, ?)'),
    releaseOwner: prep('DELETE FROM group_owners WHERE group_name = ? AND topic = ? AND partition = ? AND member_id = ?'),
    deleteOwnersOfMember: prep('DELETE FROM group_owners WHERE group_name = ? AND member_id = ?'),
    committed: prep('SELECT off FROM group_offsets WHERE group_name = ? AND topic = ? AND partition = ?'),
    offsetsOfGroup: prep('SELECT topic, partition, off FROM group_offsets WHERE group_name = ?'),
    upsertOffset: prep(`INSERT INTO group_offsets (group_name, topic, partition, off, committed_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (group_name, topic, partition) DO UPDATE SET off = excluded.off, committed_at = excluded.committed_at`),

    firstTs: prep('SELECT ts FROM records WHERE tp = ? ORDER BY off LIMIT 1'),
    dirtyRange: prep('SELECT clean_offset, next_offset FROM partitions WHERE id = ?'),
    headSizes: prep(`SELECT off, ts, ${recordSize} FROM records WHERE tp = ? ORDER BY off LIMIT ?`),
    partitionBytes: prep('SELECT bytes FROM partitions WHERE id = ?'),
    deleteUpTo: prep('DELETE FROM records WHERE tp = ? AND off <= ?'),
    subtractBytes: prep('UPDATE partitions SET bytes = bytes - ? WHERE id = ?'),
    pruneTimeIndex: prep('DELETE FROM time_index WHERE tp = ? AND off <= ?'),
    cleanOffset: prep('SELECT clean_offset FROM partitions WHERE id = ?'),
    dirtyKeys: prep('SELECT off, key, value IS NULL FROM records WHERE tp = ? AND off >= ? ORDER BY off LIMIT ?'),
    compactKey: prep('SELECT off FROM compact_keys WHERE tp = ? AND key = ?'),
    deleteRecord: prep(`DELETE FROM records WHERE tp = ? AND off = ? RETURNING ${recordSize}`),
    upsertCompactKey: prep(`INSERT INTO compact_keys (tp, key, off, tombstone_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (tp, key) DO UPDATE SET off = excluded.off, tombstone_at = excluded.tombstone_at`),
    setCleanOffset: prep('UPDATE partitions SET clean_offset = ?, bytes = bytes - ? WHERE id = ?'),
    oldTombstones: prep(`SELECT key, off FROM compact_keys WHERE tp = ? AND tombstone_at IS NOT NULL AND tombstone_at <= ?
      LIMIT ?`),
    deleteCompactKey: prep('DELETE FROM compact_keys WHERE tp = ? AND key = ?'),
    firstDropped: prep('SELECT tp FROM dropped_partitions LIMIT 1'),
    nthOffset: prep('SELECT off FROM records WHERE tp = ? ORDER BY off LIMIT 1 OFFSET ?'),
    deleteAllRecords: prep('DELETE FROM records WHERE tp = ?'),
    deleteTimeIndex: prep('DELETE FROM time_index WHERE tp = ?'),
    deleteCompactKeys: prep('DELETE FROM compact_keys WHERE tp = ?'),
    deleteDropped: prep('DELETE FROM dropped_partitions WHERE tp = ?')
  }
}

function unreachable (path: string, cause: unknown): VigilError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new VigilError('VGL_LOG_UNREACHABLE', `cannot open the embedded log at ${path}: ${reason}`, { path, cause })
}

export function backendError (cause: unknown, path: string): VigilError {
  const errcode = (cause as { errcode?: number } | null)?.errcode
  const reason = cause instanceof Error ? cause.message : String(cause)
  if (errcode !== undefined && (errcode & 0xff) === 5) {
    return new VigilError('VGL_LOG_BACKEND_ERROR',
      `the embedded log ${path} stayed locked by another writer for longer than busyTimeoutMs (${reason})`,
      { path, cause, hint: 'Another process holds a long write transaction on the file; retry, or raise log.embedded.busyTimeoutMs.' })
  }
  return new VigilError('VGL_LOG_BACKEND_ERROR', `the embedded log ${path} failed: ${reason}`, { path, cause })
}

const localClientPrefix = `vigil-${hostname()}-`

/**
 * Whether a member's client id (`vigil-<host>-<pid>`, consumer.ts) names a process of this host
 * that no longer runs. Other hosts' members, and ids of another form, are never judged here.
 */
function processIsGone (clientId: string): boolean {
  if (!clientId.startsWith(localClientPrefix)) return false
  const pidText = clientId.slice(localClientPrefix.length)
  if (!/^\d+$/.test(pidText)) return false
  const pid = Number(pidText)
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
