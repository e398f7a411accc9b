/**
 * The consumer loop: polls the group's consumer for as many records as the buffer has room for,
 * hands each record of an owned partition to its lane, and keeps memory bounded by pausing
 * partitions (a partition with maxUncommittedPerPartition records behind an unfinished one, or
 * every partition when maxBufferedRecords are buffered). Paused partitions are still polled
 * around, so the member stays in its group. Poll failures are retried with backoff and shown by
 * /readyz.
 */
import type { Consumer, LogRecord, TopicPartition } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { isVigilError } from '../errors.ts'
import type { CommitTracker } from './commit-tracker.ts'
import type { PipelineSettings } from './definition.ts'
import type { LaneScheduler } from './lane-scheduler.ts'
import { newSlot, tpKey, type PartitionState, type RunFlags } from './lanes.ts'
import type { StoppableSleep } from './stoppable-sleep.ts'

export interface ConsumerLoopDeps {
  consumer: Consumer
  settings: Readonly<PipelineSettings>
  logger: Logger
  run: RunFlags
  commits: CommitTracker
  scheduler: LaneScheduler
  sleeper: StoppableSleep
  /** After each poll that brought records, with the number buffered (the in-flight gauge). */
  onBuffered: (buffered: number) => void
}

export class ConsumerLoop {
  readonly #d: ConsumerLoopDeps
  #wake: AbortController | undefined
  #pausedAll = false
  #pollProblem: string | undefined

  constructor (deps: ConsumerLoopDeps) {
    this.#d = deps
  }

  /** Why the last poll failed, while polls keep failing. */
  get pollProblem (): string | undefined { return this.#pollProblem }
  get pausedAll (): boolean { return this.#pausedAll }

  /** Polls until stop() sets the run draining (or the log closes). */
  async run (): Promise<void> {
    const { consumer, settings, commits, scheduler, run } = this.#d
    let failures = 0
    while (!run.draining) {
      const wake = new AbortController()
      this.#wake = wake
      let records: LogRecord[]
      try {
        const room = settings.maxBufferedRecords - commits.buffered
        records = await consumer.poll({
          maxRecords: Math.max(1, Math.min(settings.pollMaxRecords, room)),
          timeoutMs: settings.pollTimeoutMs,
          signal: wake.signal
        })
        failures = 0
        this.#pollProblem = undefined
      } catch (error) {
        if (run.draining || isVigilError(error, 'VGL_LOG_CLOSED')) break
        failures++
        this.#pollProblem = isVigilError(error) ? `${error.code}: ${error.message}` : String(error)
        const waitMs = Math.min(5000, 100 * 2 ** Math.min(failures, 6))
        this.#d.logger.warn({ code: isVigilError(error) ? error.code : undefined, err: error, retryInMs: waitMs }, 'poll failed; retrying')
        await this.#d.sleeper.sleep(waitMs)
        continue
      }
      if (records.length > 0) {
        this.#enqueue(records)
        scheduler.pump()
      }
    }
  }

  /** Cuts the poll in progress short (to resume paused partitions, or to stop). */
  wake (): void {
    this.#wake?.abort()
  }

  /** Pauses partitions whose backlog or the whole buffer grew past its limit; resumes them at half. */
  applyBackpressure (): void {
    const { consumer, settings, commits } = this.#d
    const limit = settings.maxUncommittedPerPartition
    const toPause: TopicPartition[] = []
    const toResume: TopicPartition[] = []
    for (const ps of commits.partitions.values()) {
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
    const max = settings.maxBufferedRecords
    if (!this.#pausedAll && commits.buffered >= max) {
      this.#pausedAll = true
      consumer.pause(consumer.assignment())
      toResume.length = 0
      toPause.length = 0
    } else if (this.#pausedAll && commits.buffered < max / 2) {
      this.#pausedAll = false
      const assigned = consumer.assignment()
      consumer.resume(assigned.filter(tp => commits.partitions.get(tpKey(tp.topic, tp.partition))?.pausedForBacklog !== true))
      this.#wake?.abort()
    }
    if (toPause.length > 0) consumer.pause(toPause)
    if (toResume.length > 0) {
      consumer.resume(toResume)
      this.#wake?.abort()
    }
  }

  #enqueue (records: LogRecord[]): void {
    const { consumer, commits, scheduler } = this.#d
    let lastPs: PartitionState | undefined
    for (const record of records) {
      let ps = lastPs
      if (ps === undefined || ps.topic !== record.topic || ps.partition !== record.partition) {
        ps = commits.partitions.get(tpKey(record.topic, record.partition))
        if (ps === undefined || ps.revoked) {
          // A record of a partition this member does not own (any more): the owner reads it.
          const owned = consumer.assignment().some(tp => tp.topic === record.topic && tp.partition === record.partition)
          if (!owned) continue
          ps = commits.partitionState(record.topic, record.partition)
        }
        lastPs = ps
      }
      const slot = newSlot(record)
      ps.queue.push(slot)
      scheduler.add(ps, slot)
      commits.buffered++
    }
    this.#d.onBuffered(commits.buffered)
    this.applyBackpressure()
  }
}
