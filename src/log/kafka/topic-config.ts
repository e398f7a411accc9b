/**
 * Vigil's TopicConfig ⇄ Kafka topic configs.
 *
 * Kafka only deletes or compacts closed segments, and its default segment lasts 7 days, so a
 * topic with `retentionMs: 60000` would keep records for a week. Vigil therefore also sets the
 * segment size and age from the retention: `segment.ms` is a tenth of retention.ms (at least
 * 1 s), `segment.bytes` a tenth of retention.bytes (Kafka's floor is 1 MiB). Compacted topics
 * roll segments every 10 s and clean at a dirty ratio of 0.1, so the latest value per key is
 * visible within seconds instead of after a week.
 */
import { defaultTopicConfig, type TopicConfig } from '../types.ts'

const sevenDaysMs = 7 * 24 * 3600 * 1000
const minSegmentMs = 1000
const compactedSegmentMs = 10_000
const minSegmentBytes = 1024 * 1024
const maxSegmentBytes = 1024 * 1024 * 1024

/** The Kafka configs Vigil reads back into a TopicConfig. */
export const describedConfigKeys = ['retention.ms', 'retention.bytes', 'cleanup.policy', 'max.message.bytes']

/** The topic-level Kafka configs for a Vigil topic config. */
export function kafkaConfigsOf (config: Omit<TopicConfig, 'partitions' | 'replicationFactor'>): Array<{ name: string, value: string }> {
  const configs: Record<string, string | number> = {
    'retention.ms': config.retentionMs,
    'retention.bytes': config.retentionBytes,
    'cleanup.policy': config.cleanupPolicy,
    'max.message.bytes': config.maxMessageBytes
  }
  let segmentMs = config.retentionMs > 0 ? Math.max(minSegmentMs, Math.floor(config.retentionMs / 10)) : undefined
  if (config.cleanupPolicy === 'compact') {
    segmentMs = Math.min(segmentMs ?? compactedSegmentMs, compactedSegmentMs)
    configs['min.cleanable.dirty.ratio'] = '0.1'
    configs['min.compaction.lag.ms'] = 0
  }
  if (segmentMs !== undefined && segmentMs < sevenDaysMs) configs['segment.ms'] = segmentMs
  if (config.retentionBytes > 0) {
    configs['segment.bytes'] = Math.min(maxSegmentBytes, Math.max(minSegmentBytes, Math.floor(config.retentionBytes / 10)))
  }
  return Object.entries(configs).map(([name, value]) => ({ name, value: String(value) }))
}

/** Reads retention, cleanup policy and max message size back from Kafka's described configs. */
export function topicConfigFromKafka (values: ReadonlyMap<string, string | null | undefined>, partitions: number, replicationFactor: number): TopicConfig {
  const int = (key: string, fallback: number) => {
    const text = values.get(key)
    const n = text === null || text === undefined ? Number.NaN : Number(text)
    return Number.isFinite(n) ? n : fallback
  }
  const policy = values.get('cleanup.policy') ?? 'delete'
  return {
    partitions,
    replicationFactor,
    retentionMs: int('retention.ms', defaultTopicConfig.retentionMs),
    retentionBytes: int('retention.bytes', defaultTopicConfig.retentionBytes),
    // Kafka also allows "compact,delete"; compaction is the part a reader notices.
    cleanupPolicy: policy.split(',').includes('compact') ? 'compact' : 'delete',
    maxMessageBytes: int('max.message.bytes', defaultTopicConfig.maxMessageBytes)
  }
}
