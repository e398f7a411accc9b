/**
 * Read-only HTTP views of the log for the console's Topics and groups page: topics with their
 * partitions, offsets and retention, consumer groups with lag per partition, and a sample of a
 * topic's newest records, decoded. Nothing here writes: topic changes stay with `vigil topics`.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { VigilError } from '../errors.ts'
import type { Log, LogRecord } from '../log/types.ts'
import type { Serde } from '../schema/index.ts'
import { showValue } from './decode.ts'

const topicPattern = '^[a-zA-Z0-9._-]{1,249}$'
const TopicParams = Type.Object({ topic: Type.String({ pattern: topicPattern }) })
const GroupParams = Type.Object({ group: Type.String({ minLength: 1, maxLength: 255 }) })
const RecordsQuery = Type.Object({
  partition: Type.Optional(Type.Integer({ minimum: 0, description: 'One partition; default every partition.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 20, description: 'Newest records per partition.' }))
}, { additionalProperties: false })

export interface LogRoutesOptions {
  log: () => Log | undefined
  serde?: () => Promise<Serde>
}

export async function logRoutes (app: FastifyInstance, options: LogRoutesOptions): Promise<void> {
  const log = (): Log => {
    const connected = options.log()
    if (connected === undefined) throw new VigilError('VGL_CONSOLE_UNAVAILABLE', 'the log API is not ready: the log is not connected yet')
    return connected
  }

  app.get('/v1/log', {
    config: { access: 'viewer' },
    schema: { tags: ['log'], summary: 'The log\'s backend and printable location (secrets removed).' }
  }, async () => {
    const l = log()
    return { kind: l.kind, url: l.url, topics: (await l.admin.listTopics()).length }
  })

  app.get('/v1/log/topics', {
    config: { access: 'viewer' },
    schema: { tags: ['log'], summary: 'Every topic with its partitions, records held, and retention.' }
  }, async () => {
    const l = log()
    const names = (await l.admin.listTopics()).sort()
    const topics = await Promise.all(names.map(async name => {
      const d = await l.admin.describeTopic(name)
      return {
        name,
        partitions: d.partitions.length,
        records: d.partitions.reduce((n, p) => n + p.highOffset - p.lowOffset, 0),
        retentionMs: d.config.retentionMs,
        retentionBytes: d.config.retentionBytes,
        cleanupPolicy: d.config.cleanupPolicy
      }
    }))
    return { topics }
  })

  app.get<{ Params: Static<typeof TopicParams> }>('/v1/log/topics/:topic', {
    config: { access: 'viewer' },
    schema: { tags: ['log'], summary: 'One topic: its config and each partition\'s low and high offsets.', params: TopicParams }
  }, async (request) => await log().admin.describeTopic(request.params.topic))

  app.get<{ Params: Static<typeof TopicParams>, Querystring: Static<typeof RecordsQuery> }>('/v1/log/topics/:topic/records', {
    config: { access: 'viewer' },
    schema: { tags: ['log'], summary: 'A sample of a topic\'s newest records per partition, newest first, values decoded.', params: TopicParams, querystring: RecordsQuery }
  }, async (request) => {
    const l = log()
    const { topic } = request.params
    const limit = request.query.limit ?? 20
    const description = await l.admin.describeTopic(topic)
    const wanted = request.query.partition
    if (wanted !== undefined && description.partitions.every(p => p.partition !== wanted)) {
      throw new VigilError('VGL_HTTP_BAD_REQUEST', `topic ${topic} has no partition ${wanted} (it has ${description.partitions.length})`, { fields: ['partition'] })
    }
    const records: LogRecord[] = []
    for (const p of description.partitions) {
      if (wanted !== undefined && p.partition !== wanted) continue
      const from = Math.max(p.lowOffset, p.highOffset - limit)
      if (from < p.highOffset) records.push(...await l.read(topic, p.partition, from, p.highOffset - from))
    }
    records.sort((a, b) => b.timestamp - a.timestamp || b.offset - a.offset)
    return {
      topic,
      records: await Promise.all(records.map(async r => ({
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key === null ? null : r.key.toString('utf8'),
        headers: r.headers.map(([name, value]) => ({ name, value: value.toString('utf8') })),
        value: r.value === null ? null : await showValue(r.value, options.serde)
      })))
    }
  })

  app.get('/v1/log/groups', {
    config: { access: 'viewer' },
    schema: { tags: ['log'], summary: 'Every consumer group with its state, members and total lag.' }
  }, async () => {
    const l = log()
    const names = (await l.admin.listGroups()).sort()
    const groups = await Promise.all(names.map(async group => {
      const d = await l.admin.describeGroup(group)
      return { group, state: d.state, members: d.members.length, totalLag: d.totalLag }
    }))
    return { groups }
  })

  app.get<{ Params: Static<typeof GroupParams> }>('/v1/log/groups/:group', {
    config: { access: 'viewer' },
    schema: { tags: ['log'], summary: 'One consumer group: members, and committed offset and lag per partition.', params: GroupParams }
  }, async (request) => await log().admin.describeGroup(request.params.group))
}
