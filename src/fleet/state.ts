/**
 * The fleet's state, as the projector builds it from the log: per node the last heartbeat, the
 * last scan, a window of recent events, the command results and open incidents; globally a
 * window of recent events. Attention is kept current by the rules in attention.ts, evaluated
 * when a record arrives and again when the clock says a node's next deadline has come.
 *
 * Everything here is derived from the records and their log timestamps only (never from
 * Date.now() at apply time), so replaying the same topics gives the same state.
 */
import { evaluateAttention, incidentDeadlines, deadlineState, type AttentionReason, type OpenIncident, type ReportName, type Thresholds } from './attention.ts'
import { DueQueue } from './clock.ts'
import type { CommandResultRecord, EventEnvelope, HeartbeatRecord, ScanRecord } from './records.ts'
import type { SignedCommand } from './signed-command.ts'

export interface NodeState {
  nodeId: string
  heartbeat: HeartbeatRecord | null
  /** Log time (ms) of the last heartbeat: what last_seen and heartbeat_stale use. */
  lastSeen: number
  scan: ScanRecord | null
  scanAt: number | null
  events: EventEnvelope[]
  commands: CommandResultRecord[]
  /** Commands issued to the node, oldest first, with their result once it came. */
  issued: IssuedCommand[]
  incidents: OpenIncident[]
  reasons: AttentionReason[]
  nextDueAt: number
}

export interface IssuedCommand {
  command: SignedCommand
  result: CommandResultRecord | null
}

export interface NodeSummary {
  node_id: string
  hostname: string
  os_profile: string
  last_seen: string
  state: 'healthy' | 'attention'
  reasons: AttentionReason[]
  cloudflare_ok: boolean
  services_ok: boolean
  last_scan_at: string | null
  critical: number
}

export interface AttentionChange {
  nodeId: string
  reasons: AttentionReason[]
  previous: AttentionReason[]
  at: number
}

export interface FleetStateOptions {
  thresholdsFor: (osProfile: string) => Thresholds
  nodeEventWindow: number
  globalEventWindow: number
  /** Most command results kept per node. */
  commandHistory?: number
  onAttentionChange?: (change: AttentionChange) => void
}

export interface NodeQuery {
  profile?: string
  reason?: string
  state?: 'healthy' | 'attention'
  q?: string
  sort?: 'hostname' | 'last_seen' | 'os_profile' | 'attention'
  order?: 'asc' | 'desc'
  offset?: number
  limit?: number
}

export interface EventQuery {
  since?: number
  kinds?: readonly string[]
  nodeId?: string
  limit: number
}

export class FleetState {
  readonly #nodes = new Map<string, NodeState>()
  readonly #events: EventEnvelope[] = []
  readonly #eventTimes: number[] = []
  readonly #due = new DueQueue()
  readonly #options: FleetStateOptions
  /** Count of registered (heartbeating) nodes by attention, kept as nodes change. */
  #registered = 0

  constructor (options: FleetStateOptions) {
    this.#options = options
  }

  get size (): number { return this.#registered }

  node (nodeId: string): NodeState | undefined {
    const node = this.#nodes.get(nodeId)
    return node?.heartbeat === null ? undefined : node
  }

  applyHeartbeat (record: HeartbeatRecord, at: number): void {
    const node = this.#nodeFor(record.node_id)
    if (node.heartbeat === null) this.#registered++
    node.heartbeat = record
    node.lastSeen = at
    this.#evaluate(node, at)
  }

  applyScan (record: ScanRecord, at: number): void {
    const node = this.#nodeFor(record.node_id)
    node.scan = record
    node.scanAt = at
    this.#evaluate(node, at)
  }

  applyCommand (command: SignedCommand): void {
    const node = this.#nodeFor(command.node_id)
    node.issued.push({ command, result: null })
    const keep = this.#options.commandHistory ?? 100
    if (node.issued.length > keep) node.issued.splice(0, node.issued.length - keep)
  }

  /** Commands issued to the node that have no result yet and have not expired, oldest first. */
  pendingCommands (nodeId: string, now: number): SignedCommand[] {
    const node = this.#nodes.get(nodeId)
    if (node === undefined) return []
    return node.issued.filter(i => i.result === null && Date.parse(i.command.expires_at) > now).map(i => i.command)
  }

  /** Registered node ids of one os_profile. */
  nodeIdsOfProfile (profile: string): string[] {
    const out: string[] = []
    for (const node of this.#nodes.values()) if (node.heartbeat?.os_profile === profile) out.push(node.nodeId)
    return out
  }

  applyCommandResult (record: CommandResultRecord, at: number): void {
    const node = this.#nodeFor(record.node_id)
    const issued = node.issued.find(i => i.command.nonce === record.nonce)
    if (issued !== undefined) issued.result = record
    node.commands.push(record)
    const keep = this.#options.commandHistory ?? 100
    if (node.commands.length > keep) node.commands.splice(0, node.commands.length - keep)
    this.#evaluate(node, at)
  }

  applyEvent (envelope: EventEnvelope, at: number): void {
    // Events of different partitions interleave differently live and on replay: the global
    // window is ordered by (log time, id), so both give the same window.
    const events = this.#events
    const times = this.#eventTimes
    let i = events.length
    while (i > 0 && (times[i - 1]! > at || (times[i - 1] === at && events[i - 1]!.id > envelope.id))) i--
    events.splice(i, 0, envelope)
    times.splice(i, 0, at)
    if (events.length > this.#options.globalEventWindow) {
      events.shift()
      times.shift()
    }
    if (envelope.node_id === null) return
    const node = this.#nodeFor(envelope.node_id)
    node.events.push(envelope)
    if (node.events.length > this.#options.nodeEventWindow) node.events.shift()
    const payload = envelope.payload
    if (envelope.kind === 'incident') {
      const classifiedAt = parseTime(payload.classified_at) ?? Date.parse(envelope.ts)
      node.incidents.push({ envelopeId: envelope.id, classifiedAt, detectedAt: parseTime(payload.detected_at) ?? classifiedAt, done: new Set() })
    } else if (envelope.kind === 'ack') {
      const incident = node.incidents.find(i => i.envelopeId === payload.incident_id)
      const report = payload.report
      if (incident !== undefined && (report === 'initial' || report === 'intermediate' || report === 'final')) incident.done.add(report as ReportName)
    } else if (envelope.kind === 'resolve') {
      // A resolve naming an incident closes it; one naming none closes all the node's incidents.
      node.incidents = typeof payload.incident_id === 'string' ? node.incidents.filter(i => i.envelopeId !== payload.incident_id) : []
    }
    this.#evaluate(node, at)
  }

  /** Re-evaluates every node whose next deadline is at or before `now`; the clock calls it. */
  tick (now: number): number {
    let evaluated = 0
    for (const entry of this.#due.popDue(now)) {
      const node = this.#nodes.get(entry.nodeId)
      if (node === undefined || node.nextDueAt !== entry.dueAt) continue
      this.#evaluate(node, now)
      evaluated++
    }
    return evaluated
  }

  summary (): { total: number, healthy: number, attention: number, by_reason: Record<string, number>, by_profile: Record<string, { total: number, attention: number }> } {
    let attention = 0
    const byReason: Record<string, number> = {}
    const byProfile: Record<string, { total: number, attention: number }> = {}
    for (const node of this.#nodes.values()) {
      if (node.heartbeat === null) continue
      const profile = (byProfile[node.heartbeat.os_profile] ??= { total: 0, attention: 0 })
      profile.total++
      if (node.reasons.length > 0) {
        attention++
        profile.attention++
        for (const reason of node.reasons) byReason[reason] = (byReason[reason] ?? 0) + 1
      }
    }
    return { total: this.#registered, healthy: this.#registered - attention, attention, by_reason: byReason, by_profile: byProfile }
  }

  nodes (query: NodeQuery): { total: number, offset: number, nodes: NodeSummary[] } {
    const q = query.q?.toLowerCase()
    const matches: NodeState[] = []
    for (const node of this.#nodes.values()) {
      const hb = node.heartbeat
      if (hb === null) continue
      if (query.profile !== undefined && hb.os_profile !== query.profile) continue
      if (query.reason !== undefined && !node.reasons.includes(query.reason as AttentionReason)) continue
      if (query.state !== undefined && (node.reasons.length > 0 ? 'attention' : 'healthy') !== query.state) continue
      if (q !== undefined && !hb.hostname.toLowerCase().includes(q) && !node.nodeId.includes(q)) continue
      matches.push(node)
    }
    const sort = query.sort ?? 'hostname'
    const sign = query.order === 'desc' ? -1 : 1
    const key = (n: NodeState): string | number => sort === 'last_seen' ? n.lastSeen : sort === 'attention' ? n.reasons.length : sort === 'os_profile' ? n.heartbeat!.os_profile : n.heartbeat!.hostname
    matches.sort((a, b) => {
      const ka = key(a)
      const kb = key(b)
      const c = ka < kb ? -1 : ka > kb ? 1 : a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0
      return c * sign
    })
    const offset = query.offset ?? 0
    const limit = query.limit ?? 100
    return { total: matches.length, offset, nodes: matches.slice(offset, offset + limit).map(nodeSummary) }
  }

  detail (nodeId: string, now: number): Record<string, unknown> | undefined {
    const node = this.node(nodeId)
    if (node === undefined) return undefined
    const near = this.#options.thresholdsFor(node.heartbeat!.os_profile).incidentNearS
    return {
      node: nodeSummary(node),
      heartbeat: node.heartbeat,
      scan: node.scan,
      events: [...node.events].reverse(),
      commands: [...node.issued].reverse().map(({ command, result }) => ({
        ...command,
        status: result?.status ?? (Date.parse(command.expires_at) <= now ? 'expired' : 'pending'),
        result
      })),
      command_results: [...node.commands].reverse(),
      incidents: node.incidents.map(incident => {
        const deadlines = incidentDeadlines(incident)
        return {
          envelope_id: incident.envelopeId,
          classified_at: new Date(incident.classifiedAt).toISOString(),
          detected_at: new Date(incident.detectedAt).toISOString(),
          deadlines: (['initial', 'intermediate', 'final'] as const).map(report => ({
            report,
            due_at: new Date(deadlines[report]).toISOString(),
            state: deadlineState(deadlines[report], incident.done.has(report), now, near)
          }))
        }
      })
    }
  }

  /** Recent events, newest first, from the global window (or the node's, when nodeId is set). */
  events (query: EventQuery): EventEnvelope[] {
    const source = query.nodeId === undefined ? this.#events : (this.#nodes.get(query.nodeId)?.events ?? [])
    const out: EventEnvelope[] = []
    for (let i = source.length - 1; i >= 0 && out.length < query.limit; i--) {
      const e = source[i]!
      if (query.since !== undefined && Date.parse(e.ts) < query.since) break
      if (query.kinds !== undefined && !query.kinds.includes(e.kind)) continue
      out.push(e)
    }
    return out
  }

  #nodeFor (nodeId: string): NodeState {
    let node = this.#nodes.get(nodeId)
    if (node === undefined) {
      node = { nodeId, heartbeat: null, lastSeen: 0, scan: null, scanAt: null, events: [], commands: [], issued: [], incidents: [], reasons: [], nextDueAt: Infinity }
      this.#nodes.set(nodeId, node)
    }
    return node
  }

  #evaluate (node: NodeState, now: number): void {
    // A node that never heartbeated is not registered yet: its scans and events wait for it.
    if (node.heartbeat === null) return
    const verdict = evaluateAttention({
      lastSeen: node.lastSeen,
      cloudflareOk: node.heartbeat.cloudflare_ok,
      servicesOk: node.heartbeat.services_ok,
      scan: node.scan,
      scanAt: node.scanAt,
      lastCommandResult: node.commands.at(-1) ?? null,
      incidents: node.incidents
    }, this.#options.thresholdsFor(node.heartbeat.os_profile), now)
    const previous = node.reasons
    node.reasons = verdict.reasons
    if (verdict.nextDueAt !== node.nextDueAt) {
      node.nextDueAt = verdict.nextDueAt
      this.#due.push(node.nodeId, verdict.nextDueAt)
    }
    if (!sameReasons(previous, verdict.reasons)) this.#options.onAttentionChange?.({ nodeId: node.nodeId, reasons: verdict.reasons, previous, at: now })
  }
}

function nodeSummary (node: NodeState): NodeSummary {
  const hb = node.heartbeat!
  return {
    node_id: node.nodeId,
    hostname: hb.hostname,
    os_profile: hb.os_profile,
    last_seen: new Date(node.lastSeen).toISOString(),
    state: node.reasons.length > 0 ? 'attention' : 'healthy',
    reasons: node.reasons,
    cloudflare_ok: hb.cloudflare_ok,
    services_ok: hb.services_ok,
    last_scan_at: node.scanAt === null ? null : new Date(node.scanAt).toISOString(),
    critical: node.scan?.summary.critical ?? 0
  }
}

function sameReasons (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i])
}

function parseTime (value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}
