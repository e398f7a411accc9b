/**
 * Topic names and settings, checked the same way on every backend: a bad one is refused with
 * VGL_LOG_TOPIC_INVALID naming the setting, before anything is created.
 */
import { VigilError } from '../errors.ts'
import { defaultTopicConfig, type ConsumerOptions, type TopicConfig, type TopicSpec } from './types.ts'

const topicNamePattern = /^[a-zA-Z0-9._-]{1,249}$/

export function checkTopicName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || !topicNamePattern.test(name) || name === '.' || name === '..') {
    throw new VigilError('VGL_LOG_TOPIC_INVALID', `topic name ${JSON.stringify(name)} is invalid: use 1 to 249 characters from [a-zA-Z0-9._-]`, { topic: name })
  }
}

/**
 * The spec over the defaults, each setting checked (VGL_LOG_TOPIC_INVALID names the bad one).
 * `replicationFactor` stays undefined when not given: the cluster's default.replication.factor.
 */
export function topicConfigOf (spec: TopicSpec): Omit<TopicConfig, 'replicationFactor'> & { replicationFactor?: number } {
  checkTopicName(spec?.name)
  const { replicationFactor: _ignored, ...defaults } = defaultTopicConfig
  const config: Omit<TopicConfig, 'replicationFactor'> & { replicationFactor?: number } = { ...defaults }
  const bad = (key: string, rule: string) => new VigilError('VGL_LOG_TOPIC_INVALID',
    `topic ${spec.name}: ${key} ${JSON.stringify((spec as unknown as Record<string, unknown>)[key])} is invalid (${rule})`,
    { topic: spec.name, setting: key })
  const integer = (key: 'partitions' | 'replicationFactor' | 'retentionMs' | 'retentionBytes' | 'maxMessageBytes', min: number, max: number) => {
    const value = spec[key]
    if (value === undefined) return
    if (!Number.isSafeInteger(value) || value < min || value > max) throw bad(key, `a whole number from ${min} to ${max}`)
    config[key] = value
  }
  integer('partitions', 1, 10000)
  integer('replicationFactor', 1, 16)
  integer('retentionMs', -1, Number.MAX_SAFE_INTEGER)
  integer('retentionBytes', -1, Number.MAX_SAFE_INTEGER)
  integer('maxMessageBytes', 1, 2 ** 31 - 1)
  if (spec.cleanupPolicy !== undefined) {
    if (spec.cleanupPolicy !== 'delete' && spec.cleanupPolicy !== 'compact') throw bad('cleanupPolicy', 'delete or compact')
    config.cleanupPolicy = spec.cleanupPolicy
  }
  return config
}

/** A consumer needs a group name and at least one valid topic name. */
export function checkConsumerOptions (options: ConsumerOptions): void {
  if (typeof options.group !== 'string' || options.group === '') {
    throw new VigilError('VGL_LOG_GROUP_INVALID', 'a consumer needs a non-empty group name', { group: options.group })
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    throw new VigilError('VGL_LOG_TOPIC_INVALID', `the consumer of group ${options.group} names no topic`, { group: options.group })
  }
  for (const topic of options.topics) checkTopicName(topic)
}
