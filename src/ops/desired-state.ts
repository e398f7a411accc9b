/**
 * The desired-state file's one schema (TypeBox): it validates the file (load.ts), types the
 * code that plans and applies it, and documents every key (docs/operations.md).
 *
 * A file declares topics (each with its optional dead-letter topic and the schema subject bound
 * to it) and services (who produces and who consumes, in which groups). The ACLs and SCRAM users
 * are derived from the services (acls.ts), as kafka-gitops does, never written by hand.
 */
import { Type, type Static } from '@sinclair/typebox'

const topicName = Type.String({ pattern: '^[a-zA-Z0-9._-]{1,249}$', description: 'Topic name: 1 to 249 characters from [a-zA-Z0-9._-].' })

/** `7d`, `12h`, `30m`, `10s`, `500ms`, `3y` (365 d), or whole milliseconds; `-1`/`forever` keeps records for ever. */
const Duration = Type.Union([
  Type.Integer({ minimum: -1 }),
  Type.String({ pattern: '^(forever|-1|\\d+(ms|s|m|h|d|y))$' })
], { description: 'A duration: whole milliseconds, or a number with ms, s, m, h, d or y (365 days); -1 or "forever" for no limit.' })

/** `1MB` (MiB), `10KB`, `1024B`, or whole bytes. */
const Size = Type.Union([
  Type.Integer({ minimum: 1 }),
  Type.String({ pattern: '^\\d+(B|KB|MB|GB)$' })
], { description: 'A size: whole bytes, or a number with B, KB, MB or GB (powers of 1024).' })

export const compatibilityLevels = ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'] as const

const SubjectSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, description: 'Subject name (default <topic>-value, the TopicNameStrategy).' })),
  compatibility: Type.Union(compatibilityLevels.map(l => Type.Literal(l)), { description: 'Compatibility level set on the subject.' }),
  schemaType: Type.Optional(Type.Union([Type.Literal('AVRO'), Type.Literal('JSON')], { description: 'Default AVRO.' })),
  schemas: Type.Array(Type.String({ minLength: 1 }), {
    minItems: 1,
    description: 'Schema files, oldest first, relative to the desired-state file. Each is registered in order; the last is the subject\'s latest version.'
  })
}, { additionalProperties: false })

const TopicSchema = Type.Object({
  name: topicName,
  description: Type.Optional(Type.String()),
  partitions: Type.Integer({ minimum: 1, maximum: 10000, description: 'Number of partitions. Can grow on Kafka; never shrinks.' }),
  replicationFactor: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'Copies of each partition (Kafka; default from `defaults`).' })),
  minInsyncReplicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'min.insync.replicas (Kafka).' })),
  retention: Type.Optional(Duration),
  cleanupPolicy: Type.Optional(Type.Union([Type.Literal('delete'), Type.Literal('compact')], { description: 'delete (default) or compact.' })),
  minCleanableDirtyRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'min.cleanable.dirty.ratio of a compacted topic (Kafka).' })),
  segment: Type.Optional(Duration),
  compression: Type.Optional(Type.Union(['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'].map(c => Type.Literal(c)), { description: 'compression.type (Kafka).' })),
  maxMessageSize: Type.Optional(Size),
  partitionKey: Type.Optional(Type.String({ minLength: 1, description: 'The field producers key records by (documentation and plan output; Vigil\'s partitioner hashes the key).' })),
  deadLetter: Type.Optional(Type.Union([Type.Boolean(), Type.Object({
    name: Type.Optional(topicName),
    partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
    retention: Type.Optional(Duration),
    maxMessageSize: Type.Optional(Size)
  }, { additionalProperties: false })], { description: 'true, or settings, gives the topic a dead-letter topic <name>-dlq (the settings override its name and the values copied from the topic).' })),
  subject: Type.Optional(SubjectSchema)
}, { additionalProperties: false })

const ConsumesSchema = Type.Object({
  topics: Type.Array(topicName, { minItems: 1 }),
  group: Type.String({ minLength: 1, description: 'The consumer group; a trailing * makes it a prefix (agent-* allows every group starting agent-).' })
}, { additionalProperties: false })

const ServiceSchema = Type.Object({
  name: Type.String({ pattern: '^[a-zA-Z0-9._-]+$', description: 'The service; also the SCRAM user name unless `user` is set.' }),
  user: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9._@-]+$', description: 'SCRAM user (principal User:<user>); default the service name.' })),
  scram: Type.Optional(Type.Object({
    mechanism: Type.Union([Type.Literal('SCRAM-SHA-256'), Type.Literal('SCRAM-SHA-512')]),
    passwordEnv: Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$', description: 'Environment variable holding the password (never the password itself).' })
  }, { additionalProperties: false, description: 'Create this SCRAM credential for the user (Kafka).' })),
  admin: Type.Optional(Type.Boolean({ description: 'All operations on the cluster, every topic and every group (an operator account).' })),
  produces: Type.Optional(Type.Array(topicName, { description: 'Topics the service writes (Write and Describe; also their dead-letter topics with `writesDeadLetters`).' })),
  consumes: Type.Optional(Type.Array(ConsumesSchema, { description: 'Topics the service reads, with the group it reads them in (Read and Describe on the topics, Read on the group).' })),
  writesDeadLetters: Type.Optional(Type.Boolean({ description: 'Also Write the dead-letter topics of the topics it consumes (default true).' }))
}, { additionalProperties: false })

export const DesiredStateSchema = Type.Object({
  version: Type.Literal(1, { description: 'Format version: 1.' }),
  defaults: Type.Optional(Type.Object({
    replicationFactor: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    minInsyncReplicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    compression: Type.Optional(Type.Union(['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'].map(c => Type.Literal(c)))),
    retention: Type.Optional(Duration)
  }, { additionalProperties: false, description: 'Values every topic takes unless it sets its own.' })),
  topics: Type.Array(TopicSchema, { minItems: 1 }),
  services: Type.Optional(Type.Array(ServiceSchema))
}, { additionalProperties: false })

export type DesiredStateFile = Static<typeof DesiredStateSchema>
export type TopicEntry = Static<typeof TopicSchema>
export type ServiceEntry = Static<typeof ServiceSchema>

/** A topic as planned: every value resolved (defaults applied, durations and sizes in numbers). */
export interface DesiredTopic {
  name: string
  partitions: number
  replicationFactor: number | undefined
  /** Kafka topic configs Vigil owns for this topic (name → value). */
  configs: Record<string, string>
  retentionMs: number
  cleanupPolicy: 'delete' | 'compact'
  maxMessageBytes: number | undefined
  /** The topic this one is the dead-letter topic of. */
  deadLetterOf?: string
  /** JSON pointer of the entry in the file, to name its line. */
  pointer: string
}

export interface DesiredSubject {
  subject: string
  topic: string
  compatibility: typeof compatibilityLevels[number]
  schemaType: 'AVRO' | 'JSON'
  /** Schema texts in registration order, with the file each came from. */
  schemas: Array<{ file: string, text: string }>
  pointer: string
}

export interface DesiredAcl {
  principal: string
  resourceType: 'TOPIC' | 'GROUP' | 'CLUSTER'
  resourceName: string
  patternType: 'LITERAL' | 'PREFIXED'
  operation: 'ALL' | 'READ' | 'WRITE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS' | 'IDEMPOTENT_WRITE'
}

export interface DesiredUser {
  user: string
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'
  passwordEnv: string
  pointer: string
}

/** The whole file, resolved. `lineOf` names the line of a JSON pointer into the file. */
export interface DesiredState {
  file: string
  topics: DesiredTopic[]
  subjects: DesiredSubject[]
  acls: DesiredAcl[]
  users: DesiredUser[]
  /** Principals whose ACLs this file owns: ACLs of other principals are never removed. */
  principals: string[]
  lineOf (pointer: string): number | undefined
}
