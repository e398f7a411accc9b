/**
 * The attention rules: which reasons a node needs attention for at a given time, and when that
 * answer can next change without any new input (its next deadline). The clock re-evaluates a
 * node only at that time, so a silent node turns heartbeat_stale on time and 100,000 healthy
 * nodes cost nothing between their deadlines. Pure functions of the node and the time.
 */
import type { CommandResultRecord, ScanRecord } from './records.ts'

export const attentionReasons = [
  'heartbeat_stale',
  'never_scanned',
  'scan_stale',
  'critical_findings',
  'services_down',
  'cloudflare_down',
  'command_failed',
  'incident_report_near',
  'incident_report_overdue'
] as const
export type AttentionReason = typeof attentionReasons[number]

export interface Thresholds {
  heartbeatStaleS: number
  scanStaleS: number
  incidentNearS: number
}

export type ReportName = 'initial' | 'intermediate' | 'final'
export type DeadlineState = 'ok' | 'near' | 'overdue' | 'done'

export interface OpenIncident {
  envelopeId: string
  classifiedAt: number
  detectedAt: number
  /** Reports already filed (an `ack` event naming the incident and the report). */
  done: Set<ReportName>
}

/** What the rules read of a node. */
export interface AttentionInput {
  /** Server time (ms) the last heartbeat was accepted. */
  lastSeen: number
  cloudflareOk: boolean
  servicesOk: boolean
  scan: ScanRecord | null
  /** Server time (ms) the last scan was accepted. */
  scanAt: number | null
  lastCommandResult: CommandResultRecord | null
  incidents: readonly OpenIncident[]
}

export interface AttentionVerdict {
  reasons: AttentionReason[]
  /** The next time (ms) the verdict can change with no new input; Infinity when never. */
  nextDueAt: number
}

const hourMs = 3600_000

/**
 * DORA (Regulation 2022/2554 Art. 19, with the RTS on reporting): the initial report within 4 h
 * of classification and at most 24 h after detection, the intermediate within 72 h, the final
 * within one month.
 */
export function incidentDeadlines (incident: Pick<OpenIncident, 'classifiedAt' | 'detectedAt'>): Record<ReportName, number> {
  // One calendar month on; a day the next month lacks (31 January) ends on its last day, as
  // EU time limits do (Regulation 1182/71 Art. 3).
  const from = new Date(incident.classifiedAt)
  const final = new Date(from)
  final.setUTCDate(1)
  final.setUTCMonth(final.getUTCMonth() + 1)
  const lastDay = new Date(Date.UTC(final.getUTCFullYear(), final.getUTCMonth() + 1, 0)).getUTCDate()
  final.setUTCDate(Math.min(from.getUTCDate(), lastDay))
  return {
    initial: Math.min(incident.classifiedAt + 4 * hourMs, incident.detectedAt + 24 * hourMs),
    intermediate: incident.classifiedAt + 72 * hourMs,
    final: final.getTime()
  }
}

export function deadlineState (dueAt: number, done: boolean, now: number, nearS: number): DeadlineState {
  if (done) return 'done'
  if (now >= dueAt) return 'overdue'
  if (now >= dueAt - nearS * 1000) return 'near'
  return 'ok'
}

export function evaluateAttention (node: AttentionInput, thresholds: Thresholds, now: number): AttentionVerdict {
  const reasons: AttentionReason[] = []
  let nextDueAt = Infinity
  const at = (time: number): void => { if (time > now && time < nextDueAt) nextDueAt = time }

  const staleAt = node.lastSeen + thresholds.heartbeatStaleS * 1000
  if (now >= staleAt) reasons.push('heartbeat_stale')
  else at(staleAt)

  if (node.scan === null || node.scanAt === null) {
    reasons.push('never_scanned')
  } else {
    const scanStaleAt = node.scanAt + thresholds.scanStaleS * 1000
    if (now >= scanStaleAt) reasons.push('scan_stale')
    else at(scanStaleAt)
    if (node.scan.summary.critical > 0) reasons.push('critical_findings')
  }
  if (!node.servicesOk) reasons.push('services_down')
  if (!node.cloudflareOk) reasons.push('cloudflare_down')
  if (node.lastCommandResult !== null && node.lastCommandResult.status === 'failed') reasons.push('command_failed')

  let near = false
  let overdue = false
  for (const incident of node.incidents) {
    const deadlines = incidentDeadlines(incident)
    for (const report of ['initial', 'intermediate', 'final'] as const) {
      if (incident.done.has(report)) continue
      const state = deadlineState(deadlines[report], false, now, thresholds.incidentNearS)
      if (state === 'overdue') overdue = true
      else {
        if (state === 'near') near = true
        at(deadlines[report] - thresholds.incidentNearS * 1000)
        at(deadlines[report])
      }
    }
  }
  if (near) reasons.push('incident_report_near')
  if (overdue) reasons.push('incident_report_overdue')
  return { reasons, nextDueAt }
}
