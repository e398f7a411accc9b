/**
 * Background retention and compaction of the embedded log, every maintenanceIntervalMs, on the
 * writer thread (writer-thread.ts): each step is one small transaction (at most `chunkRecords`
 * records) and the loop yields between steps, so a group commit waits for one step at most.
 *
 * - `delete` topics: records older than retentionMs and, per partition, the oldest records while
 *   the partition is larger than retentionBytes are deleted from the head (offsets never change).
 * - `compact` topics: for each key only the latest record is kept. A tombstone (null value) is
 *   kept for retentionMs after the compaction that saw it (Kafka's delete.retention.ms), so
 *   consumers that lag less than that still see the delete; -1 keeps tombstones forever.
 *   Records without a key are never compacted away.
 * - The records of deleted topics are removed.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Store } from './store.ts'

const chunkRecords = 2000

export class Maintenance {
  readonly #store: Store
  readonly #intervalMs: number
  readonly #onError: (error: unknown) => void
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = false

  /** `onError` hears of a failed pass (it is retried at the next interval). */
  constructor (store: Store, intervalMs: number, onError: (error: unknown) => void) {
    this.#store = store
    this.#intervalMs = intervalMs
    this.#onError = onError
  }

  start (): void {
    this.#timer = setInterval(() => { this.run().catch(() => {}) }, this.#intervalMs)
    this.#timer.unref()
  }

  /** Runs one pass now (or joins the one in progress). */
  run (): Promise<void> {
    this.#running ??= this.#pass().finally(() => { this.#running = undefined })
    return this.#running
  }

  /** Stops the timer and waits for the pass in progress to end (after its current step). */
  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    await this.#running
  }

  async #pass (): Promise<void> {
    try {
      const store = this.#store
      for (const { tp, config } of store.maintenanceTargets()) {
        const now = Date.now()
        if (config.cleanupPolicy === 'delete') {
          if (config.retentionMs >= 0) await this.#repeat(() => store.deleteOlderThan(tp, now - config.retentionMs, chunkRecords))
          if (config.retentionBytes >= 0) await this.#repeat(() => store.deleteOverSize(tp, config.retentionBytes, chunkRecords))
        } else {
          await this.#repeat(() => store.compact(tp, chunkRecords))
          if (config.retentionMs >= 0) await this.#repeat(() => store.purgeTombstones(tp, now - config.retentionMs, chunkRecords))
        }
        if (this.#stopped) return
      }
      await this.#repeat(() => store.purgeDropped(chunkRecords))
    } catch (error) {
      // Retried at the next interval (e.g. another process held the write lock too long).
      this.#onError(error)
    }
  }

  /** Runs `step` until it does less than a full chunk, yielding in between. */
  async #repeat (step: () => number): Promise<void> {
    while (!this.#stopped) {
      const done = step()
      await yieldToLoop()
      if (done < chunkRecords) return
    }
  }
}
