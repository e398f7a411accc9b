/**
 * The ACLs a service needs, derived from what it produces and consumes (kafka-gitops' model):
 * - a producer gets Write and Describe on each topic, and IdempotentWrite on the cluster (the
 *   idempotent producer the seed asks for needs it); Vigil's own producer also reads a topic's
 *   max.message.bytes before it writes, so a producer gets DescribeConfigs on its topics too;
 * - a consumer gets Read and Describe on each topic and Read on its group (a group ending in `*`
 *   is a prefix, which the seed's Strimzi users meant but did not say);
 * - a consumer also gets Write on the dead-letter topics of what it reads, unless told not to,
 *   because a consumer is what sends a failed record there (a gap of the seed: nobody could);
 * - an admin service gets All on the cluster, every topic and every group.
 */
import type { DesiredAcl, DesiredTopic, ServiceEntry } from './desired-state.ts'

export function principalOf (service: ServiceEntry): string {
  return `User:${service.user ?? service.name}`
}

export function aclsOf (service: ServiceEntry, topics: readonly DesiredTopic[]): DesiredAcl[] {
  const principal = principalOf(service)
  const out: DesiredAcl[] = []
  const add = (resourceType: DesiredAcl['resourceType'], resourceName: string, operation: DesiredAcl['operation'], patternType: DesiredAcl['patternType'] = 'LITERAL') => {
    out.push({ principal, resourceType, resourceName, patternType, operation })
  }
  if (service.admin === true) {
    add('CLUSTER', 'kafka-cluster', 'ALL')
    add('TOPIC', '*', 'ALL')
    add('GROUP', '*', 'ALL')
  }
  const produced = service.produces ?? []
  for (const topic of produced) {
    add('TOPIC', topic, 'WRITE')
    add('TOPIC', topic, 'DESCRIBE')
    add('TOPIC', topic, 'DESCRIBE_CONFIGS')
  }
  if (produced.length > 0 || (service.consumes?.length ?? 0) > 0) add('CLUSTER', 'kafka-cluster', 'IDEMPOTENT_WRITE')
  const deadLetterOf = new Map(topics.filter(t => t.deadLetterOf !== undefined).map(t => [t.deadLetterOf as string, t.name]))
  for (const consumes of service.consumes ?? []) {
    for (const topic of consumes.topics) {
      add('TOPIC', topic, 'READ')
      add('TOPIC', topic, 'DESCRIBE')
      const dlq = deadLetterOf.get(topic)
      if (dlq !== undefined && service.writesDeadLetters !== false) {
        add('TOPIC', dlq, 'WRITE')
        add('TOPIC', dlq, 'DESCRIBE')
        add('TOPIC', dlq, 'DESCRIBE_CONFIGS')
      }
    }
    const prefix = consumes.group.endsWith('*')
    add('GROUP', prefix ? consumes.group.slice(0, -1) : consumes.group, 'READ', prefix ? 'PREFIXED' : 'LITERAL')
  }
  return dedupeAcls(out)
}

export function aclKey (acl: DesiredAcl): string {
  return `${acl.principal}|${acl.resourceType}|${acl.patternType}|${acl.resourceName}|${acl.operation}`
}

export function dedupeAcls (acls: readonly DesiredAcl[]): DesiredAcl[] {
  const seen = new Map<string, DesiredAcl>()
  for (const acl of acls) seen.set(aclKey(acl), acl)
  return [...seen.values()]
}

/** One line for a plan: `User:x may WRITE topic agent-events`. */
export function describeAcl (acl: DesiredAcl): string {
  const resource = acl.resourceType === 'CLUSTER' ? 'the cluster' : `${acl.resourceType.toLowerCase()} ${acl.resourceName}${acl.patternType === 'PREFIXED' ? '*' : ''}`
  return `${acl.principal} may ${acl.operation} ${resource}`
}
