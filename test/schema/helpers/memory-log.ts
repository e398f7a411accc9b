/**
 * A minimal in-memory Log (topics, produce, read, ensureTopic) for unit tests of the registry's
 * store protocol. Several registries can share one instance to play several Vigil processes on
 * one Kafka cluster. `compact()` simulates log compaction (latest value per key, tombstones removed).
 * Integration tests use the real embedded and Kafka logs.
 */
import type { Log, LogRecord, ProduceRecord, RecordMetadata, TopicDescription, TopicSpec } from '../../../src/log/types.ts'
import { defaultTopicConfig } from '../../../src/log/types.ts'

export class MemoryLog {
  readonly kind = 'embedded' as const
  readonly url = 'memory:'
  readonly topics = new Map<string, { spec: TopicSpec, records: LogRecord[], next: number }>()
  /** When set, produce() awaits it first (to interleave concurrent writers in tests). */
  beforeProduce: (() => Promise<void>) | undefined

  readonly admin = {
    ensureTopic: async (spec: TopicSpec): Promise<TopicDescription> => {
      if (!this.topics.has(spec.name)) this.topics.set(spec.name, { spec, records: [], next: 0 })
      return this.#describe(spec.name)
    },
    createTopic: async (spec: TopicSpec): Promise<TopicDescription> => this.admin.ensureTopic(spec),
    describeTopic: async (name: string): Promise<TopicDescription> => this.#describe(name),
    listTopics: async (): Promise<string[]> => [...this.topics.keys()],
    deleteTopic: async (name: string): Promise<void> => { this.topics.delete(name) },
    listGroups: async (): Promise<string[]> => [],
    describeGroup: async (): Promise<never> => { throw new Error('not supported') }
  }

  #describe (name: string): TopicDescription {
    const topic = this.topics.get(name)
    if (topic === undefined) throw new Error(`no topic ${name}`)
    return {
      name,
      config: { ...defaultTopicConfig, ...topic.spec },
      partitions: [{ partition: 0, lowOffset: topic.records[0]?.offset ?? topic.next, highOffset: topic.next }]
    }
  }

  async connect (): Promise<void> {}
  async ping (): Promise<void> {}
  async close (): Promise<void> {}

  async produce (topicName: string, records: readonly ProduceRecord[]): Promise<RecordMetadata[]> {
    if (this.beforeProduce !== undefined) await this.beforeProduce()
    const topic = this.topics.get(topicName)
    if (topic === undefined) throw new Error(`no topic ${topicName}`)
    const now = Date.now()
    return records.map(r => {
      const record: LogRecord = {
        topic: topicName,
        partition: 0,
        offset: topic.next++,
        timestamp: r.timestamp ?? now,
        key: r.key ?? null,
        value: r.value,
        headers: [...(r.headers ?? [])]
      }
      topic.records.push(record)
      return { topic: topicName, partition: 0, offset: record.offset, timestamp: record.timestamp }
    })
  }

  async read (topicName: string, _partition: number, offset: number, maxRecords: number): Promise<LogRecord[]> {
    const topic = this.topics.get(topicName)
    if (topic === undefined) throw new Error(`no topic ${topicName}`)
    return topic.records.filter(r => r.offset >= offset).slice(0, maxRecords)
  }

  consumer (): never { throw new Error('not supported') }
  async offsetForTimestamp (): Promise<number> { return 0 }

  /** Keeps the latest record per key and drops tombstones, like a finished compaction. */
  compact (topicName: string): void {
    const topic = this.topics.get(topicName)
    if (topic === undefined) return
    const latest = new Map<string, LogRecord>()
    for (const r of topic.records) latest.set(r.key?.toString('hex') ?? `#${r.offset}`, r)
    topic.records = [...latest.values()].filter(r => r.value !== null).sort((a, b) => a.offset - b.offset)
  }

  asLog (): Log { return this as unknown as Log }
}
