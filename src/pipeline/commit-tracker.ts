/**
 * Commit tracking: the partitions this member owns, each with its polled records in offset
 * order. A record's offset becomes committable only when it and every earlier record of its
 * partition have finished (the contiguous prefix); commits go out every commitIntervalMs, one
 * commit call at a time, and a commit lost to a rebalance is dropped (the new owner redelivers).
 */
import type { Consumer, TopicPartitionOffset } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { isVigilError } from '../errors.ts'
import { newPartitionState, tpKey, type PartitionState, type RunFlags, type Slot } from './lanes.ts'

export interface CommitTrackerDeps {
  logger: Logger
  commitIntervalMs: number
  run: RunFlags
  consumer: () => Consumer | undefined
  /** Runs before each timed commit (the scheduler sweeps idle lanes then). */
  beforeCommit: () => void
  /** After a record finished, while its partition or the whole consumer is paused for backlog. */
  onBacklogShrunk: () => void
  /** At every commit (the in-flight gauge is set then). */
  onCommit: () => void
  /** Whether every partition is paused (the buffer is full). */
  pausedAll: () => boolean
}

export class CommitTracker {
  readonly partitions = new Map<string, PartitionState>()
  /** Records polled and not yet finished, over every partition. */
  buffered = 0
  readonly #d: CommitTrackerDeps
  #commitTimer: NodeJS.Timeout | undefined
  #commitChain: Promise<void> = Promise.resolve()

  constructor (deps: CommitTrackerDeps) {
    this.#d = deps
  }

  /** The state of an owned partition; a new one when it was never seen or is being revoked. */
  partitionState (topic: string, partition: number): PartitionState {
    const key = tpKey(topic, partition)
    let ps = this.partitions.get(key)
    if (ps === undefined || ps.revoked) {
      ps = newPartitionState(topic, partition)
      this.partitions.set(key, ps)
    }
    return ps
  }

  /** A record finished (succeeded or durably dead-lettered): the committable prefix may advance. */
  complete (ps: PartitionState, slot: Slot): void {
    slot.done = true
    if (ps.gone) return
    this.buffered--
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
      this.scheduleCommit()
    }
    if (ps.pausedForBacklog || this.#d.pausedAll()) this.#d.onBacklogShrunk()
  }

  scheduleCommit (): void {
    if (this.#commitTimer !== undefined) return
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined
      this.#d.beforeCommit()
      this.commit().catch(() => {})
    }, this.#d.commitIntervalMs)
  }

  cancelScheduledCommit (): void {
    clearTimeout(this.#commitTimer)
    this.#commitTimer = undefined
  }

  /** Commits every partition whose contiguous prefix advanced; serialised, one commit call at a time. */
  commit (): Promise<void> {
    this.#d.onCommit()
    const run = this.#commitChain.then(() => this.#commitNow())
    this.#commitChain = run.catch(() => {})
    return run
  }

  /** commit(), given up (with a warning) after `ms`: a closing log must not hang a rebalance or a stop. */
  async commitWithin (ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      this.commit().then(() => false, () => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), Math.max(ms, 1)) })
    ])
    clearTimeout(timer)
    if (timedOut) this.#d.logger.warn({ timeoutMs: ms }, 'offset commit did not finish in time; uncommitted records will be redelivered')
  }

  /** Forgets revoked partitions once what finished is committed; their unfinished records leave the buffer. */
  forget (states: readonly PartitionState[]): void {
    for (const ps of states) {
      ps.gone = true
      for (let i = ps.head; i < ps.queue.length; i++) if (!(ps.queue[i] as Slot).done) this.buffered--
      ps.lanes.clear()
      ps.unkeyed = undefined
      ps.queue = []
      if (this.partitions.get(ps.key) === ps) this.partitions.delete(ps.key)
    }
  }

  async #commitNow (): Promise<void> {
    const consumer = this.#d.consumer()
    if (consumer === undefined) return
    const dirty = [...this.partitions.values()].filter(ps => ps.dirty)
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
          this.#d.logger.warn({ code: error.code }, 'some partitions were reassigned before their commit; the new owner redelivers them')
          if (offsets.length === 0) return
          continue
        }
        if (isVigilError(error, 'VGL_LOG_NOT_ASSIGNED')) return
        for (const ps of dirty) if (!ps.revoked) ps.dirty = true
        this.#d.logger.error({ err: error }, 'offset commit failed; retrying at the next commit')
        if (!this.#d.run.draining) this.scheduleCommit()
        throw error
      }
    }
  }
}
