/**
 * Appends Vigil's own audit events (access control's record of who did what) to the audit topic,
 * the same way POST /v1/audit/events does: normalised, then durable on the log. The archiver
 * chains and signs them like any other record, so `vigil audit verify` covers them. The verbosity
 * preset does not apply: Vigil's own record is always kept.
 */
import type { Log } from '../log/types.ts'
import { normaliseEvents } from './record.ts'

export interface AuditTopic {
  /** audit.topic */
  topic: string
  /** audit.partitions, used when the topic does not exist yet (a CLI run before any `vigil serve`). */
  partitions: number
}

const ensured = new WeakMap<Log, Set<string>>()

export async function appendAuditEvents (log: Log, target: AuditTopic, events: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  if (events.length === 0) return
  const records = normaliseEvents(events)
  let topics = ensured.get(log)
  if (topics === undefined) ensured.set(log, topics = new Set())
  if (!topics.has(target.topic)) {
    // The same spec as the audit service's: its chain must never lose a record to retention.
    await log.admin.ensureTopic({ name: target.topic, partitions: target.partitions, retentionMs: -1 })
    topics.add(target.topic)
  }
  const now = Date.now()
  await log.produce(target.topic, records.map(record => ({ value: Buffer.from(JSON.stringify(record)), timestamp: now })))
}
