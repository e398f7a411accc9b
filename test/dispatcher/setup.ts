/**
 * Fixtures of the connector tests: a fake CISO Assistant seeded like a small real instance, the
 * connector on a real log with Vigil's schema registry (the schemas/ folder registered), and
 * helpers to produce legacy JSON and seed-000 Avro messages.
 */
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import { validateConfig } from '../../src/config/load.ts'
import type { VigilConfig } from '../../src/config/schema.ts'
import { createCisoDispatcher, type CisoDispatcher } from '../../src/dispatcher/connector.ts'
import { openSchemaRegistry, type SchemaServices } from '../../src/schema/index.ts'
import type { ProduceRecord } from '../../src/log/types.ts'
import { captureLogger, type CapturedLogger, type OpenedLog } from '../pipeline/helpers.ts'
import { startFakeCisoAssistant, type FakeCisoAssistant, type FakeCisoOptions } from '../fakes/ciso-assistant/server.ts'

export const urn = (ref: string) => `urn:intuitem:risk:req_node:iso27001-2022:${ref}`

export const subjects = {
  appliedControlStatus: 'io.vigil.ciso.UpdateAppliedControlStatus',
  requirementAssessmentStatus: 'io.vigil.ciso.UpdateRequirementAssessmentStatus',
  attachEvidence: 'io.vigil.ciso.AttachEvidenceToAppliedControl',
  envelope: 'io.vigil.EventEnvelope'
}

export interface Fixture {
  fake: FakeCisoAssistant
  ids: {
    ac1: string
    ac2: string
    ac3: string
    iso: string
    ra1: string
    ra2: string
    locked: string
    lockedRa: string
  }
}

export async function startSeededFake (t: { after: (fn: () => unknown) => void }, options: FakeCisoOptions = {}): Promise<Fixture> {
  const fake = await startFakeCisoAssistant(options)
  t.after(() => fake.close())
  const ac1 = fake.addAppliedControl({ name: 'MFA everywhere', ref_id: 'AC-1', category: 'technical' })
  const ac2 = fake.addAppliedControl({ name: 'Backups', ref_id: 'AC-2' })
  const ac3 = fake.addAppliedControl({ name: 'Backups (site B)', ref_id: 'AC-3' })
  const iso = fake.addComplianceAssessment({ ref_id: 'ISO_001' })
  const ra1 = fake.addRequirementAssessment(iso, urn('a.5.1'))
  const ra2 = fake.addRequirementAssessment(iso, urn('a.5.2'))
  const locked = fake.addComplianceAssessment({ ref_id: 'LOCKED_001', is_locked: true })
  const lockedRa = fake.addRequirementAssessment(locked, urn('a.5.1'))
  return { fake, ids: { ac1: ac1.id, ac2: ac2.id, ac3: ac3.id, iso: iso.id, ra1: ra1.id, ra2: ra2.id, locked: locked.id, lockedRa: lockedRa.id } }
}

export interface ConnectorSetup {
  config: Readonly<VigilConfig>
  connector: CisoDispatcher
  schema: SchemaServices
  captured: CapturedLogger
  registry: Registry
  topic: string
  dlq: string
}

export async function startConnector (opened: OpenedLog, fake: FakeCisoAssistant, dispatcher: Record<string, unknown> = {}, pipelines: Record<string, unknown> = {}): Promise<ConnectorSetup> {
  const topic = `observation-${randomUUID()}`
  const api = (dispatcher.api ?? {}) as Record<string, unknown>
  const config = validateConfig({
    log: { url: opened.url },
    dispatcher: { topic, group: `g-${topic}`, ...dispatcher, api: { url: fake.url, token: fake.token, requestTimeoutMs: 2000, ...api } },
    pipelines: {
      commitIntervalMs: 20,
      pollTimeoutMs: 100,
      ...pipelines,
      retry: { initialDelayMs: 10, maxDelayMs: 100, jitterRatio: 0.1, ...(pipelines.retry as Record<string, unknown> ?? {}) }
    }
  })
  await opened.log.admin.createTopic({ name: topic, partitions: 3 })
  const schema = await openSchemaRegistry(config, opened.log, { registerBuiltin: true })
  opened.defer(() => schema.close())
  const captured = captureLogger()
  const registry = new Registry()
  const connector = createCisoDispatcher(config, opened.log, { logger: captured.logger, registry, serde: schema.serde })
  opened.defer(() => connector.stop())
  return { config, connector, schema, captured, registry, topic, dlq: `${topic}-dlq` }
}

export function legacy (message: Record<string, unknown>, key?: string): ProduceRecord {
  return { key: key === undefined ? null : Buffer.from(key), value: Buffer.from(JSON.stringify(message)) }
}

export async function avro (schema: SchemaServices, subject: string, value: Record<string, unknown>, key?: string): Promise<ProduceRecord> {
  const encoder = await schema.serde.encoderFor(subject)
  return {
    key: key === undefined ? null : Buffer.from(key),
    value: encoder.encode({ event_id: randomUUID(), version: 1, occurred_at: Date.now(), source: 'vigil-tests', ...value })
  }
}
