/**
 * The dead-letter HTTP API (mounted under /dlq by the pipelines component):
 *
 *   GET  /dlq                                    dead-letter topics and their sizes
 *   GET  /dlq/:topic/records?topic&code&eventType&pipeline&since&until&state&limit
 *   GET  /dlq/:topic/records/:partition/:offset  one dead letter, decoded
 *   POST /dlq/:topic/redrive  {ids?, filter?, all?, force?, dryRun?}
 *
 * Every route answers 503 (VGL_DLQ_UNAVAILABLE) until the log is connected.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { VigilError } from '../errors.ts'
import { deadLetterId } from './dead-letter.ts'
import { parseTime, type DeadLetterFilter, type DeadLetterStore } from './dlq.ts'

const topicPattern = '^[a-zA-Z0-9._-]{1,249}$'

const FilterQuery = Type.Object({
  topic: Type.Optional(Type.String({ pattern: topicPattern, description: 'Original topic.' })),
  code: Type.Optional(Type.String({ minLength: 1, description: 'Error code, e.g. VGL_DISPATCHER_NO_MATCH.' })),
  eventType: Type.Optional(Type.String({ minLength: 1, description: 'event_type (or legacy message_type).' })),
  pipeline: Type.Optional(Type.String({ minLength: 1 })),
  since: Type.Optional(Type.String({ minLength: 1, description: 'Dead-lettered at or after: ISO-8601 or epoch ms.' })),
  until: Type.Optional(Type.String({ minLength: 1, description: 'Dead-lettered before: ISO-8601 or epoch ms.' })),
  state: Type.Optional(Type.Union([Type.Literal('new'), Type.Literal('pending'), Type.Literal('redriven')], { description: 'Redrive state.' }))
}, { additionalProperties: false })

const ListQuery = Type.Composite([FilterQuery, Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 }))
})], { additionalProperties: false })

const TopicParams = Type.Object({ topic: Type.String({ pattern: topicPattern }) })
const RecordParams = Type.Object({
  topic: Type.String({ pattern: topicPattern }),
  partition: Type.Integer({ minimum: 0 }),
  offset: Type.Integer({ minimum: 0 })
})

const RedriveBody = Type.Object({
  ids: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 10000, description: 'Dead-letter ids (<topic>:<partition>:<offset>).' })),
  filter: Type.Optional(FilterQuery),
  all: Type.Optional(Type.Boolean({ description: 'Every dead letter of the topic.' })),
  force: Type.Optional(Type.Boolean({ description: 'Also redrive dead letters already redriven, in doubt, or parked.' })),
  dryRun: Type.Optional(Type.Boolean({ description: 'Report what would be redriven, change nothing.' }))
}, { additionalProperties: false })

/** The dead-letter filter of an HTTP query or of `vigil dlq` flags (`prefix` '--' names the flags in errors). */
export function filterFromQuery (query: Static<typeof FilterQuery>, prefix = ''): DeadLetterFilter {
  return {
    topic: query.topic,
    errorCode: query.code,
    eventType: query.eventType,
    pipeline: query.pipeline,
    since: query.since === undefined ? undefined : parseTime(query.since, `${prefix}since`),
    until: query.until === undefined ? undefined : parseTime(query.until, `${prefix}until`),
    state: query.state
  }
}

export interface DlqRoutesOptions {
  store: () => DeadLetterStore | undefined
  /** Dead-letter topics to list: the pipelines' own, plus any topic ending in the suffix. */
  topics: () => Promise<string[]>
}

export async function dlqRoutes (app: FastifyInstance, options: DlqRoutesOptions): Promise<void> {
  const store = (): DeadLetterStore => {
    const s = options.store()
    if (s === undefined) throw new VigilError('VGL_DLQ_UNAVAILABLE', 'the dead-letter API is not ready: the log is not connected yet')
    return s
  }

  app.get('/', {
    config: { access: 'viewer' },
    schema: { tags: ['dlq'], summary: 'Dead-letter topics and how many records each holds.' }
  }, async () => {
    store()
    return { topics: await options.topics() }
  })

  app.get<{ Params: Static<typeof TopicParams>, Querystring: Static<typeof ListQuery> }>('/:topic/records', {
    config: { access: 'viewer' },
    schema: { tags: ['dlq'], summary: 'List dead letters, oldest first, filtered.', params: TopicParams, querystring: ListQuery }
  }, async (request) => {
    const { limit, ...filter } = request.query
    return await store().list(request.params.topic, filterFromQuery(filter), limit ?? 100)
  })

  app.get<{ Params: Static<typeof RecordParams> }>('/:topic/records/:partition/:offset', {
    config: { access: 'viewer' },
    schema: { tags: ['dlq'], summary: 'One dead letter with its failure context and its value decoded (Avro, JSON, text or base64).', params: RecordParams }
  }, async (request) => {
    const { topic, partition, offset } = request.params
    return await store().show(deadLetterId(topic, partition, offset))
  })

  app.post<{ Params: Static<typeof TopicParams>, Body: Static<typeof RedriveBody> }>('/:topic/redrive', {
    config: { access: 'operator' },
    schema: { tags: ['dlq'], summary: 'Redrive dead letters to their original topics (idempotent; parked ones need force).', params: TopicParams, body: RedriveBody }
  }, async (request) => {
    const body = request.body
    return await store().redrive({
      deadLetterTopic: request.params.topic,
      ids: body.ids,
      filter: body.filter === undefined ? undefined : filterFromQuery(body.filter),
      all: body.all,
      force: body.force,
      dryRun: body.dryRun
    })
  })
}
