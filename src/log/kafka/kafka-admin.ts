/**
 * LogAdmin on Kafka: topics (with Vigil's config mapped to Kafka's, see topic-config.ts), their
 * watermarks, and consumer groups with lag.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigResourceTypes, ListOffsetTimestamps, type Admin, type ClusterMetadata } from '@platformatic/kafka'
import { VigilError } from '../../errors.ts'
import type { GroupDescription, GroupPartitionLag, LogAdmin, TopicDescription, TopicSpec } from '../types.ts'
import { kafkaErrorIds, toLogError, type KafkaErrorContext } from './errors.ts'
import { describedConfigKeys, kafkaConfigsOf, topicConfigFromKafka } from './topic-config.ts'
import { checkTopicName, topicConfigOf } from '../topic-spec.ts'

/** What the admin needs from its log. */
export interface AdminHost {
  /** The connected admin client; throws VGL_LOG_NOT_CONNECTED / VGL_LOG_CLOSED otherwise. */
  adminClient (): Admin
  errorContext (action: string, extra?: Partial<KafkaErrorContext>): KafkaErrorContext
  /** Forgets cached facts about a topic (after it was created or deleted). */
  forgetTopic (topic: string): void
}

export interface Watermarks { low: number, high: number }

export class KafkaLogAdmin implements LogAdmin {
  readonly #host: AdminHost

  constructor (host: AdminHost) {
    this.#host = host
  }

  async createTopic (spec: TopicSpec): Promise<TopicDescription> {
    const config = topicConfigOf(spec)
    const context = this.#host.errorContext(`create topic ${spec.name}`, { topic: spec.name })
    try {
      await this.#host.adminClient().createTopics({
        topics: [spec.name],
        partitions: config.partitions,
        replicas: config.replicationFactor ?? -1,
        configs: kafkaConfigsOf(config)
      })
    } catch (error) {
      throw toLogError(error, context)
    } finally {
      this.#host.forgetTopic(spec.name)
    }
    // The controller has the topic; wait until its partitions have leaders, so that a produce or
    // a consumer right after this call works.
    return await this.#describeWhenReady(spec.name)
  }

  async ensureTopic (spec: TopicSpec): Promise<TopicDescription> {
    topicConfigOf(spec)
    try {
      return await this.describeTopic(spec.name)
    } catch (error) {
      if (!(error instanceof VigilError) || error.code !== 'VGL_LOG_TOPIC_NOT_FOUND') throw error
    }
    try {
      return await this.createTopic(spec)
    } catch (error) {
      // Another process created it meanwhile.
      if (error instanceof VigilError && error.code === 'VGL_LOG_TOPIC_EXISTS') return await this.#describeWhenReady(spec.name)
      throw error
    }
  }

  async describeTopic (name: string): Promise<TopicDescription> {
    checkTopicName(name)
    const context = this.#host.errorContext(`describe topic ${name}`, { topic: name })
    const admin = this.#host.adminClient()
    try {
      const metadata = await admin.metadata({ topics: [name], forceUpdate: true })
      const topic = metadata.topics.get(name)
      if (topic === undefined) throw new VigilError('VGL_LOG_TOPIC_NOT_FOUND', `${context.action}: topic ${name} does not exist`, { topic: name })
      const [described, marks] = await Promise.all([
        admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: describedConfigKeys }] }),
        this.watermarks(name, topic.partitionsCount)
      ])
      const values = new Map((described[0]?.configs ?? []).map(c => [c.name, c.value]))
      const replicationFactor = topic.partitions[0]?.replicas.length ?? 0
      return {
        name,
        config: topicConfigFromKafka(values, topic.partitionsCount, replicationFactor),
        partitions: marks.map((m, partition) => ({ partition, lowOffset: m.low, highOffset: m.high }))
      }
    } catch (error) {
      throw toLogError(error, context)
    }
  }

  async listTopics (): Promise<string[]> {
    try {
      const topics = await this.#host.adminClient().listTopics({ includeInternals: false })
      return topics.filter(t => !t.startsWith('__')).sort()
    } catch (error) {
      throw toLogError(error, this.#host.errorContext('list topics'))
    }
  }

  async deleteTopic (name: string): Promise<void> {
    checkTopicName(name)
    const context = this.#host.errorContext(`delete topic ${name}`, { topic: name })
    try {
      await this.#host.adminClient().deleteTopics({ topics: [name] })
    } catch (error) {
      throw toLogError(error, context)
    } finally {
      this.#host.forgetTopic(name)
    }
  }

  async listGroups (): Promise<string[]> {
    try {
      const groups = await this.#host.adminClient().listGroups()
      return [...groups.keys()].sort()
    } catch (error) {
      throw toLogError(error, this.#host.errorContext('list groups'))
    }
  }

  async describeGroup (group: string): Promise<GroupDescription> {
    const context = this.#host.errorContext(`describe group ${group}`, { group })
    const admin = this.#host.adminClient()
    try {
      const [groups, committed] = await Promise.all([
        admin.describeGroups({ groups: [group] }),
        admin.listConsumerGroupOffsets({ groups: [group] })
      ])
      const described = groups.get(group)
      const commits = committed[0]?.topics ?? []
      if (described === undefined || (described.state === 'Dead' && commits.length === 0)) {
        throw new VigilError('VGL_LOG_GROUP_NOT_FOUND', `consumer group ${group} does not exist`, { group })
      }
      const members = [...described.members.values()].map(member => ({
        memberId: member.id,
        clientId: member.clientId,
        assignment: [...(member.assignments?.values() ?? [])].flatMap(a => a.partitions.map(partition => ({ topic: a.topic, partition })))
      }))
      // Lag covers every partition of the topics the group committed to or is assigned.
      const committedOf = new Map<string, number>()
      for (const topic of commits) {
        for (const p of topic.partitions) {
          if (p.committedOffset >= 0n) committedOf.set(`${topic.name}\0${p.partitionIndex}`, Number(p.committedOffset))
        }
      }
      const topics = new Set([...commits.map(t => t.name), ...members.flatMap(m => m.assignment.map(a => a.topic))])
      const offsets: GroupPartitionLag[] = []
      for (const topic of [...topics].sort()) {
        let marks: Watermarks[]
        try {
          marks = await this.watermarks(topic)
        } catch (error) {
          // Commits may outlive their topic.
          if (kafkaErrorIds(error).has('UNKNOWN_TOPIC_OR_PARTITION') || (error instanceof VigilError && error.code === 'VGL_LOG_TOPIC_NOT_FOUND')) continue
          throw error
        }
        marks.forEach((m, partition) => {
          const committedOffset = committedOf.get(`${topic}\0${partition}`) ?? null
          // Never committed: everything still stored is unread.
          const lag = Math.max(0, m.high - (committedOffset ?? m.low))
          offsets.push({ topic, partition, committedOffset, highOffset: m.high, lag })
        })
      }
      return {
        group,
        state: described.state === 'Dead' ? 'Empty' : described.state,
        members,
        offsets,
        totalLag: offsets.reduce((sum, o) => sum + o.lag, 0)
      }
    } catch (error) {
      throw toLogError(error, context)
    }
  }

  /** Low (log start) and high (high watermark) offsets of every partition of a topic, by partition. */
  async watermarks (topic: string, partitions?: number): Promise<Watermarks[]> {
    const admin = this.#host.adminClient()
    let count = partitions
    if (count === undefined) {
      const metadata = await admin.metadata({ topics: [topic] })
      count = metadata.topics.get(topic)?.partitionsCount ?? 0
    }
    const indexes = Array.from({ length: count }, (_, i) => i)
    const list = (timestamp: bigint) => admin.listOffsets({
      topics: [{ name: topic, partitions: indexes.map(partitionIndex => ({ partitionIndex, timestamp })) }],
      isolationLevel: 0
    })
    const [earliest, latest] = await Promise.all([list(ListOffsetTimestamps.EARLIEST), list(ListOffsetTimestamps.LATEST)])
    const pick = (listed: typeof earliest) => {
      const out = new Array<number>(count).fill(0)
      for (const t of listed) for (const p of t.partitions) out[p.partitionIndex] = Number(p.offset)
      return out
    }
    const low = pick(earliest)
    const high = pick(latest)
    return indexes.map(i => ({ low: low[i] ?? 0, high: high[i] ?? 0 }))
  }

  /** Describes a topic just created, retrying while its partitions get leaders (a few ms to seconds). */
  async #describeWhenReady (name: string): Promise<TopicDescription> {
    const deadline = Date.now() + 30_000
    for (let attempt = 0; ; attempt++) {
      try {
        const metadata: ClusterMetadata = await this.#host.adminClient().metadata({ topics: [name], forceUpdate: true })
        const topic = metadata.topics.get(name)
        if (topic !== undefined && topic.partitions.length === topic.partitionsCount && topic.partitions.every(p => p !== undefined && p.leader >= 0)) {
          return await this.describeTopic(name)
        }
      } catch (error) {
        const retryable = error instanceof VigilError
          ? error.code === 'VGL_LOG_TOPIC_NOT_FOUND' || error.code === 'VGL_LOG_UNREACHABLE'
          : true
        if (!retryable || Date.now() > deadline) throw toLogError(error, this.#host.errorContext(`describe topic ${name}`, { topic: name }))
      }
      if (Date.now() > deadline) return await this.describeTopic(name)
      await sleep(Math.min(500, 20 * 2 ** attempt))
    }
  }
}
