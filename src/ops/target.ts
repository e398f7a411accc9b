/**
 * Where a desired state is planned and applied: a Kafka cluster (kafka-target.ts) or the
 * embedded log (embedded-target.ts). The plan reads through `read*`, apply writes through the
 * rest; the schema registry is the same API on both.
 */
import type { SchemaRegistryApi } from '../schema/types.ts'
import type { DesiredAcl, DesiredTopic } from './desired-state.ts'

export interface ActualTopic {
  partitions: number
  replicationFactor: number
  /** The values of the config names asked for (undefined when the broker has none). */
  configs: Record<string, string | undefined>
}

export interface OpsTarget {
  readonly kind: 'kafka' | 'embedded'
  /** Whether ACLs and SCRAM users exist on this target (Kafka); the embedded log has neither. */
  readonly hasAcls: boolean
  readonly registry: SchemaRegistryApi
  /** The topic configs this target keeps (undefined: every one a desired topic sets). Others are not planned. */
  readonly topicConfigNames: readonly string[] | undefined
  /** The named topics that exist, with the configs named in `configNames`. */
  readTopics (names: readonly string[], configNames: readonly string[]): Promise<Map<string, ActualTopic>>
  /** Every ACL of these principals. */
  readAcls (principals: readonly string[]): Promise<DesiredAcl[]>
  /** The SCRAM users among `users` that have a credential for their mechanism. */
  readUsers (users: readonly string[]): Promise<Map<string, Set<string>>>
  createTopic (topic: DesiredTopic): Promise<void>
  alterTopicConfigs (topic: string, set: Record<string, string>): Promise<void>
  addPartitions (topic: string, count: number): Promise<void>
  createAcls (acls: readonly DesiredAcl[]): Promise<void>
  deleteAcls (acls: readonly DesiredAcl[]): Promise<void>
  upsertScramUser (user: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', password: string): Promise<void>
  close (): Promise<void>
}
