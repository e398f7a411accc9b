/**
 * The embedded log: one SQLite file in WAL mode (`node:sqlite`), for one machine and zero
 * set-up. Other processes may read and write the same file (WAL readers never block; writers
 * wait up to busyTimeoutMs for the short write transactions of the others).
 *
 * Reads run on the event loop, on a connection of their own. Every write runs on the log's
 * writer thread (writer.ts), so the event loop never holds the write lock nor waits for a
 * transaction or an fsync.
 *
 * Group commit: produce() validates the call, picks partitions, packs its records into one
 * buffer and queues it. The queue goes to the writer thread as one transaction (one fsync,
 * synchronous=FULL), together with every produce() and commit() that arrived meanwhile (up to
 * groupCommitMaxRecords records), and only then are their promises resolved. One group is in
 * the writer's hands at a time: calls that arrive meanwhile form the next. Offsets are assigned
 * inside the transaction, from the partition rows.
 *
 * See schema.ts for the tables, consumer.ts for the group protocol and maintenance.ts for
 * retention and compaction.
 */
import { channel } from 'node:diagnostics_channel'
import { checkConsumerOptions, checkTopicName, topicConfigOf } from '../topic-spec.ts'
import type { VigilConfig } from '../../config/schema.ts'
import { VigilError, isVigilError } from '../../errors.ts'
import { RoundRobin } from '../partitioner.ts'
import {
  type Consumer, type ConsumerOptions, type GroupDescription, type Log, type LogAdmin, type LogRecord,
  type ProduceRecord, type RecordMetadata, type TopicConfig, type TopicDescription, type TopicSpec
} from '../types.ts'
import { EmbeddedConsumer, type ConsumerHost } from './consumer.ts'
import { routeRecords } from '../route.ts'
import { packProduceRecords, producedMetadata, storedToRecords } from './records.ts'
import { Store, type CommitWrite, type ProduceWrite, type TopicInfo, type WriteOutcome } from './store.ts'
import { StoreWriter } from './writer.ts'

export type EmbeddedLogOptions = { path: string } & VigilConfig['log']['embedded']

/**
 * How often waiting consumers look for commits of other processes (PRAGMA data_version): every
 * 4 ms while the file changes, slowing down to every 20 ms after a second without changes (an
 * idle check costs little, but 250 timer wake-ups a second do).
 */
const watchFastMs = 4
const watchSlowMs = 20
const watchSlowAfterMs = 1000

const commitChannel = channel('vigil:log:embedded:commit')
const maintenanceErrorChannel = channel('vigil:log:maintenance:error')

/** A produce() call waiting for its group commit: what the writer thread writes, and how the call is settled. */
interface QueuedProduce {
  readonly write: ProduceWrite
  readonly resolve: (metadata: RecordMetadata[]) => void
  readonly reject: (error: unknown) => void
}

/** A consumer commit waiting for its group commit. */
export interface CommitOp {
  readonly write: CommitWrite
  readonly resolve: (value: undefined) => void
  readonly reject: (error: unknown) => void
}

type Queued = QueuedProduce | CommitOp

const isProduce = (op: Queued): op is QueuedProduce => op.write.kind === 'produce'

export function createEmbeddedLog (options: EmbeddedLogOptions): Log {
  return new EmbeddedLog(options)
}

class EmbeddedLog implements Log, ConsumerHost {
  readonly kind = 'embedded' as const
  readonly url: string
  readonly admin: LogAdmin
  readonly #options: EmbeddedLogOptions
  #store: Store | undefined
  #writer: StoreWriter | undefined
  #state: 'new' | 'open' | 'closing' | 'closed' = 'new'
  #closePromise: Promise<void> | undefined
  readonly #topics = new Map<string, TopicInfo>()
  readonly #roundRobin = new RoundRobin()
  #queue: Queued[] = []
  #flushScheduled = false
  /** The group commit in the writer's hands. */
  #inFlight: Promise<void> | undefined
  #wakeScheduled = false
  readonly #consumers = new Set<EmbeddedConsumer>()
  readonly #waiters = new Set<() => void>()
  #watchTimer: NodeJS.Timeout | undefined
  #dataVersion = 0
  #dataChangedAt = 0

  constructor (options: EmbeddedLogOptions) {
    this.#options = options
    this.url = `embedded:${options.path}`
    this.admin = new EmbeddedAdmin(this)
  }

  async connect (): Promise<void> {
    if (this.#state === 'open') return
    if (this.#state !== 'new') throw this.#closedError()
    const { path, busyTimeoutMs, maintenanceIntervalMs, checkpointIntervalMs } = this.#options
    // The event loop's connection first: it creates the file and its tables.
    const store = new Store(path, busyTimeoutMs)
    const writer = new StoreWriter({ path, busyTimeoutMs, maintenanceIntervalMs, checkpointIntervalMs }, (error) => {
      if (maintenanceErrorChannel.hasSubscribers) maintenanceErrorChannel.publish({ error, path })
    })
    try {
      await writer.open()
    } catch (error) {
      store.close()
      throw error
    }
    this.#store = store
    this.#writer = writer
    this.#dataVersion = store.dataVersion()
    this.#state = 'open'
  }

  async ping (): Promise<void> {
    const store = this.#open()
    try {
      store.ping()
      await this.writer.call('ping')
    } catch (cause) {
      throw new VigilError('VGL_LOG_UNREACHABLE', `the embedded log ${this.#options.path} does not answer: ${(cause as Error).message}`,
        { path: this.#options.path, cause })
    }
  }

  produce (topic: string, records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    try {
      this.#open()
      const info = this.#topic(topic)
      const { partitions, used } = routeRecords(info.name, info.config, records, this.#roundRobin)
      if (records.length === 0) return Promise.resolve([])
      const packed = packProduceRecords(records, Date.now())
      return new Promise((resolve, reject) => {
        this.#enqueue({ write: { kind: 'produce', topic: info, records: packed, partitions, used }, resolve, reject })
      })
    } catch (error) {
      return Promise.reject(error)
    }
  }

  consumer (options: ConsumerOptions): Consumer {
    this.#open()
    checkConsumerOptions(options)
    for (const topic of options.topics) this.#topic(topic, true)
    const consumer = new EmbeddedConsumer(this, options)
    this.#consumers.add(consumer)
    return consumer
  }

  async read (topic: string, partition: number, offset: number, maxRecords: number): Promise<LogRecord[]> {
    const store = this.#open()
    const tp = this.#partitionId(topic, partition)
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new VigilError('VGL_LOG_OFFSET_INVALID', `cannot read ${topic}/${partition} from offset ${String(offset)}`,
        { topic, partition, offset })
    }
    if (maxRecords <= 0) return []
    return storedToRecords(topic, partition, store.readRecords(tp, offset, Math.floor(maxRecords)))
  }

  async offsetForTimestamp (topic: string, partition: number, timestamp: number): Promise<number> {
    const store = this.#open()
    return store.offsetForTimestamp(this.#partitionId(topic, partition), timestamp)
  }

  close (): Promise<void> {
    this.#closePromise ??= this.#close()
    return this.#closePromise
  }

  async #close (): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'closed'
      return
    }
    this.#state = 'closing'
    await Promise.allSettled([...this.#consumers].map(c => c.close()))
    await this.flushPending()
    clearTimeout(this.#watchTimer)
    this.#watchTimer = undefined
    this.#wakeAll()
    await this.#writer?.close()
    this.#writer = undefined
    this.#store?.close()
    this.#store = undefined
    this.#state = 'closed'
  }

  // ----------------------------------------------------------------------------- group commit

  #enqueue (op: Queued): void {
    this.#queue.push(op)
    if (!this.#flushScheduled && this.#inFlight === undefined) {
      this.#flushScheduled = true
      setImmediate(this.#scheduledFlush)
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false
    if (this.#inFlight === undefined) this.#flush()
  }

  /**
   * Hands one group (at most groupCommitMaxRecords records, at least one call) to the writer and
   * settles it when it is written; then the next group, if calls came meanwhile.
   */
  #flush (): void {
    const queue = this.#queue
    if (queue.length === 0) return
    const writer = this.#writer
    if (writer === undefined) {
      this.#queue = []
      for (const op of queue) op.reject(this.#closedError())
      return
    }
    const max = this.#options.groupCommitMaxRecords
    let take = 0
    let records = 0
    while (take < queue.length) {
      const { write } = queue[take] as Queued
      const count = write.kind === 'produce' ? write.partitions.length : write.offsets.length
      if (take > 0 && records + count > max) break
      records += count
      take++
    }
    const batch = take === queue.length ? queue : queue.slice(0, take)
    this.#queue = take === queue.length ? [] : queue.slice(take)
    this.#inFlight = writer.writeBatch(batch.map(op => op.write)).then(
      outcomes => { this.#settle(batch, outcomes, records) },
      error => { for (const op of batch) op.reject(error) }
    ).finally(() => {
      this.#inFlight = undefined
      this.#flush()
    })
  }

  #settle (batch: Queued[], outcomes: WriteOutcome[], records: number): void {
    if (commitChannel.hasSubscribers) commitChannel.publish({ path: this.#options.path, operations: batch.length, records })
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i] as Queued
      const outcome = outcomes[i]
      if (isVigilError(outcome)) {
        if (op.write.kind === 'produce' && outcome.code === 'VGL_LOG_TOPIC_NOT_FOUND') this.#topics.delete(op.write.topic.name)
        op.reject(outcome)
      } else if (isProduce(op)) {
        // The record buffers went to the writer thread; the timestamps stayed here.
        op.resolve(producedMetadata(op.write.topic.name, op.write.partitions, op.write.records.timestamps, outcome as number[]))
      } else {
        op.resolve(undefined)
      }
    }
    // Consumers are woken after the producers' continuations (their acknowledgements) have run:
    // a consumer woken first would read the new records synchronously, in front of every reply.
    this.#wakeAllSoon()
  }

  #wakeAllSoon (): void {
    if (this.#wakeScheduled || this.#waiters.size === 0) return
    this.#wakeScheduled = true
    setImmediate(() => {
      this.#wakeScheduled = false
      this.#wakeAll()
    })
  }

  // ------------------------------------------------------------------------ consumer support

  get store (): Store {
    if (this.#store === undefined) throw this.#closedError()
    return this.#store
  }

  get writer (): StoreWriter {
    if (this.#writer === undefined) throw this.#closedError()
    return this.#writer
  }

  get sessionTimeoutMs (): number {
    return this.#options.sessionTimeoutMs
  }

  topicInfo (name: string): TopicInfo | undefined {
    const info = this.store.loadTopic(name)
    if (info === undefined) this.#topics.delete(name)
    else this.#topics.set(name, info)
    return info
  }

  enqueueCommit (op: CommitOp): void {
    if (this.#writer === undefined) {
      op.reject(this.#closedError())
      return
    }
    this.#enqueue(op)
  }

  async flushPending (): Promise<void> {
    while (this.#inFlight !== undefined || (this.#queue.length > 0 && this.#writer !== undefined)) {
      if (this.#inFlight === undefined) this.#flush()
      await this.#inFlight
    }
  }

  addWaiter (wake: () => void): void {
    this.#waiters.add(wake)
    // The version seen by the last check is kept while nobody waits: a commit made by another
    // process since then (even one that the waiting consumer has read already) wakes the waiters
    // at the first check, so none is missed between a consumer's read and its wait.
    if (this.#watchTimer === undefined && this.#store !== undefined) {
      this.#scheduleWatch(Date.now() - this.#dataChangedAt < watchSlowAfterMs ? watchFastMs : watchSlowMs)
    }
  }

  removeWaiter (wake: () => void): void {
    this.#waiters.delete(wake)
    if (this.#waiters.size === 0 && this.#watchTimer !== undefined) {
      clearTimeout(this.#watchTimer)
      this.#watchTimer = undefined
    }
  }

  wakeAll (): void {
    this.#wakeAll()
  }

  #wakeAll (): void {
    if (this.#waiters.size === 0) return
    for (const wake of [...this.#waiters]) wake()
  }

  #scheduleWatch (ms: number): void {
    this.#watchTimer = setTimeout(this.#watch, ms)
    this.#watchTimer.unref()
  }

  readonly #watch = (): void => {
    this.#watchTimer = undefined
    if (this.#store === undefined || this.#waiters.size === 0) return
    const now = Date.now()
    try {
      const version = this.#store.dataVersion()
      if (version !== this.#dataVersion) {
        this.#dataVersion = version
        this.#dataChangedAt = now
        this.#wakeAll()
      }
    } catch {
      // Closing: the waiters are woken by close().
    }
    if (this.#watchTimer === undefined && this.#waiters.size > 0) {
      this.#scheduleWatch(now - this.#dataChangedAt < watchSlowAfterMs ? watchFastMs : watchSlowMs)
    }
  }

  consumerClosed (consumer: EmbeddedConsumer): void {
    this.#consumers.delete(consumer)
  }

  // ------------------------------------------------------------------------------------ admin

  /** The open store; throws VGL_LOG_NOT_CONNECTED or VGL_LOG_CLOSED otherwise. */
  #open (): Store {
    if (this.#state === 'open' && this.#store !== undefined) return this.#store
    if (this.#state === 'new') {
      throw new VigilError('VGL_LOG_NOT_CONNECTED', `the embedded log ${this.#options.path} is not connected yet`,
        { path: this.#options.path })
    }
    throw this.#closedError()
  }

  #closedError (): VigilError {
    return new VigilError('VGL_LOG_CLOSED', `the embedded log ${this.#options.path} is closed`, { path: this.#options.path })
  }

  /** The topic (cached for produce unless `fresh`); throws VGL_LOG_TOPIC_NOT_FOUND. */
  #topic (name: string, fresh = false): TopicInfo {
    let info = fresh ? undefined : this.#topics.get(name)
    if (info === undefined) {
      checkTopicName(name)
      info = this.topicInfo(name)
    }
    if (info === undefined) {
      throw new VigilError('VGL_LOG_TOPIC_NOT_FOUND', `topic ${name} does not exist in ${this.url}`, { topic: name })
    }
    return info
  }

  #partitionId (topic: string, partition: number): number {
    const info = this.#topic(topic, true)
    const id = Number.isInteger(partition) ? info.tpIds[partition] : undefined
    if (id === undefined) {
      throw new VigilError('VGL_LOG_PARTITION_INVALID',
        `topic ${topic} has partitions 0 to ${info.config.partitions - 1}, not ${String(partition)}`,
        { topic, partition, partitions: info.config.partitions })
    }
    return id
  }

  async adminCreateTopic (spec: TopicSpec, ensure: boolean): Promise<TopicDescription> {
    this.#open()
    // One file, one copy: a requested replication factor is not kept, so describe reports the
    // truth (vigil serve warns at start about config.topics that ask for more).
    const config: TopicConfig = { ...topicConfigOf(spec), replicationFactor: 1 }
    const created = await this.writer.call('createTopic', spec.name, config, Date.now())
    if (created === undefined && !ensure) {
      throw new VigilError('VGL_LOG_TOPIC_EXISTS', `topic ${spec.name} already exists in ${this.url}`, { topic: spec.name })
    }
    return this.adminDescribeTopic(spec.name)
  }

  adminDescribeTopic (name: string): TopicDescription {
    const store = this.#open()
    const info = this.#topic(name, true)
    return {
      name,
      config: { ...info.config },
      partitions: info.tpIds.map((tp, partition) => {
        const [lowOffset, highOffset] = store.partitionBounds(tp) ?? [0, 0]
        return { partition, lowOffset, highOffset }
      })
    }
  }

  adminListTopics (): string[] {
    return this.#open().listTopicNames()
  }

  async adminDeleteTopic (name: string): Promise<void> {
    this.#open()
    checkTopicName(name)
    const deleted = await this.writer.call('deleteTopic', name)
    this.#topics.delete(name)
    if (!deleted) throw new VigilError('VGL_LOG_TOPIC_NOT_FOUND', `topic ${name} does not exist in ${this.url}`, { topic: name })
    this.#wakeAll()
  }

  adminListGroups (): string[] {
    return this.#open().listGroups()
  }

  adminDescribeGroup (group: string): GroupDescription {
    const description = this.#open().describeGroup(group)
    if (description === undefined) {
      throw new VigilError('VGL_LOG_GROUP_NOT_FOUND', `consumer group ${group} does not exist in ${this.url}`, { group })
    }
    return description
  }
}

class EmbeddedAdmin implements LogAdmin {
  readonly #log: EmbeddedLog

  constructor (log: EmbeddedLog) {
    this.#log = log
  }

  async createTopic (spec: TopicSpec): Promise<TopicDescription> { return await this.#log.adminCreateTopic(spec, false) }
  async ensureTopic (spec: TopicSpec): Promise<TopicDescription> { return await this.#log.adminCreateTopic(spec, true) }
  async describeTopic (name: string): Promise<TopicDescription> { return this.#log.adminDescribeTopic(name) }
  async listTopics (): Promise<string[]> { return this.#log.adminListTopics() }
  async deleteTopic (name: string): Promise<void> { await this.#log.adminDeleteTopic(name) }
  async listGroups (): Promise<string[]> { return this.#log.adminListGroups() }
  async describeGroup (group: string): Promise<GroupDescription> { return this.#log.adminDescribeGroup(group) }
}
