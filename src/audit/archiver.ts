/**
 * The archiver: one consumer group on the audit topic. It batches each partition's records by
 * size (flushBatchSize) or age (flushIntervalMs), writes them durably to every store, and only
 * then commits the partition's offset. A failed write is retried with exponential backoff and
 * jitter for as long as it takes; nothing is dropped (CAIPE drops the batch).
 *
 * Crash safety. Before a batch's files are written, the store gets the batch's intent
 * (`_vigil/state/<topic>/<partition>.json`: offsets, file names, chain head before and after).
 * At the next start, or when a partition moves to this process, the intent is checked: if all
 * its files exist the batch is done (records up to its last offset are skipped when the log hands
 * them out again), otherwise its files are deleted and it is written again. So after `kill -9`
 * between write and commit nothing is stored twice, and the chain continues from its real head.
 */
import type { Consumer, Log, LogRecord, TopicPartition } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { isVigilError } from '../errors.ts'
import { RecordBatch } from './batch-encoder.ts'
import { EncodePool } from './encode-pool.ts'
import { genesisHash } from './integrity.ts'
import type { AuditMetrics } from './metrics.ts'
import { isoZ } from './record.ts'
import { fileHex, mapLimited, type ArchiveStore } from './store.ts'
import { checkpointKey, signCheckpoint, type CheckpointPartition, type SigningKey } from './checkpoint.ts'

export interface ArchiverOptions {
  log: Log
  topic: string
  group: string
  stores: ArchiveStore[]
  flushBatchSize: number
  flushIntervalMs: number
  retryInitialDelayMs: number
  retryMaxDelayMs: number
  checkpointIntervalMs: number
  /** Threads that encode batches (0: on the event loop). */
  encodeThreads: number
  signingKey: SigningKey | undefined
  logger: Logger
  metrics: AuditMetrics
}

/** CAIPE's fixed last_error text: details go to the logs only. */
export const flushErrorText = 'audit flush failed; see audit-service logs'

export interface ArchiverStats {
  running: boolean
  flushedEvents: number
  failedFlushes: number
  lastFlushAt: string | null
  lastError: string | null
  /** Per partition: offsets below this are archived in every store (by this process). */
  archived: Map<number, number>
}

interface BatchIntent {
  topic: string
  partition: number
  first_offset: number
  last_offset: number
  files: string[]
  head_before: string
  head_after: string
  written_at: string
}

interface PartitionState {
  /** Offsets below this are in the store. */
  next: number
  head: string
  dirty: boolean
}

/** Batches being written at once (across partitions; one partition's are written in order). */
const maxInFlight = 4
/** Records one poll reads: a poll is a synchronous read of the log, kept short for the event loop. */
const pollRecords = 1000
/** Longest a poll waits for pollRecords records (ms); also how often a due flush is noticed. */
const pollWaitMs = 100

export function statePath (topic: string, partition: number): string {
  return `state/${topic}/${partition}.json`
}

export class Archiver {
  readonly stats: ArchiverStats = { running: false, flushedEvents: 0, failedFlushes: 0, lastFlushAt: null, lastError: null, archived: new Map() }
  readonly #o: ArchiverOptions
  #consumer: Consumer | undefined
  #loop: Promise<void> | undefined
  #stopping = false
  readonly #stopController = new AbortController()
  readonly #buffers = new Map<number, RecordBatch>()
  readonly #firstAt = new Map<number, number>()
  /** Per store, per partition. */
  readonly #states: Array<Map<number, PartitionState>>
  /** Per partition, the last scheduled batch write: batches of one partition are written in order. */
  readonly #tails = new Map<number, Promise<boolean>>()
  #inFlight = 0
  #checkpointTimer: NodeJS.Timeout | undefined
  #checkpointing: Promise<void> = Promise.resolve()
  #pool: EncodePool | undefined

  constructor (options: ArchiverOptions) {
    this.#o = options
    this.#states = options.stores.map(() => new Map())
  }

  async start (): Promise<void> {
    const o = this.#o
    this.#pool = new EncodePool(o.encodeThreads)
    this.#consumer = o.log.consumer({
      group: o.group,
      topics: [o.topic],
      autoOffsetReset: 'earliest',
      onAssign: (partitions) => { this.#forget(partitions) },
      onRevoke: async (partitions) => {
        // Finish and commit what we hold for these partitions while we still own them.
        for (const { partition } of partitions) {
          if (await this.#tails.get(partition) !== false) await this.#flushPartition(partition, false)
        }
        this.#forget(partitions)
      }
    })
    this.stats.running = true
    this.#loop = this.#run().catch((error: unknown) => {
      this.stats.running = false
      o.logger.error({ err: error }, 'audit archiver stopped on an unexpected error')
    })
    if (o.signingKey !== undefined) {
      this.#checkpointTimer = setInterval(() => { this.#checkpointing = this.checkpoint().catch(error => o.logger.warn({ err: error }, 'audit checkpoint failed')) }, o.checkpointIntervalMs)
      this.#checkpointTimer.unref()
    }
  }

  #forget (partitions: TopicPartition[]): void {
    for (const { partition } of partitions) {
      for (const states of this.#states) states.delete(partition)
      this.#buffers.delete(partition)
      this.#firstAt.delete(partition)
    }
  }

  async #run (): Promise<void> {
    const consumer = this.#consumer as Consumer
    const o = this.#o
    while (!this.#stopping) {
      let records: LogRecord[] = []
      try {
        // Reads of at least pollRecords (or what came within the poll's wait): fewer, larger reads
        // leave the event loop to HTTP requests in between.
        const maxRecords = Math.min(o.flushBatchSize, pollRecords)
        records = await consumer.poll({ maxRecords, minRecords: maxRecords, timeoutMs: Math.min(o.flushIntervalMs, pollWaitMs), signal: this.#stopController.signal })
      } catch (error) {
        if (this.#stopping) break
        o.logger.warn({ err: error }, 'audit archiver poll failed; retrying')
        await sleep(500, this.#stopController.signal)
        continue
      }
      const now = Date.now()
      for (const record of records) {
        let buffer = this.#buffers.get(record.partition)
        if (buffer === undefined) {
          buffer = new RecordBatch(Math.min(o.flushBatchSize, pollRecords))
          this.#buffers.set(record.partition, buffer)
          this.#firstAt.set(record.partition, now)
        }
        buffer.push(record)
      }
      // Due batches are written in the background, in order per partition, while the next ones
      // are read: one batch's gzip and fsync overlap another's hashing. At most maxInFlight.
      for (const [partition, buffer] of this.#buffers) {
        if (buffer.length >= o.flushBatchSize || Date.now() - (this.#firstAt.get(partition) ?? now) >= o.flushIntervalMs) this.#schedule(partition)
      }
      while (this.#inFlight >= maxInFlight && !this.#stopping) await Promise.race(this.#tails.values())
    }
    await Promise.all(this.#tails.values())
  }

  #schedule (partition: number): void {
    const batch = this.#buffers.get(partition)
    if (batch === undefined || batch.length === 0) return
    this.#buffers.delete(partition)
    this.#firstAt.delete(partition)
    this.#inFlight++
    const previous = this.#tails.get(partition) ?? Promise.resolve(true)
    // A batch that was not written (stopping) stops the ones behind it: committing them would skip it.
    const next = previous.then(ok => ok && this.#writeBatch(partition, batch, true)).catch((error: unknown) => {
      this.#o.logger.error({ err: error, partition }, 'audit batch failed unexpectedly; it stays on the log')
      return false
    }).finally(() => {
      this.#inFlight--
      if (this.#tails.get(partition) === next) this.#tails.delete(partition)
    })
    this.#tails.set(partition, next)
  }

  /** Writes a partition's buffered records to every store, then commits. */
  async #flushPartition (partition: number, retryForever: boolean): Promise<boolean> {
    const buffer = this.#buffers.get(partition)
    if (buffer === undefined || buffer.length === 0) return true
    this.#buffers.delete(partition)
    this.#firstAt.delete(partition)
    return await this.#writeBatch(partition, buffer, retryForever)
  }

  /** Writes one batch to every store, then commits; false when it gave up (stopping), leaving it on the log. */
  async #writeBatch (partition: number, buffer: RecordBatch, retryForever: boolean): Promise<boolean> {
    try {
      return await this.#writeAndCommit(partition, buffer, retryForever)
    } finally {
      buffer.release()
    }
  }

  async #writeAndCommit (partition: number, buffer: RecordBatch, retryForever: boolean): Promise<boolean> {
    const o = this.#o
    const firstOffset = buffer.offsetAt(0)
    const lastOffset = buffer.offsetAt(buffer.length - 1)
    for (let s = 0; s < o.stores.length; s++) {
      const store = o.stores[s] as ArchiveStore
      for (let attempt = 1; ; attempt++) {
        const started = process.hrtime.bigint()
        try {
          const written = await this.#archive(s, store, partition, buffer)
          if (written > 0) {
            o.metrics.flushes.inc({ store: store.kind })
            o.metrics.flushedRecords.inc({ store: store.kind }, written)
            o.metrics.flushDuration.observe({ store: store.kind }, Number(process.hrtime.bigint() - started) / 1e9)
            if (s === 0) this.stats.flushedEvents += written
            this.stats.lastFlushAt = isoZ(new Date())
          }
          break
        } catch (error) {
          this.stats.failedFlushes++
          this.stats.lastError = flushErrorText
          o.metrics.flushFailures.inc({ store: store.kind })
          // The state is unknown after a failure: read it again from the store before retrying.
          this.#states[s]?.delete(partition)
          const waitMs = Math.min(o.retryMaxDelayMs, o.retryInitialDelayMs * 2 ** Math.min(attempt - 1, 20)) * (0.5 + Math.random() / 2)
          o.logger.error({ err: error, store: store.kind, partition, firstOffset, lastOffset, attempt, retryInMs: Math.round(waitMs) },
            `audit batch write failed; retrying (nothing is dropped): ${isVigilError(error) ? error.message : (error as Error).message}`)
          if (!retryForever || this.#stopping) return false // left uncommitted: the records stay on the log
          await sleep(waitMs, this.#stopController.signal)
          if (this.#stopping) return false
        }
      }
    }
    try {
      await (this.#consumer as Consumer).commit([{ topic: o.topic, partition, offset: lastOffset + 1 }])
      this.stats.archived.set(partition, lastOffset + 1)
      return true
    } catch (error) {
      // Reassigned meanwhile: the new owner reads from the last commit and skips what is stored.
      this.#forget([{ topic: o.topic, partition }])
      o.logger.warn({ err: error, partition }, 'audit archiver could not commit (partition reassigned?); the new owner skips what is already stored')
      return false
    }
  }

  /** Writes the records this store lacks; returns how many. */
  async #archive (s: number, store: ArchiveStore, partition: number, batch: RecordBatch): Promise<number> {
    const o = this.#o
    const state = await this.#stateOf(s, store, partition)
    let from = 0
    while (from < batch.length && batch.offsetAt(from) < state.next) from++
    if (from === batch.length) return 0
    // Chained, grouped by each record's own ts and encoded on an encoder thread.
    const encoded = await (this.#pool as EncodePool).encode({
      topic: o.topic, partition, head: state.head, records: batch.packed(from), bucketMs: store.bucketMs, format: store.format, createdAtMs: Date.now()
    })
    const files = encoded.files.map(f => ({ name: store.fileName(f.bucketTimeMs, f.newestTsMs, fileHex(o.topic, partition, f.firstOffset)), chunks: f.chunks }))
    const intent: BatchIntent = {
      topic: o.topic,
      partition,
      first_offset: batch.offsetAt(from),
      last_offset: batch.offsetAt(batch.length - 1),
      files: files.map(f => f.name),
      head_before: state.head,
      head_after: encoded.head,
      written_at: new Date().toISOString()
    }
    await store.writeDoc(statePath(o.topic, partition), intent)
    state.next = Number.NaN // unknown until the files are written
    await mapLimited(files, 4, async f => store.writeEncoded(f.name, f.chunks))
    state.next = intent.last_offset + 1
    state.head = encoded.head
    state.dirty = true
    return batch.length - from
  }

  async #stateOf (s: number, store: ArchiveStore, partition: number): Promise<PartitionState> {
    const states = this.#states[s] as Map<number, PartitionState>
    const known = states.get(partition)
    if (known !== undefined && !Number.isNaN(known.next)) return known
    const state = await recoverPartition(store, this.#o.topic, partition, this.#o.logger)
    states.set(partition, state)
    return state
  }

  /** Signs and stores each store's chain heads (only partitions that moved since the last one). */
  async checkpoint (): Promise<void> {
    const o = this.#o
    if (o.signingKey === undefined) return
    for (let s = 0; s < o.stores.length; s++) {
      const store = o.stores[s] as ArchiveStore
      const partitions: CheckpointPartition[] = []
      for (const [partition, state] of this.#states[s] ?? []) {
        if (!state.dirty || Number.isNaN(state.next)) continue
        partitions.push({ partition, next_offset: state.next, head: state.head })
      }
      if (partitions.length === 0) continue
      const now = new Date()
      const signed = signCheckpoint({ v: 1, topic: o.topic, store: store.kind, created_at: now.toISOString(), key_id: o.signingKey.keyId, partitions: partitions.sort((a, b) => a.partition - b.partition) }, o.signingKey)
      await store.writeDoc(checkpointKey(o.topic, now, o.signingKey.keyId), signed)
      for (const p of partitions) {
        const state = this.#states[s]?.get(p.partition)
        if (state !== undefined && state.next === p.next_offset) state.dirty = false
      }
      o.metrics.checkpoints.inc({ store: store.kind })
    }
  }

  /** Flushes what is buffered (if the stores take it), commits, writes a last checkpoint, leaves the group. */
  async stop (): Promise<void> {
    if (this.#consumer === undefined) return
    this.#stopping = true
    clearInterval(this.#checkpointTimer)
    this.#stopController.abort()
    await this.#loop
    const settled = new Map(await Promise.all([...this.#tails].map(async ([p, tail]) => [p, await tail] as const)))
    for (const partition of [...this.#buffers.keys()]) if (settled.get(partition) !== false) await this.#flushPartition(partition, false)
    await this.#checkpointing
    await this.checkpoint().catch(error => this.#o.logger.warn({ err: error }, 'final audit checkpoint failed'))
    await this.#consumer.close()
    this.#consumer = undefined
    await this.#pool?.close()
    this.stats.running = false
  }
}

/** Reads a partition's state from a store, finishing or undoing an interrupted batch. */
export async function recoverPartition (store: ArchiveStore, topic: string, partition: number, logger?: Logger): Promise<PartitionState> {
  const intent = await store.readDoc<BatchIntent>(statePath(topic, partition))
  if (intent === undefined) return { next: 0, head: genesisHash, dirty: false }
  const present = await Promise.all(intent.files.map(name => store.exists(name)))
  if (present.every(Boolean)) return { next: intent.last_offset + 1, head: intent.head_after, dirty: false }
  // Interrupted between intent and the last file: remove what was written, write the batch again.
  const partial = intent.files.filter((_, i) => present[i])
  for (const name of partial) await store.deleteFile(name)
  logger?.warn({ store: store.kind, partition, firstOffset: intent.first_offset, lastOffset: intent.last_offset, removed: partial },
    'audit archiver found an interrupted batch; its partial files were removed and it is written again')
  return { next: intent.first_offset, head: intent.head_before, dirty: false }
}

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
