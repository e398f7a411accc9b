/**
 * Writes a record that cannot succeed to its dead-letter topic (or, after maxRedrives redrives,
 * to the parking topic), durably, before the record counts as finished: the log's refusal is
 * retried with backoff, because the record's offset must not be committed until its dead letter
 * is stored. Then runs the onDeadLetter hook and counts the outcome.
 */
import type { Log } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import type { Classified } from './classify.ts'
import { redriveCountOf, toDeadLetter, type FailureInfo } from './dead-letter.ts'
import { parkedTopicOf, type DeadLetterOptions, type PipelineSettings } from './definition.ts'
import { ABANDON, DONE, type Lane, type Outcome, type RunFlags, type Slot } from './lanes.ts'
import { loggableError, recordLogFields, type RecordTelemetry } from './record-telemetry.ts'
import type { StoppableSleep } from './stoppable-sleep.ts'

export interface DeadLetterWriterDeps {
  pipeline: string
  group: string
  log: Log
  logger: Logger
  settings: Readonly<PipelineSettings>
  options: DeadLetterOptions & { maxRedrives: number }
  /** Cap of the backoff between refused writes (the retry policy's maxDelayMs). */
  maxDelayMs: number
  secrets: readonly string[]
  telemetry: RecordTelemetry
  sleeper: StoppableSleep
  run: RunFlags
  now: () => number
}

export class DeadLetterWriter {
  readonly #d: DeadLetterWriterDeps
  readonly #ensuredTopics = new Set<string>()

  constructor (deps: DeadLetterWriterDeps) {
    this.#d = deps
  }

  topicOf (topic: string): string {
    return this.#d.options.topic ?? `${topic}${this.#d.settings.deadLetter.topicSuffix}`
  }

  async ensureTopic (topic: string): Promise<void> {
    if (this.#ensuredTopics.has(topic)) return
    await this.#d.log.admin.ensureTopic({
      name: topic,
      partitions: this.#d.settings.deadLetter.partitions,
      retentionMs: this.#d.settings.deadLetter.retentionMs
    })
    this.#ensuredTopics.add(topic)
  }

  /** DONE once the dead letter is stored; ABANDON when the partition was revoked (or stop gave up) first. */
  async deadLetter (lane: Lane, slot: Slot, failure: Classified, message: string): Promise<Outcome> {
    const d = this.#d
    const record = slot.record
    const info: FailureInfo = {
      pipeline: d.pipeline,
      group: d.group,
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
    const parked = redrives >= d.options.maxRedrives
    const dlq = this.topicOf(record.topic)
    const topic = parked ? parkedTopicOf(dlq) : dlq
    d.logger.error({
      ...recordLogFields(slot),
      handler: info.handler,
      code: failure.error.code,
      error: loggableError(failure.error, d.secrets),
      deadLetterTopic: topic,
      redrives
    }, parked ? `record parked after ${redrives} redrives: ${message}` : `record dead-lettered: ${message}`)

    for (let tries = 1; ; tries++) {
      try {
        if (parked) await this.ensureTopic(topic)
        await d.log.produce(topic, [toDeadLetter(record, info)])
        break
      } catch (error) {
        // The log refused the dead letter: the record cannot finish until it is stored.
        if (lane.ps.revoked || (d.run.draining && tries >= 3)) {
          d.logger.error({ err: error, topic, offset: record.offset }, 'could not write the dead letter; the record is left uncommitted and will be redelivered')
          return ABANDON
        }
        const waitMs = Math.min(d.maxDelayMs, 200 * 2 ** Math.min(tries, 8))
        d.logger.error({ err: error, topic, retryInMs: waitMs }, 'could not write the dead letter; retrying')
        await d.sleeper.sleep(waitMs)
      }
    }
    if (d.options.onDeadLetter !== undefined) {
      try {
        await d.options.onDeadLetter({ record, failure: info, topic, parked, value: slot.value })
      } catch (error) {
        d.logger.error({ err: error, topic: record.topic, offset: record.offset }, 'onDeadLetter hook failed (the dead letter itself is stored)')
      }
    }
    const durationMs = d.now() - slot.startedAt
    d.telemetry.counts.deadLettered++
    const stats = d.telemetry.statsOfSlot(slot)
    stats.deadLettered++
    if (parked) stats.parked++
    stats.durationDead.observe(durationMs / 1000)
    d.telemetry.logProcessed(slot, parked ? 'parked' : 'dead-lettered', durationMs)
    return DONE
  }
}
