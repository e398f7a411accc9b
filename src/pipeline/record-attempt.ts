/**
 * One attempt at one record: decode it (once), route it, validate it for its handler, run the
 * handler (under handlerTimeoutMs), and on failure classify the error and decide between a retry
 * after backoff and the dead-letter topic. Synchronous decoders and handlers run without a
 * promise; one is made only when a decoder or handler returns one.
 */
import type { LogRecord } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { VigilError, isVigilError } from '../errors.ts'
import { classifyError } from './classify.ts'
import { decideRetry, type RetryPolicy } from './retry.ts'
import { validateFor, type CompiledRouter, type HandlerContext } from './router.ts'
import { redactSecrets } from './dead-letter.ts'
import type { Decoder, Describer, PipelineSettings } from './definition.ts'
import type { DeadLetterWriter } from './dead-letter-writer.ts'
import { ABANDON, DONE, RETRY, isThenable, type Lane, type Outcome, type RunFlags, type Slot, type Thenable } from './lanes.ts'
import { recordLogFields, type RecordTelemetry } from './record-telemetry.ts'

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

export interface RecordAttemptsDeps {
  pipeline: string
  logger: Logger
  settings: Readonly<PipelineSettings>
  policy: RetryPolicy
  router: CompiledRouter
  decode: Decoder
  describe: Describer
  secrets: readonly string[]
  telemetry: RecordTelemetry
  deadLetters: DeadLetterWriter
  run: RunFlags
  now: () => number
  random: () => number
}

export class RecordAttempts {
  readonly #pipeline: string
  readonly #logger: Logger
  readonly #handlerTimeoutMs: number
  readonly #policy: RetryPolicy
  readonly #router: CompiledRouter
  readonly #decode: Decoder
  readonly #describe: Describer
  readonly #secrets: readonly string[]
  readonly #telemetry: RecordTelemetry
  readonly #deadLetters: DeadLetterWriter
  readonly #run: RunFlags
  readonly #now: () => number
  readonly #random: () => number

  constructor (deps: RecordAttemptsDeps) {
    this.#pipeline = deps.pipeline
    this.#logger = deps.logger
    this.#handlerTimeoutMs = deps.settings.handlerTimeoutMs
    this.#policy = deps.policy
    this.#router = deps.router
    this.#decode = deps.decode
    this.#describe = deps.describe
    this.#secrets = deps.secrets
    this.#telemetry = deps.telemetry
    this.#deadLetters = deps.deadLetters
    this.#run = deps.run
    this.#now = deps.now
    this.#random = deps.random
  }

  /** Runs one attempt: synchronously when the decoder and handler are synchronous. */
  attempt (lane: Lane, slot: Slot): Outcome | Promise<Outcome> {
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
    slot.stats = this.#telemetry.statsOf(record.topic, slot.eventType)
    slot.stats.consumed++
  }

  #decodeFailed (lane: Lane, slot: Slot, error: unknown): Outcome | Promise<Outcome> {
    slot.handler = '(decode)'
    if (slot.attempts === 1) this.#telemetry.statsOf(slot.record.topic, '(undecodable)').consumed++
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
      result = spec.handle(value as never, new HandlerContextImpl(this.#pipeline, record, slot.route, slot.attempts, this.#logger, lane))
    } catch (error) {
      if (slot.handler === '') slot.handler = '(route)'
      return this.#failed(lane, slot, error)
    }
    if (isThenable(result)) return this.#awaitHandler(lane, slot, result)
    this.#succeeded(slot)
    return DONE
  }

  #awaitHandler (lane: Lane, slot: Slot, result: Thenable<unknown>): Promise<Outcome> {
    const timeoutMs = this.#handlerTimeoutMs
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
    const telemetry = this.#telemetry
    const durationMs = this.#now() - slot.startedAt
    telemetry.counts.succeeded++
    telemetry.unblock()
    const stats = telemetry.statsOfSlot(slot)
    stats.succeeded++
    stats.durationOk.observe(durationMs / 1000)
    if (telemetry.infoEnabled) telemetry.logProcessed(slot, 'succeeded', durationMs)
  }

  #failed (lane: Lane, slot: Slot, error: unknown): Outcome | Promise<Outcome> {
    const failure = classifyError(error)
    const now = this.#now()
    if (slot.firstFailureAt === 0) slot.firstFailureAt = now
    slot.lastFailureAt = now
    if (!failure.blocking) slot.counted++
    const decision = decideRetry(this.#policy, failure, slot.counted, this.#random, slot.attempts)
    const message = redactSecrets(failure.error.message, this.#secrets)
    if (decision.action === 'retry') {
      this.#telemetry.counts.retried++
      this.#telemetry.statsOfSlot(slot).retried++
      if (failure.blocking) this.#telemetry.block(now, `${failure.error.code}: ${message}`)
      this.#logger[failure.blocking ? 'error' : 'warn']({
        ...recordLogFields(slot),
        handler: slot.handler,
        code: failure.error.code,
        retryInMs: decision.delayMs
      }, `attempt failed, retrying: ${message}`)
      if (this.#run.draining) return ABANDON
      // The lane waits this long, holding its key but not a concurrency slot (lane-scheduler.ts).
      lane.retryDelayMs = decision.delayMs
      return RETRY
    }
    return this.#deadLetters.deadLetter(lane, slot, failure, message)
  }
}
