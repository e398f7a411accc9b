/**
 * OpsTarget on Kafka, through the admin client of @platformatic/kafka that the log already holds:
 * topics, partitions and configs (createTopics, createPartitions, incrementalAlterConfigs), ACLs
 * (createAcls, describeAcls, deleteAcls) and SCRAM credentials. The client has no high-level
 * call for SCRAM, so those go through its protocol API (AlterUserScramCredentials v0,
 * DescribeUserScramCredentials v0) on a broker connection of the same admin, which forwards them
 * to the KRaft controller.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import {
  AclOperations, AclPermissionTypes, ConfigResourceTypes, IncrementalAlterConfigOperationTypes, ResourcePatternTypes, ResourceTypes,
  ScramMechanisms, alterUserScramCredentialsV0, describeUserScramCredentialsV0, type Acl, type Admin
} from '@platformatic/kafka'
import { VigilError } from '../errors.ts'
import type { SchemaRegistryApi } from '../schema/types.ts'
import type { DesiredAcl, DesiredTopic } from './desired-state.ts'
import type { ActualTopic, OpsTarget } from './target.ts'

/** Kafka's own minimum for SCRAM iterations is 4096; that is what its kafka-configs tool uses too. */
const scramIterations = 8192

const operationNames = Object.fromEntries(Object.entries(AclOperations).map(([k, v]) => [v, k])) as Record<number, string>
const resourceTypeNames = Object.fromEntries(Object.entries(ResourceTypes).map(([k, v]) => [v, k])) as Record<number, string>

export class KafkaOpsTarget implements OpsTarget {
  readonly kind = 'kafka'
  readonly hasAcls = true
  readonly topicConfigNames = undefined
  readonly registry: SchemaRegistryApi
  readonly #admin: Admin

  constructor (admin: Admin, registry: SchemaRegistryApi) {
    this.#admin = admin
    this.registry = registry
  }

  async readTopics (names: readonly string[], configNames: readonly string[]): Promise<Map<string, ActualTopic>> {
    const out = new Map<string, ActualTopic>()
    const existing = new Set(await this.#admin.listTopics({ includeInternals: false }))
    const present = names.filter(n => existing.has(n))
    if (present.length === 0) return out
    const metadata = await this.#admin.metadata({ topics: present, forceUpdate: true })
    const described = await this.#admin.describeConfigs({
      resources: present.map(resourceName => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName, configurationKeys: [...configNames] }))
    })
    const configsOf = new Map(described.map(d => [d.resourceName, Object.fromEntries(d.configs.map(c => [c.name, c.value ?? undefined]))]))
    for (const name of present) {
      const topic = metadata.topics.get(name)
      if (topic === undefined) continue
      out.set(name, { partitions: topic.partitionsCount, replicationFactor: topic.partitions[0]?.replicas.length ?? 0, configs: configsOf.get(name) ?? {} })
    }
    return out
  }

  async readAcls (principals: readonly string[]): Promise<DesiredAcl[]> {
    const out: DesiredAcl[] = []
    for (const principal of principals) {
      const resources = await this.#admin.describeAcls({
        filter: {
          resourceType: ResourceTypes.ANY,
          resourceName: null,
          resourcePatternType: ResourcePatternTypes.ANY,
          principal,
          host: null,
          operation: AclOperations.ANY,
          permissionType: AclPermissionTypes.ANY
        }
      })
      for (const r of resources) {
        for (const acl of r.acls) {
          const resourceType = resourceTypeNames[r.resourceType]
          const operation = operationNames[acl.operation]
          // Vigil writes only ALLOW on these resource types; anything else was written by hand and is shown as is.
          if (acl.permissionType !== AclPermissionTypes.ALLOW) continue
          out.push({
            principal: acl.principal,
            resourceType: resourceType as DesiredAcl['resourceType'],
            resourceName: r.resourceName,
            patternType: r.resourcePatternType === ResourcePatternTypes.PREFIXED ? 'PREFIXED' : 'LITERAL',
            operation: operation as DesiredAcl['operation']
          })
        }
      }
    }
    return out
  }

  async readUsers (users: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>()
    if (users.length === 0) return out
    // A user with no credential is an error result (RESOURCE_NOT_FOUND) in the response, which the
    // client raises as a ResponseError carrying the parsed response: read the results from it.
    const response = await describeUserScramCredentialsV0.api.async(await this.#connection(), users.map(name => ({ name })))
      .catch((error: unknown) => {
        const parsed = (error as { response?: unknown }).response as Awaited<ReturnType<typeof describeUserScramCredentialsV0.api.async>> | undefined
        if (parsed?.results === undefined) throw error
        return parsed
      })
    for (const result of response.results) {
      if (result.errorCode !== 0) continue
      out.set(result.user, new Set(result.credentialInfos.map(c => c.mechanism === ScramMechanisms.SCRAM_SHA_512 ? 'SCRAM-SHA-512' : 'SCRAM-SHA-256')))
    }
    return out
  }

  async createTopic (topic: DesiredTopic): Promise<void> {
    await this.#admin.createTopics({
      topics: [topic.name],
      partitions: topic.partitions,
      replicas: topic.replicationFactor ?? -1,
      configs: Object.entries(topic.configs).map(([name, value]) => ({ name, value }))
    })
  }

  async alterTopicConfigs (topic: string, set: Record<string, string>): Promise<void> {
    await this.#admin.incrementalAlterConfigs({
      resources: [{
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: topic,
        configs: Object.entries(set).map(([name, value]) => ({ name, value, configOperation: IncrementalAlterConfigOperationTypes.SET }))
      }]
    })
  }

  async addPartitions (topic: string, count: number): Promise<void> {
    await this.#admin.createPartitions({ topics: [{ name: topic, count }] })
  }

  async createAcls (acls: readonly DesiredAcl[]): Promise<void> {
    if (acls.length > 0) await this.#admin.createAcls({ creations: acls.map(toKafkaAcl) })
  }

  async deleteAcls (acls: readonly DesiredAcl[]): Promise<void> {
    if (acls.length > 0) await this.#admin.deleteAcls({ filters: acls.map(toKafkaAcl) })
  }

  async upsertScramUser (user: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', password: string): Promise<void> {
    // RFC 5802: SaltedPassword = Hi(password, salt, i), PBKDF2 with the mechanism's HMAC.
    const salt = randomBytes(32)
    const digest = mechanism === 'SCRAM-SHA-512' ? 'sha512' : 'sha256'
    const saltedPassword = pbkdf2Sync(password, salt, scramIterations, digest === 'sha512' ? 64 : 32, digest)
    const response = await alterUserScramCredentialsV0.api.async(await this.#connection(), [], [{
      name: user,
      mechanism: mechanism === 'SCRAM-SHA-512' ? ScramMechanisms.SCRAM_SHA_512 : ScramMechanisms.SCRAM_SHA_256,
      iterations: scramIterations,
      salt,
      saltedPassword
    }])
    const failed = response.results.find(r => r.errorCode !== 0)
    if (failed !== undefined) {
      throw new VigilError('VGL_LOG_BACKEND_ERROR', `the cluster refused the SCRAM credential of ${user}: ${failed.errorMessage ?? `error code ${failed.errorCode}`}`, { user })
    }
  }

  async close (): Promise<void> {}

  async #connection () {
    const connections = await this.#admin.connectToBrokers(null)
    const first = connections.values().next()
    if (first.done === true) throw new VigilError('VGL_LOG_UNREACHABLE', 'no Kafka broker is reachable for the SCRAM credentials')
    return first.value
  }
}

function toKafkaAcl (acl: DesiredAcl): Acl {
  return {
    resourceType: ResourceTypes[acl.resourceType],
    resourceName: acl.resourceName,
    resourcePatternType: acl.patternType === 'PREFIXED' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: acl.principal,
    host: '*',
    operation: AclOperations[acl.operation],
    permissionType: AclPermissionTypes.ALLOW
  }
}
