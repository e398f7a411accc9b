/**
 * Apply: makes a plan's changes, in an order where each step has what it needs (topics, then
 * their partitions and configs, then SCRAM users and ACLs, then subjects' levels before their
 * schemas). Nothing is changed while the plan holds a refusal, or a destructive change that was
 * not allowed, or a SCRAM password that is missing: the error names every reason.
 */
import { VigilError } from '../errors.ts'
import type { DesiredState } from './desired-state.ts'
import { describeChange, type Plan, type PlannedChange } from './plan.ts'
import type { OpsTarget } from './target.ts'

export interface ApplyOptions {
  /** Let destructive changes (ACL removals) through. */
  allowDelete?: boolean
  /** Where SCRAM passwords are read from (default process.env). */
  env?: Record<string, string | undefined>
  /** Called after each change is made. */
  onChange?: (change: PlannedChange) => void
}

/** Throws when the plan may not be applied as it is; returns otherwise. */
export function checkApplicable (plan: Plan, options: ApplyOptions = {}): void {
  const refused = plan.changes.filter(c => c.refused !== undefined)
  const destructive = options.allowDelete === true ? [] : plan.changes.filter(c => c.destructive !== undefined)
  if (refused.length > 0 || destructive.length > 0) {
    const lines = [...refused, ...destructive].map(c => `  ${describeChange(c)}`)
    throw new VigilError('VGL_OPS_DESTRUCTIVE',
      `${plan.file}: nothing was applied, because the plan holds ${refused.length} refused and ${destructive.length} destructive change(s)${destructive.length > 0 ? ' (allow these with --allow-delete)' : ''}:\n${lines.join('\n')}`,
      { file: plan.file, refused: refused.length, destructive: destructive.length })
  }
  const env = options.env ?? process.env
  const missing = plan.changes.flatMap(c => c.kind === 'create-scram-user' && (env[c.passwordEnv] ?? '') === '' ? [`${c.passwordEnv} (user ${c.user})`] : [])
  if (missing.length > 0) {
    throw new VigilError('VGL_OPS_SECRET_MISSING', `${plan.file}: nothing was applied, because these SCRAM password variables are not set: ${missing.join(', ')}`, { file: plan.file })
  }
}

const order: Record<PlannedChange['kind'], number> = {
  'create-topic': 0, 'add-partitions': 1, 'alter-topic-config': 2, 'create-scram-user': 3, 'add-acl': 4, 'remove-acl': 5, 'set-compatibility': 6, 'register-schema': 7
}

export async function applyPlan (plan: Plan, state: DesiredState, target: OpsTarget, options: ApplyOptions = {}): Promise<PlannedChange[]> {
  checkApplicable(plan, options)
  const env = options.env ?? process.env
  const topics = new Map(state.topics.map(t => [t.name, t]))
  // Stable sort: within a kind, the file's order (a subject's schemas oldest first).
  const changes = [...plan.changes].sort((a, b) => order[a.kind] - order[b.kind])
  const acls = { add: changes.flatMap(c => c.kind === 'add-acl' ? [c.acl] : []), remove: changes.flatMap(c => c.kind === 'remove-acl' ? [c.acl] : []) }
  const done: PlannedChange[] = []
  const report = (change: PlannedChange) => { done.push(change); options.onChange?.(change) }
  for (const change of changes) {
    switch (change.kind) {
      case 'create-topic': {
        const topic = topics.get(change.topic)
        if (topic !== undefined) await target.createTopic(topic)
        break
      }
      case 'add-partitions': await target.addPartitions(change.topic, change.to); break
      case 'alter-topic-config': await target.alterTopicConfigs(change.topic, Object.fromEntries(change.configs.map(c => [c.name, c.to]))); break
      case 'create-scram-user': await target.upsertScramUser(change.user, change.mechanism, env[change.passwordEnv] ?? ''); break
      // ACLs go in one request each way (below), after the loop reaches them.
      case 'add-acl': if (acls.add.length > 0) { await target.createAcls(acls.add); acls.add = [] } break
      case 'remove-acl': if (acls.remove.length > 0) { await target.deleteAcls(acls.remove); acls.remove = [] } break
      case 'set-compatibility': await target.registry.setConfig(change.subject, change.to as Parameters<OpsTarget['registry']['setConfig']>[1]); break
      case 'register-schema': {
        const subject = state.subjects.find(s => s.subject === change.subject)
        const schema = subject?.schemas.find(s => s.file === change.file)
        if (schema !== undefined) await target.registry.register(change.subject, { schema: schema.text, schemaType: change.schemaType })
        break
      }
    }
    report(change)
  }
  return done
}
