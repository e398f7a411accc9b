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
 *
 * This file wires the parts and owns the life cycle (start, revoke, stop, readiness, stats);
 * each part has its own file: the consumer loop (consumer-loop.ts), per-key scheduling and the
 * retry wait (lane-scheduler.ts, the delays from retry.ts), one attempt (record-attempt.ts),
 * dead-lettering (dead-letter-writer.ts), commit tracking (commit-tracker.ts) and the counters
 * and log lines (record-telemetry.ts, metrics.ts).
 */
import type { Consumer, Log, TopicPartition } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { VigilError } from '../errors.ts'
import type { RetryPolicy } from './retry.ts'
import { compileRouter } from './router.ts'
import { pipelineMetrics, type LagSource, type PipelineMetricSet } from './metrics.ts'
import {
  defaultDescriber, defaultPipelineSettings, jsonDecoder,
  type Pipeline, type PipelineDefinition, type PipelineDeps, type PipelineSettings, type PipelineStats
} from './definition.ts'
import { lanesOf, tpKey, type RunFlags } from './lanes.ts'
import { CommitTracker } from './commit-tracker.ts'
import { ConsumerLoop } from './consumer-loop.ts'
import { DeadLetterWriter } from './dead-letter-writer.ts'
import { LaneScheduler } from './lane-scheduler.ts'
import { RecordAttempts } from './record-attempt.ts'
import { RecordTelemetry } from './record-telemetry.ts'
import { StoppableSleep } from './stoppable-sleep.ts'

export {
  defaultPipelineSettings, parkedTopicOf,
  type DeadLetterEvent, type DeadLetterOptions, type Decoder, type Describer,
  type Pipeline, type PipelineDefinition, type PipelineDeps, type PipelineSettings, type PipelineStats
} from './definition.ts'

export function createPipeline (definition: PipelineDefinition, log: Log, deps: PipelineDeps): Pipeline {
  return new PipelineRuntime(definition, log, deps)
}

class PipelineRuntime implements Pipeline {
  readonly name: string
  readonly group: string
  readonly topics: readonly string[]
  readonly #log: Log
  readonly #logger: Logger
  readonly #settings: Readonly<PipelineSettings>
  readonly #concurrency: number
  readonly #metrics: PipelineMetricSet | undefined
  readonly #lagSource: LagSource
  readonly #autoOffsetReset: 'earliest' | 'latest'
  readonly #run: RunFlags = { draining: false }
  readonly #sleeper = new StoppableSleep()
  readonly #telemetry: RecordTelemetry
  readonly #deadLetters: DeadLetterWriter
  readonly #commits: CommitTracker
  readonly #scheduler: LaneScheduler

  #consumer: Consumer | undefined
  #intake: ConsumerLoop | undefined
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #loop: Promise<void> | undefined
  #stopped: Promise<void> | undefined

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
    const policy: RetryPolicy = { ...settings.retry, ...definition.retry }
    if (!(policy.maxAttempts >= 1)) {
      throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', `pipeline ${definition.name}: retry.maxAttempts must be at least 1`, { pipeline: definition.name })
    }
    const router = compileRouter(definition.route ?? { field: 'event_type' }, definition.handlers)
    this.#concurrency = definition.concurrency ?? settings.concurrency
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', `pipeline ${definition.name}: concurrency must be a whole number ≥ 1`, { pipeline: definition.name })
    }
    const secrets = definition.secrets ?? []
    const now = deps.now ?? Date.now
    this.#autoOffsetReset = definition.autoOffsetReset ?? settings.autoOffsetReset
    this.#metrics = deps.registry === undefined ? undefined : pipelineMetrics(deps.registry)
    this.#lagSource = { pipeline: this.name, group: this.group, log, deadLetterTopics: () => this.deadLetterTopics() }

    this.#telemetry = new RecordTelemetry(this.name, this.#logger, this.#metrics)
    this.#deadLetters = new DeadLetterWriter({
      pipeline: this.name,
      group: this.group,
      log,
      logger: this.#logger,
      settings,
      options: { ...definition.deadLetter, maxRedrives: definition.deadLetter?.maxRedrives ?? settings.deadLetter.maxRedrives },
      maxDelayMs: policy.maxDelayMs,
      secrets,
      telemetry: this.#telemetry,
      sleeper: this.#sleeper,
      run: this.#run,
      now
    })
    const attempts = new RecordAttempts({
      pipeline: this.name,
      logger: this.#logger,
      settings,
      policy,
      router,
      decode: definition.decode ?? jsonDecoder,
      describe: definition.describe ?? defaultDescriber,
      secrets,
      telemetry: this.#telemetry,
      deadLetters: this.#deadLetters,
      run: this.#run,
      now,
      random: deps.random ?? Math.random
    })
    this.#commits = new CommitTracker({
      logger: this.#logger,
      commitIntervalMs: settings.commitIntervalMs,
      run: this.#run,
      consumer: () => this.#consumer,
      beforeCommit: () => { this.#scheduler.sweep(this.#commits.partitions.values()) },
      onCommit: () => { this.#metrics?.inFlight.set({ pipeline: this.name }, this.#commits.buffered) },
      onBacklogShrunk: () => { this.#intake?.applyBackpressure() },
      pausedAll: () => this.#intake?.pausedAll === true
    })
    this.#scheduler = new LaneScheduler(this.#concurrency, this.#logger, this.#run, attempts, this.#commits)
  }

  deadLetterTopicOf (topic: string): string {
    return this.#deadLetters.topicOf(topic)
  }

  deadLetterTopics (): string[] {
    return [...new Set(this.topics.map(t => this.deadLetterTopicOf(t)))]
  }

  async start (): Promise<void> {
    if (this.#state !== 'new') throw new VigilError('VGL_PIPELINE_STOPPED', `pipeline ${this.name} was already started`, { pipeline: this.name })
    this.#state = 'running'
    for (const topic of this.deadLetterTopics()) await this.#deadLetters.ensureTopic(topic)
    const consumer = this.#log.consumer({
      group: this.group,
      topics: [...this.topics],
      autoOffsetReset: this.#autoOffsetReset,
      onAssign: (partitions) => { this.#onAssign(partitions) },
      onRevoke: (partitions) => this.#onRevoke(partitions)
    })
    this.#consumer = consumer
    this.#intake = new ConsumerLoop({
      consumer,
      settings: this.#settings,
      logger: this.#logger,
      run: this.#run,
      commits: this.#commits,
      scheduler: this.#scheduler,
      sleeper: this.#sleeper,
      onBuffered: (buffered) => { this.#metrics?.inFlight.set({ pipeline: this.name }, buffered) }
    })
    this.#metrics?.sources.add(this.#lagSource)
    this.#loop = this.#intake.run()
    this.#logger.info({ topics: this.topics, group: this.group, concurrency: this.#concurrency, deadLetterTopics: this.deadLetterTopics() }, 'pipeline started')
  }

  stop (): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  readiness (): string | null {
    if (this.#state === 'new') return 'not started'
    if (this.#state !== 'running') return 'stopped'
    const pollProblem = this.#intake?.pollProblem
    if (pollProblem !== undefined) return `cannot poll: ${pollProblem}`
    const blockedSince = this.#telemetry.blockedSince
    if (blockedSince !== undefined) return `blocked since ${new Date(blockedSince).toISOString()}: ${this.#telemetry.blockedReason ?? ''}`
    return null
  }

  stats (): PipelineStats {
    const partitions = this.#commits.partitions
    return {
      buffered: this.#commits.buffered,
      running: this.#scheduler.running,
      waiting: this.#scheduler.waiting,
      lanes: [...partitions.values()].reduce((n, ps) => n + ps.lanes.size + (ps.unkeyed === undefined ? 0 : 1), 0),
      partitions: partitions.size,
      ...this.#telemetry.counts
    }
  }

  // ---- rebalance and stop -----------------------------------------------------------------------

  #onAssign (partitions: TopicPartition[]): void {
    for (const tp of partitions) this.#commits.partitionState(tp.topic, tp.partition)
    this.#logger.info({ partitions: partitions.map(p => `${p.topic}:${p.partition}`) }, 'partitions assigned')
  }

  async #onRevoke (partitions: TopicPartition[]): Promise<void> {
    const states = partitions.flatMap(tp => {
      const ps = this.#commits.partitions.get(tpKey(tp.topic, tp.partition))
      return ps === undefined ? [] : [ps]
    })
    for (const ps of states) ps.revoked = true
    await this.#finishLanes(states.flatMap(lanesOf))
    // Commit what finished, while this member still owns the partitions (bounded: a log that is
    // closing under us must not hang the rebalance).
    await this.#commits.commitWithin(this.#settings.stopTimeoutMs)
    this.#commits.forget(states)
    this.#intake?.applyBackpressure()
    this.#logger.info({ partitions: partitions.map(p => `${p.topic}:${p.partition}`) }, 'partitions revoked')
  }

  #finishLanes (lanes: Parameters<LaneScheduler['finish']>[0]): Promise<void> {
    return this.#scheduler.finish(lanes, this.#settings.stopTimeoutMs, () => new VigilError('VGL_PIPELINE_STOPPED', `pipeline ${this.name} is stopping`))
  }

  async #stop (): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'stopped'
      return
    }
    this.#state = 'stopping'
    this.#run.draining = true
    this.#intake?.wake()
    this.#sleeper.wakeAll()
    await this.#loop
    await this.#finishLanes([...this.#commits.partitions.values()].flatMap(lanesOf))
    this.#commits.cancelScheduledCommit()
    await this.#commits.commitWithin(this.#settings.stopTimeoutMs)
    this.#metrics?.sources.delete(this.#lagSource)
    try {
      await this.#consumer?.close()
    } finally {
      this.#state = 'stopped'
      this.#logger.info(this.#telemetry.counts, 'pipeline stopped')
    }
  }
}
