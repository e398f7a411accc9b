/**
 * The CISO Assistant connector: a pipeline on `observation` (dispatcher.topic) that decodes each
 * record (Confluent-framed Avro through the serde, or JSON, detected per record), routes it by
 * message_type / event_type, and calls the CISO Assistant REST API as the original dispatcher
 * does (../shared/specs/ciso-assistant-dispatcher.md §3), with what it lacks: selectors checked
 * before any call, a count check on every match, enums validated, retries with backoff for
 * transient failures, dead letters for the rest, and no duplicate evidence on redelivery.
 */
import type { Registry } from 'prom-client'
import type { VigilConfig } from '../config/schema.ts'
import type { Log, LogRecord } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { VigilError, isVigilError } from '../errors.ts'
import { createPipeline, type DeadLetterEvent, type Pipeline, type PipelineSettings } from '../pipeline/runtime.ts'
import type { HandlerContext, HandlerSpec } from '../pipeline/router.ts'
import { looksLikeConfluent } from '../schema/wire-format.ts'
import type { DecodedRecord } from '../schema/serde.ts'
import { CisoClient } from './client.ts'
import {
  checkMessageShape, messageTypeOf, parseAppliedControlStatus, parseAttachEvidence, parseLegacyUpdate, parseLegacyUpload,
  parseRequirementAssessmentStatus, type Command, type MessageType
} from './messages.ts'
import { createS3Reader, type S3Reader } from './s3.ts'

/** What the connector needs of the schema area's serde. */
export interface AvroDecoder {
  decodeCached (record: Buffer): DecodedRecord | undefined
  decode (record: Buffer): Promise<DecodedRecord>
}

export interface CisoDispatcherDeps {
  logger: Logger
  registry?: Registry
  /** Decodes Confluent-framed records; without it they are dead-lettered as undecodable. */
  serde?: AvroDecoder | undefined
  /** Default: config.pipelines. */
  settings?: Readonly<PipelineSettings>
  /** For tests: replaces the S3 reader built from dispatcher.s3. */
  s3?: S3Reader
}

export interface CisoDispatcher {
  readonly pipeline: Pipeline
  readonly client: CisoClient
  start (): Promise<void>
  stop (): Promise<void>
}

export const dispatcherPipelineName = 'ciso-assistant'

export function deadLetterTopicOfDispatcher (config: Readonly<VigilConfig>): string {
  return config.dispatcher.deadLetterTopic !== '' ? config.dispatcher.deadLetterTopic : `${config.dispatcher.topic}${config.pipelines.deadLetter.topicSuffix}`
}

/** Checks the connector's settings (URL, token, CA file) without connecting; throws VGL_CONFIG_INVALID. */
export function checkDispatcherConfig (config: Readonly<VigilConfig>): void {
  new CisoClient(clientOptions(config)).close().catch(() => {})
}

function clientOptions (config: Readonly<VigilConfig>) {
  const api = config.dispatcher.api
  return { url: api.url, token: api.token, requestTimeoutMs: api.requestTimeoutMs, verifyCertificate: api.verifyCertificate, caFile: api.caFile, maxConnections: api.maxConnections }
}

export function createCisoDispatcher (config: Readonly<VigilConfig>, log: Log, deps: CisoDispatcherDeps): CisoDispatcher {
  const settings = config.dispatcher
  const logger = deps.logger.child({ component: 'ciso-assistant' })
  const client = new CisoClient(clientOptions(config))
  let s3 = deps.s3
  const s3Reader = (): S3Reader => {
    s3 ??= createS3Reader({ ...settings.s3, maxBytes: settings.maxAttachmentBytes })
    return s3
  }
  const executor = new Executor(client, s3Reader, logger)
  const maxBytes = settings.maxAttachmentBytes
  const handler = (parse: (message: Record<string, unknown>) => Command): HandlerSpec<Command> => ({
    validate: (value) => parse(value as Record<string, unknown>),
    handle: (command, context) => executor.run(command, context)
  })
  const handlers: Record<MessageType, HandlerSpec<Command>> = {
    update_applied_control: handler(m => parseLegacyUpdate(m, 'applied-controls')),
    update_requirement_assessment: handler(m => parseLegacyUpdate(m, 'requirement-assessments')),
    upload_attachment: handler(m => parseLegacyUpload(m, maxBytes)),
    update_applied_control_status: handler(parseAppliedControlStatus),
    update_requirement_assessment_status: handler(parseRequirementAssessmentStatus),
    attach_evidence_to_applied_control: handler(m => parseAttachEvidence(m, maxBytes))
  }
  const errorsTopic = settings.errorsTopic
  let errorsTopicReady = false
  const pipeline = createPipeline({
    name: dispatcherPipelineName,
    topics: [settings.topic],
    group: settings.group,
    concurrency: settings.concurrency,
    decode: createObservationDecoder(deps.serde),
    route: value => messageTypeOf(value),
    describe: (value) => ({
      eventType: messageTypeOf(value),
      eventId: typeof (value as { event_id?: unknown }).event_id === 'string' ? (value as { event_id: string }).event_id : undefined
    }),
    handlers,
    deadLetter: {
      ...(settings.deadLetterTopic === '' ? {} : { topic: settings.deadLetterTopic }),
      ...(errorsTopic === ''
        ? {}
        : {
            onDeadLetter: async (event: DeadLetterEvent) => {
              if (!errorsTopicReady) {
                await log.admin.ensureTopic({ name: errorsTopic })
                errorsTopicReady = true
              }
              await log.produce(errorsTopic, [{ value: Buffer.from(JSON.stringify(legacyErrorRecord(event))) }])
            }
          })
    },
    secrets: [settings.api.token, settings.s3.secretAccessKey].filter(s => s !== '')
  }, log, {
    logger: deps.logger,
    settings: deps.settings ?? config.pipelines,
    ...(deps.registry === undefined ? {} : { registry: deps.registry })
  })
  return {
    pipeline,
    client,
    async start () {
      logger.info({ api: client.url, topic: settings.topic, group: settings.group }, 'CISO Assistant connector starting')
      // Like a broker's auto-create for the dispatcher's hard-coded topic.
      await log.admin.ensureTopic({ name: settings.topic })
      await pipeline.start()
    },
    async stop () {
      try {
        await pipeline.stop()
      } finally {
        await client.close()
        s3?.close()
      }
    }
  }
}

/**
 * Detects the format per record: Confluent-framed (magic byte 0) goes to the serde, anything else
 * must be JSON. Either way the result must be an object with message_type or event_type.
 */
export function createObservationDecoder (serde: AvroDecoder | undefined): (record: LogRecord) => unknown {
  return (record) => {
    const value = record.value
    if (value === null || value.length === 0) throw new VigilError('VGL_PIPELINE_DECODE_FAILED', 'record has no value', {})
    if (looksLikeConfluent(value)) {
      if (serde === undefined) {
        throw new VigilError('VGL_PIPELINE_DECODE_FAILED', 'record is Confluent-framed (magic byte 0) but no schema registry is configured', {})
      }
      const cached = serde.decodeCached(value)
      if (cached !== undefined) return checkMessageShape(cached.value)
      return serde.decode(value).then(decoded => checkMessageShape(decoded.value))
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(value.toString('utf8'))
    } catch (cause) {
      throw new VigilError('VGL_PIPELINE_DECODE_FAILED', `record is neither Confluent-framed Avro (magic byte 0) nor JSON: ${(cause as Error).message}`, { cause })
    }
    return checkMessageShape(parsed)
  }
}

/** The original dispatcher's error record: `{"message": <the message>, "error": "<text>"}`. */
function legacyErrorRecord (event: DeadLetterEvent): unknown {
  let message: unknown = event.value
  if (message === undefined || (typeof message === 'object' && message !== null && !Array.isArray(message) && Object.values(message).some(v => Buffer.isBuffer(v) || v instanceof Date))) {
    message = event.record.value === null ? null : safeText(event.record.value)
  }
  return { message, error: event.failure.errorMessage }
}

function safeText (value: Buffer): unknown {
  try {
    return JSON.parse(value.toString('utf8'))
  } catch {
    return value.toString('base64')
  }
}

/** Runs commands against the API. Linking evidence to a control is serialised per control. */
class Executor {
  readonly #client: CisoClient
  readonly #s3: () => S3Reader
  readonly #logger: Logger
  readonly #controlLocks = new Map<string, Promise<void>>()

  constructor (client: CisoClient, s3: () => S3Reader, logger: Logger) {
    this.#client = client
    this.#s3 = s3
    this.#logger = logger
  }

  async run (command: Command, context: HandlerContext): Promise<void> {
    const signal = context.signal
    if (command.kind === 'update') {
      const ids = await this.#client.resolve(command.resource, command.selector, signal)
      for (const id of ids) await this.#client.patch(command.resource, id, command.values, signal)
      this.#logger.debug({ resource: command.resource, ids, fields: Object.keys(command.values) }, 'objects updated')
      return
    }
    const bytes = command.file.kind === 'inline' ? command.file.bytes : await this.#s3().read(command.file.bucket, command.file.key, signal)
    const evidenceId = command.evidenceSelector === null
      ? await this.#findOrCreateEvidence(command.evidenceName, signal)
      : (await this.#client.resolve('evidences', command.evidenceSelector, signal))[0] as string
    await this.#client.upload(evidenceId, command.fileName, bytes, signal)
    const linked: string[] = []
    if (command.appliedControls !== null) {
      const controls = await this.#client.resolve('applied-controls', command.appliedControls, signal)
      for (const controlId of controls) {
        await this.#withControlLock(controlId, async () => {
          const control = await this.#client.get('applied-controls', controlId, signal)
          const existing = evidenceIdsOf(control.evidences)
          if (existing.includes(evidenceId)) return
          await this.#client.patch('applied-controls', controlId, { evidences: [...existing, evidenceId] }, signal)
          linked.push(controlId)
        })
      }
    }
    this.#logger.debug({ evidence_id: evidenceId, file_name: command.fileName, bytes: bytes.length, linked }, 'attachment uploaded')
  }

  /**
   * With no selector, the dispatcher POSTs a new evidence every time, so a redelivered message
   * gets a 400 (names are unique per folder). Here an evidence of that exact name is reused; if
   * it is created meanwhile by someone else, the 400 leads to it as well.
   */
  async #findOrCreateEvidence (name: string, signal: AbortSignal): Promise<string> {
    const byName = { filters: [['name', name]] as Array<[string, string]>, target: 'single' as const }
    const existing = await this.#find(byName, signal)
    if (existing !== undefined) return existing
    try {
      return await this.#client.createEvidence(name, signal)
    } catch (error) {
      if (!isVigilError(error, 'VGL_DISPATCHER_HTTP_REJECTED') || error.context.status !== 400) throw error
      const raced = await this.#find(byName, signal)
      if (raced !== undefined) return raced
      throw error
    }
  }

  async #find (selector: { filters: Array<[string, string]>, target: 'single' }, signal: AbortSignal): Promise<string | undefined> {
    try {
      return (await this.#client.resolve('evidences', selector, signal))[0]
    } catch (error) {
      if (isVigilError(error, 'VGL_DISPATCHER_NO_MATCH')) return undefined
      if (isVigilError(error, 'VGL_DISPATCHER_TOO_MANY_MATCHES')) {
        throw new VigilError('VGL_DISPATCHER_TOO_MANY_MATCHES', `${error.message}: several evidences have this name; give a selector (e.g. its folder) to pick one`, { ...error.context })
      }
      throw error
    }
  }

  async #withControlLock (id: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#controlLocks.get(id) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    const tail = run.catch(() => {})
    this.#controlLocks.set(id, tail)
    try {
      await run
    } finally {
      if (this.#controlLocks.get(id) === tail) this.#controlLocks.delete(id)
    }
  }
}

function evidenceIdsOf (value: unknown): string[] {
  if (!Array.isArray(value)) return []
  return value.flatMap(e => typeof e === 'string' ? [e] : typeof e === 'object' && e !== null && typeof (e as { id?: unknown }).id === 'string' ? [(e as { id: string }).id] : [])
}
