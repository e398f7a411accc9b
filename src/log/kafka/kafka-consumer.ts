/**
 * A poll-based consumer group member on Kafka, adapted from @platformatic/kafka's stream consumer
 * (MessagesStream): platformatic's Consumer runs the group protocol (JoinGroup, SyncGroup,
 * heartbeats, the roundrobin assignor) and answers Fetch/ListOffsets; this class owns everything
 * between the wire and poll():
 *
 * - Revocation. Classic groups are eager: every rebalance takes all partitions away. The member
 *   rejoins when a heartbeat says REBALANCE_IN_PROGRESS; platformatic calls our
 *   `protocolsMetadata` hook just before it sends JoinGroup, and that hook is where partitions
 *   are revoked: buffered records are dropped, in-flight fetch results are discarded (each
 *   partition carries a version), commits in flight are awaited, then onRevoke runs while the
 *   member still owns the partitions (the coordinator accepts commits of the old generation until
 *   the member rejoins). Only then does JoinGroup go out, so the next owner starts from what
 *   onRevoke committed.
 * - Assignment. On `consumer:group:join`, onAssign runs first (it may seek), then partitions
 *   without a position start at their committed offset, or at autoOffsetReset.
 * - Fetching. One Fetch in flight per leader, on a connection pool of its own (a long-poll Fetch
 *   must not delay heartbeats and commits on the coordinator's connection). A partition is
 *   fetched only while it buffers less than one fetch's worth of bytes and the whole consumer
 *   less than maxBufferedBytes: backpressure is simply not asking. Paused partitions are not
 *   fetched and keep their buffered records for resume().
 * - Commits go straight to the coordinator as OffsetCommit with this member's generation, for
 *   owned partitions only. (platformatic's commit() rejoins and retries on ILLEGAL_GENERATION,
 *   which would commit partitions that may belong to another member by then.)
 * - Failures. Transient fetch errors (leader moved, broker down) are retried with backoff;
 *   OFFSET_OUT_OF_RANGE resets to autoOffsetReset; anything else is thrown by the next poll().
 *   If a rejoin fails (coordinator unreachable), the partitions are revoked and the next poll()
 *   joins again.
 */
import { randomUUID } from 'node:crypto'
import {
  Consumer as KafkaClientConsumer, ConnectionPool, kGetApi, kGetConnection, ListOffsetTimestamps,
  findErrorBy, type API, type ClusterMetadata, type Connection, type fetchV17, type GroupAssignment, type offsetCommitV9
} from '@platformatic/kafka'
import { VigilError } from '../../errors.ts'
import type { Consumer, ConsumerOptions, LogRecord, PollOptions, SeekPosition, TopicPartition, TopicPartitionOffset } from '../types.ts'
import { backoff, baseClientOptions, type KafkaLogOptions } from './client-options.ts'
import { errorChain, kafkaErrorIds, toLogError, type KafkaErrorContext } from './errors.ts'
import { appendRecords, recordBytes } from './records.ts'

/** What a consumer needs from its log. */
export interface ConsumerHost {
  readonly options: KafkaLogOptions
  errorContext (action: string, extra?: Partial<KafkaErrorContext>): KafkaErrorContext
  consumerClosed (consumer: KafkaConsumer): void
}

/** Most bytes fetched per partition per request, and buffered per partition before fetching stops. */
const partitionMaxBytes = 1024 * 1024
/** Most bytes buffered by one consumer (over all partitions) before fetching stops. */
const maxBufferedBytes = 32 * 1024 * 1024
/** How long a Fetch waits at the broker for new records (a seek or pause takes effect within this). */
const fetchMaxWaitMs = 500
const offsetOutOfRange = 1
/**
 * poll() sends its own Heartbeat at most this often (not awaited): a member learns of a
 * rebalance at its next poll instead of at the next background heartbeat (heartbeatIntervalMs),
 * so it stops taking records of partitions that are about to move within a few ms.
 */
const probeIntervalMs = 25

interface PartitionState {
  readonly topic: string
  readonly partition: number
  readonly key: string
  /** Next offset to fetch; undefined until the committed offset (or a seek) is known. */
  position: number | undefined
  /** Records fetched and not yet polled: queue[head…]. */
  queue: LogRecord[]
  head: number
  bytes: number
  paused: boolean
  /** Bumped by seek and revoke: fetch results for an older version are dropped. */
  version: number
}

type Phase = 'joining' | 'assigning' | 'stable' | 'revoking' | 'failed'

const tpKey = (topic: string, partition: number) => `${topic}\0${partition}`

type FetchRequestTopic = fetchV17.FetchRequestTopic
type FetchResponse = fetchV17.FetchResponse
type OffsetCommitRequestTopic = offsetCommitV9.OffsetCommitRequestTopic
type OffsetCommitResponse = offsetCommitV9.OffsetCommitResponse

export class KafkaConsumer implements Consumer {
  readonly group: string
  readonly #host: ConsumerHost
  readonly #topics: string[]
  readonly #autoOffsetReset: 'earliest' | 'latest'
  readonly #onAssign: ConsumerOptions['onAssign']
  readonly #onRevoke: ConsumerOptions['onRevoke']
  readonly #client: KafkaClientConsumer
  readonly #pool: ConnectionPool
  #phase: Phase = 'joining'
  #joining: Promise<void> | undefined
  #revoking: Promise<void> | undefined
  /** The group generation whose assignment #onJoined took. */
  #joinedGeneration = -1
  #probing = false
  #lastProbe = 0
  /** Bumped at every revoke and assignment; async work of an older one stops. */
  #epoch = 0
  readonly #owned = new Map<string, PartitionState>()
  #order: PartitionState[] = []
  #next = 0
  #buffered = 0
  readonly #paused = new Set<string>()
  readonly #fetching = new Set<number>()
  #fetchScheduled = false
  #retryTimer: NodeJS.Timeout | undefined
  #retryAttempt = 0
  /** When fetches started failing (0 while they work), the last failure, and the last fetch that worked. */
  #failingSince = 0
  #lastFetchError: Error | undefined
  #lastFetchOk = 0
  readonly #commits = new Set<Promise<void>>()
  /** Thrown by the next poll(): a client failure (mapped to a VigilError then), or an onAssign/onRevoke error (as is). */
  #error: { error: unknown, fromCallback: boolean } | undefined
  #polling = false
  #wake: (() => void) | undefined
  #closing = false
  #closed = false
  #closePromise: Promise<void> | undefined

  constructor (host: ConsumerHost, options: ConsumerOptions) {
    this.#host = host
    this.group = options.group
    this.#topics = [...new Set(options.topics)]
    this.#autoOffsetReset = options.autoOffsetReset ?? 'latest'
    this.#onAssign = options.onAssign
    this.#onRevoke = options.onRevoke
    const { options: log } = host
    const sessionTimeout = options.sessionTimeoutMs ?? log.sessionTimeoutMs
    const base = baseClientOptions(log, `${options.group}-${randomUUID().slice(0, 8)}`)
    this.#client = new KafkaClientConsumer({
      ...base,
      groupId: options.group,
      autocommit: false,
      sessionTimeout,
      rebalanceTimeout: Math.max(sessionTimeout, 60_000),
      heartbeatInterval: Math.min(log.heartbeatIntervalMs, Math.floor(sessionTimeout / 3)),
      protocolsMetadata: () => this.#beforeJoin(),
      maxWaitTime: fetchMaxWaitMs,
      minBytes: 1,
      maxBytes: maxBufferedBytes,
      retries: 5,
      retryDelay: backoff(1000)
    })
    this.#client.on('consumer:group:join', payload => this.#onJoined(payload.assignments ?? []))
    this.#client.on('error', error => this.#onGroupError(error))
    // Fetches wait at the broker for up to fetchMaxWaitMs: they get connections of their own.
    this.#pool = new ConnectionPool(base.clientId, {
      connectTimeout: log.connectTimeoutMs,
      requestTimeout: log.requestTimeoutMs,
      ...(base.tls === undefined ? {} : { tls: base.tls }),
      ...(base.sasl === undefined ? {} : { sasl: base.sasl })
    })
    this.#client.topics.trackAll(...this.#topics)
    this.#startJoin()
  }

  async poll (options: PollOptions = {}): Promise<LogRecord[]> {
    if (this.#closed) throw this.#closedError()
    if (this.#polling) {
      throw new VigilError('VGL_LOG_POLL_IN_PROGRESS', `a poll() of this consumer of group ${this.group} is still running`, { group: this.group })
    }
    this.#polling = true
    try {
      const maxRecords = Math.max(1, options.maxRecords ?? 1000)
      const minRecords = Math.min(maxRecords, options.minRecords ?? 1)
      const deadline = Date.now() + (options.timeoutMs ?? 1000)
      const signal = options.signal
      const taken: LogRecord[] = []
      let epoch = this.#epoch
      for (;;) {
        if (this.#epoch !== epoch) {
          // A rebalance while records gathered toward minRecords: they were never handed out,
          // and their partitions may have moved. The owner reads them again from the last commit.
          taken.length = 0
          epoch = this.#epoch
        }
        if (this.#error !== undefined) {
          if (taken.length > 0) return taken // handed out before the error is raised, at the next poll
          const { error, fromCallback } = this.#error
          this.#error = undefined
          throw fromCallback ? error : toLogError(error, this.#context('poll'))
        }
        if (this.#closing || signal?.aborted === true) return taken
        if (this.#phase === 'failed' && this.#joining === undefined) this.#startJoin()
        this.#checkOutage()
        this.#probe()
        for (const record of this.#drain(maxRecords - taken.length)) taken.push(record)
        const remaining = deadline - Date.now()
        if (taken.length >= minRecords || (remaining <= 0 && taken.length > 0)) return taken
        if (remaining <= 0) return []
        await this.#waitForData(remaining, signal)
      }
    } finally {
      this.#polling = false
    }
  }

  async commit (offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.#closed) throw this.#closedError()
    for (const { topic, partition, offset } of offsets) {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new VigilError('VGL_LOG_OFFSET_INVALID', `cannot commit offset ${String(offset)} for ${topic}/${partition}: offsets are whole numbers >= 0`,
          { group: this.group, topic, partition, offset })
      }
      if (!this.#owned.has(tpKey(topic, partition)) || this.#phase === 'failed') throw this.#notAssigned('commit', topic, partition)
    }
    if (offsets.length === 0) return
    const commit = this.#sendCommit(offsets)
    this.#commits.add(commit)
    try {
      await commit
    } finally {
      this.#commits.delete(commit)
    }
  }

  async seek (tp: TopicPartition, position: SeekPosition): Promise<void> {
    if (this.#closing) throw this.#closedError()
    const state = this.#owned.get(tpKey(tp.topic, tp.partition))
    if (state === undefined) throw this.#notAssigned('seek', tp.topic, tp.partition)
    let offset: number
    switch (position.kind) {
      case 'offset':
        if (!Number.isSafeInteger(position.offset) || position.offset < 0) {
          throw new VigilError('VGL_LOG_OFFSET_INVALID', `cannot seek to offset ${String(position.offset)}: offsets are whole numbers >= 0`,
            { group: this.group, topic: tp.topic, partition: tp.partition, offset: position.offset })
        }
        offset = position.offset
        break
      case 'beginning':
        offset = await this.#listOffset(state, ListOffsetTimestamps.EARLIEST)
        break
      case 'end':
        offset = await this.#listOffset(state, ListOffsetTimestamps.LATEST)
        break
      case 'timestamp': {
        const found = await this.#listOffset(state, BigInt(Math.max(0, Math.floor(position.timestamp))))
        offset = found >= 0 ? found : await this.#listOffset(state, ListOffsetTimestamps.LATEST)
        break
      }
    }
    if (this.#owned.get(state.key) !== state) throw this.#notAssigned('seek', tp.topic, tp.partition)
    this.#reposition(state, offset)
  }

  pause (partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition)
      this.#paused.add(key)
      const state = this.#owned.get(key)
      if (state !== undefined) state.paused = true
    }
  }

  resume (partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition)
      this.#paused.delete(key)
      const state = this.#owned.get(key)
      if (state !== undefined) state.paused = false
    }
    this.#kick()
    this.#wake?.()
  }

  assignment (): TopicPartition[] {
    return this.#order.map(({ topic, partition }) => ({ topic, partition }))
  }

  close (): Promise<void> {
    this.#closePromise ??= this.#close()
    return this.#closePromise
  }

  async #close (): Promise<void> {
    this.#closing = true
    this.#wake?.()
    clearTimeout(this.#retryTimer)
    try {
      // As on a rebalance: onRevoke may still commit, then the member leaves.
      if (this.#owned.size > 0 && (this.#phase === 'stable' || this.#phase === 'assigning')) await this.#revoke()
      await Promise.race([
        this.#client.close(true),
        new Promise(resolve => setTimeout(resolve, this.#host.options.requestTimeoutMs).unref())
      ])
    } catch {
      // Leaving anyway: the coordinator expires the member after its session timeout.
    } finally {
      this.#closed = true
      this.#owned.clear()
      this.#order = []
      await this.#pool.close().catch(() => {})
      this.#host.consumerClosed(this)
    }
  }

  // ── group membership ────────────────────────────────────────────────────────────────────────

  /** Joins (or rejoins) the group; assignment arrives through `consumer:group:join`. */
  #startJoin (): void {
    if (this.#joining !== undefined) return
    if (this.#phase === 'failed') this.#phase = 'joining'
    const joining = this.#client.joinGroup({}).then(() => {}, (error: unknown) => {
      if (this.#closing) return
      this.#phase = 'failed'
      this.#fail(error)
    }).finally(() => {
      if (this.#joining === joining) this.#joining = undefined
    })
    this.#joining = joining
  }

  /** platformatic's protocolsMetadata hook: runs before every JoinGroup, so revocation happens here. */
  async #beforeJoin (): Promise<Buffer> {
    if (this.#owned.size > 0) await this.#revoke()
    if (!this.#closing) this.#phase = 'joining'
    return Buffer.alloc(0)
  }

  /** Takes every owned partition away (once, however many joins race): see #takeAway. */
  #revoke (): Promise<void> {
    this.#revoking ??= this.#takeAway().finally(() => { this.#revoking = undefined })
    return this.#revoking
  }

  /** Drops buffers, waits for commits in flight, then runs onRevoke while the member still owns the partitions. */
  async #takeAway (): Promise<void> {
    this.#epoch++
    this.#phase = 'revoking'
    const owned = this.assignment()
    for (const state of this.#owned.values()) this.#dropBuffered(state)
    await Promise.allSettled([...this.#commits])
    if (owned.length > 0 && this.#onRevoke !== undefined) {
      try {
        await this.#onRevoke(owned)
      } catch (error) {
        this.#fail(error, true)
      }
    }
    this.#owned.clear()
    this.#order = []
  }

  #onJoined (assignments: readonly GroupAssignment[]): void {
    // Two joins that raced (heartbeat and probe) both report the same generation: take it once.
    if (this.#closing || this.#client.generationId === this.#joinedGeneration) return
    this.#joinedGeneration = this.#client.generationId
    const epoch = ++this.#epoch
    this.#phase = 'assigning'
    this.#owned.clear()
    const order: PartitionState[] = []
    for (const { topic, partitions } of assignments) {
      for (const partition of [...partitions].sort((a, b) => a - b)) {
        const key = tpKey(topic, partition)
        const state: PartitionState = { topic, partition, key, position: undefined, queue: [], head: 0, bytes: 0, paused: this.#paused.has(key), version: 0 }
        this.#owned.set(key, state)
        order.push(state)
      }
    }
    this.#order = order
    this.#next = 0
    const assigned = this.assignment()
    const start = async () => {
      if (assigned.length > 0 && this.#onAssign !== undefined) {
        try {
          await this.#onAssign(assigned)
        } catch (error) {
          // The application's error, as is, from the next poll(); the member keeps its partitions.
          this.#fail(error, true)
        }
      }
      // Committed offsets (or autoOffsetReset) of partitions onAssign did not seek; retried until
      // they are known or the assignment changes.
      for (let attempt = 0; epoch === this.#epoch && !this.#closing; attempt++) {
        try {
          await this.#initPositions(order.filter(s => s.position === undefined), epoch)
          break
        } catch (error) {
          if (attempt > 0) this.#fail(error)
          await new Promise(resolve => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)))
        }
      }
      if (epoch !== this.#epoch || this.#closing) return
      this.#phase = 'stable'
      this.#retryAttempt = 0
      this.#kick()
      this.#wake?.()
    }
    start().catch(() => {})
  }

  /** A rejoin failed in the background (e.g. the coordinator is unreachable): the partitions are lost. */
  #onGroupError (error: Error): void {
    if (this.#closing) return
    this.#fail(error)
    this.#phase = 'failed'
    if (this.#owned.size > 0) this.#revoke().catch(() => {}).finally(() => { this.#phase = 'failed' })
    this.#wake?.()
  }

  /** Committed offsets of the group, else autoOffsetReset. */
  async #initPositions (states: PartitionState[], epoch: number): Promise<void> {
    if (states.length === 0) return
    const byTopic = new Map<string, number[]>()
    for (const s of states) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition])
    const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
    const committed = await this.#client.listCommittedOffsets({ topics })
    if (epoch !== this.#epoch) return
    const missing: PartitionState[] = []
    for (const s of states) {
      const offset = committed.get(s.topic)?.[s.partition]
      if (typeof offset === 'bigint' && offset >= 0n) s.position = Number(offset)
      else missing.push(s)
    }
    const reset = this.#autoOffsetReset === 'earliest' ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST
    await Promise.all(missing.map(async s => {
      const offset = await this.#listOffset(s, reset)
      if (epoch === this.#epoch && s.position === undefined) s.position = offset
    }))
  }

  async #listOffset (state: PartitionState, timestamp: bigint): Promise<number> {
    try {
      const offsets = await this.#client.listOffsets({ topics: [state.topic], partitions: { [state.topic]: [state.partition] }, timestamp })
      const offset = offsets.get(state.topic)?.[state.partition]
      return typeof offset === 'bigint' ? Number(offset) : -1
    } catch (error) {
      throw toLogError(error, this.#context(`list offsets of ${state.topic}/${state.partition}`, state))
    }
  }

  async #sendCommit (offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const client = this.#client
    const generation = client.generationId
    const memberId = client.memberId ?? ''
    const byTopic = new Map<string, OffsetCommitRequestTopic>()
    for (const { topic, partition, offset } of offsets) {
      let entry = byTopic.get(topic)
      if (entry === undefined) byTopic.set(topic, entry = { name: topic, partitions: [] })
      entry.partitions.push({ partitionIndex: partition, committedOffset: BigInt(offset), committedLeaderEpoch: -1, committedMetadata: null })
    }
    const first = offsets[0] as TopicPartitionOffset
    const context = this.#context(`commit offsets of group ${this.group}`, first)
    const deadline = Date.now() + this.#host.options.requestTimeoutMs
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#coordinatorCall<[string, number, string, string | null, OffsetCommitRequestTopic[]], OffsetCommitResponse>(
          'OffsetCommit', [this.group, generation, memberId, null, [...byTopic.values()]])
        return
      } catch (error) {
        const mapped = toLogError(error, context)
        if (mapped.code === 'VGL_LOG_NOT_ASSIGNED') {
          throw new VigilError('VGL_LOG_NOT_ASSIGNED', `commit of group ${this.group} refused: this member no longer owns ${first.topic}/${first.partition} (the group rebalanced)`,
            { group: this.group, topic: first.topic, partition: first.partition, cause: error })
        }
        if (mapped.code !== 'VGL_LOG_UNREACHABLE' || Date.now() > deadline) throw mapped
        await new Promise(resolve => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)))
      }
    }
  }

  /** Sends one request to the group coordinator on the group's connection (ordered with heartbeats and JoinGroup). */
  async #coordinatorCall<Args extends unknown[], Response> (name: string, args: Args): Promise<Response> {
    const client = this.#client
    const coordinator = await client.findGroupCoordinator()
    const metadata: ClusterMetadata = await client.metadata({ topics: this.#topics })
    const broker = metadata.brokers.get(coordinator)
    if (broker === undefined) throw new Error(`group coordinator ${coordinator} is not in the cluster metadata`)
    const connection = await new Promise<Connection>((resolve, reject) =>
      client[kGetConnection](broker, (e, c) => e === null && c !== undefined ? resolve(c) : reject(e)))
    const api = await new Promise<API<Args, Response>>((resolve, reject) =>
      client[kGetApi]<Args, Response>(name, (e, a) => e === null && a !== undefined ? resolve(a) : reject(e)))
    return await api.async(connection, ...args)
  }

  /** A Heartbeat of our own (see probeIntervalMs); a rebalance in progress makes the member rejoin now. */
  #probe (): void {
    const now = Date.now()
    if (this.#phase !== 'stable' || this.#probing || this.#closing || now - this.#lastProbe < probeIntervalMs) return
    this.#probing = true
    this.#lastProbe = now
    const generation = this.#client.generationId
    this.#coordinatorCall<[string, number, string, string | null], unknown>('Heartbeat', [this.group, generation, this.#client.memberId ?? '', null])
      .then(() => {}, (error: unknown) => {
        if (findErrorBy(error as Error, 'needsRejoin', true) !== null && generation === this.#client.generationId && this.#phase === 'stable' && !this.#closing) {
          this.#startJoin()
        }
      })
      .finally(() => { this.#probing = false })
  }

  // ── fetching ────────────────────────────────────────────────────────────────────────────────

  #kick (): void {
    if (this.#fetchScheduled || this.#closing) return
    this.#fetchScheduled = true
    process.nextTick(() => {
      this.#fetchScheduled = false
      this.#fetch()
    })
  }

  #fetch (): void {
    if (this.#phase !== 'stable' || this.#closing || this.#retryTimer !== undefined || this.#buffered >= maxBufferedBytes) return
    const wanted = this.#order.filter(s => s.position !== undefined && !s.paused && s.bytes < partitionMaxBytes)
    if (wanted.length === 0) return
    const epoch = this.#epoch
    this.#client.metadata({ topics: this.#topics }, (error, metadata) => {
      if (epoch !== this.#epoch || this.#closing) return
      if (error !== null || metadata === undefined) {
        this.#fetchFailed(error ?? new Error('no metadata'), [])
        return
      }
      const byNode = new Map<number, PartitionState[]>()
      for (const s of wanted) {
        const leader = metadata.topics.get(s.topic)?.partitions[s.partition]?.leader
        if (leader === undefined || leader < 0 || this.#fetching.has(leader)) continue
        byNode.set(leader, [...(byNode.get(leader) ?? []), s])
      }
      for (const [node, states] of byNode) this.#fetchFrom(node, states, metadata)
    })
  }

  #fetchFrom (node: number, states: PartitionState[], metadata: ClusterMetadata): void {
    const requested = states.map(s => ({ state: s, version: s.version, offset: s.position as number }))
    const topics = new Map<string, FetchRequestTopic>()
    const names = new Map<string, string>()
    for (const { state, offset } of requested) {
      const id = metadata.topics.get(state.topic)?.id as string
      names.set(id, state.topic)
      let entry = topics.get(id)
      if (entry === undefined) topics.set(id, entry = { topicId: id, partitions: [] })
      entry.partitions.push({ partition: state.partition, fetchOffset: BigInt(offset), partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })
    }
    this.#fetching.add(node)
    this.#client.fetch({ node, topics: [...topics.values()], connectionPool: this.#pool }, (error, response) => {
      this.#fetching.delete(node)
      if (this.#closing) return
      if (error !== null || response === undefined) {
        this.#fetchFailed(error ?? new Error('empty fetch response'), requested)
        return
      }
      this.#retryAttempt = 0
      this.#failingSince = 0
      this.#lastFetchOk = Date.now()
      this.#fetched(response, names, requested)
      this.#kick()
    })
  }

  #fetched (response: FetchResponse, names: Map<string, string>, requested: Array<{ state: PartitionState, version: number, offset: number }>): void {
    let woke = false
    for (const topic of response.responses) {
      const name = names.get(topic.topicId)
      if (name === undefined) continue
      for (const p of topic.partitions) {
        const request = requested.find(r => r.state.partition === p.partitionIndex && r.state.topic === name)
        if (request === undefined) continue
        const { state, version, offset } = request
        // Seeked, revoked or reassigned meanwhile: this data is stale.
        if (state.version !== version || this.#owned.get(state.key) !== state || state.position !== offset) continue
        if (p.records === undefined || p.records === null || p.records.length === 0) continue
        if (state.head > 0 && state.head === state.queue.length) {
          state.queue = []
          state.head = 0
        }
        const { next, bytes } = appendRecords(state.queue, state.topic, state.partition, p.records, offset)
        if (next !== undefined && next > offset) state.position = next
        state.bytes += bytes
        this.#buffered += bytes
        woke ||= bytes > 0
      }
    }
    if (woke) this.#wake?.()
  }

  #fetchFailed (error: Error, requested: Array<{ state: PartitionState, version: number, offset: number }>): void {
    if (kafkaErrorIds(error).has('OFFSET_OUT_OF_RANGE') && this.#resetOutOfRange(error, requested)) {
      this.#kick()
      return
    }
    const mapped = toLogError(error, this.#context('fetch'))
    if (this.#failingSince === 0) this.#failingSince = Date.now()
    this.#lastFetchError = error
    // Not going to heal by itself (topic deleted, not authorized …): tell the application. Brokers
    // that do not answer are retried; poll() reports them once they are gone for a while.
    if (mapped.code !== 'VGL_LOG_UNREACHABLE' && mapped.code !== 'VGL_LOG_BACKEND_ERROR') this.#fail(mapped)
    this.#client.clearMetadata()
    const delay = Math.min(2000, 100 * 2 ** this.#retryAttempt++)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.#kick()
    }, delay)
  }

  /** OFFSET_OUT_OF_RANGE (retention deleted the position, or a seek went past the end): autoOffsetReset. */
  #resetOutOfRange (error: Error, requested: Array<{ state: PartitionState, version: number, offset: number }>): boolean {
    const withResponse = errorChain(error).find(n => (n as { response?: unknown }).response !== undefined) as { response?: FetchResponse } | undefined
    const response = withResponse?.response
    if (response === undefined) return false
    let reset = false
    for (const topic of response.responses) {
      for (const p of topic.partitions) {
        if (p.errorCode !== offsetOutOfRange) continue
        for (const { state, version, offset } of requested) {
          if (state.partition !== p.partitionIndex || state.version !== version || state.position !== offset) continue
          this.#reposition(state, Number(this.#autoOffsetReset === 'earliest' ? p.logStartOffset : p.highWatermark))
          reset = true
        }
      }
    }
    return reset
  }

  // ── buffer ──────────────────────────────────────────────────────────────────────────────────

  #drain (maxRecords: number): LogRecord[] {
    const out: LogRecord[] = []
    const order = this.#order
    const n = order.length
    if (n === 0 || (this.#phase !== 'stable' && this.#phase !== 'assigning')) return out
    for (let i = 0; i < n && out.length < maxRecords; i++) {
      const state = order[(this.#next + i) % n] as PartitionState
      if (state.paused) continue
      const queue = state.queue
      let taken = 0
      while (state.head < queue.length && out.length < maxRecords) {
        const record = queue[state.head++] as LogRecord
        taken += recordBytes(record)
        out.push(record)
      }
      if (state.head === queue.length) {
        state.queue = []
        state.head = 0
        taken = state.bytes
      }
      state.bytes -= taken
      this.#buffered -= taken
    }
    this.#next = (this.#next + 1) % n
    if (out.length > 0) this.#kick()
    return out
  }

  #dropBuffered (state: PartitionState): void {
    state.version++
    this.#buffered -= state.bytes
    state.bytes = 0
    state.queue = []
    state.head = 0
  }

  #reposition (state: PartitionState, offset: number): void {
    this.#dropBuffered(state)
    state.position = offset
    this.#kick()
  }

  #waitForData (ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise(resolve => {
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        if (this.#wake === done) this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      this.#wake = done
    })
  }

  // ── errors ──────────────────────────────────────────────────────────────────────────────────

  /** Fetches have failed and none worked for requestTimeoutMs: poll() says so, once per period; fetching goes on. */
  #checkOutage (): void {
    const now = Date.now()
    if (this.#failingSince === 0) return
    const since = this.#lastFetchOk > 0 ? this.#lastFetchOk : this.#failingSince
    if (now - since < this.#host.options.requestTimeoutMs) return
    this.#lastFetchOk = now
    this.#fail(this.#lastFetchError ?? new Error('fetch failed'))
  }

  /** Keeps the first failure for the next poll() and wakes a waiting one. */
  #fail (error: unknown, fromCallback = false): void {
    this.#error ??= { error, fromCallback }
    this.#wake?.()
  }

  #context (action: string, tp?: TopicPartition): KafkaErrorContext {
    return this.#host.errorContext(action, { group: this.group, ...(tp === undefined ? {} : { topic: tp.topic, partition: tp.partition }) })
  }

  #notAssigned (what: string, topic: string, partition: number): VigilError {
    return new VigilError('VGL_LOG_NOT_ASSIGNED', `cannot ${what} ${topic}/${partition}: it is not assigned to this consumer of group ${this.group}`,
      { group: this.group, topic, partition })
  }

  #closedError (): VigilError {
    return new VigilError('VGL_LOG_CLOSED', `this consumer of group ${this.group} is closed`, { group: this.group })
  }
}
