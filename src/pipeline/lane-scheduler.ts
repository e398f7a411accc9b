/**
 * Per-key scheduling: records go into lanes (one per (topic, partition, key), or per (topic,
 * partition) for unkeyed records); a lane runs one record at a time, in offset order, and up to
 * `concurrency` lanes run at once. A lane whose record must be retried waits its backoff out of
 * the running set (holding its key, not a concurrency slot), then queues again.
 */
import type { Logger } from '../logger.ts'
import type { CommitTracker } from './commit-tracker.ts'
import { ABANDON, DONE, RETRY, newLane, type Lane, type PartitionState, type RunFlags, type Slot } from './lanes.ts'
import type { RecordAttempts } from './record-attempt.ts'

export class LaneScheduler {
  readonly #concurrency: number
  readonly #logger: Logger
  readonly #run: RunFlags
  readonly #attempts: RecordAttempts
  readonly #commits: CommitTracker
  readonly #ready: Lane[] = []
  #readyHead = 0
  #running = 0
  #waiting = 0
  #pumping = false

  constructor (concurrency: number, logger: Logger, run: RunFlags, attempts: RecordAttempts, commits: CommitTracker) {
    this.#concurrency = concurrency
    this.#logger = logger
    this.#run = run
    this.#attempts = attempts
    this.#commits = commits
  }

  get running (): number { return this.#running }
  get waiting (): number { return this.#waiting }

  /** Puts a polled record into its key's lane; the lane queues when it was idle. */
  add (ps: PartitionState, slot: Slot): void {
    const key = slot.record.key
    let lane: Lane | undefined
    if (key === null) {
      lane = ps.unkeyed ??= newLane(ps, '')
    } else {
      const id = key.toString('latin1')
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
  }

  /** Starts ready lanes while there are free slots. Iterative: lanes that finish synchronously free their slot for the next turn of the loop. */
  pump (): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#running < this.#concurrency && this.#readyHead < this.#ready.length && !this.#run.draining) {
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

  /** Forgets idle, empty lanes (keys not seen lately), so the lane maps stay as small as the traffic. */
  sweep (partitions: Iterable<PartitionState>): void {
    for (const ps of partitions) {
      if (ps.lanes.size < 256) continue
      for (const [id, lane] of ps.lanes) if (lane.state === 'idle' && lane.head >= lane.items.length) ps.lanes.delete(id)
    }
  }

  /**
   * Cancels lanes waiting in backoff and waits for running ones, up to `timeoutMs`; then aborts
   * their signals with `abortReason` (their records are redelivered).
   */
  async finish (lanes: Lane[], timeoutMs: number, abortReason: () => Error): Promise<void> {
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
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), timeoutMs) })
    ])
    clearTimeout(timer)
    if (timedOut) {
      this.#logger.warn({ lanes: running.length, stopTimeoutMs: timeoutMs }, 'in-flight records did not finish in time; abandoning them (they will be redelivered)')
      for (const lane of lanes) lane.controller?.abort(abortReason())
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
        if (lane.ps.revoked || this.#run.draining) { this.#release(lane, 'idle'); return }
        const slot = lane.items[lane.head] as Slot
        const outcome = this.#attempts.attempt(lane, slot)
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
    this.#commits.complete(lane.ps, slot)
  }

  /** Only a bug in the runtime itself gets here; the lane stops and its records are redelivered. */
  #laneFailed (lane: Lane, error: unknown): void {
    this.#logger.error({ err: error, lane: lane.id }, 'pipeline lane failed')
    if (lane.state === 'running') this.#release(lane, 'idle')
  }

  /** The lane leaves its slot: to wait out its retry delay, or idle (requeued when it still has records). */
  #release (lane: Lane, next: 'waiting' | 'idle'): void {
    this.#running--
    if (next === 'waiting' && !lane.ps.revoked && !this.#run.draining) {
      lane.state = 'waiting'
      this.#waiting++
      lane.timer = setTimeout(() => {
        lane.timer = undefined
        this.#waiting--
        if (lane.state !== 'waiting') return
        lane.state = 'ready'
        this.#ready.push(lane)
        this.pump()
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
    this.pump()
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
    if (lane.head < lane.items.length && !lane.ps.revoked && !this.#run.draining && lane.state === 'idle') {
      lane.state = 'ready'
      this.#ready.push(lane)
    }
  }
}
