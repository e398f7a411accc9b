/**
 * The pipeline's public shapes: what a caller defines (topics, decoder, routes, handlers, retry
 * and dead-letter options), what the runtime needs (logger, metrics registry, settings) and what
 * it answers (stats, readiness). Also the defaults: the JSON decoder, the event_id/event_type
 * describer and the settings of the config schema.
 */
import type { Registry } from 'prom-client'
import type { LogRecord } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import type { VigilConfig } from '../config/schema.ts'
import { validateConfig } from '../config/load.ts'
import { VigilError } from '../errors.ts'
import type { RetryPolicy } from './retry.ts'
import type { AnyHandler, RouteSpec } from './router.ts'
import type { FailureInfo } from './dead-letter.ts'

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

/** The parking topic of a dead-letter topic. */
export function parkedTopicOf (deadLetterTopic: string): string {
  return `${deadLetterTopic}-parked`
}

export const jsonDecoder: Decoder = (record) => {
  if (record.value === null) throw new VigilError('VGL_PIPELINE_DECODE_FAILED', 'record has no value (null)')
  try {
    return JSON.parse(record.value.toString('utf8'))
  } catch (cause) {
    throw new VigilError('VGL_PIPELINE_DECODE_FAILED', `record value is not JSON: ${(cause as Error).message}`, { cause })
  }
}

export const defaultDescriber: Describer = (value) => {
  if (typeof value !== 'object' || value === null) return {}
  const v = value as Record<string, unknown>
  return {
    eventId: typeof v.event_id === 'string' ? v.event_id : undefined,
    eventType: typeof v.event_type === 'string' ? v.event_type : undefined
  }
}
