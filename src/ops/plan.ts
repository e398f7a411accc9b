/**
 * The plan: what must change on a target for it to match the desired state, read-only.
 *
 * Each change says what it does in words (`describe`) and as data (`--json`). A change that
 * would destroy something (an ACL of a principal the file owns that the file no longer grants)
 * carries `destructive`; one that cannot be made at all (fewer partitions, a new replication
 * factor, a schema the subject's level refuses, a change the embedded log cannot make) carries
 * `refused`; each names why and the line of the file it comes from. `apply` makes no change at
 * all while the plan holds a refusal, or a destructive change it was not allowed.
 */
import { checkLevel, parseSchema, type PreviousVersion } from '../schema/index.ts'
import { VigilError } from '../errors.ts'
import { aclKey, describeAcl } from './acls.ts'
import type { DesiredAcl, DesiredState, DesiredTopic } from './desired-state.ts'
import type { OpsTarget } from './target.ts'

export type Change =
  | { kind: 'create-topic', topic: string, partitions: number, replicationFactor: number | undefined, configs: Record<string, string>, line: number | undefined }
  | { kind: 'alter-topic-config', topic: string, configs: Array<{ name: string, from: string | undefined, to: string }>, line: number | undefined }
  | { kind: 'add-partitions', topic: string, from: number, to: number, line: number | undefined }
  | { kind: 'add-acl', acl: DesiredAcl }
  | { kind: 'remove-acl', acl: DesiredAcl }
  | { kind: 'create-scram-user', user: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', passwordEnv: string, line: number | undefined }
  | { kind: 'set-compatibility', subject: string, from: string | undefined, to: string, line: number | undefined }
  | { kind: 'register-schema', subject: string, file: string, schemaType: 'AVRO' | 'JSON', line: number | undefined }

export type PlannedChange = Change & {
  /** Why this change destroys something; applied only when allowed. */
  destructive?: string
  /** Why this change cannot be made; never applied. */
  refused?: string
}

export interface Plan {
  file: string
  target: 'kafka' | 'embedded'
  changes: PlannedChange[]
}

export async function planChanges (state: DesiredState, target: OpsTarget): Promise<Plan> {
  const changes: PlannedChange[] = []
  await planTopics(state, target, changes)
  if (target.hasAcls) await planAcls(state, target, changes)
  await planSubjects(state, target, changes)
  return { file: state.file, target: target.kind, changes }
}

/** The Kafka configs planned for a topic: those the file sets that the target keeps. */
function plannedConfigs (topic: DesiredTopic, target: OpsTarget): Record<string, string> {
  const keep = target.topicConfigNames
  return Object.fromEntries(Object.entries(topic.configs).filter(([name]) => keep === undefined || keep.includes(name)))
}

/** The file's key for each Kafka config, to name the line a config change comes from. */
const fileKeyOfConfig: Record<string, string> = {
  'retention.ms': 'retention',
  'cleanup.policy': 'cleanupPolicy',
  'max.message.bytes': 'maxMessageSize',
  'compression.type': 'compression',
  'min.insync.replicas': 'minInsyncReplicas',
  'segment.ms': 'segment',
  'min.cleanable.dirty.ratio': 'minCleanableDirtyRatio'
}

async function planTopics (state: DesiredState, target: OpsTarget, changes: PlannedChange[]): Promise<void> {
  const configNames = [...new Set(state.topics.flatMap(t => Object.keys(t.configs)))]
  const actual = await target.readTopics(state.topics.map(t => t.name), configNames)
  for (const topic of state.topics) {
    const line = state.lineOf(topic.pointer)
    const have = actual.get(topic.name)
    const configs = plannedConfigs(topic, target)
    if (have === undefined) {
      changes.push({ kind: 'create-topic', topic: topic.name, partitions: topic.partitions, replicationFactor: target.kind === 'kafka' ? topic.replicationFactor : undefined, configs, line })
      continue
    }
    const partitionsLine = state.lineOf(topic.deadLetterOf === undefined ? `${topic.pointer}/partitions` : topic.pointer)
    if (topic.partitions < have.partitions) {
      changes.push({
        kind: 'add-partitions',
        topic: topic.name,
        from: have.partitions,
        to: topic.partitions,
        line: partitionsLine,
        refused: `topic ${topic.name} has ${have.partitions} partitions and the file asks for ${topic.partitions}: Kafka cannot remove partitions (keys would move); create a new topic instead`
      })
    } else if (topic.partitions > have.partitions) {
      const change: PlannedChange = { kind: 'add-partitions', topic: topic.name, from: have.partitions, to: topic.partitions, line: partitionsLine }
      if (target.kind === 'embedded') change.refused = `the embedded log cannot add partitions to topic ${topic.name} (${have.partitions} → ${topic.partitions})`
      changes.push(change)
    }
    if (target.kind === 'kafka' && topic.replicationFactor !== undefined && topic.replicationFactor !== have.replicationFactor) {
      changes.push({
        kind: 'alter-topic-config',
        topic: topic.name,
        configs: [{ name: 'replication.factor', from: String(have.replicationFactor), to: String(topic.replicationFactor) }],
        line: state.lineOf(`${topic.pointer}/replicationFactor`),
        refused: `topic ${topic.name} has replication factor ${have.replicationFactor}, the file asks for ${topic.replicationFactor}: changing it needs a partition reassignment, which vigil apply does not do`
      })
    }
    const differing = Object.entries(configs).filter(([name, value]) => have.configs[name] !== value)
      .map(([name, to]) => ({ name, from: have.configs[name], to }))
    if (differing.length > 0) {
      const configLine = state.lineOf(`${topic.pointer}/${fileKeyOfConfig[differing[0]?.name ?? ''] ?? ''}`) ?? line
      const change: PlannedChange = { kind: 'alter-topic-config', topic: topic.name, configs: differing, line: configLine }
      if (target.kind === 'embedded') change.refused = `the embedded log cannot change the settings of topic ${topic.name} after creation (${differing.map(d => d.name).join(', ')})`
      changes.push(change)
    }
  }
}

async function planAcls (state: DesiredState, target: OpsTarget, changes: PlannedChange[]): Promise<void> {
  const have = await target.readAcls(state.principals)
  const haveKeys = new Set(have.map(aclKey))
  const wantKeys = new Set(state.acls.map(aclKey))
  for (const acl of state.acls) if (!haveKeys.has(aclKey(acl))) changes.push({ kind: 'add-acl', acl })
  for (const acl of have) {
    if (!wantKeys.has(aclKey(acl))) changes.push({ kind: 'remove-acl', acl, destructive: `${describeAcl(acl)} is not granted by the file any more; removing it may stop a running service` })
  }
  const users = await target.readUsers(state.users.map(u => u.user))
  for (const user of state.users) {
    if (users.get(user.user)?.has(user.mechanism) === true) continue
    changes.push({ kind: 'create-scram-user', user: user.user, mechanism: user.mechanism, passwordEnv: user.passwordEnv, line: state.lineOf(user.pointer) })
  }
}

async function planSubjects (state: DesiredState, target: OpsTarget, changes: PlannedChange[]): Promise<void> {
  const registry = target.registry
  const existing = new Set(await registry.listSubjects())
  for (const subject of state.subjects) {
    const line = state.lineOf(subject.pointer)
    let level: string | undefined
    const previous: PreviousVersion[] = []
    if (existing.has(subject.subject)) {
      level = await registry.getConfig(subject.subject, { defaultToGlobal: false }).catch(() => undefined)
      for (const version of await registry.listVersions(subject.subject)) {
        const registered = await registry.getVersion(subject.subject, version)
        previous.push({ version, schema: parseSchema({ schema: registered.schema, schemaType: registered.schemaType }) })
      }
    }
    if (level !== subject.compatibility) changes.push({ kind: 'set-compatibility', subject: subject.subject, from: level, to: subject.compatibility, line: state.lineOf(`${subject.pointer}/compatibility`) ?? line })
    let nextVersion = (previous.at(-1)?.version ?? 0) + 1
    for (const [j, schema] of subject.schemas.entries()) {
      const schemaLine = state.lineOf(`${subject.pointer}/schemas/${j}`)
      let parsed
      try {
        parsed = parseSchema({ schema: schema.text, schemaType: subject.schemaType })
      } catch (error) {
        throw new VigilError('VGL_OPS_FILE_INVALID', `${state.file}:${schemaLine ?? '?'}: schema file ${schema.file} of subject ${subject.subject} is not a valid ${subject.schemaType} schema: ${(error as Error).message}`, { file: state.file, subject: subject.subject, cause: error })
      }
      const registered = existing.has(subject.subject)
        ? await registry.lookup(subject.subject, { schema: schema.text, schemaType: subject.schemaType }).then(() => true, () => false)
        : false
      if (registered) continue
      const change: PlannedChange = { kind: 'register-schema', subject: subject.subject, file: schema.file, schemaType: subject.schemaType, line: schemaLine }
      const check = checkLevel(subject.compatibility, parsed, previous)
      if (!check.compatible) change.refused = `schema ${schema.file} is not ${subject.compatibility} compatible with subject ${subject.subject}: ${check.messages.join('; ')}`
      changes.push(change)
      previous.push({ version: nextVersion++, schema: parsed })
    }
  }
}

/** One line per change, for people. */
export function describeChange (change: PlannedChange): string {
  const at = 'line' in change && change.line !== undefined ? ` (line ${change.line})` : ''
  let text: string
  switch (change.kind) {
    case 'create-topic':
      text = `create topic ${change.topic}: ${change.partitions} partitions${change.replicationFactor === undefined ? '' : `, replication ${change.replicationFactor}`}, ${Object.entries(change.configs).map(([k, v]) => `${k}=${v}`).join(' ')}`
      break
    case 'alter-topic-config':
      text = `alter topic ${change.topic}: ${change.configs.map(c => `${c.name} ${c.from ?? '(default)'} → ${c.to}`).join(', ')}`
      break
    case 'add-partitions':
      text = `${change.to > change.from ? 'add partitions to' : 'remove partitions from'} topic ${change.topic}: ${change.from} → ${change.to}`
      break
    case 'add-acl': text = `add ACL: ${describeAcl(change.acl)}`; break
    case 'remove-acl': text = `remove ACL: ${describeAcl(change.acl)}`; break
    case 'create-scram-user': text = `create SCRAM user ${change.user} (${change.mechanism}, password from $${change.passwordEnv})`; break
    case 'set-compatibility': text = `set compatibility of subject ${change.subject}: ${change.from ?? '(global default)'} → ${change.to}`; break
    case 'register-schema': text = `register schema ${change.file} under subject ${change.subject}`; break
  }
  const mark = change.refused !== undefined ? `  REFUSED: ${change.refused}` : change.destructive !== undefined ? `  DESTRUCTIVE: ${change.destructive}` : ''
  return `${text}${at}${mark}`
}

export function formatPlan (plan: Plan): string {
  if (plan.changes.length === 0) return `no changes: the ${plan.target} target matches ${plan.file}\n`
  const refused = plan.changes.filter(c => c.refused !== undefined).length
  const destructive = plan.changes.filter(c => c.destructive !== undefined).length
  return `plan for ${plan.file} on the ${plan.target} target: ${plan.changes.length} change(s)` +
    `${refused > 0 ? `, ${refused} refused` : ''}${destructive > 0 ? `, ${destructive} destructive` : ''}\n` +
    plan.changes.map(c => `  ${c.kind === 'remove-acl' || c.refused !== undefined ? '-' : '+'} ${describeChange(c)}\n`).join('')
}
