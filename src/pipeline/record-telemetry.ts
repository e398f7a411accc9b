/**
 * What the runtime tells about its records: counters (the pipeline's totals and the Prometheus
 * series per topic and event type), whether it is blocked behind a failing dependency (for
 * /readyz), and the "record processed" log lines.
 */
import type { Logger } from '../logger.ts'
import type { VigilError } from '../errors.ts'
import { redactSecrets } from './dead-letter.ts'
import type { Slot } from './lanes.ts'
import { RecordStats, type PipelineMetricSet } from './metrics.ts'

/** Series per (topic, event type) kept at most; beyond that counters are made per record and not cached. */
const maxCachedStats = 10_000

export class RecordTelemetry {
  readonly counts = { succeeded: 0, deadLettered: 0, retried: 0 }
  /** Since when a blocking failure (a dependency down) holds records back; undefined when not blocked. */
  blockedSince: number | undefined
  blockedReason: string | undefined
  readonly infoEnabled: boolean
  readonly #pipeline: string
  readonly #logger: Logger
  readonly #metrics: PipelineMetricSet | undefined
  readonly #stats = new Map<string, RecordStats>()

  constructor (pipeline: string, logger: Logger, metrics: PipelineMetricSet | undefined) {
    this.#pipeline = pipeline
    this.#logger = logger
    this.#metrics = metrics
    this.infoEnabled = logger.isLevelEnabled('info')
  }

  statsOf (topic: string, eventType: string | undefined): RecordStats {
    const key = eventType === undefined ? topic : `${topic}\u0000${eventType}`
    let stats = this.#stats.get(key)
    if (stats === undefined) {
      const type = eventType ?? '(unknown)'
      stats = this.#metrics?.statsFor(this.#pipeline, topic, type) ?? new RecordStats({ pipeline: this.#pipeline, topic, event_type: type })
      if (this.#stats.size < maxCachedStats) this.#stats.set(key, stats)
    }
    return stats
  }

  /** A record's series, found once and kept on its slot. */
  statsOfSlot (slot: Slot): RecordStats {
    return slot.stats ?? this.statsOf(slot.record.topic, slot.eventType ?? slot.route)
  }

  unblock (): void {
    if (this.blockedSince !== undefined) {
      this.blockedSince = undefined
      this.blockedReason = undefined
    }
  }

  block (now: number, reason: string): void {
    this.blockedSince ??= now
    this.blockedReason = reason
  }

  logProcessed (slot: Slot, outcome: string, durationMs: number): void {
    if (!this.#logger.isLevelEnabled('info')) return
    this.#logger.info({
      ...recordLogFields(slot),
      outcome,
      durationMs
    }, 'record processed')
  }
}

/** What every log line about one record says: which record, which event, which attempt. */
export function recordLogFields (slot: Slot): Record<string, unknown> {
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

/** An error as a log field, with secrets redacted from its message and stack. */
export function loggableError (error: VigilError, secrets: readonly string[]): Record<string, unknown> {
  const cause = error.cause instanceof Error ? error.cause : undefined
  return {
    type: cause?.name ?? error.name,
    code: error.code,
    message: redactSecrets(error.message, secrets),
    stack: redactSecrets((cause ?? error).stack ?? '', secrets)
  }
}
