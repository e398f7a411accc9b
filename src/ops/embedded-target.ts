/**
 * OpsTarget on the embedded log: topics with their partitions, retention, cleanup policy and
 * largest record, created through the log's admin. The embedded log keeps one copy and cannot
 * add partitions or change a topic's settings after creation, so those changes are refused
 * (VGL_OPS_UNSUPPORTED) rather than planned as if they could happen; it has no ACLs or SCRAM
 * users (the HTTP API's roles guard it instead).
 */
import { VigilError } from '../errors.ts'
import type { LogAdmin } from '../log/types.ts'
import type { SchemaRegistryApi } from '../schema/types.ts'
import type { DesiredAcl, DesiredTopic } from './desired-state.ts'
import type { ActualTopic, OpsTarget } from './target.ts'

export class EmbeddedOpsTarget implements OpsTarget {
  readonly kind = 'embedded'
  readonly hasAcls = false
  readonly topicConfigNames = ['retention.ms', 'cleanup.policy', 'max.message.bytes'] as const
  readonly registry: SchemaRegistryApi
  readonly #admin: LogAdmin

  constructor (admin: LogAdmin, registry: SchemaRegistryApi) {
    this.#admin = admin
    this.registry = registry
  }

  async readTopics (names: readonly string[]): Promise<Map<string, ActualTopic>> {
    const existing = new Set(await this.#admin.listTopics())
    const out = new Map<string, ActualTopic>()
    for (const name of names) {
      if (!existing.has(name)) continue
      const { config } = await this.#admin.describeTopic(name)
      out.set(name, {
        partitions: config.partitions,
        replicationFactor: config.replicationFactor,
        configs: { 'retention.ms': String(config.retentionMs), 'cleanup.policy': config.cleanupPolicy, 'max.message.bytes': String(config.maxMessageBytes) }
      })
    }
    return out
  }

  async readAcls (): Promise<DesiredAcl[]> { return [] }
  async readUsers (): Promise<Map<string, Set<string>>> { return new Map() }

  async createTopic (topic: DesiredTopic): Promise<void> {
    await this.#admin.createTopic({
      name: topic.name,
      partitions: topic.partitions,
      retentionMs: topic.retentionMs,
      cleanupPolicy: topic.cleanupPolicy,
      ...(topic.maxMessageBytes === undefined ? {} : { maxMessageBytes: topic.maxMessageBytes })
    })
  }

  async alterTopicConfigs (topic: string): Promise<void> {
    throw new VigilError('VGL_OPS_UNSUPPORTED', `the embedded log cannot change the settings of topic ${topic} after creation`, { topic })
  }

  async addPartitions (topic: string): Promise<void> {
    throw new VigilError('VGL_OPS_UNSUPPORTED', `the embedded log cannot add partitions to topic ${topic}`, { topic })
  }

  async createAcls (): Promise<void> {}
  async deleteAcls (): Promise<void> {}
  async upsertScramUser (): Promise<void> {}
  async close (): Promise<void> {}
}
