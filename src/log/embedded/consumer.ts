/**
 * A consumer group member of the embedded log. Members of one group may live in this process or
 * in other processes on the same file; they coordinate only through the database:
 *
 * - `group_members` holds each member with its subscription and heartbeat. A member silent for
 *   longer than its sessionTimeoutMs is removed (with its ownerships) by whichever member writes
 *   next; the group's `generation` is bumped whenever membership or ownership gives something up.
 * - Every member computes the same assignment (assignor.ts) from the sorted live members.
 * - `group_owners` says who owns each partition. A member claims a target partition only when
 *   nobody owns it, and gives a partition up only after its onRevoke ran (the place where the
 *   application commits), so the next owner starts from the last committed offset. commit()
 *   checks ownership in the commit's own transaction and refuses partitions the member no longer
 *   owns (VGL_LOG_NOT_ASSIGNED). Hence: after a rebalance no committed record is handled again.
 * - Rebalance callbacks run inside poll() (as in Kafka's Java client): when poll() sees that the
 *   generation changed, it syncs (claim, revoke, release) before fetching. A poll() waiting for
 *   records wakes on in-process produce and group changes at once, and on other processes'
 *   writes through PRAGMA data_version (checked every few ms while someone waits).
 */
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { VigilError } from '../../errors.ts'
import type {
  Consumer, ConsumerOptions, LogRecord, PollOptions, SeekPosition, TopicPartition, TopicPartitionOffset
} from '../types.ts'
import { storedToRecords } from './records.ts'
import type { CommitOp } from './embedded-log.ts'
import { tpKey, type Store, type TopicInfo } from './store.ts'
import type { StoreWriter } from './writer.ts'

/** What a consumer needs from its log. */
export interface ConsumerHost {
  /** The open store (reads); throws VGL_LOG_CLOSED once the log is closed. */
  readonly store: Store
  /** The writer thread (every write); throws VGL_LOG_CLOSED once the log is closed. */
  readonly writer: StoreWriter
  readonly sessionTimeoutMs: number
  /** Fresh from the database (another process may have created or deleted it). */
  topicInfo (name: string): TopicInfo | undefined
  enqueueCommit (op: CommitOp): void
  /** Writes every queued produce and commit (so commits made before a release land first). */
  flushPending (): Promise<void>
  addWaiter (wake: () => void): void
  removeWaiter (wake: () => void): void
  /** Wakes every waiting poll of this log (after a write or a group change). */
  wakeAll (): void
  consumerClosed (consumer: EmbeddedConsumer): void
}

/** A poll stops adding partitions once it holds this many bytes (at least one record is returned). */
const maxPollBytes = 16 * 1024 * 1024
/** Until a partition's record size is known, fetch this few records from it at once. */
const firstFetchRecords = 16

interface Assigned {
  readonly topic: string
  readonly partition: number
  readonly key: string
  readonly tp: number
  position: number
  /** Bytes per record seen in the last fetch, to size the next one. */
  avgBytes: number
  revoking: boolean
}

const clientId = `vigil-${hostname()}-${process.pid}`

export class EmbeddedConsumer implements Consumer {
  readonly group: string
  readonly memberId: string
  readonly #host: ConsumerHost
  readonly #topics: readonly string[]
  readonly #reset: 'earliest' | 'latest'
  readonly #sessionTimeoutMs: number
  readonly #onAssign: ConsumerOptions['onAssign']
  readonly #onRevoke: ConsumerOptions['onRevoke']
  readonly #assigned = new Map<string, Assigned>()
  #list: Assigned[] = []
  readonly #paused = new Set<string>()
  #cursor = 0
  #joined = false
  #generation = -1
  #needsSync = true
  #heartbeat: NodeJS.Timeout | undefined
  #polling: Promise<LogRecord[]> | undefined
  #wake: (() => void) | undefined
  #closing = false
  #closed = false
  #closePromise: Promise<void> | undefined

  constructor (host: ConsumerHost, options: ConsumerOptions) {
    this.#host = host
    this.group = options.group
    this.memberId = `${clientId}-${randomUUID()}`
    this.#topics = [...new Set(options.topics)].sort()
    this.#reset = options.autoOffsetReset ?? 'latest'
    this.#sessionTimeoutMs = options.sessionTimeoutMs ?? host.sessionTimeoutMs
    this.#onAssign = options.onAssign
    this.#onRevoke = options.onRevoke
  }

  async poll (options: PollOptions = {}): Promise<LogRecord[]> {
    if (this.#closed) throw closedError(this.group)
    if (this.#polling !== undefined) {
      throw new VigilError('VGL_LOG_POLL_IN_PROGRESS', `a poll() of this consumer of group ${this.group} is still running`,
        { group: this.group })
    }
    const maxRecords = Math.max(1, options.maxRecords ?? 1000)
    const minRecords = Math.min(maxRecords, options.minRecords ?? 1)
    const timeoutMs = options.timeoutMs ?? 1000
    this.#polling = this.#poll(maxRecords, minRecords, timeoutMs, options.signal)
    try {
      return await this.#polling
    } finally {
      this.#polling = undefined
    }
  }

  async #poll (maxRecords: number, minRecords: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<LogRecord[]> {
    const deadline = Date.now() + timeoutMs
    const stopped = (): boolean => this.#closing || signal?.aborted === true
    while (true) {
      if (stopped()) return []
      const store = this.#host.store
      if (this.#needsSync || store.generation(this.group) !== this.#generation) await this.#sync(store)
      if (stopped()) return []
      const due = Date.now() >= deadline
      // Counting what is there costs one lookup per partition; reading it costs per record.
      if (due || minRecords <= 1 || this.#available(store, minRecords) >= minRecords) {
        const records = this.#fetch(store, maxRecords)
        if (records.length > 0 || due) return records
      }
      await this.#waitForData(deadline - Date.now(), signal)
    }
  }

  /** Records waiting in the readable partitions (counting stops at `enough`). */
  #available (store: Store, enough: number): number {
    let count = 0
    for (const a of this.#list) {
      if (a.revoking || this.#paused.has(a.key)) continue
      count += Math.max(0, store.nextOffset(a.tp) - a.position)
      if (count >= enough) break
    }
    return count
  }

  #waitForData (ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#host.removeWaiter(done)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      this.#host.addWaiter(done)
      this.#wake = done
    })
  }

  /** Reads from assigned, unpaused partitions, starting at a rotating one for fairness. */
  #fetch (store: Store, maxRecords: number): LogRecord[] {
    const out: LogRecord[] = []
    const list = this.#list
    const n = list.length
    if (n === 0) return out
    const start = this.#cursor++ % n
    let bytes = 0
    for (let k = 0; k < n && out.length < maxRecords && bytes < maxPollBytes; k++) {
      const a = list[(start + k) % n] as Assigned
      if (a.revoking || this.#paused.has(a.key)) continue
      while (out.length < maxRecords && bytes < maxPollBytes) {
        const limit = Math.min(maxRecords - out.length, Math.max(1, Math.floor((maxPollBytes - bytes) / a.avgBytes)))
        const stored = store.readRecords(a.tp, a.position, limit)
        const count = stored.offsets.length
        if (count === 0) break
        for (const record of storedToRecords(a.topic, a.partition, stored)) out.push(record)
        const fetched = (stored.keys?.byteLength ?? 0) + (stored.values?.byteLength ?? 0) + count
        bytes += fetched
        a.avgBytes = Math.max(1, fetched / count)
        a.position = (out[out.length - 1] as LogRecord).offset + 1
        if (count < limit) break
      }
    }
    return out
  }

  /** Joins or re-syncs the group: claims free target partitions, revokes and releases the others. */
  async #sync (store: Store): Promise<void> {
    const result = await this.#host.writer.call('syncMember', this.group, this.memberId, clientId, this.#topics, this.#sessionTimeoutMs)
    this.#needsSync = false
    this.#generation = result.generation
    if (!this.#joined) {
      this.#joined = true
      this.#startHeartbeat()
    }
    const owned = new Set(result.owned.map(tpKey))
    const target = new Set(result.target.map(tpKey))
    // Lost: this member was expired (it was silent too long); the partitions are someone else's now.
    for (const key of this.#assigned.keys()) if (!owned.has(key)) this.#assigned.delete(key)
    const revoke = result.owned.filter(tp => !target.has(tpKey(tp)))
    const added = result.owned.filter(tp => target.has(tpKey(tp)) && !this.#assigned.has(tpKey(tp)))
    let failure: unknown
    if (revoke.length > 0) {
      for (const tp of revoke) {
        const a = this.#assigned.get(tpKey(tp))
        if (a !== undefined) a.revoking = true
      }
      this.#updateList()
      try {
        await this.#onRevoke?.(revoke)
      } catch (error) {
        failure = error
      }
      await this.#host.flushPending()
      this.#generation = await this.#host.writer.call('release', this.group, this.memberId, revoke)
      for (const tp of revoke) this.#assigned.delete(tpKey(tp))
      // Others may have changed the group between our sync and the release: look again.
      this.#needsSync = true
      this.#host.wakeAll()
    }
    const assigned: TopicPartition[] = []
    for (const tp of added) {
      const info = this.#host.topicInfo(tp.topic)
      const id = info?.tpIds[tp.partition]
      if (id === undefined) continue
      const committed = store.committedOffset(this.group, tp.topic, tp.partition)
      const [low, high] = store.partitionBounds(id) ?? [0, 0]
      const position = committed ?? (this.#reset === 'earliest' ? low : high)
      const key = tpKey(tp)
      this.#assigned.set(key, { topic: tp.topic, partition: tp.partition, key, tp: id, position, avgBytes: maxPollBytes / firstFetchRecords, revoking: false })
      assigned.push(tp)
    }
    this.#updateList()
    if (assigned.length > 0) {
      try {
        await this.#onAssign?.(assigned)
      } catch (error) {
        failure ??= error
      }
    }
    if (failure !== undefined) throw failure
  }

  #updateList (): void {
    this.#list = [...this.#assigned.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  #startHeartbeat (): void {
    const intervalMs = Math.max(10, Math.floor(this.#sessionTimeoutMs / 4))
    let beating = false
    this.#heartbeat = setInterval(() => {
      if (this.#closed || beating) return
      let writer: StoreWriter
      try {
        writer = this.#host.writer
      } catch {
        return // the log is closing
      }
      beating = true
      writer.call('heartbeat', this.group, this.memberId).then(({ alive, generation }) => {
        if (!alive || generation !== this.#generation) {
          this.#needsSync = true
          this.#wake?.()
        }
      }, () => {
        // The file was busy or the log is closing: the next beat tries again.
      }).finally(() => { beating = false })
    }, intervalMs)
    this.#heartbeat.unref()
  }

  /** Called by the log when its own writes or group changes may concern this consumer. */
  wake (): void {
    this.#wake?.()
  }

  commit (offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.#closed) return Promise.reject(closedError(this.group))
    for (const { topic, partition, offset } of offsets) {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        return Promise.reject(new VigilError('VGL_LOG_OFFSET_INVALID',
          `cannot commit offset ${String(offset)} for ${topic}/${partition}: offsets are whole numbers >= 0`,
          { group: this.group, topic, partition, offset }))
      }
    }
    if (offsets.length === 0) return Promise.resolve()
    const copy = offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset }))
    return new Promise((resolve, reject) => {
      this.#host.enqueueCommit({ write: { kind: 'commit', group: this.group, memberId: this.memberId, offsets: copy }, resolve, reject })
    })
  }

  async seek (partition: TopicPartition, position: SeekPosition): Promise<void> {
    if (this.#closed) throw closedError(this.group)
    const a = this.#assigned.get(tpKey(partition))
    if (a === undefined) {
      throw new VigilError('VGL_LOG_NOT_ASSIGNED',
        `cannot seek ${partition.topic}/${partition.partition}: it is not assigned to this consumer of group ${this.group}`,
        { group: this.group, topic: partition.topic, partition: partition.partition })
    }
    const store = this.#host.store
    switch (position.kind) {
      case 'beginning':
      case 'end': {
        const [low, high] = store.partitionBounds(a.tp) ?? [0, 0]
        a.position = position.kind === 'beginning' ? low : high
        break
      }
      case 'offset':
        if (!Number.isSafeInteger(position.offset) || position.offset < 0) {
          throw new VigilError('VGL_LOG_OFFSET_INVALID', `cannot seek to offset ${String(position.offset)}: offsets are whole numbers >= 0`,
            { group: this.group, topic: a.topic, partition: a.partition, offset: position.offset })
        }
        a.position = position.offset
        break
      case 'timestamp':
        a.position = store.offsetForTimestamp(a.tp, position.timestamp)
        break
    }
  }

  pause (partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.add(tpKey(tp))
  }

  resume (partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.delete(tpKey(tp))
    this.#wake?.()
  }

  assignment (): TopicPartition[] {
    return this.#list.map(({ topic, partition }) => ({ topic, partition }))
  }

  close (): Promise<void> {
    this.#closePromise ??= this.#close()
    return this.#closePromise
  }

  async #close (): Promise<void> {
    this.#closing = true
    this.#wake?.()
    try {
      await this.#polling
    } catch {
      // The poll's caller gets that error.
    }
    clearInterval(this.#heartbeat)
    try {
      if (this.#joined) {
        const owned = this.assignment()
        if (owned.length > 0) {
          try {
            await this.#onRevoke?.(owned)
          } catch {
            // Leaving anyway: the partitions must move on.
          }
        }
        await this.#host.flushPending()
        await this.#host.writer.call('leave', this.group, this.memberId)
        this.#host.wakeAll()
      }
    } catch {
      // The log is closed already: the member expires after its session timeout.
    } finally {
      this.#assigned.clear()
      this.#list = []
      this.#closed = true
      this.#host.consumerClosed(this)
    }
  }
}

function closedError (group: string): VigilError {
  return new VigilError('VGL_LOG_CLOSED', `this consumer of group ${group} is closed`, { group })
}
