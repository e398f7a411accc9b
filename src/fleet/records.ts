/**
 * The fleet's records as they travel on the log: one topic per kind, keyed by node id, each value
 * one JSON object. The projector, any Vigil process and agents producing over Kafka all read and
 * write these shapes, so they are the fleet's wire contract (docs/fleet.md).
 */

export interface HeartbeatRecord {
  node_id: string
  hostname: string
  os_profile: string
  cloudflare_ok: boolean
  services_ok: boolean
  vaultmesh_root: string
  /** As the agent sent it (RFC 3339). */
  timestamp: string
  uptime_seconds?: number
  load_avg?: number[]
}

export interface ScanSummary {
  critical: number
  high: number
  medium: number
  low: number
}

export interface ScanRecord {
  node_id: string
  scan_id?: string
  ts: string
  summary: ScanSummary
  findings_real: boolean
  receipt_hash: string
  findings?: unknown[]
}

export type CommandResultStatus = 'success' | 'failed' | 'refused'

export interface CommandResultRecord {
  node_id: string
  nonce: string
  command: string
  status: CommandResultStatus
  exit_code?: number | null
  stdout_digest?: string
  stderr_digest?: string
  reason?: string
  started_at?: string
  finished_at?: string
}

export const eventKinds = ['note', 'incident', 'ack', 'tag', 'resolve'] as const
export type EventKind = typeof eventKinds[number]

/** An operator event (VaultMesh 0.7.2/0.7.3 envelope): id and ts are the server's. */
export interface EventEnvelope {
  id: string
  kind: EventKind
  /** Second precision UTC, e.g. 2026-12-07T11:52:08Z. */
  ts: string
  node_id: string | null
  author: string | null
  /** Keys sorted recursively. */
  payload: Record<string, unknown>
}

export type FleetRecordKind = 'heartbeat' | 'scan' | 'event' | 'command' | 'command-result'

export interface FleetTopics {
  heartbeat: string
  scan: string
  event: string
  /** Signed commands the server issued (SignedCommand values). */
  command: string
  'command-result': string
}

export function fleetTopics (prefix: string): FleetTopics {
  return {
    heartbeat: `${prefix}.heartbeats`,
    scan: `${prefix}.scans`,
    event: `${prefix}.events`,
    command: `${prefix}.commands`,
    'command-result': `${prefix}.command-results`
  }
}

/** Sorts object keys recursively (VaultMesh's payload normalisation); arrays keep their order. */
export function sortKeysDeep (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep((value as Record<string, unknown>)[key])
  return out
}

/** RFC 3339 at second precision in UTC with `Z`, as VaultMesh stores event times. */
export function secondPrecisionUtc (ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}
