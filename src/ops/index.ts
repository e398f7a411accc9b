/**
 * Operations as code (issue #15): a desired-state file (topics, dead-letter topics, schema
 * subjects, services) is loaded with its line numbers, planned against a target (Kafka or the
 * embedded log) and applied. The CLI's `vigil plan` and `vigil apply` are thin over this face.
 */
import type { Admin } from '@platformatic/kafka'
import type { VigilConfig } from '../config/schema.ts'
import type { Log } from '../log/types.ts'
import { openSchemaRegistry } from '../schema/index.ts'
import { EmbeddedOpsTarget } from './embedded-target.ts'
import { KafkaOpsTarget } from './kafka-target.ts'
import type { OpsTarget } from './target.ts'

export { loadDesiredState, parseDesiredState, durationMs, sizeBytes } from './load.ts'
export { DesiredStateSchema } from './desired-state.ts'
export type { DesiredState, DesiredTopic, DesiredSubject, DesiredAcl, DesiredUser, DesiredStateFile } from './desired-state.ts'
export { planChanges, formatPlan, describeChange, type Plan, type PlannedChange, type Change } from './plan.ts'
export { applyPlan, checkApplicable, type ApplyOptions } from './apply.ts'
export { aclsOf, describeAcl } from './acls.ts'
export type { OpsTarget, ActualTopic } from './target.ts'
export { createClusterMetricsComponent } from './cluster-metrics.ts'

/** The Kafka log's admin client, when `log` is on Kafka (the embedded log has none). */
function kafkaAdminOf (log: Log): Admin | undefined {
  const candidate = log as Log & { adminClient?: () => Admin }
  return typeof candidate.adminClient === 'function' ? candidate.adminClient() : undefined
}

/** The target for a connected log, with the schema registry the configuration names (Vigil's own on the log unless schemaRegistry.url is set). */
export async function openOpsTarget (config: Readonly<VigilConfig>, log: Log): Promise<OpsTarget> {
  const schemas = await openSchemaRegistry(config, log, { registerBuiltin: false })
  const admin = kafkaAdminOf(log)
  const target = admin === undefined ? new EmbeddedOpsTarget(log.admin, schemas.registry) : new KafkaOpsTarget(admin, schemas.registry)
  const close = target.close.bind(target)
  target.close = async () => { await close(); await schemas.close() }
  return target
}
