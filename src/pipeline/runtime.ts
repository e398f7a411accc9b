/**
 * The pipeline runtime: a consumer group on one or more topics whose records are decoded, routed
 * to handlers, retried with backoff, and dead-lettered when they cannot succeed.
 *
 * Guarantees (the reliability contract):
 * - Per-key order. Records are put in lanes: one lane per (topic, partition, key), or per
 *   (topic, partition) for unkeyed records. A lane runs one record at a time, in offset order;
 *   up to `concurrency` lanes run at once. A record in backoff holds its lane (later records of
 *   that key wait) but not a concurrency slot, so other keys go on.
 * - At-least-once. An offset is committed only when the record and every earlier record of its
 *   partition have finished: succeeded, or durably dead-lettered (the contiguous prefix).
 * - Bounded memory. At most `maxBufferedRecords` records are polled but unfinished, and at most
 *   `maxUncommittedPerPartition` finished records wait behind an unfinished one; beyond that the
 *   partitions are paused (the consumer keeps polling, so it stays in its group).
 * - Revoke and stop. Records of a revoked partition that have not started are dropped (the next
 *   owner reads them from the committed offset); running ones finish, or are abandoned after
 *   `stopTimeoutMs` (their signal is aborted); what finished is committed before returning.
 *   Records waiting in backoff are abandoned (not committed), never dead-lettered early.
 * - Poison never stops the pipeline: undecodable records, records without a route, and records
 *   whose handler throws a programmer error are dead-lettered like any permanent failure.
 *
 * Hot path: synchronous decoders and handlers run without a promise per record; a promise is
 * made only when a decoder or handler returns one.
 */
import type { Registry } from 'prom-client'
import type { Consumer, Log, LogRecord, TopicPartition, TopicPartitionOffset } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import type { VigilConfig } from '../config/schema.ts'
import { validateConfig } from '../config/load.ts'
import { VigilError, isVigilError } from '../errors.ts'
import { classifyError, type Classified } from './classify.ts'
import { decideRetry, type RetryPolicy } from './retry.ts'
import { compileRouter, validateFor, type AnyHandler, type CompiledRouter, type HandlerContext, type RouteSpec } from './router.ts'
import { redactSecrets, redriveCountOf, toDeadLetter, type FailureInfo } from './dead-letter.ts'
import { RecordStats, pipelineMetrics, type LagSource, type PipelineMetricSet } from './metrics.ts'

export type PipelineSettings = VigilConfig['pipelines']

/** Turns a record into the value handlers see. Throw (or reject) when the record cannot be decoded. */
export type Decoder = (record: LogRecord) => unknown

/** Event identity for logs, metrics and dead-letter headers. */
export type Describer = (value: unknown, record: LogRecord) => { eventId?: string | undefined, eventType?: string | undefined }

export interface DeadLetterEvent {
  record: LogRecord
  failure: FailureInfo
  /** The dead-letter (or parking) topic it was written to. */
  topic: string
  parked: boolean
  /** The decoded value, when decoding succeeded. */
  value: unknown
}

export interface DeadLetterOptions {
  /** One dead-letter topic for every source topic; default `<topic><pipelines.deadLetter.topicSuffix>` per source topic. */
  topic?: string
  /** Redrives after which a record that fails again is parked (in `<dead-letter topic>-parked`) instead. */
  maxRedrives?: number
  /** Called after a dead letter is durable and before its offset is committed (e.g. to also write a legacy error record). */
  onDeadLetter?: (event: DeadLetterEvent) => Promise<void>
}

export interface PipelineDefinition {
  name: string
  topics: string[]
  /** Consumer group; default `vigil-pipeline-<name>`. */
  group?: string
  /** Default: JSON (`JSON.parse` of the UTF-8 value). */
  decode?: Decoder
  /** Default `{ field: 'event_type' }`. */
  route?: RouteSpec
  handlers: Record<string, AnyHandler>
  /** Default: the value's `event_id` and `event_type` fields. */
  describe?: Describer
  retry?: Partial<RetryPolicy>
  concurrency?: number
  deadLetter?: DeadLetterOptions
  autoOffsetReset?: 'earliest' | 'latest'
  /** Values (tokens, passwords) removed from error messages before they reach a header or a log line. */
  secrets?: readonly string[]
}

export interface PipelineDeps {
  logger: Logger
  /** Prometheus registry the pipeline's metrics go to (usually `metrics.registry`). */
  registry?: Registry
  /** Runtime settings: `config.pipelines`; default: the schema's defaults. */
  settings?: Readonly<PipelineSettings>
  now?: () => number
  random?: () => number
}

export interface PipelineStats {
  /** Polled, not yet finished. */
  buffered: number
  running: number
  waiting: number
  lanes: number
  partitions: number
  succeeded: number
  deadLettered: number
  retried: number
}

export interface Pipeline {
  readonly name: string
  readonly group: string
  readonly topics: readonly string[]
  start (): Promise<void>
  /** Finishes in-flight records (up to stopTimeoutMs), commits, leaves the group. Idempotent. */
  stop (): Promise<void>
  /** null when healthy, else why not (for /readyz). */
  readiness (): string | null
  stats (): PipelineStats
  /** The dead-letter topic of a source topic. */
  deadLetterTopicOf (topic: string): string
  deadLetterTopics (): string[]
}

let defaultSettings: Readonly<PipelineSettings> | undefined
export function defaultPipelineSettings (): Readonly<PipelineSettings> {
  defaultSettings ??= validateConfig({}).pipelines
  return defaultSettings
}

export function createPipeline (definition: PipelineDefinition, log: Log, deps: PipelineDeps): Pipeline {
  return new PipelineRuntime(definition, log, deps)
}

/** The parking topic of a dead-letter topic. */
export function parkedTopicOf (deadLetterTopic: string): string {
  return `${deadLetterTopic}-parked`
}

const DONE = 1
const RETRY = 2
const ABANDON = 3
type Outcome = typeof DONE | typeof RETRY | typeof ABANDON

interface Slot {
  record: LogRecord
  offset: number
  done: boolean
  /** Attempts made. */
  attempts: number
  /** Failed attempts that count against maxAttempts. */
  counted: number
  firstFailureAt: number
  lastFailureAt: number
  startedAt: number
  decoded: boolean
  value: unknown
  route: string
  handler: string
  eventType: string | undefined
  eventId: string | undefined
  /** Counters of the record's (topic, event_type), found once it is decoded. */
  stats: RecordStats | undefined
}

interface PartitionState {
  key: string
  topic: string
  partition: number
  /** No new record of this partition starts (it is being revoked). */
  revoked: boolean
  /** Removed after a revoke: late completions are ignored. */
  gone: boolean
  /** Polled records in offset order; [head, length) are not yet committable. */
  queue: Slot[]
  head: number
  commitOffset: number
  dirty: boolean
  pausedForBacklog: boolean
  /** Lanes of keyed records, by key (latin1 of the bytes); empty idle ones are swept now and then. */
  lanes: Map<string, Lane>
  /** The lane of unkeyed records. */
  unkeyed: Lane | undefined
}

interface Lane {
  id: string
  ps: PartitionState
  items: Slot[]
  head: number
  state: 'idle' | 'ready' | 'running' | 'waiting'
  timer: NodeJS.Timeout | undefined
  retryDelayMs: number
  controller: AbortController | undefined
  /** Resolved when the lane stops running (revoke and stop wait on it). */
  idleWaiters: Array<() => void> | undefined
}

interface Thenable<T> { then: Promise<T>['then'] }

function isThenable (value: unknown): value is Thenable<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
}

const jsonDecoder: Decoder = (record) => {
  if (record.value === null) throw new VigilError('VGL_PIPELINE_DECODE_FAILED', 'record has no value (null)')
  try {
    return JSON.parse(record.value.toString('utf8'))
  } catch (cause) {
    throw new VigilError('VGL_PIPELINE_DECODE_FAILED', `record value is not JSON: ${(cause as Error).message}`, { cause })
  }
}

const defaultDescriber: Describer = (value) => {
  if (typeof value !== 'object' || value === null) return {}
  const v = value as Record<string, unknown>
  return {
    eventId: typeof v.event_id === 'string' ? v.event_id : undefined,
    eventType: typeof v.event_type === 'string' ? v.event_type : undefined
  }
}

function newLane (ps: PartitionState, id: string): Lane {
  return { id, ps, items: [], head: 0, state: 'idle', timer: undefined, retryDelayMs: 0, controller: undefined, idleWaiters: undefined }
}

function lanesOf (ps: PartitionState): Lane[] {
  return ps.unkeyed === undefined ? [...ps.lanes.values()] : [...ps.lanes.values(), ps.unkeyed]
}

function tpKey (topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

class HandlerContextImpl implements HandlerContext {
  readonly pipeline: string
  readonly record: LogRecord
  readonly route: string
  readonly attempt: number
  readonly logger: Logger
  readonly #lane: Lane

  constructor (pipeline: string, record: LogRecord, route: string, attempt: number, logger: Logger, lane: Lane) {
    this.pipeline = pipeline
    this.record = record
    this.route = route
    this.attempt = attempt
    this.logger = logger
    this.#lane = lane
  }

  get signal (): AbortSignal {
    this.#lane.controller ??= new AbortController()
    return this.#lane.controller.signal
  }
}

class PipelineRuntime implements Pipeline {
  readonly name: string
  readonly group: string
  readonly topics: readonly string[]
  readonly #log: Log
  readonly #logger: Logger
  readonly #settings: Readonly<PipelineSettings>
  readonly #policy: RetryPolicy
  readonly #router: CompiledRouter
  readonly #decode: Decoder
  readonly #describe: Describer
  readonly #concurrency: number
  readonly #deadLetter: DeadLetterOptions & { maxRedrives: number }
  readonly #secrets: readonly string[]
  readonly #now: () => number
  readonly #random: () => number
  readonly #metrics: PipelineMetricSet | undefined
  readonly #lagSource: LagSource
  readonly #autoOffsetReset: 'earliest' | 'latest'

  #consumer: Consumer | undefined
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #draining = false
  #loop: Promise<void> | undefined
  #stopped: Promise<void> | undefined
  #wake: AbortController | undefined
  readonly #partitions = new Map<string, PartitionState>()
  readonly #ready: Lane[] = []
  #readyHead = 0
  #buffered = 0
  #running = 0
  #waiting = 0
  #pausedAll = false
  #pumping = false
  #commitTimer: NodeJS.Timeout | undefined
  #commitChain: Promise<void> = Promise.resolve()
  #blockedSince: number | undefined
  #pollProblem: string | undefined
  #blockedReason: string | undefined
  readonly #counts = { succeeded: 0, deadLettered: 0, retried: 0 }
  readonly #stats = new Map<string, RecordStats>()
  readonly #infoEnabled: boolean
  readonly #ensuredTopics = new Set<string>()

  constructor (definition: PipelineDefinition, log: Log, deps: PipelineDeps) {
    if (typeof definition.name !== 'string' || !/^[a-zA-Z0-9._-]{1,100}$/.test(definition.name)) {
      throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', `pipeline name ${JSON.stringify(definition.name)} must be 1-100 characters of [a-zA-Z0-9._-]`)
    }
    if (!Array.isArray(definition.topics) || definition.topics.length === 0) {
      throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', `pipeline ${definition.name} names no topic`, { pipeline: definition.name })
    }
    const settings = deps.settings ?? defaultPipelineSettings()
    this.name = definition.name
    this.group = definition.group ?? `vigil-pipeline-${definition.name}`
    this.topics = [...definition.topics]
    this.#log = log
    this.#settings = settings
    this.#logger = deps.logger.child({ pipeline: definition.name })
    this.#policy = { ...settings.retry, ...definition.retry }
    if (!(this.#policy.maxAttempts >= 1)) {
      throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', `pipeline ${definition.name}: retry.maxAttempts must be at least 1`, { pipeline: definition.name })
    }
    this.#router = compileRouter(definition.route ?? { field: 'event_type' }, definition.handlers)
    this.#decode = definition.decode ?? jsonDecoder
    this.#describe = definition.describe ?? defaultDescriber
    this.#concurrency = definition.concurrency ?? settings.concurrency
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', `pipeline ${definition.name}: concurrency must be a whole number ≥ 1`, { pipeline: definition.name })
    }
    this.#deadLetter = { ...definition.deadLetter, maxRedrives: definition.deadLetter?.maxRedrives ?? settings.deadLetter.maxRedrives }
    this.#secrets = definition.secrets ?? []
    this.#now = deps.now ?? Date.now
    this.#random = deps.random ?? Math.random
    this.#autoOffsetReset = definition.autoOffsetReset ?? settings.autoOffsetReset
    this.#metrics = deps.registry === undefined ? undefined : pipelineMetrics(deps.registry)
    this.#lagSource = { pipeline: this.name, group: this.group, log, deadLetterTopics: () => this.deadLetterTopics() }
    this.#infoEnabled = this.#logger.isLevelEnabled('info')
  }

  deadLetterTopicOf (topic: string): string {
    return this.#deadLetter.topic ?? `${topic}${this.#settings.deadLetter.topicSuffix}`
  }

  deadLetterTopics (): string[] {
    return [...new Set(this.topics.map(t => this.deadLetterTopicOf(t)))]
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw new VigilError('VGL_PIPELINE_STOPPED', `pipeline ${this.name} was already started`, { pipeline: this.name })
    this.#state = 'running'
    for (const topic of this.deadLetterTopics()) await this.#ensureDeadLetterTopic(topic)
    this.#consumer = this.#log.consumer({
      group: this.group,
      topics: [...this.topics],
      autoOffsetReset: this.#autoOffsetReset,
      onAssign: (partitions) => { this.#onAssign(partitions) },
      onRevoke: (partitions) => this.#onRevoke(partitions)
    })
    this.#metrics?.sources.add(this.#lagSource)
    this.#loop = this.#pollLoop()
    this.#logger.info({ topics: this.topics, group: this.group, concurrency: this.#concurrency, deadLetterTopics: this.deadLetterTopics() }, 'pipeline started')
  }

  stop (): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  readiness (): string | null {
    if (this.#state === 'new') return 'not started'
    if (this.#state !== 'running') return 'stopped'
    if (this.#pollProblem !== undefined) return `cannot poll: ${this.#pollProblem}`
    if (this.#blockedSince !== undefined) return `blocked since ${new Date(this.#blockedSince).toISOString()}: ${this.#blockedReason ?? ''}`
    return null
  }

  stats (): PipelineStats {
    return {
      buffered: this.#buffered,
      running: this.#running,
      waiting: this.#waiting,
      lanes: [...this.#partitions.values()].reduce((n, ps) => n + ps.lanes.size + (ps.unkeyed === undefined ? 0 : 1), 0),
      partitions: this.#partitions.size,
      ...this.#counts
    }
  }

  // ---- consuming --------------------------------------------------------------------------------

  async #pollLoop (): Promise<void> {
    const consumer = this.#consumer as Consumer
    let failures = 0
    while (!this.#draining) {
      const wake = new AbortController()
      this.#wake = wake
      let records: LogRecord[]
      try {
        const room = this.#settings.maxBufferedRecords - this.#buffered
        records = await consumer.poll({
          maxRecords: Math.max(1, Math.min(this.#settings.pollMaxRecords, room)),
          timeoutMs: this.#settings.pollTimeoutMs,
          signal: wake.signal
        })
        failures = 0
        this.#pollProblem = undefined
      } catch (error) {
        if (this.#draining || isVigilError(error, 'VGL_LOG_CLOSED')) break
        failures++
        this.#pollProblem = isVigilError(error) ? `${error.code}: ${error.message}` : String(error)
        const waitMs = Math.min(5000, 100 * 2 ** Math.min(failures, 6))
        this.#logger.warn({ code: isVigilError(error) ? error.code : undefined, err: error, retryInMs: waitMs }, 'poll failed; retrying')
        await this.#sleep(waitMs)
        continue
      }
      if (records.length > 0) {
        this.#enqueue(records)
        this.#pump()
      }
    }
  }

  #onAssign (partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#partitionState(tp.topic, tp.partition)
    this.#logger.info({ partitions: partitions.map(p => `${p.topic}:${p.partition}`) }, 'partitions assigned')
  }

  #partitionState (topic: string, partition: number): PartitionState {
    const key = tpKey(topic, partition)
    let ps = this.#partitions.get(key)
    if (ps === undefined || ps.revoked) {
      ps = { key, topic, partition, revoked: false, gone: false, queue: [], head: 0, commitOffset: -1, dirty: false, pausedForBacklog: false, lanes: new Map(), unkeyed: undefined }
      this.#partitions.set(key, ps)
    }
    return ps
  }

  #enqueue (records: LogRecord[]): void {
    let lastPs: PartitionState | undefined
    for (const record of records) {
      let ps = lastPs
      if (ps === undefined || ps.topic !== record.topic || ps.partition !== record.partition) {
        ps = this.#partitions.get(tpKey(record.topic, record.partition))
        if (ps === undefined || ps.revoked) {
          // A record of a partition this member does not own (any more): the owner reads it.
          const owned = this.#consumer?.assignment().some(tp => tp.topic === record.topic && tp.partition === record.partition) === true
          if (!owned) continue
          ps = this.#partitionState(record.topic, record.partition)
        }
        lastPs = ps
      }
      const slot: Slot = {
        record,
        offset: record.offset,
        done: false,
        attempts: 0,
        counted: 0,
        firstFailureAt: 0,
        lastFailureAt: 0,
        startedAt: 0,
        decoded: false,
        value: undefined,
        route: '',
        handler: '',
        eventType: undefined,
        eventId: undefined,
        stats: undefined
      }
      ps.queue.push(slot)
      let lane: Lane | undefined
      if (record.key === null) {
        lane = ps.unkeyed ??= newLane(ps, '')
      } else {
        const id = record.key.toString('latin1')
        lane = ps.lanes.get(id)
        if (lane === undefined) {
          lane = newLane(ps, id)
          ps.lanes.set(id, lane)
        }
      }
      lane.items.push(slot)
      if (lane.state === 'idle') {
        lane.state = 'ready'
        this.#ready.push(lane)
      }
      this.#buffered++
    }
    this.#metrics?.inFlight.set({ pipeline: this.name }, this.#buffered)
    this.#applyBackpressure()
  }

  #applyBackpressure (): void {
    const consumer = this.#consumer
    if (consumer === undefined) return
    const limit = this.#settings.maxUncommittedPerPartition
    const toPause: TopicPartition[] = []
    const toResume: TopicPartition[] = []
    for (const ps of this.#partitions.values()) {
      if (ps.revoked) continue
      const backlog = ps.queue.length - ps.head
      if (!ps.pausedForBacklog && backlog >= limit) {
        ps.pausedForBacklog = true
        if (!this.#pausedAll) toPause.push({ topic: ps.topic, partition: ps.partition })
      } else if (ps.pausedForBacklog && backlog < limit / 2) {
        ps.pausedForBacklog = false
        if (!this.#pausedAll) toResume.push({ topic: ps.topic, partition: ps.partition })
      }
    }
    const max = this.#settings.maxBufferedRecords
    if (!this.#pausedAll && this.#buffered >= max) {
      this.#pausedAll = true
      consumer.pause(consumer.assignment())
      toResume.length = 0
      toPause.length = 0
    } else if (this.#pausedAll && this.#buffered < max / 2) {
      this.#pausedAll = false
      const assigned = consumer.assignment()
      consumer.resume(assigned.filter(tp => this.#partitions.get(tpKey(tp.topic, tp.partition))?.pausedForBacklog !== true))
      this.#wake?.abort()
    }
    if (toPause.length > 0) consumer.pause(toPause)
    if (toResume.length > 0) {
      consumer.resume(toResume)
      this.#wake?.abort()
    }
  }

  // ---- scheduling -------------------------------------------------------------------------------

  /** Starts ready lanes while there are free slots. Iterative: lanes that finish synchronously free their slot for the next turn of the loop. */
  #pump (): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#running < this.#concurrency && this.#readyHead < this.#ready.length && !this.#draining) {
        const lane = this.#ready[this.#readyHead++] as Lane
        if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
          this.#ready.splice(0, this.#readyHead)
          this.#readyHead = 0
        }
        if (lane.state !== 'ready' || lane.ps.revoked) continue
        lane.state = 'running'
        this.#running++
        this.#step(lane)
      }
    } finally {
      this.#pumping = false
    }
  }

  /**
   * Runs a lane's records in order: synchronously while attempts finish synchronously, then
   * again from the promise of an asynchronous attempt. After each finished record the lane gives
   * its slot up when other lanes wait (round-robin), so records run roughly in offset order and
   * the committable prefix of each partition keeps up.
   */
  #step (lane: Lane): void {
    try {
      while (lane.head < lane.items.length) {
        if (lane.ps.revoked || this.#draining) { this.#release(lane, 'idle'); return }
        const slot = lane.items[lane.head] as Slot
        const outcome = this.#attempt(lane, slot)
        if (outcome === DONE) {
          this.#advance(lane, slot)
          if (this.#readyHead < this.#ready.length) { this.#release(lane, 'idle'); return }
          continue
        }
        if (outcome === RETRY || outcome === ABANDON) { this.#release(lane, outcome === RETRY ? 'waiting' : 'idle'); return }
        outcome.then((result) => {
          if (result !== DONE) { this.#release(lane, result === RETRY ? 'waiting' : 'idle'); return }
          this.#advance(lane, slot)
          if (this.#readyHead < this.#ready.length) this.#release(lane, 'idle')
          else this.#step(lane)
        }, (error: unknown) => { this.#laneFailed(lane, error) })
        return
      }
      this.#release(lane, 'idle')
    } catch (error) {
      this.#laneFailed(lane, error)
    }
  }

  #advance (lane: Lane, slot: Slot): void {
    lane.items[lane.head] = undefined as unknown as Slot
    lane.head++
    this.#complete(lane.ps, slot)
  }

  /** Only a bug in the runtime itself gets here; the lane stops and its records are redelivered. */
  #laneFailed (lane: Lane, error: unknown): void {
    this.#logger.error({ err: error, lane: lane.id }, 'pipeline lane failed')
    if (lane.state === 'running') this.#release(lane, 'idle')
  }

  /** The lane leaves its slot: to wait for a retry, or idle (requeued when it still has records). */
  #release (lane: Lane, next: 'waiting' | 'idle'): void {
    this.#running--
    if (next === 'waiting' && !lane.ps.revoked && !this.#draining) {
      lane.state = 'waiting'
      this.#waiting++
      lane.timer = setTimeout(() => {
        lane.timer = undefined
        this.#waiting--
        if (lane.state !== 'waiting') return
        lane.state = 'ready'
        this.#ready.push(lane)
        this.#pump()
      }, lane.retryDelayMs)
    } else {
      lane.state = 'idle'
      this.#settleLane(lane)
    }
    const waiters = lane.idleWaiters
    if (waiters !== undefined) {
      lane.idleWaiters = undefined
      for (const wake of waiters) wake()
    }
    this.#pump()
  }

  /** Empties or compacts an idle lane's array, and requeues it when it still has records. */
  #settleLane (lane: Lane): void {
    if (lane.head >= lane.items.length) {
      lane.items.length = 0
      lane.head = 0
    } else if (lane.head > 1024) {
      lane.items = lane.items.slice(lane.head)
      lane.head = 0
    }
    if (lane.head < lane.items.length && !lane.ps.revoked && !this.#draining && lane.state === 'idle') {
      lane.state = 'ready'
      this.#ready.push(lane)
    }
  }

  // ---- one attempt ------------------------------------------------------------------------------

  /** Runs one attempt: synchronously when the decoder and handler are synchronous. */
  #attempt (lane: Lane, slot: Slot): Outcome | Promise<Outcome> {
    slot.attempts++
    if (slot.attempts === 1) slot.startedAt = this.#now()
    if (!slot.decoded) {
      let decoded: unknown
      try {
        decoded = this.#decode(slot.record)
      } catch (error) {
        return this.#decodeFailed(lane, slot, error)
      }
      if (isThenable(decoded)) {
        return Promise.resolve(decoded).then(
          (value) => { this.#setDecoded(slot, value); return this.#handle(lane, slot) },
          (error: unknown) => this.#decodeFailed(lane, slot, error))
      }
      this.#setDecoded(slot, decoded)
    }
    return this.#handle(lane, slot)
  }

  #setDecoded (slot: Slot, value: unknown): void {
    slot.decoded = true
    slot.value = value
    const record = slot.record
    let route: string
    try {
      route = this.#router.routeOf(value, record)
      const described = this.#describe(value, record)
      slot.eventId = described.eventId
      slot.eventType = described.eventType
    } catch {
      route = '(none)'
    }
    slot.route = route
    slot.eventType ??= route
    slot.stats = this.#statsOf(record.topic, slot.eventType)
    slot.stats.consumed++
  }

  #decodeFailed (lane: Lane, slot: Slot, error: unknown): Outcome | Promise<Outcome> {
    slot.handler = '(decode)'
    if (slot.attempts === 1) this.#statsOf(slot.record.topic, '(undecodable)').consumed++
    const coded = isVigilError(error)
      ? error
      : new VigilError('VGL_PIPELINE_DECODE_FAILED', `cannot decode record: ${(error as Error)?.message ?? String(error)}`, { cause: error })
    return this.#failed(lane, slot, coded)
  }

  #handle (lane: Lane, slot: Slot): Outcome | Promise<Outcome> {
    const record = slot.record
    let result: unknown
    try {
      const { name, spec } = this.#router.handlerFor(slot.route, record)
      slot.handler = name
      const value = validateFor(spec, slot.value, record)
      result = spec.handle(value as never, new HandlerContextImpl(this.name, record, slot.route, slot.attempts, this.#logger, lane))
    } catch (error) {
      if (slot.handler === '') slot.handler = '(route)'
      return this.#failed(lane, slot, error)
    }
    if (isThenable(result)) return this.#awaitHandler(lane, slot, result)
    this.#succeeded(slot)
    return DONE
  }

  #awaitHandler (lane: Lane, slot: Slot, result: Thenable<unknown>): Promise<Outcome> {
    const timeoutMs = this.#settings.handlerTimeoutMs
    if (timeoutMs <= 0) {
      return Promise.resolve(result).then(
        () => { this.#succeeded(slot); return DONE },
        (error: unknown) => this.#failed(lane, slot, error))
    }
    return new Promise<Outcome>((resolve) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        const error = new VigilError('VGL_PIPELINE_HANDLER_TIMEOUT', `handler ${slot.handler} did not finish within ${timeoutMs} ms`, { handlerTimeoutMs: timeoutMs })
        lane.controller?.abort(error)
        lane.controller = undefined
        resolve(this.#failed(lane, slot, error))
      }, timeoutMs)
      result.then(
        () => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          this.#succeeded(slot)
          resolve(DONE)
        },
        (error: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resolve(this.#failed(lane, slot, error))
        })
    })
  }

  #succeeded (slot: Slot): void {
    const durationMs = this.#now() - slot.startedAt
    this.#counts.succeeded++
    if (this.#blockedSince !== undefined) {
      this.#blockedSince = undefined
      this.#blockedReason = undefined
    }
    const stats = slot.stats ?? this.#statsOf(slot.record.topic, slot.eventType ?? slot.route)
    stats.succeeded++
    stats.durationOk.observe(durationMs / 1000)
    if (this.#infoEnabled) this.#logProcessed(slot, 'succeeded', durationMs)
  }

  #failed (lane: Lane, slot: Slot, error: unknown): Outcome | Promise<Outcome> {
    const failure = classifyError(error)
    const now = this.#now()
    if (slot.firstFailureAt === 0) slot.firstFailureAt = now
    slot.lastFailureAt = now
    if (!failure.blocking) slot.counted++
    const decision = decideRetry(this.#policy, failure, slot.counted, this.#random, slot.attempts)
    const record = slot.record
    const message = redactSecrets(failure.error.message, this.#secrets)
    if (decision.action === 'retry') {
      this.#counts.retried++
      const stats = slot.stats ?? this.#statsOf(record.topic, slot.eventType ?? slot.route)
      stats.retried++
      if (failure.blocking) {
        this.#blockedSince ??= now
        this.#blockedReason = `${failure.error.code}: ${message}`
      }
      this.#logger[failure.blocking ? 'error' : 'warn']({
        ...recordLogFields(slot),
        handler: slot.handler,
        code: failure.error.code,
        retryInMs: decision.delayMs
      }, `attempt failed, retrying: ${message}`)
      if (this.#draining) return ABANDON
      lane.retryDelayMs = decision.delayMs
      return RETRY
    }
    return this.#deadLetterSlot(lane, slot, failure, message)
  }

  // ---- dead letters -----------------------------------------------------------------------------

  async #deadLetterSlot (lane: Lane, slot: Slot, failure: Classified, message: string): Promise<Outcome> {
    const record = slot.record
    const info: FailureInfo = {
      pipeline: this.name,
      group: this.group,
      handler: slot.handler === '' ? '(none)' : slot.handler,
      errorCode: failure.error.code,
      errorMessage: message,
      attempts: slot.attempts,
      firstFailureAt: slot.firstFailureAt,
      lastFailureAt: slot.lastFailureAt,
      eventType: slot.eventType,
      eventId: slot.eventId
    }
    const redrives = redriveCountOf(record.headers)
    const parked = redrives >= this.#deadLetter.maxRedrives
    const dlq = this.deadLetterTopicOf(record.topic)
    const topic = parked ? parkedTopicOf(dlq) : dlq
    this.#logger.error({
      ...recordLogFields(slot),
      handler: info.handler,
      code: failure.error.code,
      error: loggableError(failure.error, this.#secrets),
      deadLetterTopic: topic,
      redrives
    }, parked ? `record parked after ${redrives} redrives: ${message}` : `record dead-lettered: ${message}`)

    for (let tries = 1; ; tries++) {
      try {
        if (parked) await this.#ensureDeadLetterTopic(topic)
        await this.#log.produce(topic, [toDeadLetter(record, info)])
        break
      } catch (error) {
        // The log refused the dead letter: the record cannot finish until it is stored.
        if (lane.ps.revoked || (this.#draining && tries >= 3)) {
          this.#logger.error({ err: error, topic, offset: record.offset }, 'could not write the dead letter; the record is left uncommitted and will be redelivered')
          return ABANDON
        }
        const waitMs = Math.min(this.#policy.maxDelayMs, 200 * 2 ** Math.min(tries, 8))
        this.#logger.error({ err: error, topic, retryInMs: waitMs }, 'could not write the dead letter; retrying')
        await this.#sleep(waitMs)
      }
    }
    if (this.#deadLetter.onDeadLetter !== undefined) {
      try {
        await this.#deadLetter.onDeadLetter({ record, failure: info, topic, parked, value: slot.value })
      } catch (error) {
        this.#logger.error({ err: error, topic: record.topic, offset: record.offset }, 'onDeadLetter hook failed (the dead letter itself is stored)')
      }
    }
    const durationMs = this.#now() - slot.startedAt
    this.#counts.deadLettered++
    const stats = slot.stats ?? this.#statsOf(record.topic, slot.eventType ?? slot.route)
    stats.deadLettered++
    if (parked) stats.parked++
    stats.durationDead.observe(durationMs / 1000)
    this.#logProcessed(slot, parked ? 'parked' : 'dead-lettered', durationMs)
    return DONE
  }

  async #ensureDeadLetterTopic (topic: string): Promise<void> {
    if (this.#ensuredTopics.has(topic)) return
    await this.#log.admin.ensureTopic({
      name: topic,
      partitions: this.#settings.deadLetter.partitions,
      retentionMs: this.#settings.deadLetter.retentionMs
    })
    this.#ensuredTopics.add(topic)
  }

  #logProcessed (slot: Slot, outcome: string, durationMs: number): void {
    if (!this.#logger.isLevelEnabled('info')) return
    this.#logger.info({
      ...recordLogFields(slot),
      outcome,
      durationMs
    }, 'record processed')
  }

  #statsOf (topic: string, eventType: string | undefined): RecordStats {
    const key = eventType === undefined ? topic : `${topic}\u0000${eventType}`
    let stats = this.#stats.get(key)
    if (stats === undefined) {
      const type = eventType ?? '(unknown)'
      stats = this.#metrics?.statsFor(this.name, topic, type) ?? new RecordStats({ pipeline: this.name, topic, event_type: type })
      if (this.#stats.size < 10_000) this.#stats.set(key, stats)
    }
    return stats
  }

  // ---- commits ----------------------------------------------------------------------------------

  #complete (ps: PartitionState, slot: Slot): void {
    slot.done = true
    if (ps.gone) return
    this.#buffered--
    let head = ps.head
    const queue = ps.queue
    while (head < queue.length && (queue[head] as Slot).done) head++
    if (head !== ps.head) {
      ps.commitOffset = (queue[head - 1] as Slot).offset + 1
      ps.head = head
      ps.dirty = true
      if (head > 4096 && head * 2 > queue.length) {
        ps.queue = queue.slice(head)
        ps.head = 0
      }
      this.#scheduleCommit()
    }
    if (ps.pausedForBacklog || this.#pausedAll) this.#applyBackpressure()
  }

  #scheduleCommit (): void {
    if (this.#commitTimer !== undefined) return
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined
      this.#sweepLanes()
      this.#commit().catch(() => {})
    }, this.#settings.commitIntervalMs)
  }

  /** Forgets idle, empty lanes (keys not seen lately), so the lane maps stay as small as the traffic. */
  #sweepLanes (): void {
    for (const ps of this.#partitions.values()) {
      if (ps.lanes.size < 256) continue
      for (const [id, lane] of ps.lanes) if (lane.state === 'idle' && lane.head >= lane.items.length) ps.lanes.delete(id)
    }
  }

  /** Commits every partition whose contiguous prefix advanced; serialised, one commit call at a time. */
  #commit (): Promise<void> {
    this.#metrics?.inFlight.set({ pipeline: this.name }, this.#buffered)
    const run = this.#commitChain.then(() => this.#commitNow())
    this.#commitChain = run.catch(() => {})
    return run
  }

  async #commitNow (): Promise<void> {
    const consumer = this.#consumer
    if (consumer === undefined) return
    const dirty = [...this.#partitions.values()].filter(ps => ps.dirty)
    if (dirty.length === 0) return
    for (const ps of dirty) ps.dirty = false
    let offsets: TopicPartitionOffset[] = dirty.map(ps => ({ topic: ps.topic, partition: ps.partition, offset: ps.commitOffset }))
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await consumer.commit(offsets)
        return
      } catch (error) {
        if (isVigilError(error, 'VGL_LOG_NOT_ASSIGNED') && attempt === 0) {
          // Lost in a rebalance: the new owner starts from the last commit. Commit the others.
          const owned = new Set(consumer.assignment().map(tp => tpKey(tp.topic, tp.partition)))
          offsets = offsets.filter(o => owned.has(tpKey(o.topic, o.partition)))
          this.#logger.warn({ code: error.code }, 'some partitions were reassigned before their commit; the new owner redelivers them')
          if (offsets.length === 0) return
          continue
        }
        if (isVigilError(error, 'VGL_LOG_NOT_ASSIGNED')) return
        for (const ps of dirty) if (!ps.revoked) ps.dirty = true
        this.#logger.error({ err: error }, 'offset commit failed; retrying at the next commit')
        if (!this.#draining) this.#scheduleCommit()
        throw error
      }
    }
  }

  async #commitWithin (ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      this.#commit().then(() => false, () => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), Math.max(ms, 1)) })
    ])
    clearTimeout(timer)
    if (timedOut) this.#logger.warn({ timeoutMs: ms }, 'offset commit did not finish in time; uncommitted records will be redelivered')
  }

  // ---- revoke and stop --------------------------------------------------------------------------

  async #onRevoke (partitions: TopicPartition[]): Promise<void> {
    const states = partitions.flatMap(tp => {
      const ps = this.#partitions.get(tpKey(tp.topic, tp.partition))
      return ps === undefined ? [] : [ps]
    })
    for (const ps of states) ps.revoked = true
    await this.#finishLanes(states.flatMap(lanesOf))
    // Commit what finished, while this member still owns the partitions (bounded: a log that is
    // closing under us must not hang the rebalance).
    await this.#commitWithin(this.#settings.stopTimeoutMs)
    for (const ps of states) {
      ps.gone = true
      for (let i = ps.head; i < ps.queue.length; i++) if (!(ps.queue[i] as Slot).done) this.#buffered--
      ps.lanes.clear()
      ps.unkeyed = undefined
      ps.queue = []
      if (this.#partitions.get(ps.key) === ps) this.#partitions.delete(ps.key)
    }
    this.#applyBackpressure()
    this.#logger.info({ partitions: partitions.map(p => `${p.topic}:${p.partition}`) }, 'partitions revoked')
  }

  /** Cancels lanes waiting in backoff and waits for running ones (up to stopTimeoutMs, then aborts them). */
  async #finishLanes (lanes: Lane[]): Promise<void> {
    const running: Array<Promise<void>> = []
    for (const lane of lanes) {
      if (lane.state === 'waiting') {
        clearTimeout(lane.timer)
        lane.timer = undefined
        lane.state = 'idle'
        this.#waiting--
      } else if (lane.state === 'running') {
        running.push(new Promise<void>(resolve => { (lane.idleWaiters ??= []).push(resolve) }))
      } else if (lane.state === 'ready') {
        lane.state = 'idle'
      }
    }
    if (running.length === 0) return
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      Promise.all(running).then(() => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), this.#settings.stopTimeoutMs) })
    ])
    clearTimeout(timer)
    if (timedOut) {
      this.#logger.warn({ lanes: running.length, stopTimeoutMs: this.#settings.stopTimeoutMs }, 'in-flight records did not finish in time; abandoning them (they will be redelivered)')
      for (const lane of lanes) lane.controller?.abort(new VigilError('VGL_PIPELINE_STOPPED', `pipeline ${this.name} is stopping`))
    }
  }

  async #stop (): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped'
      return
    }
    this.#state = 'stopping'
    this.#draining = true
    this.#wake?.abort()
    for (const wake of this.#sleepers) wake()
    await this.#loop
    await this.#finishLanes([...this.#partitions.values()].flatMap(lanesOf))
    clearTimeout(this.#commitTimer)
    this.#commitTimer = undefined
    await this.#commitWithin(this.#settings.stopTimeoutMs)
    this.#metrics?.sources.delete(this.#lagSource)
    try {
      await this.#consumer?.close()
    } finally {
      this.#state = 'stopped'
      this.#logger.info(this.#counts, 'pipeline stopped')
    }
  }

  readonly #sleepers = new Set<() => void>()

  /** A sleep that stop() cuts short. */
  #sleep (ms: number): Promise<void> {
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.#sleepers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#sleepers.add(done)
    })
  }
}

/** An error as a log field, with secrets redacted from its message and stack. */
/** What every log line about one record says: which record, which event, which attempt. */
function recordLogFields (slot: Slot): Record<string, unknown> {
  const record = slot.record
  return {
    event_id: slot.eventId,
    event_type: slot.eventType,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    attempt: slot.attempts
  }
}

function loggableError (error: VigilError, secrets: readonly string[]): Record<string, unknown> {
  const cause = error.cause instanceof Error ? error.cause : undefined
  return {
    type: cause?.name ?? error.name,
    code: error.code,
    message: redactSecrets(error.message, secrets),
    stack: redactSecrets((cause ?? error).stack ?? '', secrets)
  }
}
